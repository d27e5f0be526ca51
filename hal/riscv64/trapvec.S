/* hal/riscv64/trapvec.S: trap entry/exit, FP state save/restore and the kernel context switch. */
#include "hal/riscv64/trapframe.h"

	.option	arch, +d
	.section .text
	.balign	4
	.globl	trap_vector
/*
 * sscratch holds the current thread's trapframe while the hart runs user code and 0
 * while it runs the kernel; that tells the two entry paths apart without touching
 * any other register.
 */
trap_vector:
	csrrw	sp, sscratch, sp
	beqz	sp, from_kernel
	sd	x1, 8(sp)
	sd	x3, 24(sp)
	sd	x4, 32(sp)
	sd	x5, 40(sp)
	sd	x6, 48(sp)
	sd	x7, 56(sp)
	sd	x8, 64(sp)
	sd	x9, 72(sp)
	sd	x10, 80(sp)
	sd	x11, 88(sp)
	sd	x12, 96(sp)
	sd	x13, 104(sp)
	sd	x14, 112(sp)
	sd	x15, 120(sp)
	sd	x16, 128(sp)
	sd	x17, 136(sp)
	sd	x18, 144(sp)
	sd	x19, 152(sp)
	sd	x20, 160(sp)
	sd	x21, 168(sp)
	sd	x22, 176(sp)
	sd	x23, 184(sp)
	sd	x24, 192(sp)
	sd	x25, 200(sp)
	sd	x26, 208(sp)
	sd	x27, 216(sp)
	sd	x28, 224(sp)
	sd	x29, 232(sp)
	sd	x30, 240(sp)
	sd	x31, 248(sp)
	csrr	t0, sscratch
	sd	t0, 16(sp)
	csrw	sscratch, zero
	csrr	t0, sepc
	sd	t0, 0(sp)
	csrr	t0, sstatus
	sd	t0, TF_SSTATUS(sp)
	csrr	t0, scause
	sd	t0, TF_SCAUSE(sp)
	csrr	t0, stval
	sd	t0, TF_STVAL(sp)
	mv	a0, sp
	ld	sp, TF_KSP(sp)
	call	hal_user_trap		/* never returns: ends in hal_user_return */
1:	j	1b

/* A trap while the kernel runs is a kernel bug (the kernel never enables interrupts). */
from_kernel:
	csrrw	sp, sscratch, sp
	addi	sp, sp, -16
	sd	ra, 8(sp)
	call	hal_kernel_trap
2:	j	2b

/* void hal_user_return(struct hal_trapframe *tf): restore everything and sret to user. */
	.globl	hal_user_return
hal_user_return:
	ld	t0, 0(a0)
	csrw	sepc, t0
	ld	t0, TF_SSTATUS(a0)
	csrw	sstatus, t0
	csrw	sscratch, a0
	ld	x1, 8(a0)
	ld	x2, 16(a0)
	ld	x3, 24(a0)
	ld	x4, 32(a0)
	ld	x5, 40(a0)
	ld	x6, 48(a0)
	ld	x7, 56(a0)
	ld	x8, 64(a0)
	ld	x9, 72(a0)
	ld	x11, 88(a0)
	ld	x12, 96(a0)
	ld	x13, 104(a0)
	ld	x14, 112(a0)
	ld	x15, 120(a0)
	ld	x16, 128(a0)
	ld	x17, 136(a0)
	ld	x18, 144(a0)
	ld	x19, 152(a0)
	ld	x20, 160(a0)
	ld	x21, 168(a0)
	ld	x22, 176(a0)
	ld	x23, 184(a0)
	ld	x24, 192(a0)
	ld	x25, 200(a0)
	ld	x26, 208(a0)
	ld	x27, 216(a0)
	ld	x28, 224(a0)
	ld	x29, 232(a0)
	ld	x30, 240(a0)
	ld	x31, 248(a0)
	ld	x10, 80(a0)
	sret

/* void hal_fp_save(struct hal_trapframe *tf) — caller has set sstatus.FS non-zero. */
	.globl	hal_fp_save
