/* kernel/net/tls/ktls_tcp.c: the kernel's tls:// sender — netdump messages length-prefixed in a TLS 1.2 stream (mbedtls, PSK) on lwIP's raw TCP API. */
#include "kernel/kernel.h"
#include "kernel/net/net.h"
#include "kernel/net/netif.h"
#include "kernel/net/tls/ktls.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "mbedtls/ssl.h"
#include "netdump/netdump.h"

/*
 * Like dtls:// (ktls.c) this runs on the crashing thread with its process frozen,
 * polls the NIC and never sleeps; the mbedtls session (pool, entropy, PSK, the one
 * suite) is ktls.c's, only the carrier differs.
 *
 * Raw TCP API with our own mbedtls bio, not lwIP's altcp_tls: altcp_tls_mbedtls
 * brings its own mbedtls configuration and allocation (certificates, its session
 * cache, heap buffers per connection), while the dump path needs exactly the DTLS
 * client's session on a different carrier.  The bio below is about as long as the
 * glue altcp would need, and keeps TLS inside the 24 KiB pool.
 *
 * Flow control is TCP's: a netdump message is taken from the sender only when a
 * whole record of it fits the TCP send buffer, so a record is never cut and the
 * sender's clock does not run against a full queue.  Each message is one record:
 * [u16 length][message] (netdump's stream framing), 1466 bytes for a full DATA.
 */
#define REC_OVERHEAD 29                 /* TLS 1.2 AES-128-GCM: 5 header + 8 nonce + 16 tag */
#define MSG_CAP      (ND_DATA_HDR_LEN + ND_DEFAULT_PAYLOAD)
#define REC_MAX      (ND_FRAME_HDR_LEN + MSG_CAP + REC_OVERHEAD)
#define RING         TCP_WND            /* never less than what lwIP may hand us */
#define BURST        8

static struct tcp_pcb *tpcb;
static int t_state;                     /* 0 connecting, 1 connected, -1 reset/failed */
static int peer_fin;                    /* the collector closed its side */
static uint8_t ring[RING];              /* received TLS bytes not yet read by mbedtls */
static unsigned r_head, r_n;
static uint8_t out[ND_FRAME_HDR_LEN + MSG_CAP];
static uint8_t plain[2048];             /* decrypted stream chunk */
static uint8_t sbuf[2048];              /* one collector message: answers are small */
static struct nd_stream st;
static uint64_t connect_us;

static void pump(void)
{
	k_netif_poll(64);
	sys_check_timeouts();
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg, (void)pcb;
	t_state = err == ERR_OK ? 1 : -1;
	return ERR_OK;
}

/* lwIP has freed the pcb already (reset, or its retransmissions gave up). */
static void on_err(void *arg, err_t err)
{
	(void)arg, (void)err;
	tpcb = NULL;
	t_state = -1;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg, (void)pcb, (void)err;
	if (!p) {
		peer_fin = 1;
		return ERR_OK;
	}
	/* The advertised window is the ring's free space (tcp_recved as mbedtls
	 * reads), so this fits; if not, lwIP keeps the data and offers it again. */
	if (p->tot_len > RING - r_n)
		return ERR_MEM;
	unsigned tail = (r_head + r_n) % RING, first = RING - tail;
	if (first > p->tot_len)
		first = p->tot_len;
	pbuf_copy_partial(p, ring + tail, (u16_t)first, 0);
	if (first < p->tot_len)
		pbuf_copy_partial(p, ring, (u16_t)(p->tot_len - first), (u16_t)first);
	r_n += p->tot_len;
	pbuf_free(p);
	return ERR_OK;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	(void)ctx;
	if (!tpcb)
		return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
	size_t n = tcp_sndbuf(tpcb);
	if (n > len)
		n = len;
	if (n == 0 || tcp_sndqueuelen(tpcb) + 2 > TCP_SND_QUEUELEN)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	err_t e = tcp_write(tpcb, buf, (u16_t)n, TCP_WRITE_FLAG_COPY);
	if (e == ERR_MEM)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return e == ERR_OK ? (int)n : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	(void)ctx;
	if (r_n == 0) {
		if (t_state < 0)
			return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
		return peer_fin ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
	}
	size_t n = r_n < len ? r_n : len;
	for (size_t i = 0; i < n; i++)
		buf[i] = ring[(r_head + i) % RING];
	r_head = (unsigned)((r_head + n) % RING);
	r_n -= (unsigned)n;
	if (tpcb)
		tcp_recved(tpcb, (u16_t)n);
	return (int)n;
}

