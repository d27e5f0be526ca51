/* kernel/net/tls/virtio_rng.c: virtio-rng (entropy device) over virtio-mmio, polled — the seed of the kernel's DTLS. */
#include "kernel/kernel.h"
#include "kernel/net/tls/ktls.h"

/*
 * QEMU: -device virtio-rng-device (its backend reads the host's /dev/urandom).
 * One request queue; a read posts one device-writable buffer and polls the used
 * ring.  Used only while a handshake seeds its generator, so no interrupt.
 * Legacy (version 1) and version 2 transports, as kernel/net/virtio_net.c.
 */
#define VIRTIO_MMIO_BASE   0x10001000UL
#define VIRTIO_MMIO_STRIDE 0x1000UL
#define VIRTIO_MMIO_SLOTS  8
#define VIRTIO_ID_RNG      4

enum {
	R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008, R_DEV_FEATURES = 0x010,
	R_DEV_FEATURES_SEL = 0x014, R_DRV_FEATURES = 0x020, R_DRV_FEATURES_SEL = 0x024,
	R_GUEST_PAGE_SIZE = 0x028, R_QUEUE_SEL = 0x030, R_QUEUE_NUM_MAX = 0x034,
	R_QUEUE_NUM = 0x038, R_QUEUE_ALIGN = 0x03c, R_QUEUE_PFN = 0x040, R_QUEUE_READY = 0x044,
	R_QUEUE_NOTIFY = 0x050, R_INT_STATUS = 0x060, R_INT_ACK = 0x064, R_STATUS = 0x070,
	R_QUEUE_DESC_LO = 0x080, R_QUEUE_DESC_HI = 0x084, R_QUEUE_AVAIL_LO = 0x090,
	R_QUEUE_AVAIL_HI = 0x094, R_QUEUE_USED_LO = 0x0a0, R_QUEUE_USED_HI = 0x0a4,
};
enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8 };
#define VIRTIO_F_VERSION_1 32
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define QSIZE 4

struct vq_desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct vq_avail { uint16_t flags, idx, ring[QSIZE], used_event; };
struct vq_used_elem { uint32_t id, len; };
struct vq_used { uint16_t flags, idx; struct vq_used_elem ring[QSIZE]; uint16_t avail_event; };
struct vq {
	struct vq_desc desc[QSIZE];
	struct vq_avail avail;
	uint8_t pad[4096 - sizeof(struct vq_desc) * QSIZE - sizeof(struct vq_avail)];
	struct vq_used used;
} __attribute__((aligned(4096)));

static struct vq q;
static uint8_t buf[64] __attribute__((aligned(64)));
static volatile uint8_t *regs;
static int state;                   /* 0 not probed, 1 working, -1 none */
static uint16_t seen;

static uint32_t rd(uint32_t off) { return *(volatile uint32_t *)(regs + off); }
static void wr(uint32_t off, uint32_t v) { *(volatile uint32_t *)(regs + off) = v; }

static int start(int version)
{
	wr(R_STATUS, 0);
	wr(R_STATUS, S_ACK);
	wr(R_STATUS, S_ACK | S_DRIVER);
	wr(R_DRV_FEATURES_SEL, 0);
	wr(R_DRV_FEATURES, 0);
	if (version == 2) {
		wr(R_DEV_FEATURES_SEL, 1);
		if (!(rd(R_DEV_FEATURES) & (1u << (VIRTIO_F_VERSION_1 - 32))))
			return -1;
		wr(R_DRV_FEATURES_SEL, 1);
		wr(R_DRV_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
		wr(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
		if (!(rd(R_STATUS) & S_FEATURES_OK))
			return -1;
	} else {
		wr(R_GUEST_PAGE_SIZE, 4096);
	}
	memset(&q, 0, sizeof(q));
	wr(R_QUEUE_SEL, 0);
	if (rd(R_QUEUE_NUM_MAX) < QSIZE)
		return -1;
	wr(R_QUEUE_NUM, QSIZE);
	uint64_t pa = (uint64_t)&q;
	if (version == 1) {
		wr(R_QUEUE_ALIGN, 4096);
		wr(R_QUEUE_PFN, (uint32_t)(pa >> 12));
	} else {
		uint64_t av = (uint64_t)&q.avail, us = (uint64_t)&q.used;
		wr(R_QUEUE_DESC_LO, (uint32_t)pa);
		wr(R_QUEUE_DESC_HI, (uint32_t)(pa >> 32));
		wr(R_QUEUE_AVAIL_LO, (uint32_t)av);
		wr(R_QUEUE_AVAIL_HI, (uint32_t)(av >> 32));
		wr(R_QUEUE_USED_LO, (uint32_t)us);
		wr(R_QUEUE_USED_HI, (uint32_t)(us >> 32));
		wr(R_QUEUE_READY, 1);
	}
	q.avail.flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	wr(R_STATUS, rd(R_STATUS) | S_DRIVER_OK);
	return 0;
}

static int probe(void)
{
	for (int s = 0; s < VIRTIO_MMIO_SLOTS; s++) {
		regs = (volatile uint8_t *)(VIRTIO_MMIO_BASE + s * VIRTIO_MMIO_STRIDE);
		if (rd(R_MAGIC) != 0x74726976 || rd(R_DEVICE_ID) != VIRTIO_ID_RNG)
			continue;
		int v = (int)rd(R_VERSION);
		if ((v == 1 || v == 2) && start(v) == 0)
			return 1;
	}
	regs = 0;
	return -1;
}

long vrng_read(void *out, size_t len)
{
	size_t done = 0;

	if (state == 0)
		state = probe();
	if (state < 0)
		return -1;
	while (done < len) {
		size_t want = len - done < sizeof(buf) ? len - done : sizeof(buf);
		uint64_t deadline = hal_time_ns() + 100000000ull;   /* 100 ms */
		q.desc[0] = (struct vq_desc){ (uint64_t)buf, (uint32_t)want, VIRTQ_DESC_F_WRITE, 0 };
		q.avail.ring[q.avail.idx % QSIZE] = 0;
		__sync_synchronize();
		q.avail.idx++;
		__sync_synchronize();
		wr(R_QUEUE_NOTIFY, 0);
		while (*(volatile uint16_t *)&q.used.idx == seen) {
			if (hal_time_ns() > deadline)
				return done ? (long)done : -1;
		}
		__sync_synchronize();
		uint32_t got = q.used.ring[seen % QSIZE].len;
		seen++;
		if (got > want)
			got = (uint32_t)want;
		memcpy((uint8_t *)out + done, buf, got);
		memset(buf, 0, sizeof(buf));
		done += got;
	}
	return (long)done;
}
