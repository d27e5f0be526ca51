/* netdump/netdump.h: netdump protocol v1 wire messages, their codec, framing and cookies. */
#ifndef NETDUMP_NETDUMP_H
#define NETDUMP_NETDUMP_H

#include <stddef.h>
#include <stdint.h>

#include "netdump/meta.h"

/*
 * The protocol is specified in docs/netdump-protocol.md; this header is its C
 * binding.  Everything here is sans-I/O and allocation-free: decoding fills a
 * caller-owned struct nd_msg, encoding writes into a caller buffer.  All integers
 * on the wire are big-endian.  Every message starts with a 12-byte header:
 *
 *   0  magic   "ND" (0x4e 0x44)
 *   2  version u8, 1 for this protocol
 *   3  type    u8, enum nd_type
 *   4  cookie  u64, 0 in OPEN and REFUSE, the session cookie everywhere else
 */

#define ND_VERSION        1
#define ND_MAGIC0         0x4e   /* 'N' */
#define ND_MAGIC1         0x44   /* 'D' */
#define ND_HDR_LEN        12

/* Defaults and limits (all documented in the spec, section "Defaults"). */
#define ND_DEFAULT_PORT     7770
/* DATA overhead: header + offset u64 + tsval u32 + len u16. */
#define ND_DATA_HDR_LEN     (ND_HDR_LEN + 14)
/* 1500-byte MTU minus IPv6 (40) and UDP (8) headers minus DATA overhead (26),
 * rounded down to a multiple of 8: fits IPv4 and IPv6 without fragmentation. */
#define ND_DEFAULT_PAYLOAD  1424
#define ND_PAYLOAD_MIN      64
/* Largest payload whose DATA message still fits one IPv4 UDP datagram (65507). */
#define ND_PAYLOAD_MAX      65472
/* Largest encoded message of any type (a DATA with ND_PAYLOAD_MAX payload). */
#define ND_MSG_MAX          (ND_DATA_HDR_LEN + ND_PAYLOAD_MAX)
/* Largest OPEN (every metadata field at its maximum); below the IPv6 minimum MTU
 * payload (1232) so an OPEN is never fragmented. */
#define ND_OPEN_MAX         1232
#define ND_TEXT_MAX         127  /* human-readable text in REFUSE and RESULT */
/* Selective-ack ranges per ACK.  Every v1 sender accepts ND_ACK_BASE_SACK; one
 * whose OPEN sets ND_OPEN_F_WIDE_SACK accepts up to ND_ACK_MAX_SACK, enough to
 * describe every hole of a 2048-packet window at a few % loss in one ACK.  A
 * full ACK (30 + 16 * 64 = 1054 bytes) plus IPv6 and UDP headers still fits the
 * IPv6 minimum MTU (1280), so it is never fragmented. */
#define ND_ACK_BASE_SACK    8
#define ND_ACK_MAX_SACK     64
#define ND_OPEN_ACK_MAX_RANGES 8 /* held ranges beyond the resume point in OPEN_ACK */
#define ND_WINDOW_MAX       65535u /* largest window (packets) either side may state */

enum nd_type {
	ND_T_OPEN = 1,      /* sender -> collector: start or resume a dump session */
	ND_T_OPEN_ACK = 2,  /* collector -> sender: cookie, window, resume point */
	ND_T_REFUSE = 3,    /* collector -> sender: the OPEN is refused (enum nd_reason) */
	ND_T_DATA = 4,      /* sender -> collector: core bytes at an offset */
	ND_T_ACK = 5,       /* collector -> sender: cumulative + selective ack */
	ND_T_FINISH = 6,    /* sender -> collector: size and SHA-256 of the whole core */
	ND_T_RESULT = 7,    /* collector -> sender: stored / digest mismatch / refused */
};

/* OPEN flags (a sender's capabilities; a collector ignores bits it does not know). */
#define ND_OPEN_F_WIDE_SACK     0x0001u  /* ACKs may carry up to ND_ACK_MAX_SACK ranges */
/* OPEN_ACK flags (what the collector will do; a sender ignores unknown bits). */
#define ND_OPEN_ACK_F_WIDE_SACK 0x01u    /* ACKs will carry up to ND_ACK_MAX_SACK ranges */

