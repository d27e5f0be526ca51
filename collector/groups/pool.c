/* collector/groups/pool.c: symbolization worker pool — long-lived limited workers, or one child per dump. */
#include "collector/groups/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector/groups/groups.h"
#include "collector/groups/hooks.h"
#include "collector/store/store.h"
#include "netdump/hex.h"

#define POOL_MAX_WORKERS  64
#define POOL_QUEUE_MAX    4096     /* in memory; the rest waits as 'pending' rows */
#define POOL_TICK_MS      250
#define POOL_SCAN_MS      2000     /* how often pending rows are looked for */
#define POOL_ERR_KEEP     512      /* bytes of worker stderr kept for the reason */

#define POOL_HDR_MAX      64       /* "fail ID LEN\n" never needs more */
#define POOL_RETIRED_MAX  (2 * POOL_MAX_WORKERS)

/* epoll data: slot << 3 | kind; the timer has its own value.  EV_PIDFD/OUT/ERR
 * belong to the job's child (the per-core worker, or in serve mode the helper that
 * decompresses the core); EV_W* to the slot's long-lived worker. */
enum { EV_PIDFD = 0, EV_OUT = 1, EV_ERR = 2, EV_WPID = 3, EV_WOUT = 4, EV_WERR = 5 };
#define EV_TIMER UINT64_MAX

struct job {
	bool active;
	uint64_t id;
	pid_t pid;
	int pidfd, out_fd, err_fd;
	char tmp[PATH_MAX];
	char *out;
	size_t out_len, out_cap;
	bool out_over;             /* stdout passed POOL_MAX_OUTPUT: killed */
	char err[POOL_ERR_KEEP];
	size_t err_len;
	bool exited, status_lost, timed_out;
	bool dispatched;           /* serve mode: the job line went to the slot's worker */
	bool cpu_over;             /* serve mode: the job used more than cpu_s of CPU */
	int status;
	int64_t deadline_ms;
	time_t started;            /* wall clock, to spot symbols filed meanwhile */
	unsigned timeout_s, cpu_s;
	uint64_t memory;
	struct store_rec rec;
};

/* A long-lived `corecast-symbolize --serve` (one per slot, serve mode). */
struct worker {
	pid_t pid;                 /* 0: the slot has no worker */
	int pidfd, in_fd, out_fd, err_fd;
	bool exited, status_lost, retire;
	int status;
	unsigned jobs;             /* results it delivered */
	char *buf;                 /* stdout not consumed yet */
	size_t len, cap;
	char err[POOL_ERR_KEEP];   /* head of stderr since the current job was sent */
	size_t err_len;
	uint64_t cpu_base;         /* its CPU clock ticks when the current job was sent */
};

struct pool {
	struct store *st;
	sqlite3 *db;
	struct pool_config cfg;
	char *symbolizer, *on_new_group, *on_regression;   /* owned copies of cfg strings */
	int epfd, timerfd;
	struct job jobs[POOL_MAX_WORKERS];
	struct worker workers[POOL_MAX_WORKERS];
	pid_t retired[POOL_RETIRED_MAX];   /* killed workers not reaped yet */
	unsigned nretired;
	uint64_t queue[POOL_QUEUE_MAX];
	size_t qhead, qlen;
	int64_t last_scan_ms;
	struct pool_stats stats;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void plog(struct pool *p, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void plog(struct pool *p, int prio, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->cfg.log)
		p->cfg.log(p->cfg.log_ctx, prio, msg);
	else
		fprintf(stderr, "<%d>%s\n", prio, msg);
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* The worker program: configured, else corecast-symbolize beside our own binary
 * (build/bin/ in the tree, /usr/bin when installed). */
static char *default_symbolizer(void)
{
	char self[PATH_MAX], *slash, *out;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return strdup("corecast-symbolize");
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return strdup("corecast-symbolize");
	*slash = '\0';
	if (asprintf(&out, "%s/corecast-symbolize", self) < 0)
		return NULL;
	return out;
}

static void apply_config(struct pool *p, const struct pool_config *cfg)
{
	free(p->symbolizer);
	free(p->on_new_group);
	free(p->on_regression);
	p->cfg = *cfg;
	if (p->cfg.workers == 0)
		p->cfg.workers = POOL_DEF_WORKERS;
	if (p->cfg.workers > POOL_MAX_WORKERS)
		p->cfg.workers = POOL_MAX_WORKERS;
	if (p->cfg.timeout_s == 0)
		p->cfg.timeout_s = POOL_DEF_TIMEOUT;
	if (p->cfg.memory == 0)
		p->cfg.memory = POOL_DEF_MEMORY;
	if (p->cfg.cpu_s == 0)
		p->cfg.cpu_s = p->cfg.timeout_s;
	if (p->cfg.worker_jobs == 0)
		p->cfg.worker_jobs = POOL_DEF_WORKER_JOBS;
	if (p->cfg.worker_rss == 0)
		p->cfg.worker_rss = POOL_DEF_WORKER_RSS;
	p->symbolizer = cfg->symbolizer && *cfg->symbolizer ? strdup(cfg->symbolizer)
							    : default_symbolizer();
	p->on_new_group = dup_or_null(cfg->on_new_group);
	p->on_regression = dup_or_null(cfg->on_regression);
	p->cfg.symbolizer = p->symbolizer;
	p->cfg.on_new_group = p->on_new_group;
	p->cfg.on_regression = p->on_regression;
}

enum pool_err pool_create(struct store *st, const struct pool_config *cfg, struct pool **out)
{
	struct pool *p = calloc(1, sizeof(*p));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_TIMER };
	struct itimerspec its = {
		.it_interval = { 0, POOL_TICK_MS * 1000000L },
		.it_value = { 0, POOL_TICK_MS * 1000000L },
	};

	*out = NULL;
	if (!p)
		return POOL_E_NOMEM;
	p->st = st;
	p->db = (sqlite3 *)store_db(st);
	p->epfd = p->timerfd = -1;
	for (int i = 0; i < POOL_MAX_WORKERS; i++) {
		p->jobs[i].pidfd = p->jobs[i].out_fd = p->jobs[i].err_fd = -1;
		p->workers[i].pidfd = p->workers[i].in_fd = -1;
		p->workers[i].out_fd = p->workers[i].err_fd = -1;
	}
	apply_config(p, cfg);
	/* A worker that dies while we write its job line must not take the daemon
	 * with it: EPIPE is handled where the write happens. */
	{
		struct sigaction sa;
		if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
			signal(SIGPIPE, SIG_IGN);
	}
	if (!p->symbolizer) {
		pool_destroy(p);
		return POOL_E_NOMEM;
	}
	if (grp_init(p->db) != GRP_OK) {
		plog(p, 3, "symbolization tables: %s", sqlite3_errmsg(p->db));
		pool_destroy(p);
		return POOL_E_DB;
	}
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->epfd < 0 || p->timerfd < 0 || timerfd_settime(p->timerfd, 0, &its, NULL) < 0 ||
	    epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->timerfd, &ev) < 0) {
		int e = errno;
		pool_destroy(p);
		errno = e;
		return POOL_E_SYS;
	}
	*out = p;
	return POOL_OK;
}

