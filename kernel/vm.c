/* kernel/vm.c: user address spaces: mappings with protections, thread stacks with guard pages, user copies. */
#include "kernel/proc.h"

#define PG HAL_PAGE_SIZE
#define PGDOWN(a) ((a) & ~(PG - 1))
#define PGUP(a) (((a) + PG - 1) & ~(PG - 1))

static void unmap_pages(struct proc *p, uint64_t start, uint64_t end)
{
	for (uint64_t va = start; va < end; va += PG) {
		uint64_t pa = hal_pt_unmap(p->pt, va);
		if (pa)
			k_page_free((void *)pa);
	}
}

static int overlaps(struct proc *p, uint64_t start, uint64_t end)
{
	for (int i = 0; i < K_MAX_VMAS; i++) {
		struct vma *v = &p->vmas[i];
		if (v->kind != VMA_FREE && start < v->end && v->start < end)
			return 1;
	}
	return 0;
}

/* Pages are allocated and zeroed up front: no demand paging, so a fault is always a bug. */
int vm_map_anon(struct proc *p, uint64_t start, uint64_t len, int prot, enum vma_kind kind, int tid)
{
	uint64_t end = PGUP(start + len);
	start = PGDOWN(start);
	if (end <= start || start < HAL_USER_IMAGE || end > HAL_USER_TOP || overlaps(p, start, end))
		return -K_EINVAL;
	struct vma *v = 0;
	for (int i = 0; i < K_MAX_VMAS && !v; i++)
		if (p->vmas[i].kind == VMA_FREE)
			v = &p->vmas[i];
	if (!v)
		return -K_ENOMEM;
	for (uint64_t va = start; va < end; va += PG) {
		void *pg = k_page_zalloc();
		if (!pg || hal_pt_map(p->pt, va, (uint64_t)pg, prot) != 0) {
			if (pg)
				k_page_free(pg);
			unmap_pages(p, start, va);
			return -K_ENOMEM;
		}
	}
	v->start = start;
	v->end = end;
	v->prot = prot;
	v->kind = kind;
	v->tid = tid;
	return 0;
}

/* munmap removes whole mappings only (what the user library's allocators need). */
int vm_unmap(struct proc *p, uint64_t start, uint64_t len)
{
	for (int i = 0; i < K_MAX_VMAS; i++) {
		struct vma *v = &p->vmas[i];
		if (v->kind != VMA_FREE && v->start == start && v->end == PGUP(start + len)) {
			unmap_pages(p, v->start, v->end);
			v->kind = VMA_FREE;
			return 0;
		}
	}
	return -K_EINVAL;
}

void vm_free_all(struct proc *p)
{
	for (int i = 0; i < K_MAX_VMAS; i++) {
		struct vma *v = &p->vmas[i];
		if (v->kind != VMA_FREE) {
			unmap_pages(p, v->start, v->end);
			v->kind = VMA_FREE;
		}
	}
	sched_forget_pt(p->pt);
	hal_pt_destroy(p->pt);
	p->pt = 0;
}

struct vma *vm_find(struct proc *p, uint64_t va)
{
	for (int i = 0; i < K_MAX_VMAS; i++) {
		struct vma *v = &p->vmas[i];
		if (v->kind != VMA_FREE && va >= v->start && va < v->end)
			return v;
	}
	return 0;
}

int vm_user_ok(struct proc *p, uint64_t va, uint64_t len, int prot)
{
	uint64_t end = va + len;
	if (end < va)
		return 0;
	while (va < end) {
		struct vma *v = vm_find(p, va);
		if (!v || (v->prot & prot) != prot)
			return 0;
		va = v->end;
	}
	return 1;
}

/* Copy through the page table, so any process can be read from any kernel context. */
int vm_read(struct proc *p, uint64_t va, void *buf, uint64_t len)
{
	uint8_t *b = buf;
	while (len) {
		uint64_t pa = hal_pt_lookup(p->pt, va, 0);
		if (!pa)
			return -K_EFAULT;
		uint64_t n = PG - (va & (PG - 1));
		if (n > len)
			n = len;
		memcpy(b, (void *)pa, n);
		b += n, va += n, len -= n;
	}
	return 0;
}

int vm_write(struct proc *p, uint64_t va, const void *buf, uint64_t len)
{
	const uint8_t *b = buf;
	while (len) {
		uint64_t pa = hal_pt_lookup(p->pt, va, 0);
		if (!pa)
			return -K_EFAULT;
		uint64_t n = PG - (va & (PG - 1));
		if (n > len)
			n = len;
		memcpy((void *)pa, b, n);
		b += n, va += n, len -= n;
	}
	return 0;
}

/*
 * Stacks sit in fixed slots of K_USTACK + one page; the lowest page of each slot is
 * never mapped, so running off the bottom of a stack faults instead of corrupting
 * the neighbour.  Returns the initial stack pointer.
 */
uint64_t vm_alloc_stack(struct proc *p, int tid, uint64_t *lo, uint64_t *hi)
{
	const uint64_t slot = K_USTACK + PG;
	uint64_t nslots = (HAL_USER_TOP - HAL_USER_STACKS) / slot;
	for (uint64_t i = 0; i < nslots; i++) {
		uint64_t base = HAL_USER_STACKS + i * slot + PG;
		if (overlaps(p, base - PG, base + K_USTACK))
			continue;
		if (vm_map_anon(p, base, K_USTACK, HAL_PROT_R | HAL_PROT_W, VMA_STACK, tid) != 0)
			return 0;
		*lo = base;
		*hi = base + K_USTACK;
		return base + K_USTACK;
	}
	return 0;
}
