/* tests/unit/test_elfcore_notes.c: the ELF note walker, and the two core readers built on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "collector/corecast-send/buildid.h"
#include "collector/elfcore/elfnote.h"
#include "collector/serial/coremeta.h"
#include "kernel/coredump/coredump.h"

/* A hand-made ELF file: header, one PT_NOTE program header, then the notes. */
struct img {
	uint8_t b[2048];
	size_t n;
	int is64, be;
	size_t notes;   /* offset of the first note */
};

static void put(struct img *im, size_t off, uint64_t v, unsigned w)
{
	for (unsigned i = 0; i < w; i++)
		im->b[off + (im->be ? w - 1 - i : i)] = (uint8_t)(v >> (8 * i));
}

static void make(struct img *im, int is64, int be, uint16_t type)
{
	memset(im, 0, sizeof *im);
	im->is64 = is64;
	im->be = be;
	memcpy(im->b, "\177ELF", 4);
	im->b[4] = is64 ? 2 : 1;
	im->b[5] = be ? 2 : 1;
	im->b[6] = 1;
	put(im, 16, type, 2);
	put(im, 18, 243, 2);                         /* EM_RISCV */
	if (is64) {
		put(im, 32, 64, 8);                  /* e_phoff */
		put(im, 54, 56, 2);                  /* e_phentsize */
		put(im, 56, 1, 2);                   /* e_phnum */
		put(im, 64, ELF_PT_NOTE, 4);
		im->notes = im->n = 64 + 56;
	} else {
		put(im, 28, 52, 4);
		put(im, 42, 32, 2);
		put(im, 44, 1, 2);
		put(im, 52, ELF_PT_NOTE, 4);
		im->notes = im->n = 52 + 32;
	}
}

/* The note segment's offset, size and alignment. */
static void seg(struct img *im, uint64_t off, uint64_t len, uint64_t align)
{
	if (im->is64) {
		put(im, 64 + 8, off, 8);
		put(im, 64 + 32, len, 8);
		put(im, 64 + 48, align, 8);
	} else {
		put(im, 52 + 4, off, 4);
		put(im, 52 + 16, len, 4);
		put(im, 52 + 28, align, 4);
	}
}

static size_t up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/* Append one note laid out for alignment a (padding included); its descriptor's offset. */
static size_t note(struct img *im, uint32_t type, const char *name, const void *desc,
                   uint32_t descsz, size_t a)
{
	size_t at = im->n, nl = strlen(name) + 1;
	put(im, at, nl, 4);
	put(im, at + 4, descsz, 4);
	put(im, at + 8, type, 4);
	memcpy(im->b + at + 12, name, nl);
	size_t d = im->notes + up(at + 12 + nl - im->notes, a);
	memcpy(im->b + d, desc, descsz);
	im->n = im->notes + up(d + descsz - im->notes, a);
	return d;
}

static const uint8_t BID[20] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6,
                                 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/* The walk over im's segment: number of notes; *trunc and *clip from the iterator. */
static int walk(const struct img *im, size_t n, struct elf_note *out, int max, int *trunc,
                int *clip)
{
	struct elf_view e;
	struct elf_phdr ph;
	struct elf_note_iter it;
	int k = 0;

	assert_int_equal(elf_view_open(&e, im->b, n), ELFV_OK);
	assert_int_equal(elf_phdr(&e, 0, &ph), 0);
	assert_int_equal(ph.type, ELF_PT_NOTE);
	elf_notes_of(&it, &e, &ph);
	while (k < max && elf_note_next(&it, &out[k]))
		k++;
	*trunc = it.truncated;
	*clip = it.clipped;
	return k;
}

static void check_three_notes(int is64, int be)
{
	struct img im;
	struct elf_note nt[4];
	int trunc, clip;
	uint8_t st[13];

	memset(st, 0x5a, sizeof st);
	make(&im, is64, be, 4);
	size_t d0 = note(&im, 1, "CORE", st, sizeof st, 4);
	note(&im, 3, "GNU", BID, sizeof BID, 4);
	note(&im, CW_NT_CORECAST, CW_NOTE_NAME, "xy", 2, 4);
	seg(&im, im.notes, im.n - im.notes, 4);

	assert_int_equal(walk(&im, im.n, nt, 4, &trunc, &clip), 3);
	assert_false(trunc);
	assert_false(clip);
	assert_int_equal(nt[0].type, 1);
	assert_true(elf_note_named(&nt[0], "CORE"));
	assert_false(elf_note_named(&nt[0], "COR"));
	assert_int_equal(nt[0].descsz, 13);
	assert_int_equal(nt[0].desc_off, d0);
	assert_int_equal(nt[1].type, 3);
	assert_true(elf_note_named(&nt[1], "GNU"));
	assert_memory_equal(nt[1].desc, BID, sizeof BID);
	assert_int_equal(nt[2].type, CW_NT_CORECAST);
	assert_true(elf_note_named(&nt[2], CW_NOTE_NAME));
	assert_memory_equal(nt[2].desc, "xy", 2);
}

