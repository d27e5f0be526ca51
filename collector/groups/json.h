/* collector/groups/json.h: a small strict JSON reader for the symbolizer's output. */
#ifndef GROUPS_JSON_H
#define GROUPS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The worker's stdout is untrusted (a hostile core may steer the worker), so the
 * reader is strict RFC 8259: no comments, no trailing commas, no NaN, no bare
 * control characters, valid UTF-8 only, no "\u0000" (values are used as C
 * strings).  Depth, size and node count are bounded so that no input can make
 * the daemon recurse or allocate without limit.
 */
#define JSON_MAX_DEPTH  64
#define JSON_MAX_INPUT  (32u << 20)     /* bytes */
/* About 90 bytes a node with allocator overhead: at most ~90 MiB held while a
 * document is read, and room for ~90000 frames (thousands of threads). */
#define JSON_MAX_NODES  (1u << 20)

enum json_err {
	JSON_OK = 0,
	JSON_E_SYNTAX,      /* not JSON */
	JSON_E_DEPTH,       /* nesting deeper than JSON_MAX_DEPTH */
	JSON_E_TOO_BIG,     /* input or node count over the limit */
	JSON_E_UTF8,        /* invalid UTF-8 or a forbidden escape */
	JSON_E_NOMEM,
};

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type type;
	char *key;              /* member name when the parent is an object */
	char *str;              /* JSON_STRING: decoded, NUL-terminated */
	double num;             /* JSON_NUMBER */
	bool is_int;            /* the number is an integer that fits int64_t */
	int64_t i;              /* JSON_NUMBER when is_int */
	bool b;                 /* JSON_BOOL */
	size_t n;               /* children of an array or object */
	struct json *child, *next;
};

/* Parse exactly one document (surrounding whitespace allowed). On error *out
 * is NULL and *where (if given) is the byte offset of the problem. */
enum json_err json_parse(const char *text, size_t len, struct json **out, size_t *where);
void json_free(struct json *v);
const char *json_strerror(enum json_err e);

/* Accessors tolerate NULL and wrong types so callers can chain them. */
const struct json *json_get(const struct json *obj, const char *key);
const struct json *json_at(const struct json *arr, size_t i);
const char *json_str(const struct json *v);            /* NULL unless a string */
bool json_int(const struct json *v, int64_t *out);     /* integral number */
bool json_true(const struct json *v);

#endif /* GROUPS_JSON_H */
