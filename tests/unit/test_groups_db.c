/* tests/unit/test_groups_db.c: grouping, counts, states and regressions on a real SQLite file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "collector/groups/groups.h"

struct fx {
	char dir[64];
	char path[96];
	sqlite3 *db;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test_groups_db.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/index.sqlite", f->dir);
	assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
	sqlite3_exec(f->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	assert_int_equal(grp_init(f->db), GRP_OK);
	assert_int_equal(grp_init(f->db), GRP_OK);   /* idempotent: every opener calls it */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	sqlite3_close(f->db);
	unlink(f->path);
	char p[128];
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A worker document: crash in fn3 <- fn2 <- fn1, optionally unsymbolized. */
static char *doc(const char *fn3, const char *fn2, const char *fn1, unsigned shift,
		 bool missing)
{
	char *s;
	if (missing)
		assert_true(asprintf(&s,
			"{\"version\":1,\"signal\":11,\"threads\":[{\"tid\":1,\"crashed\":true,"
			"\"frames\":[{\"pc\":\"0x%x\",\"function\":null,\"offset\":0,\"module\":\"app\","
			"\"build_id\":\"b1d0\"},{\"pc\":\"0x%x\",\"function\":null,\"offset\":0,"
			"\"module\":\"app\",\"build_id\":\"b1d0\"}]}],\"modules\":[{\"name\":\"app\","
			"\"build_id\":\"b1d0\",\"start\":\"0x1000\",\"end\":\"0x9000\","
			"\"symbols\":\"missing\"}],\"symbols_missing\":true}",
			0x1100 + shift, 0x1200 + shift) > 0);
	else
		assert_true(asprintf(&s,
			"{\"version\":1,\"signal\":11,\"threads\":[{\"tid\":1,\"crashed\":true,"
			"\"frames\":[{\"pc\":\"0x%x\",\"function\":\"%s\",\"offset\":1},"
			"{\"pc\":\"0x%x\",\"function\":\"%s\",\"offset\":2},"
			"{\"pc\":\"0x%x\",\"function\":\"%s\",\"offset\":3}]}],"
			"\"modules\":[{\"name\":\"app\",\"build_id\":\"b1d0\",\"start\":\"0x1000\","
			"\"end\":\"0x9000\",\"symbols\":\"found\"}],\"symbols_missing\":false}",
			0x1100 + shift, fn3, 0x1200 + shift, fn2, 0x1300 + shift, fn1) > 0);
	return s;
}

static enum grp_event record(struct fx *f, uint64_t id, const char *device, const char *fw,
			     int64_t seen, const char *d, struct grp_outcome *o)
{
	struct grp_dump dump = { .id = id, .device = device, .firmware = fw, .exe = "app",
				 .signal = 11, .seen = seen };
	struct grp_outcome local;
	if (!o)
		o = &local;
	assert_int_equal(grp_record_result(f->db, &dump, d, strlen(d), 0, o), GRP_OK);
	return o->event;
}

struct collect {
	int n;
	struct { char sig[SIG_HEX_LEN + 1]; char state[16]; char versions[128]; int64_t count,
		 devices, first, last, regressions; char title[128]; } g[16];
};

static int collect_cb(void *ctx, const struct grp_info *g)
{
	struct collect *c = ctx;
	if (c->n >= 16)
		return 1;
	strcpy(c->g[c->n].sig, g->signature);
	snprintf(c->g[c->n].state, 16, "%s", g->state);
	snprintf(c->g[c->n].versions, 128, "%s", g->versions);
	snprintf(c->g[c->n].title, 128, "%s", g->title);
	c->g[c->n].count = g->count;
	c->g[c->n].devices = g->devices;
	c->g[c->n].first = g->first_seen;
	c->g[c->n].last = g->last_seen;
	c->g[c->n].regressions = g->regressions;
	c->n++;
	return 0;
}

