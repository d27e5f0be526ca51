/* collector/serial/decode.c: locates serial dumps in a log and decodes base64 + RLE + CRC-32. */
#include "collector/serial/serial.h"

#include <stdlib.h>
#include <string.h>

#include "kernel/coredump/crc32.h"
#include "kernel/coredump/serial.h"

#define DEFAULT_MAX ((size_t)1 << 30)

const char *ser_strerror(enum ser_status s)
{
	switch (s) {
	case SER_OK: return "ok";
	case SER_TRUNCATED: return "truncated (no end marker)";
	case SER_BAD_CHAR: return "unexpected characters inside the body";
	case SER_BAD_BASE64: return "invalid base64 (lines missing or damaged)";
	case SER_BAD_RLE: return "invalid run-length encoding";
	case SER_TOO_SHORT: return "body too short to hold a CRC";
	case SER_CRC: return "CRC mismatch";
	case SER_TOO_LARGE: return "decoded core exceeds the size limit";
	case SER_NOMEM: return "out of memory";
	}
	return "unknown status";
}

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Growable output for the RLE decoder, bounded by max. */
struct obuf { uint8_t *p; size_t n, cap, max; };

static enum ser_status ob_put(struct obuf *o, uint8_t b, uint64_t count)
{
	if (count > o->max || o->n > o->max - count)
		return SER_TOO_LARGE;
	if (o->n + count > o->cap) {
		size_t nc = o->cap ? o->cap : 4096;
		while (nc < o->n + count)
			nc *= 2;
		uint8_t *np = realloc(o->p, nc);
		if (!np)
			return SER_NOMEM;
		o->p = np;
		o->cap = nc;
	}
	memset(o->p + o->n, b, (size_t)count);
	o->n += (size_t)count;
	return SER_OK;
}

/* RLE state machine over the decoded base64 bytes. */
struct rle {
	int state;               /* 0 literal, 1 in LEB128 length, 2 expecting the run byte */
	uint64_t len;
	unsigned shift;
};

static enum ser_status rle_feed(struct rle *r, struct obuf *o, uint8_t b)
{
	switch (r->state) {
	case 0:
		if (b != CW_SERIAL_RLE_MARK)
			return ob_put(o, b, 1);
		r->state = 1;
		r->len = 0;
		r->shift = 0;
		return SER_OK;
	case 1:
		if (r->shift > 56)
			return SER_BAD_RLE;
		r->len |= (uint64_t)(b & 0x7f) << r->shift;
		r->shift += 7;
		if (!(b & 0x80)) {
			if (r->len == 0)
				return SER_BAD_RLE;
			r->state = 2;
		}
		return SER_OK;
	default:
		r->state = 0;
		return ob_put(o, b, r->len);
	}
}

