/* tests/coredump/cw_mkcore.c: builds synthetic (or, on x86_64, live) processes and writes their cores for the tests. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "kernel/coredump/coredump.h"
#include "kernel/coredump/serial.h"
#include "hal/aarch64/regset.h"
#include "hal/armv7a/regset.h"
#include "hal/ia32/regset.h"
#include "hal/riscv64/regset.h"
#include "hal/x86_64/regset.h"

/*
 * Synthetic process, the same shape on every arch (addresses fit 32 bits):
 *   0x10000-0x12000 r-x  /usr/bin/synth (ELF header page at 0x10000)
 *   0x12000-0x13000 rw-  /usr/bin/synth, file offset 0x2000
 *   0x20000-0x30000 rw-  heap (anonymous)
 *   0x38000-0x39000 r--  read-only data (anonymous)
 *   per thread t: guard 0x40000+t*0x10000 (no access), stack the next 0x8000 bytes
 * Memory word at address A (4-byte aligned) = mem_word(A); the tests recompute it.
 * Register r of thread t = reg_val(t, r), except pc and sp (see below).
 */

#define MAXT 16

static uint32_t opt_seq = 7, opt_width = 76;
static const char *opt_device = "sensor-0042";
#define MAXM 64

union uctx_any {
	struct riscv64_uctx rv;
	struct aarch64_uctx a64;
	struct armv7a_uctx arm;
	struct ia32_uctx x86;
	struct x86_64_uctx x64;
};

static struct {
	const struct cw_arch *arch;
	int live;
	uint32_t nthreads;
	uint32_t tids[MAXT];
	union uctx_any u[MAXT];
	uint32_t nmaps;
	struct cw_map maps[MAXM];
	uint32_t nimages;
	struct cw_image images[MAXM];
	char paths[MAXM][256];
	struct cw_proc proc;
	struct cw_device dev;
	uint64_t fail_lo, fail_hi;  /* read_mem fails in this range (unreadable memory) */
} S;

static uint32_t mem_word(uint64_t a) { return (uint32_t)(a * 2654435761u) ^ 0xc0dec0deu; }
static uint64_t reg_val(uint32_t t, uint32_t r) { return 0x10000000u + t * 0x100000u + r * 0x111u; }
static uint64_t stack_lo(uint32_t t) { return 0x41000u + t * 0x10000u; }
static uint64_t stack_hi(uint32_t t) { return 0x49000u + t * 0x10000u; }

/* ---- source callbacks ------------------------------------------------------ */

static int s_proc(void *c, struct cw_proc *o) { (void)c; *o = S.proc; return 0; }
static int s_device(void *c, struct cw_device *o) { (void)c; *o = S.dev; return 0; }
static uint32_t s_thread_count(void *c) { (void)c; return S.nthreads; }
static int s_thread(void *c, uint32_t i, struct cw_thread *o)
{
	(void)c;
	if (i >= S.nthreads)
		return -1;
	o->tid = S.tids[i];
	o->uctx = &S.u[i];
	o->utime_us = 1500000u + i;
	o->stime_us = 250000u + i;
	return 0;
}
static uint32_t s_map_count(void *c) { (void)c; return S.nmaps; }
static int s_map(void *c, uint32_t i, struct cw_map *o) { (void)c; if (i >= S.nmaps) return -1; *o = S.maps[i]; return 0; }
static uint32_t s_image_count(void *c) { (void)c; return S.nimages; }
static int s_image(void *c, uint32_t i, struct cw_image *o) { (void)c; if (i >= S.nimages) return -1; *o = S.images[i]; return 0; }
static uint64_t aux_tv[64][2] = { { 3 /* AT_PHDR */, 0x10040 }, { 9 /* AT_ENTRY */, 0x10100 }, { 7 /* AT_BASE */, 0 } };
static uint32_t aux_n = 3;
static uint32_t s_aux_count(void *c) { (void)c; return aux_n; }
static int s_aux(void *c, uint32_t i, uint64_t *t, uint64_t *v)
{
	(void)c;
	if (i >= aux_n)
		return -1;
	*t = aux_tv[i][0];
	*v = aux_tv[i][1];
	return 0;
}

