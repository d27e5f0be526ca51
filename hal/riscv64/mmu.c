/* hal/riscv64/mmu.c: Sv39 page tables: the kernel's gigapage map and per-process 4 KiB mappings. */
#include "hal/riscv64/hal.h"

#define PTE_V (1UL << 0)
#define PTE_R (1UL << 1)
#define PTE_W (1UL << 2)
#define PTE_X (1UL << 3)
#define PTE_U (1UL << 4)
#define PTE_G (1UL << 5)
#define PTE_A (1UL << 6)
#define PTE_D (1UL << 7)
#define PTE_LEAF (PTE_R | PTE_W | PTE_X)

#define PA2PTE(pa) (((pa) >> 12) << 10)
#define PTE2PA(pte) (((pte) >> 10) << 12)
#define VPN(va, level) (((va) >> (12 + 9 * (level))) & 0x1ff)

static uint64_t *kernel_root;

static void zero_page(void *p)
{
	uint64_t *q = p;
	for (unsigned i = 0; i < HAL_PAGE_SIZE / 8; i++)
		q[i] = 0;
}

/*
 * The kernel needs only two gigapages: 0..1 GiB for the devices and 2..3 GiB for RAM.
 * They are global, supervisor-only and copied into every process root, so a trap
 * never switches page tables and the kernel reads user memory in place.
 */
int hal_mmu_init(void)
{
	kernel_root = k_page_alloc();
	if (!kernel_root)
		return -1;
	zero_page(kernel_root);
	kernel_root[0] = PA2PTE(0x0UL) | PTE_V | PTE_R | PTE_W | PTE_G | PTE_A | PTE_D;
	kernel_root[2] = PA2PTE(0x80000000UL) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_G | PTE_A | PTE_D;
	hal_pt_activate(kernel_root);
	return 0;
}

hal_pt_t hal_pt_kernel(void)
{
	return kernel_root;
}

void hal_pt_activate(hal_pt_t pt)
{
	uint64_t satp = (8UL << 60) | ((uint64_t)pt >> 12);
	asm volatile("csrw satp, %0\n\tsfence.vma zero, zero" : : "r"(satp) : "memory");
}

hal_pt_t hal_pt_create(void)
{
	uint64_t *root = k_page_alloc();
	if (!root)
		return 0;
	zero_page(root);
	root[0] = kernel_root[0];
	root[2] = kernel_root[2];
	return root;
}

/* Walk to the level-0 PTE of va, allocating intermediate tables when asked. */
static uint64_t *walk(uint64_t *root, uint64_t va, int alloc)
{
	uint64_t *table = root;
	for (int level = 2; level > 0; level--) {
		uint64_t *pte = &table[VPN(va, level)];
		if (*pte & PTE_V) {
			if (*pte & PTE_LEAF)
				return 0; /* a kernel gigapage: never a user slot */
			table = (uint64_t *)PTE2PA(*pte);
		} else {
			if (!alloc)
				return 0;
			uint64_t *next = k_page_alloc();
			if (!next)
				return 0;
			zero_page(next);
			*pte = PA2PTE((uint64_t)next) | PTE_V;
			table = next;
		}
	}
	return &table[VPN(va, 0)];
}

int hal_pt_map(hal_pt_t pt, uint64_t va, uint64_t pa, int prot)
{
	uint64_t *pte = walk(pt, va, 1);
	if (!pte || (*pte & PTE_V))
		return -1;
	uint64_t f = PTE_V | PTE_U | PTE_A | PTE_D;
	if (prot & HAL_PROT_R)
		f |= PTE_R;
	if (prot & HAL_PROT_W)
		f |= PTE_W | PTE_R; /* W without R is reserved in Sv39 */
	if (prot & HAL_PROT_X)
		f |= PTE_X;
	*pte = PA2PTE(pa) | f;
	return 0;
}

uint64_t hal_pt_unmap(hal_pt_t pt, uint64_t va)
{
	uint64_t *pte = walk(pt, va, 0);
	if (!pte || !(*pte & PTE_V))
		return 0;
	uint64_t pa = PTE2PA(*pte);
	*pte = 0;
	asm volatile("sfence.vma %0, zero" : : "r"(va) : "memory");
	return pa;
}

uint64_t hal_pt_lookup(hal_pt_t pt, uint64_t va, int *prot)
{
	uint64_t *pte = walk(pt, va, 0);
	if (!pte || !(*pte & PTE_V) || !(*pte & PTE_U))
		return 0;
	if (prot)
		*prot = ((*pte & PTE_R) ? HAL_PROT_R : 0) | ((*pte & PTE_W) ? HAL_PROT_W : 0) |
			((*pte & PTE_X) ? HAL_PROT_X : 0);
	return PTE2PA(*pte) | (va & (HAL_PAGE_SIZE - 1));
}

/* Free the intermediate tables of a user address space; leaf pages are the caller's. */
void hal_pt_destroy(hal_pt_t pt)
{
	for (int i = 0; i < 512; i++) {
		if (i == 0 || i == 2 || !(pt[i] & PTE_V) || (pt[i] & PTE_LEAF))
			continue;
		uint64_t *mid = (uint64_t *)PTE2PA(pt[i]);
		for (int j = 0; j < 512; j++)
			if ((mid[j] & PTE_V) && !(mid[j] & PTE_LEAF))
				k_page_free((void *)PTE2PA(mid[j]));
		k_page_free(mid);
	}
	k_page_free(pt);
}
