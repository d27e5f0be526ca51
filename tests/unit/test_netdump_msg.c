/* tests/unit/test_netdump_msg.c: netdump message codec, framing and cookie behaviour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "netdump/netdump.h"
#include "netdump/wire.h"

static uint8_t buf[ND_MSG_MAX];

static void full_meta(struct nd_meta *m)
{
	memset(m, 0, sizeof *m);
	memset(m->device, 'd', ND_DEVICE_MAX - 1);
	for (int i = 0; i < ND_BOOTID_LEN; i++)
		m->boot_id[i] = (uint8_t)(0xa0 + i);
	m->seq = 0x01020304;
	m->core_size = 0x1122334455667788ULL;
	m->machine = 243;
	m->pid = 4242;
	m->signal = 11;
	memset(m->exe, 'e', ND_NAME_MAX - 1);
	memset(m->cause, 'c', ND_CAUSE_MAX - 1);
	memset(m->firmware, 'f', ND_FIRMWARE_MAX - 1);
	m->device_time = 1700000000123456789ULL;
	m->n_buildids = ND_BUILDIDS_MAX;
	for (int i = 0; i < ND_BUILDIDS_MAX; i++) {
		m->buildids[i].len = ND_BUILDID_MAX;
		memset(m->buildids[i].id, 0x10 + i, ND_BUILDID_MAX);
		memset(m->buildids[i].name, 'a' + i, ND_NAME_MAX - 1);
	}
}

static void roundtrip(const struct nd_msg *in, struct nd_msg *out, size_t *len)
{
	assert_int_equal(nd_encode(in, buf, sizeof buf, len), ND_OK);
	memset(out, 0, sizeof *out);   /* padding compares equal with the memset input */
	assert_int_equal(nd_decode(buf, *len, out), ND_OK);
	assert_int_equal(out->type, in->type);
	assert_true(out->cookie == in->cookie);
}

static void test_open_roundtrip_with_every_field_at_its_maximum(void **state)
{
	static struct nd_msg in, out;
	size_t len;
	(void)state;
	in.type = ND_T_OPEN;
	in.cookie = 0;
	in.u.open.nonce = 0xdeadbeefcafef00dULL;
	in.u.open.window = 1024;
	in.u.open.max_payload = ND_DEFAULT_PAYLOAD;
	in.u.open.flags = ND_OPEN_F_WIDE_SACK | 0x8000;   /* unknown bits travel too */
	full_meta(&in.u.open.meta);
	roundtrip(&in, &out, &len);
	assert_true(len <= ND_OPEN_MAX);
	assert_true(out.u.open.nonce == in.u.open.nonce);
	assert_int_equal(out.u.open.window, 1024);
	assert_int_equal(out.u.open.max_payload, ND_DEFAULT_PAYLOAD);
	assert_int_equal(out.u.open.flags, ND_OPEN_F_WIDE_SACK | 0x8000);
	assert_memory_equal(&out.u.open.meta, &in.u.open.meta, sizeof in.u.open.meta);
}

static void test_open_minimal_meta_roundtrip(void **state)
{
	static struct nd_msg in, out;
	size_t len;
	(void)state;
	memset(&in, 0, sizeof in);
	in.type = ND_T_OPEN;
	in.u.open.window = 1;
	in.u.open.max_payload = ND_PAYLOAD_MIN;
	strcpy(in.u.open.meta.device, "x");
	in.u.open.meta.core_size = 0;
	roundtrip(&in, &out, &len);
	assert_memory_equal(&out.u.open.meta, &in.u.open.meta, sizeof in.u.open.meta);
}

