/* collector/json/json_write.c: JSON string output (valid UTF-8 kept, the rest escaped or replaced). */
#include "collector/json/json_write.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if none starts there. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;   /* allowed range of the second byte */

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;          /* below: overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;          /* above: UTF-16 surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;          /* below: overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;          /* above: past U+10FFFF */
	} else {
		return 0;               /* continuation byte, C0/C1 (overlong), F5..FF */
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	/* Checked one at a time, so a NUL ends the sequence before anything past it is read. */
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

void json_write_str(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	while (*s) {
		size_t n;

		switch (*s) {
		case '"': fputs("\\\"", f); s++; continue;
		case '\\': fputs("\\\\", f); s++; continue;
		case '\n': fputs("\\n", f); s++; continue;
		case '\t': fputs("\\t", f); s++; continue;
		case '\r': fputs("\\r", f); s++; continue;
		default: break;
		}
		if (*s < 0x20 || *s == 0x7f) {
			/* DEL is legal in JSON, but escaped it cannot move a terminal's cursor. */
			fprintf(f, "\\u%04x", *s++);
		} else if ((n = utf8_len(s)) == 0) {
			/* One replacement per bad byte: the next byte may begin a valid sequence. */
			fputs("\\ufffd", f);
			s++;
		} else {
			fwrite(s, 1, n, f);
			s += n;
		}
	}
	fputc('"', f);
}
