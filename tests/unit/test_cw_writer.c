/* tests/unit/test_cw_writer.c: core writer — range re-reads equal the stream, digest, errors, determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hal/armv7a/regset.h"
#include "hal/riscv64/regset.h"
#include "kernel/coredump/coredump.h"
#include "netdump/tx.h"

/* A small process: 3 threads, text/data/heap/3 stacks, one image, an unreadable hole. */
struct fake {
	const struct cw_arch *arch;
	struct riscv64_uctx rv[3];
	struct armv7a_uctx arm[3];
	uint32_t nthreads;
	uint32_t nmaps;
	struct cw_map maps[CW_MAX_SEGS + 2];
	int fail_proc, fail_read_all;
	uint64_t hole_lo, hole_hi;   /* read_mem fails here */
	unsigned reads;
};

static int f_proc(void *c, struct cw_proc *o)
{
	struct fake *f = c;
	if (f->fail_proc)
		return -1;
	*o = (struct cw_proc){ .pid = 77, .ppid = 1, .name = "unit", .args = "unit -x", .crash_tid = 79,
	                       .signo = 7, .si_code = 1, .fault_addr = 0x30008, .has_fault_addr = 1,
	                       .cause = "misaligned store" };
	return 0;
}
static uint64_t fake_clock;

static int f_device(void *c, struct cw_device *o)
{
	(void)c;
	memset(o, 0, sizeof *o);
	o->uptime_ns = ++fake_clock;     /* a live clock: must not make re-reads differ */
	o->device_id = "dev-1";
	o->firmware = "1.0";
	o->seq = 3;
	return 0;
}
static uint32_t f_thread_count(void *c) { return ((struct fake *)c)->nthreads; }
static int f_thread(void *c, uint32_t i, struct cw_thread *o)
{
	struct fake *f = c;
	if (i >= f->nthreads)
		return -1;
	o->tid = 77 + i;
	o->uctx = f->arch == &cw_arch_riscv64 ? (const void *)&f->rv[i] : (const void *)&f->arm[i];
	o->utime_us = o->stime_us = 0;
	return 0;
}
static uint32_t f_map_count(void *c) { return ((struct fake *)c)->nmaps; }
static int f_map(void *c, uint32_t i, struct cw_map *o)
{
	struct fake *f = c;
	if (i >= f->nmaps)
		return -1;
	*o = f->maps[i];
	return 0;
}
static uint32_t f_image_count(void *c) { (void)c; return 1; }
static int f_image(void *c, uint32_t i, struct cw_image *o)
{
	(void)c;
	if (i)
		return -1;
	*o = (struct cw_image){ .path = "/bin/unit", .base = 0x10000, .build_id_len = 4,
	                        .build_id = { 1, 2, 3, 4 } };
	return 0;
}
static int f_read(void *c, uint64_t addr, void *buf, uint32_t len)
{
	struct fake *f = c;
	f->reads++;
	if (f->fail_read_all || (addr < f->hole_hi && addr + len > f->hole_lo))
		return -1;
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)((addr + i) * 131 >> 3);
	return 0;
}

static void fake_init(struct fake *f, const struct cw_arch *arch)
{
	memset(f, 0, sizeof *f);
	f->arch = arch;
	f->nthreads = 3;
	struct cw_map m[] = {
		{ 0x10000, 0x14000, CW_PROT_R | CW_PROT_X, 0, 0, 0 },
		{ 0x14000, 0x15000, CW_PROT_R | CW_PROT_W, 0, 0, 0x4000 },
		{ 0x30000, 0x40000, CW_PROT_R | CW_PROT_W, 0, -1, 0 },
		{ 0x50000, 0x58000, CW_PROT_R | CW_PROT_W, CW_MAP_STACK, -1, 0 },
		{ 0x60000, 0x68000, CW_PROT_R | CW_PROT_W, CW_MAP_STACK, -1, 0 },
		{ 0x70000, 0x78000, CW_PROT_R | CW_PROT_W, CW_MAP_STACK, -1, 0 },
	};
	memcpy(f->maps, m, sizeof m);
	f->nmaps = 6;
	for (int t = 0; t < 3; t++) {
		for (int r = 0; r < 32; r++)
			f->rv[t].gpr[r] = 0x1000u * (uint64_t)t + (uint64_t)r;
		f->rv[t].gpr[RV64_SP] = 0x57000 + 0x10000u * (uint64_t)t - 0x123;
		f->rv[t].gpr[RV64_PC] = 0x10100;
		for (int r = 0; r < 16; r++)
			f->arm[t].gpr[r] = 0x100u * (uint32_t)t + (uint32_t)r;
		f->arm[t].gpr[ARM_SP] = 0x57000 + 0x10000u * (uint32_t)t - 0x123;
	}
	f->hole_lo = 0x36000;
	f->hole_hi = 0x36400;
}

