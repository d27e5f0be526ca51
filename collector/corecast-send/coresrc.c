/* collector/corecast-send/coresrc.c: core file / stdin access and the metadata it carries. */
#include "collector/corecast-send/coresrc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/corecast-send/buildid.h"
#include "collector/serial/coremeta.h"
#include "netdump/sha256.h"
#include "netdump/wire.h"

static const char *errmsg(char *buf, size_t n, const char *what)
{
	snprintf(buf, n, "%s: %s", what, strerror(errno));
	return buf;
}

/* Copy all of fd `in` into a fresh anonymous file; returns its fd or -1. */
static int spill_stdin(int in)
{
	int fd = memfd_create("corecast-core", MFD_CLOEXEC);
	if (fd < 0)
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	static char buf[1 << 20];
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				goto fail;
			}
			off += w;
		}
	}
	return fd;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

const char *coresrc_open(struct coresrc *c, const char *path)
{
	static char why[512];
	struct stat st;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	if (strcmp(path, "-") == 0) {
		snprintf(c->label, sizeof c->label, "standard input");
		c->fd = spill_stdin(STDIN_FILENO);
		if (c->fd < 0)
			return errmsg(why, sizeof why, "reading standard input");
	} else {
		snprintf(c->label, sizeof c->label, "%s", path);
		c->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (c->fd < 0)
			return errmsg(why, sizeof why, path);
	}
	if (fstat(c->fd, &st) < 0)
		return errmsg(why, sizeof why, c->label);
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, sizeof why, "%s: not a regular file", c->label);
		return why;
	}
	c->size = (uint64_t)st.st_size;
	if (c->size) {
		void *p = mmap(NULL, (size_t)c->size, PROT_READ, MAP_SHARED, c->fd, 0);
		if (p == MAP_FAILED)
			return errmsg(why, sizeof why, c->label);
		c->map = p;
	}
	return NULL;
}

void coresrc_close(struct coresrc *c)
{
	if (c->map)
		munmap((void *)c->map, (size_t)c->size);
	if (c->fd >= 0)
		close(c->fd);
	c->map = NULL;
	c->fd = -1;
}

int coresrc_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct coresrc *c = ctx;
	if (off > c->size || len > c->size - off)
		return -1;
	if (len)
		memcpy(buf, c->map + off, len);
	return 0;
}

const char *coresrc_meta(const struct coresrc *c, struct nd_meta *m)
{
	int has_project = 0;
	struct nd_meta got;

	m->core_size = c->size;
	if (!c->size)
		return "empty file";
	enum coremeta_err e = coremeta_read(c->map, (size_t)c->size, &got, &has_project);
	if (e != COREMETA_OK)
		return coremeta_strerror(e);
	/* coremeta_read leaves absent fields empty: copy only what it found. */
	m->machine = got.machine;
	m->pid = got.pid;
	m->signal = got.signal;
	memcpy(m->exe, got.exe, sizeof m->exe);
	if (has_project) {
		memcpy(m->device, got.device, sizeof m->device);
		memcpy(m->boot_id, got.boot_id, sizeof m->boot_id);
		m->seq = got.seq;
		memcpy(m->cause, got.cause, sizeof m->cause);
		memcpy(m->firmware, got.firmware, sizeof m->firmware);
		m->device_time = got.device_time;
		m->n_buildids = got.n_buildids;
		memcpy(m->buildids, got.buildids, sizeof m->buildids);
	}
	core_buildids(c->map, (size_t)c->size, m);
	return NULL;
}

uint32_t coresrc_default_seq(const struct coresrc *c)
{
	struct nd_sha256 s;
	uint8_t d[ND_SHA256_DIGEST], sz[8];
	uint64_t n = c->size < (1u << 20) ? c->size : (1u << 20);

	nd_put_u64(sz, c->size);
	nd_sha256_init(&s);
	nd_sha256_update(&s, sz, sizeof sz);
	if (n)
		nd_sha256_update(&s, c->map, (size_t)n);
	nd_sha256_final(&s, d);
	return nd_get_u32(d);
}
