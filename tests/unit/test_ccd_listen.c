/* tests/unit/test_ccd_listen.c: udp|dtls|tls:// listen URL parsing (IPv4, IPv6, bad forms) and binding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "collector/corecastd/listen.h"

static void test_ipv4(void **state)
{
	struct ccd_listen l;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&l.addr;

	assert_int_equal(ccd_listen_parse("udp://127.0.0.1:7770", &l), CCD_URL_OK);
	assert_int_equal(s4->sin_family, AF_INET);
	assert_int_equal(ntohs(s4->sin_port), 7770);
	assert_int_equal(ntohl(s4->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(l.addrlen, sizeof(struct sockaddr_in));
	assert_string_equal(l.url, "udp://127.0.0.1:7770");

	assert_int_equal(ccd_listen_parse("udp://0.0.0.0:0", &l), CCD_URL_OK);
	assert_int_equal(s4->sin_addr.s_addr, 0);
	assert_int_equal(ntohs(s4->sin_port), 0);
	assert_int_equal(ccd_listen_parse("udp://10.1.2.3:65535", &l), CCD_URL_OK);
	assert_int_equal(ntohs(s4->sin_port), 65535);
}

static void test_ipv6(void **state)
{
	struct ccd_listen l;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&l.addr;
	struct in6_addr one = IN6ADDR_LOOPBACK_INIT;

	assert_int_equal(ccd_listen_parse("udp://[::1]:7770", &l), CCD_URL_OK);
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(s6->sin6_port), 7770);
	assert_memory_equal(&s6->sin6_addr, &one, sizeof one);
	assert_int_equal(l.addrlen, sizeof(struct sockaddr_in6));

	assert_int_equal(ccd_listen_parse("udp://[::]:1", &l), CCD_URL_OK);
	assert_int_equal(ccd_listen_parse("udp://[2001:db8::42]:9000", &l), CCD_URL_OK);
	assert_int_equal(s6->sin6_addr.s6_addr[15], 0x42);
	assert_int_equal(ccd_listen_parse("udp://[::ffff:10.0.0.1]:9000", &l), CCD_URL_OK);
	/* scope by interface name (lo exists everywhere) or number */
	assert_int_equal(ccd_listen_parse("udp://[fe80::1%lo]:9000", &l), CCD_URL_OK);
	assert_true(s6->sin6_scope_id != 0);
	assert_int_equal(ccd_listen_parse("udp://[fe80::1%3]:9000", &l), CCD_URL_OK);
	assert_int_equal(s6->sin6_scope_id, 3);
}

static void test_secure_schemes(void **state)
{
	struct ccd_listen l;
	int fd;

	assert_int_equal(ccd_listen_parse("udp://127.0.0.1:1", &l), CCD_URL_OK);
	assert_int_equal(l.proto, CCD_PROTO_UDP);
	assert_int_equal(ccd_listen_parse("dtls://127.0.0.1:7771", &l), CCD_URL_OK);
	assert_int_equal(l.proto, CCD_PROTO_DTLS);
	assert_string_equal(ccd_proto_name(l.proto), "dtls");
	assert_int_equal(ccd_listen_parse("tls://[::1]:7772", &l), CCD_URL_OK);
	assert_int_equal(l.proto, CCD_PROTO_TLS);
	assert_int_equal(ccd_listen_parse("tls://127.0.0.1", &l), CCD_URL_NO_PORT);
	assert_int_equal(ccd_listen_parse("dtls:/127.0.0.1:1", &l), CCD_URL_SCHEME);
	/* tls:// opens a listening TCP socket on a free port */
	assert_int_equal(ccd_listen_parse("tls://127.0.0.1:0", &l), CCD_URL_OK);
	fd = ccd_listen_open(&l, 0);
	assert_true(fd >= 0);
	{
		int type = 0, acc = 0;
		socklen_t n = sizeof type;
		assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n), 0);
		assert_int_equal(type, SOCK_STREAM);
		n = sizeof acc;
		assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &n), 0);
		assert_int_equal(acc, 1);
	}
	assert_true(ccd_addr_port((const struct sockaddr *)&l.addr) != 0);
	close(fd);
}

