/* hal/riscv64/entry.S: first instructions in S-mode: boot stack, clear bss, enter C. */
	.section .text.entry
	.globl _start
_start:
	/* OpenSBI hands us a0 = hart id, a1 = physical address of the device tree. */
	csrw	sie, zero
	csrw	sscratch, zero
	la	sp, boot_stack_top
	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	call	kmain
3:	wfi
	j	3b

	.section .bss
	.balign 16
boot_stack:
	.space	16384
boot_stack_top:
