/* kernel/coredump/serial.h: the serial (console text) sink for the core writer. */
#ifndef COREDUMP_SERIAL_H
#define COREDUMP_SERIAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Text form of a core, for a console that is the only way out (docs/core-format.md):
 *
 *   _____________COREDUMP_START_____________
 *   <path>: <cause>
 *   <base64 of RLE(core || crc32le(core)), wrapped at `width` columns>
 *   _____________COREDUMP_END_____________
 *
 * RLE: a run of 4 or more equal bytes, and any 0xFE, is written 0xFE, LEB128(run
 * length), byte; everything else is literal.  The encoder is a state machine fed
 * through cw_serial_sink (a cw_sink_fn), with no buffer beyond one output line.
 */

#define CW_SERIAL_START "_____________COREDUMP_START_____________"
#define CW_SERIAL_END   "_____________COREDUMP_END_____________"
#define CW_SERIAL_RLE_MARK 0xfeu   /* starts a run: MARK, LEB128(length), byte */
#define CW_SERIAL_RLE_MIN  4u      /* shorter runs (except of MARK itself) stay literal */
#define CW_SERIAL_WIDTH_MAX 256
#define CW_SERIAL_WIDTH_DEFAULT 76

/* Writes n characters to the console; lines end in "\n". */
typedef void (*cw_serial_put_fn)(void *ctx, const char *s, size_t n);

struct cw_serial {
	cw_serial_put_fn put;
	void *ctx;
	uint32_t width;
	uint32_t crc;            /* over the core bytes, not the encoding */
	uint64_t run;            /* length of the pending run of run_byte */
	uint8_t run_byte;
	uint8_t b64[3];          /* pending base64 input */
	uint32_t b64n;
	uint32_t col;            /* characters in line[] */
	char line[CW_SERIAL_WIDTH_MAX + 1];
	uint64_t in_bytes, out_chars;   /* for logs and benches */
};

/* Start marker and header line.  width 0 = CW_SERIAL_WIDTH_DEFAULT.  Newlines in
 * path or cause are written as spaces, so the header stays one line. */
void cw_serial_begin(struct cw_serial *s, cw_serial_put_fn put, void *ctx, uint32_t width,
                     const char *path, const char *cause);

/* cw_sink_fn: encode core bytes.  Always returns 0. */
int cw_serial_sink(void *s, const void *buf, size_t len);

/* Flush the run, append the CRC, finish base64 and write the end marker. */
void cw_serial_end(struct cw_serial *s);

/* Exposed for the decoder's tests and the bench: base64 alphabet. */
extern const char cw_b64_alphabet[64];

#endif /* COREDUMP_SERIAL_H */
