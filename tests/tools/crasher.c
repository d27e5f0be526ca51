/* tests/tools/crasher.c: a small multi-threaded program that crashes on purpose, so tests get real Linux cores. */
/*
 * What a test can rely on in the core:
 *  - the faulting thread is the main thread, with the call chain
 *    main -> crasher_level1 -> crasher_level2 -> crasher_level3 (frame pointers kept);
 *  - CRASHER_THREADS other threads are alive, parked in crasher_idle_thread;
 *  - the marker string below sits in heap memory (heap pages are always dumped);
 *  - with --alloc-mib N, N MiB of anonymous memory are written (every page dirty),
 *    so the core grows by about N MiB; --fill picks zero, pattern or random bytes
 *    (random is what a compressor cannot shrink).
 * Thread stacks are kept small so the core size is dominated by --alloc-mib.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CRASHER_THREADS 3
#define CRASHER_MARKER  "CORECAST-CRASHER-MARKER-7f3a9c"

enum crash_kind { CRASH_SEGV, CRASH_ABORT, CRASH_FPE };

/* Globals the debugger and tests look at; volatile so nothing is optimised away. */
char *volatile crasher_marker;
volatile uint8_t *volatile crasher_ballast;
volatile int crasher_divisor;
static pthread_barrier_t ready;

static void *crasher_idle_thread(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&ready);
	for (;;)
		pause();
	return NULL;
}

__attribute__((noinline)) static void crasher_level3(enum crash_kind kind)
{
	switch (kind) {
	case CRASH_ABORT:
		abort();
	case CRASH_FPE: {
		volatile int x = 42 / crasher_divisor; /* divisor is 0: SIGFPE on x86 */
		(void)x;
		raise(SIGFPE);                           /* architectures that don't trap */
		break;
	}
	case CRASH_SEGV:
		break;
	}
	*(volatile int *)(uintptr_t)crasher_divisor = 1;  /* NULL store: SIGSEGV */
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void crasher_level2(enum crash_kind kind)
{
	crasher_level3(kind);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void crasher_level1(enum crash_kind kind)
{
	crasher_level2(kind);
	__asm__ volatile("" ::: "memory");
}

static void fill(volatile uint8_t *p, size_t n, const char *how)
{
	if (strcmp(how, "zero") == 0) {
		/* Touch every page so it is dirty, yet compresses to nothing. */
		for (size_t i = 0; i < n; i += 4096)
			p[i] = 0;
	} else if (strcmp(how, "pattern") == 0) {
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)(i * 7 + (i >> 12));
	} else {
		uint64_t s = 0x2545f4914f6cdd1dull;
		for (size_t i = 0; i + 8 <= n; i += 8) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			for (int b = 0; b < 8; b++)
				p[i + (size_t)b] = (uint8_t)(s >> (8 * b));
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: crasher [--signal segv|abort|fpe] [--alloc-mib N] "
		   "[--fill zero|pattern|random]\n");
}

int main(int argc, char **argv)
{
	enum crash_kind kind = CRASH_SEGV;
	unsigned long mib = 0;
	const char *how = "random";

	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[a], "--signal") == 0 && a + 1 < argc) {
			const char *s = argv[++a];
			if (strcmp(s, "segv") == 0)
				kind = CRASH_SEGV;
			else if (strcmp(s, "abort") == 0)
				kind = CRASH_ABORT;
			else if (strcmp(s, "fpe") == 0)
				kind = CRASH_FPE;
			else {
				fprintf(stderr, "crasher: --signal %s: expected segv, abort or fpe\n", s);
				return 2;
			}
		} else if (strcmp(argv[a], "--alloc-mib") == 0 && a + 1 < argc) {
			mib = strtoul(argv[++a], NULL, 10);
		} else if (strcmp(argv[a], "--fill") == 0 && a + 1 < argc) {
			how = argv[++a];
		} else {
			fprintf(stderr, "crasher: %s: unknown option\n", argv[a]);
			usage(stderr);
			return 2;
		}
	}

	crasher_marker = strdup(CRASHER_MARKER);
	if (mib) {
		crasher_ballast = malloc(mib << 20);
		if (!crasher_ballast) {
			fprintf(stderr, "crasher: cannot allocate %lu MiB\n", mib);
			return 1;
		}
		fill(crasher_ballast, mib << 20, how);
	}

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_barrier_init(&ready, NULL, CRASHER_THREADS + 1);
	for (int i = 0; i < CRASHER_THREADS; i++) {
		pthread_t t;
		if (pthread_create(&t, &attr, crasher_idle_thread, NULL) != 0) {
			fprintf(stderr, "crasher: cannot start thread %d\n", i);
			return 1;
		}
	}
	pthread_barrier_wait(&ready);
	printf("crasher: pid %d, %d threads, marker %s, crashing with %s\n", (int)getpid(),
	       CRASHER_THREADS + 1, crasher_marker,
	       kind == CRASH_SEGV ? "SIGSEGV" : kind == CRASH_ABORT ? "SIGABRT" : "SIGFPE");
	fflush(stdout);
	crasher_level1(kind);
	return 0;
}
