/* netdump/tx.h: the netdump sender state machine (sans-I/O, no allocation). */
#ifndef NETDUMP_TX_H
#define NETDUMP_TX_H

#include <stddef.h>
#include <stdint.h>

#include "netdump/meta.h"
#include "netdump/netdump.h"
#include "netdump/sha256.h"

/*
 * The sender knows nothing of sockets or clocks.  The caller:
 *   - feeds every datagram (or stream message) from the collector to nd_tx_input;
 *   - calls nd_tx_poll repeatedly while it returns a message, sending each one;
 *   - sleeps until nd_tx_timeout() or until input arrives, then polls again;
 *   - stops when nd_tx_state() is one of the DONE/FAILED states.
 * Time is monotonic microseconds supplied by the caller.
 *
 * Core bytes come from read_fn, which must return the same bytes for the same
 * range every time (a file, or the kernel's core writer regenerating a range of
 * a frozen process): retransmissions re-read, nothing is buffered here.
 *
 * Sending: the core is cut into packets of P bytes (P = min(own payload, peer's
 * max_payload)) starting at the collector's resume point.  The collector's
 * window is window x max_payload bytes beyond its cumulative point; at most
 * W = min(own window, that many bytes / P) packets are in flight.  Loss is detected from
 * the ACKs' timestamp echo (a packet sent before one the collector has received
 * and not itself acknowledged is lost, RACK-style) and by the retransmission
 * timeout (RFC 6298 estimator, exponential backoff).  The window is not reduced
 * on loss: the path is a LAN and the collector states its window.
 *
 * Pacing: a full window sent at once also fills the slowest queue on the path,
 * and every repair of a hole then waits behind that queue.  So the sender
 * measures the rate at which the collector takes data (bytes newly acknowledged,
 * cumulatively or selectively, per sample of at least one RTT; the largest of the
 * last ND_TX_BW_SAMPLES samples) and releases packets at about that rate, probing
 * for more now and then.  nd_tx_poll releases at most what the pacer allows and
 * nd_tx_timeout returns the next departure time.  The window stays the upper
 * bound; window 1 is never paced (stop-and-wait baseline).
 */

/* Packets in flight; sizes the scoreboard (8 bytes each) and so struct nd_tx.
 * A memory-tight build (a kernel) may define it smaller, e.g. -DND_TX_WINDOW_MAX=512:
 * everything compiled with the same value agrees, and the wire is unaffected. */
#ifndef ND_TX_WINDOW_MAX
#define ND_TX_WINDOW_MAX       4096
#endif
/* 2048 x 1424 B = 2.9 MB in flight: about twice the bandwidth-delay product of a
 * 20 ms RTT path at the collector's speed, so a repair of the lowest hole (which
 * holds the window for an extra round trip) does not stall the sender. */
#define ND_TX_DEFAULT_WINDOW   2048
#define ND_TX_RTO_INIT_US      250000u   /* before the first RTT sample */
#define ND_TX_RTO_MIN_US       10000u    /* LAN: a 1 s floor would stall recovery */
#define ND_TX_RTO_MAX_US       1000000u  /* so a restarted collector is re-found fast */
#define ND_TX_REOPEN_TIMEOUTS  4         /* silent RTOs in a row before re-OPEN ... */
#define ND_TX_REOPEN_SILENCE_US 1000000u /* ... and at least this long unheard */
#define ND_TX_GIVE_UP_US       60000000u /* collector silent this long: FAILED */
#define ND_TX_HASH_CHUNK       (1u << 20) /* most bytes hashed per poll when catching up */
#define ND_TX_BW_SAMPLES       10        /* delivery-rate samples the estimate is the max of:
                                          * longer than one gain cycle (8 samples), so the
                                          * probe's result outlives the cycle */

/* Returns 0 and fills buf with the core bytes [off, off+len), or < 0 on error. */
typedef int (*nd_read_fn)(void *ctx, uint64_t off, void *buf, size_t len);

struct nd_tx_cfg {
	uint32_t window;        /* 1..ND_TX_WINDOW_MAX; 1 = stop-and-wait (a default
	                         * above ND_TX_WINDOW_MAX is clamped by nd_tx_cfg_default) */
	uint32_t payload;       /* ND_PAYLOAD_MIN..ND_PAYLOAD_MAX */
	uint64_t rto_init_us;
	uint64_t rto_min_us;
	uint64_t rto_max_us;
	uint32_t reopen_timeouts; /* 0: never re-OPEN on silence */
	uint64_t give_up_us;    /* collector silence that ends the transfer */
	uint64_t nonce;         /* random per transfer if the caller can (0: derived) */
	uint8_t pace;           /* 1: pace to the measured delivery rate (default) */
};

