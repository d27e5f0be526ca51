/* kernel/net/tls/ktls.c: the kernel's dtls:// sender — netdump over DTLS 1.2 (mbedtls, PSK) on lwIP's raw UDP. */
#include "kernel/kernel.h"
#include "kernel/net/net.h"
#include "kernel/net/netif.h"
#include "kernel/net/tls/ktls.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/memory_buffer_alloc.h"
#include "mbedtls/ssl.h"
#ifdef K_TLS_KEY_HEADER
#include K_TLS_KEY_HEADER        /* K_TLS_BUILD_PSK, from make K_TLS_KEYFILE= */
#endif

/*
 * Like the plain UDP path (netdump_udp.c), this runs on the crashing thread with
 * its process frozen, polls the NIC and never sleeps.  mbedtls is configured in
 * kernel/net/tls/mbedtls_config.h: one suite (TLS_PSK_WITH_AES_128_GCM_SHA256), a
 * DTLS client, 2 KiB record buffers.  Its memory comes from a static pool
 * (mbedtls's buffer allocator): a crash dump must not depend on the kernel heap,
 * and the pool bounds what TLS can take.  The generator is seeded from virtio-rng
 * (the strong source) plus the jitter of the timer around device reads (a weak,
 * extra source) — never from a fixed seed: without a virtio-rng device the
 * handshake is refused and the endpoint skipped.
 */
#define POOL_BYTES  (24 * 1024)       /* 3x the measured peak (bench-tls) */
#define RXQ         8                 /* datagrams queued between two polls */
#define RXSZ        2048
#define BURST       32

static uint8_t pool[POOL_BYTES] __attribute__((aligned(16)));
static int pool_ready;
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static mbedtls_ssl_config conf;
static mbedtls_ssl_context ssl;
static struct udp_pcb *pcb;
static uint8_t rxq[RXQ][RXSZ];
static uint16_t rxlen[RXQ];
static unsigned rx_head, rx_n;
static uint64_t t_start, t_int, t_fin;
static int t_armed;
static uint8_t msg[ND_DATA_HDR_LEN + ND_DEFAULT_PAYLOAD];
static uint8_t plain[RXSZ];
static struct nd_tx *cur_tx;
static int suites[] = { MBEDTLS_TLS_PSK_WITH_AES_128_GCM_SHA256, 0 };

static uint64_t now_ms(void)
{
	return hal_time_ns() / 1000000u;
}

static void pump(void)
{
	k_netif_poll(64);
	sys_check_timeouts();
}

/* mbedtls's strong entropy source (MBEDTLS_ENTROPY_HARDWARE_ALT). */
int mbedtls_hardware_poll(void *data, unsigned char *out, size_t len, size_t *olen);
int mbedtls_hardware_poll(void *data, unsigned char *out, size_t len, size_t *olen)
{
	long n = vrng_read(out, len);

	(void)data;
	*olen = n > 0 ? (size_t)n : 0;
	return n > 0 ? 0 : MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
}

/* Weak extra source: the low bits of the cycle timer between device reads. */
static int jitter_poll(void *data, unsigned char *out, size_t len, size_t *olen)
{
	(void)data;
	for (size_t i = 0; i < len; i++) {
		uint64_t a = hal_time_ns();
		for (volatile int spin = 0; spin < (int)(a & 31); spin++)
			;
		out[i] = (uint8_t)(hal_time_ns() ^ (a >> 3));
	}
	*olen = len;
	return 0;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	(void)ctx;
	struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
	if (!p)
		return (int)len;    /* a lost datagram: DTLS and netdump retransmit */
	pbuf_take(p, buf, (u16_t)len);
	udp_send(pcb, p);
	pbuf_free(p);
	return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	(void)ctx;
	if (rx_n == 0)
		return MBEDTLS_ERR_SSL_WANT_READ;
	size_t n = rxlen[rx_head] < len ? rxlen[rx_head] : len;
	memcpy(buf, rxq[rx_head], n);
	rx_head = (rx_head + 1) % RXQ;
	rx_n--;
	return (int)n;
}

static void on_recv(void *arg, struct udp_pcb *p, struct pbuf *pb, const ip_addr_t *addr,
		    u16_t port)
{
	(void)arg, (void)p, (void)addr, (void)port;
	/* Connected pcb: only the collector's datagrams; kept until mbedtls asks. */
	if (pb->tot_len <= RXSZ && rx_n < RXQ) {
		unsigned slot = (rx_head + rx_n) % RXQ;
		pbuf_copy_partial(pb, rxq[slot], pb->tot_len, 0);
		rxlen[slot] = pb->tot_len;
		rx_n++;
	}
	pbuf_free(pb);
}

