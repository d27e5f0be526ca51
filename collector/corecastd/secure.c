/* collector/corecastd/secure.c: corecastd's dtls:// and tls:// listeners — handshakes, device auth, records. */
#include "collector/corecastd/secure.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/error.h>

#include "collector/corecastd/daemon.h"
#include "collector/corecastd/log.h"
#include "collector/keystore/keystore.h"
#include "collector/tls/tls.h"
#include "netdump/netdump.h"

/*
 * Memory: a connection holds an mbedtls context with two record buffers
 * (about 40 KiB), so their number is bounded; a handshake that does not finish
 * in SC_HANDSHAKE_MS is dropped; an authenticated connection idle for the
 * session timeout is closed (the sender reconnects and resumes).
 */
#define SC_MAX          256
#define SC_HASH         1024
#define SC_FD_MAP       65536
#define SC_HANDSHAKE_MS 30000
#define SC_OUT_MAX      (256u << 10)   /* TLS bytes queued for a peer that does not read */
#define SC_CHUNK        65536
#define SC_PLAIN_MAX    (ND_MSG_MAX + 256)
#define SC_MTU          1400           /* our handshake flights stay in one datagram each */
#define SC_LOG_PER_S    20

enum { FD_PLAIN = 0, FD_DTLS_LISTENER = 1, FD_TLS_CONN = 2 };

struct sconn {
	struct cctls_conn k;            /* first: mbedtls callbacks get back here */
	struct sconn *next_hash;        /* DTLS: peers by address */
	struct sconn *prev, *next;      /* every connection */
	struct sconn *next_dirty;       /* TLS: output waiting */
	bool dirty, dtls, authed, closing;
	struct ccd *d;
	struct ccd_listener *li;        /* where it came in */
	struct ccd_listener view;       /* TLS: li with this connection's fd */
	int fd;                         /* DTLS: the listener's; TLS: the connection's */
	uint32_t epev;                  /* TLS: epoll interest */
	struct sockaddr_storage peer;
	socklen_t peerlen;
	char addr[96];
	char device[CCTLS_ID_MAX + 1];  /* authenticated identity */
	uint64_t started_ms, last_ms;
	uint8_t *obuf;                  /* TLS: encrypted bytes not yet written */
	size_t olen, ocap;
	struct nd_stream st;            /* TLS: message framing */
	uint8_t *sbuf;                  /* one message: the daemon's receive slot size */
	size_t scap;
};

struct sc_stats {
	uint64_t handshakes, failed, hello_verify, rate_limited, not_dtls, full, closed_idle;
	uint64_t bad_records;           /* DTLS records that failed authentication or replayed */
};

struct ccd_secure {
	struct cctls_cfg dtls, tls;
	bool have_dtls, have_tls, certs;
	struct keystore keys;
	char keys_path[CCD_PATH_MAX + 32];
	struct ccd_ratelimit hs_rate;
	struct sconn *hash[SC_HASH];
	struct sconn *head;
	struct sconn *dirty;
	struct sconn *probe;            /* DTLS: reused for cookie-less ClientHellos */
	unsigned n;
	uint8_t fd_kind[SC_FD_MAP];
	struct sconn *by_fd[SC_FD_MAP];
	uint8_t *plain, *rbuf;
	uint8_t *wbuf;                  /* TLS: a framed answer being encrypted */
	uint64_t log_second;
	unsigned log_shown, log_hidden;
	struct sc_stats st;
};

/* ---- helpers ----------------------------------------------------------- */

static bool log_ok(struct ccd_secure *x, uint64_t now_ms)
{
	if (now_ms / 1000 != x->log_second) {
		if (x->log_hidden)
			ccd_notice("%u more handshake messages not logged", x->log_hidden);
		x->log_second = now_ms / 1000;
		x->log_shown = x->log_hidden = 0;
	}
	if (x->log_shown < SC_LOG_PER_S) {
		x->log_shown++;
		return true;
	}
	x->log_hidden++;
	return false;
}

/* 16 bytes of address (IPv4 mapped) + port: the DTLS cookie's client id and
 * the hash key. */
static void canon(const struct sockaddr *a, uint8_t out[18])
{
	memset(out, 0, 18);
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)a;
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &s4->sin_addr, 4);
		memcpy(out + 16, &s4->sin_port, 2);
	} else if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;
		memcpy(out, &s6->sin6_addr, 16);
		memcpy(out + 16, &s6->sin6_port, 2);
	}
}

