/* kernel/coredump/writer.c: lays out and streams a Linux-compatible ELF core from a frozen process. */
#include "kernel/coredump/coredump.h"

/*
 * File layout (all offsets fixed by cw_begin):
 *
 *   ELF header | PT_NOTE + one PT_LOAD per source map | notes | pad to page | contents
 *
 * Every byte of the file is produced by one function, emit(), which walks these
 * pieces in file order and hands over only the bytes inside a wanted window.  A
 * full write asks for [0, size); cw_read_range asks for any sub-range and gets
 * exactly the same bytes, because both run the same code over the same frozen
 * source.  Pieces entirely outside the window are skipped by size, without being
 * generated, so a retransmission of a few KiB does not rebuild the whole core.
 */

#define PF_X 1u
#define PF_W 2u
#define PF_R 4u
#define PT_LOAD 1u
#define PT_NOTE 4u

#define AT_NULL   0u
#define AT_PAGESZ 6u
#define AT_HWCAP  16u
#define AT_HWCAP2 26u

#define STR_MAX 1024u     /* longest string the project note keeps */

_Static_assert((CW_CHUNK & (CW_CHUNK - 1)) == 0 && CW_CHUNK >= 1024, "CW_CHUNK: power of two, >= 1024 (note bodies are built in it)");

const char *cw_strerror(enum cw_err e)
{
	switch (e) {
	case CW_OK: return "success";
	case CW_E_ARG: return "invalid argument";
	case CW_E_SOURCE: return "process source failed";
	case CW_E_TOO_MANY_MAPS: return "too many memory maps";
	case CW_E_NO_THREADS: return "process has no threads";
	case CW_E_SINK: return "sink refused data";
	case CW_E_RANGE: return "range outside the core";
	case CW_E_STATE: return "writer not started";
	}
	return "unknown error";
}

void cw_config_default(struct cw_config *cfg)
{
	cfg->scope = CW_DEFAULT_SCOPE;
	cfg->stack_cap = 0;
	cfg->total_cap = 0;
	cfg->thread_cap = 0;
	cfg->page_size = 4096;
}

/* ---- small freestanding helpers ---------------------------------------------- */

static void mzero(void *p, size_t n)
{
	uint8_t *d = p;
	while (n--)
		*d++ = 0;
}

static void mcopy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	while (n--)
		*d++ = *s++;
}

static uint32_t slen(const char *s, uint32_t max)
{
	uint32_t n = 0;
	if (!s)
		return 0;
	while (n < max && s[n])
		n++;
	return n;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static int is64(const struct cw_writer *w) { return w->src.arch->elf_class == 2; }
static uint32_t wsize(const struct cw_writer *w) { return is64(w) ? 8 : 4; }

static void put_word(const struct cw_writer *w, uint8_t *p, uint64_t v)
{
	if (is64(w))
		cw_le64(p, v);
	else
		cw_le32(p, (uint32_t)v);
}

/* ---- sizes of the pieces ----------------------------------------------------- */

static uint32_t ehdr_size(const struct cw_writer *w) { return is64(w) ? 64 : 52; }
static uint32_t phdr_size(const struct cw_writer *w) { return is64(w) ? 56 : 32; }

/* elf_prstatus: elf_siginfo, cursig, sigpend, sighold, 4 pids, 4 timevals, pr_reg, fpvalid. */
static uint32_t prstatus_reg_off(const struct cw_writer *w) { return 32 + 10 * wsize(w); }
static uint32_t prstatus_size(const struct cw_writer *w)
{
	return (uint32_t)align_up(prstatus_reg_off(w) + w->src.arch->greg_size + 4, wsize(w));
}
static uint32_t prpsinfo_size(const struct cw_writer *w) { return is64(w) ? 136 : 124; }
#define SIGINFO_SIZE 128u

static uint64_t note_size(uint32_t namesz, uint64_t descsz)
{
	return 12 + align_up(namesz, 4) + align_up(descsz, 4);
}

static uint32_t name_sz(const char *name) { return slen(name, 16) + 1; }

/* Aux entries written: the source's, plus AT_HWCAP/AT_PAGESZ when it gave none, plus AT_NULL. */
struct auxplan { uint32_t n; int add_hwcap, add_pagesz; };

static enum cw_err aux_plan(const struct cw_writer *w, struct auxplan *ap)
{
	uint32_t n = w->src.aux_count ? w->src.aux_count(w->src.ctx) : 0;
	ap->n = n;
	ap->add_hwcap = ap->add_pagesz = 1;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t t, v;
		if (w->src.aux(w->src.ctx, i, &t, &v))
			return CW_E_SOURCE;
		if (t == AT_HWCAP)
			ap->add_hwcap = 0;
		if (t == AT_PAGESZ)
			ap->add_pagesz = 0;
	}
	return CW_OK;
}

static uint64_t auxv_desc_size(const struct cw_writer *w, const struct auxplan *ap)
{
	return (uint64_t)(ap->n + (uint32_t)ap->add_hwcap + (uint32_t)ap->add_pagesz + 1) * 2 * wsize(w);
}

