/* netdump/hex.c: the one hex encoder and strict decoder used by kernel, collector and sender. */
#include "netdump/hex.h"

void nd_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int nd_unhex(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		/* The low digit is read only once the high one was a digit (not the NUL). */
		int hi = digit(s[2 * i]);
		int lo = hi < 0 ? -1 : digit(s[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int nd_unhex_str(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = 0;

	for (; s[2 * n] != '\0'; n++)
		if (n == cap || nd_unhex(s + 2 * n, 1, out + n) < 0)
			return -1;
	if (n == 0)
		return -1;
	*len = n;
	return 0;
}

int nd_unhex_uuid(const char *s, uint8_t out[16])
{
	static const uint8_t group[] = { 4, 2, 2, 2, 6 };   /* bytes per UUID field */
	size_t n, k = 0;

	if (nd_unhex_str(s, out, 16, &n) == 0)
		return n == 16 ? 0 : -1;
	for (size_t g = 0; g < sizeof group; g++) {
		if (g > 0 && *s++ != '-')
			return -1;
		if (nd_unhex(s, group[g], out + k) < 0)
			return -1;
		s += 2 * group[g];
		k += group[g];
	}
	return *s == '\0' ? 0 : -1;
}