static void list(struct fx *f, const struct grp_filter *flt, struct collect *c)
{
	struct grp_filter none = { 0 };
	memset(c, 0, sizeof(*c));
	assert_int_equal(grp_list(f->db, flt ? flt : &none, collect_cb, c), GRP_OK);
}

static void test_same_bug_from_five_devices_is_one_group(void **state)
{
	struct fx *f = *state;
	struct grp_outcome o;
	struct collect c;
	char dev[16];

	for (int i = 0; i < 5; i++) {
		char *d = doc("level3", "level2", "level1", (unsigned)i * 0x10, false);
		snprintf(dev, sizeof(dev), "dev-%d", i);
		enum grp_event ev = record(f, 100 + (uint64_t)i, dev, i < 3 ? "1.2.0" : "1.10.0",
					   1000 + i, d, &o);
		assert_int_equal(ev, i == 0 ? GRP_EV_NEW_GROUP : GRP_EV_NONE);
		assert_string_equal(o.status, "done");
		free(d);
	}
	/* a second dump from a device already counted adds to count, not devices */
	char *d = doc("level3", "level2", "level1", 0, false);
	record(f, 105, "dev-0", "1.9", 2000, d, NULL);
	free(d);

	list(f, NULL, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.g[0].count, 6);
	assert_int_equal(c.g[0].devices, 5);
	assert_string_equal(c.g[0].versions, "1.2.0,1.9,1.10.0");   /* by version, not bytes */
	assert_int_equal(c.g[0].first, 1000);
	assert_int_equal(c.g[0].last, 2000);
	assert_string_equal(c.g[0].state, "open");
	assert_string_equal(c.g[0].title, "SIGSEGV in level3 <- level2 <- level1");

	char sig[SIG_HEX_LEN + 1];
	assert_int_equal(grp_of_dump(f->db, 103, sig), GRP_OK);
	assert_string_equal(sig, o.signature);
	char status[32], reason[256];
	assert_int_equal(grp_status(f->db, 103, status, reason), GRP_OK);
	assert_string_equal(status, "done");
}

static void test_second_bug_is_second_group_and_sorting(void **state)
{
	struct fx *f = *state;
	struct collect c;

	/* bug A: 3 dumps from 1 device; bug B: 2 dumps from 2 devices */
	for (int i = 0; i < 3; i++) {
		char *d = doc("parse", "read_msg", "main", 0, false);
		assert_int_equal(record(f, 1 + (uint64_t)i, "solo", "2.0", 100 + i, d, NULL),
				 i == 0 ? GRP_EV_NEW_GROUP : GRP_EV_NONE);
		free(d);
	}
	for (int i = 0; i < 2; i++) {
		char *d = doc("level3", "level2", "level1", 0, false);
		assert_int_equal(record(f, 10 + (uint64_t)i, i ? "b" : "a", "2.1", 500 + i, d, NULL),
				 i == 0 ? GRP_EV_NEW_GROUP : GRP_EV_NONE);
		free(d);
	}
	list(f, NULL, &c);
	assert_int_equal(c.n, 2);
	assert_string_not_equal(c.g[0].sig, c.g[1].sig);
	assert_int_equal(c.g[0].count, 3);                  /* by count */
	struct grp_filter by_dev = { .by_devices = true };
	list(f, &by_dev, &c);
	assert_int_equal(c.g[0].devices, 2);                /* by devices */
	struct grp_filter since = { .since = 300 };
	list(f, &since, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.g[0].count, 2);
	struct grp_filter ver = { .version = "2.0" };
	list(f, &ver, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.g[0].count, 3);
	struct grp_filter st = { .state = "muted" };
	list(f, &st, &c);
	assert_int_equal(c.n, 0);

	/* prefixes name groups */
	char full[SIG_HEX_LEN + 1], pfx[8];
	list(f, NULL, &c);
	snprintf(pfx, sizeof(pfx), "%.6s", c.g[1].sig);
	assert_int_equal(grp_resolve_sig(f->db, pfx, full), GRP_OK);
	assert_string_equal(full, c.g[1].sig);
	assert_int_equal(grp_resolve_sig(f->db, "ab", full), GRP_E_NOT_FOUND);
	assert_int_equal(grp_resolve_sig(f->db, "zzzzzz", full), GRP_E_NOT_FOUND);
}

