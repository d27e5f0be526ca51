/* collector/store/index.c: the SQLite index of stored dumps — schema, rows, queries. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/store_int.h"
#include "netdump/hex.h"

/*
 * Schema version 1 (PRAGMA user_version).  The store owns user_version; other
 * components (the symbolizer) add their own tables with CREATE TABLE IF NOT EXISTS
 * and reference dumps(id) ON DELETE CASCADE, so deleting a dump removes their rows.
 */
#define INDEX_VERSION 1

static const char index_schema[] =
	"CREATE TABLE IF NOT EXISTS dumps ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" device TEXT NOT NULL,"
	" boot_id TEXT NOT NULL,"          /* 32 lower-case hex digits */
	" seq INTEGER NOT NULL,"
	" pid INTEGER NOT NULL,"
	" signal INTEGER NOT NULL,"
	" cause TEXT NOT NULL,"
	" exe TEXT NOT NULL,"
	" machine INTEGER NOT NULL,"       /* ELF e_machine */
	" firmware TEXT NOT NULL,"
	" device_time INTEGER NOT NULL,"   /* ns since the epoch on the device clock, 0 unknown */
	" size INTEGER NOT NULL,"          /* uncompressed core bytes */
	" csize INTEGER NOT NULL,"         /* compressed file bytes */
	" sha256 TEXT NOT NULL,"
	" received INTEGER NOT NULL,"      /* collector clock, Unix seconds UTC */
	" status TEXT NOT NULL DEFAULT 'stored',"
	" path TEXT NOT NULL,"             /* relative to the store directory */
	" build_ids TEXT NOT NULL DEFAULT '',"  /* space-separated hex build-ids */
	" UNIQUE (device, boot_id, seq));"
	"CREATE INDEX IF NOT EXISTS dumps_received ON dumps(received, id);"
	"CREATE TABLE IF NOT EXISTS dump_buildids ("
	" dump_id INTEGER NOT NULL REFERENCES dumps(id) ON DELETE CASCADE,"
	" idx INTEGER NOT NULL,"
	" build_id TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" PRIMARY KEY (dump_id, idx));"
	"CREATE INDEX IF NOT EXISTS dump_buildids_id ON dump_buildids(build_id);";

static enum store_err db_fail(struct store *st, const char *what)
{
	int code = sqlite3_errcode(st->db);
	enum store_err e = STORE_E_DB;
	if (code == SQLITE_FULL)
		e = STORE_E_NOSPACE;
	return store_fail(st, e, "%s/index.sqlite: %s: %s", st->dir, what, sqlite3_errmsg(st->db));
}

static enum store_err exec(struct store *st, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		enum store_err e = store_fail(st, sqlite3_errcode(st->db) == SQLITE_FULL ?
		                              STORE_E_NOSPACE : STORE_E_DB,
		                              "%s/index.sqlite: %s", st->dir,
		                              err ? err : "error");
		sqlite3_free(err);
		return e;
	}
	return STORE_OK;
}

/* COMMIT, or roll back so a failed commit never leaves a transaction open (and the
 * caller's "nothing was written" holds). */
static enum store_err commit(struct store *st)
{
	enum store_err e = exec(st, "COMMIT");
	if (e != STORE_OK && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return e;
}

enum store_err index_init(struct store *st)
{
	enum store_err e;
	sqlite3_busy_timeout(st->db, 5000);
	if (st->flags & STORE_RDONLY)
		return STORE_OK;
	/*
	 * WAL lets corecastctl read while the collector writes.  synchronous=NORMAL in
	 * WAL may lose the last transactions on power loss but never corrupts; that is
	 * safe here because a row is only ever written after its core file is durable,
	 * and recovery re-indexes such a file from its own metadata frame.
	 */
	if ((e = exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	                  "PRAGMA foreign_keys=ON;")) != STORE_OK)
		return e;

	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK)
		return db_fail(st, "user_version");
	int ver = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
	sqlite3_finalize(q);
	if (ver > INDEX_VERSION)
		return store_fail(st, STORE_E_DB, "%s/index.sqlite: schema version %d is newer "
		                  "than this program's %d", st->dir, ver, INDEX_VERSION);
	if (ver == INDEX_VERSION)
		return STORE_OK;
	if ((e = exec(st, "BEGIN IMMEDIATE")) != STORE_OK)
		return e;
	if ((e = exec(st, index_schema)) != STORE_OK ||
	    (e = exec(st, "PRAGMA user_version=1")) != STORE_OK) {
		exec(st, "ROLLBACK");
		return e;
	}
	return commit(st);
}

