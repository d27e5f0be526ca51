/* configs/riscv64-virt/config.h: compile-time limits and defaults of the kernel for QEMU virt. */
#ifndef CONFIGS_RISCV64_VIRT_CONFIG_H
#define CONFIGS_RISCV64_VIRT_CONFIG_H

#define K_MAX_THREADS   128          /* all threads, kernel ones included */
#define K_MAX_PROCS     16
#define K_MAX_VMAS      96           /* per process; each thread stack takes one */
#define K_KSTACK        16384        /* kernel stack per thread (the dump runs on it) */
#define K_USTACK        65536        /* user stack per thread, under a 4 KiB guard page */
#define K_TICK_NS       10000000UL   /* 10 ms scheduler tick */
#define K_MAX_RUN       8            /* run= words accepted */
#define K_RUN_MAX       128          /* length of one run= value */
#define K_FIRMWARE      "corecast-kernel 0.1"

/* Memory scope of a dump: default, overridden by corecast.scope= at boot. */
#define K_SCOPE_STACK     0          /* crashing thread's stack */
#define K_SCOPE_STACKS    1          /* every thread's stack */
#define K_SCOPE_WRITABLE  2          /* every writable mapping */
#define K_SCOPE_ALL       3          /* every mapping */
#define K_SCOPE_DEFAULT   K_SCOPE_STACKS
#endif
