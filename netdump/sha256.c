/* netdump/sha256.c: SHA-256 and HMAC-SHA256, portable C plus an x86 SHA-NI fast path. */
#include "netdump/sha256.h"

/*
 * Freestanding on purpose: the kernel's core writer and netdump sender link this
 * file, so it uses no libc at all (byte loops instead of memcpy).  The portable
 * compression function is fully unrolled with the 16-word rolling message
 * schedule, which is what lets -O2 keep everything in registers.  On hosted
 * x86_64 builds the SHA extensions are used when the CPU has them: the collector
 * hashes every received core, so the difference (~4x) shows in ingest rate.
 */

static const uint32_t K256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n)   (((x) >> (n)) | ((x) << (32 - (n))))
#define BS0(x)      (ROR(x, 2) ^ ROR(x, 13) ^ ROR(x, 22))
#define BS1(x)      (ROR(x, 6) ^ ROR(x, 11) ^ ROR(x, 25))
#define SS0(x)      (ROR(x, 7) ^ ROR(x, 18) ^ ((x) >> 3))
#define SS1(x)      (ROR(x, 17) ^ ROR(x, 19) ^ ((x) >> 10))
#define CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y))))

static inline uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One round; the caller rotates the names instead of moving eight values. */
#define RND(a, b, c, d, e, f, g, h, k, w) do { \
		uint32_t t1_ = (h) + BS1(e) + CH(e, f, g) + (k) + (w); \
		uint32_t t2_ = BS0(a) + MAJ(a, b, c); \
		(d) += t1_; (h) = t1_ + t2_; \
	} while (0)

/* Schedule word j (mod 16) for rounds 16..63, in place in the rolling window. */
#define SCHED(j) (W[(j) & 15] += SS1(W[((j) + 14) & 15]) + W[((j) + 9) & 15] + \
	SS0(W[((j) + 1) & 15]))

#define R8(base, WX) \
	RND(a, b, c, d, e, f, g, h, K256[(base) + 0], WX(0)); \
	RND(h, a, b, c, d, e, f, g, K256[(base) + 1], WX(1)); \
	RND(g, h, a, b, c, d, e, f, K256[(base) + 2], WX(2)); \
	RND(f, g, h, a, b, c, d, e, K256[(base) + 3], WX(3)); \
	RND(e, f, g, h, a, b, c, d, K256[(base) + 4], WX(4)); \
	RND(d, e, f, g, h, a, b, c, K256[(base) + 5], WX(5)); \
	RND(c, d, e, f, g, h, a, b, K256[(base) + 6], WX(6)); \
	RND(b, c, d, e, f, g, h, a, K256[(base) + 7], WX(7))

static void blocks_portable(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
	uint32_t W[16];

	while (nblocks--) {
		uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
		uint32_t e = st[4], f = st[5], g = st[6], h = st[7];
		for (int j = 0; j < 16; j++)
			W[j] = load_be32(p + 4 * j);
#define WLO(j) W[j]
#define WHI(j) W[(j) + 8]
#define SLO(j) SCHED(j)
#define SHI(j) SCHED((j) + 8)
		R8(0, WLO);
		R8(8, WHI);
		for (int r = 16; r < 64; r += 16) {
			R8(r, SLO);
			R8(r + 8, SHI);
		}
#undef WLO
#undef WHI
#undef SLO
#undef SHI
		st[0] += a; st[1] += b; st[2] += c; st[3] += d;
		st[4] += e; st[5] += f; st[6] += g; st[7] += h;
		p += ND_SHA256_BLOCK;
	}
}

#if defined(__x86_64__) && defined(__GNUC__) && __STDC_HOSTED__ && !defined(ND_SHA256_PORTABLE_ONLY)
#define ND_HAVE_SHANI 1
#include <cpuid.h>
#include <immintrin.h>

/* Four rounds with the SHA extensions; see the Intel SHA extensions paper for the
 * ABEF/CDGH state split.  msg2/msg1 finish the schedule words needed later. */
#define SHANI_4(i, wi, wprev, wnext, wold) do { \
		__m128i m_ = _mm_add_epi32(wi, _mm_loadu_si128((const __m128i *)&K256[4 * (i)])); \
		s1 = _mm_sha256rnds2_epu32(s1, s0, m_); \
		if ((i) >= 3 && (i) <= 14) { \
			wnext = _mm_add_epi32(wnext, _mm_alignr_epi8(wi, wprev, 4)); \
			wnext = _mm_sha256msg2_epu32(wnext, wi); \
		} \
		m_ = _mm_shuffle_epi32(m_, 0x0E); \
		s0 = _mm_sha256rnds2_epu32(s0, s1, m_); \
		if ((i) >= 1 && (i) <= 12) \
			wold = _mm_sha256msg1_epu32(wold, wi); \
	} while (0)

