/* collector/store/store.c: opening a store — layout, lock, index, crash recovery; errors; deletion. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/store/store_int.h"
#include "netdump/hex.h"

static const char *const store_errs[] = {
	[STORE_OK]           = "success",
	[STORE_E_INVAL]      = "invalid argument",
	[STORE_E_NOMEM]      = "out of memory",
	[STORE_E_IO]         = "I/O error",
	[STORE_E_NOSPACE]    = "no space left for dumps",
	[STORE_E_TOO_LARGE]  = "core larger than the store may hold",
	[STORE_E_DIGEST]     = "SHA-256 mismatch",
	[STORE_E_INCOMPLETE] = "transfer incomplete",
	[STORE_E_EXISTS]     = "dump already stored",
	[STORE_E_NOTFOUND]   = "no such dump",
	[STORE_E_BUSY]       = "busy",
	[STORE_E_DB]         = "index database error",
	[STORE_E_CORRUPT]    = "stored data corrupt",
	[STORE_E_NOSTORE]    = "not a corecast store",
};

const char *store_strerror(enum store_err e)
{
	if ((unsigned)e < sizeof store_errs / sizeof store_errs[0] && store_errs[e])
		return store_errs[e];
	return "unknown store error";
}

enum store_err store_fail(struct store *st, enum store_err e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->msg, sizeof st->msg, fmt, ap);
	va_end(ap);
	return e;
}

enum store_err store_errno(int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return STORE_E_NOSPACE;
	case ENOMEM:
		return STORE_E_NOMEM;
	default:
		return STORE_E_IO;
	}
}

const char *store_errmsg(const struct store *st) { return st->msg[0] ? st->msg : "no error"; }
const char *store_dir(const struct store *st) { return st->dir; }
struct sqlite3 *store_db(struct store *st) { return st->db; }

static _Thread_local char open_msg[600];
const char *store_open_errmsg(void) { return open_msg; }

void store_key(const struct nd_meta *m, char *buf)
{
	size_t dl = strnlen(m->device, ND_DEVICE_MAX - 1);
	nd_hex((const uint8_t *)m->device, dl, buf);
	buf[2 * dl] = '-';
	nd_hex(m->boot_id, ND_BOOTID_LEN, buf + 2 * dl + 1);
	snprintf(buf + 2 * dl + 1 + 2 * ND_BOOTID_LEN, 10, "-%08" PRIx32, m->seq);
}

/* Inverse of store_key, for recovery of spool files. */
static int parse_key(const char *k, size_t len, struct nd_meta *m)
{
	memset(m, 0, sizeof *m);
	const char *d1 = memchr(k, '-', len);
	if (!d1)
		return -1;
	size_t dl = (size_t)(d1 - k);
	if (dl % 2 || dl / 2 >= ND_DEVICE_MAX || len != dl + 1 + 2 * ND_BOOTID_LEN + 1 + 8 ||
	    k[dl + 1 + 2 * ND_BOOTID_LEN] != '-')
		return -1;
	uint8_t seq[4];
	if (nd_unhex(k, dl / 2, (uint8_t *)m->device) < 0 ||
	    nd_unhex(k + dl + 1, ND_BOOTID_LEN, m->boot_id) < 0 ||
	    nd_unhex(k + dl + 2 + 2 * ND_BOOTID_LEN, sizeof seq, seq) < 0)
		return -1;
	m->seq = (uint32_t)seq[0] << 24 | (uint32_t)seq[1] << 16 | (uint32_t)seq[2] << 8 | seq[3];
	return 0;
}

void store_core_name(uint64_t id, char *buf, size_t n)
{
	snprintf(buf, n, "cores/%" PRIu64 ".core.zst", id);
}

static int mkdir_p(const char *path)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	/* Cores hold process memory (keys, passwords): the store is not world-readable,
	 * like systemd-coredump's.  Parents are ordinary directories. */
	if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* ---- recovery ---- */

