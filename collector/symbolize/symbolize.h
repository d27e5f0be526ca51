/* Symbolization engine: turns an ELF core into per-thread backtraces with modules, symbols and lines. */
#ifndef CORECAST_SYMBOLIZE_SYMBOLIZE_H
#define CORECAST_SYMBOLIZE_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum sym_err {
    SYM_OK = 0,
    SYM_E_CORE,         /* the core file is unreadable or malformed (see detail) */
    SYM_E_DWFL,         /* libdwfl refused the core (see detail) */
    SYM_E_NOMEM,
    SYM_E_ARG,          /* bad option value */
};
const char *sym_strerror(enum sym_err e);

/* How a frame was found. */
enum sym_how { SYM_HOW_INITIAL, SYM_HOW_CFI, SYM_HOW_FP, SYM_HOW_SCAN };
const char *sym_how_name(enum sym_how h);

struct sym_frame {
    uint64_t pc;
    char *function;     /* NULL when no symbol covers pc */
    /* pc - function start when function != NULL; else pc - module start; else pc */
    uint64_t offset;
    int module;         /* index into sym_result.modules, -1 if pc is in no module */
    char *file;         /* source file, NULL if unknown */
    int line;           /* 0 if unknown */
    bool inlined;       /* an inlined call site folded into the next frame's pc */
    enum sym_how how;
};

struct sym_thread {
    int64_t tid;
    bool crashed;
    struct sym_frame *frames;
    size_t nframes;
};

struct sym_module {
    char *name;
    char build_id[129];     /* lowercase hex, "" if unknown */
    uint64_t start, end;
    bool symbols;           /* an ELF with symbols or DWARF was found */
};

struct sym_reg {
    const char *name;       /* static string */
    uint64_t value;
};

struct sym_result {
    const char *machine;    /* "x86_64", "i386", "arm", "aarch64", "riscv64", ... */
    int signal;
    int64_t crashed_tid;
    struct sym_reg *regs;
    size_t nregs;
    struct sym_thread *threads;  /* crashing thread first */
    size_t nthreads;
    struct sym_module *modules;
    size_t nmodules;
    bool symbols_missing;
    /* With verify_index: addresses compared, and how many answers differed. */
    size_t index_checked, index_mismatches;
};

/* What the caller knows beyond the core: the session's build-ids, an executable. */
struct sym_hint {
    char build_id[129];     /* lowercase hex */
    char name[256];         /* module file name, "" if not given */
};

struct sym_options {
    const char *store;              /* symbol store root (holds .build-id/), may be NULL */
    const char *exe;                /* executable path, may be NULL */
    const struct sym_hint *hints;
    size_t nhints;
    double debuginfod_timeout;      /* seconds for each debuginfod request; <= 0: 30 */
    unsigned max_frames;            /* per thread; 0: 256 */
    /* Testing: also compare the engine's symbol index with libdwfl's own address
     * lookup around a sample of every module's symbols (slow; see index_checked). */
    bool verify_index;
};

/* Files located and symbol lookups done, kept across cores so that a storm of
 * cores from one build opens and parses its ELF/DWARF once. */
struct sym_cache;
struct sym_cache *sym_cache_new(void);
void sym_cache_free(struct sym_cache *c);
/* A long-lived cache remembers files it could not find; call between cores so that
 * files filed since (in store or /usr/lib/debug) are used: for each missing build-id
 * now present, the "not found" record and the symbol-less lookups made for it are
 * dropped.  Returns how many build-ids were revalidated.  (A debuginfod miss stays
 * until the cache is freed; libdebuginfod keeps its own negative cache anyway.) */
unsigned sym_cache_revalidate(struct sym_cache *c, const char *store);

/* Symbolize one core.  cache may be NULL (a private one is used).  On failure,
 * detail (if not NULL, size detail_len) receives one line naming the cause. */
enum sym_err sym_symbolize(const char *core_path, const struct sym_options *opt,
                           struct sym_cache *cache, struct sym_result **out,
                           char *detail, size_t detail_len);
void sym_result_free(struct sym_result *r);

/* The JSON document described in collector/symbolize/README.md (version 1). */
int sym_result_write_json(const struct sym_result *r, FILE *f);

#endif
