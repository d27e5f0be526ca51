/* collector/serial/coremeta.c: bounds-checked reader of the notes an importer needs from a core. */
#include "collector/serial/coremeta.h"

#include <stdio.h>
#include <string.h>

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
	memset(m, 0, sizeof *m);
	*has_project = 0;
	if (len < 52 || memcmp(c, "\177ELF", 4) || (c[4] != 1 && c[4] != 2) || c[5] != 1)
		return COREMETA_E_NOT_ELF;
	int is64 = c[4] == 2;
	if (is64 && len < 64)
		return COREMETA_E_TRUNCATED;
	if (rd(c + 16, 2) != 4)
		return COREMETA_E_NOT_CORE;
	m->core_size = len;
	m->machine = (uint16_t)rd(c + 18, 2);
	uint64_t phoff = is64 ? rd(c + 32, 8) : rd(c + 28, 4);
	unsigned phentsize = (unsigned)rd(c + (is64 ? 54 : 42), 2);
	unsigned phnum = (unsigned)rd(c + (is64 ? 56 : 44), 2);
	if (phentsize < (is64 ? 56u : 32u) || phoff > len || (uint64_t)phnum * phentsize > len - phoff)
		return COREMETA_E_TRUNCATED;
	int notes = 0, have_sig = 0;
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = c + phoff + (uint64_t)i * phentsize;
		if (rd(ph, 4) != 4)
			continue;
		uint64_t off = is64 ? rd(ph + 8, 8) : rd(ph + 4, 4);
		uint64_t sz = is64 ? rd(ph + 32, 8) : rd(ph + 16, 4);
		if (off > len || sz > len - off)
			return COREMETA_E_TRUNCATED;
		notes = 1;
		uint64_t pos = off, end = off + sz;
		while (end - pos >= 12) {
			uint64_t nsz = rd(c + pos, 4), dsz = rd(c + pos + 4, 4), type = rd(c + pos + 8, 4);
			uint64_t npad = (nsz + 3) & ~3ull, dpad = (dsz + 3) & ~3ull;
			if (npad > end - pos - 12 || dsz > end - pos - 12 - npad)
				return COREMETA_E_TRUNCATED;
			const uint8_t *name = c + pos + 12, *d = name + npad;
			int core_name = nsz == 5 && !memcmp(name, "CORE", 5);
			if (core_name && type == 3 /* NT_PRPSINFO */) {
				uint64_t pid_off = is64 ? 24 : 12, fn = is64 ? 40 : 28;
				if (dsz >= fn + 16) {
					m->pid = (uint32_t)rd(d + pid_off, 4);
					cpy(m->exe, sizeof m->exe, d + fn, 16);
				}
			} else if (core_name && type == CW_NT_SIGINFO && dsz >= 4) {
				m->signal = (uint32_t)rd(d, 4);
				have_sig = 1;
			} else if (core_name && type == 1 /* NT_PRSTATUS */ && !have_sig && !m->signal && dsz >= 14) {
				m->signal = (uint32_t)rd(d + 12, 2);
			} else if (nsz == sizeof CW_NOTE_NAME && !memcmp(name, CW_NOTE_NAME, nsz) &&
			           type == CW_NT_CORECAST) {
				*has_project = 1;
				read_project(d, (size_t)dsz, m);
			}
			if (dpad > end - pos - 12 - npad)
				break;
			pos += 12 + npad + dpad;
		}
	}
	return notes ? COREMETA_OK : COREMETA_E_NO_NOTES;
}
