/* tests/unit/test_store_spool.c: network-session spooling — out-of-order writes, digests, resume, import. */
#include <dirent.h>
#include <sys/wait.h>

#include "tests/unit/test_store_util.h"

#define PKT 1400
#define STORE_TEST_CHUNKISH (3u << 20)

/* Deliver [lo, hi) of core in PKT-sized packets in a scrambled order (with some
 * duplicates), advancing the contiguous prefix as a receiver would. */
static void deliver(struct spool *sp, const uint8_t *core, uint64_t lo, uint64_t hi,
                    uint32_t seed)
{
	uint64_t npk = (hi - lo + PKT - 1) / PKT;
	uint64_t *order = malloc(npk * sizeof *order);
	uint8_t *have = calloc(npk, 1);
	for (uint64_t i = 0; i < npk; i++)
		order[i] = i;
	uint32_t x = seed | 1;
	for (uint64_t i = npk; i > 1; i--) {   /* Fisher-Yates within windows of 64 */
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		uint64_t base = (i - 1) / 64 * 64;
		uint64_t j = base + x % (i - base);
		uint64_t t = order[i - 1]; order[i - 1] = order[j]; order[j] = t;
	}
	uint64_t next = 0;
	for (uint64_t k = 0; k < npk; k++) {
		uint64_t i = order[k];
		uint64_t off = lo + i * PKT;
		size_t len = (size_t)(hi - off < PKT ? hi - off : PKT);
		assert_int_equal(store_spool_write(sp, off, core + off, len), STORE_OK);
		if (k % 7 == 0)   /* duplicates are harmless */
			assert_int_equal(store_spool_write(sp, off, core + off, len), STORE_OK);
		have[i] = 1;
		while (next < npk && have[next])
			next++;
		uint64_t contig = next == npk ? hi : lo + next * PKT;
		assert_int_equal(store_spool_advance(sp, contig), STORE_OK);
	}
	free(order);
	free(have);
}

static void test_spool_out_of_order_finish_is_byte_identical(void **state)
{
	struct tsu_fixture *f = *state;
	size_t n = 3 * 1024 * 1024 + 12345;   /* several chunks plus a tail */
	uint8_t *core = tsu_core(n, 1), sha[32];
	struct nd_meta m;
	struct spool *sp;
	uint64_t resume = 99, id = 0;

	nd_sha256(core, n, sha);
	tsu_meta(&m, "sensor-0001", 1, n);
	assert_int_equal(store_admit(f->st, n), STORE_OK);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	assert_int_equal(resume, 0);
	deliver(sp, core, 0, n, 7);
	assert_int_equal(store_spool_contiguous(sp), n);
	assert_int_equal(store_spool_finish(sp, sha, &id), STORE_OK);
	assert_true(id > 0);

	struct store_rec r;
	assert_int_equal(store_get(f->st, id, &r), STORE_OK);
	assert_string_equal(r.meta.device, "sensor-0001");
	assert_int_equal(r.meta.core_size, n);
	assert_memory_equal(r.sha256, sha, 32);
	assert_string_equal(r.status, "stored");
	assert_int_equal(r.meta.n_buildids, 1);
	assert_memory_equal(r.meta.buildids[0].id, m.buildids[0].id, 20);
	assert_true(r.csize < n);   /* it was compressed */

	size_t got;
	uint8_t *back = tsu_read_back(f->st, id, &got);
	assert_int_equal(got, n);
	assert_memory_equal(back, core, n);
	/* Spool and temporary files are gone once committed. */
	assert_int_equal(tsu_entries(f->dir, "spool"), 0);
	assert_int_equal(tsu_entries(f->dir, "tmp"), 0);
	assert_int_equal(tsu_count(f->st), 1);

	/* Any zstd decoder gives the same bytes (metadata frames are skippable). */
	char cmd[600];
	snprintf(cmd, sizeof cmd, "zstd -dqc %s/%s > %s/plain", f->dir, r.path, f->dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof cmd, "%s/plain", f->dir);
	FILE *pf = fopen(cmd, "rb");
	uint8_t *plain = malloc(n + 1);
	assert_int_equal(fread(plain, 1, n + 1, pf), n);
	fclose(pf);
	assert_memory_equal(plain, core, n);
	free(plain);
	free(back);
	free(core);
}

