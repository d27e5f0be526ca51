/* collector/tls/tls.h: mbedtls glue shared by corecastd and corecast-send (configs, cookies, timers, BIO). */
#ifndef CCTLS_TLS_H
#define CCTLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cookie.h>
#include <mbedtls/x509_crt.h>

/*
 * Both ends speak TLS 1.2 only (DTLS 1.2 over UDP, TLS 1.2 over TCP) with
 * AES-GCM suites: AES-NI and PCLMULQDQ make them the cheapest AEAD on the
 * collector's x86 hosts, and small devices have AES in hardware more often
 * than ChaCha.  PSK (identity = device id) needs no public-key code on the
 * device; certificates use ECDHE so a stolen collector key cannot decrypt
 * recorded traffic.
 */

enum cctls_transport { CCTLS_DTLS, CCTLS_TLS };

/* Record protection.  Servers accept both; a client offers the one it is told. */
enum cctls_aead {
	CCTLS_AES_GCM = 0,      /* AES-128-GCM: the default (AES hardware is common) */
	CCTLS_CHACHA,           /* ChaCha20-Poly1305: faster in software (no AES unit) */
};
enum cctls_role { CCTLS_CLIENT, CCTLS_SERVER };

enum cctls_err {
	CCTLS_OK = 0,
	CCTLS_E_MEM,       /* out of memory */
	CCTLS_E_RNG,       /* the random generator could not be seeded */
	CCTLS_E_CERT,      /* own certificate unreadable or invalid */
	CCTLS_E_KEY,       /* private key unreadable, invalid or not the cert's */
	CCTLS_E_CA,        /* CA file unreadable or invalid */
	CCTLS_E_PSK,       /* PSK or identity unacceptable */
	CCTLS_E_SETUP,     /* mbedtls refused the configuration */
};

const char *cctls_strerror(enum cctls_err e);

/* PSK_WITH_AES_128_GCM is what mbedtls calls TLS_PSK_WITH_AES_128_GCM_SHA256. */
#define CCTLS_PSK_MIN   16     /* bytes: anything shorter is guessable offline */
#define CCTLS_PSK_MAX   64
#define CCTLS_ID_MAX    64     /* identities are netdump device ids */

struct cctls_conn;

/* Shared, per-process: one per role and transport. */
struct cctls_cfg {
	mbedtls_ssl_config conf;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt own, ca;
	mbedtls_pk_context key;
	mbedtls_ssl_cookie_ctx cookie;      /* DTLS server: HelloVerifyRequest */
	enum cctls_role role;
	enum cctls_transport transport;
	bool have_cert, have_ca, have_psk;
	enum cctls_aead aead;               /* client: what to offer */
	int suites[12];
	char detail[200];                   /* mbedtls's words for the last failure */
	/* Server policy on the peer's (chain-verified) leaf certificate: return 0
	 * to accept, or set bits in *flags (MBEDTLS_X509_BADCERT_OTHER) to refuse. */
	int (*check_cert)(void *ctx, struct cctls_conn *k, const mbedtls_x509_crt *crt,
			  uint32_t *flags);
	void *check_ctx;
};

enum cctls_err cctls_cfg_init(struct cctls_cfg *c, enum cctls_role role,
			      enum cctls_transport transport);
/*
 * Own certificate and key (server: always presented when given; client: the
 * device certificate) and the CA the peer's certificate must chain to (server:
 * the fleet CA; client: the collector's CA).  Any may be NULL.  When a CA is
 * given the peer must present a certificate that verifies against it (except
 * on PSK suites, which carry no certificates).
 */
enum cctls_err cctls_cfg_certs(struct cctls_cfg *c, const char *cert, const char *key,
			       const char *ca);
/* Client: authenticate with a PSK under identity (the device id). */
enum cctls_err cctls_cfg_psk(struct cctls_cfg *c, const char *identity,
			     const uint8_t *key, size_t keylen);
/*
 * Server: f is called with the PSK identity a client names and must answer
 * with mbedtls_ssl_set_hs_psk (0) or fail (non-zero: unknown identity).
 */
void cctls_cfg_psk_cb(struct cctls_cfg *c,
		      int (*f)(void *, mbedtls_ssl_context *, const unsigned char *, size_t),
		      void *ctx);
/* Pick the cipher suites from what was configured; call after the above. */
enum cctls_err cctls_cfg_finish(struct cctls_cfg *c);
void cctls_cfg_free(struct cctls_cfg *c);

/* DTLS bulk records sealed/opened with libcrypto (fastrec.c). */
#define CCTLS_FAST_HDR  (13 + 8)     /* record header + explicit nonce */
#define CCTLS_FAST_TAG  16