/* Prepare or fail with the statement named. */
static enum store_err prep(struct store *st, const char *sql, sqlite3_stmt **q)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, q, NULL) != SQLITE_OK)
		return db_fail(st, "prepare");
	return STORE_OK;
}

enum store_err index_insert(struct store *st, uint64_t id, const struct nd_meta *m,
                            uint64_t csize, const uint8_t sha[32], int64_t received)
{
	char boot[2 * ND_BOOTID_LEN + 1], shahex[65], path[STORE_PATH_MAX];
	char bids[STORE_BUILDIDS_HEX_MAX] = "";
	sqlite3_stmt *q = NULL;
	enum store_err e;
	unsigned nb = m->n_buildids > ND_BUILDIDS_MAX ? ND_BUILDIDS_MAX : m->n_buildids;

	nd_hex(m->boot_id, ND_BOOTID_LEN, boot);
	nd_hex(sha, 32, shahex);
	store_core_name(id, path, sizeof path);
	for (unsigned i = 0, o = 0; i < nb; i++) {
		unsigned l = m->buildids[i].len > ND_BUILDID_MAX ? ND_BUILDID_MAX : m->buildids[i].len;
		if (i)
			bids[o++] = ' ';
		nd_hex(m->buildids[i].id, l, bids + o);
		o += 2 * l;
	}

	if ((e = exec(st, "BEGIN IMMEDIATE")) != STORE_OK)
		return e;
	if ((e = prep(st, "INSERT INTO dumps (id, device, boot_id, seq, pid, signal, cause, "
	                  "exe, machine, firmware, device_time, size, csize, sha256, received, "
	                  "status, path, build_ids) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
	                  "'stored',?,?)", &q)) != STORE_OK)
		goto fail;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	sqlite3_bind_text(q, 2, m->device, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 3, boot, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 4, m->seq);
	sqlite3_bind_int64(q, 5, m->pid);
	sqlite3_bind_int64(q, 6, m->signal);
	sqlite3_bind_text(q, 7, m->cause, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 8, m->exe, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 9, m->machine);
	sqlite3_bind_text(q, 10, m->firmware, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 11, (sqlite3_int64)m->device_time);
	sqlite3_bind_int64(q, 12, (sqlite3_int64)m->core_size);
	sqlite3_bind_int64(q, 13, (sqlite3_int64)csize);
	sqlite3_bind_text(q, 14, shahex, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 15, received);
	sqlite3_bind_text(q, 16, path, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 17, bids, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	q = NULL;
	if (rc == SQLITE_CONSTRAINT) {
		e = store_fail(st, STORE_E_EXISTS, "dump %s/%s/%" PRIu32 ": already stored",
		               m->device, boot, m->seq);
		goto fail;
	}
	if (rc != SQLITE_DONE) {
		e = db_fail(st, "insert dump");
		goto fail;
	}
	if ((e = prep(st, "INSERT INTO dump_buildids (dump_id, idx, build_id, name) "
	                  "VALUES (?,?,?,?)", &q)) != STORE_OK)
		goto fail;
	for (unsigned i = 0; i < nb; i++) {
		char hex[2 * ND_BUILDID_MAX + 1];
		unsigned l = m->buildids[i].len > ND_BUILDID_MAX ? ND_BUILDID_MAX : m->buildids[i].len;
		nd_hex(m->buildids[i].id, l, hex);
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
		sqlite3_bind_int(q, 2, (int)i);
		sqlite3_bind_text(q, 3, hex, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 4, m->buildids[i].name, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(q) != SQLITE_DONE) {
			e = db_fail(st, "insert build-id");
			goto fail;
		}
	}
	sqlite3_finalize(q);
	if ((e = commit(st)) == STORE_OK)
		st->usage += csize;
	else
		st->usage_valid = 0;
	return e;
fail:
	sqlite3_finalize(q);
	exec(st, "ROLLBACK");
	return e;
}

enum store_err index_next_id(struct store *st, uint64_t *id)
{
	sqlite3_stmt *q;
	enum store_err e = prep(st, "SELECT max(coalesce((SELECT max(id) FROM dumps), 0),"
	                            " coalesce((SELECT seq FROM sqlite_sequence"
	                            " WHERE name = 'dumps'), 0))", &q);
	if (e != STORE_OK)
		return e;
	if (sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_finalize(q);
		return db_fail(st, "next id");
	}
	*id = (uint64_t)sqlite3_column_int64(q, 0) + 1;
	sqlite3_finalize(q);
	return STORE_OK;
}

enum store_err index_delete(struct store *st, uint64_t id)
{
	sqlite3_stmt *q;
	enum store_err e;
	if ((e = exec(st, "BEGIN IMMEDIATE")) != STORE_OK)
		return e;
	/* Explicit, in case an older connection runs without foreign_keys. */
	if ((e = prep(st, "DELETE FROM dump_buildids WHERE dump_id = ?", &q)) != STORE_OK)
		goto fail;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		e = db_fail(st, "delete build-ids");
		goto fail;
	}
	if ((e = prep(st, "DELETE FROM dumps WHERE id = ? RETURNING csize", &q)) != STORE_OK)
		goto fail;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	uint64_t csize = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		csize += (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		e = db_fail(st, "delete dump");
		goto fail;
	}
	if ((e = commit(st)) == STORE_OK && st->usage >= csize)
		st->usage -= csize;
	else
		st->usage_valid = 0;
	return e;
fail:
	exec(st, "ROLLBACK");
	return e;
}

