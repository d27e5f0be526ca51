/* netdump/tx.c: the netdump sender: open, windowed data with SACK and RTT timers, finish. */
#include "netdump/tx.h"
#include "netdump/wire.h"

/* Scoreboard flags. */
#define F_SACKED 1   /* the collector reported holding this packet */
#define F_LOST   2   /* detected lost, waiting in the retransmission queue */
#define F_RETX   4   /* sent more than once */
#define F_HELD   8   /* held by the collector at OPEN_ACK: never sent, no send time */

#define NOT_STARTED UINT64_MAX

#define ND_TX_REO_MIN_US 50
#define ND_TX_REO_MAX_US 1000

/* Pacing (see "pacing" below). */
#define PACE_SAMPLE_MIN_US 4000u     /* shortest rate sample: ACKs come in batches and
                                      * a shared host's scheduler adds ms of jitter */
#define PACE_BURST_US      2000u     /* credit a late poll may spend at once: callers
                                      * that sleep in whole milliseconds keep the rate */
#define PACE_CAP_MIN_US    10000u    /* in-flight cap never below this much at the rate */
#define PACE_MIN_RTT_LIFE_US 10000000u /* the min RTT is re-learnt this often */
#define PACE_STARTUP_ROUNDS 3        /* samples without 25 % growth end startup */

enum { PACE_STARTUP, PACE_DRAIN, PACE_CRUISE };

/* Cruise gains in quarters, one per rate sample: probe at 5/4 for one sample,
 * drain what the probe queued at 3/4, then hold at the estimate. */
static const uint8_t cruise_gain[8] = { 5, 3, 4, 4, 4, 4, 4, 4 };

void nd_tx_cfg_default(struct nd_tx_cfg *cfg)
{
	cfg->window = ND_TX_DEFAULT_WINDOW < ND_TX_WINDOW_MAX ? ND_TX_DEFAULT_WINDOW
	                                                      : ND_TX_WINDOW_MAX;
	cfg->payload = ND_DEFAULT_PAYLOAD;
	cfg->rto_init_us = ND_TX_RTO_INIT_US;
	cfg->rto_min_us = ND_TX_RTO_MIN_US;
	cfg->rto_max_us = ND_TX_RTO_MAX_US;
	cfg->reopen_timeouts = ND_TX_REOPEN_TIMEOUTS;
	cfg->give_up_us = ND_TX_GIVE_UP_US;
	cfg->nonce = 0;
	cfg->pace = 1;
}

const char *nd_tx_state_str(enum nd_tx_state s)
{
	switch (s) {
	case ND_TX_OPENING: return "opening";
	case ND_TX_SENDING: return "sending";
	case ND_TX_FINISHING: return "finishing";
	case ND_TX_DONE_STORED: return "stored";
	case ND_TX_DONE_MISMATCH: return "digest mismatch";
	case ND_TX_DONE_REFUSED: return "refused";
	case ND_TX_FAILED: return "failed";
	}
	return "unknown state";
}

const char *nd_tx_failure_str(enum nd_tx_failure f)
{
	switch (f) {
	case ND_TX_FAIL_NONE: return "no failure";
	case ND_TX_FAIL_TIMEOUT: return "collector not answering (timeout)";
	case ND_TX_FAIL_READ: return "cannot read the core";
	case ND_TX_FAIL_BUFFER: return "send buffer smaller than one DATA message";
	}
	return "unknown failure";
}

static struct nd_tx_slot *slot(struct nd_tx *tx, uint64_t k)
{
	return &tx->slot[k % ND_TX_WINDOW_MAX];
}

static uint64_t pkt_start(const struct nd_tx *tx, uint64_t k)
{
	return tx->base + k * tx->payload;
}

static uint64_t pkt_end(const struct nd_tx *tx, uint64_t k)
{
	uint64_t e = pkt_start(tx, k) + tx->payload;
	return e < tx->meta.core_size ? e : tx->meta.core_size;
}

/* Signed distance between two truncated microsecond clocks (wraps every 71 min). */
static int32_t ts_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

