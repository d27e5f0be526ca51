/* tests/unit/test_netdump_sha256.c: SHA-256 against FIPS 180-4 and HMAC against RFC 4231. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "netdump/hex.h"
#include "netdump/sha256.h"

static void check(const void *msg, size_t len, const char *want)
{
	uint8_t d[32];
	char h[65];

	nd_sha256(msg, len, d);
	nd_hex(d, 32, h);
	assert_string_equal(h, want);
}

static const char *V_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char *V_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char *V_448 = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
static const char *V_896 = "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1";
static const char *V_MILLION_A = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

static void fips_vectors(void)
{
	check("abc", 3, V_ABC);
	check("", 0, V_EMPTY);
	check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, V_448);
	check("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop"
	      "jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112, V_896);
}

static void test_sha256_fips_vectors(void **state)
{
	(void)state;
	fips_vectors();
	nd_sha256_force_portable(1);
	fips_vectors();
	nd_sha256_force_portable(0);
}

static void million_a(void)
{
	static uint8_t a[1000000];
	uint8_t d[32];
	char h[65];
	struct nd_sha256 s;

	memset(a, 'a', sizeof a);
	check(a, sizeof a, V_MILLION_A);
	/* The same input fed in awkward pieces must give the same digest. */
	nd_sha256_init(&s);
	for (size_t off = 0, step = 1; off < sizeof a; off += step, step = step % 97 + 1)
		nd_sha256_update(&s, a + off, off + step > sizeof a ? sizeof a - off : step);
	nd_sha256_final(&s, d);
	nd_hex(d, 32, h);
	assert_string_equal(h, V_MILLION_A);
}

static void test_sha256_million_a_any_split(void **state)
{
	(void)state;
	million_a();
	nd_sha256_force_portable(1);
	million_a();
	nd_sha256_force_portable(0);
}

/* Every padding boundary (55, 56, 63, 64 ... bytes): accelerated and portable agree,
 * and agree with the one-shot digest for every split point. */
static void test_sha256_paths_agree_on_all_lengths(void **state)
{
	uint8_t buf[300], d1[32], d2[32], d3[32];
	(void)state;
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t n = 0; n <= sizeof buf; n++) {
		struct nd_sha256 s;
		nd_sha256_force_portable(0);
		nd_sha256(buf, n, d1);
		nd_sha256_force_portable(1);
		nd_sha256(buf, n, d2);
		assert_memory_equal(d1, d2, 32);
		size_t cut = n / 3;
		nd_sha256_init(&s);
		nd_sha256_update(&s, buf, cut);
		nd_sha256_update(&s, buf + cut, n - cut);
		nd_sha256_final(&s, d3);
		assert_memory_equal(d1, d3, 32);
	}
	nd_sha256_force_portable(0);
}

static void hmac_case(const char *keyhex, const char *msghex, const char *want, size_t trunc)
{
	uint8_t key[256], msg[256], d[32];
	size_t kl, ml;
	char h[65];

	assert_int_equal(nd_unhex_str(keyhex, key, sizeof key, &kl), 0);
	assert_int_equal(nd_unhex_str(msghex, msg, sizeof msg, &ml), 0);
	nd_hmac_sha256(key, kl, msg, ml, d);
	nd_hex(d, trunc, h);
	assert_string_equal(h, want);
}

static void test_hmac_sha256_rfc4231(void **state)
{
	(void)state;
	/* Test case 1 */
	hmac_case("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
	          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 32);
	/* Test case 2: key shorter than the block */
	hmac_case("4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
	          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 32);
	/* Test case 3 */
	hmac_case("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	          "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
	          "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 32);
	/* Test case 5: output truncated to 128 bits */
	hmac_case("0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "546573742057697468205472756e636174696f6e",
	          "a3b6167473100ee06e0c796c2955552b", 16);
	/* Test case 6: 131-byte key, hashed first */
	hmac_case("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	          "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374",
	          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 32);
	/* Test case 7 */
	hmac_case("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	          "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565647320746f20626520686173686564206265666f7265206265696e6720757365642062792074686520484d414320616c676f726974686d2e",
	          "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_fips_vectors),
		cmocka_unit_test(test_sha256_million_a_any_split),
		cmocka_unit_test(test_sha256_paths_agree_on_all_lengths),
		cmocka_unit_test(test_hmac_sha256_rfc4231),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
