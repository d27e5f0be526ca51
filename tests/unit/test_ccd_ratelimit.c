/* tests/unit/test_ccd_ratelimit.c: per-device dump rate limiting (token buckets). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "collector/corecastd/ratelimit.h"

static void test_burst_then_refused(void **state)
{
	struct ccd_ratelimit rl;

	assert_int_equal(ccd_rate_init(&rl, 64, 3), 0);
	assert_true(ccd_rate_allow(&rl, "dev-a", 1000));
	assert_true(ccd_rate_allow(&rl, "dev-a", 1000));
	assert_true(ccd_rate_allow(&rl, "dev-a", 1000));
	assert_false(ccd_rate_allow(&rl, "dev-a", 1000));
	assert_false(ccd_rate_allow(&rl, "dev-a", 1001));
	/* another device is not affected */
	assert_true(ccd_rate_allow(&rl, "dev-b", 1001));
	ccd_rate_free(&rl);
}

static void test_refills_at_the_configured_rate(void **state)
{
	struct ccd_ratelimit rl;

	assert_int_equal(ccd_rate_init(&rl, 64, 6), 0);    /* one per 10 s */
	for (int i = 0; i < 6; i++)
		assert_true(ccd_rate_allow(&rl, "d", 0));
	assert_false(ccd_rate_allow(&rl, "d", 0));
	assert_int_equal(ccd_rate_wait_ms(&rl, "d", 0), 10000);
	assert_false(ccd_rate_allow(&rl, "d", 9999));
	assert_int_equal(ccd_rate_wait_ms(&rl, "d", 9999), 1);
	assert_true(ccd_rate_allow(&rl, "d", 10000));
	assert_false(ccd_rate_allow(&rl, "d", 10001));
	/* a full minute later the whole burst is back, and no more */
	for (int i = 0; i < 6; i++)
		assert_true(ccd_rate_allow(&rl, "d", 200000));
	assert_false(ccd_rate_allow(&rl, "d", 200000));
	ccd_rate_free(&rl);
}

static void test_refused_attempts_do_not_extend_the_wait(void **state)
{
	struct ccd_ratelimit rl;

	assert_int_equal(ccd_rate_init(&rl, 16, 1), 0);
	assert_true(ccd_rate_allow(&rl, "loop", 0));
	for (uint64_t t = 1000; t < 60000; t += 1000)
		assert_false(ccd_rate_allow(&rl, "loop", t));
	assert_true(ccd_rate_allow(&rl, "loop", 60000));
	ccd_rate_free(&rl);
}

static void test_zero_means_unlimited(void **state)
{
	struct ccd_ratelimit rl;

	assert_int_equal(ccd_rate_init(&rl, 16, 0), 0);
	for (int i = 0; i < 10000; i++)
		assert_true(ccd_rate_allow(&rl, "d", 5));
	assert_int_equal(ccd_rate_wait_ms(&rl, "d", 5), 0);
	ccd_rate_free(&rl);
}

static void test_rate_change_clamps_burst(void **state)
{
	struct ccd_ratelimit rl;

	assert_int_equal(ccd_rate_init(&rl, 16, 10), 0);
	assert_true(ccd_rate_allow(&rl, "d", 0));        /* 9 left */
	ccd_rate_set(&rl, 2);                             /* now at most 2 */
	assert_true(ccd_rate_allow(&rl, "d", 0));
	assert_true(ccd_rate_allow(&rl, "d", 0));
	assert_false(ccd_rate_allow(&rl, "d", 0));
	ccd_rate_free(&rl);
}

/* Flooding with invented device ids cannot grow the table, and a limited
 * device in a small table stays limited while its bucket is not full. */
static void test_table_is_bounded_under_id_flood(void **state)
{
	struct ccd_ratelimit rl;
	char name[32];
	int refused = 0;

	assert_int_equal(ccd_rate_init(&rl, 1024, 1), 0);
	assert_int_equal(rl.nslots, 1024);
	assert_true(ccd_rate_allow(&rl, "victim", 0));
	for (int i = 0; i < 100000; i++) {
		snprintf(name, sizeof name, "fake-%d", i);
		assert_true(ccd_rate_allow(&rl, name, 1));
	}
	assert_int_equal(rl.nslots, 1024);
	/* each id gets a full burst the first time it is seen */
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof name, "new-%d", i);
		refused += !ccd_rate_allow(&rl, name, 2);
	}
	assert_int_equal(refused, 0);
	ccd_rate_free(&rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refused),
		cmocka_unit_test(test_refills_at_the_configured_rate),
		cmocka_unit_test(test_refused_attempts_do_not_extend_the_wait),
		cmocka_unit_test(test_zero_means_unlimited),
		cmocka_unit_test(test_rate_change_clamps_burst),
		cmocka_unit_test(test_table_is_bounded_under_id_flood),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
