/* collector/corecast-send/buildid.c: GNU build-id notes from ELF images and Linux cores. */
#include "collector/corecast-send/buildid.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PT_LOAD         1
#define PT_NOTE         4
#define NT_GNU_BUILD_ID 3
#define NT_FILE         0x46494c45
#define PHNUM_MAX       4096   /* more is not a real image; bounds the loops */

/* A view of an ELF image: every read is checked against n by the caller. */
struct elfv {
	const uint8_t *p;
	size_t n;
	int is64;
	int be;
};

static uint64_t rd(const struct elfv *e, size_t off, unsigned w)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < w; i++)
		v |= (uint64_t)e->p[off + i] << (8 * (e->be ? w - 1 - i : i));
	return v;
}

static int in(const struct elfv *e, uint64_t off, uint64_t len)
{
	return off <= e->n && len <= e->n - off;
}

static int elf_open(struct elfv *e, const uint8_t *p, size_t n)
{
	e->p = p;
	e->n = n;
	if (n < 52 || memcmp(p, "\177ELF", 4) != 0)
		return -1;
	if ((p[4] != 1 && p[4] != 2) || (p[5] != 1 && p[5] != 2))
		return -1;
	e->is64 = p[4] == 2;
	e->be = p[5] == 2;
	return e->is64 && n < 64 ? -1 : 0;
}

struct phdr {
	uint32_t type;
	uint64_t offset, vaddr, filesz;
};

/* Program header i; -1 if the table does not fit in what we have. */
static int get_phdr(const struct elfv *e, unsigned i, struct phdr *ph)
{
	uint64_t phoff = e->is64 ? rd(e, 32, 8) : rd(e, 28, 4);
	unsigned entsz = (unsigned)(e->is64 ? rd(e, 54, 2) : rd(e, 42, 2));
	if (entsz < (e->is64 ? 56u : 32u))
		return -1;
	uint64_t off = phoff + (uint64_t)i * entsz;
	if (phoff > e->n || !in(e, off, entsz))
		return -1;
	ph->type = (uint32_t)rd(e, off, 4);
	if (e->is64) {
		ph->offset = rd(e, off + 8, 8);
		ph->vaddr = rd(e, off + 16, 8);
		ph->filesz = rd(e, off + 32, 8);
	} else {
		ph->offset = rd(e, off + 4, 4);
		ph->vaddr = rd(e, off + 8, 4);
		ph->filesz = rd(e, off + 16, 4);
	}
	return 0;
}

static unsigned phnum(const struct elfv *e)
{
	unsigned n = (unsigned)(e->is64 ? rd(e, 56, 2) : rd(e, 44, 2));
	return n > PHNUM_MAX ? PHNUM_MAX : n;
}

/*
 * Walk the notes in [off, off+len) (clipped to the image).  For each note,
 * cb(ctx, type, name, namesz, desc, descsz); stops when cb returns nonzero.
 * Returns that value, or 0.
 */
typedef int (*note_cb)(void *ctx, const struct elfv *e, uint32_t type, const uint8_t *name,
                       uint32_t namesz, uint64_t desc_off, uint32_t descsz);

static int walk_notes(const struct elfv *e, uint64_t off, uint64_t len, note_cb cb, void *ctx)
{
	if (off > e->n)
		return 0;
	if (len > e->n - off)
		len = e->n - off;
	uint64_t end = off + len;
	while (end - off >= 12) {
		uint32_t namesz = (uint32_t)rd(e, off, 4);
		uint32_t descsz = (uint32_t)rd(e, off + 4, 4);
		uint32_t type = (uint32_t)rd(e, off + 8, 4);
		uint64_t name_off = off + 12;
		uint64_t desc_off = name_off + (((uint64_t)namesz + 3) & ~3ULL);
		uint64_t next = desc_off + (((uint64_t)descsz + 3) & ~3ULL);
		if (desc_off > end || next > end || descsz > end - desc_off)
			return 0;
		int r = cb(ctx, e, type, e->p + name_off, namesz, desc_off, descsz);
		if (r)
			return r;
		off = next;
	}
	return 0;
}

