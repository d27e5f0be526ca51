/* tests/tools/impair.c: user-space UDP impairment proxy (loss, duplication, reordering, delay, rate) for tests and benchmarks. */
/*
 * These machines have no netem, so the tests own this proxy.  It listens on one
 * UDP port; every distinct client address gets its own upstream socket towards
 * the target, so the target sees one stable source address per client (the
 * collector binds its cookies to it) and replies find their way back.
 *
 * Each direction ("up" = client -> target, "down" = target -> client) has its
 * own impairments and seeded random generator, so a run is reproducible for a
 * given seed and traffic.  Packets live in a preallocated slot pool (no malloc
 * per packet); they wait in a per-direction FIFO until their release time.
 * Because the added delay is constant per direction and the rate limiter hands
 * out monotonically increasing departure times, release times within a
 * direction never decrease, so a FIFO is an exact priority queue here and costs
 * O(1) per packet.  A timerfd armed at the earliest release time wakes the loop:
 * nothing ever sleeps.  Reordering holds a packet back until the next packet of
 * the same direction has been queued (a swap), or until --reorder-hold expires.
 *
 * Counters are printed on stderr on SIGUSR1 and at exit (SIGTERM/SIGINT).
 */
#include "tests/tools/netaddr.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define TOOL       "impair"
#define BATCH      64
#define NONE       UINT32_MAX
#define SOCKBUF    (8 << 20)

/* epoll tags below this value are fixed descriptors; above, a flow index + TAG_FLOW. */
enum { TAG_LISTEN = 1, TAG_TIMER, TAG_SIGNAL, TAG_FLOW = 16 };

struct flow {
	struct sockaddr_storage client;
	socklen_t client_len;
	int fd;                       /* upstream socket towards the target */
	bool used;
};

struct pkt {
	uint32_t next;                /* FIFO / free-list link */
	uint32_t len;
	uint32_t flow;
	uint64_t due;                 /* release time, monotonic ns */
};

struct counters {
	uint64_t rx, rx_bytes, lost, duplicated, reordered, overflow, trunc;
	uint64_t tx, tx_bytes, tx_err;
};

struct dir {
	const char *name;
	/* Probabilities as thresholds over 2^32; 0 disables. */
	uint64_t loss, dup, reorder;
	uint64_t delay_ns, hold_ns;
	double rate_Bps;              /* 0 = unlimited */
	uint32_t queue_limit;
	uint64_t rng;

	uint32_t head, tail, count;   /* FIFO of packets waiting for release */
	uint32_t held;                /* packet held back for reordering, or NONE */
	uint64_t held_deadline;
	uint64_t next_free;           /* rate limiter: when the link is free again */
	struct counters c;
};

static struct {
	int lfd, tfd, sfd, ep;
	struct sockaddr_storage listen, target;
	socklen_t listen_len, target_len;
	uint32_t slot_size, npool;
	uint8_t *pool;
	struct pkt *pkts;
	uint32_t free_head, nfree;
	struct flow *flows;
	uint32_t max_flows, nflows;
	uint32_t *htab;               /* open-addressed client-address -> flow index */
	uint32_t hcap;
	uint64_t retry_at;            /* a send hit EAGAIN: try again at this time */
	uint64_t armed;               /* expiry the timerfd is set to (UINT64_MAX: none) */
	struct dir up, down;
} g;

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: tiny, seedable, good enough for impairment decisions. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static bool chance(struct dir *d, uint64_t threshold)
{
	return threshold && (rng_next(&d->rng) & 0xffffffffu) < threshold;
}

static uint8_t *slot(uint32_t i)
{
	return g.pool + (size_t)i * g.slot_size;
}

static uint32_t pkt_alloc(void)
{
	uint32_t i = g.free_head;
	if (i == NONE)
		return NONE;
	g.free_head = g.pkts[i].next;
	g.nfree--;
	return i;
}

static void pkt_free(uint32_t i)
{
	g.pkts[i].next = g.free_head;
	g.free_head = i;
	g.nfree++;
}