static struct cw_source fake_source(struct fake *f)
{
	return (struct cw_source){ .ctx = f, .arch = f->arch, .proc = f_proc, .device = f_device,
	                           .thread_count = f_thread_count, .thread = f_thread,
	                           .map_count = f_map_count, .map = f_map, .image_count = f_image_count,
	                           .image = f_image, .read_mem = f_read };
}

struct membuf { uint8_t *p; size_t n, cap; int fail_after; int calls; };

static int mem_sink(void *c, const void *buf, size_t len)
{
	struct membuf *m = c;
	if (m->fail_after >= 0 && m->calls++ >= m->fail_after)
		return -5;
	if (m->n + len > m->cap) {
		m->cap = (m->n + len) * 2;
		m->p = realloc(m->p, m->cap);
		assert_non_null(m->p);
	}
	memcpy(m->p + m->n, buf, len);
	m->n += len;
	return 0;
}

static struct cw_writer W;    /* as a kernel would hold it: static, not on the stack */

static uint8_t *stream(struct fake *f, const struct cw_config *cfg, size_t *len, uint8_t sha[32])
{
	struct cw_source src = fake_source(f);
	assert_int_equal(cw_begin(&W, &src, cfg), CW_OK);
	struct membuf m = { NULL, 0, 0, -1, 0 };
	assert_int_equal(cw_write(&W, mem_sink, &m, sha), CW_OK);
	assert_int_equal(m.n, cw_size(&W));
	*len = m.n;
	return m.p;
}

static void check_ranges(struct fake *f, const struct cw_config *cfg, unsigned n, unsigned seed)
{
	size_t len;
	uint8_t sha[32];
	uint8_t *core = stream(f, cfg, &len, sha);
	uint8_t *buf = malloc(len);
	srand(seed);
	for (unsigned i = 0; i < n; i++) {
		uint64_t off = (uint64_t)rand() % len;
		size_t l = (size_t)rand() % (i % 4 == 0 ? len - off + 1 : (size_t)(len - off < 3000 ? len - off + 1 : 3000));
		memset(buf, 0xaa, l);
		assert_int_equal(cw_read_range(&W, off, buf, l), CW_OK);
		if (memcmp(buf, core + off, l) != 0)
			fail_msg("range [%llu, +%zu) differs from the streamed core", (unsigned long long)off, l);
	}
	/* every single byte of the headers and notes, one at a time */
	for (uint64_t off = 0; off < W.data_off && off < len; off++) {
		assert_int_equal(cw_read_range(&W, off, buf, 1), CW_OK);
		assert_int_equal(buf[0], core[off]);
	}
	assert_int_equal(cw_read_range(&W, 0, buf, len), CW_OK);
	assert_memory_equal(buf, core, len);
	free(buf);
	free(core);
}

static void test_read_range_equals_streamed_slice_every_scope(void **state)
{
	(void)state;
	struct fake f;
	struct cw_config cfg;
	for (int arch = 0; arch < 2; arch++) {
		for (int scope = CW_SCOPE_CRASH_STACK; scope <= CW_SCOPE_ALL; scope++) {
			fake_init(&f, arch ? &cw_arch_armv7a : &cw_arch_riscv64);
			cw_config_default(&cfg);
			cfg.scope = (enum cw_scope)scope;
			check_ranges(&f, &cfg, 400, (unsigned)(scope * 7 + arch));
		}
	}
}

