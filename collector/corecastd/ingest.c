/* collector/corecastd/ingest.c: netdump messages in, spool writes and answers out. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "collector/corecastd/daemon.h"
#include "collector/corecastd/log.h"
#include "collector/groups/pool.h"
#include "collector/store/store.h"
#include "netdump/hex.h"
#include "netdump/netdump.h"
#include "netdump/rx.h"

/* Retry hint sent with BUSY refusals: long enough for a session to finish. */
#define BUSY_RETRY_MS 2000u

/* Peer-supplied text in logs: keep it printable and on one line. */
static const char *clean(const char *in, char *out, size_t n)
{
	size_t i = 0;

	for (; in[i] && i + 1 < n; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[i] = '\0';
	return out;
}

/* "device=D boot=HEX seq=N" for log lines. */
static const char *who(const struct nd_meta *m, char *buf, size_t n)
{
	char dev[ND_DEVICE_MAX], boot[2 * ND_BOOTID_LEN + 1];

	nd_hex(m->boot_id, ND_BOOTID_LEN, boot);
	snprintf(buf, n, "device=%s boot=%s seq=%u", clean(m->device, dev, sizeof dev), boot,
		 m->seq);
	return buf;
}

size_t ccd_session_cost(void)
{
	/* The session itself, plus the store's per-spool state (a few KiB of
	 * bookkeeping; compression state is shared by all spools). */
	return sizeof(struct ccd_session) + 8192;
}

/*
 * The cookie binds the session key and the sender's address: 16 bytes of
 * address (IPv4 as v4-mapped IPv6, so one form covers both) and the port.
 */
static uint64_t make_cookie(const struct ccd *d, const struct nd_meta *m,
			    const struct sockaddr *a)
{
	uint8_t canon[18] = { 0 };

	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)a;
		canon[10] = canon[11] = 0xff;
		memcpy(canon + 12, &s4->sin_addr, 4);
		memcpy(canon + 16, &s4->sin_port, 2);
	} else if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;
		memcpy(canon, &s6->sin6_addr, 16);
		memcpy(canon + 16, &s6->sin6_port, 2);
	}
	return nd_cookie(d->secret, sizeof d->secret, m->device, m->boot_id, m->seq,
			 canon, sizeof canon);
}

static void send_msg(struct ccd *d, int fd, const struct sockaddr *to, socklen_t tolen,
		     const struct nd_msg *m)
{
	uint8_t buf[CCD_OUT_SLOT];
	size_t len;
	enum nd_err e = nd_encode(m, buf, sizeof buf, &len);

	if (e != ND_OK) {
		/* Our own message failed to encode: a bug, never the peer's fault. */
		ccd_err("encoding message type %u: %s", m->type, nd_strerror(e));
		return;
	}
	ccd_send(d, fd, to, tolen, buf, len);
}

/*
 * Refusals are logged, but a flood of OPENs must not turn into a flood of log
 * lines: at most REFUSE_LOG_PER_S per second, then one line saying how many
 * were not shown.
 */
#define REFUSE_LOG_PER_S 20

static bool refusal_log_ok(uint64_t now_ms)
{
	static uint64_t second;
	static unsigned shown, hidden;

	if (now_ms / 1000 != second) {
		if (hidden)
			ccd_notice("%u more refusals not logged", hidden);
		second = now_ms / 1000;
		shown = hidden = 0;
	}
	if (shown < REFUSE_LOG_PER_S) {
		shown++;
		return true;
	}
	hidden++;
	return false;
}

static void refuse(struct ccd *d, struct ccd_listener *li, const struct sockaddr *to,
		   socklen_t tolen, uint64_t nonce, const struct nd_meta *m,
		   enum nd_reason why, uint32_t retry_ms, const char *detail)
{
	static struct nd_msg r;
	uint8_t buf[CCD_OUT_SLOT];
	size_t len, tlen;
	char w[200];

