/* hal/riscv64/regset.c: riscv64 pr_reg, FP note and HWCAP in the Linux core layout. */
#include "hal/riscv64/regset.h"

/* Linux riscv64: elf_gregset_t is user_regs_struct (pc, x1..x31), 32 x 8 bytes. */
static void rv64_gregs(const void *u, uint8_t *out)
{
	const struct riscv64_uctx *c = u;
	for (int i = 0; i < 32; i++)
		cw_le64(out + 8 * i, c->gpr[i]);
}

/* NT_PRFPREG: __riscv_d_ext_state (f0..f31, fcsr) padded to 264 bytes, as Linux's
 * REGSET_F writes ELF_NFPREG (33) 8-byte slots. */
static void rv64_fpregs(const void *u, uint8_t *out)
{
	const struct riscv64_uctx *c = u;
	for (int i = 0; i < 32; i++)
		cw_le64(out + 8 * i, c->fpr[i]);
	cw_le32(out + 256, c->fcsr);
	cw_le32(out + 260, 0);
}

static uint64_t rv64_sp(const void *u) { return ((const struct riscv64_uctx *)u)->gpr[RV64_SP]; }
static uint64_t rv64_pc(const void *u) { return ((const struct riscv64_uctx *)u)->gpr[RV64_PC]; }

/* AT_HWCAP on riscv has one bit per single-letter extension ('A' = bit 0).  GDB reads
 * the F/D bits to decide the width of the FP registers in the core. */
#define RV_ISA(c) (1ull << ((c) - 'A'))

const struct cw_arch cw_arch_riscv64 = {
	.name = "riscv64",
	.e_machine = 243,        /* EM_RISCV */
	.elf_class = 2,
	/* EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE: the lp64d ABI of the processes.  GDB
	 * takes the FP register width from these flags; with 0 it assumes soft-float
	 * and hides f0..f31 when the core is opened without its executable. */
	.e_flags = 0x1 | 0x4,
	.greg_size = 32 * 8,
	.gregs = rv64_gregs,
	.sp = rv64_sp,
	.pc = rv64_pc,
	.nfp = 1,
	.fp = { { CW_NT_PRFPREG, "CORE", 264, rv64_fpregs } },
	.hwcap = RV_ISA('I') | RV_ISA('M') | RV_ISA('A') | RV_ISA('F') | RV_ISA('D') | RV_ISA('C'),
	.hwcap2 = 0,
};
