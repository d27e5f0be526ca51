/* collector/groups/groups.c: symbolization results and crash groups in the store's SQLite index. */
#include "collector/groups/groups.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/groups/json.h"

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS grp_symbolization("
	" dump_id INTEGER PRIMARY KEY,"
	" status TEXT NOT NULL CHECK(status IN ('pending','done','symbols-missing','failed')),"
	" reason TEXT NOT NULL DEFAULT '',"
	" missing TEXT NOT NULL DEFAULT '',"   /* ' id1 id2 ' : padded for instr() */
	" json TEXT,"
	" signature TEXT,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" updated INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS grp_symbolization_status ON grp_symbolization(status);"
	"CREATE TABLE IF NOT EXISTS grp_groups("
	" signature TEXT PRIMARY KEY,"
	" sig_version INTEGER NOT NULL,"
	" canonical TEXT NOT NULL,"
	" title TEXT NOT NULL,"
	" state TEXT NOT NULL DEFAULT 'open' CHECK(state IN ('open','resolved','muted')),"
	" resolved_in TEXT,"
	" regressions INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS grp_members("
	" dump_id INTEGER PRIMARY KEY,"
	" signature TEXT NOT NULL,"
	" device TEXT NOT NULL,"
	" firmware TEXT NOT NULL,"
	" seen INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS grp_members_sig ON grp_members(signature, seen);";

/* Compare the digit runs a[0..an) and b[0..bn) as unbounded numbers. */
static int numcmp(const char *a, size_t an, const char *b, size_t bn)
{
	while (an > 1 && *a == '0')
		a++, an--;
	while (bn > 1 && *b == '0')
		b++, bn--;
	if (an != bn)
		return an < bn ? -1 : 1;
	int c = memcmp(a, b, an);
	return c < 0 ? -1 : c > 0;
}

static bool dotted(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && (s[i] == 'v' || s[i] == 'V'))
		i++;
	if (i >= n)
		return false;
	for (bool need_digit = true; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			need_digit = false;
		else if (s[i] == '.' && !need_digit)
			need_digit = true;
		else
			return false;
		if (i == n - 1 && need_digit)
			return false;
	}
	return true;
}

static int version_cmp_n(const char *a, size_t an, const char *b, size_t bn)
{
	if (!dotted(a, an) || !dotted(b, bn)) {
		int c = memcmp(a, b, an < bn ? an : bn);
		if (c)
			return c < 0 ? -1 : 1;
		return an == bn ? 0 : an < bn ? -1 : 1;
	}
	if (*a == 'v' || *a == 'V')
		a++, an--;
	if (*b == 'v' || *b == 'V')
		b++, bn--;
	/* "1.2" == "1.2.0": a missing component counts as 0 */
	while (an || bn) {
		size_t la = 0, lb = 0;
		while (la < an && a[la] != '.')
			la++;
		while (lb < bn && b[lb] != '.')
			lb++;
		int c = numcmp(la ? a : "0", la ? la : 1, lb ? b : "0", lb ? lb : 1);
		if (c)
			return c;
		a += la, an -= la;
		b += lb, bn -= lb;
		if (an)
			a++, an--;
		if (bn)
			b++, bn--;
	}
	return 0;
}

int grp_version_cmp(const char *a, const char *b)
{
	return version_cmp_n(a, strlen(a), b, strlen(b));
}

static int version_collation(void *ctx, int an, const void *a, int bn, const void *b)
{
	return version_cmp_n(a, (size_t)an, b, (size_t)bn);
}

/*
 * A read-only opener (corecastctl list/info while nothing was symbolized yet)
 * cannot create the tables; empty TEMP ones of the same shape let every query run
 * and simply find nothing.
 */