enum nd_err nd_tx_init(struct nd_tx *tx, const struct nd_tx_cfg *cfg,
                       const struct nd_meta *meta, nd_read_fn read, void *ctx)
{
	if (cfg->window < 1 || cfg->window > ND_TX_WINDOW_MAX ||
	    cfg->payload < ND_PAYLOAD_MIN || cfg->payload > ND_PAYLOAD_MAX ||
	    cfg->rto_min_us == 0 || cfg->rto_min_us > cfg->rto_max_us ||
	    cfg->give_up_us == 0 || !read || !meta->device[0])
		return ND_E_FIELD;
	__builtin_memset(tx, 0, sizeof *tx);
	tx->cfg = *cfg;
	tx->meta = *meta;
	tx->read = read;
	tx->ctx = ctx;
	tx->state = ND_TX_OPENING;
	tx->send_now = 1;
	tx->rto = cfg->rto_init_us;
	if (tx->rto < cfg->rto_min_us)
		tx->rto = cfg->rto_min_us;
	if (tx->rto > cfg->rto_max_us)
		tx->rto = cfg->rto_max_us;
	tx->last_heard = NOT_STARTED;
	tx->nonce = cfg->nonce;
	if (!tx->nonce) {
		/* No randomness here: derive from the session key and size so
		 * at least different dumps differ.  Callers should pass one. */
		uint8_t d[ND_SHA256_DIGEST];
		struct nd_sha256 s;
		nd_sha256_init(&s);
		nd_sha256_update(&s, meta->device, sizeof meta->device);
		nd_sha256_update(&s, meta->boot_id, sizeof meta->boot_id);
		nd_sha256_update(&s, &meta->seq, sizeof meta->seq);
		nd_sha256_update(&s, &meta->core_size, sizeof meta->core_size);
		nd_sha256_final(&s, d);
		tx->nonce = nd_get_u64(d) | 1;
	}
	tx->window = cfg->window;
	tx->payload = cfg->payload;
	nd_sha256_init(&tx->sha);
	return ND_OK;
}

/* ---- timers ---- */

static void rtt_sample(struct nd_tx *tx, uint64_t r)
{
	/* RFC 6298, in microseconds; G (clock granularity) taken as 1 ms so a
	 * very steady LAN RTT does not give an RTO at the RTT itself. */
	if (!tx->have_rtt) {
		tx->srtt = r;
		tx->rttvar = r / 2;
		tx->have_rtt = 1;
	} else {
		uint64_t d = tx->srtt > r ? tx->srtt - r : r - tx->srtt;
		tx->rttvar = (3 * tx->rttvar + d) / 4;
		tx->srtt = (7 * tx->srtt + r) / 8;
	}
	uint64_t v = 4 * tx->rttvar;
	tx->rto = tx->srtt + (v > 1000 ? v : 1000);
	if (tx->rto < tx->cfg.rto_min_us)
		tx->rto = tx->cfg.rto_min_us;
	if (tx->rto > tx->cfg.rto_max_us)
		tx->rto = tx->cfg.rto_max_us;
}

static void backoff(struct nd_tx *tx)
{
	tx->rto *= 2;
	if (tx->rto > tx->cfg.rto_max_us)
		tx->rto = tx->cfg.rto_max_us;
}

static void heard(struct nd_tx *tx, uint64_t now)
{
	tx->last_heard = now;
	tx->silent_rtos = 0;
}

static void set_done(struct nd_tx *tx, enum nd_tx_state s)
{
	tx->state = s;
	tx->timer = 0;
	tx->send_now = 0;
}

static void fail(struct nd_tx *tx, enum nd_tx_failure f)
{
	tx->failure = f;
	set_done(tx, ND_TX_FAILED);
}

/* Back to OPENING: the collector may have restarted and forgotten the cookie. */
static void reopen(struct nd_tx *tx)
{
	tx->state = ND_TX_OPENING;
	tx->nonce++;              /* an OPEN_ACK for an older attempt is stale */
	tx->send_now = 1;
	tx->timer = 0;
	tx->silent_rtos = 0;
}

/* ---- pacing ----
 *
 * A fixed window sent as fast as the host can fills the slowest queue on the
 * path (on a LAN: the collector's socket buffer, or a switch port) with all of
 * the window that exceeds the bandwidth-delay product.  The round trip grows by
 * that queue, and the repair of a lost packet, which holds the window's lower
 * edge for about two round trips, waits behind it: under 1 % loss on a 20 ms
 * path, throughput halves.  Sending at the rate the collector actually takes
 * data keeps the queue short, so the round trip stays near the path's own and
 * repairs arrive promptly.
 *
 * The rate is measured, not configured: bytes newly delivered (cumulatively or
 * selectively acknowledged, each packet once) per sample of at least one
 * minimum RTT; the estimate is the largest of the last ND_TX_BW_SAMPLES
 * samples, so a sample taken while the window was stuck behind a hole does not
 * drag it down.  Like BBR's bandwidth estimate: startup sends at twice the
 * estimate until it stops growing by a quarter, drain sends at half until the
 * packets in flight fit one bandwidth-delay product, then cruise cycles the
 * gain 5/4, 3/4, 1 x 6 per sample, which finds a faster collector and drains
 * what the probe queued.  In drain and cruise, packets in flight (sent, not
 * acknowledged, not known lost) are also capped at twice the bandwidth-delay
 * product (at least PACE_CAP_MIN_US worth), in case the estimate is too high.
 * All integer arithmetic; rates in bytes per second.
 */

