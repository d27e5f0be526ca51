/* kernel/net/net.h: the kernel's network: boot settings, bring-up, and the crash dump over netdump/UDP. */
#ifndef K_NET_NET_H
#define K_NET_NET_H

#include <stddef.h>
#include <stdint.h>

#define NET_MAX_ENDPOINTS 4
#define NET_HOST_MAX      64
#define NET_DEFAULT_RETRIES 2        /* attempts after the first, per endpoint */
#define NET_DEFAULT_TIMEOUT_S 5      /* collector silence that ends one attempt */

struct net_endpoint {
	int serial;                      /* 1: the console (always possible, ends the list) */
	int dtls;                        /* 1: dtls:// (DTLS 1.2 with corecast.psk=, kernel/net/tls) */
	int tls;                         /* 1: tls:// (TLS 1.2 over TCP, same key and suite) */
	char host[NET_HOST_MAX];         /* IPv4 literal or DNS name */
	uint16_t port;
};

/* Settings from the kernel command line (see docs/kernel-network.md). */
struct net_args {
	int nendpoints;
	struct net_endpoint ep[NET_MAX_ENDPOINTS];
	uint8_t ip[4], netmask[4], gw[4], dns[4];
	int have_ip, have_netmask, have_gw, have_dns;
	int device_given;                /* corecast.device= was on the command line */
	uint32_t retries;
	uint32_t timeout_s;
	uint32_t window;                 /* netdump window in packets, 0 = protocol default */
	uint8_t psk[64];                 /* corecast.psk=HEX: the device's DTLS key (demo) */
	uint32_t psk_len;
};
extern struct net_args net_args;

/*
 * Offered every word of the command line before the kernel's own keys: returns 1
 * when the word was a network setting and is taken, 0 otherwise (unknown or
 * malformed words are then reported by the caller).
 */
int net_bootarg(const char *w, size_t n);

/* Find the NIC and start lwIP and the network thread; a machine without one runs on. */
void net_init(void);
/* 1 once the NIC and lwIP are running. */
int net_is_up(void);

struct cw_writer;
/*
 * Send the core laid out in w (cw_begin done) to the endpoints in order, each with
 * its retry budget.  Returns 0 once a collector stored it (sha256 filled), or -1 when
 * the dump should go to the console (serial listed next, no network, all failed).
 */
int net_dump(struct cw_writer *w, uint8_t sha256[32]);
#endif
