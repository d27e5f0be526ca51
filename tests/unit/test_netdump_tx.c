/* tests/unit/test_netdump_tx.c: sender state machine, and sender<->receiver over a simulated lossy link. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "netdump/netdump.h"
#include "netdump/rx.h"
#include "netdump/sha256.h"
#include "netdump/tx.h"

/* ---- the core: deterministic pseudo-random bytes, read at any offset ---- */

static uint8_t *core;
static uint64_t core_size;
static int read_fail_at = -1;   /* fail the n-th read (-1: never) */
static int reads;
static uint64_t read_bytes;

static int core_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	(void)ctx;
	if (read_fail_at >= 0 && reads == read_fail_at)
		return -1;
	reads++;
	read_bytes += len;
	if (off > core_size || len > core_size - off)
		return -1;
	memcpy(buf, core + off, len);
	return 0;
}

static void make_core(uint64_t size, uint32_t seed)
{
	free(core);
	core = malloc(size ? size : 1);
	core_size = size;
	uint32_t x = seed | 1;
	for (uint64_t i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		core[i] = (uint8_t)x;
	}
	read_fail_at = -1;
	reads = 0;
	read_bytes = 0;
}

static void meta_for(struct nd_meta *m, uint32_t seq)
{
	memset(m, 0, sizeof *m);
	strcpy(m->device, "sim-device");
	memset(m->boot_id, 0x5a, sizeof m->boot_id);
	m->seq = seq;
	m->core_size = core_size;
	m->machine = 243;
	strcpy(m->exe, "crasher");
}

/* ---- a link: delay, loss, duplication, reordering, a rate and a queue ---- */

struct pkt {
	uint64_t at;
	uint64_t order;
	size_t len;
	uint8_t *data;
};

struct link {
	struct pkt *heap;
	size_t n, cap;
	uint64_t order;
	uint64_t delay_us, jitter_us;   /* jitter > 0 reorders */
	double loss, dup;
	uint64_t ns_per_byte;           /* serialisation (0: infinitely fast) */
	uint64_t busy_until;            /* serialisation, in ns */
	size_t queue_max;               /* drop-tail beyond this many packets */
	uint64_t sent, dropped;
	uint64_t qwait_sum_ns, qwait_max_ns, qwait_n; /* wait for the serialiser ... */
	uint64_t qwait_from_us;                       /* ... of packets sent from then on */
};

static uint64_t rng = 88172645463325252ULL;
static double frand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static int before(const struct pkt *a, const struct pkt *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void heap_push(struct link *l, struct pkt p)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->heap = realloc(l->heap, l->cap * sizeof *l->heap);
	}
	size_t i = l->n++;
	l->heap[i] = p;
	while (i) {
		size_t up = (i - 1) / 2;
		if (!before(&l->heap[i], &l->heap[up]))
			break;
		struct pkt t = l->heap[i];
		l->heap[i] = l->heap[up];
		l->heap[up] = t;
		i = up;
	}
}

static struct pkt heap_pop(struct link *l)
{
	struct pkt top = l->heap[0];
	l->heap[0] = l->heap[--l->n];
	size_t i = 0;
	for (;;) {
		size_t a = 2 * i + 1, b = a + 1, m = i;
		if (a < l->n && before(&l->heap[a], &l->heap[m]))
			m = a;
		if (b < l->n && before(&l->heap[b], &l->heap[m]))
			m = b;
		if (m == i)
			break;
		struct pkt t = l->heap[i];
		l->heap[i] = l->heap[m];
		l->heap[m] = t;
		i = m;
	}
	return top;
}

static void link_send(struct link *l, uint64_t now, const uint8_t *d, size_t len)
{
	l->sent++;
	if (l->queue_max && l->n >= l->queue_max) {
		l->dropped++;
		return;
	}
	if (frand() < l->loss) {
		l->dropped++;
		return;
	}
	int copies = frand() < l->dup ? 2 : 1;
	uint64_t t = now;
	if (l->ns_per_byte) {
		uint64_t start = l->busy_until > now * 1000 ? l->busy_until : now * 1000;
		uint64_t w = start - now * 1000;
		if (now >= l->qwait_from_us) {
			l->qwait_sum_ns += w;
			l->qwait_n++;
			if (w > l->qwait_max_ns)
				l->qwait_max_ns = w;
		}
		l->busy_until = start + len * l->ns_per_byte;
		t = l->busy_until / 1000;
	}
	for (int c = 0; c < copies; c++) {
		struct pkt p;
		p.at = t + l->delay_us + (l->jitter_us ? (uint64_t)(frand() * (double)l->jitter_us) : 0);
		p.order = l->order++;
		p.len = len;
		p.data = malloc(len);
		memcpy(p.data, d, len);
		heap_push(l, p);
	}
}

static uint64_t link_next(const struct link *l)
{
	return l->n ? l->heap[0].at : UINT64_MAX;
}

static void link_free(struct link *l)
{
	while (l->n)
		free(heap_pop(l).data);
	free(l->heap);
	memset(l, 0, sizeof *l);
}

/* ---- a minimal collector built on nd_rx, with a memory spool ---- */

struct coll {
	uint8_t secret[32];
	int have_session;
	uint64_t cookie;
	struct nd_meta meta;
	struct nd_rx rx;
	uint8_t *spool;
	uint32_t window, max_payload;
	int finished;          /* result computed */
	struct nd_result result;
	int refuse;            /* answer OPEN with REFUSE(refuse) */
	int drop_finishes;     /* ignore this many FINISH messages */
	int corrupt;           /* flip a spool byte before verifying */
	int silent;            /* answer nothing at all */
	int narrow;            /* a collector predating wide SACK: ignores OPEN flags */
	uint64_t opens, data_in, data_new, finishes, bad_cookie;
	int max_inflight_seen; /* for stop-and-wait: DATA beyond cum+payload */
	uint64_t acks_pending;
};

static void coll_init(struct coll *c, uint32_t window, uint32_t max_payload, uint8_t secret_byte)
{
	memset(c, 0, sizeof *c);
	memset(c->secret, secret_byte, sizeof c->secret);
	c->window = window;
	c->max_payload = max_payload;
}

static void coll_send(struct link *back, uint64_t now, const struct nd_msg *m)
{
	static uint8_t out[ND_MSG_MAX];
	size_t len;
	assert_int_equal(nd_encode(m, out, sizeof out, &len), ND_OK);
	link_send(back, now, out, len);
}

