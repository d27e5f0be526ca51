/* hal/riscv64/plic.h: external device interrupts through the PLIC (QEMU virt), for drivers and the trap path. */
#ifndef HAL_RISCV64_PLIC_H
#define HAL_RISCV64_PLIC_H

/*
 * The kernel never takes an interrupt in kernel mode (sstatus.SIE stays clear), so
 * a device interrupt is delivered at one of two places: as a trap from user mode
 * (HAL_TRAP_IRQ), or by the scheduler's idle loop, whose wfi it wakes.  Both call
 * hal_irq_dispatch; handlers therefore run in kernel context between threads.
 */
typedef void (*hal_irq_fn)(void *arg);

/* Route device interrupt irq (1..63) to fn and enable it for this hart's S-mode. */
void hal_irq_enable(int irq, hal_irq_fn fn, void *arg);
/* 1 when an enabled device interrupt is pending (sip.SEIP). */
int hal_irq_due(void);
/* Claim, handle and complete every pending device interrupt. */
void hal_irq_dispatch(void);
#endif
