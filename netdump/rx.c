/* netdump/rx.c: receiver sequence-space bookkeeping: held ranges, window, ack contents. */
#include "netdump/rx.h"

/*
 * Held bytes are [0, cum) plus up to ND_RX_MAX_RANGES ranges above cum, kept
 * sorted, disjoint and non-adjacent (adjacent ranges are merged), so the ranges
 * an ACK reports are exactly the holes' complements.  Invariants are checked
 * after every change when built with ND_DEBUG (the unit tests do).
 */
#ifdef ND_DEBUG
#define ND_ASSERT(c) do { if (!(c)) __builtin_trap(); } while (0)
#else
#define ND_ASSERT(c) do { } while (0)
#endif

static void check(const struct nd_rx *rx)
{
#ifdef ND_DEBUG
	ND_ASSERT(rx->cum <= rx->size);
	ND_ASSERT(rx->nranges <= ND_RX_MAX_RANGES);
	ND_ASSERT(rx->sack_max == ND_ACK_BASE_SACK || rx->sack_max == ND_ACK_MAX_SACK);
	uint64_t prev = rx->cum;
	for (uint32_t i = 0; i < rx->nranges; i++) {
		ND_ASSERT(rx->r[i].start > prev);       /* above cum, not adjacent */
		ND_ASSERT(rx->r[i].start < rx->r[i].end);
		ND_ASSERT(rx->r[i].end <= rx->size);
		prev = rx->r[i].end;
	}
#else
	(void)rx;
#endif
}

const char *nd_rx_verdict_str(enum nd_rx_verdict v)
{
	switch (v) {
	case ND_RX_NEW: return "new";
	case ND_RX_DUPLICATE: return "duplicate";
	case ND_RX_OUT_OF_WINDOW: return "out of window";
	case ND_RX_BEYOND_END: return "beyond end of core";
	case ND_RX_NO_ROOM: return "no room for another range";
	}
	return "unknown verdict";
}

void nd_rx_set_window(struct nd_rx *rx, uint32_t window)
{
	if (window < 1)
		window = 1;
	if (window > ND_WINDOW_MAX)
		window = ND_WINDOW_MAX;
	rx->window = window;
	rx->window_bytes = (uint64_t)window * rx->max_payload;
}

void nd_rx_set_open_flags(struct nd_rx *rx, uint16_t open_flags)
{
	rx->sack_max = (open_flags & ND_OPEN_F_WIDE_SACK) ? ND_ACK_MAX_SACK : ND_ACK_BASE_SACK;
}

void nd_rx_init(struct nd_rx *rx, uint64_t size, uint32_t window, uint32_t max_payload)
{
	__builtin_memset(rx, 0, sizeof *rx);
	rx->size = size;
	rx->sack_max = ND_ACK_BASE_SACK;
	if (max_payload < ND_PAYLOAD_MIN)
		max_payload = ND_PAYLOAD_MIN;
	if (max_payload > ND_PAYLOAD_MAX)
		max_payload = ND_PAYLOAD_MAX;
	rx->max_payload = max_payload;
	nd_rx_set_window(rx, window);
	check(rx);
}

void nd_rx_restore(struct nd_rx *rx, uint64_t contiguous)
{
	rx->cum = contiguous < rx->size ? contiguous : rx->size;
	rx->nranges = 0;
	rx->recent_off = rx->cum;
	check(rx);
}

/* Remove ranges [i, j) and put one range in their place (or none if r is NULL). */
static void splice(struct nd_rx *rx, uint32_t i, uint32_t j, const struct nd_range *r)
{
	uint32_t keep = r ? 1 : 0;
	uint32_t tail = rx->nranges - j;

	if (i + keep != j)
		__builtin_memmove(&rx->r[i + keep], &rx->r[j], tail * sizeof rx->r[0]);
	if (r)
		rx->r[i] = *r;
	rx->nranges = i + keep + tail;
}

/* Fold ranges that now touch cum into it. */
static void absorb(struct nd_rx *rx)
{
	uint32_t k = 0;
	while (k < rx->nranges && rx->r[k].start <= rx->cum) {
		if (rx->r[k].end > rx->cum)
			rx->cum = rx->r[k].end;
		k++;
	}
	if (k)
		splice(rx, 0, k, 0);
}