static unsigned hash_addr(const struct sockaddr *a)
{
	uint8_t c[18];
	uint32_t h = 2166136261u;

	canon(a, c);
	for (int i = 0; i < 18; i++)
		h = (h ^ c[i]) * 16777619u;
	return h & (SC_HASH - 1);
}

static bool same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	uint8_t x[18], y[18];

	canon(a, x);
	canon(b, y);
	return a->sa_family == b->sa_family && memcmp(x, y, sizeof x) == 0;
}

/* The source without its port: what handshakes are rate-limited by. */
static void source_key(const struct sockaddr *a, char *buf, size_t n)
{
	char s[INET6_ADDRSTRLEN] = "?";

	if (a->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, s, sizeof s);
	else if (a->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, s, sizeof s);
	snprintf(buf, n, "%s", s);
}

static const char *proto_of(const struct sconn *sc)
{
	return sc->dtls ? "dtls" : "tls";
}

static const char *ident(const struct sconn *sc)
{
	return sc->k.identity[0] ? sc->k.identity : "(none given)";
}

/* ---- key store callbacks ----------------------------------------------- */

static int psk_cb(void *ctx, mbedtls_ssl_context *ssl, const unsigned char *id, size_t len)
{
	struct ccd_secure *x = ctx;
	struct cctls_conn *k = (struct cctls_conn *)ssl;   /* ssl is k's first member */
	char raw[KS_ID_MAX];
	const struct ks_entry *e;

	k->by_cert = false;
	snprintf(k->identity, sizeof k->identity, "%.*s", (int)(len < CCTLS_ID_MAX ? len : CCTLS_ID_MAX),
		 (const char *)id);
	for (char *p = k->identity; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			*p = '?';
	if (len == 0 || len >= sizeof raw || memchr(id, 0, len) != NULL)
		return -1;
	memcpy(raw, id, len);
	raw[len] = '\0';
	e = ks_find(&x->keys, raw);
	if (e == NULL || e->kind != KS_PSK) {
		k->unknown_identity = true;
		return -1;
	}
	return mbedtls_ssl_set_hs_psk(ssl, e->key, e->keylen);
}

static int check_cert(void *ctx, struct cctls_conn *k, const mbedtls_x509_crt *crt,
		      uint32_t *flags)
{
	struct ccd_secure *x = ctx;
	const struct ks_entry *e = ks_find(&x->keys, k->identity);
	uint8_t fp[32];

	/* The chain verified against the fleet CA; the device (the CN) must also
	 * be enrolled with exactly this certificate, so a revoked device is one
	 * `corecastctl devices rm` away. */
	cctls_fingerprint(crt, fp);
	if (e == NULL || e->kind != KS_CERT || memcmp(e->fp, fp, sizeof fp) != 0)
		*flags |= MBEDTLS_X509_BADCERT_OTHER;
	return 0;
}

static const char *keys_path(const struct ccd *d, char *buf, size_t n)
{
	if (d->cfg.device_keys[0])
		snprintf(buf, n, "%s", d->cfg.device_keys);
	else
		snprintf(buf, n, "%s/%s", d->cfg.store, CCD_DEF_DEVICE_KEYS);
	return buf;
}

static int load_keys(struct ccd *d, bool at_start)
{
	struct ccd_secure *x = d->sec;
	char err[600];
	int missing = 0;
	struct keystore next;
	enum ks_err e;

	keys_path(d, x->keys_path, sizeof x->keys_path);
	ks_init(&next);
	e = ks_load(&next, x->keys_path, &missing, err, sizeof err);
	if (e != KS_OK) {
		ccd_err("device key store %s", err);
		if (!at_start)
			ccd_err("keeping the %zu device keys loaded before", x->keys.n);
		return -1;
	}
	ks_free(&x->keys);
	x->keys = next;
	if (missing)
		ccd_warn("device key store %s does not exist: no device can authenticate "
			 "(add them with corecastctl devices add)", x->keys_path);
	else
		ccd_notice("device key store %s: %zu device%s", x->keys_path, x->keys.n,
			   x->keys.n == 1 ? "" : "s");
	return 0;
}

/* ---- connections ------------------------------------------------------- */

static int out_dgram(void *ctx, const uint8_t *buf, size_t len)
{
	struct sconn *sc = ctx;

	ccd_send_raw(sc->d, sc->fd, (const struct sockaddr *)&sc->peer, sc->peerlen, buf, len);
	return (int)len;
}

static void mark_dirty(struct ccd_secure *x, struct sconn *sc)
{
	if (!sc->dirty) {
		sc->dirty = true;
		sc->next_dirty = x->dirty;
		x->dirty = sc;
	}
}

static int out_stream(void *ctx, const uint8_t *buf, size_t len)
{
	struct sconn *sc = ctx;

	if (sc->olen + len > sc->ocap) {
		size_t cap = sc->ocap ? sc->ocap : 16384;
		uint8_t *nb;
		while (cap < sc->olen + len)
			cap *= 2;
		if (cap > SC_OUT_MAX) {
			/* The peer does not read its answers: it is gone or hostile. */
			sc->closing = true;
			return MBEDTLS_ERR_SSL_ALLOC_FAILED;
		}
		nb = realloc(sc->obuf, cap);
		if (nb == NULL) {
			sc->closing = true;
			return MBEDTLS_ERR_SSL_ALLOC_FAILED;
		}
		sc->obuf = nb;
		sc->ocap = cap;
	}
	memcpy(sc->obuf + sc->olen, buf, len);
	sc->olen += len;
	mark_dirty(sc->d->sec, sc);
	return (int)len;
}

static struct sconn *sc_new(struct ccd *d, bool dtls)
{
	struct ccd_secure *x = d->sec;
	struct sconn *sc = calloc(1, sizeof *sc);

	if (sc == NULL)
		return NULL;
	sc->d = d;
	sc->dtls = dtls;
	sc->fd = -1;
	if (cctls_conn_init(&sc->k, dtls ? &x->dtls : &x->tls, dtls ? out_dgram : out_stream,
			    sc) != CCTLS_OK) {
		free(sc);
		return NULL;
	}
	if (dtls)
		mbedtls_ssl_set_mtu(&sc->k.ssl, SC_MTU);
	return sc;
}

static void sc_free(struct sconn *sc)
{
	cctls_conn_free(&sc->k);
	free(sc->obuf);
	free(sc->sbuf);
	free(sc);
}

static void unlink_dirty(struct ccd_secure *x, struct sconn *sc)
{
	if (!sc->dirty)
		return;
	for (struct sconn **p = &x->dirty; *p; p = &(*p)->next_dirty)
		if (*p == sc) {
			*p = sc->next_dirty;
			break;
		}
	sc->dirty = false;
}

static void sc_insert(struct ccd_secure *x, struct sconn *sc)
{
	sc->next = x->head;
	sc->prev = NULL;
	if (x->head)
		x->head->prev = sc;
	x->head = sc;
	x->n++;
	if (sc->dtls) {
		unsigned h = hash_addr((const struct sockaddr *)&sc->peer);
		sc->next_hash = x->hash[h];
		x->hash[h] = sc;
	}
}

static void sc_close(struct ccd *d, struct sconn *sc)
{
	struct ccd_secure *x = d->sec;

	unlink_dirty(x, sc);
	if (sc->prev)
		sc->prev->next = sc->next;
	else
		x->head = sc->next;
	if (sc->next)
		sc->next->prev = sc->prev;
	x->n--;
	if (sc->dtls) {
		unsigned h = hash_addr((const struct sockaddr *)&sc->peer);
		for (struct sconn **p = &x->hash[h]; *p; p = &(*p)->next_hash)
			if (*p == sc) {
				*p = sc->next_hash;
				break;
			}
	} else {
		/* Read what the peer still sent: closing with unread bytes would
		 * reset the connection and could destroy our alert before the
		 * device reads why it was refused. */
		for (int i = 0; i < 16 && recv(sc->fd, x->rbuf, SC_CHUNK, MSG_DONTWAIT) > 0; i++)
			;
		shutdown(sc->fd, SHUT_WR);
		/* Sessions answered through this socket must not reach whoever
		 * gets the descriptor number next. */
		for (struct ccd_session *s = d->ss.head; s; s = s->next)
			if (s->fd == sc->fd)
				s->fd = -1;
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, sc->fd, NULL);
		x->by_fd[sc->fd] = NULL;
		x->fd_kind[sc->fd] = FD_PLAIN;
		close(sc->fd);
	}
	sc_free(sc);
}

