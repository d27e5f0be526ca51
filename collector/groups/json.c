/* collector/groups/json.c: a small strict JSON reader for the symbolizer's output. */
#include "collector/groups/json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *p, *end, *start;
	size_t nodes;
	enum json_err err;
};

static struct json *fail(struct parser *ps, enum json_err e)
{
	if (ps->err == JSON_OK)
		ps->err = e;
	return NULL;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
				   *ps->p == '\r'))
		ps->p++;
}

static struct json *new_node(struct parser *ps, enum json_type t)
{
	struct json *v;

	if (++ps->nodes > JSON_MAX_NODES)
		return fail(ps, JSON_E_TOO_BIG);
	v = calloc(1, sizeof(*v));
	if (!v)
		return fail(ps, JSON_E_NOMEM);
	v->type = t;
	return v;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool read_hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - ps->p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		int h = hexval(ps->p[i]);
		if (h < 0)
			return false;
		v = v << 4 | (unsigned)h;
	}
	ps->p += 4;
	*out = v;
	return true;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, max U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
	size_t n;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if ((size_t)(end - s) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* Decode a string starting at the opening quote. The decoded form is never
 * longer than the encoded one, so one allocation of the raw length suffices. */
static char *parse_string(struct parser *ps)
{
	const char *q = ps->p + 1;
	char *out, *o;

	/* find the closing quote to size the buffer */
	while (q < ps->end && *q != '"') {
		if (*q == '\\')
			q++;
		q++;
	}
	if (q >= ps->end)
		return (char *)fail(ps, JSON_E_SYNTAX);
	out = malloc((size_t)(q - ps->p) + 1);
	if (!out)
		return (char *)fail(ps, JSON_E_NOMEM);
	o = out;
	ps->p++;
	while (ps->p < ps->end && *ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p;
		if (c < 0x20)
			goto syntax;
		if (c != '\\') {
			size_t n = utf8_len((const unsigned char *)ps->p, (const unsigned char *)ps->end);
			if (!n) {
				ps->err = ps->err ? ps->err : JSON_E_UTF8;
				goto bad;
			}
			memcpy(o, ps->p, n);
			o += n;
			ps->p += n;
			continue;
		}
		if (++ps->p >= ps->end)
			goto syntax;
		switch (*ps->p++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			if (!read_hex4(ps, &cp))
				goto syntax;
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				goto utf8;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
					goto utf8;
				ps->p += 2;
				if (!read_hex4(ps, &lo) || lo < 0xDC00 || lo > 0xDFFF)
					goto utf8;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			if (cp == 0)
				goto utf8;
			/* \uXXXX (6 bytes) encodes to at most 3, a pair (12) to 4 */
			o += put_utf8(o, cp);
			break;
		}
		default:
			goto syntax;
		}
	}
	if (ps->p >= ps->end)
		goto syntax;
	ps->p++;
	*o = '\0';
	return out;
utf8:
	ps->err = ps->err ? ps->err : JSON_E_UTF8;
	goto bad;
syntax:
	ps->err = ps->err ? ps->err : JSON_E_SYNTAX;
bad:
	free(out);
	return NULL;
}

static struct json *parse_number(struct parser *ps)
{
	const char *s = ps->p, *q = s;
	char buf[64];
	struct json *v;
	bool integral = true;

	if (q < ps->end && *q == '-')
		q++;
	if (q >= ps->end)
		return fail(ps, JSON_E_SYNTAX);
	if (*q == '0')
		q++;
	else if (*q >= '1' && *q <= '9')
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	else
		return fail(ps, JSON_E_SYNTAX);
	if (q < ps->end && *q == '.') {
		integral = false;
		q++;
		if (q >= ps->end || *q < '0' || *q > '9')
			return fail(ps, JSON_E_SYNTAX);
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < ps->end && (*q == 'e' || *q == 'E')) {
		integral = false;
		q++;
		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= ps->end || *q < '0' || *q > '9')
			return fail(ps, JSON_E_SYNTAX);
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	if ((size_t)(q - s) >= sizeof(buf))
		return fail(ps, JSON_E_TOO_BIG);
	memcpy(buf, s, (size_t)(q - s));
	buf[q - s] = '\0';
	v = new_node(ps, JSON_NUMBER);
	if (!v)
		return NULL;
	v->num = strtod(buf, NULL);
	if (integral) {
		errno = 0;
		long long ll = strtoll(buf, NULL, 10);
		if (errno == 0) {
			v->is_int = true;
			v->i = ll;
		}
	}
	ps->p = q;
	return v;
}

