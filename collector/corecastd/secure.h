/* collector/corecastd/secure.h: corecastd's dtls:// and tls:// listeners — handshakes, device auth, records. */
#ifndef CCD_SECURE_H
#define CCD_SECURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct ccd;
struct ccd_listener;

/* epoll tags of TLS connections: CCD_TAG_CONN_BASE + fd. */
#define CCD_TAG_CONN_BASE 4096u

/*
 * Set up when a dtls:// or tls:// listener is configured: the collector's
 * certificate, the fleet CA and the device key store.  Returns -1 (logged)
 * if they cannot be loaded.  Without such a listener it does nothing.
 */
int ccd_secure_start(struct ccd *d);
void ccd_secure_stop(struct ccd *d);
/* SIGHUP: re-read the key store (the old one stays on error). */
void ccd_secure_reload(struct ccd *d);

/* One datagram on a dtls:// listener (a ccd_datagram_fn): handshakes and records. */
void ccd_secure_dtls_datagram(struct ccd *d, struct ccd_listener *li, uint8_t *buf,
			      size_t len, const struct sockaddr *from, socklen_t fromlen,
			      uint64_t now_us);
/* A tls:// listener is readable: accept connections. */
void ccd_secure_accept(struct ccd *d, struct ccd_listener *li);
/* Activity on a TLS connection (its epoll tag and events). */
void ccd_secure_event(struct ccd *d, uint32_t tag, uint32_t events);

/*
 * Route an answer for a session on a secure carrier: encrypt and queue it.
 * Returns false when fd is a plain UDP socket (the caller sends it as is).
 */
bool ccd_secure_send(struct ccd *d, int fd, const struct sockaddr *to, socklen_t tolen,
		     const uint8_t *msg, size_t len);
/* Write what TLS connections have queued (end of every batch). */
void ccd_secure_flush(struct ccd *d);
/* Timers: DTLS retransmissions, handshake deadlines, idle connections. */
void ccd_secure_tick(struct ccd *d, uint64_t now_ms);
void ccd_secure_log_stats(const struct ccd *d, const char *when);

#endif /* CCD_SECURE_H */
