/* tests/unit/test_cw_serial.c: serial format — CRC-32, RLE + base64 round trips, log scanning, every corruption class. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/serial/serial.h"
#include "kernel/coredump/crc32.h"
#include "kernel/coredump/serial.h"

struct text { char *p; size_t n, cap; };

static void t_put(void *c, const char *s, size_t n)
{
	struct text *t = c;
	if (t->n + n + 1 > t->cap) {
		t->cap = (t->n + n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		assert_non_null(t->p);
	}
	memcpy(t->p + t->n, s, n);
	t->n += n;
	t->p[t->n] = 0;
}

static void t_str(struct text *t, const char *s) { t_put(t, s, strlen(s)); }

/* Encode data as a serial dump appended to t, fed to the sink in uneven pieces. */
static void encode(struct text *t, const uint8_t *data, size_t len, uint32_t width, const char *path,
                   const char *cause)
{
	struct cw_serial s;
	cw_serial_begin(&s, t_put, t, width, path, cause);
	size_t off = 0, step = 1;
	while (off < len) {
		size_t k = step < len - off ? step : len - off;
		assert_int_equal(cw_serial_sink(&s, data + off, k), 0);
		off += k;
		step = step * 3 + 1;
	}
	cw_serial_end(&s);
}

#define MAXD 8
struct found {
	size_t n;
	struct { enum ser_status st; size_t line; char header[SER_HEADER_MAX]; char path[SER_HEADER_MAX];
	         char cause[SER_HEADER_MAX]; uint8_t *core; size_t len; } d[MAXD];
};

static int collect(void *c, const struct ser_dump *d)
{
	struct found *f = c;
	if (f->n >= MAXD)
		return 1;
	f->d[f->n].st = d->status;
	f->d[f->n].line = d->line;
	strcpy(f->d[f->n].header, d->header);
	strcpy(f->d[f->n].path, d->path);
	strcpy(f->d[f->n].cause, d->cause);
	f->d[f->n].core = NULL;
	f->d[f->n].len = d->core_len;
	if (d->status == SER_OK) {
		f->d[f->n].core = malloc(d->core_len + 1);
		memcpy(f->d[f->n].core, d->core, d->core_len);
	}
	f->n++;
	return 0;
}

static void found_free(struct found *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->d[i].core);
	f->n = 0;
}

static size_t scan(const struct text *t, struct found *f)
{
	memset(f, 0, sizeof *f);
	return ser_scan(t->p, t->n, 0, collect, f);
}

static uint8_t *sample(size_t len, unsigned seed)
{
	uint8_t *b = malloc(len ? len : 1);
	srand(seed);
	size_t i = 0;
	while (i < len) {
		int kind = rand() % 5;
		size_t run = (size_t)(rand() % (kind == 0 ? 3000 : 9)) + 1;
		uint8_t v = kind == 1 ? 0xfe : (uint8_t)rand();
		for (size_t k = 0; k < run && i < len; k++)
			b[i++] = kind >= 3 ? (uint8_t)rand() : v;
	}
	return b;
}

static void test_crc32_matches_zlib(void **state)
{
	(void)state;
	assert_int_equal(cw_crc32(0, "123456789", 9), 0xcbf43926u);
	assert_int_equal(cw_crc32(cw_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
	assert_int_equal(cw_crc32(0, "", 0), 0);
}

static void test_round_trip_random_data_all_widths(void **state)
{
	(void)state;
	size_t sizes[] = { 0, 1, 2, 3, 4, 5, 100, 4096, 70001, 1 << 20 };
	uint32_t widths[] = { 4, 64, 76, 256, 0 };
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		uint8_t *d = sample(sizes[s], (unsigned)s);
		for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
			struct text t = { 0 };
			struct found f;
			encode(&t, d, sizes[s], widths[w], "/bin/app", "load page fault at 0x0");
			/* bounded line width */
			size_t col = 0, maxcol = 0;
			for (size_t i = 0; i < t.n; i++) {
				col = t.p[i] == '\n' ? 0 : col + 1;
				if (col > maxcol)
					maxcol = col;
			}
			assert_true(maxcol <= 256);
			assert_int_equal(scan(&t, &f), 1);
			assert_int_equal(f.d[0].st, SER_OK);
			assert_int_equal(f.d[0].len, sizes[s]);
			if (sizes[s])
				assert_memory_equal(f.d[0].core, d, sizes[s]);
			assert_string_equal(f.d[0].path, "/bin/app");
			assert_string_equal(f.d[0].cause, "load page fault at 0x0");
			assert_int_equal(f.d[0].line, 1);
			found_free(&f);
			free(t.p);
		}
		free(d);
	}
}