static void test_read_range_with_caps_and_unreadable_memory(void **state)
{
	(void)state;
	struct fake f;
	struct cw_config cfg;
	fake_init(&f, &cw_arch_riscv64);
	cw_config_default(&cfg);
	cfg.scope = CW_SCOPE_ALL;
	cfg.total_cap = 40 * 1024;
	cfg.stack_cap = 8192;
	cfg.thread_cap = 2;
	check_ranges(&f, &cfg, 300, 99);
	assert_true(W.mem_bytes <= 40 * 1024);
	assert_int_equal(W.nthreads, 2);
}

static void test_unreadable_chunk_is_zeros(void **state)
{
	(void)state;
	struct fake f;
	struct cw_config cfg;
	size_t len;
	uint8_t sha[32];
	fake_init(&f, &cw_arch_riscv64);
	cw_config_default(&cfg);
	cfg.scope = CW_SCOPE_WRITABLE;
	uint8_t *core = stream(&f, &cfg, &len, sha);
	const struct cw_seg *heap = &W.seg[2];
	assert_int_equal(heap->vaddr, 0x30000);
	assert_int_equal(heap->filesz, 0x10000);
	const uint8_t *hole = core + heap->off + (0x36000 - 0x30000);
	for (int i = 0; i < CW_CHUNK; i++)
		assert_int_equal(hole[i], 0);
	uint8_t expect;
	f_read(&f, 0x36000 + CW_CHUNK, &expect, 1);
	assert_int_equal(hole[CW_CHUNK], expect);
	free(core);
}

static void test_digest_is_sha256_of_stream_and_deterministic(void **state)
{
	(void)state;
	struct fake f;
	size_t l1, l2;
	uint8_t s1[32], s2[32], s3[32];
	fake_init(&f, &cw_arch_armv7a);
	fake_clock = 0;                   /* two dumps of one frozen state, same clock */
	uint8_t *a = stream(&f, NULL, &l1, s1);
	fake_clock = 0;
	uint8_t *b = stream(&f, NULL, &l2, s2);
	assert_int_equal(l1, l2);
	assert_memory_equal(a, b, l1);
	assert_memory_equal(s1, s2, 32);
	nd_sha256(a, l1, s3);
	assert_memory_equal(s1, s3, 32);
	free(a);
	free(b);
}

static void test_layout_is_elf_core_with_notes_then_page_aligned_data(void **state)
{
	(void)state;
	struct fake f;
	size_t len;
	uint8_t sha[32];
	fake_init(&f, &cw_arch_riscv64);
	uint8_t *c = stream(&f, NULL, &len, sha);
	assert_memory_equal(c, "\177ELF\2\1\1", 7);
	assert_int_equal(c[16] | c[17] << 8, 4);                 /* ET_CORE */
	assert_int_equal(c[18] | c[19] << 8, 243);               /* EM_RISCV */
	assert_int_equal(c[56] | c[57] << 8, 1 + f.nmaps);       /* PT_NOTE + one PT_LOAD per map */
	assert_int_equal(W.notes_off, 64 + 56 * (1 + f.nmaps));
	assert_int_equal(W.data_off % 4096, 0);
	assert_true(W.data_off >= W.notes_off + W.notes_size);
	/* first note: NT_PRSTATUS of the crashing thread (tid 79, source index 2) */
	const uint8_t *n = c + W.notes_off;
	assert_int_equal(n[8], 1);
	assert_memory_equal(n + 12, "CORE", 5);
	assert_int_equal(n[20 + 32] | n[20 + 33] << 8, 79);
	free(c);
}

static void test_sink_error_stops_the_write(void **state)
{
	(void)state;
	struct fake f;
	fake_init(&f, &cw_arch_riscv64);
	struct cw_source src = fake_source(&f);
	assert_int_equal(cw_begin(&W, &src, NULL), CW_OK);
	struct membuf m = { NULL, 0, 0, 3, 0 };
	assert_int_equal(cw_write(&W, mem_sink, &m, NULL), CW_E_SINK);
	assert_int_equal(W.sink_err, -5);
	assert_int_equal(m.calls, 4);                  /* nothing after the refusal */
	free(m.p);
}