static void test_digest_mismatch_is_refused_and_nothing_indexed(void **state)
{
	struct tsu_fixture *f = *state;
	size_t n = 1500000;
	uint8_t *core = tsu_core(n, 2), sha[32];
	struct nd_meta m;
	struct spool *sp;
	uint64_t resume, id = 0;

	nd_sha256(core, n, sha);
	sha[5] ^= 1;
	tsu_meta(&m, "sensor-0002", 1, n);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	deliver(sp, core, 0, n, 3);
	assert_int_equal(store_spool_finish(sp, sha, &id), STORE_E_DIGEST);
	assert_int_equal(tsu_count(f->st), 0);
	assert_int_equal(tsu_entries(f->dir, "cores"), 0);
	assert_int_equal(tsu_entries(f->dir, "spool"), 0);
	assert_int_equal(tsu_entries(f->dir, "tmp"), 0);
	assert_non_null(strstr(store_errmsg(f->st), "sensor-0002"));

	/* The same key can be sent again from scratch and then stores. */
	sha[5] ^= 1;
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	assert_int_equal(resume, 0);
	deliver(sp, core, 0, n, 4);
	assert_int_equal(store_spool_finish(sp, sha, &id), STORE_OK);
	assert_int_equal(tsu_count(f->st), 1);
	free(core);
}

/* A collector that closes a session without finishing (network drop) keeps it. */
static void test_reopen_after_close_resumes_at_contiguous_length(void **state)
{
	struct tsu_fixture *f = *state;
	size_t n = 5 * 1024 * 1024 + 77, cut = 2 * 1024 * 1024 + 5 * PKT;
	uint8_t *core = tsu_core(n, 3), sha[32];
	struct nd_meta m;
	struct spool *sp;
	uint64_t resume, id;

	nd_sha256(core, n, sha);
	tsu_meta(&m, "sensor-0003", 9, n);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	deliver(sp, core, 0, cut, 5);
	/* Out-of-order bytes past the contiguous prefix are not claimed. */
	assert_int_equal(store_spool_write(sp, cut + 10 * PKT, core + cut + 10 * PKT, PKT), STORE_OK);
	store_spool_close(sp);

	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	assert_int_equal(resume, cut);
	deliver(sp, core, resume, n, 6);
	assert_int_equal(store_spool_finish(sp, sha, &id), STORE_OK);
	size_t got;
	uint8_t *back = tsu_read_back(f->st, id, &got);
	assert_int_equal(got, n);
	assert_memory_equal(back, core, n);
	free(back);
	free(core);
}

/* A collector (a child process) receives [0, cut) of a 24 MiB core and dies without
 * any cleanup, as if SIGKILLed. */
static void killed_collector(struct tsu_fixture *f, const struct nd_meta *m, const uint8_t *core,
                             size_t cut)
{
	uint64_t resume;
	store_close(f->st);
	f->st = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st;
		struct spool *sp;
		if (store_open(f->dir, STORE_CREATE | STORE_RECOVER, &st) != STORE_OK ||
		    store_spool_open(st, m, &sp, &resume) != STORE_OK)
			_exit(2);
		deliver(sp, core, 0, cut, 8);
		_exit(0);   /* no close, no sync: as if killed */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(store_open(f->dir, STORE_RECOVER, &f->st), STORE_OK);
}

