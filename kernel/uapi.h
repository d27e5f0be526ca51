/* kernel/uapi.h: the system call numbers and constants shared by the kernel and user programs. */
#ifndef KERNEL_UAPI_H
#define KERNEL_UAPI_H

/* ecall with a7 = number, a0..a5 = arguments; result in a0 (negative = -error). */
enum k_sysno {
	SYS_write = 1,          /* (buf, len) -> len: console write */
	SYS_exit = 2,           /* (code): the whole process */
	SYS_thread_create = 3,  /* (entry, arg, tp, prio) -> tid; kernel allocates the stack */
	SYS_thread_exit = 4,    /* (value) */
	SYS_thread_join = 5,    /* (tid) -> 0 once the thread is gone */
	SYS_sleep = 6,          /* (ns) */
	SYS_yield = 7,
	SYS_mutex_lock = 8,     /* (word*): 0 = free, else the owner's tid */
	SYS_mutex_unlock = 9,   /* (word*) */
	SYS_cond_wait = 10,     /* (cond*, mutex*): releases the mutex; may wake spuriously */
	SYS_cond_signal = 11,   /* (cond*) */
	SYS_cond_broadcast = 12,/* (cond*) */
	SYS_mmap = 13,          /* (len, prot) -> address: anonymous, zeroed */
	SYS_munmap = 14,        /* (addr, len) */
	SYS_getpid = 15,
	SYS_gettid = 16,
	SYS_kill = 17,          /* (pid, sig) */
	SYS_abort = 18,         /* raise SIGABRT on the calling thread: fault path */
	SYS_dump = 19,          /* freeze, dump and unfreeze the calling process */
	SYS_time_ns = 20,       /* monotonic ns since boot */
	SYS_freepages = 21,     /* free physical pages (diagnostics and leak tests) */
	SYS_MAX
};

enum k_errno {
	K_EINVAL = 22,
	K_ENOMEM = 12,
	K_ESRCH = 3,
	K_EFAULT = 14,
	K_EAGAIN = 11,
	K_ENOSYS = 38,
	K_EDEADLK = 35,
	K_EPERM = 1,
};

/* prot bits for SYS_mmap */
enum { K_PROT_READ = 1, K_PROT_WRITE = 2, K_PROT_EXEC = 4 };

/* Linux signal numbers: the core's NT_PRSTATUS and the exit status use them. */
enum { K_SIGILL = 4, K_SIGTRAP = 5, K_SIGABRT = 6, K_SIGBUS = 7, K_SIGKILL = 9,
       K_SIGSEGV = 11, K_SIGTERM = 15 };

/* Thread priorities: higher runs first; programs start at K_PRIO_DEFAULT. */
#define K_PRIO_MIN 0
#define K_PRIO_MAX 7
#define K_PRIO_DEFAULT 3
#endif
