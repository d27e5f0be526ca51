/* kernel/fdt.c: a bounds-checked flattened device tree walker that finds one property by path. */
#include "kernel/kernel.h"

/*
 * The kernel needs two properties (/chosen/bootargs and /memory's reg), so a
 * 100-line walker that checks every offset against totalsize is smaller and easier
 * to audit than cross-building libfdt for it.  The blob comes from firmware and is
 * treated as untrusted bytes: big-endian loads, no struct casts, every offset
 * checked against totalsize, and totalsize against the caller's bound.
 */
#define FDT_MAGIC 0xd00dfeed
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Does node name `name` (possibly "memory@80000000") match path component `comp`? */
static int comp_match(const char *name, const char *comp, size_t clen)
{
	size_t n = 0;
	while (name[n] && name[n] != '@')
		n++;
	if (clen == n && strncmp(name, comp, n) == 0)
		return 1;
	return strlen(name) == clen && strncmp(name, comp, clen) == 0;
}

int fdt_find(const void *blob, size_t maxlen, const char *path, const char *prop, const void **val,
	     uint32_t *len)
{
	const uint8_t *b = blob;
	if (!b || maxlen < 40 || be32(b) != FDT_MAGIC)
		return -1;
	uint32_t total = be32(b + 4), off_struct = be32(b + 8), off_strings = be32(b + 12);
	uint32_t size_strings = be32(b + 32), size_struct = be32(b + 36);
	if (total > maxlen || total < 40 || off_struct > total || size_struct > total - off_struct ||
	    off_strings > total || size_strings > total - off_strings)
		return -1;
	const uint8_t *s = b + off_struct, *end = s + size_struct;
	/* Path "/a/b": depth d matches component d; `matched` is how deep we still agree. */
	const char *comps[8];
	size_t clens[8];
	int ncomp = 0;
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *q = p;
		while (*q && *q != '/')
			q++;
		if (ncomp == 8)
			return -1;
		comps[ncomp] = p;
		clens[ncomp++] = (size_t)(q - p);
		p = q;
	}
	int depth = -1, matched = -1; /* depth of the current node; deepest matching depth */
	while (s + 4 <= end) {
		uint32_t tok = be32(s);
		s += 4;
		if (tok == FDT_BEGIN_NODE) {
			const char *name = (const char *)s;
			size_t n = 0;
			while (s + n < end && s[n])
				n++;
			if (s + n >= end)
				return -1;
			s += (n + 4) & ~3UL;
			depth++;
			if (depth == 0)
				matched = 0; /* root */
			else if (matched == depth - 1 && depth <= ncomp &&
				 comp_match(name, comps[depth - 1], clens[depth - 1]))
				matched = depth;
		} else if (tok == FDT_END_NODE) {
			if (matched == depth)
				matched--;
			depth--;
		} else if (tok == FDT_PROP) {
			if (s + 8 > end)
				return -1;
			uint32_t plen = be32(s), nameoff = be32(s + 4);
			s += 8;
			if (plen > (uint32_t)(end - s) || nameoff >= size_strings)
				return -1;
			if (matched == ncomp && depth == ncomp) {
				const char *pn = (const char *)b + off_strings + nameoff;
				size_t maxn = size_strings - nameoff;
				size_t pl = 0;
				while (pl < maxn && pn[pl])
					pl++;
				if (pl < maxn && strcmp(pn, prop) == 0) {
					*val = s;
					*len = plen;
					return 0;
				}
			}
			s += (plen + 3) & ~3U;
		} else if (tok == FDT_NOP) {
			continue;
		} else {
			break;
		}
	}
	return -1;
}
