/* collector/corecastd/config.c: corecastd.conf parsing, defaults and reload diffs. */
#include "collector/corecastd/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SECTION "Collector"

const char *ccd_cfg_strerror(enum ccd_cfg_err e)
{
	switch (e) {
	case CCD_CFG_OK: return "ok";
	case CCD_CFG_OPEN: return "cannot read configuration file";
	case CCD_CFG_SYNTAX: return "syntax error";
	case CCD_CFG_VALUE: return "invalid value";
	case CCD_CFG_TOO_MANY: return "too many Listen= addresses";
	}
	return "unknown configuration error";
}

void ccd_config_defaults(struct ccd_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->store, sizeof c->store, "%s", CCD_DEF_STORE);
	c->max_use = CCD_SIZE_DEFAULT;
	c->keep_free = CCD_SIZE_DEFAULT;
	c->max_sessions = CCD_DEF_MAX_SESSIONS;
	c->max_core_size = CCD_DEF_MAX_CORE_SIZE;
	c->max_sessions_per_device = CCD_DEF_PER_DEVICE;
	c->device_rate = CCD_DEF_DEVICE_RATE;
	c->session_timeout_ms = CCD_DEF_TIMEOUT_MS;
	c->receive_window = CCD_DEF_WINDOW;
	c->max_payload = CCD_DEF_MAX_PAYLOAD;
	c->memory_limit = CCD_DEF_MEMORY_LIMIT;
	c->spool_max_age_days = CCD_DEF_SPOOL_MAX_AGE;
	c->handshake_rate = CCD_DEF_HANDSHAKE_RATE;
	c->log_level = CCD_DEF_LOG_LEVEL;
	c->symbolize_workers = CCD_DEF_SYM_WORKERS;
	c->symbolize_timeout_ms = CCD_DEF_SYM_TIMEOUT_MS;
	c->symbolize_memory = CCD_DEF_SYM_MEMORY;
	c->symbolize_worker_jobs = CCD_DEF_SYM_WORKER_JOBS;
	c->symbolize_worker_rss = CCD_DEF_SYM_WORKER_RSS;
}

/* ---- value parsers ---------------------------------------------------- */

/* Leading decimal digits of s into *v (no sign, overflow checked); returns the
 * rest, or NULL if there were no digits or the number overflowed. */
static const char *parse_digits(const char *s, uint64_t *v)
{
	uint64_t n = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return NULL;
		n = n * 10 + d;
	}
	if (p == s)
		return NULL;
	*v = n;
	return p;
}

/* Sizes are binary like systemd's: K = 1024.  "B"/"iB" after the suffix is allowed. */
int ccd_parse_size(const char *s, uint64_t *out)
{
	uint64_t v, mul = 1;
	const char *p = parse_digits(s, &v);

	if (p == NULL)
		return -1;
	switch (toupper((unsigned char)*p)) {
	case 'K': mul = 1ull << 10; break;
	case 'M': mul = 1ull << 20; break;
	case 'G': mul = 1ull << 30; break;
	case 'T': mul = 1ull << 40; break;
	}
	if (mul != 1) {
		p++;
		if (*p == 'i')
			p++;
	}
	if (*p == 'B')
		p++;
	if (*p != '\0')
		return -1;
	if (v != 0 && mul > UINT64_MAX / v)
		return -1;
	*out = v * mul;
	return 0;
}

int ccd_parse_duration_ms(const char *s, uint64_t *out)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "", 1000 }, { "s", 1000 }, { "sec", 1000 }, { "ms", 1 },
		{ "m", 60000 }, { "min", 60000 }, { "h", 3600000 },
	};
	uint64_t v;
	const char *p = parse_digits(s, &v);

	if (p == NULL)
		return -1;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(p, units[i].unit) == 0) {
			if (v > UINT64_MAX / units[i].ms)
				return -1;
			*out = v * units[i].ms;
			return 0;
		}
	}
	return -1;
}

