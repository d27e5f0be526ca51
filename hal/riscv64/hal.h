/* hal/riscv64/hal.h: the port boundary between the portable kernel and the riscv64 hart. */
#ifndef HAL_RISCV64_HAL_H
#define HAL_RISCV64_HAL_H

#include <stddef.h>
#include <stdint.h>
#include "hal/riscv64/trapframe.h"

/*
 * Everything kernel/ needs from a CPU port, and nothing more: console bytes, time,
 * a one-shot timer, poweroff, page tables, the user context save area, and the
 * kernel context switch.  Another port (ia32, armv7a) provides the same names.
 */

#define HAL_PAGE_SIZE   4096UL
#define HAL_PAGE_SHIFT  12
#define HAL_ELF_MACHINE 243            /* EM_RISCV */
#define HAL_ARCH_NAME   "riscv64"

/* Physical RAM is identity-mapped for the kernel (Sv39 gigapages). */
#define HAL_RAM_BASE    0x80000000UL
#define HAL_KERNEL_BASE 0x80200000UL

/*
 * User virtual layout.  Gigapages 0 (devices) and 2 (RAM) belong to the kernel in
 * every address space, so user mappings live in gigapage 1 and from gigapage 3 up.
 */
#define HAL_USER_IMAGE  0x40000000UL   /* programs are linked here */
#define HAL_USER_MMAP   0x50000000UL   /* anonymous mmap area, up to HAL_USER_STACKS */
#define HAL_USER_STACKS 0x60000000UL   /* thread stacks (each under a guard page) */
#define HAL_USER_TOP    0x80000000UL

/* Portable protection bits. */
enum { HAL_PROT_R = 1, HAL_PROT_W = 2, HAL_PROT_X = 4 };

/* Portable trap kinds the hal decodes from scause. */
enum hal_trap_kind {
	HAL_TRAP_SYSCALL,
	HAL_TRAP_TIMER,
	HAL_TRAP_PF_LOAD,
	HAL_TRAP_PF_STORE,
	HAL_TRAP_PF_EXEC,
	HAL_TRAP_ILLEGAL,
	HAL_TRAP_MISALIGNED_LOAD,
	HAL_TRAP_MISALIGNED_STORE,
	HAL_TRAP_MISALIGNED_FETCH,
	HAL_TRAP_BREAKPOINT,
	HAL_TRAP_ACCESS,
	HAL_TRAP_IRQ,          /* device interrupt (hal/riscv64/plic.h) */
	HAL_TRAP_OTHER,
};

/* Callee-saved kernel context (offsets used by hal_switch in trapvec.S). */
struct hal_kctx {
	uint64_t ra, sp, s[12];
};

typedef uint64_t *hal_pt_t;            /* root page-table page (physical = virtual) */

/* console (ns16550, polled) */
void hal_console_init(void);
void hal_console_putc(int c);
int hal_console_getc(void);            /* -1 when no byte waits */

/* time and timer */
uint64_t hal_time_ns(void);
void hal_timer_arm(uint64_t deadline_ns);
void hal_idle(void);                   /* wait for an interrupt, with none taken */
int hal_timer_due(void);

/* machine */
__attribute__((noreturn)) void hal_poweroff(int failure);
void hal_init(void);

/* MMU */
int hal_mmu_init(void);
hal_pt_t hal_pt_create(void);
void hal_pt_destroy(hal_pt_t pt);
int hal_pt_map(hal_pt_t pt, uint64_t va, uint64_t pa, int prot);
uint64_t hal_pt_unmap(hal_pt_t pt, uint64_t va);            /* returns pa or 0 */
uint64_t hal_pt_lookup(hal_pt_t pt, uint64_t va, int *prot); /* pa of va or 0 */
void hal_pt_activate(hal_pt_t pt);
hal_pt_t hal_pt_kernel(void);

/* contexts */
void hal_switch(struct hal_kctx *old, struct hal_kctx *new_ctx);
void hal_kctx_init(struct hal_kctx *c, void *stack_top, void (*fn)(void));
void hal_tf_init_user(struct hal_trapframe *tf, void *kstack_top, uint64_t pc, uint64_t sp,
		      uint64_t arg0, uint64_t arg1, uint64_t tp);
__attribute__((noreturn)) void hal_return_to_user(struct hal_trapframe *tf);
uint64_t hal_tf_pc(const struct hal_trapframe *tf);
uint64_t hal_tf_sp(const struct hal_trapframe *tf);
uint64_t hal_tf_arg(const struct hal_trapframe *tf, int n);
void hal_tf_set_ret(struct hal_trapframe *tf, uint64_t v);
void hal_tf_skip_syscall(struct hal_trapframe *tf);          /* step past the ecall */
const char *hal_trap_name(const struct hal_trapframe *tf);    /* e.g. "load page fault" */

/* Provided by the kernel for the hal. */
void *k_page_alloc(void);
void k_page_free(void *p);
void k_trap(struct hal_trapframe *tf, enum hal_trap_kind kind, uint64_t addr);
void k_user_boundary(void);
__attribute__((noreturn)) void k_panic(const char *fmt, ...);
#endif