static uint64_t file_desc_size(const struct cw_writer *w)
{
	return (2 + 3 * (uint64_t)w->nfile) * wsize(w) + w->file_names;
}

/* CORECAST note: fixed part, then length-prefixed strings and per-image records. */
#define PN_FIXED 72u

static uint64_t proj_desc_size(const struct cw_writer *w, enum cw_err *err)
{
	const struct cw_device d = w->dev;
	uint64_t n = PN_FIXED;
	n += 2 + slen(d.device_id, STR_MAX) + 2 + slen(d.firmware, STR_MAX);
	n += 2 + slen(w->proc.cause, STR_MAX) + 2 + slen(w->proc.name, STR_MAX);
	uint32_t ni = w->src.image_count ? w->src.image_count(w->src.ctx) : 0;
	for (uint32_t i = 0; i < ni; i++) {
		struct cw_image im;
		if (w->src.image(w->src.ctx, i, &im)) {
			*err = CW_E_SOURCE;
			return 0;
		}
		n += 1 + min64(im.build_id_len, CW_BUILDID_MAX) + 8 + 2 + slen(im.path, STR_MAX);
	}
	return n;
}

/* ---- thread order: the crashing thread first, then the rest in source order ---- */

static uint32_t thread_src_index(const struct cw_writer *w, uint32_t k)
{
	if (k == 0)
		return w->crash_idx;
	return (k - 1 < w->crash_idx) ? k - 1 : k;
}

/* ---- layout ------------------------------------------------------------------ */

static int find_map(struct cw_writer *w, uint64_t addr, uint32_t nmaps, struct cw_map *out)
{
	for (uint32_t i = 0; i < nmaps; i++) {
		if (w->src.map(w->src.ctx, i, out))
			return -2;
		if (addr >= out->start && addr < out->end)
			return (int)i;
	}
	return -1;
}

/*
 * Grow map i's window to include [lo, hi).  Budgeted additions respect total_cap:
 * a fresh window is cut to the remaining budget (keeping its low end, where a
 * stack's newest frames are); growing an existing one must fit whole.
 */
static void add_window(struct cw_writer *w, uint32_t i, uint64_t lo, uint64_t hi, int budgeted)
{
	struct cw_seg *s = 0;
	uint64_t ps = w->cfg.page_size;
	if (lo >= hi)
		return;
	for (uint32_t j = 0; j < w->nsegs && !s; j++)
		if (w->seg[j].map == i)
			s = &w->seg[j];
	if (!s) {
		if (w->nsegs == CW_MAX_SEGS) {
			w->segs_dropped++;       /* table full: lower-priority contents are left out */
			return;
		}
		s = &w->seg[w->nsegs++];
		mzero(s, sizeof *s);
		s->map = i;
	}
	if (budgeted && w->cfg.total_cap) {
		uint64_t left = w->cfg.total_cap > w->mem_bytes ? w->cfg.total_cap - w->mem_bytes : 0;
		if (s->filesz == 0) {
			hi = lo + min64(hi - lo, left & ~(ps - 1));
			if (lo >= hi)
				return;
		} else {
			uint64_t nlo = min64(lo, s->vaddr), nhi = max64(hi, s->vaddr + s->filesz);
			if (nhi - nlo - s->filesz > left)
				return;
		}
	}
	if (s->filesz == 0) {
		s->vaddr = lo;
		s->filesz = hi - lo;
	} else {
		uint64_t nlo = min64(lo, s->vaddr), nhi = max64(hi, s->vaddr + s->filesz);
		s->vaddr = nlo;
		s->filesz = nhi - nlo;
	}
	w->mem_bytes = 0;
	for (uint32_t j = 0; j < w->nsegs; j++)
		w->mem_bytes += w->seg[j].filesz;
}

static int dumpable(const struct cw_map *m)
{
	return (m->prot & CW_PROT_R) && !(m->flags & CW_MAP_NODUMP);
}

/* The stack window of one thread: SP..top of its map, or the whole map just above
 * SP when SP has left it (stack overflow into a guard page), within stack_cap. */
