/* tests/store/bench-store.c: store throughput — spool ingest of a 64 MiB core, commit, read back. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "collector/store/store.h"
#include "netdump/sha256.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Core-like content: a third zero pages, the rest a mix of text and noise. */
static void fill(uint8_t *p, size_t n)
{
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		size_t page = i / 4096;
		p[i] = page % 3 == 1 ? 0 : page % 3 == 2 ? (uint8_t)x : (uint8_t)("mov a0,a1\n"[i % 10]);
	}
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : NULL;
	size_t n = 64u << 20, pkt = getenv("PKT") ? (size_t)atoi(getenv("PKT")) : 1400;
	char tmpl[] = "/tmp/ccstore-bench-XXXXXX";
	if (!dir && !(dir = mkdtemp(tmpl)))
		return 1;
	uint8_t *core = malloc(n), sha[32];
	fill(core, n);
	nd_sha256(core, n, sha);

	struct store *st;
	if (store_open(dir, STORE_CREATE | STORE_RECOVER, &st) != STORE_OK) {
		fprintf(stderr, "bench-store: %s\n", store_open_errmsg());
		return 1;
	}
	store_set_limits(st, 1ll << 40, 0);
	struct nd_meta m;
	memset(&m, 0, sizeof m);
	snprintf(m.device, sizeof m.device, "bench");
	m.core_size = n;
	m.seq = (uint32_t)time(NULL);

	struct spool *sp;
	uint64_t resume, id;
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	double t0 = now_s();
	if (store_spool_open(st, &m, &sp, &resume) != STORE_OK)
		return 1;
	for (size_t off = 0; off < n; off += pkt) {
		size_t len = n - off < pkt ? n - off : pkt;
		if (store_spool_write(sp, off, core + off, len) != STORE_OK ||
		    store_spool_advance(sp, off + len) != STORE_OK) {
			fprintf(stderr, "bench-store: %s\n", store_errmsg(st));
			return 1;
		}
	}
	double t1 = now_s();
	getrusage(RUSAGE_SELF, &r1);
	double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
	                      r0.ru_stime.tv_sec) +
	             (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
	              r0.ru_stime.tv_usec) / 1e6;
	if (store_spool_finish(sp, sha, &id) != STORE_OK) {
		fprintf(stderr, "bench-store: %s\n", store_errmsg(st));
		return 1;
	}
	double t2 = now_s();
	struct store_rec r;
	store_get(st, id, &r);

	struct store_reader *rd;
	size_t got, total = 0;
	uint8_t *buf = malloc(1 << 17);
	store_open_core(st, id, &rd);
	while (store_read(rd, buf, 1 << 17, &got) == STORE_OK && got) {
		if (memcmp(buf, core + total, got))
			return fprintf(stderr, "bench-store: read-back differs\n"), 1;
		total += got;
	}
	store_reader_close(rd);
	double t3 = now_s();

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("store bench: %zu MiB core in %zu-byte writes\n", n >> 20, pkt);
	printf("  spool ingest (write+hash+compress+sync): %.0f MB/s\n", n / 1e6 / (t1 - t0));
	printf("  spool ingest CPU time: %.0f ms (%.0f MB/s per core, load-independent)\n",
	       cpu * 1e3, n / 1e6 / cpu);
	printf("  finish (tail, verify, fsync, rename, index): %.1f ms\n", (t2 - t1) * 1e3);
	printf("  end to end ingest+commit: %.0f MB/s\n", n / 1e6 / (t2 - t0));
	printf("  compressed %.1f MiB (ratio %.2f)\n", r.csize / 1048576.0, (double)n / r.csize);
	printf("  read back (decompress): %.0f MB/s, %s\n", n / 1e6 / (t3 - t2),
	       total == n ? "byte-identical" : "SHORT");
	printf("  peak RSS %ld MiB (includes the 64 MiB test buffer)\n", ru.ru_maxrss / 1024);
	store_rm(st, id);

	/* 500 sessions of 2 MiB in flight at once, packets interleaved across them. */
	enum { NS = 500 };
	size_t small = 2u << 20;
	struct spool **sps = calloc(NS, sizeof *sps);
	uint8_t ssha[32];
	nd_sha256(core, small, ssha);
	long rss0 = ru.ru_maxrss;
	double t4 = now_s();
	for (unsigned i = 0; i < NS; i++) {
		m.seq = 1000000 + i;
		m.core_size = small;
		if (store_admit(st, small) != STORE_OK ||
		    store_spool_open(st, &m, &sps[i], &resume) != STORE_OK) {
			fprintf(stderr, "bench-store: %s\n", store_errmsg(st));
			return 1;
		}
	}
	for (size_t off = 0; off < small; off += 8 * pkt)
		for (unsigned i = 0; i < NS; i++)
			for (size_t k = off; k < off + 8 * pkt && k < small; k += pkt) {
				size_t len = small - k < pkt ? small - k : pkt;
				if (store_spool_write(sps[i], k, core + k, len) != STORE_OK ||
				    store_spool_advance(sps[i], k + len) != STORE_OK) {
					fprintf(stderr, "bench-store: %s\n", store_errmsg(st));
					return 1;
				}
			}
	double t5 = now_s();
	for (unsigned i = 0; i < NS; i++)
		if (store_spool_finish(sps[i], ssha, &id) != STORE_OK) {
			fprintf(stderr, "bench-store: %s\n", store_errmsg(st));
			return 1;
		}
	double t6 = now_s();
	getrusage(RUSAGE_SELF, &ru);
	printf("  %d sessions x %zu MiB interleaved: ingest %.0f MB/s, %d commits in %.2f s "
	       "(%.1f ms each), peak RSS %ld MiB (before: %ld MiB)\n", NS, small >> 20,
	       NS * (double)small / 1e6 / (t5 - t4), NS, t6 - t5, (t6 - t5) * 1e3 / NS,
	       ru.ru_maxrss / 1024, rss0 / 1024);
	free(sps);
	store_close(st);
	if (argc <= 1) {
		char cmd[256];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	free(core);
	free(buf);
	return total == n ? 0 : 1;
}
