/* kernel/net/tls/ktls.h: the kernel's dtls:// and tls:// senders — netdump over DTLS 1.2 / TLS 1.2 (mbedtls, PSK) on lwIP. */
#ifndef K_NET_TLS_KTLS_H
#define K_NET_TLS_KTLS_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/ip_addr.h"
#include "netdump/tx.h"

#define KTLS_PSK_MAX 64

/* Read up to len bytes from the virtio-rng device; bytes read, or -1 if there is none. */
long vrng_read(void *out, size_t len);

/*
 * One transfer to a dtls:// collector: handshake with the device's PSK (identity =
 * meta->device), then the netdump sender with one message per record.  tx and
 * cfg as for plain UDP (the payload is lowered by the record overhead here).
 * Returns the sender's final state; on a failed handshake ND_TX_FAILED, with
 * the reason printed on the console.
 */
enum nd_tx_state ktls_attempt(struct nd_tx *tx, struct nd_tx_cfg *cfg, const struct nd_meta *meta,
			      nd_read_fn read, void *rctx, const ip_addr_t *addr, uint16_t port,
			      const uint8_t *psk, size_t psk_len);

/*
 * One transfer to a tls:// collector (kernel/net/tls/ktls_tcp.c): TCP connect, TLS
 * 1.2 handshake with the same PSK and suite, then netdump messages length-prefixed
 * in the stream.  Same contract as ktls_attempt.
 */
enum nd_tx_state ktls_tcp_attempt(struct nd_tx *tx, struct nd_tx_cfg *cfg,
				  const struct nd_meta *meta, nd_read_fn read, void *rctx,
				  const ip_addr_t *addr, uint16_t port, const uint8_t *psk,
				  size_t psk_len);

/*
 * Shared by both carriers: a fresh mbedtls session for transport
 * (MBEDTLS_SSL_TRANSPORT_DATAGRAM or _STREAM) with the device's key (the boot
 * argument, else the built-in one).  0, or -1 with the reason on the console
 * (prefixed by scheme) and nothing left allocated.  The stream carrier sets its
 * own bio on ktls_ssl(); ktls_end() frees the session.
 */
struct mbedtls_ssl_context;
int ktls_begin(int transport, const char *scheme, const char *device, const uint8_t *psk,
	       size_t psk_len);
struct mbedtls_ssl_context *ktls_ssl(void);
void ktls_end(void);
/* What a fatal alert from the collector means, in words. */
const char *ktls_alert_text(int alert);

/* RAM the DTLS path holds: static pool size, its peak use, and the code's state. */
void ktls_ram(unsigned long *pool, unsigned long *peak);

#endif /* K_NET_TLS_KTLS_H */