int ccd_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint64_t v;
	const char *p = parse_digits(s, &v);

	if (p == NULL || *p != '\0' || v < lo || v > hi)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_level(const char *s, int *out)
{
	static const char *names[] = { "emerg", "alert", "crit", "err", "warning",
				       "notice", "info", "debug" };
	uint32_t n;

	for (int i = 0; i < 8; i++)
		if (strcasecmp(s, names[i]) == 0) {
			*out = i < 3 ? 3 : i;
			return 0;
		}
	if (ccd_parse_u32(s, 0, 7, &n) == 0) {
		*out = n < 3 ? 3 : (int)n;
		return 0;
	}
	return -1;
}

/* ---- the key table ---------------------------------------------------- */

enum ktype { K_LISTEN, K_PATH, K_SIZE, K_SIZE_DEF, K_U32, K_DURATION, K_LEVEL, K_CMD };

struct key {
	const char *name;
	enum ktype type;
	size_t off;
	uint32_t lo, hi;         /* K_U32 bounds */
	const char *hint;        /* what a good value looks like, for errors */
	int restart;             /* change takes effect only on restart */
};

#define F(m) offsetof(struct ccd_config, m)
static const struct key keys[] = {
	{ "Listen", K_LISTEN, F(listen), 0, 0, "udp://ADDR:PORT", 1 },
	{ "Store", K_PATH, F(store), 0, 0, "an absolute directory", 1 },
	{ "MaxUse", K_SIZE_DEF, F(max_use), 0, 0, "a size like 4G", 0 },
	{ "KeepFree", K_SIZE_DEF, F(keep_free), 0, 0, "a size like 1G", 0 },
	{ "MaxSessions", K_U32, F(max_sessions), 1, 1000000, "1-1000000", 0 },
	{ "MaxCoreSize", K_SIZE, F(max_core_size), 0, 0, "a size like 2G", 0 },
	{ "MaxSessionsPerDevice", K_U32, F(max_sessions_per_device), 1, 1000000,
	  "1-1000000", 0 },
	{ "DeviceRate", K_U32, F(device_rate), 0, 1000000,
	  "dumps per minute, 0 for no limit", 0 },
	{ "SessionTimeout", K_DURATION, F(session_timeout_ms), 0, 0,
	  "a duration like 60s or 5min (at least 1s)", 0 },
	{ "ReceiveWindow", K_U32, F(receive_window), 1, CCD_MAX_WINDOW, "1-65535 packets", 0 },
	{ "MaxPayload", K_U32, F(max_payload), CCD_MIN_PAYLOAD, CCD_MAX_PAYLOAD,
	  "256-65000 bytes", 0 },
	{ "MemoryLimit", K_SIZE, F(memory_limit), 0, 0, "a size of at least 4M", 0 },
	{ "SpoolMaxAge", K_U32, F(spool_max_age_days), 1, 36500, "days, 1-36500", 0 },
	{ "LogLevel", K_LEVEL, F(log_level), 0, 0, "err, warning, notice, info or debug", 0 },
	{ "SymbolizeWorkers", K_U32, F(symbolize_workers), 0, 64, "0-64 workers", 0 },
	{ "SymbolizeTimeout", K_DURATION, F(symbolize_timeout_ms), 0, 0,
	  "a duration like 60s (at least 1s)", 0 },
	{ "SymbolizeMemory", K_SIZE, F(symbolize_memory), 0, 0, "a size of at least 16M", 0 },
	{ "SymbolizeWorkerJobs", K_U32, F(symbolize_worker_jobs), 0, 100000000,
	  "0-100000000 dumps (0: one process per dump)", 0 },
	{ "SymbolizeWorkerRSS", K_SIZE, F(symbolize_worker_rss), 0, 0, "a size of at least 16M", 0 },
	{ "OnNewGroup", K_CMD, F(on_new_group), 0, 0, "a command line", 0 },
	{ "OnRegression", K_CMD, F(on_regression), 0, 0, "a command line", 0 },
	{ "TLSCertificate", K_PATH, F(tls_cert), 0, 0, "an absolute path to a PEM file", 1 },
	{ "TLSKey", K_PATH, F(tls_key), 0, 0, "an absolute path to a PEM file", 1 },
	{ "TLSCA", K_PATH, F(tls_ca), 0, 0, "an absolute path to a PEM file", 1 },
	{ "DeviceKeys", K_PATH, F(device_keys), 0, 0, "an absolute path", 0 },
	{ "HandshakeRate", K_U32, F(handshake_rate), 0, 1000000,
	  "handshakes per minute per source, 0 for no limit", 0 },
};
#undef F

