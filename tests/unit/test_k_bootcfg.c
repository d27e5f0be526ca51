/* tests/unit/test_k_bootcfg.c: the kernel's FDT walker and boot-argument parser, on QEMU's own device tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/kernel.h"

/* The kernel's console output, captured (bootargs.c reports ignored words). */
static char logbuf[4096];

void k_printf(const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(logbuf);
	va_start(ap, fmt);
	vsnprintf(logbuf + n, sizeof(logbuf) - n, fmt, ap);
	va_end(ap);
}

static uint8_t *blob;
static size_t blob_len;

static uint8_t *load_dtb(size_t *len)
{
	FILE *f = fopen(K_TEST_DTB, "rb");
	assert_non_null(f);
	uint8_t *b = malloc(1 << 20);
	*len = fread(b, 1, 1 << 20, f);
	fclose(f);
	assert_true(*len > 64);
	return b;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void test_finds_bootargs_and_memory_in_qemu_dtb(void **state)
{
	(void)state;
	const void *v;
	uint32_t len;
	assert_int_equal(fdt_find(blob, blob_len, "/chosen", "bootargs", &v, &len), 0);
	assert_string_equal((const char *)v, "run=hello:1 corecast.scope=all poweroff");
	assert_int_equal(fdt_find(blob, blob_len, "/memory", "reg", &v, &len), 0);
	assert_int_equal(len, 16);
	assert_int_equal(be64(v), 0x80000000ULL);
	assert_int_equal(be64((const uint8_t *)v + 8), 128ULL << 20);
}

static void test_missing_node_or_property_is_not_found(void **state)
{
	(void)state;
	const void *v;
	uint32_t len;
	assert_int_equal(fdt_find(blob, blob_len, "/chosen", "nosuchprop", &v, &len), -1);
	assert_int_equal(fdt_find(blob, blob_len, "/nosuchnode", "reg", &v, &len), -1);
	assert_int_equal(fdt_find(blob, blob_len, "/chosen/deeper", "bootargs", &v, &len), -1);
	uint8_t bad[64] = { 0 };
	assert_int_equal(fdt_find(bad, sizeof(bad), "/chosen", "bootargs", &v, &len), -1);
	assert_int_equal(fdt_find(NULL, 0, "/chosen", "bootargs", &v, &len), -1);
}

/*
 * Firmware bytes are untrusted: corrupt the blob at random (kept exactly totalsize
 * bytes long, so ASan sees any read past it) and the walker must stay inside.
 */
static void test_corrupted_blobs_never_read_out_of_bounds(void **state)
{
	(void)state;
	uint32_t total = (uint32_t)blob[4] << 24 | (uint32_t)blob[5] << 16 | blob[6] << 8 | blob[7];
	assert_true(total <= blob_len);
	srand(1234);
	for (int iter = 0; iter < 3000; iter++) {
		uint8_t *b = malloc(total);
		memcpy(b, blob, total);
		int flips = 1 + rand() % 8;
		for (int i = 0; i < flips; i++) {
			/* Mostly the structure block; sometimes the header's offsets. */
			uint32_t at = (rand() % 4) ? 40 + (uint32_t)rand() % (total - 40) : (uint32_t)rand() % 40;
			b[at] = (uint8_t)rand();
		}
		const void *v;
		uint32_t len;
		if (fdt_find(b, total, "/chosen", "bootargs", &v, &len) == 0) {
			assert_true((const uint8_t *)v >= b);
			assert_true((const uint8_t *)v + len <= b + total);
		}
		fdt_find(b, total, "/memory", "reg", &v, &len);
		free(b);
	}
}

static void test_bootargs_defaults(void **state)
{
	(void)state;
	memset(&k_args, 0, sizeof(k_args));
	bootargs_parse("");
	assert_int_equal(k_args.nrun, 0);
	assert_int_equal(k_args.poweroff, 0);
	assert_int_equal(k_args.scope, K_SCOPE_DEFAULT);
	assert_int_equal(k_args.stack_cap, 0);
	assert_int_equal(k_args.total_cap, 0);
	assert_int_equal(k_args.thread_cap, 0);
	assert_string_equal(k_args.device, "qemu-riscv64");
}

static void test_bootargs_every_setting(void **state)
{
	(void)state;
	memset(&k_args, 0, sizeof(k_args));
	bootargs_parse("  run=crashdemo:mode=segv:threads=4 run=hello poweroff corecast.scope=writable "
		       "corecast.stack_cap=8K corecast.total_cap=2M corecast.thread_cap=3 "
		       "corecast.device=sensor-0042 ");
	assert_int_equal(k_args.nrun, 2);
	assert_string_equal(k_args.run[0], "crashdemo:mode=segv:threads=4");
	assert_string_equal(k_args.run[1], "hello");
	assert_int_equal(k_args.poweroff, 1);
	assert_int_equal(k_args.scope, K_SCOPE_WRITABLE);
	assert_int_equal(k_args.stack_cap, 8192);
	assert_int_equal(k_args.total_cap, 2 << 20);
	assert_int_equal(k_args.thread_cap, 3);
	assert_string_equal(k_args.device, "sensor-0042");
	assert_int_equal(k_args.bad, 0);
}

static void test_bootargs_bad_words_reported_and_ignored(void **state)
{
	(void)state;
	memset(&k_args, 0, sizeof(k_args));
	logbuf[0] = 0;
	bootargs_parse("corecast.scope=everything corecast.stack_cap=12Q run= quiet "
		       "run=a run=b run=c run=d run=e run=f run=g run=h run=i");
	assert_int_equal(k_args.scope, K_SCOPE_DEFAULT);
	assert_int_equal(k_args.stack_cap, 0);
	assert_int_equal(k_args.nrun, K_MAX_RUN);
	assert_int_equal(k_args.bad, 5); /* scope, cap, empty run, quiet, the ninth run */
	assert_non_null(strstr(logbuf, "ignoring 'quiet'"));
	assert_non_null(strstr(logbuf, "ignoring 'corecast.stack_cap=12Q'"));
}

static void test_parse_u64_suffixes_and_junk(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(k_parse_u64("0x1f", 4, &v), 0);
	assert_int_equal(v, 31);
	assert_int_equal(k_parse_u64("16M", 3, &v), 0);
	assert_int_equal(v, 16 << 20);
	assert_int_equal(k_parse_u64("1G", 2, &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(k_parse_u64("", 0, &v), -1);
	assert_int_equal(k_parse_u64("0x", 2, &v), -1);
	assert_int_equal(k_parse_u64("12KB", 4, &v), -1);
	assert_int_equal(k_parse_u64("x12", 3, &v), -1);
}

int main(void)
{
	blob = load_dtb(&blob_len);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_bootargs_and_memory_in_qemu_dtb),
		cmocka_unit_test(test_missing_node_or_property_is_not_found),
		cmocka_unit_test(test_corrupted_blobs_never_read_out_of_bounds),
		cmocka_unit_test(test_bootargs_defaults),
		cmocka_unit_test(test_bootargs_every_setting),
		cmocka_unit_test(test_bootargs_bad_words_reported_and_ignored),
		cmocka_unit_test(test_parse_u64_suffixes_and_junk),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	free(blob);
	return r;
}