static struct sconn *find_dtls(struct ccd_secure *x, const struct sockaddr *a)
{
	for (struct sconn *sc = x->hash[hash_addr(a)]; sc; sc = sc->next_hash)
		if (same_addr((const struct sockaddr *)&sc->peer, a))
			return sc;
	return NULL;
}

static void hs_failed(struct ccd *d, struct sconn *sc, int err, uint64_t now_ms)
{
	struct ccd_secure *x = d->sec;
	char why[200];

	x->st.failed++;
	if (log_ok(x, now_ms))
		ccd_notice("%s handshake from %s refused: device %s: %s", proto_of(sc), sc->addr,
			   ident(sc), cctls_reason(&sc->k, err, why, sizeof why));
}

static void authenticated(struct ccd *d, struct sconn *sc, uint64_t now_ms)
{
	struct ccd_secure *x = d->sec;

	sc->authed = true;
	x->st.handshakes++;
	snprintf(sc->device, sizeof sc->device, "%s", sc->k.identity);
	ccd_info("%s from %s: device %s authenticated by %s (%s)", proto_of(sc), sc->addr,
		 sc->device, sc->k.by_cert ? "certificate" : "PSK",
		 mbedtls_ssl_get_ciphersuite(&sc->k.ssl));
	(void)now_ms;
}

