/* collector/corecastctl/cmd_group.c: `corecastctl group SIG` — one crash group; resolve/mute/open; backtraces for `info`. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/corecastctl/ctl.h"
#include "collector/groups/ctl_ext.h"
#include "collector/groups/groups.h"
#include "collector/groups/json.h"

CTL_COMMAND(group);

static sqlite3 *db_of(struct ctl *c)
{
	return (sqlite3 *)store_db(c->st);
}

static void put_printable(FILE *f, const char *s)
{
	for (; s && *s; s++)
		fputc(((unsigned char)*s >= 0x20 && *s != 0x7f) ? *s : '?', f);
}

/* ---- group SIG ---------------------------------------------------------------- */

struct shown {
	struct ctl *c;
	int found;
};

/* Rows of one query as a JSON array of objects or a text table; columns are
 * text except those listed in ints. */
static int print_rows(struct ctl *c, const char *sig, const char *sql, const char *title,
		      const char *const *names, const char *ints, int json)
{
	sqlite3_stmt *st;
	int n = 0, rc;

	if (sqlite3_prepare_v2(db_of(c), sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, sig, -1, SQLITE_STATIC);
	if (json)
		printf(",\"%s\":[", title);
	else
		printf("\n%s:\n", title);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int cols = sqlite3_column_count(st);
		if (json)
			fputs(n ? ",{" : "{", stdout);
		else
			fputs("  ", stdout);
		for (int k = 0; k < cols; k++) {
			const char *v = (const char *)sqlite3_column_text(st, k);
			if (json) {
				printf("%s\"%s\":", k ? "," : "", names[k]);
				if (ints[k] == 'i')
					printf("%" PRId64, (int64_t)sqlite3_column_int64(st, k));
				else if (ints[k] == 't') {
					char when[32];
					ctl_iso_time(sqlite3_column_int64(st, k), when, sizeof when);
					printf("\"%s\"", when);
				} else
					ctl_json_str(stdout, v ? v : "");
			} else {
				if (ints[k] == 't') {
					char when[32];
					ctl_table_time(sqlite3_column_int64(st, k), when, sizeof when);
					printf("%-20s", when);
				} else if (ints[k] == 'i') {
					printf("%-8s", v ? v : "");
				} else {
					fputs(k ? "  " : "", stdout);
					put_printable(stdout, v && *v ? v : "-");
				}
			}
		}
		fputs(json ? "}" : "\n", stdout);
		n++;
	}
	sqlite3_finalize(st);
	if (json)
		putchar(']');
	return rc == SQLITE_DONE ? 0 : -1;
}

static int show_group(void *ctx, const struct grp_info *g)
{
	struct shown *s = ctx;
	struct ctl *c = s->c;
	char first[32], last[32];
	static const char *const dump_cols[] = { "id", "received", "device", "firmware" };
	static const char *const dev_cols[] = { "count", "device" };
	static const char *const ver_cols[] = { "count", "firmware" };
	static const char *const day_cols[] = { "count", "day" };
	int bad = 0;

	s->found = 1;
	if (c->json) {
		ctl_iso_time(g->first_seen, first, sizeof first);
		ctl_iso_time(g->last_seen, last, sizeof last);
		printf("{\"signature\":\"%s\",\"title\":", g->signature);
		ctl_json_str(stdout, g->title);
		printf(",\"state\":\"%s\",\"resolved_in\":", g->state);
		if (g->resolved_in)
			ctl_json_str(stdout, g->resolved_in);
		else
			fputs("null", stdout);
		printf(",\"regressions\":%" PRId64 ",\"count\":%" PRId64 ",\"devices\":%" PRId64
		       ",\"first_seen\":\"%s\",\"last_seen\":\"%s\",\"canonical\":", g->regressions,
		       g->count, g->devices, first, last);
		ctl_json_str(stdout, g->canonical);
	} else {
		ctl_table_time(g->first_seen, first, sizeof first);
		ctl_table_time(g->last_seen, last, sizeof last);
		printf("    Signature: %s\n        Title: ", g->signature);
		put_printable(stdout, g->title);
		printf("\n        State: %s", g->state);
		if (g->resolved_in) {
			printf(" (resolved in ");
			put_printable(stdout, g->resolved_in);
			putchar(')');
		}
		if (g->regressions)
			printf(", %" PRId64 " regression%s", g->regressions,
			       g->regressions == 1 ? "" : "s");
		printf("\n        Dumps: %" PRId64 " from %" PRId64 " device%s\n   First seen: %s\n"
		       "    Last seen: %s\n     Versions: ", g->count, g->devices,
		       g->devices == 1 ? "" : "s", first, last);
		put_printable(stdout, g->versions[0] ? g->versions : "-");
		printf("\n    Signature text:\n");
		for (const char *p = g->canonical; *p;) {
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);
			printf("      %.*s\n", (int)n, p);
			p += n + (nl ? 1 : 0);
		}
	}
	bad |= print_rows(c, g->signature,
			  "SELECT dump_id, seen, device, firmware FROM grp_members"
			  " WHERE signature=?1 ORDER BY seen, dump_id",
			  "dumps", dump_cols, "itss", c->json);
	bad |= print_rows(c, g->signature,
			  "SELECT count(*), device FROM grp_members WHERE signature=?1"
			  " GROUP BY device ORDER BY 1 DESC, 2",
			  "by_device", dev_cols, "is", c->json);
	bad |= print_rows(c, g->signature,
			  "SELECT count(*), firmware FROM grp_members WHERE signature=?1"
			  " GROUP BY firmware ORDER BY firmware COLLATE grp_version",
			  "by_version", ver_cols, "is", c->json);
	bad |= print_rows(c, g->signature,
			  "SELECT count(*), date(seen, 'unixepoch') FROM grp_members"
			  " WHERE signature=?1 GROUP BY 2 ORDER BY 2",
			  "per_day", day_cols, "is", c->json);
	if (c->json)
		puts("}");
	return bad ? 1 : 0;
}

