/* kernel/kalloc.c: the physical page allocator (a free list of 4 KiB pages) with a free-page count. */
#include "kernel/kernel.h"

struct run {
	struct run *next;
};

/* The kernel never runs two harts nor takes interrupts, so no lock guards these. */
static struct run *freelist;
static uint64_t nfree, ntotal;

void kalloc_init(uint64_t start, uint64_t end)
{
	start = (start + HAL_PAGE_SIZE - 1) & ~(HAL_PAGE_SIZE - 1);
	for (uint64_t p = start; p + HAL_PAGE_SIZE <= end; p += HAL_PAGE_SIZE) {
		k_page_free((void *)p);
		ntotal++;
	}
}

void *k_page_alloc(void)
{
	struct run *r = freelist;
	if (!r)
		return 0;
	freelist = r->next;
	nfree--;
	return r;
}

void *k_page_zalloc(void)
{
	void *p = k_page_alloc();
	if (p)
		memset(p, 0, HAL_PAGE_SIZE);
	return p;
}

void k_page_free(void *p)
{
	uint64_t a = (uint64_t)p;
	if (a & (HAL_PAGE_SIZE - 1))
		k_panic("k_page_free: unaligned %lx", a);
	struct run *r = p;
	r->next = freelist;
	freelist = r;
	nfree++;
}

uint64_t k_pages_free(void)
{
	return nfree;
}

uint64_t k_pages_total(void)
{
	return ntotal;
}
