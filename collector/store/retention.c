/* collector/store/retention.c: MaxUse / KeepFree limits, admission of new dumps, vacuum oldest first. */
#include <inttypes.h>
#include <string.h>
#include <sys/statvfs.h>

#include "collector/store/store_int.h"

/* Defaults as systemd-coredump: MaxUse 10%, KeepFree 15% of the file system, each
 * capped at 4 GiB. */
#define DEFAULT_MAX_USE_PCT   10
#define DEFAULT_KEEP_FREE_PCT 15
#define DEFAULT_CAP           (4 * STORE_GIB)

static int fs_space(struct store *st, uint64_t *total, uint64_t *avail)
{
	struct statvfs sv;
	if (fstatvfs(st->dirfd, &sv) < 0)
		return -1;
	*total = (uint64_t)sv.f_blocks * sv.f_frsize;
	*avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

static uint64_t pct_capped(uint64_t total, unsigned pct)
{
	uint64_t v = total / 100 * pct;
	return v > DEFAULT_CAP ? DEFAULT_CAP : v;
}

void store_set_limits(struct store *st, int64_t max_use, int64_t keep_free)
{
	uint64_t total = 0, avail = 0;
	fs_space(st, &total, &avail);
	st->max_use_cfg = max_use;
	st->keep_free_cfg = keep_free;
	st->max_use = max_use >= 0 ? (uint64_t)max_use : pct_capped(total, DEFAULT_MAX_USE_PCT);
	st->keep_free = keep_free >= 0 ? (uint64_t)keep_free :
	                pct_capped(total, DEFAULT_KEEP_FREE_PCT);
}

void store_get_limits(struct store *st, uint64_t *max_use, uint64_t *keep_free)
{
	*max_use = st->max_use;
	*keep_free = st->keep_free;
}

uint64_t store_usage(struct store *st)
{
	uint64_t stored = 0, res, pend;
	index_usage(st, &stored);
	spool_reservations(st, &res, &pend);
	return stored + res;
}

/* Bytes that must be reclaimed for `size` more to fit both limits. */
static enum store_err shortfall(struct store *st, uint64_t size, uint64_t *need,
                                uint64_t *stored)
{
	uint64_t res, pend, total, avail;
	enum store_err e = index_usage(st, stored);
	if (e != STORE_OK)
		return e;
	spool_reservations(st, &res, &pend);
	if (fs_space(st, &total, &avail) < 0)
		return store_fail(st, STORE_E_IO, "%s: statvfs failed", st->dir);
	uint64_t use = *stored + res + size;
	uint64_t need_use = use > st->max_use ? use - st->max_use : 0;
	uint64_t want_free = st->keep_free + size + pend;
	uint64_t need_free = want_free > avail ? want_free - avail : 0;
	*need = need_use > need_free ? need_use : need_free;
	return STORE_OK;
}

/* Delete oldest dumps until at least `need` bytes are reclaimed or none are left. */
static enum store_err reclaim(struct store *st, uint64_t need, unsigned *removed)
{
	uint64_t freed = 0;
	while (freed < need) {
		uint64_t id, csize;
		enum store_err e = index_oldest(st, &id, &csize);
		if (e == STORE_E_NOTFOUND)
			break;
		if (e != STORE_OK)
			return e;
		if ((e = store_rm(st, id)) != STORE_OK)
			return e;
		freed += csize;
		if (removed)
			(*removed)++;
	}
	return STORE_OK;
}

enum store_err store_admit(struct store *st, uint64_t core_size)
{
	uint64_t need, stored;
	if (core_size > st->max_use)
		return store_fail(st, STORE_E_TOO_LARGE, "core of %" PRIu64 " bytes exceeds "
		                  "MaxUse of %" PRIu64 " bytes", core_size, st->max_use);
	enum store_err e = shortfall(st, core_size, &need, &stored);
	if (e != STORE_OK)
		return e;
	if (need == 0)
		return STORE_OK;
	/* Refuse before deleting anything when even an empty store would not do. */
	if (need > stored)
		return store_fail(st, STORE_E_NOSPACE, "%s: core of %" PRIu64 " bytes does not "
		                  "fit (MaxUse %" PRIu64 ", KeepFree %" PRIu64 ", %" PRIu64
		                  " bytes short, %" PRIu64 " reclaimable)", st->dir, core_size,
		                  st->max_use, st->keep_free, need, stored);
	return reclaim(st, need, NULL);
}

enum store_err store_vacuum(struct store *st, unsigned *removed)
{
	uint64_t need, stored;
	if (removed)
		*removed = 0;
	enum store_err e = shortfall(st, 0, &need, &stored);
	if (e != STORE_OK || need == 0)
		return e;
	return reclaim(st, need, removed);
}
