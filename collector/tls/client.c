/* collector/tls/client.c: the sender's end of a DTLS or TLS link — handshake, send batches, receive messages. */
#include "collector/tls/client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>

static void fail(struct cctls_client *cl, const char *fmt, const char *arg)
{
	if (!cl->failed)
		snprintf(cl->why, sizeof cl->why, fmt, arg);
	cl->failed = 1;
}

/* DTLS: every record becomes one datagram of the next sendmmsg. */
static int out_dgram(void *ctx, const uint8_t *buf, size_t len)
{
	struct cctls_client *cl = ctx;

	if (len > CCTLS_REC_MAX)
		return MBEDTLS_ERR_NET_SEND_FAILED;
	if (cl->n_out == CCTLS_BATCH)
		cctls_client_flush(cl);
	memcpy(cl->out + (size_t)cl->n_out * CCTLS_REC_MAX, buf, len);
	cl->iov[cl->n_out].iov_len = len;
	cl->n_out++;
	return (int)len;
}

/* TLS: the socket is blocking with a send timeout, so a stalled collector ends
 * the transfer instead of hanging it. */
static int out_stream(void *ctx, const uint8_t *buf, size_t len)
{
	struct cctls_client *cl = ctx;
	ssize_t n;

	for (;;) {
		n = send(cl->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			fail(cl, "%s", "collector stopped reading (send timed out)");
		else
			fail(cl, "send: %s", strerror(errno));
		return MBEDTLS_ERR_NET_SEND_FAILED;
	}
}

int cctls_client_init(struct cctls_client *cl, const struct cctls_client_opts *o)
{
	enum cctls_err e;

	memset(cl, 0, sizeof *cl);
	cl->fd = -1;
	cl->transport = o->transport;
	cl->out = malloc((size_t)CCTLS_BATCH * CCTLS_REC_MAX);
	cl->rbuf = malloc(CCTLS_REC_MAX);
	cl->plain = malloc(CCTLS_REC_MAX);
	cl->sbuf = malloc(ND_MSG_MAX);
	if (!cl->out || !cl->rbuf || !cl->plain || !cl->sbuf) {
		fail(cl, "%s", "out of memory");
		return -1;
	}
	for (int i = 0; i < CCTLS_BATCH; i++) {
		cl->iov[i].iov_base = cl->out + (size_t)i * CCTLS_REC_MAX;
		cl->mm[i].msg_hdr.msg_iov = &cl->iov[i];
		cl->mm[i].msg_hdr.msg_iovlen = 1;
	}
	nd_stream_init(&cl->stream, cl->sbuf, ND_MSG_MAX);
	e = cctls_cfg_init(&cl->cfg, CCTLS_CLIENT, o->transport);
	cl->cfg.aead = o->aead;
	if (e == CCTLS_OK && o->psk)
		e = cctls_cfg_psk(&cl->cfg, o->device, o->psk, o->psk_len);
	if (e == CCTLS_OK && (o->cert || o->ca))
		e = cctls_cfg_certs(&cl->cfg, o->cert, o->key, o->ca);
	if (e == CCTLS_OK)
		e = cctls_cfg_finish(&cl->cfg);
	if (e == CCTLS_OK)
		e = cctls_conn_init(&cl->conn, &cl->cfg,
				    o->transport == CCTLS_DTLS ? out_dgram : out_stream, cl);
	if (e != CCTLS_OK) {
		snprintf(cl->why, sizeof cl->why, "%s%s%s", cctls_strerror(e),
			 cl->cfg.detail[0] ? ": " : "", cl->cfg.detail);
		cl->failed = 1;
		return -1;
	}
	return 0;
}

void cctls_client_free(struct cctls_client *cl)
{
	cctls_conn_free(&cl->conn);
	cctls_cfg_free(&cl->cfg);
	free(cl->out);
	free(cl->rbuf);
	free(cl->plain);
	free(cl->sbuf);
}

void cctls_send_datagrams(int fd, struct mmsghdr *mm, unsigned n)
{
	unsigned done = 0;

	while (done < n) {
		int r = sendmmsg(fd, mm + done, n - done, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			done++;   /* refused: a loss as far as netdump is concerned */
			continue;
		}
		done += (unsigned)r;
	}
}

void cctls_client_flush(struct cctls_client *cl)
{
	cctls_send_datagrams(cl->fd, cl->mm, cl->n_out);
	cl->n_out = 0;
}

/* Read one datagram or stream chunk and feed it; 0 nothing, 1 fed, -1 failed. */
static int read_some(struct cctls_client *cl)
{
	ssize_t n = recv(cl->fd, cl->rbuf, CCTLS_REC_MAX, MSG_DONTWAIT);

	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		if (cl->transport == CCTLS_DTLS)
			return 0;   /* ECONNREFUSED from an earlier datagram: retried */
		fail(cl, "receive: %s", strerror(errno));
		return -1;
	}
	if (n == 0 && cl->transport == CCTLS_TLS) {
		fail(cl, "%s", "the collector closed the connection");
		return -1;
	}
	cctls_feed(&cl->conn, cl->rbuf, (size_t)n);
	return 1;
}