/* The real auxiliary vector of this process (live mode), without its AT_NULL. */
static void load_live_auxv(void)
{
	int fd = open("/proc/self/auxv", O_RDONLY);
	uint64_t e[2];
	aux_n = 0;
	while (fd >= 0 && aux_n < 64 && read(fd, e, sizeof e) == sizeof e && e[0] != 0) {
		aux_tv[aux_n][0] = e[0];
		aux_tv[aux_n][1] = e[1];
		aux_n++;
	}
	if (fd >= 0)
		close(fd);
}

static int synth_read(void *c, uint64_t addr, void *buf, uint32_t len)
{
	(void)c;
	uint8_t *b = buf;
	if (addr < S.fail_hi && addr + len > S.fail_lo)
		return -1;
	for (uint32_t i = 0; i < len; i++) {
		uint64_t a = addr + i;
		uint32_t w = mem_word(a & ~3ull);
		b[i] = (uint8_t)(w >> (8 * (a & 3)));
	}
	/* the image's ELF header page starts with an ELF identification */
	static const uint8_t ident[4] = { 0x7f, 'E', 'L', 'F' };
	for (uint32_t i = 0; i < len; i++)
		if (addr + i >= 0x10000 && addr + i < 0x10004)
			b[i] = ident[addr + i - 0x10000];
	return 0;
}

static int live_read(void *c, uint64_t addr, void *buf, uint32_t len)
{
	(void)c;
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };
	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -1;
}

/* ---- synthetic registers per arch --------------------------------------------- */

static uint64_t dbl_bits(double d) { uint64_t v; memcpy(&v, &d, 8); return v; }
static double fp_val(uint32_t t, uint32_t i) { return (double)i + 0.5 + 100.0 * t; }

/* 80-bit extended of a double, for the x87 stack in an FXSAVE image. */
static void put_ext(uint8_t *p, double d)
{
	uint64_t b = dbl_bits(d);
	uint16_t sign = (uint16_t)(b >> 63), e = (uint16_t)((b >> 52) & 0x7ff);
	uint64_t m = b & ((1ull << 52) - 1);
	uint64_t sig = 0;
	uint16_t ex = 0;
	if (e) {
		sig = (1ull << 63) | (m << 11);
		ex = (uint16_t)(e - 1023 + 16383);
	}
	memcpy(p, &sig, 8);
	uint16_t se = (uint16_t)(sign << 15 | ex);
	memcpy(p + 8, &se, 2);
}

static void fill_fxsave(uint8_t *fx, uint32_t t)
{
	memset(fx, 0, 512);
	uint16_t fcw = 0x37f, fsw = 0;
	memcpy(fx, &fcw, 2);
	memcpy(fx + 2, &fsw, 2);
	fx[4] = 0xff;                               /* all eight x87 registers in use */
	uint32_t mxcsr = 0x1f80 | t;                /* exception flag bits vary per thread */
	memcpy(fx + 24, &mxcsr, 4);
	uint32_t mask = 0xffff;
	memcpy(fx + 28, &mask, 4);
	for (uint32_t i = 0; i < 8; i++)
		put_ext(fx + 32 + 16 * i, fp_val(t, i));
	for (uint32_t i = 0; i < 16; i++) {
		uint64_t lo = dbl_bits(fp_val(t, i)), hi = 0x1111111111111111ull * (i + 1);
		memcpy(fx + 160 + 16 * i, &lo, 8);
		memcpy(fx + 168 + 16 * i, &hi, 8);
	}
}