static enum cw_err add_stack(struct cw_writer *w, uint32_t src_idx, uint32_t nmaps, int budgeted)
{
	struct cw_thread t;
	struct cw_map m;
	uint64_t ps = w->cfg.page_size, lo, hi;
	if (w->src.thread(w->src.ctx, src_idx, &t) || !t.uctx)
		return CW_E_SOURCE;
	uint64_t sp = w->src.arch->sp(t.uctx);
	int i = find_map(w, sp, nmaps, &m);
	if (i == -2)
		return CW_E_SOURCE;
	if (i >= 0 && dumpable(&m)) {
		lo = sp & ~(ps - 1);
		hi = m.end;
		if (w->cfg.stack_cap)
			hi = min64(hi, lo + align_up(w->cfg.stack_cap, ps));
	} else {
		/* SP outside any dumpable map: a stack overflow left it in the guard below
		 * its stack, so take the lowest dumpable map above SP if it is a stack.  A
		 * source that marks no stacks gets the map if SP is within reach of it.
		 * A wild SP (0, garbage) must not turn the text segment into a "stack". */
		int marks = 0, cand = -1;
		struct cw_map c;
		for (uint32_t j = 0; j < nmaps; j++) {
			if (w->src.map(w->src.ctx, j, &m))
				return CW_E_SOURCE;
			marks |= (m.flags & CW_MAP_STACK) != 0;
			if (cand < 0 && m.start > sp && dumpable(&m)) {
				cand = (int)j;
				c = m;
			}
		}
		if (cand >= 0 && (marks ? (c.flags & CW_MAP_STACK) != 0 : c.start - sp <= CW_OVERFLOW_REACH)) {
			i = cand;
			m = c;
		} else {
			i = -1;
		}
		if (i < 0)
			return CW_OK;
		lo = m.start;
		hi = m.end;
		if (w->cfg.stack_cap)
			hi = min64(hi, lo + align_up(w->cfg.stack_cap, ps));
	}
	add_window(w, (uint32_t)i, lo, hi, budgeted);
	return CW_OK;
}

enum cw_err cw_begin(struct cw_writer *w, const struct cw_source *src, const struct cw_config *cfg)
{
	enum cw_err err = CW_OK;
	if (!w || !src || !src->arch || !src->proc || !src->thread_count || !src->thread ||
	    !src->map_count || !src->map || !src->read_mem ||
	    (src->image_count && !src->image) || (src->aux_count && !src->aux))
		return CW_E_ARG;
	mzero(w, sizeof *w - sizeof w->buf);
	w->src = *src;
	if (cfg)
		w->cfg = *cfg;
	else
		cw_config_default(&w->cfg);
	if (w->cfg.page_size == 0)
		w->cfg.page_size = 4096;
	if (w->cfg.page_size & (w->cfg.page_size - 1))
		return CW_E_ARG;
	uint64_t ps = w->cfg.page_size;

	if (src->proc(src->ctx, &w->proc))
		return CW_E_SOURCE;
	if (src->device && src->device(src->ctx, &w->dev))
		return CW_E_SOURCE;

	/* threads: find the crashing one, apply the cap */
	uint32_t nt = src->thread_count(src->ctx);
	if (nt == 0)
		return CW_E_NO_THREADS;
	w->crash_idx = 0;
	for (uint32_t i = 0; i < nt; i++) {
		struct cw_thread t;
		if (src->thread(src->ctx, i, &t) || !t.uctx)
			return CW_E_SOURCE;
		if (w->proc.crash_tid && t.tid == w->proc.crash_tid)
			w->crash_idx = i;
	}
	w->nthreads = nt;
	if (w->cfg.thread_cap && w->nthreads > w->cfg.thread_cap)
		w->nthreads = w->cfg.thread_cap;

	/*
	 * maps: windows are chosen in priority order into the segment table; then, if
	 * every map fits, the maps without contents get their (empty) PT_LOAD too, as
	 * in a Linux core.  A process with more maps than CW_MAX_SEGS keeps only the
	 * maps with contents — still a complete core for a debugger.
	 */
	uint32_t nmaps = src->map_count(src->ctx);
	w->nmaps = nmaps;
	w->nsegs = 0;
	uint64_t prev_end = 0;
	for (uint32_t i = 0; i < nmaps; i++) {
		struct cw_map m;
		if (src->map(src->ctx, i, &m) || m.end <= m.start || m.start < prev_end ||
		    ((m.start | m.end) & (ps - 1)))
			return CW_E_SOURCE;      /* unsorted, overlapping or unaligned maps */
		prev_end = m.end;
		if (m.image >= 0) {
			w->nfile++;
			struct cw_image im;
			if (!src->image_count || (uint32_t)m.image >= src->image_count(src->ctx) ||
			    src->image(src->ctx, (uint32_t)m.image, &im))
				return CW_E_SOURCE;
			w->file_names += slen(im.path, STR_MAX) + 1;
		}
	}

