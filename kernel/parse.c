/* kernel/parse.c: bounded string copy and number parsing for boot arguments and console commands. */
#include "kernel/kernel.h"

void k_strlcpy(char *d, const char *s, size_t n)
{
	size_t i = 0;
	if (!n)
		return;
	for (; i + 1 < n && s[i]; i++)
		d[i] = s[i];
	d[i] = 0;
}

/* Parse a decimal or 0x-hex number with an optional K/M/G suffix; -1 on junk. */
int k_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	int base = 10;
	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, i = 2;
	if (i >= len)
		return -1;
	for (; i < len; i++) {
		char c = s[i];
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	if (i < len) {
		if (i + 1 != len)
			return -1;
		switch (s[i]) {
		case 'k': case 'K': v <<= 10; break;
		case 'm': case 'M': v <<= 20; break;
		case 'g': case 'G': v <<= 30; break;
		default: return -1;
		}
	}
	*out = v;
	return 0;
}
