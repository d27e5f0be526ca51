/* kernel/net/virtio_net.c: virtio-net over virtio-mmio (legacy and version 2), receive by interrupt or polling. */
#include "kernel/kernel.h"
#include "kernel/virtio_mmio.h"
#include "kernel/net/virtio_net.h"

/*
 * The transport (slot scan, negotiation, queue setup on either version) is
 * kernel/virtio_mmio.c; this file is what a network device adds: a receive ring
 * posted once for good, a transmit ring whose buffers come back through the used
 * ring, the MAC address, interrupts.  Buffers are static, like the rings.  No
 * feature beyond the MAC address is negotiated: no checksum offload, no mergeable
 * buffers, so every frame fits one 1536-byte buffer.
 */
#define VIRTIO_NET_F_MAC 5

#define QSIZE   32                 /* descriptors per queue */
#define BUFSZ   1536               /* one 1514-byte frame plus the virtio-net header */
#define RXQ     0
#define TXQ     1

static struct vmmio_ring rings[2];
static uint8_t rxbuf[QSIZE][BUFSZ] __attribute__((aligned(64)));
static uint8_t txbuf[QSIZE][BUFSZ] __attribute__((aligned(64)));

static struct vmmio_dev dev;
static struct vmmio_queue rxq, txq;
static int present;
static uint32_t hdr_len;            /* 10 legacy, 12 with VERSION_1 */
static uint16_t tx_free[QSIZE];     /* transmit descriptors the device has given back */
static int ntx_free;
static uint8_t mac[6];
static struct vnet_stats stats;

static int start(void)
{
	if (vmmio_begin(&dev, 1u << VIRTIO_NET_F_MAC) != VMMIO_OK)
		return -1;
	hdr_len = dev.version == 2 ? 12 : 10;
	if (vmmio_queue_setup(&dev, &rxq, RXQ, &rings[RXQ], QSIZE) != VMMIO_OK ||
	    vmmio_queue_setup(&dev, &txq, TXQ, &rings[TXQ], QSIZE) != VMMIO_OK)
		return -1;
	if (dev.features & (1u << VIRTIO_NET_F_MAC)) {
		for (uint32_t i = 0; i < 6; i++)
			mac[i] = vmmio_config8(&dev, i);
	} else {
		static const uint8_t dflt[6] = { 0x52, 0x54, 0x00, 0xcc, 0x00, 0x01 };
		memcpy(mac, dflt, 6);
	}
	/* Every receive buffer is posted once, for good; the transmit ring interrupts never. */
	for (uint16_t i = 0; i < QSIZE; i++) {
		rxq.desc[i] = (struct vmmio_desc){ (uint64_t)rxbuf[i], BUFSZ, VIRTQ_DESC_F_WRITE, 0 };
		vmmio_avail_push(&rxq, i);
	}
	txq.avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	for (uint16_t i = 0; i < QSIZE; i++)
		tx_free[i] = i;
	ntx_free = QSIZE;
	vmmio_driver_ok(&dev);
	vmmio_notify(&rxq);
	return 0;
}

int vnet_init(void)
{
	for (int s = 0; (s = vmmio_find(&dev, VIRTIO_ID_NET, s)) >= 0; s++) {
		if (start() == 0) {
			present = 1;
			return 0;
		}
		vmmio_fail(&dev);
	}
	return -1;
}

int vnet_present(void) { return present; }
int vnet_irq(void) { return vmmio_irq(&dev); }
int vnet_version(void) { return dev.version; }
void vnet_mac(uint8_t out[6]) { memcpy(out, mac, 6); }

int vnet_rx_poll(vnet_rx_fn fn, void *ctx, int max)
{
	struct vmmio_used_elem e;
	int n = 0;
	if (!present)
		return 0;
	while (n < max && vmmio_used_next(&rxq, &e)) {
		if (e.id < QSIZE && e.len > hdr_len && e.len <= BUFSZ)
			fn(ctx, rxbuf[e.id] + hdr_len, e.len - hdr_len);
		/* The buffer goes straight back to the device in the slot it came from. */
		vmmio_avail_push(&rxq, (uint16_t)(e.id < QSIZE ? e.id : 0));
		n++;
	}
	if (n) {
		stats.rx_frames += (uint64_t)n;
		vmmio_notify(&rxq);
	}
	return n;
}

/*
 * Take back the descriptors the device has used; returns how many are free.  The
 * ids come from the used ring, so completion order does not matter; an id the
 * device returns twice or out of range is ignored rather than trusted.
 */
static int tx_reclaim(void)
{
	struct vmmio_used_elem e;
	while (vmmio_used_next(&txq, &e))
		if (e.id < QSIZE && ntx_free < QSIZE)
			tx_free[ntx_free++] = (uint16_t)e.id;
	return ntx_free;
}

uint8_t *vnet_tx_begin(void)
{
	if (!present)
		return 0;
	if (tx_reclaim() == 0) {
		/* The device works the ring on its own; wait for it (bounded: 1 s). */
		stats.tx_full_waits++;
		uint64_t until = hal_time_ns() + 1000000000UL;
		vmmio_notify(&txq);
		while (tx_reclaim() == 0)
			if (hal_time_ns() > until)
				return 0;
	}
	uint8_t *b = txbuf[tx_free[ntx_free - 1]];
	memset(b, 0, hdr_len);
	return b + hdr_len;
}

void vnet_tx_commit(uint32_t len)
{
	uint16_t slot = tx_free[--ntx_free];
	txq.desc[slot] = (struct vmmio_desc){ (uint64_t)txbuf[slot], hdr_len + len, 0, 0 };
	vmmio_avail_push(&txq, slot);
	/* A device already working the ring says so; sparing the notify spares a VM exit. */
	if (!vmmio_notify_suppressed(&txq))
		vmmio_notify(&txq);
	else
		stats.tx_notify_skipped++;
	stats.tx_frames++;
}

void vnet_irq_ack(void)
{
	if (!present)
		return;
	vmmio_irq_ack(&dev);
	stats.irqs++;
}

void vnet_stats(struct vnet_stats *st) { *st = stats; }

uint64_t vnet_ram_bytes(void)
{
	return sizeof(rings) + sizeof(rxbuf) + sizeof(txbuf);
}
