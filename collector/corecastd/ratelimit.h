/* collector/corecastd/ratelimit.h: per-device limit on new dumps per minute. */
#ifndef CCD_RATELIMIT_H
#define CCD_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "netdump/meta.h"

/*
 * A token bucket per device: a device may start `per_minute` dumps in a burst,
 * then one more every 60/per_minute seconds.  A device stuck in a crash loop
 * therefore cannot crowd out the rest of the fleet, yet an occasional burst
 * (several processes dying together) passes.
 *
 * The table has a fixed number of slots so that an attacker inventing device
 * ids cannot grow memory: a bucket that has refilled completely carries no
 * information and its slot is reused; if none has, the least recently used
 * of the probed slots is.
 */
struct ccd_rate_slot {
	char device[ND_DEVICE_MAX];
	uint64_t credit;        /* in 1/60000 of a dump */
	uint64_t last_ms;       /* when credit was last brought up to date */
	uint8_t used;
};

struct ccd_ratelimit {
	struct ccd_rate_slot *slots;
	uint32_t nslots;        /* power of two */
	uint32_t per_minute;    /* 0: no limit */
};

/* nslots is rounded up to a power of two.  Returns 0, or -1 if out of memory. */
int ccd_rate_init(struct ccd_ratelimit *rl, uint32_t nslots, uint32_t per_minute);
void ccd_rate_free(struct ccd_ratelimit *rl);

/* Change the rate (reload); existing buckets are clamped to the new burst. */
void ccd_rate_set(struct ccd_ratelimit *rl, uint32_t per_minute);

/* May device start a new dump at now_ms?  If yes, the dump is charged. */
bool ccd_rate_allow(struct ccd_ratelimit *rl, const char *device, uint64_t now_ms);

/* Milliseconds until device may start its next dump (0: now). */
uint64_t ccd_rate_wait_ms(const struct ccd_ratelimit *rl, const char *device,
			  uint64_t now_ms);

#endif /* CCD_RATELIMIT_H */