static enum grp_err init_readonly(sqlite3 *db)
{
	sqlite3_stmt *st;
	bool have;
	char *temp, *p;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM main.sqlite_master WHERE name='grp_groups'",
			       -1, &st, NULL) != SQLITE_OK)
		return GRP_E_DB;
	have = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (have)
		return GRP_OK;
	temp = malloc(sizeof(schema) * 2);
	if (!temp)
		return GRP_E_NOMEM;
	p = temp;
	for (const char *s = schema; *s;) {
		static const char create[] = "CREATE TABLE";
		if (strncmp(s, create, sizeof(create) - 1) == 0) {
			p += sprintf(p, "CREATE TEMP TABLE");
			s += sizeof(create) - 1;
		} else {
			*p++ = *s++;
		}
	}
	*p = '\0';
	int rc = sqlite3_exec(db, temp, NULL, NULL, NULL);
	free(temp);
	return rc == SQLITE_OK ? GRP_OK : GRP_E_DB;
}

enum grp_err grp_init(sqlite3 *db)
{
	if (sqlite3_create_collation(db, "grp_version", SQLITE_UTF8, NULL,
				     version_collation) != SQLITE_OK)
		return GRP_E_DB;
	if (sqlite3_db_readonly(db, "main") == 1)
		return init_readonly(db);
	if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
		return GRP_E_DB;
	return GRP_OK;
}

const char *grp_strerror(enum grp_err e)
{
	switch (e) {
	case GRP_OK: return "ok";
	case GRP_E_DB: return "index database error";
	case GRP_E_JSON: return "symbolizer output is not valid JSON";
	case GRP_E_SIGNATURE: return "symbolizer output has no frames to sign";
	case GRP_E_NOT_FOUND: return "no such group";
	case GRP_E_AMBIGUOUS: return "signature prefix matches several groups";
	case GRP_E_BAD_STATE: return "unknown group state (open, resolved, muted)";
	case GRP_E_NOMEM: return "out of memory";
	}
	return "unknown groups error";
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	return st;
}

/* Run one statement with text/int64 bindings given as a format ("t" text, "i"
 * int64, "n" null); returns the result of its single step (SQLITE_DONE...). */
