/* collector/tls/client.h: the sender's end of a DTLS or TLS link — handshake, send batches, receive messages. */
#ifndef CCTLS_CLIENT_H
#define CCTLS_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "collector/tls/tls.h"
#include "netdump/netdump.h"

#define CCTLS_BATCH    32
#define CCTLS_REC_MAX  (ND_MSG_MAX + 2 + 128)   /* a framed message plus record overhead */

/*
 * What the sender needs around one connected socket: DTLS sends one netdump
 * message per record and collects the records for one sendmmsg; TLS writes
 * each message with its 16-bit length prefix into the stream and reassembles
 * what comes back with netdump's stream framing.
 */
struct cctls_client {
	struct cctls_cfg cfg;
	struct cctls_conn conn;
	int fd;
	enum cctls_transport transport;
	int failed;                      /* the link is unusable; why says why */
	char why[320];
	/* DTLS: records waiting for sendmmsg */
	unsigned n_out;
	struct mmsghdr mm[CCTLS_BATCH];
	struct iovec iov[CCTLS_BATCH];
	uint8_t *out;                    /* CCTLS_BATCH x CCTLS_REC_MAX */
	/* receive side */
	uint8_t *rbuf;                   /* one datagram / a chunk of stream */
	uint8_t *plain;                  /* decrypted record */
	struct nd_stream stream;         /* TLS: framing of what was decrypted */
	uint8_t *sbuf;
};

struct cctls_client_opts {
	enum cctls_transport transport;
	const char *device;              /* PSK identity (the device id) */
	const uint8_t *psk;              /* NULL: certificates */
	size_t psk_len;
	const char *cert, *key, *ca;     /* device cert + key, collector CA */
	enum cctls_aead aead;
};

/* Set up configuration and buffers; on failure why says what was wrong. */
int cctls_client_init(struct cctls_client *cl, const struct cctls_client_opts *o);
void cctls_client_free(struct cctls_client *cl);

/* Handshake on the connected socket fd (DTLS: UDP, TLS: TCP) within timeout_ms. */
int cctls_client_handshake(struct cctls_client *cl, int fd, uint64_t timeout_ms);

/* Bytes of DATA payload that fit a datagram of mtu bytes after the record. */
size_t cctls_client_overhead(const struct cctls_client *cl);

/* Encrypt and queue (DTLS) or write (TLS) one netdump message. */
int cctls_client_send(struct cctls_client *cl, const uint8_t *msg, size_t len);
/* Send what is queued. */
void cctls_client_flush(struct cctls_client *cl);

/*
 * Send n datagrams on a connected datagram socket, blocking until the kernel took
 * them.  One it refuses (an ICMP error left by an earlier send, ENOBUFS) is skipped:
 * to netdump that is a lost packet, which it retransmits.  Shared by the DTLS client
 * and corecast-send's plain udp:// path.
 */
void cctls_send_datagrams(int fd, struct mmsghdr *mm, unsigned n);
/*
 * Read what the socket holds without blocking and hand every decrypted netdump
 * message to deliver.  Returns -1 when the link failed (peer closed, fatal
 * alert, broken framing): cl->why says why.
 */
int cctls_client_recv(struct cctls_client *cl,
		      void (*deliver)(void *ctx, const uint8_t *msg, size_t len), void *ctx);
/* Send close_notify (best effort). */
void cctls_client_close(struct cctls_client *cl);

#endif /* CCTLS_CLIENT_H */