void pool_reconfigure(struct pool *p, const struct pool_config *cfg)
{
	unsigned old = p->cfg.workers;

	apply_config(p, cfg);
	/* Workers started under the old program or limits finish their job, then go. */
	for (int i = 0; i < POOL_MAX_WORKERS; i++)
		p->workers[i].retire = true;
	/* Fewer workers: running jobs above the new count finish normally; no new
	 * job starts in a slot >= workers. */
	if (old != p->cfg.workers)
		plog(p, 6, "symbolization workers: %u -> %u", old, p->cfg.workers);
}

const char *pool_strerror(enum pool_err e)
{
	switch (e) {
	case POOL_OK: return "ok";
	case POOL_E_SYS: return "system call failed";
	case POOL_E_DB: return "index database error";
	case POOL_E_NOMEM: return "out of memory";
	}
	return "unknown pool error";
}

int pool_fds(struct pool *p, int *fds, int max)
{
	if (max < 1)
		return 0;
	fds[0] = p->epfd;
	return 1;
}

/* ---- queue ---------------------------------------------------------------- */

static bool known(struct pool *p, uint64_t id)
{
	for (int i = 0; i < POOL_MAX_WORKERS; i++)
		if (p->jobs[i].active && p->jobs[i].id == id)
			return true;
	for (size_t k = 0; k < p->qlen; k++)
		if (p->queue[(p->qhead + k) % POOL_QUEUE_MAX] == id)
			return true;
	return false;
}

static void enqueue(struct pool *p, uint64_t id)
{
	if (p->qlen >= POOL_QUEUE_MAX || known(p, id))
		return;   /* a full queue leaves the row pending for a later scan */
	p->queue[(p->qhead + p->qlen++) % POOL_QUEUE_MAX] = id;
}

enum pool_err pool_submit(struct pool *p, uint64_t id)
{
	if (grp_mark_pending(p->db, id) != GRP_OK) {
		plog(p, 3, "dump %" PRIu64 ": cannot queue for symbolization: %s", id,
		     sqlite3_errmsg(p->db));
		return POOL_E_DB;
	}
	enqueue(p, id);
	pool_tick(p);
	return POOL_OK;
}

static int pending_cb(void *ctx, uint64_t id)
{
	struct pool *p = ctx;
	enqueue(p, id);
	return p->qlen >= POOL_QUEUE_MAX;
}

struct scan_ctx {
	struct pool *p;
	unsigned n;
};

static int scan_cb(const struct store_rec *r, void *arg)
{
	struct scan_ctx *sc = arg;
	char status[32], reason[256];

	if (grp_status(sc->p->db, r->id, status, reason) == GRP_E_NOT_FOUND &&
	    grp_mark_pending(sc->p->db, r->id) == GRP_OK)
		sc->n++;
	return 0;
}

enum pool_err pool_scan(struct pool *p, unsigned *queued)
{
	struct scan_ctx sc = { p, 0 };
	struct store_filter f = { 0 };

	if (store_list(p->st, &f, scan_cb, &sc) != STORE_OK) {
		plog(p, 3, "startup scan: %s", store_errmsg(p->st));
		return POOL_E_DB;
	}
	if (queued)
		*queued = sc.n;
	p->last_scan_ms = 0;   /* pick the pending rows up on the next tick */
	pool_tick(p);
	return POOL_OK;
}

/* ---- starting a worker ------------------------------------------------------ */

static void set_limit(int res, uint64_t soft, uint64_t hard)
{
	struct rlimit rl = { .rlim_cur = soft, .rlim_max = hard };
	setrlimit(res, &rl);
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *b = buf;
	while (len) {
		ssize_t n = write(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			dprintf(2, "writing the core to the worker's temporary file: %s\n",
				strerror(n < 0 ? errno : ENOSPC));
			_exit(3);
		}
		b += n;
		len -= (size_t)n;
	}
}

/* Soft limit only: the hard one stays, so it can be lifted again before exec. */
static void set_soft_limit(int res, uint64_t soft)
{
	struct rlimit rl;

	if (getrlimit(res, &rl) != 0)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || soft < rl.rlim_max ? soft : rl.rlim_max;
	setrlimit(res, &rl);
}

static void lift_soft_limit(int res)
{
	struct rlimit rl;

	if (getrlimit(res, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(res, &rl);
	}
}

/* A fresh child: default signal dispositions and mask, its own process group (so
 * a kill reaches whatever it starts), no core dumps, the job's memory limit. */
static void child_setup(uint64_t memory)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	setpgid(0, 0);
	set_limit(RLIMIT_CORE, 0, 0);        /* a crashing worker must not dump a core */
	set_limit(RLIMIT_AS, memory, memory);
}

/*
 * The stored core to the job's temporary file, under the job's limits (a damaged
 * store file cannot make the daemon's child run away).  The file-size limit is the
 * core's size; it is lifted again afterwards, since a per-core worker writes the
 * store's inflated-debug cache, which can be larger than the core.  The daemon is
 * single-threaded, so the allocator and the store reader are safe after fork.
 */