static void synth_regs(uint32_t t, uint64_t sp, uint64_t pc)
{
	union uctx_any *u = &S.u[t];
	memset(u, 0, sizeof *u);
	const char *a = S.arch->name;
	if (!strcmp(a, "riscv64")) {
		for (uint32_t i = 1; i < 32; i++)
			u->rv.gpr[i] = reg_val(t, i);
		u->rv.gpr[RV64_PC] = pc;
		u->rv.gpr[RV64_SP] = sp;
		for (uint32_t i = 0; i < 32; i++)
			u->rv.fpr[i] = dbl_bits(fp_val(t, i));
		u->rv.fcsr = 0x20 + t;                  /* frm = 1 (RTZ), flags = t */
		u->rv.fp_valid = 1;
	} else if (!strcmp(a, "aarch64")) {
		for (uint32_t i = 0; i < 31; i++)
			u->a64.gpr[i] = reg_val(t, i);
		u->a64.gpr[A64_SP] = sp;
		u->a64.gpr[A64_PC] = pc;
		u->a64.gpr[A64_PSTATE] = 0x20000000u;  /* C flag */
		for (uint32_t i = 0; i < 32; i++) {
			u->a64.v[i][0] = dbl_bits(fp_val(t, i));
			u->a64.v[i][1] = 0x0101010101010101ull * (i + 1);
		}
		u->a64.fpsr = 0x10 + t;
		u->a64.fpcr = 0x400000;
	} else if (!strcmp(a, "armv7a")) {
		for (uint32_t i = 0; i < 16; i++)
			u->arm.gpr[i] = (uint32_t)reg_val(t, i);
		u->arm.gpr[ARM_SP] = (uint32_t)sp;
		u->arm.gpr[ARM_PC] = (uint32_t)pc;
		u->arm.gpr[ARM_CPSR] = 0x60000010u;    /* user mode, Z and C */
		u->arm.gpr[ARM_ORIG_R0] = 0xffffffffu;
		for (uint32_t i = 0; i < 32; i++)
			u->arm.d[i] = dbl_bits(fp_val(t, i));
		u->arm.fpscr = 0x03000000u + t;
	} else if (!strcmp(a, "ia32")) {
		for (uint32_t i = 0; i < 17; i++)
			u->x86.gpr[i] = (uint32_t)reg_val(t, i);
		u->x86.gpr[IA32_DS] = u->x86.gpr[IA32_ES] = u->x86.gpr[IA32_SS] = 0x2b;
		u->x86.gpr[IA32_FS] = 0;
		u->x86.gpr[IA32_GS] = 0x63;
		u->x86.gpr[IA32_CS] = 0x23;
		u->x86.gpr[IA32_EFLAGS] = 0x246;
		u->x86.gpr[IA32_ORIG_EAX] = 0xffffffffu;
		u->x86.gpr[IA32_ESP] = (uint32_t)sp;
		u->x86.gpr[IA32_EIP] = (uint32_t)pc;
		fill_fxsave(u->x86.fxsave, t);
	} else {
		for (uint32_t i = 0; i < 27; i++)
			u->x64.gpr[i] = reg_val(t, i);
		u->x64.gpr[X64_CS] = 0x33;
		u->x64.gpr[X64_SS] = 0x2b;
		u->x64.gpr[X64_DS] = u->x64.gpr[X64_ES] = u->x64.gpr[X64_FS] = u->x64.gpr[X64_GS] = 0;
		u->x64.gpr[X64_EFLAGS] = 0x246;
		u->x64.gpr[X64_ORIG_RAX] = ~0ull;
		u->x64.gpr[X64_RSP] = sp;
		u->x64.gpr[X64_RIP] = pc;
		fill_fxsave(u->x64.fxsave, t);
	}
}

static void add_map(uint64_t s, uint64_t e, uint32_t prot, uint32_t flags, int32_t img, uint64_t off)
{
	S.maps[S.nmaps++] = (struct cw_map){ s, e, prot, flags, img, off };
}

