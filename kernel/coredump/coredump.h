/* kernel/coredump/coredump.h: streaming ELF core writer — source and sink interfaces, API. */
#ifndef COREDUMP_COREDUMP_H
#define COREDUMP_COREDUMP_H

/*
 * The writer turns a frozen process into a Linux-compatible ELF core without ever
 * holding the core in memory.  It pulls everything from a *source* (a table of
 * callbacks the kernel implements over its own process structures) and pushes bytes
 * into a *sink* callback.  The layout is computed first (cw_begin), so the exact
 * size is known before the first byte goes out, and any byte range can later be
 * regenerated on demand (cw_read_range) — the network sender uses that to
 * retransmit without a buffer the size of the core.
 *
 * Freestanding: no allocation, no libc beyond <stddef.h>/<stdint.h>.  All state
 * lives in struct cw_writer, which the caller owns (static storage in a kernel;
 * its size is CW_SCRATCH_BYTES, documented in docs/core-format.md).
 *
 * Determinism: the source must answer every callback identically for the life of
 * one writer (the process stays frozen); proc and device are read only once, in
 * cw_begin, so they may carry a clock reading.  Two passes over the same frozen process
 * therefore give the same bytes, which is what makes cw_read_range exact.
 */

#include <stddef.h>
#include <stdint.h>

#include "kernel/coredump/cw_arch.h"
#include "netdump/meta.h"
#include "netdump/sha256.h"

/* ---- errors ------------------------------------------------------------- */

enum cw_err {
	CW_OK = 0,
	CW_E_ARG,          /* a NULL or inconsistent argument */
	CW_E_SOURCE,       /* a source callback failed */
	CW_E_TOO_MANY_MAPS,/* not returned any more: maps beyond CW_MAX_SEGS get no PT_LOAD */
	CW_E_NO_THREADS,   /* the process has no thread to dump */
	CW_E_SINK,         /* the sink refused bytes (its own error is in cw_writer.sink_err) */
	CW_E_RANGE,        /* cw_read_range outside [0, size) */
	CW_E_STATE,        /* call out of order (e.g. cw_write before cw_begin) */
};

const char *cw_strerror(enum cw_err e);

/* ---- limits (compile-time, override with -D) ------------------------------ */

#ifndef CW_MAX_SEGS
#define CW_MAX_SEGS   64      /* PT_LOADs; beyond it only maps with contents get one */
#endif
#ifndef CW_OVERFLOW_REACH
#define CW_OVERFLOW_REACH 65536 /* sources that mark no CW_MAP_STACK: SP this far below a map is overflow */
#endif
#ifndef CW_CHUNK
#define CW_CHUNK      1024    /* bytes read from process memory per source call */
#endif

/* ---- what the source describes ------------------------------------------ */

/* Map protections (PT_LOAD p_flags are derived from these). */
#define CW_PROT_R   0x1u
#define CW_PROT_W   0x2u
#define CW_PROT_X   0x4u

/* Map flags. */
#define CW_MAP_STACK  0x1u    /* a thread stack: where an overflowed SP's frames are */
#define CW_MAP_NODUMP 0x2u    /* never dump contents (device memory, guard pages) */

struct cw_map {
	uint64_t start;          /* page aligned */
	uint64_t end;            /* exclusive, page aligned, > start */
	uint32_t prot;           /* CW_PROT_* */
	uint32_t flags;          /* CW_MAP_* */
	int32_t image;           /* index of the image this maps, or -1 (anonymous) */
	uint64_t file_off;       /* offset of start within the image file (bytes) */
};

#define CW_BUILDID_MAX 20

struct cw_image {
	const char *path;        /* as NT_FILE and the CORECAST note show it */
	uint64_t base;           /* address of the image's ELF header (always dumped) */
	uint8_t build_id_len;    /* 0..CW_BUILDID_MAX */
	uint8_t build_id[CW_BUILDID_MAX];
};