static void timer_set(void *ctx, uint32_t int_ms, uint32_t fin_ms)
{
	(void)ctx;
	t_armed = fin_ms != 0;
	t_int = int_ms;
	t_fin = fin_ms;
	t_start = now_ms();
}

static int timer_get(void *ctx)
{
	(void)ctx;
	if (!t_armed)
		return -1;
	uint64_t el = now_ms() - t_start;
	return el >= t_fin ? 2 : el >= t_int ? 1 : 0;
}

const char *ktls_alert_text(int a)
{
	switch (a) {
	case MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC:
	case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR: return "wrong key";
	case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_PSK_IDENTITY: return "unknown device";
	case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE: return "no common cipher suite";
	default: return "refused by the collector";
	}
}

static void setup_once(void)
{
	if (pool_ready)
		return;
	mbedtls_memory_buffer_alloc_init(pool, sizeof(pool));
	/* A fill pattern behind the allocator's first header shows how far into
	 * the pool allocations ever reached (first fit from the start; calloc
	 * zeroes what it hands out): the high-water mark. */
	memset(pool + 256, 0xa5, sizeof(pool) - 256);
	pool_ready = 1;
}

/* Fresh state per attempt: nothing of a failed handshake lingers. */
static int setup(int transport, const char *scheme, const char *device, const uint8_t *psk,
		 size_t psk_len, char *why, size_t wn)
{
	static const char pers[] = "corecast-kernel";
	int r;

	setup_once();
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_ssl_config_init(&conf);
	mbedtls_ssl_init(&ssl);
	mbedtls_entropy_add_source(&entropy, jitter_poll, NULL, 32, MBEDTLS_ENTROPY_SOURCE_WEAK);
	r = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
				  (const unsigned char *)pers, sizeof(pers) - 1);
	if (r) {
		k_snprintf(why, wn, "no entropy: a virtio-rng device is needed for %s://", scheme);
		return -1;
	}
	if (mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, transport,
					MBEDTLS_SSL_PRESET_DEFAULT) ||
	    mbedtls_ssl_conf_psk(&conf, psk, psk_len, (const unsigned char *)device,
				 strlen(device))) {
		k_snprintf(why, wn, "TLS configuration refused");
		return -1;
	}
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	mbedtls_ssl_conf_ciphersuites(&conf, suites);
	mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_handshake_timeout(&conf, 1000, 16000);
	if (mbedtls_ssl_setup(&ssl, &conf)) {
		k_snprintf(why, wn, "out of TLS memory (pool %u bytes)", (unsigned)POOL_BYTES);
		return -1;
	}
	/* The stream carrier (ktls_tcp.c) sets its own bio; TCP needs no record timers. */
	if (transport == MBEDTLS_SSL_TRANSPORT_DATAGRAM) {
		mbedtls_ssl_set_bio(&ssl, NULL, bio_send, bio_recv, NULL);
		mbedtls_ssl_set_timer_cb(&ssl, NULL, timer_set, timer_get);
	}
	return 0;
}

static void teardown(void)
{
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
}

static void deliver(void)
{
	for (;;) {
		int r = mbedtls_ssl_read(&ssl, plain, sizeof(plain));
		if (r <= 0)
			return;          /* WANT_READ, or a record mbedtls dropped */
		nd_tx_input(cur_tx, hal_time_ns() / 1000, plain, (size_t)r);
	}
}

int ktls_begin(int transport, const char *scheme, const char *device, const uint8_t *psk,
	       size_t psk_len)
{
	char why[96];

#ifdef K_TLS_BUILD_PSK
	static uint8_t built[KTLS_PSK_MAX];
	if (psk_len == 0) {
		/* No boot argument: the key this kernel was built with. */
		static const char hex[] = K_TLS_BUILD_PSK;
		size_t n = sizeof(hex) - 1;
		for (size_t i = 0; i < n && n % 2 == 0 && n / 2 <= sizeof(built); i++) {
			char c = hex[i];
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
				c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
			if (d < 0)
				break;
			built[i / 2] = (uint8_t)(i % 2 ? built[i / 2] | d : d << 4);
			if (i == n - 1 && n / 2 >= 16) {
				psk = built;
				psk_len = n / 2;
			}
		}
	}
#endif
	if (psk_len == 0) {
		k_printf("[net] %s: no key (corecast.psk=, or a kernel built with K_TLS_KEYFILE=)\n", scheme);
		return -1;
	}
	rx_head = rx_n = 0;
	t_armed = 0;
	if (setup(transport, scheme, device, psk, psk_len, why, sizeof(why)) != 0) {
		k_printf("[net] %s: %s\n", scheme, why);
		teardown();
		return -1;
	}
	return 0;
}

