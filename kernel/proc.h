/* kernel/proc.h: processes, threads, the scheduler interface and the freeze state. */
#ifndef KERNEL_PROC_H
#define KERNEL_PROC_H

#include "kernel/kernel.h"

enum vma_kind { VMA_FREE = 0, VMA_IMAGE, VMA_ANON, VMA_STACK };

/* One mapping of a user address space; pages are allocated when it is created. */
struct vma {
	uint64_t start, end;     /* [start, end), page aligned */
	int prot;                /* HAL_PROT_* */
	enum vma_kind kind;
	int tid;                 /* owner of a stack mapping */
};

enum thread_state { T_UNUSED = 0, T_RUNNABLE, T_RUNNING, T_SLEEPING, T_FROZEN, T_DEAD };

struct proc;

struct thread {
	enum thread_state state;
	int tid;
	int prio;
	struct proc *proc;            /* k_kernel_proc for kernel threads */
	struct hal_kctx kctx;         /* kernel context while switched out */
	struct hal_trapframe tf;      /* user context, saved on every kernel entry */
	uint8_t *kstack;              /* K_KSTACK bytes */
	/* sleep: the channel and whether a freeze or kill may take the thread out */
	const void *chan;
	int interruptible;
	int intr;                     /* set when taken out of an interruptible wait */
	uint64_t wake_at;             /* ns deadline of a timed sleep, 0 = none */
	int freeze_pending;           /* stop at the next return-to-user boundary */
	int in_kernel_section;        /* preempted inside an uninterruptible system call */
	uint64_t stack_lo, stack_hi;  /* user stack mapping; guard page just below stack_lo */
	struct thread *rq_next;
	void (*kfn)(void);            /* entry of a kernel thread */
};

enum proc_state { P_UNUSED = 0, P_ALIVE, P_ZOMBIE };

struct proc {
	enum proc_state state;
	int pid;
	char name[32];
	char args[K_RUN_MAX];
	hal_pt_t pt;
	struct vma vmas[K_MAX_VMAS];
	int nthreads;                 /* threads not yet dead */
	int killed;                   /* signal that terminates it, 0 = none */
	int exiting;                  /* exit() called: threads leave at the boundary */
	int status;                   /* wait(2)-style status once P_ZOMBIE */
	struct thread *freezer;       /* thread freezing this process, or 0 */
	char ch_freeze;               /* channel: a thread froze or died (freezer waits) */
	char ch_unfreeze;             /* channel: the freezer let go (next freezer waits) */
	char ch_join;                 /* channel: a thread exited (joiners wait) */
	const struct k_image *image;
	uint64_t entry, phdr, phnum, load_lo, load_hi;
	uint64_t mmap_next;
	uint32_t stack_slot_next;
	/* the fault being dumped */
	int fault_sig;
	int fault_tid;
	uint64_t fault_addr;
	char fault_cause[96];
};

extern struct thread k_threads[K_MAX_THREADS];
extern struct proc k_procs[K_MAX_PROCS];
extern struct thread *k_cur;

/* sched.c */
void sched_init(void);
__attribute__((noreturn)) void sched_loop(void);
void sched_yield(void);
void sched_make_runnable(struct thread *t);
int k_sleep(const void *chan, int interruptible);
int k_sleep_until(uint64_t deadline_ns, int interruptible);
void k_wakeup(const void *chan);
int k_wakeup_one(const void *chan);
void k_interrupt(struct thread *t);
void k_tick(void);
void sched_switch_out(void);
int sched_higher_ready(int prio);
void sched_forget_pt(hal_pt_t pt);

/* proc.c */
const char *k_signame(int sig);
struct thread *thread_alloc(struct proc *p, int prio);
struct thread *kthread_create(void (*fn)(void), int prio);
int proc_spawn(const char *spec);
struct proc *proc_find(int pid);
__attribute__((noreturn)) void thread_exit_current(void);
void proc_kill(struct proc *p, int sig);
void proc_exit(struct proc *p, int code);
int thread_create_user(struct proc *p, uint64_t entry, uint64_t arg, uint64_t tp, int prio);
int proc_alive_count(void);
extern struct proc *k_kernel_proc;

/* vm.c */
int vm_map_anon(struct proc *p, uint64_t start, uint64_t len, int prot, enum vma_kind kind, int tid);
int vm_unmap(struct proc *p, uint64_t start, uint64_t len);
void vm_free_all(struct proc *p);
int vm_user_ok(struct proc *p, uint64_t va, uint64_t len, int prot);
int vm_read(struct proc *p, uint64_t va, void *buf, uint64_t len);
int vm_write(struct proc *p, uint64_t va, const void *buf, uint64_t len);
struct vma *vm_find(struct proc *p, uint64_t va);
uint64_t vm_alloc_stack(struct proc *p, int tid, uint64_t *lo, uint64_t *hi);

/* elf.c */
int elf_load(struct proc *p, const struct k_image *img);

/* freeze.c */
void proc_freeze(struct proc *p);
void proc_unfreeze(struct proc *p);
void freeze_check_boundary(void);
void k_fault(int sig, const char *cause, uint64_t addr);
int proc_dump_request(struct proc *p);

/* dump.c */
int dump_process(struct proc *p, struct thread *crashing, int sig, const char *cause);

/* syscall.c */
void syscall_dispatch(struct hal_trapframe *tf);

/* console.c */
void console_poll(void);
void console_thread(void);
#endif
