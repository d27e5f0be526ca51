/* collector/corecastd/main.c: corecastd's command line, startup, event loop and signals. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "collector/corecastd/daemon.h"
#include "collector/corecastd/log.h"
#include "collector/corecastd/secure.h"
#include "collector/groups/pool.h"
#include "collector/store/store.h"

#define TICK_MS        250        /* timeouts are checked this often */
#define VACUUM_MS      (10 * 60 * 1000)
#define PURGE_MS       (60 * 60 * 1000)
#define SOCK_BUF       (16 << 20) /* per-socket kernel buffer we ask for */
#define RATE_SLOTS     4096
/* epoll tags: listeners are 0..CCD_LISTEN_MAX-1 */
#define TAG_TIMER      1000
#define TAG_SIGNAL     1001
#define TAG_POOL       1002

static void usage(FILE *f)
{
	fputs("usage: corecastd --listen udp|dtls|tls://ADDR:PORT [--listen ...] --store DIR\n"
	      "                 [--config FILE] [--port-file FILE] [--foreground]\n"
	      "Receive crash dumps over the netdump protocol and store them.\n"
	      "  -l, --listen URL     udp://0.0.0.0:7770, udp://[::1]:7770 (repeatable;\n"
	      "                       port 0 picks a free port); dtls://ADDR:PORT (DTLS\n"
	      "                       1.2 over UDP), tls://ADDR:PORT (TLS 1.2 over TCP)\n"
	      "  -s, --store DIR      dump store (default /var/lib/corecast)\n"
	      "  -c, --config FILE    configuration, see corecastd.conf(5)\n"
	      "  -p, --port-file FILE write the bound port(s) here once listening\n"
	      "  -f, --foreground     accepted for compatibility; corecastd never forks\n"
	      "  -h, --help\n", f);
}

uint64_t ccd_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t ccd_now_ms(void)
{
	return ccd_now_us() / 1000u;
}

static void cfg_note(void *ctx, int warning, const char *msg)
{
	ccd_log(warning ? CCD_LOG_WARNING : CCD_LOG_INFO, "%s", msg);
}

/* Receive slots must hold the largest DATA we accept plus its header. */
static size_t rx_slot_for(const struct ccd_config *c)
{
	return (size_t)c->max_payload + 512;
}

static int alloc_rx(struct ccd *d)
{
	size_t slot = rx_slot_for(&d->cfg);
	uint8_t *buf = malloc(slot * CCD_BATCH);

	if (buf == NULL)
		return -1;
	free(d->rx_buf);
	d->rx_buf = buf;
	d->rx_slot = slot;
	for (int i = 0; i < CCD_BATCH; i++) {
		d->rx_iov[i].iov_base = d->rx_buf + (size_t)i * slot;
		d->rx_iov[i].iov_len = slot;
	}
	return 0;
}

/*
 * The memory budget: MemoryLimit covers what the daemon itself holds (the
 * receive/send batches, the rate table, sessions).  Sessions are the part that
 * grows, so the concurrent-session limit is lowered until they fit.
 */
static void apply_budget(struct ccd *d)
{
	uint64_t fixed = (uint64_t)d->rx_slot * CCD_BATCH + CCD_OUT_SLOT * CCD_BATCH +
			 CCD_RUN_MAX +
			 (uint64_t)RATE_SLOTS * sizeof(struct ccd_rate_slot) +
			 (8u << 20); /* the store's shared compressor and buffers */
	uint64_t per = ccd_session_cost();
	uint64_t fit = d->cfg.memory_limit > fixed ? (d->cfg.memory_limit - fixed) / per : 0;

	if (fit == 0)
		fit = 1;
	d->max_active = d->cfg.max_sessions;
	if (fit < d->max_active) {
		d->max_active = (uint32_t)fit;
		ccd_warn("MemoryLimit=%llu fits %u sessions of %llu bytes: MaxSessions=%u "
			 "lowered to %u", (unsigned long long)d->cfg.memory_limit,
			 d->max_active, (unsigned long long)per, d->cfg.max_sessions,
			 d->max_active);
	}
}