static void coll_input(struct coll *c, struct link *back, uint64_t now, const uint8_t *d, size_t len)
{
	static struct nd_msg m, r;
	if (c->silent)
		return;
	assert_int_equal(nd_decode(d, len, &m), ND_OK);   /* the sender only sends valid messages */
	switch (m.type) {
	case ND_T_OPEN:
		c->opens++;
		memset(&r, 0, sizeof r);
		if (c->refuse) {
			r.type = ND_T_REFUSE;
			r.u.refuse.nonce = m.u.open.nonce;
			r.u.refuse.reason = (uint8_t)c->refuse;
			strcpy(r.u.refuse.text, "store /var/lib/corecast over MaxUse");
			coll_send(back, now, &r);
			return;
		}
		if (!c->have_session) {
			c->meta = m.u.open.meta;
			nd_rx_init(&c->rx, c->meta.core_size, c->window, c->max_payload);
			c->spool = calloc(1, c->meta.core_size + 1);
			c->have_session = 1;
		}
		c->cookie = nd_cookie(c->secret, sizeof c->secret, c->meta.device, c->meta.boot_id,
		                      c->meta.seq, "sender", 6);
		r.type = ND_T_OPEN_ACK;
		r.cookie = c->cookie;
		nd_rx_set_open_flags(&c->rx, c->narrow ? 0 : m.u.open.flags);
		nd_rx_open_ack(&c->rx, &r.u.open_ack);
		r.u.open_ack.nonce = m.u.open.nonce;
		coll_send(back, now, &r);
		return;
	case ND_T_DATA: {
		if (!c->have_session || m.cookie != c->cookie) {
			c->bad_cookie++;
			return;
		}
		c->data_in++;
		uint64_t before_cum = nd_rx_contiguous(&c->rx);
		if (m.u.data.offset > before_cum + c->max_payload)
			c->max_inflight_seen = 2;
		if (nd_rx_data(&c->rx, m.u.data.offset, m.u.data.len, m.u.data.tsval) == ND_RX_NEW) {
			memcpy(c->spool + m.u.data.offset, m.u.data.payload, m.u.data.len);
			c->data_new++;
		}
		c->acks_pending++;
		return;
	}
	case ND_T_FINISH:
		if (!c->have_session || m.cookie != c->cookie) {
			c->bad_cookie++;
			return;
		}
		c->finishes++;
		if (c->drop_finishes > 0) {
			c->drop_finishes--;
			return;
		}
		if (!nd_rx_complete(&c->rx)) {
			c->acks_pending++;
			return;
		}
		if (!c->finished) {
			if (c->corrupt && c->meta.core_size)
				c->spool[c->meta.core_size / 2] ^= 0x40;
			memset(&c->result, 0, sizeof c->result);
			nd_sha256(c->spool, c->meta.core_size, c->result.sha256);
			c->result.code = memcmp(c->result.sha256, m.u.finish.sha256, 32) ?
			                 ND_RES_DIGEST_MISMATCH : ND_RES_STORED;
			c->finished = 1;
		}
		memset(&r, 0, sizeof r);
		r.type = ND_T_RESULT;
		r.cookie = c->cookie;
		r.u.result = c->result;
		coll_send(back, now, &r);
		return;
	default:
		fail_msg("collector got message type %d", m.type);
	}
}

/* One ACK per batch: sent when nothing more is about to arrive this instant. */
static void coll_flush_acks(struct coll *c, struct link *back, uint64_t now)
{
	static uint8_t out[ND_HDR_LEN + 18 + 16 * ND_ACK_MAX_SACK];
	size_t len;
	if (!c->acks_pending)
		return;
	c->acks_pending = 0;
	assert_int_equal(nd_rx_build_ack(&c->rx, c->cookie, out, sizeof out, &len), ND_OK);
	link_send(back, now, out, len);
}

/* ---- the simulation loop ---- */

struct sim {
	struct nd_tx tx;
	struct coll coll;
	struct link up, down;        /* up: sender -> collector */
	uint64_t now;
	uint64_t max_inflight;       /* sender's nxt - una high-water mark */
	int stream;                  /* carry messages framed in a byte stream */
	struct nd_stream rs_up, rs_down;
	uint8_t rbuf_up[ND_MSG_MAX], rbuf_down[ND_MSG_MAX];
	uint64_t stream_msgs;
};

static struct sim S;
static uint8_t pbuf[ND_MSG_MAX];

typedef void (*deliver_fn)(struct sim *s, const uint8_t *d, size_t len);

static void to_coll(struct sim *s, const uint8_t *d, size_t len)
{
	coll_input(&s->coll, &s->down, s->now, d, len);
}

static void to_tx(struct sim *s, const uint8_t *d, size_t len)
{
	nd_tx_input(&s->tx, s->now, d, len);
}

/* Stream mode: frame the message and feed the bytes to a reassembler in
 * uneven chunks, as a TLS record layer or TCP would cut them. */
static void deliver(struct sim *s, struct nd_stream *rs, const uint8_t *d, size_t len,
                    deliver_fn fn)
{
	static uint8_t fr[ND_FRAME_HDR_LEN + ND_MSG_MAX];
	if (!s->stream) {
		fn(s, d, len);
		return;
	}
	assert_int_equal(nd_frame_put(fr, len), ND_OK);
	memcpy(fr + ND_FRAME_HDR_LEN, d, len);
	size_t total = ND_FRAME_HDR_LEN + len, off = 0;
	while (off < total) {
		size_t chunk = 1 + (size_t)(frand() * 700);
		if (chunk > total - off)
			chunk = total - off;
		while (chunk) {
			size_t used, ml;
			const uint8_t *msg;
			assert_int_equal(nd_stream_push(rs, fr + off, chunk, &used, &msg, &ml), ND_OK);
			off += used;
			chunk -= used;
			if (msg) {
				s->stream_msgs++;
				fn(s, msg, ml);
			}
		}
	}
}

/* Run until the sender is done or the virtual clock passes limit_us. */
static void sim_run(struct sim *s, uint64_t limit_us, uint32_t ack_every)
{
	uint64_t since_ack = 0;
	while (!nd_tx_done(&s->tx) && s->now < limit_us) {
		size_t n;
		while ((n = nd_tx_poll(&s->tx, s->now, pbuf, sizeof pbuf)) != 0) {
			link_send(&s->up, s->now, pbuf, n);
			uint64_t inflight = s->tx.nxt - s->tx.una;
			if (inflight > s->max_inflight)
				s->max_inflight = inflight;
		}
		uint64_t t = nd_tx_timeout(&s->tx, s->now);
		if (link_next(&s->up) < t)
			t = link_next(&s->up);
		if (link_next(&s->down) < t)
			t = link_next(&s->down);
		if (t == UINT64_MAX)
			break;
		if (t > s->now)
			s->now = t;
		while (link_next(&s->up) <= s->now) {
			struct pkt p = heap_pop(&s->up);
			deliver(s, &s->rs_up, p.data, p.len, to_coll);
			free(p.data);
			if (++since_ack >= ack_every || link_next(&s->up) > s->now) {
				coll_flush_acks(&s->coll, &s->down, s->now);
				since_ack = 0;
			}
		}
		while (link_next(&s->down) <= s->now) {
			struct pkt p = heap_pop(&s->down);
			deliver(s, &s->rs_down, p.data, p.len, to_tx);
			free(p.data);
		}
	}
}

