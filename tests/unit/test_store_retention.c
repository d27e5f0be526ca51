/* tests/unit/test_store_retention.c: MaxUse/KeepFree retention, admission, and a really full disk. */
#include <sched.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include "tests/unit/test_store_util.h"

/* Incompressible bytes, so compressed sizes are predictable. */
static uint8_t *noise(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n);
	uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		p[i] = (uint8_t)(x >> 32);
	}
	return p;
}

/* Four dumps, ids 1..4; returns the compressed size of each in cs[]. */
static void four_dumps(struct tsu_fixture *f, uint64_t cs[4])
{
	for (unsigned i = 0; i < 4; i++) {
		size_t n = 200000;
		uint8_t *core = noise(n, i);
		struct nd_meta m;
		struct store_rec r;
		tsu_meta(&m, "dev-ret", i + 1, n);
		uint64_t id = tsu_import(f->st, f->dir, &m, core, n);
		assert_int_equal(id, i + 1);
		assert_int_equal(store_get(f->st, id, &r), STORE_OK);
		cs[i] = r.csize;
		free(core);
	}
}

static int exists(struct store *st, uint64_t id)
{
	struct store_rec r;
	return store_get(st, id, &r) == STORE_OK;
}

static void test_vacuum_removes_oldest_first_under_max_use(void **state)
{
	struct tsu_fixture *f = *state;
	uint64_t cs[4];
	unsigned removed;
	four_dumps(f, cs);
	/* Make dump 1 the newest by receive time: age, not id, decides. */
	assert_int_equal(sqlite3_exec(store_db(f->st), "UPDATE dumps SET received = received + 100 "
	                              "WHERE id = 1", NULL, NULL, NULL), SQLITE_OK);
	store_set_limits(f->st, (int64_t)(cs[0] + cs[3] + 1000), 0);
	assert_int_equal(store_vacuum(f->st, &removed), STORE_OK);
	assert_int_equal(removed, 2);
	assert_false(exists(f->st, 2));
	assert_false(exists(f->st, 3));
	assert_true(exists(f->st, 1));
	assert_true(exists(f->st, 4));
	assert_int_equal(tsu_entries(f->dir, "cores"), 2);
	assert_int_equal(store_usage(f->st), cs[0] + cs[3]);
	/* Within limits, vacuum deletes nothing. */
	assert_int_equal(store_vacuum(f->st, &removed), STORE_OK);
	assert_int_equal(removed, 0);
}

static void test_admit_refuses_core_larger_than_max_use(void **state)
{
	struct tsu_fixture *f = *state;
	uint64_t cs[4];
	four_dumps(f, cs);
	store_set_limits(f->st, 1000000, 0);
	assert_int_equal(store_admit(f->st, 1000001), STORE_E_TOO_LARGE);
	assert_int_equal(tsu_count(f->st), 4);
}

/* The file system cannot give KeepFree even with every dump deleted: refuse, and
 * delete nothing. */
static void test_admit_refuses_when_disk_full_and_keeps_dumps(void **state)
{
	struct tsu_fixture *f = *state;
	uint64_t cs[4];
	struct statvfs sv;
	four_dumps(f, cs);
	assert_int_equal(statvfs(f->dir, &sv), 0);
	uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	store_set_limits(f->st, -1, (int64_t)(avail + (1ull << 40)));
	assert_int_equal(store_admit(f->st, 1000), STORE_E_NOSPACE);
	assert_non_null(strstr(store_errmsg(f->st), "KeepFree"));
	assert_int_equal(tsu_count(f->st), 4);
	size_t got;
	uint8_t *back = tsu_read_back(f->st, 1, &got);
	assert_int_equal(got, 200000);
	free(back);
}

/* When deleting old dumps makes room, admission rotates: oldest go, the new fits. */
static void test_admit_makes_room_by_deleting_oldest(void **state)
{
	struct tsu_fixture *f = *state;
	uint64_t cs[4];
	four_dumps(f, cs);
	uint64_t total = cs[0] + cs[1] + cs[2] + cs[3];
	store_set_limits(f->st, (int64_t)(total + 50000), 0);
	assert_int_equal(store_admit(f->st, 40000), STORE_OK);
	assert_int_equal(tsu_count(f->st), 4);
	assert_int_equal(store_admit(f->st, 50000 + cs[0] / 2), STORE_OK);
	assert_int_equal(tsu_count(f->st), 3);
	assert_false(exists(f->st, 1));
	assert_int_equal(store_admit(f->st, 50000 + cs[0] + cs[1] + 10), STORE_OK);
	assert_false(exists(f->st, 2));
	assert_false(exists(f->st, 3));
	assert_true(exists(f->st, 4));
}

