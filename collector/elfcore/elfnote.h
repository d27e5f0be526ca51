/* collector/elfcore/elfnote.h: bounds-checked, endian-aware walk over ELF program headers and notes. */
#ifndef COLLECTOR_ELFCORE_ELFNOTE_H
#define COLLECTOR_ELFCORE_ELFNOTE_H

#include <stddef.h>
#include <stdint.h>

#define ELF_PT_LOAD 1
#define ELF_PT_NOTE 4

enum elfv_err {
	ELFV_OK = 0,
	ELFV_E_NOT_ELF,      /* no ELF identification (magic, class, byte order) */
	ELFV_E_TRUNCATED,    /* identified, but shorter than its ELF header */
};

/* The first n bytes of an ELF file (a whole file, or the dumped head of a mapping).
 * Nothing is trusted: every accessor checks against n. */
struct elf_view {
	const uint8_t *p;
	size_t n;
	int is64;           /* ELFCLASS64 */
	int be;             /* ELFDATA2MSB */
	uint16_t type;      /* e_type (ET_CORE = 4) */
	uint16_t machine;   /* e_machine */
};

enum elfv_err elf_view_open(struct elf_view *e, const uint8_t *p, size_t n);

/* An unsigned integer of w bytes (1..8) at off, in the file's byte order.  The caller
 * has checked elf_in(e, off, w). */
uint64_t elf_rd(const struct elf_view *e, uint64_t off, unsigned w);

/* Whether [off, off + len) lies within the view (no overflow). */
int elf_in(const struct elf_view *e, uint64_t off, uint64_t len);

struct elf_phdr {
	uint32_t type;
	uint64_t offset, vaddr, filesz, align;
};

/* e_phnum (extended numbering, PN_XNUM, is not followed: cores do not need it). */
unsigned elf_phnum(const struct elf_view *e);

/* Program header i; -1 if the entry size is too small or entry i is not in the view. */
int elf_phdr(const struct elf_view *e, unsigned i, struct elf_phdr *ph);

struct elf_note {
	uint32_t type;
	uint32_t namesz, descsz;
	const uint8_t *name;    /* namesz bytes, as stored (NUL included when the writer put one) */
	uint64_t desc_off;      /* offset of the descriptor in the view, for elf_rd */
	const uint8_t *desc;    /* descsz bytes */
};

/*
 * The notes of one PT_NOTE segment.  Each note is its 12-byte header, the name padded
 * and the descriptor padded to the segment's alignment (4, or 8 when p_align is 8, as
 * for GNU property notes).  A note is taken only when all of it, padding included,
 * lies within the segment: that is the layout the ELF gABI describes and the one
 * Linux writes (every note of a core is padded, the last one too), and a note cut
 * short is what elfutils' gelf_getnote and the kernel's /proc/vmcore reader refuse
 * too, so corecast reads the same notes as the tools that later read the core.
 * Fewer than 12 bytes left over at the end are not a note and are ignored.
 */
struct elf_note_iter {
	const struct elf_view *e;
	uint64_t base, pos, end;
	unsigned align;
	int clipped;        /* the segment ran past the view: only the part inside is read */
	int truncated;      /* a note ran past the end of the segment (or view): walk stopped */
};

/* Notes in [off, off + len) of the view, clipped to it; align is the segment's p_align. */
void elf_notes_begin(struct elf_note_iter *it, const struct elf_view *e, uint64_t off,
                     uint64_t len, uint64_t align);
/* Same for a program header (which should be PT_NOTE). */
void elf_notes_of(struct elf_note_iter *it, const struct elf_view *e, const struct elf_phdr *ph);
/* The next note into *nt: 1, or 0 at the end (it->truncated tells a damaged segment). */
int elf_note_next(struct elf_note_iter *it, struct elf_note *nt);

/* Whether a note's name is the string s (namesz counts the terminating NUL). */
int elf_note_named(const struct elf_note *nt, const char *s);

#endif /* COLLECTOR_ELFCORE_ELFNOTE_H */