static void sim_setup(struct sim *s, uint64_t size, uint32_t window, uint32_t payload,
                      uint32_t seed)
{
	struct nd_tx_cfg cfg;
	struct nd_meta m;

	link_free(&s->up);
	link_free(&s->down);
	free(s->coll.spool);
	memset(s, 0, sizeof *s);
	rng = 88172645463325252ULL ^ ((uint64_t)seed * 0x9e3779b97f4a7c15ULL);
	make_core(size, seed);
	meta_for(&m, seed);
	nd_tx_cfg_default(&cfg);
	cfg.window = window;
	cfg.payload = payload;
	cfg.nonce = 1000 + seed;
	assert_int_equal(nd_tx_init(&s->tx, &cfg, &m, core_read, NULL), ND_OK);
	coll_init(&s->coll, ND_RX_DEFAULT_WINDOW, ND_DEFAULT_PAYLOAD, 1);
	s->up.delay_us = s->down.delay_us = 500;     /* 1 ms RTT */
	s->up.ns_per_byte = 10;                      /* 100 MB/s */
}

static void print_stats(const char *what, struct sim *s)
{
	struct nd_tx_stats st;
	nd_tx_stats(&s->tx, &st);
	printf("   %s: %llu bytes in %.1f ms virtual, %llu packets, %llu retransmits, "
	       "%llu timeouts, %llu opens, srtt %llu us\n", what,
	       (unsigned long long)core_size, s->now / 1000.0,
	       (unsigned long long)st.packets_sent, (unsigned long long)st.retransmits,
	       (unsigned long long)st.timeouts, (unsigned long long)st.opens,
	       (unsigned long long)st.srtt_us);
}

static void assert_stored_identical(struct sim *s)
{
	uint8_t want[32];
	assert_int_equal(nd_tx_state(&s->tx), ND_TX_DONE_STORED);
	nd_sha256(core, core_size, want);
	assert_non_null(nd_tx_digest(&s->tx));
	assert_memory_equal(nd_tx_digest(&s->tx), want, 32);
	assert_memory_equal(s->coll.spool, core, core_size);
	assert_memory_equal(s->coll.result.sha256, want, 32);
}

static void test_clean_link_delivers_byte_identical(void **state)
{
	(void)state;
	sim_setup(&S, 3 << 20, ND_TX_DEFAULT_WINDOW, ND_DEFAULT_PAYLOAD, 1);
	sim_run(&S, 60000000, 64);
	print_stats("clean", &S);
	assert_stored_identical(&S);
	struct nd_tx_stats st;
	nd_tx_stats(&S.tx, &st);
	assert_int_equal(st.retransmits, 0);
	assert_int_equal(st.opens, 1);
	assert_int_equal(st.finishes, 1);
	assert_true(st.acked == core_size);
	/* 3 MiB at 100 MB/s is ~31 ms; the window must keep the link busy. */
	assert_true(S.now < 60000);
	/* RTT: the 1 ms base plus at most a full window queued on the 100 MB/s link */
	assert_true(st.srtt_us >= 1000 &&
	            st.srtt_us < 1000 + (uint64_t)ND_RX_DEFAULT_WINDOW * 1450 * 10 / 1000 + 1000);
}

/* 5% loss, 5% duplication and reordering in both directions, several seeds. */
static void test_lossy_reordering_link_delivers_byte_identical(void **state)
{
	(void)state;
	for (uint32_t seed = 1; seed <= 6; seed++) {
		sim_setup(&S, (1 << 20) + seed * 777, ND_TX_DEFAULT_WINDOW, ND_DEFAULT_PAYLOAD, seed);
		S.up.loss = S.down.loss = 0.05;
		S.up.dup = S.down.dup = 0.05;
		S.up.jitter_us = S.down.jitter_us = 300;
		sim_run(&S, 120000000, 16);
		print_stats("lossy", &S);
		assert_stored_identical(&S);
		struct nd_tx_stats st;
		nd_tx_stats(&S.tx, &st);
		assert_true(st.retransmits > 0);
		/* Retransmissions stay proportionate to the loss. */
		assert_true(st.bytes_sent < core_size * 13 / 10);
	}
}

/* Odd payloads and sizes: last packet short, core smaller than one packet, empty core. */
static void test_sizes_and_payloads(void **state)
{
	static const uint64_t sizes[] = { 0, 1, 63, 64, 65, 1423, 1424, 1425, 100000 };
	static const uint32_t payloads[] = { ND_PAYLOAD_MIN, 1000, ND_DEFAULT_PAYLOAD };
	(void)state;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		for (size_t j = 0; j < 3; j++) {
			sim_setup(&S, sizes[i], 64, payloads[j], (uint32_t)(i * 3 + j + 1));
			S.up.loss = 0.02;
			sim_run(&S, 60000000, 8);
			assert_stored_identical(&S);
		}
}

/* Window 1 never has two packets in flight and takes one RTT per packet. */
static void test_window_one_is_stop_and_wait(void **state)
{
	(void)state;
	sim_setup(&S, 200 * ND_DEFAULT_PAYLOAD, 1, ND_DEFAULT_PAYLOAD, 3);
	sim_run(&S, 60000000, 64);
	assert_stored_identical(&S);
	assert_int_equal(S.max_inflight, 1);
	assert_int_equal(S.coll.max_inflight_seen, 0);
	/* 200 packets x ~1 ms RTT */
	assert_true(S.now >= 200 * 1000);
	assert_true(S.now < 200 * 1300);
	/* and still correct under loss */
	sim_setup(&S, 50 * ND_DEFAULT_PAYLOAD, 1, ND_DEFAULT_PAYLOAD, 4);
	S.up.loss = S.down.loss = 0.1;
	sim_run(&S, 60000000, 64);
	assert_stored_identical(&S);
	assert_int_equal(S.max_inflight, 1);
}

/* The sender uses min(own window, collector's window). */
static void test_window_is_min_of_both_sides(void **state)
{
	(void)state;
	sim_setup(&S, 1 << 20, 512, ND_DEFAULT_PAYLOAD, 5);
	S.coll.window = 16;
	sim_run(&S, 60000000, 64);
	assert_stored_identical(&S);
	assert_int_equal(S.max_inflight, 16);
	sim_setup(&S, 1 << 20, 8, ND_DEFAULT_PAYLOAD, 5);
	sim_run(&S, 60000000, 64);
	assert_int_equal(S.max_inflight, 8);
	/* and the smaller payload of the two */
	sim_setup(&S, 1 << 18, 64, 4000, 6);
	S.coll.max_payload = 1000;
	sim_run(&S, 60000000, 64);
	assert_stored_identical(&S);
	struct nd_tx_stats st;
	nd_tx_stats(&S.tx, &st);
	assert_int_equal(st.payload, 1000);
}