	memset(&r, 0, sizeof r);
	r.type = ND_T_REFUSE;
	r.u.refuse.nonce = nonce;
	r.u.refuse.reason = (uint8_t)why;
	r.u.refuse.retry_after_ms = retry_ms;
	snprintf(r.u.refuse.text, sizeof r.u.refuse.text, "%s", detail);
	d->stats.refused++;
	if (m != NULL && refusal_log_ok(d->now_ms))
		ccd_notice("refused %s: %s (%s)", who(m, w, sizeof w), nd_reason_str(why),
			   detail);
	/* The source address of an OPEN is unverified: never answer with more
	 * bytes than were received, so the daemon cannot amplify a reflection
	 * attack.  The reason code always fits; the text is cut to size. */
	for (;;) {
		if (nd_encode(&r, buf, sizeof buf, &len) != ND_OK)
			return;
		if (len <= d->req_len)
			break;
		tlen = strlen(r.u.refuse.text);
		if (tlen == 0)
			return;
		tlen = len - d->req_len >= tlen ? 0 : tlen - (len - d->req_len);
		r.u.refuse.text[tlen] = '\0';
	}
	ccd_send(d, li->fd, to, tolen, buf, len);
}

static void send_open_ack(struct ccd *d, struct ccd_session *s, const struct nd_open *o)
{
	struct nd_msg a;

	memset(&a, 0, sizeof a);
	a.type = ND_T_OPEN_ACK;
	a.cookie = s->cookie;
	/* ACKs follow what this OPEN's sender decodes (it may be another program
	 * than the one that started the session). */
	nd_rx_set_open_flags(&s->rx, o->flags);
	nd_rx_open_ack(&s->rx, &a.u.open_ack);
	a.u.open_ack.nonce = o->nonce;
	send_msg(d, s->fd, (struct sockaddr *)&s->peer, s->peerlen, &a);
}

static void send_result(struct ccd *d, struct ccd_session *s)
{
	struct nd_msg r;

	memset(&r, 0, sizeof r);
	r.type = ND_T_RESULT;
	r.cookie = s->cookie;
	r.u.result = s->result;
	send_msg(d, s->fd, (struct sockaddr *)&s->peer, s->peerlen, &r);
}

static void bind_peer(struct ccd *d, struct ccd_session *s, struct ccd_listener *li,
		      const struct sockaddr *from, socklen_t fromlen)
{
	memcpy(&s->peer, from, fromlen);
	s->peerlen = fromlen;
	s->fd = li->fd;
	s->secure = d->auth_id != NULL;
	ccd_sess_set_cookie(&d->ss, s, make_cookie(d, &s->meta, from));
}

static void set_result(struct ccd_session *s, enum nd_result_code code, enum nd_reason why,
		       const uint8_t *sha, const char *text)
{
	memset(&s->result, 0, sizeof s->result);
	s->result.code = (uint8_t)code;
	s->result.reason = (uint8_t)why;
	if (sha)
		memcpy(s->result.sha256, sha, ND_SHA256_LEN);
	snprintf(s->result.text, sizeof s->result.text, "%s", text);
}

/* A session for a dump the store already holds: everything is held, and a
 * FINISH is answered STORED with that id (no second row). */
static struct ccd_session *stored_session(struct ccd *d, const struct nd_meta *m,
					  uint64_t id)
{
	struct ccd_session *s = ccd_sess_new();
	struct store_rec rec;
	char text[64];

	if (s == NULL)
		return NULL;
	s->meta = *m;
	s->state = CCD_S_DONE;
	s->id = id;
	nd_rx_init(&s->rx, m->core_size, d->cfg.receive_window, d->cfg.max_payload);
	nd_rx_restore(&s->rx, m->core_size);
	snprintf(text, sizeof text, "stored as dump %llu", (unsigned long long)id);
	set_result(s, ND_RES_STORED, ND_R_NONE,
		   store_get(d->st, id, &rec) == STORE_OK ? rec.sha256 : NULL, text);
	return s;
}

static bool spool_exists(const struct ccd *d, const struct nd_meta *m)
{
	char key[STORE_KEY_MAX], path[CCD_PATH_MAX + STORE_KEY_MAX + 16];
	struct stat sb;

	/* The store's documented layout: DIR/spool/<key>.part.  Only used to tell
	 * a resume (already admitted, already counted) from a new dump. */
	store_key(m, key);
	snprintf(path, sizeof path, "%s/spool/%s.part", d->cfg.store, key);
	return stat(path, &sb) == 0;
}