/* Decrypt what arrived and hand each whole message to the sender; -1: stream over.
 * heard: set to now when a message from the collector was handed over. */
static int deliver(mbedtls_ssl_context *ssl, struct nd_tx *tx, uint64_t *heard)
{
	for (;;) {
		int r = mbedtls_ssl_read(ssl, plain, sizeof(plain));
		if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
			return 0;
		if (r <= 0)
			return -1;       /* close_notify, FIN, reset, or a record that failed */
		size_t off = 0;
		while (off < (size_t)r) {
			size_t used;
			const uint8_t *m;
			size_t ml;
			if (nd_stream_push(&st, plain + off, (size_t)r - off, &used, &m, &ml) != ND_OK)
				return -1;
			off += used;
			if (m) {
				*heard = hal_time_ns() / 1000;
				nd_tx_input(tx, *heard, m, ml);
			}
		}
	}
}

/*
 * FIN after what is queued (an alert, close_notify).  The last records are given
 * up to 100 ms to be acknowledged while we still poll; after that the network
 * thread's timers finish the close once the dump is over.
 */
static void close_conn(void)
{
	uint64_t until = hal_time_ns() + 100 * 1000000ull;
	while (tpcb && (tpcb->unsent || tpcb->unacked) && hal_time_ns() < until) {
		tcp_output(tpcb);
		pump();
	}
	if (tpcb) {
		tcp_arg(tpcb, NULL);
		tcp_recv(tpcb, NULL);
		tcp_err(tpcb, NULL);
		if (tcp_close(tpcb) != ERR_OK)
			tcp_abort(tpcb);
		tpcb = NULL;
	}
}

static enum nd_tx_state fail(void)
{
	close_conn();
	ktls_end();
	return ND_TX_FAILED;
}

