/* tests/unit/test_ccd_config.c: corecastd.conf parsing, errors with file:line, reload. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/corecastd/config.h"

/* Collected notes (warnings, reload changes). */
struct notes {
	int n;
	char msg[16][512];
};

static void collect(void *ctx, int warning, const char *msg)
{
	struct notes *ns = ctx;

	if (ns->n < 16)
		snprintf(ns->msg[ns->n++], sizeof ns->msg[0], "%s%s",
			 warning ? "W:" : "I:", msg);
}

static int has_note(const struct notes *ns, const char *needle)
{
	for (int i = 0; i < ns->n; i++)
		if (strstr(ns->msg[i], needle))
			return 1;
	return 0;
}

static char tmpdir[64];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/ccdcfg.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *write_conf(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_defaults_without_file(void **state)
{
	struct ccd_config c;
	char err[256];

	assert_int_equal(ccd_config_load(&c, NULL, NULL, err, sizeof err, NULL, NULL),
			 CCD_CFG_OK);
	assert_string_equal(c.store, CCD_DEF_STORE);
	assert_int_equal(c.n_listen, 0);
	assert_true(c.max_use == CCD_SIZE_DEFAULT);
	assert_int_equal(c.max_sessions, CCD_DEF_MAX_SESSIONS);
	assert_int_equal(c.receive_window, CCD_DEF_WINDOW);
	assert_true(c.session_timeout_ms == CCD_DEF_TIMEOUT_MS);
}

static void test_every_key_parses(void **state)
{
	const char *p = write_conf("all.conf",
		"# corecastd test\n"
		"[Collector]\n"
		"Listen=udp://127.0.0.1:7770\n"
		"Listen = udp://[::1]:7771 udp://0.0.0.0:0\n"
		"Store=/srv/cores\n"
		"MaxUse=2G\n"
		"KeepFree=512M\n"
		"MaxSessions=500\n"
		"MaxCoreSize=64MiB\n"
		"MaxSessionsPerDevice=2\n"
		"DeviceRate=10\n"
		"SessionTimeout=5min\n"
		"ReceiveWindow=256\n"
		"MaxPayload=1400\n"
		"MemoryLimit=32M\n"
		"SpoolMaxAge=3\n"
		"LogLevel=debug\n"
		"SymbolizeWorkers=4\n"
		"SymbolizeTimeout=2min\n"
		"SymbolizeMemory=512M\n"
		"OnNewGroup=/usr/local/bin/notify --new \"$CORECAST_TITLE\"\n"
		"OnRegression=logger regression\n"
		"; trailing comment\n");
	struct ccd_config c;
	char err[256];
	struct notes ns = { 0 };

	assert_int_equal(ccd_config_load(&c, p, NULL, err, sizeof err, collect, &ns),
			 CCD_CFG_OK);
	assert_int_equal(ns.n, 0);
	assert_int_equal(c.n_listen, 3);
	assert_string_equal(c.listen[0].url, "udp://127.0.0.1:7770");
	assert_string_equal(c.listen[1].url, "udp://[::1]:7771");
	assert_string_equal(c.listen[2].url, "udp://0.0.0.0:0");
	assert_string_equal(c.store, "/srv/cores");
	assert_true(c.max_use == 2ull << 30);
	assert_true(c.keep_free == 512ull << 20);
	assert_int_equal(c.max_sessions, 500);
	assert_true(c.max_core_size == 64ull << 20);
	assert_int_equal(c.max_sessions_per_device, 2);
	assert_int_equal(c.device_rate, 10);
	assert_true(c.session_timeout_ms == 300000);
	assert_int_equal(c.receive_window, 256);
	assert_int_equal(c.max_payload, 1400);
	assert_true(c.memory_limit == 32ull << 20);
	assert_int_equal(c.spool_max_age_days, 3);
	assert_int_equal(c.log_level, 7);
	assert_int_equal(c.symbolize_workers, 4);
	assert_true(c.symbolize_timeout_ms == 120000);
	assert_true(c.symbolize_memory == 512ull << 20);
	assert_string_equal(c.on_new_group, "/usr/local/bin/notify --new \"$CORECAST_TITLE\"");
	assert_string_equal(c.on_regression, "logger regression");
}

static void test_unknown_key_warns_with_file_and_line(void **state)
{
	const char *p = write_conf("unk.conf",
		"[Collector]\nMaxSessions=8\nFrobnicate=yes\n[Other]\nMaxSessions=9\n");
	struct ccd_config c;
	char err[256], want[200];
	struct notes ns = { 0 };

	assert_int_equal(ccd_config_load(&c, p, NULL, err, sizeof err, collect, &ns),
			 CCD_CFG_OK);
	snprintf(want, sizeof want, "W:%s:3: unknown key 'Frobnicate'", p);
	assert_true(has_note(&ns, want));
	snprintf(want, sizeof want, "W:%s:4: unknown section [Other]", p);
	assert_true(has_note(&ns, want));
	/* keys in a foreign section do not leak into ours */
	assert_int_equal(c.max_sessions, 8);
}

/* Each bad value is an error naming file, line and key. */
static void test_bad_values_name_file_line_key(void **state)
{
	static const struct { const char *line; const char *key; } bad[] = {
		{ "MaxUse=lots", "MaxUse" },
		{ "KeepFree=-1", "KeepFree" },
		{ "MaxSessions=0", "MaxSessions" },
		{ "MaxSessions=12x", "MaxSessions" },
		{ "MaxCoreSize=0", "MaxCoreSize" },
		{ "MaxCoreSize=99999999999999999999", "MaxCoreSize" },
		{ "MaxSessionsPerDevice=0", "MaxSessionsPerDevice" },
		{ "DeviceRate=fast", "DeviceRate" },
		{ "SessionTimeout=10fortnights", "SessionTimeout" },
		{ "SessionTimeout=500ms", "SessionTimeout" },
		{ "ReceiveWindow=0", "ReceiveWindow" },
		{ "ReceiveWindow=100000", "ReceiveWindow" },
		{ "MaxPayload=100", "MaxPayload" },
		{ "MaxPayload=70000", "MaxPayload" },
		{ "MemoryLimit=1M", "MemoryLimit" },
		{ "Store=relative/dir", "Store" },
		{ "Listen=tcp://1.2.3.4:5", "Listen" },
		{ "SpoolMaxAge=0", "SpoolMaxAge" },
		{ "LogLevel=loud", "LogLevel" },
		{ "SymbolizeWorkers=65", "SymbolizeWorkers" },
		{ "SymbolizeTimeout=0", "SymbolizeTimeout" },
		{ "SymbolizeMemory=1M", "SymbolizeMemory" },
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[256], err[256], want[200];
		struct ccd_config c;

		snprintf(text, sizeof text, "# comment\n[Collector]\n%s\n", bad[i].line);
		const char *p = write_conf("bad.conf", text);
		assert_int_equal(ccd_config_load(&c, p, NULL, err, sizeof err, NULL, NULL),
				 CCD_CFG_VALUE);
		snprintf(want, sizeof want, "%s:3: %s: ", p, bad[i].key);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("'%s': got '%s', want prefix '%s'", bad[i].line, err, want);
	}
}

static void test_syntax_errors(void **state)
{
	struct ccd_config c;
	char err[256];

	ccd_config_defaults(&c);
	assert_int_equal(ccd_config_parse_string(&c, "x.conf", "[Collector]\nno equals sign\n",
						 err, sizeof err, NULL, NULL), CCD_CFG_SYNTAX);
	assert_string_equal(err, "x.conf:2: expected Key=Value, got 'no equals sign'");
	assert_int_equal(ccd_config_parse_string(&c, "x.conf", "\n\n[Collector\n",
						 err, sizeof err, NULL, NULL), CCD_CFG_SYNTAX);
	assert_non_null(strstr(err, "x.conf:3: unterminated section"));
	assert_int_equal(ccd_config_parse_string(&c, "x.conf", "=5\n",
						 err, sizeof err, NULL, NULL), CCD_CFG_SYNTAX);
	assert_non_null(strstr(err, "x.conf:1: missing key"));
}

static void test_missing_file_is_an_error(void **state)
{
	struct ccd_config c;
	char err[256];

	assert_int_equal(ccd_config_load(&c, "/nonexistent/corecastd.conf", NULL, err,
					 sizeof err, NULL, NULL), CCD_CFG_OPEN);
	assert_non_null(strstr(err, "/nonexistent/corecastd.conf: No such file"));
}

static void test_too_many_listen(void **state)
{
	char text[4096] = "[Collector]\n";
	struct ccd_config c;
	char err[256];

	for (int i = 0; i <= CCD_LISTEN_MAX; i++) {
		char l[64];
		snprintf(l, sizeof l, "Listen=udp://127.0.0.1:%d\n", 7000 + i);
		strcat(text, l);
	}
	ccd_config_defaults(&c);
	assert_int_equal(ccd_config_parse_string(&c, "m.conf", text, err, sizeof err,
						 NULL, NULL), CCD_CFG_TOO_MANY);
}

static void test_empty_value_resets_to_default(void **state)
{
	struct ccd_config c;
	char err[256];

	ccd_config_defaults(&c);
	assert_int_equal(ccd_config_parse_string(&c, "r.conf",
		"Listen=udp://127.0.0.1:1\nListen=\nListen=udp://127.0.0.1:2\n"
		"MaxSessions=3\nMaxSessions=\nMaxUse=1G\nMaxUse=\n",
		err, sizeof err, NULL, NULL), CCD_CFG_OK);
	assert_int_equal(c.n_listen, 1);
	assert_string_equal(c.listen[0].url, "udp://127.0.0.1:2");
	assert_int_equal(c.max_sessions, CCD_DEF_MAX_SESSIONS);
	assert_true(c.max_use == CCD_SIZE_DEFAULT);
}

static void test_command_line_overrides_file(void **state)
{
	const char *p = write_conf("ov.conf",
		"[Collector]\nListen=udp://127.0.0.1:7770\nStore=/from/file\nMaxSessions=7\n");
	struct ccd_overrides o = { 0 };
	struct ccd_config c;
	char err[256];

	assert_int_equal(ccd_listen_parse("udp://[::1]:0", &o.listen[0]), CCD_URL_OK);
	o.n_listen = 1;
	o.store = "/from/cli";
	assert_int_equal(ccd_config_load(&c, p, &o, err, sizeof err, NULL, NULL), CCD_CFG_OK);
	assert_int_equal(c.n_listen, 1);
	assert_string_equal(c.listen[0].url, "udp://[::1]:0");
	assert_string_equal(c.store, "/from/cli");
	assert_int_equal(c.max_sessions, 7);
}

static void test_size_and_duration_parsers(void **state)
{
	uint64_t v;

	assert_int_equal(ccd_parse_size("0", &v), 0); assert_true(v == 0);
	assert_int_equal(ccd_parse_size("17", &v), 0); assert_true(v == 17);
	assert_int_equal(ccd_parse_size("17B", &v), 0); assert_true(v == 17);
	assert_int_equal(ccd_parse_size("4k", &v), 0); assert_true(v == 4096);
	assert_int_equal(ccd_parse_size("4KiB", &v), 0); assert_true(v == 4096);
	assert_int_equal(ccd_parse_size("3T", &v), 0); assert_true(v == 3ull << 40);
	assert_int_equal(ccd_parse_size("1.5G", &v), -1);
	assert_int_equal(ccd_parse_size("G", &v), -1);
	assert_int_equal(ccd_parse_size("16777216T", &v), -1);  /* 2^64: overflow */
	assert_int_equal(ccd_parse_size("4Kx", &v), -1);
	assert_int_equal(ccd_parse_duration_ms("30", &v), 0); assert_true(v == 30000);
	assert_int_equal(ccd_parse_duration_ms("250ms", &v), 0); assert_true(v == 250);
	assert_int_equal(ccd_parse_duration_ms("2min", &v), 0); assert_true(v == 120000);
	assert_int_equal(ccd_parse_duration_ms("1h", &v), 0); assert_true(v == 3600000);
	assert_int_equal(ccd_parse_duration_ms("1d", &v), -1);
	assert_int_equal(ccd_parse_duration_ms("", &v), -1);
}

static void test_reload_applies_limits_and_reports_changes(void **state)
{
	const char *p = write_conf("rl.conf",
		"[Collector]\nListen=udp://127.0.0.1:7770\nMaxSessions=10\nDeviceRate=5\n");
	struct ccd_config c;
	char err[256];
	struct notes ns = { 0 };
	int changed;

	assert_int_equal(ccd_config_load(&c, p, NULL, err, sizeof err, NULL, NULL), CCD_CFG_OK);
	write_conf("rl.conf", "[Collector]\nListen=udp://127.0.0.1:7771\nMaxSessions=20\n"
		   "DeviceRate=5\nMaxUse=1G\n");
	assert_int_equal(ccd_config_reload(&c, p, NULL, err, sizeof err, collect, &ns,
					   &changed), CCD_CFG_OK);
	assert_int_equal(changed, 3);
	assert_int_equal(c.max_sessions, 20);
	assert_true(c.max_use == 1ull << 30);
	assert_true(has_note(&ns, "I:MaxSessions: 10 -> 20"));
	assert_true(has_note(&ns, "MaxUse: default -> 1073741824"));
	/* listeners stay until restart, and the log says so */
	assert_true(has_note(&ns, "Listen: udp://127.0.0.1:7770 -> udp://127.0.0.1:7771 "
			     "(takes effect on restart"));
	assert_string_equal(c.listen[0].url, "udp://127.0.0.1:7770");
	assert_false(has_note(&ns, "DeviceRate"));
}

static void test_bad_reload_keeps_old_config(void **state)
{
	const char *p = write_conf("bad-rl.conf", "[Collector]\nMaxSessions=10\n");
	struct ccd_config c, before;
	char err[256];
	int changed = -1;

	assert_int_equal(ccd_config_load(&c, p, NULL, err, sizeof err, NULL, NULL), CCD_CFG_OK);
	memcpy(&before, &c, sizeof c);
	write_conf("bad-rl.conf", "[Collector]\nMaxSessions=20\nReceiveWindow=huge\n");
	assert_int_equal(ccd_config_reload(&c, p, NULL, err, sizeof err, NULL, NULL,
					   &changed), CCD_CFG_VALUE);
	assert_int_equal(changed, 0);
	assert_memory_equal(&c, &before, sizeof c);
	assert_non_null(strstr(err, "bad-rl.conf:3: ReceiveWindow: 'huge' is not"));
	/* A file that vanished is also kept-old, with the reason. */
	unlink(p);
	assert_int_equal(ccd_config_reload(&c, p, NULL, err, sizeof err, NULL, NULL,
					   &changed), CCD_CFG_OPEN);
	assert_memory_equal(&c, &before, sizeof c);
}

static void test_reload_keeps_command_line_overrides(void **state)
{
	const char *p = write_conf("ovr.conf", "[Collector]\nStore=/a\nMaxSessions=1\n");
	struct ccd_overrides o = { .store = "/cli" };
	struct ccd_config c;
	char err[256];
	int changed;

	assert_int_equal(ccd_config_load(&c, p, &o, err, sizeof err, NULL, NULL), CCD_CFG_OK);
	write_conf("ovr.conf", "[Collector]\nStore=/b\nMaxSessions=2\n");
	assert_int_equal(ccd_config_reload(&c, p, &o, err, sizeof err, NULL, NULL, &changed),
			 CCD_CFG_OK);
	assert_int_equal(changed, 1);          /* only MaxSessions: Store stays /cli */
	assert_string_equal(c.store, "/cli");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_without_file),
		cmocka_unit_test(test_every_key_parses),
		cmocka_unit_test(test_unknown_key_warns_with_file_and_line),
		cmocka_unit_test(test_bad_values_name_file_line_key),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_missing_file_is_an_error),
		cmocka_unit_test(test_too_many_listen),
		cmocka_unit_test(test_empty_value_resets_to_default),
		cmocka_unit_test(test_command_line_overrides_file),
		cmocka_unit_test(test_size_and_duration_parsers),
		cmocka_unit_test(test_reload_applies_limits_and_reports_changes),
		cmocka_unit_test(test_bad_reload_keeps_old_config),
		cmocka_unit_test(test_reload_keeps_command_line_overrides),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
