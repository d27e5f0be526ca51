/* kernel/coredump/serial.c: streams a core as marker-framed base64 of an RLE stream with CRC-32. */
#include "kernel/coredump/serial.h"

#include "kernel/coredump/crc32.h"

const char cw_b64_alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void flush_line(struct cw_serial *s)
{
	if (s->col == 0)
		return;
	s->line[s->col++] = '\n';
	s->put(s->ctx, s->line, s->col);
	s->out_chars += s->col;
	s->col = 0;
}

static void put_char(struct cw_serial *s, char c)
{
	s->line[s->col++] = c;
	if (s->col == s->width)
		flush_line(s);
}

static void b64_group(struct cw_serial *s, const uint8_t *in, uint32_t n)
{
	uint32_t v = (uint32_t)in[0] << 16 | (n > 1 ? (uint32_t)in[1] << 8 : 0) | (n > 2 ? in[2] : 0);
	put_char(s, cw_b64_alphabet[(v >> 18) & 63]);
	put_char(s, cw_b64_alphabet[(v >> 12) & 63]);
	put_char(s, n > 1 ? cw_b64_alphabet[(v >> 6) & 63] : '=');
	put_char(s, n > 2 ? cw_b64_alphabet[v & 63] : '=');
}

/* One byte of the RLE stream into base64. */
static void enc_byte(struct cw_serial *s, uint8_t b)
{
	s->b64[s->b64n++] = b;
	if (s->b64n == 3) {
		b64_group(s, s->b64, 3);
		s->b64n = 0;
	}
}

static void flush_run(struct cw_serial *s)
{
	if (s->run == 0)
		return;
	if (s->run >= CW_SERIAL_RLE_MIN || s->run_byte == CW_SERIAL_RLE_MARK) {
		uint64_t n = s->run;
		enc_byte(s, CW_SERIAL_RLE_MARK);
		do {                                 /* LEB128, least significant group first */
			uint8_t g = n & 0x7f;
			n >>= 7;
			enc_byte(s, (uint8_t)(g | (n ? 0x80 : 0)));
		} while (n);
		enc_byte(s, s->run_byte);
	} else {
		for (uint64_t i = 0; i < s->run; i++)
			enc_byte(s, s->run_byte);
	}
	s->run = 0;
}

static void rle_byte(struct cw_serial *s, uint8_t b)
{
	if (s->run && b == s->run_byte) {
		s->run++;
		return;
	}
	flush_run(s);
	s->run_byte = b;
	s->run = 1;
}

static void put_str_line(struct cw_serial *s, const char *str)
{
	uint32_t n = 0;
	while (str && str[n])
		n++;
	s->put(s->ctx, str ? str : "", n);
	s->put(s->ctx, "\n", 1);
}

void cw_serial_begin(struct cw_serial *s, cw_serial_put_fn put, void *ctx, uint32_t width,
                     const char *path, const char *cause)
{
	s->put = put;
	s->ctx = ctx;
	s->width = (width == 0 || width > CW_SERIAL_WIDTH_MAX) ? CW_SERIAL_WIDTH_DEFAULT : width;
	s->width &= ~3u;         /* whole base64 groups per line */
	if (s->width == 0)
		s->width = 4;
	s->crc = 0;
	s->run = 0;
	s->run_byte = 0;
	s->b64n = 0;
	s->col = 0;
	s->in_bytes = s->out_chars = 0;
	put_str_line(s, CW_SERIAL_START);
	/* header: path, ": ", cause — one line whatever the strings hold */
	const char *parts[3] = { path ? path : "?", ": ", cause ? cause : "" };
	for (int p = 0; p < 3; p++)
		for (const char *c = parts[p]; *c; c++) {
			char ch = (*c == '\n' || *c == '\r') ? ' ' : *c;
			s->put(s->ctx, &ch, 1);
		}
	s->put(s->ctx, "\n", 1);
}

int cw_serial_sink(void *ctx, const void *buf, size_t len)
{
	struct cw_serial *s = ctx;
	const uint8_t *p = buf;
	s->crc = cw_crc32(s->crc, buf, len);
	s->in_bytes += len;
	/* whole runs at a time: zero pages cost one comparison per byte */
	size_t i = 0;
	while (i < len) {
		uint8_t b = p[i];
		size_t j = i + 1;
		while (j < len && p[j] == b)
			j++;
		if (!(s->run && b == s->run_byte)) {
			flush_run(s);
			s->run_byte = b;
			s->run = 0;
		}
		s->run += j - i;
		i = j;
	}
	return 0;
}

void cw_serial_end(struct cw_serial *s)
{
	uint8_t c[4] = { (uint8_t)s->crc, (uint8_t)(s->crc >> 8), (uint8_t)(s->crc >> 16),
	                 (uint8_t)(s->crc >> 24) };
	for (int i = 0; i < 4; i++)
		rle_byte(s, c[i]);
	flush_run(s);
	if (s->b64n)
		b64_group(s, s->b64, s->b64n);
	s->b64n = 0;
	flush_line(s);
	put_str_line(s, CW_SERIAL_END);
}
