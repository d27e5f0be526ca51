/* collector/elfcore/elfnote.c: the one program-header and note walker for cores and ELF images. */
#include "collector/elfcore/elfnote.h"

#include <string.h>

enum elfv_err elf_view_open(struct elf_view *e, const uint8_t *p, size_t n)
{
	memset(e, 0, sizeof *e);
	e->p = p;
	e->n = n;
	/* e_ident is 16 bytes; the smallest header (ELFCLASS32) is 52. */
	if (n < 16 || memcmp(p, "\177ELF", 4) != 0 || (p[4] != 1 && p[4] != 2) ||
	    (p[5] != 1 && p[5] != 2))
		return ELFV_E_NOT_ELF;
	e->is64 = p[4] == 2;
	e->be = p[5] == 2;
	if (n < (e->is64 ? 64u : 52u))
		return ELFV_E_TRUNCATED;
	e->type = (uint16_t)elf_rd(e, 16, 2);
	e->machine = (uint16_t)elf_rd(e, 18, 2);
	return ELFV_OK;
}

uint64_t elf_rd(const struct elf_view *e, uint64_t off, unsigned w)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < w; i++)
		v |= (uint64_t)e->p[off + i] << (8 * (e->be ? w - 1 - i : i));
	return v;
}

int elf_in(const struct elf_view *e, uint64_t off, uint64_t len)
{
	return off <= e->n && len <= e->n - off;
}

unsigned elf_phnum(const struct elf_view *e)
{
	return (unsigned)elf_rd(e, e->is64 ? 56 : 44, 2);
}

int elf_phdr(const struct elf_view *e, unsigned i, struct elf_phdr *ph)
{
	uint64_t phoff = e->is64 ? elf_rd(e, 32, 8) : elf_rd(e, 28, 4);
	unsigned entsz = (unsigned)elf_rd(e, e->is64 ? 54 : 42, 2);

	if (entsz < (e->is64 ? 56u : 32u) || phoff > e->n ||
	    (uint64_t)i * entsz > e->n - phoff || !elf_in(e, phoff + (uint64_t)i * entsz, entsz))
		return -1;
	uint64_t off = phoff + (uint64_t)i * entsz;
	ph->type = (uint32_t)elf_rd(e, off, 4);
	if (e->is64) {
		ph->offset = elf_rd(e, off + 8, 8);
		ph->vaddr = elf_rd(e, off + 16, 8);
		ph->filesz = elf_rd(e, off + 32, 8);
		ph->align = elf_rd(e, off + 48, 8);
	} else {
		ph->offset = elf_rd(e, off + 4, 4);
		ph->vaddr = elf_rd(e, off + 8, 4);
		ph->filesz = elf_rd(e, off + 16, 4);
		ph->align = elf_rd(e, off + 28, 4);
	}
	return 0;
}

void elf_notes_begin(struct elf_note_iter *it, const struct elf_view *e, uint64_t off,
                     uint64_t len, uint64_t align)
{
	memset(it, 0, sizeof *it);
	it->e = e;
	it->align = align == 8 ? 8 : 4;
	if (off > e->n) {
		it->clipped = 1;
		off = e->n;
		len = 0;
	} else if (len > e->n - off) {
		it->clipped = 1;
		len = e->n - off;
	}
	it->base = it->pos = off;
	it->end = off + len;
}

void elf_notes_of(struct elf_note_iter *it, const struct elf_view *e, const struct elf_phdr *ph)
{
	elf_notes_begin(it, e, ph->offset, ph->filesz, ph->align);
}

/* Round the in-segment offset x up to the segment's note alignment. */
static uint64_t pad(const struct elf_note_iter *it, uint64_t x)
{
	uint64_t rel = x - it->base, a = it->align;
	return it->base + ((rel + a - 1) & ~(a - 1));
}

int elf_note_next(struct elf_note_iter *it, struct elf_note *nt)
{
	const struct elf_view *e = it->e;

	if (it->truncated || it->end - it->pos < 12)
		return 0;
	nt->namesz = (uint32_t)elf_rd(e, it->pos, 4);
	nt->descsz = (uint32_t)elf_rd(e, it->pos + 4, 4);
	nt->type = (uint32_t)elf_rd(e, it->pos + 8, 4);
	/* Sizes are 32-bit and positions are within a size_t view: no 64-bit overflow. */
	uint64_t name_off = it->pos + 12;
	uint64_t desc_off = pad(it, name_off + nt->namesz);
	uint64_t next = pad(it, desc_off + nt->descsz);
	if (next > it->end) {
		it->truncated = 1;
		return 0;
	}
	nt->name = e->p + name_off;
	nt->desc_off = desc_off;
	nt->desc = e->p + desc_off;
	it->pos = next;
	return 1;
}

int elf_note_named(const struct elf_note *nt, const char *s)
{
	size_t l = strlen(s) + 1;
	return nt->namesz == l && memcmp(nt->name, s, l) == 0;
}