static void on_open(struct ccd *d, struct ccd_listener *li, const struct nd_open *o,
		    const struct sockaddr *from, socklen_t fromlen, uint64_t now_ms)
{
	const struct nd_meta *m = &o->meta;
	struct ccd_session *s;
	struct spool *sp = NULL;
	uint64_t resume = 0, id;
	uint32_t payload;
	enum store_err se;
	char w[200], exe[ND_NAME_MAX], cause[ND_CAUSE_MAX], a[80], detail[ND_TEXT_MAX + 1];
	bool resumed;

	/* Over dtls/tls the handshake proved who the peer is: it may only send
	 * dumps under that device id. */
	if (d->auth_id != NULL && strcmp(m->device, d->auth_id) != 0) {
		snprintf(detail, sizeof detail, "device id differs from the authenticated "
			 "identity %s", d->auth_id);
		refuse(d, li, from, fromlen, o->nonce, m, ND_R_BAD_REQUEST, 0, detail);
		return;
	}
	s = ccd_sess_find_key(&d->ss, m->device, m->boot_id, m->seq);
	if (s != NULL && s->secure && d->auth_id == NULL) {
		/* A plain datagram must not take over an authenticated transfer. */
		refuse(d, li, from, fromlen, o->nonce, m, ND_R_BAD_REQUEST, 0,
		       "this dump is being received over an authenticated transport");
		return;
	}
	if (s != NULL && s->meta.core_size == m->core_size &&
	    (s->state == CCD_S_ACTIVE || s->result.code == ND_RES_STORED)) {
		/* The sender reopened (it lost us, moved, or retries after
		 * STORED): same session, maybe a new address and cookie. */
		bind_peer(d, s, li, from, fromlen);
		s->last_ms = now_ms;
		d->stats.resumes++;
		send_open_ack(d, s, o);
		ccd_info("reopen %s: holding %llu of %llu bytes", who(m, w, sizeof w),
			 (unsigned long long)nd_rx_contiguous(&s->rx),
			 (unsigned long long)m->core_size);
		return;
	}
	if (s != NULL) {
		/* A different core under the same key, or a reopen after a failed
		 * FINISH: start over from what the spool holds. */
		if (s->state == CCD_S_ACTIVE && s->sp)
			store_spool_close(s->sp);
		ccd_sess_remove(&d->ss, s);
	}

	if (m->core_size == 0) {
		refuse(d, li, from, fromlen, o->nonce, m, ND_R_BAD_REQUEST, 0, "empty core");
		return;
	}
	if (m->core_size > d->cfg.max_core_size) {
		snprintf(detail, sizeof detail, "core of %llu bytes exceeds MaxCoreSize=%llu",
			 (unsigned long long)m->core_size,
			 (unsigned long long)d->cfg.max_core_size);
		refuse(d, li, from, fromlen, o->nonce, m, ND_R_TOO_LARGE, 0, detail);
		return;
	}
	if (store_find(d->st, m->device, m->boot_id, m->seq, &id) == STORE_OK) {
		s = stored_session(d, m, id);
		if (s == NULL)
			goto nomem;
		ccd_sess_insert(&d->ss, s);
		bind_peer(d, s, li, from, fromlen);
		s->started_ms = s->last_ms = now_ms;
		d->stats.resumes++;
		send_open_ack(d, s, o);
		ccd_info("reopen %s: already stored as dump %llu", who(m, w, sizeof w),
			 (unsigned long long)id);
		return;
	}
	if (d->ss.n_active >= d->max_active) {
		snprintf(detail, sizeof detail, "%u sessions in progress (MaxSessions)",
			 d->ss.n_active);
		refuse(d, li, from, fromlen, o->nonce, m, ND_R_BUSY, BUSY_RETRY_MS, detail);
		return;
	}
	if (ccd_sess_count_device(&d->ss, m->device) >= d->cfg.max_sessions_per_device) {
		snprintf(detail, sizeof detail, "%u sessions of this device in progress "
			 "(MaxSessionsPerDevice)", d->cfg.max_sessions_per_device);
		refuse(d, li, from, fromlen, o->nonce, m, ND_R_DEVICE_BUSY, BUSY_RETRY_MS,
		       detail);
		return;
	}

	/* A spool on disk means this dump was admitted and charged before (maybe
	 * by an earlier instance of the daemon): resume without charging again. */
	resumed = spool_exists(d, m);
	if (!resumed) {
		if (!ccd_rate_allow(&d->rate, m->device, now_ms)) {
			uint64_t wait = ccd_rate_wait_ms(&d->rate, m->device, now_ms);
			snprintf(detail, sizeof detail, "more than %u dumps per minute "
				 "(DeviceRate)", d->cfg.device_rate);
			refuse(d, li, from, fromlen, o->nonce, m, ND_R_RATE_LIMITED,
			       wait > UINT32_MAX ? UINT32_MAX : (uint32_t)wait, detail);
			return;
		}
		se = store_admit(d->st, m->core_size);
		if (se == STORE_E_TOO_LARGE || se == STORE_E_NOSPACE) {
			snprintf(detail, sizeof detail, "%s", store_errmsg(d->st));
			refuse(d, li, from, fromlen, o->nonce, m,
			       se == STORE_E_TOO_LARGE ? ND_R_TOO_LARGE : ND_R_QUOTA, 0,
			       se == STORE_E_TOO_LARGE ? "core larger than the store's MaxUse"
						       : "store over quota or disk full");
			ccd_notice("store: %s", detail);
			return;
		}
		if (se != STORE_OK) {
			ccd_err("admitting %s: %s", who(m, w, sizeof w), store_errmsg(d->st));
			refuse(d, li, from, fromlen, o->nonce, m, ND_R_INTERNAL, BUSY_RETRY_MS,
			       "collector storage error");
			return;
		}
	}

	se = store_spool_open(d->st, m, &sp, &resume);
	if (se == STORE_E_EXISTS && store_find(d->st, m->device, m->boot_id, m->seq,
					       &id) == STORE_OK) {
		s = stored_session(d, m, id);
		if (s == NULL)
			goto nomem;
		ccd_sess_insert(&d->ss, s);
		bind_peer(d, s, li, from, fromlen);
		s->started_ms = s->last_ms = now_ms;
		send_open_ack(d, s, o);
		return;
	}
	if (se == STORE_E_NOSPACE) {
		refuse(d, li, from, fromlen, o->nonce, m, ND_R_QUOTA, 0,
		       "store over quota or disk full");
		return;
	}
	if (se != STORE_OK) {
		ccd_err("spool for %s: %s", who(m, w, sizeof w), store_errmsg(d->st));
		refuse(d, li, from, fromlen, o->nonce, m, ND_R_INTERNAL, BUSY_RETRY_MS,
		       "collector storage error");
		return;
	}

	s = ccd_sess_new();
	if (s == NULL) {
		store_spool_close(sp);
		goto nomem;
	}
	s->meta = *m;
	s->state = CCD_S_ACTIVE;
	s->sp = sp;
	payload = o->max_payload < d->cfg.max_payload ? o->max_payload : d->cfg.max_payload;
	if (payload < ND_PAYLOAD_MIN)
		payload = ND_PAYLOAD_MIN;
	/* The byte window is sized for the payload this sender will really use,
	 * which is also what OPEN_ACK advertises. */
	nd_rx_init(&s->rx, m->core_size, d->cfg.receive_window, payload);
	if (resume > 0)
		nd_rx_restore(&s->rx, resume);
	s->advanced = resume;
	s->resumed_at = resume;
	s->started_ms = s->last_ms = now_ms;
	ccd_sess_insert(&d->ss, s);
	bind_peer(d, s, li, from, fromlen);
	if (resume > 0 || resumed)
		d->stats.resumes++;
	else
		d->stats.opens++;
	send_open_ack(d, s, o);

	ccd_addr_str(from, a, sizeof a);
	ccd_info("open %s pid=%u signal=%u exe=%s size=%llu cause=\"%s\" from %s: %s%llu",
		 who(m, w, sizeof w), m->pid, m->signal, clean(m->exe, exe, sizeof exe),
		 (unsigned long long)m->core_size, clean(m->cause, cause, sizeof cause), a,
		 resume ? "resuming at " : "new dump, ", (unsigned long long)resume);
	return;
nomem:
	ccd_err("out of memory opening a session for %s", who(m, w, sizeof w));
	refuse(d, li, from, fromlen, o->nonce, m, ND_R_INTERNAL, BUSY_RETRY_MS,
	       "collector out of memory");
}

