/* hal/riscv64/trapframe.h: the per-thread save area every kernel entry from user mode fills. */
#ifndef HAL_RISCV64_TRAPFRAME_H
#define HAL_RISCV64_TRAPFRAME_H

#include "hal/riscv64/uctx.h"

/*
 * The user context is exactly the core writer's struct riscv64_uctx (gpr[0] = pc,
 * gpr[n] = xn, then f0..f31 and fcsr), so a frozen thread is dumped straight from
 * here; the kernel stack pointer trapvec.S loads follows it.
 */
#define TF_REGS     RV64_UCTX_GPR
#define TF_FREGS    RV64_UCTX_FPR
#define TF_FCSR     RV64_UCTX_FCSR
#define TF_SSTATUS  RV64_UCTX_SSTATUS
#define TF_SCAUSE   RV64_UCTX_SCAUSE
#define TF_STVAL    RV64_UCTX_STVAL
#define TF_KSP      RV64_UCTX_SIZE
#define TF_SIZE     (RV64_UCTX_SIZE + 8)

#ifndef __ASSEMBLER__
#include <stdint.h>

struct hal_trapframe {
	struct riscv64_uctx u;  /* fp_valid: fpr/fcsr hold this thread's FP state */
	uint64_t kernel_sp;     /* top of this thread's kernel stack (read by trapvec.S) */
};

_Static_assert(sizeof(struct hal_trapframe) == TF_SIZE, "trapframe layout");
_Static_assert(__builtin_offsetof(struct hal_trapframe, kernel_sp) == TF_KSP, "ksp");

/* Register numbers used by portable code (syscall args, thread start). */
enum { TF_PC = 0, TF_RA = 1, TF_SP = 2, TF_GP = 3, TF_TP = 4, TF_A0 = 10, TF_A1 = 11,
       TF_A2 = 12, TF_A3 = 13, TF_A4 = 14, TF_A5 = 15, TF_A7 = 17 };
#endif
#endif
