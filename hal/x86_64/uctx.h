/* hal/x86_64/uctx.h: an x86_64 user context as the core writer reads it (host tests). */
#ifndef HAL_X86_64_UCTX_H
#define HAL_X86_64_UCTX_H

/*
 * gpr[] is Linux's x86_64 user_regs_struct order, so pr_reg is a copy; FP state is
 * the 512-byte FXSAVE image (Linux NT_FPREGSET for x86_64 is exactly that).
 */
#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

enum x64_reg { X64_R15 = 0, X64_R14, X64_R13, X64_R12, X64_RBP, X64_RBX, X64_R11, X64_R10,
               X64_R9, X64_R8, X64_RAX, X64_RCX, X64_RDX, X64_RSI, X64_RDI, X64_ORIG_RAX,
               X64_RIP, X64_CS, X64_EFLAGS, X64_RSP, X64_SS, X64_FS_BASE, X64_GS_BASE,
               X64_DS, X64_ES, X64_FS, X64_GS, X64_NGREG };

struct x86_64_uctx {
	uint64_t gpr[27];
	uint64_t pad;
	uint8_t fxsave[512];
};

_Static_assert(offsetof(struct x86_64_uctx, fxsave) == 224, "uctx fxsave");
#endif

#endif /* HAL_X86_64_UCTX_H */
