/* hal/armv7a/regset.c: armv7a pr_reg, VFP note and HWCAP in the Linux core layout. */
#include "hal/armv7a/regset.h"

/* Linux arm: elf_gregset_t is 18 words, r0..r15, cpsr, orig_r0. */
static void arm_gregs(const void *u, uint8_t *out)
{
	const struct armv7a_uctx *c = u;
	for (int i = 0; i < 18; i++)
		cw_le32(out + 4 * i, c->gpr[i]);
}

/* NT_ARM_VFP: d0..d31 then fpscr, 260 bytes (what GDB calls ARM_VFP3_REGS_SIZE). */
static void arm_vfp(const void *u, uint8_t *out)
{
	const struct armv7a_uctx *c = u;
	for (int i = 0; i < 32; i++)
		cw_le64(out + 8 * i, c->d[i]);
	cw_le32(out + 256, c->fpscr);
}

static uint64_t arm_sp(const void *u) { return ((const struct armv7a_uctx *)u)->gpr[ARM_SP]; }
static uint64_t arm_pc(const void *u) { return ((const struct armv7a_uctx *)u)->gpr[ARM_PC]; }

/* Linux arm HWCAP bits of a Cortex-A7/A15 class core with VFPv4-D32 and NEON.  GDB
 * picks its VFP register description from VFP / VFPv3 / NEON. */
#define ARM_HWCAP_SWP       (1u << 0)
#define ARM_HWCAP_HALF      (1u << 1)
#define ARM_HWCAP_THUMB     (1u << 2)
#define ARM_HWCAP_FAST_MULT (1u << 4)
#define ARM_HWCAP_VFP       (1u << 6)
#define ARM_HWCAP_EDSP      (1u << 7)
#define ARM_HWCAP_NEON      (1u << 12)
#define ARM_HWCAP_VFPv3     (1u << 13)
#define ARM_HWCAP_TLS       (1u << 15)
#define ARM_HWCAP_VFPv4     (1u << 16)
#define ARM_HWCAP_IDIVA     (1u << 17)
#define ARM_HWCAP_IDIVT     (1u << 18)
#define ARM_HWCAP_VFPD32    (1u << 19)
#define ARM_HWCAP_LPAE      (1u << 20)

const struct cw_arch cw_arch_armv7a = {
	.name = "armv7a",
	.e_machine = 40,         /* EM_ARM */
	.elf_class = 1,
	.e_flags = 0,
	.greg_size = 18 * 4,
	.gregs = arm_gregs,
	.sp = arm_sp,
	.pc = arm_pc,
	.nfp = 1,
	.fp = { { CW_NT_ARM_VFP, "LINUX", 260, arm_vfp } },
	.hwcap = ARM_HWCAP_SWP | ARM_HWCAP_HALF | ARM_HWCAP_THUMB | ARM_HWCAP_FAST_MULT |
	         ARM_HWCAP_VFP | ARM_HWCAP_EDSP | ARM_HWCAP_NEON | ARM_HWCAP_VFPv3 |
	         ARM_HWCAP_TLS | ARM_HWCAP_VFPv4 | ARM_HWCAP_IDIVA | ARM_HWCAP_IDIVT |
	         ARM_HWCAP_VFPD32 | ARM_HWCAP_LPAE,
	.hwcap2 = 0,
};
