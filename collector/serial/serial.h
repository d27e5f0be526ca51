/* collector/serial/serial.h: finds and decodes serial core dumps in console logs. */
#ifndef COLLECTOR_SERIAL_SERIAL_H
#define COLLECTOR_SERIAL_SERIAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * The format is the one kernel/coredump/serial.c writes (docs/core-format.md).  A
 * log may hold any number of dumps with any noise before, between and after them,
 * CRLF line ends, and bodies either wrapped or on one line.  Every dump found is
 * reported, good or bad, so a bad one can be named to the operator.
 */

enum ser_status {
	SER_OK = 0,
	SER_TRUNCATED,     /* no end marker before the next start marker or end of log */
	SER_BAD_CHAR,      /* a character that is not base64 inside the body (noise?) */
	SER_BAD_BASE64,    /* body length or padding is not valid base64 */
	SER_BAD_RLE,       /* run-length stream ends inside a run or has a zero run */
	SER_TOO_SHORT,     /* fewer bytes than the CRC itself */
	SER_CRC,           /* CRC-32 over the core does not match */
	SER_TOO_LARGE,     /* decoded core larger than the caller's limit */
	SER_NOMEM,
};

const char *ser_strerror(enum ser_status s);

#define SER_HEADER_MAX 512

struct ser_dump {
	size_t line;              /* 1-based line of the start marker */
	size_t end_line;          /* line of the end marker (0 if none) */
	char header[SER_HEADER_MAX];  /* "<path>: <cause>", CR removed, cut at SER_HEADER_MAX-1 */
	char path[SER_HEADER_MAX];    /* header up to the first ": " */
	const char *cause;        /* points into header after ": " ("" if none) */
	enum ser_status status;
	const uint8_t *core;      /* decoded core, valid during the callback, SER_OK only */
	size_t core_len;
	uint32_t crc_found, crc_computed;   /* for SER_CRC */
};

/* Called once per dump in log order; return non-zero to stop the scan. */
typedef int (*ser_dump_fn)(void *ctx, const struct ser_dump *d);

/* Scan a log held in memory.  max_core bounds a decoded core (0 = 1 GiB).
 * Returns the number of dumps reported. */
size_t ser_scan(const char *text, size_t len, size_t max_core, ser_dump_fn cb, void *ctx);

/* Decode one body (base64 of RLE of core||crc32le) into a malloc'd core.  The body
 * may contain whitespace.  On SER_OK the core and its length are set; the caller frees the core. */
enum ser_status ser_decode_body(const char *body, size_t len, size_t max_core,
                                uint8_t **core, size_t *core_len,
                                uint32_t *crc_found, uint32_t *crc_computed);

#endif /* COLLECTOR_SERIAL_SERIAL_H */
