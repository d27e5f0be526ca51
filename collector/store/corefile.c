/* collector/store/corefile.c: the .core.zst file format — metadata frame, compressed chunks, trailer. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/store/store_int.h"

/*
 * A stored core file is a valid zstd stream:
 *
 *   skippable frame  magic 0x184D2A5C, u32le size, payload "CCM1" + metadata
 *   zstd frame(s)    the core, STORE_CHUNK bytes per frame, content checksums on
 *   skippable frame  magic 0x184D2A5D, u32le size 52, payload
 *                    "CCT1" u64le core size, 32-byte SHA-256, i64le received time
 *
 * Metadata payload, all integers little-endian, strings as u16le length + bytes:
 *   device, boot_id[16], u32 seq, u64 core_size, u16 machine, u32 pid, u32 signal,
 *   exe, cause, firmware, u64 device_time, u8 n_buildids,
 *   n x { u8 len, id[len], name }
 *
 * Zstd decoders skip skippable frames, so `zstd -d` gives back exactly the core.  The
 * frames exist so that a file renamed into cores/ whose index row was lost can be
 * indexed again from the file alone.
 */
#define CF_MAGIC_META    0x184D2A5Cu
#define CF_MAGIC_TRAILER 0x184D2A5Du
#define CF_TRAILER_PAYLOAD 52u
#define CF_TRAILER_SIZE  (8u + CF_TRAILER_PAYLOAD)
#define CF_META_MAX      4096u

static enum store_err write_all(struct store *st, int fd, const void *buf, size_t len,
                                const char *what)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int err = errno;
			return store_fail(st, store_errno(err), "%s: %s", what, strerror(err));
		}
		p += n;
		len -= (size_t)n;
	}
	return STORE_OK;
}

struct cf_buf {
	uint8_t *p;
	size_t len, cap;
	int bad;   /* overflow (writing) or truncation (reading) */
};