mbedtls_ssl_context *ktls_ssl(void)
{
	return &ssl;
}

void ktls_end(void)
{
	teardown();
}

enum nd_tx_state ktls_attempt(struct nd_tx *tx, struct nd_tx_cfg *cfg, const struct nd_meta *meta,
			      nd_read_fn read, void *rctx, const ip_addr_t *addr, uint16_t port,
			      const uint8_t *psk, size_t psk_len)
{
	int r;
	uint64_t deadline = hal_time_ns() + cfg->give_up_us * 1000u;

	/* Reset now (again below with the record payload), so that an attempt that
	 * fails in its handshake reports its own figures, not the previous one's. */
	if (nd_tx_init(tx, cfg, meta, read, rctx) != ND_OK)
		return ND_TX_FAILED;
	if (ktls_begin(MBEDTLS_SSL_TRANSPORT_DATAGRAM, "dtls", meta->device, psk, psk_len) != 0)
		return ND_TX_FAILED;
	pcb = udp_new_ip_type(IPADDR_TYPE_ANY);
	if (!pcb || udp_bind(pcb, IP_ANY_TYPE, 0) != ERR_OK || udp_connect(pcb, addr, port) != ERR_OK) {
		if (pcb)
			udp_remove(pcb);
		teardown();
		return ND_TX_FAILED;
	}
	udp_recv(pcb, on_recv, 0);
	uint64_t t0 = hal_time_ns();
	while ((r = mbedtls_ssl_handshake(&ssl)) != 0) {
		if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
			if (r == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
				k_printf("[net] dtls handshake failed: %s (alert %d)\n",
					 ktls_alert_text(ssl.in_msg[1]), ssl.in_msg[1]);
			else
				k_printf("[net] dtls handshake failed: error -0x%x%s\n", (unsigned)-r,
					 r == MBEDTLS_ERR_SSL_TIMEOUT ? " (no answer)" : "");
			udp_remove(pcb);
			teardown();
			return ND_TX_FAILED;
		}
		if (hal_time_ns() > deadline) {
			k_printf("[net] dtls handshake failed: no answer\n");
			udp_remove(pcb);
			teardown();
			return ND_TX_FAILED;
		}
		pump();
	}
	k_printf("[net] dtls: authenticated as %s (%s) in %lu us\n", meta->device,
		 mbedtls_ssl_get_ciphersuite(&ssl), (unsigned long)((hal_time_ns() - t0) / 1000));

	/* One message per record: the payload leaves room for the record's header,
	 * explicit nonce and tag inside the same datagram. */
	int exp = mbedtls_ssl_get_record_expansion(&ssl);
	cfg->payload = ND_DEFAULT_PAYLOAD - (uint32_t)(exp > 0 ? exp : 64);
	if (nd_tx_init(tx, cfg, meta, read, rctx) != ND_OK) {
		udp_remove(pcb);
		teardown();
		return ND_TX_FAILED;
	}
	cur_tx = tx;
	while (!nd_tx_done(tx)) {
		pump();
		deliver();
		for (int i = 0; i < BURST; i++) {
			size_t len = nd_tx_poll(tx, hal_time_ns() / 1000, msg, sizeof(msg));
			if (len == 0)
				break;
			(void)mbedtls_ssl_write(&ssl, msg, len);
		}
	}
	(void)mbedtls_ssl_close_notify(&ssl);
	udp_remove(pcb);
	teardown();
	return nd_tx_state(tx);
}

void ktls_ram(unsigned long *pool_bytes, unsigned long *peak)
{
	size_t top = sizeof(pool);

	*pool_bytes = sizeof(pool);
	while (top > 0 && pool[top - 1] == 0xa5)
		top--;
	*peak = pool_ready ? top : 0;
}