static void print_counters(void)
{
	const struct dir *ds[2] = { &g.up, &g.down };
	for (int k = 0; k < 2; k++) {
		const struct counters *c = &ds[k]->c;
		fprintf(stderr,
			"impair: %s rx=%" PRIu64 " rx_bytes=%" PRIu64 " lost=%" PRIu64
			" duplicated=%" PRIu64 " reordered=%" PRIu64 " overflow=%" PRIu64
			" trunc=%" PRIu64 " tx=%" PRIu64 " tx_bytes=%" PRIu64 " tx_err=%" PRIu64
			" queued=%u\n",
			ds[k]->name, c->rx, c->rx_bytes, c->lost, c->duplicated, c->reordered,
			c->overflow, c->trunc, c->tx, c->tx_bytes, c->tx_err, ds[k]->count);
	}
	fprintf(stderr, "impair: flows=%u\n", g.nflows);
}

/* ---- client address -> flow ---------------------------------------------- */

static uint64_t addr_hash(const struct sockaddr_storage *a)
{
	uint64_t h = 1469598103934665603ull;
	const uint8_t *p;
	size_t n;
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)a;
		p = (const uint8_t *)&s->sin6_addr;
		n = 16;
		h = (h ^ s->sin6_port) * 1099511628211ull;
	} else {
		const struct sockaddr_in *s = (const struct sockaddr_in *)a;
		p = (const uint8_t *)&s->sin_addr;
		n = 4;
		h = (h ^ s->sin_port) * 1099511628211ull;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static bool addr_eq(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
	return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

/* Find the flow of a client, creating it (and its upstream socket) on first sight. */
static uint32_t flow_get(const struct sockaddr_storage *a, socklen_t alen)
{
	uint32_t h = (uint32_t)addr_hash(a) & (g.hcap - 1);
	while (g.htab[h] != NONE) {
		if (addr_eq(&g.flows[g.htab[h]].client, a))
			return g.htab[h];
		h = (h + 1) & (g.hcap - 1);
	}
	if (g.nflows >= g.max_flows)
		return NONE;

	struct sockaddr_storage any = { .ss_family = g.target.ss_family };
	socklen_t anylen = g.target.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							   : sizeof(struct sockaddr_in);
	int fd = tt_udp_bind(TOOL, &any, &anylen, SOCKBUF);
	if (fd < 0)
		return NONE;
	uint32_t fi = g.nflows++;
	struct flow *f = &g.flows[fi];
	memcpy(&f->client, a, sizeof(*a));
	f->client_len = alen;
	f->fd = fd;
	f->used = true;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_FLOW + fi };
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		fprintf(stderr, "%s: epoll_ctl: %s\n", TOOL, strerror(errno));
		exit(1);
	}
	g.htab[h] = fi;
	return fi;
}

/* ---- queueing --------------------------------------------------------------- */

static void enqueue(struct dir *d, uint32_t i, uint64_t now)
{
	struct pkt *p = &g.pkts[i];
	if (d->count >= d->queue_limit) {
		d->c.overflow++;
		pkt_free(i);
		return;
	}
	uint64_t start = now;
	if (d->rate_Bps > 0) {
		/* Serialisation on a link of the given rate, then the propagation delay. */
		if (d->next_free > start)
			start = d->next_free;
		start += (uint64_t)((double)p->len * 1e9 / d->rate_Bps);
		d->next_free = start;
	}
	p->due = start + d->delay_ns;
	p->next = NONE;
	if (d->tail == NONE)
		d->head = i;
	else
		g.pkts[d->tail].next = i;
	d->tail = i;
	d->count++;
}

