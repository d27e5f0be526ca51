/* collector/corecast-send/endpoint.h: parse udp|dtls|tls://HOST:PORT and connect a socket to it. */
#ifndef SEND_ENDPOINT_H
#define SEND_ENDPOINT_H

#include <stddef.h>

#define SEND_HOST_MAX 256

enum endpoint_scheme { EP_UDP, EP_DTLS, EP_TLS };

struct endpoint {
	enum endpoint_scheme scheme;  /* udp, dtls (over UDP), tls (over TCP) */
	char host[SEND_HOST_MAX];  /* name, IPv4 literal, or IPv6 literal without brackets */
	char port[8];              /* decimal 1..65535 */
};

/*
 * Parse "udp://HOST:PORT" (or dtls://, tls://); HOST is a name, a dotted IPv4 address or a
 * bracketed IPv6 address ("[::1]").  Returns NULL on success, else a short
 * description of what is wrong.
 */
const char *endpoint_parse(const char *url, struct endpoint *ep);

/*
 * Resolve ep (getaddrinfo, any family) and return a connected UDP socket (TCP
 * for tls://) to
 * the first address that accepts one; -1 with *why set otherwise.  Connecting
 * makes the kernel drop datagrams from anyone but the collector.
 */
int endpoint_connect(const struct endpoint *ep, const char **why);

#endif /* SEND_ENDPOINT_H */
