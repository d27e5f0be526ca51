/* kernel/net/net.c: network bring-up (virtio-net, lwIP, DHCP or static address) and the network thread. */
#include "kernel/proc.h"
#include "kernel/net/net.h"
#include "kernel/net/netif.h"
#include "kernel/net/virtio_net.h"
#include "hal/riscv64/plic.h"
#include "lwip/dhcp.h"
#include "lwip/dns.h"
#include "lwip/init.h"
#include "lwip/timeouts.h"

/*
 * The network thread owns lwIP between crashes: it hands received frames to the
 * stack and runs lwIP's timers (DHCP, ARP, DNS), sleeping in between.  The NIC's
 * interrupt wakes it (hal/riscv64/plic.h says where interrupts are delivered);
 * the timer tick wakes it for lwIP's next timeout.  The dump path (netdump_udp.c)
 * uses lwIP directly and polls the NIC itself: the network thread is then asleep,
 * and kernel code is never preempted, so the two never run lwIP at the same time.
 */
static char net_chan;   /* the network thread sleeps here */
static int net_up;

static void net_irq(void *arg)
{
	(void)arg;
	vnet_irq_ack();
	k_wakeup(&net_chan);
}

static void ip4_from(ip4_addr_t *a, const uint8_t b[4])
{
	IP4_ADDR(a, b[0], b[1], b[2], b[3]);
}

static void status_cb(struct netif *nif)
{
	const uint8_t *a = (const uint8_t *)netif_ip4_addr(nif);
	/* A DHCP lease brings its own name servers; corecast.dns= still comes first. */
	if (net_args.have_dns) {
		ip_addr_t d;
		ip4_from(ip_2_ip4(&d), net_args.dns);
		IP_SET_TYPE_VAL(d, IPADDR_TYPE_V4);
		dns_setserver(0, &d);
	}
	/* Called for every address change; each new address is logged once. */
	static uint32_t shown4;
	static ip6_addr_t shown6[LWIP_IPV6_NUM_ADDRESSES];
	uint32_t v4 = ip4_addr_get_u32(netif_ip4_addr(nif));
	if (v4 && v4 != shown4)
		k_printf("[net] address %u.%u.%u.%u%s\n", a[0], a[1], a[2], a[3],
			 net_args.have_ip ? " (static)" : " (dhcp)");
	shown4 = v4;
	for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++) {
		const ip6_addr_t *x = netif_ip6_addr(nif, i);
		if (!ip6_addr_isvalid(netif_ip6_addr_state(nif, i)) || ip6_addr_cmp(x, &shown6[i]))
			continue;
		shown6[i] = *x;
		char buf[IP6ADDR_STRLEN_MAX];
		k_printf("[net] address %s (%s)\n", ip6addr_ntoa_r(x, buf, sizeof(buf)),
			 ip6_addr_islinklocal(x) ? "link-local" : "slaac");
	}
}

static void net_thread(void)
{
	for (;;) {
		/* A bounded batch: a flood of frames must not keep the hart from others. */
		int n, total = 0;
		while (total < 256 && (n = k_netif_poll(16)) > 0)
			total += n;
		sys_check_timeouts();
		if (total >= 256) {
			sched_yield();
			continue;
		}
		uint32_t ms = sys_timeouts_sleeptime();
		if (ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE || ms > 1000)
			ms = 1000;
		k_cur->wake_at = hal_time_ns() + (uint64_t)(ms ? ms : 1) * 1000000UL;
		k_sleep(&net_chan, 0);
	}
}


void net_init(void)
{
	if (vnet_init() != 0) {
		if (net_args.nendpoints)
			k_printf("[net] no virtio-net device: dumps go to the console\n");
		return;
	}
	uint8_t mac[6];
	vnet_mac(mac);
	/* A device id that is stable per board and unique in a fleet: the MAC address. */
	if (!net_args.device_given)
		k_snprintf(k_args.device, sizeof(k_args.device), "cc-%02x%02x%02x%02x%02x%02x",
			   mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	lwip_init();
	ip4_addr_t ip, mask, gw;
	ip4_addr_set_zero(&ip);
	ip4_addr_set_zero(&mask);
	ip4_addr_set_zero(&gw);
	if (net_args.have_ip) {
		ip4_from(&ip, net_args.ip);
		if (net_args.have_netmask)
			ip4_from(&mask, net_args.netmask);
		else
			IP4_ADDR(&mask, 255, 255, 255, 0);
		if (net_args.have_gw)
			ip4_from(&gw, net_args.gw);
	}
	if (k_netif_add(&ip, &mask, &gw) != ERR_OK) {
		k_printf("[net] cannot add the interface\n");
		return;
	}
	netif_set_status_callback(&k_netif, status_cb);
	if (net_args.have_ip)
		status_cb(&k_netif);
	else
		dhcp_start(&k_netif);
	hal_irq_enable(vnet_irq(), net_irq, 0);
	kthread_create(net_thread, K_PRIO_MAX);
	net_up = 1;
	k_printf("[net] virtio-net (virtio-mmio v%d) %02x:%02x:%02x:%02x:%02x:%02x irq %d device %s, %s\n",
		 vnet_version(), mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], vnet_irq(), k_args.device,
		 net_args.have_ip ? "static address" : "dhcp");
}

int net_is_up(void)
{
	return net_up;
}
