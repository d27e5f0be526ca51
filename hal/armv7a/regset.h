/* hal/armv7a/regset.h: armv7a register sets for Linux-compatible core files. */
#ifndef HAL_ARMV7A_REGSET_H
#define HAL_ARMV7A_REGSET_H

#include "kernel/coredump/cw_arch.h"
#include "hal/armv7a/uctx.h"

/* ELF identity, pr_reg, FP notes and HWCAP of armv7a; the saved context is struct armv7a_uctx. */
extern const struct cw_arch cw_arch_armv7a;

#endif /* HAL_ARMV7A_REGSET_H */
