/* tests/unit/test_netdump_rx.c: receiver bookkeeping: verdicts, ranges, window, acks, restore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "netdump/rx.h"

static struct nd_rx rx;

static void test_in_order_data_advances_contiguous(void **state)
{
	(void)state;
	nd_rx_init(&rx, 10000, 4, 1000);
	assert_int_equal(nd_rx_contiguous(&rx), 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(nd_rx_data(&rx, 1000u * i, 1000, (uint32_t)i), ND_RX_NEW);
		assert_int_equal(nd_rx_contiguous(&rx), 1000u * (i + 1));
	}
	assert_true(nd_rx_complete(&rx));
	struct nd_ack a;
	nd_rx_ack(&rx, &a);
	assert_int_equal(a.cum, 10000);
	assert_int_equal(a.nsack, 0);
	assert_int_equal(a.tsecr, 9);
	assert_int_equal(a.has_echo, 1);
	assert_int_equal(a.window, 4);
}

static void test_duplicates_and_overlaps(void **state)
{
	(void)state;
	nd_rx_init(&rx, 10000, 10, 1000);
	assert_int_equal(nd_rx_data(&rx, 0, 1000, 0), ND_RX_NEW);
	assert_int_equal(nd_rx_data(&rx, 0, 1000, 0), ND_RX_DUPLICATE);
	assert_int_equal(nd_rx_data(&rx, 500, 500, 0), ND_RX_DUPLICATE);
	assert_int_equal(nd_rx_data(&rx, 3000, 1000, 0), ND_RX_NEW);
	assert_int_equal(nd_rx_data(&rx, 3000, 1000, 0), ND_RX_DUPLICATE);
	assert_int_equal(nd_rx_data(&rx, 3200, 300, 0), ND_RX_DUPLICATE);
	/* partly new: overlapping the held prefix and a gap */
	assert_int_equal(nd_rx_data(&rx, 500, 1000, 0), ND_RX_NEW);
	assert_int_equal(nd_rx_contiguous(&rx), 1500);
	/* overlapping the start of the held range merges it */
	assert_int_equal(nd_rx_data(&rx, 2500, 1000, 0), ND_RX_NEW);
	struct nd_ack a;
	nd_rx_ack(&rx, &a);
	assert_int_equal(a.nsack, 1);
	assert_int_equal(a.sack[0].start, 2500);
	assert_int_equal(a.sack[0].end, 4000);
	/* filling the gap absorbs the range into the prefix */
	assert_int_equal(nd_rx_data(&rx, 1500, 1000, 0), ND_RX_NEW);
	assert_int_equal(nd_rx_contiguous(&rx), 4000);
	nd_rx_ack(&rx, &a);
	assert_int_equal(a.nsack, 0);
	assert_int_equal(rx.st.dup_packets, 4);
}

static void test_window_and_end_limits(void **state)
{
	(void)state;
	nd_rx_init(&rx, 10000, 2, 1000);
	assert_int_equal(nd_rx_data(&rx, 1000, 1000, 0), ND_RX_NEW);        /* ends at cum+2000 */
	assert_int_equal(nd_rx_data(&rx, 1500, 1000, 0), ND_RX_OUT_OF_WINDOW);
	assert_int_equal(nd_rx_data(&rx, 9500, 1000, 0), ND_RX_BEYOND_END);
	assert_int_equal(nd_rx_data(&rx, UINT64_MAX - 10, 100, 0), ND_RX_BEYOND_END);
	assert_int_equal(nd_rx_data(&rx, 0, 1000, 0), ND_RX_NEW);
	assert_int_equal(nd_rx_contiguous(&rx), 2000);
	assert_int_equal(nd_rx_data(&rx, 3000, 1000, 0), ND_RX_NEW);        /* window moved */
	nd_rx_set_window(&rx, 1);
	assert_int_equal(nd_rx_data(&rx, 2500, 1000, 0), ND_RX_OUT_OF_WINDOW);
	assert_int_equal(rx.st.dropped, 4);
}

/* The range set is bounded: a packet needing one more range is dropped, but a
 * packet at the cumulative point is always accepted, so progress continues. */
