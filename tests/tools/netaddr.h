/* tests/tools/netaddr.h: address parsing and socket helpers shared by the UDP test tools. */
#ifndef TESTS_TOOLS_NETADDR_H
#define TESTS_TOOLS_NETADDR_H

#include <stdint.h>
#include <sys/socket.h>

/*
 * Parse "HOST:PORT", "[V6]:PORT" or either with a "udp://" prefix into *ss.
 * Host names go through getaddrinfo.  Returns 0, or -1 with a message on stderr
 * naming the string and the cause.
 */
int tt_parse_addr(const char *tool, const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* Port of an IPv4/IPv6 socket address, host order. */
uint16_t tt_addr_port(const struct sockaddr_storage *ss);

/* Printable "ip:port" / "[ip]:port" into buf. */
const char *tt_addr_str(const struct sockaddr_storage *ss, char *buf, size_t cap);

/*
 * Non-blocking UDP socket bound to *ss (port 0 = ephemeral; *ss is updated with
 * the bound address).  Socket buffers are raised to bufsize (forcefully when
 * running as root, so a burst of a window's worth of datagrams fits).
 */
int tt_udp_bind(const char *tool, struct sockaddr_storage *ss, socklen_t *len, int bufsize);

/* Write "PORT\n" to path atomically (tmp + rename) so a poller never sees half a line. */
int tt_write_port_file(const char *tool, const char *path, uint16_t port);

/* Monotonic clock in nanoseconds. */
uint64_t tt_now_ns(void);

#endif /* TESTS_TOOLS_NETADDR_H */
