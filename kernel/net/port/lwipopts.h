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
 * router advertisements, neighbour discovery), DNS; TCP for tls:// only
 * (kernel/net/tls/ktls_tcp.c), with the small buffers below.
 */
#define LWIP_IPV4               1
#define LWIP_IPV6               1
#define LWIP_IPV6_DHCP6         0
#define LWIP_IPV6_FRAG          0   /* netdump packets are sized to the MTU */
#define LWIP_IPV6_REASS         0
#define LWIP_TCP                1
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
/* udp:// and dtls:// hold one DATA packet at a time (under 2 KiB); tls:// holds
 * TCP_SND_BUF of copied segments plus their pbuf headers (peak 11.6 KiB): 16 KiB
 * covers both. */
#define MEM_SIZE                (16 * 1024)
#define MEMP_NUM_PBUF           16
#define MEMP_NUM_UDP_PCB        4
#define PBUF_POOL_SIZE          16  /* frames are handed up one by one and consumed; headroom for reassembly */
#define PBUF_POOL_BUFSIZE       1536
#define MEMP_NUM_ARP_QUEUE      8

/*
 * TCP, sized for one outgoing stream of ~1.5 KB TLS records (one netdump message
 * each) and a trickle of small answers coming back (acks, the handshake):
 *  - TCP_MSS 1460: a full Ethernet frame; a record is one segment plus a sliver.
 *  - TCP_SND_BUF 8 MSS (11.4 KiB): the sender takes a message only when its whole
 *    record fits, so about seven records are in flight.  16 MiB cores over
 *    QEMU's user network, four runs each (medians): 4 MSS 6.2 MB/s, 8 MSS 8.5,
 *    16 MSS 8.4 (and a 32 KiB heap): 8 is the knee; past it the software
 *    AES-GCM, not the window, bounds the dump.  The copies live in the lwIP
 *    heap: peak 11.6 KiB of it during a dump (1.9 KiB over udp://).
 *  - TCP_WND 2 MSS: the collector sends acks (tens of bytes) and a handshake
 *    flight of ~100 bytes; the receive ring in ktls_tcp.c is exactly TCP_WND.
 *  - no out-of-order queue: nothing big ever comes in, and TCP retransmits.
 *  - 2 pcbs (one live connection, one finishing its close from an earlier
 *    attempt); lwIP reuses TIME_WAIT pcbs when it runs out.  1 listen pcb: the
 *    pool must not be empty, nothing listens.
 */
#define TCP_MSS                 1460
#define TCP_SND_BUF             (8 * TCP_MSS)
#define TCP_SND_QUEUELEN        24  /* a record may span two segments */
#define MEMP_NUM_TCP_SEG        TCP_SND_QUEUELEN
#define TCP_WND                 (2 * TCP_MSS)
#define TCP_QUEUE_OOSEQ         0
#define MEMP_NUM_TCP_PCB        2
#define MEMP_NUM_TCP_PCB_LISTEN 1
#define LWIP_TCP_KEEPALIVE      0
#define LWIP_TCP_TIMESTAMPS     0
#define LWIP_WND_SCALE          0

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
