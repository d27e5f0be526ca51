/* kernel/net/tls/virtio_rng.c: virtio-rng (entropy device) over virtio-mmio, polled — the seed of the kernel's DTLS. */
#include "kernel/kernel.h"
#include "kernel/virtio_mmio.h"
#include "kernel/net/tls/ktls.h"

/*
 * QEMU: -device virtio-rng-device (its backend reads the host's /dev/urandom).
 * One request queue; a read posts one device-writable buffer and polls the used
 * ring.  Used only while a handshake seeds its generator, so no interrupt.  The
 * transport, either version, is kernel/virtio_mmio.c.
 */
#define QSIZE 4

static struct vmmio_ring ring;
static struct vmmio_dev dev;
static struct vmmio_queue q;
static uint8_t buf[64] __attribute__((aligned(64)));
static int state;                   /* 0 not probed, 1 working, -1 none */

static int start(void)
{
	if (vmmio_begin(&dev, 0) != VMMIO_OK ||
	    vmmio_queue_setup(&dev, &q, 0, &ring, QSIZE) != VMMIO_OK)
		return -1;
	q.avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	vmmio_driver_ok(&dev);
	return 0;
}

static int probe(void)
{
	for (int s = 0; (s = vmmio_find(&dev, VIRTIO_ID_RNG, s)) >= 0; s++)
		if (start() == 0)
			return 1;
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
		struct vmmio_used_elem e;
		q.desc[0] = (struct vmmio_desc){ (uint64_t)buf, (uint32_t)want, VIRTQ_DESC_F_WRITE, 0 };
		vmmio_avail_push(&q, 0);
		vmmio_notify(&q);
		while (!vmmio_used_next(&q, &e)) {
			if (hal_time_ns() > deadline)
				return done ? (long)done : -1;
		}
		uint32_t got = e.len > want ? (uint32_t)want : e.len;
		memcpy((uint8_t *)out + done, buf, got);
		memset(buf, 0, sizeof(buf));
		done += got;
	}
	return (long)done;
}