/* Decoder, encoder and framing errors. */
enum nd_err {
	ND_OK = 0,
	ND_E_SHORT,         /* shorter than the header or the type's fixed part */
	ND_E_MAGIC,         /* does not start with "ND" */
	ND_E_VERSION,       /* version other than ND_VERSION */
	ND_E_TYPE,          /* unknown message type */
	ND_E_LENGTH,        /* a length field disagrees with the bytes present */
	ND_E_FIELD,         /* a field holds an invalid value (zero window, empty range...) */
	ND_E_STRING,        /* string too long for its field or contains NUL */
	ND_E_MISSING,       /* OPEN lacks a required metadata field */
	ND_E_DUPLICATE,     /* OPEN repeats a metadata field that may occur once */
	ND_E_TOO_MANY,      /* more build-ids / ranges than the message may carry */
	ND_E_NOSPACE,       /* encoder: output buffer too small */
	ND_E_FRAME,         /* stream framing: bad or oversized length prefix */
	ND_E_COOKIE,        /* state machine: message for another session (dropped) */
	ND_E_STATE,         /* state machine: message not expected now (ignored) */
};
const char *nd_strerror(enum nd_err e);

/*
 * Why a collector refuses a session (REFUSE) or a finished dump (RESULT).  The
 * numeric values are on the wire; never renumber.
 */
enum nd_reason {
	ND_R_NONE = 0,
	ND_R_BUSY = 1,          /* too many concurrent sessions */
	ND_R_TOO_LARGE = 2,     /* core larger than the collector accepts */
	ND_R_RATE_LIMITED = 3,  /* this device opened too many dumps recently */
	ND_R_QUOTA = 4,         /* store over quota or disk full */
	ND_R_BAD_VERSION = 5,   /* protocol version not supported */
	ND_R_BAD_COOKIE = 6,    /* the session the cookie named is unknown: reopen */
	ND_R_INTERNAL = 7,      /* collector-side failure (I/O error...) */
	ND_R_BAD_REQUEST = 8,   /* OPEN metadata unacceptable */
	ND_R_DEVICE_BUSY = 9,   /* too many concurrent sessions for this device */
	ND_R_SHUTTING_DOWN = 10,/* collector is draining; try later */
	ND_R_MAX_ = 10
};
/* Short English text for a reason, e.g. "store over quota or disk full". */
const char *nd_reason_str(enum nd_reason r);

/* RESULT codes, on the wire. */
enum nd_result_code {
	ND_RES_STORED = 0,          /* verified and committed */
	ND_RES_DIGEST_MISMATCH = 1, /* bytes received do not hash to FINISH's digest */
	ND_RES_REFUSED = 2,         /* not stored; reason says why */
};
const char *nd_result_str(enum nd_result_code c);

/* Half-open byte range [start, end) of the core. */
struct nd_range {
	uint64_t start;
	uint64_t end;
};

struct nd_open {
	uint64_t nonce;            /* sender's choice; echoed in OPEN_ACK / REFUSE */
	uint32_t window;           /* packets the sender wants in flight (>= 1) */
	uint16_t max_payload;      /* largest DATA payload the sender will send */
	uint16_t flags;            /* ND_OPEN_F_* */
	struct nd_meta meta;       /* device identity and crash metadata */
};

struct nd_open_ack {
	uint64_t nonce;            /* echo of the OPEN's nonce */
	uint32_t window;           /* receive window in packets (>= 1) */
	uint16_t max_payload;      /* largest DATA payload accepted */
	uint64_t resume;           /* bytes [0, resume) already held */
	uint8_t nranges;           /* further ranges held beyond resume */
	uint8_t flags;             /* ND_OPEN_ACK_F_* */
	struct nd_range ranges[ND_OPEN_ACK_MAX_RANGES];
};

struct nd_refuse {
	uint64_t nonce;            /* echo of the OPEN's nonce */
	uint32_t retry_after_ms;   /* 0: do not retry; else a hint */
	uint8_t reason;            /* enum nd_reason (unknown values allowed) */
	char text[ND_TEXT_MAX + 1];
};

struct nd_data {
	uint64_t offset;           /* core offset of payload[0] */
	uint32_t tsval;            /* sender clock (us, truncated) at transmission */
	uint16_t len;              /* 1..ND_PAYLOAD_MAX */
	const uint8_t *payload;    /* decode: points into the decoded buffer */
};

struct nd_ack {
	uint64_t cum;              /* every byte below cum is held */
	uint32_t tsecr;            /* tsval of the most recently received DATA */
	uint8_t has_echo;          /* tsecr is valid (no DATA seen yet: 0) */
	uint32_t window;           /* current receive window in packets (>= 1) */
	uint8_t nsack;
	struct nd_range sack[ND_ACK_MAX_SACK]; /* held ranges above cum */
};

struct nd_finish {
	uint64_t size;
	uint8_t sha256[ND_SHA256_LEN];
};

struct nd_result {
	uint8_t code;              /* enum nd_result_code */
	uint8_t reason;            /* enum nd_reason when code is REFUSED, else 0 */
	uint8_t sha256[ND_SHA256_LEN]; /* digest of what the collector holds (zero if none) */
	char text[ND_TEXT_MAX + 1];
};