static void apply_store_limits(struct ccd *d)
{
	uint64_t mu, kf;

	store_set_limits(d->st,
			 d->cfg.max_use == CCD_SIZE_DEFAULT ? -1 : (int64_t)d->cfg.max_use,
			 d->cfg.keep_free == CCD_SIZE_DEFAULT ? -1 : (int64_t)d->cfg.keep_free);
	store_get_limits(d->st, &mu, &kf);
	ccd_info("store %s: MaxUse=%llu KeepFree=%llu in use %llu", d->cfg.store,
		 (unsigned long long)mu, (unsigned long long)kf,
		 (unsigned long long)store_usage(d->st));
}

static void pool_log(void *ctx, int prio, const char *msg)
{
	ccd_log(prio < CCD_LOG_ERR ? CCD_LOG_ERR : prio > CCD_LOG_DEBUG ? CCD_LOG_DEBUG :
		(enum ccd_log_level)prio, "%s", msg);
}

static void pool_cfg(const struct ccd *d, struct pool_config *pc)
{
	memset(pc, 0, sizeof *pc);
	pc->workers = d->cfg.symbolize_workers;
	pc->timeout_s = (unsigned)((d->cfg.symbolize_timeout_ms + 999) / 1000);
	pc->memory = d->cfg.symbolize_memory;
	/* long-lived --serve workers keep symbol data across dumps of a build */
	pc->per_core = d->cfg.symbolize_worker_jobs == 0;
	pc->worker_jobs = d->cfg.symbolize_worker_jobs;
	pc->worker_rss = d->cfg.symbolize_worker_rss;
	pc->on_new_group = d->cfg.on_new_group[0] ? d->cfg.on_new_group : NULL;
	pc->on_regression = d->cfg.on_regression[0] ? d->cfg.on_regression : NULL;
	pc->log = pool_log;
}

/* Start, reconfigure or stop the symbolization workers to match the config. */
static void apply_pool(struct ccd *d)
{
	struct pool_config pc;
	enum pool_err e;
	unsigned queued = 0;

	pool_cfg(d, &pc);
	if (d->pool && d->cfg.symbolize_workers == 0) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->pool_fd, NULL);
		pool_destroy(d->pool);   /* unfinished dumps stay pending */
		d->pool = NULL;
		d->pool_fd = -1;
		ccd_notice("symbolization stopped (SymbolizeWorkers=0)");
		return;
	}
	if (d->pool) {
		pool_reconfigure(d->pool, &pc);
		return;
	}
	if (d->cfg.symbolize_workers == 0)
		return;
	e = pool_create(d->st, &pc, &d->pool);
	if (e != POOL_OK) {
		ccd_err("symbolization workers: %s; dumps are stored but not symbolized",
			pool_strerror(e));
		return;
	}
	if (pool_fds(d->pool, &d->pool_fd, 1) != 1) {
		pool_destroy(d->pool);
		d->pool = NULL;
		return;
	}
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = TAG_POOL };
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->pool_fd, &ev) < 0) {
			ccd_err("epoll: %s; dumps are stored but not symbolized", strerror(errno));
			pool_destroy(d->pool);
			d->pool = NULL;
			d->pool_fd = -1;
			return;
		}
	}
	/* Dumps stored while no worker ran (or whose job was cut short) are
	 * still pending in the index. */
	if (pool_scan(d->pool, &queued) == POOL_OK && queued)
		ccd_info("symbolization: %u stored dump%s pending", queued,
			 queued == 1 ? "" : "s");
}