/* Resume the transfer at resume, finish it, and check the stored core. */
static void finish_from(struct tsu_fixture *f, const struct nd_meta *m, struct spool *sp,
                        const uint8_t *core, uint64_t resume)
{
	uint8_t sha[32];
	uint64_t id, n = m->core_size;
	nd_sha256(core, n, sha);
	deliver(sp, core, resume, n, 9);
	assert_int_equal(store_spool_finish(sp, sha, &id), STORE_OK);
	assert_int_equal(tsu_count(f->st), 1);
	size_t got;
	uint8_t *back = tsu_read_back(f->st, id, &got);
	assert_int_equal(got, n);
	assert_memory_equal(back, core, n);
	free(back);
}

#define MIB (1024u * 1024u)

/*
 * The collector is killed mid-transfer (the machine keeps running, so the page cache
 * keeps every byte it wrote).  The restarted collector resumes within one chunk of
 * what was received -- not at the last fdatasync -- and the core comes out exact.
 */
static void test_resume_after_collector_killed(void **state)
{
	struct tsu_fixture *f = *state;
	size_t n = 24 * MIB + 4321, cut = 12 * MIB + 3 * PKT;
	uint8_t *core = tsu_core(n, 4);
	struct nd_meta m;
	struct spool *sp;
	uint64_t resume;
	tsu_meta(&m, "sensor-0004", 2, n);
	killed_collector(f, &m, core, cut);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	assert_true(resume > cut - 2 * MIB);
	assert_true(resume <= cut);
	finish_from(f, &m, sp, core, resume);
	free(core);
}

/*
 * Power loss: after a reboot unsynced pages may be gone, so the resume point falls
 * back to the last fdatasync'ed prefix (the first sync comes after 16 MiB).  The
 * reboot is simulated by recording another host boot id in the spool state.
 */
static void test_resume_after_power_loss_uses_synced_prefix(void **state)
{
	struct tsu_fixture *f = *state;
	size_t n = 24 * MIB + 4321, cut = 20 * MIB + 3 * PKT;
	uint8_t *core = tsu_core(n, 10), b[64], d[32];
	struct nd_meta m;
	struct spool *sp;
	uint64_t resume;
	char key[STORE_KEY_MAX], p[600];
	tsu_meta(&m, "sensor-0010", 2, n);
	killed_collector(f, &m, core, cut);

	store_key(&m, key);
	snprintf(p, sizeof p, "%s/spool/%s.state", f->dir, key);
	int fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, b, 64, 0), 64);
	b[32] ^= 0x5a;                    /* another boot */
	nd_sha256(b, 56, d);
	memcpy(b + 56, d, 8);
	assert_int_equal(pwrite(fd, b, 64, 0), 64);
	close(fd);

	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	assert_true(resume >= 16 * MIB);
	assert_true(resume < 17 * MIB);
	finish_from(f, &m, sp, core, resume);
	free(core);
}

/* A torn or foreign state record is never trusted: resume from 0. */
static void test_damaged_state_restarts_from_zero(void **state)
{
	struct tsu_fixture *f = *state;
	size_t n = 3 * MIB;
	uint8_t *core = tsu_core(n, 11);
	struct nd_meta m;
	struct spool *sp;
	uint64_t resume;
	char key[STORE_KEY_MAX], p[600];
	tsu_meta(&m, "sensor-0011", 2, n);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	deliver(sp, core, 0, 2 * MIB, 3);
	store_spool_close(sp);
	store_key(&m, key);
	snprintf(p, sizeof p, "%s/spool/%s.state", f->dir, key);
	int fd = open(p, O_RDWR);
	assert_int_equal(pwrite(fd, "\xff", 1, 20), 1);
	close(fd);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	assert_int_equal(resume, 0);
	finish_from(f, &m, sp, core, resume);
	free(core);
}

/* A dump whose commit succeeded is answered "already stored" with its id, never
 * stored twice. */
