/* kernel/elf.c: load an embedded riscv64 ELF executable into a fresh address space. */
#include "kernel/proc.h"

/* Fields read with explicit little-endian loads: the image is bytes, never cast to a struct. */
static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define PT_LOAD 1
#define PF_X 1
#define PF_W 2
#define PF_R 4

int elf_load(struct proc *p, const struct k_image *img)
{
	const uint8_t *e = img->start;
	uint64_t size = (uint64_t)(img->end - img->start);
	if (size < 64 || memcmp(e, "\177ELF", 4) != 0 || e[4] != 2 || e[5] != 1)
		return -K_EINVAL;
	if (le(e + 16, 2) != 2 || le(e + 18, 2) != HAL_ELF_MACHINE)
		return -K_EINVAL;
	uint64_t phoff = le(e + 32, 8);
	uint64_t phentsize = le(e + 54, 2), phnum = le(e + 56, 2);
	if (phentsize != 56 || phoff > size || phnum * 56 > size - phoff)
		return -K_EINVAL;
	p->entry = le(e + 24, 8);
	p->phnum = phnum;
	p->load_lo = ~0UL;
	p->load_hi = 0;
	for (uint64_t i = 0; i < phnum; i++) {
		const uint8_t *ph = e + phoff + i * 56;
		if (le(ph, 4) != PT_LOAD)
			continue;
		uint64_t flags = le(ph + 4, 4), off = le(ph + 8, 8), va = le(ph + 16, 8);
		uint64_t filesz = le(ph + 32, 8), memsz = le(ph + 40, 8);
		if (filesz > memsz || off > size || filesz > size - off || va + memsz < va ||
		    va < HAL_USER_IMAGE || va + memsz > HAL_USER_MMAP)
			return -K_EINVAL;
		int prot = ((flags & PF_R) ? HAL_PROT_R : 0) | ((flags & PF_W) ? HAL_PROT_W : 0) |
			   ((flags & PF_X) ? HAL_PROT_X : 0);
		int r = vm_map_anon(p, va, memsz + (va & (HAL_PAGE_SIZE - 1)), prot, VMA_IMAGE, 0);
		if (r)
			return r;
		if (vm_write(p, va, e + off, filesz) != 0)
			return -K_EFAULT;
		if (off == 0)
			p->phdr = va + phoff; /* headers are inside the first segment: AT_PHDR */
		uint64_t lo = va & ~(HAL_PAGE_SIZE - 1);
		if (lo < p->load_lo)
			p->load_lo = lo;
		if (va + memsz > p->load_hi)
			p->load_hi = va + memsz;
	}
	return p->load_hi ? 0 : -K_EINVAL;
}
