/* netdump/hex.h: lower-case hex encoding and strict hex decoding of byte strings. */
#ifndef NETDUMP_HEX_H
#define NETDUMP_HEX_H

#include <stddef.h>
#include <stdint.h>

/* n bytes as 2n lower-case hex digits, NUL-terminated: out holds 2n + 1 chars. */
void nd_hex(const uint8_t *in, size_t n, char *out);

/* Exactly 2n hex digits (either case) at s into out[n]: 0, or -1 at the first char that is
 * not a hex digit (a NUL included, so a short string is refused without reading past
 * it).  Signs, spaces and "0x" are not digits.  Only the 2n chars are looked at, so this
 * also decodes a field inside a longer string; out may be partly written on failure. */
int nd_unhex(const char *s, size_t n, uint8_t *out);

/* A whole NUL-terminated string of hex digit pairs, 1..cap bytes, into out; *len gets the
 * byte count.  -1 for an empty or odd-length string, a non-digit, or more than cap bytes. */
int nd_unhex_str(const char *s, uint8_t *out, size_t cap, size_t *len);

/* A 16-byte id written as 32 hex digits, or in the 8-4-4-4-12 UUID form that
 * /proc/sys/kernel/random/boot_id uses; nothing else (no braces, no trailing newline). */
int nd_unhex_uuid(const char *s, uint8_t out[16]);

#endif
