/* tests/unit/test_netdump_hex.c: the shared hex encoder and its strict decoders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "netdump/hex.h"

static void test_hex_is_lower_case_and_terminated(void **state)
{
	static const uint8_t b[] = { 0x00, 0xaf, 0xff, 0x10, 0x9e };
	char s[2 * sizeof b + 2];

	(void)state;
	memset(s, 'X', sizeof s);
	nd_hex(b, sizeof b, s);
	assert_string_equal(s, "00afff109e");
	assert_int_equal(s[sizeof s - 1], 'X');
	nd_hex(b, 0, s);
	assert_string_equal(s, "");
}

static void test_unhex_round_trip_every_byte(void **state)
{
	uint8_t in[256], out[256];
	char s[513];

	(void)state;
	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	nd_hex(in, sizeof in, s);
	assert_int_equal(nd_unhex(s, sizeof out, out), 0);
	assert_memory_equal(in, out, sizeof in);
}

static void test_unhex_accepts_either_case(void **state)
{
	uint8_t b[3];

	(void)state;
	assert_int_equal(nd_unhex("aBcDeF", 3, b), 0);
	assert_int_equal(b[0], 0xab);
	assert_int_equal(b[1], 0xcd);
	assert_int_equal(b[2], 0xef);
}

static void test_unhex_refuses_non_digits(void **state)
{
	static const char *bad[] = { "0g", "g0", " 1", "1 ", "+1", "-1", "0x", "x0", ":0", "@0",
	                             "G0", "`0", "0/" };
	uint8_t b[1];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(nd_unhex(bad[i], 1, b), -1);
}

static void test_unhex_short_string_refused_without_reading_past_nul(void **state)
{
	/* Heap copies so ASan catches any read past the terminating NUL. */
	char *one = strdup("a"), *empty = strdup("");
	uint8_t b[2];

	(void)state;
	assert_int_equal(nd_unhex(one, 1, b), -1);
	assert_int_equal(nd_unhex(empty, 1, b), -1);
	assert_int_equal(nd_unhex(empty, 0, b), 0);
	free(one);
	free(empty);
}

static void test_unhex_decodes_a_field_inside_a_longer_string(void **state)
{
	uint8_t b[2];

	(void)state;
	assert_int_equal(nd_unhex("beef-rest", 2, b), 0);
	assert_int_equal(b[0], 0xbe);
	assert_int_equal(b[1], 0xef);
}

static void test_unhex_str_whole_string_within_cap(void **state)
{
	uint8_t b[4];
	size_t n = 99;
	char *odd = strdup("abc");

	(void)state;
	assert_int_equal(nd_unhex_str("00aFff10", b, sizeof b, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(b[1], 0xaf);
	assert_int_equal(nd_unhex_str("ab", b, sizeof b, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(nd_unhex_str(odd, b, sizeof b, &n), -1);
	assert_int_equal(nd_unhex_str("zz", b, sizeof b, &n), -1);
	assert_int_equal(nd_unhex_str("0011223344", b, sizeof b, &n), -1);
	assert_int_equal(nd_unhex_str("", b, sizeof b, &n), -1);
	assert_int_equal(nd_unhex_str("00 11", b, sizeof b, &n), -1);
	assert_int_equal(nd_unhex_str("0011\n", b, sizeof b, &n), -1);
	free(odd);
}

static void test_unhex_uuid_plain_or_canonical_form_only(void **state)
{
	static const uint8_t want[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
	                                  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	static const char *bad[] = {
		"00112233-4455-6677-8899-aabbccddeef",      /* one digit short */
		"00112233-4455-6677-8899-aabbccddeeff0",    /* one too many */
		"00112233-4455-6677-8899-aabbccddeeff\n",   /* a trailing newline */
		"0011223-34455-6677-8899-aabbccddeeff",     /* dash misplaced */
		"00112233--4455-6677-8899-aabbccddeeff",
		"001122334455-6677-8899-aabbccddeeff",
		"00112233445566778899aabbccddee",           /* 15 bytes */
		"00112233445566778899aabbccddeeff00",       /* 17 bytes */
		"{00112233-4455-6677-8899-aabbccddeeff}",
		"", "-", "xyz",
	};
	uint8_t b[16];

	(void)state;
	assert_int_equal(nd_unhex_uuid("00112233-4455-6677-8899-aabbccddeeff", b), 0);
	assert_memory_equal(b, want, 16);
	memset(b, 0, sizeof b);
	assert_int_equal(nd_unhex_uuid("00112233445566778899AABBCCDDEEFF", b), 0);
	assert_memory_equal(b, want, 16);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *copy = strdup(bad[i]);   /* ASan sees any read past the NUL */
		assert_int_equal(nd_unhex_uuid(copy, b), -1);
		free(copy);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_is_lower_case_and_terminated),
		cmocka_unit_test(test_unhex_round_trip_every_byte),
		cmocka_unit_test(test_unhex_accepts_either_case),
		cmocka_unit_test(test_unhex_refuses_non_digits),
		cmocka_unit_test(test_unhex_short_string_refused_without_reading_past_nul),
		cmocka_unit_test(test_unhex_decodes_a_field_inside_a_longer_string),
		cmocka_unit_test(test_unhex_str_whole_string_within_cap),
		cmocka_unit_test(test_unhex_uuid_plain_or_canonical_form_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