static struct json *parse_value(struct parser *ps, int depth);

static bool literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return false;
	ps->p += n;
	return true;
}

static struct json *parse_container(struct parser *ps, int depth, bool object)
{
	struct json *v = new_node(ps, object ? JSON_OBJECT : JSON_ARRAY), **tail;
	char close = object ? '}' : ']';

	if (!v)
		return NULL;
	tail = &v->child;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return v;
	}
	for (;;) {
		char *key = NULL;
		struct json *item;

		skip_ws(ps);
		if (object) {
			if (ps->p >= ps->end || *ps->p != '"')
				goto syntax;
			key = parse_string(ps);
			if (!key)
				goto bad;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				goto syntax;
			}
			ps->p++;
		}
		item = parse_value(ps, depth + 1);
		if (!item) {
			free(key);
			goto bad;
		}
		item->key = key;
		*tail = item;
		tail = &item->next;
		v->n++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return v;
		}
		goto syntax;
	}
syntax:
	fail(ps, JSON_E_SYNTAX);
bad:
	json_free(v);
	return NULL;
}

static struct json *parse_value(struct parser *ps, int depth)
{
	struct json *v;

	if (depth > JSON_MAX_DEPTH)
		return fail(ps, JSON_E_DEPTH);
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, JSON_E_SYNTAX);
	switch (*ps->p) {
	case '{':
		return parse_container(ps, depth, true);
	case '[':
		return parse_container(ps, depth, false);
	case '"': {
		char *s = parse_string(ps);
		if (!s)
			return NULL;
		v = new_node(ps, JSON_STRING);
		if (!v) {
			free(s);
			return NULL;
		}
		v->str = s;
		return v;
	}
	case 't':
	case 'f':
		if (literal(ps, "true") || literal(ps, "false")) {
			v = new_node(ps, JSON_BOOL);
			if (v)
				v->b = ps->p[-1] == 'e' && ps->p[-2] == 'u';
			return v;
		}
		return fail(ps, JSON_E_SYNTAX);
	case 'n':
		if (literal(ps, "null"))
			return new_node(ps, JSON_NULL);
		return fail(ps, JSON_E_SYNTAX);
	default:
		return parse_number(ps);
	}
}

enum json_err json_parse(const char *text, size_t len, struct json **out, size_t *where)
{
	struct parser ps = { .p = text, .end = text + len, .start = text };
	struct json *v;

	*out = NULL;
	if (where)
		*where = 0;
	if (len > JSON_MAX_INPUT)
		return JSON_E_TOO_BIG;
	v = parse_value(&ps, 0);
	if (v) {
		skip_ws(&ps);
		if (ps.p != ps.end) {
			json_free(v);
			v = NULL;
			ps.err = JSON_E_SYNTAX;
		}
	}
	if (!v) {
		if (where)
			*where = (size_t)(ps.p - ps.start);
		return ps.err ? ps.err : JSON_E_SYNTAX;
	}
	*out = v;
	return JSON_OK;
}

void json_free(struct json *v)
{
	/* Iterative over siblings, recursive over depth (bounded by JSON_MAX_DEPTH). */
	while (v) {
		struct json *next = v->next;
		json_free(v->child);
		free(v->key);
		free(v->str);
		free(v);
		v = next;
	}
}

const char *json_strerror(enum json_err e)
{
	switch (e) {
	case JSON_OK: return "ok";
	case JSON_E_SYNTAX: return "malformed JSON";
	case JSON_E_DEPTH: return "JSON nested too deeply";
	case JSON_E_TOO_BIG: return "JSON too large";
	case JSON_E_UTF8: return "invalid UTF-8 or escape in JSON string";
	case JSON_E_NOMEM: return "out of memory";
	}
	return "unknown JSON error";
}

const struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (const struct json *c = obj->child; c; c = c->next)
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

const struct json *json_at(const struct json *arr, size_t i)
{
	if (!arr || arr->type != JSON_ARRAY)
		return NULL;
	for (const struct json *c = arr->child; c; c = c->next)
		if (i-- == 0)
			return c;
	return NULL;
}

const char *json_str(const struct json *v)
{
	return v && v->type == JSON_STRING ? v->str : NULL;
}

bool json_int(const struct json *v, int64_t *out)
{
	if (!v || v->type != JSON_NUMBER || !v->is_int)
		return false;
	*out = v->i;
	return true;
}

bool json_true(const struct json *v)
{
	return v && v->type == JSON_BOOL && v->b;
}
