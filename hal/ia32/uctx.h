/* hal/ia32/uctx.h: the user context an ia32 kernel entry saves, as the core writer reads it. */
#ifndef HAL_IA32_UCTX_H
#define HAL_IA32_UCTX_H

/*
 * gpr[] is Linux's i386 user_regs_struct order (ebx ecx edx esi edi ebp eax ds es fs
 * gs orig_eax eip cs eflags esp ss), so pr_reg is a copy.  FP state is the 512-byte
 * FXSAVE image the entry code stores with `fxsave`; the writer derives the legacy
 * 108-byte FSAVE layout (NT_FPREGSET) from it and writes it whole as NT_PRXFPREG.
 */
#define IA32_UCTX_GPR     0
#define IA32_UCTX_FXSAVE  80      /* 16-byte aligned when the struct is */
#define IA32_UCTX_SIZE    592

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

enum ia32_reg { IA32_EBX = 0, IA32_ECX, IA32_EDX, IA32_ESI, IA32_EDI, IA32_EBP, IA32_EAX,
                IA32_DS, IA32_ES, IA32_FS, IA32_GS, IA32_ORIG_EAX, IA32_EIP, IA32_CS,
                IA32_EFLAGS, IA32_ESP, IA32_SS };

struct ia32_uctx {
	uint32_t gpr[17];
	uint32_t pad[3];
	uint8_t fxsave[512];
};

_Static_assert(offsetof(struct ia32_uctx, fxsave) == IA32_UCTX_FXSAVE, "uctx fxsave");
_Static_assert(sizeof(struct ia32_uctx) == IA32_UCTX_SIZE, "uctx size");
#endif

#endif /* HAL_IA32_UCTX_H */
