/* collector/corecastctl/ctl.h: what every corecastctl command shares — options, store, output helpers. */
#ifndef CORECASTCTL_CTL_H
#define CORECASTCTL_CTL_H

#include <stdint.h>
#include <stdio.h>

#include "collector/json/json_write.h"
#include "collector/store/store.h"

/*
 * State handed to every command.  main.c parses the global options (accepted before
 * or after the command name) and opens the store before the command runs.
 */
struct ctl {
	const char *store_dir;  /* --store DIR, else $CORECAST_STORE, else /var/lib/corecast */
	int json;               /* --json: machine-readable output on stdout */
	struct store *st;       /* the opened store (NULL for commands that need none) */
};

/*
 * Declares or defines a command handler; main.c's table and the command's own file
 * both use it, so the signature exists once.  A command file cmd_foo.c reads:
 *
 *     CTL_COMMAND(foo);
 *     CTL_COMMAND(foo) { ... return 0; }
 *
 * argv[0] is the command name; global options are already removed.  Return the
 * process exit status (0 on success).
 */
#define CTL_COMMAND(name) int cmd_##name(struct ctl *c, int argc, char **argv)

/* Print "corecastctl: <message>" on stderr (one line naming object and cause);
 * returns 1 so commands can `return ctl_fail(...)`. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a dump id (decimal, > 0); prints the error itself and returns -1 if bad. */
int ctl_parse_id(const char *s, uint64_t *id);

/*
 * Parse a --since argument: an ISO date/time ("2026-11-26", "2026-11-26T06:00:00Z",
 * "2026-11-26 06:00") taken as UTC, or an age relative to now ("30s", "15m", "1h",
 * "2d", "1w").  Returns 0 and the Unix time, or -1.
 */
int ctl_parse_since(const char *s, int64_t now, int64_t *out);

/* Format Unix seconds as "2026-11-26T06:24:48Z" (buf >= 21 bytes). */
void ctl_iso_time(int64_t t, char *buf, size_t n);
/* Format Unix seconds as local-free "2026-11-26 06:24:48" UTC for tables. */
void ctl_table_time(int64_t t, char *buf, size_t n);
/* Human size: "812B", "12.3K", "4.0M", "1.2G" (binary units). */
void ctl_human_size(uint64_t n, char *buf, size_t len);
/* Signal name without "SIG" prefix, e.g. "SEGV"; decimal for unknown numbers. */
const char *ctl_signame(uint32_t sig, char *buf, size_t n);

/* JSON output helpers: write a quoted, escaped JSON string (the collector's one
 * writer, shared with corecast-symbolize: UTF-8 kept, invalid bytes U+FFFD). */
static inline void ctl_json_str(FILE *f, const char *s)
{
	json_write_str(f, s);
}
/* Write one dump record as a JSON object (no trailing newline).  Commands that add
 * fields later pass extra, a function printing `,"key":value...` inside the object. */
void ctl_json_rec(FILE *f, const struct store_rec *r,
                  void (*extra)(FILE *f, const struct store_rec *r, void *arg), void *arg);

#endif /* CORECASTCTL_CTL_H */