static void test_notes_of_a_little_endian_64bit_core(void **state)
{
	(void)state;
	check_three_notes(1, 0);
}

static void test_notes_of_a_big_endian_32bit_file(void **state)
{
	(void)state;
	check_three_notes(0, 1);
}

/* The gABI pads every note, the last one too; Linux writes it so and elfutils refuses
 * a final note cut short.  Both corecast readers now agree with that. */
static void test_last_note_without_its_padding_is_refused_by_both_readers(void **state)
{
	struct img im;
	struct elf_note nt[4];
	int trunc, clip, has;
	struct nd_meta m;
	uint8_t id[ND_BUILDID_MAX], proj[74];

	(void)state;
	memset(proj, 0, sizeof proj);   /* version 0: the note is seen, its body ignored */
	make(&im, 1, 0, 4);
	note(&im, 3, "GNU", BID, 18, 4);                         /* 18: two bytes of padding */
	note(&im, CW_NT_CORECAST, CW_NOTE_NAME, proj, sizeof proj, 4);   /* 74: two too */

	/* With the padding, both notes are read. */
	seg(&im, im.notes, im.n - im.notes, 4);
	assert_int_equal(walk(&im, im.n, nt, 4, &trunc, &clip), 2);
	assert_false(trunc);
	assert_int_equal(coremeta_read(im.b, im.n, &m, &has), COREMETA_OK);
	assert_true(has);
	assert_int_equal(elf_buildid(im.b, im.n, id), 18);

	/* The segment ends right after the last descriptor, before its padding. */
	seg(&im, im.notes, im.n - 2 - im.notes, 4);
	assert_int_equal(walk(&im, im.n, nt, 4, &trunc, &clip), 1);
	assert_true(trunc);
	assert_int_equal(coremeta_read(im.b, im.n, &m, &has), COREMETA_E_TRUNCATED);
	assert_false(has);

	/* The build-id note last, cut the same way: no build-id. */
	make(&im, 1, 0, 2);
	note(&im, 3, "GNU", BID, 18, 4);
	seg(&im, im.notes, im.n - 2 - im.notes, 4);
	assert_int_equal(elf_buildid(im.b, im.n, id), 0);
	seg(&im, im.notes, im.n - im.notes, 4);
	assert_int_equal(elf_buildid(im.b, im.n, id), 18);
	assert_memory_equal(id, BID, 18);
}

static void test_descriptor_past_the_segment_stops_the_walk(void **state)
{
	struct img im;
	struct elf_note nt[4];
	int trunc, clip;

	(void)state;
	make(&im, 1, 0, 4);
	note(&im, 1, "CORE", "abcd", 4, 4);
	size_t second = im.n;
	note(&im, 1, "CORE", "efgh", 4, 4);
	put(&im, second + 4, 0xfffffff0u, 4);                    /* descsz: far too big */
	seg(&im, im.notes, im.n - im.notes, 4);
	assert_int_equal(walk(&im, im.n, nt, 4, &trunc, &clip), 1);
	assert_true(trunc);
	put(&im, second, 0xffffffffu, 4);                        /* namesz: as big as it gets */
	put(&im, second + 4, 4, 4);
	assert_int_equal(walk(&im, im.n, nt, 4, &trunc, &clip), 1);
	assert_true(trunc);
}

static void test_segment_past_the_view_is_clipped(void **state)
{
	struct img im;
	struct elf_note nt[4];
	int trunc, clip;
	uint8_t id[ND_BUILDID_MAX];

	(void)state;
	/* The head of an image in a core: the note segment runs on past what was dumped. */
	make(&im, 1, 0, 3);
	note(&im, 3, "GNU", BID, sizeof BID, 4);
	seg(&im, im.notes, 4096, 4);
	assert_int_equal(walk(&im, im.n, nt, 4, &trunc, &clip), 1);
	assert_true(clip);
	assert_false(trunc);
	assert_int_equal(elf_buildid(im.b, im.n, id), sizeof BID);
	seg(&im, 1u << 30, 16, 4);                               /* starts past the view */
	assert_int_equal(walk(&im, im.n, nt, 4, &trunc, &clip), 0);
	assert_true(clip);
}

