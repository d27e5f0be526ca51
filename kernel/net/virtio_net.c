/* kernel/net/virtio_net.c: virtio-net over virtio-mmio (legacy and version 2), receive by interrupt or polling. */
#include "kernel/kernel.h"
#include "kernel/net/virtio_net.h"

/*
 * QEMU virt places eight virtio-mmio transports at fixed addresses, interrupts
 * 1..8 on the PLIC; the board is fixed, so they are scanned rather than read from
 * the device tree.  Both the legacy transport (QEMU's default, version 1) and the
 * version 2 transport (-global virtio-mmio.force-legacy=false) are driven.
 *
 * Rings and buffers are static: the kernel maps RAM one to one, so a static
 * object's address is its physical address, and a crash dump must not depend on
 * allocating memory.  No feature beyond the MAC address is negotiated: no
 * checksum offload, no mergeable buffers, so every frame fits one 1536-byte buffer.
 */
#define VIRTIO_MMIO_BASE   0x10001000UL
#define VIRTIO_MMIO_STRIDE 0x1000UL
#define VIRTIO_MMIO_SLOTS  8
#define VIRTIO_MMIO_IRQ0   1

enum {
	R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008, R_DEV_FEATURES = 0x010,
	R_DEV_FEATURES_SEL = 0x014, R_DRV_FEATURES = 0x020, R_DRV_FEATURES_SEL = 0x024,
	R_GUEST_PAGE_SIZE = 0x028, R_QUEUE_SEL = 0x030, R_QUEUE_NUM_MAX = 0x034,
	R_QUEUE_NUM = 0x038, R_QUEUE_ALIGN = 0x03c, R_QUEUE_PFN = 0x040, R_QUEUE_READY = 0x044,
	R_QUEUE_NOTIFY = 0x050, R_INT_STATUS = 0x060, R_INT_ACK = 0x064, R_STATUS = 0x070,
	R_QUEUE_DESC_LO = 0x080, R_QUEUE_DESC_HI = 0x084, R_QUEUE_AVAIL_LO = 0x090,
	R_QUEUE_AVAIL_HI = 0x094, R_QUEUE_USED_LO = 0x0a0, R_QUEUE_USED_HI = 0x0a4,
	R_CONFIG = 0x100,
};
enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8, S_FAILED = 128 };
#define VIRTIO_NET_F_MAC   5
#define VIRTIO_F_VERSION_1 32
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

#define QSIZE   32                 /* descriptors per queue */
#define BUFSZ   1536               /* one 1514-byte frame plus the virtio-net header */
#define RXQ     0
#define TXQ     1

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};
struct vq_avail {
	uint16_t flags, idx, ring[QSIZE], used_event;
};
struct vq_used_elem {
	uint32_t id, len;
};
struct vq_used {
	uint16_t flags, idx;
	struct vq_used_elem ring[QSIZE];
	uint16_t avail_event;
};

/* The legacy layout: descriptors and the avail ring in one page, the used ring page aligned after. */
struct vq {
	struct vq_desc desc[QSIZE];
	struct vq_avail avail;
	uint8_t pad[4096 - sizeof(struct vq_desc) * QSIZE - sizeof(struct vq_avail)];
	struct vq_used used;
} __attribute__((aligned(4096)));

static struct vq vqs[2];
static uint8_t rxbuf[QSIZE][BUFSZ] __attribute__((aligned(64)));
static uint8_t txbuf[QSIZE][BUFSZ] __attribute__((aligned(64)));

static volatile uint8_t *regs;
static int version, irq_no;
static uint32_t hdr_len;            /* 10 legacy, 12 with VERSION_1 */
static uint16_t rx_seen, tx_seen;   /* used-ring positions consumed */
static uint16_t tx_free[QSIZE];     /* transmit descriptors the device has given back */
static int ntx_free;
static uint8_t mac[6];
static struct vnet_stats stats;

static uint32_t rd(uint32_t off) { return *(volatile uint32_t *)(regs + off); }
static void wr(uint32_t off, uint32_t v) { *(volatile uint32_t *)(regs + off) = v; }
static void fence(void) { __sync_synchronize(); }

static uint16_t used_idx(const struct vq *q)
{
	return *(volatile const uint16_t *)&q->used.idx;
}

static int setup_queue(int n)
{
	struct vq *q = &vqs[n];
	wr(R_QUEUE_SEL, (uint32_t)n);
	if (rd(R_QUEUE_NUM_MAX) < QSIZE)
		return -1;
	wr(R_QUEUE_NUM, QSIZE);
	uint64_t pa = (uint64_t)q;
	if (version == 1) {
		wr(R_QUEUE_ALIGN, 4096);
		wr(R_QUEUE_PFN, (uint32_t)(pa >> 12));
	} else {
		uint64_t av = (uint64_t)&q->avail, us = (uint64_t)&q->used;
		wr(R_QUEUE_DESC_LO, (uint32_t)pa);
		wr(R_QUEUE_DESC_HI, (uint32_t)(pa >> 32));
		wr(R_QUEUE_AVAIL_LO, (uint32_t)av);
		wr(R_QUEUE_AVAIL_HI, (uint32_t)(av >> 32));
		wr(R_QUEUE_USED_LO, (uint32_t)us);
		wr(R_QUEUE_USED_HI, (uint32_t)(us >> 32));
		wr(R_QUEUE_READY, 1);
	}
	return 0;
}