static uint64_t pace_rate(const struct nd_tx *tx)
{
	if (!tx->cfg.pace || tx->window <= 1 || !tx->bw)
		return 0;
	switch (tx->pace_mode) {
	case PACE_STARTUP: return 2 * tx->bw;
	case PACE_DRAIN: return tx->bw / 2 ? tx->bw / 2 : 1;
	default: return tx->bw * cruise_gain[tx->phase] / 4;
	}
}

/* Bytes at the estimated rate over one minimum RTT (the path's own round trip). */
static uint64_t bdp_bytes(const struct nd_tx *tx)
{
	return tx->bw * tx->min_rtt / 1000000u;
}

/* Payload in flight: sent, neither acknowledged nor known lost.  Never wraps:
 * were the counts ever off, the cap would open rather than stall the sender. */
static uint64_t pipe_bytes(const struct nd_tx *tx)
{
	uint64_t span = tx->nxt - tx->una, gone = (uint64_t)tx->nsacked + tx->nlost;
	return span > gone ? (span - gone) * tx->payload : 0;
}

/* 1 when new data must wait for acknowledgements (in-flight cap reached). */
static int pace_capped(const struct nd_tx *tx)
{
	if (!pace_rate(tx) || tx->pace_mode == PACE_STARTUP)
		return 0;
	uint64_t cap = 2 * bdp_bytes(tx), floor = tx->bw * PACE_CAP_MIN_US / 1000000u;
	if (cap < floor)
		cap = floor;
	if (cap < 4u * tx->payload)
		cap = 4u * tx->payload;
	return pipe_bytes(tx) >= cap;
}

/* Earliest time (us) the pacer lets the next packet go. */
static uint64_t pace_due_us(const struct nd_tx *tx)
{
	return pace_rate(tx) ? (tx->pace_ns + 999) / 1000 : 0;
}

static void pace_sent(struct nd_tx *tx, uint64_t now, size_t bytes)
{
	uint64_t rate = pace_rate(tx), now_ns = now * 1000, start = tx->pace_ns;
	if (!rate)
		return;
	if (start + PACE_BURST_US * 1000u < now_ns)
		start = now_ns - PACE_BURST_US * 1000u;
	tx->pace_ns = start + (uint64_t)bytes * 1000000000u / rate;
}

static void pace_reset(struct nd_tx *tx)
{
	__builtin_memset(tx->bw_smp, 0, sizeof tx->bw_smp);
	tx->bw = tx->full_bw = 0;
	tx->dlv = tx->smp_t = tx->smp_dlv = 0;
	tx->pace_ns = 0;
	tx->nsacked = 0;
	tx->bw_i = 0;
	tx->pace_mode = PACE_STARTUP;
	tx->phase = 0;
	tx->full_cnt = 0;
}

/* Called once per ACK, after its deliveries were counted. */
static void pace_on_ack(struct nd_tx *tx, uint64_t now)
{
	uint64_t span = tx->min_rtt > PACE_SAMPLE_MIN_US ? tx->min_rtt : PACE_SAMPLE_MIN_US;

	if (!tx->smp_t) {
		tx->smp_t = now;
		tx->smp_dlv = tx->dlv;
		return;
	}
	if (now - tx->smp_t >= span) {
		uint64_t r = (tx->dlv - tx->smp_dlv) * 1000000u / (now - tx->smp_t), m = 0;
		tx->bw_smp[tx->bw_i] = r;
		tx->bw_i = (uint8_t)((tx->bw_i + 1) % ND_TX_BW_SAMPLES);
		for (unsigned i = 0; i < ND_TX_BW_SAMPLES; i++)
			if (tx->bw_smp[i] > m)
				m = tx->bw_smp[i];
		if (m)   /* a stalled spell keeps the last estimate */
			tx->bw = m;
		tx->smp_t = now;
		tx->smp_dlv = tx->dlv;
		if (tx->pace_mode == PACE_STARTUP && tx->bw) {
			if (tx->bw >= tx->full_bw + tx->full_bw / 4) {
				tx->full_bw = tx->bw;
				tx->full_cnt = 0;
			} else if (++tx->full_cnt >= PACE_STARTUP_ROUNDS) {
				tx->pace_mode = PACE_DRAIN;
			}
		} else if (tx->pace_mode == PACE_CRUISE) {
			tx->phase = (uint8_t)((tx->phase + 1) % sizeof cruise_gain);
		}
	}
	if (tx->pace_mode == PACE_DRAIN && pipe_bytes(tx) <= bdp_bytes(tx)) {
		tx->pace_mode = PACE_CRUISE;
		tx->phase = 2;   /* hold first: startup just probed */
	}
}

