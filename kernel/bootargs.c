/* kernel/bootargs.c: settings from the kernel command line (/chosen/bootargs, QEMU -append). */
#include "kernel/kernel.h"
#include "kernel/net/net.h"

/*
 * Words are separated by spaces; unknown words are counted and reported, never fatal.
 *   run=PROG[:ARG...]          start an embedded program (repeatable, in order)
 *   poweroff                   power off once every started program has exited
 *   corecast.scope=stack|stacks|writable|all   memory dumped (default: stacks)
 *   corecast.stack_cap=N[K|M]  bytes per stack, 0 = no cap
 *   corecast.total_cap=N[K|M]  bytes of memory per core, 0 = no cap
 *   corecast.thread_cap=N      threads per core, 0 = all
 *   corecast.device=ID         device id in every core (default: qemu-riscv64, or derived
 *                              from the MAC address when there is a network device)
 *   corecast.endpoint=, .ip=, .retries=, ...   network keys: kernel/net/netargs.c
 *   test.yield_in_create, test.yield_in_fault   fault injection for the test suite: the
 *                              kernel gives up the hart inside thread creation / between
 *                              a fault and its freeze, making those races deterministic
 */
struct k_bootargs k_args;

static int word_is(const char *w, size_t n, const char *key, const char **val, size_t *vlen)
{
	size_t k = strlen(key);
	if (n < k || strncmp(w, key, k) != 0)
		return 0;
	*val = w + k;
	*vlen = n - k;
	return 1;
}

static void word(const char *w, size_t n)
{
	const char *v;
	size_t vl;
	uint64_t num;
	if (net_bootarg(w, n))
		return;
	if (n == 8 && strncmp(w, "poweroff", 8) == 0) {
		k_args.poweroff = 1;
	} else if (n == 20 && strncmp(w, "test.yield_in_create", 20) == 0) {
		k_args.test_yield_create = 1;
	} else if (n == 19 && strncmp(w, "test.yield_in_fault", 19) == 0) {
		k_args.test_yield_fault = 1;
	} else if (word_is(w, n, "run=", &v, &vl)) {
		if (k_args.nrun < K_MAX_RUN && vl > 0 && vl < K_RUN_MAX) {
			memcpy(k_args.run[k_args.nrun], v, vl);
			k_args.run[k_args.nrun++][vl] = 0;
		} else {
			k_args.bad++;
		}
	} else if (word_is(w, n, "corecast.scope=", &v, &vl)) {
		static const char *const names[] = { "stack", "stacks", "writable", "all" };
		int found = -1;
		for (int i = 0; i < 4; i++)
			if (strlen(names[i]) == vl && strncmp(names[i], v, vl) == 0)
				found = i;
		if (found < 0)
			k_args.bad++;
		else
			k_args.scope = found;
	} else if (word_is(w, n, "corecast.stack_cap=", &v, &vl) && !k_parse_u64(v, vl, &num)) {
		k_args.stack_cap = num;
	} else if (word_is(w, n, "corecast.total_cap=", &v, &vl) && !k_parse_u64(v, vl, &num)) {
		k_args.total_cap = num;
	} else if (word_is(w, n, "corecast.thread_cap=", &v, &vl) && !k_parse_u64(v, vl, &num)) {
		k_args.thread_cap = (uint32_t)num;
	} else if (word_is(w, n, "corecast.device=", &v, &vl) && vl > 0 &&
		   vl < sizeof(k_args.device)) {
		memcpy(k_args.device, v, vl);
		k_args.device[vl] = 0;
	} else {
		char tmp[64];
		size_t m = n < sizeof(tmp) - 1 ? n : sizeof(tmp) - 1;
		memcpy(tmp, w, m);
		tmp[m] = 0;
		k_printf("[k] bootargs: ignoring '%s'\n", tmp);
		k_args.bad++;
	}
}

void bootargs_parse(const char *s)
{
	k_args.scope = K_SCOPE_DEFAULT;
	k_strlcpy(k_args.device, "qemu-riscv64", sizeof(k_args.device));
	while (s && *s) {
		while (*s == ' ')
			s++;
		const char *w = s;
		while (*s && *s != ' ')
			s++;
		if (s > w)
			word(w, (size_t)(s - w));
	}
}
