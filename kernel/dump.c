/* kernel/dump.c: the core writer's source over a frozen process, streamed to the serial console sink. */
#include "kernel/proc.h"
#include "kernel/coredump/coredump.h"
#include "kernel/coredump/serial.h"
#include "hal/riscv64/regset.h"
#include "kernel/net/net.h"
#include "netdump/hex.h"

/*
 * Everything here is static: dumps are serialized (freeze.c), and a core writer
 * the size of CW_SCRATCH_BYTES on a 16 KiB kernel stack would leave little room.
 */
struct dump_src {
	struct proc *p;
	struct thread *crash;
	int sig;
	const char *cause;
	struct thread *threads[K_MAX_THREADS];
	uint32_t nthreads;
	struct cw_map maps[K_MAX_VMAS];
	uint32_t nmaps;
	struct cw_image image;
	char path[48];
	uint64_t aux[6][2];
};

static struct dump_src ds;
static struct cw_writer writer;
static struct cw_serial serial;
static uint8_t boot_id[16];
static uint32_t dump_seq;        /* per-boot sequence: netdump session key with boot_id */

/* Linux si_code for the signal: *_MAPERR, ILL_ILLOPC, BUS_ADRALN, TRAP_BRKPT are all 1. */
static int si_code(int sig)
{
	return sig == K_SIGABRT || sig == 0 ? 0 : 1;
}

static int src_proc(void *ctx, struct cw_proc *out)
{
	struct dump_src *d = ctx;
	memset(out, 0, sizeof(*out));
	out->pid = (uint32_t)d->p->pid;
	out->name = d->p->name;
	out->args = d->p->args;
	out->crash_tid = (uint32_t)d->crash->tid;
	out->signo = d->sig;
	out->si_code = si_code(d->sig);
	out->fault_addr = d->sig ? d->p->fault_addr : 0;
	out->has_fault_addr = d->sig == K_SIGSEGV || d->sig == K_SIGBUS;
	out->cause = d->cause;
	return 0;
}

static int src_device(void *ctx, struct cw_device *out)
{
	(void)ctx;
	memset(out, 0, sizeof(*out));
	out->device_id = k_args.device;
	out->firmware = K_FIRMWARE;
	memcpy(out->boot_id, boot_id, sizeof(boot_id));
	out->uptime_ns = hal_time_ns();
	out->seq = dump_seq;
	return 0;
}

static uint32_t src_thread_count(void *ctx)
{
	return ((struct dump_src *)ctx)->nthreads;
}

static int src_thread(void *ctx, uint32_t i, struct cw_thread *out)
{
	struct dump_src *d = ctx;
	if (i >= d->nthreads)
		return -1;
	memset(out, 0, sizeof(*out));
	out->tid = (uint32_t)d->threads[i]->tid;
	out->uctx = &d->threads[i]->tf.u;
	return 0;
}

static uint32_t src_map_count(void *ctx)
{
	return ((struct dump_src *)ctx)->nmaps;
}

static int src_map(void *ctx, uint32_t i, struct cw_map *out)
{
	struct dump_src *d = ctx;
	if (i >= d->nmaps)
		return -1;
	*out = d->maps[i];
	return 0;
}

static uint32_t src_image_count(void *ctx)
{
	(void)ctx;
	return 1;
}

static int src_image(void *ctx, uint32_t i, struct cw_image *out)
{
	struct dump_src *d = ctx;
	if (i != 0)
		return -1;
	*out = d->image;
	return 0;
}

static uint32_t src_aux_count(void *ctx)
{
	(void)ctx;
	return 5;
}

static int src_aux(void *ctx, uint32_t i, uint64_t *type, uint64_t *val)
{
	struct dump_src *d = ctx;
	if (i >= 5)
		return -1;
	*type = d->aux[i][0];
	*val = d->aux[i][1];
	return 0;
}

static int src_read(void *ctx, uint64_t addr, void *buf, uint32_t len)
{
	return vm_read(((struct dump_src *)ctx)->p, addr, buf, len) ? -1 : 0;
}

/* The GNU build-id note of an embedded image, found through its program headers. */
static void find_build_id(const struct k_image *img, struct cw_image *out)
{
	const uint8_t *e = img->start;
	uint64_t size = (uint64_t)(img->end - img->start);
	out->build_id_len = 0;
	if (size < 64)
		return;
	uint64_t phoff = 0, phnum = 0;
	for (int b = 7; b >= 0; b--)
		phoff = (phoff << 8) | e[32 + b];
	phnum = (uint64_t)e[56] | (uint64_t)e[57] << 8;
	for (uint64_t i = 0; i < phnum && phoff + (i + 1) * 56 <= size; i++) {
		const uint8_t *ph = e + phoff + i * 56;
		if (ph[0] != 4 || ph[1] || ph[2] || ph[3]) /* PT_NOTE */
			continue;
		uint64_t off = 0, sz = 0;
		for (int b = 7; b >= 0; b--) {
			off = (off << 8) | ph[8 + b];
			sz = (sz << 8) | ph[32 + b];
		}
		if (off > size || sz > size - off)
			continue;
		const uint8_t *n = e + off, *end = n + sz;
		while (n + 12 <= end) {
			uint32_t namesz = n[0] | n[1] << 8 | (uint32_t)n[2] << 16 | (uint32_t)n[3] << 24;
			uint32_t descsz = n[4] | n[5] << 8 | (uint32_t)n[6] << 16 | (uint32_t)n[7] << 24;
			uint32_t type = n[8] | n[9] << 8 | (uint32_t)n[10] << 16 | (uint32_t)n[11] << 24;
			uint64_t adv = 12 + (((uint64_t)namesz + 3) & ~3UL) + (((uint64_t)descsz + 3) & ~3UL);
			if (adv > (uint64_t)(end - n))
				break;
			if (type == 3 && namesz == 4 && !memcmp(n + 12, "GNU", 4) &&
			    descsz <= CW_BUILDID_MAX) {
				memcpy(out->build_id, n + 16, descsz);
				out->build_id_len = (uint8_t)descsz;
				return;
			}
			n += adv;
		}
	}
}

