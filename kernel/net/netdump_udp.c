/* kernel/net/netdump_udp.c: the crash dump over netdump on lwIP's raw UDP API, polled, with the endpoint policy. */
#include "kernel/proc.h"
#include "kernel/net/net.h"
#include "kernel/net/netif.h"
#include "kernel/net/virtio_net.h"
#include "kernel/net/tls/ktls.h"
#include "kernel/coredump/coredump.h"
#include "netdump/hex.h"
#include "netdump/tx.h"
#include "lwip/dns.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"

/*
 * Runs on the crashing thread's kernel stack while its process is frozen, and
 * never sleeps: it polls the NIC, runs lwIP's timers and drives the sender until
 * the collector has the core or the budget is spent.  The sender's read callback
 * is the core writer's range re-read, so retransmissions regenerate bytes from the
 * frozen process and no buffer the size of the core exists.  State is static
 * (the sender is ~34 KiB): dumps are serialized by the freeze code.
 */
static struct nd_tx tx;
static uint8_t rxmsg[2048];
static struct cw_writer *cur_writer;

#define PAYLOAD     ND_DEFAULT_PAYLOAD   /* IPv4 + UDP + DATA header fit a 1500-byte MTU */
#define MSG_CAP     (ND_DATA_HDR_LEN + PAYLOAD)
#define BURST       32                   /* packets sent between two receive polls */

static uint64_t now_us(void)
{
	return hal_time_ns() / 1000;
}

static void pump(void)
{
	k_netif_poll(64);
	sys_check_timeouts();
}

static int read_core(void *ctx, uint64_t off, void *buf, size_t len)
{
	return cw_read_range(ctx, off, buf, len) == CW_OK ? 0 : -1;
}

static void on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
		    u16_t port)
{
	(void)arg, (void)pcb, (void)addr, (void)port;
	/* The pcb is connected, so lwIP delivers only the collector's datagrams. */
	if (p->tot_len <= sizeof(rxmsg)) {
		pbuf_copy_partial(p, rxmsg, p->tot_len, 0);
		nd_tx_input(&tx, now_us(), rxmsg, p->tot_len);
	}
	pbuf_free(p);
}

/* A usable source address of the family: a DHCP lease, or a preferred SLAAC address. */
static int have_address(int v6)
{
	if (!v6)
		return !ip4_addr_isany_val(*netif_ip4_addr(&k_netif));
	for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++)
		if (ip6_addr_ispreferred(netif_ip6_addr_state(&k_netif, i)) &&
		    !ip6_addr_islinklocal(netif_ip6_addr(&k_netif, i)))
			return 1;
	return 0;
}

static int wait_address(int v6, uint64_t deadline)
{
	while (!have_address(v6)) {
		if (hal_time_ns() > deadline)
			return -1;
		pump();
	}
	return 0;
}

/*
 * One lookup at a time.  An answer may still arrive after we gave up (lwIP keeps
 * the query), so the state is static, not on the stack, and each lookup has a
 * generation number: a late answer to an earlier lookup is ignored.
 */
static struct {
	uint32_t gen;
	int done, ok;
	ip_addr_t addr;
} dw;

static void dns_found(const char *name, const ip_addr_t *addr, void *arg)
{
	(void)name;
	if ((uintptr_t)arg != dw.gen)
		return;
	dw.done = 1;
	if (addr) {
		dw.addr = *addr;
		dw.ok = 1;
	}
}

static int resolve(const char *host, ip_addr_t *out, uint64_t deadline)
{
	if (ipaddr_aton(host, out))
		return 0;
	dw.gen++;
	dw.done = dw.ok = 0;
	err_t e = dns_gethostbyname(host, out, dns_found, (void *)(uintptr_t)dw.gen);
	if (e == ERR_OK)
		return 0;
	if (e != ERR_INPROGRESS)
		return -1;
	while (!dw.done && hal_time_ns() < deadline)
		pump();
	if (!dw.done || !dw.ok)
		return -1;
	*out = dw.addr;
	return 0;
}

