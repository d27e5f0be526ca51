/* kernel/freeze.c: freezing every thread of a process in a consistent state, the fault path and dump requests. */
#include "kernel/proc.h"

/*
 * How a freeze reaches each thread (one hart, non-preemptible kernel):
 *  - a thread running user code is, from the kernel's view, runnable at its last
 *    preemption point; it stops at the return-to-user boundary, its user context
 *    already saved by the trap entry;
 *  - a thread in an interruptible wait (mutex, condvar, sleep, join) is taken out of
 *    the wait; its system call is set up to restart (pc back on the ecall, sleep's
 *    argument updated to the time left), so after an unfreeze it waits again exactly
 *    as before, and a dump shows it at the ecall where it blocked;
 *  - a thread in an uninterruptible kernel wait finishes its kernel work first and
 *    stops at the same boundary;
 *  - a thread created during the freeze is born frozen (proc.c, start_thread).
 * The freezer waits until every other live thread of the process is T_FROZEN.
 */

static void freeze_self(struct proc *p)
{
	struct thread *t = k_cur;
	t->state = T_FROZEN;
	k_wakeup(&p->ch_freeze);
	sched_switch_out();
}

void k_user_boundary(void)
{
	struct thread *t = k_cur;
	struct proc *p = t->proc;
	for (;;) {
		if (p->killed || p->exiting)
			thread_exit_current();
		if (t->freeze_pending) {
			freeze_self(p);
			continue;
		}
		if (sched_higher_ready(t->prio)) {
			sched_yield();
			continue;
		}
		return;
	}
}

static int all_frozen(struct proc *p, struct thread *me)
{
	for (int i = 0; i < K_MAX_THREADS; i++) {
		struct thread *t = &k_threads[i];
		if (t->proc != p || t == me || t->state == T_UNUSED || t->state == T_DEAD)
			continue;
		if (t->state != T_FROZEN)
			return 0;
	}
	return 1;
}

void proc_freeze(struct proc *p)
{
	struct thread *me = k_cur;
	/*
	 * One freezer at a time: a second fault (or dump request) in the process waits,
	 * frozen like any other thread, and leaves if the first one ends in a kill.
	 */
	for (;;) {
		if (me->proc == p && (p->killed || p->exiting))
			thread_exit_current();
		if (!p->freezer || p->freezer == me)
			break;
		if (me->proc == p && me->freeze_pending)
			freeze_self(p);
		else
			k_sleep(&p->ch_unfreeze, 0);
	}
	p->freezer = me;
	for (int i = 0; i < K_MAX_THREADS; i++) {
		struct thread *t = &k_threads[i];
		if (t->proc != p || t == me || t->state == T_UNUSED || t->state == T_DEAD)
			continue;
		t->freeze_pending = 1;
		if (t->in_kernel_section)
			k_printf("[k] freeze pid=%d: tid=%d finishes its kernel work first\n", p->pid,
				 t->tid);
		k_interrupt(t);
	}
	while (!all_frozen(p, me))
		k_sleep(&p->ch_freeze, 0);
}

void proc_unfreeze(struct proc *p)
{
	for (int i = 0; i < K_MAX_THREADS; i++) {
		struct thread *t = &k_threads[i];
		if (t->proc != p || t == k_cur)
			continue;
		t->freeze_pending = 0;
		if (t->state == T_FROZEN)
			sched_make_runnable(t);
	}
	p->freezer = 0;
	k_wakeup(&p->ch_unfreeze);
}

/* Dumps go out one at a time: two processes faulting together are each dumped whole. */
static struct thread *dump_owner;

static int dump_locked(struct proc *p, struct thread *crashing, int sig, const char *cause)
{
	while (dump_owner)
		k_sleep(&dump_owner, 0);
	dump_owner = k_cur;
	int r = dump_process(p, crashing, sig, cause);
	dump_owner = 0;
	k_wakeup(&dump_owner);
	return r;
}

/* A user fault of the current thread: freeze, dump, terminate with the signal. */
void k_fault(int sig, const char *cause, uint64_t addr)
{
	struct thread *t = k_cur;
	struct proc *p = t->proc;
	k_printf("[k] fault pid=%d tid=%d name=%s: %s at pc=0x%lx addr=0x%lx -> %s\n", p->pid,
		 t->tid, p->name, cause, hal_tf_pc(&t->tf), addr, k_signame(sig));
	if (p->killed || p->exiting)
		thread_exit_current();
	if (k_args.test_yield_fault) {
		/* Test hook: let another thread run (and fault) before this one freezes. */
		t->in_kernel_section = 1;
		sched_yield();
		t->in_kernel_section = 0;
	}
	if (p->freezer && p->freezer != t)
		k_printf("[k] fault pid=%d tid=%d: waits for the freeze in progress\n", p->pid, t->tid);
	uint64_t t0 = hal_time_ns();
	proc_freeze(p);
	uint64_t t1 = hal_time_ns();
	p->fault_sig = sig;
	p->fault_tid = t->tid;
	p->fault_addr = addr;
	k_snprintf(p->fault_cause, sizeof(p->fault_cause), "%s at 0x%lx", cause, addr);
	dump_locked(p, t, sig, p->fault_cause);
	uint64_t t2 = hal_time_ns();
	k_printf("[k] dump pid=%d freeze_us=%lu dump_us=%lu\n", p->pid, (t1 - t0) / 1000,
		 (t2 - t1) / 1000);
	p->freezer = 0;
	proc_kill(p, sig);
	k_wakeup(&p->ch_unfreeze);
	thread_exit_current();
}

/* Dump on request: freeze, dump, unfreeze; the process carries on. */
int proc_dump_request(struct proc *p)
{
	struct thread *me = k_cur;
	uint64_t t0 = hal_time_ns();
	proc_freeze(p);
	uint64_t t1 = hal_time_ns();
	if (p->killed || p->exiting) {
		proc_unfreeze(p);
		return -K_ESRCH;
	}
	struct thread *first = me->proc == p ? me : 0;
	if (!first) {
		for (int i = 0; i < K_MAX_THREADS && !first; i++)
			if (k_threads[i].proc == p && k_threads[i].state == T_FROZEN)
				first = &k_threads[i];
	}
	int r = first ? dump_locked(p, first, 0, "dump requested") : -K_ESRCH;
	k_printf("[k] dump pid=%d freeze_us=%lu dump_us=%lu (on request)\n", p->pid,
		 (t1 - t0) / 1000, (hal_time_ns() - t1) / 1000);
	proc_unfreeze(p);
	return r;
}