static void deliver(struct ccd *d, struct sconn *sc, const uint8_t *msg, size_t len,
		    uint64_t now_us)
{
	struct ccd_listener *li = sc->dtls ? sc->li : &sc->view;

	/* The device id in OPEN must be the one the handshake proved. */
	d->auth_id = sc->device;
	ccd_ingest(d, li, msg, len, (const struct sockaddr *)&sc->peer, sc->peerlen, now_us);
	d->auth_id = NULL;
}

/* Run the connection on what was fed; returns -1 when it must be closed. */
static int sc_input(struct ccd *d, struct sconn *sc, uint64_t now_us)
{
	struct ccd_secure *x = d->sec;
	uint64_t now_ms = now_us / 1000u;
	int r;

	sc->last_ms = now_ms;
	if (!sc->authed) {
		r = cctls_handshake(&sc->k);
		if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
			return 0;
		if (r != 0 || sc->k.identity[0] == '\0') {
			hs_failed(d, sc, r, now_ms);
			return -1;
		}
		authenticated(d, sc, now_ms);
	}
	for (;;) {
		r = mbedtls_ssl_read(&sc->k.ssl, x->plain, SC_PLAIN_MAX);
		if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
			return sc->closing ? -1 : 0;
		if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
		    r == MBEDTLS_ERR_SSL_CLIENT_RECONNECT)
			return -1;
		if (r < 0) {
			char e[120];
			if (sc->dtls && r != MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
				return 0;   /* a bad datagram is dropped, as on udp:// */
			mbedtls_strerror(r, e, sizeof e);
			if (log_ok(x, now_ms))
				ccd_notice("%s from %s (device %s): %s; closing", proto_of(sc),
					   sc->addr, sc->device, e);
			return -1;
		}
		if (sc->dtls) {
			deliver(d, sc, x->plain, (size_t)r, now_us);
			continue;
		}
		for (size_t off = 0; off < (size_t)r; ) {
			const uint8_t *m;
			size_t used, ml;
			if (nd_stream_push(&sc->st, x->plain + off, (size_t)r - off, &used, &m,
					   &ml) != ND_OK) {
				if (log_ok(x, now_ms))
					ccd_notice("tls from %s (device %s): message framing broken; "
						   "closing", sc->addr, sc->device);
				return -1;
			}
			off += used;
			if (m)
				deliver(d, sc, m, ml, now_us);
		}
		if (sc->closing)
			return -1;
	}
}

/* ---- DTLS -------------------------------------------------------------- */

/*
 * A datagram from an address with no connection.  Only a ClientHello can
 * start one; a cookie-less one is answered with a HelloVerifyRequest by a
 * reused probe context and nothing is kept, so spoofed sources cost nothing
 * but that answer (smaller than what they sent).
 */
