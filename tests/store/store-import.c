/* tests/store/store-import.c: put a core file into a store through store_add_core, for the test suites. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/store/store.h"
#include "netdump/hex.h"

static int usage(void)
{
	fprintf(stderr, "usage: store-import --store DIR --device ID [--boot HEX32] [--seq N]\n"
	        "       [--pid N] [--signal N] [--exe NAME] [--cause TEXT] [--firmware V]\n"
	        "       [--machine N] [--device-time NS] [--build-id HEX[:NAME]]... FILE\n"
	        "Prints the stored dump id.\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct nd_meta m;
	const char *dir = NULL, *file = NULL;
	int have_machine = 0;
	memset(&m, 0, sizeof m);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		size_t l;
		if (a[0] != '-' || !strcmp(a, "-")) {
			file = a;
			continue;
		}
		if (!v)
			return usage();
		i++;
		if (!strcmp(a, "--store"))
			dir = v;
		else if (!strcmp(a, "--device"))
			snprintf(m.device, sizeof m.device, "%s", v);
		else if (!strcmp(a, "--boot")) {
			if (nd_unhex_str(v, m.boot_id, ND_BOOTID_LEN, &l) < 0 || l != ND_BOOTID_LEN)
				return fprintf(stderr, "store-import: --boot: 32 hex digits\n"), 2;
		} else if (!strcmp(a, "--seq"))
			m.seq = (uint32_t)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--pid"))
			m.pid = (uint32_t)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--signal"))
			m.signal = (uint32_t)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--exe"))
			snprintf(m.exe, sizeof m.exe, "%s", v);
		else if (!strcmp(a, "--cause"))
			snprintf(m.cause, sizeof m.cause, "%s", v);
		else if (!strcmp(a, "--firmware"))
			snprintf(m.firmware, sizeof m.firmware, "%s", v);
		else if (!strcmp(a, "--device-time"))
			m.device_time = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--machine")) {
			m.machine = (uint16_t)strtoul(v, NULL, 0);
			have_machine = 1;
		} else if (!strcmp(a, "--build-id")) {
			if (m.n_buildids >= ND_BUILDIDS_MAX)
				return fprintf(stderr, "store-import: too many build-ids\n"), 2;
			struct nd_buildid *b = &m.buildids[m.n_buildids];
			char hex[2 * ND_BUILDID_MAX + 1];
			const char *colon = strchr(v, ':');
			size_t hl = colon ? (size_t)(colon - v) : strlen(v);
			if (hl >= sizeof hex)
				return fprintf(stderr, "store-import: --build-id too long\n"), 2;
			memcpy(hex, v, hl);
			hex[hl] = 0;
			if (nd_unhex_str(hex, b->id, ND_BUILDID_MAX, &l) < 0)
				return fprintf(stderr, "store-import: --build-id: bad hex\n"), 2;
			b->len = (uint8_t)l;
			if (colon)
				snprintf(b->name, sizeof b->name, "%s", colon + 1);
			m.n_buildids++;
		} else
			return usage();
	}
	if (!dir || !m.device[0] || !file)
		return usage();

	int fd = strcmp(file, "-") ? open(file, O_RDONLY) : 0;
	if (fd < 0) {
		fprintf(stderr, "store-import: %s: %s\n", file, strerror(errno));
		return 1;
	}
	if (!have_machine && fd != 0) {
		/* e_machine of an ELF little-endian file, so imported cores list sensibly. */
		uint8_t h[20];
		if (pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h && !memcmp(h, "\177ELF", 4) &&
		    h[5] == 1)
			m.machine = (uint16_t)(h[18] | h[19] << 8);
	}
	struct store *st;
	if (store_open(dir, STORE_CREATE, &st) != STORE_OK) {
		fprintf(stderr, "store-import: %s\n", store_open_errmsg());
		return 1;
	}
	uint64_t id = 0;
	enum store_err e = store_add_core(st, &m, fd, &id);
	if (e != STORE_OK && e != STORE_E_EXISTS) {
		fprintf(stderr, "store-import: %s: %s\n", file, store_errmsg(st));
		store_close(st);
		return 1;
	}
	printf("%" PRIu64 "\n", id);
	store_close(st);
	return e == STORE_OK ? 0 : 3;
}
