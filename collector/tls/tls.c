/* collector/tls/tls.c: mbedtls configuration, push-style BIO, DTLS timers and failure reasons. */
#include "collector/tls/tls.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/error.h>
#include <mbedtls/sha256.h>
#include <mbedtls/oid.h>

const char *cctls_strerror(enum cctls_err e)
{
	switch (e) {
	case CCTLS_OK: return "ok";
	case CCTLS_E_MEM: return "out of memory";
	case CCTLS_E_RNG: return "cannot seed the random generator";
	case CCTLS_E_CERT: return "certificate unreadable or invalid";
	case CCTLS_E_KEY: return "private key unreadable, invalid or not the certificate's";
	case CCTLS_E_CA: return "CA certificate unreadable or invalid";
	case CCTLS_E_PSK: return "PSK must be 16-64 bytes and the identity 1-64 bytes";
	case CCTLS_E_SETUP: return "TLS configuration rejected";
	}
	return "unknown TLS error";
}

uint64_t cctls_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void set_detail(struct cctls_cfg *c, const char *what, int err)
{
	char e[120];

	mbedtls_strerror(err, e, sizeof e);
	snprintf(c->detail, sizeof c->detail, "%s: %s", what, e);
}

enum cctls_err cctls_cfg_init(struct cctls_cfg *c, enum cctls_role role,
			      enum cctls_transport transport)
{
	static const char pers[] = "corecast";
	int r;

	memset(c, 0, sizeof *c);
	c->role = role;
	c->transport = transport;
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_entropy_init(&c->entropy);
	mbedtls_ctr_drbg_init(&c->drbg);
	mbedtls_x509_crt_init(&c->own);
	mbedtls_x509_crt_init(&c->ca);
	mbedtls_pk_init(&c->key);
	mbedtls_ssl_cookie_init(&c->cookie);

	/* The OS entropy source (getrandom) seeds the DRBG: never a fixed seed. */
	r = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy,
				  (const unsigned char *)pers, sizeof pers - 1);
	if (r != 0) {
		set_detail(c, "ctr_drbg_seed", r);
		return CCTLS_E_RNG;
	}
	r = mbedtls_ssl_config_defaults(&c->conf,
					role == CCTLS_SERVER ? MBEDTLS_SSL_IS_SERVER
							     : MBEDTLS_SSL_IS_CLIENT,
					transport == CCTLS_DTLS ? MBEDTLS_SSL_TRANSPORT_DATAGRAM
								: MBEDTLS_SSL_TRANSPORT_STREAM,
					MBEDTLS_SSL_PRESET_DEFAULT);
	if (r != 0) {
		set_detail(c, "ssl_config_defaults", r);
		return CCTLS_E_SETUP;
	}
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
	/* Renegotiation would let a peer restart the expensive part at will. */
	mbedtls_ssl_conf_renegotiation(&c->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	cctls_fast_register(c);
	if (transport == CCTLS_DTLS) {
		/* First retransmission after 1 s, give up after ~30 s of silence:
		 * a device on a lossy link gets several tries. */
		mbedtls_ssl_conf_handshake_timeout(&c->conf, 1000, 32000);
		if (role == CCTLS_SERVER) {
			r = mbedtls_ssl_cookie_setup(&c->cookie, mbedtls_ctr_drbg_random, &c->drbg);
			if (r != 0) {
				set_detail(c, "ssl_cookie_setup", r);
				return CCTLS_E_SETUP;
			}
			/* HelloVerifyRequest: a source must echo a cookie bound to its
			 * address before the server keeps any state for it. */
			mbedtls_ssl_conf_dtls_cookies(&c->conf, mbedtls_ssl_cookie_write,
						      mbedtls_ssl_cookie_check, &c->cookie);
		}
	}
	return CCTLS_OK;
}

