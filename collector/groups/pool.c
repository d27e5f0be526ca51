/* collector/groups/pool.c: symbolization worker pool — one limited child process per dump. */
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

#define POOL_MAX_WORKERS  64
#define POOL_QUEUE_MAX    4096     /* in memory; the rest waits as 'pending' rows */
#define POOL_TICK_MS      250
#define POOL_SCAN_MS      2000     /* how often pending rows are looked for */
#define POOL_ERR_KEEP     512      /* bytes of worker stderr kept for the reason */

/* epoll data: job index << 2 | kind; the timer has its own value. */
enum { EV_PIDFD = 0, EV_OUT = 1, EV_ERR = 2 };
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
	int status;
	int64_t deadline_ms;
	time_t started;            /* wall clock, to spot symbols filed meanwhile */
	unsigned timeout_s, cpu_s;
	uint64_t memory;
	struct store_rec rec;
};

struct pool {
	struct store *st;
	sqlite3 *db;
	struct pool_config cfg;
	char *symbolizer, *on_new_group, *on_regression;   /* owned copies of cfg strings */
	int epfd, timerfd;
	struct job jobs[POOL_MAX_WORKERS];
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
	for (int i = 0; i < POOL_MAX_WORKERS; i++)
		p->jobs[i].pidfd = p->jobs[i].out_fd = p->jobs[i].err_fd = -1;
	apply_config(p, cfg);
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

/*
 * In the child: limits first (decompression runs under them too, so even a
 * damaged store file cannot make the daemon's child run away), then the core to a
 * temporary file, then exec the worker.  The daemon is single-threaded, so the
 * allocator and the store reader are safe to use between fork and exec.
 */
static void child_main(struct pool *p, struct job *j, struct store_reader *rd, int outw,
		       int errw, char **argv)
{
	sigset_t none;
	static char buf[1 << 16];
	int fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	if (dup2(outw, 1) < 0 || dup2(errw, 2) < 0)
		_exit(126);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	setpgid(0, 0);
	set_limit(RLIMIT_CORE, 0, 0);        /* a crashing worker must not dump a core */
	set_limit(RLIMIT_CPU, j->cpu_s, j->cpu_s + 1);
	set_limit(RLIMIT_AS, j->memory, j->memory);
	set_limit(RLIMIT_FSIZE, j->rec.meta.core_size + 1, j->rec.meta.core_size + 1);

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
		store_hex(b->id, b->len, hex);
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
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)slot << 2 | kind };
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

static void read_err(struct pool *p, struct job *j)
{
	char sink[4096];

	for (;;) {
		ssize_t n;
		if (j->err_len < sizeof(j->err) - 1) {
			n = read(j->err_fd, j->err + j->err_len, sizeof(j->err) - 1 - j->err_len);
			if (n > 0)
				j->err_len += (size_t)n;
		} else {
			n = read(j->err_fd, sink, sizeof(sink));   /* keep the head only */
		}
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close_fd(p, &j->err_fd);
		return;
	}
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
	if (j->out_over) {
		snprintf(why, sizeof(why), "worker output larger than %u MiB", POOL_MAX_OUTPUT >> 20);
		fail_job(p, j->id, why);
		return;
	}
	if (!j->status_lost && WIFSIGNALED(j->status)) {
		int sig = WTERMSIG(j->status);
		p->stats.crashed++;
		const char *name = sigabbrev_np(sig) ? sigabbrev_np(sig) : "?";
		if (sig == SIGXCPU || sig == SIGKILL)
			snprintf(why, sizeof(why), "worker killed by SIG%s (CPU limit %u s)%s%s",
				 name, j->cpu_s, *line ? ": " : "", line);
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

static void check_job(struct pool *p, struct job *j)
{
	if (!j->active)
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
		if (!j->exited && !j->timed_out && now >= j->deadline_ms) {
			j->timed_out = true;
			kill(-j->pid, SIGKILL);
			kill(j->pid, SIGKILL);
		}
		check_job(p, j);
	}
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
			struct job *j = &p->jobs[tag >> 2];
			if (!j->active)
				continue;
			switch (tag & 3) {
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
		if (j->active && !j->exited) {
			kill(-j->pid, SIGKILL);
			kill(j->pid, SIGKILL);
			while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		reset_job(p, j);   /* the dump stays pending for the next start */
	}
	if (p->timerfd >= 0)
		close(p->timerfd);
	if (p->epfd >= 0)
		close(p->epfd);
	free(p->symbolizer);
	free(p->on_new_group);
	free(p->on_regression);
	free(p);
}