CTL_COMMAND(group)
{
	char sig[SIG_HEX_LEN + 1];
	sqlite3 *db = db_of(c);
	enum grp_err e;

	if (argc < 2)
		return ctl_fail("group: usage: group SIG [resolve [--version V] | mute | open]");
	if (grp_init(db) != GRP_OK)
		return ctl_fail("store %s: group tables: %s", c->store_dir, sqlite3_errmsg(db));
	e = grp_resolve_sig(db, argv[1], sig);
	if (e != GRP_OK)
		return ctl_fail("group %s: %s", argv[1], e == GRP_E_DB ? sqlite3_errmsg(db)
						    : grp_strerror(e));
	if (argc == 2) {
		struct shown s = { c, 0 };
		e = grp_get(db, sig, show_group, &s);
		if (e != GRP_OK)
			return ctl_fail("group %s: %s", sig, e == GRP_E_DB ? sqlite3_errmsg(db)
							   : grp_strerror(e));
		return 0;
	}
	const char *action = argv[2], *version = NULL;
	const char *state = !strcmp(action, "resolve") ? "resolved" :
			    !strcmp(action, "mute") ? "muted" :
			    !strcmp(action, "open") || !strcmp(action, "reopen") ? "open" : NULL;
	if (!state)
		return ctl_fail("group %s: %s: unknown action (resolve, mute, open)", sig, action);
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--version") && i + 1 < argc && !strcmp(state, "resolved"))
			version = argv[++i];
		else if (!strncmp(argv[i], "--version=", 10) && !strcmp(state, "resolved"))
			version = argv[i] + 10;
		else
			return ctl_fail("group %s %s: %s: unexpected argument", sig, action, argv[i]);
	}
	e = grp_set_state(db, sig, state, version);
	if (e != GRP_OK)
		return ctl_fail("group %s: %s", sig, e == GRP_E_DB ? sqlite3_errmsg(db)
						    : grp_strerror(e));
	if (c->json) {
		printf("{\"signature\":\"%s\",\"state\":\"%s\"}\n", sig, state);
	} else {
		printf("group %s: %s", sig, state);
		if (version)
			printf(" in %s", version);
		putchar('\n');
	}
	return 0;
}

/* ---- info ID: symbolization, group, backtraces ---------------------------------- */

/* The stored worker document and status of a dump; *doc NULL if none. */
static void load_doc(struct ctl *c, uint64_t id, struct json **doc, char status[32],
		     char reason[256])
{
	sqlite3 *db = db_of(c);
	sqlite3_stmt *st;

	*doc = NULL;
	strcpy(status, "not symbolized");
	reason[0] = '\0';
	if (grp_init(db) != GRP_OK)
		return;
	if (grp_status(db, id, status, reason) != GRP_OK)
		strcpy(status, "not symbolized");
	if (sqlite3_prepare_v2(db, "SELECT json FROM grp_symbolization WHERE dump_id=?1", -1,
			       &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, (int64_t)id);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		int n = sqlite3_column_bytes(st, 0);
		if (json_parse(text, (size_t)n, doc, NULL) != JSON_OK)
			*doc = NULL;
	}
	sqlite3_finalize(st);
}

struct group_brief {
	char title[256];
	char state[16];
	int found;
};

static int brief_cb(void *ctx, const struct grp_info *g)
{
	struct group_brief *b = ctx;
	snprintf(b->title, sizeof b->title, "%s", g->title);
	snprintf(b->state, sizeof b->state, "%s", g->state);
	b->found = 1;
	return 1;
}

static const char *base(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;
	return s && s[1] ? s + 1 : p;
}

