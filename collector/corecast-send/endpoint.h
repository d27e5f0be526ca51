/* collector/corecast-send/endpoint.h: parse udp://HOST:PORT and connect a UDP socket to it. */
#ifndef SEND_ENDPOINT_H
#define SEND_ENDPOINT_H

#include <stddef.h>

#define SEND_HOST_MAX 256

struct endpoint {
	char host[SEND_HOST_MAX];  /* name, IPv4 literal, or IPv6 literal without brackets */
	char port[8];              /* decimal 1..65535 */
};

/*
 * Parse "udp://HOST:PORT"; HOST is a name, a dotted IPv4 address or a
 * bracketed IPv6 address ("[::1]").  Returns NULL on success, else a short
 * description of what is wrong.
 */
const char *endpoint_parse(const char *url, struct endpoint *ep);

/*
 * Resolve ep (getaddrinfo, any family) and return a connected UDP socket to
 * the first address that accepts one; -1 with *why set otherwise.  Connecting
 * makes the kernel drop datagrams from anyone but the collector.
 */
int endpoint_connect(const struct endpoint *ep, const char **why);

#endif /* SEND_ENDPOINT_H */
