/* tests/bench/cw_bench.c: core writer and serial encoder throughput on the host, with medians. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hal/riscv64/regset.h"
#include "kernel/coredump/coredump.h"
#include "kernel/coredump/serial.h"

#define MEM_BYTES (64u << 20)
#define RUNS 5
#define BASE 0x40000000ull

static uint8_t *mem;
static struct riscv64_uctx uctx;

static int b_proc(void *c, struct cw_proc *o)
{
	(void)c;
	*o = (struct cw_proc){ .pid = 1, .name = "bench", .crash_tid = 1, .signo = 11 };
	return 0;
}
static uint32_t b_one(void *c) { (void)c; return 1; }
static int b_thread(void *c, uint32_t i, struct cw_thread *o)
{
	(void)c; (void)i;
	*o = (struct cw_thread){ .tid = 1, .uctx = &uctx };
	return 0;
}
static int b_map(void *c, uint32_t i, struct cw_map *o)
{
	(void)c; (void)i;
	*o = (struct cw_map){ BASE, BASE + MEM_BYTES, CW_PROT_R | CW_PROT_W, 0, -1, 0 };
	return 0;
}
static int b_read(void *c, uint64_t addr, void *buf, uint32_t len)
{
	(void)c;
	memcpy(buf, mem + (addr - BASE), len);
	return 0;
}
static int null_sink(void *c, const void *b, size_t n) { (void)c; (void)b; (void)n; return 0; }
static void null_put(void *c, const char *s, size_t n) { (void)s; *(size_t *)c += n; }

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v) { qsort(v, RUNS, sizeof *v, cmp); return v[RUNS / 2]; }

static struct cw_writer W;

int main(void)
{
	mem = malloc(MEM_BYTES);
	if (!mem)
		return 1;
	/* a core-like mix: zero pages, small repeats, random data */
	srand(1);
	for (size_t i = 0; i < MEM_BYTES; i += 4096) {
		int kind = rand() % 4;
		for (size_t k = 0; k < 4096; k++)
			mem[i + k] = kind == 0 ? 0 : kind == 1 ? (uint8_t)(k & 0x0f) : (uint8_t)rand();
	}
	uctx.gpr[RV64_SP] = BASE + 4096;
	struct cw_source src = { .arch = &cw_arch_riscv64, .proc = b_proc, .thread_count = b_one,
	                         .thread = b_thread, .map_count = b_one, .map = b_map, .read_mem = b_read };
	struct cw_config cfg;
	cw_config_default(&cfg);
	cfg.scope = CW_SCOPE_ALL;
	double plain[RUNS], hashed[RUNS], ser[RUNS];
	uint8_t sha[32];
	for (int r = 0; r < RUNS; r++) {
		if (cw_begin(&W, &src, &cfg) != CW_OK)
			return 1;
		double t0 = now();
		cw_write(&W, null_sink, NULL, NULL);
		double t1 = now();
		cw_write(&W, null_sink, NULL, sha);
		double t2 = now();
		plain[r] = (double)W.size / (t1 - t0) / 1e9;
		hashed[r] = (double)W.size / (t2 - t1) / 1e9;
	}
	/* retransmission cost: random 1400-byte re-reads (one datagram's payload) */
	double rr[RUNS];
	static uint8_t pkt[1400];
	srand(2);
	for (int r = 0; r < RUNS; r++) {
		const int n = 20000;
		double t0 = now();
		for (int i = 0; i < n; i++) {
			uint64_t off = ((uint64_t)rand() << 16 ^ (uint64_t)rand()) % (W.size - sizeof pkt);
			cw_read_range(&W, off, pkt, sizeof pkt);
		}
		rr[r] = (now() - t0) / n * 1e6;
	}
	size_t chars = 0;
	const size_t ser_bytes = 16u << 20;
	for (int r = 0; r < RUNS; r++) {
		struct cw_serial s;
		chars = 0;
		double t0 = now();
		cw_serial_begin(&s, null_put, &chars, 76, "/bin/bench", "bench");
		cw_serial_sink(&s, mem, ser_bytes);
		cw_serial_end(&s);
		ser[r] = (double)ser_bytes / (now() - t0) / 1e6;
	}
	printf("bench cw: writer to null sink, %u MiB core:  %.2f GB/s (median of %d)\n", MEM_BYTES >> 20,
	       median(plain), RUNS);
	printf("bench cw: writer + SHA-256 (%s):           %.2f GB/s\n", nd_sha256_impl(), median(hashed));
	printf("bench cw: cw_read_range of 1400 random bytes:  %.2f us each\n", median(rr));
	printf("bench cw: serial encoding, 16 MiB core:         %.1f MB/s of core, %.2f text chars per byte\n",
	       median(ser), (double)chars / (double)ser_bytes);
	printf("bench cw: scratch RAM: writer %zu bytes (CW_MAX_SEGS %d, CW_CHUNK %d), serial sink %zu bytes\n",
	       sizeof(struct cw_writer), CW_MAX_SEGS, CW_CHUNK, sizeof(struct cw_serial));
	free(mem);
	return 0;
}
