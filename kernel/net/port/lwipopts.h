/* kernel/net/port/lwipopts.h: the lwIP configuration of the corecast kernel (every choice differing from opt.h). */
#ifndef K_NET_LWIPOPTS_H
#define K_NET_LWIPOPTS_H

/*
 * NO_SYS = 1, driven by one network kernel thread, rather than sys_arch with the
 * tcpip thread.  Why:
 *  - The kernel runs on one hart, never takes an interrupt in kernel mode and never
 *    preempts kernel code: a kernel thread runs until it sleeps.  So lwIP is only
 *    ever entered by one flow at a time without any lock: the network thread
 *    (receive, DHCP, ARP and DNS timers), or the dump path.
 *  - The dump path must not depend on scheduling: it runs on the crashing thread's
 *    kernel stack and polls the NIC itself.  With sys_arch every packet would be a
 *    mailbox hop to a tcpip thread that cannot run while the dump holds the hart.
 *  - Nothing above needs sockets or netconns (no user-space networking), so the
 *    sequential API's semaphores, mailboxes and thread stacks would be pure cost.
 */
#define NO_SYS                  1
#define LWIP_TIMERS             1
#define SYS_LIGHTWEIGHT_PROT    0   /* no interrupt handler touches lwIP */
#define LWIP_NETCONN            0
#define LWIP_SOCKET             0

/*
 * Protocols: UDP over IPv4 (DHCP, ARP) and IPv6 (stateless autoconfiguration from
 * router advertisements, neighbour discovery), DNS.  No TCP: netdump is UDP.
 */
#define LWIP_IPV4               1
#define LWIP_IPV6               1
#define LWIP_IPV6_DHCP6         0
#define LWIP_IPV6_FRAG          0   /* netdump packets are sized to the MTU */
#define LWIP_IPV6_REASS         0
#define LWIP_TCP                0
#define LWIP_UDP                1
#define LWIP_RAW                0
#define LWIP_ICMP               1
#define LWIP_DHCP               1
#define DHCP_DOES_ARP_CHECK     0   /* a crash dump should not wait a second for ARP probes */
#define LWIP_DNS                1
#define DNS_MAX_SERVERS         2
#define LWIP_ARP                1
#define ARP_QUEUEING            1
#define LWIP_SINGLE_NETIF       1
#define LWIP_NETIF_STATUS_CALLBACK 1
#define IP_REASSEMBLY           1   /* a large DNS answer may arrive fragmented */
#define IP_FRAG                 0   /* netdump packets are sized to the MTU */

/* Memory: a static heap for outgoing packets, pools for incoming ones. */
#define MEM_ALIGNMENT           8
#define MEM_SIZE                (16 * 1024) /* a dump holds one DATA packet at a time */
#define MEMP_NUM_PBUF           16
#define MEMP_NUM_UDP_PCB        4
#define PBUF_POOL_SIZE          16  /* frames are handed up one by one and consumed; headroom for reassembly */
#define PBUF_POOL_BUFSIZE       1536
#define MEMP_NUM_ARP_QUEUE      8

/* Checksums in software (the virtio offloads are not negotiated). */
#define LWIP_CHECKSUM_ON_COPY   0

/* Statistics stay on: bench-kernel-net reports the pools' high-water marks. */
#define LWIP_STATS              1
#define LWIP_STATS_DISPLAY      0
#define MEM_STATS               1
#define MEMP_STATS              1
#define LINK_STATS              1
#define SYS_STATS               0

#define LWIP_DEBUG              0
#endif
