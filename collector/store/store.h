/* collector/store/store.h: the dump store — spool, zstd-compressed cores, SQLite index, retention. */
#ifndef COLLECTOR_STORE_H
#define COLLECTOR_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "netdump/meta.h"

struct sqlite3;

/*
 * Layout under the store directory DIR:
 *
 *   DIR/index.sqlite          SQLite index (WAL, busy_timeout, PRAGMA user_version)
 *   DIR/cores/<id>.core.zst   one verified core, zstd-compressed
 *   DIR/spool/<key>.part      raw bytes of a transfer in progress (sparse, by offset)
 *   DIR/spool/<key>.state     durable contiguous length of that .part (checksummed)
 *   DIR/tmp/<key>.zst.part    the compressed core being produced while it streams
 *   DIR/.lock                 flock held by the one collector that recovers and spools
 *
 * <key> is the session key: hex(device) "-" hex(boot_id) "-" 8-hex-digit seq, so any
 * device string becomes a safe, unique file name.
 *
 * A .core.zst file is self-describing: a zstd skippable frame with the crash metadata
 * comes first, then the compressed core as one or more ordinary zstd frames, then a
 * skippable frame with the size and SHA-256.  `zstd -d` and every zstd decoder skip
 * the skippable frames, so `zstd -d < X.core.zst` yields the core byte for byte, and
 * recovery can re-index a core file whose index row was never written.
 *
 * Threading: a struct store and its spools belong to one thread (the collector's
 * event loop).  Several processes may open the same store; SQLite serialises writers.
 * Only the opener with STORE_RECOVER (the collector) runs recovery and owns the spool.
 */

/* Named results.  store_strerror() gives the text; store_errmsg() the detail. */
enum store_err {
	STORE_OK = 0,
	STORE_E_INVAL,       /* bad argument (e.g. offset past core_size, bad id) */
	STORE_E_NOMEM,
	STORE_E_IO,          /* file system error other than a full disk */
	STORE_E_NOSPACE,     /* disk full, or admitting would break KeepFree */
	STORE_E_TOO_LARGE,   /* the core alone is larger than MaxUse */
	STORE_E_DIGEST,      /* SHA-256 of the received bytes differs from the sender's */
	STORE_E_INCOMPLETE,  /* finish before every byte 0..core_size-1 is contiguous */
	STORE_E_EXISTS,      /* this (device, boot_id, seq) is already stored */
	STORE_E_NOTFOUND,    /* no dump with that id */
	STORE_E_BUSY,        /* spool for this key already open, or store locked */
	STORE_E_DB,          /* SQLite error */
	STORE_E_CORRUPT,     /* a stored core or spool state failed to parse/decompress */
	STORE_E_NOSTORE,     /* the directory is not a store (open without STORE_CREATE) */
};

const char *store_strerror(enum store_err e);

/* store_open flags */
#define STORE_CREATE   0x1  /* create DIR and its layout if missing */
#define STORE_RECOVER  0x2  /* take DIR/.lock and recover (collector at startup) */
#define STORE_RDONLY   0x4  /* open the index read-only (list/info/dump) */

struct store;
struct spool;
struct store_reader;

/*
 * Open (and with STORE_CREATE, create) the store in dir.  With STORE_RECOVER the
 * opener takes an exclusive lock (STORE_E_BUSY if another collector holds it) and
 * recovers what a crash left behind:
 *   - tmp/ leftovers are deleted (a compressed stream is rebuilt from its spool),
 *   - cores/ files without an index row are indexed from their own metadata frame
 *     (they were renamed in only after being verified and fsynced, so they are good
 *     dumps; deleting them would lose a core the device may never send again),
 *     and files that fail to parse are deleted,
 *   - rows whose core file is missing are dropped,
 *   - spool entries whose key is already stored are deleted.
 * On error *st is NULL and the detail is in store_open_errmsg().
 */
enum store_err store_open(const char *dir, unsigned flags, struct store **st);
void store_close(struct store *st);
/* Detail of the last failure of store_open in this thread ("DIR/index.sqlite: ..."). */
const char *store_open_errmsg(void);

