/* tests/unit/test_tls_keystore.c: the device key store file — parsing, errors with line numbers, edits, atomic rewrite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/keystore/keystore.h"

#define PSK16 "000102030405060708090a0b0c0d0e0f"
#define FP32  "e70e1b0b9c2f4b7b1807adbaad1b76b47286e6cfce30e8980037b44955d4f980"

static void test_parse_psk_and_cert_entries_sorted(void **state)
{
	struct keystore ks;
	char err[256];
	const struct ks_entry *e;

	(void)state;
	ks_init(&ks);
	assert_int_equal(ks_parse(&ks, "t", "# comment\n\n  zeta psk " PSK16 "\r\n"
				  "alpha cert " FP32 "\n\tmid psk " PSK16 PSK16 "  \n", err, sizeof err),
			 KS_OK);
	assert_int_equal(ks.n, 3);
	assert_string_equal(ks.e[0].id, "alpha");
	assert_string_equal(ks.e[1].id, "mid");
	assert_string_equal(ks.e[2].id, "zeta");
	e = ks_find(&ks, "zeta");
	assert_non_null(e);
	assert_int_equal(e->kind, KS_PSK);
	assert_int_equal(e->keylen, 16);
	assert_int_equal(e->key[15], 0x0f);
	e = ks_find(&ks, "alpha");
	assert_int_equal(e->kind, KS_CERT);
	assert_int_equal(e->fp[0], 0xe7);
	assert_int_equal(e->fp[31], 0x80);
	assert_int_equal(ks_find(&ks, "mid")->keylen, 32);
	assert_null(ks_find(&ks, "nobody"));
	assert_null(ks_find(&ks, ""));
	ks_free(&ks);
}

static void expect_error(const char *text, enum ks_err want, const char *where)
{
	struct keystore ks;
	char err[256] = "";

	ks_init(&ks);
	/* A store that held something keeps it when a reload fails. */
	assert_int_equal(ks_parse(&ks, "keys", "keep psk " PSK16 "\n", err, sizeof err), KS_OK);
	assert_int_equal(ks_parse(&ks, "keys", text, err, sizeof err), want);
	assert_non_null(strstr(err, where));
	assert_int_equal(ks.n, 1);
	assert_non_null(ks_find(&ks, "keep"));
	ks_free(&ks);
}

static void test_errors_name_the_line_and_keep_old_store(void **state)
{
	(void)state;
	expect_error("a psk " PSK16 "\nb psk 0011\n", KS_E_KEY, "keys:2:");
	expect_error("a psk " PSK16 "zz\n", KS_E_KEY, "keys:1:");
	expect_error("a psk " PSK16 PSK16 PSK16 PSK16 "00\n", KS_E_KEY, "keys:1:");
	expect_error("\n\na cert 00ff\n", KS_E_FP, "keys:3:");
	expect_error("a rsa " PSK16 "\n", KS_E_SYNTAX, "keys:1:");
	expect_error("a psk\n", KS_E_SYNTAX, "keys:1:");
	expect_error("a psk " PSK16 " extra\n", KS_E_SYNTAX, "keys:1:");
	expect_error("a psk " PSK16 "\na cert " FP32 "\n", KS_E_DUP, "device a");
	expect_error("0123456789012345678901234567890123456789012345678901234567890123 psk "
		     PSK16 "\n", KS_E_ID, "keys:1:");
	expect_error("a\x01 psk " PSK16 "\n", KS_E_ID, "keys:1:");
}

static void test_put_replace_remove(void **state)
{
	struct keystore ks;
	struct ks_entry e;

	(void)state;
	ks_init(&ks);
	memset(&e, 0, sizeof e);
	strcpy(e.id, "dev-b");
	e.kind = KS_PSK;
	e.keylen = 16;
	assert_int_equal(ks_put(&ks, &e), KS_OK);
	strcpy(e.id, "dev-a");
	assert_int_equal(ks_put(&ks, &e), KS_OK);
	assert_string_equal(ks.e[0].id, "dev-a");
	e.kind = KS_CERT;
	e.fp[0] = 0xaa;
	assert_int_equal(ks_put(&ks, &e), KS_OK);          /* replaces */
	assert_int_equal(ks.n, 2);
	assert_int_equal(ks_find(&ks, "dev-a")->kind, KS_CERT);
	e.kind = KS_PSK;
	e.keylen = 8;
	assert_int_equal(ks_put(&ks, &e), KS_E_KEY);
	strcpy(e.id, "has space");
	e.keylen = 16;
	assert_int_equal(ks_put(&ks, &e), KS_E_ID);
	assert_int_equal(ks_remove(&ks, "dev-a"), KS_OK);
	assert_int_equal(ks_remove(&ks, "dev-a"), KS_E_NOTFOUND);
	assert_int_equal(ks.n, 1);
	assert_string_equal(ks.e[0].id, "dev-b");
	/* many entries: the table grows and stays sorted for bsearch */
	for (int i = 0; i < 300; i++) {
		snprintf(e.id, sizeof e.id, "n%03d", (i * 7) % 300);
		assert_int_equal(ks_put(&ks, &e), KS_OK);
	}
	assert_int_equal(ks.n, 301);
	for (int i = 0; i < 300; i++) {
		char id[16];
		snprintf(id, sizeof id, "n%03d", i);
		assert_non_null(ks_find(&ks, id));
	}
	ks_free(&ks);
}

static void test_save_load_round_trip_atomic_private(void **state)
{
	char dir[] = "/tmp/test_tls_keystoreXXXXXX", path[256], err[256];
	struct keystore ks, back;
	struct stat sb;
	int missing = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/device-keys", dir);
	ks_init(&ks);
	ks_init(&back);
	/* no file yet: an empty store, reported as missing */
	assert_int_equal(ks_load(&back, path, &missing, err, sizeof err), KS_OK);
	assert_int_equal(missing, 1);
	assert_int_equal(back.n, 0);
	assert_int_equal(ks_parse(&ks, "t", "d1 psk " PSK16 "\nd2 cert " FP32 "\n", err,
				  sizeof err), KS_OK);
	assert_int_equal(ks_save(&ks, path), KS_OK);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(ks_load(&back, path, &missing, err, sizeof err), KS_OK);
	assert_int_equal(missing, 0);
	assert_int_equal(back.n, 2);
	assert_memory_equal(ks_find(&back, "d1")->key, ks_find(&ks, "d1")->key, 16);
	assert_memory_equal(ks_find(&back, "d2")->fp, ks_find(&ks, "d2")->fp, 32);
	/* the rewrite leaves no temporary file behind */
	{
		char cmd[512];
		snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dir);
		assert_int_equal(system(cmd), 0);
	}
	/* a broken file on disk is an error naming the file and line */
	{
		FILE *f = fopen(path, "w");
		fputs("d1 psk " PSK16 "\nbroken\n", f);
		fclose(f);
	}
	assert_int_equal(ks_load(&back, path, NULL, err, sizeof err), KS_E_SYNTAX);
	assert_non_null(strstr(err, "device-keys:2:"));
	assert_int_equal(back.n, 2);
	unlink(path);
	rmdir(dir);
	ks_free(&ks);
	ks_free(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_psk_and_cert_entries_sorted),
		cmocka_unit_test(test_errors_name_the_line_and_keep_old_store),
		cmocka_unit_test(test_put_replace_remove),
		cmocka_unit_test(test_save_load_round_trip_atomic_private),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