static void test_stored_key_reopens_as_exists_not_duplicate(void **state)
{
	struct tsu_fixture *f = *state;
	size_t n = 300000;
	uint8_t *core = tsu_core(n, 5), sha[32];
	struct nd_meta m;
	struct spool *sp;
	uint64_t resume, id, id2 = 0;

	nd_sha256(core, n, sha);
	tsu_meta(&m, "sensor-0005", 3, n);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	deliver(sp, core, 0, n, 1);
	assert_int_equal(store_spool_finish(sp, sha, &id), STORE_OK);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_E_EXISTS);
	assert_null(sp);
	assert_int_equal(store_find(f->st, m.device, m.boot_id, m.seq, &id2), STORE_OK);
	assert_int_equal(id2, id);
	int fd = open("/dev/null", O_RDONLY);
	assert_int_equal(store_add_core(f->st, &m, fd, &id2), STORE_E_EXISTS);
	close(fd);
	assert_int_equal(id2, id);
	assert_int_equal(tsu_count(f->st), 1);
	free(core);
}

static void test_second_session_for_same_key_is_busy(void **state)
{
	struct tsu_fixture *f = *state;
	struct nd_meta m;
	struct spool *sp, *sp2;
	uint64_t resume;
	tsu_meta(&m, "sensor-0006", 1, 1000);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	assert_int_equal(store_spool_open(f->st, &m, &sp2, &resume), STORE_E_BUSY);
	store_spool_abort(sp);
	assert_int_equal(tsu_entries(f->dir, "spool"), 0);
}

static void test_finish_before_complete_keeps_spool(void **state)
{
	struct tsu_fixture *f = *state;
	size_t n = 200000;
	uint8_t *core = tsu_core(n, 6), sha[32];
	struct nd_meta m;
	struct spool *sp;
	uint64_t resume, id;
	nd_sha256(core, n, sha);
	tsu_meta(&m, "sensor-0007", 1, n);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	deliver(sp, core, 0, 100000, 2);
	assert_int_equal(store_spool_finish(sp, sha, &id), STORE_E_INCOMPLETE);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	assert_int_equal(resume, 100000);
	store_spool_abort(sp);
	free(core);
}

static void test_write_past_core_size_is_rejected(void **state)
{
	struct tsu_fixture *f = *state;
	struct nd_meta m;
	struct spool *sp;
	uint64_t resume;
	uint8_t buf[100] = { 0 };
	tsu_meta(&m, "sensor-0008", 1, 1000);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	assert_int_equal(store_spool_write(sp, 950, buf, 100), STORE_E_INVAL);
	assert_int_equal(store_spool_write(sp, UINT64_MAX - 10, buf, 100), STORE_E_INVAL);
	assert_int_equal(store_spool_advance(sp, 1001), STORE_E_INVAL);
	assert_int_equal(store_spool_write(sp, 900, buf, 100), STORE_OK);
	store_spool_abort(sp);
}

/* A reopen announcing another core size is a different core: start from 0. */
static void test_reopen_with_other_size_starts_over(void **state)
{
	struct tsu_fixture *f = *state;
	size_t n = 500000;
	uint8_t *core = tsu_core(n, 7);
	struct nd_meta m;
	struct spool *sp;
	uint64_t resume;
	tsu_meta(&m, "sensor-0009", 1, n);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	deliver(sp, core, 0, 300000, 2);
	store_spool_close(sp);
	m.core_size = n + 1;
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	assert_int_equal(resume, 0);
	store_spool_abort(sp);
	free(core);
}

