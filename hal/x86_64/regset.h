/* hal/x86_64/regset.h: x86_64 register sets for Linux-compatible core files. */
#ifndef HAL_X86_64_REGSET_H
#define HAL_X86_64_REGSET_H

#include "kernel/coredump/cw_arch.h"
#include "hal/x86_64/uctx.h"

/* ELF identity, pr_reg, FP notes and HWCAP of x86_64; the saved context is struct x86_64_uctx. */
extern const struct cw_arch cw_arch_x86_64;

#endif /* HAL_X86_64_REGSET_H */