static void test_eight_byte_aligned_segment(void **state)
{
	struct img im;
	struct elf_note nt[4];
	int trunc, clip;

	(void)state;
	make(&im, 1, 0, 3);
	/* "CORE" ends at 17: its descriptor is at 24 with 8-byte alignment, not 20. */
	size_t d0 = note(&im, 5, "CORE", "12345678", 8, 8);
	size_t d1 = note(&im, 6, "CORE", "ABCD", 4, 8);
	assert_int_equal(d0 - im.notes, 24);
	seg(&im, im.notes, im.n - im.notes, 8);
	assert_int_equal(walk(&im, im.n, nt, 4, &trunc, &clip), 2);
	assert_false(trunc);
	assert_int_equal(nt[0].desc_off, d0);
	assert_memory_equal(nt[0].desc, "12345678", 8);
	assert_int_equal(nt[1].desc_off, d1);
	assert_memory_equal(nt[1].desc, "ABCD", 4);
}

static void test_fewer_than_twelve_bytes_left_are_not_a_note(void **state)
{
	struct img im;
	struct elf_note nt[4];
	int trunc, clip;

	(void)state;
	make(&im, 0, 0, 4);
	note(&im, 1, "CORE", "abcd", 4, 4);
	seg(&im, im.notes, im.n + 8 - im.notes, 4);
	im.n += 8;
	assert_int_equal(walk(&im, im.n, nt, 4, &trunc, &clip), 1);
	assert_false(trunc);
}

static void test_not_elf_and_short_headers(void **state)
{
	struct elf_view e;
	struct img im;

	(void)state;
	assert_int_equal(elf_view_open(&e, (const uint8_t *)"\177ELG", 4), ELFV_E_NOT_ELF);
	make(&im, 1, 0, 4);
	assert_int_equal(elf_view_open(&e, im.b, 63), ELFV_E_TRUNCATED);
	assert_int_equal(elf_view_open(&e, im.b, 64), ELFV_OK);
	assert_int_equal(e.type, 4);
	assert_int_equal(e.machine, 243);
	im.b[5] = 3;                                             /* no such byte order */
	assert_int_equal(elf_view_open(&e, im.b, 64), ELFV_E_NOT_ELF);
}

/* Every prefix of a core, in an allocation of exactly that size: ASan sees any read
 * past it, by the walker or by either reader. */
static void test_every_cut_is_read_in_bounds(void **state)
{
	struct img im;
	uint8_t st[13], id[ND_BUILDID_MAX];
	struct nd_meta m;
	int has;

	(void)state;
	for (int is64 = 0; is64 < 2; is64++) {
		make(&im, is64, 0, 4);
		memset(st, 7, sizeof st);
		note(&im, 1, "CORE", st, sizeof st, 4);
		note(&im, 3, "GNU", BID, sizeof BID, 4);
		note(&im, CW_NT_CORECAST, CW_NOTE_NAME, st, sizeof st, 4);
		seg(&im, im.notes, im.n - im.notes, 4);
		for (size_t n = 0; n <= im.n; n++) {
			uint8_t *p = malloc(n ? n : 1);
			memcpy(p, im.b, n);
			struct elf_view e;
			if (elf_view_open(&e, p, n) == ELFV_OK) {
				struct elf_phdr ph;
				for (unsigned i = 0; i < elf_phnum(&e) && elf_phdr(&e, i, &ph) == 0; i++) {
					struct elf_note_iter it;
					struct elf_note nt;
					elf_notes_of(&it, &e, &ph);
					while (elf_note_next(&it, &nt))
						assert_true(elf_in(&e, nt.desc_off, nt.descsz));
				}
			}
			(void)coremeta_read(p, n, &m, &has);
			(void)elf_buildid(p, n, id);
			memset(&m, 0, sizeof m);
			core_buildids(p, n, &m);
			free(p);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notes_of_a_little_endian_64bit_core),
		cmocka_unit_test(test_notes_of_a_big_endian_32bit_file),
		cmocka_unit_test(test_last_note_without_its_padding_is_refused_by_both_readers),
		cmocka_unit_test(test_descriptor_past_the_segment_stops_the_walk),
		cmocka_unit_test(test_segment_past_the_view_is_clipped),
		cmocka_unit_test(test_eight_byte_aligned_segment),
		cmocka_unit_test(test_fewer_than_twelve_bytes_left_are_not_a_note),
		cmocka_unit_test(test_not_elf_and_short_headers),
		cmocka_unit_test(test_every_cut_is_read_in_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