/* The spool write or commit failed: the session ends with a refusal the
 * sender prints; the spool stays on disk unless the store discarded it. */
static void fail_session(struct ccd *d, struct ccd_session *s, enum store_err se)
{
	char w[200];
	enum nd_reason why = se == STORE_E_NOSPACE ? ND_R_QUOTA : ND_R_INTERNAL;

	ccd_err("%s: %s", who(&s->meta, w, sizeof w), store_errmsg(d->st));
	if (s->state == CCD_S_ACTIVE && s->sp)
		store_spool_close(s->sp);
	set_result(s, ND_RES_REFUSED, why, NULL,
		   why == ND_R_QUOTA ? "store over quota or disk full"
				     : "collector storage error");
	ccd_sess_mark_done(&d->ss, s);
	send_result(d, s);
}

/* Write the staged run to its spool.  Called before anything that reads the
 * spool or may free the session, and at the end of every batch. */
static void flush_run(struct ccd *d)
{
	struct ccd_session *s = d->run_s;
	enum store_err se;

	if (s == NULL)
		return;
	d->run_s = NULL;
	if (s->state != CCD_S_ACTIVE || s->sp == NULL)
		return;
	se = store_spool_write(s->sp, d->run_off, d->run_buf, d->run_len);
	if (se != STORE_OK)
		fail_session(d, s, se);
}