void grp_info_text(struct ctl *c, const struct store_rec *r)
{
	struct json *doc;
	char status[32], reason[256], sig[SIG_HEX_LEN + 1];
	struct group_brief b = { 0 };

	load_doc(c, r->id, &doc, status, reason);
	printf("   Symbolized: %s", status);
	if (*reason) {
		fputs(" (", stdout);
		put_printable(stdout, reason);
		putchar(')');
	}
	putchar('\n');
	if (grp_of_dump(db_of(c), r->id, sig) == GRP_OK &&
	    grp_get(db_of(c), sig, brief_cb, &b) == GRP_OK && b.found) {
		printf("        Group: %s (%s) ", sig, b.state);
		put_printable(stdout, b.title);
		putchar('\n');
	}
	const struct json *threads = json_get(doc, "threads");
	for (const struct json *t = threads ? threads->child : NULL; t; t = t->next) {
		int64_t tid = 0, v;
		json_int(json_get(t, "tid"), &tid);
		printf("\nThread %" PRId64 "%s:\n", tid,
		       json_true(json_get(t, "crashed")) ? " (crashed)" : "");
		const struct json *frames = json_get(t, "frames");
		int k = 0;
		for (const struct json *f = frames ? frames->child : NULL; f; f = f->next, k++) {
			const char *fn = json_str(json_get(f, "function"));
			const char *pc = json_str(json_get(f, "pc"));
			const char *mod = json_str(json_get(f, "module"));
			const char *file = json_str(json_get(f, "file"));
			const char *how = json_str(json_get(f, "how"));
			printf("  #%-3d %-18s ", k, pc ? pc : "?");
			put_printable(stdout, fn ? fn : "??");
			if (json_int(json_get(f, "offset"), &v))
				printf("+0x%" PRIx64, (uint64_t)v);
			if (json_true(json_get(f, "inlined")))
				fputs(" [inlined]", stdout);
			fputs(" (", stdout);
			put_printable(stdout, mod ? base(mod) : "?");
			putchar(')');
			if (file) {
				putchar(' ');
				put_printable(stdout, file);
				if (json_int(json_get(f, "line"), &v))
					printf(":%" PRId64, v);
			}
			if (how)
				printf(" [%s]", how);
			putchar('\n');
		}
	}
	json_free(doc);
}

/* Copy a JSON value out as JSON (strings re-escaped through ctl_json_str). */
static void emit(FILE *f, const struct json *v)
{
	if (!v) {
		fputs("null", f);
		return;
	}
	switch (v->type) {
	case JSON_NULL: fputs("null", f); break;
	case JSON_BOOL: fputs(v->b ? "true" : "false", f); break;
	case JSON_NUMBER:
		if (v->is_int)
			fprintf(f, "%" PRId64, v->i);
		else
			fprintf(f, "%.17g", v->num);
		break;
	case JSON_STRING: ctl_json_str(f, v->str); break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		fputc(v->type == JSON_ARRAY ? '[' : '{', f);
		for (const struct json *c = v->child; c; c = c->next) {
			if (c != v->child)
				fputc(',', f);
			if (v->type == JSON_OBJECT) {
				ctl_json_str(f, c->key);
				fputc(':', f);
			}
			emit(f, c);
		}
		fputc(v->type == JSON_ARRAY ? ']' : '}', f);
		break;
	}
}

void grp_info_json(FILE *f, const struct store_rec *r, void *arg)
{
	struct ctl *c = arg;
	struct json *doc;
	char status[32], reason[256], sig[SIG_HEX_LEN + 1];
	static const char *const frame_keys[] = { "pc", "function", "offset", "module",
						  "build_id", "file", "line", "inlined", "how" };

	load_doc(c, r->id, &doc, status, reason);
	fputs(",\"symbolization\":{\"status\":", f);
	ctl_json_str(f, status);
	fputs(",\"reason\":", f);
	ctl_json_str(f, reason);
	fputs("},\"threads\":[", f);
	const struct json *threads = json_get(doc, "threads");
	for (const struct json *t = threads ? threads->child : NULL; t; t = t->next) {
		int64_t tid = 0;
		json_int(json_get(t, "tid"), &tid);
		fprintf(f, "%s{\"tid\":%" PRId64 ",\"crashed\":%s,\"frames\":[",
			t == threads->child ? "" : ",", tid,
			json_true(json_get(t, "crashed")) ? "true" : "false");
		const struct json *frames = json_get(t, "frames");
		for (const struct json *fr = frames ? frames->child : NULL; fr; fr = fr->next) {
			fputs(fr == frames->child ? "{" : ",{", f);
			for (size_t k = 0; k < sizeof frame_keys / sizeof frame_keys[0]; k++) {
				fprintf(f, "%s\"%s\":", k ? "," : "", frame_keys[k]);
				emit(f, json_get(fr, frame_keys[k]));
			}
			fputc('}', f);
		}
		fputs("]}", f);
	}
	fputs("],\"registers\":", f);
	emit(f, json_get(doc, "registers"));
	fputs(",\"modules\":", f);
	emit(f, json_get(doc, "modules"));
	fputs(",\"group\":", f);
	struct group_brief b = { 0 };
	if (grp_of_dump(db_of(c), r->id, sig) == GRP_OK &&
	    grp_get(db_of(c), sig, brief_cb, &b) == GRP_OK && b.found) {
		fprintf(f, "{\"signature\":\"%s\",\"title\":", sig);
		ctl_json_str(f, b.title);
		fprintf(f, ",\"state\":\"%s\"}", b.state);
	} else {
		fputs("null", f);
	}
	json_free(doc);
}