hal_fp_save:
	fsd	f0, TF_FREGS+0*8(a0)
	fsd	f1, TF_FREGS+1*8(a0)
	fsd	f2, TF_FREGS+2*8(a0)
	fsd	f3, TF_FREGS+3*8(a0)
	fsd	f4, TF_FREGS+4*8(a0)
	fsd	f5, TF_FREGS+5*8(a0)
	fsd	f6, TF_FREGS+6*8(a0)
	fsd	f7, TF_FREGS+7*8(a0)
	fsd	f8, TF_FREGS+8*8(a0)
	fsd	f9, TF_FREGS+9*8(a0)
	fsd	f10, TF_FREGS+10*8(a0)
	fsd	f11, TF_FREGS+11*8(a0)
	fsd	f12, TF_FREGS+12*8(a0)
	fsd	f13, TF_FREGS+13*8(a0)
	fsd	f14, TF_FREGS+14*8(a0)
	fsd	f15, TF_FREGS+15*8(a0)
	fsd	f16, TF_FREGS+16*8(a0)
	fsd	f17, TF_FREGS+17*8(a0)
	fsd	f18, TF_FREGS+18*8(a0)
	fsd	f19, TF_FREGS+19*8(a0)
	fsd	f20, TF_FREGS+20*8(a0)
	fsd	f21, TF_FREGS+21*8(a0)
	fsd	f22, TF_FREGS+22*8(a0)
	fsd	f23, TF_FREGS+23*8(a0)
	fsd	f24, TF_FREGS+24*8(a0)
	fsd	f25, TF_FREGS+25*8(a0)
	fsd	f26, TF_FREGS+26*8(a0)
	fsd	f27, TF_FREGS+27*8(a0)
	fsd	f28, TF_FREGS+28*8(a0)
	fsd	f29, TF_FREGS+29*8(a0)
	fsd	f30, TF_FREGS+30*8(a0)
	fsd	f31, TF_FREGS+31*8(a0)
	frcsr	t0
	sw	t0, TF_FCSR(a0)
	ret

/* void hal_fp_restore(const struct hal_trapframe *tf) */
	.globl	hal_fp_restore
hal_fp_restore:
	fld	f0, TF_FREGS+0*8(a0)
	fld	f1, TF_FREGS+1*8(a0)
	fld	f2, TF_FREGS+2*8(a0)
	fld	f3, TF_FREGS+3*8(a0)
	fld	f4, TF_FREGS+4*8(a0)
	fld	f5, TF_FREGS+5*8(a0)
	fld	f6, TF_FREGS+6*8(a0)
	fld	f7, TF_FREGS+7*8(a0)
	fld	f8, TF_FREGS+8*8(a0)
	fld	f9, TF_FREGS+9*8(a0)
	fld	f10, TF_FREGS+10*8(a0)
	fld	f11, TF_FREGS+11*8(a0)
	fld	f12, TF_FREGS+12*8(a0)
	fld	f13, TF_FREGS+13*8(a0)
	fld	f14, TF_FREGS+14*8(a0)
	fld	f15, TF_FREGS+15*8(a0)
	fld	f16, TF_FREGS+16*8(a0)
	fld	f17, TF_FREGS+17*8(a0)
	fld	f18, TF_FREGS+18*8(a0)
	fld	f19, TF_FREGS+19*8(a0)
	fld	f20, TF_FREGS+20*8(a0)
	fld	f21, TF_FREGS+21*8(a0)
	fld	f22, TF_FREGS+22*8(a0)
	fld	f23, TF_FREGS+23*8(a0)
	fld	f24, TF_FREGS+24*8(a0)
	fld	f25, TF_FREGS+25*8(a0)
	fld	f26, TF_FREGS+26*8(a0)
	fld	f27, TF_FREGS+27*8(a0)
	fld	f28, TF_FREGS+28*8(a0)
	fld	f29, TF_FREGS+29*8(a0)
	fld	f30, TF_FREGS+30*8(a0)
	fld	f31, TF_FREGS+31*8(a0)
	lw	t0, TF_FCSR(a0)
	fscsr	t0
	ret

/*
 * void hal_switch(struct hal_kctx *old, struct hal_kctx *new): save the callee-saved
 * registers of the running kernel context and resume another; caller-saved ones are
 * already on the stack per the calling convention.
 */
	.globl	hal_switch
hal_switch:
	sd	ra, 0(a0)
	sd	sp, 8(a0)
	sd	s0, 16(a0)
	sd	s1, 24(a0)
	sd	s2, 32(a0)
	sd	s3, 40(a0)
	sd	s4, 48(a0)
	sd	s5, 56(a0)
	sd	s6, 64(a0)
	sd	s7, 72(a0)
	sd	s8, 80(a0)
	sd	s9, 88(a0)
	sd	s10, 96(a0)
	sd	s11, 104(a0)
	ld	ra, 0(a1)
	ld	sp, 8(a1)
	ld	s0, 16(a1)
	ld	s1, 24(a1)
	ld	s2, 32(a1)
	ld	s3, 40(a1)
	ld	s4, 48(a1)
	ld	s5, 56(a1)
	ld	s6, 64(a1)
	ld	s7, 72(a1)
	ld	s8, 80(a1)
	ld	s9, 88(a1)
	ld	s10, 96(a1)
	ld	s11, 104(a1)
	ret