static void test_range_set_full_still_progresses(void **state)
{
	(void)state;
	uint64_t n = 2 * ND_RX_MAX_RANGES + 10;
	nd_rx_init(&rx, n * 100, (uint32_t)n, 100);
	for (uint64_t k = 1; k <= ND_RX_MAX_RANGES; k++)
		assert_int_equal(nd_rx_data(&rx, 2 * k * 100, 100, 0), ND_RX_NEW);
	assert_int_equal(rx.nranges, ND_RX_MAX_RANGES);
	assert_int_equal(nd_rx_data(&rx, (2 * ND_RX_MAX_RANGES + 4) * 100, 100, 0), ND_RX_NO_ROOM);
	/* extending an existing range needs no slot */
	assert_int_equal(nd_rx_data(&rx, (2 * ND_RX_MAX_RANGES + 1) * 100, 100, 0), ND_RX_NEW);
	/* filling a hole between two ranges merges them and frees a slot */
	assert_int_equal(nd_rx_data(&rx, 300, 100, 0), ND_RX_NEW);
	assert_int_equal(rx.nranges, ND_RX_MAX_RANGES - 1);
	assert_int_equal(nd_rx_data(&rx, 0, 100, 0), ND_RX_NEW);
	assert_int_equal(nd_rx_contiguous(&rx), 100);
	/* fill every hole in order: the whole core ends up contiguous */
	for (uint64_t k = 0; k < n; k++)
		nd_rx_data(&rx, k * 100, 100, 0);
	assert_true(nd_rx_complete(&rx));
	assert_int_equal(rx.nranges, 0);
}

static void test_ack_reports_latest_range_first_then_lowest(void **state)
{
	struct nd_ack a;
	(void)state;
	nd_rx_init(&rx, 100000, 100, 1000);
	for (int k = 1; k <= 12; k++)
		nd_rx_data(&rx, 2000u * k, 1000, (uint32_t)k);
	nd_rx_data(&rx, 2000u * 7, 500, 99);   /* duplicate, but the latest arrival */
	/* a sender that did not ask for wide SACK gets the base count */
	nd_rx_ack(&rx, &a);
	assert_int_equal(a.cum, 0);
	assert_int_equal(a.nsack, ND_ACK_BASE_SACK);
	assert_int_equal(a.sack[0].start, 14000);
	assert_int_equal(a.tsecr, 99);
	uint64_t want = 2000;
	for (int i = 1; i < ND_ACK_BASE_SACK; i++, want += 2000) {
		if (want == 14000)
			want += 2000;
		assert_int_equal(a.sack[i].start, want);
	}
	uint8_t out[512];
	size_t len;
	assert_int_equal(nd_rx_build_ack(&rx, 42, out, sizeof out, &len), ND_OK);
	struct nd_msg m;
	assert_int_equal(nd_decode(out, len, &m), ND_OK);
	assert_int_equal(m.type, ND_T_ACK);
	assert_int_equal(m.u.ack.nsack, ND_ACK_BASE_SACK);
	assert_int_equal(nd_rx_build_ack(&rx, 42, out, 40, &len), ND_E_NOSPACE);

	/* one that did gets all 12, in the same order */
	nd_rx_set_open_flags(&rx, ND_OPEN_F_WIDE_SACK);
	nd_rx_ack(&rx, &a);
	assert_int_equal(a.nsack, 12);
	assert_int_equal(a.sack[0].start, 14000);
	want = 2000;
	for (int i = 1; i < 12; i++, want += 2000) {
		if (want == 14000)
			want += 2000;
		assert_int_equal(a.sack[i].start, want);
		assert_int_equal(a.sack[i].end, want + 1000);
	}
	/* and unknown flag bits change nothing */
	nd_rx_set_open_flags(&rx, 0xfffe);
	nd_rx_ack(&rx, &a);
	assert_int_equal(a.nsack, ND_ACK_BASE_SACK);
}

/* A wide ACK is capped at ND_ACK_MAX_SACK ranges and fits one unfragmented
 * IPv6 datagram (1280 - 40 - 8 bytes of message). */
static void test_wide_ack_capped_and_fits_ipv6_minimum(void **state)
{
	struct nd_ack a;
	(void)state;
	nd_rx_init(&rx, 1000000, 1000, 1000);
	nd_rx_set_open_flags(&rx, ND_OPEN_F_WIDE_SACK);
	for (int k = 1; k <= 100; k++)   /* 100 ranges, every other packet */
		nd_rx_data(&rx, 2000u * k, 1000, (uint32_t)k);
	assert_int_equal(rx.nranges, 100);
	nd_rx_ack(&rx, &a);
	assert_int_equal(a.nsack, ND_ACK_MAX_SACK);
	assert_int_equal(a.sack[0].start, 200000);   /* the latest */
	for (int i = 1; i < ND_ACK_MAX_SACK; i++)
		assert_int_equal(a.sack[i].start, 2000u * i);
	uint8_t out[1280 - 48];
	size_t len;
	assert_int_equal(nd_rx_build_ack(&rx, 42, out, sizeof out, &len), ND_OK);
	assert_int_equal(len, ND_HDR_LEN + 18 + 16 * ND_ACK_MAX_SACK);
	struct nd_msg m;
	assert_int_equal(nd_decode(out, len, &m), ND_OK);
	assert_memory_equal(m.u.ack.sack, a.sack, sizeof a.sack);
}

