/* kernel/net/port/arch/cc.h: lwIP's compiler and platform port for the freestanding corecast kernel. */
#ifndef K_NET_ARCH_CC_H
#define K_NET_ARCH_CC_H

/*
 * The kernel is freestanding: the compiler supplies stddef.h and stdint.h, and
 * kernel/net/libc/ supplies string.h and stdlib.h.  lwIP's own fallbacks cover
 * ctype, the printf formats and the limits.
 */
#define LWIP_NO_CTYPE_H    1
#define LWIP_NO_INTTYPES_H 1
#define LWIP_NO_LIMITS_H   1
#define INT_MAX            __INT_MAX__

#define X8_F  "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "lu"

#define BYTE_ORDER LITTLE_ENDIAN
#define LWIP_RAND() ((unsigned int)k_net_rand())
unsigned int k_net_rand(void);

void k_net_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void k_panic(const char *fmt, ...);
#define LWIP_PLATFORM_DIAG(x) do { k_net_diag x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) k_panic("lwIP assertion \"%s\" failed at %s:%d", x, __FILE__, __LINE__)

#endif
