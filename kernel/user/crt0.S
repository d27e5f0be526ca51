/* kernel/user/crt0.S: user program entry: gp, the main thread's TLS block, main(argc, argv), exit. */
	.section .text.start
	.globl	_start
	.type	_start, @function
_start:
	.option push
	.option norelax
	la	gp, __global_pointer$
	.option pop
	/* The loader placed .tdata and zeroed .tbss: that image is the main thread's block. */
	la	tp, __tls_base
	call	main
	call	exit
1:	j	1b
	.size	_start, . - _start