/* Apply loss, duplication and reordering to one received packet. */
static void admit(struct dir *d, uint32_t i, uint64_t now)
{
	d->c.rx++;
	d->c.rx_bytes += g.pkts[i].len;
	if (chance(d, d->loss)) {
		d->c.lost++;
		pkt_free(i);
		return;
	}
	uint32_t copies[2] = { i, NONE };
	if (chance(d, d->dup)) {
		uint32_t j = pkt_alloc();
		if (j == NONE) {
			d->c.overflow++;
		} else {
			g.pkts[j] = g.pkts[i];
			memcpy(slot(j), slot(i), g.pkts[i].len);
			copies[1] = j;
			d->c.duplicated++;
		}
	}
	for (int k = 0; k < 2 && copies[k] != NONE; k++) {
		if (d->held == NONE && chance(d, d->reorder)) {
			d->held = copies[k];
			d->held_deadline = now + d->hold_ns;
			d->c.reordered++;
			continue;
		}
		enqueue(d, copies[k], now);
		if (d->held != NONE) {
			/* The held packet now leaves after the one that overtook it. */
			enqueue(d, d->held, now);
			d->held = NONE;
		}
	}
}

/* Send every packet of d whose release time has come; up to BATCH per syscall. */
static void flush(struct dir *d, bool upward, uint64_t now)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iovs[BATCH];
	uint32_t idx[BATCH];

	if (d->held != NONE && now >= d->held_deadline) {
		enqueue(d, d->held, now);
		d->held = NONE;
	}
	while (d->head != NONE && g.pkts[d->head].due <= now) {
		/* Batch consecutive packets that leave through the same socket. */
		int fd = -1, n = 0;
		uint32_t i = d->head;
		while (i != NONE && n < BATCH && g.pkts[i].due <= now) {
			struct flow *f = &g.flows[g.pkts[i].flow];
			int pfd = upward ? f->fd : g.lfd;
			if (fd >= 0 && pfd != fd)
				break;
			fd = pfd;
			iovs[n].iov_base = slot(i);
			iovs[n].iov_len = g.pkts[i].len;
			memset(&msgs[n], 0, sizeof(msgs[n]));
			msgs[n].msg_hdr.msg_iov = &iovs[n];
			msgs[n].msg_hdr.msg_iovlen = 1;
			if (upward) {
				msgs[n].msg_hdr.msg_name = &g.target;
				msgs[n].msg_hdr.msg_namelen = g.target_len;
			} else {
				msgs[n].msg_hdr.msg_name = &f->client;
				msgs[n].msg_hdr.msg_namelen = f->client_len;
			}
			idx[n++] = i;
			i = g.pkts[i].next;
		}
		int sent = sendmmsg(fd, msgs, (unsigned)n, 0);
		if (sent < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
				/* Socket buffer full: keep the packets, retry shortly. */
				g.retry_at = now + 100000;
				return;
			}
			sent = 1; /* drop the packet that failed (e.g. ECONNREFUSED), go on */
			d->c.tx_err++;
		} else {
			for (int k = 0; k < sent; k++) {
				d->c.tx++;
				d->c.tx_bytes += g.pkts[idx[k]].len;
			}
		}
		for (int k = 0; k < sent; k++) {
			uint32_t h = d->head;
			d->head = g.pkts[h].next;
			if (d->head == NONE)
				d->tail = NONE;
			d->count--;
			pkt_free(h);
		}
	}
}