static void *field(struct ccd_config *c, const struct key *k)
{
	return (char *)c + k->off;
}

static const void *cfield(const struct ccd_config *c, const struct key *k)
{
	return (const char *)c + k->off;
}

/* Bytes of the field behind a key (not for K_LISTEN). */
static size_t key_size(const struct key *k)
{
	switch (k->type) {
	case K_PATH: return CCD_PATH_MAX;
	case K_CMD: return CCD_CMD_MAX;
	case K_U32: return sizeof(uint32_t);
	case K_LEVEL: return sizeof(int);
	default: return sizeof(uint64_t);
	}
}

/* Reset one key to its default (an empty assignment, as in systemd). */
static void reset_key(struct ccd_config *c, const struct key *k)
{
	struct ccd_config d;

	ccd_config_defaults(&d);
	if (k->type == K_LISTEN) {
		c->n_listen = 0;
		return;
	}
	memcpy(field(c, k), cfield(&d, k), key_size(k));
}

static int add_listen(struct ccd_config *c, const char *url, char *why, size_t wlen)
{
	enum ccd_url_err e;

	if (c->n_listen >= CCD_LISTEN_MAX) {
		snprintf(why, wlen, "more than %d addresses", CCD_LISTEN_MAX);
		return -1;
	}
	e = ccd_listen_parse(url, &c->listen[c->n_listen]);
	if (e != CCD_URL_OK) {
		snprintf(why, wlen, "%s: %s", url, ccd_url_strerror(e));
		return -1;
	}
	c->n_listen++;
	return 0;
}