/* Decode the base64 of an encoded dump back to the RLE stream, to check its form. */
static size_t rle_bytes(const uint8_t *data, size_t len, uint8_t *out)
{
	struct text t = { 0 };
	encode(&t, data, len, 0, "x", "y");
	char *b = strchr(strchr(t.p, '\n') + 1, '\n') + 1;
	size_t n = 0;
	uint32_t acc = 0;
	int k = 0;
	for (; *b && *b != '_'; b++) {
		const char *p = memchr(cw_b64_alphabet, *b, sizeof cw_b64_alphabet);
		if (!p)
			continue;
		acc = acc << 6 | (uint32_t)(p - cw_b64_alphabet);
		if (++k == 4) {
			out[n++] = (uint8_t)(acc >> 16);
			out[n++] = (uint8_t)(acc >> 8);
			out[n++] = (uint8_t)acc;
			k = 0;
		}
	}
	if (k == 3) {        /* "xyz=" */
		acc <<= 6;
		out[n++] = (uint8_t)(acc >> 16);
		out[n++] = (uint8_t)(acc >> 8);
	} else if (k == 2) {
		acc <<= 12;
		out[n++] = (uint8_t)(acc >> 16);
	}
	free(t.p);
	return n;
}

static void test_rle_form_runs_of_four_and_literal_fe(void **state)
{
	(void)state;
	uint8_t out[64];
	const uint8_t three[] = { 7, 7, 7 };
	size_t n = rle_bytes(three, 3, out);
	assert_int_equal(n, 3 + 4);
	assert_memory_equal(out, three, 3);                     /* short run: literal */
	const uint8_t four[] = { 9, 9, 9, 9 };
	n = rle_bytes(four, 4, out);
	assert_int_equal(out[0], 0xfe);
	assert_int_equal(out[1], 4);
	assert_int_equal(out[2], 9);                            /* run of 4: FE 04 09 */
	const uint8_t fe[] = { 0xfe };
	n = rle_bytes(fe, 1, out);
	assert_int_equal(out[0], 0xfe);
	assert_int_equal(out[1], 1);
	assert_int_equal(out[2], 0xfe);                         /* literal FE: FE 01 FE */
	uint8_t big[300];
	memset(big, 0, sizeof big);
	n = rle_bytes(big, sizeof big, out);
	assert_int_equal(out[0], 0xfe);
	assert_int_equal(out[1], 0x80 | (300 & 0x7f));          /* LEB128 of 300: AC 02 */
	assert_int_equal(out[2], 300 >> 7);
	assert_int_equal(out[3], 0);
	uint32_t crc = cw_crc32(0, big, sizeof big);
	assert_int_equal(n, 4 + 4);
	assert_int_equal(out[4] | out[5] << 8 | out[6] << 16 | (uint32_t)out[7] << 24, crc);
}

