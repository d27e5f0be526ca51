/* hal/riscv64/uctx.h: the user context every kernel entry saves, as the core writer reads it. */
#ifndef HAL_RISCV64_UCTX_H
#define HAL_RISCV64_UCTX_H

/*
 * Layout chosen so that the trap entry can store register xN at 8*N and the core
 * writer's pr_reg is a straight copy: Linux's riscv64 user_regs_struct puts pc
 * where x0 would be (x0 is always zero and never saved).
 *
 *   offset   0: gpr[0] = pc (sepc), gpr[1..31] = x1..x31 (ra, sp, gp, tp, ...)
 *   offset 256: fpr[0..31]  f0..f31, 64-bit each (D extension)
 *   offset 512: fcsr (32 bit)
 *   offset 516: fp_valid (non-zero once the thread used FP; otherwise fpr/fcsr are 0)
 *   offset 520: sstatus, scause, stval at the kernel entry (for diagnostics)
 *   size   544
 *
 * The offsets are also given as macros for the assembly entry code.
 */
#define RV64_UCTX_GPR      0
#define RV64_UCTX_FPR      256
#define RV64_UCTX_FCSR     512
#define RV64_UCTX_FPVALID  516
#define RV64_UCTX_SSTATUS  520
#define RV64_UCTX_SCAUSE   528
#define RV64_UCTX_STVAL    536
#define RV64_UCTX_SIZE     544

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

/* Register numbers in gpr[] (ABI names). */
enum rv64_reg {
	RV64_PC = 0, RV64_RA = 1, RV64_SP = 2, RV64_GP = 3, RV64_TP = 4,
	RV64_T0 = 5, RV64_T1 = 6, RV64_T2 = 7, RV64_S0 = 8, RV64_S1 = 9,
	RV64_A0 = 10, RV64_A7 = 17, RV64_S2 = 18, RV64_S11 = 27,
	RV64_T3 = 28, RV64_T6 = 31,
};

struct riscv64_uctx {
	uint64_t gpr[32];
	uint64_t fpr[32];
	uint32_t fcsr;
	uint32_t fp_valid;
	uint64_t sstatus;
	uint64_t scause;
	uint64_t stval;
};

_Static_assert(offsetof(struct riscv64_uctx, fpr) == RV64_UCTX_FPR, "uctx fpr");
_Static_assert(offsetof(struct riscv64_uctx, fcsr) == RV64_UCTX_FCSR, "uctx fcsr");
_Static_assert(offsetof(struct riscv64_uctx, fp_valid) == RV64_UCTX_FPVALID, "uctx fpvalid");
_Static_assert(offsetof(struct riscv64_uctx, sstatus) == RV64_UCTX_SSTATUS, "uctx sstatus");
_Static_assert(offsetof(struct riscv64_uctx, stval) == RV64_UCTX_STVAL, "uctx stval");
_Static_assert(sizeof(struct riscv64_uctx) == RV64_UCTX_SIZE, "uctx size");
#endif

#endif /* HAL_RISCV64_UCTX_H */