struct bid_ctx {
	uint8_t *id;
	size_t len;
};

static int bid_note(void *ctx, const struct elfv *e, uint32_t type, const uint8_t *name,
                    uint32_t namesz, uint64_t desc_off, uint32_t descsz)
{
	struct bid_ctx *b = ctx;
	if (type != NT_GNU_BUILD_ID || namesz != 4 || memcmp(name, "GNU", 4) != 0)
		return 0;
	/* Longer ids (e.g. SHA-256 based) do not fit the wire field; a
	 * truncated id would match nothing, so leave it out. */
	if (descsz == 0 || descsz > ND_BUILDID_MAX)
		return 0;
	memcpy(b->id, e->p + desc_off, descsz);
	b->len = descsz;
	return 1;
}

size_t elf_buildid(const uint8_t *img, size_t avail, uint8_t id[ND_BUILDID_MAX])
{
	struct elfv e;
	struct bid_ctx b = { id, 0 };

	if (elf_open(&e, img, avail) < 0)
		return 0;
	for (unsigned i = 0, n = phnum(&e); i < n; i++) {
		struct phdr ph;
		if (get_phdr(&e, i, &ph) < 0)
			break;
		if (ph.type == PT_NOTE && walk_notes(&e, ph.offset, ph.filesz, bid_note, &b))
			return b.len;
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

/* NT_FILE lookup: the file name mapped at vaddr from file offset 0. */
struct file_ctx {
	uint64_t vaddr;
	const char *name;
	size_t namelen;
};

static int file_note(void *ctx, const struct elfv *e, uint32_t type, const uint8_t *name,
                     uint32_t namesz, uint64_t desc_off, uint32_t descsz)
{
	struct file_ctx *f = ctx;
	unsigned w = e->is64 ? 8 : 4;
	if (type != NT_FILE || namesz != 5 || memcmp(name, "CORE", 5) != 0 || descsz < 2 * w)
		return 0;
	uint64_t count = rd(e, desc_off, w);
	uint64_t tab = desc_off + 2 * w;
	if (count > descsz / (3 * w))
		return 0;
	uint64_t str = tab + count * 3 * w, end = desc_off + descsz;
	for (uint64_t i = 0; i < count && str < end; i++) {
		uint64_t start = rd(e, tab + i * 3 * w, w);
		uint64_t pgoff = rd(e, tab + i * 3 * w + 2 * w, w);
		const uint8_t *s = e->p + str;
		const uint8_t *z = memchr(s, 0, (size_t)(end - str));
		if (!z)
			return 0;
		if (start == f->vaddr && pgoff == 0) {
			f->name = (const char *)s;
			f->namelen = (size_t)(z - s);
			return 1;
		}
		str += (uint64_t)(z - s) + 1;
	}
	return 0;
}

static void name_for(const struct elfv *core, uint64_t vaddr, char *out, size_t cap)
{
	struct file_ctx f = { vaddr, NULL, 0 };
	out[0] = 0;
	for (unsigned i = 0, n = phnum(core); i < n; i++) {
		struct phdr ph;
		if (get_phdr(core, i, &ph) < 0)
			break;
		if (ph.type == PT_NOTE && walk_notes(core, ph.offset, ph.filesz, file_note, &f))
			break;
	}
	if (!f.name)
		return;
	const char *base = f.name;
	for (size_t k = 0; k < f.namelen; k++)
		if (f.name[k] == '/')
			base = f.name + k + 1;
	size_t bl = f.namelen - (size_t)(base - f.name);
	if (bl >= cap)
		bl = cap - 1;
	memcpy(out, base, bl);
	out[bl] = 0;
}

void core_buildids(const uint8_t *core, size_t len, struct nd_meta *m)
{
	struct elfv e;

	if (elf_open(&e, core, len) < 0)
		return;
	for (unsigned i = 0, n = phnum(&e); i < n && m->n_buildids < ND_BUILDIDS_MAX; i++) {
		struct phdr ph;
		if (get_phdr(&e, i, &ph) < 0)
			break;
		if (ph.type != PT_LOAD || !in(&e, ph.offset, 4) || ph.filesz < 64)
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