static void build_synth(uint32_t nthreads, int overflow, uint64_t fault)
{
	S.nthreads = nthreads;
	S.nimages = 1;
	snprintf(S.paths[0], sizeof S.paths[0], "/usr/bin/synth");
	S.images[0].path = S.paths[0];
	S.images[0].base = 0x10000;
	S.images[0].build_id_len = 20;
	for (int i = 0; i < 20; i++)
		S.images[0].build_id[i] = (uint8_t)(0xa0 + i);
	add_map(0x10000, 0x12000, CW_PROT_R | CW_PROT_X, 0, 0, 0);
	add_map(0x12000, 0x13000, CW_PROT_R | CW_PROT_W, 0, 0, 0x2000);
	add_map(0x20000, 0x30000, CW_PROT_R | CW_PROT_W, 0, -1, 0);
	add_map(0x38000, 0x39000, CW_PROT_R, 0, -1, 0);
	for (uint32_t t = 0; t < nthreads; t++) {
		add_map(stack_lo(t) - 0x1000, stack_lo(t), 0, CW_MAP_NODUMP, -1, 0);
		add_map(stack_lo(t), stack_hi(t), CW_PROT_R | CW_PROT_W, CW_MAP_STACK, -1, 0);
		S.tids[t] = 4242 + t;
		uint64_t sp = stack_hi(t) - 0x200 - 0x10 * t;
		synth_regs(t, sp, 0x10100 + 0x40 * t);
	}
	/* the second thread crashed (so "crashing thread first" reorders) */
	uint32_t crash = nthreads > 1 ? 1 : 0;
	if (overflow)
		synth_regs(crash, stack_lo(crash) - 0x10, 0x10100 + 0x40 * crash);
	S.proc = (struct cw_proc){ .pid = 4242, .ppid = 1, .uid = 0, .gid = 0, .name = "synth",
	                           .args = "synth --crash now", .crash_tid = S.tids[crash],
	                           .signo = 11, .si_code = 1, .fault_addr = fault,
	                           .has_fault_addr = 1, .cause = "store page fault" };
	memcpy(S.dev.boot_id, "0123456789abcdef", 16);
	S.dev.device_id = opt_device;
	S.dev.firmware = "fw-1.2.3";
	S.dev.uptime_ns = 123456789000ull;
	S.dev.seq = opt_seq;
	S.dev.time_ns = 1700000000000000000ull;
}

/* ---- live x86_64: this very process, stopped inside a known call chain ----------- */

static ucontext_t live_uc[2];
static int live_pipe[2];
static char live_maps_path[MAXM][256];
static struct cw_writer W;

static int phdr_cb(struct dl_phdr_info *info, size_t sz, void *arg)
{
	(void)sz; (void)arg;
	for (uint32_t m = 0; m < S.nmaps; m++) {
		if (S.maps[m].image < 0)
			continue;
		struct cw_image *im = &S.images[S.maps[m].image];
		/* the lowest map of a file is where its ELF header is */
		if (im->base == 0 || im->build_id_len)
			continue;
		uint64_t lo = UINT64_MAX;
		for (int i = 0; i < info->dlpi_phnum; i++)
			if (info->dlpi_phdr[i].p_type == PT_LOAD && info->dlpi_addr + info->dlpi_phdr[i].p_vaddr < lo)
				lo = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
		if ((lo & ~0xfffull) != im->base)
			continue;
		for (int i = 0; i < info->dlpi_phnum; i++) {
			const ElfW(Phdr) *p = &info->dlpi_phdr[i];
			if (p->p_type != PT_NOTE)
				continue;
			const uint8_t *n = (const uint8_t *)(info->dlpi_addr + p->p_vaddr), *end = n + p->p_memsz;
			while (n + 12 <= end) {
				uint32_t nsz, dsz, type;
				memcpy(&nsz, n, 4); memcpy(&dsz, n + 4, 4); memcpy(&type, n + 8, 4);
				const uint8_t *desc = n + 12 + ((nsz + 3) & ~3u);
				if (type == 3 && nsz == 4 && !memcmp(n + 12, "GNU", 4) && dsz <= CW_BUILDID_MAX) {
					im->build_id_len = (uint8_t)dsz;
					memcpy(im->build_id, desc, dsz);
				}
				n = desc + ((dsz + 3) & ~3u);
			}
		}
	}
	return 0;
}

