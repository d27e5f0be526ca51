/* collector/corecast-send/coresrc.h: the core to send: a file or standard input, random-access. */
#ifndef SEND_CORESRC_H
#define SEND_CORESRC_H

#include <stddef.h>
#include <stdint.h>

#include "netdump/meta.h"

struct coresrc {
	int fd;
	const uint8_t *map;   /* whole core, read-only (NULL when empty) */
	uint64_t size;
	char label[256];      /* path, or "standard input", for messages */
};

/*
 * Open path, or standard input when path is "-".  Standard input cannot be
 * re-read for retransmissions, so it is first copied to an anonymous memory
 * file (memfd; an unlinked temporary file if memfd is unavailable).  Returns
 * NULL, or a one-line reason naming the cause (errno text).
 */
const char *coresrc_open(struct coresrc *c, const char *path);
void coresrc_close(struct coresrc *c);

/* nd_read_fn over the core. */
int coresrc_read(void *ctx, uint64_t off, void *buf, size_t len);

/*
 * Fill what the core itself says into m: size, e_machine, pid and name
 * (NT_PRPSINFO), signal (NT_SIGINFO / NT_PRSTATUS), the project note's fields
 * when the core carries one, and build-ids of images whose ELF headers were
 * dumped.  Returns NULL, or why the core's metadata could not be read (the
 * core is still sendable; only size is set then).
 */
const char *coresrc_meta(const struct coresrc *c, struct nd_meta *m);

/*
 * Default dump sequence number: 32 bits of SHA-256 over the core size and its
 * first MiB (headers, notes with registers and times).  The same core always
 * gets the same number, so re-running the sender resumes rather than
 * duplicating; two different cores collide with probability 2^-32.
 */
uint32_t coresrc_default_seq(const struct coresrc *c);

#endif /* SEND_CORESRC_H */