enum cctls_err cctls_cfg_certs(struct cctls_cfg *c, const char *cert, const char *key,
			       const char *ca)
{
	int r;

	if (cert != NULL) {
		r = mbedtls_x509_crt_parse_file(&c->own, cert);
		if (r != 0) {
			set_detail(c, cert, r);
			return CCTLS_E_CERT;
		}
		r = key != NULL ? mbedtls_pk_parse_keyfile(&c->key, key, NULL)
				: MBEDTLS_ERR_PK_FILE_IO_ERROR;
		if (r != 0) {
			set_detail(c, key ? key : "(no key file)", r);
			return CCTLS_E_KEY;
		}
		r = mbedtls_pk_check_pair(&c->own.pk, &c->key);
		if (r != 0) {
			set_detail(c, key, r);
			return CCTLS_E_KEY;
		}
		r = mbedtls_ssl_conf_own_cert(&c->conf, &c->own, &c->key);
		if (r != 0) {
			set_detail(c, "ssl_conf_own_cert", r);
			return CCTLS_E_SETUP;
		}
		c->have_cert = true;
	}
	if (ca != NULL) {
		r = mbedtls_x509_crt_parse_file(&c->ca, ca);
		if (r != 0) {
			set_detail(c, ca, r);
			return CCTLS_E_CA;
		}
		mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
		/* REQUIRED only matters on certificate suites: PSK suites carry
		 * no certificates, so PSK devices are unaffected. */
		mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
		c->have_ca = true;
	}
	return CCTLS_OK;
}

enum cctls_err cctls_cfg_psk(struct cctls_cfg *c, const char *identity,
			     const uint8_t *key, size_t keylen)
{
	size_t il = strlen(identity);
	int r;

	if (keylen < CCTLS_PSK_MIN || keylen > CCTLS_PSK_MAX || il == 0 || il > CCTLS_ID_MAX)
		return CCTLS_E_PSK;
	r = mbedtls_ssl_conf_psk(&c->conf, key, keylen, (const unsigned char *)identity, il);
	if (r != 0) {
		set_detail(c, "ssl_conf_psk", r);
		return CCTLS_E_PSK;
	}
	c->have_psk = true;
	return CCTLS_OK;
}

void cctls_cfg_psk_cb(struct cctls_cfg *c,
		      int (*f)(void *, mbedtls_ssl_context *, const unsigned char *, size_t),
		      void *ctx)
{
	mbedtls_ssl_conf_psk_cb(&c->conf, f, ctx);
	c->have_psk = true;
}

enum cctls_err cctls_cfg_finish(struct cctls_cfg *c)
{
	int n = 0;
	bool gcm = c->role == CCTLS_SERVER || c->aead == CCTLS_AES_GCM;
	bool chacha = c->role == CCTLS_SERVER || c->aead == CCTLS_CHACHA;

	/* A client offers one family: with a PSK it must not fall back to an
	 * anonymous-looking certificate handshake, and vice versa.  The server
	 * lists AES-GCM first and so prefers it when a client offers both. */
	if (c->have_psk && gcm)
		c->suites[n++] = MBEDTLS_TLS_PSK_WITH_AES_128_GCM_SHA256;
	if (c->have_psk && chacha)
		c->suites[n++] = MBEDTLS_TLS_PSK_WITH_CHACHA20_POLY1305_SHA256;
	if ((c->role == CCTLS_SERVER && c->have_cert) ||
	    (c->role == CCTLS_CLIENT && !c->have_psk)) {
		if (gcm) {
			c->suites[n++] = MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
			c->suites[n++] = MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
		}
		if (chacha) {
			c->suites[n++] = MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;
			c->suites[n++] = MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256;
		}
	}
	c->suites[n] = 0;
	if (n == 0) {
		snprintf(c->detail, sizeof c->detail,
			 "neither a PSK nor a certificate is configured");
		return CCTLS_E_SETUP;
	}
	mbedtls_ssl_conf_ciphersuites(&c->conf, c->suites);
	return CCTLS_OK;
}

void cctls_cfg_free(struct cctls_cfg *c)
{
	mbedtls_ssl_cookie_free(&c->cookie);
	mbedtls_pk_free(&c->key);
	mbedtls_x509_crt_free(&c->ca);
	mbedtls_x509_crt_free(&c->own);
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_ctr_drbg_free(&c->drbg);
	mbedtls_entropy_free(&c->entropy);
}

