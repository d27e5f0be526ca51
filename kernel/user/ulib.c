/* kernel/user/ulib.c: user C library glue: system call stubs, picolibc's stdio and exit hooks, threads with TLS. */
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernel/user/corecast.h"

/* picolibc's TLS helpers (picotls.h only declares them for some configurations). */
void _init_tls(void *tls);
extern char __tls_size[];

long cc_syscall(long n, long a0, long a1, long a2, long a3)
{
	register long r0 asm("a0") = a0;
	register long r1 asm("a1") = a1;
	register long r2 asm("a2") = a2;
	register long r3 asm("a3") = a3;
	register long r7 asm("a7") = n;
	asm volatile("ecall" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r3), "r"(r7) : "memory");
	return r0;
}

/* Console output is line-buffered per thread, so threads never interleave within a line. */
static __thread char obuf[160];
static __thread int olen;

static void oflush(void)
{
	if (olen)
		cc_syscall(SYS_write, (long)obuf, olen, 0, 0);
	olen = 0;
}

static int uputc(char c, FILE *f)
{
	(void)f;
	obuf[olen++] = c;
	if (c == '\n' || olen == (int)sizeof(obuf))
		oflush();
	return (unsigned char)c;
}

static int uflush(FILE *f)
{
	(void)f;
	oflush();
	return 0;
}

static FILE cc_stdio = FDEV_SETUP_STREAM(uputc, NULL, uflush, _FDEV_SETUP_WRITE);
FILE *const stdin = &cc_stdio;
FILE *const stdout = &cc_stdio;
FILE *const stderr = &cc_stdio;

void _exit(int code)
{
	oflush();
	cc_syscall(SYS_exit, code, 0, 0, 0);
	for (;;)
		;
}

/* abort() is a fault: the kernel dumps the process with SIGABRT at this call. */
void abort(void)
{
	oflush();
	cc_syscall(SYS_abort, 0, 0, 0, 0);
	for (;;)
		;
}

/*
 * Thread TLS blocks come from a fixed pool under a kernel mutex: picolibc's malloc
 * is not thread-safe, and a pool keeps a thread's creation free of the heap.
 */
#define TLS_SLOTS 96
#define TLS_BYTES 512
struct start_block {
	void (*fn)(void *);
	void *arg;
	int slot;
};
static uint8_t tls_pool[TLS_SLOTS][TLS_BYTES] __attribute__((aligned(16)));
static struct start_block starts[TLS_SLOTS];
static uint8_t tls_used[TLS_SLOTS];
static cc_mutex_t tls_lock = CC_MUTEX_INIT;

static void thread_entry(struct start_block *b)
{
	b->fn(b->arg);
	cc_thread_exit();
}

int cc_thread_create(void (*fn)(void *), void *arg, int prio)
{
	if ((uintptr_t)__tls_size > TLS_BYTES)
		return -K_ENOMEM;
	cc_mutex_lock(&tls_lock);
	int slot = -1;
	for (int i = 0; i < TLS_SLOTS && slot < 0; i++)
		if (!tls_used[i])
			slot = i;
	if (slot >= 0)
		tls_used[slot] = 1;
	cc_mutex_unlock(&tls_lock);
	if (slot < 0)
		return -K_EAGAIN;
	_init_tls(tls_pool[slot]);
	starts[slot] = (struct start_block){ fn, arg, slot };
	long tid = cc_syscall(SYS_thread_create, (long)thread_entry, (long)&starts[slot],
			      (long)tls_pool[slot], prio);
	if (tid < 0)
		tls_used[slot] = 0;
	return (int)tid;
}

void cc_thread_exit(void)
{
	oflush();
	/* The main thread's TLS is the image's own block, not a pool slot. */
	uintptr_t tp;
	asm volatile("mv %0, tp" : "=r"(tp));
	for (int i = 0; i < TLS_SLOTS; i++)
		if (tp == (uintptr_t)tls_pool[i])
			tls_used[i] = 0; /* nothing below touches TLS again */
	cc_syscall(SYS_thread_exit, 0, 0, 0, 0);
	for (;;)
		;
}

int cc_thread_join(int tid) { return (int)cc_syscall(SYS_thread_join, tid, 0, 0, 0); }

/* An uncontended lock and unlock still enter the kernel: simple, and the dump shows who waits where. */
void cc_mutex_lock(cc_mutex_t *m) { cc_syscall(SYS_mutex_lock, (long)m, 0, 0, 0); }
void cc_mutex_unlock(cc_mutex_t *m) { cc_syscall(SYS_mutex_unlock, (long)m, 0, 0, 0); }

void cc_cond_wait(cc_cond_t *c, cc_mutex_t *m)
{
	cc_syscall(SYS_cond_wait, (long)c, (long)m, 0, 0);
	cc_mutex_lock(m);
}

void cc_cond_signal(cc_cond_t *c) { cc_syscall(SYS_cond_signal, (long)c, 0, 0, 0); }
void cc_cond_broadcast(cc_cond_t *c) { cc_syscall(SYS_cond_broadcast, (long)c, 0, 0, 0); }
void cc_sleep_ms(uint64_t ms) { cc_syscall(SYS_sleep, (long)(ms * 1000000UL), 0, 0, 0); }
void cc_yield(void) { cc_syscall(SYS_yield, 0, 0, 0, 0); }

void *cc_mmap(size_t len, int prot)
{
	long r = cc_syscall(SYS_mmap, (long)len, prot, 0, 0);
	return r < 0 ? NULL : (void *)r;
}

int cc_munmap(void *p, size_t len) { return (int)cc_syscall(SYS_munmap, (long)p, (long)len, 0, 0); }
int cc_getpid(void) { return (int)cc_syscall(SYS_getpid, 0, 0, 0, 0); }
int cc_gettid(void) { return (int)cc_syscall(SYS_gettid, 0, 0, 0, 0); }
int cc_kill(int pid, int sig) { return (int)cc_syscall(SYS_kill, pid, sig, 0, 0); }
int cc_dump(void) { oflush(); return (int)cc_syscall(SYS_dump, 0, 0, 0, 0); }
uint64_t cc_time_ns(void) { return (uint64_t)cc_syscall(SYS_time_ns, 0, 0, 0, 0); }
long cc_freepages(void) { return cc_syscall(SYS_freepages, 0, 0, 0, 0); }
