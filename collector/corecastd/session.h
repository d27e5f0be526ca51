/* collector/corecastd/session.h: the table of dump sessions, by key, cookie and device. */
#ifndef CCD_SESSION_H
#define CCD_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "netdump/meta.h"
#include "netdump/netdump.h"
#include "netdump/rx.h"

struct spool;

enum ccd_sess_state {
	CCD_S_ACTIVE,   /* receiving; sp is open */
	CCD_S_DONE,     /* answered FINISH; result kept to answer a repeated FINISH */
};

/*
 * One transfer.  Everything is inline and fixed-size: core bytes never stay in
 * memory (they go to the spool with pwrite as they arrive), so a session costs
 * the same few KiB whatever the core size.
 */
struct ccd_session {
	struct ccd_session *next_dev;    /* device hash chain (also finds keys) */
	struct ccd_session *next_cookie; /* cookie hash chain */
	struct ccd_session *prev, *next; /* all sessions, oldest first */
	struct ccd_session *next_touched;/* sessions with DATA in this batch */

	struct nd_meta meta;             /* key: meta.device, meta.boot_id, meta.seq */
	uint64_t cookie;
	struct sockaddr_storage peer;    /* the address the cookie was made for */
	socklen_t peerlen;
	int fd;                          /* listener socket the peer talks to */

	enum ccd_sess_state state;
	bool touched;
	struct nd_rx rx;
	struct spool *sp;                /* ACTIVE only */
	uint64_t advanced;               /* contiguous length handed to the store */

	struct nd_result result;         /* DONE only */
	uint64_t id;                     /* dump id when stored */

	uint64_t started_ms, last_ms;    /* for the idle timeout and the rate log */
	uint64_t resumed_at;             /* bytes held when the session (re)opened */
	bool secure;                     /* opened by a device authenticated over dtls/tls */
};

#define CCD_HASH_BUCKETS 4096u

struct ccd_sessions {
	struct ccd_session **by_dev;     /* CCD_HASH_BUCKETS chains */
	struct ccd_session **by_cookie;  /* CCD_HASH_BUCKETS chains */
	struct ccd_session *head, *tail;
	struct ccd_session *touched;
	uint32_t n_active, n_done;
};

int ccd_sessions_init(struct ccd_sessions *ss);
void ccd_sessions_free(struct ccd_sessions *ss);

struct ccd_session *ccd_sess_find_key(const struct ccd_sessions *ss, const char *device,
				      const uint8_t boot_id[ND_BOOTID_LEN], uint32_t seq);
struct ccd_session *ccd_sess_find_cookie(const struct ccd_sessions *ss, uint64_t cookie);
/* Active sessions of one device. */
uint32_t ccd_sess_count_device(const struct ccd_sessions *ss, const char *device);

/* A zeroed session (state ACTIVE), not yet in the table. */
struct ccd_session *ccd_sess_new(void);
/* Insert s (meta, cookie and state set) into the table. */
void ccd_sess_insert(struct ccd_sessions *ss, struct ccd_session *s);
/* Change s's cookie (the peer moved or reopened). */
void ccd_sess_set_cookie(struct ccd_sessions *ss, struct ccd_session *s, uint64_t cookie);
/* Move s from ACTIVE to DONE (counts). */
void ccd_sess_mark_done(struct ccd_sessions *ss, struct ccd_session *s);
/* Unlink and free s (its spool must already be closed). */
void ccd_sess_remove(struct ccd_sessions *ss, struct ccd_session *s);
/* Queue s for an ack at the end of the batch. */
void ccd_sess_touch(struct ccd_sessions *ss, struct ccd_session *s);

/* Does addr equal the session's peer address? */
bool ccd_sess_same_peer(const struct ccd_session *s, const struct sockaddr *a, socklen_t alen);

#endif /* CCD_SESSION_H */
