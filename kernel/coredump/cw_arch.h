/* kernel/coredump/cw_arch.h: what the core writer needs to know about one architecture. */
#ifndef COREDUMP_CW_ARCH_H
#define COREDUMP_CW_ARCH_H

#include <stdint.h>

/*
 * Each hal/<arch>/regset.c defines one `const struct cw_arch cw_arch_<arch>`.  The
 * writer itself is architecture-neutral: it asks this descriptor for the ELF
 * identity, the exact Linux pr_reg bytes of a saved user context, and the per-thread
 * FP notes.  A kernel links only its own arch; the host test tools link all of them.
 */

#define CW_FPNOTES_MAX 2

struct cw_fpnote {
	uint32_t type;           /* NT_FPREGSET, NT_PRXFPREG, NT_ARM_VFP ... */
	const char *name;        /* "CORE" or "LINUX", as Linux writes it */
	uint32_t size;           /* exact descriptor size */
	/* Fill size bytes (little-endian, Linux layout) from the saved context. */
	void (*fill)(const void *uctx, uint8_t *out);
};

struct cw_arch {
	const char *name;        /* "riscv64", "ia32", "armv7a", "aarch64", "x86_64" */
	uint16_t e_machine;      /* EM_RISCV, EM_386, EM_ARM, EM_AARCH64, EM_X86_64 */
	uint8_t elf_class;       /* 1 = ELFCLASS32, 2 = ELFCLASS64 */
	uint32_t e_flags;        /* as Linux writes in cores (0 on all supported arches) */
	uint32_t greg_size;      /* sizeof(elf_gregset_t) */
	/* Fill greg_size bytes of pr_reg, little-endian, Linux order. */
	void (*gregs)(const void *uctx, uint8_t *out);
	uint64_t (*sp)(const void *uctx);
	uint64_t (*pc)(const void *uctx);
	uint32_t nfp;            /* FP notes written per thread, in this order */
	struct cw_fpnote fp[CW_FPNOTES_MAX];
	uint64_t hwcap;          /* AT_HWCAP the writer adds when the source gives none */
	uint64_t hwcap2;
};

/* Little-endian stores: every supported arch is little-endian, but the byte order
 * of the file is stated here once rather than assumed from the host. */
static inline void cw_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void cw_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void cw_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Note types shared by several arches (values from the Linux ELF ABI). */
#define CW_NT_PRSTATUS   1u
#define CW_NT_PRFPREG    2u     /* NT_FPREGSET */
#define CW_NT_PRPSINFO   3u
#define CW_NT_AUXV       6u
#define CW_NT_SIGINFO    0x53494749u
#define CW_NT_FILE       0x46494c45u
#define CW_NT_PRXFPREG   0x46e62b7fu
#define CW_NT_ARM_VFP    0x400u

#endif /* COREDUMP_CW_ARCH_H */
