/* tests/unit/test_groups_signature.c: crash signature v1 normalization, hashing and titles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "collector/groups/signature.h"

#define FN(name) { .function = (name), .module = "app", .build_id = "aa11" }

static void sign(const char *exe, int signo, const struct sig_frame *f, size_t n, int nf,
		 struct signature *s)
{
	assert_int_equal(sig_compute(exe, signo, f, n, nf, s), SIG_OK);
}

static void test_offsets_and_versions_are_stripped(void **state)
{
	char out[SIG_NAME_MAX];

	sig_normalize_function("level3+0x1c", out, sizeof(out));
	assert_string_equal(out, "level3");
	sig_normalize_function("raise@@GLIBC_2.2.5", out, sizeof(out));
	assert_string_equal(out, "raise");
	sig_normalize_function("memcpy@GLIBC_2.2.5+0x10", out, sizeof(out));
	assert_string_equal(out, "memcpy");
}

static void test_clone_suffixes_are_stripped(void **state)
{
	static const char *const same[] = {
		"parse_hdr.constprop.0", "parse_hdr.isra.1", "parse_hdr.part.3",
		"parse_hdr.cold", "parse_hdr.cold.7", "parse_hdr.isra.0.constprop.2",
		"parse_hdr.lto_priv.0", "parse_hdr.llvm.1234567", "parse_hdr",
	};
	char out[SIG_NAME_MAX];

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		sig_normalize_function(same[i], out, sizeof(out));
		assert_string_equal(out, "parse_hdr");
	}
	/* a dot that is not a clone suffix is part of the name */
	sig_normalize_function("parse_hdr.partial", out, sizeof(out));
	assert_string_equal(out, "parse_hdr.partial");
	sig_normalize_function(".isra", out, sizeof(out));
	assert_string_equal(out, ".isra");
}

static void test_abort_machinery_frames_are_dropped(void **state)
{
	struct sig_frame with[] = {
		FN("__pthread_kill_implementation"), FN("__pthread_kill_internal"),
		FN("raise"), FN("abort"), FN("__assert_fail_base"), FN("__assert_fail"),
		FN("__GI_raise"), FN("check_len"), FN("handle"), FN("main"),
	};
	struct sig_frame without[] = { FN("check_len"), FN("handle"), FN("main") };
	struct signature a, b;

	sign("/usr/bin/app", 6, with, 10, 0, &a);
	sign("app", 6, without, 3, 0, &b);
	assert_string_equal(a.hex, b.hex);
	assert_string_equal(a.title, "SIGABRT in check_len <- handle <- main");
	assert_int_equal(a.frames_used, 3);
	sig_free(&a);
	sig_free(&b);
}

static void test_only_top_n_frames_count(void **state)
{
	struct sig_frame f[] = { FN("f1"), FN("f2"), FN("f3"), FN("f4"), FN("f5"), FN("f6") };
	struct signature base, deeper, within, two, two_b;

	sign("app", 11, f, 6, 0, &base);
	f[5].function = "other_caller";              /* sixth frame: outside the default 5 */
	sign("app", 11, f, 6, 0, &deeper);
	assert_string_equal(base.hex, deeper.hex);
	f[4].function = "other_f5";                  /* fifth frame: inside */
	sign("app", 11, f, 6, 0, &within);
	assert_string_not_equal(base.hex, within.hex);
	sign("app", 11, f, 6, 2, &two);               /* N=2 ignores frames 3.. */
	f[2].function = "zzz";
	sign("app", 11, f, 6, 2, &two_b);
	assert_string_equal(two.hex, two_b.hex);
	assert_int_equal(two.frames_used, 2);
	sig_free(&base), sig_free(&deeper), sig_free(&within), sig_free(&two), sig_free(&two_b);
}

static void test_unsymbolized_frames_use_build_id_and_offset(void **state)
{
	struct sig_frame f[] = {
		{ .module = "libx.so", .build_id = "deadbeef", .mod_offset = 0x1234,
		  .has_mod_offset = true },
		{ .module = "/lib/liby.so", .mod_offset = 0x10, .has_mod_offset = true },
		{ 0 },
		FN("main"),
	};
	struct signature s, t;

	sign("app", 11, f, 4, 0, &s);
	assert_non_null(strstr(s.canonical, "frame deadbeef+0x1234\n"));
	assert_non_null(strstr(s.canonical, "frame liby.so+0x10\n"));
	assert_non_null(strstr(s.canonical, "frame ?\n"));
	f[0].mod_offset = 0x1238;                    /* a different crash site */
	sign("app", 11, f, 4, 0, &t);
	assert_string_not_equal(s.hex, t.hex);
	sig_free(&s), sig_free(&t);
}

static void test_canonical_string_is_the_documented_format(void **state)
{
	struct sig_frame f[] = { FN("level3+0x4"), FN("level2.constprop.0"), FN("level1"),
				 FN("main"), FN("__libc_start_call_main"), FN("__libc_start_main") };
	struct signature s;

	sign("/opt/bin/crasher", 11, f, 6, 0, &s);
	assert_string_equal(s.canonical,
			    "corecast-signature v1\n"
			    "exe crasher\n"
			    "signal SIGSEGV\n"
			    "frame level3\n"
			    "frame level2\n"
			    "frame level1\n"
			    "frame main\n"
			    "frame __libc_start_call_main\n");
	assert_string_equal(s.title, "SIGSEGV in level3 <- level2 <- level1");
	assert_int_equal(strlen(s.hex), SIG_HEX_LEN);
	assert_int_equal(strspn(s.hex, "0123456789abcdef"), SIG_HEX_LEN);
	/* a pinned value: changing the canonical form or hash needs SIG_VERSION 2 */
	assert_string_equal(s.hex, "db2a3c8ecbda06ae");  /* sha256sum of the text above */
	sig_free(&s);
}