static void stage_write(struct ccd *d, struct ccd_session *s, const struct nd_data *dm)
{
	enum store_err se;

	if (d->run_s == s && d->run_off + d->run_len == dm->offset &&
	    d->run_len + dm->len <= CCD_RUN_MAX) {
		memcpy(d->run_buf + d->run_len, dm->payload, dm->len);
		d->run_len += dm->len;
		return;
	}
	flush_run(d);
	if (s->state != CCD_S_ACTIVE)
		return;      /* the flush failed this very session */
	if (d->run_buf == NULL) {   /* a payload (u16) always fits a run */
		se = store_spool_write(s->sp, dm->offset, dm->payload, dm->len);
		if (se != STORE_OK)
			fail_session(d, s, se);
		return;
	}
	memcpy(d->run_buf, dm->payload, dm->len);
	d->run_s = s;
	d->run_off = dm->offset;
	d->run_len = dm->len;
}

static void on_data(struct ccd *d, struct ccd_session *s, const struct nd_data *dm)
{
	enum nd_rx_verdict v;

	if (s->state != CCD_S_ACTIVE) {
		/* Late or duplicated DATA after the result: the ack (or result)
		 * at the end of the batch tells the sender where things stand. */
		d->stats.data_dup++;
		ccd_sess_touch(&d->ss, s);
		return;
	}
	v = nd_rx_data(&s->rx, dm->offset, dm->len, dm->tsval);
	switch (v) {
	case ND_RX_NEW:
		stage_write(d, s, dm);
		if (s->state != CCD_S_ACTIVE)
			return;
		d->stats.data_new++;
		d->stats.bytes += dm->len;
		break;
	case ND_RX_DUPLICATE:
		d->stats.data_dup++;
		break;
	default:
		d->stats.data_bad++;
		break;
	}
	ccd_sess_touch(&d->ss, s);
}

/* Hand the newly contiguous prefix to the store (hash, compress, sync). */
static int advance(struct ccd *d, struct ccd_session *s)
{
	uint64_t c = nd_rx_contiguous(&s->rx);
	enum store_err se;

	if (c <= s->advanced)
		return 0;
	se = store_spool_advance(s->sp, c);
	if (se != STORE_OK) {
		fail_session(d, s, se);
		return -1;
	}
	s->advanced = c;
	return 0;
}

static void send_ack(struct ccd *d, struct ccd_session *s)
{
	uint8_t buf[CCD_OUT_SLOT];
	size_t len;

	if (nd_rx_build_ack(&s->rx, s->cookie, buf, sizeof buf, &len) == ND_OK)
		ccd_send(d, s->fd, (struct sockaddr *)&s->peer, s->peerlen, buf, len);
}

