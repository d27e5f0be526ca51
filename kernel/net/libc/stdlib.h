/* kernel/net/libc/stdlib.h: the one stdlib function lwIP uses (netif_find), from kernel/net/sys_arch.c. */
#ifndef K_NET_LIBC_STDLIB_H
#define K_NET_LIBC_STDLIB_H
int atoi(const char *s);
#endif