/* Reordering tolerance of loss detection: a quarter RTT within 50 us .. 1 ms. */
static uint64_t reo_us(const struct nd_tx *tx)
{
	uint64_t reo = tx->srtt / 4;
	if (reo < ND_TX_REO_MIN_US)
		reo = ND_TX_REO_MIN_US;
	if (reo > ND_TX_REO_MAX_US)
		reo = ND_TX_REO_MAX_US;
	return reo;
}

static void mark_lost(struct nd_tx *tx, uint64_t k)
{
	struct nd_tx_slot *s = slot(tx, k);
	if (!(s->flags & (F_SACKED | F_LOST))) {
		s->flags |= F_LOST;
		tx->nlost++;
		if (k < tx->lost_scan)
			tx->lost_scan = k;
	}
}

static void on_timer(struct nd_tx *tx, uint64_t now)
{
	tx->timer = 0;
	tx->st.timeouts++;
	tx->silent_rtos++;
	backoff(tx);
	/* Silence could be a restarted collector that no longer knows our cookie
	 * (it drops our packets without answer): open again.  Not too eagerly: a
	 * collector committing a large core may be quiet for a while. */
	uint64_t quiet = ND_TX_REOPEN_SILENCE_US;
	if (tx->state == ND_TX_FINISHING)
		quiet *= 5;   /* verifying and compressing a large core takes a while */
	if (tx->state != ND_TX_OPENING && tx->cfg.reopen_timeouts &&
	    tx->silent_rtos >= tx->cfg.reopen_timeouts && now > tx->last_heard &&
	    now - tx->last_heard >= quiet) {
		reopen(tx);
		return;
	}
	switch (tx->state) {
	case ND_TX_OPENING:
	case ND_TX_FINISHING:
		tx->send_now = 1;
		break;
	case ND_TX_SENDING:
		/* Retransmit the oldest packet only: its ACK carries a fresh
		 * timestamp echo that exposes every other loss at once. */
		if (tx->una < tx->nxt)
			mark_lost(tx, tx->una);
		break;
	default:
		break;
	}
}

/* ---- input ---- */

/*
 * The collector accepts data up to window x max_payload bytes beyond its
 * cumulative point (that is what it checks), so with packets smaller than its
 * maximum more of them fit: a 1024-packet window at an 8 KiB maximum holds
 * 5890 default-size packets.  Using the byte window keeps a high-delay path
 * full and leaves slack to keep sending while a hole is being repaired.
 */
static void set_window(struct nd_tx *tx, uint32_t peer_window)
{
	uint64_t w = (uint64_t)peer_window * tx->peer_payload / tx->payload;

	tx->peer_window = peer_window;
	if (w < 1)
		w = 1;
	tx->window = tx->cfg.window < w ? tx->cfg.window : (uint32_t)w;
}

static void on_open_ack(struct nd_tx *tx, uint64_t now, uint64_t cookie,
                        const struct nd_open_ack *oa)
{
	uint64_t size = tx->meta.core_size;

	heard(tx, now);
	tx->cookie = cookie;
	tx->payload = tx->cfg.payload < oa->max_payload ? tx->cfg.payload : oa->max_payload;
	tx->peer_payload = oa->max_payload;
	set_window(tx, oa->window);
	tx->base = oa->resume < size ? oa->resume : size;
	tx->npkts = (size - tx->base + tx->payload - 1) / tx->payload;
	tx->una = tx->nxt = 0;
	tx->cum = tx->base;
	tx->nlost = 0;
	tx->lost_scan = 0;
	tx->have_rack = 0;
	pace_reset(tx);
	/* A collector that does not grant wide SACK (or predates it) sends at
	 * most the base count; only an ACK at the cap may leave ranges out. */
	tx->sack_cap = (oa->flags & ND_OPEN_ACK_F_WIDE_SACK) ? ND_ACK_MAX_SACK : ND_ACK_BASE_SACK;
	tx->nheld = 0;
	for (unsigned i = 0; i < oa->nranges; i++)
		if (oa->ranges[i].start > tx->base && oa->ranges[i].end <= size)
			tx->held[tx->nheld++] = oa->ranges[i];
	tx->st.resume = tx->base;
	tx->timer = 0;
	tx->send_now = 0;
	tx->state = ND_TX_SENDING;
}

