/* netdump/sha256.h: freestanding SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104). */
#ifndef NETDUMP_SHA256_H
#define NETDUMP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define ND_SHA256_BLOCK   64
#define ND_SHA256_DIGEST  32

/*
 * Streaming hash state.  The caller owns it (no allocation), so it can live on a
 * kernel stack, in a per-session struct of the collector, or in the core writer.
 * Fields are private to sha256.c.
 */
struct nd_sha256 {
	uint32_t h[8];                 /* chaining value */
	uint64_t total;                /* bytes hashed so far */
	uint32_t fill;                 /* bytes waiting in buf, always < 64 */
	uint8_t buf[ND_SHA256_BLOCK];  /* partial block */
};

/* Start a new hash. */
void nd_sha256_init(struct nd_sha256 *s);
/* Hash len more bytes; any split of the input gives the same digest. */
void nd_sha256_update(struct nd_sha256 *s, const void *data, size_t len);
/* Write the digest to out; s must be re-initialised before it is used again. */
void nd_sha256_final(struct nd_sha256 *s, uint8_t out[ND_SHA256_DIGEST]);
/* One-shot convenience: out = SHA-256(data). */
void nd_sha256(const void *data, size_t len, uint8_t out[ND_SHA256_DIGEST]);

/* out = HMAC-SHA256(key, msg); keys longer than 64 bytes are hashed first (RFC 2104). */
void nd_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                    uint8_t out[ND_SHA256_DIGEST]);

/* Which compression function is in use: "sha-ni" or "portable" (for logs, benches). */
const char *nd_sha256_impl(void);
/* Tests and benches only: on != 0 forces the portable code even if SHA-NI exists. */
void nd_sha256_force_portable(int on);

#endif /* NETDUMP_SHA256_H */
