/* Bounds-checked reader for ELF core files: segments, thread notes, auxv, without trusting any length. */
#ifndef CORECAST_SYMBOLIZE_COREFILE_H
#define CORECAST_SYMBOLIZE_COREFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum core_err {
    CORE_OK = 0,
    CORE_E_OPEN,        /* cannot open or map the file */
    CORE_E_NOT_ELF,     /* no ELF magic, unknown class or data encoding */
    CORE_E_NOT_CORE,    /* ELF, but e_type is not ET_CORE */
    CORE_E_TRUNCATED,   /* a header or table lies past the end of the file */
    CORE_E_BAD_PHDRS,   /* program header table size or count is implausible */
    CORE_E_BAD_NOTES,   /* a note header or size runs past its segment */
    CORE_E_NO_THREADS,  /* no NT_PRSTATUS note */
    CORE_E_MACHINE,     /* e_machine is not one we know register layouts for */
    CORE_E_NOMEM,
};

const char *core_strerror(enum core_err e);

/* A PT_LOAD of the core; bytes past filesz read as absent (not dumped). */
struct core_seg {
    uint64_t vaddr, memsz, offset, filesz;
    uint32_t flags;
};

struct core_thread {
    int64_t tid;
    int signal;             /* pr_cursig */
    const uint8_t *regs;    /* raw pr_reg, length regs_len, points into the map */
    size_t regs_len;
};

struct core_file {
    /* The file's first map_len bytes are in memory (headers, program headers, notes);
     * the rest (process memory) is read with pread, so a large core does not take
     * address space a worker's RLIMIT_AS needs for symbol files. */
    const uint8_t *map;
    size_t map_len;
    bool mapped;            /* map is an mmap of the file (else malloc'd, or the caller's) */
    size_t size;            /* of the whole file */
    int fd;                 /* -1 when parsing a buffer */
    uint64_t need;          /* internal: prefix length the parser asked for */
    bool is64, big_endian;
    uint16_t machine;       /* EM_* */
    struct core_seg *segs;  /* sorted by vaddr */
    size_t nsegs;
    struct core_thread *threads;  /* in note order: the crashing thread is first */
    size_t nthreads;
    const uint8_t *auxv;
    size_t auxv_len;
    bool has_nt_file;
    int siginfo_signo;      /* from NT_SIGINFO, 0 if absent */
    char fname[17];         /* pr_fname from NT_PRPSINFO */
};

enum core_err core_open(struct core_file *cf, const char *path);
/* Parse a core already in memory (not copied; must outlive cf). */
enum core_err core_parse(struct core_file *cf, const uint8_t *map, size_t size);
/* Largest header + notes prefix core_open will hold in memory. */
#define CORE_MAX_PREFIX (256u << 20)
void core_close(struct core_file *cf);

/* Read len bytes of process memory at addr; false if any byte was not dumped. */
bool core_read(const struct core_file *cf, uint64_t addr, void *buf, size_t len);
/* Read one target word (4 or 8 bytes, target endianness). */
bool core_read_word(const struct core_file *cf, uint64_t addr, uint64_t *out);
/* Segment containing addr, or NULL. */
const struct core_seg *core_seg_at(const struct core_file *cf, uint64_t addr);
/* Look up an auxv entry; false if absent. */
bool core_auxv(const struct core_file *cf, uint64_t type, uint64_t *val);

/* Decode a target-endian integer of width 1..8 from p. */
uint64_t core_get(const struct core_file *cf, const uint8_t *p, size_t width);

#endif
