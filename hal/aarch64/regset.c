/* hal/aarch64/regset.c: aarch64 pr_reg, FP note and HWCAP in the Linux core layout. */
#include "hal/aarch64/regset.h"

/* Linux aarch64: elf_gregset_t is user_pt_regs (x0..x30, sp, pc, pstate). */
static void a64_gregs(const void *u, uint8_t *out)
{
	const struct aarch64_uctx *c = u;
	for (int i = 0; i < 34; i++)
		cw_le64(out + 8 * i, c->gpr[i]);
}

/* NT_PRFPREG: user_fpsimd_state — 32 x 128-bit V registers, fpsr, fpcr, 8 reserved. */
static void a64_fpregs(const void *u, uint8_t *out)
{
	const struct aarch64_uctx *c = u;
	for (int i = 0; i < 32; i++) {
		cw_le64(out + 16 * i, c->v[i][0]);
		cw_le64(out + 16 * i + 8, c->v[i][1]);
	}
	cw_le32(out + 512, c->fpsr);
	cw_le32(out + 516, c->fpcr);
	cw_le64(out + 520, 0);
}

static uint64_t a64_sp(const void *u) { return ((const struct aarch64_uctx *)u)->gpr[A64_SP]; }
static uint64_t a64_pc(const void *u) { return ((const struct aarch64_uctx *)u)->gpr[A64_PC]; }

#define A64_HWCAP_FP     (1u << 0)
#define A64_HWCAP_ASIMD  (1u << 1)
#define A64_HWCAP_CPUID  (1u << 11)

const struct cw_arch cw_arch_aarch64 = {
	.name = "aarch64",
	.e_machine = 183,        /* EM_AARCH64 */
	.elf_class = 2,
	.e_flags = 0,
	.greg_size = 34 * 8,
	.gregs = a64_gregs,
	.sp = a64_sp,
	.pc = a64_pc,
	.nfp = 1,
	.fp = { { CW_NT_PRFPREG, "CORE", 528, a64_fpregs } },
	/* No SVE/PAC/MTE bits: GDB would then expect those notes in the core. */
	.hwcap = A64_HWCAP_FP | A64_HWCAP_ASIMD | A64_HWCAP_CPUID,
	.hwcap2 = 0,
};
