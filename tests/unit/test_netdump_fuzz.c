/* tests/unit/test_netdump_fuzz.c: run the parser fuzz target on random and mutated messages under ASan/UBSan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* The libFuzzer entry point itself, so this deterministic run checks exactly
 * the properties `make fuzz` explores. */
#include "tests/fuzz/fuzz_netdump_parse.c"

static uint64_t rs = 0x243f6a8885a308d3ULL;
static uint32_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (uint32_t)(rs >> 32);
}

/* One valid message of each type, as mutation seeds. */
static size_t seed_msg(int type, uint8_t *out, size_t cap)
{
	static struct nd_msg m;
	static const uint8_t pl[300];
	size_t len = 0;
	memset(&m, 0, sizeof m);
	m.type = (uint8_t)type;
	m.cookie = 1 + rnd();
	switch (type) {
	case ND_T_OPEN:
		m.cookie = 0;
		m.u.open.window = 1 + rnd() % 1024;
		m.u.open.max_payload = ND_DEFAULT_PAYLOAD;
		strcpy(m.u.open.meta.device, "sensor-0042");
		m.u.open.meta.core_size = rnd();
		strcpy(m.u.open.meta.exe, "crasher");
		strcpy(m.u.open.meta.cause, "load page fault at 0x0");
		m.u.open.meta.n_buildids = 2;
		for (int i = 0; i < 2; i++) {
			m.u.open.meta.buildids[i].len = 20;
			strcpy(m.u.open.meta.buildids[i].name, "libc.so.6");
		}
		break;
	case ND_T_OPEN_ACK:
		m.u.open_ack.window = 1 + rnd() % 100;
		m.u.open_ack.max_payload = 1000;
		m.u.open_ack.resume = rnd() % 5000;
		m.u.open_ack.nranges = 2;
		m.u.open_ack.ranges[0] = (struct nd_range){ 6000, 7000 };
		m.u.open_ack.ranges[1] = (struct nd_range){ 8000, 9000 };
		break;
	case ND_T_REFUSE:
		m.u.refuse.reason = ND_R_BUSY;
		strcpy(m.u.refuse.text, "too many sessions");
		break;
	case ND_T_DATA:
		m.u.data.offset = rnd() % 100000;
		m.u.data.len = (uint16_t)(1 + rnd() % sizeof pl);
		m.u.data.payload = pl;
		break;
	case ND_T_ACK:
		m.u.ack.cum = rnd() % 50000;
		m.u.ack.window = 16;
		m.u.ack.has_echo = 1;
		m.u.ack.nsack = 3;
		for (int i = 0; i < 3; i++)
			m.u.ack.sack[i] = (struct nd_range){ 60000 + 2000 * i, 61000 + 2000 * i };
		break;
	case ND_T_FINISH:
		m.u.finish.size = 100000;
		break;
	case ND_T_RESULT:
		m.u.result.code = (uint8_t)(rnd() % 3);
		strcpy(m.u.result.text, "stored");
		break;
	}
	assert_int_equal(nd_encode(&m, out, cap, &len), ND_OK);
	return len;
}

static void test_fuzz_entry_survives_random_and_mutated_messages(void **state)
{
	static uint8_t msg[4096];
	(void)state;
	for (int iter = 0; iter < 6000; iter++) {
		size_t len;
		if (iter % 4 == 0) {
			/* pure noise, sometimes with a valid header in front */
			len = rnd() % 400;
			for (size_t i = 0; i < len; i++)
				msg[i] = (uint8_t)rnd();
			if (len >= 4 && iter % 8 == 0) {
				msg[0] = 'N';
				msg[1] = 'D';
				msg[2] = 1;
				msg[3] = (uint8_t)(1 + rnd() % 7);
			}
		} else {
			len = seed_msg(1 + (int)(rnd() % 7), msg, sizeof msg);
			int muts = 1 + (int)(rnd() % 4);
			for (int k = 0; k < muts; k++) {
				switch (rnd() % 4) {
				case 0:   /* flip a byte */
					if (len)
						msg[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
					break;
				case 1:   /* truncate */
					if (len)
						len = rnd() % len;
					break;
				case 2:   /* extend with junk */
					for (int j = 0, n = (int)(rnd() % 20); j < n && len < sizeof msg; j++)
						msg[len++] = (uint8_t)rnd();
					break;
				default:  /* set a byte to an extreme value */
					if (len)
						msg[rnd() % len] = rnd() % 2 ? 0xff : 0x00;
					break;
				}
			}
		}
		/* exact-size heap copy so any overread is caught by ASan */
		uint8_t *p = malloc(len ? len : 1);
		memcpy(p, msg, len);
		LLVMFuzzerTestOneInput(p, len);
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fuzz_entry_survives_random_and_mutated_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