static void test_open_ack_ack_refuse_finish_result_roundtrip(void **state)
{
	static struct nd_msg in, out;
	size_t len;
	(void)state;

	memset(&in, 0, sizeof in);
	in.type = ND_T_OPEN_ACK;
	in.cookie = 0x1234567890abcdefULL;
	in.u.open_ack.nonce = 99;
	in.u.open_ack.window = 512;
	in.u.open_ack.max_payload = 9000;
	in.u.open_ack.resume = 4096;
	in.u.open_ack.nranges = ND_OPEN_ACK_MAX_RANGES;
	in.u.open_ack.flags = ND_OPEN_ACK_F_WIDE_SACK;
	for (int i = 0; i < ND_OPEN_ACK_MAX_RANGES; i++)
		in.u.open_ack.ranges[i] = (struct nd_range){ 5000 + 100 * i, 5050 + 100 * i };
	roundtrip(&in, &out, &len);
	assert_int_equal(len, ND_HDR_LEN + 24 + 16 * ND_OPEN_ACK_MAX_RANGES);
	assert_memory_equal(&out.u.open_ack, &in.u.open_ack, sizeof in.u.open_ack);

	memset(&in, 0, sizeof in);
	in.type = ND_T_ACK;
	in.cookie = 7;
	in.u.ack.cum = 1 << 20;
	in.u.ack.tsecr = 0xfffffff0;
	in.u.ack.has_echo = 1;
	in.u.ack.window = 1024;
	in.u.ack.nsack = ND_ACK_MAX_SACK;
	for (int i = 0; i < ND_ACK_MAX_SACK; i++)
		in.u.ack.sack[i] = (struct nd_range){ (1 << 20) + 10 + 1000 * i, (1 << 20) + 500 + 1000 * i };
	roundtrip(&in, &out, &len);
	assert_memory_equal(&out.u.ack, &in.u.ack, sizeof in.u.ack);
	/* the largest ACK is never fragmented: IPv6 minimum MTU - IPv6 - UDP */
	assert_int_equal(len, ND_HDR_LEN + 18 + 16 * ND_ACK_MAX_SACK);
	assert_true(len <= 1280 - 40 - 8);

	memset(&in, 0, sizeof in);
	in.type = ND_T_REFUSE;
	in.u.refuse.nonce = 5;
	in.u.refuse.reason = ND_R_QUOTA;
	in.u.refuse.retry_after_ms = 30000;
	memset(in.u.refuse.text, 'q', ND_TEXT_MAX);
	roundtrip(&in, &out, &len);
	assert_memory_equal(&out.u.refuse, &in.u.refuse, sizeof in.u.refuse);

	memset(&in, 0, sizeof in);
	in.type = ND_T_FINISH;
	in.cookie = 8;
	in.u.finish.size = 123456789;
	for (int i = 0; i < 32; i++)
		in.u.finish.sha256[i] = (uint8_t)i;
	roundtrip(&in, &out, &len);
	assert_int_equal(len, ND_HDR_LEN + 40);
	assert_memory_equal(&out.u.finish, &in.u.finish, sizeof in.u.finish);

	memset(&in, 0, sizeof in);
	in.type = ND_T_RESULT;
	in.cookie = 9;
	in.u.result.code = ND_RES_REFUSED;
	in.u.result.reason = ND_R_INTERNAL;
	strcpy(in.u.result.text, "spool write failed: No space left on device");
	roundtrip(&in, &out, &len);
	assert_memory_equal(&out.u.result, &in.u.result, sizeof in.u.result);
}

static void test_data_roundtrip_and_header_helper_agree(void **state)
{
	static struct nd_msg in, out;
	static uint8_t payload[ND_PAYLOAD_MAX], other[ND_MSG_MAX];
	size_t len;
	(void)state;
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 7);
	memset(&in, 0, sizeof in);
	in.type = ND_T_DATA;
	in.cookie = 0xabcdef;
	in.u.data.offset = 1ULL << 40;
	in.u.data.tsval = 123456;
	in.u.data.len = ND_PAYLOAD_MAX;
	in.u.data.payload = payload;
	roundtrip(&in, &out, &len);
	assert_int_equal(len, ND_DATA_HDR_LEN + ND_PAYLOAD_MAX);
	assert_true(out.u.data.offset == in.u.data.offset);
	assert_int_equal(out.u.data.tsval, 123456);
	assert_int_equal(out.u.data.len, ND_PAYLOAD_MAX);
	assert_ptr_equal(out.u.data.payload, buf + ND_DATA_HDR_LEN);
	assert_memory_equal(out.u.data.payload, payload, ND_PAYLOAD_MAX);

	nd_encode_data_hdr(other, in.cookie, in.u.data.offset, in.u.data.tsval, ND_PAYLOAD_MAX);
	memcpy(other + ND_DATA_HDR_LEN, payload, ND_PAYLOAD_MAX);
	assert_memory_equal(other, buf, len);
}