static void reload(struct ccd *d)
{
	char err[512];
	int changed;
	uint32_t old_payload = d->cfg.max_payload;
	enum ccd_cfg_err r;

	if (d->config_path == NULL) {
		ccd_secure_reload(d);
		ccd_info("SIGHUP: no --config file, nothing else to reload");
		return;
	}
	r = ccd_config_reload(&d->cfg, d->config_path, &d->ov, err, sizeof err,
			      cfg_note, NULL, &changed);
	if (r != CCD_CFG_OK) {
		ccd_err("reload of %s failed, keeping the running configuration: %s",
			d->config_path, err);
		return;
	}
	ccd_log_set_level((enum ccd_log_level)d->cfg.log_level);
	ccd_rate_set(&d->rate, d->cfg.device_rate);
	apply_store_limits(d);
	if (d->cfg.max_payload != old_payload && alloc_rx(d) < 0) {
		ccd_err("reload: out of memory for MaxPayload=%u, keeping %u",
			d->cfg.max_payload, old_payload);
		d->cfg.max_payload = old_payload;
	}
	apply_budget(d);
	apply_pool(d);
	/* A new window applies to running transfers from their next ack. */
	for (struct ccd_session *s = d->ss.head; s; s = s->next)
		if (s->state == CCD_S_ACTIVE)
			nd_rx_set_window(&s->rx, d->cfg.receive_window);
	ccd_secure_reload(d);
	ccd_notice("reloaded %s: %d setting%s changed", d->config_path, changed,
		   changed == 1 ? "" : "s");
}

static void log_stats(const struct ccd *d, const char *when)
{
	const struct ccd_stats *s = &d->stats;

	ccd_info("%s: datagrams=%llu garbage=%llu truncated=%llu bad_cookie=%llu "
		 "opens=%llu resumes=%llu refused=%llu stored=%llu mismatched=%llu "
		 "timeouts=%llu data_new=%llu data_dup=%llu data_bad=%llu bytes=%llu "
		 "sent=%llu send_errors=%llu active=%u", when,
		 (unsigned long long)s->datagrams, (unsigned long long)s->garbage,
		 (unsigned long long)s->truncated, (unsigned long long)s->bad_cookie,
		 (unsigned long long)s->opens, (unsigned long long)s->resumes,
		 (unsigned long long)s->refused, (unsigned long long)s->stored,
		 (unsigned long long)s->mismatched, (unsigned long long)s->timeouts,
		 (unsigned long long)s->data_new, (unsigned long long)s->data_dup,
		 (unsigned long long)s->data_bad, (unsigned long long)s->bytes,
		 (unsigned long long)s->sent, (unsigned long long)s->send_errors,
		 d->ss.n_active);
	ccd_secure_log_stats(d, when);
}

static int write_port_file(const struct ccd *d)
{
	char tmp[CCD_PATH_MAX + 8];
	FILE *f;

	/* Written to a temporary name and renamed, so a reader polling for the
	 * file never sees it half written. */
	snprintf(tmp, sizeof tmp, "%s.tmp", d->port_file);
	f = fopen(tmp, "we");
	if (f == NULL)
		return -1;
	for (int i = 0; i < d->n_lis; i++)
		fprintf(f, "%u\n", ccd_addr_port((const struct sockaddr *)&d->lis[i].l.addr));
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, d->port_file);
}

static int open_listeners(struct ccd *d)
{
	for (int i = 0; i < d->cfg.n_listen; i++) {
		struct ccd_listener *li = &d->lis[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		char a[80];

		li->l = d->cfg.listen[i];
		li->fd = ccd_listen_open(&li->l, SOCK_BUF);
		if (li->fd < 0) {
			ccd_err("listen %s: %s", li->l.url, strerror(errno));
			return -1;
		}
		d->n_lis = i + 1;
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, li->fd, &ev) < 0) {
			ccd_err("epoll: %s", strerror(errno));
			return -1;
		}
		ccd_addr_str((const struct sockaddr *)&li->l.addr, a, sizeof a);
		ccd_notice("listening on %s://%s (port %u)", ccd_proto_name(li->l.proto), a,
			   ccd_addr_port((const struct sockaddr *)&li->l.addr));
	}
	return 0;
}

static void close_listeners(struct ccd *d)
{
	for (int i = 0; i < d->n_lis; i++) {
		if (d->lis[i].fd >= 0) {
			epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->lis[i].fd, NULL);
			close(d->lis[i].fd);
			d->lis[i].fd = -1;
		}
	}
}