/* Spools in flight count against MaxUse, so concurrent sessions cannot overcommit. */
static void test_open_spools_reserve_their_size(void **state)
{
	struct tsu_fixture *f = *state;
	struct nd_meta m;
	struct spool *sp;
	uint64_t resume;
	store_set_limits(f->st, 1000000, 0);
	tsu_meta(&m, "dev-res", 1, 700000);
	assert_int_equal(store_admit(f->st, 700000), STORE_OK);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	assert_int_equal(store_usage(f->st), 700000);
	assert_int_equal(store_admit(f->st, 400000), STORE_E_NOSPACE);
	store_spool_abort(sp);
	assert_int_equal(store_admit(f->st, 400000), STORE_OK);
}

/* Usage follows deletions made by another process (corecastctl rm) as well as the
 * store's own inserts and deletes. */
static void test_usage_tracks_own_and_foreign_changes(void **state)
{
	struct tsu_fixture *f = *state;
	uint64_t cs[4];
	four_dumps(f, cs);
	uint64_t all = cs[0] + cs[1] + cs[2] + cs[3];
	assert_int_equal(store_usage(f->st), all);
	assert_int_equal(store_rm(f->st, 1), STORE_OK);
	assert_int_equal(store_usage(f->st), all - cs[0]);
	struct store *other;
	assert_int_equal(store_open(f->dir, 0, &other), STORE_OK);
	assert_int_equal(store_rm(other, 3), STORE_OK);
	store_close(other);
	assert_int_equal(store_usage(f->st), cs[1] + cs[3]);
	uint8_t *core = noise(1000, 9);
	struct nd_meta m;
	struct store_rec r;
	tsu_meta(&m, "dev-usage", 1, 1000);
	uint64_t id = tsu_import(f->st, f->dir, &m, core, 1000);
	assert_int_equal(store_get(f->st, id, &r), STORE_OK);
	assert_int_equal(store_usage(f->st), cs[1] + cs[3] + r.csize);
	free(core);
}

static void test_default_limits_follow_systemd_coredump(void **state)
{
	struct tsu_fixture *f = *state;
	struct statvfs sv;
	uint64_t mu, kf;
	assert_int_equal(statvfs(f->dir, &sv), 0);
	uint64_t total = (uint64_t)sv.f_blocks * sv.f_frsize;
	uint64_t cap = 4ull << 30;
	store_set_limits(f->st, -1, -1);
	store_get_limits(f->st, &mu, &kf);
	assert_int_equal(mu, total / 100 * 10 > cap ? cap : total / 100 * 10);
	assert_int_equal(kf, total / 100 * 15 > cap ? cap : total / 100 * 15);
	store_set_limits(f->st, 123, 456);
	store_get_limits(f->st, &mu, &kf);
	assert_int_equal(mu, 123);
	assert_int_equal(kf, 456);
}

/*
 * A really full file system (a 6 MiB tmpfs in a private mount namespace): spooling
 * and importing fail with STORE_E_NOSPACE, the stored dump stays readable and
 * byte-identical, nothing half-written is indexed.  Runs in a child so the mount
 * never leaks; needs root (skipped otherwise).
 */
