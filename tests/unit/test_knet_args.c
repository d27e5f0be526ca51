/* tests/unit/test_knet_args.c: the kernel's network boot arguments (endpoints, addresses, retry policy) through bootargs_parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/kernel.h"
#include "kernel/net/net.h"

static char logbuf[4096];

void k_printf(const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(logbuf);
	va_start(ap, fmt);
	vsnprintf(logbuf + n, sizeof(logbuf) - n, fmt, ap);
	va_end(ap);
}

static void parse(const char *s)
{
	memset(&k_args, 0, sizeof(k_args));
	memset(&net_args, 0, sizeof(net_args));
	net_args.retries = NET_DEFAULT_RETRIES;
	net_args.timeout_s = NET_DEFAULT_TIMEOUT_S;
	logbuf[0] = 0;
	bootargs_parse(s);
}

static void test_endpoints_kept_in_order_with_default_port(void **state)
{
	(void)state;
	parse("corecast.endpoint=udp://10.0.2.2:7000 corecast.endpoint=udp://collector.lan "
	      "corecast.endpoint=serial run=hello");
	assert_int_equal(net_args.nendpoints, 3);
	assert_string_equal(net_args.ep[0].host, "10.0.2.2");
	assert_int_equal(net_args.ep[0].port, 7000);
	assert_false(net_args.ep[0].serial);
	assert_string_equal(net_args.ep[1].host, "collector.lan");
	assert_int_equal(net_args.ep[1].port, 7770);
	assert_true(net_args.ep[2].serial);
	assert_int_equal(k_args.nrun, 1);
	assert_int_equal(k_args.bad, 0);
	assert_int_equal(net_args.retries, NET_DEFAULT_RETRIES);
	assert_int_equal(net_args.timeout_s, NET_DEFAULT_TIMEOUT_S);
}

static void test_malformed_endpoints_are_reported_and_skipped(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"corecast.endpoint=udp://h:0", "corecast.endpoint=udp://h:65536",
		"corecast.endpoint=tcp://h:1", "corecast.endpoint=udp://", "corecast.endpoint=udp://:5",
		"corecast.endpoint=udp://a_b:5", "corecast.endpoint=udp://h:5x",
		"corecast.endpoint=serialx",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse(bad[i]);
		assert_int_equal(net_args.nendpoints, 0);
		assert_int_equal(k_args.bad, 1);
		assert_non_null(strstr(logbuf, "ignoring"));
	}
	char longhost[128] = "corecast.endpoint=udp://";
	memset(longhost + strlen(longhost), 'a', 64);
	parse(longhost);
	assert_int_equal(net_args.nendpoints, 0);
}

static void test_ipv6_literal_endpoints(void **state)
{
	(void)state;
	parse("corecast.endpoint=udp://[fec0::2]:7000 corecast.endpoint=udp://[::ffff:10.0.2.2]");
	assert_int_equal(net_args.nendpoints, 2);
	assert_string_equal(net_args.ep[0].host, "fec0::2");
	assert_int_equal(net_args.ep[0].port, 7000);
	assert_string_equal(net_args.ep[1].host, "::ffff:10.0.2.2");
	assert_int_equal(net_args.ep[1].port, 7770);
	static const char *const bad[] = { "corecast.endpoint=udp://[fec0::2", "corecast.endpoint=udp://[]:1",
		"corecast.endpoint=udp://[fec0::g]:1", "corecast.endpoint=udp://[fec0::2]x",
		"corecast.endpoint=udp://[fec0::2]:" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse(bad[i]);
		assert_int_equal(net_args.nendpoints, 0);
		assert_int_equal(k_args.bad, 1);
	}
}

static void test_at_most_four_endpoints(void **state)
{
	(void)state;
	parse("corecast.endpoint=udp://a:1 corecast.endpoint=udp://b:1 corecast.endpoint=udp://c:1 "
	      "corecast.endpoint=udp://d:1 corecast.endpoint=udp://e:1");
	assert_int_equal(net_args.nendpoints, NET_MAX_ENDPOINTS);
	assert_string_equal(net_args.ep[3].host, "d");
	assert_int_equal(k_args.bad, 1);
}

static void test_static_addresses(void **state)
{
	(void)state;
	parse("corecast.ip=192.168.7.20 corecast.netmask=255.255.0.0 corecast.gw=192.168.7.1 "
	      "corecast.dns=9.9.9.9");
	assert_true(net_args.have_ip && net_args.have_netmask && net_args.have_gw && net_args.have_dns);
	const uint8_t ip[4] = { 192, 168, 7, 20 }, mask[4] = { 255, 255, 0, 0 };
	assert_memory_equal(net_args.ip, ip, 4);
	assert_memory_equal(net_args.netmask, mask, 4);
	assert_int_equal(net_args.gw[3], 1);
	assert_int_equal(net_args.dns[0], 9);
	static const char *const bad[] = { "corecast.ip=1.2.3", "corecast.ip=256.1.1.1",
		"corecast.ip=1.2.3.4.5", "corecast.gw=1..2.3", "corecast.dns=1.2.3.4x",
		"corecast.netmask=", "corecast.ip=1.2.3.1234" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse(bad[i]);
		assert_false(net_args.have_ip || net_args.have_gw || net_args.have_dns ||
			     net_args.have_netmask);
		assert_true(k_args.bad >= 1);
	}
}

static void test_retry_policy_and_window(void **state)
{
	(void)state;
	parse("corecast.retries=0 corecast.timeout=30 corecast.window=1");
	assert_int_equal(net_args.retries, 0);
	assert_int_equal(net_args.timeout_s, 30);
	assert_int_equal(net_args.window, 1);
	assert_int_equal(k_args.bad, 0);
	parse("corecast.retries=101 corecast.timeout=0 corecast.window=0 corecast.window=4097");
	assert_int_equal(net_args.retries, NET_DEFAULT_RETRIES);
	assert_int_equal(net_args.timeout_s, NET_DEFAULT_TIMEOUT_S);
	assert_int_equal(net_args.window, 0);
	assert_int_equal(k_args.bad, 4);
}

static void test_dtls_endpoints_and_psk(void **state)
{
	(void)state;
	parse("corecast.endpoint=dtls://10.0.2.2:7771 corecast.endpoint=udp://10.0.2.2 "
	      "corecast.endpoint=dtls://[::1] corecast.psk=00112233445566778899AABBCCDDEEFF");
	assert_int_equal(k_args.bad, 0);
	assert_int_equal(net_args.nendpoints, 3);
	assert_int_equal(net_args.ep[0].dtls, 1);
	assert_string_equal(net_args.ep[0].host, "10.0.2.2");
	assert_int_equal(net_args.ep[0].port, 7771);
	assert_int_equal(net_args.ep[1].dtls, 0);
	assert_int_equal(net_args.ep[2].dtls, 1);
	assert_string_equal(net_args.ep[2].host, "::1");
	assert_int_equal(net_args.psk_len, 16);
	assert_int_equal(net_args.psk[0], 0x00);
	assert_int_equal(net_args.psk[15], 0xff);
	/* keys shorter than 16 bytes, odd or not hex, and malformed schemes are refused */
	static const char *const bad[] = {
		"corecast.psk=0011", "corecast.psk=00112233445566778899aabbccddeef",
		"corecast.psk=00112233445566778899aabbccddeeXX", "corecast.endpoint=dtls:/h:1",
		"corecast.endpoint=dtls://", "corecast.endpoint=dtlsx://h:1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse(bad[i]);
		assert_int_equal(k_args.bad, 1);
		assert_int_equal(net_args.psk_len, 0);
		assert_int_equal(net_args.nendpoints, 0);
	}
}

