/* collector/corecast-send/buildid.h: GNU build-ids of ELF images, from files or from a core. */
#ifndef SEND_BUILDID_H
#define SEND_BUILDID_H

#include <stddef.h>
#include <stdint.h>

#include "netdump/meta.h"

/*
 * Find the NT_GNU_BUILD_ID note of an ELF image whose first avail bytes are at
 * img (a whole file, or the dumped head of a mapping in a core).  Only notes
 * that lie within avail are read.  Returns the id length (1..ND_BUILDID_MAX),
 * or 0 if there is none in reach.  Both ELF classes and byte orders.
 */
size_t elf_buildid(const uint8_t *img, size_t avail, uint8_t id[ND_BUILDID_MAX]);

/* Build-id of the ELF file at path; 0 if unreadable or without one. */
size_t file_buildid(const char *path, uint8_t id[ND_BUILDID_MAX]);

/*
 * Add to m->buildids every image whose ELF header a Linux-style core holds
 * (the kernel dumps the first page of each file mapping), named from NT_FILE
 * when present, until ND_BUILDIDS_MAX.  Images already listed are skipped.
 */
void core_buildids(const uint8_t *core, size_t len, struct nd_meta *m);

#endif /* SEND_BUILDID_H */