static int full_disk_child(const char *mnt)
{
	struct store *st;
	struct spool *sp;
	struct nd_meta m;
	uint64_t resume, id;
	size_t small = 1 << 20, big = 8 << 20;
	uint8_t *a = noise(small, 1), *b = noise(big, 2);
	char path[1400];

	if (mount("none", mnt, "tmpfs", 0, "size=6m") < 0)
		return 77;
	if (store_open(mnt, STORE_CREATE | STORE_RECOVER, &st) != STORE_OK)
		return 10;
	store_set_limits(st, 1ll << 40, 0);   /* admission off: hit the real ENOSPC */
	tsu_meta(&m, "dev-full", 1, small);
	snprintf(path, sizeof path, "%s/in", mnt);
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	if (write(fd, a, small) != (ssize_t)small || lseek(fd, 0, SEEK_SET) != 0)
		return 11;
	if (store_add_core(st, &m, fd, &id) != STORE_OK)
		return 12;
	close(fd);
	unlink(path);

	/* A big transfer runs the disk full. */
	tsu_meta(&m, "dev-full", 2, big);
	if (store_spool_open(st, &m, &sp, &resume) != STORE_OK)
		return 13;
	enum store_err e = STORE_OK;
	for (size_t off = 0; off < big && e == STORE_OK; off += 65536) {
		e = store_spool_write(sp, off, b + off, 65536);
		if (e == STORE_OK)
			e = store_spool_advance(sp, off + 65536);
	}
	if (e != STORE_E_NOSPACE)
		return 14;
	if (!strstr(store_errmsg(st), "dev-full"))
		return 15;
	store_spool_abort(sp);

	/* Importing a core that cannot fit: refused, nothing indexed, no leftovers. */
	tsu_meta(&m, "dev-full", 3, 0);
	fd = open("/dev/zero", O_RDONLY);
	int pfd[2];
	if (pipe(pfd) < 0)
		return 16;
	if (fork() == 0) {
		close(pfd[0]);
		for (size_t off = 0; off < big; off += 65536)
			if (write(pfd[1], b + off, 65536) != 65536)
				_exit(0);
		_exit(0);
	}
	close(pfd[1]);
	e = store_add_core(st, &m, pfd[0], &id);
	close(pfd[0]);
	close(fd);
	wait(NULL);
	if (e != STORE_E_NOSPACE)
		return 17;

	unsigned n = 0;
	if (store_list(st, NULL, tsu_count_cb, &n) != STORE_OK || n != 1)
		return 18;
	struct store_reader *rd;
	if (store_open_core(st, 1, &rd) != STORE_OK)
		return 19;
	uint8_t *back = malloc(small + 1);
	size_t len = 0, got;
	while (store_read(rd, back + len, small + 1 - len, &got) == STORE_OK && got)
		len += got;
	store_reader_close(rd);
	if (len != small || memcmp(back, a, small))
		return 20;
	snprintf(path, sizeof path, "find %s/tmp %s/spool -type f | grep -q .", mnt, mnt);
	if (system(path) == 0)
		return 21;

	/* A transfer that hits ENOSPC mid-way carries on once space is freed (the
	 * operator deletes something) and still stores the exact core: a failed write
	 * of the compressed stream leaves no half frame behind. */
	size_t mid = 3 << 19;   /* 1.5 MiB: spool + compressed copy fit once freed */
	snprintf(path, sizeof path, "%s/filler", mnt);
	fd = open(path, O_RDWR | O_CREAT, 0644);
	for (size_t off = 0;; off += 65536)
		if (write(fd, b, 65536) != 65536)
			break;
	off_t full = lseek(fd, 0, SEEK_END);
	if (ftruncate(fd, full - (off_t)(5 << 18)) < 0)   /* 1.25 MiB free: chunk 1 compressed won't fit */
		return 22;
	close(fd);
	tsu_meta(&m, "dev-full", 4, mid);
	if (store_spool_open(st, &m, &sp, &resume) != STORE_OK)
		return 23;
	int hit = 0;
	for (size_t off = 0; off < mid; off += 65536) {
		for (int tries = 0;; tries++) {
			e = store_spool_write(sp, off, b + off, 65536);
			if (e == STORE_OK)
				e = store_spool_advance(sp, off + 65536);
			if (e == STORE_OK)
				break;
			if (e != STORE_E_NOSPACE || tries)
				return 24;
			hit = 1;
			unlink(path);   /* free the space, then retry */
		}
	}
	uint8_t sha[32];
	nd_sha256(b, mid, sha);
	if (!hit || store_spool_finish(sp, sha, &id) != STORE_OK)
		return 25;
	if (store_open_core(st, id, &rd) != STORE_OK)
		return 26;
	uint8_t *back2 = malloc(mid + 1);
	len = 0;
	while (store_read(rd, back2 + len, mid + 1 - len, &got) == STORE_OK && got)
		len += got;
	store_reader_close(rd);
	if (len != mid || memcmp(back2, b, mid))
		return 27;
	free(back2);
	store_close(st);
	free(a);
	free(b);
	free(back);
	umount(mnt);
	return 0;
}

static void test_full_disk_refuses_and_keeps_stored_dumps(void **state)
{
	struct tsu_fixture *f = *state;
	char mnt[400];
	snprintf(mnt, sizeof mnt, "%s/small-fs", f->dir);
	assert_int_equal(mkdir(mnt, 0755), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(77);
		_exit(full_disk_child(mnt));
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();   /* no privilege for a private tmpfs */
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vacuum_removes_oldest_first_under_max_use, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_admit_refuses_core_larger_than_max_use, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_admit_refuses_when_disk_full_and_keeps_dumps, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_admit_makes_room_by_deleting_oldest, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_open_spools_reserve_their_size, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_usage_tracks_own_and_foreign_changes, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_default_limits_follow_systemd_coredump, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_full_disk_refuses_and_keeps_stored_dumps, tsu_setup, tsu_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
