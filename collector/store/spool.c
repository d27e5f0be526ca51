/* collector/store/spool.c: partial transfers on disk, streaming hash + compression, and the commit. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/store/store_int.h"
#include "netdump/hex.h"

/*
 * A spool is three files named by the session key:
 *   spool/<key>.part      the raw core, written at its offsets as packets arrive
 *   spool/<key>.state     64 bytes, little-endian: "CCS2", u32 0, u64 core_size,
 *                         u64 synced (prefix fdatasync'ed), u64 written (prefix in
 *                         the page cache), 16-byte host boot id, 8 zero bytes,
 *                         8 bytes of SHA-256 over the first 56 (detects torn writes)
 *   tmp/<key>.zst.part    the compressed core, produced as the prefix becomes contiguous
 *
 * Two resume points, because the two ways a collector dies differ.  Killed
 * (SIGKILL, OOM, a crash of the daemon) the kernel keeps every byte it wrote in the
 * page cache, so `written` -- recorded without any sync every STORE_CHUNK -- is
 * exact.  Power loss or a kernel crash loses unsynced pages, so only `synced` --
 * recorded after an fdatasync of the .part -- can be trusted.  The host boot id in
 * the record tells which happened: same boot, resume at `written`; another boot,
 * at `synced`.  Either way .state is written only after the bytes it claims.
 *
 * Only the .part and .state survive a restart.  The hash state and the compressor
 * are in memory; after a restart store_spool_open rebuilds both by reading the resume
 * prefix back from the .part.  That costs one sequential read, but the digest then
 * covers exactly the bytes the spool holds, and no hash state is ever read from disk.
 */
struct spool {
	struct store *st;
	struct spool *next;       /* st->spools */
	struct nd_meta meta;
	char key[STORE_KEY_MAX];
	int part_fd;              /* the only descriptor held between calls: with
	                           * hundreds of sessions in flight, file descriptors
	                           * are the scarce resource, not memory */
	int zfd;                  /* tmp/<key>.zst.part, open only while writing to it */
	struct corewriter w;      /* w.raw = bytes hashed and compressed */
	uint64_t contiguous;      /* [0, contiguous) received */
	uint64_t synced;          /* [0, synced) fdatasync'ed and recorded in .state */
	uint64_t written;         /* [0, written) recorded in .state (page cache) */
	int64_t last_sync_ns;
};

#define STATE_SIZE 64

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void spool_name(const struct spool *sp, const char *dir, const char *ext,
                       char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s%s", dir, sp->key, ext);
}

static void state_encode(uint8_t *b, uint64_t core_size, uint64_t synced, uint64_t written,
                         const uint8_t boot[16])
{
	uint8_t d[32];
	memset(b, 0, STATE_SIZE);
	memcpy(b, "CCS2", 4);
	st_put64(b + 8, core_size);
	st_put64(b + 16, synced);
	st_put64(b + 24, written);
	memcpy(b + 32, boot, 16);
	nd_sha256(b, 56, d);
	memcpy(b + 56, d, 8);
}

/* The resume point recorded for core_size (see above) and the synced prefix; both 0
 * if the record is absent, torn, or for another size. */
static void state_read(int fd, uint64_t core_size, const uint8_t boot[16],
                       uint64_t *start, uint64_t *synced)
{
	static const uint8_t unknown[16];
	uint8_t b[STATE_SIZE], d[32];
	*start = *synced = 0;
	if (fd < 0 || pread(fd, b, sizeof b, 0) != (ssize_t)sizeof b || memcmp(b, "CCS2", 4))
		return;
	nd_sha256(b, 56, d);
	if (memcmp(b + 56, d, 8) || st_get64(b + 8) != core_size)
		return;
	uint64_t s = st_get64(b + 16), w = st_get64(b + 24);
	if (s > core_size || w > core_size || w < s)
		return;
	int same_boot = memcmp(boot, unknown, 16) && !memcmp(b + 32, boot, 16);
	*start = same_boot ? w : s;
	*synced = s;
}

void spool_reservations(struct store *st, uint64_t *reserved, uint64_t *pending)
{
	*reserved = *pending = 0;
	for (struct spool *sp = st->spools; sp; sp = sp->next) {
		*reserved += sp->meta.core_size;
		*pending += sp->meta.core_size - sp->contiguous;
	}
}

