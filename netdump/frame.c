/* netdump/frame.c: length-prefixed framing of netdump messages on byte streams (TLS). */
#include "netdump/netdump.h"
#include "netdump/wire.h"

enum nd_err nd_frame_put(uint8_t *out, size_t msg_len)
{
	if (msg_len < ND_HDR_LEN || msg_len > 0xffff)
		return ND_E_FRAME;
	nd_put_u16(out, (uint16_t)msg_len);
	return ND_OK;
}

void nd_stream_init(struct nd_stream *s, uint8_t *buf, size_t cap)
{
	s->buf = buf;
	s->cap = cap;
	s->have = 0;
	s->need = 0;
	s->npfx = 0;
	s->failed = 0;
}

enum nd_err nd_stream_push(struct nd_stream *s, const uint8_t *data, size_t len,
                           size_t *used, const uint8_t **msg, size_t *msg_len)
{
	size_t i = 0;

	*msg = 0;
	*msg_len = 0;
	*used = 0;
	if (s->failed)
		return ND_E_FRAME;
	/* A completed message was handed out last time: start the next frame. */
	if (s->need && s->have == s->need) {
		s->need = 0;
		s->have = 0;
		s->npfx = 0;
	}
	while (i < len) {
		if (s->need == 0) {
			s->pfx[s->npfx++] = data[i++];
			if (s->npfx < ND_FRAME_HDR_LEN)
				continue;
			size_t n = nd_get_u16(s->pfx);
			/* Shorter than a header cannot be a message; longer than the
			 * buffer cannot be held: both mean the stream is unusable. */
			if (n < ND_HDR_LEN || n > s->cap) {
				s->failed = 1;
				*used = i;
				return ND_E_FRAME;
			}
			s->need = n;
			s->have = 0;
			continue;
		}
		size_t k = s->need - s->have;
		if (k > len - i)
			k = len - i;
		__builtin_memcpy(s->buf + s->have, data + i, k);
		s->have += k;
		i += k;
		if (s->have == s->need) {
			*msg = s->buf;
			*msg_len = s->need;
			break;
		}
	}
	*used = i;
	return ND_OK;
}