static void on_ack(struct nd_tx *tx, uint64_t now, const struct nd_ack *a)
{
	heard(tx, now);
	if (tx->state == ND_TX_FINISHING && a->cum < tx->meta.core_size) {
		/* The collector answers FINISH saying it lacks data it once
		 * acknowledged (it lost its spool tail): ask where to resume. */
		reopen(tx);
		return;
	}
	if (tx->state != ND_TX_SENDING)
		return;
	set_window(tx, a->window);

	if (a->has_echo) {
		int32_t r = ts_diff((uint32_t)now, a->tsecr);
		if (r >= 0) {
			rtt_sample(tx, (uint64_t)r);
			if (!tx->min_rtt || (uint64_t)r < tx->min_rtt ||
			    now - tx->min_rtt_t > PACE_MIN_RTT_LIFE_US) {
				tx->min_rtt = r ? (uint64_t)r : 1;
				tx->min_rtt_t = now;
			}
			if (!tx->have_rack || ts_diff(a->tsecr, tx->rack_ts) > 0)
				tx->rack_ts = a->tsecr;
			tx->have_rack = 1;
		}
	}

	/* Cumulative: free every packet wholly below cum. */
	uint64_t cum = a->cum < tx->meta.core_size ? a->cum : tx->meta.core_size;
	if (cum > tx->cum) {
		tx->cum = cum;
		while (tx->una < tx->nxt && pkt_end(tx, tx->una) <= cum) {
			struct nd_tx_slot *s = slot(tx, tx->una);
			if (s->flags & F_LOST)
				tx->nlost--;
			if (s->flags & F_SACKED)
				tx->nsacked--;
			else
				tx->dlv += pkt_end(tx, tx->una) - pkt_start(tx, tx->una);
			s->flags = 0;
			tx->una++;
		}
		/* The collector may hold more than we sent (another sender, an
		 * earlier session): skip ahead. */
		while (tx->una == tx->nxt && tx->nxt < tx->npkts && pkt_end(tx, tx->nxt) <= cum) {
			tx->una++;
			tx->nxt++;
		}
		if (tx->lost_scan < tx->una)
			tx->lost_scan = tx->una;
		tx->timer = tx->una < tx->nxt ? now + tx->rto : 0;
	}

	/* Selective: mark packets wholly inside a reported range. */
	for (unsigned i = 0; i < a->nsack; i++) {
		const struct nd_range *r = &a->sack[i];
		uint64_t k = tx->una;
		if (r->start > tx->base) {
			uint64_t first = (r->start - tx->base + tx->payload - 1) / tx->payload;
			if (first > k)
				k = first;
		}
		for (; k < tx->nxt && pkt_end(tx, k) <= r->end; k++) {
			struct nd_tx_slot *s = slot(tx, k);
			if (pkt_start(tx, k) < r->start || (s->flags & F_SACKED))
				continue;
			if (s->flags & F_LOST)
				tx->nlost--;
			s->flags = (uint8_t)((s->flags & ~F_LOST) | F_SACKED);
			tx->nsacked++;
			tx->dlv += pkt_end(tx, k) - pkt_start(tx, k);
		}
	}

	/* Time-based loss detection: a packet sent sufficiently before one the
	 * collector has received, and not itself held, was lost.  The tolerance
	 * (a quarter RTT, within 50 us .. 1 ms) absorbs mild reordering; it is
	 * capped because on a long path every extra millisecond of doubt keeps
	 * the window stuck behind the hole, while a wrong guess costs only one
	 * redundant packet.
	 *
	 * "Received" has two sources.  The echo names the latest packet that
	 * arrived, but a full ACK may leave held ranges out: it lists the range
	 * of the latest packet (often a low retransmission), then the lowest
	 * ones, so above the last of those this ACK says nothing.  There the
	 * scoreboard speaks instead: a held range starts right above a packet
	 * the collector did not hold when it reported the range, so a packet
	 * just below one that an ACK reported held, sent sufficiently before
	 * the latest packet the collector received, was lost.  Without that, only
	 * the lowest sack_cap - 1 holes could be found per round trip (7 with a
	 * collector that sends the base 8 ranges: under 1 % loss on a 20 ms path
	 * that alone caps the rate near 50 MB/s).  Only the packet at the
	 * boundary: further down, packets may have arrived in a batch whose ACK described another range
	 * (the collector acks per batch), and calling those lost would resend
	 * data the collector holds. */
	if (tx->have_rack) {
		uint64_t reo = reo_us(tx);
		uint64_t known_hi = UINT64_MAX;
		if (a->nsack >= tx->sack_cap) {
			known_hi = 0;
			for (unsigned i = 1; i < a->nsack; i++)
				if (a->sack[i].end > known_hi)
					known_hi = a->sack[i].end;
		}
		const struct nd_tx_slot *up = 0;   /* slot of packet k + 1 */
		for (uint64_t k = tx->nxt; k-- > tx->una; up = slot(tx, k)) {
			struct nd_tx_slot *s = slot(tx, k);
			if (s->flags & (F_SACKED | F_LOST))
				continue;
			if ((pkt_end(tx, k) <= known_hi ||
			     (up && (up->flags & (F_SACKED | F_HELD)) == F_SACKED)) &&
			    ts_diff(tx->rack_ts, s->sent) > (int32_t)reo)
				mark_lost(tx, k);
		}
	}
	pace_on_ack(tx, now);
}