static void unlink_spool_files(struct store *st, const char *key)
{
	char p[STORE_KEY_MAX + 32];
	snprintf(p, sizeof p, "spool/%s.part", key);
	unlinkat(st->dirfd, p, 0);
	snprintf(p, sizeof p, "spool/%s.state", key);
	unlinkat(st->dirfd, p, 0);
	snprintf(p, sizeof p, "tmp/%s.zst.part", key);
	unlinkat(st->dirfd, p, 0);
}

static void spool_free(struct spool *sp)
{
	struct store *st = sp->st;
	for (struct spool **pp = &st->spools; *pp; pp = &(*pp)->next)
		if (*pp == sp) {
			*pp = sp->next;
			break;
		}
	if (sp->part_fd >= 0)
		close(sp->part_fd);
	if (sp->zfd >= 0)
		close(sp->zfd);
	free(sp);
}

static enum store_err io_fail(struct spool *sp, const char *what, int err)
{
	char boot[2 * ND_BOOTID_LEN + 1];
	nd_hex(sp->meta.boot_id, ND_BOOTID_LEN, boot);
	return store_fail(sp->st, store_errno(err), "dump %s/%s/%" PRIu32 ": %s: %s",
	                  sp->meta.device, boot, sp->meta.seq, what, strerror(err));
}

/* Open the compressed stream for appending (it is closed between chunks). */
static enum store_err zopen(struct spool *sp, int flags)
{
	char p[STORE_KEY_MAX + 32];
	if (sp->zfd >= 0)
		return STORE_OK;
	spool_name(sp, "tmp", ".zst.part", p, sizeof p);
	sp->zfd = openat(sp->st->dirfd, p, O_WRONLY | O_CLOEXEC | flags, 0640);
	if (sp->zfd < 0)
		return io_fail(sp, p, errno);
	sp->w.fd = sp->zfd;
	return STORE_OK;
}

static void zclose(struct spool *sp)
{
	if (sp->zfd >= 0)
		close(sp->zfd);
	sp->zfd = sp->w.fd = -1;
}

/* Hash and compress every whole chunk of the contiguous prefix not yet done; with
 * final set, the tail chunk too.  Leaves the compressed stream open only if final. */
static enum store_err catch_up(struct spool *sp, int final)
{
	struct store *st = sp->st;
	uint64_t left = sp->contiguous - sp->w.raw;
	if (!final && left < STORE_CHUNK)
		return STORE_OK;
	enum store_err e = zopen(sp, O_APPEND);
	if (e != STORE_OK)
		return e;
	while (sp->contiguous > sp->w.raw) {
		left = sp->contiguous - sp->w.raw;
		if (left < STORE_CHUNK && !final)
			break;
		size_t n = left < STORE_CHUNK ? (size_t)left : STORE_CHUNK;
		size_t got = 0;
		while (got < n) {
			ssize_t r = pread(sp->part_fd, st->inbuf + got, n - got,
			                  (off_t)(sp->w.raw + got));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				e = io_fail(sp, "read spool", r < 0 ? errno : EIO);
				zclose(sp);
				return e;
			}
			got += (size_t)r;
		}
		if ((e = cw_chunk(st, &sp->w, st->inbuf, n)) != STORE_OK) {
			zclose(sp);
			return e;
		}
		/* Start writeback of this chunk now, without waiting, so the periodic
		 * fdatasync finds little left to do and stalls the event loop less. */
		sync_file_range(sp->part_fd, (off_t)(sp->w.raw - n), (off_t)n,
		                SYNC_FILE_RANGE_WRITE);
	}
	if (!final)
		zclose(sp);
	return STORE_OK;
}

/* Record progress in .state: with sync, fdatasync the .part first and claim the
 * prefix as synced.  The order is the point: .state never claims bytes that were
 * not written (or, for synced, not on disk) before it.  .state itself is not synced:
 * losing its update only makes a resume start earlier, and a torn write fails its
 * checksum (resume from 0). */
static enum store_err write_state(struct spool *sp, int sync)
{
	uint8_t b[STATE_SIZE];
	char p[STORE_KEY_MAX + 32];
	uint64_t c = sp->contiguous;
	if (sync && c > sp->synced && fdatasync(sp->part_fd) < 0)
		return io_fail(sp, "fdatasync spool", errno);
	state_encode(b, sp->meta.core_size, sync ? c : sp->synced, c, sp->st->host_boot);
	spool_name(sp, "spool", ".state", p, sizeof p);
	int fd = openat(sp->st->dirfd, p, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return io_fail(sp, p, errno);
	errno = 0;
	ssize_t n = pwrite(fd, b, sizeof b, 0);
	int err = errno;
	close(fd);
	if (n != (ssize_t)sizeof b)
		return io_fail(sp, "write spool state", err ? err : EIO);
	if (sync) {
		sp->synced = c;
		sp->last_sync_ns = now_ns();
	}
	sp->written = c;
	return STORE_OK;
}

static enum store_err sync_progress(struct spool *sp)
{
	if (sp->contiguous == sp->synced)
		return STORE_OK;
	return write_state(sp, 1);
}

enum store_err store_spool_open(struct store *st, const struct nd_meta *m,
                                struct spool **out, uint64_t *resume)
{
	char p[STORE_KEY_MAX + 32], boot[2 * ND_BOOTID_LEN + 1];
	uint64_t id;
	enum store_err e;

