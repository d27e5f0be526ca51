/* hal/x86_64/regset.c: x86_64 pr_reg, FP note and HWCAP in the Linux core layout (host tests). */
#include "hal/x86_64/regset.h"

/* AT_HWCAP on x86 is CPUID.1:EDX; this is the value of any SSE2-class CPU (fpu ..
 * sse2, fxsr, htt).  GDB ignores it; programs use it for dispatch. */
#define X86_HWCAP_BASE 0x178bfbffu

/* Linux x86_64: elf_gregset_t is user_regs_struct, 27 x 8 bytes. */
static void x64_gregs(const void *u, uint8_t *out)
{
	const struct x86_64_uctx *c = u;
	for (int i = 0; i < 27; i++)
		cw_le64(out + 8 * i, c->gpr[i]);
}

/* NT_PRFPREG on x86_64 is user_fpregs_struct: the FXSAVE image. */
static void x64_fpregs(const void *u, uint8_t *out)
{
	const uint8_t *fx = ((const struct x86_64_uctx *)u)->fxsave;
	for (int i = 0; i < 512; i++)
		out[i] = fx[i];
}

static uint64_t x64_sp(const void *u) { return ((const struct x86_64_uctx *)u)->gpr[X64_RSP]; }
static uint64_t x64_pc(const void *u) { return ((const struct x86_64_uctx *)u)->gpr[X64_RIP]; }

const struct cw_arch cw_arch_x86_64 = {
	.name = "x86_64",
	.e_machine = 62,         /* EM_X86_64 */
	.elf_class = 2,
	.e_flags = 0,
	.greg_size = 27 * 8,
	.gregs = x64_gregs,
	.sp = x64_sp,
	.pc = x64_pc,
	.nfp = 1,
	.fp = { { CW_NT_PRFPREG, "CORE", 512, x64_fpregs } },
	.hwcap = X86_HWCAP_BASE,
	.hwcap2 = 0,
};