/* Set key k from value v; on failure why says what was wrong. */
static int set_key(struct ccd_config *c, const struct key *k, char *v,
		   char *why, size_t wlen)
{
	uint64_t u64;
	uint32_t u32;
	int lvl;

	if (*v == '\0') {
		reset_key(c, k);
		return 0;
	}
	switch (k->type) {
	case K_LISTEN: {
		/* Several addresses may share one line, separated by spaces. */
		char *save = NULL;
		for (char *tok = strtok_r(v, " \t", &save); tok;
		     tok = strtok_r(NULL, " \t", &save))
			if (add_listen(c, tok, why, wlen) < 0)
				return -1;
		return 0;
	}
	case K_PATH:
		if (v[0] != '/' || strlen(v) >= CCD_PATH_MAX)
			break;
		snprintf(field(c, k), CCD_PATH_MAX, "%s", v);
		return 0;
	case K_CMD:
		if (strlen(v) >= CCD_CMD_MAX)
			break;
		snprintf(field(c, k), CCD_CMD_MAX, "%s", v);
		return 0;
	case K_SIZE_DEF:
		if (strcasecmp(v, "default") == 0) {
			*(uint64_t *)field(c, k) = CCD_SIZE_DEFAULT;
			return 0;
		}
		/* fall through */
	case K_SIZE:
		if (ccd_parse_size(v, &u64) < 0)
			break;
		if (k->off == offsetof(struct ccd_config, memory_limit) &&
		    u64 < CCD_MIN_MEMORY_LIMIT)
			break;
		if (k->off == offsetof(struct ccd_config, max_core_size) && u64 == 0)
			break;
		if ((k->off == offsetof(struct ccd_config, symbolize_memory) ||
		     k->off == offsetof(struct ccd_config, symbolize_worker_rss)) && u64 < (16u << 20))
			break;
		*(uint64_t *)field(c, k) = u64;
		return 0;
	case K_U32:
		if (ccd_parse_u32(v, k->lo, k->hi, &u32) < 0)
			break;
		*(uint32_t *)field(c, k) = u32;
		return 0;
	case K_DURATION:
		if (ccd_parse_duration_ms(v, &u64) < 0 || u64 < 1000)
			break;
		*(uint64_t *)field(c, k) = u64;
		return 0;
	case K_LEVEL:
		if (parse_level(v, &lvl) < 0)
			break;
		*(int *)field(c, k) = lvl;
		return 0;
	}
	snprintf(why, wlen, "'%s' is not %s", v, k->hint);
	return -1;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void note(ccd_cfg_note_fn fn, void *ctx, int warning, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void note(ccd_cfg_note_fn fn, void *ctx, int warning, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fn(ctx, warning, msg);
}

enum ccd_cfg_err ccd_config_parse_string(struct ccd_config *c, const char *name,
					 const char *text, char *err, size_t errlen,
					 ccd_cfg_note_fn nfn, void *ctx)
{
	int lineno = 0;
	int in_ours = 1;          /* keys before any section count as ours */
	const char *p = text;

	while (*p) {
		char buf[1024], why[256];
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line, *eq, *key, *val;
		const struct key *k = NULL;

		lineno++;
		if (len >= sizeof buf) {
			snprintf(err, errlen, "%s:%d: line longer than %zu bytes", name,
				 lineno, sizeof buf - 1);
			return CCD_CFG_SYNTAX;
		}
		memcpy(buf, p, len);
		buf[len] = '\0';
		p = nl ? nl + 1 : p + len;
		line = trim(buf);
		if (*line == '\0' || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			size_t l = strlen(line);
			if (line[l - 1] != ']') {
				snprintf(err, errlen, "%s:%d: unterminated section header '%s'",
					 name, lineno, line);
				return CCD_CFG_SYNTAX;
			}
			line[l - 1] = '\0';
			in_ours = strcmp(line + 1, SECTION) == 0;
			if (!in_ours)
				note(nfn, ctx, 1, "%s:%d: unknown section [%s], its keys are ignored",
				     name, lineno, line + 1);
			continue;
		}
		eq = strchr(line, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "%s:%d: expected Key=Value, got '%s'", name,
				 lineno, line);
			return CCD_CFG_SYNTAX;
		}
		*eq = '\0';
		key = trim(line);
		val = trim(eq + 1);
		if (*key == '\0') {
			snprintf(err, errlen, "%s:%d: missing key before '='", name, lineno);
			return CCD_CFG_SYNTAX;
		}
		if (!in_ours)
			continue;
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
			if (strcmp(keys[i].name, key) == 0)
				k = &keys[i];
		if (k == NULL) {
			note(nfn, ctx, 1, "%s:%d: unknown key '%s' ignored", name, lineno, key);
			continue;
		}
		if (set_key(c, k, val, why, sizeof why) < 0) {
			snprintf(err, errlen, "%s:%d: %s: %s", name, lineno, k->name, why);
			return k->type == K_LISTEN && c->n_listen >= CCD_LISTEN_MAX
				? CCD_CFG_TOO_MANY : CCD_CFG_VALUE;
		}
	}
	return CCD_CFG_OK;
}

enum ccd_cfg_err ccd_config_parse_file(struct ccd_config *c, const char *path,
				       char *err, size_t errlen,
				       ccd_cfg_note_fn nfn, void *ctx)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t cap = 0, len = 0;
	enum ccd_cfg_err r;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return CCD_CFG_OPEN;
	}
	/* Configuration files are small; refuse anything absurd rather than
	 * growing without bound. */
	for (;;) {
		if (len + 4096 + 1 > cap) {
			if (cap >= (1u << 20)) {
				fclose(f);
				free(text);
				snprintf(err, errlen, "%s: larger than 1 MiB", path);
				return CCD_CFG_OPEN;
			}
			cap = cap ? cap * 2 : 8192;
			char *n = realloc(text, cap);
			if (n == NULL) {
				fclose(f);
				free(text);
				snprintf(err, errlen, "%s: out of memory", path);
				return CCD_CFG_OPEN;
			}
			text = n;
		}
		size_t got = fread(text + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		fclose(f);
		free(text);
		return CCD_CFG_OPEN;
	}
	fclose(f);
	text[len] = '\0';
	if (strlen(text) != len) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		free(text);
		return CCD_CFG_SYNTAX;
	}
	r = ccd_config_parse_string(c, path, text, err, errlen, nfn, ctx);
	free(text);
	return r;
}

