/* collector/corecast-send/endpoint.c: udp|dtls|tls://HOST:PORT parsing, name resolution and the socket. */
#include "collector/corecast-send/endpoint.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const char *endpoint_parse(const char *url, struct endpoint *ep)
{
	const char *h, *colon;
	size_t hl;

	memset(ep, 0, sizeof *ep);
	if (strncmp(url, "udp://", 6) == 0) {
		ep->scheme = EP_UDP;
		h = url + 6;
	} else if (strncmp(url, "dtls://", 7) == 0) {
		ep->scheme = EP_DTLS;
		h = url + 7;
	} else if (strncmp(url, "tls://", 6) == 0) {
		ep->scheme = EP_TLS;
		h = url + 6;
	} else {
		return "scheme must be udp://, dtls:// or tls://";
	}
	if (*h == '[') {
		const char *close = strchr(h, ']');
		if (!close)
			return "unbalanced [ in IPv6 address";
		hl = (size_t)(close - h - 1);
		h++;
		colon = close + 1;
		if (*colon != ':')
			return "missing :PORT after ]";
	} else {
		colon = strrchr(h, ':');
		if (!colon)
			return "missing :PORT";
		if (memchr(h, ':', (size_t)(colon - h)))
			return "IPv6 addresses must be in brackets, e.g. udp://[::1]:7770";
		hl = (size_t)(colon - h);
	}
	if (hl == 0)
		return "empty host";
	if (hl >= sizeof ep->host)
		return "host name too long";
	memcpy(ep->host, h, hl);
	const char *p = colon + 1;
	char *end;
	errno = 0;
	long port = strtol(p, &end, 10);
	if (!*p || *end || errno || port < 1 || port > 65535)
		return "port must be a number 1..65535";
	if (strlen(p) >= sizeof ep->port)
		return "port must be a number 1..65535";
	strcpy(ep->port, p);
	if (strchr(ep->host, '/') || strchr(ep->host, '@'))
		return "host must not contain a path or user";
	return NULL;
}

int endpoint_connect(const struct endpoint *ep, const char **why)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = ep->scheme == EP_TLS ? SOCK_STREAM : SOCK_DGRAM;
	hints.ai_protocol = ep->scheme == EP_TLS ? IPPROTO_TCP : IPPROTO_UDP;
	rc = getaddrinfo(ep->host, ep->port, &hints, &res);
	if (rc) {
		*why = gai_strerror(rc);
		return -1;
	}
	*why = "no usable address";
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			*why = strerror(errno);
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		*why = strerror(errno);
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0 && ep->scheme == EP_TLS) {
		/* Blocking writes with a deadline: TCP paces the sender, and a
		 * collector that stops reading ends the transfer (see tls/client.c). */
		struct timeval tv = { 10, 0 };
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	} else if (fd >= 0) {
		/* A whole window leaves in one burst; acks come back in bursts too. */
		int sz = 4 << 20;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
		sz = 1 << 20;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	}
	return fd;
}