static size_t enc(const struct nd_msg *m)
{
	size_t len = 0;
	assert_int_equal(nd_encode(m, buf, sizeof buf, &len), ND_OK);
	return len;
}

static enum nd_err dec(size_t len)
{
	static struct nd_msg m;
	return nd_decode(buf, len, &m);
}

static void test_decode_rejects_short_magic_version_type(void **state)
{
	struct nd_msg m;
	size_t len;
	(void)state;
	memset(&m, 0, sizeof m);
	m.type = ND_T_FINISH;
	m.cookie = 1;
	len = enc(&m);
	for (size_t n = 0; n < len; n++)
		assert_int_equal(dec(n), n < ND_HDR_LEN ? ND_E_SHORT : ND_E_SHORT);
	assert_int_equal(dec(len), ND_OK);
	buf[0] = 'X';
	assert_int_equal(dec(len), ND_E_MAGIC);
	buf[0] = 'N';
	buf[2] = 2;
	assert_int_equal(dec(len), ND_E_VERSION);
	struct nd_hdr h;
	assert_int_equal(nd_peek(buf, len, &h), ND_OK);   /* peek still reads a v2 header */
	assert_int_equal(h.version, 2);
	buf[2] = 1;
	buf[3] = 0;
	assert_int_equal(dec(len), ND_E_TYPE);
	buf[3] = 200;
	assert_int_equal(dec(len), ND_E_TYPE);
	buf[3] = ND_T_FINISH;
	assert_int_equal(dec(len + 1), ND_E_LENGTH);    /* trailing byte */
	nd_put_u64(buf + 4, 0);
	assert_int_equal(dec(len), ND_E_FIELD);         /* cookie 0 outside OPEN/REFUSE */
}

/* Every truncation of every message type is rejected (OPEN: see below), and the
 * decoder never reads past the end. */
static void test_decode_rejects_every_truncation(void **state)
{
	static struct nd_msg m;
	static uint8_t copy[ND_MSG_MAX];
	static const uint8_t pl[100];
	(void)state;
	for (int t = ND_T_OPEN; t <= ND_T_RESULT; t++) {
		memset(&m, 0, sizeof m);
		m.type = (uint8_t)t;
		m.cookie = 77;
		switch (t) {
		case ND_T_OPEN:
			m.cookie = 0;
			m.u.open.window = 4;
			m.u.open.max_payload = 1000;
			full_meta(&m.u.open.meta);
			break;
		case ND_T_OPEN_ACK:
			m.u.open_ack.window = 4;
			m.u.open_ack.max_payload = 1000;
			m.u.open_ack.nranges = 2;
			m.u.open_ack.ranges[0] = (struct nd_range){ 10, 20 };
			m.u.open_ack.ranges[1] = (struct nd_range){ 30, 40 };
			break;
		case ND_T_REFUSE:
			strcpy(m.u.refuse.text, "busy");
			break;
		case ND_T_DATA:
			m.u.data.len = sizeof pl;
			m.u.data.payload = pl;
			break;
		case ND_T_ACK:
			m.u.ack.window = 1;
			m.u.ack.nsack = 3;
			for (int i = 0; i < 3; i++)
				m.u.ack.sack[i] = (struct nd_range){ 100 * i + 1, 100 * i + 50 };
			break;
		case ND_T_RESULT:
			strcpy(m.u.result.text, "ok");
			break;
		}
		size_t len = enc(&m);
		memcpy(copy, buf, len);
		for (size_t n = 0; n < len; n++) {
			/* Decode from an exact-size heap copy so ASan sees any overread. */
			uint8_t *p = malloc(n ? n : 1);
			memcpy(p, copy, n);
			static struct nd_msg out;
			enum nd_err e = nd_decode(p, n, &out);
			free(p);
			/* An OPEN cut at a TLV boundary after the required fields is
			 * a valid, shorter OPEN by design; every other cut is not. */
			if (e == ND_OK) {
				assert_int_equal(t, ND_T_OPEN);
				assert_string_equal(out.u.open.meta.device, m.u.open.meta.device);
				assert_true(out.u.open.meta.core_size == m.u.open.meta.core_size);
			}
		}
	}
}