static void arm_timer(void)
{
	uint64_t t = UINT64_MAX;
	struct dir *ds[2] = { &g.up, &g.down };
	for (int k = 0; k < 2; k++) {
		if (ds[k]->head != NONE && g.pkts[ds[k]->head].due < t)
			t = g.pkts[ds[k]->head].due;
		if (ds[k]->held != NONE && ds[k]->held_deadline < t)
			t = ds[k]->held_deadline;
	}
	if (g.retry_at && g.retry_at < t)
		t = g.retry_at;
	/* Re-arming costs a syscall per loop turn: skip it when nothing changed. */
	if (t == g.armed)
		return;
	g.armed = t;
	struct itimerspec its = { 0 };
	if (t != UINT64_MAX) {
		if (t == 0)
			t = 1;
		its.it_value.tv_sec = (time_t)(t / 1000000000ull);
		its.it_value.tv_nsec = (long)(t % 1000000000ull);
	}
	timerfd_settime(g.tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- receiving ---------------------------------------------------------------- */

/* Drain up to BATCH datagrams from fd into the direction d. */
static int receive(int fd, struct dir *d, uint32_t flow_index)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iovs[BATCH];
	struct sockaddr_storage from[BATCH];
	uint32_t idx[BATCH];
	int n = 0;

	while (n < BATCH) {
		uint32_t i = pkt_alloc();
		if (i == NONE)
			break;
		idx[n] = i;
		iovs[n].iov_base = slot(i);
		iovs[n].iov_len = g.slot_size;
		memset(&msgs[n], 0, sizeof(msgs[n]));
		msgs[n].msg_hdr.msg_iov = &iovs[n];
		msgs[n].msg_hdr.msg_iovlen = 1;
		msgs[n].msg_hdr.msg_name = &from[n];
		msgs[n].msg_hdr.msg_namelen = sizeof(from[n]);
		n++;
	}
	if (n == 0) {
		/* Pool exhausted: read and drop, so a level-triggered fd cannot spin. */
		static uint8_t scratch[65536];
		ssize_t r = recv(fd, scratch, sizeof(scratch), 0);
		if (r >= 0) {
			d->c.rx++;
			d->c.overflow++;
		}
		return r >= 0 ? 1 : 0;
	}
	int got = recvmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT, NULL);
	if (got < 0)
		got = 0;
	uint64_t now = tt_now_ns();
	for (int k = 0; k < got; k++) {
		uint32_t i = idx[k];
		if (msgs[k].msg_hdr.msg_flags & MSG_TRUNC) {
			d->c.rx++;
			d->c.trunc++;
			pkt_free(i);
			continue;
		}
		g.pkts[i].len = msgs[k].msg_len;
		if (flow_index == NONE) {
			uint32_t f = flow_get(&from[k], msgs[k].msg_hdr.msg_namelen);
			if (f == NONE) {
				d->c.rx++;
				d->c.overflow++;
				pkt_free(i);
				continue;
			}
			g.pkts[i].flow = f;
		} else {
			g.pkts[i].flow = flow_index;
		}
		admit(d, i, now);
	}
	for (int k = got; k < n; k++)
		pkt_free(idx[k]);
	return got;
}

/* ---- options ------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: impair --target HOST:PORT [--listen ADDR:PORT] [--port-file FILE]\n"
		"              [--seed N] [IMPAIRMENTS]\n"
		"Impairments apply to both directions; prefix with up- (client->target) or\n"
		"down- (target->client) for one direction, e.g. --up-loss 5:\n"
		"  --loss PCT        drop this percentage of packets\n"
		"  --dup PCT         duplicate this percentage of packets\n"
		"  --reorder PCT     hold this percentage back behind the next packet\n"
		"  --reorder-hold MS longest a held packet waits for a successor (default 5)\n"
		"  --delay MS        added one-way delay (fractional allowed)\n"
		"  --rate MBIT       link rate limit in Mbit/s (0 = unlimited)\n"
		"  --queue N         packets queued per direction before tail drop (default 60000)\n"
		"Other: --slot BYTES (largest datagram, default 9216), --max-flows N (default 4096)\n"
		"Counters go to stderr on SIGUSR1 and at exit.\n");
}

static uint64_t pct_threshold(const char *opt, const char *v)
{
	char *end;
	double p = strtod(v, &end);
	if (*end || p < 0 || p > 100) {
		fprintf(stderr, "%s: %s %s: expected a percentage 0..100\n", TOOL, opt, v);
		exit(2);
	}
	return (uint64_t)(p / 100.0 * 4294967296.0);
}

static double number(const char *opt, const char *v)
{
	char *end;
	double x = strtod(v, &end);
	if (*end || x < 0) {
		fprintf(stderr, "%s: %s %s: expected a non-negative number\n", TOOL, opt, v);
		exit(2);
	}
	return x;
}

/* Apply one impairment option ("loss", "delay", ...) to a direction. */
static bool set_impairment(struct dir *d, const char *key, const char *opt, const char *v)
{
	if (strcmp(key, "loss") == 0)
		d->loss = pct_threshold(opt, v);
	else if (strcmp(key, "dup") == 0)
		d->dup = pct_threshold(opt, v);
	else if (strcmp(key, "reorder") == 0)
		d->reorder = pct_threshold(opt, v);
	else if (strcmp(key, "reorder-hold") == 0)
		d->hold_ns = (uint64_t)(number(opt, v) * 1e6);
	else if (strcmp(key, "delay") == 0)
		d->delay_ns = (uint64_t)(number(opt, v) * 1e6);
	else if (strcmp(key, "rate") == 0)
		d->rate_Bps = number(opt, v) * 1e6 / 8.0;
	else if (strcmp(key, "queue") == 0)
		d->queue_limit = (uint32_t)number(opt, v);
	else
		return false;
	return true;
}

