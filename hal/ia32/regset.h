/* hal/ia32/regset.h: ia32 register sets for Linux-compatible core files. */
#ifndef HAL_IA32_REGSET_H
#define HAL_IA32_REGSET_H

#include "kernel/coredump/cw_arch.h"
#include "hal/ia32/uctx.h"

/* ELF identity, pr_reg, FP notes and HWCAP of ia32; the saved context is struct ia32_uctx. */
extern const struct cw_arch cw_arch_ia32;

#endif /* HAL_IA32_REGSET_H */