static void serial_put(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++)
		hal_console_putc(s[i]);
}

static void collect(struct dump_src *d, struct proc *p, struct thread *crash, int sig,
		    const char *cause)
{
	memset(d, 0, sizeof(*d));
	d->p = p;
	d->crash = crash;
	d->sig = sig;
	d->cause = cause;
	for (int i = 0; i < K_MAX_THREADS; i++) {
		struct thread *t = &k_threads[i];
		if (t->proc == p && t->state != T_UNUSED && t->state != T_DEAD)
			d->threads[d->nthreads++] = t;
	}
	/* Maps sorted by address (insertion sort over the process's slots). */
	for (int i = 0; i < K_MAX_VMAS; i++) {
		const struct vma *v = &p->vmas[i];
		if (v->kind == VMA_FREE)
			continue;
		struct cw_map m = {
			.start = v->start, .end = v->end,
			.prot = ((v->prot & HAL_PROT_R) ? CW_PROT_R : 0) |
				((v->prot & HAL_PROT_W) ? CW_PROT_W | CW_PROT_R : 0) |
				((v->prot & HAL_PROT_X) ? CW_PROT_X : 0),
			.flags = v->kind == VMA_STACK ? CW_MAP_STACK : 0,
			.image = v->kind == VMA_IMAGE ? 0 : -1,
			.file_off = v->kind == VMA_IMAGE ? v->start - p->load_lo : 0,
		};
		uint32_t j = d->nmaps++;
		while (j > 0 && d->maps[j - 1].start > m.start) {
			d->maps[j] = d->maps[j - 1];
			j--;
		}
		d->maps[j] = m;
	}
	k_snprintf(d->path, sizeof(d->path), "/bin/%s", p->name);
	d->image.path = d->path;
	d->image.base = p->load_lo;
	find_build_id(p->image, &d->image);
	static const uint64_t types[5] = { 3, 4, 5, 6, 9 }; /* AT_PHDR PHENT PHNUM PAGESZ ENTRY */
	uint64_t vals[5] = { p->phdr, 56, p->phnum, HAL_PAGE_SIZE, p->entry };
	for (int i = 0; i < 5; i++) {
		d->aux[i][0] = types[i];
		d->aux[i][1] = vals[i];
	}
}

int dump_process(struct proc *p, struct thread *crashing, int sig, const char *cause)
{
	if (!boot_id[0]) {
		uint64_t t = hal_time_ns() ^ 0x9e3779b97f4a7c15UL;
		for (int i = 0; i < 16; i++) {
			t ^= t << 13, t ^= t >> 7, t ^= t << 17;
			boot_id[i] = (uint8_t)t | (i == 0);
		}
	}
	collect(&ds, p, crashing, sig, cause);
	struct cw_source src = {
		.ctx = &ds, .arch = &cw_arch_riscv64, .proc = src_proc, .device = src_device,
		.thread_count = src_thread_count, .thread = src_thread,
		.map_count = src_map_count, .map = src_map,
		.image_count = src_image_count, .image = src_image,
		.aux_count = src_aux_count, .aux = src_aux, .read_mem = src_read,
	};
	struct cw_config cfg;
	cw_config_default(&cfg);
	cfg.scope = (enum cw_scope)k_args.scope;
	cfg.stack_cap = k_args.stack_cap;
	cfg.total_cap = k_args.total_cap;
	cfg.thread_cap = k_args.thread_cap;
	enum cw_err e = cw_begin(&writer, &src, &cfg);
	if (e != CW_OK) {
		k_printf("[k] core pid=%d: layout failed: %s\n", p->pid, cw_strerror(e));
		return -1;
	}
	uint8_t sha[32];
	/* The network endpoints first (kernel/net), the console when they all fail. */
	if (net_dump(&writer, sha) == 0) {
		dump_seq++;
		k_printf("[k] core pid=%d threads=%u size=%lu memory=%lu sent over the network\n",
			 p->pid, writer.nthreads, cw_size(&writer), writer.mem_bytes);
		return 0;
	}
	cw_serial_begin(&serial, serial_put, 0, 0, ds.path, cause);
	e = cw_write(&writer, cw_serial_sink, &serial, sha);
	cw_serial_end(&serial);
	if (e != CW_OK) {
		k_printf("[k] core pid=%d: write failed: %s\n", p->pid, cw_strerror(e));
		return -1;
	}
	char hex[65];
	nd_hex(sha, 32, hex);
	dump_seq++;
	k_printf("[k] core pid=%d threads=%u size=%lu memory=%lu sha256=%s\n", p->pid,
		 writer.nthreads, cw_size(&writer), writer.mem_bytes, hex);
	return 0;
}
