/* kernel/coredump/crc32.c: CRC-32 with a 16-entry table, small enough for any kernel. */
#include "kernel/coredump/crc32.h"

/* Reflected polynomial 0xedb88320, one nibble at a time: 64 bytes of table instead
 * of 1 KiB; the serial line, not this loop, bounds the serial dump's speed. */
static const uint32_t nib[16] = {
	0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
	0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
	0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu,
};

uint32_t cw_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		crc = (crc >> 4) ^ nib[crc & 15];
		crc = (crc >> 4) ^ nib[crc & 15];
	}
	return ~crc;
}