/* One decoded message.  Only the union member named by type is meaningful. */
struct nd_msg {
	uint8_t type;              /* enum nd_type */
	uint64_t cookie;
	union {
		struct nd_open open;
		struct nd_open_ack open_ack;
		struct nd_refuse refuse;
		struct nd_data data;
		struct nd_ack ack;
		struct nd_finish finish;
		struct nd_result result;
	} u;
};

/* Header fields, readable even when the version is unknown (see nd_peek). */
struct nd_hdr {
	uint8_t version;
	uint8_t type;
	uint64_t cookie;
};

/*
 * Read only the fixed header.  Checks length and magic, not version or type, so
 * a collector can answer an OPEN of another version with REFUSE(BAD_VERSION): the
 * spec freezes the OPEN nonce at bytes 12..19 in every version.
 */
enum nd_err nd_peek(const uint8_t *buf, size_t len, struct nd_hdr *h);

/*
 * Decode one whole message (exactly len bytes: trailing bytes are an error).
 * Every length is checked against len before use; strings are NUL-terminated in
 * *m.  DATA's payload pointer aliases buf.  On error *m is unspecified.
 */
enum nd_err nd_decode(const uint8_t *buf, size_t len, struct nd_msg *m);

/*
 * Encode *m into out[0..cap).  On success *len is the message size.  Refuses
 * (ND_E_FIELD/ND_E_STRING/ND_E_TOO_MANY) to encode what nd_decode would reject,
 * so a peer never receives an invalid message from us.
 */
enum nd_err nd_encode(const struct nd_msg *m, uint8_t *out, size_t cap, size_t *len);

/*
 * Write the DATA header (ND_DATA_HDR_LEN bytes) for a payload of len bytes that
 * the caller places at out + ND_DATA_HDR_LEN itself (e.g. read straight from the
 * core), avoiding a copy.  out must have ND_DATA_HDR_LEN + len bytes.
 */
void nd_encode_data_hdr(uint8_t *out, uint64_t cookie, uint64_t offset, uint32_t tsval,
                        uint16_t len);

/*
 * Session cookie: HMAC-SHA256(secret, "netdump-cookie-v1" | u8 len(device) |
 * device | boot_id[16] | seq u32 | u8 addrlen | addr) truncated to its first 8
 * bytes (big-endian u64); 0 is reserved for "no cookie" and maps to 1.  addr is
 * the sender's transport address in any canonical byte form the collector
 * chooses (e.g. 16-byte IPv6 address + 2-byte port; at most 255 bytes), so a
 * cookie observed from one address is useless from another.
 */
uint64_t nd_cookie(const void *secret, size_t secret_len, const char *device,
                   const uint8_t boot_id[ND_BOOTID_LEN], uint32_t seq,
                   const void *addr, size_t addr_len);

/*
 * Framing.  Datagram transports (UDP) carry exactly one message per datagram and
 * need nothing more.  Byte-stream transports (TLS, TCP) carry each message as
 * [u16 length][message] with length in ND_HDR_LEN..65535.
 */
#define ND_FRAME_HDR_LEN 2

/* Prefix out with the length of a msg_len-byte message that follows at out + 2. */
enum nd_err nd_frame_put(uint8_t *out, size_t msg_len);

/* Stream reassembler: feed arbitrary chunks, get whole messages.  The caller
 * supplies the buffer; messages longer than cap are an ND_E_FRAME error. */
struct nd_stream {
	uint8_t *buf;
	size_t cap;
	size_t have;         /* bytes of the current frame body collected */
	size_t need;         /* body length of the current frame, 0: reading prefix */
	uint8_t pfx[ND_FRAME_HDR_LEN];
	uint8_t npfx;        /* prefix bytes collected */
	uint8_t failed;      /* sticky after ND_E_FRAME: the stream is out of sync */
};

void nd_stream_init(struct nd_stream *s, uint8_t *buf, size_t cap);

/*
 * Consume bytes from data[0..len).  *used is set to the bytes consumed.  When a
 * whole message is ready, returns ND_OK with *msg and *msg_len set (valid until the
 * next call) and stops consuming; call again with the rest.  When the chunk is
 * used up without completing a message, returns ND_OK with *msg = NULL.  A bad
 * prefix returns ND_E_FRAME and every later call fails too (close the stream).
 */
enum nd_err nd_stream_push(struct nd_stream *s, const uint8_t *data, size_t len,
                           size_t *used, const uint8_t **msg, size_t *msg_len);

#endif /* NETDUMP_NETDUMP_H */