static void test_exe_and_signal_are_part_of_the_signature(void **state)
{
	struct sig_frame f[] = { FN("a"), FN("b") };
	struct signature s1, s2, s3;

	sign("app", 11, f, 2, 0, &s1);
	sign("other", 11, f, 2, 0, &s2);
	sign("app", 7, f, 2, 0, &s3);
	assert_string_not_equal(s1.hex, s2.hex);
	assert_string_not_equal(s1.hex, s3.hex);
	assert_string_equal(s3.title, "SIGBUS in a <- b");
	sig_free(&s1), sig_free(&s2), sig_free(&s3);
}

static void test_no_frames_titles_with_exe(void **state)
{
	struct sig_frame f[] = { FN("abort"), FN("raise") };
	struct signature s;
	char buf[16];

	sign("/bin/tool", 40, f, 2, 0, &s);
	assert_string_equal(s.title, "SIG40 in tool");
	assert_string_equal(sig_signame(11, buf), "SIGSEGV");
	assert_int_equal(sig_signum("SIGFPE"), 8);
	assert_int_equal(sig_signum("SIG40"), 40);
	assert_int_equal(sig_signum("bogus"), 0);
	sig_free(&s);
}

/* A symbolizer document for a crash at the given pcs/lines/build-id. */
static void make_doc(char *buf, size_t n, const char *bid, unsigned base, unsigned shift,
		     int line)
{
	snprintf(buf, n,
		 "{\"version\":1,\"machine\":\"x86_64\",\"signal\":11,\"crashed_tid\":102,"
		 "\"threads\":["
		 " {\"tid\":101,\"crashed\":false,\"frames\":[{\"pc\":\"0x%x\",\"function\":\"idle\","
		 "   \"offset\":4,\"module\":\"crasher\",\"build_id\":\"%s\"}]},"
		 " {\"tid\":102,\"crashed\":true,\"frames\":["
		 "  {\"pc\":\"0x%x\",\"function\":\"level3\",\"offset\":%u,\"module\":\"crasher\","
		 "   \"build_id\":\"%s\",\"file\":\"c.c\",\"line\":%d,\"inlined\":false,\"how\":\"initial\"},"
		 "  {\"pc\":\"0x%x\",\"function\":\"level2.isra.0\",\"offset\":9,\"module\":\"crasher\","
		 "   \"build_id\":\"%s\",\"file\":\"c.c\",\"line\":%d,\"inlined\":false,\"how\":\"cfi\"},"
		 "  {\"pc\":\"0x%x\",\"function\":\"level1\",\"offset\":9,\"module\":\"crasher\","
		 "   \"build_id\":\"%s\",\"file\":null,\"line\":null,\"inlined\":false,\"how\":\"fp\"}]}],"
		 "\"modules\":[{\"name\":\"crasher\",\"build_id\":\"%s\",\"start\":\"0x%x\","
		 "  \"end\":\"0x%x\",\"symbols\":\"found\"}],\"symbols_missing\":false}",
		 base + 0x100 + shift, bid, base + 0x200 + shift, 5 + shift, bid, line,
		 base + 0x300 + shift, bid, line + 7, base + 0x400 + shift, bid, bid, base,
		 base + 0x10000);
}

static void sign_doc(const char *doc, struct signature *s)
{
	struct json *j;

	assert_int_equal(json_parse(doc, strlen(doc), &j, NULL), JSON_OK);
	assert_int_equal(sig_from_json(j, "crasher", 0, 0, s), SIG_OK);
	json_free(j);
}

static void test_rebuild_with_moved_addresses_keeps_signature(void **state)
{
	char d1[4096], d2[4096];
	struct signature a, b;

	make_doc(d1, sizeof(d1), "1111aaaa", 0x400000, 0, 20);
	make_doc(d2, sizeof(d2), "2222bbbb", 0x7f0000, 0x40, 31);   /* other build, ASLR */
	sign_doc(d1, &a);
	sign_doc(d2, &b);
	assert_string_equal(a.hex, b.hex);
	assert_string_equal(a.title, "SIGSEGV in level3 <- level2 <- level1");
	/* the crashed thread was chosen even though it is listed second */
	assert_null(strstr(a.canonical, "idle"));
	sig_free(&a), sig_free(&b);
}

static void test_document_without_frames_is_refused(void **state)
{
	static const char *const docs[] = {
		"{}", "[]", "{\"threads\":[]}", "{\"threads\":[{\"tid\":1,\"frames\":[]}]}",
		"{\"threads\":{}}", "{\"threads\":[1,2]}",
	};
	struct signature s;

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct json *j;
		assert_int_equal(json_parse(docs[i], strlen(docs[i]), &j, NULL), JSON_OK);
		assert_int_not_equal(sig_from_json(j, "x", 11, 0, &s), SIG_OK);
		json_free(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets_and_versions_are_stripped),
		cmocka_unit_test(test_clone_suffixes_are_stripped),
		cmocka_unit_test(test_abort_machinery_frames_are_dropped),
		cmocka_unit_test(test_only_top_n_frames_count),
		cmocka_unit_test(test_unsymbolized_frames_use_build_id_and_offset),
		cmocka_unit_test(test_canonical_string_is_the_documented_format),
		cmocka_unit_test(test_exe_and_signal_are_part_of_the_signature),
		cmocka_unit_test(test_no_frames_titles_with_exe),
		cmocka_unit_test(test_rebuild_with_moved_addresses_keeps_signature),
		cmocka_unit_test(test_document_without_frames_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