static void test_tls_endpoints_distinct_from_dtls_and_udp(void **state)
{
	(void)state;
	parse("corecast.endpoint=tls://10.0.2.2:7772 corecast.endpoint=dtls://h "
	      "corecast.endpoint=tls://[::1] corecast.endpoint=udp://h:1");
	assert_int_equal(k_args.bad, 0);
	assert_int_equal(net_args.nendpoints, 4);
	assert_int_equal(net_args.ep[0].tls, 1);
	assert_int_equal(net_args.ep[0].dtls, 0);
	assert_string_equal(net_args.ep[0].host, "10.0.2.2");
	assert_int_equal(net_args.ep[0].port, 7772);
	assert_int_equal(net_args.ep[1].tls, 0);
	assert_int_equal(net_args.ep[1].dtls, 1);
	assert_int_equal(net_args.ep[2].tls, 1);
	assert_string_equal(net_args.ep[2].host, "::1");
	assert_int_equal(net_args.ep[3].tls, 0);
	assert_int_equal(net_args.ep[3].dtls, 0);
	static const char *const bad[] = {
		"corecast.endpoint=tls://", "corecast.endpoint=tls:/h:1", "corecast.endpoint=tlsx://h",
		"corecast.endpoint=ttls://h", "corecast.endpoint=tls://h:0",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse(bad[i]);
		assert_int_equal(k_args.bad, 1);
		assert_int_equal(net_args.nendpoints, 0);
	}
}

static void test_device_given_is_noted_and_still_set(void **state)
{
	(void)state;
	parse("run=hello");
	assert_false(net_args.device_given);
	assert_string_equal(k_args.device, "qemu-riscv64");
	parse("corecast.device=board-7");
	assert_true(net_args.device_given);
	assert_string_equal(k_args.device, "board-7");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoints_kept_in_order_with_default_port),
		cmocka_unit_test(test_malformed_endpoints_are_reported_and_skipped),
		cmocka_unit_test(test_ipv6_literal_endpoints),
		cmocka_unit_test(test_at_most_four_endpoints),
		cmocka_unit_test(test_static_addresses),
		cmocka_unit_test(test_retry_policy_and_window),
		cmocka_unit_test(test_device_given_is_noted_and_still_set),
		cmocka_unit_test(test_dtls_endpoints_and_psk),
		cmocka_unit_test(test_tls_endpoints_distinct_from_dtls_and_udp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
