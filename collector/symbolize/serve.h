/* corecast-symbolize --serve: a long-lived worker that symbolizes one core per job line, keeping its cache. */
#ifndef CORECAST_SYMBOLIZE_SERVE_H
#define CORECAST_SYMBOLIZE_SERVE_H

#include <stdbool.h>
#include <stdio.h>

#include "collector/symbolize/symbolize.h"

/*
 * The protocol (documented in README.md), one job at a time:
 *   in:  "job ID CORE [zst=SIZE] [exe=PATH] [buildid=HEX[:NAME]]...\n"   %XX-encoded
 *        (zst=SIZE: CORE is zstd-compressed, SIZE bytes decompressed, as the store keeps it)
 *   out: "ok ID LEN\n" + LEN bytes of the JSON document, or
 *        "fail ID LEN\n" + LEN bytes: one line naming the cause
 * A job line longer than SYMSERVE_MAX_LINE or one that does not parse ends the
 * worker (exit 2): its parent sent garbage and nothing it says can be trusted.
 */
#define SYMSERVE_MAX_LINE (64u * 1024)

/* HEX[:NAME] -> hint; false if HEX is not an even number (>= 4) of hex digits. */
bool symserve_parse_hint(const char *arg, struct sym_hint *h);

/* Decode %XX escapes in place; false on a malformed escape or an encoded NUL. */
bool symserve_unescape(char *s);

/* Serve jobs from in to out until EOF (0) or a protocol error (2).  base holds the
 * options fixed for the worker's life (store, debuginfod timeout). */
int symserve_run(FILE *in, FILE *out, const struct sym_options *base);

#endif