/* PRAGMA data_version: changes when another connection commits. */
static int64_t data_version(struct store *st)
{
	sqlite3_stmt *q;
	int64_t v = -1;
	if (sqlite3_prepare_v2(st->db, "PRAGMA data_version", -1, &q, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

/*
 * Every session admission asks for the usage; summing a large index each time would
 * cost the event loop milliseconds per session.  The sum is cached, kept up to date by
 * this connection's own inserts and deletes, and recomputed when another connection
 * (corecastctl rm) has committed since.
 */
enum store_err index_usage(struct store *st, uint64_t *bytes)
{
	int64_t dv = data_version(st);
	if (st->usage_valid && dv >= 0 && dv == st->usage_dv) {
		*bytes = st->usage;
		return STORE_OK;
	}
	sqlite3_stmt *q;
	enum store_err e = prep(st, "SELECT coalesce(sum(csize), 0) FROM dumps", &q);
	if (e != STORE_OK)
		return e;
	if (sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_finalize(q);
		return db_fail(st, "usage");
	}
	*bytes = st->usage = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	st->usage_dv = dv;
	st->usage_valid = dv >= 0;
	return STORE_OK;
}

enum store_err index_oldest(struct store *st, uint64_t *id, uint64_t *csize)
{
	sqlite3_stmt *q;
	enum store_err e = prep(st, "SELECT id, csize FROM dumps ORDER BY received, id LIMIT 1", &q);
	if (e != STORE_OK)
		return e;
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*id = (uint64_t)sqlite3_column_int64(q, 0);
		*csize = (uint64_t)sqlite3_column_int64(q, 1);
		e = STORE_OK;
	} else if (rc == SQLITE_DONE) {
		e = STORE_E_NOTFOUND;
	} else {
		e = db_fail(st, "oldest");
	}
	sqlite3_finalize(q);
	return e;
}

enum store_err index_each_id(struct store *st, int (*fn)(struct store *st, uint64_t id,
                                                         void *arg), void *arg)
{
	/* Collect first: fn may modify the table, which must not happen mid-statement. */
	sqlite3_stmt *q;
	enum store_err e = prep(st, "SELECT id FROM dumps ORDER BY id", &q);
	if (e != STORE_OK)
		return e;
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 64;
			uint64_t *t = realloc(ids, nc * sizeof *ids);
			if (!t) {
				sqlite3_finalize(q);
				free(ids);
				return store_fail(st, STORE_E_NOMEM, "index: out of memory");
			}
			ids = t;
			cap = nc;
		}
		ids[n++] = (uint64_t)sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		free(ids);
		return db_fail(st, "list ids");
	}
	for (size_t i = 0; i < n; i++)
		if (fn(st, ids[i], arg))
			break;
	free(ids);
	return STORE_OK;
}

/* Exactly n bytes of hex, the whole column: rows on disk are not trusted. */
static int unhex(const char *s, uint8_t *out, size_t n)
{
	size_t l;
	return nd_unhex_str(s, out, n, &l) == 0 && l == n ? 0 : -1;
}

static void copy_col(char *dst, size_t n, sqlite3_stmt *q, int col)
{
	const unsigned char *s = sqlite3_column_text(q, col);
	snprintf(dst, n, "%s", s ? (const char *)s : "");
}

#define REC_COLUMNS "id, device, boot_id, seq, pid, signal, cause, exe, machine, firmware, " \
                    "device_time, size, csize, sha256, received, status, path"

