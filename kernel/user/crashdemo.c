/* kernel/user/crashdemo.c: crashes on purpose, with helper threads blocked in every kind of wait. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernel/user/corecast.h"

/*
 * Arguments (run=crashdemo:KEY=VAL:...):
 *   mode=segv|stackoverflow|illegal|misaligned|breakpoint|abort|writetext|none
 *   threads=N   extra threads, in turn: blocked on a mutex, on a condvar, sleeping, busy
 *   fp=1        known values in fs0..fs11 when the fault happens
 *   dump=1      ask for a dump of the running process first, then carry on
 *   mem=N       allocate and fill N MiB (for dump-size benchmarks)
 *   churn=N     keep N threads being created and exiting while the fault happens
 *   delay=MS    run this long before the fault (default 300)
 *   progress=N  print N progress lines (mode=none)
 *   writer=1    a thread writing 4 KiB lines, each in one (long, preemptible) system call
 *   spawner=1   a thread creating short-lived threads without pause; main spins, then faults
 *   faulters=1  a second thread that faults as soon as main does
 */
static cc_mutex_t held = CC_MUTEX_INIT;      /* main holds it: mutex waiters block forever */
static cc_mutex_t cv_lock = CC_MUTEX_INIT;
static cc_cond_t cv = CC_COND_INIT;
static volatile int busy_spin = 1;
static volatile unsigned long churn_count;
static int churn_target;

/* FP values the test expects in fs0..fs11 (f8, f9, f18..f27): 1.5, 2.5, ... */
static const double fp_values[12] = { 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5 };

static void __attribute__((noinline)) load_fp(void)
{
	asm volatile("fld fs0, 0(%0)\n\tfld fs1, 8(%0)\n\tfld fs2, 16(%0)\n\tfld fs3, 24(%0)\n\t"
		     "fld fs4, 32(%0)\n\tfld fs5, 40(%0)\n\tfld fs6, 48(%0)\n\tfld fs7, 56(%0)\n\t"
		     "fld fs8, 64(%0)\n\tfld fs9, 72(%0)\n\tfld fs10, 80(%0)\n\tfld fs11, 88(%0)"
		     : : "r"(fp_values) : "memory");
}

static void mutex_waiter(void *arg)
{
	(void)arg;
	cc_mutex_lock(&held);
	cc_mutex_unlock(&held);
}

static void cond_waiter(void *arg)
{
	(void)arg;
	cc_mutex_lock(&cv_lock);
	for (;;)
		cc_cond_wait(&cv, &cv_lock);
}

static void sleeper(void *arg)
{
	(void)arg;
	for (;;)
		cc_sleep_ms(100000);
}

static void busy(void *arg)
{
	volatile unsigned long *n = arg;
	while (busy_spin)
		(*n)++;
}