static void child_decompress(struct job *j, struct store_reader *rd)
{
	static char buf[1 << 16];
	int fd;

	set_soft_limit(RLIMIT_FSIZE, j->rec.meta.core_size + 1);
	fd = open(j->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		dprintf(2, "%s: %s\n", j->tmp, strerror(errno));
		_exit(3);
	}
	for (;;) {
		size_t got = 0;
		enum store_err e = store_read(rd, buf, sizeof(buf), &got);
		if (e != STORE_OK) {
			dprintf(2, "reading stored dump %" PRIu64 ": %s\n", j->id, store_strerror(e));
			_exit(3);
		}
		if (got == 0)
			break;
		write_all(fd, buf, got);
	}
	close(fd);
	lift_soft_limit(RLIMIT_FSIZE);
}

/* Per-core mode, in the child: limits, the core to a temporary file, exec. */
static void child_main(struct pool *p, struct job *j, struct store_reader *rd, int outw,
		       int errw, char **argv)
{
	int fd;

	if (dup2(outw, 1) < 0 || dup2(errw, 2) < 0)
		_exit(126);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	child_setup(j->memory);
	set_limit(RLIMIT_CPU, j->cpu_s, j->cpu_s + 1);
	child_decompress(j, rd);
	close_range(3, ~0u, 0);
	execv(p->symbolizer, argv);
	dprintf(2, "%s: %s\n", p->symbolizer, strerror(errno));
	_exit(127);
}

static char **worker_argv(struct pool *p, struct job *j)
{
	const struct nd_meta *m = &j->rec.meta;
	size_t n = 0, cap = 16 + 2 * (size_t)m->n_buildids;
	char **argv = calloc(cap, sizeof(*argv));
	char num[32];

	if (!argv)
		return NULL;
	snprintf(num, sizeof(num), "%u", j->timeout_s / 3 ? j->timeout_s / 3 : 1);
	argv[n++] = strdup(p->symbolizer);
	argv[n++] = strdup("--core");
	argv[n++] = strdup(j->tmp);
	argv[n++] = strdup("--store");
	argv[n++] = strdup(store_dir(p->st));
	argv[n++] = strdup("--debuginfod-timeout");
	argv[n++] = strdup(num);
	argv[n++] = strdup("--json");
	/* Build-ids from the session metadata find modules in cores that lack NT_FILE
	 * and ELF headers (e.g. cores written by qemu-user). */
	for (unsigned i = 0; i < m->n_buildids && i < ND_BUILDIDS_MAX; i++) {
		const struct nd_buildid *b = &m->buildids[i];
		char hex[2 * ND_BUILDID_MAX + 1], *arg;
		if (b->len == 0 || b->len > ND_BUILDID_MAX)
			continue;
		nd_hex(b->id, b->len, hex);
		if (asprintf(&arg, "%s%s%.*s", hex, b->name[0] ? ":" : "",
			     (int)strnlen(b->name, ND_NAME_MAX), b->name) < 0)
			continue;
		argv[n++] = strdup("--buildid");
		argv[n++] = arg;
	}
	argv[n] = NULL;
	for (size_t i = 0; i < n; i++)
		if (!argv[i]) {
			for (size_t k = 0; k < n; k++)
				free(argv[k]);
			free(argv);
			return NULL;
		}
	return argv;
}

static void free_argv(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

static void close_fd(struct pool *p, int *fd)
{
	if (*fd >= 0) {
		epoll_ctl(p->epfd, EPOLL_CTL_DEL, *fd, NULL);
		close(*fd);
		*fd = -1;
	}
}

static void reset_job(struct pool *p, struct job *j)
{
	close_fd(p, &j->pidfd);
	close_fd(p, &j->out_fd);
	close_fd(p, &j->err_fd);
	if (j->tmp[0])
		unlink(j->tmp);
	free(j->out);
	memset(j, 0, sizeof(*j));
	j->pidfd = j->out_fd = j->err_fd = -1;
}

static void watch(struct pool *p, int fd, int slot, int kind)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)slot << 3 | kind };
	epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void fail_job(struct pool *p, uint64_t id, const char *reason)
{
	p->stats.failed++;
	plog(p, 4, "dump %" PRIu64 ": symbolization failed: %s", id, reason);
	if (grp_record_failure(p->db, id, reason) != GRP_OK)
		plog(p, 3, "dump %" PRIu64 ": recording the failure: %s", id,
		     sqlite3_errmsg(p->db));
}

static void serve_dispatch(struct pool *p, int slot);

