/* collector/groups/pool.h: symbolization worker pool — long-lived limited workers, or one child per dump. */
#ifndef GROUPS_POOL_H
#define GROUPS_POOL_H

#include <stdbool.h>
#include <stdint.h>

struct store;

/*
 * corecastd hands every stored dump to the pool, which symbolizes it in a limited
 * worker process, so a hostile core that makes the worker crash, spin or balloon
 * costs one failed job, never the daemon.  The worker's JSON is then signed and
 * grouped (groups.h) and hooks run (hooks.h).
 *
 * Workers (default): each slot keeps one `corecast-symbolize --serve` alive and
 * sends it one job line at a time naming the stored .core.zst, which the worker
 * decompresses itself (into a memfd; past 64 MiB an unnamed file in STORE/tmp), so
 * a job costs no fork and no temporary file, and the worker's symbol cache (open
 * ELF files, DWARF lookups) serves every core of a build: a storm of one build
 * costs the symbol parsing once, not once per core.  Limits per job: a wall-clock deadline,
 * CPU time measured from /proc/PID/stat against the job's start (and RLIMIT_CPU
 * moved along with prlimit as a backstop), RLIMIT_AS on the worker.  A worker that
 * crashes, hangs, runs out of CPU or prints anything but a well-formed result for
 * the job it was given is killed and the job recorded as failed with the reason;
 * the next job gets a fresh worker.  A worker is retired after worker_jobs jobs or
 * once its RSS passes worker_rss, so a long storm cannot grow it without bound.
 *
 * per_core: the older protocol, one `corecast-symbolize --core TMP ...` process
 * per dump (no cache across dumps), for symbolizer programs that do not speak
 * --serve; it is also the benchmark's baseline.  The core is decompressed to
 * STORE/tmp/ in the forked child, under the job's limits, before the exec.
 *
 * Event-loop integration: the pool owns an epoll instance holding its children's
 * pidfds and pipes and a 250 ms timer; that one fd (pool_fds) never changes, so
 * the daemon adds it to its own epoll once (EPOLLIN) and calls pool_on_event when
 * it is readable.  pool_tick may be called at any time as well (it is what the
 * timer drives).  The pool reaps only its own children (waitpid by pid).
 *
 * The durable queue is the grp_symbolization table: a dump is 'pending' until a
 * result or failure is recorded, so after a restart or a `corecastctl symbols add`
 * (which sets dumps back to pending) the pool's periodic scan picks them up.
 */

struct pool_config {
	unsigned workers;          /* SymbolizeWorkers=, concurrent children (default 2) */
	unsigned timeout_s;        /* SymbolizeTimeout=, wall clock per job (default 60) */
	uint64_t memory;           /* SymbolizeMemory=, RLIMIT_AS bytes (default 1 GiB) */
	unsigned cpu_s;            /* RLIMIT_CPU seconds; 0: same as timeout_s */
	const char *symbolizer;    /* program; NULL: corecast-symbolize next to our binary */
	const char *on_new_group;  /* OnNewGroup= command, may be NULL */
	const char *on_regression; /* OnRegression= command, may be NULL */
	int frames;                /* signature frames; 0: SIG_DEFAULT_FRAMES */
	bool per_core;             /* one process per dump instead of --serve workers */
	unsigned worker_jobs;      /* SymbolizeWorkerJobs=, jobs before a worker is retired */
	uint64_t worker_rss;       /* SymbolizeWorkerRSS=, RSS bytes past which it is retired */
	/* Where log lines go (prio as syslog, 3 err .. 7 debug); NULL: stderr. */
	void (*log)(void *ctx, int prio, const char *msg);
	void *log_ctx;
};

#define POOL_DEF_WORKERS  2u
#define POOL_DEF_TIMEOUT  60u
#define POOL_DEF_MEMORY   (1ull << 30)
#define POOL_MAX_OUTPUT   (32u << 20)    /* worker stdout cap, = JSON_MAX_INPUT */
#define POOL_DEF_WORKER_JOBS 1000u
#define POOL_DEF_WORKER_RSS  (256ull << 20)

enum pool_err {
	POOL_OK = 0,
	POOL_E_SYS,     /* epoll/timerfd/fork failed (errno kept) */
	POOL_E_DB,      /* the index refused the group tables */
	POOL_E_NOMEM,
};

struct pool_stats {
	uint64_t started, done, symbols_missing, failed, timeouts, crashed;
	/* serve mode: workers started, retired after worker_jobs / worker_rss, and
	 * the largest worker RSS seen at the end of a job (KiB) */
	uint64_t workers_started, retired_jobs, retired_rss, worker_rss_peak_kb;
	unsigned running, queued;
};

struct pool;

enum pool_err pool_create(struct store *st, const struct pool_config *cfg, struct pool **out);
/* Kill and reap running workers (their dumps stay pending for the next start). */
void pool_destroy(struct pool *p);
const char *pool_strerror(enum pool_err e);

/* New limits/hooks (SIGHUP); running jobs keep the limits they started with. */
void pool_reconfigure(struct pool *p, const struct pool_config *cfg);

/* The fds to watch for EPOLLIN: always exactly one; returns the count. */
int pool_fds(struct pool *p, int *fds, int max);
void pool_on_event(struct pool *p, int fd);
void pool_tick(struct pool *p);

/* A dump was stored: mark it pending and queue it. */
enum pool_err pool_submit(struct pool *p, uint64_t id);
/* Startup: every stored dump with no symbolization record becomes pending. */
enum pool_err pool_scan(struct pool *p, unsigned *queued);

/* Nothing running or queued (tests, drain on shutdown). */
int pool_idle(struct pool *p);
void pool_get_stats(struct pool *p, struct pool_stats *s);

#endif /* GROUPS_POOL_H */