	/* 1. always: the crashing thread's stack, image header pages, the fault page */
	if ((err = add_stack(w, w->crash_idx, nmaps, 0)) != CW_OK)
		return err;
	uint32_t nimg = src->image_count ? src->image_count(src->ctx) : 0;
	for (uint32_t i = 0; i < nimg; i++) {
		struct cw_image im;
		struct cw_map m;
		if (src->image(src->ctx, i, &im))
			return CW_E_SOURCE;
		int mi = find_map(w, im.base, nmaps, &m);
		if (mi == -2)
			return CW_E_SOURCE;
		if (mi >= 0 && dumpable(&m))
			add_window(w, (uint32_t)mi, im.base & ~(ps - 1), min64((im.base & ~(ps - 1)) + ps, m.end), 0);
	}
	if (w->proc.has_fault_addr) {
		struct cw_map m;
		int mi = find_map(w, w->proc.fault_addr, nmaps, &m);
		if (mi == -2)
			return CW_E_SOURCE;
		uint64_t pg = w->proc.fault_addr & ~(ps - 1);
		/* Probe: a fault page that cannot be read is left out rather than zero-filled. */
		if (mi >= 0 && dumpable(&m) && src->read_mem(src->ctx, pg, w->buf, 1) == 0 &&
		    src->read_mem(src->ctx, pg + ps - 1, w->buf, 1) == 0)
			add_window(w, (uint32_t)mi, pg, pg + ps, 0);
	}
	/* 2. the other threads' stacks */
	if (w->cfg.scope >= CW_SCOPE_ALL_STACKS)
		for (uint32_t k = 1; k < w->nthreads; k++)
			if ((err = add_stack(w, thread_src_index(w, k), nmaps, 1)) != CW_OK)
				return err;
	/* 3. whole maps, in address order */
	if (w->cfg.scope >= CW_SCOPE_WRITABLE) {
		for (uint32_t i = 0; i < nmaps; i++) {
			struct cw_map m;
			if (src->map(src->ctx, i, &m))
				return CW_E_SOURCE;
			if (!dumpable(&m))
				continue;
			if (w->cfg.scope == CW_SCOPE_ALL || (m.prot & CW_PROT_W))
				add_window(w, i, m.start, m.end, 1);
		}
	}

	/* every map gets a segment when they all fit; then address order */
	if (nmaps <= CW_MAX_SEGS) {
		for (uint32_t i = 0; i < nmaps; i++) {
			int found = 0;
			for (uint32_t j = 0; j < w->nsegs && !found; j++)
				found = w->seg[j].map == i;
			if (!found) {
				struct cw_seg *s = &w->seg[w->nsegs++];
				mzero(s, sizeof *s);
				s->map = i;
			}
		}
	}
	for (uint32_t i = 1; i < w->nsegs; i++) {         /* insertion sort by map index */
		struct cw_seg t = w->seg[i];
		uint32_t j = i;
		for (; j > 0 && w->seg[j - 1].map > t.map; j--)
			w->seg[j] = w->seg[j - 1];
		w->seg[j] = t;
	}

	/* notes */
	struct auxplan ap;
	if ((err = aux_plan(w, &ap)) != CW_OK)
		return err;
	uint64_t pdesc = proj_desc_size(w, &err);
	if (err != CW_OK)
		return err;
	const struct cw_arch *a = src->arch;
	uint64_t per_thread = note_size(5, prstatus_size(w));
	for (uint32_t f = 0; f < a->nfp; f++)
		per_thread += note_size(name_sz(a->fp[f].name), a->fp[f].size);
	w->notes_size = per_thread * w->nthreads + note_size(5, prpsinfo_size(w)) +
	                note_size(5, SIGINFO_SIZE) + note_size(5, auxv_desc_size(w, &ap)) +
	                note_size(5, file_desc_size(w)) + note_size(name_sz(CW_NOTE_NAME), pdesc);
	w->notes_off = ehdr_size(w) + (uint64_t)phdr_size(w) * (1 + w->nsegs);
	w->data_off = align_up(w->notes_off + w->notes_size, ps);
	uint64_t off = w->data_off;
	for (uint32_t i = 0; i < w->nsegs; i++) {
		struct cw_map m;
		struct cw_seg *s = &w->seg[i];
		if (src->map(src->ctx, s->map, &m))
			return CW_E_SOURCE;
		if (s->filesz == 0)
			s->vaddr = m.start;
		s->pflags = ((m.prot & CW_PROT_R) ? PF_R : 0) | ((m.prot & CW_PROT_W) ? PF_W : 0) |
		            ((m.prot & CW_PROT_X) ? PF_X : 0);
		s->off = off;
		s->memsz = m.end - s->vaddr;
		off += s->filesz;
	}
	w->size = off;
	w->began = 1;
	return CW_OK;
}

/* ---- emission -------------------------------------------------------------------- */

struct out {
	struct cw_writer *w;
	uint64_t pos;            /* file offset of the next generated byte */
	uint64_t lo, hi;         /* the wanted window */
	cw_sink_fn sink;         /* either a sink ... */
	void *sink_ctx;
	uint8_t *dst;            /* ... or a buffer holding [lo, hi) */
	int hash;
	enum cw_err err;
};

static void deliver(struct out *o, const uint8_t *p, size_t n, uint64_t at)
{
	if (o->err != CW_OK || n == 0)
		return;
	if (o->dst) {
		mcopy(o->dst + (at - o->lo), p, n);
		return;
	}
	if (o->hash)
		nd_sha256_update(&o->w->sha, p, n);
	int r = o->sink(o->sink_ctx, p, n);
	if (r) {
		o->w->sink_err = r;
		o->err = CW_E_SINK;
	}
}

