/* kernel/virtio_mmio.c: the virtio-mmio transport, shared by the virtio drivers — in kernel/ beside the other bus-level code, not net/, because the entropy device (and any block or console device) is no network driver. */
#include "kernel/kernel.h"
#include "kernel/virtio_mmio.h"

/*
 * QEMU virt places eight virtio-mmio transports at fixed addresses, interrupts 1..8
 * on the PLIC; the board is fixed, so they are scanned rather than read from the
 * device tree.  Both the legacy transport (QEMU's default, version 1) and the
 * version 2 transport (-global virtio-mmio.force-legacy=false) are driven.
 *
 * Queue memory is the driver's static storage: the kernel maps RAM one to one, so a
 * static object's address is its physical address, and a crash dump must not depend
 * on allocating memory.
 */
#define VMMIO_BASE   0x10001000UL
#define VMMIO_STRIDE 0x1000UL
#define VMMIO_SLOTS  8
#define VMMIO_IRQ0   1
#define VMMIO_MAGIC  0x74726976u         /* "virt" */

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
#define VIRTIO_F_VERSION_1 32

static uint32_t rd(const struct vmmio_dev *d, uint32_t off)
{
	return *(volatile uint32_t *)(d->regs + off);
}
static void wr(struct vmmio_dev *d, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(d->regs + off) = v;
}
static void fence(void) { __sync_synchronize(); }

const char *vmmio_strerror(enum vmmio_err e)
{
	switch (e) {
	case VMMIO_OK:        return "ok";
	case VMMIO_ENODEV:    return "no such virtio-mmio device";
	case VMMIO_EVERSION1: return "version 2 transport without VIRTIO_F_VERSION_1";
	case VMMIO_EFEATURES: return "device refused the negotiated features";
	case VMMIO_EQSIZE:    return "queue size not available";
	}
	return "unknown virtio-mmio error";
}

int vmmio_find(struct vmmio_dev *d, uint32_t device_id, int from)
{
	for (int s = from < 0 ? 0 : from; s < VMMIO_SLOTS; s++) {
		d->regs = (volatile uint8_t *)(VMMIO_BASE + (unsigned long)s * VMMIO_STRIDE);
		d->slot = s;
		d->version = (int)rd(d, R_VERSION);
		if (rd(d, R_MAGIC) == VMMIO_MAGIC && rd(d, R_DEVICE_ID) == device_id &&
		    (d->version == 1 || d->version == 2))
			return s;
	}
	d->regs = 0;
	return -1;
}

enum vmmio_err vmmio_begin(struct vmmio_dev *d, uint32_t want)
{
	wr(d, R_STATUS, 0);
	wr(d, R_STATUS, S_ACK);
	wr(d, R_STATUS, S_ACK | S_DRIVER);
	wr(d, R_DEV_FEATURES_SEL, 0);
	d->features = rd(d, R_DEV_FEATURES) & want;
	wr(d, R_DRV_FEATURES_SEL, 0);
	wr(d, R_DRV_FEATURES, d->features);
	if (d->version == 1) {
		wr(d, R_GUEST_PAGE_SIZE, 4096);
		return VMMIO_OK;
	}
	/* Version 2 speaks virtio 1.0 only: without VERSION_1 the layouts would be legacy. */
	wr(d, R_DEV_FEATURES_SEL, 1);
	if (!(rd(d, R_DEV_FEATURES) & (1u << (VIRTIO_F_VERSION_1 - 32))))
		return VMMIO_EVERSION1;
	wr(d, R_DRV_FEATURES_SEL, 1);
	wr(d, R_DRV_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	wr(d, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	if (!(rd(d, R_STATUS) & S_FEATURES_OK))
		return VMMIO_EFEATURES;
	return VMMIO_OK;
}

enum vmmio_err vmmio_queue_setup(struct vmmio_dev *d, struct vmmio_queue *q, uint16_t index,
                                 struct vmmio_ring *mem, uint16_t num)
{
	/* The legacy device computes the ring positions from num: a power of two that fits a page. */
	if (num == 0 || num > VMMIO_QMAX || (num & (num - 1)))
		return VMMIO_EQSIZE;
	wr(d, R_QUEUE_SEL, index);
	if (rd(d, R_QUEUE_NUM_MAX) < num)
		return VMMIO_EQSIZE;
	memset(mem, 0, sizeof(*mem));
	*q = (struct vmmio_queue){
		.dev = d, .index = index, .num = num,
		.desc = (struct vmmio_desc *)mem->page[0],
		.avail = (struct vmmio_avail *)(mem->page[0] + sizeof(struct vmmio_desc) * num),
		.used = (struct vmmio_used *)mem->page[1],
	};
	wr(d, R_QUEUE_NUM, num);
	uint64_t pa = (uint64_t)(uintptr_t)q->desc;
	if (d->version == 1) {
		wr(d, R_QUEUE_ALIGN, 4096);
		wr(d, R_QUEUE_PFN, (uint32_t)(pa >> 12));
	} else {
		uint64_t av = (uint64_t)(uintptr_t)q->avail, us = (uint64_t)(uintptr_t)q->used;
		wr(d, R_QUEUE_DESC_LO, (uint32_t)pa);
		wr(d, R_QUEUE_DESC_HI, (uint32_t)(pa >> 32));
		wr(d, R_QUEUE_AVAIL_LO, (uint32_t)av);
		wr(d, R_QUEUE_AVAIL_HI, (uint32_t)(av >> 32));
		wr(d, R_QUEUE_USED_LO, (uint32_t)us);
		wr(d, R_QUEUE_USED_HI, (uint32_t)(us >> 32));
		wr(d, R_QUEUE_READY, 1);
	}
	return VMMIO_OK;
}

void vmmio_driver_ok(struct vmmio_dev *d)
{
	wr(d, R_STATUS, rd(d, R_STATUS) | S_DRIVER_OK);
	fence();
}

void vmmio_fail(struct vmmio_dev *d) { wr(d, R_STATUS, S_FAILED); }
uint8_t vmmio_config8(const struct vmmio_dev *d, uint32_t off) { return d->regs[R_CONFIG + off]; }
int vmmio_irq(const struct vmmio_dev *d) { return VMMIO_IRQ0 + d->slot; }

uint32_t vmmio_irq_ack(struct vmmio_dev *d)
{
	uint32_t st = rd(d, R_INT_STATUS);
	wr(d, R_INT_ACK, st);
	return st;
}

/* The ring entry is written before idx moves: the device reads idx, then the entry. */
void vmmio_avail_push(struct vmmio_queue *q, uint16_t id)
{
	q->avail->ring[q->avail->idx % q->num] = id;
	fence();
	q->avail->idx++;
}

void vmmio_notify(struct vmmio_queue *q)
{
	fence();
	wr(q->dev, R_QUEUE_NOTIFY, q->index);
}

int vmmio_notify_suppressed(const struct vmmio_queue *q)
{
	return (*(volatile const uint16_t *)&q->used->flags & VIRTQ_USED_F_NO_NOTIFY) != 0;
}

int vmmio_used_next(struct vmmio_queue *q, struct vmmio_used_elem *e)
{
	if (q->seen == *(volatile const uint16_t *)&q->used->idx)
		return 0;
	fence();            /* the element is read only after idx said it is there */
	*e = q->used->ring[q->seen % q->num];
	q->seen++;
	return 1;
}
