/* tests/groups/grp-pool-run.c: drive the symbolization pool over a store until it is idle (pytest helper). */
/*
 * The same event-loop integration corecastd uses (one pool fd in an epoll set), so
 * the suites can exercise the pool, its limits and hooks without the network
 * path.  Prints one JSON line of statistics at the end.
 *
 *   grp-pool-run --store DIR [--workers N] [--timeout S] [--memory BYTES]
 *                [--symbolizer PATH] [--on-new-group CMD] [--on-regression CMD]
 *                [--scan] [--submit ID]... [--max-seconds S]
 *                [--per-core] [--worker-jobs N] [--worker-rss BYTES] [--cpu S]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "collector/groups/pool.h"
#include "collector/store/store.h"

static void log_line(void *ctx, int prio, const char *msg)
{
	fprintf(stderr, "<%d>%s\n", prio, msg);
}

int main(int argc, char **argv)
{
	struct pool_config cfg = { .log = log_line };
	const char *dir = NULL;
	static uint64_t submit[4096];
	int nsubmit = 0, scan = 0;
	double max_s = 60;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--scan")) {
			scan = 1;
			continue;
		}
		if (!strcmp(a, "--per-core")) {
			cfg.per_core = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "grp-pool-run: %s: missing value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--store"))
			dir = v;
		else if (!strcmp(a, "--workers"))
			cfg.workers = (unsigned)atoi(v);
		else if (!strcmp(a, "--timeout"))
			cfg.timeout_s = (unsigned)atoi(v);
		else if (!strcmp(a, "--memory"))
			cfg.memory = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--symbolizer"))
			cfg.symbolizer = v;
		else if (!strcmp(a, "--on-new-group"))
			cfg.on_new_group = v;
		else if (!strcmp(a, "--on-regression"))
			cfg.on_regression = v;
		else if (!strcmp(a, "--submit") && nsubmit < 4096)
			submit[nsubmit++] = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--cpu"))
			cfg.cpu_s = (unsigned)atoi(v);
		else if (!strcmp(a, "--worker-jobs"))
			cfg.worker_jobs = (unsigned)atoi(v);
		else if (!strcmp(a, "--worker-rss"))
			cfg.worker_rss = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--max-seconds"))
			max_s = atof(v);
		else {
			fprintf(stderr, "grp-pool-run: %s: unknown option\n", a);
			return 2;
		}
	}
	if (!dir) {
		fprintf(stderr, "grp-pool-run: --store DIR is required\n");
		return 2;
	}
	struct store *st;
	if (store_open(dir, STORE_RECOVER, &st) != STORE_OK) {
		fprintf(stderr, "grp-pool-run: %s\n", store_open_errmsg());
		return 1;
	}
	struct pool *p;
	enum pool_err pe = pool_create(st, &cfg, &p);
	if (pe != POOL_OK) {
		fprintf(stderr, "grp-pool-run: pool: %s\n", pool_strerror(pe));
		return 1;
	}
	int ep = epoll_create1(0), fd;
	pool_fds(p, &fd, 1);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	if (scan)
		pool_scan(p, NULL);
	for (int i = 0; i < nsubmit; i++)
		pool_submit(p, submit[i]);

	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int idle_rounds = 0;
	double busy_s = 0;   /* until the last job finished: the throughput figure */
	for (;;) {
		struct epoll_event out;
		int n = epoll_wait(ep, &out, 1, 500);
		if (n > 0)
			pool_on_event(p, out.data.fd);
		else
			pool_tick(p);
		/* idle twice in a row, a scan apart: nothing pending was missed */
		idle_rounds = pool_idle(p) ? idle_rounds + 1 : 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		double el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
		if (idle_rounds == 1)
			busy_s = el;
		if (idle_rounds >= 12 || el > max_s)
			break;
	}
	struct pool_stats s;
	pool_get_stats(p, &s);
	printf("{\"started\":%" PRIu64 ",\"done\":%" PRIu64 ",\"symbols_missing\":%" PRIu64
	       ",\"failed\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"crashed\":%" PRIu64
	       ",\"running\":%u,\"queued\":%u,\"busy_seconds\":%.3f,\"workers_started\":%" PRIu64
	       ",\"retired_jobs\":%" PRIu64 ",\"retired_rss\":%" PRIu64
	       ",\"worker_rss_peak_kb\":%" PRIu64 "}\n", s.started, s.done,
	       s.symbols_missing, s.failed, s.timeouts, s.crashed, s.running, s.queued, busy_s,
	       s.workers_started, s.retired_jobs, s.retired_rss, s.worker_rss_peak_kb);
	pool_destroy(p);
	store_close(st);
	return 0;
}