static void test_finish_retried_until_result(void **state)
{
	(void)state;
	sim_setup(&S, 100000, 64, ND_DEFAULT_PAYLOAD, 7);
	S.coll.drop_finishes = 3;
	sim_run(&S, 60000000, 64);
	assert_stored_identical(&S);
	struct nd_tx_stats st;
	nd_tx_stats(&S.tx, &st);
	assert_int_equal(st.finishes, 4);
	/* RESULT lost on the way back: FINISH again, the same RESULT again */
	sim_setup(&S, 100000, 64, ND_DEFAULT_PAYLOAD, 8);
	S.down.loss = 0.5;
	sim_run(&S, 60000000, 64);
	assert_stored_identical(&S);
}

static void test_refusal_surfaces_reason(void **state)
{
	(void)state;
	sim_setup(&S, 100000, 64, ND_DEFAULT_PAYLOAD, 9);
	S.coll.refuse = ND_R_QUOTA;
	sim_run(&S, 60000000, 64);
	assert_int_equal(nd_tx_state(&S.tx), ND_TX_DONE_REFUSED);
	assert_int_equal(nd_tx_reason(&S.tx), ND_R_QUOTA);
	assert_string_equal(nd_tx_text(&S.tx), "store /var/lib/corecast over MaxUse");
	assert_string_equal(nd_reason_str(nd_tx_reason(&S.tx)), "store over quota or disk full");
	assert_int_equal(S.coll.data_in, 0);
}

static void test_digest_mismatch_reported(void **state)
{
	(void)state;
	sim_setup(&S, 100000, 64, ND_DEFAULT_PAYLOAD, 10);
	S.coll.corrupt = 1;
	sim_run(&S, 60000000, 64);
	assert_int_equal(nd_tx_state(&S.tx), ND_TX_DONE_MISMATCH);
}

static void test_silent_collector_times_out(void **state)
{
	(void)state;
	sim_setup(&S, 100000, 64, ND_DEFAULT_PAYLOAD, 11);
	S.coll.silent = 1;
	S.tx.cfg.give_up_us = 5000000;
	sim_run(&S, 60000000, 64);
	assert_int_equal(nd_tx_state(&S.tx), ND_TX_FAILED);
	assert_int_equal(nd_tx_failure(&S.tx), ND_TX_FAIL_TIMEOUT);
	assert_true(S.now >= 5000000 && S.now < 5200000);
	struct nd_tx_stats st;
	nd_tx_stats(&S.tx, &st);
	/* OPEN retried with backoff capped at 1 s: a handful, not thousands */
	assert_true(st.opens >= 4 && st.opens <= 10);
}

static void test_read_error_fails_transfer(void **state)
{
	(void)state;
	sim_setup(&S, 100000, 64, ND_DEFAULT_PAYLOAD, 12);
	read_fail_at = 10;
	sim_run(&S, 60000000, 64);
	assert_int_equal(nd_tx_state(&S.tx), ND_TX_FAILED);
	assert_int_equal(nd_tx_failure(&S.tx), ND_TX_FAIL_READ);
}

/* The collector restarts mid-transfer: new secret (old cookie now invalid and
 * silently dropped), session restored from the spool's contiguous prefix.  The
 * sender notices the silence, reopens, resumes and the digest still covers the
 * whole core. */
static void test_resume_after_collector_restart(void **state)
{
	(void)state;
	sim_setup(&S, 2 << 20, 256, ND_DEFAULT_PAYLOAD, 13);
	S.up.loss = S.down.loss = 0.01;
	sim_run(&S, 8000, 16);
	assert_int_equal(nd_tx_state(&S.tx), ND_TX_SENDING);
	uint64_t held = nd_rx_contiguous(&S.coll.rx);
	assert_true(held > 0 && held < core_size);

	/* "restart": keep only the spool and its contiguous prefix */
	uint8_t *spool = S.coll.spool;
	struct nd_meta meta = S.coll.meta;
	coll_init(&S.coll, ND_RX_DEFAULT_WINDOW, ND_DEFAULT_PAYLOAD, 2);
	S.coll.spool = spool;
	S.coll.meta = meta;
	S.coll.have_session = 1;
	nd_rx_init(&S.coll.rx, meta.core_size, S.coll.window, S.coll.max_payload);
	nd_rx_restore(&S.coll.rx, held);
	S.coll.cookie = 0;   /* packets with the old cookie are dropped, unanswered */
	memset(spool + held, 0, core_size - held);

	sim_run(&S, 60000000, 16);
	print_stats("restart", &S);
	assert_stored_identical(&S);
	struct nd_tx_stats st;
	nd_tx_stats(&S.tx, &st);
	assert_int_equal(st.opens, 2);
	assert_true(st.resume == held);
	assert_true(S.coll.bad_cookie > 0);
}

/* A fresh sender (e.g. after a device reboot of the sender process) opening a
 * dump the collector partly holds sends only the rest, yet hashes everything. */
static void test_new_sender_resumes_from_collector_state(void **state)
{
	(void)state;
	sim_setup(&S, 1 << 20, 128, ND_DEFAULT_PAYLOAD, 14);
	sim_run(&S, 3000, 16);
	uint64_t held = nd_rx_contiguous(&S.coll.rx);
	assert_true(held > 0 && held < core_size);

	struct nd_tx_cfg cfg;
	struct nd_meta m;
	nd_tx_cfg_default(&cfg);
	cfg.window = 128;
	cfg.nonce = 4242;
	meta_for(&m, 14);
	assert_int_equal(nd_tx_init(&S.tx, &cfg, &m, core_read, NULL), ND_OK);
	link_free(&S.up);
	link_free(&S.down);
	S.up.delay_us = S.down.delay_us = 500;
	sim_run(&S, 60000000, 16);
	assert_stored_identical(&S);
	struct nd_tx_stats st;
	nd_tx_stats(&S.tx, &st);
	assert_true(st.resume >= held);
	assert_true(st.bytes_sent <= core_size - st.resume + ND_DEFAULT_PAYLOAD);
}

/* A resume point several MiB in: the prefix is read and hashed a chunk per poll
 * (no single poll stalls on it), nothing below it is sent, the digest is whole. */
