/* tests/fuzz/fuzz_netdump_parse.c: libFuzzer target for the netdump decoder, framing and state machines. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "netdump/netdump.h"
#include "netdump/rx.h"
#include "netdump/tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int zero_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	(void)ctx;
	(void)off;
	memset(buf, 0, len);
	return 0;
}

/* Properties checked on every input:
 *  - decoding never reads out of bounds (the sanitizers watch);
 *  - whatever decodes re-encodes to the identical bytes and decodes again;
 *  - the receiver bookkeeping and the sender accept anything without harm;
 *  - the stream reassembler yields the same messages however input is cut. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nd_msg m, m2;
	static uint8_t out[ND_MSG_MAX], out2[ND_MSG_MAX];
	static struct nd_rx rx;
	static struct nd_tx tx;
	size_t len, len2;

	if (nd_decode(data, size, &m) == ND_OK) {
		if (nd_encode(&m, out, sizeof out, &len) != ND_OK)
			__builtin_trap();
		/* Same size except OPEN (unknown TLVs are dropped); reserved bytes
		 * may differ.  Re-encoding the re-decoded message is a fixpoint. */
		if (m.type != ND_T_OPEN && len != size)
			__builtin_trap();
		if (nd_decode(out, len, &m2) != ND_OK || m2.type != m.type)
			__builtin_trap();
		if (nd_encode(&m2, out2, sizeof out2, &len2) != ND_OK || len2 != len ||
		    memcmp(out, out2, len) != 0)
			__builtin_trap();

		if (m.type == ND_T_DATA) {
			nd_rx_init(&rx, 1u << 20, 64, ND_DEFAULT_PAYLOAD);
			(void)nd_rx_data(&rx, m.u.data.offset, m.u.data.len, m.u.data.tsval);
			(void)nd_rx_build_ack(&rx, 1, out, sizeof out, &len);
		}
	}

	/* The sender, after a scripted OPEN_ACK, eats the input as a reply. */
	{
		struct nd_tx_cfg cfg;
		struct nd_meta meta;
		struct nd_msg oa;
		memset(&meta, 0, sizeof meta);
		strcpy(meta.device, "fuzz");
		meta.core_size = 100000;
		nd_tx_cfg_default(&cfg);
		cfg.window = 16;
		cfg.nonce = 7;
		nd_tx_init(&tx, &cfg, &meta, zero_read, NULL);
		nd_tx_poll(&tx, 0, out, sizeof out);
		memset(&oa, 0, sizeof oa);
		oa.type = ND_T_OPEN_ACK;
		oa.cookie = size >= 12 ? ((uint64_t)data[4] << 56 | 1) : 1;
		oa.u.open_ack.nonce = 7;
		oa.u.open_ack.window = 16;
		oa.u.open_ack.max_payload = 1000;
		if (nd_encode(&oa, out, sizeof out, &len) == ND_OK)
			nd_tx_input(&tx, 10, out, len);
		for (int i = 0; i < 20 && nd_tx_poll(&tx, 20, out, sizeof out); i++)
			;
		nd_tx_input(&tx, 30, data, size);
		for (int i = 0; i < 40 && nd_tx_poll(&tx, 40, out, sizeof out); i++)
			;
		(void)nd_tx_timeout(&tx, 50);
	}

	/* Stream framing: the input as a byte stream, fed in uneven pieces. */
	{
		static uint8_t sbuf[2048];
		struct nd_stream st;
		size_t off = 0, step = 1;
		nd_stream_init(&st, sbuf, sizeof sbuf);
		while (off < size) {
			size_t n = size - off < step ? size - off : step;
			size_t used;
			const uint8_t *msg;
			size_t ml;
			if (nd_stream_push(&st, data + off, n, &used, &msg, &ml) != ND_OK)
				break;
			if (msg)
				(void)nd_decode(msg, ml, &m);
			off += used;
			step = step * 3 % 17 + 1;
		}
	}
	return 0;
}
