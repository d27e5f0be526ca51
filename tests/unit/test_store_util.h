/* tests/unit/test_store_util.h: helpers shared by the store's unit tests — temp stores, core-like data. */
#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "collector/store/store.h"
#include "netdump/sha256.h"

static inline int tsu_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb; (void)flag; (void)f;
	return remove(p);
}

/* A fresh directory under /tmp; removed by tsu_rmdir. */
static inline char *tsu_tmpdir(void)
{
	char *d = strdup("/tmp/ccstore-test-XXXXXX");
	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static inline void tsu_rmdir(char *d)
{
	nftw(d, tsu_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(d);
}

/* The usual fixture: a fresh store in a fresh directory, removed afterwards. */
struct tsu_fixture {
	char *dir;
	struct store *st;
};

static inline int tsu_setup(void **state)
{
	struct tsu_fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->dir = tsu_tmpdir();
	assert_int_equal(store_open(f->dir, STORE_CREATE | STORE_RECOVER, &f->st), STORE_OK);
	*state = f;
	return 0;
}

static inline int tsu_teardown(void **state)
{
	struct tsu_fixture *f = *state;
	store_close(f->st);
	tsu_rmdir(f->dir);
	free(f);
	return 0;
}

/* Core-like bytes: runs of zeros (untouched pages) between pseudo-random text, so
 * the data compresses like a core but no two chunks are alike. */
static inline uint8_t *tsu_core(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n ? n : 1);
	uint32_t x = seed * 2654435761u + 1;
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		size_t page = i / 4096;
		p[i] = (page % 3 == 1) ? 0 : (uint8_t)("abcdefgh\0\1\2\3ELF_"[x % 16] ^ (x >> 28));
	}
	return p;
}

static inline void tsu_meta(struct nd_meta *m, const char *device, uint32_t seq, uint64_t size)
{
	memset(m, 0, sizeof *m);
	snprintf(m->device, sizeof m->device, "%s", device);
	for (unsigned i = 0; i < ND_BOOTID_LEN; i++)
		m->boot_id[i] = (uint8_t)(0xb0 + i);
	m->seq = seq;
	m->core_size = size;
	m->machine = 243;   /* EM_RISCV */
	m->pid = 1000 + seq;
	m->signal = 11;
	snprintf(m->exe, sizeof m->exe, "crasher");
	snprintf(m->cause, sizeof m->cause, "load page fault at 0x0");
	snprintf(m->firmware, sizeof m->firmware, "fw-1.%u", seq);
	m->device_time = 1700000000ull * 1000000000ull;
	m->n_buildids = 1;
	m->buildids[0].len = 20;
	for (unsigned i = 0; i < 20; i++)
		m->buildids[0].id[i] = (uint8_t)(i * 7 + seq);
	snprintf(m->buildids[0].name, sizeof m->buildids[0].name, "crasher");
}

/* Read the stored core id back whole; *n gets its length. */
static inline uint8_t *tsu_read_back(struct store *st, uint64_t id, size_t *n)
{
	struct store_reader *rd;
	assert_int_equal(store_open_core(st, id, &rd), STORE_OK);
	size_t cap = 1 << 20, len = 0, got;
	uint8_t *buf = malloc(cap);
	assert_non_null(buf);
	for (;;) {
		if (cap - len < 65536) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		assert_int_equal(store_read(rd, buf + len, 65536, &got), STORE_OK);
		if (!got)
			break;
		len += got;
	}
	store_reader_close(rd);
	*n = len;
	return buf;
}

static inline int tsu_count_cb(const struct store_rec *r, void *arg)
{
	(void)r;
	(*(unsigned *)arg)++;
	return 0;
}

static inline unsigned tsu_count(struct store *st)
{
	unsigned n = 0;
	assert_int_equal(store_list(st, NULL, tsu_count_cb, &n), STORE_OK);
	return n;
}

/* Number of entries (other than . and ..) in dir/sub. */
static inline unsigned tsu_entries(const char *dir, const char *sub)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "ls -A %s/%s | wc -l", dir, sub);
	FILE *f = popen(cmd, "r");
	unsigned n = 0;
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%u", &n), 1);
	pclose(f);
	return n;
}

static inline void tsu_write_file(const char *path, const void *buf, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
}

/* Import buf as a dump through store_add_core (via a temporary file). */
static inline uint64_t tsu_import(struct store *st, const char *dir, const struct nd_meta *m,
                                  const uint8_t *buf, size_t n)
{
	char path[512];
	uint64_t id = 0;
	snprintf(path, sizeof path, "%s/import.tmp", dir);
	tsu_write_file(path, buf, n);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	enum store_err e = store_add_core(st, m, fd, &id);
	if (e != STORE_OK)
		fprintf(stderr, "store_add_core: %s\n", store_errmsg(st));
	assert_int_equal(e, STORE_OK);
	close(fd);
	unlink(path);
	return id;
}

#endif /* TEST_STORE_UTIL_H */
