/* kernel/net/tls/libc/stdio.h: mbedtls's platform layer names these; the kernel has no stdio, so its allocator's diagnostics (heap corruption reports) are dropped. */
#ifndef K_TLS_LIBC_STDIO_H
#define K_TLS_LIBC_STDIO_H
#include <stddef.h>
#include <stdarg.h>
typedef struct k_tls_file FILE;
#define stderr ((FILE *)0)
static inline int fprintf(FILE *f, const char *fmt, ...)
{
	(void)f, (void)fmt;
	return 0;
}
#endif
