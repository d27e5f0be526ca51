/* kernel/net/netargs.c: the network keys of the kernel command line (endpoints, addresses, retry policy). */
#include "kernel/kernel.h"
#include "kernel/net/net.h"

struct net_args net_args = {
	.retries = NET_DEFAULT_RETRIES,
	.timeout_s = NET_DEFAULT_TIMEOUT_S,
};

#define NET_DEFAULT_PORT 7770        /* netdump's registered default (ND_DEFAULT_PORT) */

static int take(const char *w, size_t n, const char *key, const char **v, size_t *vl)
{
	size_t k = strlen(key);
	if (n < k || strncmp(w, key, k) != 0)
		return 0;
	*v = w + k;
	*vl = n - k;
	return 1;
}

/* Dotted quad, each part 0..255, nothing else. */
static int parse_ip4(const char *s, size_t n, uint8_t out[4])
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		size_t start = i;
		uint32_t v = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3)
			v = v * 10 + (uint32_t)(s[i++] - '0');
		if (i == start || v > 255)
			return -1;
		out[part] = (uint8_t)v;
		if (part < 3) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
	}
	return i == n ? 0 : -1;
}

/* "serial" or "udp|dtls|tls://HOST[:PORT]" with HOST a name, an IPv4 literal or [an IPv6 literal]. */
static int parse_endpoint(const char *v, size_t vl, struct net_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (vl == 6 && strncmp(v, "serial", 6) == 0) {
		ep->serial = 1;
		return 0;
	}
	if (vl >= 8 && strncmp(v, "dtls://", 7) == 0) {
		/* The same form over DTLS: one more character of scheme. */
		ep->dtls = 1;
		v++;
		vl--;
	}
	if (vl >= 7 && !ep->dtls && strncmp(v, "tls://", 6) == 0)
		ep->tls = 1;          /* TLS over TCP: the same form, the same length of scheme */
	else if (vl < 7 || strncmp(v, (ep->dtls ? "tls://" : "udp://"), 6) != 0)
		return -1;
	v += 6;
	vl -= 6;
	size_t hl = 0, skip = 0;
	if (v[0] == '[') {
		/* IPv6 literal: hex digits, ':' and '.' (an embedded IPv4 tail) in brackets. */
		while (1 + hl < vl && v[1 + hl] != ']')
			hl++;
		if (1 + hl >= vl || hl == 0 || hl >= NET_HOST_MAX)
			return -1;
		for (size_t i = 1; i <= hl; i++) {
			char c = v[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
			      c == ':' || c == '.'))
				return -1;
		}
		memcpy(ep->host, v + 1, hl);
		skip = 2;
	} else {
		while (hl < vl && v[hl] != ':')
			hl++;
		if (hl == 0 || hl >= NET_HOST_MAX)
			return -1;
		for (size_t i = 0; i < hl; i++) {
			char c = v[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			      c == '.' || c == '-'))
				return -1;
		}
		memcpy(ep->host, v, hl);
	}
	ep->host[hl] = 0;
	hl += skip;
	if (hl < vl && v[hl] != ':')
		return -1;
	ep->port = NET_DEFAULT_PORT;
	if (hl < vl) {
		uint64_t port;
		if (k_parse_u64(v + hl + 1, vl - hl - 1, &port) || port == 0 || port > 65535)
			return -1;
		ep->port = (uint16_t)port;
	}
	return 0;
}

int net_bootarg(const char *w, size_t n)
{
	const char *v;
	size_t vl;
	uint64_t num;
	if (take(w, n, "corecast.endpoint=", &v, &vl)) {
		struct net_endpoint ep;
		if (net_args.nendpoints >= NET_MAX_ENDPOINTS || parse_endpoint(v, vl, &ep))
			return 0;
		net_args.ep[net_args.nendpoints++] = ep;
		return 1;
	}
	if (take(w, n, "corecast.ip=", &v, &vl))
		return parse_ip4(v, vl, net_args.ip) ? 0 : (net_args.have_ip = 1);
	if (take(w, n, "corecast.netmask=", &v, &vl))
		return parse_ip4(v, vl, net_args.netmask) ? 0 : (net_args.have_netmask = 1);
	if (take(w, n, "corecast.gw=", &v, &vl))
		return parse_ip4(v, vl, net_args.gw) ? 0 : (net_args.have_gw = 1);
	if (take(w, n, "corecast.dns=", &v, &vl))
		return parse_ip4(v, vl, net_args.dns) ? 0 : (net_args.have_dns = 1);
	if (take(w, n, "corecast.retries=", &v, &vl)) {
		if (k_parse_u64(v, vl, &num) || num > 100)
			return 0;
		net_args.retries = (uint32_t)num;
		return 1;
	}
	if (take(w, n, "corecast.timeout=", &v, &vl)) {
		if (k_parse_u64(v, vl, &num) || num == 0 || num > 3600)
			return 0;
		net_args.timeout_s = (uint32_t)num;
		return 1;
	}
	if (take(w, n, "corecast.window=", &v, &vl)) {
		if (k_parse_u64(v, vl, &num) || num == 0 || num > 4096)
			return 0;
		net_args.window = (uint32_t)num;
		return 1;
	}
	if (take(w, n, "corecast.psk=", &v, &vl)) {
		/* 16..64 bytes as hex: the DTLS key (kernel/net/tls, docs/tls.md). */
		if (vl % 2 || vl / 2 < 16 || vl / 2 > sizeof(net_args.psk))
			return 0;
		for (size_t i = 0; i < vl; i++) {
			char c = v[i];
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
				c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
			if (d < 0)
				return 0;
			net_args.psk[i / 2] = (uint8_t)(i % 2 ? net_args.psk[i / 2] | d : d << 4);
		}
		net_args.psk_len = (uint32_t)(vl / 2);
		return 1;
	}
	/* The kernel's parser owns corecast.device=; only note that it was given. */
	if (take(w, n, "corecast.device=", &v, &vl) && vl > 0)
		net_args.device_given = 1;
	return 0;
}