static void dtls_new(struct ccd *d, struct ccd_listener *li, const uint8_t *buf, size_t len,
		     const struct sockaddr *from, socklen_t fromlen, uint64_t now_us)
{
	struct ccd_secure *x = d->sec;
	uint64_t now_ms = now_us / 1000u;
	struct sconn *sc;
	uint8_t id[18];
	char src[64];
	int r;

	/* record: type 22 (handshake), DTLS version 0xfeXX, epoch 0; message
	 * type 1 (ClientHello) */
	if (len < 13 + 12 || buf[0] != 22 || buf[1] != 0xfe || buf[3] != 0 || buf[4] != 0 ||
	    buf[13] != 1) {
		x->st.not_dtls++;
		d->stats.garbage++;
		return;
	}
	if (x->n >= SC_MAX) {
		x->st.full++;
		if (log_ok(x, now_ms))
			ccd_warn("dtls: %u connections open, refusing a handshake", x->n);
		return;
	}
	sc = x->probe;
	if (sc == NULL) {
		sc = sc_new(d, true);
		if (sc == NULL) {
			ccd_err("dtls: out of memory for a handshake");
			return;
		}
		x->probe = sc;
	} else {
		mbedtls_ssl_session_reset(&sc->k.ssl);
		sc->k.identity[0] = '\0';
		sc->k.alert = -1;
		sc->k.verify_flags = 0;
		sc->k.unknown_identity = false;
		sc->k.t_armed = false;
	}
	sc->li = li;
	sc->fd = li->fd;
	memcpy(&sc->peer, from, fromlen);
	sc->peerlen = fromlen;
	ccd_addr_str(from, sc->addr, sizeof sc->addr);
	canon(from, id);
	cctls_conn_client_id(&sc->k, id, sizeof id);
	cctls_feed(&sc->k, buf, len);
	r = cctls_handshake(&sc->k);
	if (r == MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED) {
		x->st.hello_verify++;
		return;
	}
	x->probe = NULL;
	if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
		hs_failed(d, sc, r, now_ms);
		sc_free(sc);
		return;
	}
	/* The cookie came back: the source address is real.  Only now is it
	 * charged against its handshake budget. */
	source_key(from, src, sizeof src);
	if (!ccd_rate_allow(&x->hs_rate, src, now_ms)) {
		x->st.rate_limited++;
		if (log_ok(x, now_ms))
			ccd_notice("dtls handshake from %s refused: more than %u per minute from "
				   "this source (HandshakeRate)", sc->addr, d->cfg.handshake_rate);
		sc_free(sc);
		return;
	}
	sc->started_ms = sc->last_ms = now_ms;
	sc_insert(x, sc);
}

void ccd_secure_dtls_datagram(struct ccd *d, struct ccd_listener *li, uint8_t *buf,
			      size_t len, const struct sockaddr *from, socklen_t fromlen,
			      uint64_t now)
{
	struct ccd_secure *x = d->sec;
	struct sconn *sc = find_dtls(x, from);

	if (sc == NULL) {
		dtls_new(d, li, buf, len, from, fromlen, now);
		return;
	}
	if (sc->authed && sc->k.fast.ready) {
		/* Bulk records are opened in place, without mbedtls
		 * (collector/tls/fastrec.c says why). */
		uint8_t *pl;
		size_t pn;
		int f = cctls_fast_open(&sc->k, buf, len, &pl, &pn);
		if (f > 0) {
			sc->last_ms = now / 1000u;
			deliver(d, sc, pl, pn, now);
			return;
		}
		if (f < 0) {
			x->st.bad_records++;
			return;
		}
	}
	cctls_feed(&sc->k, buf, len);
	if (sc_input(d, sc, now) < 0)
		sc_close(d, sc);
}

/* ---- TLS --------------------------------------------------------------- */

static void set_interest(struct ccd *d, struct sconn *sc, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.u32 = CCD_TAG_CONN_BASE + (uint32_t)sc->fd };

	if (sc->epev != ev && epoll_ctl(d->epfd, EPOLL_CTL_MOD, sc->fd, &e) == 0)
		sc->epev = ev;
}

