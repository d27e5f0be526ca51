/* kernel/trap.c: what the kernel does with each kind of trap from user mode. */
#include "kernel/proc.h"
#include "hal/riscv64/plic.h"

void k_trap(struct hal_trapframe *tf, enum hal_trap_kind kind, uint64_t addr)
{
	const char *name = hal_trap_name(tf);
	switch (kind) {
	case HAL_TRAP_SYSCALL:
		syscall_dispatch(tf);
		return;
	case HAL_TRAP_IRQ:
		hal_irq_dispatch();
		if (sched_higher_ready(k_cur->prio))
			sched_yield(); /* e.g. the network thread woken by a received frame */
		return;
	case HAL_TRAP_TIMER:
		k_tick();
		sched_yield(); /* preemption: round robin within the priority */
		return;
	case HAL_TRAP_PF_LOAD:
	case HAL_TRAP_PF_STORE:
	case HAL_TRAP_PF_EXEC:
	case HAL_TRAP_ACCESS: {
		/* Every mapping is populated up front, so any page fault is a bad access. */
		struct thread *t = k_cur;
		if (addr < t->stack_lo && addr >= t->stack_lo - HAL_PAGE_SIZE)
			name = "stack overflow (guard page)";
		k_fault(K_SIGSEGV, name, addr);
		return;
	}
	case HAL_TRAP_ILLEGAL:
		k_fault(K_SIGILL, name, hal_tf_pc(tf));
		return;
	case HAL_TRAP_MISALIGNED_LOAD:
	case HAL_TRAP_MISALIGNED_STORE:
	case HAL_TRAP_MISALIGNED_FETCH:
		k_fault(K_SIGBUS, name, addr);
		return;
	case HAL_TRAP_BREAKPOINT:
		k_fault(K_SIGTRAP, name, hal_tf_pc(tf));
		return;
	case HAL_TRAP_OTHER:
		k_fault(K_SIGSEGV, name, addr);
		return;
	}
}