static void dir_init(struct dir *d, const char *name, uint64_t seed)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	d->hold_ns = 5000000;
	d->queue_limit = 60000;
	d->rng = seed;
	d->head = d->tail = d->held = NONE;
}

int main(int argc, char **argv)
{
	const char *listen_s = "127.0.0.1:0", *target_s = NULL, *port_file = NULL;
	uint64_t seed = 1;
	g.slot_size = 9216;
	g.max_flows = 4096;
	g.armed = UINT64_MAX;

	/* First pass for the seed, so both directions are seeded before impairments. */
	for (int a = 1; a + 1 < argc; a++)
		if (strcmp(argv[a], "--seed") == 0)
			seed = strtoull(argv[a + 1], NULL, 0);
	dir_init(&g.up, "up", seed * 2 + 1);
	dir_init(&g.down, "down", seed * 2 + 2);

	for (int a = 1; a < argc; a++) {
		const char *opt = argv[a];
		if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strncmp(opt, "--", 2) != 0 || a + 1 >= argc) {
			fprintf(stderr, "%s: %s: unknown or incomplete option\n", TOOL, opt);
			usage(stderr);
			return 2;
		}
		const char *v = argv[++a], *key = opt + 2;
		if (strcmp(key, "listen") == 0)
			listen_s = v;
		else if (strcmp(key, "target") == 0)
			target_s = v;
		else if (strcmp(key, "port-file") == 0)
			port_file = v;
		else if (strcmp(key, "seed") == 0)
			continue;
		else if (strcmp(key, "slot") == 0)
			g.slot_size = (uint32_t)number(opt, v);
		else if (strcmp(key, "max-flows") == 0)
			g.max_flows = (uint32_t)number(opt, v);
		else if (strncmp(key, "up-", 3) == 0) {
			if (!set_impairment(&g.up, key + 3, opt, v))
				goto bad;
		} else if (strncmp(key, "down-", 5) == 0) {
			if (!set_impairment(&g.down, key + 5, opt, v))
				goto bad;
		} else if (!set_impairment(&g.up, key, opt, v) ||
			   !set_impairment(&g.down, key, opt, v)) {
			goto bad;
		}
		continue;
bad:
		fprintf(stderr, "%s: %s: unknown option\n", TOOL, opt);
		usage(stderr);
		return 2;
	}
	if (!target_s) {
		fprintf(stderr, "%s: --target is required\n", TOOL);
		usage(stderr);
		return 2;
	}
	if (g.slot_size < 64 || g.slot_size > 65536 || g.max_flows < 1 || g.max_flows > 65536) {
		fprintf(stderr, "%s: --slot must be 64..65536 and --max-flows 1..65536\n", TOOL);
		return 2;
	}
	if (tt_parse_addr(TOOL, listen_s, &g.listen, &g.listen_len) < 0 ||
	    tt_parse_addr(TOOL, target_s, &g.target, &g.target_len) < 0)
		return 2;

	/* One upstream socket per client: make sure 500+ clients fit under the fd limit. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	/*
	 * The pool is reserved, not touched: only slots actually used become resident,
	 * and the free list is a stack, so a lightly loaded proxy reuses hot slots.
	 */
	uint32_t queue_max = g.up.queue_limit > g.down.queue_limit ? g.up.queue_limit
								  : g.down.queue_limit;
	g.npool = 2 * queue_max + 4 * BATCH + 16;
	g.pool = mmap(NULL, (size_t)g.npool * g.slot_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	g.pkts = calloc(g.npool, sizeof(*g.pkts));
	g.flows = calloc(g.max_flows, sizeof(*g.flows));
	for (g.hcap = 16; g.hcap < 2 * g.max_flows; g.hcap <<= 1)
		;
	g.htab = malloc(g.hcap * sizeof(*g.htab));
	if (g.pool == MAP_FAILED || !g.pkts || !g.flows || !g.htab) {
		fprintf(stderr, "%s: cannot reserve packet pool: %s\n", TOOL, strerror(errno));
		return 1;
	}
	memset(g.htab, 0xff, g.hcap * sizeof(*g.htab));
	g.free_head = NONE;
	for (uint32_t i = g.npool; i-- > 0;)
		pkt_free(i);

	g.lfd = tt_udp_bind(TOOL, &g.listen, &g.listen_len, SOCKBUF);
	if (g.lfd < 0)
		return 1;
	g.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	g.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (g.tfd < 0 || g.sfd < 0 || g.ep < 0) {
		fprintf(stderr, "%s: setup: %s\n", TOOL, strerror(errno));
		return 1;
	}
	struct epoll_event ev = { .events = EPOLLIN };
	ev.data.u64 = TAG_LISTEN;
	epoll_ctl(g.ep, EPOLL_CTL_ADD, g.lfd, &ev);
	ev.data.u64 = TAG_TIMER;
	epoll_ctl(g.ep, EPOLL_CTL_ADD, g.tfd, &ev);
	ev.data.u64 = TAG_SIGNAL;
	epoll_ctl(g.ep, EPOLL_CTL_ADD, g.sfd, &ev);

	char a1[80], a2[80];
	fprintf(stderr, "impair: listening on %s, target %s\n",
		tt_addr_str(&g.listen, a1, sizeof(a1)), tt_addr_str(&g.target, a2, sizeof(a2)));
	if (port_file && tt_write_port_file(TOOL, port_file, tt_addr_port(&g.listen)) < 0)
		return 1;

	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(g.ep, evs, 64, -1);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "%s: epoll_wait: %s\n", TOOL, strerror(errno));
			return 1;
		}
		for (int k = 0; k < n; k++) {
			uint64_t tag = evs[k].data.u64;
			if (tag == TAG_LISTEN) {
				receive(g.lfd, &g.up, NONE);
			} else if (tag == TAG_TIMER) {
				uint64_t exp;
				if (read(g.tfd, &exp, sizeof(exp)) < 0) {
					/* spurious wake-up after re-arming: nothing to do */
				}
				g.armed = 0; /* fired: the next arm_timer must set it again */
			} else if (tag == TAG_SIGNAL) {
				struct signalfd_siginfo si;
				while (read(g.sfd, &si, sizeof(si)) == sizeof(si)) {
					print_counters();
					if (si.ssi_signo != SIGUSR1)
						return 0;
				}
			} else {
				uint32_t fi = (uint32_t)(tag - TAG_FLOW);
				receive(g.flows[fi].fd, &g.down, fi);
			}
		}
		uint64_t now = tt_now_ns();
		if (g.retry_at && now >= g.retry_at)
			g.retry_at = 0;
		if (!g.retry_at) {
			flush(&g.up, true, now);
			flush(&g.down, false, now);
		}
		arm_timer();
	}
}
