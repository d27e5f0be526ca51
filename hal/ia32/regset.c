/* hal/ia32/regset.c: ia32 pr_reg, FP notes (FSAVE and FXSAVE) and HWCAP in the Linux core layout. */
#include "hal/ia32/regset.h"

/* AT_HWCAP on x86 is CPUID.1:EDX; this is the value of any SSE2-class CPU (fpu ..
 * sse2, fxsr, htt).  GDB ignores it; programs use it for dispatch. */
#define X86_HWCAP_BASE 0x178bfbffu

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* Full two-bit tag of one x87 register, from its contents (the FXSAVE image keeps
 * only an "in use" bit; FSAVE wants valid/zero/special/empty). */
static uint32_t x87_tag(const uint8_t *st)
{
	uint16_t exp = rd16(st + 8) & 0x7fff;
	uint32_t lo = rd32(st), hi = rd32(st + 4);
	if (exp == 0x7fff)
		return 2;                    /* special: inf / NaN */
	if (exp == 0)
		return (lo == 0 && hi == 0) ? 1 : 2;   /* zero, or denormal */
	return (hi & 0x80000000u) ? 0 : 2;        /* valid, or unnormal */
}

static void fxsave_to_fsave(const uint8_t fx[512], uint8_t out[108])
{
	uint16_t fcw = rd16(fx), fsw = rd16(fx + 2), fop = rd16(fx + 6);
	uint8_t ftw = fx[4];
	uint32_t top = (fsw >> 11) & 7, twd = 0;

	for (uint32_t i = 0; i < 8; i++) {       /* i: physical register */
		uint32_t tag = 3;
		if (ftw & (1u << i))
			tag = x87_tag(fx + 32 + 16 * ((i - top) & 7));
		twd |= tag << (2 * i);
	}
	cw_le32(out + 0, 0xffff0000u | fcw);
	cw_le32(out + 4, 0xffff0000u | fsw);
	cw_le32(out + 8, 0xffff0000u | twd);
	cw_le32(out + 12, rd32(fx + 8));                          /* fip */
	cw_le32(out + 16, rd16(fx + 12) | (uint32_t)fop << 16);   /* fcs | fop */
	cw_le32(out + 20, rd32(fx + 16));                         /* foo */
	cw_le32(out + 24, 0xffff0000u | rd16(fx + 20));           /* fos */
	for (int r = 0; r < 8; r++)
		for (int b = 0; b < 10; b++)
			out[28 + 10 * r + b] = fx[32 + 16 * r + b];
}

/* Linux i386: elf_gregset_t is user_regs_struct, 17 words. */
static void ia32_gregs(const void *u, uint8_t *out)
{
	const struct ia32_uctx *c = u;
	for (int i = 0; i < 17; i++)
		cw_le32(out + 4 * i, c->gpr[i]);
}

/* NT_PRFPREG on i386 is user_i387_struct (the FSAVE layout), converted from FXSAVE. */
static void ia32_fpregs(const void *u, uint8_t *out)
{
	fxsave_to_fsave(((const struct ia32_uctx *)u)->fxsave, out);
}

/* NT_PRXFPREG ("LINUX"): user_fxsr_struct, the FXSAVE image itself. */
static void ia32_xfpregs(const void *u, uint8_t *out)
{
	const uint8_t *fx = ((const struct ia32_uctx *)u)->fxsave;
	for (int i = 0; i < 512; i++)
		out[i] = fx[i];
}

static uint64_t ia32_sp(const void *u) { return ((const struct ia32_uctx *)u)->gpr[IA32_ESP]; }
static uint64_t ia32_pc(const void *u) { return ((const struct ia32_uctx *)u)->gpr[IA32_EIP]; }

const struct cw_arch cw_arch_ia32 = {
	.name = "ia32",
	.e_machine = 3,          /* EM_386 */
	.elf_class = 1,
	.e_flags = 0,
	.greg_size = 17 * 4,
	.gregs = ia32_gregs,
	.sp = ia32_sp,
	.pc = ia32_pc,
	.nfp = 2,
	.fp = { { CW_NT_PRFPREG, "CORE", 108, ia32_fpregs },
	        { CW_NT_PRXFPREG, "LINUX", 512, ia32_xfpregs } },
	.hwcap = X86_HWCAP_BASE,
	.hwcap2 = 0,
};