/* Generated bytes at o->pos: only the part inside [lo, hi) goes out. */
static void put(struct out *o, const void *p, size_t n)
{
	uint64_t a = o->pos, b = o->pos + n;
	o->pos = b;
	if (b <= o->lo || a >= o->hi)
		return;
	uint64_t s = max64(a, o->lo), e = min64(b, o->hi);
	deliver(o, (const uint8_t *)p + (s - a), (size_t)(e - s), s);
}

static void put_zero(struct out *o, uint64_t n)
{
	static const uint8_t z[64];
	while (n) {
		size_t k = (size_t)min64(n, sizeof z);
		put(o, z, k);
		n -= k;
	}
}

/* True when [pos, pos+n) misses the window: the piece is skipped without being built. */
static int skip(struct out *o, uint64_t n)
{
	if (o->pos + n <= o->lo || o->pos >= o->hi) {
		o->pos += n;
		return 1;
	}
	return 0;
}

static void emit_ehdr(struct out *o)
{
	struct cw_writer *w = o->w;
	uint8_t h[64];
	uint32_t n = ehdr_size(w);
	if (skip(o, n))
		return;
	mzero(h, sizeof h);
	h[0] = 0x7f; h[1] = 'E'; h[2] = 'L'; h[3] = 'F';
	h[4] = w->src.arch->elf_class;
	h[5] = 1;                /* ELFDATA2LSB */
	h[6] = 1;                /* EV_CURRENT */
	cw_le16(h + 16, 4);      /* ET_CORE */
	cw_le16(h + 18, w->src.arch->e_machine);
	cw_le32(h + 20, 1);
	if (is64(w)) {
		cw_le64(h + 32, 64);                 /* e_phoff */
		cw_le32(h + 48, w->src.arch->e_flags);
		cw_le16(h + 52, 64);
		cw_le16(h + 54, 56);
		cw_le16(h + 56, (uint16_t)(1 + w->nsegs));
	} else {
		cw_le32(h + 28, 52);
		cw_le32(h + 36, w->src.arch->e_flags);
		cw_le16(h + 40, 52);
		cw_le16(h + 42, 32);
		cw_le16(h + 44, (uint16_t)(1 + w->nsegs));
	}
	put(o, h, n);
}

static void emit_phdr(struct out *o, uint32_t type, uint32_t flags, uint64_t off, uint64_t vaddr,
                      uint64_t filesz, uint64_t memsz, uint64_t align)
{
	uint8_t p[56];
	struct cw_writer *w = o->w;
	if (skip(o, phdr_size(w)))
		return;
	mzero(p, sizeof p);
	cw_le32(p, type);
	if (is64(w)) {
		cw_le32(p + 4, flags);
		cw_le64(p + 8, off);
		cw_le64(p + 16, vaddr);
		cw_le64(p + 32, filesz);
		cw_le64(p + 40, memsz);
		cw_le64(p + 48, align);
	} else {
		cw_le32(p + 4, (uint32_t)off);
		cw_le32(p + 8, (uint32_t)vaddr);
		cw_le32(p + 16, (uint32_t)filesz);
		cw_le32(p + 20, (uint32_t)memsz);
		cw_le32(p + 24, flags);
		cw_le32(p + 28, (uint32_t)align);
	}
	put(o, p, phdr_size(w));
}

/* Note header and name; returns 0 if the whole note is skipped. */
static int note_begin(struct out *o, const char *name, uint32_t type, uint64_t descsz)
{
	uint32_t nsz = name_sz(name);
	if (skip(o, note_size(nsz, descsz)))
		return 0;
	uint8_t h[12 + 20];      /* names are at most 16 characters + NUL, padded to 20 */
	mzero(h, sizeof h);
	cw_le32(h, nsz);
	cw_le32(h + 4, (uint32_t)descsz);
	cw_le32(h + 8, type);
	mcopy(h + 12, name, nsz - 1);
	put(o, h, 12 + align_up(nsz, 4));
	return 1;
}

static void note_end(struct out *o, uint64_t descsz)
{
	put_zero(o, align_up(descsz, 4) - descsz);
}

static void emit_prstatus(struct out *o, const struct cw_thread *t)
{
	struct cw_writer *w = o->w;
	uint32_t sz = prstatus_size(w), W = wsize(w);
	if (!note_begin(o, "CORE", CW_NT_PRSTATUS, sz))
		return;
	uint8_t *b = w->buf;
	mzero(b, sz);
	cw_le32(b + 0, (uint32_t)w->proc.signo);        /* pr_info.si_signo */
	cw_le16(b + 12, (uint16_t)w->proc.signo);       /* pr_cursig */
	uint32_t p = 16 + 2 * W;                         /* after sigpend, sighold */
	cw_le32(b + p, t->tid);
	cw_le32(b + p + 4, w->proc.ppid);
	cw_le32(b + p + 8, w->proc.pid);                 /* pgrp */
	cw_le32(b + p + 12, w->proc.pid);                /* sid */
	p += 16;
	put_word(w, b + p, t->utime_us / 1000000);
	put_word(w, b + p + W, t->utime_us % 1000000);
	put_word(w, b + p + 2 * W, t->stime_us / 1000000);
	put_word(w, b + p + 3 * W, t->stime_us % 1000000);
	w->src.arch->gregs(t->uctx, b + prstatus_reg_off(w));
	cw_le32(b + prstatus_reg_off(w) + w->src.arch->greg_size, 1);   /* pr_fpvalid */
	put(o, b, sz);
	note_end(o, sz);
}

