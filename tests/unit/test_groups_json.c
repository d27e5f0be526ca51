/* tests/unit/test_groups_json.c: the strict JSON reader on valid and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "collector/groups/json.h"
#include "collector/groups/signature.h"

static enum json_err parse(const char *s, struct json **out)
{
	return json_parse(s, strlen(s), out, NULL);
}

static void test_valid_document_is_read(void **state)
{
	const char *doc = " {\"a\": [1, -2, 3.5e2, true, false, null, \"x\\ty\\u00e9\\ud83d\\ude00\"],"
			  " \"b\": {\"c\": \"0x10\"}, \"\": 9007199254740993} ";
	struct json *j;
	int64_t v;

	assert_int_equal(parse(doc, &j), JSON_OK);
	const struct json *a = json_get(j, "a");
	assert_int_equal(a->n, 7);
	assert_true(json_int(json_at(a, 0), &v) && v == 1);
	assert_true(json_int(json_at(a, 1), &v) && v == -2);
	assert_false(json_int(json_at(a, 2), &v));
	assert_true(json_at(a, 2)->num == 350.0);
	assert_true(json_true(json_at(a, 3)));
	assert_false(json_true(json_at(a, 4)));
	assert_int_equal(json_at(a, 5)->type, JSON_NULL);
	assert_string_equal(json_str(json_at(a, 6)), "x\ty\xc3\xa9\xf0\x9f\x98\x80");
	assert_null(json_at(a, 7));
	assert_string_equal(json_str(json_get(json_get(j, "b"), "c")), "0x10");
	assert_true(json_int(json_get(j, ""), &v) && v == 9007199254740993LL);
	/* accessors tolerate wrong types and NULL */
	assert_null(json_get(a, "a"));
	assert_null(json_at(j, 0));
	assert_null(json_str(NULL));
	json_free(j);
}

static void test_malformed_documents_are_refused(void **state)
{
	static const struct { const char *text; enum json_err err; } bad[] = {
		{ "", JSON_E_SYNTAX }, { "{", JSON_E_SYNTAX }, { "[1,]", JSON_E_SYNTAX },
		{ "{\"a\":1,}", JSON_E_SYNTAX }, { "{'a':1}", JSON_E_SYNTAX },
		{ "[01]", JSON_E_SYNTAX }, { "[1.]", JSON_E_SYNTAX }, { "[.5]", JSON_E_SYNTAX },
		{ "[1e]", JSON_E_SYNTAX }, { "[-]", JSON_E_SYNTAX }, { "[NaN]", JSON_E_SYNTAX },
		{ "[tru]", JSON_E_SYNTAX }, { "[nul", JSON_E_SYNTAX }, { "{} {}", JSON_E_SYNTAX },
		{ "\"abc", JSON_E_SYNTAX }, { "\"a\\\"", JSON_E_SYNTAX }, { "\"\\x\"", JSON_E_SYNTAX },
		{ "\"a\nb\"", JSON_E_SYNTAX }, { "\"\\u12\"", JSON_E_SYNTAX },
		{ "{\"a\" 1}", JSON_E_SYNTAX }, { "{1:2}", JSON_E_SYNTAX }, { "/**/1", JSON_E_SYNTAX },
		{ "\"\\u0000\"", JSON_E_UTF8 }, { "\"\\ud800\"", JSON_E_UTF8 },
		{ "\"\\udc00\"", JSON_E_UTF8 }, { "\"\\ud800\\u0041\"", JSON_E_UTF8 },
		{ "\"\xff\"", JSON_E_UTF8 }, { "\"\xc0\xaf\"", JSON_E_UTF8 },
		{ "\"\xed\xa0\x80\"", JSON_E_UTF8 }, { "\"\xe2\x82\"", JSON_E_UTF8 },
		{ "\"\xf4\x90\x80\x80\"", JSON_E_UTF8 },
		{ "[123456789012345678901234567890123456789012345678901234567890123456789]",
		  JSON_E_TOO_BIG },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json *j = (struct json *)1;
		enum json_err e = parse(bad[i].text, &j);
		if (e != bad[i].err)
			fail_msg("input %zu \"%s\": got %s", i, bad[i].text, json_strerror(e));
		assert_null(j);
	}
	/* an embedded NUL byte inside the given length is not whitespace */
	struct json *j;
	assert_int_equal(json_parse("[1]\0", 4, &j, NULL), JSON_E_SYNTAX);
}

