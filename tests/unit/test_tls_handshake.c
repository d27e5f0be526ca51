/* tests/unit/test_tls_handshake.c: collector/tls glue — real mbedtls DTLS/TLS handshakes in memory, cookies, failure reasons, retransmission. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "collector/keystore/keystore.h"
#include "collector/tls/tls.h"

/* A queue of datagrams (or stream chunks) from one side to the other. */
struct wire {
	uint8_t buf[32][4096];
	size_t len[32];
	int head, n;
	int dropped;
	int drop_next;      /* lose this many of the next datagrams */
};

static int to_wire(void *ctx, const uint8_t *b, size_t l)
{
	struct wire *w = ctx;

	if (w->drop_next > 0) {
		w->drop_next--;
		w->dropped++;
		return (int)l;
	}
	assert_true(w->n < 32 && l <= 4096);
	memcpy(w->buf[(w->head + w->n) % 32], b, l);
	w->len[(w->head + w->n) % 32] = l;
	w->n++;
	return (int)l;
}

static const uint8_t KEY[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

struct server_side {
	struct cctls_cfg cfg;
	struct keystore keys;
	int hello_verify;
};

static int psk_cb(void *ctx, mbedtls_ssl_context *ssl, const unsigned char *id, size_t len)
{
	struct server_side *sv = ctx;
	struct cctls_conn *k = (struct cctls_conn *)ssl;
	const struct ks_entry *e;
	char s[KS_ID_MAX];

	if (len >= sizeof s)
		return -1;
	memcpy(s, id, len);
	s[len] = '\0';
	snprintf(k->identity, sizeof k->identity, "%s", s);
	e = ks_find(&sv->keys, s);
	if (e == NULL || e->kind != KS_PSK) {
		k->unknown_identity = true;
		return -1;
	}
	return mbedtls_ssl_set_hs_psk(ssl, e->key, e->keylen);
}

static void server_init(struct server_side *sv, enum cctls_transport t)
{
	char err[128];

	memset(sv, 0, sizeof *sv);
	ks_init(&sv->keys);
	assert_int_equal(ks_parse(&sv->keys, "t", "dev-1 psk 000102030405060708090a0b0c0d0e0f\n",
				  err, sizeof err), KS_OK);
	assert_int_equal(cctls_cfg_init(&sv->cfg, CCTLS_SERVER, t), CCTLS_OK);
	cctls_cfg_psk_cb(&sv->cfg, psk_cb, sv);
	assert_int_equal(cctls_cfg_finish(&sv->cfg), CCTLS_OK);
}

static void client_init(struct cctls_cfg *c, enum cctls_transport t, const char *id,
			const uint8_t *key)
{
	assert_int_equal(cctls_cfg_init(c, CCTLS_CLIENT, t), CCTLS_OK);
	assert_int_equal(cctls_cfg_psk(c, id, key, 16), CCTLS_OK);
	assert_int_equal(cctls_cfg_finish(c), CCTLS_OK);
}

/* Deliver queued datagrams to k, one at a time; returns the last result. */
static int pump(struct wire *w, struct cctls_conn *k, struct server_side *sv, int last)
{
	static const uint8_t client_addr[18] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1, 0x30, 0x39 };

	while (w->n > 0) {
		cctls_feed(k, w->buf[w->head], w->len[w->head]);
		w->head = (w->head + 1) % 32;
		w->n--;
		last = cctls_handshake(k);
		if (sv && last == MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED) {
			/* As corecastd does: keep nothing, be ready for the next hello. */
			sv->hello_verify++;
			mbedtls_ssl_session_reset(&k->ssl);
			cctls_conn_client_id(k, client_addr, sizeof client_addr);
		}
		if (last != 0 && last != MBEDTLS_ERR_SSL_WANT_READ &&
		    last != MBEDTLS_ERR_SSL_WANT_WRITE &&
		    last != MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED)
			break;
	}
	return last;
}

struct pair {
	struct server_side sv;
	struct cctls_cfg ccfg;
	struct cctls_conn c, s;
	struct wire c2s, s2c;
	int rc, rs;
};