static void test_large_resume_prefix_hashed_in_chunks(void **state)
{
	(void)state;
	sim_setup(&S, 5 << 20, 256, ND_DEFAULT_PAYLOAD, 20);
	uint64_t held = (7u << 20) / 2;   /* 3.5 MiB */
	nd_rx_init(&S.coll.rx, core_size, S.coll.window, S.coll.max_payload);
	nd_rx_restore(&S.coll.rx, held);
	S.coll.spool = calloc(1, core_size);
	memcpy(S.coll.spool, core, held);
	S.coll.have_session = 1;
	meta_for(&S.coll.meta, 20);
	/* by hand first: OPEN, OPEN_ACK(resume), then a poll hashes one chunk only */
	size_t n = nd_tx_poll(&S.tx, 0, pbuf, sizeof pbuf);
	assert_true(n > 0);
	coll_input(&S.coll, &S.down, 0, pbuf, n);
	struct pkt p = heap_pop(&S.down);
	assert_int_equal(nd_tx_input(&S.tx, 100, p.data, p.len), ND_OK);
	free(p.data);
	assert_int_equal(nd_tx_poll(&S.tx, 200, pbuf, sizeof pbuf), 0);
	assert_true(read_bytes == ND_TX_HASH_CHUNK);
	assert_true(nd_tx_timeout(&S.tx, 200) == 200);
	S.now = 200;
	sim_run(&S, 60000000, 16);
	assert_stored_identical(&S);
	struct nd_tx_stats st;
	nd_tx_stats(&S.tx, &st);
	assert_true(st.resume == held);
	assert_true(st.bytes_sent == core_size - held);
	/* the prefix was read once, in buffer-sized pieces, besides the packets */
	assert_true(read_bytes == core_size);
	assert_true(reads >= (int)((core_size - held) / ND_DEFAULT_PAYLOAD) +
	                     (int)(held / sizeof pbuf));
}

/* Ranges beyond the resume point that the collector holds are not sent again. */
static void test_open_ack_held_ranges_skipped(void **state)
{
	(void)state;
	sim_setup(&S, 100 * 1000, 32, 1000, 15);
	nd_rx_init(&S.coll.rx, core_size, S.coll.window, S.coll.max_payload);
	S.coll.spool = calloc(1, core_size);
	S.coll.have_session = 1;
	meta_for(&S.coll.meta, 15);
	memcpy(S.coll.spool, core, 10000);
	nd_rx_data(&S.coll.rx, 0, 10000, 0);
	memcpy(S.coll.spool + 20000, core + 20000, 30000);
	nd_rx_data(&S.coll.rx, 20000, 30000, 0);
	S.coll.max_payload = 1000;
	sim_run(&S, 60000000, 16);
	assert_stored_identical(&S);
	struct nd_tx_stats st;
	nd_tx_stats(&S.tx, &st);
	assert_int_equal(st.bytes_sent, core_size - 10000 - 30000);
}

static void test_input_validation(void **state)
{
	(void)state;
	sim_setup(&S, 100000, 64, ND_DEFAULT_PAYLOAD, 16);
	/* garbage, wrong nonce, wrong cookie: ignored, nothing changes */
	uint8_t junk[40] = "ND\x01\x02";
	assert_int_not_equal(nd_tx_input(&S.tx, 0, junk, sizeof junk), ND_OK);
	struct nd_msg m;
	memset(&m, 0, sizeof m);
	m.type = ND_T_OPEN_ACK;
	m.cookie = 5;
	m.u.open_ack.nonce = 1;   /* not ours */
	m.u.open_ack.window = 4;
	m.u.open_ack.max_payload = 1000;
	size_t len;
	assert_int_equal(nd_encode(&m, pbuf, sizeof pbuf, &len), ND_OK);
	assert_int_equal(nd_tx_input(&S.tx, 0, pbuf, len), ND_E_STATE);
	assert_int_equal(nd_tx_state(&S.tx), ND_TX_OPENING);
	memset(&m, 0, sizeof m);
	m.type = ND_T_ACK;
	m.cookie = 5;
	m.u.ack.window = 1;
	m.u.ack.cum = 100000;
	assert_int_equal(nd_encode(&m, pbuf, sizeof pbuf, &len), ND_OK);
	assert_int_equal(nd_tx_input(&S.tx, 0, pbuf, len), ND_E_COOKIE);
	struct nd_tx_stats st;
	nd_tx_stats(&S.tx, &st);
	assert_int_equal(st.ignored, 3);

	/* bad configurations */
	struct nd_tx_cfg cfg;
	struct nd_meta mm;
	meta_for(&mm, 1);
	nd_tx_cfg_default(&cfg);
	cfg.window = 0;
	assert_int_equal(nd_tx_init(&S.tx, &cfg, &mm, core_read, NULL), ND_E_FIELD);
	cfg.window = ND_TX_WINDOW_MAX + 1;
	assert_int_equal(nd_tx_init(&S.tx, &cfg, &mm, core_read, NULL), ND_E_FIELD);
	nd_tx_cfg_default(&cfg);
	cfg.payload = ND_PAYLOAD_MAX + 1;
	assert_int_equal(nd_tx_init(&S.tx, &cfg, &mm, core_read, NULL), ND_E_FIELD);
	nd_tx_cfg_default(&cfg);
	mm.device[0] = 0;
	assert_int_equal(nd_tx_init(&S.tx, &cfg, &mm, core_read, NULL), ND_E_FIELD);

	/* a poll buffer too small for one DATA fails the transfer cleanly */
	sim_setup(&S, 100000, 64, ND_DEFAULT_PAYLOAD, 17);
	size_t n = nd_tx_poll(&S.tx, 0, pbuf, 100);
	assert_int_equal(n, 0);
	assert_int_equal(nd_tx_failure(&S.tx), ND_TX_FAIL_BUFFER);

	/* input stamped later than the next poll's clock is not "silence" */
	sim_setup(&S, 100000, 64, ND_DEFAULT_PAYLOAD, 18);
	assert_true(nd_tx_poll(&S.tx, 1000, pbuf, sizeof pbuf) > 0);   /* OPEN */
	memset(&m, 0, sizeof m);
	m.type = ND_T_OPEN_ACK;
	m.cookie = 9;
	m.u.open_ack.nonce = S.tx.nonce;
	m.u.open_ack.window = 4;
	m.u.open_ack.max_payload = 1000;
	assert_int_equal(nd_encode(&m, pbuf, sizeof pbuf, &len), ND_OK);
	assert_int_equal(nd_tx_input(&S.tx, 5000, pbuf, len), ND_OK);
	assert_true(nd_tx_poll(&S.tx, 4000, pbuf, sizeof pbuf) > 0);    /* DATA, not FAILED */
	assert_int_equal(nd_tx_state(&S.tx), ND_TX_SENDING);
}