static void test_resolved_group_reopens_on_newer_firmware(void **state)
{
	struct fx *f = *state;
	struct grp_outcome o;
	struct collect c;
	char *d = doc("level3", "level2", "level1", 0, false);

	record(f, 1, "a", "1.2", 10, d, &o);
	record(f, 2, "b", "1.9", 11, d, NULL);
	/* resolved without a version: the fix is taken to ship after 1.9 */
	assert_int_equal(grp_set_state(f->db, o.signature, "resolved", NULL), GRP_OK);
	/* an old firmware still in the field crashing is expected: stays resolved */
	assert_int_equal(record(f, 3, "c", "1.9", 12, d, NULL), GRP_EV_NONE);
	assert_int_equal(record(f, 4, "c", "1.2.5", 13, d, NULL), GRP_EV_NONE);
	list(f, NULL, &c);
	assert_string_equal(c.g[0].state, "resolved");
	/* 1.10 > 1.9 numerically (bytewise it would be smaller): regression */
	assert_int_equal(record(f, 5, "d", "1.10", 14, d, &o), GRP_EV_REGRESSION);
	list(f, NULL, &c);
	assert_string_equal(c.g[0].state, "open");
	assert_int_equal(c.g[0].regressions, 1);
	assert_int_equal(c.g[0].count, 5);
	/* once reopened, further dumps are ordinary */
	assert_int_equal(record(f, 6, "e", "1.11", 15, d, NULL), GRP_EV_NONE);
	/* explicit version */
	assert_int_equal(grp_set_state(f->db, o.signature, "resolved", "2.0"), GRP_OK);
	assert_int_equal(record(f, 7, "e", "1.11", 16, d, NULL), GRP_EV_NONE);
	assert_int_equal(record(f, 8, "e", "2.0.1", 17, d, NULL), GRP_EV_REGRESSION);
	free(d);
}

static void test_state_transitions(void **state)
{
	struct fx *f = *state;
	struct grp_outcome o;
	struct collect c;
	char *d = doc("x", "y", "z", 0, false);

	record(f, 1, "a", "1.0", 10, d, &o);
	assert_int_equal(grp_set_state(f->db, o.signature, "muted", NULL), GRP_OK);
	/* muted groups keep counting, never reopen or fire */
	assert_int_equal(record(f, 2, "a", "9.0", 11, d, NULL), GRP_EV_NONE);
	list(f, NULL, &c);
	assert_string_equal(c.g[0].state, "muted");
	assert_int_equal(c.g[0].count, 2);
	assert_int_equal(grp_set_state(f->db, o.signature, "open", NULL), GRP_OK);
	assert_int_equal(grp_set_state(f->db, o.signature, "resolved", NULL), GRP_OK);
	assert_int_equal(grp_set_state(f->db, o.signature, "closed", NULL), GRP_E_BAD_STATE);
	assert_int_equal(grp_set_state(f->db, "0000000000000000", "open", NULL), GRP_E_NOT_FOUND);
	list(f, NULL, &c);
	assert_string_equal(c.g[0].state, "resolved");
	/* a re-symbolized dump staying in its group is not a recurrence */
	assert_int_equal(record(f, 2, "a", "9.0", 11, d, NULL), GRP_EV_NONE);
	list(f, NULL, &c);
	assert_string_equal(c.g[0].state, "resolved");
	free(d);
}

static int count_pending(void *ctx, uint64_t id)
{
	(*(int *)ctx)++;
	return 0;
}

