/* kernel/net/netif.h: the one lwIP interface of the kernel and its receive poll. */
#ifndef K_NET_NETIF_H
#define K_NET_NETIF_H
#include "lwip/netif.h"

extern struct netif k_netif;
err_t k_netif_add(const ip4_addr_t *ip, const ip4_addr_t *mask, const ip4_addr_t *gw);
/* Hand up to max received frames to lwIP; returns how many.  Caller owns lwIP. */
int k_netif_poll(int max);
#endif