/* A subdirectory of the store to walk; *fd is the DIR's own descriptor, for the
 * *at() calls.  NULL when it cannot be opened: recovery then leaves it alone. */
static DIR *open_subdir(struct store *st, const char *name, int *fd)
{
	DIR *d;
	*fd = openat(st->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return NULL;
	d = fdopendir(*fd);
	if (!d)
		close(*fd);
	return d;
}

static void recover_tmp(struct store *st)
{
	int fd;
	DIR *d = open_subdir(st, "tmp", &fd);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(fd, de->d_name, 0);
	closedir(d);
}

static void recover_cores(struct store *st)
{
	int fd;
	DIR *d = open_subdir(st, "cores", &fd);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		uint64_t id = strtoull(de->d_name, &end, 10);
		struct store_rec r;
		if (de->d_name[0] < '1' || de->d_name[0] > '9' || strcmp(end, ".core.zst"))
			continue;
		if (store_get(st, id, &r) != STORE_E_NOTFOUND)
			continue;
		/* Renamed in (so verified and durable) but never indexed: index it now. */
		struct nd_meta m;
		uint8_t sha[32];
		uint64_t csize;
		int64_t received;
		int cfd = openat(fd, de->d_name, O_RDONLY);
		enum store_err e = cfd < 0 ? STORE_E_IO :
		                   corefile_parse(cfd, &m, sha, &csize, &received);
		if (cfd >= 0)
			close(cfd);
		if (e == STORE_OK)
			e = index_insert(st, id, &m, csize, sha, received);
		/* Unparseable, or a second copy of a key that is stored: not a dump. */
		if (e == STORE_E_CORRUPT || e == STORE_E_EXISTS)
			unlinkat(fd, de->d_name, 0);
	}
	closedir(d);
}

static int drop_missing(struct store *st, uint64_t id, void *arg)
{
	char name[STORE_PATH_MAX];
	store_core_name(id, name, sizeof name);
	if (faccessat(st->dirfd, name, F_OK, 0) < 0 && errno == ENOENT)
		index_delete(st, id);
	return 0;
}

static void recover_spool(struct store *st)
{
	int fd;
	DIR *d = open_subdir(st, "spool", &fd);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *dot = strchr(de->d_name, '.');
		struct nd_meta m;
		uint64_t id;
		if (de->d_name[0] == '.' || !dot)
			continue;
		if (strcmp(dot, ".part") && strcmp(dot, ".state"))
			continue;
		if (parse_key(de->d_name, (size_t)(dot - de->d_name), &m) < 0) {
			unlinkat(fd, de->d_name, 0);   /* not ours to resume */
			continue;
		}
		if (store_find(st, m.device, m.boot_id, m.seq, &id) == STORE_OK)
			unlinkat(fd, de->d_name, 0);   /* committed; removal was cut short */
	}
	closedir(d);
}

static void recover(struct store *st)
{
	recover_tmp(st);
	recover_cores(st);
	index_each_id(st, drop_missing, NULL);
	recover_spool(st);
	st->msg[0] = 0;
}

/* ---- open / close ---- */

/* The kernel's random per-boot id: spools trust unsynced progress only within the
 * boot that wrote it (see spool.c).  Zeros when unavailable, which trusts nothing
 * unsynced. */
static void read_host_boot(uint8_t out[16])
{
	char buf[64];
	uint8_t id[16];
	memset(out, 0, 16);
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (!f)
		return;
	if (fgets(buf, sizeof buf, f)) {
		buf[strcspn(buf, "\n")] = 0;
		if (nd_unhex_uuid(buf, id) == 0)
			memcpy(out, id, 16);
	}
	fclose(f);
}

enum store_err store_open(const char *dir, unsigned flags, struct store **out)
{
	struct store *st = calloc(1, sizeof *st);
	enum store_err e;
	*out = NULL;
	open_msg[0] = 0;
	if (!st) {
		snprintf(open_msg, sizeof open_msg, "%s: out of memory", dir);
		return STORE_E_NOMEM;
	}
	st->dirfd = st->coresfd = st->lockfd = -1;
	st->flags = flags;
	st->dir = strdup(dir);
	if (!st->dir) {
		e = store_fail(st, STORE_E_NOMEM, "%s: out of memory", dir);
		goto fail;
	}

