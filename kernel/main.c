/* kernel/main.c: boot: memory, MMU, console, bootargs, kernel threads, the first programs, poweroff. */
#include "kernel/proc.h"
#include "kernel/net/net.h"

extern char __kernel_end[];

/* The device tree is trusted to be at most this long (QEMU's is a few KiB; the pages are kept). */
#define K_FDT_MAX (1UL << 20)
void kmain(uint64_t hartid, const void *fdt);

static void init_thread(void)
{
	for (int i = 0; i < k_args.nrun; i++) {
		int r = proc_spawn(k_args.run[i]);
		if (r < 0)
			k_printf("[k] run=%s: cannot start (error %d)\n", k_args.run[i], -r);
	}
	if (!k_args.poweroff)
		return;
	/* poweroff: once every program started so far (from bootargs or console) is gone. */
	while (proc_alive_count() > 0)
		k_sleep(k_procs, 0);
	k_printf("[k] all programs exited; free pages=%lu; poweroff\n", k_pages_free());
	hal_poweroff(0);
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

void kmain(uint64_t hartid, const void *fdt)
{
	hal_console_init();
	hal_init();
	/* RAM end from /memory reg (two cells each), defaulting to QEMU's 128 MiB. */
	uint64_t ram_end = HAL_RAM_BASE + (128UL << 20);
	const void *v;
	uint32_t len;
	if (fdt_find(fdt, K_FDT_MAX, "/memory", "reg", &v, &len) == 0 && len >= 16)
		ram_end = be64(v) + be64((const uint8_t *)v + 8);
	/* The device tree sits in RAM above the kernel; keep its pages out of the allocator. */
	uint64_t fdt_lo = (uint64_t)fdt & ~(HAL_PAGE_SIZE - 1);
	uint64_t kend = (uint64_t)__kernel_end;
	if (fdt_lo >= kend && fdt_lo < ram_end) {
		kalloc_init(kend, fdt_lo);
		kalloc_init(fdt_lo + K_FDT_MAX + HAL_PAGE_SIZE, ram_end);
	} else {
		kalloc_init(kend, ram_end);
	}
	if (hal_mmu_init() != 0)
		k_panic("no memory for the kernel page table");
	const char *args = "";
	if (fdt_find(fdt, K_FDT_MAX, "/chosen", "bootargs", &v, &len) == 0 && len > 0 &&
	    ((const char *)v)[len - 1] == 0)
		args = v;
	bootargs_parse(args);
	k_printf("[k] corecast kernel on %s hart %lu, %lu MiB RAM, %lu free pages\n",
		 HAL_ARCH_NAME, hartid, (ram_end - HAL_RAM_BASE) >> 20, k_pages_free());
	k_printf("[k] bootargs: %s\n", args);
	k_kernel_proc->state = P_ALIVE;
	k_kernel_proc->pid = 0;
	k_kernel_proc->pt = hal_pt_kernel();
	k_strlcpy(k_kernel_proc->name, "kernel", sizeof(k_kernel_proc->name));
	kthread_create(console_thread, K_PRIO_MAX);
	kthread_create(init_thread, K_PRIO_MAX);
	net_init();
	sched_init();
	sched_loop();
}