/* Write queued bytes; -1 if the connection broke. */
static int write_out(struct ccd *d, struct sconn *sc)
{
	size_t off = 0;

	while (off < sc->olen) {
		ssize_t n = send(sc->fd, sc->obuf + off, sc->olen - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		off += (size_t)n;
	}
	memmove(sc->obuf, sc->obuf + off, sc->olen - off);
	sc->olen -= off;
	set_interest(d, sc, sc->olen ? EPOLLIN | EPOLLOUT : EPOLLIN);
	return 0;
}

void ccd_secure_accept(struct ccd *d, struct ccd_listener *li)
{
	struct ccd_secure *x = d->sec;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage a;
		socklen_t alen = sizeof a;
		uint64_t now_ms = ccd_now_ms();
		char src[64], as[80];
		struct sconn *sc;
		int one = 1;
		int fd = accept4(li->fd, (struct sockaddr *)&a, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		ccd_addr_str((const struct sockaddr *)&a, as, sizeof as);
		if (fd >= SC_FD_MAP || x->n >= SC_MAX) {
			x->st.full++;
			if (log_ok(x, now_ms))
				ccd_warn("tls from %s: %u connections open, refused", as, x->n);
			close(fd);
			continue;
		}
		/* TCP's handshake proved the source address: charge it now. */
		source_key((const struct sockaddr *)&a, src, sizeof src);
		if (!ccd_rate_allow(&x->hs_rate, src, now_ms)) {
			x->st.rate_limited++;
			if (log_ok(x, now_ms))
				ccd_notice("tls handshake from %s refused: more than %u per minute "
					   "from this source (HandshakeRate)", as, d->cfg.handshake_rate);
			close(fd);
			continue;
		}
		sc = sc_new(d, false);
		/* A message longer than a receive slot (MaxPayload + headers) would
		 * be refused on udp:// too: it ends the stream as a framing error. */
		if (sc != NULL) {
			sc->scap = d->rx_slot;
			sc->sbuf = malloc(sc->scap);
		}
		if (sc == NULL || sc->sbuf == NULL) {
			ccd_err("tls from %s: out of memory", as);
			if (sc)
				sc_free(sc);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		nd_stream_init(&sc->st, sc->sbuf, sc->scap);
		sc->li = li;
		sc->view = *li;
		sc->view.fd = fd;
		sc->fd = fd;
		memcpy(&sc->peer, &a, alen);
		sc->peerlen = alen;
		snprintf(sc->addr, sizeof sc->addr, "%s", as);
		sc->started_ms = sc->last_ms = now_ms;
		{
			struct epoll_event e = { .events = EPOLLIN,
						 .data.u32 = CCD_TAG_CONN_BASE + (uint32_t)fd };
			if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
				sc_free(sc);
				close(fd);
				continue;
			}
		}
		sc->epev = EPOLLIN;
		x->by_fd[fd] = sc;
		x->fd_kind[fd] = FD_TLS_CONN;
		sc_insert(x, sc);
	}
}

void ccd_secure_event(struct ccd *d, uint32_t tag, uint32_t events)
{
	struct ccd_secure *x = d->sec;
	uint32_t fd = tag - CCD_TAG_CONN_BASE;
	struct sconn *sc;

	if (x == NULL || fd >= SC_FD_MAP || (sc = x->by_fd[fd]) == NULL)
		return;
	if ((events & EPOLLOUT) && write_out(d, sc) < 0) {
		sc_close(d, sc);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	/* Bounded, so one fast sender cannot starve the others. */
	for (int round = 0; round < 16; round++) {
		ssize_t n = recv(sc->fd, x->rbuf, SC_CHUNK, MSG_DONTWAIT);
		uint64_t now = ccd_now_us();

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (n <= 0) {
			if (!sc->authed) {
				x->st.failed++;
				if (log_ok(x, now / 1000u))
					ccd_notice("tls handshake from %s refused: device %s: "
						   "connection closed during the handshake", sc->addr,
						   ident(sc));
			}
			sc_close(d, sc);
			ccd_ack_touched(d, now);
			ccd_flush(d);
			return;
		}
		cctls_feed(&sc->k, x->rbuf, (size_t)n);
		if (sc_input(d, sc, now) < 0 || sc->k.in_len != 0) {
			ccd_ack_touched(d, now);
			ccd_flush(d);
			/* What a failed handshake queued (its alert) goes out first. */
			if (sc->olen)
				(void)write_out(d, sc);
			sc_close(d, sc);
			return;
		}
		if ((size_t)n < SC_CHUNK)
			break;
	}
	ccd_ack_touched(d, ccd_now_us());
	ccd_flush(d);
}

/* ---- routing, timers --------------------------------------------------- */

bool ccd_secure_send(struct ccd *d, int fd, const struct sockaddr *to, socklen_t tolen,
		     const uint8_t *msg, size_t len)
{
	struct ccd_secure *x = d->sec;
	struct sconn *sc;
	uint8_t *buf;

	if (x == NULL || fd < 0 || fd >= SC_FD_MAP || x->fd_kind[fd] == FD_PLAIN)
		return false;
	if (x->fd_kind[fd] == FD_DTLS_LISTENER) {
		sc = find_dtls(x, to);
		/* No connection (closed, or never authenticated): nothing may go
		 * out in clear on a dtls:// port, so the answer is dropped. */
		if (sc == NULL || !sc->authed)
			return true;
		(void)mbedtls_ssl_write(&sc->k.ssl, msg, len);
		return true;
	}
	sc = x->by_fd[fd];
	if (sc == NULL || !sc->authed || len > ND_MSG_MAX)
		return true;
	buf = x->wbuf;
	if (nd_frame_put(buf, len) != ND_OK)
		return true;
	memcpy(buf + ND_FRAME_HDR_LEN, msg, len);
	for (size_t off = 0; off < len + ND_FRAME_HDR_LEN; ) {
		int r = mbedtls_ssl_write(&sc->k.ssl, buf + off, len + ND_FRAME_HDR_LEN - off);
		if (r <= 0) {
			sc->closing = true;
			break;
		}
		off += (size_t)r;
	}
	return true;
}

void ccd_secure_flush(struct ccd *d)
{
	struct ccd_secure *x = d->sec;
	struct sconn *sc;

	if (x == NULL)
		return;
	while ((sc = x->dirty) != NULL) {
		x->dirty = sc->next_dirty;
		sc->dirty = false;
		if (write_out(d, sc) < 0)
			sc->closing = true;
	}
}

void ccd_secure_tick(struct ccd *d, uint64_t now_ms)
{
	struct ccd_secure *x = d->sec;
	struct sconn *sc, *next;

	if (x == NULL)
		return;
	for (sc = x->head; sc; sc = next) {
		next = sc->next;
		if (sc->closing) {
			sc_close(d, sc);
			continue;
		}
		if (!sc->authed) {
			if (now_ms - sc->started_ms >= SC_HANDSHAKE_MS) {
				x->st.failed++;
				if (log_ok(x, now_ms))
					ccd_notice("%s handshake from %s refused: device %s: not "
						   "finished in %u s", proto_of(sc), sc->addr,
						   ident(sc), SC_HANDSHAKE_MS / 1000);
				sc_close(d, sc);
			} else if (sc->dtls && cctls_timer_ms(&sc->k, now_ms) == 0) {
				/* Retransmit our last flight (or give up). */
				int r = cctls_handshake(&sc->k);
				if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE &&
				    r != 0) {
					hs_failed(d, sc, r, now_ms);
					sc_close(d, sc);
				}
			}
			continue;
		}
		if (now_ms - sc->last_ms >= d->cfg.session_timeout_ms) {
			x->st.closed_idle++;
			ccd_info("%s from %s (device %s): idle, closed", proto_of(sc), sc->addr,
				 sc->device);
			sc_close(d, sc);
		}
	}
}

void ccd_secure_log_stats(const struct ccd *d, const char *when)
{
	const struct ccd_secure *x = d->sec;

	if (x == NULL)
		return;
	ccd_info("%s: secure connections=%u handshakes=%llu handshake_failed=%llu "
		 "hello_verify=%llu handshake_rate_limited=%llu not_dtls=%llu full=%llu "
		 "idle_closed=%llu bad_records=%llu devices=%zu", when, x->n,
		 (unsigned long long)x->st.handshakes, (unsigned long long)x->st.failed,
		 (unsigned long long)x->st.hello_verify, (unsigned long long)x->st.rate_limited,
		 (unsigned long long)x->st.not_dtls, (unsigned long long)x->st.full,
		 (unsigned long long)x->st.closed_idle, (unsigned long long)x->st.bad_records,
		 x->keys.n);
}

/* ---- start, reload, stop ----------------------------------------------- */

static int server_cfg(struct ccd *d, struct cctls_cfg *c, enum cctls_transport t)
{
	const struct ccd_config *cf = &d->cfg;
	bool certs = d->sec->certs;
	enum cctls_err e;

	e = cctls_cfg_init(c, CCTLS_SERVER, t);
	if (e == CCTLS_OK && certs)
		e = cctls_cfg_certs(c, cf->tls_cert, cf->tls_key, cf->tls_ca);
	if (e == CCTLS_OK) {
		cctls_cfg_psk_cb(c, psk_cb, d->sec);
		c->check_cert = check_cert;
		c->check_ctx = d->sec;
		e = cctls_cfg_finish(c);
	}
	if (e != CCTLS_OK) {
		ccd_err("%s setup: %s%s%s", t == CCTLS_DTLS ? "dtls" : "tls", cctls_strerror(e),
			c->detail[0] ? ": " : "", c->detail);
		return -1;
	}
	return 0;
}

int ccd_secure_start(struct ccd *d)
{
	struct ccd_secure *x;
	bool dtls = false, tls = false;

	for (int i = 0; i < d->n_lis; i++) {
		dtls |= d->lis[i].l.proto == CCD_PROTO_DTLS;
		tls |= d->lis[i].l.proto == CCD_PROTO_TLS;
	}
	if (!dtls && !tls)
		return 0;
	x = calloc(1, sizeof *x);
	if (x == NULL || (x->plain = malloc(SC_PLAIN_MAX)) == NULL ||
	    (x->rbuf = malloc(SC_CHUNK)) == NULL ||
	    (x->wbuf = malloc(ND_MSG_MAX + ND_FRAME_HDR_LEN)) == NULL ||
	    ccd_rate_init(&x->hs_rate, 1024, d->cfg.handshake_rate) < 0) {
		ccd_err("out of memory for the dtls/tls listeners");
		if (x) {
			free(x->plain);
			free(x->rbuf);
			free(x->wbuf);
		}
		free(x);
		return -1;
	}
	d->sec = x;
	ks_init(&x->keys);
	/* Certificates need all three: the collector's own certificate and key,
	 * and the fleet CA devices are checked against.  Without the CA a
	 * certificate suite would admit any client, so it is not offered. */
	if (d->cfg.tls_cert[0] && d->cfg.tls_key[0] && d->cfg.tls_ca[0])
		x->certs = true;
	else if (d->cfg.tls_cert[0] || d->cfg.tls_key[0] || d->cfg.tls_ca[0])
		ccd_warn("TLSCertificate, TLSKey and TLSCA are needed together for device "
			 "certificates; only PSK devices can connect");
	if (load_keys(d, true) < 0)
		return -1;
	if (dtls && server_cfg(d, &x->dtls, CCTLS_DTLS) < 0)
		return -1;
	x->have_dtls = dtls;
	if (tls && server_cfg(d, &x->tls, CCTLS_TLS) < 0)
		return -1;
	x->have_tls = tls;
	for (int i = 0; i < d->n_lis; i++)
		if (d->lis[i].l.proto == CCD_PROTO_DTLS && d->lis[i].fd >= 0 &&
		    d->lis[i].fd < SC_FD_MAP)
			x->fd_kind[d->lis[i].fd] = FD_DTLS_LISTENER;
	ccd_notice("dtls/tls: device authentication by PSK%s", x->certs ?
		   " or by certificate from the fleet CA" : " only");
	return 0;
}

void ccd_secure_reload(struct ccd *d)
{
	if (d->sec == NULL)
		return;
	ccd_rate_set(&d->sec->hs_rate, d->cfg.handshake_rate);
	/* Devices already connected stay: removing a device takes effect at its
	 * next handshake (or at once with a restart). */
	(void)load_keys(d, false);
}

void ccd_secure_stop(struct ccd *d)
{
	struct ccd_secure *x = d->sec;

	if (x == NULL)
		return;
	while (x->head)
		sc_close(d, x->head);
	if (x->probe)
		sc_free(x->probe);
	if (x->have_dtls)
		cctls_cfg_free(&x->dtls);
	if (x->have_tls)
		cctls_cfg_free(&x->tls);
	ks_free(&x->keys);
	ccd_rate_free(&x->hs_rate);
	free(x->plain);
	free(x->rbuf);
	free(x->wbuf);
	free(x);
	d->sec = NULL;
}