	*out = NULL;
	*resume = 0;
	if (!st->cctx)
		return store_fail(st, STORE_E_INVAL, "%s: store opened read-only", st->dir);
	struct spool *sp = calloc(1, sizeof *sp);
	if (!sp)
		return store_fail(st, STORE_E_NOMEM, "spool: out of memory");
	sp->st = st;
	sp->part_fd = sp->zfd = -1;
	sp->meta = *m;
	sp->meta.device[ND_DEVICE_MAX - 1] = 0;
	store_key(&sp->meta, sp->key);
	nd_hex(m->boot_id, ND_BOOTID_LEN, boot);

	for (struct spool *o = st->spools; o; o = o->next)
		if (!strcmp(o->key, sp->key)) {
			e = store_fail(st, STORE_E_BUSY, "dump %s/%s/%" PRIu32 ": transfer "
			               "already in progress", sp->meta.device, boot, m->seq);
			free(sp);
			return e;
		}
	if ((e = store_find(st, sp->meta.device, m->boot_id, m->seq, &id)) == STORE_OK) {
		unlink_spool_files(st, sp->key);
		e = store_fail(st, STORE_E_EXISTS, "dump %s/%s/%" PRIu32 ": already stored "
		               "as %" PRIu64, sp->meta.device, boot, m->seq, id);
		free(sp);
		return e;
	}
	if (e != STORE_E_NOTFOUND) {
		free(sp);
		return e;
	}