static void test_deep_nesting_is_bounded(void **state)
{
	size_t n = 200000;
	char *s = malloc(2 * n + 1);
	struct json *j;
	size_t where;

	memset(s, '[', n);
	memset(s + n, ']', n);
	s[2 * n] = '\0';
	assert_int_equal(json_parse(s, 2 * n, &j, &where), JSON_E_DEPTH);
	assert_true(where <= JSON_MAX_DEPTH + 2);
	/* exactly at the limit is fine */
	memset(s, '[', JSON_MAX_DEPTH + 1);
	memset(s + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
	assert_int_equal(json_parse(s, 2 * (JSON_MAX_DEPTH + 1), &j, NULL), JSON_OK);
	json_free(j);
	free(s);
}

static void test_input_size_is_bounded(void **state)
{
	struct json *j;

	/* the length alone is refused before anything is read */
	assert_int_equal(json_parse("", (size_t)JSON_MAX_INPUT + 1, &j, NULL), JSON_E_TOO_BIG);

	/* a small text of very many values is refused by the node count, so the
	 * memory a document can make the collector hold is bounded too */
	size_t n = (size_t)JSON_MAX_NODES + 10;
	char *s = malloc(2 * n + 2);
	s[0] = '[';
	for (size_t i = 0; i < n; i++) {
		s[1 + 2 * i] = '0';
		s[2 + 2 * i] = ',';
	}
	s[2 * n] = ']';
	assert_int_equal(json_parse(s, 2 * n + 1, &j, NULL), JSON_E_TOO_BIG);
	/* just under the limit (the array itself is a node) is fine */
	n = (size_t)JSON_MAX_NODES - 1;
	s[2 * n] = ']';
	assert_int_equal(json_parse(s, 2 * n + 1, &j, NULL), JSON_OK);
	assert_int_equal(j->n, n);
	json_free(j);
	free(s);
}

/*
 * Random corruption of a real-shaped document: every mutation must either parse or
 * be refused, and a parsed one must be safe to sign.  ASan/UBSan catch the rest.
 */
static void test_mutated_documents_never_crash(void **state)
{
	const char *base =
		"{\"version\":1,\"signal\":11,\"threads\":[{\"tid\":7,\"crashed\":true,\"frames\":["
		"{\"pc\":\"0x401000\",\"function\":\"level3\",\"offset\":4,\"module\":\"m\","
		"\"build_id\":\"ab\"},{\"pc\":\"0x401100\",\"function\":null,\"offset\":\"0x20\","
		"\"module\":\"m\",\"build_id\":null}]}],\"modules\":[{\"name\":\"m\","
		"\"build_id\":\"ab\",\"start\":\"0x400000\",\"end\":\"0x500000\","
		"\"symbols\":\"missing\"}],\"symbols_missing\":true}";
	static const char alphabet[] = "{}[]\",:\\0123456789-+.eEtrufalsn \x80\xff\x01u";
	size_t len = strlen(base);
	char *buf = malloc(len + 1);
	unsigned seed = 12345, ok = 0;

	for (int iter = 0; iter < 20000; iter++) {
		memcpy(buf, base, len + 1);
		size_t n = len;
		int edits = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 4;
		for (int e = 0; e < edits; e++) {
			seed = seed * 1103515245 + 12345;
			size_t pos = (seed >> 8) % n;
			switch ((seed >> 4) % 3) {
			case 0:   /* replace */
				buf[pos] = alphabet[(seed >> 12) % (sizeof(alphabet) - 1)];
				break;
			case 1:   /* truncate */
				n = pos;
				break;
			default:  /* delete one byte */
				memmove(buf + pos, buf + pos + 1, n - pos);
				n--;
				break;
			}
			if (n == 0)
				break;
		}
		struct json *j;
		if (json_parse(buf, n, &j, NULL) == JSON_OK) {
			struct signature s;
			ok++;
			if (sig_from_json(j, "m", 11, 0, &s) == SIG_OK)
				sig_free(&s);
			json_free(j);
		}
		if (n == 0)
			continue;
	}
	free(buf);
	/* some mutations keep the document valid: the signing path was exercised */
	assert_true(ok > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_document_is_read),
		cmocka_unit_test(test_malformed_documents_are_refused),
		cmocka_unit_test(test_deep_nesting_is_bounded),
		cmocka_unit_test(test_input_size_is_bounded),
		cmocka_unit_test(test_mutated_documents_never_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