static void test_scan_finds_dumps_among_noise_crlf_and_unwrapped_bodies(void **state)
{
	(void)state;
	uint8_t *a = sample(5000, 1), *b = sample(20000, 2), *c = sample(333, 3);
	struct text one = { 0 }, two = { 0 }, three = { 0 }, log = { 0 };
	encode(&one, a, 5000, 76, "/bin/a", "segv");
	encode(&two, b, 20000, 64, "/bin/b", "illegal instruction: at 0x10");
	encode(&three, c, 333, 76, "/bin/c", "abort");
	t_str(&log, "OpenSBI v1.2\nboot: noise _____ COREDUMP? no\n");
	t_put(&log, one.p, one.n);
	t_str(&log, "[   12.000] kernel: process 7 killed\n\n");
	/* CRLF line ends for the second dump */
	for (size_t i = 0; i < two.n; i++) {
		if (two.p[i] == '\n')
			t_put(&log, "\r", 1);
		t_put(&log, two.p + i, 1);
	}
	/* third dump: body on a single line, end marker right after it */
	char *hdr_end = strchr(strchr(three.p, '\n') + 1, '\n') + 1;
	t_put(&log, three.p, (size_t)(hdr_end - three.p));
	for (char *p = hdr_end; *p; p++)
		if (*p != '\n' || p[1] == 0)
			t_put(&log, p, 1);
	t_str(&log, "login: ");
	struct found f;
	assert_int_equal(scan(&log, &f), 3);
	assert_int_equal(f.d[0].st, SER_OK);
	assert_int_equal(f.d[0].line, 3);
	assert_memory_equal(f.d[0].core, a, 5000);
	assert_int_equal(f.d[1].st, SER_OK);
	assert_memory_equal(f.d[1].core, b, 20000);
	assert_string_equal(f.d[1].path, "/bin/b");
	assert_string_equal(f.d[1].cause, "illegal instruction: at 0x10");   /* first ": " splits */
	assert_int_equal(f.d[2].st, SER_OK);
	assert_memory_equal(f.d[2].core, c, 333);
	found_free(&f);
	free(a); free(b); free(c); free(one.p); free(two.p); free(three.p); free(log.p);
}

/* Apply one damage to a good dump and scan it. */
static enum ser_status damaged(const struct text *good, int kind)
{
	struct text t = { 0 };
	const char *body = strchr(strchr(good->p, '\n') + 1, '\n') + 1;
	size_t bo = (size_t)(body - good->p);
	const char *second = strchr(body, '\n') + 1;       /* start of body line 2 */
	size_t l2 = (size_t)(second - good->p), l3 = (size_t)(strchr(second, '\n') + 1 - good->p);
	switch (kind) {
	case 0:  /* cut off: no end marker */
		t_put(&t, good->p, good->n / 2);
		break;
	case 1:  /* one body line lost */
		t_put(&t, good->p, l2);
		t_put(&t, good->p + l3, good->n - l3);
		break;
	case 2:  /* one character changed */
		t_put(&t, good->p, good->n);
		t.p[bo + 10] = t.p[bo + 10] == 'A' ? 'B' : 'A';
		break;
	case 3:  /* a console message inside the body */
		t_put(&t, good->p, l2);
		t_str(&t, "[ 3.1] eth0: link up\n");
		t_put(&t, good->p + l2, good->n - l2);
		break;
	case 4:  /* one body line repeated */
		t_put(&t, good->p, l3);
		t_put(&t, good->p + l2, good->n - l2);
		break;
	case 5: { /* the CRC itself damaged: change the last data character before padding */
		t_put(&t, good->p, good->n);
		char *end = strstr(t.p, CW_SERIAL_END) - 2;
		while (*end == '=' || *end == '\n')
			end--;
		end -= 2;          /* inside the last group, which carries the CRC's bytes */
		*end = *end == 'A' ? 'B' : 'A';
		break;
	}
	}
	struct found f;
	size_t n = scan(&t, &f);
	assert_int_equal(n, 1);
	enum ser_status st = f.d[0].st;
	found_free(&f);
	free(t.p);
	return st;
}