static void emit_fp(struct out *o, const struct cw_thread *t)
{
	const struct cw_arch *a = o->w->src.arch;
	for (uint32_t f = 0; f < a->nfp; f++) {
		if (!note_begin(o, a->fp[f].name, a->fp[f].type, a->fp[f].size))
			continue;
		a->fp[f].fill(t->uctx, o->w->buf);
		put(o, o->w->buf, a->fp[f].size);
		note_end(o, a->fp[f].size);
	}
}

static void copy_str(uint8_t *dst, const char *s, uint32_t max)
{
	uint32_t n = slen(s, max);
	mcopy(dst, s, n);
}

static void emit_prpsinfo(struct out *o)
{
	struct cw_writer *w = o->w;
	uint32_t sz = prpsinfo_size(w);
	if (!note_begin(o, "CORE", CW_NT_PRPSINFO, sz))
		return;
	uint8_t *b = w->buf;
	mzero(b, sz);
	b[1] = 'R';              /* pr_sname: it was running when it faulted */
	if (is64(w)) {
		cw_le32(b + 16, w->proc.uid);
		cw_le32(b + 20, w->proc.gid);
		cw_le32(b + 24, w->proc.pid);
		cw_le32(b + 28, w->proc.ppid);
		cw_le32(b + 32, w->proc.pid);
		cw_le32(b + 36, w->proc.pid);
		copy_str(b + 40, w->proc.name, 15);
		copy_str(b + 56, w->proc.args ? w->proc.args : w->proc.name, 79);
	} else {
		cw_le16(b + 8, (uint16_t)w->proc.uid);
		cw_le16(b + 10, (uint16_t)w->proc.gid);
		cw_le32(b + 12, w->proc.pid);
		cw_le32(b + 16, w->proc.ppid);
		cw_le32(b + 20, w->proc.pid);
		cw_le32(b + 24, w->proc.pid);
		copy_str(b + 28, w->proc.name, 15);
		copy_str(b + 44, w->proc.args ? w->proc.args : w->proc.name, 79);
	}
	put(o, b, sz);
	note_end(o, sz);
}

static void emit_siginfo(struct out *o)
{
	struct cw_writer *w = o->w;
	if (!note_begin(o, "CORE", CW_NT_SIGINFO, SIGINFO_SIZE))
		return;
	uint8_t *b = w->buf;
	uint32_t u = is64(w) ? 16 : 12;      /* the union follows 3 ints, word aligned */
	mzero(b, SIGINFO_SIZE);
	cw_le32(b, (uint32_t)w->proc.signo);
	cw_le32(b + 8, (uint32_t)w->proc.si_code);
	if (w->proc.has_fault_addr) {
		put_word(w, b + u, w->proc.fault_addr);
	} else {                              /* kill-style: sender pid and uid */
		cw_le32(b + u, w->proc.pid);
		cw_le32(b + u + 4, w->proc.uid);
	}
	put(o, b, SIGINFO_SIZE);
}

static void emit_auxv(struct out *o, const struct auxplan *ap)
{
	struct cw_writer *w = o->w;
	uint64_t sz = auxv_desc_size(w, ap);
	if (!note_begin(o, "CORE", CW_NT_AUXV, sz))
		return;
	uint8_t e[16];
	uint32_t W = wsize(w);
	for (uint32_t i = 0; i < ap->n; i++) {
		uint64_t t = 0, v = 0;
		if (w->src.aux(w->src.ctx, i, &t, &v))
			o->err = CW_E_SOURCE;
		put_word(w, e, t);
		put_word(w, e + W, v);
		put(o, e, 2 * W);
	}
	if (ap->add_hwcap) {
		put_word(w, e, AT_HWCAP);
		put_word(w, e + W, w->src.arch->hwcap);
		put(o, e, 2 * W);
	}
	if (ap->add_pagesz) {
		put_word(w, e, AT_PAGESZ);
		put_word(w, e + W, w->cfg.page_size);
		put(o, e, 2 * W);
	}
	put_word(w, e, AT_NULL);
	put_word(w, e + W, 0);
	put(o, e, 2 * W);
}