enum nd_tx_state ktls_tcp_attempt(struct nd_tx *tx, struct nd_tx_cfg *cfg,
				  const struct nd_meta *meta, nd_read_fn read, void *rctx,
				  const ip_addr_t *addr, uint16_t port, const uint8_t *psk,
				  size_t psk_len)
{
	uint64_t deadline = hal_time_ns() + cfg->give_up_us * 1000u;
	int r;

	/* A whole DATA message per record: no record cut by the 2 KiB record buffer.
	 * TCP's window and congestion control pace the stream; the sender's own pacer
	 * would measure TCP's queueing and hold data back for nothing.  Set up before
	 * connecting, so that an attempt that fails early reports its own (empty)
	 * figures, not the previous attempt's. */
	cfg->payload = ND_DEFAULT_PAYLOAD;
	cfg->pace = 0;
	/* TCP delivers every message or breaks the connection (then the next attempt
	 * resumes): netdump's own retransmissions and re-OPENs within one connection
	 * only add duplicates, and answers to them, behind a lost segment. */
	cfg->rto_init_us = cfg->rto_min_us = cfg->rto_max_us = cfg->give_up_us;
	cfg->reopen_timeouts = 0;
	if (nd_tx_init(tx, cfg, meta, read, rctx) != ND_OK)
		return ND_TX_FAILED;
	if (ktls_begin(MBEDTLS_SSL_TRANSPORT_STREAM, "tls", meta->device, psk, psk_len) != 0)
		return ND_TX_FAILED;
	mbedtls_ssl_context *ssl = ktls_ssl();
	mbedtls_ssl_set_bio(ssl, NULL, bio_send, bio_recv, NULL);
	r_head = r_n = 0;
	t_state = peer_fin = 0;
	tpcb = tcp_new_ip_type(IP_GET_TYPE(addr));
	if (!tpcb) {
		k_printf("[net] tls: no TCP connection free\n");
		return fail();
	}
	tcp_nagle_disable(tpcb);  /* each record goes out whole and at once */
	tcp_err(tpcb, on_err);
	tcp_recv(tpcb, on_recv);
	uint64_t t0 = hal_time_ns();
	if (tcp_connect(tpcb, addr, port, on_connected) != ERR_OK) {
		k_printf("[net] tls: cannot connect\n");
		return fail();
	}
	while (t_state == 0) {
		if (hal_time_ns() > deadline) {
			k_printf("[net] tls: no connection (no answer)\n");
			return fail();
		}
		pump();
	}
	if (t_state < 0) {
		k_printf("[net] tls: connection refused\n");
		return fail();
	}
	connect_us = (hal_time_ns() - t0) / 1000;

	t0 = hal_time_ns();
	while ((r = mbedtls_ssl_handshake(ssl)) != 0) {
		if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
			if (r == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
				k_printf("[net] tls handshake failed: %s (alert %d)\n",
					 ktls_alert_text(ssl->in_msg[1]), ssl->in_msg[1]);
			else
				k_printf("[net] tls handshake failed: error -0x%x%s\n", (unsigned)-r,
					 r == MBEDTLS_ERR_SSL_CONN_EOF ? " (connection closed)" : "");
			return fail();
		}
		if (tpcb)
			tcp_output(tpcb);
		if (hal_time_ns() > deadline) {
			k_printf("[net] tls handshake failed: no answer\n");
			return fail();
		}
		pump();
	}
	k_printf("[net] tls: authenticated as %s (%s) in %lu us (TCP connect %lu us)\n",
		 meta->device, mbedtls_ssl_get_ciphersuite(ssl),
		 (unsigned long)((hal_time_ns() - t0) / 1000), (unsigned long)connect_us);

	nd_stream_init(&st, sbuf, sizeof(sbuf));
	size_t pend = 0;                 /* a record mbedtls has not finished writing */
	uint64_t heard = hal_time_ns() / 1000;
	while (!nd_tx_done(tx)) {
		pump();
		if (deliver(ssl, tx, &heard) != 0 || !tpcb) {
			if (nd_tx_done(tx))
				break;   /* the answer that ended the transfer came with the close */
			k_printf("[net] tls: the collector closed the connection\n");
			return fail();
		}
		for (int i = 0; i < BURST; i++) {
			if (pend == 0) {
				if (tcp_sndbuf(tpcb) < REC_MAX ||
				    tcp_sndqueuelen(tpcb) + 4 > TCP_SND_QUEUELEN)
					break;
				size_t len = nd_tx_poll(tx, hal_time_ns() / 1000, out + ND_FRAME_HDR_LEN,
							MSG_CAP);
				if (len == 0)
					break;
				(void)nd_frame_put(out, len);
				pend = len + ND_FRAME_HDR_LEN;
			}
			/* WANT_WRITE: mbedtls keeps the rest of the record; call again with
			 * the same bytes (its contract) once TCP has room. */
			r = mbedtls_ssl_write(ssl, out, pend);
			if (r == MBEDTLS_ERR_SSL_WANT_WRITE)
				break;
			if (r < 0) {
				k_printf("[net] tls: write failed: error -0x%x\n", (unsigned)-r);
				return fail();
			}
			pend = 0;
		}
		if (tpcb)
			tcp_output(tpcb);
		/* The sender's own silence timeout runs only in nd_tx_poll, which is not
		 * called while TCP's send buffer is full.  A path that stops carrying
		 * acks, or a collector that stops reading (closed window), is no error
		 * to TCP for minutes of back-off or probes.  Same limit as the
		 * sender's (plus a second, so that the sender's own timeout, when it
		 * can run, names the failure), counted here. */
		if (hal_time_ns() / 1000 - heard > cfg->give_up_us + 1000000u) {
			k_printf("[net] tls: the collector is silent and TCP cannot send\n");
			return fail();
		}
	}
	(void)mbedtls_ssl_close_notify(ssl);
	if (tpcb)
		tcp_output(tpcb);
	close_conn();
	ktls_end();
	return nd_tx_state(tx);
}