/* A refused RESULT mid-transfer (e.g. disk full while spooling) ends the transfer. */
static void test_result_refused_mid_transfer(void **state)
{
	(void)state;
	sim_setup(&S, 1 << 20, 64, ND_DEFAULT_PAYLOAD, 18);
	sim_run(&S, 2000, 16);
	assert_int_equal(nd_tx_state(&S.tx), ND_TX_SENDING);
	struct nd_msg m;
	memset(&m, 0, sizeof m);
	m.type = ND_T_RESULT;
	m.cookie = S.coll.cookie;
	m.u.result.code = ND_RES_REFUSED;
	m.u.result.reason = ND_R_QUOTA;
	strcpy(m.u.result.text, "disk full");
	size_t len;
	assert_int_equal(nd_encode(&m, pbuf, sizeof pbuf, &len), ND_OK);
	assert_int_equal(nd_tx_input(&S.tx, S.now, pbuf, len), ND_OK);
	assert_int_equal(nd_tx_state(&S.tx), ND_TX_DONE_REFUSED);
	assert_int_equal(nd_tx_reason(&S.tx), ND_R_QUOTA);
	assert_int_equal(nd_tx_timeout(&S.tx, S.now), UINT64_MAX);
	assert_int_equal(nd_tx_poll(&S.tx, S.now, pbuf, sizeof pbuf), 0);
}

/* Stream mode (the framing a TLS transport uses): every message crosses as
 * [u16 length][message] cut into arbitrary chunks; the transfer is identical. */
static void test_stream_framing_transfer(void **state)
{
	(void)state;
	sim_setup(&S, (1 << 20) + 333, ND_TX_DEFAULT_WINDOW, ND_DEFAULT_PAYLOAD, 21);
	S.stream = 1;
	nd_stream_init(&S.rs_up, S.rbuf_up, sizeof S.rbuf_up);
	nd_stream_init(&S.rs_down, S.rbuf_down, sizeof S.rbuf_down);
	sim_run(&S, 60000000, 16);
	assert_stored_identical(&S);
	assert_true(S.stream_msgs > 700);
}

/* The throughput target: on a 1 ms RTT, 100 MB/s path, 1 % random loss in both
 * directions costs at most half the loss-free throughput (median of seeds). */
static void test_one_percent_loss_costs_less_than_half(void **state)
{
	(void)state;
	double clean = 0, lossy[5];
	for (uint32_t seed = 1; seed <= 5; seed++) {
		sim_setup(&S, 8 << 20, ND_TX_DEFAULT_WINDOW, ND_DEFAULT_PAYLOAD, 100 + seed);
		S.up.queue_max = S.down.queue_max = 4096;
		if (seed == 1) {
			sim_run(&S, 60000000, 32);
			assert_stored_identical(&S);
			clean = (double)core_size / (double)S.now;
			sim_setup(&S, 8 << 20, ND_TX_DEFAULT_WINDOW, ND_DEFAULT_PAYLOAD, 100 + seed);
			S.up.queue_max = S.down.queue_max = 4096;
		}
		S.up.loss = S.down.loss = 0.01;
		sim_run(&S, 60000000, 32);
		assert_stored_identical(&S);
		lossy[seed - 1] = (double)core_size / (double)S.now;
		print_stats("1% loss", &S);
	}
	for (int i = 0; i < 5; i++)
		for (int j = i + 1; j < 5; j++)
			if (lossy[j] < lossy[i]) {
				double t = lossy[i];
				lossy[i] = lossy[j];
				lossy[j] = t;
			}
	printf("   clean %.1f MB/s, 1%% loss median %.1f MB/s (%.0f%%)\n", clean, lossy[2],
	       100 * lossy[2] / clean);
	assert_true(lossy[2] >= clean / 2);
}

static void feed_ack(uint64_t now, uint64_t cum, uint32_t tsecr, const struct nd_range *r,
                     unsigned n)
{
	struct nd_msg m;
	size_t len;
	memset(&m, 0, sizeof m);
	m.type = ND_T_ACK;
	m.cookie = 9;
	m.u.ack.cum = cum;
	m.u.ack.tsecr = tsecr;
	m.u.ack.has_echo = 1;
	m.u.ack.window = 64;
	m.u.ack.nsack = (uint8_t)n;
	memcpy(m.u.ack.sack, r, n * sizeof *r);
	assert_int_equal(nd_encode(&m, pbuf, sizeof pbuf, &len), ND_OK);
	assert_int_equal(nd_tx_input(&S.tx, now, pbuf, len), ND_OK);
}

/* More holes than an ACK has SACK slots.  Packets 1, 5, 9 .. 37 of 40 are lost
 * (1000-byte packets, one sent per ms).  ACKs list the latest packet's range and
 * the 7 lowest: holes 1 .. 25 are described; hole 29 lies just below a range an
 * earlier ACK reported (30-32), hole 37 just below the latest range (38-39): both
 * are found from the range boundaries.  Hole 33 and the held packets 34-36 were
 * never described (as when an ACK covered another part of a batch), so nothing
 * there is resent yet. */
static void test_truncated_ack_holes_found_at_range_boundaries(void **state)
{
	(void)state;
	struct nd_msg m;
	struct nd_range r[8];
	size_t len;

	sim_setup(&S, 100000, 64, ND_DEFAULT_PAYLOAD, 20);
	assert_true(nd_tx_poll(&S.tx, 0, pbuf, sizeof pbuf) > 0);   /* OPEN */
	memset(&m, 0, sizeof m);
	m.type = ND_T_OPEN_ACK;
	m.cookie = 9;
	m.u.open_ack.nonce = S.tx.nonce;
	m.u.open_ack.window = 64;
	m.u.open_ack.max_payload = 1000;
	assert_int_equal(nd_encode(&m, pbuf, sizeof pbuf, &len), ND_OK);
	assert_int_equal(nd_tx_input(&S.tx, 0, pbuf, len), ND_OK);
	for (uint64_t i = 0; i < 40; i++) {
		assert_int_equal(nd_tx_poll(&S.tx, 1000 * i, pbuf, sizeof pbuf), ND_DATA_HDR_LEN + 1000);
		assert_int_equal(nd_decode(pbuf, ND_DATA_HDR_LEN + 1000, &m), ND_OK);
		assert_int_equal(m.u.data.offset, 1000 * i);
	}
	for (unsigned i = 1; i < 8; i++) {       /* the lowest held ranges: 2-4 .. 26-28 */
		r[i].start = 1000 * (4 * i - 2);
		r[i].end = 1000 * (4 * i + 1);
	}
	r[0].start = 30000;                       /* packet 32 arrived last */
	r[0].end = 33000;
	feed_ack(50000, 1000, 32000, r, 8);
	r[0].start = 38000;                       /* then 39 */
	r[0].end = 40000;
	feed_ack(50100, 1000, 39000, r, 8);

	uint64_t want[] = { 1, 5, 9, 13, 17, 21, 25, 29, 37, 40 };
	for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++) {
		size_t n = nd_tx_poll(&S.tx, 50200, pbuf, sizeof pbuf);
		assert_true(n > ND_DATA_HDR_LEN);
		assert_int_equal(nd_decode(pbuf, n, &m), ND_OK);
		assert_int_equal(m.u.data.offset, 1000 * want[i]);   /* 40: new data, no more repairs */
	}
	struct nd_tx_stats st;
	nd_tx_stats(&S.tx, &st);
	assert_int_equal(st.retransmits, 9);
}