static void test_bad_forms(void **state)
{
	static const struct { const char *url; enum ccd_url_err want; } bad[] = {
		{ "", CCD_URL_EMPTY },
		{ "tcp://127.0.0.1:1", CCD_URL_SCHEME },
		{ "127.0.0.1:1", CCD_URL_SCHEME },
		{ "UDP://127.0.0.1:1", CCD_URL_SCHEME },
		{ "udp://", CCD_URL_BAD_ADDR },
		{ "udp://127.0.0.1", CCD_URL_NO_PORT },
		{ "udp://127.0.0.1:", CCD_URL_BAD_PORT },
		{ "udp://127.0.0.1:65536", CCD_URL_BAD_PORT },
		{ "udp://127.0.0.1:-1", CCD_URL_BAD_PORT },
		{ "udp://127.0.0.1:12ab", CCD_URL_BAD_PORT },
		{ "udp://127.0.0.1:000001", CCD_URL_BAD_PORT },
		{ "udp://:7770", CCD_URL_BAD_ADDR },
		{ "udp://localhost:7770", CCD_URL_BAD_ADDR },
		{ "udp://127.1:7770", CCD_URL_BAD_ADDR },
		{ "udp://256.0.0.1:7770", CCD_URL_BAD_ADDR },
		{ "udp://::1:7770", CCD_URL_BRACKETS },
		{ "udp://[::1:7770", CCD_URL_BRACKETS },
		{ "udp://[::1]", CCD_URL_NO_PORT },
		{ "udp://[::1]7770", CCD_URL_BAD_ADDR },
		{ "udp://[::1]:", CCD_URL_BAD_PORT },
		{ "udp://[127.0.0.1]:7770", CCD_URL_BAD_ADDR },
		{ "udp://[fe80::1%nosuchif0]:7770", CCD_URL_BAD_ADDR },
		{ "udp://[::1]:7770/path", CCD_URL_BAD_PORT },
	};
	struct ccd_listen l;
	char longurl[CCD_URL_MAX + 8];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum ccd_url_err e = ccd_listen_parse(bad[i].url, &l);
		if (e != bad[i].want)
			fail_msg("%s: got %s, want %s", bad[i].url, ccd_url_strerror(e),
				 ccd_url_strerror(bad[i].want));
	}
	assert_int_equal(ccd_listen_parse(NULL, &l), CCD_URL_EMPTY);
	memset(longurl, '1', sizeof longurl - 1);
	longurl[sizeof longurl - 1] = '\0';
	memcpy(longurl, "udp://", 6);
	assert_int_equal(ccd_listen_parse(longurl, &l), CCD_URL_TOO_LONG);
	assert_string_equal(ccd_url_strerror(CCD_URL_BRACKETS), "IPv6 address must be written in [ ]");
}

/* Port 0 binds a real socket and reports the port the kernel chose. */
static void test_open_reports_bound_port(void **state)
{
	struct ccd_listen l4, l6;
	int fd4, fd6;
	char buf[64];

	assert_int_equal(ccd_listen_parse("udp://127.0.0.1:0", &l4), CCD_URL_OK);
	fd4 = ccd_listen_open(&l4, 1 << 20);
	assert_true(fd4 >= 0);
	assert_true(ccd_addr_port((struct sockaddr *)&l4.addr) != 0);
	ccd_addr_str((struct sockaddr *)&l4.addr, buf, sizeof buf);
	assert_non_null(strstr(buf, "127.0.0.1:"));

	assert_int_equal(ccd_listen_parse("udp://[::1]:0", &l6), CCD_URL_OK);
	fd6 = ccd_listen_open(&l6, 0);
	if (fd6 >= 0) {          /* hosts without IPv6 loopback skip this half */
		ccd_addr_str((struct sockaddr *)&l6.addr, buf, sizeof buf);
		assert_non_null(strstr(buf, "[::1]:"));
		close(fd6);
	}
	close(fd4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_bad_forms),
		cmocka_unit_test(test_secure_schemes),
		cmocka_unit_test(test_open_reports_bound_port),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
