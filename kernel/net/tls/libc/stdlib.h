/* kernel/net/tls/libc/stdlib.h: what mbedtls includes from stdlib.h in the kernel: only declarations it never calls (allocation goes through mbedtls_platform_set_calloc_free). */
#ifndef K_TLS_LIBC_STDLIB_H
#define K_TLS_LIBC_STDLIB_H
#include <stddef.h>
#endif