static void test_import_through_add_core(void **state)
{
	struct tsu_fixture *f = *state;
	size_t n = 2 * 1024 * 1024 + 999;
	uint8_t *core = tsu_core(n, 8), sha[32];
	struct nd_meta m;
	nd_sha256(core, n, sha);
	tsu_meta(&m, "serial-import", 4, 0);   /* size learnt from the file */
	uint64_t id = tsu_import(f->st, f->dir, &m, core, n);
	struct store_rec r;
	assert_int_equal(store_get(f->st, id, &r), STORE_OK);
	assert_int_equal(r.meta.core_size, n);
	assert_memory_equal(r.sha256, sha, 32);
	size_t got;
	uint8_t *back = tsu_read_back(f->st, id, &got);
	assert_int_equal(got, n);
	assert_memory_equal(back, core, n);

	/* A stated size that the file does not have is refused, nothing stored. */
	char path[512];
	snprintf(path, sizeof path, "%s/short", f->dir);
	tsu_write_file(path, core, 1000);
	int fd = open(path, O_RDONLY);
	tsu_meta(&m, "serial-import", 5, 2000);
	assert_int_equal(store_add_core(f->st, &m, fd, &id), STORE_E_INCOMPLETE);
	close(fd);
	assert_int_equal(tsu_count(f->st), 1);
	assert_int_equal(tsu_entries(f->dir, "tmp"), 0);
	free(back);
	free(core);
}

static void test_empty_core_round_trips(void **state)
{
	struct tsu_fixture *f = *state;
	struct nd_meta m;
	struct spool *sp;
	uint64_t resume, id;
	uint8_t sha[32];
	nd_sha256("", 0, sha);
	tsu_meta(&m, "sensor-empty", 1, 0);
	assert_int_equal(store_spool_open(f->st, &m, &sp, &resume), STORE_OK);
	assert_int_equal(store_spool_finish(sp, sha, &id), STORE_OK);
	size_t got;
	uint8_t *back = tsu_read_back(f->st, id, &got);
	assert_int_equal(got, 0);
	free(back);
}

/* Descriptors of this process on spool or temporary files of the store. */
static unsigned store_fds(const char *dir)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	unsigned n = 0;
	assert_non_null(d);
	while ((de = readdir(d))) {
		char p[300], target[600];
		snprintf(p, sizeof p, "/proc/self/fd/%s", de->d_name);
		ssize_t l = readlink(p, target, sizeof target - 1);
		if (l <= 0)
			continue;
		target[l] = 0;
		size_t dl = strlen(dir);
		if (!strncmp(target, dir, dl) && (!strncmp(target + dl, "/spool/", 7) ||
		                                  !strncmp(target + dl, "/tmp/", 5)))
			n++;
	}
	closedir(d);
	return n;
}

/* Hundreds of sessions in flight must not exhaust descriptors: one per spool. */
static void test_each_open_spool_holds_one_descriptor(void **state)
{
	struct tsu_fixture *f = *state;
	enum { N = 64 };
	struct spool *sp[N];
	struct nd_meta m;
	uint64_t resume;
	uint8_t *core = tsu_core(STORE_TEST_CHUNKISH, 9);
	unsigned before = store_fds(f->dir);
	for (unsigned i = 0; i < N; i++) {
		tsu_meta(&m, "sensor-many", i, STORE_TEST_CHUNKISH);
		assert_int_equal(store_spool_open(f->st, &m, &sp[i], &resume), STORE_OK);
		deliver(sp[i], core, 0, STORE_TEST_CHUNKISH / 2 + 1048576, i);
	}
	assert_int_equal(store_fds(f->dir) - before, N);
	for (unsigned i = 0; i < N; i++)
		store_spool_abort(sp[i]);
	assert_int_equal(store_fds(f->dir), before);
	free(core);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spool_out_of_order_finish_is_byte_identical, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_digest_mismatch_is_refused_and_nothing_indexed, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_after_close_resumes_at_contiguous_length, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_resume_after_collector_killed, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_resume_after_power_loss_uses_synced_prefix, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_damaged_state_restarts_from_zero, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_stored_key_reopens_as_exists_not_duplicate, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_second_session_for_same_key_is_busy, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_finish_before_complete_keeps_spool, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_write_past_core_size_is_rejected, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_with_other_size_starts_over, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_import_through_add_core, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_empty_core_round_trips, tsu_setup, tsu_teardown),
		cmocka_unit_test_setup_teardown(test_each_open_spool_holds_one_descriptor, tsu_setup, tsu_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
