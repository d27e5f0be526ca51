/* hal/armv7a/uctx.h: the user context an armv7a kernel entry saves, as the core writer reads it. */
#ifndef HAL_ARMV7A_UCTX_H
#define HAL_ARMV7A_UCTX_H

/*
 * gpr[] is Linux's arm pt_regs order (r0..r15, cpsr, orig_r0), so pr_reg is a copy;
 * the VFP part is d0..d31 and fpscr (Linux NT_ARM_VFP layout).
 */
#define ARM_UCTX_GPR    0
#define ARM_UCTX_D      72
#define ARM_UCTX_FPSCR  328
#define ARM_UCTX_SIZE   336

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

enum arm_reg { ARM_R0 = 0, ARM_FP = 11, ARM_IP = 12, ARM_SP = 13, ARM_LR = 14, ARM_PC = 15,
               ARM_CPSR = 16, ARM_ORIG_R0 = 17 };

struct armv7a_uctx {
	uint32_t gpr[18];
	uint64_t d[32];
	uint32_t fpscr;
	uint32_t tls;            /* TPIDRURO (not in pr_reg) */
};

_Static_assert(offsetof(struct armv7a_uctx, d) == ARM_UCTX_D, "uctx d");
_Static_assert(offsetof(struct armv7a_uctx, fpscr) == ARM_UCTX_FPSCR, "uctx fpscr");
_Static_assert(sizeof(struct armv7a_uctx) == ARM_UCTX_SIZE, "uctx size");
#endif

#endif /* HAL_ARMV7A_UCTX_H */