/* One window with 20 holes, delivered as one batch to a real nd_rx that acks
 * once: 20 holes need 21 SACK ranges.  With wide SACK (the sender asks in OPEN,
 * the collector grants in OPEN_ACK) that single ACK describes every hole and the
 * sender resends exactly the 20 lost packets at once: after one round trip the
 * collector holds the whole window.  A collector that only sends the base 8
 * ranges (one predating wide SACK) describes the 7 lowest holes and the one
 * below the latest range, so the rest wait for later round trips. */
static struct nd_rx rx;

static unsigned holes_repaired_in_one_round_trip(int narrow)
{
	struct nd_msg m;
	uint8_t ackbuf[ND_HDR_LEN + 18 + 16 * ND_ACK_MAX_SACK];
	size_t len;
	const uint64_t npk = 80, rtt = 2000;

	sim_setup(&S, 200000, 128, 1000, 21);
	len = nd_tx_poll(&S.tx, 0, pbuf, sizeof pbuf);
	assert_int_equal(nd_decode(pbuf, len, &m), ND_OK);
	assert_int_equal(m.type, ND_T_OPEN);
	assert_true(m.u.open.flags & ND_OPEN_F_WIDE_SACK);
	uint64_t nonce = m.u.open.nonce;
	nd_rx_init(&rx, 200000, 128, 1000);
	nd_rx_set_open_flags(&rx, narrow ? 0 : m.u.open.flags);
	memset(&m, 0, sizeof m);
	m.type = ND_T_OPEN_ACK;
	m.cookie = 9;
	nd_rx_open_ack(&rx, &m.u.open_ack);
	m.u.open_ack.nonce = nonce;
	assert_int_equal(m.u.open_ack.flags, narrow ? 0 : ND_OPEN_ACK_F_WIDE_SACK);
	assert_int_equal(nd_encode(&m, pbuf, sizeof pbuf, &len), ND_OK);
	assert_int_equal(nd_tx_input(&S.tx, rtt, pbuf, len), ND_OK);

	/* packets 1, 5, 9 .. 77 are lost; the rest arrive in one batch */
	for (uint64_t k = 0; k < npk; k++) {
		uint64_t now = rtt + 1000 * k;   /* further apart than the reordering allowance */
		len = nd_tx_poll(&S.tx, now, pbuf, sizeof pbuf);
		assert_int_equal(len, ND_DATA_HDR_LEN + 1000);
		assert_int_equal(nd_decode(pbuf, len, &m), ND_OK);
		assert_int_equal(m.u.data.offset, 1000 * k);
		if (k % 4 != 1)
			assert_int_equal(nd_rx_data(&rx, m.u.data.offset, m.u.data.len, m.u.data.tsval),
			                 ND_RX_NEW);
	}
	assert_int_equal(rx.nranges, 20);
	assert_int_equal(nd_rx_contiguous(&rx), 1000);
	assert_int_equal(nd_rx_build_ack(&rx, 9, ackbuf, sizeof ackbuf, &len), ND_OK);
	uint64_t t_ack = rtt + 1000 * npk + rtt / 2;
	assert_int_equal(nd_tx_input(&S.tx, t_ack, ackbuf, len), ND_OK);

	/* what the sender sends now reaches the collector one round trip after
	 * the batch: count the holes it repairs, in order, before new data */
	unsigned repaired = 0;
	uint64_t next_hole = 1;
	for (;;) {
		len = nd_tx_poll(&S.tx, t_ack, pbuf, sizeof pbuf);
		if (len == 0)
			break;
		assert_int_equal(nd_decode(pbuf, len, &m), ND_OK);
		if (m.u.data.offset >= 1000 * npk)
			break;                                   /* new data: repairs are done */
		assert_int_equal(m.u.data.offset % 4000, 1000);  /* never a held packet */
		assert_true(m.u.data.offset >= 1000 * next_hole);
		next_hole = m.u.data.offset / 1000 + 4;
		assert_int_equal(nd_rx_data(&rx, m.u.data.offset, m.u.data.len, m.u.data.tsval),
		                 ND_RX_NEW);
		repaired++;
	}
	return repaired;
}

static void test_wide_sack_repairs_every_hole_in_one_round_trip(void **state)
{
	(void)state;
	unsigned wide = holes_repaired_in_one_round_trip(0);
	printf("   20 holes in one batch: %u repaired in the first round trip with wide SACK, ",
	       wide);
	assert_int_equal(wide, 20);
	assert_int_equal(nd_rx_contiguous(&rx), 80000);   /* the whole window is held */
	struct nd_tx_stats st;
	nd_tx_stats(&S.tx, &st);
	assert_int_equal(st.retransmits, 20);
	unsigned narrow = holes_repaired_in_one_round_trip(1);
	printf("%u with 8 ranges per ACK\n", narrow);
	assert_int_equal(narrow, 8);
	assert_true(nd_rx_contiguous(&rx) < 80000);
}

/* Once the rate is known, DATA leaves at the pacing rate: a poll right after a
 * release gets nothing, nd_tx_timeout names the next departure, and over 2 ms
 * of polls at those times the bytes released match the rate (within the 2 ms
 * allowance a late caller may spend at once).  Sans-I/O: only the clock moves. */
static void test_pacer_releases_at_its_rate(void **state)
{
	(void)state;
	struct nd_tx_stats st;
	sim_setup(&S, 24 << 20, ND_TX_DEFAULT_WINDOW, ND_DEFAULT_PAYLOAD, 30);
	S.up.delay_us = S.down.delay_us = 10000;
	sim_run(&S, 150000, 32);                /* 7 round trips: past startup */
	nd_tx_stats(&S.tx, &st);
	assert_true(st.pace_Bps > 50000000 && st.pace_Bps < 150000000);
	uint64_t now = S.now, end = now + 2000, bytes = 0, sends = 0;
	while (now < end) {
		size_t n = nd_tx_poll(&S.tx, now, pbuf, sizeof pbuf);
		if (n) {
			assert_true(n > ND_DATA_HDR_LEN);
			bytes += n - ND_DATA_HDR_LEN;
			sends++;
			continue;
		}
		uint64_t t = nd_tx_timeout(&S.tx, now);
		assert_true(t > now);           /* held back: nothing is due yet */
		assert_true(t - now <= 20);     /* the next departure, not the RTO */
		now = t;
	}
	nd_tx_stats(&S.tx, &st);
	uint64_t want = st.pace_Bps * 2000 / 1000000;
	printf("   pacing %.1f MB/s: %llu bytes in %llu packets over 2 ms (rate x 2 ms = %llu)\n",
	       (double)st.pace_Bps / 1e6, (unsigned long long)bytes, (unsigned long long)sends,
	       (unsigned long long)want);
	assert_true(sends > 20);
	assert_true(bytes >= want / 2 && bytes <= 2 * want + 2 * ND_DEFAULT_PAYLOAD);
}