static int exec1(sqlite3 *db, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = prep(db, sql);
	va_list ap;
	int rc, i = 1;

	if (!st)
		return SQLITE_ERROR;
	va_start(ap, fmt);
	for (const char *f = fmt; *f; f++, i++) {
		if (*f == 't') {
			const char *s = va_arg(ap, const char *);
			if (s)
				sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
			else
				sqlite3_bind_null(st, i);
		} else if (*f == 'i') {
			sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
		} else {
			sqlite3_bind_null(st, i);
		}
	}
	va_end(ap);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc;
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

enum grp_err grp_mark_pending(sqlite3 *db, uint64_t id)
{
	int rc = exec1(db,
		"INSERT INTO grp_symbolization(dump_id, status, updated) VALUES(?1, 'pending', ?2)"
		" ON CONFLICT(dump_id) DO UPDATE SET status='pending', updated=?2",
		"ii", (int64_t)id, now_s());
	return rc == SQLITE_DONE ? GRP_OK : GRP_E_DB;
}

enum grp_err grp_record_failure(sqlite3 *db, uint64_t id, const char *reason)
{
	int rc = exec1(db,
		"INSERT INTO grp_symbolization(dump_id, status, reason, updated, attempts)"
		" VALUES(?1, 'failed', ?2, ?3, 1)"
		" ON CONFLICT(dump_id) DO UPDATE SET status='failed', reason=?2, updated=?3,"
		" attempts=attempts+1",
		"iti", (int64_t)id, reason ? reason : "", now_s());
	return rc == SQLITE_DONE ? GRP_OK : GRP_E_DB;
}

/* " id1 id2 " for the modules whose symbols the worker could not find. */
static char *missing_ids(const struct json *doc)
{
	const struct json *mods = json_get(doc, "modules");
	size_t cap = 2, len;
	char *s;

	if (mods && mods->type == JSON_ARRAY)
		for (const struct json *m = mods->child; m; m = m->next) {
			const char *bid = json_str(json_get(m, "build_id"));
			const char *sym = json_str(json_get(m, "symbols"));
			if (bid && sym && strcmp(sym, "missing") == 0)
				cap += strlen(bid) + 1;
		}
	s = malloc(cap);
	if (!s)
		return NULL;
	strcpy(s, " ");
	len = 1;
	if (mods && mods->type == JSON_ARRAY)
		for (const struct json *m = mods->child; m; m = m->next) {
			const char *bid = json_str(json_get(m, "build_id"));
			const char *sym = json_str(json_get(m, "symbols"));
			if (!bid || !sym || strcmp(sym, "missing") != 0)
				continue;
			for (const char *p = bid; *p; p++)  /* keep the list one token per id */
				s[len++] = (*p == ' ') ? '_' : *p;
			s[len++] = ' ';
			s[len] = '\0';
		}
	if (len == 1)
		s[0] = '\0';
	return s;
}

static enum grp_err begin(sqlite3 *db)
{
	return sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? GRP_OK
										 : GRP_E_DB;
}

static enum grp_err end(sqlite3 *db, enum grp_err e)
{
	if (e == GRP_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return GRP_OK;
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return e == GRP_OK ? GRP_E_DB : e;
}

/* Put dump d into group sig (creating it), deciding new group / regression. */
static enum grp_err link_group(sqlite3 *db, const struct grp_dump *d,
			       const struct signature *s, struct grp_outcome *out)
{
	sqlite3_stmt *st;
	char old_sig[SIG_HEX_LEN + 1] = "", state[16] = "", resolved_in[128] = "";
	bool exists = false, has_resolved_in = false;
	const char *fw = d->firmware ? d->firmware : "";

	st = prep(db, "SELECT signature FROM grp_members WHERE dump_id=?1");
	if (!st)
		return GRP_E_DB;
	sqlite3_bind_int64(st, 1, (int64_t)d->id);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(old_sig, sizeof(old_sig), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);

	st = prep(db, "SELECT state, resolved_in FROM grp_groups WHERE signature=?1");
	if (!st)
		return GRP_E_DB;
	sqlite3_bind_text(st, 1, s->hex, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		exists = true;
		snprintf(state, sizeof(state), "%s", (const char *)sqlite3_column_text(st, 0));
		if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
			has_resolved_in = true;
			snprintf(resolved_in, sizeof(resolved_in), "%s",
				 (const char *)sqlite3_column_text(st, 1));
		}
	}
	sqlite3_finalize(st);

	out->event = GRP_EV_NONE;
	if (!exists) {
		if (exec1(db, "INSERT INTO grp_groups(signature, sig_version, canonical, title)"
			      " VALUES(?1, ?2, ?3, ?4)", "titt", s->hex, (int64_t)SIG_VERSION,
			  s->canonical, s->title) != SQLITE_DONE)
			return GRP_E_DB;
		out->event = GRP_EV_NEW_GROUP;
	} else if (strcmp(state, "resolved") == 0 && strcmp(old_sig, s->hex) != 0 &&
		   has_resolved_in && *fw && grp_version_cmp(fw, resolved_in) > 0) {
		/* A fix shipped in resolved_in; this crash ran newer firmware: regression.
		 * Older firmware still in the field is expected to crash and stays counted
		 * under the resolved group. */
		if (exec1(db, "UPDATE grp_groups SET state='open', regressions=regressions+1"
			      " WHERE signature=?1", "t", s->hex) != SQLITE_DONE)
			return GRP_E_DB;
		out->event = GRP_EV_REGRESSION;
	}
	if (exec1(db, "INSERT INTO grp_members(dump_id, signature, device, firmware, seen)"
		      " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(dump_id) DO UPDATE SET"
		      " signature=?2, device=?3, firmware=?4, seen=?5",
		  "ittti", (int64_t)d->id, s->hex, d->device ? d->device : "", fw,
		  d->seen) != SQLITE_DONE)
		return GRP_E_DB;
	/* A re-symbolized dump left its old group; an open group with no dumps left
	 * carries no history worth keeping (a resolved or muted one does). */
	if (*old_sig && strcmp(old_sig, s->hex) != 0 &&
	    exec1(db, "DELETE FROM grp_groups WHERE signature=?1 AND state='open' AND NOT"
		      " EXISTS(SELECT 1 FROM grp_members WHERE signature=?1)", "t",
		  old_sig) != SQLITE_DONE)
		return GRP_E_DB;
	return GRP_OK;
}

enum grp_err grp_record_result(sqlite3 *db, const struct grp_dump *d, const char *json,
			       size_t len, int nframes, struct grp_outcome *out)
{
	struct json *doc = NULL;
	struct signature s;
	size_t where;
	enum json_err je;
	enum sig_err se;
	enum grp_err e;
	char *missing;

	memset(out, 0, sizeof(*out));
	je = json_parse(json, len, &doc, &where);
	if (je != JSON_OK) {
		snprintf(out->detail, sizeof(out->detail), "worker output: %s at byte %zu",
			 json_strerror(je), where);
		return grp_record_failure(db, d->id, out->detail) == GRP_OK ? GRP_E_JSON : GRP_E_DB;
	}
	se = sig_from_json(doc, d->exe, d->signal, nframes, &s);
	if (se != SIG_OK) {
		json_free(doc);
		if (se == SIG_E_NOMEM)
			return GRP_E_NOMEM;
		snprintf(out->detail, sizeof(out->detail), "worker output: %s", sig_strerror(se));
		return grp_record_failure(db, d->id, out->detail) == GRP_OK ? GRP_E_SIGNATURE
									   : GRP_E_DB;
	}
	missing = missing_ids(doc);
	out->status = json_true(json_get(doc, "symbols_missing")) || (missing && *missing)
			      ? "symbols-missing" : "done";
	json_free(doc);
	if (!missing) {
		sig_free(&s);
		return GRP_E_NOMEM;
	}
	snprintf(out->missing, sizeof(out->missing), "%s", missing);
	memcpy(out->signature, s.hex, sizeof(out->signature));
	snprintf(out->title, sizeof(out->title), "%s", s.title);
	snprintf(out->canonical, sizeof(out->canonical), "%s", s.canonical);

	e = begin(db);
	if (e == GRP_OK) {
		sqlite3_stmt *st = prep(db,
			"INSERT INTO grp_symbolization(dump_id, status, reason, missing, json,"
			" signature, attempts, updated) VALUES(?1, ?2, '', ?3, ?4, ?5, 1, ?6)"
			" ON CONFLICT(dump_id) DO UPDATE SET status=?2, reason='', missing=?3,"
			" json=?4, signature=?5, attempts=attempts+1, updated=?6");
		if (!st) {
			e = GRP_E_DB;
		} else {
			sqlite3_bind_int64(st, 1, (int64_t)d->id);
			sqlite3_bind_text(st, 2, out->status, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, missing, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 4, json, (int)len, SQLITE_STATIC);
			sqlite3_bind_text(st, 5, s.hex, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 6, now_s());
			if (sqlite3_step(st) != SQLITE_DONE)
				e = GRP_E_DB;
			sqlite3_finalize(st);
		}
		if (e == GRP_OK)
			e = link_group(db, d, &s, out);
		e = end(db, e);
	}
	free(missing);
	sig_free(&s);
	return e;
}

enum grp_err grp_resymbolize_build_id(sqlite3 *db, const char *build_id, int *n)
{
	char *pat;
	int rc;

	*n = 0;
	if (asprintf(&pat, " %s ", build_id) < 0)
		return GRP_E_NOMEM;
	rc = exec1(db, "UPDATE grp_symbolization SET status='pending', updated=?2"
		       " WHERE status='symbols-missing' AND instr(missing, ?1) > 0",
		   "ti", pat, now_s());
	free(pat);
	if (rc != SQLITE_DONE)
		return GRP_E_DB;
	*n = sqlite3_changes(db);
	return GRP_OK;
}

enum grp_err grp_each_pending(sqlite3 *db, int (*cb)(void *ctx, uint64_t id), void *ctx)
{
	sqlite3_stmt *st = prep(db, "SELECT dump_id FROM grp_symbolization"
				    " WHERE status='pending' ORDER BY dump_id");
	int rc;

	if (!st)
		return GRP_E_DB;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (cb(ctx, (uint64_t)sqlite3_column_int64(st, 0)))
			break;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? GRP_OK : GRP_E_DB;
}

enum grp_err grp_status(sqlite3 *db, uint64_t id, char status[32], char reason[256])
{
	sqlite3_stmt *st = prep(db, "SELECT status, reason FROM grp_symbolization"
				    " WHERE dump_id=?1");
	enum grp_err e = GRP_E_NOT_FOUND;

	status[0] = reason[0] = '\0';
	if (!st)
		return GRP_E_DB;
	sqlite3_bind_int64(st, 1, (int64_t)id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(status, 32, "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(reason, 256, "%s", (const char *)sqlite3_column_text(st, 1));
		e = GRP_OK;
	}
	sqlite3_finalize(st);
	return e;
}

enum grp_err grp_resolve_sig(sqlite3 *db, const char *prefix, char out[SIG_HEX_LEN + 1])
{
	size_t n = strlen(prefix);
	sqlite3_stmt *st;
	int found = 0;

	if (n < 4 || n > SIG_HEX_LEN || strspn(prefix, "0123456789abcdef") != n)
		return GRP_E_NOT_FOUND;
	st = prep(db, "SELECT signature FROM grp_groups WHERE substr(signature, 1, ?2)=?1"
		      " LIMIT 2");
	if (!st)
		return GRP_E_DB;
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)n);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (found++ == 0)
			snprintf(out, SIG_HEX_LEN + 1, "%s", (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return found == 1 ? GRP_OK : found ? GRP_E_AMBIGUOUS : GRP_E_NOT_FOUND;
}

#define GROUP_SELECT \
	"SELECT g.signature, g.title, g.canonical, g.state, g.resolved_in, g.regressions," \
	" COUNT(m.dump_id), COUNT(DISTINCT m.device), MIN(m.seen), MAX(m.seen)," \
	" (SELECT group_concat(firmware, ',') FROM (SELECT DISTINCT firmware FROM" \
	"  grp_members WHERE signature=g.signature AND firmware<>''" \
	"  ORDER BY firmware COLLATE grp_version))" \
	" FROM grp_groups g JOIN grp_members m ON m.signature=g.signature "

static enum grp_err each_group(sqlite3_stmt *st, int (*cb)(void *, const struct grp_info *),
			       void *ctx, int *rows)
{
	int rc;

	*rows = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct grp_info g = { 0 };
		snprintf(g.signature, sizeof(g.signature), "%s",
			 (const char *)sqlite3_column_text(st, 0));
		g.title = (const char *)sqlite3_column_text(st, 1);
		g.canonical = (const char *)sqlite3_column_text(st, 2);
		g.state = (const char *)sqlite3_column_text(st, 3);
		g.resolved_in = (const char *)sqlite3_column_text(st, 4);
		g.regressions = sqlite3_column_int64(st, 5);
		g.count = sqlite3_column_int64(st, 6);
		g.devices = sqlite3_column_int64(st, 7);
		g.first_seen = sqlite3_column_int64(st, 8);
		g.last_seen = sqlite3_column_int64(st, 9);
		g.versions = (const char *)sqlite3_column_text(st, 10);
		if (!g.versions)
			g.versions = "";
		(*rows)++;
		if (cb(ctx, &g))
			break;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? GRP_OK : GRP_E_DB;
}

enum grp_err grp_list(sqlite3 *db, const struct grp_filter *f,
		      int (*cb)(void *ctx, const struct grp_info *g), void *ctx)
{
	sqlite3_stmt *st;
	int rows;

	st = prep(db, f->by_devices
		  ? GROUP_SELECT "WHERE (?1 IS NULL OR g.state=?1) AND (?2 IS NULL OR EXISTS"
		    " (SELECT 1 FROM grp_members x WHERE x.signature=g.signature AND"
		    " x.firmware=?2)) GROUP BY g.signature HAVING MAX(m.seen) >= ?3"
		    " ORDER BY COUNT(DISTINCT m.device) DESC, COUNT(m.dump_id) DESC,"
		    " MAX(m.seen) DESC"
		  : GROUP_SELECT "WHERE (?1 IS NULL OR g.state=?1) AND (?2 IS NULL OR EXISTS"
		    " (SELECT 1 FROM grp_members x WHERE x.signature=g.signature AND"
		    " x.firmware=?2)) GROUP BY g.signature HAVING MAX(m.seen) >= ?3"
		    " ORDER BY COUNT(m.dump_id) DESC, COUNT(DISTINCT m.device) DESC,"
		    " MAX(m.seen) DESC");
	if (!st)
		return GRP_E_DB;
	if (f->state)
		sqlite3_bind_text(st, 1, f->state, -1, SQLITE_STATIC);
	if (f->version)
		sqlite3_bind_text(st, 2, f->version, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, f->since);
	return each_group(st, cb, ctx, &rows);
}

enum grp_err grp_get(sqlite3 *db, const char *sig,
		     int (*cb)(void *ctx, const struct grp_info *g), void *ctx)
{
	sqlite3_stmt *st = prep(db, GROUP_SELECT "WHERE g.signature=?1 GROUP BY g.signature");
	enum grp_err e;
	int rows;

	if (!st)
		return GRP_E_DB;
	sqlite3_bind_text(st, 1, sig, -1, SQLITE_STATIC);
	e = each_group(st, cb, ctx, &rows);
	return e == GRP_OK && rows == 0 ? GRP_E_NOT_FOUND : e;
}

enum grp_err grp_set_state(sqlite3 *db, const char *sig, const char *state,
			   const char *version)
{
	int rc;

	if (strcmp(state, "resolved") == 0) {
		/* Without a version, the fix is taken to be in the newest firmware seen:
		 * a crash on anything newer is then a regression. */
		rc = exec1(db, "UPDATE grp_groups SET state='resolved', resolved_in=coalesce(?2,"
			       " (SELECT firmware FROM grp_members WHERE signature=?1 AND"
			       "  firmware<>'' ORDER BY firmware COLLATE grp_version DESC LIMIT 1))"
			       " WHERE signature=?1", "tt", sig, version);
	} else if (strcmp(state, "open") == 0 || strcmp(state, "muted") == 0) {
		rc = exec1(db, "UPDATE grp_groups SET state=?2 WHERE signature=?1", "tt", sig,
			   state);
	} else {
		return GRP_E_BAD_STATE;
	}
	if (rc != SQLITE_DONE)
		return GRP_E_DB;
	return sqlite3_changes(db) ? GRP_OK : GRP_E_NOT_FOUND;
}

enum grp_err grp_of_dump(sqlite3 *db, uint64_t id, char out[SIG_HEX_LEN + 1])
{
	sqlite3_stmt *st = prep(db, "SELECT signature FROM grp_members WHERE dump_id=?1");
	enum grp_err e = GRP_E_NOT_FOUND;

	if (!st)
		return GRP_E_DB;
	sqlite3_bind_int64(st, 1, (int64_t)id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(out, SIG_HEX_LEN + 1, "%s", (const char *)sqlite3_column_text(st, 0));
		e = GRP_OK;
	}
	sqlite3_finalize(st);
	return e;
}