	if (flags & STORE_CREATE) {
		static const char *const sub[] = { "cores", "spool", "tmp" };
		char p[4096];
		for (unsigned i = 0; i < 4; i++) {
			if (i == 0)
				snprintf(p, sizeof p, "%s", dir);
			else
				snprintf(p, sizeof p, "%s/%s", dir, sub[i - 1]);
			if (mkdir_p(p) < 0) {
				int err = errno;
				e = store_fail(st, store_errno(err), "%s: cannot create the directory: %s",
				               p, strerror(err));
				goto fail;
			}
		}
	}
	st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		int err = errno;
		e = store_fail(st, err == ENOENT ? STORE_E_NOSTORE : STORE_E_IO, "%s: %s", dir,
		               err == ENOENT ? "no such directory" : strerror(err));
		goto fail;
	}
	if (!(flags & STORE_CREATE) && faccessat(st->dirfd, "index.sqlite", F_OK, 0) < 0) {
		e = store_fail(st, STORE_E_NOSTORE, "%s: not a corecast store (no index.sqlite)",
		               dir);
		goto fail;
	}
	st->coresfd = openat(st->dirfd, "cores", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->coresfd < 0) {
		int err = errno;
		e = store_fail(st, STORE_E_NOSTORE, "%s/cores: %s", dir, strerror(err));
		goto fail;
	}
	if (flags & STORE_RECOVER) {
		/* One collector per store: recovery deletes tmp/ files a live one writes. */
		st->lockfd = openat(st->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (st->lockfd < 0 || flock(st->lockfd, LOCK_EX | LOCK_NB) < 0) {
			int err = errno;
			e = store_fail(st, err == EWOULDBLOCK ? STORE_E_BUSY : STORE_E_IO,
			               "%s/.lock: %s", dir, err == EWOULDBLOCK ?
			               "store in use by another collector" : strerror(err));
			goto fail;
		}
	}

	char path[4096];
	snprintf(path, sizeof path, "%s/index.sqlite", dir);
	int oflags = (flags & STORE_RDONLY) ? SQLITE_OPEN_READONLY :
	             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &st->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		e = store_fail(st, STORE_E_DB, "%s: %s", path,
		               st->db ? sqlite3_errmsg(st->db) : "cannot open");
		goto fail;
	}
	if ((e = index_init(st)) != STORE_OK)
		goto fail;

	if (!(flags & STORE_RDONLY)) {
		st->cctx = ZSTD_createCCtx();
		st->outcap = ZSTD_compressBound(STORE_CHUNK);
		st->inbuf = malloc(STORE_CHUNK);
		st->outbuf = malloc(st->outcap);
		if (!st->cctx || !st->inbuf || !st->outbuf) {
			e = store_fail(st, STORE_E_NOMEM, "%s: out of memory for compression", dir);
			goto fail;
		}
		st->zlevel = STORE_ZLEVEL;
		ZSTD_CCtx_setParameter(st->cctx, ZSTD_c_compressionLevel, st->zlevel);
		/* Per-frame content checksums: a damaged file is detected when read. */
		ZSTD_CCtx_setParameter(st->cctx, ZSTD_c_checksumFlag, 1);
	}
	store_set_limits(st, -1, -1);
	read_host_boot(st->host_boot);
	if (flags & STORE_RECOVER)
		recover(st);
	*out = st;
	return STORE_OK;
fail:
	snprintf(open_msg, sizeof open_msg, "%s", st->msg);
	store_close(st);
	return e;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	while (st->spools)
		store_spool_close(st->spools);
	if (st->db)
		sqlite3_close_v2(st->db);
	ZSTD_freeCCtx(st->cctx);
	free(st->inbuf);
	free(st->outbuf);
	if (st->coresfd >= 0)
		close(st->coresfd);
	if (st->dirfd >= 0)
		close(st->dirfd);
	if (st->lockfd >= 0)
		close(st->lockfd);
	free(st->dir);
	free(st);
}

