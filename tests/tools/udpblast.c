/* tests/tools/udpblast.c: raw UDP blast sender and sink, the throughput ceiling a reliable protocol is measured against. */
/*
 *   udpblast sink [--listen ADDR:PORT] [--port-file F] [--idle-ms N] [--expect-bytes N]
 *   udpblast send --target HOST:PORT --bytes N [--payload B] [--pps N]
 *
 * The sender pushes datagrams (each starting with a 64-bit sequence number) as fast
 * as sendmmsg allows, or paced to --pps.  The sink starts its clock at the first
 * datagram and stops after --idle-ms without traffic or once --expect-bytes arrived;
 * it reports what arrived between the first and the last datagram, so the figure is
 * the rate the path delivered, independent of any added propagation delay.  Output,
 * one line on stdout:
 *   udpblast: bytes=N packets=N lost=N seconds=S MBps=X
 * (MB = 10^6 bytes; lost counts sequence numbers never seen).
 */
#include "tests/tools/netaddr.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TOOL  "udpblast"
#define BATCH 64

static uint64_t num(const char *opt, const char *v)
{
	char *end;
	unsigned long long x = strtoull(v, &end, 0);
	if (*end || !*v) {
		fprintf(stderr, "%s: %s %s: expected a number\n", TOOL, opt, v);
		exit(2);
	}
	return x;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: udpblast sink [--listen ADDR:PORT] [--port-file F] [--idle-ms N]"
		   " [--expect-bytes N]\n"
		   "       udpblast send --target HOST:PORT --bytes N [--payload B] [--pps N]\n");
}

static int sink(int argc, char **argv)
{
	const char *listen_s = "127.0.0.1:0", *port_file = NULL;
	uint64_t idle_ms = 1000, expect = 0;
	for (int a = 0; a < argc; a++) {
		if (a + 1 >= argc)
			goto bad;
		if (strcmp(argv[a], "--listen") == 0)
			listen_s = argv[++a];
		else if (strcmp(argv[a], "--port-file") == 0)
			port_file = argv[++a];
		else if (strcmp(argv[a], "--idle-ms") == 0)
			idle_ms = num(argv[a], argv[a + 1]), a++;
		else if (strcmp(argv[a], "--expect-bytes") == 0)
			expect = num(argv[a], argv[a + 1]), a++;
		else
			goto bad;
	}
	struct sockaddr_storage ss;
	socklen_t sl;
	if (tt_parse_addr(TOOL, listen_s, &ss, &sl) < 0)
		return 2;
	int fd = tt_udp_bind(TOOL, &ss, &sl, 16 << 20);
	if (fd < 0)
		return 1;
	if (port_file && tt_write_port_file(TOOL, port_file, tt_addr_port(&ss)) < 0)
		return 1;

	static uint8_t bufs[BATCH][65536];
	struct mmsghdr msgs[BATCH];
	struct iovec iovs[BATCH];
	uint64_t bytes = 0, packets = 0, max_seq = 0, first = 0, last = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int timeout = first ? (int)idle_ms : -1;
		int r = poll(&pfd, 1, timeout);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: poll: %s\n", TOOL, strerror(errno));
			return 1;
		}
		for (int k = 0; k < BATCH; k++) {
			iovs[k].iov_base = bufs[k];
			iovs[k].iov_len = sizeof(bufs[k]);
			memset(&msgs[k], 0, sizeof(msgs[k]));
			msgs[k].msg_hdr.msg_iov = &iovs[k];
			msgs[k].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			continue;
		uint64_t now = tt_now_ns();
		if (!first)
			first = now;
		last = now;
		for (int k = 0; k < n; k++) {
			bytes += msgs[k].msg_len;
			packets++;
			if (msgs[k].msg_len >= 8) {
				uint64_t seq;
				memcpy(&seq, bufs[k], 8);
				if (seq + 1 > max_seq)
					max_seq = seq + 1;
			}
		}
		if (expect && bytes >= expect)
			break;
	}
	double secs = (double)(last - first) / 1e9;
	/* A single batch has no duration; count it as one microsecond, not infinity. */
	if (secs <= 0)
		secs = 1e-6;
	printf("udpblast: bytes=%" PRIu64 " packets=%" PRIu64 " lost=%" PRIu64
	       " seconds=%.6f MBps=%.2f\n",
	       bytes, packets, max_seq > packets ? max_seq - packets : 0, secs,
	       (double)bytes / secs / 1e6);
	return 0;
