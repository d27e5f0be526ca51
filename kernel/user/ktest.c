/* kernel/user/ktest.c: exercises each system call and the scheduler; prints one "ktest ok NAME" line per check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernel/user/corecast.h"

static int failures;

static void check(const char *name, int ok)
{
	printf("ktest %s %s\n", ok ? "ok" : "FAIL", name);
	if (!ok)
		failures++;
}

/* mutex: N threads add to a counter with preemption on; the total must be exact. */
static cc_mutex_t lock = CC_MUTEX_INIT;
static volatile long counter;

static void adder(void *arg)
{
	for (int i = 0; i < 2000; i++) {
		cc_mutex_lock(&lock);
		long v = counter;
		for (volatile int s = 0; s < 20; s++)
			; /* widen the window a preemption could split */
		counter = v + 1;
		cc_mutex_unlock(&lock);
	}
	(void)arg;
}

/* condvar: a consumer waits for each item a producer publishes. */
static cc_mutex_t qlock = CC_MUTEX_INIT;
static cc_cond_t qcond = CC_COND_INIT;
static int queue_items, consumed;

static void consumer(void *arg)
{
	(void)arg;
	cc_mutex_lock(&qlock);
	while (consumed < 50) {
		while (queue_items == 0)
			cc_cond_wait(&qcond, &qlock);
		queue_items--;
		consumed++;
	}
	cc_mutex_unlock(&qlock);
}

/* priorities: a high-priority busy thread runs to completion before a low one starts. */
static volatile int order[2], order_n;

static void prio_worker(void *arg)
{
	for (volatile int i = 0; i < 200000; i++)
		;
	order[order_n++] = (int)(uintptr_t)arg;
}

/* preemption: two equal-priority busy threads both progress. */
static volatile unsigned long spin[2];
static volatile int stop_spin;

static void spinner(void *arg)
{
	int i = (int)(uintptr_t)arg;
	while (!stop_spin)
		spin[i]++;
}

/* FP state is per thread: values survive preemption and other threads' FP work. */
static volatile int fp_ok[2];

static void fp_worker(void *arg)
{
	int k = (int)(uintptr_t)arg;
	volatile double acc = k ? 1.25 : -3.5;
	double expect = acc;
	for (int i = 0; i < 300; i++) {
		acc = acc * 1.0001 + (k ? 0.5 : -0.25);
		expect = expect * 1.0001 + (k ? 0.5 : -0.25);
		if (i % 50 == 0)
			cc_yield();
	}
	register double live asm("fs3") = k ? 7.75 : -9.125;
	asm volatile("" : "+f"(live));
	cc_sleep_ms(30); /* the other thread runs and loads its own fs3 meanwhile */
	asm volatile("" : "+f"(live));
	fp_ok[k] = acc == expect && live == (k ? 7.75 : -9.125);
}

/* Waits interrupted by a dump request resume as if nothing happened. */
static cc_mutex_t held = CC_MUTEX_INIT;
static cc_mutex_t flag_lock = CC_MUTEX_INIT;
static cc_cond_t flag_cond = CC_COND_INIT;
static volatile int flag, mutex_got, cond_woke;
static volatile uint64_t slept_ns;

static void dump_sleeper(void *arg)
{
	(void)arg;
	uint64_t t0 = cc_time_ns();
	cc_sleep_ms(400);
	slept_ns = cc_time_ns() - t0;
}

static void dump_mutex_waiter(void *arg)
{
	(void)arg;
	cc_mutex_lock(&held);
	mutex_got = 1;
	cc_mutex_unlock(&held);
}

static void dump_cond_waiter(void *arg)
{
	(void)arg;
	cc_mutex_lock(&flag_lock);
	while (!flag)
		cc_cond_wait(&flag_cond, &flag_lock);
	cond_woke = 1;
	cc_mutex_unlock(&flag_lock);
}

static void unfreeze_checks(void)
{
	cc_mutex_lock(&held);
	int s = cc_thread_create(dump_sleeper, NULL, K_PRIO_DEFAULT);
	int m = cc_thread_create(dump_mutex_waiter, NULL, K_PRIO_DEFAULT);
	int c = cc_thread_create(dump_cond_waiter, NULL, K_PRIO_DEFAULT);
	cc_sleep_ms(100); /* all three are waiting now */
	check("dump_request", cc_dump() == 0);
	cc_sleep_ms(50);
	check("unfreeze_mutex_still_waits", !mutex_got);
	check("unfreeze_cond_still_waits", !cond_woke);
	cc_mutex_lock(&flag_lock);
	flag = 1;
	cc_cond_signal(&flag_cond);
	cc_mutex_unlock(&flag_lock);
	cc_thread_join(c);
	check("unfreeze_cond_wakes", cond_woke);
	cc_mutex_unlock(&held);
	cc_thread_join(m);
	check("unfreeze_mutex_acquires", mutex_got);
	cc_thread_join(s);
	printf("ktest sleeper slept %lu ms across the dump\n", (unsigned long)(slept_ns / 1000000));
	check("unfreeze_sleep_keeps_deadline", slept_ns >= 400000000UL && slept_ns < 3000000000UL);
}

static volatile int tid_seen;

static void tid_reporter(void *arg)
{
	(void)arg;
	tid_seen = cc_gettid();
}