static void on_finish(struct ccd *d, struct ccd_session *s, const struct nd_finish *f,
		      uint64_t now_ms)
{
	char w[200], exe[ND_NAME_MAX], cause[ND_CAUSE_MAX], text[ND_TEXT_MAX + 1];
	enum store_err se;
	uint64_t id = 0;
	double secs;

	if (s->state == CCD_S_DONE) {
		/* The RESULT was lost: answer the same again. */
		send_result(d, s);
		return;
	}
	if (f->size != s->meta.core_size) {
		/* A sender bug: end the session with an answer it can print, or it
		 * would retry this FINISH forever.  The spool stays for a resume. */
		ccd_warn("%s: FINISH says %llu bytes, OPEN said %llu", who(&s->meta, w, sizeof w),
			 (unsigned long long)f->size, (unsigned long long)s->meta.core_size);
		store_spool_close(s->sp);
		s->sp = NULL;
		set_result(s, ND_RES_REFUSED, ND_R_BAD_REQUEST, NULL,
			   "FINISH size differs from the size in OPEN");
		ccd_sess_mark_done(&d->ss, s);
		send_result(d, s);
		return;
	}
	if (!nd_rx_complete(&s->rx)) {
		/* Bytes are missing: the ack tells the sender which. */
		ccd_sess_touch(&d->ss, s);
		return;
	}
	if (advance(d, s) < 0)
		return;
	/* Verifying and committing block this loop (seconds for a large core)
	 * and nothing can be answered meanwhile: an ACK for the whole core first
	 * tells the sender we are alive, so its silence clock (it reopens after
	 * 5 s) starts when verification does, as the protocol asks. */
	send_ack(d, s);
	se = store_spool_finish(s->sp, f->sha256, &id);
	s->sp = NULL;
	secs = (double)(now_ms - s->started_ms) / 1000.0;
	switch (se) {
	case STORE_OK:
	case STORE_E_EXISTS:
		s->id = id;
		snprintf(text, sizeof text, "stored as dump %llu", (unsigned long long)id);
		set_result(s, ND_RES_STORED, ND_R_NONE, f->sha256, text);
		d->stats.stored++;
		/* Symbolize in a worker process; the queue is durable in the index,
		 * so a failure here only delays it to the next start's scan. */
		if (se == STORE_OK && d->pool && pool_submit(d->pool, id) != POOL_OK)
			ccd_warn("dump %llu: not queued for symbolization now; the next start "
				 "will", (unsigned long long)id);
		ccd_notice("stored dump %llu: %s pid=%u signal=%u exe=%s size=%llu "
			   "cause=\"%s\" in %.1f s (%.1f MB/s)", (unsigned long long)id,
			   who(&s->meta, w, sizeof w), s->meta.pid, s->meta.signal,
			   clean(s->meta.exe, exe, sizeof exe),
			   (unsigned long long)s->meta.core_size,
			   clean(s->meta.cause, cause, sizeof cause), secs,
			   secs > 0 ? (double)(s->meta.core_size - s->resumed_at) / secs / 1e6 : 0.0);
		break;
	case STORE_E_DIGEST:
		set_result(s, ND_RES_DIGEST_MISMATCH, ND_R_NONE, NULL,
			   "SHA-256 of the received bytes differs");
		d->stats.mismatched++;
		ccd_warn("digest mismatch %s exe=%s size=%llu: nothing stored",
			 who(&s->meta, w, sizeof w), clean(s->meta.exe, exe, sizeof exe),
			 (unsigned long long)s->meta.core_size);
		break;
	case STORE_E_INCOMPLETE:
		/* Cannot happen after nd_rx_complete; keep the sender going. */
		ccd_err("%s: store says incomplete: %s", who(&s->meta, w, sizeof w),
			store_errmsg(d->st));
		set_result(s, ND_RES_REFUSED, ND_R_INTERNAL, NULL, "collector storage error");
		break;
	default:
		ccd_err("commit of %s failed: %s", who(&s->meta, w, sizeof w),
			store_errmsg(d->st));
		set_result(s, ND_RES_REFUSED,
			   se == STORE_E_NOSPACE ? ND_R_QUOTA : ND_R_INTERNAL, NULL,
			   se == STORE_E_NOSPACE ? "store over quota or disk full"
						 : "collector storage error");
		break;
	}
	ccd_sess_mark_done(&d->ss, s);
	send_result(d, s);
}

