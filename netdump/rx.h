/* netdump/rx.h: per-session receiver bookkeeping: received ranges and acks (sans-I/O). */
#ifndef NETDUMP_RX_H
#define NETDUMP_RX_H

#include <stddef.h>
#include <stdint.h>

#include "netdump/netdump.h"

/*
 * The collector owns one struct nd_rx per session and does all I/O itself: it
 * decodes DATA, asks nd_rx_data whether the bytes are new, writes new payloads
 * to its spool (pwrite at the offset), persists nd_rx_contiguous() when it
 * grows, hashes the spool at FINISH, and sends nd_rx_build_ack() once per batch
 * of received datagrams.  The structure is fixed-size (~2.2 KiB): data beyond
 * cum + window is refused (OUT_OF_WINDOW) and a packet that would need a new
 * range when all ND_RX_MAX_RANGES are used is dropped (NO_ROOM) — the sender
 * retransmits it later, and a packet at the cumulative point is always taken,
 * so progress never stops.
 */

#define ND_RX_MAX_RANGES         128
#define ND_RX_DEFAULT_WINDOW     2048   /* packets; the sender's default */

enum nd_rx_verdict {
	ND_RX_NEW,           /* some bytes were not held: write the payload */
	ND_RX_DUPLICATE,     /* everything already held: drop */
	ND_RX_OUT_OF_WINDOW, /* ends beyond cum + window: drop */
	ND_RX_BEYOND_END,    /* ends beyond the core size: drop (sender bug or attack) */
	ND_RX_NO_ROOM,       /* would need a range slot and none is free: drop */
};
const char *nd_rx_verdict_str(enum nd_rx_verdict v);

struct nd_rx_stats {
	uint64_t new_packets;
	uint64_t dup_packets;
	uint64_t dropped;      /* OUT_OF_WINDOW + BEYOND_END + NO_ROOM */
};

/* Private fields; the invariants are asserted in rx.c. */
struct nd_rx {
	uint64_t size;          /* core size from OPEN */
	uint64_t cum;           /* [0, cum) held */
	uint32_t window;        /* packets */
	uint32_t max_payload;   /* bytes */
	uint64_t window_bytes;  /* window * max_payload */
	uint32_t nranges;       /* sorted, disjoint, non-adjacent, all above cum */
	struct nd_range r[ND_RX_MAX_RANGES];
	uint32_t recent;        /* index hint: range holding the latest packet */
	uint64_t recent_off;    /* offset of the latest NEW/DUPLICATE packet */
	uint32_t echo;          /* tsval of the latest in-session DATA */
	uint8_t has_echo;
	uint8_t sack_max;       /* ranges per ACK the sender accepts */
	struct nd_rx_stats st;
};

/* Fresh session of size bytes; window in packets (>= 1), max_payload in bytes. */
void nd_rx_init(struct nd_rx *rx, uint64_t size, uint32_t window, uint32_t max_payload);

/* After a collector restart: the spool durably holds [0, contiguous).  Forgets
 * every other range.  contiguous is clamped to size. */
void nd_rx_restore(struct nd_rx *rx, uint64_t contiguous);

/*
 * Apply the flags of the OPEN being answered: a sender that sets
 * ND_OPEN_F_WIDE_SACK gets ACKs of up to ND_ACK_MAX_SACK ranges (and an OPEN_ACK
 * saying so), any other ND_ACK_BASE_SACK, which every v1 decoder accepts.  Call
 * before nd_rx_open_ack on every OPEN: a reopening sender may be another program.
 * nd_rx_init starts at ND_ACK_BASE_SACK.
 */
void nd_rx_set_open_flags(struct nd_rx *rx, uint16_t open_flags);

/* Change the receive window (e.g. on config reload); takes effect in the next ack. */
void nd_rx_set_window(struct nd_rx *rx, uint32_t window);

/*
 * Account a DATA payload of len bytes at off, sent at tsval (echoed in the next
 * ack for every verdict but BEYOND_END).  Only NEW changes the held set.
 */
enum nd_rx_verdict nd_rx_data(struct nd_rx *rx, uint64_t off, uint32_t len, uint32_t tsval);

/* Bytes held from offset 0 without a gap. */
uint64_t nd_rx_contiguous(const struct nd_rx *rx);
/* 1 when every byte of the core is held. */
int nd_rx_complete(const struct nd_rx *rx);

/*
 * Fill an ACK: cum, timestamp echo, window and up to the sender's limit of
 * ranges (nd_rx_set_open_flags) — the range holding the latest packet first
 * (what the sender most needs to learn), then the lowest ranges in ascending
 * order (they border the oldest holes, which hold the window's lower edge).
 */
void nd_rx_ack(const struct nd_rx *rx, struct nd_ack *ack);
/* nd_rx_ack + nd_encode into out (cap >= ND_HDR_LEN + 18 + 16 * ND_ACK_MAX_SACK,
 * i.e. 1054 bytes, is always enough). */
enum nd_err nd_rx_build_ack(const struct nd_rx *rx, uint64_t cookie,
                            uint8_t *out, size_t cap, size_t *len);

/* Fill an OPEN_ACK for this session: window, max_payload, resume = cum, the
 * lowest held ranges and the flags (ND_OPEN_ACK_F_WIDE_SACK when granted).  The caller sets nonce (the OPEN's) before encoding. */
void nd_rx_open_ack(const struct nd_rx *rx, struct nd_open_ack *oa);

#endif /* NETDUMP_RX_H */