static void on_result(struct nd_tx *tx, uint64_t now, const struct nd_result *r)
{
	heard(tx, now);
	switch (r->code) {
	case ND_RES_STORED:
		if (tx->state != ND_TX_FINISHING)
			return;   /* cannot be stored before we sent FINISH: stale */
		if (__builtin_memcmp(r->sha256, tx->digest, ND_SHA256_LEN) == 0)
			set_done(tx, ND_TX_DONE_STORED);
		else
			set_done(tx, ND_TX_DONE_MISMATCH);
		break;
	case ND_RES_DIGEST_MISMATCH:
		if (tx->state != ND_TX_FINISHING)
			return;
		set_done(tx, ND_TX_DONE_MISMATCH);
		break;
	default:
		if (r->reason == ND_R_BAD_COOKIE) {
			reopen(tx);
			return;
		}
		tx->reason = (enum nd_reason)r->reason;
		set_done(tx, ND_TX_DONE_REFUSED);
		break;
	}
	__builtin_memcpy(tx->text, r->text, sizeof tx->text);
}

enum nd_err nd_tx_input(struct nd_tx *tx, uint64_t now, const uint8_t *buf, size_t len)
{
	struct nd_msg m;
	enum nd_err e;

	if (nd_tx_done(tx))
		return ND_E_STATE;
	e = nd_decode(buf, len, &m);
	if (e) {
		tx->st.ignored++;
		return e;
	}
	switch (m.type) {
	case ND_T_OPEN_ACK:
		if (tx->state != ND_TX_OPENING || m.u.open_ack.nonce != tx->nonce) {
			tx->st.ignored++;
			return ND_E_STATE;
		}
		on_open_ack(tx, now, m.cookie, &m.u.open_ack);
		return ND_OK;
	case ND_T_REFUSE:
		if (tx->state != ND_TX_OPENING || m.u.refuse.nonce != tx->nonce) {
			tx->st.ignored++;
			return ND_E_STATE;
		}
		heard(tx, now);
		tx->reason = (enum nd_reason)m.u.refuse.reason;
		__builtin_memcpy(tx->text, m.u.refuse.text, sizeof tx->text);
		set_done(tx, ND_TX_DONE_REFUSED);
		return ND_OK;
	case ND_T_ACK:
	case ND_T_RESULT:
		if (tx->state == ND_TX_OPENING || m.cookie != tx->cookie) {
			tx->st.ignored++;
			return ND_E_COOKIE;
		}
		if (m.type == ND_T_ACK)
			on_ack(tx, now, &m.u.ack);
		else
			on_result(tx, now, &m.u.result);
		return ND_OK;
	default:
		tx->st.ignored++;   /* OPEN, DATA, FINISH flow the other way */
		return ND_E_STATE;
	}
}

/* ---- output ---- */

/*
 * The digest covers the core in offset order.  Bytes the collector already
 * held when we (re)opened are never sent, so they are read and hashed here; at
 * most ND_TX_HASH_CHUNK per poll so one poll never stalls for long.  Returns 1
 * when hashed has reached upto, 0 if more polls are needed, -1 on read error.
 */
