/* collector/corecastctl/cmd_list.c: `corecastctl list` — one line (or JSON record) per stored dump. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "collector/corecastctl/ctl.h"

CTL_COMMAND(list);

struct list_state {
	int json;
	unsigned n;
};

/* Device strings are untrusted: never let them move the terminal cursor. */
static void printable(char *dst, const char *src, size_t n)
{
	size_t i = 0;
	for (; src[i] && i + 1 < n; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = 0;
}

static int list_one(const struct store_rec *r, void *arg)
{
	struct list_state *ls = arg;
	if (ls->json) {
		fputs(ls->n ? ",\n " : "\n ", stdout);
		ctl_json_rec(stdout, r, NULL, NULL);
	} else {
		char when[32], size[16], sig[16], dev[ND_DEVICE_MAX], exe[ND_NAME_MAX];
		ctl_table_time(r->received, when, sizeof when);
		ctl_human_size(r->meta.core_size, size, sizeof size);
		printable(dev, r->meta.device, sizeof dev);
		printable(exe, r->meta.exe[0] ? r->meta.exe : "-", sizeof exe);
		printf("%-6" PRIu64 " %-19s %-20s %7" PRIu32 " %-6s %-16s %8s %s\n", r->id, when,
		       dev, r->meta.pid, ctl_signame(r->meta.signal, sig, sizeof sig), exe, size,
		       r->status);
	}
	ls->n++;
	return 0;
}

CTL_COMMAND(list)
{
	struct store_filter f = { 0 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (!strcmp(a, "--device") || !strcmp(a, "--since")) {
			if (i + 1 >= argc)
				return ctl_fail("list: %s: missing value", a);
			v = argv[++i];
		} else if (!strncmp(a, "--device=", 9) || !strncmp(a, "--since=", 8)) {
			v = strchr(a, '=') + 1;
		} else {
			return ctl_fail("list: %s: unknown argument (usage: list [--device DEV] "
			                "[--since TIME])", a);
		}
		if (!strncmp(a, "--device", 8)) {
			f.device = v;
		} else if (ctl_parse_since(v, (int64_t)time(NULL), &f.since) < 0) {
			return ctl_fail("list: --since %s: not a date (YYYY-MM-DD[THH:MM[:SS]]) or "
			                "an age (30m, 2h, 1d, 1w)", v);
		}
	}

	struct list_state ls = { c->json, 0 };
	if (c->json)
		fputc('[', stdout);
	else
		printf("%-6s %-19s %-20s %7s %-6s %-16s %8s %s\n", "ID", "TIME", "DEVICE", "PID",
		       "SIG", "EXE", "SIZE", "STATUS");
	enum store_err e = store_list(c->st, &f, list_one, &ls);
	if (e != STORE_OK)
		return ctl_fail("list: %s", store_errmsg(c->st));
	if (c->json)
		fputs(ls.n ? "\n]\n" : "]\n", stdout);
	else if (ls.n == 0)
		fprintf(stderr, "No dumps found.\n");
	return 0;
}
