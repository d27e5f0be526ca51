/* kernel/net/port/sys_arch.c: what lwIP needs from the kernel under NO_SYS: the clock, randomness, diagnostics. */
#include "kernel/kernel.h"
#include <stdarg.h>
#include "lwip/sys.h"

u32_t sys_now(void)
{
	return (u32_t)(hal_time_ns() / 1000000UL);
}

/*
 * DHCP transaction ids, DNS query ids and source ports come from here.  There is
 * no entropy source on the board; the cycle-granular time of each call, mixed in,
 * is unpredictable enough for ids that only need to differ between boots.
 */
unsigned int k_net_rand(void)
{
	static uint64_t s = 0x2545f4914f6cdd1dUL;
	s ^= hal_time_ns();
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (unsigned int)(s >> 16);
}

void k_net_diag(const char *fmt, ...)
{
	/* lwIP's debug output is compiled out (LWIP_DEBUG 0); only its assertions print. */
	(void)fmt;
}

int atoi(const char *s);
int atoi(const char *s)
{
	int v = 0, neg = 0;
	if (*s == '-')
		neg = 1, s++;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	return neg ? -v : v;
}