/* ---- per connection --------------------------------------------------- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct cctls_conn *k = ctx;

	return k->out(k->out_ctx, buf, len);
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct cctls_conn *k = ctx;
	size_t n;

	if (k->in_len == 0)
		return MBEDTLS_ERR_SSL_WANT_READ;
	n = k->in_len < len ? k->in_len : len;
	memcpy(buf, k->in, n);
	if (k->cfg->transport == CCTLS_DTLS) {
		/* A datagram is read whole or not at all: a longer one than the
		 * record buffer is cut, and fails its record checks. */
		k->in_len = 0;
	} else {
		k->in += n;
		k->in_len -= n;
	}
	return (int)n;
}

static void timer_set(void *ctx, uint32_t int_ms, uint32_t fin_ms)
{
	struct cctls_conn *k = ctx;

	k->t_armed = fin_ms != 0;
	k->t_int_ms = int_ms;
	k->t_fin_ms = fin_ms;
	k->t_start_ms = cctls_now_ms();
}

static int timer_get(void *ctx)
{
	const struct cctls_conn *k = ctx;
	uint64_t el;

	if (!k->t_armed)
		return -1;
	el = cctls_now_ms() - k->t_start_ms;
	if (el >= k->t_fin_ms)
		return 2;
	if (el >= k->t_int_ms)
		return 1;
	return 0;
}

uint64_t cctls_timer_ms(const struct cctls_conn *k, uint64_t now_ms)
{
	uint64_t due;

	if (!k->t_armed)
		return UINT64_MAX;
	due = k->t_start_ms + k->t_fin_ms;
	return now_ms >= due ? 0 : due - now_ms;
}

static int verify(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct cctls_conn *k = ctx;

	if (depth != 0)
		return 0;
	/* The leaf names the device (or the collector): kept for the logs
	 * whatever the verdict. */
	if (cctls_cert_cn(crt, k->identity, sizeof k->identity) < 0)
		snprintf(k->identity, sizeof k->identity, "(CN too long)");
	k->by_cert = true;
	if (*flags == 0 && k->cfg->check_cert)
		k->cfg->check_cert(k->cfg->check_ctx, k, crt, flags);
	k->verify_flags = *flags;
	return 0;
}

enum cctls_err cctls_conn_init(struct cctls_conn *k, struct cctls_cfg *c,
			       int (*out)(void *, const uint8_t *, size_t), void *out_ctx)
{
	int r;

	memset(k, 0, sizeof *k);
	k->cfg = c;
	k->out = out;
	k->out_ctx = out_ctx;
	k->alert = -1;
	mbedtls_ssl_init(&k->ssl);
	r = mbedtls_ssl_setup(&k->ssl, &c->conf);
	if (r != 0) {
		set_detail(c, "ssl_setup", r);
		mbedtls_ssl_free(&k->ssl);
		return r == MBEDTLS_ERR_SSL_ALLOC_FAILED ? CCTLS_E_MEM : CCTLS_E_SETUP;
	}
	mbedtls_ssl_set_bio(&k->ssl, k, bio_send, bio_recv, NULL);
	if (c->transport == CCTLS_DTLS)
		mbedtls_ssl_set_timer_cb(&k->ssl, k, timer_set, timer_get);
	mbedtls_ssl_set_verify(&k->ssl, verify, k);
	return CCTLS_OK;
}

void cctls_conn_free(struct cctls_conn *k)
{
	cctls_fast_free(k);
	mbedtls_ssl_free(&k->ssl);
}

int cctls_conn_client_id(struct cctls_conn *k, const void *id, size_t len)
{
	return mbedtls_ssl_set_client_transport_id(&k->ssl, id, len);
}

int cctls_conn_hostname(struct cctls_conn *k, const char *name)
{
	return mbedtls_ssl_set_hostname(&k->ssl, name);
}

int cctls_handshake(struct cctls_conn *k)
{
	int r;

	cctls_fast_hs_begin(k);
	r = mbedtls_ssl_handshake(&k->ssl);
	cctls_fast_hs_end();
	if (r == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && k->ssl.in_msg != NULL)
		k->alert = k->ssl.in_msg[1];
	if (r == 0)
		cctls_fast_enable(k);
	return r;
}

bool cctls_handshake_done(const struct cctls_conn *k)
{
	return k->ssl.state == MBEDTLS_SSL_HANDSHAKE_OVER;
}

