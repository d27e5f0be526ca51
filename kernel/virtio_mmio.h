/* kernel/virtio_mmio.h: the virtio-mmio transport every virtio driver of the kernel stands on (probe, negotiation, split virtqueues). */
#ifndef KERNEL_VIRTIO_MMIO_H
#define KERNEL_VIRTIO_MMIO_H

#include <stddef.h>
#include <stdint.h>

/*
 * A driver finds its device by id, negotiates, sets up its queues in static memory it
 * owns (struct vmmio_ring), says DRIVER_OK, and from then on posts descriptors, notifies
 * and consumes the used ring.  What a descriptor means stays in the driver.
 */
enum vmmio_err {
	VMMIO_OK = 0,
	VMMIO_ENODEV,          /* no device of that id in the remaining slots */
	VMMIO_EVERSION1,       /* version 2 transport without VIRTIO_F_VERSION_1 */
	VMMIO_EFEATURES,       /* the device refused FEATURES_OK */
	VMMIO_EQSIZE,          /* queue smaller than asked, or an unsupported size */
};
const char *vmmio_strerror(enum vmmio_err e);

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_RNG 4

#define VIRTQ_DESC_F_NEXT          1
#define VIRTQ_DESC_F_WRITE         2
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

/* The split virtqueue as the device reads it (little-endian, like the harts we run on). */
struct vmmio_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};
struct vmmio_avail {
	uint16_t flags, idx, ring[];
};
struct vmmio_used_elem {
	uint32_t id, len;
};
struct vmmio_used {
	uint16_t flags, idx;
	struct vmmio_used_elem ring[];
};

/*
 * Two pages per queue: descriptors and avail ring in the first, the used ring page
 * aligned in the second, which is the legacy transport's fixed layout and fits the
 * version 2 transport as well.  Up to VMMIO_QMAX descriptors (a power of two).
 */
#define VMMIO_QMAX 128
struct vmmio_ring {
	uint8_t page[2][4096];
} __attribute__((aligned(4096)));

struct vmmio_dev {
	volatile uint8_t *regs;
	int slot;                  /* 0..7; the interrupt is slot + 1 on QEMU virt */
	int version;               /* 1 legacy, 2 virtio 1.0 */
	uint32_t features;         /* device feature bits 0..31 both sides accepted */
};

struct vmmio_queue {
	struct vmmio_dev *dev;
	uint16_t index, num;
	uint16_t seen;             /* used-ring entries consumed */
	struct vmmio_desc *desc;
	struct vmmio_avail *avail;
	struct vmmio_used *used;
};

/* The first device of that id from slot `from` on; its slot, or -1 (regs cleared). */
int vmmio_find(struct vmmio_dev *d, uint32_t device_id, int from);
/* Reset, ACKNOWLEDGE, DRIVER, accept `want` of the device's feature bits 0..31. */
enum vmmio_err vmmio_begin(struct vmmio_dev *d, uint32_t want);
/* Queue `index` of `num` descriptors in `mem` (zeroed here). */
enum vmmio_err vmmio_queue_setup(struct vmmio_dev *d, struct vmmio_queue *q, uint16_t index,
                                 struct vmmio_ring *mem, uint16_t num);
void vmmio_driver_ok(struct vmmio_dev *d);
/* Tell the device the driver gave up on it (the next probe may try another slot). */
void vmmio_fail(struct vmmio_dev *d);
uint8_t vmmio_config8(const struct vmmio_dev *d, uint32_t off);
int vmmio_irq(const struct vmmio_dev *d);
/* Read and acknowledge the interrupt status; returns it. */
uint32_t vmmio_irq_ack(struct vmmio_dev *d);

/* Offer descriptor head `id` in the avail ring (the device sees it once idx moves). */
void vmmio_avail_push(struct vmmio_queue *q, uint16_t id);
void vmmio_notify(struct vmmio_queue *q);
/* Whether the device asked not to be notified (it is already working the ring). */
int vmmio_notify_suppressed(const struct vmmio_queue *q);
/* Take the next used element into *e: 1, or 0 when the device has returned nothing new. */
int vmmio_used_next(struct vmmio_queue *q, struct vmmio_used_elem *e);

#endif
