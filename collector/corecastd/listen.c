/* collector/corecastd/listen.c: parse udp|dtls|tls:// listen URLs and open their sockets. */
#include "collector/corecastd/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *ccd_url_strerror(enum ccd_url_err e)
{
	switch (e) {
	case CCD_URL_OK: return "ok";
	case CCD_URL_EMPTY: return "empty listen address";
	case CCD_URL_TOO_LONG: return "listen address too long";
	case CCD_URL_SCHEME: return "scheme must be udp://, dtls:// or tls://";
	case CCD_URL_NO_PORT: return "missing :PORT";
	case CCD_URL_BAD_PORT: return "port must be a number 0-65535";
	case CCD_URL_BAD_ADDR: return "address must be numeric IPv4 or [IPv6]";
	case CCD_URL_BRACKETS: return "IPv6 address must be written in [ ]";
	}
	return "unknown listen address error";
}

static int parse_port(const char *s, unsigned *port)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

enum ccd_url_err ccd_listen_parse(const char *url, struct ccd_listen *out)
{
	char host[CCD_URL_MAX];
	const char *rest, *portstr;
	unsigned port;
	size_t hlen;

	memset(out, 0, sizeof *out);
	if (url == NULL || *url == '\0')
		return CCD_URL_EMPTY;
	if (strlen(url) >= CCD_URL_MAX)
		return CCD_URL_TOO_LONG;
	if (strncmp(url, "udp://", 6) == 0) {
		out->proto = CCD_PROTO_UDP;
		rest = url + 6;
	} else if (strncmp(url, "dtls://", 7) == 0) {
		out->proto = CCD_PROTO_DTLS;
		rest = url + 7;
	} else if (strncmp(url, "tls://", 6) == 0) {
		out->proto = CCD_PROTO_TLS;
		rest = url + 6;
	} else {
		return CCD_URL_SCHEME;
	}
	if (*rest == '\0')
		return CCD_URL_BAD_ADDR;

	if (*rest == '[') {
		const char *close = strchr(rest, ']');
		if (close == NULL)
			return CCD_URL_BRACKETS;
		hlen = (size_t)(close - rest - 1);
		memcpy(host, rest + 1, hlen);
		host[hlen] = '\0';
		if (close[1] == '\0')
			return CCD_URL_NO_PORT;
		if (close[1] != ':')
			return CCD_URL_BAD_ADDR;
		portstr = close + 2;
		if (parse_port(portstr, &port) < 0)
			return CCD_URL_BAD_PORT;

		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->addr;
		char *pct = strchr(host, '%');
		if (pct != NULL) {
			/* Link-local addresses need a scope: name or index. */
			*pct++ = '\0';
			unsigned idx = if_nametoindex(pct);
			if (idx == 0) {
				char *end;
				unsigned long v = strtoul(pct, &end, 10);
				if (*pct == '\0' || *end != '\0' || v == 0 || v > 0xffffffffUL)
					return CCD_URL_BAD_ADDR;
				idx = (unsigned)v;
			}
			s6->sin6_scope_id = idx;
		}
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return CCD_URL_BAD_ADDR;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		out->addrlen = sizeof *s6;
	} else {
		const char *colon = strrchr(rest, ':');
		if (colon == NULL)
			return CCD_URL_NO_PORT;
		if (memchr(rest, ':', (size_t)(colon - rest)) != NULL)
			return CCD_URL_BRACKETS;   /* more than one ':' : bare IPv6 */
		hlen = (size_t)(colon - rest);
		memcpy(host, rest, hlen);
		host[hlen] = '\0';
		portstr = colon + 1;
		if (hlen == 0)
			return CCD_URL_BAD_ADDR;
		struct sockaddr_in *s4 = (struct sockaddr_in *)&out->addr;
		/* inet_pton (unlike inet_aton) takes only the full dotted-quad form. */
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return CCD_URL_BAD_ADDR;
		if (parse_port(portstr, &port) < 0)
			return CCD_URL_BAD_PORT;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		out->addrlen = sizeof *s4;
	}
	strcpy(out->url, url);
	return CCD_URL_OK;
}

const char *ccd_proto_name(enum ccd_proto p)
{
	switch (p) {
	case CCD_PROTO_UDP: return "udp";
	case CCD_PROTO_DTLS: return "dtls";
	case CCD_PROTO_TLS: return "tls";
	}
	return "?";
}

unsigned ccd_addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void ccd_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
}

int ccd_listen_open(struct ccd_listen *l, int rcvbuf)
{
	int fam = l->addr.ss_family;
	int fd, one = 1, e;
	socklen_t alen = sizeof l->addr;

	if (l->proto == CCD_PROTO_TLS) {
		fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
		    (fam == AF_INET6 &&
		     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
		    bind(fd, (struct sockaddr *)&l->addr, l->addrlen) < 0 ||
		    listen(fd, 128) < 0 ||
		    getsockname(fd, (struct sockaddr *)&l->addr, &alen) < 0)
			goto fail;
		return fd;
	}
	fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (fam == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
		goto fail;
	/* A deep receive queue absorbs a window's worth of datagrams from many
	 * senders while the loop is busy writing spools; FORCE works as root,
	 * otherwise the kernel caps at net.core.rmem_max. */
	if (rcvbuf > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (rcvbuf > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof rcvbuf);
	if (bind(fd, (struct sockaddr *)&l->addr, l->addrlen) < 0)
		goto fail;
	if (getsockname(fd, (struct sockaddr *)&l->addr, &alen) < 0)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}
