/* netdump/wire.h: big-endian (network order) byte helpers for the netdump wire format. */
#ifndef NETDUMP_WIRE_H
#define NETDUMP_WIRE_H

#include <stdint.h>

/*
 * Every multi-byte field on the wire goes through these, byte by byte, so the
 * code is independent of host endianness and alignment; nothing is ever read by
 * casting a struct over received bytes.
 */
static inline void nd_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void nd_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void nd_put_u64(uint8_t *p, uint64_t v)
{
	nd_put_u32(p, (uint32_t)(v >> 32));
	nd_put_u32(p + 4, (uint32_t)v);
}

static inline uint16_t nd_get_u16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t nd_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t nd_get_u64(const uint8_t *p)
{
	return (uint64_t)nd_get_u32(p) << 32 | nd_get_u32(p + 4);
}

#endif /* NETDUMP_WIRE_H */