/* One line naming the object and the cause of the last failure on st. */
const char *store_errmsg(const struct store *st);
const char *store_dir(const struct store *st);

/* The index connection, for components that add their own tables (symbolizer).
 * Rows of `dumps` may be updated (status) but are deleted only with store_rm, which
 * keeps files, rows and the cached usage consistent. */
struct sqlite3 *store_db(struct store *st);

/* ---- retention ---------------------------------------------------------- */

/*
 * Limits like systemd-coredump: MaxUse bounds the bytes the store uses (stored
 * compressed cores plus spools in flight); KeepFree is space left free on the file
 * system.  A negative value selects the default: MaxUse 10% of the file system capped
 * at 4 GiB, KeepFree 15% capped at 4 GiB.  Safe to call at any time (config reload).
 */
void store_set_limits(struct store *st, int64_t max_use, int64_t keep_free);
void store_get_limits(struct store *st, uint64_t *max_use, uint64_t *keep_free);

/*
 * May a new dump of core_size bytes start?  STORE_OK, STORE_E_TOO_LARGE (it can never
 * fit under MaxUse) or STORE_E_NOSPACE.  When it fits only after retention, the oldest
 * stored dumps are deleted to make room; when it would not fit even after deleting
 * every stored dump, nothing is deleted and STORE_E_NOSPACE is returned, so a refusal
 * never destroys data.
 */
enum store_err store_admit(struct store *st, uint64_t core_size);

/* Delete oldest dumps until usage <= MaxUse and free space >= KeepFree.
 * *removed (may be NULL) counts the dumps deleted. */
enum store_err store_vacuum(struct store *st, unsigned *removed);

/* Bytes used by stored cores (compressed) plus spools in flight. */
uint64_t store_usage(struct store *st);

/* ---- spool: network sessions -------------------------------------------- */

/*
 * Create or reopen the spool for (m->device, m->boot_id, m->seq).  *resume receives
 * the contiguous length already held, and the sender continues from there, also after
 * the collector was killed and restarted: if the machine kept running (SIGKILL, OOM,
 * a daemon crash) the resume point is within one MiB of what was received; after a
 * reboot (power loss) it is the last prefix made durable with fdatasync.  On reopen the
 * SHA-256 and the compressed stream are rebuilt by reading that prefix back from the
 * spool .part (the hash state is never trusted from disk).  If core_size changed
 * since the spool was created, the old spool is discarded and *resume is 0.
 *
 * STORE_E_EXISTS: the key is already stored — a re-sent or retried dump whose commit
 * succeeded.  The collector answers STORED with the id from store_find() (no second
 * row); stale spool files for the key are removed.
 * STORE_E_BUSY: a spool for the key is already open in this process.
 *
 * An open spool holds one file descriptor and about 1.5 KiB; the compressor and its
 * buffers are shared by all spools of the store.  Reopening a spool of N durable
 * bytes reads them back once (hash + compression), about N / 450 MB/s of CPU.
 */
enum store_err store_spool_open(struct store *st, const struct nd_meta *m,
                                struct spool **sp, uint64_t *resume);

/* Write received bytes at off (any order, duplicates harmless).  off+len must not
 * exceed core_size.  A full disk gives STORE_E_NOSPACE; stored dumps are untouched. */
enum store_err store_spool_write(struct spool *sp, uint64_t off, const void *buf, size_t len);

/*
 * The contiguous prefix [0, contiguous) is now complete on the spool.  The new bytes
 * are hashed and compressed (in 1 MiB chunks, as they become contiguous, so the core
 * is compressed while it streams).  Progress is recorded in .state every MiB (valid
 * while the machine stays up) and made durable in batches (every 16 MiB or 5 s:
 * fdatasync the .part, then record the length), so a resume never claims bytes that
 * are not on disk.  contiguous never goes backwards.
 */
enum store_err store_spool_advance(struct spool *sp, uint64_t contiguous);

/* Contiguous length recorded in .state (what a resume after a kill would get now). */
uint64_t store_spool_durable(const struct spool *sp);
/* Contiguous length handed to store_spool_advance so far. */
uint64_t store_spool_contiguous(const struct spool *sp);