enum ser_status ser_decode_body(const char *body, size_t len, size_t max_core,
                                uint8_t **core, size_t *core_len,
                                uint32_t *crc_found, uint32_t *crc_computed)
{
	struct obuf o = { NULL, 0, 0, (max_core ? max_core : DEFAULT_MAX) + 4 };
	struct rle r = { 0, 0, 0 };
	uint32_t acc = 0;
	int nacc = 0, pad = 0;
	enum ser_status st = SER_OK;

	*core = NULL;
	*core_len = 0;
	for (size_t i = 0; i < len && st == SER_OK; i++) {
		unsigned char c = (unsigned char)body[i];
		if (is_space((char)c))
			continue;
		if (c == '=') {
			if (nacc < 2) {
				st = SER_BAD_BASE64;
				break;
			}
			pad++;
			nacc++;
			acc <<= 6;
			if (nacc == 4) {
				/* padding closes the stream: emit 1 or 2 bytes, then only '=' may follow.
				 * The bits the padding leaves unused must be zero (canonical base64), so
				 * damage to the last character is caught too. */
				int nbytes = 3 - pad;
				if (acc & (pad == 2 ? 0xffffu : 0xffu)) {
					st = SER_BAD_BASE64;
					break;
				}
				for (int k = 0; k < nbytes && st == SER_OK; k++)
					st = rle_feed(&r, &o, (uint8_t)(acc >> (16 - 8 * k)));
				nacc = 0;
				for (size_t j = i + 1; j < len; j++)
					if (!is_space(body[j])) {
						st = SER_BAD_BASE64;
						break;
					}
				break;
			}
			continue;
		}
		int v = b64_val(c);
		if (v < 0) {
			st = SER_BAD_CHAR;
			break;
		}
		if (pad) {
			st = SER_BAD_BASE64;
			break;
		}
		acc = (acc << 6) | (uint32_t)v;
		if (++nacc == 4) {
			for (int k = 0; k < 3 && st == SER_OK; k++)
				st = rle_feed(&r, &o, (uint8_t)(acc >> (16 - 8 * k)));
			nacc = 0;
			acc = 0;
		}
	}
	if (st == SER_OK && nacc != 0)
		st = SER_BAD_BASE64;
	if (st == SER_OK && r.state != 0)
		st = SER_BAD_RLE;
	if (st == SER_OK && o.n < 4)
		st = SER_TOO_SHORT;
	if (st == SER_OK) {
		size_t n = o.n - 4;
		uint32_t want = (uint32_t)o.p[n] | (uint32_t)o.p[n + 1] << 8 | (uint32_t)o.p[n + 2] << 16 |
		                (uint32_t)o.p[n + 3] << 24;
		uint32_t got = cw_crc32(0, o.p, n);
		if (crc_found)
			*crc_found = want;
		if (crc_computed)
			*crc_computed = got;
		if (want != got) {
			st = SER_CRC;
		} else if (max_core && n > max_core) {
			st = SER_TOO_LARGE;
		} else {
			*core = o.p;
			*core_len = n;
			return SER_OK;
		}
	}
	free(o.p);
	return st;
}

static const char *find(const char *hay, const char *end, const char *needle)
{
	size_t n = strlen(needle);
	if ((size_t)(end - hay) < n)
		return NULL;
	return memmem(hay, (size_t)(end - hay), needle, n);
}

static size_t count_lines(const char *from, const char *to)
{
	size_t n = 0;
	for (const char *p = from; p < to; p++)
		n += *p == '\n';
	return n;
}

static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	return nl ? nl : end;
}

size_t ser_scan(const char *text, size_t len, size_t max_core, ser_dump_fn cb, void *ctx)
{
	const char *p = text, *end = text + len, *counted = text;
	size_t line = 1, found = 0;
	struct ser_dump *d = malloc(sizeof *d);
	if (!d)
		return 0;

	for (;;) {
		const char *s = find(p, end, CW_SERIAL_START);
		if (!s)
			break;
		memset(d, 0, sizeof *d);
		line += count_lines(counted, s);
		counted = s;
		d->line = line;

		/* header: the line after the marker line */
		const char *h = line_end(s, end);
		h = h < end ? h + 1 : end;
		const char *he = line_end(h, end);
		const char *next_start = find(s + strlen(CW_SERIAL_START), end, CW_SERIAL_START);
		const char *body = he < end ? he + 1 : end;
		if (next_start && next_start < he) {  /* no header line before the next dump */
			he = h = body = next_start;
		}
		size_t hl = (size_t)(he - h);
		if (hl && h[hl - 1] == '\r')
			hl--;
		if (hl >= SER_HEADER_MAX)
			hl = SER_HEADER_MAX - 1;
		memcpy(d->header, h, hl);
		d->header[hl] = 0;
		char *colon = strstr(d->header, ": ");
		size_t pl = colon ? (size_t)(colon - d->header) : hl;
		memcpy(d->path, d->header, pl);
		d->path[pl] = 0;
		d->cause = colon ? colon + 2 : d->header + hl;

		const char *e = find(body, end, CW_SERIAL_END);
		if (!e || (next_start && next_start < e)) {
			d->status = SER_TRUNCATED;
			found++;
			int stop = cb(ctx, d);
			p = next_start ? next_start : end;
			if (stop || !next_start)
				break;
			continue;
		}
		d->end_line = line + count_lines(s, e);
		uint8_t *core = NULL;
		size_t clen = 0;
		d->status = ser_decode_body(body, (size_t)(e - body), max_core, &core, &clen,
		                            &d->crc_found, &d->crc_computed);
		d->core = core;
		d->core_len = clen;
		found++;
		int stop = cb(ctx, d);
		free(core);
		p = e + strlen(CW_SERIAL_END);
		if (stop)
			break;
	}
	free(d);
	return found;
}