/* Start the job for id in slot; false if it could not start (already recorded). */
static bool start_job(struct pool *p, int slot, uint64_t id)
{
	struct job *j = &p->jobs[slot];
	struct store_reader *rd = NULL;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	char **argv = NULL;
	enum store_err se;
	char why[256];

	reset_job(p, j);
	j->id = id;
	j->timeout_s = p->cfg.timeout_s;
	j->cpu_s = p->cfg.cpu_s;
	j->memory = p->cfg.memory;
	se = store_get(p->st, id, &j->rec);
	if (se == STORE_E_NOTFOUND) {
		fail_job(p, id, "dump no longer stored");
		reset_job(p, j);
		return false;
	}
	if (se == STORE_OK && !p->cfg.per_core) {
		/* The worker decompresses the stored file itself, under its limits
		 * (collector/symbolize/serve.c): no child, no temporary file. */
		j->active = true;
		j->deadline_ms = now_ms() + (int64_t)j->timeout_s * 1000;
		j->started = time(NULL);
		p->stats.started++;
		serve_dispatch(p, slot);
		return j->active;
	}
	if (se == STORE_OK)
		se = store_open_core(p->st, id, &rd);
	if (se != STORE_OK) {
		snprintf(why, sizeof(why), "reading stored core: %s", store_errmsg(p->st));
		fail_job(p, id, why);
		reset_job(p, j);
		return false;
	}
	snprintf(j->tmp, sizeof(j->tmp), "%s/tmp/sym-%" PRIu64 "-%d.core", store_dir(p->st), id,
		 (int)getpid());
	unlink(j->tmp);   /* a leftover of an earlier run of this job */
	argv = worker_argv(p, j);
	if (!argv || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		goto sys;
	j->pid = fork();
	if (j->pid < 0)
		goto sys;
	if (j->pid == 0)
		child_main(p, j, rd, outp[1], errp[1], argv);
	close(outp[1]);
	close(errp[1]);
	store_reader_close(rd);
	free_argv(argv);
	j->out_fd = outp[0];
	j->err_fd = errp[0];
	fcntl(j->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(j->err_fd, F_SETFL, O_NONBLOCK);
	j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
	j->active = true;
	j->deadline_ms = now_ms() + (int64_t)j->timeout_s * 1000;
	j->started = time(NULL);
	watch(p, j->out_fd, slot, EV_OUT);
	watch(p, j->err_fd, slot, EV_ERR);
	if (j->pidfd >= 0)
		watch(p, j->pidfd, slot, EV_PIDFD);
	/* without pidfd (old kernel) the tick polls waitpid */
	p->stats.started++;
	plog(p, 7, "dump %" PRIu64 ": symbolizing (worker pid %d)", id, (int)j->pid);
	return true;
sys:
	snprintf(why, sizeof(why), "starting the worker: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (rd)
		store_reader_close(rd);
	free_argv(argv);
	fail_job(p, id, why);
	reset_job(p, j);
	return false;
}

/* ---- worker output and completion --------------------------------------------- */

static void read_out(struct pool *p, struct job *j)
{
	for (;;) {
		if (j->out_len + 65536 > j->out_cap) {
			size_t cap = j->out_cap ? j->out_cap * 2 : 65536;
			if (cap > POOL_MAX_OUTPUT + 65536)
				cap = POOL_MAX_OUTPUT + 65536;
			if (cap <= j->out_len) {
				/* over the cap: the document is refused, the worker stopped */
				j->out_over = true;
				kill(j->pid, SIGKILL);
				close_fd(p, &j->out_fd);
				return;
			}
			char *n = realloc(j->out, cap);
			if (!n) {
				j->out_over = true;
				kill(j->pid, SIGKILL);
				close_fd(p, &j->out_fd);
				return;
			}
			j->out = n;
			j->out_cap = cap;
		}
		ssize_t n = read(j->out_fd, j->out + j->out_len, j->out_cap - j->out_len);
		if (n > 0) {
			j->out_len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close_fd(p, &j->out_fd);   /* EOF or error */
		return;
	}
}

/*
 * Drain a child's stderr without blocking, keeping the head of what it wrote (the
 * first lines name the cause; a flood after them is read and dropped).  Closes fd at
 * EOF or error.  Shared by per-dump children and long-lived workers.
 */
static void drain_stderr(struct pool *p, int *fd, char *buf, size_t cap, size_t *len)
{
	char sink[4096];

	for (;;) {
		ssize_t n;
		if (*len < cap - 1) {
			n = read(*fd, buf + *len, cap - 1 - *len);
			if (n > 0)
				*len += (size_t)n;
		} else {
			n = read(*fd, sink, sizeof(sink));
		}
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close_fd(p, fd);
		return;
	}
}

static void read_err(struct pool *p, struct job *j)
{
	drain_stderr(p, &j->err_fd, j->err, sizeof(j->err), &j->err_len);
}

static void reap(struct job *j)
{
	int status;
	pid_t r;

	if (j->exited)
		return;
	r = waitpid(j->pid, &status, WNOHANG);
	if (r == j->pid) {
		j->exited = true;
		j->status = status;
	} else if (r < 0 && errno == ECHILD) {
		/* someone else reaped it (a SIGCHLD handler waiting for any child) */
		j->exited = true;
		j->status_lost = true;
	}
}

/* The worker's stderr is untrusted text bound for the log: first line, printable. */
static void first_line(const struct job *j, char *out, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < j->err_len && j->err[i] != '\n' && k + 1 < n; i++) {
		unsigned char c = (unsigned char)j->err[i];
		out[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[k] = '\0';
}

static void run_hook(struct pool *p, const char *cmd, const char *event, const struct job *j,
		     const struct grp_outcome *o)
{
	struct hook_event ev = {
		.event = event, .group = o->signature, .signature = o->canonical,
		.title = o->title, .device = j->rec.meta.device,
		.firmware = j->rec.meta.firmware, .dump_id = j->id,
	};
	int rc;

	if (!cmd)
		return;
	rc = hook_run(cmd, &ev);
	if (rc < 0)
		plog(p, 4, "group %s: %s hook could not start: %s", o->signature, event,
		     strerror(-rc));
}

/* Was a file for one of the missing build-ids filed since the job started? */
static bool symbols_arrived(struct pool *p, const struct job *j, const char *missing)
{
	char id[130], *path;
	const char *s = missing;
	int len;

	while (sscanf(s, " %129s%n", id, &len) == 1) {
		s += len;
		if (strlen(id) < 3)
			continue;
		for (int k = 0; k < 2; k++) {
			struct stat stb;
			if (asprintf(&path, "%s/.build-id/%.2s/%s%s", store_dir(p->st), id, id + 2,
				     k ? ".debug" : "") < 0)
				return false;
			int rc = stat(path, &stb);
			free(path);
			if (rc == 0 && stb.st_mtime >= j->started)
				return true;
		}
	}
	return false;
}

static void finish_job(struct pool *p, struct job *j)
{
	char line[256], why[512];
	struct grp_outcome o;
	enum grp_err e;

	first_line(j, line, sizeof(line));
	if (j->timed_out) {
		p->stats.timeouts++;
		snprintf(why, sizeof(why), "worker timed out after %u s (wall clock), killed",
			 j->timeout_s);
		fail_job(p, j->id, why);
		return;
	}
	if (j->cpu_over) {
		p->stats.crashed++;
		snprintf(why, sizeof(why), "worker used more than %u s of CPU on this dump, killed",
			 j->cpu_s);
		fail_job(p, j->id, why);
		return;
	}
	if (j->out_over) {
		snprintf(why, sizeof(why), "worker output larger than %u MiB", POOL_MAX_OUTPUT >> 20);
		fail_job(p, j->id, why);
		return;
	}
	if (!j->status_lost && WIFSIGNALED(j->status)) {
		int sig = WTERMSIG(j->status);
		p->stats.crashed++;
		const char *name = sigabbrev_np(sig) ? sigabbrev_np(sig) : "?";
		if (sig == SIGXCPU || (sig == SIGKILL && p->cfg.per_core))
			snprintf(why, sizeof(why), "worker killed by SIG%s (CPU limit %u s)%s%s",
				 name, j->cpu_s, *line ? ": " : "", line);
		else if (sig == SIGKILL)   /* serve workers have no hard CPU limit: not ours */
			snprintf(why, sizeof(why), "worker killed by SIGKILL from outside the pool "
				 "(memory limit %" PRIu64 " MiB)%s%s", j->memory >> 20,
				 *line ? ": " : "", line);
		else
			snprintf(why, sizeof(why), "worker crashed with SIG%s (memory limit %" PRIu64
				 " MiB)%s%s", name, j->memory >> 20, *line ? ": " : "", line);
		fail_job(p, j->id, why);
		return;
	}
	if (!j->status_lost && WEXITSTATUS(j->status) != 0) {
		/* the limits are named: "out of memory" means little without them */
		snprintf(why, sizeof(why), "worker exited with status %d (limits %" PRIu64
			 " MiB memory, %u s CPU)%s%s", WEXITSTATUS(j->status), j->memory >> 20,
			 j->cpu_s, *line ? ": " : "", line);
		fail_job(p, j->id, why);
		return;
	}
	struct grp_dump d = {
		.id = j->id, .device = j->rec.meta.device, .firmware = j->rec.meta.firmware,
		.exe = j->rec.meta.exe, .signal = (int)j->rec.meta.signal,
		.seen = j->rec.received,
	};
	e = grp_record_result(p->db, &d, j->out ? j->out : "", j->out_len, p->cfg.frames, &o);
	if (e == GRP_E_JSON || e == GRP_E_SIGNATURE) {
		p->stats.failed++;
		plog(p, 4, "dump %" PRIu64 " (device %s): symbolization failed: %s", j->id,
		     j->rec.meta.device, o.detail);
		return;
	}
	if (e != GRP_OK) {
		/* leave it pending: a database hiccup is retried by the next scan */
		plog(p, 3, "dump %" PRIu64 ": recording the result: %s: %s", j->id,
		     grp_strerror(e), sqlite3_errmsg(p->db));
		return;
	}
	if (strcmp(o.status, "done") == 0)
		p->stats.done++;
	else
		p->stats.symbols_missing++;
	plog(p, 6, "dump %" PRIu64 " (device %s, firmware %s): %s, group %s%s: %s", j->id,
	     j->rec.meta.device, j->rec.meta.firmware[0] ? j->rec.meta.firmware : "?",
	     o.status, o.signature,
	     o.event == GRP_EV_NEW_GROUP ? " (new)" : o.event == GRP_EV_REGRESSION ?
	     " (regression: reopened)" : "", o.title);
	if (strcmp(o.status, "symbols-missing") == 0 && symbols_arrived(p, j, o.missing)) {
		/* `symbols add` ran while this worker did: it found the dump still
		 * pending, not symbols-missing, so it could not queue it; do it here */
		plog(p, 6, "dump %" PRIu64 ": symbols were added during symbolization, "
		     "symbolizing again", j->id);
		grp_mark_pending(p->db, j->id);
	}
	if (o.event == GRP_EV_NEW_GROUP)
		run_hook(p, p->on_new_group, "new-group", j, &o);
	else if (o.event == GRP_EV_REGRESSION)
		run_hook(p, p->on_regression, "regression", j, &o);
}

/* ---- serve mode: long-lived workers ------------------------------------------- */

/* utime + stime of pid in clock ticks, from /proc/PID/stat; false if gone. */
static bool proc_cpu_ticks(pid_t pid, uint64_t *ticks)
{
	char path[64], buf[1024];
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* the command name may hold anything, spaces and ')' included: skip to the last ')' */
	char *s = strrchr(buf, ')');
	if (!s || sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return false;
	*ticks = ut + st;
	return true;
}

/* Resident set of pid in KiB, from /proc/PID/statm; 0 if gone. */
static uint64_t proc_rss_kb(pid_t pid)
{
	char path[64];
	unsigned long long size = 0, res = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return res * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
}

/* Reap killed workers that have exited by now; with block, wait for all. */
static void reap_retired(struct pool *p, bool block)
{
	for (unsigned i = 0; i < p->nretired;) {
		pid_t r = waitpid(p->retired[i], NULL, block ? 0 : WNOHANG);
		if (r == 0 || (r < 0 && errno == EINTR)) {
			i++;
			continue;
		}
		p->retired[i] = p->retired[--p->nretired];   /* reaped, or not ours any more */
	}
}

/* Kill the slot's worker (if still running) and forget it; it is reaped later. */
static void worker_close(struct pool *p, struct worker *w)
{
	if (w->pid > 0 && !w->exited) {
		kill(-w->pid, SIGKILL);
		kill(w->pid, SIGKILL);
		if (waitpid(w->pid, NULL, WNOHANG) == 0) {
			if (p->nretired == POOL_RETIRED_MAX)
				reap_retired(p, true);
			p->retired[p->nretired++] = w->pid;
		}
	}
	close_fd(p, &w->pidfd);
	close_fd(p, &w->in_fd);
	close_fd(p, &w->out_fd);
	close_fd(p, &w->err_fd);
	free(w->buf);
	memset(w, 0, sizeof(*w));
	w->pidfd = w->in_fd = w->out_fd = w->err_fd = -1;
}

/* Start `symbolizer --serve` for slot; false with errno on failure. */
static bool worker_spawn(struct pool *p, int slot)
{
	struct worker *w = &p->workers[slot];
	struct job *j = &p->jobs[slot];
	int inp[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	char num[32];
	char *argv[] = { p->symbolizer, "--serve", "--store", (char *)store_dir(p->st),
			 "--debuginfod-timeout", num, NULL };
	int e;

	snprintf(num, sizeof(num), "%u", j->timeout_s / 3 ? j->timeout_s / 3 : 1);
	if (pipe2(inp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		goto fail;
	w->pid = fork();
	if (w->pid < 0)
		goto fail;
	if (w->pid == 0) {
		if (dup2(inp[0], 0) < 0 || dup2(outp[1], 1) < 0 || dup2(errp[1], 2) < 0)
			_exit(126);
		child_setup(j->memory);
		/* RLIMIT_CPU is set from outside per job (serve_dispatch, prlimit): set
		 * here, it could land after the parent's and cut the first job short */
		close_range(3, ~0u, 0);
		execv(p->symbolizer, argv);
		dprintf(2, "%s: %s\n", p->symbolizer, strerror(errno));
		_exit(127);
	}
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	w->in_fd = inp[1];
	w->out_fd = outp[0];
	w->err_fd = errp[0];
	fcntl(w->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(w->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(w->err_fd, F_SETFL, O_NONBLOCK);
	w->pidfd = (int)syscall(SYS_pidfd_open, w->pid, 0);
	watch(p, w->out_fd, slot, EV_WOUT);
	watch(p, w->err_fd, slot, EV_WERR);
	if (w->pidfd >= 0)
		watch(p, w->pidfd, slot, EV_WPID);
	p->stats.workers_started++;
	plog(p, 7, "symbolization worker %d started (pid %d)", slot, (int)w->pid);
	return true;
fail:
	e = errno;
	for (int i = 0; i < 2; i++) {
		if (inp[i] >= 0)
			close(inp[i]);
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	w->pid = 0;
	errno = e;
	return false;
}

/* A job-line field: bytes that would end or split it (space, controls, '%') and
 * non-ASCII are %XX-escaped. */
static void put_field(char *line, size_t cap, size_t *len, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n && s[i] && *len + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == '%' || c >= 0x7f) {
			line[(*len)++] = '%';
			line[(*len)++] = hex[c >> 4];
			line[(*len)++] = hex[c & 15];
		} else {
			line[(*len)++] = (char)c;
		}
	}
}

/* "job ID STORE/cores/N.core.zst zst=SIZE [buildid=HEX[:NAME]]...\n" into line;
 * its length.  Line and path are bounded: PATH_MAX + 3 * PATH_MAX escaped < cap. */
static size_t job_line(struct pool *p, const struct job *j, char *line, size_t cap)
{
	const struct nd_meta *m = &j->rec.meta;
	size_t len = (size_t)snprintf(line, cap, "job %" PRIu64 " ", j->id);
	const char *dir = store_dir(p->st);

	put_field(line, cap, &len, dir, strlen(dir));
	line[len++] = '/';
	put_field(line, cap, &len, j->rec.path, strnlen(j->rec.path, sizeof(j->rec.path)));
	len += (size_t)snprintf(line + len, cap - len, " zst=%" PRIu64, m->core_size);
	/* Build-ids from the session metadata find modules in cores that lack NT_FILE
	 * and ELF headers (e.g. cores written by qemu-user). */
	for (unsigned i = 0; i < m->n_buildids && i < ND_BUILDIDS_MAX; i++) {
		const struct nd_buildid *b = &m->buildids[i];
		char hex[2 * ND_BUILDID_MAX + 1];
		if (b->len == 0 || b->len > ND_BUILDID_MAX || len + sizeof(hex) + 16 > cap)
			continue;
		nd_hex(b->id, b->len, hex);
		len += (size_t)snprintf(line + len, cap - len, " buildid=%s", hex);
		if (b->name[0]) {
			line[len++] = ':';
			put_field(line, cap, &len, b->name, strnlen(b->name, ND_NAME_MAX));
		}
	}
	line[len++] = '\n';
	return len;
}

/*
 * Hand the job to the slot's worker (which reads and decompresses the stored file
 * itself), starting one if there is none.  Its CPU clock is read now, so the job's
 * CPU budget is counted from here, and RLIMIT_CPU is moved to that budget as the
 * kernel's backstop.
 */
static void serve_dispatch(struct pool *p, int slot)
{
	struct job *j = &p->jobs[slot];
	struct worker *w = &p->workers[slot];
	char line[32768], why[256];
	size_t len;

	if (w->pid && (w->retire || w->exited))
		worker_close(p, w);
	if (!w->pid && !worker_spawn(p, slot)) {
		snprintf(why, sizeof(why), "starting the worker: %s", strerror(errno));
		fail_job(p, j->id, why);
		reset_job(p, j);
		return;
	}
	j->dispatched = true;
	w->err_len = 0;
	w->cpu_base = 0;
	if (proc_cpu_ticks(w->pid, &w->cpu_base)) {
		struct rlimit rl;
		long hz = sysconf(_SC_CLK_TCK);
		if (prlimit(w->pid, RLIMIT_CPU, NULL, &rl) == 0) {
			uint64_t soft = w->cpu_base / (uint64_t)(hz > 0 ? hz : 100) + j->cpu_s + 1;
			if (rl.rlim_max == RLIM_INFINITY || soft < rl.rlim_max)
				rl.rlim_cur = soft;
			prlimit(w->pid, RLIMIT_CPU, &rl, NULL);
		}
	}
	len = job_line(p, j, line, sizeof(line));
	ssize_t n = write(w->in_fd, line, len);
	if (n < 0 && errno == EPIPE && waitpid(w->pid, &w->status, WNOHANG) == w->pid) {
		/* it died idle, before this job reached it: not this job's fault */
		plog(p, 4, "symbolization worker pid %d exited between jobs (status 0x%x)",
		     (int)w->pid, w->status);
		w->exited = true;
		worker_close(p, w);
		j->dispatched = false;
		if (!worker_spawn(p, slot)) {
			snprintf(why, sizeof(why), "starting the worker: %s", strerror(errno));
			fail_job(p, j->id, why);
			reset_job(p, j);
			return;
		}
		j->dispatched = true;
		w->err_len = 0;
		proc_cpu_ticks(w->pid, &w->cpu_base);
		n = write(w->in_fd, line, len);
	}
	if (n != (ssize_t)len) {
		/* dead already (EPIPE) or not reading: its exit fails the job with the
		 * reason its status gives */
		plog(p, 4, "dump %" PRIu64 ": sending the job to worker pid %d: %s", j->id,
		     (int)w->pid, n < 0 ? strerror(errno) : "short write");
		kill(w->pid, SIGKILL);
	}
}

static void worker_read_err(struct pool *p, struct worker *w)
{
	drain_stderr(p, &w->err_fd, w->err, sizeof(w->err), &w->err_len);
}

/* Untrusted worker output, quoted in a log line or reason: printable, short. */
static void printable(const char *s, size_t n, char *out, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		out[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[k] = '\0';
}

/* The worker broke the protocol: it is killed, the job it had fails with why. */
static void worker_garbage(struct pool *p, int slot, const char *what)
{
	struct job *j = &p->jobs[slot];
	struct worker *w = &p->workers[slot];
	char shown[64], why[384];

	printable(w->buf, w->len < 40 ? w->len : 40, shown, sizeof(shown));
	snprintf(why, sizeof(why), "worker broke the result protocol (%s): \"%s\"; killed",
		 what, shown);
	if (j->active && j->dispatched) {
		fail_job(p, j->id, why);
		reset_job(p, j);
	} else {
		plog(p, 4, "symbolization worker pid %d: %s", (int)w->pid, why);
	}
	worker_close(p, w);
}

/* Parse "ok|fail ID LEN\n"; false if it is not exactly that. */
static bool parse_header(const char *h, size_t n, bool *ok, uint64_t *id, uint64_t *len)
{
	char word[8];
	int used = 0;

	if (n >= POOL_HDR_MAX || h[n] != '\n')
		return false;
	char tmp[POOL_HDR_MAX + 1];
	memcpy(tmp, h, n);
	tmp[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!(tmp[i] == ' ' || (tmp[i] >= '0' && tmp[i] <= '9') ||
		      (tmp[i] >= 'a' && tmp[i] <= 'z')))
			return false;
	if (sscanf(tmp, "%7s %" SCNu64 " %" SCNu64 "%n", word, id, len, &used) != 3 ||
	    (size_t)used != n)
		return false;
	if (strcmp(word, "ok") == 0)
		*ok = true;
	else if (strcmp(word, "fail") == 0)
		*ok = false;
	else
		return false;
	return true;
}

/* Worker finished a job normally: count it, retire it when it has done enough. */
static void worker_job_done(struct pool *p, struct worker *w)
{
	uint64_t rss = proc_rss_kb(w->pid);

	w->jobs++;
	if (rss > p->stats.worker_rss_peak_kb)
		p->stats.worker_rss_peak_kb = rss;
	if (w->jobs >= p->cfg.worker_jobs) {
		p->stats.retired_jobs++;
		plog(p, 7, "symbolization worker pid %d retired after %u jobs", (int)w->pid, w->jobs);
		worker_close(p, w);
	} else if (rss * 1024 > p->cfg.worker_rss) {
		p->stats.retired_rss++;
		plog(p, 6, "symbolization worker pid %d retired at %" PRIu64 " KiB RSS after %u jobs",
		     (int)w->pid, rss, w->jobs);
		worker_close(p, w);
	}
}

/* Consume complete records from the worker's stdout buffer. */
static void worker_parse(struct pool *p, int slot)
{
	struct job *j = &p->jobs[slot];
	struct worker *w = &p->workers[slot];

	while (w->len > 0) {
		char *nl = memchr(w->buf, '\n', w->len < POOL_HDR_MAX ? w->len : POOL_HDR_MAX);
		bool ok;
		uint64_t id, blen;
		if (!nl) {
			if (w->len >= POOL_HDR_MAX)
				worker_garbage(p, slot, "no result header");
			return;
		}
		size_t hlen = (size_t)(nl - w->buf);
		if (!parse_header(w->buf, hlen, &ok, &id, &blen)) {
			worker_garbage(p, slot, "malformed result header");
			return;
		}
		if (!j->active || !j->dispatched || id != j->id) {
			worker_garbage(p, slot, "a result for a dump it was not given");
			return;
		}
		if (blen > POOL_MAX_OUTPUT) {
			j->out_over = true;
			j->exited = true;
			finish_job(p, j);
			reset_job(p, j);
			worker_close(p, w);
			return;
		}
		if (w->len - hlen - 1 < blen)
			return;   /* the rest is on its way */
		char *body = w->buf + hlen + 1;
		if (ok) {
			j->out = malloc(blen + 1);
			if (j->out) {
				memcpy(j->out, body, blen);
				j->out[blen] = '\0';
				j->out_len = blen;
			}
			j->exited = true;
			j->status = 0;
			finish_job(p, j);
		} else {
			char msg[300], why[400];
			printable(body, blen, msg, sizeof(msg));
			/* the limits are named: "out of memory" means little without them */
			snprintf(why, sizeof(why), "corecast-symbolize: %s (limits %" PRIu64
				 " MiB memory, %u s CPU)", msg, j->memory >> 20, j->cpu_s);
			fail_job(p, j->id, why);
		}
		reset_job(p, j);
		size_t used = hlen + 1 + (size_t)blen;
		memmove(w->buf, w->buf + used, w->len - used);
		w->len -= used;
		if (w->len > 0) {
			worker_garbage(p, slot, "output after its result");
			return;
		}
		worker_job_done(p, w);
		return;
	}
}

static void worker_read_out(struct pool *p, int slot)
{
	struct worker *w = &p->workers[slot];

	for (;;) {
		if (w->len + 65536 > w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 65536 * 2;
			if (cap > POOL_MAX_OUTPUT + 2 * 65536)
				cap = POOL_MAX_OUTPUT + 2 * 65536;
			char *n = cap > w->len ? realloc(w->buf, cap) : NULL;
			if (!n) {
				/* cannot happen with a valid header (its LEN is checked first) */
				worker_garbage(p, slot, "more output than any result");
				return;
			}
			w->buf = n;
			w->cap = cap;
		}
		ssize_t n = read(w->out_fd, w->buf + w->len, w->cap - w->len);
		if (n > 0) {
			w->len += (size_t)n;
			worker_parse(p, slot);
			if (w->out_fd < 0 || !w->pid)
				return;   /* the worker was closed while parsing */
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close_fd(p, &w->out_fd);   /* EOF: its exit is handled by worker_check */
		return;
	}
}

/* Has the worker exited?  Then whatever it left is read, and the job it had fails
 * with the reason its status gives. */
static void worker_check(struct pool *p, int slot)
{
	struct worker *w = &p->workers[slot];
	struct job *j = &p->jobs[slot];

	if (!w->pid)
		return;
	if (!w->exited) {
		int status;
		pid_t r = waitpid(w->pid, &status, WNOHANG);
		if (r == w->pid) {
			w->exited = true;
			w->status = status;
		} else if (r < 0 && errno == ECHILD) {
			w->exited = true;
			w->status_lost = true;
		} else {
			return;
		}
	}
	if (w->out_fd >= 0)
		worker_read_out(p, slot);   /* a result written just before it died counts */
	if (!w->pid)
		return;
	if (w->err_fd >= 0)
		worker_read_err(p, w);
	if (j->active && j->dispatched && w->status_lost && !j->timed_out && !j->cpu_over) {
		/* reaped elsewhere (a SIGCHLD handler waiting for any child) */
		fail_job(p, j->id, "worker exited during the job (its status was lost)");
		reset_job(p, j);
	} else if (j->active && j->dispatched) {
		j->exited = true;
		j->status = w->status;
		j->status_lost = w->status_lost;
		memcpy(j->err, w->err, w->err_len);
		j->err_len = w->err_len;
		finish_job(p, j);
		reset_job(p, j);
	} else {
		plog(p, 4, "symbolization worker pid %d exited between jobs (status 0x%x)",
		     (int)w->pid, w->status);
	}
	worker_close(p, w);
}

/* Per-job budgets of a dispatched job: wall clock and CPU time. */
static void worker_limits(struct pool *p, int slot, int64_t now)
{
	struct worker *w = &p->workers[slot];
	struct job *j = &p->jobs[slot];
	uint64_t ticks;
	long hz = sysconf(_SC_CLK_TCK);

	if (!j->active || !j->dispatched || !w->pid || w->exited || j->timed_out || j->cpu_over)
		return;
	if (now >= j->deadline_ms)
		j->timed_out = true;
	else if (proc_cpu_ticks(w->pid, &ticks) &&
		 ticks - w->cpu_base > (uint64_t)j->cpu_s * (uint64_t)(hz > 0 ? hz : 100))
		j->cpu_over = true;
	else
		return;
	kill(-w->pid, SIGKILL);
	kill(w->pid, SIGKILL);
}

static void check_job(struct pool *p, struct job *j)
{
	if (!j->active || j->dispatched)
		return;
	reap(j);
	if (j->exited) {
		/* the worker is gone, so its pipes reach EOF now: drain them */
		if (j->out_fd >= 0)
			read_out(p, j);
		if (j->err_fd >= 0)
			read_err(p, j);
	}
	if (j->exited && j->out_fd < 0 && j->err_fd < 0) {
		finish_job(p, j);
		reset_job(p, j);
	}
}

void pool_tick(struct pool *p)
{
	int64_t now = now_ms();
	uint64_t expirations;

	while (read(p->timerfd, &expirations, sizeof(expirations)) > 0)
		;
	for (int i = 0; i < POOL_MAX_WORKERS; i++) {
		struct job *j = &p->jobs[i];
		if (!j->active)
			continue;
		if (j->dispatched) {
			worker_limits(p, i, now);
			continue;
		}
		if (!j->exited && !j->timed_out && j->pid > 0 && now >= j->deadline_ms) {
			j->timed_out = true;
			kill(-j->pid, SIGKILL);
			kill(j->pid, SIGKILL);
		}
		check_job(p, j);
	}
	for (int i = 0; i < POOL_MAX_WORKERS; i++) {
		struct worker *w = &p->workers[i];
		worker_check(p, i);
		/* after a reconfiguration: idle workers of slots no longer in use go */
		if (w->pid && (p->cfg.per_core || (unsigned)i >= p->cfg.workers) &&
		    !(p->jobs[i].active && p->jobs[i].dispatched))
			worker_close(p, w);
	}
	reap_retired(p, false);
	if (now - p->last_scan_ms >= POOL_SCAN_MS) {
		p->last_scan_ms = now;
		if (grp_each_pending(p->db, pending_cb, p) != GRP_OK)
			plog(p, 4, "looking for pending dumps: %s", sqlite3_errmsg(p->db));
	}
	for (unsigned i = 0; i < p->cfg.workers && p->qlen; i++) {
		if (p->jobs[i].active)
			continue;
		uint64_t id = p->queue[p->qhead];
		p->qhead = (p->qhead + 1) % POOL_QUEUE_MAX;
		p->qlen--;
		start_job(p, (int)i, id);
	}
}

void pool_on_event(struct pool *p, int fd)
{
	struct epoll_event evs[32];
	int n;

	while ((n = epoll_wait(p->epfd, evs, 32, 0)) > 0) {
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			if (tag == EV_TIMER)
				continue;   /* pool_tick below reads it */
			int slot = (int)(tag >> 3);
			struct job *j = &p->jobs[slot];
			switch (tag & 7) {
			case EV_WOUT:
				if (p->workers[slot].out_fd >= 0)
					worker_read_out(p, slot);
				continue;
			case EV_WERR:
				if (p->workers[slot].err_fd >= 0)
					worker_read_err(p, &p->workers[slot]);
				continue;
			case EV_WPID:
				worker_check(p, slot);
				continue;
			}
			if (!j->active || j->dispatched)
				continue;
			switch (tag & 7) {
			case EV_OUT:
				if (j->out_fd >= 0)
					read_out(p, j);
				break;
			case EV_ERR:
				if (j->err_fd >= 0)
					read_err(p, j);
				break;
			default:
				reap(j);
				close_fd(p, &j->pidfd);
				break;
			}
			check_job(p, j);
		}
		if (n < 32)
			break;
	}
	pool_tick(p);
}

int pool_idle(struct pool *p)
{
	for (int i = 0; i < POOL_MAX_WORKERS; i++)
		if (p->jobs[i].active)
			return 0;
	return p->qlen == 0;
}

void pool_get_stats(struct pool *p, struct pool_stats *s)
{
	*s = p->stats;
	s->running = 0;
	for (int i = 0; i < POOL_MAX_WORKERS; i++)
		s->running += p->jobs[i].active;
	s->queued = (unsigned)p->qlen;
}

void pool_destroy(struct pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < POOL_MAX_WORKERS; i++) {
		struct job *j = &p->jobs[i];
		struct worker *w = &p->workers[i];
		if (w->pid > 0 && !w->exited) {
			kill(-w->pid, SIGKILL);
			kill(w->pid, SIGKILL);
			while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
				;
			w->exited = true;
		}
		worker_close(p, w);
		if (j->active && !j->exited && j->pid > 0) {
			kill(-j->pid, SIGKILL);
			kill(j->pid, SIGKILL);
			while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		reset_job(p, j);   /* the dump stays pending for the next start */
	}
	reap_retired(p, true);
	if (p->timerfd >= 0)
		close(p->timerfd);
	if (p->epfd >= 0)
		close(p->epfd);
	free(p->symbolizer);
	free(p->on_new_group);
	free(p->on_regression);
	free(p);
}