enum nd_rx_verdict nd_rx_data(struct nd_rx *rx, uint64_t off, uint32_t len, uint32_t tsval)
{
	if (off > rx->size || len > rx->size - off) {
		rx->st.dropped++;
		return ND_RX_BEYOND_END;
	}
	rx->echo = tsval;
	rx->has_echo = 1;
	uint64_t end = off + len;
	if (len == 0 || end <= rx->cum) {
		rx->st.dup_packets++;
		return ND_RX_DUPLICATE;
	}
	if (end - rx->cum > rx->window_bytes) {
		rx->st.dropped++;
		return ND_RX_OUT_OF_WINDOW;
	}
	uint64_t s = off > rx->cum ? off : rx->cum;

	/* First range that ends at or after s (touching counts: they merge). */
	uint32_t lo = 0, hi = rx->nranges;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (rx->r[mid].end < s)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint32_t i = lo, j = lo;
	while (j < rx->nranges && rx->r[j].start <= end)
		j++;

	if (j == i + 1 && rx->r[i].start <= s && rx->r[i].end >= end) {
		rx->recent_off = off;
		rx->st.dup_packets++;
		return ND_RX_DUPLICATE;
	}
	if (j == i && s > rx->cum && rx->nranges == ND_RX_MAX_RANGES) {
		rx->st.dropped++;
		return ND_RX_NO_ROOM;
	}
	struct nd_range m = { s, end };
	if (j > i) {
		if (rx->r[i].start < m.start)
			m.start = rx->r[i].start;
		if (rx->r[j - 1].end > m.end)
			m.end = rx->r[j - 1].end;
	}
	if (m.start <= rx->cum) {
		splice(rx, i, j, 0);
		rx->cum = m.end;
		absorb(rx);
	} else {
		if (j == i)
			splice(rx, i, i, &m);  /* insertion: room was checked above */
		else
			splice(rx, i, j, &m);
	}
	rx->recent_off = off;
	rx->st.new_packets++;
	check(rx);
	return ND_RX_NEW;
}

uint64_t nd_rx_contiguous(const struct nd_rx *rx)
{
	return rx->cum;
}

int nd_rx_complete(const struct nd_rx *rx)
{
	return rx->cum == rx->size;
}

void nd_rx_ack(const struct nd_rx *rx, struct nd_ack *ack)
{
	uint32_t first = rx->nranges;   /* index of the range with the latest packet */

	ack->cum = rx->cum;
	ack->tsecr = rx->echo;
	ack->has_echo = rx->has_echo;
	ack->window = rx->window;
	ack->nsack = 0;
	for (uint32_t i = 0; i < rx->nranges; i++)
		if (rx->r[i].start <= rx->recent_off && rx->recent_off < rx->r[i].end) {
			first = i;
			break;
		}
	if (first < rx->nranges)
		ack->sack[ack->nsack++] = rx->r[first];
	for (uint32_t i = 0; i < rx->nranges && ack->nsack < rx->sack_max; i++)
		if (i != first)
			ack->sack[ack->nsack++] = rx->r[i];
}

enum nd_err nd_rx_build_ack(const struct nd_rx *rx, uint64_t cookie,
                            uint8_t *out, size_t cap, size_t *len)
{
	struct nd_msg m;

	m.type = ND_T_ACK;
	m.cookie = cookie;
	nd_rx_ack(rx, &m.u.ack);
	return nd_encode(&m, out, cap, len);
}

void nd_rx_open_ack(const struct nd_rx *rx, struct nd_open_ack *oa)
{
	oa->nonce = 0;
	oa->window = rx->window;
	oa->max_payload = (uint16_t)rx->max_payload;
	oa->resume = rx->cum;
	oa->nranges = 0;
	oa->flags = rx->sack_max > ND_ACK_BASE_SACK ? ND_OPEN_ACK_F_WIDE_SACK : 0;
	for (uint32_t i = 0; i < rx->nranges && oa->nranges < ND_OPEN_ACK_MAX_RANGES; i++)
		oa->ranges[oa->nranges++] = rx->r[i];
}