int main(int argc, char **argv)
{
	(void)argc, (void)argv;
	check("getpid", cc_getpid() > 0);
	check("gettid", cc_gettid() > 0);

	int t[4];
	for (int i = 0; i < 4; i++)
		t[i] = cc_thread_create(adder, NULL, K_PRIO_DEFAULT);
	for (int i = 0; i < 4; i++)
		cc_thread_join(t[i]);
	check("mutex_counter", counter == 8000);

	int c = cc_thread_create(consumer, NULL, K_PRIO_DEFAULT);
	for (int i = 0; i < 50; i++) {
		cc_mutex_lock(&qlock);
		queue_items++;
		cc_cond_signal(&qcond);
		cc_mutex_unlock(&qlock);
		if (i % 7 == 0)
			cc_yield();
	}
	cc_thread_join(c);
	check("condvar_queue", consumed == 50 && queue_items == 0);

	int j = cc_thread_create(tid_reporter, NULL, K_PRIO_DEFAULT);
	check("thread_join", cc_thread_join(j) == 0 && tid_seen == j);

	uint64_t t0 = cc_time_ns();
	cc_sleep_ms(100);
	uint64_t slept = cc_time_ns() - t0;
	check("sleep_100ms", slept >= 100000000UL && slept < 3000000000UL);

	/* Both below main, the low one created first: once main blocks, the high one runs first. */
	int lo = cc_thread_create(prio_worker, (void *)1, K_PRIO_DEFAULT - 2);
	int hi = cc_thread_create(prio_worker, (void *)2, K_PRIO_DEFAULT - 1);
	cc_thread_join(lo);
	cc_thread_join(hi);
	check("priority_order", order_n == 2 && order[0] == 2 && order[1] == 1);

	int s0 = cc_thread_create(spinner, (void *)0, K_PRIO_DEFAULT);
	int s1 = cc_thread_create(spinner, (void *)1, K_PRIO_DEFAULT);
	cc_sleep_ms(200);
	stop_spin = 1;
	cc_thread_join(s0);
	cc_thread_join(s1);
	check("preemption_both_progress", spin[0] > 1000 && spin[1] > 1000);

	/* The first mapping in the area also allocates a page-table page, kept until exit. */
	cc_munmap(cc_mmap(4096, K_PROT_READ), 4096);
	long before = cc_freepages();
	uint8_t *m = cc_mmap(3 * 4096 + 1, K_PROT_READ | K_PROT_WRITE);
	int zero = m != NULL;
	for (int i = 0; m && i < 4 * 4096; i++)
		zero &= m[i] == 0;
	if (m)
		memset(m, 0x5a, 4 * 4096);
	check("mmap_zeroed_writable", zero && m && m[4 * 4096 - 1] == 0x5a);
	check("mmap_pages_taken", cc_freepages() == before - 4);
	check("munmap", m && cc_munmap(m, 4 * 4096) == 0 && cc_freepages() == before);
	check("munmap_bad", cc_munmap((void *)0x12345000, 4096) < 0);
	check("kill_bad_pid", cc_kill(9999, 15) < 0);

	/* Bad arguments come back as errors; the kernel never touches memory it should not. */
	check("write_unmapped_efault", cc_syscall(SYS_write, 0x10, 10, 0, 0) == -K_EFAULT);
	check("write_kernel_memory_efault", cc_syscall(SYS_write, 0x80200000L, 16, 0, 0) == -K_EFAULT);
	check("mutex_kernel_word_efault", cc_syscall(SYS_mutex_lock, 0x80200000L, 0, 0, 0) == -K_EFAULT);
	check("mutex_text_word_efault", cc_syscall(SYS_mutex_lock, (long)(uintptr_t)main, 0, 0, 0) == -K_EFAULT);
	check("unknown_syscall_enosys", cc_syscall(999, 0, 0, 0, 0) == -K_ENOSYS);
	check("mmap_too_big", cc_mmap(1UL << 30, K_PROT_READ) == NULL);
	check("mutex_unlock_not_owner", cc_syscall(SYS_mutex_unlock, (long)&lock, 0, 0, 0) == -K_EPERM);

	int f0 = cc_thread_create(fp_worker, (void *)0, K_PRIO_DEFAULT);
	int f1 = cc_thread_create(fp_worker, (void *)1, K_PRIO_DEFAULT);
	cc_thread_join(f0);
	cc_thread_join(f1);
	check("fp_state_per_thread", fp_ok[0] && fp_ok[1]);

	if (argc > 1 && !strcmp(argv[1], "unfreeze"))
		unfreeze_checks();

	printf("ktest done failures=%d\n", failures);
	if (argc > 1 && !strcmp(argv[1], "touch_unmapped")) {
		printf("ktest touching unmapped memory\n");
		m[0] = 1; /* after munmap: must fault */
	}
	if (argc > 1 && !strcmp(argv[1], "kill_self")) {
		printf("ktest killing itself\n");
		cc_kill(cc_getpid(), 15);
		printf("ktest still alive after kill\n"); /* must never appear */
	}
	if (argc > 1 && !strcmp(argv[1], "wait_kill")) {
		printf("ktest waiting to be killed\n");
		for (;;)
			cc_sleep_ms(1000);
	}
	return failures;
}