enum store_err store_rm(struct store *st, uint64_t id)
{
	struct store_rec r;
	char name[STORE_PATH_MAX];
	enum store_err e = store_get(st, id, &r);
	if (e != STORE_OK)
		return e;
	/* File first, then row: an interrupted rm leaves a row recovery drops, never an
	 * unindexed file that recovery would bring back. */
	store_core_name(id, name, sizeof name);
	if (unlinkat(st->dirfd, name, 0) < 0 && errno != ENOENT) {
		int err = errno;
		return store_fail(st, store_errno(err), "dump %" PRIu64 ": %s/%s: %s", id,
		                  st->dir, name, strerror(err));
	}
	return index_delete(st, id);
}

/* ---- reading a stored core ---- */

struct store_reader {
	int fd;
	ZSTD_DCtx *dctx;
	uint8_t *in;
	size_t incap;
	ZSTD_inBuffer ib;
	size_t last;          /* last ZSTD_decompressStream result: 0 at a frame boundary */
	int eof;
	uint64_t total, expect;
};

enum store_err store_open_core(struct store *st, uint64_t id, struct store_reader **out)
{
	struct store_rec r;
	enum store_err e = store_get(st, id, &r);
	*out = NULL;
	if (e != STORE_OK)
		return e;
	struct store_reader *rd = calloc(1, sizeof *rd);
	if (!rd)
		return store_fail(st, STORE_E_NOMEM, "dump %" PRIu64 ": out of memory", id);
	rd->fd = openat(st->dirfd, r.path, O_RDONLY | O_CLOEXEC);
	if (rd->fd < 0) {
		int err = errno;
		free(rd);
		return store_fail(st, err == ENOENT ? STORE_E_CORRUPT : STORE_E_IO,
		                  "dump %" PRIu64 ": %s/%s: %s", id, st->dir, r.path, strerror(err));
	}
	rd->dctx = ZSTD_createDCtx();
	rd->incap = ZSTD_DStreamInSize();
	rd->in = malloc(rd->incap);
	if (!rd->dctx || !rd->in) {
		store_reader_close(rd);
		return store_fail(st, STORE_E_NOMEM, "dump %" PRIu64 ": out of memory", id);
	}
	rd->ib.src = rd->in;
	rd->expect = r.meta.core_size;
	*out = rd;
	return STORE_OK;
}

enum store_err store_read(struct store_reader *rd, void *buf, size_t len, size_t *got)
{
	ZSTD_outBuffer ob = { buf, len, 0 };
	*got = 0;
	while (ob.pos == 0 && len) {
		if (rd->ib.pos == rd->ib.size && !rd->eof) {
			ssize_t n;
			do
				n = read(rd->fd, rd->in, rd->incap);
			while (n < 0 && errno == EINTR);
			if (n < 0)
				return STORE_E_IO;
			rd->ib.size = (size_t)n;
			rd->ib.pos = 0;
			if (n == 0)
				rd->eof = 1;
		}
		if (rd->eof && rd->ib.pos == rd->ib.size) {
			/* The file ended: it must end on a frame boundary with every byte. */
			if (rd->last != 0 || rd->total != rd->expect)
				return STORE_E_CORRUPT;
			return STORE_OK;
		}
		size_t r = ZSTD_decompressStream(rd->dctx, &ob, &rd->ib);
		if (ZSTD_isError(r))
			return STORE_E_CORRUPT;
		rd->last = r;
	}
	rd->total += ob.pos;
	if (rd->total > rd->expect)
		return STORE_E_CORRUPT;
	*got = ob.pos;
	return STORE_OK;
}

void store_reader_close(struct store_reader *rd)
{
	if (!rd)
		return;
	if (rd->fd >= 0)
		close(rd->fd);
	ZSTD_freeDCtx(rd->dctx);
	free(rd->in);
	free(rd);
}
