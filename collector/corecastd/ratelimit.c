/* collector/corecastd/ratelimit.c: per-device token buckets in a fixed table. */
#include "collector/corecastd/ratelimit.h"

#include <stdlib.h>
#include <string.h>

#define COST   60000ull          /* credit units per dump: 1 unit per ms at 1/min */
#define PROBES 8u

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;    /* FNV-1a: short keys, no adversarial cost */

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

int ccd_rate_init(struct ccd_ratelimit *rl, uint32_t nslots, uint32_t per_minute)
{
	uint32_t n = 1;

	while (n < nslots && n < (1u << 24))
		n <<= 1;
	rl->slots = calloc(n, sizeof rl->slots[0]);
	if (rl->slots == NULL)
		return -1;
	rl->nslots = n;
	rl->per_minute = per_minute;
	return 0;
}

void ccd_rate_free(struct ccd_ratelimit *rl)
{
	free(rl->slots);
	rl->slots = NULL;
	rl->nslots = 0;
}

static uint64_t burst(const struct ccd_ratelimit *rl)
{
	return (uint64_t)rl->per_minute * COST;
}

/* Credit a slot would hold at now_ms. */
static uint64_t credit_at(const struct ccd_ratelimit *rl, const struct ccd_rate_slot *s,
			  uint64_t now_ms)
{
	uint64_t el = now_ms > s->last_ms ? now_ms - s->last_ms : 0;
	uint64_t c = s->credit;

	if (el >= COST)         /* a full minute refills any bucket */
		return burst(rl);
	c += el * rl->per_minute;
	return c > burst(rl) ? burst(rl) : c;
}

void ccd_rate_set(struct ccd_ratelimit *rl, uint32_t per_minute)
{
	rl->per_minute = per_minute;
	for (uint32_t i = 0; i < rl->nslots; i++)
		if (rl->slots[i].credit > burst(rl))
			rl->slots[i].credit = burst(rl);
}

static struct ccd_rate_slot *find(const struct ccd_ratelimit *rl, const char *device)
{
	uint32_t h = hash_str(device);

	for (uint32_t i = 0; i < PROBES; i++) {
		struct ccd_rate_slot *s = &rl->slots[(h + i) & (rl->nslots - 1)];
		if (s->used && strncmp(s->device, device, sizeof s->device) == 0)
			return s;
	}
	return NULL;
}

bool ccd_rate_allow(struct ccd_ratelimit *rl, const char *device, uint64_t now_ms)
{
	struct ccd_rate_slot *s, *victim = NULL;
	uint32_t h;

	if (rl->per_minute == 0)
		return true;
	s = find(rl, device);
	if (s != NULL) {
		uint64_t c = credit_at(rl, s, now_ms);
		s->last_ms = now_ms;
		if (c < COST) {
			s->credit = c;
			return false;
		}
		s->credit = c - COST;
		return true;
	}
	/* New device: take a free slot, or one whose bucket is full again
	 * (forgetting it changes nothing), else the least recently charged. */
	h = hash_str(device);
	for (uint32_t i = 0; i < PROBES; i++) {
		struct ccd_rate_slot *t = &rl->slots[(h + i) & (rl->nslots - 1)];
		if (!t->used || credit_at(rl, t, now_ms) >= burst(rl)) {
			victim = t;
			break;
		}
		if (victim == NULL || t->last_ms < victim->last_ms)
			victim = t;
	}
	memset(victim, 0, sizeof *victim);
	strncpy(victim->device, device, sizeof victim->device - 1);
	victim->used = 1;
	victim->last_ms = now_ms;
	victim->credit = burst(rl) - COST;
	return true;
}

uint64_t ccd_rate_wait_ms(const struct ccd_ratelimit *rl, const char *device,
			  uint64_t now_ms)
{
	const struct ccd_rate_slot *s;
	uint64_t c;

	if (rl->per_minute == 0)
		return 0;
	s = find(rl, device);
	if (s == NULL)
		return 0;
	c = credit_at(rl, s, now_ms);
	if (c >= COST)
		return 0;
	return (COST - c + rl->per_minute - 1) / rl->per_minute;
}