	spool_name(sp, "spool", ".part", p, sizeof p);
	sp->part_fd = openat(st->dirfd, p, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (sp->part_fd < 0) {
		e = io_fail(sp, p, errno);
		goto fail;
	}
	struct stat sb;
	if (fstat(sp->part_fd, &sb) < 0) {
		e = io_fail(sp, "stat spool", errno);
		goto fail;
	}
	spool_name(sp, "spool", ".state", p, sizeof p);
	int sfd = openat(st->dirfd, p, O_RDONLY | O_CLOEXEC);
	uint64_t start, synced;
	state_read(sfd, m->core_size, st->host_boot, &start, &synced);
	if (sfd >= 0)
		close(sfd);
	if (start > (uint64_t)sb.st_size)
		start = synced = 0;
	/* Bytes past the resume point are unknown ground: the sender sends them again. */
	if (ftruncate(sp->part_fd, (off_t)start) < 0) {
		e = io_fail(sp, "truncate spool", errno);
		goto fail;
	}
	sp->contiguous = sp->written = start;
	sp->synced = synced;

	if ((e = zopen(sp, O_CREAT | O_TRUNC)) != STORE_OK)
		goto fail;
	e = cw_begin(st, &sp->w, sp->zfd, &sp->meta);
	zclose(sp);
	if (e != STORE_OK || (e = catch_up(sp, 0)) != STORE_OK)
		goto fail;
	sp->last_sync_ns = now_ns();
	sp->next = st->spools;
	st->spools = sp;
	*resume = start;
	*out = sp;
	return STORE_OK;
fail:
	spool_name(sp, "tmp", ".zst.part", p, sizeof p);
	unlinkat(st->dirfd, p, 0);
	spool_free(sp);
	return e;
}

enum store_err store_spool_write(struct spool *sp, uint64_t off, const void *buf, size_t len)
{
	if (off > sp->meta.core_size || len > sp->meta.core_size - off)
		return store_fail(sp->st, STORE_E_INVAL, "dump %s: write at %" PRIu64 "+%zu past "
		                  "core size %" PRIu64, sp->meta.device, off, len,
		                  sp->meta.core_size);
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(sp->part_fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return io_fail(sp, "write spool", n < 0 ? errno : EIO);
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return STORE_OK;
}

enum store_err store_spool_advance(struct spool *sp, uint64_t contiguous)
{
	if (contiguous > sp->meta.core_size)
		return store_fail(sp->st, STORE_E_INVAL, "dump %s: contiguous %" PRIu64 " past core "
		                  "size %" PRIu64, sp->meta.device, contiguous, sp->meta.core_size);
	if (contiguous <= sp->contiguous)
		return STORE_OK;
	sp->contiguous = contiguous;
	enum store_err e = catch_up(sp, 0);
	if (e != STORE_OK)
		return e;
	if (sp->contiguous - sp->synced >= STORE_SYNC_BYTES ||
	    now_ns() - sp->last_sync_ns >= STORE_SYNC_NS)
		return sync_progress(sp);
	if (sp->contiguous - sp->written >= STORE_CHUNK)
		return write_state(sp, 0);
	return STORE_OK;
}

uint64_t store_spool_durable(const struct spool *sp) { return sp->written; }
uint64_t store_spool_contiguous(const struct spool *sp) { return sp->contiguous; }

void store_spool_close(struct spool *sp)
{
	char p[STORE_KEY_MAX + 32];
	if (!sp)
		return;
	sync_progress(sp);
	/* The compressed stream is rebuilt on reopen; do not leave it using space. */
	spool_name(sp, "tmp", ".zst.part", p, sizeof p);
	unlinkat(sp->st->dirfd, p, 0);
	spool_free(sp);
}

void store_spool_abort(struct spool *sp)
{
	if (!sp)
		return;
	unlink_spool_files(sp->st, sp->key);
	spool_free(sp);
}

enum store_err store_commit(struct store *st, const struct nd_meta *m, int tmpfd,
                            const char *tmpname, const struct corewriter *w,
                            const uint8_t sha[32], uint64_t *id)
{
	char name[STORE_PATH_MAX], boot[2 * ND_BOOTID_LEN + 1];
	uint64_t cand;
	enum store_err e;

	(void)tmpfd;
	nd_hex(m->boot_id, ND_BOOTID_LEN, boot);
	if ((e = index_next_id(st, &cand)) != STORE_OK)
		return e;
	/*
	 * Crash safety of a commit.  By now the compressed file is complete and
	 * fdatasync'ed in tmp/.  Then:
	 *   1. rename it to cores/<id>.core.zst (never replacing: another writer may have
	 *      taken the id, then the next id is tried),
	 *   2. fsync cores/ so the rename itself is durable,
	 *   3. insert the index row,
	 *   4. (caller) remove the spool.
	 * A crash before 1 leaves a tmp/ file (deleted by recovery) and the spool (the
	 * sender resumes).  Between 1 and 3 the file is in cores/ without a row: recovery
	 * indexes it from its metadata frame — it was verified before the rename, so it
	 * is a good dump.  Between 3 and 4 the spool is stale and removed on recovery or
	 * when the sender reopens (its key is stored: answered STORED).  A row therefore
	 * never points to a file that is not durable, and no verified dump is lost.
	 */
	for (int tries = 0;; tries++, cand++) {
		store_core_name(cand, name, sizeof name);
		int rc = renameat2(st->dirfd, tmpname, st->dirfd, name, RENAME_NOREPLACE);
		if (rc < 0 && (errno == EINVAL || errno == ENOSYS)) {
			/* File systems without RENAME_NOREPLACE: link fails on EEXIST too. */
			rc = linkat(st->dirfd, tmpname, st->dirfd, name, 0);
			if (rc == 0)
				unlinkat(st->dirfd, tmpname, 0);
		}
		if (rc == 0)
			break;
		if (errno != EEXIST || tries > 1000) {
			int err = errno;
			return store_fail(st, store_errno(err), "dump %s/%s/%" PRIu32 ": rename to "
			                  "%s/%s: %s", m->device, boot, m->seq, st->dir, name,
			                  strerror(err));
		}
	}
	if (fsync(st->coresfd) < 0) {
		int err = errno;
		unlinkat(st->dirfd, name, 0);
		return store_fail(st, store_errno(err), "%s/cores: fsync: %s", st->dir,
		                  strerror(err));
	}
	e = index_insert(st, cand, m, w->csize, sha, w->received);
	if (e != STORE_OK) {
		/* Report failure consistently: nothing stored. */
		unlinkat(st->dirfd, name, 0);
		if (e == STORE_E_EXISTS)
			store_find(st, m->device, m->boot_id, m->seq, id);
		return e;
	}
	*id = cand;
	return STORE_OK;
}

enum store_err store_spool_finish(struct spool *sp, const uint8_t sha[32], uint64_t *id)
{
	struct store *st = sp->st;
	char tmp[STORE_KEY_MAX + 32], boot[2 * ND_BOOTID_LEN + 1];
	uint8_t got[32];
	enum store_err e;