/* NT_FILE: count, page size, (start, end, offset in pages) per file map, then the names. */
static void emit_file(struct out *o)
{
	struct cw_writer *w = o->w;
	uint64_t sz = file_desc_size(w);
	if (!note_begin(o, "CORE", CW_NT_FILE, sz))
		return;
	uint8_t e[24];
	uint32_t W = wsize(w);
	put_word(w, e, w->nfile);
	put_word(w, e + W, w->cfg.page_size);
	put(o, e, 2 * W);
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < w->nmaps; i++) {
			struct cw_map m;
			struct cw_image im;
			if (w->src.map(w->src.ctx, i, &m)) {
				o->err = CW_E_SOURCE;
				return;
			}
			if (m.image < 0)
				continue;
			if (pass == 0) {
				put_word(w, e, m.start);
				put_word(w, e + W, m.end);
				put_word(w, e + 2 * W, m.file_off / w->cfg.page_size);
				put(o, e, 3 * W);
			} else {
				if (w->src.image(w->src.ctx, (uint32_t)m.image, &im)) {
					o->err = CW_E_SOURCE;
					return;
				}
				put(o, im.path ? im.path : "", slen(im.path, STR_MAX));
				put_zero(o, 1);
			}
		}
	}
	note_end(o, sz);
}

static void put_u16str(struct out *o, const char *s)
{
	uint8_t l[2];
	uint32_t n = slen(s, STR_MAX);
	cw_le16(l, (uint16_t)n);
	put(o, l, 2);
	put(o, s ? s : "", n);
}

/* The CORECAST note; its layout is specified in docs/core-format.md. */
static void emit_project(struct out *o)
{
	struct cw_writer *w = o->w;
	enum cw_err err = CW_OK;
	uint64_t sz = proj_desc_size(w, &err);
	if (err != CW_OK) {
		o->err = err;
		return;
	}
	if (!note_begin(o, CW_NOTE_NAME, CW_NT_CORECAST, sz))
		return;
	const struct cw_device d = w->dev;
	uint32_t nimg = w->src.image_count ? w->src.image_count(w->src.ctx) : 0;
	uint8_t b[PN_FIXED];
	mzero(b, sizeof b);
	cw_le32(b + 0, CW_NOTE_VERSION);
	cw_le32(b + 4, nimg);
	cw_le64(b + 8, d.uptime_ns);
	cw_le64(b + 16, d.time_ns);
	mcopy(b + 24, d.boot_id, 16);
	cw_le32(b + 40, (uint32_t)w->proc.signo);
	cw_le32(b + 44, (uint32_t)w->proc.si_code);
	cw_le64(b + 48, w->proc.fault_addr);
	cw_le32(b + 56, w->proc.pid);
	{
		struct cw_thread t;
		uint32_t tid = 0;
		if (w->src.thread(w->src.ctx, w->crash_idx, &t) == 0)
			tid = t.tid;
		cw_le32(b + 60, tid);
	}
	cw_le32(b + 64, w->proc.has_fault_addr ? 1u : 0u);
	cw_le32(b + 68, d.seq);
	put(o, b, sizeof b);
	put_u16str(o, d.device_id);
	put_u16str(o, d.firmware);
	put_u16str(o, w->proc.cause);
	put_u16str(o, w->proc.name);
	for (uint32_t i = 0; i < nimg; i++) {
		struct cw_image im;
		uint8_t h[9];
		if (w->src.image(w->src.ctx, i, &im)) {
			o->err = CW_E_SOURCE;
			return;
		}
		uint8_t bl = (uint8_t)min64(im.build_id_len, CW_BUILDID_MAX);
		h[0] = bl;
		put(o, h, 1);
		put(o, im.build_id, bl);
		cw_le64(h, im.base);
		put(o, h, 8);
		put_u16str(o, im.path);
	}
	note_end(o, sz);
}

static void emit_thread_notes(struct out *o, uint32_t k, const struct auxplan *ap)
{
	struct cw_writer *w = o->w;
	struct cw_thread t;
	if (w->src.thread(w->src.ctx, thread_src_index(w, k), &t) || !t.uctx) {
		o->err = CW_E_SOURCE;
		return;
	}
	emit_prstatus(o, &t);
	if (k == 0) {            /* process-wide notes follow the first PRSTATUS, as Linux does */
		emit_prpsinfo(o);
		emit_siginfo(o);
		emit_auxv(o, ap);
		emit_file(o);
	}
	emit_fp(o, &t);
}

/* Memory contents: read in CW_CHUNK-aligned chunks so that every pass (whole write
 * or partial re-read) makes the same read_mem calls for the same bytes, and a
 * chunk that cannot be read is zeros both times. */
static void emit_segment(struct out *o, const struct cw_seg *s)
{
	struct cw_writer *w = o->w;
	if (skip(o, s->filesz))
		return;
	uint64_t base = o->pos;
	uint64_t from = max64(o->lo, base) - base, to = min64(o->hi, base + s->filesz) - base;
	uint64_t a = s->vaddr + from, e = s->vaddr + to;
	while (a < e && o->err == CW_OK) {
		uint64_t c0 = a & ~(uint64_t)(CW_CHUNK - 1);
		uint64_t c1 = min64(c0 + CW_CHUNK, s->vaddr + s->filesz);
		c0 = max64(c0, s->vaddr);
		uint64_t take = min64(c1, e) - a;
		if (w->src.read_mem(w->src.ctx, c0, w->buf, (uint32_t)(c1 - c0)))
			mzero(w->buf, (size_t)(c1 - c0));
		deliver(o, w->buf + (a - c0), (size_t)take, base + (a - s->vaddr));
		a += take;
	}
	o->pos = base + s->filesz;
}