__attribute__((target("sha,sse4.1,ssse3")))
static void blocks_shani(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
	const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i t = _mm_loadu_si128((const __m128i *)&st[0]);
	__m128i s1 = _mm_loadu_si128((const __m128i *)&st[4]);
	__m128i s0;

	t = _mm_shuffle_epi32(t, 0xB1);
	s1 = _mm_shuffle_epi32(s1, 0x1B);
	s0 = _mm_alignr_epi8(t, s1, 8);          /* ABEF */
	s1 = _mm_blend_epi16(s1, t, 0xF0);       /* CDGH */

	while (nblocks--) {
		__m128i abef = s0, cdgh = s1;
		__m128i w0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), mask);
		__m128i w1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), mask);
		__m128i w2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), mask);
		__m128i w3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), mask);

		SHANI_4(0, w0, w3, w1, w3);
		SHANI_4(1, w1, w0, w2, w0);
		SHANI_4(2, w2, w1, w3, w1);
		SHANI_4(3, w3, w2, w0, w2);
		SHANI_4(4, w0, w3, w1, w3);
		SHANI_4(5, w1, w0, w2, w0);
		SHANI_4(6, w2, w1, w3, w1);
		SHANI_4(7, w3, w2, w0, w2);
		SHANI_4(8, w0, w3, w1, w3);
		SHANI_4(9, w1, w0, w2, w0);
		SHANI_4(10, w2, w1, w3, w1);
		SHANI_4(11, w3, w2, w0, w2);
		SHANI_4(12, w0, w3, w1, w3);
		SHANI_4(13, w1, w0, w2, w0);
		SHANI_4(14, w2, w1, w3, w1);
		SHANI_4(15, w3, w2, w0, w2);

		s0 = _mm_add_epi32(s0, abef);
		s1 = _mm_add_epi32(s1, cdgh);
		p += ND_SHA256_BLOCK;
	}

	t = _mm_shuffle_epi32(s0, 0x1B);         /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xB1);        /* DCHG */
	s0 = _mm_blend_epi16(t, s1, 0xF0);       /* DCBA */
	s1 = _mm_alignr_epi8(s1, t, 8);          /* HGFE */
	_mm_storeu_si128((__m128i *)&st[0], s0);
	_mm_storeu_si128((__m128i *)&st[4], s1);
}

static int shani_usable(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b & (1u << 29)) != 0;            /* CPUID.7.0:EBX.SHA */
}
#endif

#ifdef ND_HAVE_SHANI
/* -1: not probed yet.  Racing first callers all compute the same answer. */
static int use_accel = -1;
#endif

static void blocks(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
#ifdef ND_HAVE_SHANI
	if (use_accel < 0)
		use_accel = shani_usable();
	if (use_accel) {
		blocks_shani(st, p, nblocks);
		return;
	}
#endif
	blocks_portable(st, p, nblocks);
}

const char *nd_sha256_impl(void)
{
#ifdef ND_HAVE_SHANI
	if (use_accel < 0)
		use_accel = shani_usable();
	if (use_accel)
		return "sha-ni";
#endif
	return "portable";
}

void nd_sha256_force_portable(int on)
{
#ifdef ND_HAVE_SHANI
	use_accel = on ? 0 : shani_usable();
#else
	(void)on;
#endif
}

void nd_sha256_init(struct nd_sha256 *s)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	for (int i = 0; i < 8; i++)
		s->h[i] = iv[i];
	s->total = 0;
	s->fill = 0;
}

void nd_sha256_update(struct nd_sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->total += len;
	if (s->fill) {
		while (len && s->fill < ND_SHA256_BLOCK) {
			s->buf[s->fill++] = *p++;
			len--;
		}
		if (s->fill < ND_SHA256_BLOCK)
			return;
		blocks(s->h, s->buf, 1);
		s->fill = 0;
	}
	if (len >= ND_SHA256_BLOCK) {
		size_t n = len / ND_SHA256_BLOCK;
		blocks(s->h, p, n);
		p += n * ND_SHA256_BLOCK;
		len -= n * ND_SHA256_BLOCK;
	}
	while (len--)
		s->buf[s->fill++] = *p++;
}

void nd_sha256_final(struct nd_sha256 *s, uint8_t out[ND_SHA256_DIGEST])
{
	uint64_t bits = s->total * 8;

	s->buf[s->fill++] = 0x80;
	if (s->fill > ND_SHA256_BLOCK - 8) {
		while (s->fill < ND_SHA256_BLOCK)
			s->buf[s->fill++] = 0;
		blocks(s->h, s->buf, 1);
		s->fill = 0;
	}
	while (s->fill < ND_SHA256_BLOCK - 8)
		s->buf[s->fill++] = 0;
	for (int i = 0; i < 8; i++)
		s->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	blocks(s->h, s->buf, 1);
	for (int i = 0; i < 8; i++) {
		out[4 * i + 0] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
	s->fill = 0;
}

void nd_sha256(const void *data, size_t len, uint8_t out[ND_SHA256_DIGEST])
{
	struct nd_sha256 s;

	nd_sha256_init(&s);
	nd_sha256_update(&s, data, len);
	nd_sha256_final(&s, out);
}

void nd_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                    uint8_t out[ND_SHA256_DIGEST])
{
	uint8_t k[ND_SHA256_BLOCK] = {0};
	uint8_t pad[ND_SHA256_BLOCK];
	uint8_t inner[ND_SHA256_DIGEST];
	struct nd_sha256 s;

	if (klen > ND_SHA256_BLOCK) {
		nd_sha256(key, klen, k);
	} else {
		const uint8_t *kp = key;
		for (size_t i = 0; i < klen; i++)
			k[i] = kp[i];
	}
	for (int i = 0; i < ND_SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	nd_sha256_init(&s);
	nd_sha256_update(&s, pad, sizeof pad);
	nd_sha256_update(&s, msg, mlen);
	nd_sha256_final(&s, inner);
	for (int i = 0; i < ND_SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	nd_sha256_init(&s);
	nd_sha256_update(&s, pad, sizeof pad);
	nd_sha256_update(&s, inner, sizeof inner);
	nd_sha256_final(&s, out);
}