static void pair_run(struct pair *p, enum cctls_transport t, const char *id, const uint8_t *key)
{
	static const uint8_t client_addr[18] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1, 0x30, 0x39 };

	memset(&p->c2s, 0, sizeof p->c2s);
	memset(&p->s2c, 0, sizeof p->s2c);
	server_init(&p->sv, t);
	client_init(&p->ccfg, t, id, key);
	assert_int_equal(cctls_conn_init(&p->c, &p->ccfg, to_wire, &p->c2s), CCTLS_OK);
	assert_int_equal(cctls_conn_init(&p->s, &p->sv.cfg, to_wire, &p->s2c), CCTLS_OK);
	if (t == CCTLS_DTLS)
		cctls_conn_client_id(&p->s, client_addr, sizeof client_addr);
	p->rc = cctls_handshake(&p->c);
	p->rs = MBEDTLS_ERR_SSL_WANT_READ;
	for (int round = 0; round < 20; round++) {
		p->rs = pump(&p->c2s, &p->s, &p->sv, p->rs);
		p->rc = pump(&p->s2c, &p->c, NULL, p->rc);
		if ((p->rc == 0 && p->rs == 0) || p->c2s.n + p->s2c.n == 0)
			break;
	}
}

static void pair_free(struct pair *p)
{
	cctls_conn_free(&p->c);
	cctls_conn_free(&p->s);
	cctls_cfg_free(&p->ccfg);
	cctls_cfg_free(&p->sv.cfg);
	ks_free(&p->sv.keys);
}

static void handshake_then_records(enum cctls_transport t)
{
	static struct pair p;
	uint8_t in[256];
	int n;

	pair_run(&p, t, "dev-1", KEY);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.rs, 0);
	assert_true(cctls_handshake_done(&p.c) && cctls_handshake_done(&p.s));
	assert_string_equal(p.s.identity, "dev-1");
	assert_string_equal(mbedtls_ssl_get_ciphersuite(&p.s.ssl),
			    "TLS-PSK-WITH-AES-128-GCM-SHA256");
	if (t == CCTLS_DTLS)
		assert_int_equal(p.sv.hello_verify, 1);    /* the cookie round trip happened */
	/* header + explicit nonce + GCM tag */
	assert_int_equal(cctls_overhead(&p.c), t == CCTLS_DTLS ? 13 + 8 + 16 : 5 + 8 + 16);
	/* a message goes through encrypted: the wire never holds the plaintext */
	assert_int_equal(mbedtls_ssl_write(&p.c.ssl, (const uint8_t *)"netdump-OPEN-marker", 19), 19);
	assert_int_equal(p.c2s.n, 1);
	assert_null(memmem(p.c2s.buf[p.c2s.head], p.c2s.len[p.c2s.head], "marker", 6));
	cctls_feed(&p.s, p.c2s.buf[p.c2s.head], p.c2s.len[p.c2s.head]);
	p.c2s.n = 0;
	n = mbedtls_ssl_read(&p.s.ssl, in, sizeof in);
	assert_int_equal(n, 19);
	assert_memory_equal(in, "netdump-OPEN-marker", 19);
	pair_free(&p);
}

/*
 * The bulk path must speak exactly mbedtls's record format: records it seals
 * are opened by mbedtls, records mbedtls seals are opened by it; it refuses
 * replays and damage, and shares the sequence counter with mbedtls.
 */