static void test_errors_are_named(void **state)
{
	(void)state;
	struct fake f;
	struct cw_writer *w = &W;
	uint8_t b[4];
	fake_init(&f, &cw_arch_riscv64);
	struct cw_source src = fake_source(&f);
	memset(w, 0, sizeof *w);
	assert_int_equal(cw_write(w, mem_sink, NULL, NULL), CW_E_STATE);
	assert_int_equal(cw_read_range(w, 0, b, 1), CW_E_STATE);
	struct cw_source bad = src;
	bad.read_mem = NULL;
	assert_int_equal(cw_begin(w, &bad, NULL), CW_E_ARG);
	f.fail_proc = 1;
	assert_int_equal(cw_begin(w, &src, NULL), CW_E_SOURCE);
	f.fail_proc = 0;
	f.nthreads = 0;
	assert_int_equal(cw_begin(w, &src, NULL), CW_E_NO_THREADS);
	f.nthreads = 3;

	struct cw_config cfg;
	cw_config_default(&cfg);
	cfg.page_size = 3000;
	assert_int_equal(cw_begin(w, &src, &cfg), CW_E_ARG);
	assert_int_equal(cw_begin(w, &src, NULL), CW_OK);
	assert_int_equal(cw_read_range(w, cw_size(w), b, 1), CW_E_RANGE);
	assert_int_equal(cw_read_range(w, cw_size(w) - 1, b, 2), CW_E_RANGE);
	assert_int_equal(cw_read_range(w, cw_size(w), b, 0), CW_OK);
	for (int e = CW_OK; e <= CW_E_STATE; e++)
		assert_string_not_equal(cw_strerror((enum cw_err)e), "unknown error");
}

static void test_memory_is_read_in_bounded_chunks(void **state)
{
	(void)state;
	struct fake f;
	struct cw_config cfg;
	fake_init(&f, &cw_arch_riscv64);
	cw_config_default(&cfg);
	cfg.scope = CW_SCOPE_ALL;
	size_t len;
	uint8_t sha[32];
	f.reads = 0;
	uint8_t *c = stream(&f, &cfg, &len, sha);
	/* one read per CW_CHUNK of contents, plus the fault-page probe */
	assert_true(f.reads <= W.mem_bytes / CW_CHUNK + 4);
	/* a small re-read touches only the chunks it needs */
	uint8_t b[16];
	f.reads = 0;
	assert_int_equal(cw_read_range(&W, W.seg[2].off + 5000, b, sizeof b), CW_OK);
	assert_int_equal(f.reads, 1);
	assert_memory_equal(b, c + W.seg[2].off + 5000, sizeof b);
	free(c);
}

static void test_meta_matches_the_core(void **state)
{
	(void)state;
	struct fake f;
	struct nd_meta m;
	fake_init(&f, &cw_arch_armv7a);
	struct cw_source src = fake_source(&f);
	memset(&W, 0, sizeof W);
	assert_int_equal(cw_meta(&W, &m), CW_E_STATE);
	assert_int_equal(cw_begin(&W, &src, NULL), CW_OK);
	assert_int_equal(cw_meta(&W, &m), CW_OK);
	assert_int_equal(m.core_size, cw_size(&W));
	assert_int_equal(m.machine, 40);
	assert_int_equal(m.pid, 77);
	assert_int_equal(m.signal, 7);
	assert_int_equal(m.seq, 3);
	assert_string_equal(m.device, "dev-1");
	assert_string_equal(m.exe, "unit");
	assert_string_equal(m.cause, "misaligned store");
	assert_int_equal(m.n_buildids, 1);
	assert_int_equal(m.buildids[0].len, 4);
	assert_string_equal(m.buildids[0].name, "unit");
}

static void test_nd_read_adapter_matches_read_range(void **state)
{
	(void)state;
	struct fake f;
	size_t len;
	uint8_t sha[32], b[700];
	fake_init(&f, &cw_arch_riscv64);
	uint8_t *c = stream(&f, NULL, &len, sha);
	nd_read_fn fn = cw_nd_read;                   /* the type netdump's sender takes */
	assert_int_equal(fn(&W, 1000, b, sizeof b), 0);
	assert_memory_equal(b, c + 1000, sizeof b);
	assert_int_equal(fn(&W, len - 10, b, 20), -(int)CW_E_RANGE);
	free(c);
}

