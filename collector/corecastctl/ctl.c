/* collector/corecastctl/ctl.c: helpers every command shares — errors, parsing, time, sizes, JSON. */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/corecastctl/ctl.h"
#include "collector/groups/signature.h"
#include "netdump/hex.h"

int ctl_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("corecastctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int ctl_parse_id(const char *s, uint64_t *id)
{
	char *end;
	if (!s || !isdigit((unsigned char)*s)) {
		ctl_fail("%s: not a dump id (expected a number)", s ? s : "(missing)");
		return -1;
	}
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || v == 0) {
		ctl_fail("%s: not a dump id (expected a number)", s);
		return -1;
	}
	*id = v;
	return 0;
}

int ctl_parse_since(const char *s, int64_t now, int64_t *out)
{
	char *end;
	long long n = strtoll(s, &end, 10);
	static const struct { char unit; int64_t secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 },
	};
	/* Relative age: digits then exactly one unit letter. */
	if (end != s && n >= 0 && end[0] && !end[1] && strlen(s) < 12) {
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
			if (end[0] == units[i].unit) {
				*out = now - n * units[i].secs;
				return 0;
			}
	}
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3)
		return -1;
	const char *p = s + used;
	if (*p == 'T' || *p == ' ') {
		int u2 = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &u2) != 2)
			return -1;
		p += 1 + u2;
		if (*p == ':') {
			if (sscanf(p + 1, "%2d%n", &sec, &u2) != 1)
				return -1;
			p += 1 + u2;
		}
	}
	if (*p == 'Z')
		p++;
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = (int64_t)timegm(&tm);
	return 0;
}

void ctl_iso_time(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void ctl_table_time(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
}

void ctl_human_size(uint64_t n, char *buf, size_t len)
{
	static const char units[] = "BKMGTP";
	double v = (double)n;
	unsigned u = 0;
	while (v >= 1024 && u < sizeof units - 2) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 "B", n);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
}

/* The crash signature's table of Linux signal numbers, shown without "SIG"; an
 * unknown number is printed as it is. */
const char *ctl_signame(uint32_t sig, char *buf, size_t n)
{
	char tmp[16];
	const char *s = sig < 256 ? sig_signame((int)sig, tmp) : NULL;
	if (s && !strncmp(s, "SIG", 3) && !isdigit((unsigned char)s[3]))
		return s + 3;   /* a name from the static table */
	snprintf(buf, n, "%" PRIu32, sig);
	return buf;
}

void ctl_json_rec(FILE *f, const struct store_rec *r,
                  void (*extra)(FILE *f, const struct store_rec *r, void *arg), void *arg)
{
	char boot[2 * ND_BOOTID_LEN + 1], sha[65], when[32], sbuf[16];
	nd_hex(r->meta.boot_id, ND_BOOTID_LEN, boot);
	nd_hex(r->sha256, 32, sha);
	ctl_iso_time(r->received, when, sizeof when);
	fprintf(f, "{\"id\":%" PRIu64 ",\"device\":", r->id);
	ctl_json_str(f, r->meta.device);
	fprintf(f, ",\"boot_id\":\"%s\",\"seq\":%" PRIu32 ",\"pid\":%" PRIu32
	        ",\"signal\":%" PRIu32 ",\"signal_name\":", boot, r->meta.seq, r->meta.pid,
	        r->meta.signal);
	ctl_json_str(f, ctl_signame(r->meta.signal, sbuf, sizeof sbuf));
	fputs(",\"exe\":", f);
	ctl_json_str(f, r->meta.exe);
	fputs(",\"cause\":", f);
	ctl_json_str(f, r->meta.cause);
	fprintf(f, ",\"machine\":%u,\"firmware\":", (unsigned)r->meta.machine);
	ctl_json_str(f, r->meta.firmware);
	fprintf(f, ",\"device_time\":%" PRIu64 ",\"size\":%" PRIu64 ",\"compressed_size\":%"
	        PRIu64 ",\"sha256\":\"%s\",\"received\":\"%s\",\"received_unix\":%" PRId64
	        ",\"status\":", r->meta.device_time, r->meta.core_size, r->csize, sha, when,
	        r->received);
	ctl_json_str(f, r->status);
	fputs(",\"path\":", f);
	ctl_json_str(f, r->path);
	fputs(",\"build_ids\":[", f);
	for (unsigned i = 0; i < r->meta.n_buildids; i++) {
		char hex[2 * ND_BUILDID_MAX + 1];
		nd_hex(r->meta.buildids[i].id, r->meta.buildids[i].len, hex);
		fprintf(f, "%s{\"build_id\":\"%s\",\"name\":", i ? "," : "", hex);
		ctl_json_str(f, r->meta.buildids[i].name);
		fputc('}', f);
	}
	fputc(']', f);
	if (extra)
		extra(f, r, arg);
	fputc('}', f);
}
