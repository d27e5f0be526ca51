/* tests/unit/test_ccd_session.c: corecastd's session table: lookups by key, cookie and device. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "collector/corecastd/session.h"

static struct ccd_session *mk(struct ccd_sessions *ss, const char *dev, uint8_t boot,
			      uint32_t seq, uint64_t cookie)
{
	struct ccd_session *s = ccd_sess_new();

	assert_non_null(s);
	snprintf(s->meta.device, sizeof s->meta.device, "%s", dev);
	memset(s->meta.boot_id, boot, sizeof s->meta.boot_id);
	s->meta.seq = seq;
	s->cookie = cookie;
	ccd_sess_insert(ss, s);
	return s;
}

static void test_find_by_key_cookie_and_count_per_device(void **state)
{
	struct ccd_sessions ss;
	uint8_t b1[ND_BOOTID_LEN], b2[ND_BOOTID_LEN];

	memset(b1, 1, sizeof b1);
	memset(b2, 2, sizeof b2);
	assert_int_equal(ccd_sessions_init(&ss), 0);
	struct ccd_session *a = mk(&ss, "dev", 1, 1, 100);
	struct ccd_session *b = mk(&ss, "dev", 1, 2, 200);
	struct ccd_session *c = mk(&ss, "dev", 2, 1, 300);
	struct ccd_session *e = mk(&ss, "other", 1, 1, 400);

	assert_ptr_equal(ccd_sess_find_key(&ss, "dev", b1, 1), a);
	assert_ptr_equal(ccd_sess_find_key(&ss, "dev", b1, 2), b);
	assert_ptr_equal(ccd_sess_find_key(&ss, "dev", b2, 1), c);
	assert_ptr_equal(ccd_sess_find_key(&ss, "other", b1, 1), e);
	assert_null(ccd_sess_find_key(&ss, "dev", b2, 2));
	assert_null(ccd_sess_find_key(&ss, "de", b1, 1));
	assert_ptr_equal(ccd_sess_find_cookie(&ss, 300), c);
	assert_null(ccd_sess_find_cookie(&ss, 301));
	assert_int_equal(ccd_sess_count_device(&ss, "dev"), 3);
	assert_int_equal(ss.n_active, 4);

	/* finished sessions no longer count against the device */
	ccd_sess_mark_done(&ss, b);
	assert_int_equal(ccd_sess_count_device(&ss, "dev"), 2);
	assert_int_equal(ss.n_active, 3);
	assert_int_equal(ss.n_done, 1);
	ccd_sessions_free(&ss);
}

static void test_cookie_change_and_removal(void **state)
{
	struct ccd_sessions ss;
	uint8_t b1[ND_BOOTID_LEN];

	memset(b1, 1, sizeof b1);
	assert_int_equal(ccd_sessions_init(&ss), 0);
	/* cookies that collide in the hash (same low bits) share a chain */
	struct ccd_session *a = mk(&ss, "a", 1, 1, 0x1000000000000005ull);
	struct ccd_session *b = mk(&ss, "b", 1, 1, 0x2000000000000005ull);
	ccd_sess_set_cookie(&ss, a, 77);
	assert_null(ccd_sess_find_cookie(&ss, 0x1000000000000005ull));
	assert_ptr_equal(ccd_sess_find_cookie(&ss, 77), a);
	assert_ptr_equal(ccd_sess_find_cookie(&ss, 0x2000000000000005ull), b);

	/* a session queued for an ack can be removed safely */
	ccd_sess_touch(&ss, a);
	ccd_sess_touch(&ss, b);
	ccd_sess_touch(&ss, a);            /* once only */
	ccd_sess_remove(&ss, a);
	assert_ptr_equal(ss.touched, b);
	assert_null(b->next_touched);
	assert_null(ccd_sess_find_cookie(&ss, 77));
	assert_null(ccd_sess_find_key(&ss, "a", b1, 1));
	assert_ptr_equal(ss.head, b);
	assert_ptr_equal(ss.tail, b);
	assert_int_equal(ss.n_active, 1);
	ccd_sess_remove(&ss, b);
	assert_null(ss.head);
	assert_null(ss.touched);
	ccd_sessions_free(&ss);
}

static void test_same_peer_compares_address_and_port(void **state)
{
	struct ccd_session s;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(5000) };
	struct sockaddr_in6 b = { .sin6_family = AF_INET6, .sin6_port = htons(5000) };

	memset(&s, 0, sizeof s);
	a.sin_addr.s_addr = htonl(0x0a000001);
	memcpy(&s.peer, &a, sizeof a);
	s.peerlen = sizeof a;
	assert_true(ccd_sess_same_peer(&s, (struct sockaddr *)&a, sizeof a));
	a.sin_port = htons(5001);
	assert_false(ccd_sess_same_peer(&s, (struct sockaddr *)&a, sizeof a));
	a.sin_port = htons(5000);
	a.sin_addr.s_addr = htonl(0x0a000002);
	assert_false(ccd_sess_same_peer(&s, (struct sockaddr *)&a, sizeof a));
	assert_false(ccd_sess_same_peer(&s, (struct sockaddr *)&b, sizeof b));

	b.sin6_addr.s6_addr[15] = 1;
	memcpy(&s.peer, &b, sizeof b);
	assert_true(ccd_sess_same_peer(&s, (struct sockaddr *)&b, sizeof b));
	b.sin6_addr.s6_addr[15] = 2;
	assert_false(ccd_sess_same_peer(&s, (struct sockaddr *)&b, sizeof b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_by_key_cookie_and_count_per_device),
		cmocka_unit_test(test_cookie_change_and_removal),
		cmocka_unit_test(test_same_peer_compares_address_and_port),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