bad:
	usage(stderr);
	return 2;
}

static int send_blast(int argc, char **argv)
{
	const char *target_s = NULL;
	uint64_t total = 0, payload = 1400, pps = 0;
	for (int a = 0; a < argc; a++) {
		if (a + 1 >= argc)
			goto bad;
		if (strcmp(argv[a], "--target") == 0)
			target_s = argv[++a];
		else if (strcmp(argv[a], "--bytes") == 0)
			total = num(argv[a], argv[a + 1]), a++;
		else if (strcmp(argv[a], "--payload") == 0)
			payload = num(argv[a], argv[a + 1]), a++;
		else if (strcmp(argv[a], "--pps") == 0)
			pps = num(argv[a], argv[a + 1]), a++;
		else
			goto bad;
	}
	if (!target_s || !total || payload < 8 || payload > 65507)
		goto bad;
	struct sockaddr_storage dst;
	socklen_t dl;
	if (tt_parse_addr(TOOL, target_s, &dst, &dl) < 0)
		return 2;
	struct sockaddr_storage any = { .ss_family = dst.ss_family };
	socklen_t al = sizeof(any);
	int fd = tt_udp_bind(TOOL, &any, &al, 4 << 20);
	if (fd < 0)
		return 1;

	static uint8_t bufs[BATCH][65536];
	struct mmsghdr msgs[BATCH];
	struct iovec iovs[BATCH];
	uint64_t seq = 0, sent = 0, t0 = tt_now_ns();
	while (sent < total) {
		int n = 0;
		while (n < BATCH && sent + (uint64_t)n * payload < total) {
			uint64_t left = total - sent - (uint64_t)n * payload;
			uint64_t s = seq + (uint64_t)n;
			memcpy(bufs[n], &s, 8);
			iovs[n].iov_base = bufs[n];
			iovs[n].iov_len = left < payload ? (left < 8 ? 8 : left) : payload;
			memset(&msgs[n], 0, sizeof(msgs[n]));
			msgs[n].msg_hdr.msg_iov = &iovs[n];
			msgs[n].msg_hdr.msg_iovlen = 1;
			msgs[n].msg_hdr.msg_name = &dst;
			msgs[n].msg_hdr.msg_namelen = dl;
			n++;
		}
		if (pps) {
			/* Pace in batches: wait until this batch is due. */
			uint64_t due = t0 + seq * 1000000000ull / pps;
			while (tt_now_ns() < due)
				usleep(50);
		}
		int r = sendmmsg(fd, msgs, (unsigned)n, 0);
		if (r < 0) {
			if (errno == EAGAIN || errno == ENOBUFS) {
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };
				poll(&pfd, 1, 10);
				continue;
			}
			fprintf(stderr, "%s: send to %s: %s\n", TOOL, target_s, strerror(errno));
			return 1;
		}
		for (int k = 0; k < r; k++)
			sent += iovs[k].iov_len;
		seq += (uint64_t)r;
	}
	double secs = (double)(tt_now_ns() - t0) / 1e9;
	printf("udpblast: sent bytes=%" PRIu64 " packets=%" PRIu64 " seconds=%.6f MBps=%.2f\n",
	       sent, seq, secs, (double)sent / secs / 1e6);
	return 0;
bad:
	usage(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "sink") == 0)
		return sink(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "send") == 0)
		return send_blast(argc - 2, argv + 2);
	usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
	return 2;
}