size_t cctls_overhead(const struct cctls_conn *k)
{
	int n = mbedtls_ssl_get_record_expansion(&k->ssl);

	return n > 0 ? (size_t)n : 64;
}

const char *cctls_alert_reason(int alert)
{
	switch (alert) {
	case MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC:
	case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR:
		return "wrong key: the peer could not verify the handshake";
	case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_PSK_IDENTITY:
		return "unknown device: the collector has no key for this identity";
	case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED:
		return "certificate expired";
	case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA:
		return "certificate not issued by a CA the peer trusts";
	case MBEDTLS_SSL_ALERT_MSG_BAD_CERT:
	case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT:
	case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN:
		return "certificate refused by the peer (untrusted, or not in its key store)";
	case MBEDTLS_SSL_ALERT_MSG_NO_CERT:
		return "the peer wants a certificate";
	case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE:
		return "no common authentication method (PSK vs certificate) or cipher suite";
	case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION:
		return "the peer does not speak (D)TLS 1.2";
	case MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED:
		/* mbedtls answers a certificate our policy refused this way. */
		return "access denied: the peer does not allow this device or certificate "
		       "(not in its key store?)";
	}
	return NULL;
}

static const char *flags_reason(uint32_t f)
{
	if (f & MBEDTLS_X509_BADCERT_EXPIRED)
		return "certificate expired";
	if (f & MBEDTLS_X509_BADCERT_FUTURE)
		return "certificate not yet valid";
	if (f & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		return "certificate not issued by the trusted CA";
	if (f & MBEDTLS_X509_BADCERT_REVOKED)
		return "certificate revoked";
	if (f & MBEDTLS_X509_BADCERT_CN_MISMATCH)
		return "certificate names another host";
	if (f & MBEDTLS_X509_BADCERT_OTHER)
		return "certificate not allowed by the key store (unknown device or fingerprint)";
	if (f & MBEDTLS_X509_BADCERT_MISSING)
		return "no certificate presented";
	return NULL;
}

const char *cctls_reason(const struct cctls_conn *k, int err, char *buf, size_t len)
{
	const char *s = NULL;
	char e[120];

	if (k->unknown_identity)
		s = "unknown device: no key for this PSK identity";
	else if (k->alert >= 0 && (s = cctls_alert_reason(k->alert)) != NULL)
		;
	else if (k->verify_flags && (s = flags_reason(k->verify_flags)) != NULL)
		;
	else {
		switch (err) {
		case MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY:
			s = "unknown device: no key for this PSK identity";
			break;
		case MBEDTLS_ERR_SSL_INVALID_MAC:
			s = "wrong key: the handshake's Finished did not verify";
			break;
		case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
		case MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED:
			s = "no acceptable certificate presented";
			break;
		case MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE:
			s = "no common authentication method (PSK vs certificate) or cipher suite";
			break;
		case MBEDTLS_ERR_SSL_TIMEOUT:
			s = "handshake timed out";
			break;
		case MBEDTLS_ERR_SSL_CONN_EOF:
			s = "the peer closed the connection during the handshake";
			break;
		default:
			break;
		}
	}
	if (s == NULL) {
		mbedtls_strerror(err, e, sizeof e);
		if (k->alert >= 0)
			snprintf(buf, len, "%s (alert %d)", e, k->alert);
		else
			snprintf(buf, len, "%s", e);
		return buf;
	}
	snprintf(buf, len, "%s", s);
	return buf;
}

void cctls_fingerprint(const mbedtls_x509_crt *crt, uint8_t out[32])
{
	mbedtls_sha256_ret(crt->raw.p, crt->raw.len, out, 0);
}

int cctls_cert_cn(const mbedtls_x509_crt *crt, char *out, size_t len)
{
	const mbedtls_x509_name *n;

	out[0] = '\0';
	for (n = &crt->subject; n != NULL; n = n->next) {
		if (n->oid.p == NULL || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0)
			continue;
		if (n->val.len >= len)
			return -1;
		for (size_t i = 0; i < n->val.len; i++) {
			unsigned char ch = n->val.p[i];
			out[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
		}
		out[n->val.len] = '\0';
		return 0;
	}
	return 0;
}
