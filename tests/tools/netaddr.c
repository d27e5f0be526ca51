/* tests/tools/netaddr.c: address parsing and socket helpers shared by the UDP test tools. */
#include "tests/tools/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int tt_parse_addr(const char *tool, const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *p = s, *port;
	size_t hl;

	if (strncmp(p, "udp://", 6) == 0)
		p += 6;
	if (*p == '[') {
		const char *end = strchr(p, ']');
		if (!end || end[1] != ':') {
			fprintf(stderr, "%s: address %s: expected [IPV6]:PORT\n", tool, s);
			return -1;
		}
		hl = (size_t)(end - p - 1);
		if (hl >= sizeof(host))
			goto toolong;
		memcpy(host, p + 1, hl);
		port = end + 2;
	} else {
		const char *colon = strrchr(p, ':');
		if (!colon) {
			fprintf(stderr, "%s: address %s: expected HOST:PORT\n", tool, s);
			return -1;
		}
		hl = (size_t)(colon - p);
		if (hl >= sizeof(host))
			goto toolong;
		memcpy(host, p, hl);
		port = colon + 1;
	}
	host[hl] = '\0';

	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "%s: address %s: %s\n", tool, s, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
toolong:
	fprintf(stderr, "%s: address %s: host part too long\n", tool, s);
	return -1;
}

uint16_t tt_addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

const char *tt_addr_str(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof(ip));
		snprintf(buf, cap, "[%s]:%u", ip, tt_addr_port(ss));
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof(ip));
		snprintf(buf, cap, "%s:%u", ip, tt_addr_port(ss));
	}
	return buf;
}

int tt_udp_bind(const char *tool, struct sockaddr_storage *ss, socklen_t *len, int bufsize)
{
	char abuf[80];
	int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "%s: socket: %s\n", tool, strerror(errno));
		return -1;
	}
	if (bufsize > 0) {
		/* The FORCE variants ignore rmem_max/wmem_max when we are root. */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof(bufsize)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsize, sizeof(bufsize)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
	}
	if (bind(fd, (struct sockaddr *)ss, *len) < 0) {
		fprintf(stderr, "%s: bind %s: %s\n", tool, tt_addr_str(ss, abuf, sizeof(abuf)),
			strerror(errno));
		close(fd);
		return -1;
	}
	*len = sizeof(*ss);
	getsockname(fd, (struct sockaddr *)ss, len);
	return fd;
}

int tt_write_port_file(const char *tool, const char *path, uint16_t port)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
		fprintf(stderr, "%s: port file %s: %s\n", tool, path, strerror(errno));
		return -1;
	}
	return 0;
}

uint64_t tt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