static enum cw_err emit(struct out *o)
{
	struct cw_writer *w = o->w;
	struct auxplan ap;
	enum cw_err err = aux_plan(w, &ap);
	if (err != CW_OK)
		return err;
	emit_ehdr(o);
	emit_phdr(o, PT_NOTE, 0, w->notes_off, 0, w->notes_size, 0, 4);
	for (uint32_t i = 0; i < w->nsegs; i++) {
		const struct cw_seg *s = &w->seg[i];
		emit_phdr(o, PT_LOAD, s->pflags, s->off, s->vaddr, s->filesz, s->memsz, w->cfg.page_size);
	}
	for (uint32_t k = 0; k < w->nthreads && o->err == CW_OK; k++)
		emit_thread_notes(o, k, &ap);
	emit_project(o);
	if (!skip(o, w->data_off - o->pos))
		put_zero(o, w->data_off - o->pos);
	for (uint32_t i = 0; i < w->nsegs && o->err == CW_OK; i++)
		emit_segment(o, &w->seg[i]);
	return o->err;
}

enum cw_err cw_write(struct cw_writer *w, cw_sink_fn sink, void *sink_ctx, uint8_t sha256_out[32])
{
	if (!w || !sink)
		return CW_E_ARG;
	if (!w->began)
		return CW_E_STATE;
	struct out o = { .w = w, .pos = 0, .lo = 0, .hi = w->size, .sink = sink,
	                 .sink_ctx = sink_ctx, .hash = sha256_out != 0, .err = CW_OK };
	if (o.hash)
		nd_sha256_init(&w->sha);
	enum cw_err err = emit(&o);
	if (err == CW_OK && o.pos != w->size)
		err = CW_E_STATE;        /* layout and emission disagree: a bug, never silent */
	if (err == CW_OK && sha256_out)
		nd_sha256_final(&w->sha, sha256_out);
	return err;
}

enum cw_err cw_read_range(struct cw_writer *w, uint64_t off, void *buf, size_t len)
{
	if (!w || (!buf && len))
		return CW_E_ARG;
	if (!w->began)
		return CW_E_STATE;
	if (off > w->size || len > w->size - off)
		return CW_E_RANGE;
	if (len == 0)
		return CW_OK;
	struct out o = { .w = w, .pos = 0, .lo = off, .hi = off + len, .dst = buf, .err = CW_OK };
	return emit(&o);
}

/* ---- session metadata for the network path ---------------------------------------- */

static void str_into(char *dst, uint32_t cap, const char *s)
{
	uint32_t n = slen(s, cap - 1);
	mcopy(dst, s, n);
	dst[n] = 0;
}

static const char *base_name(const char *p)
{
	const char *b = p;
	for (; p && *p; p++)
		if (*p == '/')
			b = p + 1;
	return b ? b : "";
}

enum cw_err cw_meta(struct cw_writer *w, struct nd_meta *m)
{
	if (!w || !m)
		return CW_E_ARG;
	if (!w->began)
		return CW_E_STATE;
	const struct cw_device d = w->dev;
	mzero(m, sizeof *m);
	str_into(m->device, ND_DEVICE_MAX, d.device_id);
	mcopy(m->boot_id, d.boot_id, ND_BOOTID_LEN);
	m->seq = d.seq;
	m->core_size = w->size;
	m->machine = w->src.arch->e_machine;
	m->pid = w->proc.pid;
	m->signal = (uint32_t)w->proc.signo;
	str_into(m->exe, ND_NAME_MAX, w->proc.name);
	str_into(m->cause, ND_CAUSE_MAX, w->proc.cause);
	str_into(m->firmware, ND_FIRMWARE_MAX, d.firmware);
	m->device_time = d.time_ns;
	uint32_t ni = w->src.image_count ? w->src.image_count(w->src.ctx) : 0;
	for (uint32_t i = 0; i < ni && m->n_buildids < ND_BUILDIDS_MAX; i++) {
		struct cw_image im;
		if (w->src.image(w->src.ctx, i, &im))
			return CW_E_SOURCE;
		if (im.build_id_len == 0)
			continue;
		struct nd_buildid *b = &m->buildids[m->n_buildids++];
		b->len = (uint8_t)min64(im.build_id_len, ND_BUILDID_MAX);
		mcopy(b->id, im.build_id, b->len);
		str_into(b->name, ND_NAME_MAX, base_name(im.path));
	}
	return CW_OK;
}

int cw_nd_read(void *writer, uint64_t off, void *buf, size_t len)
{
	enum cw_err e = cw_read_range(writer, off, buf, len);
	return e == CW_OK ? 0 : -(int)e;
}
