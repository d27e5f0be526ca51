/* hal/riscv64/trap.c: decode scause into portable trap kinds, keep FP state, enter and leave user mode. */
#include "hal/riscv64/hal.h"

#define SSTATUS_SPP  (1UL << 8)
#define SSTATUS_SPIE (1UL << 5)
#define SSTATUS_FS   (3UL << 13)
#define SSTATUS_FS_INITIAL (1UL << 13)
#define SSTATUS_FS_CLEAN   (2UL << 13)
#define SSTATUS_FS_DIRTY   (3UL << 13)
#define SSTATUS_SUM  (1UL << 18)
#define SIE_STIE     (1UL << 5)
#define CAUSE_INTR   (1UL << 63)

extern char trap_vector[];
void hal_fp_save(struct hal_trapframe *tf);
void hal_fp_restore(const struct hal_trapframe *tf);
void hal_user_trap(struct hal_trapframe *tf);
void hal_kernel_trap(void);

void hal_init(void)
{
	asm volatile("csrw stvec, %0" : : "r"(trap_vector));
	asm volatile("csrw sscratch, zero");
	/* FP usable by the save/restore code; the kernel itself is built without F/D. */
	asm volatile("csrs sstatus, %0" : : "r"(SSTATUS_FS_INITIAL | SSTATUS_SUM));
	asm volatile("csrc sstatus, %0" : : "r"(2UL)); /* SIE off: the kernel never takes interrupts */
	asm volatile("csrs sie, %0" : : "r"(SIE_STIE));
}

static enum hal_trap_kind decode(uint64_t cause)
{
	if (cause & CAUSE_INTR)
		return (cause & 0xff) == 5 ? HAL_TRAP_TIMER :
		       (cause & 0xff) == 9 ? HAL_TRAP_IRQ : HAL_TRAP_OTHER;
	switch (cause) {
	case 0: return HAL_TRAP_MISALIGNED_FETCH;
	case 1: case 5: case 7: return HAL_TRAP_ACCESS;
	case 2: return HAL_TRAP_ILLEGAL;
	case 3: return HAL_TRAP_BREAKPOINT;
	case 4: return HAL_TRAP_MISALIGNED_LOAD;
	case 6: return HAL_TRAP_MISALIGNED_STORE;
	case 8: return HAL_TRAP_SYSCALL;
	case 12: return HAL_TRAP_PF_EXEC;
	case 13: return HAL_TRAP_PF_LOAD;
	case 15: return HAL_TRAP_PF_STORE;
	default: return HAL_TRAP_OTHER;
	}
}

const char *hal_trap_name(const struct hal_trapframe *tf)
{
	static const char *const names[16] = {
		"instruction address misaligned", "instruction access fault",
		"illegal instruction", "breakpoint", "load address misaligned",
		"load access fault", "store address misaligned", "store access fault",
		"environment call", "?", "?", "?", "instruction page fault",
		"load page fault", "?", "store page fault",
	};
	if (tf->u.scause & CAUSE_INTR)
		return "interrupt";
	return tf->u.scause < 16 ? names[tf->u.scause] : "unknown trap";
}

/* Called by trapvec.S on the thread's kernel stack with the user context saved in tf. */
void hal_user_trap(struct hal_trapframe *tf)
{
	if ((tf->u.sstatus & SSTATUS_FS) == SSTATUS_FS_DIRTY) {
		hal_fp_save(tf);
		tf->u.fp_valid = 1;
		tf->u.sstatus = (tf->u.sstatus & ~SSTATUS_FS) | SSTATUS_FS_CLEAN;
	}
	k_trap(tf, decode(tf->u.scause), tf->u.stval);
	k_user_boundary();
	hal_return_to_user(tf);
}

void hal_user_return(struct hal_trapframe *tf);

void hal_return_to_user(struct hal_trapframe *tf)
{
	/*
	 * Another thread may have used the FP registers since this one trapped, so its
	 * state is reloaded on every return; the copy in tf stays authoritative for the
	 * dumper because a thread's FP registers are saved whenever they are dirty.
	 */
	hal_fp_restore(tf);
	tf->u.sstatus = (tf->u.sstatus & ~(SSTATUS_SPP | SSTATUS_FS)) | SSTATUS_SPIE |
		      SSTATUS_FS_CLEAN | SSTATUS_SUM;
	hal_user_return(tf);
	for (;;)
		;
}

void hal_kernel_trap(void)
{
	uint64_t cause, epc, tval;
	asm volatile("csrr %0, scause" : "=r"(cause));
	asm volatile("csrr %0, sepc" : "=r"(epc));
	asm volatile("csrr %0, stval" : "=r"(tval));
	k_panic("kernel trap: scause %lx sepc %lx stval %lx", cause, epc, tval);
}

void hal_kctx_init(struct hal_kctx *c, void *stack_top, void (*fn)(void))
{
	for (int i = 0; i < 12; i++)
		c->s[i] = 0;
	c->ra = (uint64_t)fn;
	c->sp = (uint64_t)stack_top;
}

void hal_tf_init_user(struct hal_trapframe *tf, void *kstack_top, uint64_t pc, uint64_t sp,
		      uint64_t arg0, uint64_t arg1, uint64_t tp)
{
	uint8_t *b = (uint8_t *)tf;
	for (unsigned i = 0; i < sizeof(*tf); i++)
		b[i] = 0;
	tf->u.gpr[TF_PC] = pc;
	tf->u.gpr[TF_SP] = sp;
	tf->u.gpr[TF_A0] = arg0;
	tf->u.gpr[TF_A1] = arg1;
	tf->u.gpr[TF_TP] = tp;
	tf->kernel_sp = (uint64_t)kstack_top;
	tf->u.sstatus = SSTATUS_SPIE | SSTATUS_FS_CLEAN | SSTATUS_SUM;
	tf->u.fp_valid = 1; /* all-zero FP state is this thread's own */
}

uint64_t hal_tf_pc(const struct hal_trapframe *tf) { return tf->u.gpr[TF_PC]; }
uint64_t hal_tf_sp(const struct hal_trapframe *tf) { return tf->u.gpr[TF_SP]; }

uint64_t hal_tf_arg(const struct hal_trapframe *tf, int n)
{
	return n == 7 ? tf->u.gpr[TF_A7] : tf->u.gpr[TF_A0 + n];
}

void hal_tf_set_ret(struct hal_trapframe *tf, uint64_t v) { tf->u.gpr[TF_A0] = v; }
void hal_tf_skip_syscall(struct hal_trapframe *tf) { tf->u.gpr[TF_PC] += 4; }
