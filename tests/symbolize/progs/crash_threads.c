/* Test program for the symbolizer: four threads, one of which faults through level1 -> level2 -> level3. */
#include <pthread.h>
#include <stddef.h>
#include <unistd.h>

static pthread_barrier_t ready;

/* volatile keeps the faulting store from being optimised into a trap instruction. */
static volatile int *volatile target;

__attribute__((noinline)) void level3(int depth);
#ifndef INLINE_LEVEL2
__attribute__((noinline)) void level2(int depth);
#else
#define level2 level2_body
#endif
__attribute__((noinline)) void level1(int depth);

__attribute__((noinline)) void level3(int depth)
{
    *target = depth;            /* SIGSEGV: target is NULL */
}

/* Built with -DINLINE_LEVEL2, level2 is inlined into level1: the backtrace must
 * still show it, as an inlined frame. */
#ifdef INLINE_LEVEL2
static inline __attribute__((always_inline)) void level2_body(int depth)
#else
__attribute__((noinline)) void level2(int depth)
#endif
{
    level3(depth + 1);
    __asm__ volatile("" ::: "memory");  /* keep the call from becoming a tail call */
}

__attribute__((noinline)) void level1(int depth)
{
    level2(depth + 1);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void *idle_worker(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&ready);
    for (;;)
        pause();
    return NULL;
}

__attribute__((noinline)) static void *crashing_worker(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&ready);
    usleep(100 * 1000);         /* let the idle threads settle in pause() */
    level1(1);
    return NULL;
}

int main(void)
{
    pthread_t t[3];
    pthread_attr_t attr;
    /* Small stacks keep the cores small: the benchmark makes hundreds of them. */
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    pthread_barrier_init(&ready, NULL, 4);
    pthread_create(&t[0], &attr, idle_worker, NULL);
    pthread_create(&t[1], &attr, idle_worker, NULL);
    pthread_create(&t[2], &attr, crashing_worker, NULL);
    pthread_barrier_wait(&ready);
    pthread_join(t[2], NULL);
    return 0;
}
