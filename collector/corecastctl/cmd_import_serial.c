/* collector/corecastctl/cmd_import_serial.c: `corecastctl import-serial LOG...` — import serial dumps from console logs ("-": stdin). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/corecastctl/ctl.h"
#include "collector/serial/coremeta.h"
#include "collector/serial/serial.h"
#include "netdump/sha256.h"

CTL_COMMAND(import_serial);

struct imp {
	struct ctl *c;
	const char *log;
	unsigned imported, existing, failed;
	int first_json;
};

static void json_item(struct imp *im, const struct ser_dump *d, const char *status,
                      uint64_t id, const char *error)
{
	printf("%s{\"log\":", im->first_json ? "" : ",");
	im->first_json = 0;
	ctl_json_str(stdout, im->log);
	printf(",\"line\":%zu,\"header\":", d->line);
	ctl_json_str(stdout, d->header);
	printf(",\"status\":\"%s\"", status);
	if (id)
		printf(",\"id\":%" PRIu64, id);
	if (error) {
		printf(",\"error\":");
		ctl_json_str(stdout, error);
	}
	putchar('}');
}

/* A dump that cannot be imported is named by log, line and header, with the cause. */
static void reject(struct imp *im, const struct ser_dump *d, const char *why)
{
	ctl_fail("%s:%zu: dump '%s': %s; not imported", im->log, d->line, d->header, why);
	if (im->c->json)
		json_item(im, d, "failed", 0, why);
	im->failed++;
}

static int on_dump(void *ctx, const struct ser_dump *d)
{
	struct imp *im = ctx;
	if (d->status != SER_OK) {
		reject(im, d, ser_strerror(d->status));
		return 0;
	}
	struct nd_meta m;
	int has_project;
	enum coremeta_err ce = coremeta_read(d->core, d->core_len, &m, &has_project);
	if (ce != COREMETA_OK) {
		reject(im, d, coremeta_strerror(ce));
		return 0;
	}
	if (!has_project) {
		/* A core from elsewhere: key it by its content so a re-import is idempotent. */
		uint8_t h[32];
		nd_sha256(d->core, d->core_len, h);
		snprintf(m.device, sizeof m.device, "serial");
		memcpy(m.boot_id, h, ND_BOOTID_LEN);
	}
	if (!m.exe[0])
		snprintf(m.exe, sizeof m.exe, "%.*s", (int)sizeof m.exe - 1, d->path);
	if (!m.cause[0])
		snprintf(m.cause, sizeof m.cause, "%.*s", (int)sizeof m.cause - 1, d->cause);

	FILE *f = tmpfile();
	if (!f || fwrite(d->core, 1, d->core_len, f) != d->core_len || fflush(f) != 0 ||
	    lseek(fileno(f), 0, SEEK_SET) != 0) {
		char why[128];
		snprintf(why, sizeof why, "temporary file: %s", strerror(errno));
		if (f)
			fclose(f);
		reject(im, d, why);
		return 0;
	}
	uint64_t id = 0;
	enum store_err se = store_add_core(im->c->st, &m, fileno(f), &id);
	fclose(f);
	if (se == STORE_OK || se == STORE_E_EXISTS) {
		int fresh = se == STORE_OK;
		if (im->c->json)
			json_item(im, d, fresh ? "stored" : "exists", id, NULL);
		else
			printf("%s:%zu: dump '%s' %s dump %" PRIu64 " (%s, pid %" PRIu32 ", signal %" PRIu32 ", %zu bytes)\n",
			       im->log, d->line, d->header, fresh ? "imported as" : "already stored as", id,
			       m.device, m.pid, m.signal, d->core_len);
		if (fresh)
			im->imported++;
		else
			im->existing++;
		return 0;
	}
	reject(im, d, store_errmsg(im->c->st));
	return 0;
}

/* The whole log in memory ("-" is standard input, e.g. piped from a console). */
static int read_all(const char *path, char **buf, size_t *len)
{
	int is_stdin = !strcmp(path, "-");
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	if (!f)
		return -1;
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	while (b) {
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (n < cap) {
			if (ferror(f)) {
				free(b);
				b = NULL;
			}
			break;
		}
		char *nb = realloc(b, cap * 2);
		if (!nb) {
			free(b);
			b = NULL;
			errno = ENOMEM;
			break;
		}
		b = nb;
		cap *= 2;
	}
	int e = errno;
	if (!is_stdin)
		fclose(f);
	errno = e;
	if (!b)
		return -1;
	*buf = b;
	*len = n;
	return 0;
}

CTL_COMMAND(import_serial)
{
	if (argc < 2)
		return ctl_fail("import-serial: usage: import-serial LOG...");
	/* Opened here, not by main: importing field logs is often the first use of a
	 * store on a workstation, so the store is created when missing. */
	enum store_err se = store_open(c->store_dir, STORE_CREATE, &c->st);
	if (se != STORE_OK)
		return ctl_fail("store %s", store_open_errmsg());
	struct imp im = { .c = c, .first_json = 1 };
	int rc = 0;
	if (c->json)
		fputs("{\"dumps\":[", stdout);
	for (int i = 1; i < argc; i++) {
		char *text;
		size_t len;
		im.log = strcmp(argv[i], "-") ? argv[i] : "(stdin)";
		if (read_all(argv[i], &text, &len) < 0) {
			rc = ctl_fail("%s: %s", argv[i], strerror(errno));
			continue;
		}
		size_t n = ser_scan(text, len, 0, on_dump, &im);
		free(text);
		if (n == 0)
			rc = ctl_fail("%s: no core dump found", argv[i]);
	}
	if (c->json)
		printf("],\"imported\":%u,\"existing\":%u,\"failed\":%u}\n", im.imported, im.existing, im.failed);
	else if (argc > 2 || im.failed)
		printf("%u imported, %u already stored, %u failed\n", im.imported, im.existing, im.failed);
	return (rc || im.failed) ? 1 : 0;
}