/*
 * A TLS peer that refuses us sends a fatal alert and closes; when our own
 * writes hit the closed socket first, the alert still sits in the receive
 * queue.  Handshake alerts travel before encryption starts, so a plain scan
 * of the records finds it and the user learns why rather than "broken pipe".
 */
static void alert_from_socket(struct cctls_client *cl)
{
	size_t have = 0;
	const char *why;

	while (have < CCTLS_REC_MAX) {
		struct pollfd p = { cl->fd, POLLIN, 0 };
		ssize_t n;
		if (poll(&p, 1, 200) <= 0)
			break;
		n = recv(cl->fd, cl->rbuf + have, CCTLS_REC_MAX - have, MSG_DONTWAIT);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	for (size_t off = 0; off + 5 <= have; ) {
		size_t len = (size_t)cl->rbuf[off + 3] << 8 | cl->rbuf[off + 4];
		if (cl->rbuf[off] == MBEDTLS_SSL_MSG_ALERT && len == 2 && off + 7 <= have &&
		    cl->rbuf[off + 5] == MBEDTLS_SSL_ALERT_LEVEL_FATAL) {
			why = cctls_alert_reason(cl->rbuf[off + 6]);
			snprintf(cl->why, sizeof cl->why, "handshake failed: %s",
				 why ? why : "the collector sent a fatal alert");
			return;
		}
		off += 5 + len;
	}
}

/*
 * A TLS handshake we abandon (we refused the collector, or it refused us): our
 * alert must reach it before the connection goes.  Closing a socket with unread
 * bytes (the rest of the collector's flight) sends a reset, which can destroy
 * the alert in the collector's receive queue; so read what is there, send FIN,
 * and give the collector a moment to close its side.
 */
static void stream_linger(struct cctls_client *cl)
{
	uint64_t until = cctls_now_ms() + 300;

	if (cl->transport != CCTLS_TLS || cl->fd < 0)
		return;
	while (recv(cl->fd, cl->rbuf, CCTLS_REC_MAX, MSG_DONTWAIT) > 0)
		;
	shutdown(cl->fd, SHUT_WR);
	while (cctls_now_ms() < until) {
		struct pollfd p = { cl->fd, POLLIN, 0 };
		if (poll(&p, 1, 50) > 0 && recv(cl->fd, cl->rbuf, CCTLS_REC_MAX, MSG_DONTWAIT) <= 0)
			break;
	}
}

int cctls_client_handshake(struct cctls_client *cl, int fd, uint64_t timeout_ms)
{
	uint64_t deadline = cctls_now_ms() + timeout_ms;
	char reason[160];

	cl->fd = fd;
	for (;;) {
		int r = cctls_handshake(&cl->conn);
		uint64_t now, wait;
		struct pollfd p = { fd, POLLIN, 0 };

		cctls_client_flush(cl);
		if (r == 0)
			return 0;
		if (cl->failed) {
			if (cl->transport == CCTLS_TLS)
				alert_from_socket(cl);
			stream_linger(cl);
			return -1;
		}
		if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
			fail(cl, "handshake failed: %s", cctls_reason(&cl->conn, r, reason,
								     sizeof reason));
			stream_linger(cl);
			return -1;
		}
		now = cctls_now_ms();
		if (now >= deadline) {
			fail(cl, "%s", "handshake timed out (collector unreachable, or it "
			     "silently refuses this device)");
			return -1;
		}
		wait = deadline - now;
		if (cctls_timer_ms(&cl->conn, now) < wait)
			wait = cctls_timer_ms(&cl->conn, now);
		if (poll(&p, 1, (int)(wait > 1000 ? 1000 : wait)) > 0 && read_some(cl) < 0) {
			/* The collector closed: what it said before is in the
			 * records read so far (an alert), if anything. */
			r = cctls_handshake(&cl->conn);
			if (cl->conn.alert >= 0) {
				snprintf(cl->why, sizeof cl->why, "handshake failed: %s",
					 cctls_reason(&cl->conn, r, reason, sizeof reason));
			}
			return -1;
		}
	}
}