static int start(void)
{
	wr(R_STATUS, 0);
	wr(R_STATUS, S_ACK);
	wr(R_STATUS, S_ACK | S_DRIVER);
	wr(R_DEV_FEATURES_SEL, 0);
	uint32_t f0 = rd(R_DEV_FEATURES);
	wr(R_DRV_FEATURES_SEL, 0);
	wr(R_DRV_FEATURES, f0 & (1u << VIRTIO_NET_F_MAC));
	if (version == 2) {
		wr(R_DEV_FEATURES_SEL, 1);
		if (!(rd(R_DEV_FEATURES) & (1u << (VIRTIO_F_VERSION_1 - 32))))
			return -1;
		wr(R_DRV_FEATURES_SEL, 1);
		wr(R_DRV_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
		wr(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
		if (!(rd(R_STATUS) & S_FEATURES_OK))
			return -1;
		hdr_len = 12;
	} else {
		wr(R_GUEST_PAGE_SIZE, 4096);
		hdr_len = 10;
	}
	memset(vqs, 0, sizeof(vqs));
	if (setup_queue(RXQ) || setup_queue(TXQ))
		return -1;
	if (f0 & (1u << VIRTIO_NET_F_MAC)) {
		for (int i = 0; i < 6; i++)
			mac[i] = regs[R_CONFIG + i];
	} else {
		static const uint8_t dflt[6] = { 0x52, 0x54, 0x00, 0xcc, 0x00, 0x01 };
		memcpy(mac, dflt, 6);
	}
	/* Every receive buffer is posted once, for good; the transmit ring interrupts never. */
	struct vq *rx = &vqs[RXQ];
	for (uint16_t i = 0; i < QSIZE; i++) {
		rx->desc[i] = (struct vq_desc){ (uint64_t)rxbuf[i], BUFSZ, VIRTQ_DESC_F_WRITE, 0 };
		rx->avail.ring[i] = i;
	}
	fence();
	rx->avail.idx = QSIZE;
	vqs[TXQ].avail.flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	for (uint16_t i = 0; i < QSIZE; i++)
		tx_free[i] = i;
	ntx_free = QSIZE;
	wr(R_STATUS, rd(R_STATUS) | S_DRIVER_OK);
	fence();
	wr(R_QUEUE_NOTIFY, RXQ);
	return 0;
}

int vnet_init(void)
{
	for (int s = 0; s < VIRTIO_MMIO_SLOTS; s++) {
		regs = (volatile uint8_t *)(VIRTIO_MMIO_BASE + s * VIRTIO_MMIO_STRIDE);
		version = (int)rd(R_VERSION);
		if (rd(R_MAGIC) != 0x74726976 || rd(R_DEVICE_ID) != 1 || (version != 1 && version != 2))
			continue;
		irq_no = VIRTIO_MMIO_IRQ0 + s;
		if (start() == 0)
			return 0;
		wr(R_STATUS, S_FAILED);
	}
	regs = 0;
	return -1;
}

int vnet_present(void) { return regs != 0; }
int vnet_irq(void) { return irq_no; }
int vnet_version(void) { return version; }
void vnet_mac(uint8_t out[6]) { memcpy(out, mac, 6); }

int vnet_rx_poll(vnet_rx_fn fn, void *ctx, int max)
{
	struct vq *rx = &vqs[RXQ];
	int n = 0;
	if (!regs)
		return 0;
	while (n < max && rx_seen != used_idx(rx)) {
		fence();
		struct vq_used_elem e = rx->used.ring[rx_seen % QSIZE];
		if (e.id < QSIZE && e.len > hdr_len && e.len <= BUFSZ)
			fn(ctx, rxbuf[e.id] + hdr_len, e.len - hdr_len);
		/* The buffer goes straight back to the device in the slot it came from. */
		rx->avail.ring[rx->avail.idx % QSIZE] = (uint16_t)(e.id < QSIZE ? e.id : 0);
		fence();
		rx->avail.idx++;
		rx_seen++;
		n++;
	}
	if (n) {
		stats.rx_frames += (uint64_t)n;
		fence();
		wr(R_QUEUE_NOTIFY, RXQ);
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
	struct vq *tx = &vqs[TXQ];
	uint16_t u = used_idx(tx);
	fence();
	while (tx_seen != u) {
		uint32_t id = tx->used.ring[tx_seen % QSIZE].id;
		if (id < QSIZE && ntx_free < QSIZE)
			tx_free[ntx_free++] = (uint16_t)id;
		tx_seen++;
	}
	return ntx_free;
}

uint8_t *vnet_tx_begin(void)
{
	if (!regs)
		return 0;
	if (tx_reclaim() == 0) {
		/* The device works the ring on its own; wait for it (bounded: 1 s). */
		stats.tx_full_waits++;
		uint64_t until = hal_time_ns() + 1000000000UL;
		wr(R_QUEUE_NOTIFY, TXQ);
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
	struct vq *tx = &vqs[TXQ];
	uint16_t slot = tx_free[--ntx_free];
	tx->desc[slot] = (struct vq_desc){ (uint64_t)txbuf[slot], hdr_len + len, 0, 0 };
	tx->avail.ring[tx->avail.idx % QSIZE] = slot;
	fence();
	tx->avail.idx++;
	fence();
	/* A device already working the ring says so; sparing the notify spares a VM exit. */
	if (!(*(volatile uint16_t *)&tx->used.flags & VIRTQ_USED_F_NO_NOTIFY))
		wr(R_QUEUE_NOTIFY, TXQ);
	else
		stats.tx_notify_skipped++;
	stats.tx_frames++;
}

void vnet_irq_ack(void)
{
	if (!regs)
		return;
	uint32_t st = rd(R_INT_STATUS);
	wr(R_INT_ACK, st);
	stats.irqs++;
}

void vnet_stats(struct vnet_stats *st) { *st = stats; }

uint64_t vnet_ram_bytes(void)
{
	return sizeof(vqs) + sizeof(rxbuf) + sizeof(txbuf);
}