void ccd_config_apply_overrides(struct ccd_config *c, const struct ccd_overrides *o)
{
	if (o == NULL)
		return;
	if (o->n_listen > 0) {
		c->n_listen = o->n_listen;
		memcpy(c->listen, o->listen, sizeof c->listen[0] * (size_t)o->n_listen);
	}
	if (o->store != NULL)
		snprintf(c->store, sizeof c->store, "%s", o->store);
}

enum ccd_cfg_err ccd_config_load(struct ccd_config *out, const char *path,
				 const struct ccd_overrides *o, char *err, size_t errlen,
				 ccd_cfg_note_fn nfn, void *ctx)
{
	enum ccd_cfg_err r;

	ccd_config_defaults(out);
	if (path != NULL) {
		r = ccd_config_parse_file(out, path, err, errlen, nfn, ctx);
		if (r != CCD_CFG_OK)
			return r;
	}
	ccd_config_apply_overrides(out, o);
	return CCD_CFG_OK;
}

/* ---- reload ------------------------------------------------------------ */

static void format_key(const struct ccd_config *c, const struct key *k, char *b, size_t n)
{
	uint64_t v;

	switch (k->type) {
	case K_LISTEN: {
		size_t used = 0;
		b[0] = '\0';
		for (int i = 0; i < c->n_listen && used < n; i++)
			used += (size_t)snprintf(b + used, n - used, "%s%s", i ? " " : "",
						 c->listen[i].url);
		if (c->n_listen == 0)
			snprintf(b, n, "(none)");
		return;
	}
	case K_PATH:
	case K_CMD:
		snprintf(b, n, "%s", (const char *)cfield(c, k));
		if (k->type == K_CMD && b[0] == '\0')
			snprintf(b, n, "(none)");
		return;
	case K_SIZE_DEF:
	case K_SIZE:
	case K_DURATION:
		v = *(const uint64_t *)cfield(c, k);
		if (k->type == K_SIZE_DEF && v == CCD_SIZE_DEFAULT)
			snprintf(b, n, "default");
		else if (k->type == K_DURATION)
			snprintf(b, n, "%llums", (unsigned long long)v);
		else
			snprintf(b, n, "%llu", (unsigned long long)v);
		return;
	case K_U32:
		snprintf(b, n, "%u", *(const uint32_t *)cfield(c, k));
		return;
	case K_LEVEL:
		snprintf(b, n, "%d", *(const int *)cfield(c, k));
		return;
	}
}

enum ccd_cfg_err ccd_config_reload(struct ccd_config *cur, const char *path,
				   const struct ccd_overrides *o, char *err, size_t errlen,
				   ccd_cfg_note_fn nfn, void *ctx, int *changed)
{
	struct ccd_config *next = malloc(sizeof *next);
	enum ccd_cfg_err r;
	int n = 0;

	if (changed)
		*changed = 0;
	if (next == NULL) {
		snprintf(err, errlen, "reload: out of memory");
		return CCD_CFG_OPEN;
	}
	r = ccd_config_load(next, path, o, err, errlen, nfn, ctx);
	if (r != CCD_CFG_OK) {
		free(next);
		return r;
	}
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const struct key *k = &keys[i];
		char a[CCD_CMD_MAX + 100], b[CCD_CMD_MAX + 100];

		format_key(cur, k, a, sizeof a);
		format_key(next, k, b, sizeof b);
		if (strcmp(a, b) == 0)
			continue;
		n++;
		if (k->restart) {
			note(nfn, ctx, 0, "%s: %s -> %s (takes effect on restart; keeping %s)",
			     k->name, a, b, a);
			continue;
		}
		note(nfn, ctx, 0, "%s: %s -> %s", k->name, a, b);
		memcpy(field(cur, k), cfield(next, k), key_size(k));
	}
	free(next);
	if (changed)
		*changed = n;
	return CCD_CFG_OK;
}