void ccd_ingest(struct ccd *d, struct ccd_listener *li, const uint8_t *buf, size_t len,
		const struct sockaddr *from, socklen_t fromlen, uint64_t now_us)
{
	static struct nd_msg m;   /* ~1.3 KiB: off the stack, one loop thread */
	struct ccd_session *s;
	struct nd_hdr h;
	enum nd_err e;
	uint64_t now_ms = now_us / 1000u;

	d->req_len = len;
	d->now_ms = now_ms;
	e = nd_decode(buf, len, &m);
	if (e != ND_OK) {
		/* An OPEN of another protocol version gets an answer it can read
		 * (the nonce sits at the same place in every version). */
		if (e == ND_E_VERSION && nd_peek(buf, len, &h) == ND_OK &&
		    h.type == ND_T_OPEN && len >= ND_HDR_LEN + 8) {
			uint64_t nonce = 0;
			for (int i = 0; i < 8; i++)
				nonce = nonce << 8 | buf[ND_HDR_LEN + i];
			refuse(d, li, from, fromlen, nonce, NULL, ND_R_BAD_VERSION, 0,
			       "collector speaks netdump version 1");
			d->stats.refused--;      /* counted as garbage below */
		}
		d->stats.garbage++;
		return;
	}
	if (m.type != ND_T_DATA)
		flush_run(d);   /* OPEN may drop a session, FINISH reads the spool */
	switch (m.type) {
	case ND_T_OPEN:
		on_open(d, li, &m.u.open, from, fromlen, now_ms);
		return;
	case ND_T_DATA:
	case ND_T_FINISH:
		break;
	default:
		/* Collector-to-sender messages have no business arriving here. */
		d->stats.garbage++;
		return;
	}
	/* A forged or stale cookie, or a right cookie from the wrong address:
	 * dropped without an answer, so spoofing gains nothing. */
	s = ccd_sess_find_cookie(&d->ss, m.cookie);
	if (s == NULL || !ccd_sess_same_peer(s, from, fromlen) ||
	    s->secure != (d->auth_id != NULL) || (s->secure && s->fd != li->fd)) {
		d->stats.bad_cookie++;
		return;
	}
	s->last_ms = now_ms;
	if (m.type == ND_T_DATA)
		on_data(d, s, &m.u.data);
	else
		on_finish(d, s, &m.u.finish, now_ms);
}

void ccd_ack_touched(struct ccd *d, uint64_t now_us)
{
	struct ccd_session *s;

	flush_run(d);
	while ((s = d->ss.touched) != NULL) {
		d->ss.touched = s->next_touched;
		s->next_touched = NULL;
		s->touched = false;
		if (s->state == CCD_S_ACTIVE && advance(d, s) < 0)
			continue;    /* failed: its RESULT went out instead */
		if (s->state == CCD_S_DONE && s->result.code != ND_RES_STORED)
			send_result(d, s);
		else
			send_ack(d, s);
	}
}

void ccd_tick(struct ccd *d, uint64_t now_ms)
{
	struct ccd_session *s, *next;
	char w[200];

	flush_run(d);
	for (s = d->ss.head; s; s = next) {
		next = s->next;
		if (now_ms - s->last_ms < d->cfg.session_timeout_ms)
			continue;
		if (s->state == CCD_S_ACTIVE) {
			d->stats.timeouts++;
			ccd_notice("timeout %s after %llu s idle: holding %llu of %llu bytes, "
				   "spool kept for resume", who(&s->meta, w, sizeof w),
				   (unsigned long long)(now_ms - s->last_ms) / 1000,
				   (unsigned long long)nd_rx_contiguous(&s->rx),
				   (unsigned long long)s->meta.core_size);
			store_spool_close(s->sp);
			s->sp = NULL;
		}
		ccd_sess_remove(&d->ss, s);
	}
	/* Finished sessions only serve repeated FINISHes; never let them pile up
	 * beyond the active limit. */
	for (s = d->ss.head; s && d->ss.n_done > d->max_active; s = next) {
		next = s->next;
		if (s->state == CCD_S_DONE)
			ccd_sess_remove(&d->ss, s);
	}
}

void ccd_close_all(struct ccd *d)
{
	struct ccd_session *s;
	char w[200];

	flush_run(d);
	while ((s = d->ss.head) != NULL) {
		if (s->state == CCD_S_ACTIVE && s->sp) {
			if (s->advanced < nd_rx_contiguous(&s->rx))
				(void)store_spool_advance(s->sp, nd_rx_contiguous(&s->rx));
			ccd_info("closing %s: holding %llu of %llu bytes", who(&s->meta, w, sizeof w),
				 (unsigned long long)nd_rx_contiguous(&s->rx),
				 (unsigned long long)s->meta.core_size);
			store_spool_close(s->sp);
			s->sp = NULL;
		}
		ccd_sess_remove(&d->ss, s);
	}
}