/* Fill cfg with the defaults above. */
void nd_tx_cfg_default(struct nd_tx_cfg *cfg);

enum nd_tx_state {
	ND_TX_OPENING,        /* OPEN sent, waiting for OPEN_ACK / REFUSE */
	ND_TX_SENDING,        /* data flowing */
	ND_TX_FINISHING,      /* all data acknowledged, FINISH sent until RESULT */
	ND_TX_DONE_STORED,    /* RESULT stored, collector's digest equals ours */
	ND_TX_DONE_MISMATCH,  /* RESULT digest mismatch (or stored with another digest) */
	ND_TX_DONE_REFUSED,   /* REFUSE or RESULT refused: see nd_tx_reason */
	ND_TX_FAILED,         /* see nd_tx_failure */
};
const char *nd_tx_state_str(enum nd_tx_state s);

enum nd_tx_failure {
	ND_TX_FAIL_NONE,
	ND_TX_FAIL_TIMEOUT,   /* collector silent for give_up_us */
	ND_TX_FAIL_READ,      /* read_fn failed */
	ND_TX_FAIL_BUFFER,    /* poll's buffer cannot hold one DATA message */
};
const char *nd_tx_failure_str(enum nd_tx_failure f);

struct nd_tx_stats {
	uint64_t acked;          /* bytes the collector holds contiguously (progress) */
	uint64_t bytes_sent;     /* DATA payload bytes sent, retransmissions included */
	uint64_t packets_sent;   /* DATA messages sent */
	uint64_t retransmits;    /* DATA messages sent again */
	uint64_t timeouts;       /* retransmission timer expiries */
	uint64_t opens;          /* OPEN messages sent (first and re-opens) */
	uint64_t finishes;       /* FINISH messages sent */
	uint64_t ignored;        /* input dropped: bad message, wrong cookie, stale */
	uint64_t resume;         /* resume point of the latest OPEN_ACK */
	uint64_t srtt_us;        /* smoothed RTT (0: no sample yet) */
	uint64_t rttvar_us;
	uint64_t rto_us;         /* current retransmission timeout, backoff included */
	uint32_t window;         /* effective window in packets */
	uint32_t payload;        /* effective payload in bytes */
	uint64_t bw_Bps;         /* delivery-rate estimate, bytes/s (0: none yet) */
	uint64_t pace_Bps;       /* current pacing rate, bytes/s (0: not pacing) */
	uint64_t min_rtt_us;     /* lowest recent RTT sample */
};

/* One scoreboard entry per packet in flight; indexed by packet number mod window max. */
struct nd_tx_slot {
	uint32_t sent;           /* tsval of the latest transmission */
	uint8_t flags;           /* private to tx.c */
	uint8_t pad[3];
};

/* Sender state; caller-owned, ~34 KiB: keep it off small stacks.  Private fields. */
struct nd_tx {
	struct nd_tx_cfg cfg;
	struct nd_meta meta;
	nd_read_fn read;
	void *ctx;
	enum nd_tx_state state;
	enum nd_tx_failure failure;
	enum nd_reason reason;
	char text[ND_TEXT_MAX + 1];

	uint64_t cookie;
	uint64_t nonce;          /* of the current open attempt */
	uint32_t window;         /* effective window, packets */
	uint32_t payload;        /* effective payload, bytes */
	uint32_t peer_window;    /* packets of peer_payload bytes */
	uint32_t peer_payload;

	/* packet k covers [base + k*payload, min(base + (k+1)*payload, size)) */
	uint64_t base;
	uint64_t npkts;          /* packets from base to the end */
	uint64_t una;            /* lowest packet not cumulatively acked */
	uint64_t nxt;            /* next packet never sent in this session */
	uint64_t cum;            /* highest cumulative ack seen */
	uint32_t nlost;          /* slots marked lost, waiting for retransmission */
	uint64_t lost_scan;      /* lowest packet that may be marked lost */
	struct nd_range held[ND_OPEN_ACK_MAX_RANGES]; /* from OPEN_ACK, beyond base */
	uint8_t nheld;
	uint8_t sack_cap;        /* ranges per ACK the collector sends at most (OPEN_ACK) */
	struct nd_tx_slot slot[ND_TX_WINDOW_MAX];