static void test_decode_rejects_bad_lengths_and_fields(void **state)
{
	static struct nd_msg m;
	size_t len;
	(void)state;

	/* DATA: length field larger / smaller than the payload present, zero length */
	static const uint8_t pl[10];
	memset(&m, 0, sizeof m);
	m.type = ND_T_DATA;
	m.cookie = 3;
	m.u.data.len = 10;
	m.u.data.payload = pl;
	len = enc(&m);
	nd_put_u16(buf + 24, 11);
	assert_int_equal(dec(len), ND_E_LENGTH);
	nd_put_u16(buf + 24, 9);
	assert_int_equal(dec(len), ND_E_LENGTH);
	nd_put_u16(buf + 24, 0);
	assert_int_equal(dec(ND_DATA_HDR_LEN), ND_E_FIELD);
	/* offset + len wrapping around 2^64 */
	nd_put_u16(buf + 24, 10);
	nd_put_u64(buf + 12, UINT64_MAX - 5);
	assert_int_equal(dec(len), ND_E_FIELD);

	/* ACK: too many SACK ranges, count disagreeing with size, empty range, window 0 */
	memset(&m, 0, sizeof m);
	m.type = ND_T_ACK;
	m.cookie = 3;
	m.u.ack.cum = 100;
	m.u.ack.window = 8;
	m.u.ack.nsack = 1;
	m.u.ack.sack[0] = (struct nd_range){ 200, 300 };
	len = enc(&m);
	buf[ND_HDR_LEN + 16] = ND_ACK_MAX_SACK + 1;
	assert_int_equal(dec(len), ND_E_TOO_MANY);
	buf[ND_HDR_LEN + 16] = 2;
	assert_int_equal(dec(len), ND_E_LENGTH);
	buf[ND_HDR_LEN + 16] = 1;
	nd_put_u64(buf + ND_HDR_LEN + 18 + 8, 200);    /* end == start */
	assert_int_equal(dec(len), ND_E_FIELD);
	nd_put_u64(buf + ND_HDR_LEN + 18 + 8, 300);
	nd_put_u32(buf + ND_HDR_LEN + 12, 0);
	assert_int_equal(dec(len), ND_E_FIELD);
	nd_put_u32(buf + ND_HDR_LEN + 12, 8);
	nd_put_u64(buf + ND_HDR_LEN + 18, 50);           /* range below cum */
	assert_int_equal(dec(len), ND_E_FIELD);

	/* REFUSE / RESULT: text longer than allowed, text with NUL, bad result code */
	memset(&m, 0, sizeof m);
	m.type = ND_T_REFUSE;
	strcpy(m.u.refuse.text, "abc");
	len = enc(&m);
	buf[ND_HDR_LEN + 13] = ND_TEXT_MAX + 1;
	assert_int_equal(dec(len), ND_E_STRING);
	buf[ND_HDR_LEN + 13] = 3;
	buf[ND_HDR_LEN + 14 + 1] = 0;
	assert_int_equal(dec(len), ND_E_STRING);
	memset(&m, 0, sizeof m);
	m.type = ND_T_RESULT;
	m.cookie = 1;
	len = enc(&m);
	buf[ND_HDR_LEN] = 3;
	assert_int_equal(dec(len), ND_E_FIELD);

	/* OPEN_ACK: held range not beyond resume, payload below minimum */
	memset(&m, 0, sizeof m);
	m.type = ND_T_OPEN_ACK;
	m.cookie = 1;
	m.u.open_ack.window = 1;
	m.u.open_ack.max_payload = ND_PAYLOAD_MIN;
	m.u.open_ack.resume = 1000;
	m.u.open_ack.nranges = 1;
	m.u.open_ack.ranges[0] = (struct nd_range){ 500, 2000 };
	assert_int_equal(nd_encode(&m, buf, sizeof buf, &len), ND_E_FIELD);
	m.u.open_ack.ranges[0] = (struct nd_range){ 1500, 2000 };
	len = enc(&m);
	nd_put_u64(buf + ND_HDR_LEN + 24, 900);
	assert_int_equal(dec(len), ND_E_FIELD);
	nd_put_u64(buf + ND_HDR_LEN + 24, 1500);
	nd_put_u16(buf + ND_HDR_LEN + 12, ND_PAYLOAD_MIN - 1);
	assert_int_equal(dec(len), ND_E_FIELD);
}