struct cw_thread {
	uint32_t tid;
	const void *uctx;        /* the arch's saved user context (hal/<arch>/uctx.h) */
	uint64_t utime_us;       /* user / system CPU time, 0 if unknown */
	uint64_t stime_us;
};

struct cw_proc {
	uint32_t pid, ppid;
	uint32_t uid, gid;
	const char *name;        /* short name, NT_PRPSINFO pr_fname (15 chars kept) */
	const char *args;        /* command line, pr_psargs (79 chars kept) */
	uint32_t crash_tid;      /* thread written first; 0 = the first thread */
	int32_t signo;           /* Linux signal number (11 SIGSEGV, 4 SIGILL, 7 SIGBUS, 5 SIGTRAP, 6 SIGABRT) */
	int32_t si_code;         /* e.g. 1 SEGV_MAPERR, 2 SEGV_ACCERR */
	uint64_t fault_addr;     /* si_addr */
	int has_fault_addr;      /* the fault page is dumped when readable */
	const char *cause;       /* human text, e.g. "load page fault at 0x0" */
};

/* Device metadata carried in the project note ("CORECAST"). */
struct cw_device {
	const char *device_id;
	const char *firmware;
	uint8_t boot_id[16];
	uint64_t uptime_ns;
	uint64_t time_ns;        /* wall clock, ns since the epoch, 0 unknown */
	uint32_t seq;            /* per-boot dump sequence number (netdump's nd_meta.seq), so a
	                            dump that arrives by serial and by network is one dump */
};

/*
 * The source.  Counts and indexed getters (instead of iterators) keep the writer
 * free of allocation and let it re-read any item in any order.  Maps must be
 * sorted by address and must not overlap.  read_mem returns 0 on success or
 * non-zero if any byte of the range cannot be read; the writer then writes zeros
 * for that chunk (the layout never depends on readability, except for the
 * optional fault page which is probed once in cw_begin).
 */
struct cw_source {
	void *ctx;
	const struct cw_arch *arch;
	int (*proc)(void *ctx, struct cw_proc *out);
	int (*device)(void *ctx, struct cw_device *out);          /* may be NULL */
	uint32_t (*thread_count)(void *ctx);
	int (*thread)(void *ctx, uint32_t i, struct cw_thread *out);
	uint32_t (*map_count)(void *ctx);
	int (*map)(void *ctx, uint32_t i, struct cw_map *out);
	uint32_t (*image_count)(void *ctx);                          /* may be NULL */
	int (*image)(void *ctx, uint32_t i, struct cw_image *out);
	uint32_t (*aux_count)(void *ctx);                            /* may be NULL */
	int (*aux)(void *ctx, uint32_t i, uint64_t *type, uint64_t *val);
	int (*read_mem)(void *ctx, uint64_t addr, void *buf, uint32_t len);
};

/* ---- policy ---------------------------------------------------------------- */

enum cw_scope {
	CW_SCOPE_CRASH_STACK = 0, /* crashing thread: SP..top of its stack map (whole map if SP outside) */
	CW_SCOPE_ALL_STACKS,      /* the same for every thread */
	CW_SCOPE_WRITABLE,        /* all stacks plus every writable map */
	CW_SCOPE_ALL,             /* every readable map */
};

#ifndef CW_DEFAULT_SCOPE
#define CW_DEFAULT_SCOPE CW_SCOPE_CRASH_STACK
#endif

struct cw_config {
	enum cw_scope scope;
	uint64_t stack_cap;      /* max bytes dumped per stack, 0 = unlimited */
	uint64_t total_cap;      /* max bytes of memory contents, 0 = unlimited;
	                            image header pages, the crash stack and the fault
	                            page are always written (they count, but first) */
	uint32_t thread_cap;     /* max threads written (crashing one always), 0 = all */
	uint32_t page_size;      /* 0 = 4096 */
};

/* Defaults: CW_DEFAULT_SCOPE, no caps, 4 KiB pages. */
void cw_config_default(struct cw_config *cfg);