static void put_bytes(struct cf_buf *b, const void *src, size_t n)
{
	if (b->bad || b->cap - b->len < n) {
		b->bad = 1;
		return;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void put_u8(struct cf_buf *b, uint8_t v) { put_bytes(b, &v, 1); }
static void put_u16(struct cf_buf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	put_bytes(b, x, 2);
}
static void put_u32(struct cf_buf *b, uint32_t v)
{
	uint8_t x[4];
	st_put32(x, v);
	put_bytes(b, x, 4);
}
static void put_u64(struct cf_buf *b, uint64_t v)
{
	uint8_t x[8];
	st_put64(x, v);
	put_bytes(b, x, 8);
}
static void put_str(struct cf_buf *b, const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	put_u16(b, (uint16_t)n);
	put_bytes(b, s, n);
}

static void get_bytes(struct cf_buf *b, void *dst, size_t n)
{
	if (b->bad || b->len - b->cap < n) {   /* cap = read position while reading */
		b->bad = 1;
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, b->p + b->cap, n);
	b->cap += n;
}

static uint8_t get_u8(struct cf_buf *b)
{
	uint8_t v;
	get_bytes(b, &v, 1);
	return v;
}
static uint16_t get_u16(struct cf_buf *b)
{
	uint8_t x[2];
	get_bytes(b, x, 2);
	return (uint16_t)(x[0] | x[1] << 8);
}
static uint32_t get_u32(struct cf_buf *b)
{
	uint8_t x[4];
	get_bytes(b, x, 4);
	return st_get32(x);
}
static uint64_t get_u64(struct cf_buf *b)
{
	uint8_t x[8];
	get_bytes(b, x, 8);
	return st_get64(x);
}
/* A string must fit its field with its NUL; longer is corruption, not truncation. */
static void get_str(struct cf_buf *b, char *dst, size_t max)
{
	uint16_t n = get_u16(b);
	if (n >= max) {
		b->bad = 1;
		dst[0] = 0;
		return;
	}
	get_bytes(b, dst, n);
	dst[n] = 0;
}

static void encode_meta(struct cf_buf *b, const struct nd_meta *m)
{
	put_bytes(b, "CCM1", 4);
	put_str(b, m->device, sizeof m->device);
	put_bytes(b, m->boot_id, ND_BOOTID_LEN);
	put_u32(b, m->seq);
	put_u64(b, m->core_size);
	put_u16(b, m->machine);
	put_u32(b, m->pid);
	put_u32(b, m->signal);
	put_str(b, m->exe, sizeof m->exe);
	put_str(b, m->cause, sizeof m->cause);
	put_str(b, m->firmware, sizeof m->firmware);
	put_u64(b, m->device_time);
	uint8_t n = m->n_buildids > ND_BUILDIDS_MAX ? ND_BUILDIDS_MAX : m->n_buildids;
	put_u8(b, n);
	for (unsigned i = 0; i < n; i++) {
		const struct nd_buildid *bi = &m->buildids[i];
		uint8_t l = bi->len > ND_BUILDID_MAX ? ND_BUILDID_MAX : bi->len;
		put_u8(b, l);
		put_bytes(b, bi->id, l);
		put_str(b, bi->name, sizeof bi->name);
	}
}

static int decode_meta(struct cf_buf *b, struct nd_meta *m)
{
	char magic[4];
	memset(m, 0, sizeof *m);
	get_bytes(b, magic, 4);
	if (memcmp(magic, "CCM1", 4))
		return -1;
	get_str(b, m->device, sizeof m->device);
	get_bytes(b, m->boot_id, ND_BOOTID_LEN);
	m->seq = get_u32(b);
	m->core_size = get_u64(b);
	m->machine = get_u16(b);
	m->pid = get_u32(b);
	m->signal = get_u32(b);
	get_str(b, m->exe, sizeof m->exe);
	get_str(b, m->cause, sizeof m->cause);
	get_str(b, m->firmware, sizeof m->firmware);
	m->device_time = get_u64(b);
	m->n_buildids = get_u8(b);
	if (m->n_buildids > ND_BUILDIDS_MAX)
		return -1;
	for (unsigned i = 0; i < m->n_buildids && !b->bad; i++) {
		struct nd_buildid *bi = &m->buildids[i];
		bi->len = get_u8(b);
		if (bi->len > ND_BUILDID_MAX)
			return -1;
		get_bytes(b, bi->id, bi->len);
		get_str(b, bi->name, sizeof bi->name);
	}
	return b->bad ? -1 : 0;
}

enum store_err cw_begin(struct store *st, struct corewriter *w, int fd, const struct nd_meta *m)
{
	uint8_t frame[8 + CF_META_MAX];
	struct cf_buf b = { frame + 8, 0, CF_META_MAX, 0 };

	memset(w, 0, sizeof *w);
	w->fd = fd;
	nd_sha256_init(&w->sha);
	encode_meta(&b, m);
	if (b.bad)
		return store_fail(st, STORE_E_INVAL, "metadata does not fit its frame");
	st_put32(frame, CF_MAGIC_META);
	st_put32(frame + 4, (uint32_t)b.len);
	enum store_err e = write_all(st, fd, frame, 8 + b.len, "compressed core");
	if (e == STORE_OK) {
		w->csize = 8 + b.len;
		w->metalen = b.len;
	}
	return e;
}

enum store_err cw_rewrite_meta(struct store *st, struct corewriter *w, const struct nd_meta *m)
{
	uint8_t frame[8 + CF_META_MAX];
	struct cf_buf b = { frame + 8, 0, CF_META_MAX, 0 };

	encode_meta(&b, m);
	if (b.bad || b.len != w->metalen)
		return store_fail(st, STORE_E_INVAL, "metadata changed size");
	st_put32(frame, CF_MAGIC_META);
	st_put32(frame + 4, (uint32_t)b.len);
	if (pwrite(w->fd, frame, 8 + b.len, 0) != (ssize_t)(8 + b.len)) {
		int err = errno;
		return store_fail(st, store_errno(err), "compressed core: %s", strerror(err));
	}
	return STORE_OK;
}

enum store_err cw_chunk(struct store *st, struct corewriter *w, const void *buf, size_t len)
{
	if (len == 0)
		return STORE_OK;
	size_t n = ZSTD_compress2(st->cctx, st->outbuf, st->outcap, buf, len);
	if (ZSTD_isError(n))
		return store_fail(st, STORE_E_IO, "zstd: %s", ZSTD_getErrorName(n));
	enum store_err e = write_all(st, w->fd, st->outbuf, n, "compressed core");
	if (e != STORE_OK) {
		/* Drop a partly written frame, so a retry after space was freed appends
		 * to a clean stream; the hash is only updated once the chunk is written. */
		if (ftruncate(w->fd, (off_t)w->csize) < 0)
			w->csize = UINT64_MAX;   /* cannot repair: cw_end refuses */
		return e;
	}
	nd_sha256_update(&w->sha, buf, len);
	w->raw += len;
	w->csize += n;
	return STORE_OK;
}

enum store_err cw_end(struct store *st, struct corewriter *w, uint8_t sha_out[32])
{
	uint8_t t[CF_TRAILER_SIZE];
	struct timespec now;

	if (w->csize == UINT64_MAX)
		return store_fail(st, STORE_E_IO, "compressed core: damaged by an earlier error");
	nd_sha256_final(&w->sha, sha_out);
	clock_gettime(CLOCK_REALTIME, &now);
	st_put32(t, CF_MAGIC_TRAILER);
	st_put32(t + 4, CF_TRAILER_PAYLOAD);
	memcpy(t + 8, "CCT1", 4);
	st_put64(t + 12, w->raw);
	memcpy(t + 20, sha_out, 32);
	st_put64(t + 52, (uint64_t)now.tv_sec);
	w->received = now.tv_sec;
	enum store_err e = write_all(st, w->fd, t, sizeof t, "compressed core");
	if (e != STORE_OK)
		return e;
	w->csize += sizeof t;
	if (fdatasync(w->fd) < 0) {
		int err = errno;
		return store_fail(st, store_errno(err), "compressed core: fdatasync: %s",
		                  strerror(err));
	}
	return STORE_OK;
}

static int pread_all(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

enum store_err corefile_parse(int fd, struct nd_meta *m, uint8_t sha[32], uint64_t *csize,
                              int64_t *received)
{
	struct stat sb;
	uint8_t hdr[8], t[CF_TRAILER_SIZE];
	uint8_t payload[CF_META_MAX];

	if (fstat(fd, &sb) < 0)
		return store_errno(errno);
	if (sb.st_size < (off_t)(8 + CF_TRAILER_SIZE))
		return STORE_E_CORRUPT;
	if (pread_all(fd, hdr, 8, 0) < 0 || st_get32(hdr) != CF_MAGIC_META)
		return STORE_E_CORRUPT;
	uint32_t plen = st_get32(hdr + 4);
	if (plen > CF_META_MAX || (off_t)(8 + plen + CF_TRAILER_SIZE) > sb.st_size)
		return STORE_E_CORRUPT;
	if (pread_all(fd, payload, plen, 8) < 0)
		return STORE_E_CORRUPT;
	struct cf_buf b = { payload, plen, 0, 0 };
	if (decode_meta(&b, m) < 0)
		return STORE_E_CORRUPT;
	if (pread_all(fd, t, sizeof t, sb.st_size - (off_t)sizeof t) < 0)
		return STORE_E_CORRUPT;
	if (st_get32(t) != CF_MAGIC_TRAILER || st_get32(t + 4) != CF_TRAILER_PAYLOAD ||
	    memcmp(t + 8, "CCT1", 4))
		return STORE_E_CORRUPT;
	if (st_get64(t + 12) != m->core_size)
		return STORE_E_CORRUPT;
	memcpy(sha, t + 20, 32);
	*csize = (uint64_t)sb.st_size;
	*received = (int64_t)st_get64(t + 52);
	return STORE_OK;
}