static enum store_err load_buildids(struct store *st, struct store_rec *r)
{
	sqlite3_stmt *q;
	enum store_err e = prep(st, "SELECT build_id, name FROM dump_buildids WHERE dump_id = ?"
	                            " ORDER BY idx", &q);
	if (e != STORE_OK)
		return e;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)r->id);
	int rc;
	r->meta.n_buildids = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW && r->meta.n_buildids < ND_BUILDIDS_MAX) {
		struct nd_buildid *b = &r->meta.buildids[r->meta.n_buildids];
		const char *hex = (const char *)sqlite3_column_text(q, 0);
		size_t l = hex ? strlen(hex) / 2 : 0;
		if (!hex || l > ND_BUILDID_MAX || unhex(hex, b->id, l) < 0)
			continue;
		b->len = (uint8_t)l;
		copy_col(b->name, sizeof b->name, q, 1);
		r->meta.n_buildids++;
	}
	sqlite3_finalize(q);
	return STORE_OK;
}

static void row_to_rec(sqlite3_stmt *q, struct store_rec *r)
{
	char buf[80];
	memset(r, 0, sizeof *r);
	r->id = (uint64_t)sqlite3_column_int64(q, 0);
	copy_col(r->meta.device, sizeof r->meta.device, q, 1);
	copy_col(buf, sizeof buf, q, 2);
	unhex(buf, r->meta.boot_id, ND_BOOTID_LEN);
	r->meta.seq = (uint32_t)sqlite3_column_int64(q, 3);
	r->meta.pid = (uint32_t)sqlite3_column_int64(q, 4);
	r->meta.signal = (uint32_t)sqlite3_column_int64(q, 5);
	copy_col(r->meta.cause, sizeof r->meta.cause, q, 6);
	copy_col(r->meta.exe, sizeof r->meta.exe, q, 7);
	r->meta.machine = (uint16_t)sqlite3_column_int(q, 8);
	copy_col(r->meta.firmware, sizeof r->meta.firmware, q, 9);
	r->meta.device_time = (uint64_t)sqlite3_column_int64(q, 10);
	r->meta.core_size = (uint64_t)sqlite3_column_int64(q, 11);
	r->csize = (uint64_t)sqlite3_column_int64(q, 12);
	copy_col(buf, sizeof buf, q, 13);
	unhex(buf, r->sha256, 32);
	r->received = sqlite3_column_int64(q, 14);
	copy_col(r->status, sizeof r->status, q, 15);
	copy_col(r->path, sizeof r->path, q, 16);
}

enum store_err store_get(struct store *st, uint64_t id, struct store_rec *r)
{
	sqlite3_stmt *q;
	enum store_err e = prep(st, "SELECT " REC_COLUMNS " FROM dumps WHERE id = ?", &q);
	if (e != STORE_OK)
		return e;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		row_to_rec(q, r);
		sqlite3_finalize(q);
		return load_buildids(st, r);
	}
	sqlite3_finalize(q);
	if (rc == SQLITE_DONE)
		return store_fail(st, STORE_E_NOTFOUND, "dump %" PRIu64 ": no such dump", id);
	return db_fail(st, "get dump");
}

enum store_err store_find(struct store *st, const char *device,
                          const uint8_t boot_id[ND_BOOTID_LEN], uint32_t seq, uint64_t *id)
{
	char boot[2 * ND_BOOTID_LEN + 1];
	sqlite3_stmt *q;
	enum store_err e = prep(st, "SELECT id FROM dumps WHERE device = ? AND boot_id = ?"
	                            " AND seq = ?", &q);
	if (e != STORE_OK)
		return e;
	nd_hex(boot_id, ND_BOOTID_LEN, boot);
	sqlite3_bind_text(q, 1, device, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 2, boot, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 3, seq);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*id = (uint64_t)sqlite3_column_int64(q, 0);
		e = STORE_OK;
	} else if (rc == SQLITE_DONE) {
		e = STORE_E_NOTFOUND;
	} else {
		e = db_fail(st, "find dump");
	}
	sqlite3_finalize(q);
	return e;
}

enum store_err store_list(struct store *st, const struct store_filter *f,
                          store_list_cb cb, void *arg)
{
	sqlite3_stmt *q;
	enum store_err e = prep(st, "SELECT " REC_COLUMNS " FROM dumps"
	                            " WHERE (?1 IS NULL OR device = ?1) AND received >= ?2"
	                            " ORDER BY received, id", &q);
	if (e != STORE_OK)
		return e;
	if (f && f->device)
		sqlite3_bind_text(q, 1, f->device, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(q, 1);
	sqlite3_bind_int64(q, 2, f ? f->since : 0);
	int rc;
	struct store_rec r;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		row_to_rec(q, &r);
		if ((e = load_buildids(st, &r)) != STORE_OK)
			break;
		if (cb(&r, arg)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(q);
	if (e != STORE_OK)
		return e;
	if (rc != SQLITE_DONE)
		return db_fail(st, "list dumps");
	return STORE_OK;
}