size_t cctls_client_overhead(const struct cctls_client *cl)
{
	return cctls_overhead(&cl->conn);
}

int cctls_client_send(struct cctls_client *cl, const uint8_t *msg, size_t len)
{
	uint8_t pfx[ND_FRAME_HDR_LEN];
	int r;

	if (cl->failed)
		return -1;
	if (cl->transport == CCTLS_TLS) {
		/* Prefix and message in one record would need a copy; two writes
		 * cost a second, tiny record.  Copy: records are what is costly. */
		if (nd_frame_put(pfx, len) != ND_OK || len + sizeof pfx > CCTLS_REC_MAX)
			return -1;
		memcpy(cl->plain, pfx, sizeof pfx);
		memcpy(cl->plain + sizeof pfx, msg, len);
		msg = cl->plain;
		len += sizeof pfx;
	}
	if (cl->transport == CCTLS_DTLS && cl->conn.fast.ready) {
		size_t n;
		if (cl->n_out == CCTLS_BATCH)
			cctls_client_flush(cl);
		n = cctls_fast_seal(&cl->conn, msg, len, cl->out + (size_t)cl->n_out * CCTLS_REC_MAX,
				    CCTLS_REC_MAX);
		if (n > 0) {
			cl->iov[cl->n_out].iov_len = n;
			cl->n_out++;
			return 0;
		}
		/* the counter is exhausted or the message too long: mbedtls decides */
	}
	while (len > 0) {
		r = mbedtls_ssl_write(&cl->conn.ssl, msg, len);
		if (r < 0) {
			char e[120];
			mbedtls_strerror(r, e, sizeof e);
			fail(cl, "encrypting: %s", e);
			return -1;
		}
		msg += r;
		len -= (size_t)r;
	}
	return 0;
}

int cctls_client_recv(struct cctls_client *cl,
		      void (*deliver)(void *ctx, const uint8_t *msg, size_t len), void *ctx)
{
	for (int rounds = 0; rounds < 256; rounds++) {
		int f = read_some(cl);
		if (f <= 0)
			return f;
		for (;;) {
			int r = mbedtls_ssl_read(&cl->conn.ssl, cl->plain, CCTLS_REC_MAX);
			if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
				break;
			if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
				fail(cl, "%s", "the collector closed the connection");
				return -1;
			}
			if (r < 0) {
				char e[120];
				if (cl->transport == CCTLS_DTLS &&
				    r != MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
					break;   /* a bad datagram: dropped, like on UDP */
				mbedtls_strerror(r, e, sizeof e);
				fail(cl, "link failed: %s", e);
				return -1;
			}
			if (cl->transport == CCTLS_DTLS) {
				deliver(ctx, cl->plain, (size_t)r);
				continue;
			}
			for (size_t off = 0; off < (size_t)r; ) {
				const uint8_t *m;
				size_t used, ml;
				if (nd_stream_push(&cl->stream, cl->plain + off, (size_t)r - off,
						   &used, &m, &ml) != ND_OK) {
					fail(cl, "%s", "the collector's stream lost its framing");
					return -1;
				}
				off += used;
				if (m)
					deliver(ctx, m, ml);
			}
		}
	}
	return 0;
}

void cctls_client_close(struct cctls_client *cl)
{
	if (cl->fd >= 0 && !cl->failed) {
		(void)mbedtls_ssl_close_notify(&cl->conn.ssl);
		cctls_client_flush(cl);
	}
}
