/* hal/riscv64/console.c: the ns16550 UART of QEMU virt at 0x10000000, polled in both directions. */
#include "hal/riscv64/hal.h"

#define UART_BASE 0x10000000UL
#define UART_THR 0
#define UART_RBR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LSR 5
#define LSR_DR   0x01
#define LSR_THRE 0x20

static inline volatile uint8_t *uart_reg(int r)
{
	return (volatile uint8_t *)(UART_BASE + (uint64_t)r);
}

void hal_console_init(void)
{
	/* Polled: no UART interrupts, FIFOs on (OpenSBI already set the baud rate). */
	*uart_reg(UART_IER) = 0;
	*uart_reg(UART_FCR) = 0x07;
}

/*
 * With the FIFO on, THRE means the whole 16-byte transmit FIFO is empty, so after
 * seeing it the next 16 bytes go out without polling again: the core dump streams
 * through here, and each register read is a costly exit under emulation.
 */
#define UART_FIFO 16
static unsigned fifo_room;

void hal_console_putc(int c)
{
	while (!fifo_room) {
		if (*uart_reg(UART_LSR) & LSR_THRE)
			fifo_room = UART_FIFO;
	}
	*uart_reg(UART_THR) = (uint8_t)c;
	fifo_room--;
}

int hal_console_getc(void)
{
	if (!(*uart_reg(UART_LSR) & LSR_DR))
		return -1;
	return *uart_reg(UART_RBR);
}