static void load_live_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	if (!f)
		exit(2);
	while (fgets(line, sizeof line, f) && S.nmaps < MAXM) {
		unsigned long s, e, off;
		char perm[5], path[256] = "";
		if (sscanf(line, "%lx-%lx %4s %lx %*s %*s %255[^\n]", &s, &e, perm, &off, path) < 4)
			continue;
		uint32_t prot = (perm[0] == 'r' ? CW_PROT_R : 0) | (perm[1] == 'w' ? CW_PROT_W : 0) |
		                (perm[2] == 'x' ? CW_PROT_X : 0);
		uint32_t flags = 0;
		int32_t img = -1;
		if (!strcmp(path, "[vvar]") || !strcmp(path, "[vsyscall]") || !strcmp(path, "[vvar_vclock]"))
			flags |= CW_MAP_NODUMP;
		if (!strcmp(path, "[stack]"))
			flags |= CW_MAP_STACK;
		if (path[0] == '/') {
			for (uint32_t i = 0; i < S.nimages; i++)
				if (!strcmp(S.paths[i], path))
					img = (int32_t)i;
			if (img < 0) {
				img = (int32_t)S.nimages++;
				snprintf(S.paths[img], sizeof S.paths[img], "%s", path);
				S.images[img].path = S.paths[img];
				S.images[img].base = s;
			}
		}
		add_map(s, e, prot, flags, img, off);
	}
	fclose(f);
	(void)live_maps_path;
	dl_iterate_phdr(phdr_cb, NULL);
}

static void uctx_from_ucontext(union uctx_any *u, const ucontext_t *uc)
{
	const greg_t *g = uc->uc_mcontext.gregs;
	memset(u, 0, sizeof *u);
	uint64_t *r = u->x64.gpr;
	r[X64_R15] = (uint64_t)g[REG_R15]; r[X64_R14] = (uint64_t)g[REG_R14];
	r[X64_R13] = (uint64_t)g[REG_R13]; r[X64_R12] = (uint64_t)g[REG_R12];
	r[X64_RBP] = (uint64_t)g[REG_RBP]; r[X64_RBX] = (uint64_t)g[REG_RBX];
	r[X64_R11] = (uint64_t)g[REG_R11]; r[X64_R10] = (uint64_t)g[REG_R10];
	r[X64_R9] = (uint64_t)g[REG_R9]; r[X64_R8] = (uint64_t)g[REG_R8];
	r[X64_RAX] = (uint64_t)g[REG_RAX]; r[X64_RCX] = (uint64_t)g[REG_RCX];
	r[X64_RDX] = (uint64_t)g[REG_RDX]; r[X64_RSI] = (uint64_t)g[REG_RSI];
	r[X64_RDI] = (uint64_t)g[REG_RDI]; r[X64_ORIG_RAX] = ~0ull;
	r[X64_RIP] = (uint64_t)g[REG_RIP]; r[X64_CS] = 0x33;
	r[X64_EFLAGS] = 0x246; r[X64_RSP] = (uint64_t)g[REG_RSP]; r[X64_SS] = 0x2b;
	__asm__ volatile("fxsave %0" : "=m"(u->x64.fxsave));
}

static volatile int live_ready;

