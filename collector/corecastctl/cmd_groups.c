/* collector/corecastctl/cmd_groups.c: `corecastctl groups` — crash groups across the fleet, largest first. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/corecastctl/ctl.h"
#include "collector/groups/groups.h"

CTL_COMMAND(groups);

struct groups_out {
	int json;
	unsigned n;
};

/* Titles come from symbol names in untrusted cores: no terminal control bytes. */
static void put_printable(const char *s, int width)
{
	int n = 0;
	for (; *s && (width < 0 || n < width); s++, n++)
		putchar(((unsigned char)*s >= 0x20 && *s != 0x7f) ? *s : '?');
	for (; n < width; n++)
		putchar(' ');
}

static void json_versions(const char *csv)
{
	char *buf = strdup(csv);
	int first = 1;

	putchar('[');
	for (char *save = NULL, *v = buf ? strtok_r(buf, ",", &save) : NULL; v;
	     v = strtok_r(NULL, ",", &save)) {
		if (!first)
			putchar(',');
		ctl_json_str(stdout, v);
		first = 0;
	}
	putchar(']');
	free(buf);
}

static int groups_one(void *ctx, const struct grp_info *g)
{
	struct groups_out *o = ctx;
	char first[32], last[32];

	if (o->json) {
		ctl_iso_time(g->first_seen, first, sizeof first);
		ctl_iso_time(g->last_seen, last, sizeof last);
		fputs(o->n ? ",\n " : "\n ", stdout);
		printf("{\"signature\":\"%s\",\"title\":", g->signature);
		ctl_json_str(stdout, g->title);
		printf(",\"count\":%" PRId64 ",\"devices\":%" PRId64 ",\"versions\":", g->count,
		       g->devices);
		json_versions(g->versions);
		printf(",\"first_seen\":\"%s\",\"last_seen\":\"%s\",\"state\":\"%s\","
		       "\"resolved_in\":", first, last, g->state);
		if (g->resolved_in)
			ctl_json_str(stdout, g->resolved_in);
		else
			fputs("null", stdout);
		printf(",\"regressions\":%" PRId64 "}", g->regressions);
	} else {
		ctl_table_time(g->last_seen, last, sizeof last);
		printf("%-16s %6" PRId64 " %7" PRId64 " %-8s %-19s ", g->signature, g->count,
		       g->devices, g->state, last);
		put_printable(g->versions[0] ? g->versions : "-", 14);
		putchar(' ');
		put_printable(g->title, -1);
		putchar('\n');
	}
	o->n++;
	return 0;
}

CTL_COMMAND(groups)
{
	struct grp_filter f = { 0 };
	struct groups_out o = { .json = c->json };
	static const char usage[] =
		"usage: groups [--by devices|count] [--state open|resolved|muted] "
		"[--version V] [--since TIME]";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		char opt[16];
		const char *eq = strchr(a, '=');
		if (strncmp(a, "--", 2) != 0)
			return ctl_fail("groups: %s: unexpected argument (%s)", a, usage);
		snprintf(opt, sizeof opt, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
		if (eq) {
			v = eq + 1;
		} else {
			if (i + 1 >= argc)
				return ctl_fail("groups: %s: missing value", a);
			v = argv[++i];
		}
		if (!strcmp(opt, "--by")) {
			if (!strcmp(v, "devices"))
				f.by_devices = true;
			else if (strcmp(v, "count") != 0)
				return ctl_fail("groups: --by %s: sort by 'devices' or 'count'", v);
		} else if (!strcmp(opt, "--state")) {
			if (strcmp(v, "open") && strcmp(v, "resolved") && strcmp(v, "muted"))
				return ctl_fail("groups: --state %s: %s", v,
						grp_strerror(GRP_E_BAD_STATE));
			f.state = v;
		} else if (!strcmp(opt, "--version")) {
			f.version = v;
		} else if (!strcmp(opt, "--since")) {
			if (ctl_parse_since(v, (int64_t)time(NULL), &f.since) < 0)
				return ctl_fail("groups: --since %s: not a date or age (2026-11-26, "
						"1h, 2d)", v);
		} else {
			return ctl_fail("groups: %s: unknown option (%s)", a, usage);
		}
	}
	if (grp_init((sqlite3 *)store_db(c->st)) != GRP_OK)
		return ctl_fail("store %s: group tables: %s", c->store_dir,
				sqlite3_errmsg((sqlite3 *)store_db(c->st)));
	if (o.json)
		putchar('[');
	else
		printf("%-16s %6s %7s %-8s %-19s %-14s %s\n", "SIGNATURE", "COUNT", "DEVICES",
		       "STATE", "LAST SEEN", "VERSIONS", "TITLE");
	enum grp_err e = grp_list((sqlite3 *)store_db(c->st), &f, groups_one, &o);
	if (o.json)
		fputs(o.n ? "\n]\n" : "]\n", stdout);
	if (e != GRP_OK)
		return ctl_fail("store %s: listing groups: %s", c->store_dir,
				sqlite3_errmsg((sqlite3 *)store_db(c->st)));
	return 0;
}
