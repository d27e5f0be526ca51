/* collector/corecastctl/cmd_dump.c: `corecastctl dump ID -o FILE` — the core exactly as the device sent it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/corecastctl/ctl.h"

CTL_COMMAND(dump);

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

CTL_COMMAND(dump)
{
	const char *out = NULL, *ids = NULL;
	uint64_t id;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
			if (i + 1 >= argc)
				return ctl_fail("dump: %s: missing file name", argv[i]);
			out = argv[++i];
		} else if (!strncmp(argv[i], "--output=", 9)) {
			out = argv[i] + 9;
		} else if (!ids) {
			ids = argv[i];
		} else {
			return ctl_fail("dump: %s: unexpected argument (usage: dump ID -o FILE)",
			                argv[i]);
		}
	}
	if (!ids)
		return ctl_fail("dump: usage: dump ID -o FILE");
	if (ctl_parse_id(ids, &id) < 0)
		return 1;
	int to_stdout = !out || !strcmp(out, "-");
	if (to_stdout && isatty(STDOUT_FILENO))
		return ctl_fail("dump %" PRIu64 ": refusing to write a core to a terminal "
		                "(use -o FILE)", id);

	struct store_reader *rd;
	if (store_open_core(c->st, id, &rd) != STORE_OK)
		return ctl_fail("%s", store_errmsg(c->st));
	int fd = to_stdout ? STDOUT_FILENO :
	         open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		int err = errno;
		store_reader_close(rd);
		return ctl_fail("%s: %s", out, strerror(err));
	}
	size_t bufsz = 1 << 17, got;
	char *buf = malloc(bufsz);
	int rc = 0;
	uint64_t total = 0;
	enum store_err e = buf ? STORE_OK : STORE_E_NOMEM;
	while (e == STORE_OK && (e = store_read(rd, buf, bufsz, &got)) == STORE_OK && got) {
		if (write_all(fd, buf, got) < 0) {
			rc = ctl_fail("%s: %s", to_stdout ? "standard output" : out, strerror(errno));
			break;
		}
		total += got;
	}
	if (e != STORE_OK)
		rc = ctl_fail("dump %" PRIu64 ": %s", id, store_strerror(e));
	free(buf);
	store_reader_close(rd);
	if (!to_stdout) {
		if (close(fd) < 0 && !rc)
			rc = ctl_fail("%s: %s", out, strerror(errno));
		if (rc)
			unlink(out);   /* never leave a partial core that looks whole */
	}
	if (!rc && c->json && !to_stdout)
	{
		printf("{\"id\":%" PRIu64 ",\"file\":", id);
		ctl_json_str(stdout, out);
		printf(",\"size\":%" PRIu64 "}\n", total);
	}
	return rc;
}
