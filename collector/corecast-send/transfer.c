/* collector/corecast-send/transfer.c: the poll() loop around nd_tx, batching with sendmmsg, progress bar. */
#include "collector/corecast-send/transfer.h"
#include "collector/tls/client.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH     32           /* messages per sendmmsg */
#define MSG_CAP   (ND_DATA_HDR_LEN + ND_PAYLOAD_MAX)
#define DRAIN_MAX 256          /* replies read per drain */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void deliver(void *ctx, const uint8_t *msg, size_t len)
{
	struct nd_tx *tx = ctx;

	if (!nd_tx_done(tx))
		nd_tx_input(tx, mono_us(), msg, len);
}

/* Read every reply waiting on the socket without blocking. */
static void drain(struct nd_tx *tx, int fd, struct cctls_client *tls)
{
	static uint8_t in[2048];

	if (tls) {
		(void)cctls_client_recv(tls, deliver, tx);   /* failure: tls->failed */
		return;
	}
	for (int i = 0; i < DRAIN_MAX && !nd_tx_done(tx); i++) {
		ssize_t n = recv(fd, in, sizeof in, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN: empty; ECONNREFUSED: an ICMP error from an earlier
			 * send (collector down) — the retransmission timer copes. */
			return;
		}
		nd_tx_input(tx, mono_us(), in, (size_t)n);
	}
}

static void flush(int fd, struct mmsghdr *mm, unsigned n, struct cctls_client *tls)
{
	if (tls) {
		/* One netdump message per record (DTLS: per datagram). */
		for (unsigned i = 0; i < n && !tls->failed; i++)
			cctls_client_send(tls, mm[i].msg_hdr.msg_iov->iov_base,
					  mm[i].msg_hdr.msg_iov->iov_len);
		cctls_client_flush(tls);
		return;
	}
	cctls_send_datagrams(fd, mm, n);
}

static void human(double bytes, char *buf, size_t n)
{
	const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;
	while (bytes >= 1024 && i < 4) {
		bytes /= 1024;
		i++;
	}
	snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", bytes, u[i]);
}

static void draw(const struct nd_tx *tx, double secs, int final)
{
	struct nd_tx_stats st;
	char a[32], b[32];
	uint64_t size = tx->meta.core_size;

	nd_tx_stats(tx, &st);
	double frac = size ? (double)st.acked / (double)size : 1.0;
	int w = 30, fill = (int)(frac * w);
	char bar[64];
	for (int i = 0; i < w; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[w] = 0;
	human((double)st.acked, a, sizeof a);
	human((double)size, b, sizeof b);
	fprintf(stderr, "\r%-9s [%s] %3d%% %s/%s %.1f MB/s ", nd_tx_state_str(nd_tx_state(tx)),
	        bar, (int)(frac * 100), a, b, secs > 0 ? (double)st.acked / secs / 1e6 : 0.0);
	if (final)
		fputc('\n', stderr);
}

void transfer_run(struct nd_tx *tx, int fd, const struct transfer_opts *o,
                  struct transfer_result *r)
{
	static uint8_t bufs[BATCH][MSG_CAP];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct sigaction sa;
	uint64_t t0 = mono_us(), next_draw = 0;

	memset(r, 0, sizeof *r);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}

	while (!nd_tx_done(tx)) {
		uint64_t now = mono_us();
		if (stop_signal) {
			r->interrupted = 1;
			break;
		}
		if (o->tls && o->tls->failed) {
			r->link_failed = 1;
			break;
		}
		if (o->max_seconds > 0 && (double)(now - t0) / 1e6 >= o->max_seconds) {
			r->stopped_early = 1;
			break;
		}
		/* Send everything that is due, a batch at a time, reading replies
		 * between batches so acks are never left waiting behind a window. */
		unsigned n = 0;
		for (;;) {
			size_t len = nd_tx_poll(tx, now, bufs[n], MSG_CAP);
			if (!len)
				break;
			iov[n].iov_len = len;
			if (++n == BATCH) {
				flush(fd, mm, n, o->tls);
				n = 0;
				drain(tx, fd, o->tls);
			}
			now = mono_us();
		}
		if (n)
			flush(fd, mm, n, o->tls);
		if (!r->data_seconds && nd_tx_state(tx) >= ND_TX_FINISHING)
			r->data_seconds = (double)(mono_us() - t0) / 1e6;
		if (nd_tx_done(tx))
			break;

		if (o->progress && now >= next_draw) {
			draw(tx, (double)(now - t0) / 1e6, 0);
			next_draw = now + 100000;
		}
		uint64_t t = nd_tx_timeout(tx, now);
		int ms = 0;
		if (t > now) {
			uint64_t d = (t - now + 999) / 1000;
			ms = d > 100 ? 100 : (int)d;  /* wake for the progress bar and signals */
		}
		struct pollfd p = { fd, POLLIN, 0 };
		int rc = poll(&p, 1, ms);
		if (rc > 0)
			drain(tx, fd, o->tls);
	}
	if (o->tls && o->tls->failed && !nd_tx_done(tx))
		r->link_failed = 1;
	r->seconds = (double)(mono_us() - t0) / 1e6;
	if (o->progress)
		draw(tx, r->seconds, 1);
}
