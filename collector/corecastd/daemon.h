/* collector/corecastd/daemon.h: corecastd's state: listeners, sessions, limits, counters. */
#ifndef CCD_DAEMON_H
#define CCD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "collector/corecastd/config.h"
#include "collector/corecastd/ratelimit.h"
#include "collector/corecastd/session.h"

struct store;
struct pool;
struct ccd_secure;
struct mmsghdr;

struct ccd_listener {
	struct ccd_listen l;
	int fd;
};

/*
 * Counters for everything the daemon drops or refuses; logged on SIGUSR1 and at
 * exit, so an operator (and the tests) can see that garbage was seen and ignored.
 */
struct ccd_stats {
	uint64_t datagrams;      /* received */
	uint64_t garbage;        /* failed to decode, or a message we never accept */
	uint64_t truncated;      /* larger than our receive slot */
	uint64_t bad_cookie;     /* well-formed but no session owns the cookie/address */
	uint64_t opens;          /* new sessions */
	uint64_t resumes;        /* OPENs answered from an existing spool or session */
	uint64_t refused;        /* OPENs refused (any reason) */
	uint64_t data_new;       /* DATA that added bytes */
	uint64_t data_dup;       /* DATA already held */
	uint64_t data_bad;       /* DATA out of window / beyond end */
	uint64_t bytes;          /* new core bytes spooled */
	uint64_t stored;
	uint64_t mismatched;
	uint64_t timeouts;       /* sessions closed idle */
	uint64_t sent;           /* datagrams sent */
	uint64_t send_errors;
};

/* Receive and send batches: one recvmmsg/sendmmsg per system call. */
#define CCD_BATCH 64

struct ccd_out {
	int n;
	int fd[CCD_BATCH];
	struct sockaddr_storage addr[CCD_BATCH];
	socklen_t alen[CCD_BATCH];
	size_t len[CCD_BATCH];
	uint8_t *buf;            /* CCD_BATCH slots of CCD_OUT_SLOT bytes */
};

#define CCD_OUT_SLOT 2048
#define CCD_RUN_MAX  (256u << 10)

struct ccd {
	struct ccd_config cfg;
	struct ccd_overrides ov;
	const char *config_path;    /* NULL: defaults + command line only */
	const char *port_file;

	struct store *st;
	struct pool *pool;          /* symbolization workers; NULL when off */
	int pool_fd;                /* the pool's one epoll-able fd, -1 when off */
	int epfd, tfd, sfd;
	int n_lis;
	struct ccd_listener lis[CCD_LISTEN_MAX];

	struct ccd_ratelimit rate;
	struct ccd_sessions ss;
	uint8_t secret[32];         /* cookie key, fresh per start (getrandom) */
	uint32_t max_active;        /* MaxSessions, lowered to fit MemoryLimit */

	/* receive batch */
	size_t rx_slot;             /* bytes per datagram slot */
	uint8_t *rx_buf;
	struct mmsghdr *rx_msgs;
	struct iovec *rx_iov;
	struct sockaddr_storage *rx_addr;

	struct ccd_out out;

	/* New DATA for one session at consecutive offsets is staged here and
	 * written with one pwrite: per-packet writes of 1.4 KiB cost the spool's
	 * file system more than everything else the loop does. */
	uint8_t *run_buf;           /* CCD_RUN_MAX bytes */
	struct ccd_session *run_s;  /* owner of the staged bytes, NULL: none */
	uint64_t run_off;
	size_t run_len;

	size_t req_len;             /* length of the datagram being handled */
	uint64_t now_ms;            /* when it was received */

	/* dtls:// and tls:// (secure.c); NULL when no such listener. */
	struct ccd_secure *sec;
	/* While a message from an authenticated (D)TLS peer is handled: the
	 * device id the handshake proved, which OPEN must carry.  NULL: plain. */
	const char *auth_id;

	uint64_t last_vacuum_ms;
	uint64_t last_purge_ms;
	bool stopping;
	struct ccd_stats stats;
};

/* Monotonic milliseconds / microseconds. */
uint64_t ccd_now_ms(void);
uint64_t ccd_now_us(void);

/* Queue one datagram for sending at the end of the batch (flushes when full). */
void ccd_send(struct ccd *d, int fd, const struct sockaddr *to, socklen_t tolen,
	      const uint8_t *msg, size_t len);
/* Queue one datagram as is, whatever the socket (secure.c's records). */
void ccd_send_raw(struct ccd *d, int fd, const struct sockaddr *to, socklen_t tolen,
		  const uint8_t *msg, size_t len);
/* Send everything queued. */
void ccd_flush(struct ccd *d);

/* Handle one received datagram from lis. */
void ccd_ingest(struct ccd *d, struct ccd_listener *lis, const uint8_t *msg, size_t len,
		const struct sockaddr *from, socklen_t fromlen, uint64_t now_us);

/*
 * Drain one datagram socket (udp:// or dtls://) in batches of CCD_BATCH, at most 64
 * batches so that one busy socket cannot starve the others or the timer.  fn gets each
 * datagram that fit its receive slot (it may change the bytes in place); truncated ones
 * are counted and dropped.  After each batch the touched sessions are acked and the
 * answers sent.
 */
typedef void (*ccd_datagram_fn)(struct ccd *d, struct ccd_listener *li, uint8_t *buf,
				size_t len, const struct sockaddr *from, socklen_t fromlen,
				uint64_t now_us);
void ccd_drain_datagrams(struct ccd *d, struct ccd_listener *li, ccd_datagram_fn fn);

/* After a batch: one ACK per session that received DATA. */
void ccd_ack_touched(struct ccd *d, uint64_t now_us);

/* Once a second: close idle sessions, forget old results. */
void ccd_tick(struct ccd *d, uint64_t now_ms);

/* Close every session's spool durably (SIGTERM). */
void ccd_close_all(struct ccd *d);

/* Delete spools untouched for SpoolMaxAge days that no session has open. */
unsigned ccd_purge_spools(struct ccd *d, time_t now);

/* Daemon-held bytes per active session, for the memory budget. */
size_t ccd_session_cost(void);

#endif /* CCD_DAEMON_H */
