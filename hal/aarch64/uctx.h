/* hal/aarch64/uctx.h: the user context an aarch64 kernel entry saves, as the core writer reads it. */
#ifndef HAL_AARCH64_UCTX_H
#define HAL_AARCH64_UCTX_H

/*
 * gpr[] is Linux's user_pt_regs order (x0..x30, sp, pc, pstate), so pr_reg is a
 * copy; the FP part is user_fpsimd_state (v0..v31 as two 64-bit halves, low first).
 */
#define A64_UCTX_GPR    0
#define A64_UCTX_V      272
#define A64_UCTX_FPSR   784
#define A64_UCTX_FPCR   788
#define A64_UCTX_SIZE   800

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

enum a64_reg { A64_X0 = 0, A64_FP = 29, A64_LR = 30, A64_SP = 31, A64_PC = 32, A64_PSTATE = 33 };

struct aarch64_uctx {
	uint64_t gpr[34];
	uint64_t v[32][2];
	uint32_t fpsr;
	uint32_t fpcr;
	uint64_t tpidr;          /* TLS register (not in pr_reg) */
};

_Static_assert(offsetof(struct aarch64_uctx, v) == A64_UCTX_V, "uctx v");
_Static_assert(offsetof(struct aarch64_uctx, fpsr) == A64_UCTX_FPSR, "uctx fpsr");
_Static_assert(sizeof(struct aarch64_uctx) == A64_UCTX_SIZE, "uctx size");
#endif

#endif /* HAL_AARCH64_UCTX_H */