/* ---- sink ------------------------------------------------------------------ */

/* Receives the core in file order; returns 0, or non-zero to abort the write. */
typedef int (*cw_sink_fn)(void *sink_ctx, const void *buf, size_t len);

/* ---- writer ----------------------------------------------------------------- */

/* One dumped memory window (a PT_LOAD with file contents, or none). */
struct cw_seg {
	uint64_t vaddr;          /* start of the PT_LOAD */
	uint64_t memsz;
	uint64_t filesz;         /* bytes written to the file (0 = header only) */
	uint64_t off;            /* file offset of the contents */
	uint32_t map;            /* index of the source map */
	uint32_t pflags;         /* PF_R/W/X */
};

struct cw_writer {
	/* layout, fixed by cw_begin */
	struct cw_source src;
	struct cw_config cfg;
	struct cw_proc proc;     /* proc and device are asked once, in cw_begin, so a */
	struct cw_device dev;    /* clock read in those callbacks cannot change the bytes */
	uint32_t nthreads;       /* threads written (after thread_cap) */
	uint32_t crash_idx;      /* source index of the crashing thread */
	uint32_t nmaps;          /* maps of the source */
	uint32_t nsegs;          /* PT_LOADs: every map, or only those with contents when
	                            there are more than CW_MAX_SEGS maps */
	uint32_t segs_dropped;   /* windows left out because the table was full */
	uint32_t nfile;          /* NT_FILE entries */
	uint64_t file_names;     /* bytes of NT_FILE names */
	uint64_t notes_off, notes_size;
	uint64_t data_off;       /* first PT_LOAD contents, page aligned */
	uint64_t size;           /* exact size of the core */
	uint64_t mem_bytes;      /* sum of filesz */
	int began;
	int sink_err;            /* last non-zero sink return */
	struct cw_seg seg[CW_MAX_SEGS];
	/* streaming */
	struct nd_sha256 sha;
	uint8_t buf[CW_CHUNK];   /* note bodies are built and memory read through here */
};

#define CW_SCRATCH_BYTES (sizeof(struct cw_writer))

/* Compute the layout.  After this, w->size is the exact core size. */
enum cw_err cw_begin(struct cw_writer *w, const struct cw_source *src,
                     const struct cw_config *cfg);

/* Stream the whole core into the sink; sha256_out (may be NULL) gets its digest. */
enum cw_err cw_write(struct cw_writer *w, cw_sink_fn sink, void *sink_ctx,
                     uint8_t sha256_out[32]);

/* Regenerate bytes [off, off+len) of the same core into buf (len may cross any
 * boundary; off+len must not exceed w->size). */
enum cw_err cw_read_range(struct cw_writer *w, uint64_t off, void *buf, size_t len);

/* The crash metadata a netdump session opens with, from the same source: device,
 * boot id, seq, time, pid, signal, exe, cause, firmware, e_machine, exact core size
 * and up to ND_BUILDIDS_MAX image build-ids.  Strings are cut to the field sizes.
 * Valid after cw_begin. */
enum cw_err cw_meta(struct cw_writer *w, struct nd_meta *m);

/* cw_read_range in the shape of netdump's nd_read_fn (netdump/tx.h), so the sender
 * reads the core straight from the writer: nd_tx_init(&tx, &cfg, &meta, cw_nd_read, w).
 * Returns 0, or -(enum cw_err). */
int cw_nd_read(void *writer, uint64_t off, void *buf, size_t len);

/* Exact core size (valid after cw_begin). */
static inline uint64_t cw_size(const struct cw_writer *w) { return w->size; }

/* ---- the project note --------------------------------------------------------- */

/* Name and type of the project-owned note; its layout is in docs/core-format.md. */
#define CW_NOTE_NAME     "CORECAST"
#define CW_NT_CORECAST   0x43430001u
#define CW_NOTE_VERSION  1u

#endif /* COREDUMP_COREDUMP_H */