/* One transfer over a 20 ms RTT path whose 100 MB/s bottleneck has a finite
 * drop-tail queue; returns MB/s and the mean wait in that queue (us). */
static double long_path_run(uint32_t seed, int pace, double loss, double *qwait_us)
{
	sim_setup(&S, 24 << 20, ND_TX_DEFAULT_WINDOW, ND_DEFAULT_PAYLOAD, seed);
	S.tx.cfg.pace = (uint8_t)pace;
	S.up.delay_us = S.down.delay_us = 10000;
	/* 10 ms of 100 MB/s in propagation (~700 packets) plus a 2.1 MB queue */
	S.up.queue_max = 700 + 1500;
	S.up.loss = S.down.loss = loss;
	S.up.qwait_from_us = 100000;   /* the queue after startup (5 RTTs) */
	sim_run(&S, 120000000, 32);
	assert_stored_identical(&S);
	*qwait_us = S.up.qwait_n ? (double)S.up.qwait_sum_ns / (double)S.up.qwait_n / 1000 : 0;
	struct nd_tx_stats st;
	nd_tx_stats(&S.tx, &st);
	printf("   %s loss %.0f%%: %.1f MB/s, queue wait mean %.2f ms max %.2f ms, "
	       "%llu retransmits (%llu dropped), %llu timeouts, srtt %llu us, bw %.1f MB/s\n",
	       pace ? "paced  " : "unpaced", loss * 100, (double)core_size / (double)S.now,
	       *qwait_us / 1000, (double)S.up.qwait_max_ns / 1e6,
	       (unsigned long long)st.retransmits, (unsigned long long)S.up.dropped,
	       (unsigned long long)st.timeouts, (unsigned long long)st.srtt_us,
	       (double)st.bw_Bps / 1e6);
	if (pace && loss == 0)   /* the estimate finds the link: 100 MB/s less headers */
		assert_true(st.bw_Bps > 90000000 && st.bw_Bps <= 100000000);
	return (double)core_size / (double)S.now;
}

static double median3(double a, double b, double c)
{
	return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

/* The pacer's reason to exist: on a 20 ms RTT path a full window sent at once
 * fills the bottleneck queue and every repair waits behind it.  Paced, the
 * queue stays short (mean wait under a tenth of the RTT, and well below the
 * unpaced sender's) and 1 % loss both ways keeps at least half the loss-free
 * throughput (median of three seeds). */
static void test_pacing_keeps_queue_short_at_long_rtt(void **state)
{
	(void)state;
	double q, qu, lq[3], l[3];
	double clean = long_path_run(201, 1, 0, &q);
	double clean_unpaced = long_path_run(201, 0, 0, &qu);
	for (int i = 0; i < 3; i++)
		l[i] = long_path_run(202 + (uint32_t)i, 1, 0.01, &lq[i]);
	double lossy = median3(l[0], l[1], l[2]);
	double lu[3], luq;
	for (int i = 0; i < 3; i++)
		lu[i] = long_path_run(202 + (uint32_t)i, 0, 0.01, &luq);
	double lossy_unpaced = median3(lu[0], lu[1], lu[2]);
	printf("   paced: clean %.1f MB/s, 1%% loss %.1f MB/s (%.0f%%); unpaced: clean %.1f, "
	       "1%% loss %.1f (%.0f%%)\n", clean, lossy, 100 * lossy / clean, clean_unpaced,
	       lossy_unpaced, 100 * lossy_unpaced / clean_unpaced);
	assert_true(q < 2000.0);
	assert_true(q < qu / 2);
	assert_true(median3(lq[0], lq[1], lq[2]) < 2000.0);
	assert_true(lossy >= clean / 2);
}

/* The collector acknowledged everything, then lost the tail of its spool but
 * kept the session: it answers FINISH with an ACK below the size.  The sender
 * must reopen, resend the missing part and still finish with the right digest. */
static void test_finish_answered_by_short_ack_resends(void **state)
{
	(void)state;
	sim_setup(&S, 1 << 20, 256, ND_DEFAULT_PAYLOAD, 19);
	S.coll.drop_finishes = 1000000;   /* hold FINISH until we have tampered */
	while (nd_tx_state(&S.tx) != ND_TX_FINISHING && S.now < 10000000)
		sim_run(&S, S.now + 100, 16);
	assert_int_equal(nd_tx_state(&S.tx), ND_TX_FINISHING);
	nd_rx_restore(&S.coll.rx, core_size / 3);
	memset(S.coll.spool + core_size / 3, 0, core_size - core_size / 3);
	S.coll.drop_finishes = 0;
	sim_run(&S, 60000000, 16);
	assert_stored_identical(&S);
	struct nd_tx_stats st;
	nd_tx_stats(&S.tx, &st);
	assert_int_equal(st.opens, 2);
	assert_true(st.resume == core_size / 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_link_delivers_byte_identical),
		cmocka_unit_test(test_lossy_reordering_link_delivers_byte_identical),
		cmocka_unit_test(test_sizes_and_payloads),
		cmocka_unit_test(test_window_one_is_stop_and_wait),
		cmocka_unit_test(test_window_is_min_of_both_sides),
		cmocka_unit_test(test_finish_retried_until_result),
		cmocka_unit_test(test_refusal_surfaces_reason),
		cmocka_unit_test(test_digest_mismatch_reported),
		cmocka_unit_test(test_silent_collector_times_out),
		cmocka_unit_test(test_read_error_fails_transfer),
		cmocka_unit_test(test_resume_after_collector_restart),
		cmocka_unit_test(test_new_sender_resumes_from_collector_state),
		cmocka_unit_test(test_large_resume_prefix_hashed_in_chunks),
		cmocka_unit_test(test_open_ack_held_ranges_skipped),
		cmocka_unit_test(test_input_validation),
		cmocka_unit_test(test_result_refused_mid_transfer),
		cmocka_unit_test(test_finish_answered_by_short_ack_resends),
		cmocka_unit_test(test_stream_framing_transfer),
		cmocka_unit_test(test_one_percent_loss_costs_less_than_half),
		cmocka_unit_test(test_truncated_ack_holes_found_at_range_boundaries),
		cmocka_unit_test(test_wide_sack_repairs_every_hole_in_one_round_trip),
		cmocka_unit_test(test_pacer_releases_at_its_rate),
		cmocka_unit_test(test_pacing_keeps_queue_short_at_long_rtt),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	link_free(&S.up);
	link_free(&S.down);
	free(S.coll.spool);
	free(core);
	return rc;
}
