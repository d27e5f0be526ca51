/* tests/unit/test_store_recovery.c: what store_open(STORE_RECOVER) repairs after a crash, and the lock. */
#include <sqlite3.h>
#include <time.h>

#include "tests/unit/test_store_util.h"

static void reopen(struct tsu_fixture *f)
{
	store_close(f->st);
	assert_int_equal(store_open(f->dir, STORE_RECOVER, &f->st), STORE_OK);
}

static int path_exists(const char *dir, const char *rel)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	return access(p, F_OK) == 0;
}

static void test_recovery_deletes_tmp_leftovers(void **state)
{
	struct tsu_fixture *f = *state;
	char p[600];
	snprintf(p, sizeof p, "%s/tmp/73-b0-00000001.zst.part", f->dir);
	tsu_write_file(p, "partial", 7);
	reopen(f);
	assert_int_equal(tsu_entries(f->dir, "tmp"), 0);
}

/* Crash between the rename into cores/ and the index insert: the file is a verified
 * dump and is indexed again from its own metadata. */
static void test_recovery_indexes_renamed_but_unindexed_core(void **state)
{
	struct tsu_fixture *f = *state;
	size_t n = 1234567;
	uint8_t *core = tsu_core(n, 11), sha[32];
	struct nd_meta m;
	struct store_rec before, after;
	nd_sha256(core, n, sha);
	tsu_meta(&m, "dev-recover", 3, n);
	uint64_t id = tsu_import(f->st, f->dir, &m, core, n);
	assert_int_equal(store_get(f->st, id, &before), STORE_OK);

	/* Lose the row, keep the file: what a crash before the insert leaves. */
	assert_int_equal(sqlite3_exec(store_db(f->st), "DELETE FROM dump_buildids;"
	                              "DELETE FROM dumps", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(tsu_count(f->st), 0);
	reopen(f);

	assert_int_equal(tsu_count(f->st), 1);
	assert_int_equal(store_get(f->st, id, &after), STORE_OK);
	assert_string_equal(after.meta.device, "dev-recover");
	assert_int_equal(after.meta.seq, 3);
	assert_int_equal(after.meta.core_size, n);
	assert_int_equal(after.meta.pid, m.pid);
	assert_string_equal(after.meta.cause, m.cause);
	assert_string_equal(after.meta.firmware, m.firmware);
	assert_int_equal(after.meta.n_buildids, 1);
	assert_memory_equal(after.meta.buildids[0].id, m.buildids[0].id, 20);
	assert_memory_equal(after.sha256, sha, 32);
	assert_int_equal(after.csize, before.csize);
	assert_int_equal(after.received, before.received);
	size_t got;
	uint8_t *back = tsu_read_back(f->st, id, &got);
	assert_int_equal(got, n);
	assert_memory_equal(back, core, n);
	free(back);
	free(core);
}

static void test_recovery_drops_rows_whose_file_is_missing(void **state)
{
	struct tsu_fixture *f = *state;
	uint8_t *core = tsu_core(5000, 12);
	struct nd_meta m;
	struct store_rec r;
	tsu_meta(&m, "dev-missing", 1, 5000);
	uint64_t id = tsu_import(f->st, f->dir, &m, core, 5000);
	tsu_meta(&m, "dev-missing", 2, 5000);
	uint64_t keep = tsu_import(f->st, f->dir, &m, core, 5000);
	char rel[64];
	snprintf(rel, sizeof rel, "cores/%llu.core.zst", (unsigned long long)id);
	char p[600];
	snprintf(p, sizeof p, "%s/%s", f->dir, rel);
	assert_int_equal(unlink(p), 0);
	reopen(f);
	assert_int_equal(store_get(f->st, id, &r), STORE_E_NOTFOUND);
	assert_int_equal(store_get(f->st, keep, &r), STORE_OK);
	free(core);
}

static void test_recovery_deletes_unparseable_core_files(void **state)
{
	struct tsu_fixture *f = *state;
	char p[600];
	snprintf(p, sizeof p, "%s/cores/77.core.zst", f->dir);
	tsu_write_file(p, "this is not a core file at all, not even zstd........................", 70);
	reopen(f);
	assert_false(path_exists(f->dir, "cores/77.core.zst"));
	assert_int_equal(tsu_count(f->st), 0);
}

/* Crash after the insert but before the spool was removed. */
static void test_recovery_removes_spool_of_stored_key(void **state)
{
	struct tsu_fixture *f = *state;
	uint8_t *core = tsu_core(4000, 13);
	struct nd_meta m;
	char key[STORE_KEY_MAX], p[600];
	tsu_meta(&m, "dev-stale", 4, 4000);
	tsu_import(f->st, f->dir, &m, core, 4000);
	store_key(&m, key);
	snprintf(p, sizeof p, "%s/spool/%s.part", f->dir, key);
	tsu_write_file(p, core, 4000);
	snprintf(p, sizeof p, "%s/spool/%s.state", f->dir, key);
	tsu_write_file(p, "x", 1);
	/* A spool of a key not stored must survive recovery. */
	struct nd_meta other;
	tsu_meta(&other, "dev-stale", 5, 4000);
	store_key(&other, key);
	snprintf(p, sizeof p, "%s/spool/%s.part", f->dir, key);
	tsu_write_file(p, core, 100);
	reopen(f);
	assert_int_equal(tsu_entries(f->dir, "spool"), 1);
	assert_true(access(p, F_OK) == 0);
	free(core);
}

static void test_keys_differ_by_seq_and_boot(void **state)
{
	(void)state;
	struct nd_meta a, b;
	char ka[STORE_KEY_MAX], kb[STORE_KEY_MAX];
	tsu_meta(&a, "dev/with spaces\n", 1, 10);
	b = a;
	b.seq = 2;
	store_key(&a, ka);
	store_key(&b, kb);
	assert_string_not_equal(ka, kb);
	assert_null(strchr(ka, '/'));
	assert_null(strchr(ka, ' '));
	assert_true(strlen(ka) > 2 * ND_BOOTID_LEN + 8);
	assert_string_equal(ka + strlen(ka) - 9, "-00000001");
	b = a;
	b.boot_id[15] ^= 1;
	store_key(&b, kb);
	assert_string_not_equal(ka, kb);
}

static void test_second_collector_on_same_store_is_refused(void **state)
{
	struct tsu_fixture *f = *state;
	struct store *st2;
	assert_int_equal(store_open(f->dir, STORE_RECOVER, &st2), STORE_E_BUSY);
	assert_null(st2);
	assert_non_null(strstr(store_open_errmsg(), "another collector"));
	/* Readers (corecastctl) are not affected. */
	assert_int_equal(store_open(f->dir, STORE_RDONLY, &st2), STORE_OK);
	store_close(st2);
}

static void test_open_without_create_names_missing_store(void **state)
{
	struct tsu_fixture *f = *state;
	struct store *st2;
	char p[600];
	snprintf(p, sizeof p, "%s/nothing-here", f->dir);
	assert_int_equal(store_open(p, STORE_RDONLY, &st2), STORE_E_NOSTORE);
	assert_non_null(strstr(store_open_errmsg(), "nothing-here: no such directory"));
	snprintf(p, sizeof p, "%s/cores", f->dir);
	assert_int_equal(store_open(p, 0, &st2), STORE_E_NOSTORE);
	assert_non_null(strstr(store_open_errmsg(), "not a corecast store"));
}

static void test_truncated_core_file_reads_as_corrupt(void **state)
{
	struct tsu_fixture *f = *state;
	size_t n = 3 * 1024 * 1024;
	uint8_t *core = tsu_core(n, 14);
	struct nd_meta m;
	struct store_rec r;
	tsu_meta(&m, "dev-trunc", 1, n);
	uint64_t id = tsu_import(f->st, f->dir, &m, core, n);
	assert_int_equal(store_get(f->st, id, &r), STORE_OK);
	char p[600];
	snprintf(p, sizeof p, "%s/%s", f->dir, r.path);
	assert_int_equal(truncate(p, (off_t)(r.csize / 2)), 0);
	struct store_reader *rd;
	assert_int_equal(store_open_core(f->st, id, &rd), STORE_OK);
	uint8_t *buf = malloc(1 << 16);
	size_t got;
	enum store_err e;
	while ((e = store_read(rd, buf, 1 << 16, &got)) == STORE_OK && got)
		;
	assert_int_equal(e, STORE_E_CORRUPT);
	store_reader_close(rd);
	free(buf);
	free(core);
}

static void test_rm_deletes_file_and_row(void **state)
{
	struct tsu_fixture *f = *state;
	uint8_t *core = tsu_core(10000, 15);
	struct nd_meta m;
	struct store_rec r;
	tsu_meta(&m, "dev-rm", 1, 10000);
	uint64_t id = tsu_import(f->st, f->dir, &m, core, 10000);
	assert_int_equal(store_get(f->st, id, &r), STORE_OK);
	assert_int_equal(store_rm(f->st, id), STORE_OK);
	assert_false(path_exists(f->dir, r.path));
	assert_int_equal(store_get(f->st, id, &r), STORE_E_NOTFOUND);
	assert_int_equal(store_rm(f->st, id), STORE_E_NOTFOUND);
	/* Ids are never reused after a delete. */
	tsu_meta(&m, "dev-rm", 2, 10000);
	assert_true(tsu_import(f->st, f->dir, &m, core, 10000) > id);
	free(core);
}

static int list_first_device(const struct store_rec *r, void *arg)
{
	snprintf(arg, ND_DEVICE_MAX, "%s", r->meta.device);
	return 1;
}

static void test_list_filters_by_device_and_since(void **state)
{
	struct tsu_fixture *f = *state;
	uint8_t *core = tsu_core(1000, 16);
	struct nd_meta m;
	tsu_meta(&m, "dev-a", 1, 1000);
	tsu_import(f->st, f->dir, &m, core, 1000);
	tsu_meta(&m, "dev-b", 1, 1000);
	tsu_import(f->st, f->dir, &m, core, 1000);
	tsu_meta(&m, "dev-a", 2, 1000);
	tsu_import(f->st, f->dir, &m, core, 1000);
	struct store_filter fl = { "dev-a", 0 };
	unsigned n = 0;
	assert_int_equal(store_list(f->st, &fl, tsu_count_cb, &n), STORE_OK);
	assert_int_equal(n, 2);
	fl.device = NULL;
	fl.since = (int64_t)time(NULL) + 3600;
	n = 0;
	assert_int_equal(store_list(f->st, &fl, tsu_count_cb, &n), STORE_OK);
	assert_int_equal(n, 0);
	char first[ND_DEVICE_MAX] = "";
	assert_int_equal(store_list(f->st, NULL, list_first_device, first), STORE_OK);
	assert_string_equal(first, "dev-a");
	free(core);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recovery_deletes_tmp_leftovers, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_recovery_indexes_renamed_but_unindexed_core, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_recovery_drops_rows_whose_file_is_missing, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_recovery_deletes_unparseable_core_files, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_recovery_removes_spool_of_stored_key, tsu_setup, tsu_teardown),
		cmocka_unit_test(test_keys_differ_by_seq_and_boot),
		cmocka_unit_test_setup_teardown(test_second_collector_on_same_store_is_refused, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_open_without_create_names_missing_store, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_truncated_core_file_reads_as_corrupt, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_rm_deletes_file_and_row, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_list_filters_by_device_and_since, tsu_setup, tsu_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