static void test_restore_and_open_ack(void **state)
{
	struct nd_open_ack oa;
	(void)state;
	nd_rx_init(&rx, 50000, 64, 1424);
	nd_rx_data(&rx, 0, 1000, 0);
	nd_rx_data(&rx, 5000, 1000, 0);
	nd_rx_open_ack(&rx, &oa);
	assert_int_equal(oa.resume, 1000);
	assert_int_equal(oa.nranges, 1);
	assert_int_equal(oa.ranges[0].start, 5000);
	assert_int_equal(oa.window, 64);
	assert_int_equal(oa.max_payload, 1424);
	assert_int_equal(oa.flags, 0);
	nd_rx_set_open_flags(&rx, ND_OPEN_F_WIDE_SACK);
	nd_rx_open_ack(&rx, &oa);
	assert_int_equal(oa.flags, ND_OPEN_ACK_F_WIDE_SACK);
	nd_rx_set_open_flags(&rx, 0);     /* a later OPEN from an older sender */
	nd_rx_open_ack(&rx, &oa);
	assert_int_equal(oa.flags, 0);

	/* a restarted collector knows only what its spool holds contiguously */
	nd_rx_init(&rx, 50000, 64, 1424);
	nd_rx_restore(&rx, 30000);
	assert_int_equal(nd_rx_contiguous(&rx), 30000);
	assert_int_equal(nd_rx_data(&rx, 29000, 1000, 0), ND_RX_DUPLICATE);
	assert_int_equal(nd_rx_data(&rx, 30000, 1000, 0), ND_RX_NEW);
	nd_rx_restore(&rx, 999999);
	assert_true(nd_rx_complete(&rx));
	struct nd_ack a;
	nd_rx_init(&rx, 10, 1, 64);
	nd_rx_ack(&rx, &a);
	assert_int_equal(a.has_echo, 0);
}

/* Random packets against a byte map: the range set always equals the truth. */
static void test_random_arrivals_match_bitmap(void **state)
{
	enum { SZ = 20000 };
	static uint8_t have[SZ];
	(void)state;
	srand(7);
	for (int round = 0; round < 30; round++) {
		memset(have, 0, sizeof have);
		nd_rx_init(&rx, SZ, 40, 100);
		for (int i = 0; i < 4000; i++) {
			uint64_t off = (uint64_t)(rand() % SZ);
			uint32_t len = 1 + (uint32_t)(rand() % 150);
			uint64_t cum = nd_rx_contiguous(&rx);
			enum nd_rx_verdict v = nd_rx_data(&rx, off, len, 0);
			int anynew = 0;
			if (off + len <= SZ && off + len - cum <= 4000)
				for (uint64_t b = off; b < off + len; b++)
					anynew |= !have[b];
			if (v == ND_RX_NEW) {
				assert_true(anynew);
				for (uint64_t b = off; b < off + len; b++)
					have[b] = 1;
			} else if (v == ND_RX_DUPLICATE) {
				assert_false(anynew);
			}
			uint64_t c = 0;
			while (c < SZ && have[c])
				c++;
			assert_int_equal(nd_rx_contiguous(&rx), c);
			for (uint32_t r = 0; r < rx.nranges; r++) {
				assert_true(rx.r[r].start > c);
				for (uint64_t b = rx.r[r].start; b < rx.r[r].end; b++)
					assert_true(have[b]);
				assert_false(have[rx.r[r].start - 1]);
				if (rx.r[r].end < SZ)
					assert_false(have[rx.r[r].end]);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_data_advances_contiguous),
		cmocka_unit_test(test_duplicates_and_overlaps),
		cmocka_unit_test(test_window_and_end_limits),
		cmocka_unit_test(test_range_set_full_still_progresses),
		cmocka_unit_test(test_ack_reports_latest_range_first_then_lowest),
		cmocka_unit_test(test_wide_ack_capped_and_fits_ipv6_minimum),
		cmocka_unit_test(test_restore_and_open_ack),
		cmocka_unit_test(test_random_arrivals_match_bitmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
