/* collector/corecastd/spoolage.c: purge spools of transfers nobody resumed in time. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/corecastd/daemon.h"
#include "collector/corecastd/log.h"
#include "collector/store/store.h"

/*
 * A sender that dies for good (device replaced, power lost for a week) leaves a
 * spool that would otherwise hold disk space forever.  The store documents its
 * layout (DIR/spool/<key>.part + <key>.state); a spool whose files were not
 * touched for SpoolMaxAge days and that no session has open is deleted here.
 * The daemon is the only process that writes spools (the store's lock), so no
 * transfer can be writing a file between the check and the unlink.
 */

static bool key_in_use(const struct ccd *d, const char *key, size_t keylen)
{
	char k[STORE_KEY_MAX];

	for (const struct ccd_session *s = d->ss.head; s; s = s->next) {
		if (s->state != CCD_S_ACTIVE)
			continue;
		store_key(&s->meta, k);
		if (strlen(k) == keylen && memcmp(k, key, keylen) == 0)
			return true;
	}
	return false;
}

unsigned ccd_purge_spools(struct ccd *d, time_t now)
{
	char path[CCD_PATH_MAX + 16];
	time_t limit = (time_t)d->cfg.spool_max_age_days * 86400;
	unsigned purged = 0;
	struct dirent *de;
	DIR *dir;
	int dfd;

	snprintf(path, sizeof path, "%s/spool", d->cfg.store);
	dir = opendir(path);
	if (dir == NULL)
		return 0;
	dfd = dirfd(dir);
	while ((de = readdir(dir)) != NULL) {
		const char *dot = strrchr(de->d_name, '.');
		struct stat sb;
		size_t keylen;

		if (dot == NULL || strcmp(dot, ".part") != 0)
			continue;
		keylen = (size_t)(dot - de->d_name);
		if (keylen == 0 || keylen >= STORE_KEY_MAX)
			continue;
		if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    now - sb.st_mtime < limit || key_in_use(d, de->d_name, keylen))
			continue;
		{
			char state[STORE_KEY_MAX + 8];
			struct stat ss;
			snprintf(state, sizeof state, "%.*s.state", (int)keylen, de->d_name);
			/* The .state changes when progress is synced: both must be old. */
			if (fstatat(dfd, state, &ss, AT_SYMLINK_NOFOLLOW) == 0 &&
			    now - ss.st_mtime < limit)
				continue;
			if (unlinkat(dfd, state, 0) < 0 && errno != ENOENT)
				ccd_warn("purging spool %s: %s", state, strerror(errno));
		}
		if (unlinkat(dfd, de->d_name, 0) < 0) {
			ccd_warn("purging spool %s: %s", de->d_name, strerror(errno));
			continue;
		}
		purged++;
		ccd_notice("purged spool %.*s: not resumed for %u days (%lld bytes)",
			   (int)keylen, de->d_name, d->cfg.spool_max_age_days,
			   (long long)sb.st_size);
	}
	closedir(dir);
	return purged;
}
