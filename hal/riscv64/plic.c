/* hal/riscv64/plic.c: the PLIC of QEMU virt: priorities, enables and claim/complete for hart 0 in S-mode. */
#include "hal/riscv64/hal.h"
#include "hal/riscv64/plic.h"

#define PLIC_BASE      0x0c000000UL
#define PLIC_CTX       1                       /* hart 0, S-mode */
#define PLIC_PRIO(i)   (PLIC_BASE + 4UL * (i))
#define PLIC_ENABLE    (PLIC_BASE + 0x2000UL + 0x80UL * PLIC_CTX)
#define PLIC_THRESHOLD (PLIC_BASE + 0x200000UL + 0x1000UL * PLIC_CTX)
#define PLIC_CLAIM     (PLIC_THRESHOLD + 4)
#define SIE_SEIE       (1UL << 9)
#define SIP_SEIP       (1UL << 9)
#define IRQ_MAX        64

static struct {
	hal_irq_fn fn;
	void *arg;
} handlers[IRQ_MAX];

static volatile uint32_t *reg(uint64_t a) { return (volatile uint32_t *)a; }

void hal_irq_enable(int irq, hal_irq_fn fn, void *arg)
{
	if (irq <= 0 || irq >= IRQ_MAX)
		return;
	handlers[irq].fn = fn;
	handlers[irq].arg = arg;
	*reg(PLIC_PRIO(irq)) = 1;
	*reg(PLIC_ENABLE + 4UL * (irq / 32)) |= 1u << (irq % 32);
	*reg(PLIC_THRESHOLD) = 0;
	asm volatile("csrs sie, %0" : : "r"(SIE_SEIE));
}

int hal_irq_due(void)
{
	uint64_t sip;
	asm volatile("csrr %0, sip" : "=r"(sip));
	return (sip & SIP_SEIP) != 0;
}

void hal_irq_dispatch(void)
{
	for (;;) {
		uint32_t irq = *reg(PLIC_CLAIM);
		if (irq == 0)
			return;
		if (irq < IRQ_MAX && handlers[irq].fn)
			handlers[irq].fn(handlers[irq].arg);
		*reg(PLIC_CLAIM) = irq;
	}
}