/* One transfer to one collector; returns the sender's final state. */
static enum nd_tx_state attempt(const struct nd_meta *meta, const ip_addr_t *addr, uint16_t port)
{
	struct nd_tx_cfg cfg;
	nd_tx_cfg_default(&cfg);
	if (net_args.window)
		cfg.window = net_args.window;
	cfg.payload = PAYLOAD;
	cfg.give_up_us = (uint64_t)net_args.timeout_s * 1000000UL;
	cfg.nonce = ((uint64_t)k_net_rand() << 32) ^ k_net_rand() ^ hal_time_ns();
	if (nd_tx_init(&tx, &cfg, meta, read_core, cur_writer) != ND_OK)
		return ND_TX_FAILED;
	struct udp_pcb *pcb = udp_new_ip_type(IPADDR_TYPE_ANY);
	if (!pcb)
		return ND_TX_FAILED;
	if (udp_bind(pcb, IP_ANY_TYPE, 0) != ERR_OK || udp_connect(pcb, addr, port) != ERR_OK) {
		udp_remove(pcb);
		return ND_TX_FAILED;
	}
	udp_recv(pcb, on_recv, 0);
	while (!nd_tx_done(&tx)) {
		pump();
		for (int i = 0; i < BURST; i++) {
			struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, MSG_CAP, PBUF_RAM);
			if (!p)
				break;
			size_t len = nd_tx_poll(&tx, now_us(), p->payload, MSG_CAP);
			if (len == 0) {
				pbuf_free(p);
				break;
			}
			pbuf_realloc(p, (u16_t)len);
			udp_send(pcb, p);   /* a failed send is a lost packet: the sender recovers */
			pbuf_free(p);
		}
	}
	udp_remove(pcb);
	return nd_tx_state(&tx);
}

/* The same over DTLS (kernel/net/tls/ktls.c): records instead of datagrams; or over
 * TLS on TCP (ktls_tcp.c): length-prefixed messages in one record stream. */
static enum nd_tx_state attempt_secure(const struct nd_meta *meta, const ip_addr_t *addr,
				       uint16_t port, int tls)
{
	struct nd_tx_cfg cfg;
	nd_tx_cfg_default(&cfg);
	if (net_args.window)
		cfg.window = net_args.window;
	cfg.give_up_us = (uint64_t)net_args.timeout_s * 1000000UL;
	cfg.nonce = ((uint64_t)k_net_rand() << 32) ^ k_net_rand() ^ hal_time_ns();
	if (tls)
		return ktls_tcp_attempt(&tx, &cfg, meta, read_core, cur_writer, addr, port,
					net_args.psk, net_args.psk_len);
	return ktls_attempt(&tx, &cfg, meta, read_core, cur_writer, addr, port, net_args.psk,
			    net_args.psk_len);
}

static void report_ram(const char *scheme)
{
	struct vnet_stats vs;
	vnet_stats(&vs);
	k_printf("[net] nic: irqs=%lu rx=%lu tx=%lu tx_full_waits=%lu tx_notify_skipped=%lu\n",
		 (unsigned long)vs.irqs, (unsigned long)vs.rx_frames, (unsigned long)vs.tx_frames,
		 (unsigned long)vs.tx_full_waits, (unsigned long)vs.tx_notify_skipped);
	k_printf("[net] ram: lwip heap max=%u of %u, pbuf pool max=%u of %u, udp pcbs max=%u; "
		 "driver %lu, sender %lu (static)\n",
		 (unsigned)lwip_stats.mem.max, (unsigned)lwip_stats.mem.avail,
		 (unsigned)lwip_stats.memp[MEMP_PBUF_POOL]->max,
		 (unsigned)lwip_stats.memp[MEMP_PBUF_POOL]->avail,
		 (unsigned)lwip_stats.memp[MEMP_UDP_PCB]->max,
		 vnet_ram_bytes(), (unsigned long)(sizeof(tx) + sizeof(rxmsg)));
	if (lwip_stats.memp[MEMP_TCP_PCB]->max)
		k_printf("[net] ram: tcp pcbs max=%u of %u, segments max=%u of %u\n",
			 (unsigned)lwip_stats.memp[MEMP_TCP_PCB]->max,
			 (unsigned)lwip_stats.memp[MEMP_TCP_PCB]->avail,
			 (unsigned)lwip_stats.memp[MEMP_TCP_SEG]->max,
			 (unsigned)lwip_stats.memp[MEMP_TCP_SEG]->avail);
	unsigned long tls_pool, tls_peak;
	ktls_ram(&tls_pool, &tls_peak);
	if (tls_peak)
		k_printf("[net] ram: %s pool high-water=%lu of %lu (static)\n",
			 strcmp(scheme, "udp") ? scheme : "dtls", tls_peak, tls_pool);
}