/* A udp:// datagram: netdump messages as they are. */
static void udp_datagram(struct ccd *d, struct ccd_listener *li, uint8_t *buf, size_t len,
			 const struct sockaddr *from, socklen_t fromlen, uint64_t now_us)
{
	ccd_ingest(d, li, buf, len, from, fromlen, now_us);
}

/* Acks go out after each batch so the sender's window keeps moving while a deep
 * queue is being worked off. */
void ccd_drain_datagrams(struct ccd *d, struct ccd_listener *li, ccd_datagram_fn fn)
{
	/* Bounded so that one busy socket cannot starve the others or the timer. */
	for (int round = 0; round < 64; round++) {
		int n;
		uint64_t now;

		for (int i = 0; i < CCD_BATCH; i++) {
			d->rx_iov[i].iov_len = d->rx_slot;
			d->rx_msgs[i].msg_hdr = (struct msghdr){
				.msg_name = &d->rx_addr[i],
				.msg_namelen = sizeof d->rx_addr[i],
				.msg_iov = &d->rx_iov[i],
				.msg_iovlen = 1,
			};
		}
		n = recvmmsg(li->fd, d->rx_msgs, CCD_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				ccd_warn("receive on %s: %s", li->l.url, strerror(errno));
			return;
		}
		now = ccd_now_us();
		for (int i = 0; i < n; i++) {
			struct msghdr *h = &d->rx_msgs[i].msg_hdr;
			d->stats.datagrams++;
			if (h->msg_flags & MSG_TRUNC) {
				d->stats.truncated++;
				continue;
			}
			fn(d, li, d->rx_iov[i].iov_base, d->rx_msgs[i].msg_len,
			   (const struct sockaddr *)&d->rx_addr[i], h->msg_namelen, now);
		}
		ccd_ack_touched(d, now);
		ccd_flush(d);
		if (n < CCD_BATCH)
			return;
	}
}

void ccd_send(struct ccd *d, int fd, const struct sockaddr *to, socklen_t tolen,
	      const uint8_t *msg, size_t len)
{
	/* Sessions on dtls:// and tls:// answer through their connection. */
	if (fd < 0 || ccd_secure_send(d, fd, to, tolen, msg, len))
		return;
	ccd_send_raw(d, fd, to, tolen, msg, len);
}

void ccd_send_raw(struct ccd *d, int fd, const struct sockaddr *to, socklen_t tolen,
		  const uint8_t *msg, size_t len)
{
	struct ccd_out *o = &d->out;

	if (len > CCD_OUT_SLOT || tolen > sizeof o->addr[0])
		return;
	if (o->n == CCD_BATCH)
		ccd_flush(d);
	memcpy(o->buf + (size_t)o->n * CCD_OUT_SLOT, msg, len);
	memcpy(&o->addr[o->n], to, tolen);
	o->alen[o->n] = tolen;
	o->len[o->n] = len;
	o->fd[o->n] = fd;
	o->n++;
}

void ccd_flush(struct ccd *d)
{
	struct ccd_out *o = &d->out;
	struct mmsghdr msgs[CCD_BATCH];
	struct iovec iov[CCD_BATCH];
	int i = 0;

	/* Consecutive messages for the same socket go out in one sendmmsg. */
	while (i < o->n) {
		int j = i, k = 0, sent;

		while (j < o->n && o->fd[j] == o->fd[i]) {
			iov[k] = (struct iovec){ o->buf + (size_t)j * CCD_OUT_SLOT, o->len[j] };
			msgs[k].msg_hdr = (struct msghdr){
				.msg_name = &o->addr[j], .msg_namelen = o->alen[j],
				.msg_iov = &iov[k], .msg_iovlen = 1,
			};
			j++;
			k++;
		}
		for (int off = 0; off < k; ) {
			sent = sendmmsg(o->fd[i], msgs + off, (unsigned)(k - off), MSG_DONTWAIT);
			if (sent <= 0) {
				/* A full send buffer or an unreachable peer loses the
				 * answers; senders retransmit, so drop and count. */
				d->stats.send_errors += (uint64_t)(k - off);
				break;
			}
			d->stats.sent += (uint64_t)sent;
			off += sent;
		}
		i = j;
	}
	o->n = 0;
	ccd_secure_flush(d);
}