static int hash_gap(struct nd_tx *tx, uint64_t upto, uint8_t *scratch, size_t cap)
{
	uint64_t budget = ND_TX_HASH_CHUNK;

	while (tx->hashed < upto) {
		if (!budget)
			return 0;
		uint64_t n = upto - tx->hashed;
		if (n > cap)
			n = cap;
		if (n > budget)
			n = budget;
		if (tx->read(tx->ctx, tx->hashed, scratch, (size_t)n) < 0)
			return -1;
		nd_sha256_update(&tx->sha, scratch, (size_t)n);
		tx->hashed += n;
		budget -= n;
	}
	return 1;
}

static int held(const struct nd_tx *tx, uint64_t s, uint64_t e)
{
	for (unsigned i = 0; i < tx->nheld; i++)
		if (tx->held[i].start <= s && e <= tx->held[i].end)
			return 1;
	return 0;
}

/* Build DATA for packet k in out; hash it if it extends the hashed prefix. */
static size_t emit_data(struct nd_tx *tx, uint64_t now, uint64_t k, uint8_t *out, size_t cap)
{
	uint64_t s = pkt_start(tx, k), e = pkt_end(tx, k);
	uint16_t n = (uint16_t)(e - s);
	uint8_t *pl = out + ND_DATA_HDR_LEN;

	if (tx->read(tx->ctx, s, pl, n) < 0) {
		fail(tx, ND_TX_FAIL_READ);
		return 0;
	}
	if (s <= tx->hashed && tx->hashed < e) {
		nd_sha256_update(&tx->sha, pl + (tx->hashed - s), (size_t)(e - tx->hashed));
		tx->hashed = e;
	}
	nd_encode_data_hdr(out, tx->cookie, s, (uint32_t)now, n);
	struct nd_tx_slot *sl = slot(tx, k);
	sl->sent = (uint32_t)now;
	tx->st.packets_sent++;
	tx->st.bytes_sent += n;
	pace_sent(tx, now, n);   /* payload bytes, as the rate is measured */
	if (!tx->timer)
		tx->timer = now + tx->rto;
	(void)cap;
	return ND_DATA_HDR_LEN + (size_t)n;
}

static size_t poll_sending(struct nd_tx *tx, uint64_t now, uint8_t *out, size_t cap)
{
	if (cap < ND_DATA_HDR_LEN + (size_t)tx->payload) {
		fail(tx, ND_TX_FAIL_BUFFER);
		return 0;
	}
	/* No DATA leaves before the pacer's departure time; repairs go first. */
	int held_back = now < pace_due_us(tx);
	/* 1. Retransmit the lowest packet known lost. */
	if (tx->nlost && !held_back) {
		uint64_t k = tx->lost_scan < tx->una ? tx->una : tx->lost_scan;
		for (; k < tx->nxt; k++) {
			struct nd_tx_slot *s = slot(tx, k);
			if (s->flags & F_LOST) {
				s->flags = (uint8_t)((s->flags & ~F_LOST) | F_RETX);
				tx->nlost--;
				tx->lost_scan = k + 1;
				tx->st.retransmits++;
				return emit_data(tx, now, k, out, cap);
			}
		}
		tx->nlost = 0;   /* unreachable if the count is right; resynchronise */
	}
	/* 2. New data while the window (and the pacer's in-flight cap) allows. */
	while (!held_back && tx->nxt < tx->npkts && tx->nxt - tx->una < tx->window &&
	       !pace_capped(tx)) {
		uint64_t k = tx->nxt;
		uint64_t s = pkt_start(tx, k), e = pkt_end(tx, k);
		struct nd_tx_slot *sl = slot(tx, k);
		if (held(tx, s, e)) {
			sl->flags = F_SACKED | F_HELD;
			sl->sent = (uint32_t)now;
			tx->nsacked++;
			tx->nxt++;
			continue;
		}
		int h = hash_gap(tx, s, out, cap);
		if (h < 0) {
			fail(tx, ND_TX_FAIL_READ);
			return 0;
		}
		if (h == 0)
			return 0;
		sl->flags = 0;
		tx->nxt++;
		return emit_data(tx, now, k, out, cap);
	}
	/* 3. Everything acknowledged: complete the digest, then FINISH. */
	if (tx->una >= tx->npkts) {
		if (!tx->digest_done) {
			int h = hash_gap(tx, tx->meta.core_size, out, cap);
			if (h < 0) {
				fail(tx, ND_TX_FAIL_READ);
				return 0;
			}
			if (h == 0)
				return 0;
			nd_sha256_final(&tx->sha, tx->digest);
			tx->digest_done = 1;
		}
		tx->state = ND_TX_FINISHING;
		tx->send_now = 1;
		tx->timer = 0;
	}
	return 0;
}