/* Build an OPEN by hand so that individual TLVs can be malformed. */
static size_t open_with(const uint8_t *tlvs, size_t n)
{
	memset(buf, 0, ND_HDR_LEN + 16);
	buf[0] = 'N';
	buf[1] = 'D';
	buf[2] = 1;
	buf[3] = ND_T_OPEN;
	nd_put_u32(buf + ND_HDR_LEN + 8, 16);
	nd_put_u16(buf + ND_HDR_LEN + 12, 1000);
	memcpy(buf + ND_HDR_LEN + 16, tlvs, n);
	return ND_HDR_LEN + 16 + n;
}

static size_t put_tlv(uint8_t *p, uint8_t tag, const void *v, size_t l)
{
	p[0] = tag;
	nd_put_u16(p + 1, (uint16_t)l);
	memcpy(p + 3, v, l);
	return 3 + l;
}

static size_t required(uint8_t *p)
{
	uint8_t bid[16] = {1}, seq[4] = {0, 0, 0, 1}, size[8] = {0, 0, 0, 0, 0, 0, 1, 0};
	size_t n = 0;
	n += put_tlv(p + n, 1, "dev", 3);
	n += put_tlv(p + n, 2, bid, 16);
	n += put_tlv(p + n, 3, seq, 4);
	n += put_tlv(p + n, 4, size, 8);
	return n;
}

static void test_open_meta_errors(void **state)
{
	static uint8_t t[4096];
	static char big[300];
	size_t n;
	(void)state;
	memset(big, 'x', sizeof big);

	n = required(t);
	assert_int_equal(dec(open_with(t, n)), ND_OK);
	/* unknown tags are skipped */
	size_t n2 = n + put_tlv(t + n, 200, "zz", 2);
	assert_int_equal(dec(open_with(t, n2)), ND_OK);
	/* each required field missing */
	for (int skip = 0; skip < 4; skip++) {
		uint8_t u[256];
		size_t m = 0, off = 0;
		for (int i = 0; i < 4; i++) {
			size_t l = 3 + nd_get_u16(t + off + 1);
			if (i != skip) {
				memcpy(u + m, t + off, l);
				m += l;
			}
			off += l;
		}
		assert_int_equal(dec(open_with(u, m)), ND_E_MISSING);
	}
	/* duplicate field */
	n2 = n + put_tlv(t + n, 1, "again", 5);
	assert_int_equal(dec(open_with(t, n2)), ND_E_DUPLICATE);
	/* oversize strings: device, exe, cause, firmware, build-id name */
	n2 = n + put_tlv(t + n, 8, big, ND_NAME_MAX);
	assert_int_equal(dec(open_with(t, n2)), ND_E_STRING);
	n2 = n + put_tlv(t + n, 8, big, ND_NAME_MAX - 1);
	assert_int_equal(dec(open_with(t, n2)), ND_OK);
	n2 = n + put_tlv(t + n, 9, big, ND_CAUSE_MAX);
	assert_int_equal(dec(open_with(t, n2)), ND_E_STRING);
	n2 = n + put_tlv(t + n, 10, big, ND_FIRMWARE_MAX);
	assert_int_equal(dec(open_with(t, n2)), ND_E_STRING);
	{
		uint8_t u[512];
		size_t m = put_tlv(u, 1, big, ND_DEVICE_MAX);
		assert_int_equal(dec(open_with(u, m)), ND_E_STRING);
		m = put_tlv(u, 1, "", 0);
		assert_int_equal(dec(open_with(u, m)), ND_E_FIELD);
		m = put_tlv(u, 1, "a\0b", 3);
		assert_int_equal(dec(open_with(u, m)), ND_E_STRING);
	}
	/* fixed-size fields with the wrong length */
	{
		uint8_t u[512];
		size_t m = put_tlv(u, 3, "\0\0\0\0\0", 5);
		assert_int_equal(dec(open_with(u, m)), ND_E_LENGTH);
		m = put_tlv(u, 2, "short", 5);
		assert_int_equal(dec(open_with(u, m)), ND_E_LENGTH);
	}
	/* TLV length running past the message, and a torn TLV header */
	{
		uint8_t u[16];
		u[0] = 1;
		nd_put_u16(u + 1, 50);
		memcpy(u + 3, "abc", 3);
		assert_int_equal(dec(open_with(u, 6)), ND_E_LENGTH);
		assert_int_equal(dec(open_with(u, 2)), ND_E_LENGTH);
	}
	/* build-ids: zero length, too long, length past the TLV, too many */
	{
		uint8_t bidv[1 + 21 + 4];
		bidv[0] = 0;
		n2 = n + put_tlv(t + n, 12, bidv, 1);
		assert_int_equal(dec(open_with(t, n2)), ND_E_FIELD);
		bidv[0] = 21;
		memset(bidv + 1, 1, 21);
		n2 = n + put_tlv(t + n, 12, bidv, 22);
		assert_int_equal(dec(open_with(t, n2)), ND_E_FIELD);
		bidv[0] = 20;
		n2 = n + put_tlv(t + n, 12, bidv, 10);
		assert_int_equal(dec(open_with(t, n2)), ND_E_LENGTH);
		n2 = n;
		for (int i = 0; i <= ND_BUILDIDS_MAX; i++)
			n2 += put_tlv(t + n2, 12, bidv, 21);
		assert_int_equal(dec(open_with(t, n2)), ND_E_TOO_MANY);
	}
	/* fixed part: zero window, payload out of bounds */
	n = open_with(t, required(t));
	nd_put_u32(buf + ND_HDR_LEN + 8, 0);
	assert_int_equal(dec(n), ND_E_FIELD);
	nd_put_u32(buf + ND_HDR_LEN + 8, 1);
	nd_put_u16(buf + ND_HDR_LEN + 12, ND_PAYLOAD_MAX + 1);
	assert_int_equal(dec(n), ND_E_FIELD);
	/* an OPEN larger than ND_OPEN_MAX is refused outright */
	n = required(t);
	while (n < ND_OPEN_MAX)
		n += put_tlv(t + n, 201, big, 100);
	assert_int_equal(dec(open_with(t, n)), ND_E_LENGTH);
}