/*
 * Verify sha against the received bytes and commit: the dump is durable in cores/ and
 * indexed before STORE_OK is returned with *id.  sp is always consumed:
 *   STORE_OK          stored; spool files removed
 *   STORE_E_DIGEST    digest mismatch: nothing indexed, the spool is discarded (the
 *                     bytes are wrong, a resume must start from 0)
 *   STORE_E_INCOMPLETE not all bytes contiguous: spool kept, resumable
 *   STORE_E_NOSPACE / STORE_E_IO / STORE_E_DB: nothing indexed, stored dumps intact,
 *                     spool kept so a later retry can finish it
 *   STORE_E_EXISTS    the key was stored meanwhile (*id set); spool removed
 */
enum store_err store_spool_finish(struct spool *sp, const uint8_t sha[32], uint64_t *id);

/* Make progress durable and release sp; the spool stays on disk for a resume. */
void store_spool_close(struct spool *sp);
/* Delete the spool files and release sp. */
void store_spool_abort(struct spool *sp);

/* ---- import from a complete file ---------------------------------------- */

/*
 * Store the core read from fd (read to EOF from its current position) with metadata
 * m through the same verify/compress/commit path as a spool.  m->core_size 0 means
 * "whatever fd holds" (the stored size is the byte count read); otherwise the byte
 * count must match.  STORE_E_EXISTS (with *id) if the key is already stored.
 */
enum store_err store_add_core(struct store *st, const struct nd_meta *m, int fd, uint64_t *id);

/* ---- query -------------------------------------------------------------- */

#define STORE_STATUS_MAX 32
#define STORE_PATH_MAX   64
#define STORE_BUILDIDS_HEX_MAX (ND_BUILDIDS_MAX * (2 * ND_BUILDID_MAX + 1) + 1)

/* One index row.  meta.core_size is the uncompressed core size. */
struct store_rec {
	uint64_t id;
	struct nd_meta meta;
	uint64_t csize;                 /* compressed file size */
	uint8_t sha256[32];
	int64_t received;               /* collector clock, Unix seconds UTC */
	char status[STORE_STATUS_MAX];  /* "stored"; symbolization adds states */
	char path[STORE_PATH_MAX];      /* relative to the store dir: cores/<id>.core.zst */
};

/* The row for id (STORE_E_NOTFOUND if none). */
enum store_err store_get(struct store *st, uint64_t id, struct store_rec *r);

/* The id stored for (device, boot_id, seq), STORE_E_NOTFOUND if none. */
enum store_err store_find(struct store *st, const char *device,
                          const uint8_t boot_id[ND_BOOTID_LEN], uint32_t seq, uint64_t *id);

struct store_filter {
	const char *device;   /* NULL: any */
	int64_t since;        /* received >= since (Unix seconds); 0: any */
};

/* Called per row, oldest first; a non-zero return stops the walk and is returned
 * by store_list as STORE_OK (the callback keeps its own reason). */
typedef int (*store_list_cb)(const struct store_rec *r, void *arg);

enum store_err store_list(struct store *st, const struct store_filter *f,
                          store_list_cb cb, void *arg);

/* Delete a dump: its core file first, then its row (a crash between the two leaves a
 * row without a file, which recovery drops; never a file that would be resurrected). */
enum store_err store_rm(struct store *st, uint64_t id);

/* ---- reading a stored core back ----------------------------------------- */

/* A decompressing reader over the stored core of id. */
enum store_err store_open_core(struct store *st, uint64_t id, struct store_reader **rd);
/* Read up to len decompressed bytes; *got 0 at the end.  A truncated or damaged file
 * gives STORE_E_CORRUPT. */
enum store_err store_read(struct store_reader *rd, void *buf, size_t len, size_t *got);
void store_reader_close(struct store_reader *rd);

/* Session key for m into buf (at least STORE_KEY_MAX bytes). */
#define STORE_KEY_MAX (2 * ND_DEVICE_MAX + 1 + 2 * ND_BOOTID_LEN + 1 + 8 + 1)
void store_key(const struct nd_meta *m, char *buf);

#endif /* COLLECTOR_STORE_H */
