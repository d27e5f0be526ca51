/* collector/serial/coremeta.c: bounds-checked reader of the notes an importer needs from a core. */
#include "collector/serial/coremeta.h"

#include <stdio.h>
#include <string.h>

#include "collector/elfcore/elfnote.h"
#include "kernel/coredump/coredump.h"

const char *coremeta_strerror(enum coremeta_err e)
{
	switch (e) {
	case COREMETA_OK: return "ok";
	case COREMETA_E_NOT_ELF: return "not a little-endian ELF file";
	case COREMETA_E_NOT_CORE: return "not an ELF core file";
	case COREMETA_E_TRUNCATED: return "core truncated (header or note past the end)";
	case COREMETA_E_NO_NOTES: return "core has no notes";
	}
	return "unknown error";
}

static uint64_t rd(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Copy a string of at most n bytes (not necessarily NUL-terminated) into dst[cap]. */
static void cpy(char *dst, size_t cap, const uint8_t *src, size_t n)
{
	size_t k = 0;
	while (k < n && k + 1 < cap && src[k])
		k++;
	memcpy(dst, src, k);
	dst[k] = 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* The CORECAST note body; any inconsistency just stops reading it. */
static void read_project(const uint8_t *d, size_t n, struct nd_meta *m)
{
	if (n < 72 || rd(d, 4) != CW_NOTE_VERSION)
		return;
	uint32_t nimg = (uint32_t)rd(d + 4, 4);
	m->device_time = rd(d + 16, 8);
	memcpy(m->boot_id, d + 24, ND_BOOTID_LEN);
	if (rd(d + 40, 4))
		m->signal = (uint32_t)rd(d + 40, 4);
	if (rd(d + 56, 4))
		m->pid = (uint32_t)rd(d + 56, 4);
	m->seq = (uint32_t)rd(d + 68, 4);
	size_t pos = 72;
	char *dst[4] = { m->device, m->firmware, m->cause, NULL };
	size_t cap[4] = { sizeof m->device, sizeof m->firmware, sizeof m->cause, 0 };
	for (int i = 0; i < 4; i++) {
		if (pos + 2 > n)
			return;
		size_t l = (size_t)rd(d + pos, 2);
		if (l > n - pos - 2)
			return;
		if (dst[i])
			cpy(dst[i], cap[i], d + pos + 2, l);
		else if (!m->exe[0])
			cpy(m->exe, sizeof m->exe, d + pos + 2, l);
		pos += 2 + l;
	}
	for (uint32_t i = 0; i < nimg; i++) {
		if (pos + 1 > n)
			return;
		size_t bl = d[pos];
		if (bl > CW_BUILDID_MAX || pos + 1 + bl + 8 + 2 > n)
			return;
		const uint8_t *bid = d + pos + 1;
		pos += 1 + bl + 8;
		size_t pl = (size_t)rd(d + pos, 2);
		if (pl > n - pos - 2)
			return;
		char path[256];
		cpy(path, sizeof path, d + pos + 2, pl);
		pos += 2 + pl;
		if (bl == 0 || m->n_buildids >= ND_BUILDIDS_MAX)
			continue;
		struct nd_buildid *b = &m->buildids[m->n_buildids++];
		b->len = (uint8_t)bl;
		memcpy(b->id, bid, bl);
		snprintf(b->name, sizeof b->name, "%.*s", (int)sizeof b->name - 1, base_name(path));
	}
}

enum coremeta_err coremeta_read(const uint8_t *c, size_t len, struct nd_meta *m, int *has_project)
{
	struct elf_view e;
	struct elf_phdr ph;

	memset(m, 0, sizeof *m);
	*has_project = 0;
	enum elfv_err ve = elf_view_open(&e, c, len);
	/* The project note and the Linux notes read here are little-endian layouts. */
	if (len < 52 || ve == ELFV_E_NOT_ELF || e.be)
		return COREMETA_E_NOT_ELF;
	if (ve != ELFV_OK)
		return COREMETA_E_TRUNCATED;
	if (e.type != 4 /* ET_CORE */)
		return COREMETA_E_NOT_CORE;
	int is64 = e.is64;
	m->core_size = len;
	m->machine = e.machine;
	unsigned phnum = elf_phnum(&e);
	/* The whole table must be there (its last entry checks the rest). */
	if (phnum && elf_phdr(&e, phnum - 1, &ph) < 0)
		return COREMETA_E_TRUNCATED;
	int notes = 0, have_sig = 0;
	for (unsigned i = 0; i < phnum; i++) {
		struct elf_note_iter it;
		struct elf_note nt;
		elf_phdr(&e, i, &ph);
		if (ph.type != ELF_PT_NOTE)
			continue;
		elf_notes_of(&it, &e, &ph);
		if (it.clipped)
			return COREMETA_E_TRUNCATED;
		notes = 1;
		while (elf_note_next(&it, &nt)) {
			const uint8_t *d = nt.desc;
			uint64_t dsz = nt.descsz;
			int core_name = elf_note_named(&nt, "CORE");
			if (core_name && nt.type == 3 /* NT_PRPSINFO */) {
				uint64_t pid_off = is64 ? 24 : 12, fn = is64 ? 40 : 28;
				if (dsz >= fn + 16) {
					m->pid = (uint32_t)rd(d + pid_off, 4);
					cpy(m->exe, sizeof m->exe, d + fn, 16);
				}
			} else if (core_name && nt.type == CW_NT_SIGINFO && dsz >= 4) {
				m->signal = (uint32_t)rd(d, 4);
				have_sig = 1;
			} else if (core_name && nt.type == 1 /* NT_PRSTATUS */ && !have_sig && !m->signal &&
			           dsz >= 14) {
				m->signal = (uint32_t)rd(d + 12, 2);
			} else if (elf_note_named(&nt, CW_NOTE_NAME) && nt.type == CW_NT_CORECAST) {
				*has_project = 1;
				read_project(d, (size_t)dsz, m);
			}
		}
		if (it.truncated)
			return COREMETA_E_TRUNCATED;
	}
	return notes ? COREMETA_OK : COREMETA_E_NO_NOTES;
}