static void test_encode_refuses_invalid_and_short_buffer(void **state)
{
	static struct nd_msg m;
	size_t len;
	(void)state;
	memset(&m, 0, sizeof m);
	m.type = ND_T_OPEN;
	m.u.open.window = 1;
	m.u.open.max_payload = 1000;
	assert_int_equal(nd_encode(&m, buf, sizeof buf, &len), ND_E_FIELD);  /* empty device */
	full_meta(&m.u.open.meta);
	for (size_t cap = 0; cap < 1000; cap += 37)
		assert_int_equal(nd_encode(&m, buf, cap, &len), ND_E_NOSPACE);
	m.u.open.meta.device[ND_DEVICE_MAX - 1] = 'z';   /* unterminated */
	assert_int_equal(nd_encode(&m, buf, sizeof buf, &len), ND_E_STRING);
	memset(&m, 0, sizeof m);
	m.type = ND_T_ACK;
	m.cookie = 0;
	m.u.ack.window = 1;
	assert_int_equal(nd_encode(&m, buf, sizeof buf, &len), ND_E_FIELD);  /* no cookie */
	m.type = 99;
	m.cookie = 1;
	assert_int_equal(nd_encode(&m, buf, sizeof buf, &len), ND_E_TYPE);
}

static void test_stream_reassembles_any_chunking(void **state)
{
	static uint8_t stream[8192], rbuf[2048];
	static struct nd_msg m;
	size_t sl = 0, lens[20];
	(void)state;
	/* Twenty FINISH / RESULT messages of varying size, framed back to back. */
	for (int i = 0; i < 20; i++) {
		memset(&m, 0, sizeof m);
		m.type = i % 2 ? ND_T_RESULT : ND_T_FINISH;
		m.cookie = (uint64_t)i + 1;
		memset(m.u.result.text, 'a' + i, (size_t)i * 3);
		size_t len;
		assert_int_equal(nd_encode(&m, stream + sl + 2, sizeof stream - sl - 2, &len), ND_OK);
		assert_int_equal(nd_frame_put(stream + sl, len), ND_OK);
		lens[i] = len;
		sl += 2 + len;
	}
	for (size_t chunk = 1; chunk <= 64; chunk = chunk * 2 + 1) {
		struct nd_stream st;
		nd_stream_init(&st, rbuf, sizeof rbuf);
		int got = 0;
		for (size_t off = 0; off < sl;) {
			size_t n = sl - off < chunk ? sl - off : chunk;
			while (n) {
				size_t used;
				const uint8_t *msg;
				size_t ml;
				assert_int_equal(nd_stream_push(&st, stream + off, n, &used, &msg, &ml), ND_OK);
				off += used;
				n -= used;
				if (msg) {
					assert_int_equal(ml, lens[got]);
					assert_int_equal(nd_decode(msg, ml, &m), ND_OK);
					assert_true(m.cookie == (uint64_t)got + 1);
					got++;
				}
			}
		}
		assert_int_equal(got, 20);
	}
}