	/* the digest covers first-time sends in offset order; 'hashed' only grows */
	struct nd_sha256 sha;
	uint64_t hashed;
	uint8_t digest[ND_SHA256_LEN];
	uint8_t digest_done;

	/* timing, in caller microseconds */
	uint64_t last_heard;     /* last valid message from the collector */
	uint64_t timer;          /* RTO / OPEN / FINISH retransmission deadline, 0: off */
	uint64_t srtt, rttvar, rto;
	uint32_t rack_ts;        /* newest tsval the collector has echoed */
	uint8_t have_rack;
	uint8_t have_rtt;
	uint8_t send_now;        /* an OPEN / FINISH is due at the next poll */
	uint32_t silent_rtos;    /* timer expiries in a row without hearing back */

	/* pacing: delivery-rate estimate and departure schedule (tx.c, "pacing") */
	uint64_t dlv;            /* payload bytes delivered, each packet counted once */
	uint64_t smp_t, smp_dlv; /* start of the current rate sample (smp_t 0: none) */
	uint64_t bw_smp[ND_TX_BW_SAMPLES]; /* recent samples, bytes/s */
	uint64_t bw;             /* max of bw_smp, bytes/s; 0 until the first sample */
	uint64_t full_bw;        /* startup: best rate when growth was last seen */
	uint64_t min_rtt, min_rtt_t;
	uint64_t pace_ns;        /* earliest next departure, caller clock in ns */
	uint32_t nsacked;        /* packets in [una, nxt) marked SACKed */
	uint8_t bw_i;            /* next bw_smp slot */
	uint8_t pace_mode;       /* startup, drain or cruise (tx.c) */
	uint8_t phase;           /* position in the cruise gain cycle */
	uint8_t full_cnt;        /* startup: samples without 25 % growth */

	struct nd_tx_stats st;
};

/*
 * Start a transfer of meta->core_size bytes.  Copies cfg and meta.  Returns
 * ND_E_FIELD for an invalid cfg (window, payload, timers) or meta without a
 * device, ND_OK otherwise; the first poll then yields the OPEN.
 */
enum nd_err nd_tx_init(struct nd_tx *tx, const struct nd_tx_cfg *cfg,
                       const struct nd_meta *meta, nd_read_fn read, void *ctx);

/*
 * Process one message from the collector.  Anything malformed, for another
 * cookie or nonce, or stale is ignored (counted in stats.ignored) and reported
 * by the return value; the state machine is never harmed by input.
 */
enum nd_err nd_tx_input(struct nd_tx *tx, uint64_t now, const uint8_t *msg, size_t len);

/*
 * Produce the next message to send into out[0..cap) and return its length, or 0
 * when nothing is due now.  cap must hold a DATA message of the configured
 * payload (ND_DATA_HDR_LEN + cfg.payload); otherwise the transfer FAILS with
 * ND_TX_FAIL_BUFFER.  May call read_fn.
 */
size_t nd_tx_poll(struct nd_tx *tx, uint64_t now, uint8_t *out, size_t cap);

/*
 * Absolute time (us) by which nd_tx_poll must be called again if no input
 * arrives: now when something can be sent immediately, UINT64_MAX once done.
 */
uint64_t nd_tx_timeout(const struct nd_tx *tx, uint64_t now);

enum nd_tx_state nd_tx_state(const struct nd_tx *tx);
/* 1 once the state is DONE_* or FAILED. */
int nd_tx_done(const struct nd_tx *tx);
/* Refusal reason for DONE_REFUSED (ND_R_NONE otherwise). */
enum nd_reason nd_tx_reason(const struct nd_tx *tx);
/* Collector's text from REFUSE / RESULT ("" if none). */
const char *nd_tx_text(const struct nd_tx *tx);
enum nd_tx_failure nd_tx_failure(const struct nd_tx *tx);
/* SHA-256 of the whole core, once FINISHING or later (NULL before). */
const uint8_t *nd_tx_digest(const struct nd_tx *tx);
void nd_tx_stats(const struct nd_tx *tx, struct nd_tx_stats *st);

#endif /* NETDUMP_TX_H */
