/* hal/riscv64/regset.h: riscv64 register sets for Linux-compatible core files. */
#ifndef HAL_RISCV64_REGSET_H
#define HAL_RISCV64_REGSET_H

#include "kernel/coredump/cw_arch.h"
#include "hal/riscv64/uctx.h"

/* ELF identity, pr_reg, FP notes and HWCAP of riscv64; the saved context is struct riscv64_uctx. */
extern const struct cw_arch cw_arch_riscv64;

#endif /* HAL_RISCV64_REGSET_H */
