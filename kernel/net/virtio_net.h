/* kernel/net/virtio_net.h: the virtio-net (virtio-mmio) driver's interface to the network glue. */
#ifndef K_NET_VIRTIO_NET_H
#define K_NET_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>

/* Frame handed up by vnet_rx_poll; the buffer is the driver's and is reused after return. */
typedef void (*vnet_rx_fn)(void *ctx, const uint8_t *frame, uint32_t len);

struct vnet_stats {
	uint64_t rx_frames, tx_frames, tx_full_waits, tx_notify_skipped, irqs;
};

/* Find and start the first virtio-net device; 0 on success, -1 when none works. */
int vnet_init(void);
int vnet_present(void);
/* virtio-mmio transport version: 1 legacy, 2 virtio 1.0. */
int vnet_version(void);
void vnet_mac(uint8_t mac[6]);
/* Deliver up to max received frames; returns how many. Interrupts not needed (polled mode). */
int vnet_rx_poll(vnet_rx_fn fn, void *ctx, int max);
/*
 * Transmit in two steps so the frame is built in place: vnet_tx_begin returns room for
 * VNET_FRAME_MAX bytes (waiting, polling, up to 1 s for a free buffer; 0 on timeout),
 * vnet_tx_commit hands len bytes of it to the device.
 */
uint8_t *vnet_tx_begin(void);
void vnet_tx_commit(uint32_t len);
/* Acknowledge the device interrupt (from the interrupt handler). */
void vnet_irq_ack(void);
int vnet_irq(void);
void vnet_stats(struct vnet_stats *st);
/* Static RAM the driver holds (rings and buffers), for the benchmark report. */
uint64_t vnet_ram_bytes(void);

#define VNET_FRAME_MAX 1514
#endif