static size_t encode_or_fail(struct nd_tx *tx, const struct nd_msg *m, uint8_t *out, size_t cap)
{
	size_t len = 0;
	if (nd_encode(m, out, cap, &len) != ND_OK) {
		fail(tx, ND_TX_FAIL_BUFFER);
		return 0;
	}
	return len;
}

size_t nd_tx_poll(struct nd_tx *tx, uint64_t now, uint8_t *out, size_t cap)
{
	struct nd_msg m;
	size_t len;

	if (nd_tx_done(tx))
		return 0;
	if (tx->last_heard == NOT_STARTED)
		tx->last_heard = now;
	/* A caller may poll with a timestamp taken before its latest input:
	 * never let that wrap into a huge silence. */
	if (now > tx->last_heard && now - tx->last_heard >= tx->cfg.give_up_us) {
		fail(tx, ND_TX_FAIL_TIMEOUT);
		return 0;
	}
	if (tx->timer && now >= tx->timer)
		on_timer(tx, now);

	if (tx->state == ND_TX_SENDING) {
		len = poll_sending(tx, now, out, cap);
		if (len || tx->state != ND_TX_FINISHING)
			return len;
	}
	if (!tx->send_now)
		return 0;
	if (tx->state == ND_TX_OPENING) {
		m.type = ND_T_OPEN;
		m.cookie = 0;
		m.u.open.nonce = tx->nonce;
		m.u.open.window = tx->cfg.window;
		m.u.open.max_payload = (uint16_t)tx->cfg.payload;
		m.u.open.flags = ND_OPEN_F_WIDE_SACK;
		m.u.open.meta = tx->meta;
		tx->st.opens++;
	} else if (tx->state == ND_TX_FINISHING) {
		m.type = ND_T_FINISH;
		m.cookie = tx->cookie;
		m.u.finish.size = tx->meta.core_size;
		__builtin_memcpy(m.u.finish.sha256, tx->digest, ND_SHA256_LEN);
		tx->st.finishes++;
	} else {
		return 0;
	}
	len = encode_or_fail(tx, &m, out, cap);
	if (len) {
		tx->send_now = 0;
		tx->timer = now + tx->rto;
	}
	return len;
}

uint64_t nd_tx_timeout(const struct nd_tx *tx, uint64_t now)
{
	if (nd_tx_done(tx))
		return UINT64_MAX;
	if (tx->last_heard == NOT_STARTED || tx->send_now)
		return now;
	if (tx->state == ND_TX_SENDING && tx->una >= tx->npkts)
		return now;
	if (tx->state == ND_TX_SENDING &&
	    (tx->nlost || (tx->nxt < tx->npkts && tx->nxt - tx->una < tx->window &&
	                   !pace_capped(tx)))) {
		uint64_t due = pace_due_us(tx);
		return due > now ? due : now;
	}
	uint64_t t = tx->last_heard + tx->cfg.give_up_us;
	if (tx->timer && tx->timer < t)
		t = tx->timer;

	return t < now ? now : t;
}

enum nd_tx_state nd_tx_state(const struct nd_tx *tx)
{
	return tx->state;
}

int nd_tx_done(const struct nd_tx *tx)
{
	return tx->state >= ND_TX_DONE_STORED;
}

enum nd_reason nd_tx_reason(const struct nd_tx *tx)
{
	return tx->state == ND_TX_DONE_REFUSED ? tx->reason : ND_R_NONE;
}

const char *nd_tx_text(const struct nd_tx *tx)
{
	return tx->text;
}

enum nd_tx_failure nd_tx_failure(const struct nd_tx *tx)
{
	return tx->failure;
}

const uint8_t *nd_tx_digest(const struct nd_tx *tx)
{
	return tx->digest_done ? tx->digest : 0;
}

void nd_tx_stats(const struct nd_tx *tx, struct nd_tx_stats *st)
{
	*st = tx->st;
	st->acked = tx->cum;
	st->srtt_us = tx->srtt;
	st->rttvar_us = tx->rttvar;
	st->rto_us = tx->rto;
	st->window = tx->window;
	st->payload = tx->payload;
	st->bw_Bps = tx->bw;
	st->pace_Bps = pace_rate(tx);
	st->min_rtt_us = tx->min_rtt;
}