static void test_dtls_fast_records_interoperate_with_mbedtls(void **state)
{
	static struct pair p;
	static uint8_t rec[4096], again[4096];
	uint8_t in[256], *pl, seq1[8];
	size_t n, pn;

	(void)state;
	pair_run(&p, CCTLS_DTLS, "dev-1", KEY);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.rs, 0);
	assert_true(p.c.fast.ready && p.s.fast.ready);
	/* sealed here, opened by mbedtls */
	n = cctls_fast_seal(&p.c, (const uint8_t *)"netdump-DATA-one", 16, rec, sizeof rec);
	assert_int_equal(n, CCTLS_FAST_HDR + 16 + CCTLS_FAST_TAG);
	assert_null(memmem(rec, n, "DATA", 4));
	memcpy(seq1, rec + 3, 8);
	cctls_feed(&p.s, rec, n);
	assert_int_equal(mbedtls_ssl_read(&p.s.ssl, in, sizeof in), 16);
	assert_memory_equal(in, "netdump-DATA-one", 16);
	/* sealed by mbedtls (next sequence number, shared counter), opened here */
	assert_int_equal(mbedtls_ssl_write(&p.c.ssl, (const uint8_t *)"netdump-FINISH", 14), 14);
	assert_int_equal(p.c2s.n, 1);
	memcpy(rec, p.c2s.buf[p.c2s.head], p.c2s.len[p.c2s.head]);
	n = p.c2s.len[p.c2s.head];
	p.c2s.n = 0;
	assert_memory_not_equal(rec + 3, seq1, 8);
	assert_int_equal(rec[10], seq1[7] + 1);
	memcpy(again, rec, n);
	assert_int_equal(cctls_fast_open(&p.s, rec, n, &pl, &pn), 1);
	assert_int_equal(pn, 14);
	assert_memory_equal(pl, "netdump-FINISH", 14);
	/* the same record again: a replay */
	assert_int_equal(cctls_fast_open(&p.s, again, n, &pl, &pn), -1);
	/* a fresh record with one bit flipped: forged */
	n = cctls_fast_seal(&p.c, (const uint8_t *)"netdump-DATA-two", 16, rec, sizeof rec);
	rec[CCTLS_FAST_HDR + 3] ^= 1;
	assert_int_equal(cctls_fast_open(&p.s, rec, n, &pl, &pn), -1);
	/* not an epoch-1 application record: left to mbedtls */
	n = cctls_fast_seal(&p.c, (const uint8_t *)"x", 1, rec, sizeof rec);
	rec[0] = MBEDTLS_SSL_MSG_ALERT;
	assert_int_equal(cctls_fast_open(&p.s, rec, n, &pl, &pn), 0);
	assert_int_equal(cctls_fast_open(&p.s, rec, 10, &pl, &pn), 0);
	/* an older record inside the window that was never seen still opens */
	{
		static uint8_t r1[4096], r2[4096];
		size_t n1 = cctls_fast_seal(&p.c, (const uint8_t *)"first", 5, r1, sizeof r1);
		size_t n2 = cctls_fast_seal(&p.c, (const uint8_t *)"second", 6, r2, sizeof r2);
		assert_int_equal(cctls_fast_open(&p.s, r2, n2, &pl, &pn), 1);
		assert_int_equal(cctls_fast_open(&p.s, r1, n1, &pl, &pn), 1);
		assert_memory_equal(pl, "first", 5);
	}
	/* a server never seals on this path, a client never opens */
	assert_int_equal(cctls_fast_seal(&p.s, (const uint8_t *)"x", 1, rec, sizeof rec), 0);
	assert_int_equal(cctls_fast_open(&p.c, rec, n, &pl, &pn), 0);
	pair_free(&p);
}

static void test_dtls_psk_handshake_cookie_and_records(void **state)
{
	(void)state;
	handshake_then_records(CCTLS_DTLS);
}

static void test_tls_psk_handshake_and_records(void **state)
{
	(void)state;
	handshake_then_records(CCTLS_TLS);
}

static void test_wrong_key_fails_both_sides_with_reason(void **state)
{
	static struct pair p;
	static const uint8_t wrong[16] = { 9 };
	char why[200];

	(void)state;
	for (int t = CCTLS_DTLS; t <= CCTLS_TLS; t++) {
		pair_run(&p, (enum cctls_transport)t, "dev-1", wrong);
		assert_int_equal(p.rs, MBEDTLS_ERR_SSL_INVALID_MAC);
		assert_non_null(strstr(cctls_reason(&p.s, p.rs, why, sizeof why), "wrong key"));
		assert_int_equal(p.rc, MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE);
		assert_int_equal(p.c.alert, MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC);
		assert_non_null(strstr(cctls_reason(&p.c, p.rc, why, sizeof why), "wrong key"));
		pair_free(&p);
	}
}

static void test_unknown_identity_fails_with_reason(void **state)
{
	static struct pair p;
	char why[200];

	(void)state;
	for (int t = CCTLS_DTLS; t <= CCTLS_TLS; t++) {
		pair_run(&p, (enum cctls_transport)t, "dev-unknown", KEY);
		assert_true(p.rs < 0 && p.rs != MBEDTLS_ERR_SSL_WANT_READ);
		assert_true(p.s.unknown_identity);
		assert_string_equal(p.s.identity, "dev-unknown");
		assert_non_null(strstr(cctls_reason(&p.s, p.rs, why, sizeof why), "unknown device"));
		assert_int_equal(p.c.alert, MBEDTLS_SSL_ALERT_MSG_UNKNOWN_PSK_IDENTITY);
		assert_non_null(strstr(cctls_reason(&p.c, p.rc, why, sizeof why), "unknown device"));
		pair_free(&p);
	}
}