	nd_hex(sp->meta.boot_id, ND_BOOTID_LEN, boot);
	if (sp->contiguous < sp->meta.core_size) {
		e = store_fail(st, STORE_E_INCOMPLETE, "dump %s/%s/%" PRIu32 ": finish with %"
		               PRIu64 " of %" PRIu64 " bytes", sp->meta.device, boot, sp->meta.seq,
		               sp->contiguous, sp->meta.core_size);
		store_spool_close(sp);
		return e;
	}
	spool_name(sp, "tmp", ".zst.part", tmp, sizeof tmp);
	if ((e = catch_up(sp, 1)) != STORE_OK || (e = cw_end(st, &sp->w, got)) != STORE_OK) {
		store_spool_close(sp);   /* keeps the raw spool: a retry can still finish */
		return e;
	}
	if (memcmp(got, sha, 32)) {
		char a[65], b[65];
		nd_hex(sha, 32, a);
		nd_hex(got, 32, b);
		e = store_fail(st, STORE_E_DIGEST, "dump %s/%s/%" PRIu32 ": SHA-256 mismatch "
		               "(sender %.16s..., received %.16s...)", sp->meta.device, boot,
		               sp->meta.seq, a, b);
		store_spool_abort(sp);
		return e;
	}
	e = store_commit(st, &sp->meta, sp->zfd, tmp, &sp->w, got, id);
	if (e == STORE_OK || e == STORE_E_EXISTS) {
		unlink_spool_files(st, sp->key);
		spool_free(sp);
		return e;
	}
	store_spool_close(sp);
	return e;
}

enum store_err store_add_core(struct store *st, const struct nd_meta *m, int fd, uint64_t *id)
{
	char key[STORE_KEY_MAX], tmp[STORE_KEY_MAX + 48], boot[2 * ND_BOOTID_LEN + 1];
	struct nd_meta meta = *m;
	struct corewriter w;
	uint8_t sha[32];
	enum store_err e;

	if (!st->cctx)
		return store_fail(st, STORE_E_INVAL, "%s: store opened read-only", st->dir);
	meta.device[ND_DEVICE_MAX - 1] = 0;
	nd_hex(m->boot_id, ND_BOOTID_LEN, boot);
	if ((e = store_find(st, meta.device, meta.boot_id, meta.seq, id)) == STORE_OK)
		return store_fail(st, STORE_E_EXISTS, "dump %s/%s/%" PRIu32 ": already stored as %"
		                  PRIu64, meta.device, boot, meta.seq, *id);
	if (e != STORE_E_NOTFOUND)
		return e;
	/* A name of its own: a collector may be spooling the same key meanwhile. */
	store_key(&meta, key);
	snprintf(tmp, sizeof tmp, "tmp/%s.%ld.import.zst.part", key, (long)getpid());
	int zfd = openat(st->dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (zfd < 0) {
		int err = errno;
		return store_fail(st, store_errno(err), "%s/%s: %s", st->dir, tmp, strerror(err));
	}
	if ((e = cw_begin(st, &w, zfd, &meta)) != STORE_OK)
		goto out;
	for (;;) {
		size_t fill = 0;
		while (fill < STORE_CHUNK) {
			ssize_t n = read(fd, st->inbuf + fill, STORE_CHUNK - fill);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				int err = errno;
				e = store_fail(st, STORE_E_IO, "import of %s: read: %s", meta.device,
				               strerror(err));
				goto out;
			}
			if (n == 0)
				break;
			fill += (size_t)n;
		}
		if ((e = cw_chunk(st, &w, st->inbuf, fill)) != STORE_OK)
			goto out;
		if (fill < STORE_CHUNK)
			break;
	}
	if (meta.core_size && meta.core_size != w.raw) {
		e = store_fail(st, STORE_E_INCOMPLETE, "import of %s: read %" PRIu64 " bytes, "
		               "expected %" PRIu64, meta.device, w.raw, meta.core_size);
		goto out;
	}
	meta.core_size = w.raw;
	if ((e = cw_rewrite_meta(st, &w, &meta)) != STORE_OK ||
	    (e = cw_end(st, &w, sha)) != STORE_OK)
		goto out;
	e = store_commit(st, &meta, zfd, tmp, &w, sha, id);
out:
	close(zfd);
	if (e != STORE_OK)
		unlinkat(st->dirfd, tmp, 0);
	return e;
}