static void test_symbols_missing_then_added_regroups(void **state)
{
	struct fx *f = *state;
	struct grp_outcome o1, o2;
	struct collect c;
	char status[32], reason[256];
	char *missing = doc(NULL, NULL, NULL, 0, true);
	int n = 0, pending = 0;

	assert_int_equal(grp_mark_pending(f->db, 42), GRP_OK);
	assert_int_equal(grp_each_pending(f->db, count_pending, &pending), GRP_OK);
	assert_int_equal(pending, 1);
	assert_int_equal(record(f, 42, "a", "1", 10, missing, &o1), GRP_EV_NEW_GROUP);
	assert_string_equal(o1.status, "symbols-missing");
	assert_string_equal(o1.title, "SIGSEGV in b1d0+0x100 <- b1d0+0x200");
	assert_int_equal(grp_status(f->db, 42, status, reason), GRP_OK);
	assert_string_equal(status, "symbols-missing");

	/* symbols for another build change nothing; for this one, the dump is queued */
	assert_int_equal(grp_resymbolize_build_id(f->db, "b1d", &n), GRP_OK);
	assert_int_equal(n, 0);
	assert_int_equal(grp_resymbolize_build_id(f->db, "b1d0", &n), GRP_OK);
	assert_int_equal(n, 1);
	pending = 0;
	grp_each_pending(f->db, count_pending, &pending);
	assert_int_equal(pending, 1);

	char *found = doc("level3", "level2", "level1", 0, false);
	assert_int_equal(record(f, 42, "a", "1", 10, found, &o2), GRP_EV_NEW_GROUP);
	assert_string_equal(o2.status, "done");
	assert_string_not_equal(o1.signature, o2.signature);
	list(f, NULL, &c);
	assert_int_equal(c.n, 1);                          /* the empty open group is gone */
	assert_string_equal(c.g[0].sig, o2.signature);
	free(missing);
	free(found);
}

static void test_bad_worker_output_is_a_recorded_failure(void **state)
{
	struct fx *f = *state;
	struct grp_dump dump = { .id = 7, .device = "a", .firmware = "1", .exe = "app",
				 .signal = 11, .seen = 1 };
	struct grp_outcome o;
	char status[32], reason[256];
	const char *junk = "{\"threads\": [";

	assert_int_equal(grp_record_result(f->db, &dump, junk, strlen(junk), 0, &o), GRP_E_JSON);
	assert_int_equal(grp_status(f->db, 7, status, reason), GRP_OK);
	assert_string_equal(status, "failed");
	assert_non_null(strstr(reason, "malformed JSON"));
	assert_int_equal(grp_record_result(f->db, &dump, "{}", 2, 0, &o), GRP_E_SIGNATURE);
	assert_int_equal(grp_record_failure(f->db, 8, "timeout after 30 s"), GRP_OK);
	assert_int_equal(grp_status(f->db, 8, status, reason), GRP_OK);
	assert_string_equal(reason, "timeout after 30 s");
	assert_int_equal(grp_status(f->db, 9, status, reason), GRP_E_NOT_FOUND);
}

static void test_version_compare(void **state)
{
	assert_true(grp_version_cmp("1.10", "1.9") > 0);
	assert_true(grp_version_cmp("1.2", "1.2.0") == 0);
	assert_true(grp_version_cmp("v2.0", "1.99.99") > 0);
	assert_true(grp_version_cmp("1.02", "1.2") == 0);
	assert_true(grp_version_cmp("1.2.1", "1.2") > 0);
	assert_true(grp_version_cmp("99999999999999999999.1", "99999999999999999998.9") > 0);
	/* not dotted numeric on one side: byte-wise */
	assert_true(grp_version_cmp("1.2-rc1", "1.2-rc2") < 0);
	assert_true(grp_version_cmp("abc", "abd") < 0);
	assert_true(grp_version_cmp("1.", "1") > 0);
	assert_true(grp_version_cmp("", "1") < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same_bug_from_five_devices_is_one_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_bug_is_second_group_and_sorting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolved_group_reopens_on_newer_firmware, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_transitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symbols_missing_then_added_regroups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_worker_output_is_a_recorded_failure, setup, teardown),
		cmocka_unit_test(test_version_compare),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