static void test_dtls_timer_armed_and_flight_retransmitted(void **state)
{
	static struct pair p;
	static const uint8_t client_addr[18] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1, 0x30, 0x39 };
	uint64_t now;

	(void)state;
	memset(&p, 0, sizeof p);
	server_init(&p.sv, CCTLS_DTLS);
	client_init(&p.ccfg, CCTLS_DTLS, "dev-1", KEY);
	assert_int_equal(cctls_conn_init(&p.c, &p.ccfg, to_wire, &p.c2s), CCTLS_OK);
	assert_int_equal(cctls_conn_init(&p.s, &p.sv.cfg, to_wire, &p.s2c), CCTLS_OK);
	cctls_conn_client_id(&p.s, client_addr, sizeof client_addr);
	now = cctls_now_ms();
	assert_int_equal(cctls_timer_ms(&p.c, now), UINT64_MAX);
	/* the ClientHello is lost */
	p.c2s.drop_next = 1;
	assert_int_equal(cctls_handshake(&p.c), MBEDTLS_ERR_SSL_WANT_READ);
	assert_int_equal(p.c2s.dropped, 1);
	assert_int_equal(p.c2s.n, 0);
	/* armed at the configured first timeout (1 s) */
	now = cctls_now_ms();
	assert_true(cctls_timer_ms(&p.c, now) > 500 && cctls_timer_ms(&p.c, now) <= 1000);
	/* pretend the second passed: the next call resends the flight */
	p.c.t_start_ms -= 1001;
	assert_int_equal(cctls_timer_ms(&p.c, cctls_now_ms()), 0);
	assert_int_equal(cctls_handshake(&p.c), MBEDTLS_ERR_SSL_WANT_READ);
	assert_int_equal(p.c2s.n, 1);
	/* and the handshake completes from there */
	p.rc = p.rs = MBEDTLS_ERR_SSL_WANT_READ;
	for (int round = 0; round < 20 && !(p.rc == 0 && p.rs == 0); round++) {
		p.rs = pump(&p.c2s, &p.s, &p.sv, p.rs);
		p.rc = pump(&p.s2c, &p.c, NULL, p.rc);
	}
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.rs, 0);
	pair_free(&p);
}

static void test_config_errors_are_named(void **state)
{
	struct cctls_cfg c;
	static const uint8_t shortkey[8] = { 1 };

	(void)state;
	assert_int_equal(cctls_cfg_init(&c, CCTLS_CLIENT, CCTLS_TLS), CCTLS_OK);
	assert_int_equal(cctls_cfg_psk(&c, "dev", shortkey, sizeof shortkey), CCTLS_E_PSK);
	assert_int_equal(cctls_cfg_psk(&c, "", KEY, 16), CCTLS_E_PSK);
	assert_int_equal(cctls_cfg_certs(&c, "/nonexistent.crt", "/nonexistent.key", NULL),
			 CCTLS_E_CERT);
	assert_non_null(strstr(c.detail, "/nonexistent.crt"));
	assert_int_equal(cctls_cfg_certs(&c, NULL, NULL, "/nonexistent-ca.crt"), CCTLS_E_CA);
	cctls_cfg_free(&c);
	/* a server with neither PSK nor certificate cannot be set up */
	assert_int_equal(cctls_cfg_init(&c, CCTLS_SERVER, CCTLS_DTLS), CCTLS_OK);
	assert_int_equal(cctls_cfg_finish(&c), CCTLS_E_SETUP);
	cctls_cfg_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dtls_psk_handshake_cookie_and_records),
		cmocka_unit_test(test_dtls_fast_records_interoperate_with_mbedtls),
		cmocka_unit_test(test_tls_psk_handshake_and_records),
		cmocka_unit_test(test_wrong_key_fails_both_sides_with_reason),
		cmocka_unit_test(test_unknown_identity_fails_with_reason),
		cmocka_unit_test(test_dtls_timer_armed_and_flight_retransmitted),
		cmocka_unit_test(test_config_errors_are_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