static void *live_blocked(void *arg)
{
	(void)arg;
	getcontext(&live_uc[1]);
	__atomic_store_n(&live_ready, 1, __ATOMIC_RELEASE);
	char c;
	while (read(live_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static int (*live_finish)(void);

__attribute__((noinline)) static int live_level3(int depth)
{
	volatile int here = depth * 7;
	getcontext(&live_uc[0]);
	uctx_from_ucontext(&S.u[0], &live_uc[0]);
	int r = live_finish();
	return r + here - depth * 7;
}
__attribute__((noinline)) static int live_level2(int depth) { int r = live_level3(depth + 1); __asm__ volatile("" ::: "memory"); return r; }
__attribute__((noinline)) static int live_level1(int depth) { int r = live_level2(depth + 1); __asm__ volatile("" ::: "memory"); return r; }

/* ---- output -------------------------------------------------------------------- */

static const char *out_path, *encode_path;
static int out_serial;
static FILE *out_f;

static int file_sink(void *c, const void *b, size_t n) { return fwrite(b, 1, n, (FILE *)c) == n ? 0 : -1; }
static void ser_put(void *c, const char *s, size_t n) { fwrite(s, 1, n, (FILE *)c); }

static struct cw_config CFG;
static struct cw_source SRC;

static int write_core(void)
{
	enum cw_err e = cw_begin(&W, &SRC, &CFG);
	if (e != CW_OK) {
		fprintf(stderr, "cw_mkcore: layout: %s\n", cw_strerror(e));
		return 1;
	}
	out_f = fopen(out_path, "wb");
	if (!out_f) {
		perror(out_path);
		return 1;
	}
	uint8_t sha[32];
	if (out_serial) {
		struct cw_serial ser;
		cw_serial_begin(&ser, ser_put, out_f, opt_width, S.paths[0], S.proc.cause);
		e = cw_write(&W, cw_serial_sink, &ser, sha);
		if (e == CW_OK)
			cw_serial_end(&ser);
	} else {
		e = cw_write(&W, file_sink, out_f, sha);
	}
	if (fclose(out_f) != 0 || e != CW_OK) {
		fprintf(stderr, "cw_mkcore: write %s: %s\n", out_path, cw_strerror(e));
		return 1;
	}
	/* description for the tests */
	printf("{\"arch\": \"%s\", \"size\": %" PRIu64 ", \"mem_bytes\": %" PRIu64 ", \"sha256\": \"",
	       S.arch->name, W.size, W.mem_bytes);
	for (int i = 0; i < 32; i++)
		printf("%02x", sha[i]);
	printf("\", \"threads\": [");
	for (uint32_t k = 0; k < W.nthreads; k++) {
		uint32_t i = k == 0 ? W.crash_idx : (k - 1 < W.crash_idx ? k - 1 : k);
		printf("%s{\"tid\": %u, \"index\": %u, \"sp\": %" PRIu64 ", \"pc\": %" PRIu64 "}", k ? ", " : "",
		       S.tids[i], i, S.arch->sp(&S.u[i]), S.arch->pc(&S.u[i]));
	}
	printf("], \"segments\": [");
	for (uint32_t i = 0; i < W.nsegs; i++)
		printf("%s[%" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 "]", i ? ", " : "", W.seg[i].vaddr,
		       W.seg[i].memsz, W.seg[i].filesz, W.seg[i].off);
	printf("]}\n");
	return 0;
}

static int live_done(void)
{
	/* the blocked thread has reached its read() by now */
	usleep(50000);
	load_live_maps();
	return write_core();
}

/* Serial-encode any file (e.g. a real Linux core) exactly as the kernel's sink would. */
static int encode_file(const char *in, const char *out)
{
	FILE *fi = fopen(in, "rb"), *fo = fopen(out, "wb");
	if (!fi || !fo) {
		perror(fi ? out : in);
		return 1;
	}
	struct cw_serial ser;
	static uint8_t buf[65536];
	size_t n;
	cw_serial_begin(&ser, ser_put, fo, opt_width, in, "imported file");
	while ((n = fread(buf, 1, sizeof buf, fi)) > 0)
		cw_serial_sink(&ser, buf, n);
	cw_serial_end(&ser);
	fclose(fi);
	return fclose(fo) ? 1 : 0;
}

static const struct cw_arch *arch_by_name(const char *n)
{
	const struct cw_arch *all[] = { &cw_arch_riscv64, &cw_arch_ia32, &cw_arch_armv7a, &cw_arch_aarch64, &cw_arch_x86_64 };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (!strcmp(all[i]->name, n))
			return all[i];
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: cw_mkcore --encode FILE -o OUT [--width N]\n"
	                "       cw_mkcore --arch A -o FILE [--live] [--serial] [--threads N] [--overflow]\n"
	                "       [--scope crash|stacks|writable|all] [--stack-cap N] [--total-cap N]\n"
	                "       [--thread-cap N] [--fault ADDR] [--unreadable LO:HI] [--seq N] [--device ID]\n"
	                "       [--width N (serial line width)]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint32_t nthreads = 3;
	int overflow = 0;
	uint64_t fault = 0x20010;
	cw_config_default(&CFG);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--live")) { S.live = 1; continue; }
		if (!strcmp(a, "--serial")) { out_serial = 1; continue; }
		if (!strcmp(a, "--overflow")) { overflow = 1; continue; }
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--encode")) encode_path = v;
		else if (!strcmp(a, "--arch")) S.arch = arch_by_name(v);
		else if (!strcmp(a, "-o")) out_path = v;
		else if (!strcmp(a, "--threads")) nthreads = (uint32_t)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--stack-cap")) CFG.stack_cap = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--total-cap")) CFG.total_cap = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--thread-cap")) CFG.thread_cap = (uint32_t)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--fault")) fault = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--seq")) opt_seq = (uint32_t)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--device")) opt_device = v;
		else if (!strcmp(a, "--width")) opt_width = (uint32_t)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--unreadable")) sscanf(v, "%" SCNx64 ":%" SCNx64, &S.fail_lo, &S.fail_hi);
		else if (!strcmp(a, "--scope")) {
			if (!strcmp(v, "crash")) CFG.scope = CW_SCOPE_CRASH_STACK;
			else if (!strcmp(v, "stacks")) CFG.scope = CW_SCOPE_ALL_STACKS;
			else if (!strcmp(v, "writable")) CFG.scope = CW_SCOPE_WRITABLE;
			else if (!strcmp(v, "all")) CFG.scope = CW_SCOPE_ALL;
			else usage();
		} else usage();
	}
	if (encode_path && out_path)
		return encode_file(encode_path, out_path);
	if (!S.arch || !out_path || nthreads < 1 || nthreads > MAXT)
		usage();
	SRC = (struct cw_source){ .ctx = NULL, .arch = S.arch, .proc = s_proc, .device = s_device,
	                          .thread_count = s_thread_count, .thread = s_thread,
	                          .map_count = s_map_count, .map = s_map, .image_count = s_image_count,
	                          .image = s_image, .aux_count = s_aux_count, .aux = s_aux,
	                          .read_mem = synth_read };
	if (!S.live) {
		build_synth(nthreads, overflow, fault);
		return write_core();
	}
	if (S.arch != &cw_arch_x86_64) {
		fprintf(stderr, "cw_mkcore: --live needs --arch x86_64\n");
		return 2;
	}
	/* Live: thread 0 is this one inside live_level3, thread 1 blocked in read(). */
	SRC.read_mem = live_read;
	load_live_auxv();
	S.nthreads = 2;
	S.tids[0] = (uint32_t)gettid();
	S.proc = (struct cw_proc){ .pid = (uint32_t)getpid(), .ppid = (uint32_t)getppid(),
	                           .name = "cw_mkcore", .args = "cw_mkcore --live",
	                           .crash_tid = S.tids[0], .signo = 6, .si_code = -6,
	                           .cause = "abort() in live_level3" };
	S.dev.device_id = "host";
	S.dev.firmware = "test";
	if (pipe(live_pipe))
		return 2;
	pthread_t th;
	pthread_create(&th, NULL, live_blocked, NULL);
	while (!__atomic_load_n(&live_ready, __ATOMIC_ACQUIRE))
		usleep(1000);
	uctx_from_ucontext(&S.u[1], &live_uc[1]);
	S.tids[1] = S.tids[0] + 1;   /* exact tid is not needed by the tests */
	live_finish = live_done;
	int rc = live_level1(1);
	if (write(live_pipe[1], "x", 1) != 1)
		rc = 2;
	pthread_join(th, NULL);
	return rc;
}
