/* collector/tls/fastrec.c: DTLS 1.2 AES-128-GCM application records, sender to collector, sealed and opened with libcrypto. */
#include "collector/tls/tls.h"

#include <string.h>

#include <openssl/evp.h>

/*
 * Why this exists: mbedtls 2.28 runs AES-GCM at about 310 MB/s per core (its
 * GHASH multiplies one 16-byte block per call), and corecastd opens every
 * record of every device on its single loop thread: with mbedtls's record
 * layer, dtls:// reached under half of plain udp:// on loopback.  libcrypto's
 * AES-GCM (AES-NI with aggregated PCLMULQDQ) is about ten times faster.
 *
 * mbedtls still does everything else: the handshake, key derivation, every
 * record the collector sends, alerts, and any record this code does not
 * recognise.  Only the bulk direction uses this path, and only the record
 * format of RFC 6347 §4.1 with RFC 5288/5246 AEAD is produced or accepted:
 *
 *   header  type(23) version(fe fd) epoch(2) seq(6) length(2)
 *   body    explicit nonce (8: = epoch||seq, as mbedtls writes it)
 *           ciphertext, tag (16)
 *   nonce   client_write_IV(4) || explicit nonce
 *   AAD     epoch||seq(8) type(1) version(2) plaintext length(2)
 *
 * Nonce uniqueness: the sender takes each record's sequence number from
 * mbedtls's own outgoing counter (ssl.cur_out_ctr) and advances it there, so
 * records mbedtls writes later (close_notify) never reuse a nonce.  The
 * collector keeps its own replay window for the records it opens here.
 */

static struct cctls_conn *exporting;   /* the connection whose handshake is running */

static int export_keys(void *ctx, const unsigned char *ms, const unsigned char *kb,
		       size_t maclen, size_t keylen, size_t ivlen,
		       const unsigned char client_random[32],
		       const unsigned char server_random[32], mbedtls_tls_prf_types prf)
{
	struct cctls_conn *k = exporting;

	(void)ctx; (void)ms; (void)client_random; (void)server_random; (void)prf;
	if (k == NULL)
		return 0;
	k->fast.have_keys = false;
	/* key block: [client MAC][server MAC][client key][server key][client IV][server IV] */
	if (maclen != 0 || keylen != sizeof k->fast.key || ivlen != sizeof k->fast.iv)
		return 0;     /* not AES-128 AEAD: mbedtls keeps every record */
	memcpy(k->fast.key, kb, keylen);
	memcpy(k->fast.iv, kb + 2 * keylen, ivlen);
	k->fast.have_keys = true;
	return 0;
}

void cctls_fast_register(struct cctls_cfg *c)
{
	if (c->transport == CCTLS_DTLS)
		mbedtls_ssl_conf_export_keys_ext_cb(&c->conf, export_keys, NULL);
}

void cctls_fast_hs_begin(struct cctls_conn *k)
{
	exporting = k;
}

void cctls_fast_hs_end(void)
{
	exporting = NULL;
}

int cctls_fast_enable(struct cctls_conn *k)
{
	EVP_CIPHER_CTX *ctx;
	int suite;
	int enc = k->cfg->role == CCTLS_CLIENT;

	if (k->fast.ready || !k->fast.have_keys || k->cfg->transport != CCTLS_DTLS ||
	    k->ssl.session == NULL)
		return k->fast.ready;
	suite = k->ssl.session->ciphersuite;
	if (suite != MBEDTLS_TLS_PSK_WITH_AES_128_GCM_SHA256 &&
	    suite != MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 &&
	    suite != MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
		return 0;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return 0;
	if (EVP_CipherInit_ex(ctx, EVP_aes_128_gcm(), NULL, k->fast.key, NULL, enc) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return 0;
	}
	k->fast.evp = ctx;
	k->fast.ready = true;
	return 1;
}

void cctls_fast_free(struct cctls_conn *k)
{
	if (k->fast.evp)
		EVP_CIPHER_CTX_free(k->fast.evp);
	memset(&k->fast, 0, sizeof k->fast);
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

size_t cctls_fast_seal(struct cctls_conn *k, const uint8_t *msg, size_t len,
		       uint8_t *out, size_t cap)
{
	EVP_CIPHER_CTX *ctx = k->fast.evp;
	uint8_t *ctr = k->ssl.cur_out_ctr, nonce[12], aad[13];
	size_t rlen = CCTLS_FAST_HDR + len + CCTLS_FAST_TAG;
	int n;

	if (!k->fast.ready || k->cfg->role != CCTLS_CLIENT || len > 16384 || rlen > cap)
		return 0;
	/* The sequence number must not wrap (RFC 6347 §4.1): renegotiation is
	 * off, so a wrapped connection is closed instead. */
	if (memcmp(ctr + 2, "\xff\xff\xff\xff\xff\xff", 6) == 0)
		return 0;
	out[0] = MBEDTLS_SSL_MSG_APPLICATION_DATA;
	out[1] = 0xfe;
	out[2] = 0xfd;
	memcpy(out + 3, ctr, 8);
	put16(out + 11, 8 + len + CCTLS_FAST_TAG);
	memcpy(out + 13, ctr, 8);                  /* explicit nonce */
	memcpy(nonce, k->fast.iv, 4);
	memcpy(nonce + 4, ctr, 8);
	memcpy(aad, ctr, 8);
	memcpy(aad + 8, out, 3);
	put16(aad + 11, len);
	if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, aad, sizeof aad) != 1 ||
	    EVP_EncryptUpdate(ctx, out + CCTLS_FAST_HDR, &n, msg, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, out + CCTLS_FAST_HDR + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CCTLS_FAST_TAG,
				out + CCTLS_FAST_HDR + len) != 1)
		return 0;
	/* advance mbedtls's counter: the next record, ours or its, gets the next nonce */
	for (int i = 7; i >= 2; i--)
		if (++ctr[i] != 0)
			break;
	return rlen;
}