static void test_stream_rejects_bad_prefix_and_stays_failed(void **state)
{
	uint8_t rbuf[64], in[4] = {0, 5, 0, 0};
	struct nd_stream st;
	size_t used, ml;
	const uint8_t *msg;
	(void)state;
	nd_stream_init(&st, rbuf, sizeof rbuf);
	assert_int_equal(nd_stream_push(&st, in, 4, &used, &msg, &ml), ND_E_FRAME); /* < header */
	in[1] = 20;
	assert_int_equal(nd_stream_push(&st, in, 4, &used, &msg, &ml), ND_E_FRAME); /* sticky */
	nd_stream_init(&st, rbuf, sizeof rbuf);
	in[0] = 1;   /* 276 > cap 64 */
	assert_int_equal(nd_stream_push(&st, in, 4, &used, &msg, &ml), ND_E_FRAME);
	assert_int_equal(nd_frame_put(in, 11), ND_E_FRAME);
	assert_int_equal(nd_frame_put(in, 70000), ND_E_FRAME);
}

static void test_cookie_binds_key_and_address(void **state)
{
	uint8_t secret[32] = {1, 2, 3}, bid[16] = {9}, bid2[16] = {8};
	(void)state;
	uint64_t c = nd_cookie(secret, 32, "dev", bid, 1, "addr1", 5);
	assert_true(c != 0);
	assert_true(c == nd_cookie(secret, 32, "dev", bid, 1, "addr1", 5));
	assert_true(c != nd_cookie(secret, 32, "dev", bid, 1, "addr2", 5));
	assert_true(c != nd_cookie(secret, 32, "dev", bid, 2, "addr1", 5));
	assert_true(c != nd_cookie(secret, 32, "dev", bid2, 1, "addr1", 5));
	assert_true(c != nd_cookie(secret, 32, "deW", bid, 1, "addr1", 5));
	secret[0] = 2;
	assert_true(c != nd_cookie(secret, 32, "dev", bid, 1, "addr1", 5));
}

static void test_strerror_names_every_code(void **state)
{
	(void)state;
	for (int e = ND_OK; e <= ND_E_STATE; e++)
		assert_string_not_equal(nd_strerror((enum nd_err)e), "unknown error");
	for (int r = 0; r <= ND_R_MAX_; r++)
		assert_string_not_equal(nd_reason_str((enum nd_reason)r), "unknown reason");
	assert_string_equal(nd_reason_str(ND_R_QUOTA), "store over quota or disk full");
	assert_string_equal(nd_result_str(ND_RES_STORED), "stored");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_roundtrip_with_every_field_at_its_maximum),
		cmocka_unit_test(test_open_minimal_meta_roundtrip),
		cmocka_unit_test(test_open_ack_ack_refuse_finish_result_roundtrip),
		cmocka_unit_test(test_data_roundtrip_and_header_helper_agree),
		cmocka_unit_test(test_decode_rejects_short_magic_version_type),
		cmocka_unit_test(test_decode_rejects_every_truncation),
		cmocka_unit_test(test_decode_rejects_bad_lengths_and_fields),
		cmocka_unit_test(test_open_meta_errors),
		cmocka_unit_test(test_encode_refuses_invalid_and_short_buffer),
		cmocka_unit_test(test_stream_reassembles_any_chunking),
		cmocka_unit_test(test_stream_rejects_bad_prefix_and_stays_failed),
		cmocka_unit_test(test_cookie_binds_key_and_address),
		cmocka_unit_test(test_strerror_names_every_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
