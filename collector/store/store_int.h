/* collector/store/store_int.h: internals shared by the store's files (not for other components). */
#ifndef COLLECTOR_STORE_INT_H
#define COLLECTOR_STORE_INT_H

#include <stdarg.h>
#include <stdint.h>
#include <sqlite3.h>
#include <zstd.h>

#include "collector/store/store.h"
#include "netdump/sha256.h"

/*
 * The core is hashed and compressed in chunks of this many contiguous bytes, each
 * chunk one independent zstd frame.  Independent frames mean a session holds no
 * compressor state of its own (one compressor and one buffer serve every session of
 * the event loop, so 500 concurrent sessions cost kilobytes each, not megabytes), and
 * the frames concatenate into one valid zstd stream.  1 MiB frames lose well under
 * 1% of ratio against a single frame on core files.
 */
#define STORE_CHUNK        (1u << 20)
/*
 * Spool progress is made durable after this many new bytes or this much time.
 * Each fdatasync costs a few milliseconds of the event loop whatever its size (the
 * journal commit dominates), so batches are large: a resume after power loss
 * re-sends at most 16 MiB, and 500 concurrent short transfers do not each pay a
 * sync per second.  A collector that is merely killed loses nothing: the page cache
 * survives it, and .state is only ever written after the bytes it claims.
 */
#define STORE_SYNC_BYTES   (16u << 20)
#define STORE_SYNC_NS      5000000000ll
/* zstd level 1: compression runs inline in the collector's single event loop, so
 * speed matters more than the last bytes; on core files level 1 is several times
 * faster than level 3 and still shrinks mostly-zero memory images 50-100x. */
#define STORE_ZLEVEL       1

#define STORE_GIB          (1ull << 30)

struct store {
	char *dir;
	int dirfd;            /* the store directory */
	int coresfd;          /* DIR/cores, fsynced after each rename into it */
	int lockfd;           /* DIR/.lock when opened with STORE_RECOVER, else -1 */
	unsigned flags;
	sqlite3 *db;

	/* Shared compression state: the event loop compresses one chunk at a time. */
	ZSTD_CCtx *cctx;
	int zlevel;
	uint8_t *inbuf;       /* STORE_CHUNK bytes */
	uint8_t *outbuf;      /* ZSTD_compressBound(STORE_CHUNK) bytes */
	size_t outcap;

	/* Retention limits in bytes (resolved from defaults in store_set_limits). */
	uint64_t max_use, keep_free;
	int64_t max_use_cfg, keep_free_cfg;

	/* Cached sum of stored compressed sizes (index.c), valid for usage_dv. */
	uint64_t usage;
	int64_t usage_dv;
	int usage_valid;

	struct spool *spools; /* open spools, for BUSY detection and reservations */
	uint8_t host_boot[16];/* this machine's boot id (zeros if unknown), see spool.c */

	char msg[600];        /* detail of the last failure */
};

/* Record the failure detail ("object: cause") and return e. */
enum store_err store_fail(struct store *st, enum store_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Map an errno to STORE_E_NOSPACE / STORE_E_IO / STORE_E_NOMEM. */
enum store_err store_errno(int err);

/* ---- core file format (corefile.c) ---- */

/* Builds one .core.zst in a temporary file. */
struct corewriter {
	int fd;
	uint64_t raw;          /* bytes compressed so far */
	uint64_t csize;        /* bytes written to fd */
	struct nd_sha256 sha;  /* over the raw bytes */
	int64_t received;      /* set by cw_end: the time recorded in the trailer */
	size_t metalen;        /* encoded metadata length, for cw_rewrite_meta */
};

enum store_err cw_begin(struct store *st, struct corewriter *w, int fd, const struct nd_meta *m);
/* Hash and compress len bytes as one frame (len <= STORE_CHUNK). */
enum store_err cw_chunk(struct store *st, struct corewriter *w, const void *buf, size_t len);
/* Rewrite the metadata frame (same encoded length: only fixed-width fields may
 * change, e.g. core_size of an import whose size was learnt by reading it). */
enum store_err cw_rewrite_meta(struct store *st, struct corewriter *w, const struct nd_meta *m);
/* Write the trailer with size and digest, then fdatasync.  sha_out gets the digest. */
enum store_err cw_end(struct store *st, struct corewriter *w, uint8_t sha_out[32]);

/* Read the metadata and trailer frames of a stored core file. */
enum store_err corefile_parse(int fd, struct nd_meta *m, uint8_t sha[32], uint64_t *csize,
                              int64_t *received);

/* ---- index (index.c) ---- */
enum store_err index_init(struct store *st);
enum store_err index_insert(struct store *st, uint64_t id, const struct nd_meta *m,
                            uint64_t csize, const uint8_t sha[32], int64_t received);
enum store_err index_next_id(struct store *st, uint64_t *id);
enum store_err index_delete(struct store *st, uint64_t id);
/* Sum of compressed sizes of stored cores. */
enum store_err index_usage(struct store *st, uint64_t *bytes);
/* The oldest stored dump (by received, then id). STORE_E_NOTFOUND when empty. */
enum store_err index_oldest(struct store *st, uint64_t *id, uint64_t *csize);
/* Call fn for every id in the index. */
enum store_err index_each_id(struct store *st, int (*fn)(struct store *st, uint64_t id,
                                                         void *arg), void *arg);

/* ---- commit path shared by spools and imports (spool.c) ---- */
enum store_err store_commit(struct store *st, const struct nd_meta *m, int tmpfd,
                            const char *tmpname, const struct corewriter *w,
                            const uint8_t sha[32], uint64_t *id);

/* Spools in flight reserve their whole core_size against MaxUse (reserved), and the
 * bytes not yet written against free space (pending). */
void spool_reservations(struct store *st, uint64_t *reserved, uint64_t *pending);

/* "cores/<id>.core.zst" */
void store_core_name(uint64_t id, char *buf, size_t n);

/* Little-endian helpers for the store's own file records. */
static inline void st_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void st_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t st_get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}
static inline uint64_t st_get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#endif /* COLLECTOR_STORE_INT_H */