static void test_every_corruption_class_is_detected(void **state)
{
	(void)state;
	uint8_t *d = sample(40000, 5);
	struct text good = { 0 };
	encode(&good, d, 40000, 76, "/bin/app", "segv");
	assert_int_equal(damaged(&good, 0), SER_TRUNCATED);
	for (int k = 1; k <= 5; k++) {
		enum ser_status st = damaged(&good, k);
		if (st == SER_OK)
			fail_msg("damage %d went undetected", k);
		if (k == 3)
			assert_int_equal(st, SER_BAD_CHAR);
		if (k == 5 && st != SER_CRC && st != SER_BAD_RLE)
			fail_msg("damaged CRC reported as %s", ser_strerror(st));
	}
	free(good.p);
	free(d);
}

static void test_truncated_dump_followed_by_good_one(void **state)
{
	(void)state;
	uint8_t *d = sample(3000, 9);
	struct text good = { 0 }, log = { 0 };
	encode(&good, d, 3000, 76, "/bin/app", "segv");
	t_put(&log, good.p, good.n / 2);
	t_str(&log, "\n--- reboot ---\n");
	t_put(&log, good.p, good.n);
	struct found f;
	assert_int_equal(scan(&log, &f), 2);
	assert_int_equal(f.d[0].st, SER_TRUNCATED);
	assert_string_equal(f.d[0].header, "/bin/app: segv");
	assert_int_equal(f.d[1].st, SER_OK);
	assert_memory_equal(f.d[1].core, d, 3000);
	found_free(&f);
	free(good.p);
	free(log.p);
	free(d);
}

static void test_run_length_bomb_is_refused(void **state)
{
	(void)state;
	/* FE, LEB128(2^40), 0 -> a terabyte of zeros claimed by 8 bytes */
	const uint8_t rle[] = { 0xfe, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x00, 0, 0, 0, 0 };
	char body[64];
	size_t n = 0;
	for (size_t i = 0; i < sizeof rle; i += 3) {
		uint32_t v = (uint32_t)rle[i] << 16 | (uint32_t)rle[i + 1] << 8 | rle[i + 2];
		for (int k = 3; k >= 0; k--)
			body[n++] = cw_b64_alphabet[(v >> (6 * k)) & 63];
	}
	uint8_t *core;
	size_t len;
	assert_int_equal(ser_decode_body(body, n, 1 << 20, &core, &len, NULL, NULL), SER_TOO_LARGE);
	/* zero-length run and a stream ending inside a run */
	const char *zero = "/gAA";          /* FE 00 00 */
	assert_int_equal(ser_decode_body(zero, 4, 0, &core, &len, NULL, NULL), SER_BAD_RLE);
	assert_int_equal(ser_decode_body("AAA=", 4, 0, &core, &len, NULL, NULL), SER_TOO_SHORT);
	assert_int_equal(ser_decode_body("AA=A", 4, 0, &core, &len, NULL, NULL), SER_BAD_BASE64);
	assert_int_equal(ser_decode_body("AB==", 4, 0, &core, &len, NULL, NULL), SER_BAD_BASE64);  /* stray bits */
	for (int s = SER_OK; s <= SER_NOMEM; s++)
		assert_string_not_equal(ser_strerror((enum ser_status)s), "unknown status");
}

static void test_header_newlines_are_flattened(void **state)
{
	(void)state;
	struct text t = { 0 };
	const uint8_t d[] = { 1, 2, 3 };
	encode(&t, d, 3, 76, "/bin/x\ny", "bad\r\ncause");
	struct found f;
	assert_int_equal(scan(&t, &f), 1);
	assert_int_equal(f.d[0].st, SER_OK);
	assert_string_equal(f.d[0].header, "/bin/x y: bad  cause");
	found_free(&f);
	free(t.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32_matches_zlib),
		cmocka_unit_test(test_round_trip_random_data_all_widths),
		cmocka_unit_test(test_rle_form_runs_of_four_and_literal_fe),
		cmocka_unit_test(test_scan_finds_dumps_among_noise_crlf_and_unwrapped_bodies),
		cmocka_unit_test(test_every_corruption_class_is_detected),
		cmocka_unit_test(test_truncated_dump_followed_by_good_one),
		cmocka_unit_test(test_run_length_bomb_is_refused),
		cmocka_unit_test(test_header_newlines_are_flattened),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