/* RFC 6347 §4.1.2.6: a 64-record sliding window. */
static int replay_seen(const struct cctls_fast *f, uint64_t seq)
{
	if (!f->win_init || seq > f->win_top)
		return 0;
	if (f->win_top - seq >= 64)
		return 1;
	return (f->win >> (f->win_top - seq)) & 1;
}

static void replay_mark(struct cctls_fast *f, uint64_t seq)
{
	if (!f->win_init) {
		f->win_init = true;
		f->win_top = seq;
		f->win = 1;
	} else if (seq > f->win_top) {
		uint64_t shift = seq - f->win_top;
		f->win = shift >= 64 ? 1 : (f->win << shift) | 1;
		f->win_top = seq;
	} else {
		f->win |= (uint64_t)1 << (f->win_top - seq);
	}
}

int cctls_fast_open(struct cctls_conn *k, uint8_t *rec, size_t len, uint8_t **plain,
		    size_t *plen)
{
	EVP_CIPHER_CTX *ctx = k->fast.evp;
	uint8_t nonce[12], aad[13];
	size_t body, clen;
	uint64_t seq = 0;
	int n;

	if (!k->fast.ready || k->cfg->role != CCTLS_SERVER)
		return 0;
	/* Exactly one application record of epoch 1 fills the datagram; anything
	 * else (alerts, handshake retransmissions, several records) is mbedtls's. */
	if (len < CCTLS_FAST_HDR + CCTLS_FAST_TAG || rec[0] != MBEDTLS_SSL_MSG_APPLICATION_DATA ||
	    rec[1] != 0xfe || rec[2] != 0xfd || rec[3] != 0 || rec[4] != 1)
		return 0;
	body = (size_t)rec[11] << 8 | rec[12];
	if (body != len - 13 || memcmp(rec + 3, rec + 13, 8) != 0)
		return 0;
	for (int i = 5; i < 11; i++)
		seq = seq << 8 | rec[i];
	if (replay_seen(&k->fast, seq))
		return -1;
	clen = len - CCTLS_FAST_HDR - CCTLS_FAST_TAG;
	memcpy(nonce, k->fast.iv, 4);
	memcpy(nonce + 4, rec + 13, 8);
	memcpy(aad, rec + 3, 8);
	memcpy(aad + 8, rec, 3);
	put16(aad + 11, clen);
	if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, aad, sizeof aad) != 1 ||
	    EVP_DecryptUpdate(ctx, rec + CCTLS_FAST_HDR, &n, rec + CCTLS_FAST_HDR,
			      (int)clen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CCTLS_FAST_TAG,
				rec + CCTLS_FAST_HDR + clen) != 1 ||
	    EVP_DecryptFinal_ex(ctx, rec + CCTLS_FAST_HDR + clen, &n) != 1)
		return -1;      /* forged or damaged: dropped, as mbedtls drops them */
	replay_mark(&k->fast, seq);
	*plain = rec + CCTLS_FAST_HDR;
	*plen = clen;
	return 1;
}