struct cctls_fast {
	bool have_keys, ready;
	uint8_t key[16];                    /* client_write_key */
	uint8_t iv[4];                      /* client_write_IV (implicit nonce) */
	void *evp;                          /* EVP_CIPHER_CTX keyed for our direction */
	bool win_init;                      /* collector: replay window */
	uint64_t win_top, win;
};

/*
 * One connection.  Input is pushed: the owner reads a datagram (or stream
 * bytes) from its socket and hands it over with cctls_feed before calling into
 * mbedtls; the receive callback serves those bytes and then says WANT_READ.
 * Output goes through out(), which the owner supplies (queue a datagram, write
 * to a socket...).  Nothing here blocks or touches a socket.
 */
struct cctls_conn {
	mbedtls_ssl_context ssl;            /* first: callbacks get back to the conn */
	struct cctls_cfg *cfg;
	const uint8_t *in;
	size_t in_len;
	int (*out)(void *ctx, const uint8_t *buf, size_t len);
	void *out_ctx;
	/* DTLS retransmission timer (mbedtls's two-deadline interface) */
	uint64_t t_start_ms, t_int_ms, t_fin_ms;
	bool t_armed;
	/* What the peer claimed, for logs even when the handshake fails. */
	char identity[CCTLS_ID_MAX + 1];    /* PSK identity or certificate CN */
	bool by_cert;                       /* identity came from a certificate */
	uint32_t verify_flags;              /* certificate verification result */
	int alert;                          /* fatal alert received, -1: none */
	bool unknown_identity;              /* server: the PSK callback knew no key */
	struct cctls_fast fast;
};

/* Milliseconds of a monotonic clock (the DTLS timers run on it). */
uint64_t cctls_now_ms(void);

enum cctls_err cctls_conn_init(struct cctls_conn *k, struct cctls_cfg *c,
			       int (*out)(void *, const uint8_t *, size_t), void *out_ctx);
void cctls_conn_free(struct cctls_conn *k);
/* DTLS server: bind the handshake cookie to the client's address bytes. */
int cctls_conn_client_id(struct cctls_conn *k, const void *id, size_t len);
/* Client: the name the collector's certificate must carry (NULL: none). */
int cctls_conn_hostname(struct cctls_conn *k, const char *name);

static inline void cctls_feed(struct cctls_conn *k, const uint8_t *buf, size_t len)
{
	k->in = buf;
	k->in_len = len;
}

/* Milliseconds until the DTLS timer fires (UINT64_MAX: not armed); 0: expired. */
uint64_t cctls_timer_ms(const struct cctls_conn *k, uint64_t now_ms);

/*
 * Advance the handshake.  Returns 0 when done, MBEDTLS_ERR_SSL_WANT_READ or
 * _WANT_WRITE to be called again with more input (or when the timer expires),
 * or a fatal mbedtls error.
 */
int cctls_handshake(struct cctls_conn *k);
bool cctls_handshake_done(const struct cctls_conn *k);

/* Bytes a record adds to what it carries (header, nonce, tag). */
size_t cctls_overhead(const struct cctls_conn *k);

/*
 * Why a handshake failed, in words an operator acts on ("wrong key",
 * "certificate expired", "unknown device"...), from the mbedtls error, the
 * alert the peer sent and the verification flags.
 */
const char *cctls_reason(const struct cctls_conn *k, int err, char *buf, size_t len);

/* Words for a fatal alert's description code; NULL for codes without advice. */
const char *cctls_alert_reason(int alert);

/* SHA-256 of a certificate's DER (the key store's fingerprint). */
void cctls_fingerprint(const mbedtls_x509_crt *crt, uint8_t out[32]);
/* The subject CN, "" if none; 0 on success, -1 if longer than len - 1. */
int cctls_cert_cn(const mbedtls_x509_crt *crt, char *out, size_t len);

/*
 * The bulk path (fastrec.c): after a DTLS handshake on an AES-128-GCM suite the
 * client seals application records and the server opens them with libcrypto;
 * mbedtls keeps everything else.  cctls_handshake enables it by itself.
 */
void cctls_fast_register(struct cctls_cfg *c);
void cctls_fast_hs_begin(struct cctls_conn *k);
void cctls_fast_hs_end(void);
int cctls_fast_enable(struct cctls_conn *k);
void cctls_fast_free(struct cctls_conn *k);
/* Client: one record for msg into out; its length, 0 if this path cannot. */
size_t cctls_fast_seal(struct cctls_conn *k, const uint8_t *msg, size_t len,
		       uint8_t *out, size_t cap);
/*
 * Server: open a datagram holding one application record, in place.  1: *plain
 * and *plen are the message; 0: not for this path (give it to mbedtls); -1:
 * forged, damaged or replayed (drop it).
 */
int cctls_fast_open(struct cctls_conn *k, uint8_t *rec, size_t len, uint8_t **plain,
		    size_t *plen);

#endif /* CCTLS_TLS_H */