int net_dump(struct cw_writer *w, uint8_t sha256[32])
{
	struct nd_meta meta;
	if (net_args.nendpoints == 0 || cw_meta(w, &meta) != CW_OK)
		return -1;
	cur_writer = w;
	for (int i = 0; i < net_args.nendpoints; i++) {
		const struct net_endpoint *ep = &net_args.ep[i];
		if (ep->serial)
			return -1;
		char name[NET_HOST_MAX + 16];
		int v6 = 0;
		for (const char *c = ep->host; *c; c++)
			v6 |= *c == ':';
		k_snprintf(name, sizeof(name), v6 ? "%s://[%s]:%u" : "%s://%s:%u",
			   ep->dtls ? "dtls" : ep->tls ? "tls" : "udp", ep->host, ep->port);
		if (!net_is_up()) {
			k_printf("[net] %s: no network\n", name);
			continue;
		}
		uint64_t budget_ns = (uint64_t)net_args.timeout_s * 1000000000UL;
		ip_addr_t addr;
		/* A name is looked up over IPv4 (the DHCP lease names the server). */
		if (wait_address(v6, hal_time_ns() + budget_ns) != 0) {
			k_printf("[net] %s: no %s address\n", name, v6 ? "IPv6" : "IPv4");
			continue;
		}
		if (resolve(ep->host, &addr, hal_time_ns() + budget_ns) != 0) {
			k_printf("[net] %s: cannot resolve the name\n", name);
			continue;
		}
		if (IP_IS_V6(&addr) && wait_address(1, hal_time_ns() + budget_ns) != 0) {
			k_printf("[net] %s: no IPv6 address\n", name);
			continue;
		}
		for (uint32_t a = 0; a <= net_args.retries; a++) {
			uint64_t t0 = hal_time_ns();
			enum nd_tx_state st = ep->dtls || ep->tls
				? attempt_secure(&meta, &addr, ep->port, ep->tls)
				: attempt(&meta, &addr, ep->port);
			uint64_t us = (hal_time_ns() - t0) / 1000 + 1;
			struct nd_tx_stats s;
			nd_tx_stats(&tx, &s);
			/* A carrier that failed (reset, handshake) has said why already; the
			 * sender's own reason is printed only when it has one. */
			int why = st == ND_TX_FAILED && nd_tx_failure(&tx) != ND_TX_FAIL_NONE;
			k_printf("[net] core pid=%u to %s attempt %u: %s%s%s size=%lu us=%lu "
				 "kBps=%lu window=%u sent=%lu retransmits=%lu opens=%lu resume=%lu\n",
				 meta.pid, name, a + 1, nd_tx_state_str(st), why ? " " : "",
				 why ? nd_tx_failure_str(nd_tx_failure(&tx)) : "",
				 (unsigned long)meta.core_size, (unsigned long)us,
				 (unsigned long)(meta.core_size * 1000 / us), s.window,
				 (unsigned long)s.packets_sent, (unsigned long)s.retransmits,
				 (unsigned long)s.opens, (unsigned long)s.resume);
			if (st == ND_TX_DONE_STORED) {
				memcpy(sha256, nd_tx_digest(&tx), 32);
				char hex[65];
				nd_hex(sha256, 32, hex);
				k_printf("[net] core pid=%u stored by %s sha256=%s\n", meta.pid, name, hex);
				report_ram(ep->dtls ? "dtls" : ep->tls ? "tls" : "udp");
				return 0;
			}
		}
	}
	return -1;
}
