/* kernel/net/netif.c: the lwIP network interface over the virtio-net driver (frames in and out). */
#include "kernel/kernel.h"
#include "kernel/net/netif.h"
#include "kernel/net/virtio_net.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

struct netif k_netif;

static err_t linkoutput(struct netif *nif, struct pbuf *p)
{
	(void)nif;
	if (p->tot_len > VNET_FRAME_MAX)
		return ERR_BUF;
	uint8_t *b = vnet_tx_begin();
	if (!b)
		return ERR_IF;
	pbuf_copy_partial(p, b, p->tot_len, 0);
	vnet_tx_commit(p->tot_len);
	return ERR_OK;
}

static err_t nif_init(struct netif *nif)
{
	nif->name[0] = 'v';
	nif->name[1] = 'n';
	nif->mtu = 1500;
	nif->hwaddr_len = 6;
	vnet_mac(nif->hwaddr);
	/* No receive filter is negotiated: QEMU's virtio-net delivers all multicast. */
	nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET |
		     NETIF_FLAG_LINK_UP | NETIF_FLAG_MLD6;
	nif->output = etharp_output;
	nif->output_ip6 = ethip6_output;
	nif->linkoutput = linkoutput;
	return ERR_OK;
}

err_t k_netif_add(const ip4_addr_t *ip, const ip4_addr_t *mask, const ip4_addr_t *gw)
{
	if (!netif_add(&k_netif, ip, mask, gw, 0, nif_init, ethernet_input))
		return ERR_IF;
	netif_set_default(&k_netif);
	netif_create_ip6_linklocal_address(&k_netif, 1);
	k_netif.ip6_autoconfig_enabled = 1; /* (the setter macro tests its pointer for NULL) */
	netif_set_up(&k_netif);
	return ERR_OK;
}

static void rx_frame(void *ctx, const uint8_t *frame, uint32_t len)
{
	(void)ctx;
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
	if (!p)
		return; /* pool exhausted: dropped, as a busy NIC would */
	pbuf_take(p, frame, (u16_t)len);
	if (k_netif.input(p, &k_netif) != ERR_OK)
		pbuf_free(p);
}

int k_netif_poll(int max)
{
	return vnet_rx_poll(rx_frame, 0, max);
}
