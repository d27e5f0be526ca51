/* collector/corecast-send/buildid.c: GNU build-id notes from ELF images and Linux cores. */
#include "collector/corecast-send/buildid.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/elfcore/elfnote.h"

#define NT_GNU_BUILD_ID 3
#define NT_FILE         0x46494c45

size_t elf_buildid(const uint8_t *img, size_t avail, uint8_t id[ND_BUILDID_MAX])
{
	struct elf_view e;
	struct elf_phdr ph;

	if (elf_view_open(&e, img, avail) != ELFV_OK)
		return 0;
	/* Entries past what we have end the walk: a core holds only an image's head. */
	for (unsigned i = 0, n = elf_phnum(&e); i < n && elf_phdr(&e, i, &ph) == 0; i++) {
		struct elf_note_iter it;
		struct elf_note nt;
		if (ph.type != ELF_PT_NOTE)
			continue;
		elf_notes_of(&it, &e, &ph);
		while (elf_note_next(&it, &nt)) {
			/* Longer ids (e.g. SHA-256 based) do not fit the wire field; a
			 * truncated id would match nothing, so leave it out. */
			if (nt.type != NT_GNU_BUILD_ID || !elf_note_named(&nt, "GNU") ||
			    nt.descsz == 0 || nt.descsz > ND_BUILDID_MAX)
				continue;
			memcpy(id, nt.desc, nt.descsz);
			return nt.descsz;
		}
	}
	return 0;
}

size_t file_buildid(const char *path, uint8_t id[ND_BUILDID_MAX])
{
	struct stat st;
	size_t r = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			r = elf_buildid(p, (size_t)st.st_size, id);
			munmap(p, (size_t)st.st_size);
		}
	}
	close(fd);
	return r;
}

/* In an NT_FILE note, the file mapped at vaddr from file offset 0: 1 with *name and
 * *namelen set, else 0. */
static int nt_file_lookup(const struct elf_view *e, const struct elf_note *nt, uint64_t vaddr,
                          const char **name, size_t *namelen)
{
	unsigned w = e->is64 ? 8 : 4;
	if (nt->descsz < 2 * w)
		return 0;
	uint64_t count = elf_rd(e, nt->desc_off, w);
	uint64_t tab = nt->desc_off + 2 * w;
	if (count > nt->descsz / (3 * w))
		return 0;
	uint64_t str = tab + count * 3 * w, end = nt->desc_off + nt->descsz;
	for (uint64_t i = 0; i < count && str < end; i++) {
		uint64_t start = elf_rd(e, tab + i * 3 * w, w);
		uint64_t pgoff = elf_rd(e, tab + i * 3 * w + 2 * w, w);
		const uint8_t *s = e->p + str;
		const uint8_t *z = memchr(s, 0, (size_t)(end - str));
		if (!z)
			return 0;
		if (start == vaddr && pgoff == 0) {
			*name = (const char *)s;
			*namelen = (size_t)(z - s);
			return 1;
		}
		str += (uint64_t)(z - s) + 1;
	}
	return 0;
}

/* The base name NT_FILE gives the mapping at vaddr, or "" if none does. */
static void name_for(const struct elf_view *core, uint64_t vaddr, char *out, size_t cap)
{
	struct elf_phdr ph;
	const char *name = NULL;
	size_t namelen = 0;

	out[0] = 0;
	for (unsigned i = 0, n = elf_phnum(core); i < n && !name && elf_phdr(core, i, &ph) == 0;
	     i++) {
		struct elf_note_iter it;
		struct elf_note nt;
		if (ph.type != ELF_PT_NOTE)
			continue;
		elf_notes_of(&it, core, &ph);
		while (!name && elf_note_next(&it, &nt))
			if (nt.type == NT_FILE && elf_note_named(&nt, "CORE"))
				nt_file_lookup(core, &nt, vaddr, &name, &namelen);
	}
	if (!name)
		return;
	const char *base = name;
	for (size_t k = 0; k < namelen; k++)
		if (name[k] == '/')
			base = name + k + 1;
	size_t bl = namelen - (size_t)(base - name);
	if (bl >= cap)
		bl = cap - 1;
	memcpy(out, base, bl);
	out[bl] = 0;
}

void core_buildids(const uint8_t *core, size_t len, struct nd_meta *m)
{
	struct elf_view e;
	struct elf_phdr ph;

	if (elf_view_open(&e, core, len) != ELFV_OK)
		return;
	for (unsigned i = 0, n = elf_phnum(&e); i < n && m->n_buildids < ND_BUILDIDS_MAX &&
	     elf_phdr(&e, i, &ph) == 0; i++) {
		if (ph.type != ELF_PT_LOAD || !elf_in(&e, ph.offset, 4) || ph.filesz < 64)
			continue;
		uint64_t avail = ph.filesz;
		if (avail > len - ph.offset)
			avail = len - ph.offset;
		uint8_t id[ND_BUILDID_MAX];
		size_t idl = elf_buildid(core + ph.offset, (size_t)avail, id);
		if (!idl)
			continue;
		int dup = 0;
		for (unsigned k = 0; k < m->n_buildids; k++)
			if (m->buildids[k].len == idl && memcmp(m->buildids[k].id, id, idl) == 0)
				dup = 1;
		if (dup)
			continue;
		struct nd_buildid *b = &m->buildids[m->n_buildids++];
		memset(b, 0, sizeof *b);
		b->len = (uint8_t)idl;
		memcpy(b->id, id, idl);
		name_for(&e, ph.vaddr, b->name, sizeof b->name);
	}
}
