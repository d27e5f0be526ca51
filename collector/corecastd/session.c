/* collector/corecastd/session.c: the table of dump sessions, by key, cookie and device. */
#include "collector/corecastd/session.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* Device ids come from the network: the hash only spreads them, and chains are
 * bounded because the number of sessions is. */
static uint32_t dev_hash(const char *device)
{
	uint32_t h = 2166136261u;

	for (; *device; device++) {
		h ^= (uint8_t)*device;
		h *= 16777619u;
	}
	return h & (CCD_HASH_BUCKETS - 1);
}

/* Cookies are HMAC output: their low bits are already uniform. */
static uint32_t cookie_hash(uint64_t cookie)
{
	return (uint32_t)(cookie ^ (cookie >> 32)) & (CCD_HASH_BUCKETS - 1);
}

int ccd_sessions_init(struct ccd_sessions *ss)
{
	memset(ss, 0, sizeof *ss);
	ss->by_dev = calloc(CCD_HASH_BUCKETS, sizeof ss->by_dev[0]);
	ss->by_cookie = calloc(CCD_HASH_BUCKETS, sizeof ss->by_cookie[0]);
	if (ss->by_dev == NULL || ss->by_cookie == NULL) {
		ccd_sessions_free(ss);
		return -1;
	}
	return 0;
}

void ccd_sessions_free(struct ccd_sessions *ss)
{
	while (ss->head)
		ccd_sess_remove(ss, ss->head);
	free(ss->by_dev);
	free(ss->by_cookie);
	ss->by_dev = ss->by_cookie = NULL;
}

struct ccd_session *ccd_sess_find_key(const struct ccd_sessions *ss, const char *device,
				      const uint8_t boot_id[ND_BOOTID_LEN], uint32_t seq)
{
	for (struct ccd_session *s = ss->by_dev[dev_hash(device)]; s; s = s->next_dev)
		if (s->meta.seq == seq && strcmp(s->meta.device, device) == 0 &&
		    memcmp(s->meta.boot_id, boot_id, ND_BOOTID_LEN) == 0)
			return s;
	return NULL;
}

struct ccd_session *ccd_sess_find_cookie(const struct ccd_sessions *ss, uint64_t cookie)
{
	for (struct ccd_session *s = ss->by_cookie[cookie_hash(cookie)]; s; s = s->next_cookie)
		if (s->cookie == cookie)
			return s;
	return NULL;
}

uint32_t ccd_sess_count_device(const struct ccd_sessions *ss, const char *device)
{
	uint32_t n = 0;

	for (struct ccd_session *s = ss->by_dev[dev_hash(device)]; s; s = s->next_dev)
		if (s->state == CCD_S_ACTIVE && strcmp(s->meta.device, device) == 0)
			n++;
	return n;
}

struct ccd_session *ccd_sess_new(void)
{
	return calloc(1, sizeof(struct ccd_session));
}

static void unlink_cookie(struct ccd_sessions *ss, struct ccd_session *s)
{
	struct ccd_session **pp = &ss->by_cookie[cookie_hash(s->cookie)];

	for (; *pp; pp = &(*pp)->next_cookie)
		if (*pp == s) {
			*pp = s->next_cookie;
			break;
		}
	s->next_cookie = NULL;
}

static void link_cookie(struct ccd_sessions *ss, struct ccd_session *s)
{
	struct ccd_session **head = &ss->by_cookie[cookie_hash(s->cookie)];

	s->next_cookie = *head;
	*head = s;
}

void ccd_sess_insert(struct ccd_sessions *ss, struct ccd_session *s)
{
	struct ccd_session **dh = &ss->by_dev[dev_hash(s->meta.device)];

	s->next_dev = *dh;
	*dh = s;
	link_cookie(ss, s);
	s->prev = ss->tail;
	s->next = NULL;
	if (ss->tail)
		ss->tail->next = s;
	else
		ss->head = s;
	ss->tail = s;
	if (s->state == CCD_S_ACTIVE)
		ss->n_active++;
	else
		ss->n_done++;
}

void ccd_sess_set_cookie(struct ccd_sessions *ss, struct ccd_session *s, uint64_t cookie)
{
	unlink_cookie(ss, s);
	s->cookie = cookie;
	link_cookie(ss, s);
}

void ccd_sess_mark_done(struct ccd_sessions *ss, struct ccd_session *s)
{
	if (s->state == CCD_S_ACTIVE) {
		ss->n_active--;
		ss->n_done++;
	}
	s->state = CCD_S_DONE;
	s->sp = NULL;
}

void ccd_sess_remove(struct ccd_sessions *ss, struct ccd_session *s)
{
	struct ccd_session **pp = &ss->by_dev[dev_hash(s->meta.device)];

	for (; *pp; pp = &(*pp)->next_dev)
		if (*pp == s) {
			*pp = s->next_dev;
			break;
		}
	unlink_cookie(ss, s);
	if (s->prev)
		s->prev->next = s->next;
	else
		ss->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		ss->tail = s->prev;
	if (s->touched) {
		struct ccd_session **tp = &ss->touched;
		for (; *tp; tp = &(*tp)->next_touched)
			if (*tp == s) {
				*tp = s->next_touched;
				break;
			}
	}
	if (s->state == CCD_S_ACTIVE)
		ss->n_active--;
	else
		ss->n_done--;
	free(s);
}

void ccd_sess_touch(struct ccd_sessions *ss, struct ccd_session *s)
{
	if (s->touched)
		return;
	s->touched = true;
	s->next_touched = ss->touched;
	ss->touched = s;
}

bool ccd_sess_same_peer(const struct ccd_session *s, const struct sockaddr *a, socklen_t alen)
{
	if (a->sa_family != s->peer.ss_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)&s->peer;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&s->peer;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
	}
	return false;
}
