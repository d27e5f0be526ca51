/* kernel/coredump/crc32.h: CRC-32 (zlib/IEEE polynomial) for the serial core format. */
#ifndef COREDUMP_CRC32_H
#define COREDUMP_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0; cw_crc32(0, "123456789", 9) == 0xcbf43926,
 * the same value as zlib's crc32(). */
uint32_t cw_crc32(uint32_t crc, const void *buf, size_t len);

#endif /* COREDUMP_CRC32_H */
