/* kernel/user/corecast.h: the user-side API of the corecast kernel (system calls, threads, locks). */
#ifndef CORECAST_USER_H
#define CORECAST_USER_H

#include <stddef.h>
#include <stdint.h>
#include "kernel/uapi.h"

long cc_syscall(long n, long a0, long a1, long a2, long a3);

typedef struct { volatile uint32_t owner; } cc_mutex_t;   /* 0 = unlocked */
typedef struct { volatile uint32_t seq; } cc_cond_t;
#define CC_MUTEX_INIT { 0 }
#define CC_COND_INIT { 0 }

int cc_thread_create(void (*fn)(void *), void *arg, int prio);  /* -> tid or -errno */
__attribute__((noreturn)) void cc_thread_exit(void);
int cc_thread_join(int tid);
void cc_mutex_lock(cc_mutex_t *m);
void cc_mutex_unlock(cc_mutex_t *m);
void cc_cond_wait(cc_cond_t *c, cc_mutex_t *m);
void cc_cond_signal(cc_cond_t *c);
void cc_cond_broadcast(cc_cond_t *c);
void cc_sleep_ms(uint64_t ms);
void cc_yield(void);
void *cc_mmap(size_t len, int prot);
int cc_munmap(void *p, size_t len);
int cc_getpid(void);
int cc_gettid(void);
int cc_kill(int pid, int sig);
int cc_dump(void);
uint64_t cc_time_ns(void);
long cc_freepages(void);
#endif