static int setup_signals(struct ccd *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	d->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return d->sfd < 0 ? -1 : 0;
}

static int setup_timer(struct ccd *d)
{
	struct itimerspec its = {
		.it_interval = { TICK_MS / 1000, (TICK_MS % 1000) * 1000000L },
		.it_value = { TICK_MS / 1000, (TICK_MS % 1000) * 1000000L },
	};

	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->tfd < 0)
		return -1;
	return timerfd_settime(d->tfd, 0, &its, NULL);
}

static void on_signal(struct ccd *d)
{
	struct signalfd_siginfo si;

	while (read(d->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			ccd_notice("%s: no new sessions, closing spools",
				   si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			d->stopping = true;
			break;
		case SIGHUP:
			reload(d);
			break;
		case SIGUSR1:
			log_stats(d, "statistics");
			break;
		}
	}
}

static void on_timer(struct ccd *d)
{
	uint64_t expirations, now = ccd_now_ms();

	if (read(d->tfd, &expirations, sizeof expirations) < 0)
		return;
	ccd_tick(d, now);
	ccd_secure_tick(d, now);
	ccd_flush(d);
	if (now - d->last_vacuum_ms >= VACUUM_MS) {
		unsigned removed = 0;
		d->last_vacuum_ms = now;
		if (store_vacuum(d->st, &removed) != STORE_OK)
			ccd_warn("vacuum: %s", store_errmsg(d->st));
		else if (removed)
			ccd_notice("vacuum: removed %u oldest dump%s to stay within limits",
				   removed, removed == 1 ? "" : "s");
	}
	if (now - d->last_purge_ms >= PURGE_MS) {
		d->last_purge_ms = now;
		ccd_purge_spools(d, time(NULL));
	}
}

static int run(struct ccd *d)
{
	struct epoll_event evs[CCD_LISTEN_MAX + 4];

	while (!d->stopping) {
		int n = epoll_wait(d->epfd, evs, CCD_LISTEN_MAX + 4, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ccd_err("epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n && !d->stopping; i++) {
			uint32_t tag = evs[i].data.u32;
			if (tag == TAG_TIMER)
				on_timer(d);
			else if (tag == TAG_SIGNAL)
				on_signal(d);
			else if (tag == TAG_POOL && d->pool)
				pool_on_event(d->pool, d->pool_fd);
			else if (tag >= CCD_TAG_CONN_BASE)
				ccd_secure_event(d, tag, evs[i].events);
			else if (tag < (uint32_t)d->n_lis &&
				 d->lis[tag].l.proto == CCD_PROTO_DTLS)
				ccd_drain_datagrams(d, &d->lis[tag], ccd_secure_dtls_datagram);
			else if (tag < (uint32_t)d->n_lis &&
				 d->lis[tag].l.proto == CCD_PROTO_TLS)
				ccd_secure_accept(d, &d->lis[tag]);
			else if (tag < (uint32_t)d->n_lis)
				ccd_drain_datagrams(d, &d->lis[tag], udp_datagram);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "store", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct ccd daemon_state;
	struct ccd *d = &daemon_state;
	char err[512];
	enum store_err se;
	int opt, rc = 0;

	d->epfd = d->tfd = d->sfd = d->pool_fd = -1;
	while ((opt = getopt_long(argc, argv, "l:s:c:p:fh", opts, NULL)) != -1) {
		switch (opt) {
		case 'l': {
			enum ccd_url_err e;
			if (d->ov.n_listen >= CCD_LISTEN_MAX) {
				fprintf(stderr, "corecastd: --listen %s: more than %d addresses\n",
					optarg, CCD_LISTEN_MAX);
				return 2;
			}
			e = ccd_listen_parse(optarg, &d->ov.listen[d->ov.n_listen]);
			if (e != CCD_URL_OK) {
				fprintf(stderr, "corecastd: --listen %s: %s\n", optarg,
					ccd_url_strerror(e));
				return 2;
			}
			d->ov.n_listen++;
			break;
		}
		case 's':
			if (strlen(optarg) >= CCD_PATH_MAX || *optarg == '\0') {
				fprintf(stderr, "corecastd: --store %s: bad path\n", optarg);
				return 2;
			}
			d->ov.store = optarg;
			break;
		case 'c': d->config_path = optarg; break;
		case 'p': d->port_file = optarg; break;
		case 'f': break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "corecastd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	if (ccd_config_load(&d->cfg, d->config_path, &d->ov, err, sizeof err,
			    cfg_note, NULL) != CCD_CFG_OK) {
		ccd_err("configuration: %s", err);
		return 1;
	}
	ccd_log_set_level((enum ccd_log_level)d->cfg.log_level);
	if (d->cfg.n_listen == 0) {
		ccd_err("no listen address: give --listen udp://ADDR:PORT or Listen= in the "
			"configuration");
		return 2;
	}
	if (getrandom(d->secret, sizeof d->secret, 0) != (ssize_t)sizeof d->secret) {
		ccd_err("getrandom: %s", strerror(errno));
		return 1;
	}

	se = store_open(d->cfg.store, STORE_CREATE | STORE_RECOVER, &d->st);
	if (se != STORE_OK) {
		/* The message already names the directory (and the file, if one failed). */
		ccd_err("store %s", store_open_errmsg());
		return 1;
	}
	apply_store_limits(d);

	d->rx_msgs = calloc(CCD_BATCH, sizeof d->rx_msgs[0]);
	d->rx_iov = calloc(CCD_BATCH, sizeof d->rx_iov[0]);
	d->rx_addr = calloc(CCD_BATCH, sizeof d->rx_addr[0]);
	d->out.buf = malloc((size_t)CCD_BATCH * CCD_OUT_SLOT);
	d->run_buf = malloc(CCD_RUN_MAX);
	if (!d->rx_msgs || !d->rx_iov || !d->rx_addr || !d->out.buf || !d->run_buf ||
	    alloc_rx(d) < 0 ||
	    ccd_rate_init(&d->rate, RATE_SLOTS, d->cfg.device_rate) < 0 ||
	    ccd_sessions_init(&d->ss) < 0) {
		ccd_err("out of memory at startup");
		return 1;
	}
	apply_budget(d);

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0 || setup_signals(d) < 0 || setup_timer(d) < 0) {
		ccd_err("event loop setup: %s", strerror(errno));
		return 1;
	}
	for (int i = 0; i < CCD_LISTEN_MAX; i++)
		d->lis[i].fd = -1;
	{
		struct epoll_event te = { .events = EPOLLIN, .data.u32 = TAG_TIMER };
		struct epoll_event se2 = { .events = EPOLLIN, .data.u32 = TAG_SIGNAL };
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->tfd, &te) < 0 ||
		    epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sfd, &se2) < 0) {
			ccd_err("epoll: %s", strerror(errno));
			return 1;
		}
	}
	if (open_listeners(d) < 0) {
		rc = 1;
		goto out;
	}
	if (ccd_secure_start(d) < 0) {
		rc = 1;
		goto out;
	}
	if (d->port_file && write_port_file(d) < 0) {
		ccd_err("port file %s: %s", d->port_file, strerror(errno));
		rc = 1;
		goto out;
	}
	apply_pool(d);
	d->last_vacuum_ms = d->last_purge_ms = ccd_now_ms();
	ccd_purge_spools(d, time(NULL));
	ccd_notice("corecastd ready: store %s, up to %u sessions, window %u, payload %u",
		   d->cfg.store, d->max_active, d->cfg.receive_window, d->cfg.max_payload);

	if (run(d) < 0)
		rc = 1;
out:
	/* Drain: stop accepting first, then make every spool durable so the
	 * senders can resume against the next instance. */
	close_listeners(d);
	ccd_secure_stop(d);
	ccd_close_all(d);
	log_stats(d, "exit");
	if (d->pool)
		pool_destroy(d->pool);   /* running jobs stay pending for the next start */
	store_close(d->st);
	ccd_notice("corecastd stopped");
	return rc;
}
