/* kernel/sched.c: the preemptive priority scheduler, sleep/wakeup channels and the timer tick. */
#include "kernel/proc.h"
#include "hal/riscv64/plic.h"

/*
 * One hart, and the kernel never takes interrupts: kernel code runs until it
 * sleeps, yields or returns to user mode, so these structures need no locks.
 * Preemption happens only at the user boundary (timer trap or syscall return).
 */
struct thread *k_cur;
static struct hal_kctx sched_ctx;
static struct thread *rq_head[K_PRIO_MAX + 1], *rq_tail[K_PRIO_MAX + 1];
static uint64_t next_tick;
static hal_pt_t active_pt;

void sched_make_runnable(struct thread *t)
{
	t->state = T_RUNNABLE;
	t->rq_next = 0;
	if (rq_tail[t->prio])
		rq_tail[t->prio]->rq_next = t;
	else
		rq_head[t->prio] = t;
	rq_tail[t->prio] = t;
}

static struct thread *pick(void)
{
	for (int p = K_PRIO_MAX; p >= K_PRIO_MIN; p--) {
		struct thread *t = rq_head[p];
		if (t) {
			rq_head[p] = t->rq_next;
			if (!rq_head[p])
				rq_tail[p] = 0;
			return t;
		}
	}
	return 0;
}

int sched_higher_ready(int prio)
{
	for (int p = K_PRIO_MAX; p > prio; p--)
		if (rq_head[p])
			return 1;
	return 0;
}

void k_tick(void)
{
	uint64_t now = hal_time_ns();
	for (int i = 0; i < K_MAX_THREADS; i++) {
		struct thread *t = &k_threads[i];
		if (t->state == T_SLEEPING && t->wake_at && t->wake_at <= now)
			sched_make_runnable(t);
	}
	console_poll();
	next_tick = now + K_TICK_NS;
	hal_timer_arm(next_tick);
}

void sched_init(void)
{
	next_tick = hal_time_ns() + K_TICK_NS;
	hal_timer_arm(next_tick);
}

void sched_loop(void)
{
	for (;;) {
		if (hal_timer_due())
			k_tick();
		if (hal_irq_due())
			hal_irq_dispatch(); /* device interrupts that woke the idle wfi */
		struct thread *t = pick();
		if (!t) {
			hal_idle();
			continue;
		}
		t->state = T_RUNNING;
		k_cur = t;
		if (active_pt != t->proc->pt) {
			active_pt = t->proc->pt;
			hal_pt_activate(active_pt);
		}
		hal_switch(&sched_ctx, &t->kctx);
		k_cur = 0;
		if (t->state == T_DEAD)
			t->state = T_UNUSED; /* its kernel stack is no longer in use */
	}
}

/* Give up the hart; the caller has set k_cur->state (RUNNABLE via yield, SLEEPING...). */
void sched_switch_out(void)
{
	hal_switch(&k_cur->kctx, &sched_ctx);
}

/* A process's page table is about to be freed: make sure the hart does not use it. */
void sched_forget_pt(hal_pt_t pt)
{
	if (active_pt == pt) {
		active_pt = hal_pt_kernel();
		hal_pt_activate(active_pt);
	}
}

void sched_yield(void)
{
	sched_make_runnable(k_cur);
	sched_switch_out();
}

/* Returns 0 when woken, -1 when a freeze or kill took the thread out of the wait. */
int k_sleep(const void *chan, int interruptible)
{
	struct thread *t = k_cur;
	if (interruptible && (t->freeze_pending || t->proc->killed || t->proc->exiting))
		return -1;
	t->chan = chan;
	t->interruptible = interruptible;
	t->intr = 0;
	t->state = T_SLEEPING;
	sched_switch_out();
	t->chan = 0;
	t->wake_at = 0;
	if (t->intr) {
		t->intr = 0;
		return -1;
	}
	return 0;
}

int k_sleep_until(uint64_t deadline_ns, int interruptible)
{
	k_cur->wake_at = deadline_ns ? deadline_ns : 1;
	return k_sleep(&k_cur->wake_at, interruptible);
}

void k_wakeup(const void *chan)
{
	for (int i = 0; i < K_MAX_THREADS; i++) {
		struct thread *t = &k_threads[i];
		if (t->state == T_SLEEPING && t->chan == chan)
			sched_make_runnable(t);
	}
}

int k_wakeup_one(const void *chan)
{
	for (int i = 0; i < K_MAX_THREADS; i++) {
		struct thread *t = &k_threads[i];
		if (t->state == T_SLEEPING && t->chan == chan) {
			sched_make_runnable(t);
			return 1;
		}
	}
	return 0;
}

void k_interrupt(struct thread *t)
{
	if (t->state == T_SLEEPING && t->interruptible) {
		t->intr = 1;
		sched_make_runnable(t);
	}
}