/* Writes long lines in single system calls, which are preempted in the kernel. */
static void writer(void *arg)
{
	static char line[4097];
	(void)arg;
	memset(line, 'W', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	for (;;)
		cc_syscall(SYS_write, (long)line, sizeof(line), 0, 0);
}

static int crash_segv(int depth_marker);

static void short_lived(void *arg)
{
	(void)arg;
}

static void spawner(void *arg)
{
	(void)arg;
	for (;;)
		if (cc_thread_create(short_lived, NULL, K_PRIO_DEFAULT) < 0)
			cc_yield();
}

static volatile int fault_now;

static void second_faulter(void *arg)
{
	(void)arg;
	while (!fault_now)
		;
	crash_segv(2);
}

static void churn_worker(void *arg)
{
	volatile int x = 0;
	for (int i = 0; i < 200; i++)
		x += i;
	/* Stay alive a little, so the fault finds many threads: in user code, runnable, asleep. */
	cc_sleep_ms(1 + (uintptr_t)arg % 4);
	churn_count++;
}

static void churn_manager(void *arg)
{
	(void)arg;
	int live[64] = { 0 };
	for (;;) {
		for (int i = 0; i < churn_target; i++) {
			if (live[i] > 0)
				cc_thread_join(live[i]);
			live[i] = cc_thread_create(churn_worker, (void *)(uintptr_t)i, K_PRIO_DEFAULT);
		}
	}
}

static int crash_segv(int depth_marker)
{
	volatile int *bad = (volatile int *)0x10;
	int local_answer = 42 + depth_marker;
	*bad = local_answer; /* store page fault: 0x10 is not a user address */
	return local_answer;
}

static volatile int keep_going = 1;

static int recurse(int n)
{
	volatile char frame[1024];
	frame[0] = (char)n;
	frame[1023] = (char)n;
	if (!keep_going) /* always true; keeps the compiler from calling this endless */
		return n;
	return recurse(n + 1) + frame[0] + frame[1023];
}

static void crash_illegal(void)
{
	asm volatile(".4byte 0"); /* the all-zero word is defined to be illegal */
}

static int crash_misaligned(void)
{
	static volatile uint32_t words[4];
	volatile uint32_t *p = (volatile uint32_t *)((uintptr_t)words + 1);
	uint32_t old;
	/* AMOs never tolerate misalignment (plain loads may be emulated by the firmware). */
	asm volatile("amoadd.w %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(1) : "memory");
	return (int)old;
}

static void crash_breakpoint(void)
{
	asm volatile("ebreak");
}

static void __attribute__((noinline)) do_crash(const char *mode, int fp)
{
	int marker = 7;
	if (fp)
		load_fp();
	if (!strcmp(mode, "segv"))
		crash_segv(marker);
	else if (!strcmp(mode, "stackoverflow"))
		recurse(0);
	else if (!strcmp(mode, "illegal"))
		crash_illegal();
	else if (!strcmp(mode, "misaligned"))
		crash_misaligned();
	else if (!strcmp(mode, "breakpoint"))
		crash_breakpoint();
	else if (!strcmp(mode, "abort"))
		abort();
	else if (!strcmp(mode, "writetext"))
		*(volatile uint8_t *)(uintptr_t)do_crash = 0; /* text is mapped read+execute only */
}

static const char *opt(int argc, char **argv, const char *key, const char *def)
{
	size_t n = strlen(key);
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
			return argv[i] + n + 1;
	return def;
}

int main(int argc, char **argv)
{
	const char *mode = opt(argc, argv, "mode", "segv");
	int nthreads = atoi(opt(argc, argv, "threads", "0"));
	int fp = atoi(opt(argc, argv, "fp", "0"));
	int dump = atoi(opt(argc, argv, "dump", "0"));
	int mem = atoi(opt(argc, argv, "mem", "0"));
	int delay = atoi(opt(argc, argv, "delay", "300"));
	int progress = atoi(opt(argc, argv, "progress", "5"));
	churn_target = atoi(opt(argc, argv, "churn", "0"));
	if (churn_target > 64)
		churn_target = 64;
	static volatile unsigned long spins[64];

	printf("crashdemo pid=%d mode=%s threads=%d fp=%d\n", cc_getpid(), mode, nthreads, fp);
	cc_mutex_lock(&held);
	for (int i = 0; i < nthreads && i < 64; i++) {
		static void (*const roles[4])(void *) = { mutex_waiter, cond_waiter, sleeper, busy };
		int tid = cc_thread_create(roles[i % 4], (void *)&spins[i], K_PRIO_DEFAULT - 1);
		printf("crashdemo thread tid=%d role=%d\n", tid, i % 4);
	}
	if (churn_target)
		cc_thread_create(churn_manager, NULL, K_PRIO_DEFAULT);
	if (atoi(opt(argc, argv, "writer", "0")))
		cc_thread_create(writer, NULL, K_PRIO_DEFAULT);
	int spin_delay = 0;
	if (atoi(opt(argc, argv, "spawner", "0"))) {
		cc_thread_create(spawner, NULL, K_PRIO_DEFAULT);
		spin_delay = 1; /* stay runnable, so every yield of the spawner lands here */
	}
	if (atoi(opt(argc, argv, "faulters", "0"))) {
		cc_thread_create(second_faulter, NULL, K_PRIO_DEFAULT);
		spin_delay = 1;
	}
	if (mem > 0) {
		size_t bytes = (size_t)mem << 20;
		uint8_t *m = cc_mmap(bytes, K_PROT_READ | K_PROT_WRITE);
		if (!m) {
			printf("crashdemo: mmap of %d MiB failed\n", mem);
		} else {
			/* Varied bytes, so run-length encoding cannot shrink the dump away. */
			uint32_t x = 2463534242u;
			for (size_t i = 0; i < bytes; i += 4) {
				x ^= x << 13, x ^= x >> 17, x ^= x << 5;
				memcpy(m + i, &x, 4);
			}
		}
	}
	if (spin_delay) {
		uint64_t end = cc_time_ns() + (uint64_t)delay * 1000000UL;
		while (cc_time_ns() < end)
			;
	} else {
		cc_sleep_ms((uint64_t)delay);
	}
	if (dump) {
		printf("crashdemo: requesting dump\n");
		cc_dump();
		printf("crashdemo: dump done\n");
	}
	if (!strcmp(mode, "none")) {
		for (int i = 0; i < progress; i++) {
			printf("crashdemo progress %d\n", i);
			cc_sleep_ms(50);
		}
		busy_spin = 0;
		printf("crashdemo done churned=%lu\n", churn_count);
		exit(0);
	}
	printf("crashdemo: crashing now (%s) churned=%lu\n", mode, churn_count);
	fault_now = 1;
	do_crash(mode, fp);
	printf("crashdemo: mode %s did not crash\n", mode);
	return 1;
}
