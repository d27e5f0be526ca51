/* collector/corecastd/listen.h: listen URLs (udp|dtls|tls://ADDR:PORT) and their sockets. */
#ifndef CCD_LISTEN_H
#define CCD_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

#define CCD_URL_MAX 128

/* The carrier of netdump messages on a listener. */
enum ccd_proto {
	CCD_PROTO_UDP = 0,      /* plain datagrams (trusted networks) */
	CCD_PROTO_DTLS,         /* DTLS 1.2 over UDP: one message per record */
	CCD_PROTO_TLS,          /* TLS 1.2 over TCP: length-prefixed messages */
};

/* One listen address as given by the operator, and what it parsed to. */
struct ccd_listen {
	enum ccd_proto proto;
	char url[CCD_URL_MAX];          /* as written, for logs and reload diffs */
	struct sockaddr_storage addr;   /* numeric IPv4 or IPv6 address + port */
	socklen_t addrlen;
};

enum ccd_url_err {
	CCD_URL_OK = 0,
	CCD_URL_EMPTY,          /* nothing given */
	CCD_URL_TOO_LONG,       /* longer than CCD_URL_MAX - 1 */
	CCD_URL_SCHEME,         /* not udp://, dtls:// or tls:// */
	CCD_URL_NO_PORT,        /* ":PORT" missing */
	CCD_URL_BAD_PORT,       /* not a decimal 0..65535 */
	CCD_URL_BAD_ADDR,       /* not a numeric IPv4 / bracketed IPv6 address */
	CCD_URL_BRACKETS,       /* IPv6 address without [ ] or unbalanced */
};

const char *ccd_url_strerror(enum ccd_url_err e);

/*
 * Parse "udp://ADDR:PORT" (or dtls://, tls://): ADDR is dotted IPv4 (0.0.0.0 for all) or a bracketed
 * IPv6 address ([::] for all, [::1], [fe80::1%lo] with a scope).  Names are not
 * resolved: a daemon's bind address should not depend on DNS at boot.  Port 0
 * asks the kernel for a free port (tests).
 */
enum ccd_url_err ccd_listen_parse(const char *url, struct ccd_listen *out);

/* "ADDR:PORT" / "[ADDR]:PORT" of a socket address, for logs. */
void ccd_addr_str(const struct sockaddr *sa, char *buf, size_t len);

/* "udp", "dtls" or "tls". */
const char *ccd_proto_name(enum ccd_proto p);

/*
 * Open a non-blocking UDP socket (a listening TCP socket for tls://) bound to l->addr with a receive buffer of about
 * rcvbuf bytes (forced past rmem_max when privileged).  IPv6 sockets are
 * V6ONLY so that [::] and 0.0.0.0 can both be listened on.  Returns the fd, or
 * -1 with errno set.  The bound port is stored back into l->addr.
 */
int ccd_listen_open(struct ccd_listen *l, int rcvbuf);

/* The port a sockaddr carries (host order). */
unsigned ccd_addr_port(const struct sockaddr *sa);

#endif /* CCD_LISTEN_H */