static void test_wild_sp_dumps_no_stack_and_overflow_does(void **state)
{
	(void)state;
	struct fake f;
	size_t len;
	uint8_t sha[32];
	fake_init(&f, &cw_arch_riscv64);
	f.rv[2].gpr[RV64_SP] = 0x100;                 /* crashing thread (tid 79): wild SP */
	uint8_t *c = stream(&f, NULL, &len, sha);
	assert_int_equal(W.seg[0].filesz, 4096);        /* text: only the ELF header page */
	for (int i = 3; i < 6; i++)
		assert_int_equal(W.seg[i].filesz, 0);
	free(c);
	f.rv[2].gpr[RV64_SP] = 0x70000 - 0x20;        /* just below its stack: overflow */
	c = stream(&f, NULL, &len, sha);
	assert_int_equal(W.seg[5].vaddr, 0x70000);
	assert_int_equal(W.seg[5].filesz, 0x8000);
	free(c);
	for (int i = 0; i < 6; i++)                   /* a source marking no stacks: SP nearby */
		f.maps[i].flags = 0;
	c = stream(&f, NULL, &len, sha);
	assert_int_equal(W.seg[5].filesz, 0x8000);
	free(c);
}

static void test_more_maps_than_segments_keeps_maps_with_contents(void **state)
{
	(void)state;
	struct fake f;
	struct cw_config cfg;
	fake_init(&f, &cw_arch_riscv64);
	/* CW_MAX_SEGS - 4 extra one-page anonymous maps between 0x100000 and the rest */
	uint32_t extra = CW_MAX_SEGS - 4;
	for (uint32_t i = 0; i < extra; i++)
		f.maps[6 + i] = (struct cw_map){ 0x100000 + 0x2000 * (uint64_t)i, 0x101000 + 0x2000 * (uint64_t)i,
		                                 CW_PROT_R | CW_PROT_W, 0, -1, 0 };
	f.nmaps = 6 + extra;                          /* two more than the table */
	cw_config_default(&cfg);
	size_t len;
	uint8_t sha[32];
	uint8_t *c = stream(&f, &cfg, &len, sha);      /* crash stack + header + fault page */
	assert_int_equal(W.nsegs, 3);
	for (uint32_t i = 0; i < W.nsegs; i++) {
		assert_true(W.seg[i].filesz > 0);
		assert_true(i == 0 || W.seg[i].vaddr > W.seg[i - 1].vaddr);
	}
	free(c);
	cfg.scope = CW_SCOPE_ALL;                     /* more windows than slots */
	check_ranges(&f, &cfg, 100, 5);
	assert_int_equal(W.nsegs, CW_MAX_SEGS);
	assert_int_equal(W.segs_dropped, 2);
	assert_int_equal(W.nmaps, 6 + extra);
}

static void test_unsorted_or_unaligned_maps_are_refused(void **state)
{
	(void)state;
	struct fake f;
	fake_init(&f, &cw_arch_riscv64);
	struct cw_source src = fake_source(&f);
	struct cw_map t = f.maps[1];
	f.maps[1] = f.maps[2];
	f.maps[2] = t;
	assert_int_equal(cw_begin(&W, &src, NULL), CW_E_SOURCE);
	fake_init(&f, &cw_arch_riscv64);
	f.maps[2].end += 10;
	assert_int_equal(cw_begin(&W, &src, NULL), CW_E_SOURCE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_range_equals_streamed_slice_every_scope),
		cmocka_unit_test(test_read_range_with_caps_and_unreadable_memory),
		cmocka_unit_test(test_unreadable_chunk_is_zeros),
		cmocka_unit_test(test_digest_is_sha256_of_stream_and_deterministic),
		cmocka_unit_test(test_layout_is_elf_core_with_notes_then_page_aligned_data),
		cmocka_unit_test(test_sink_error_stops_the_write),
		cmocka_unit_test(test_errors_are_named),
		cmocka_unit_test(test_memory_is_read_in_bounded_chunks),
		cmocka_unit_test(test_meta_matches_the_core),
		cmocka_unit_test(test_wild_sp_dumps_no_stack_and_overflow_does),
		cmocka_unit_test(test_nd_read_adapter_matches_read_range),
		cmocka_unit_test(test_unsorted_or_unaligned_maps_are_refused),
		cmocka_unit_test(test_more_maps_than_segments_keeps_maps_with_contents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
