/* hal/riscv64/sbi.c: SBI calls into OpenSBI (timer, system reset) and the time base. */
#include "hal/riscv64/hal.h"

#define SBI_EXT_TIME 0x54494D45
#define SBI_EXT_SRST 0x53525354
#define SBI_LEGACY_SHUTDOWN 0x08

/* QEMU virt's timebase-frequency; the device tree says the same. */
#define TIMEBASE_HZ 10000000UL

struct sbiret {
	long error;
	long value;
};

static struct sbiret sbi_call(unsigned long ext, unsigned long fid, unsigned long a0,
			      unsigned long a1, unsigned long a2)
{
	register unsigned long r0 asm("a0") = a0;
	register unsigned long r1 asm("a1") = a1;
	register unsigned long r2 asm("a2") = a2;
	register unsigned long r6 asm("a6") = fid;
	register unsigned long r7 asm("a7") = ext;
	asm volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r2), "r"(r6), "r"(r7) : "memory");
	return (struct sbiret){ (long)r0, (long)r1 };
}

static uint64_t rdtime(void)
{
	uint64_t t;
	asm volatile("rdtime %0" : "=r"(t));
	return t;
}

uint64_t hal_time_ns(void)
{
	return rdtime() * (1000000000UL / TIMEBASE_HZ);
}

void hal_timer_arm(uint64_t deadline_ns)
{
	sbi_call(SBI_EXT_TIME, 0, deadline_ns / (1000000000UL / TIMEBASE_HZ), 0, 0);
}

int hal_timer_due(void)
{
	uint64_t sip;
	asm volatile("csrr %0, sip" : "=r"(sip));
	return (sip & (1UL << 5)) != 0;
}

void hal_idle(void)
{
	/* sie.STIE is set and sstatus.SIE is clear: wfi wakes on the timer, no trap is taken. */
	asm volatile("wfi");
}

void hal_poweroff(int failure)
{
	/* SRST: type 0 = shutdown, reason 1 = system failure. */
	sbi_call(SBI_EXT_SRST, 0, 0, failure ? 1 : 0, 0);
	sbi_call(SBI_LEGACY_SHUTDOWN, 0, 0, 0, 0);
	for (;;)
		asm volatile("wfi");
}
