/* hal/aarch64/regset.h: aarch64 register sets for Linux-compatible core files. */
#ifndef HAL_AARCH64_REGSET_H
#define HAL_AARCH64_REGSET_H

#include "kernel/coredump/cw_arch.h"
#include "hal/aarch64/uctx.h"

/* ELF identity, pr_reg, FP notes and HWCAP of aarch64; the saved context is struct aarch64_uctx. */
extern const struct cw_arch cw_arch_aarch64;

#endif /* HAL_AARCH64_REGSET_H */
