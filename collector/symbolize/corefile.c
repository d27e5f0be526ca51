/* Bounds-checked reader for ELF core files: segments, thread notes, auxv, without trusting any length. */
#include "collector/symbolize/corefile.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* More program headers than this is not a process we can have dumped (Linux caps
 * mappings at 65530 by default); it bounds the work a hostile header can cause. */
#define CORE_MAX_PHDRS 70000u
#define CORE_MAX_THREADS 4096u

const char *core_strerror(enum core_err e)
{
    switch (e) {
    case CORE_OK: return "ok";
    case CORE_E_OPEN: return "cannot open file";
    case CORE_E_NOT_ELF: return "not an ELF file";
    case CORE_E_NOT_CORE: return "ELF file is not a core (e_type != ET_CORE)";
    case CORE_E_TRUNCATED: return "file truncated: header or table past end of file";
    case CORE_E_BAD_PHDRS: return "implausible program header table";
    case CORE_E_BAD_NOTES: return "malformed note (size past segment end)";
    case CORE_E_NO_THREADS: return "no thread status (NT_PRSTATUS) notes";
    case CORE_E_MACHINE: return "unsupported machine";
    case CORE_E_NOMEM: return "out of memory";
    }
    return "unknown error";
}

uint64_t core_get(const struct core_file *cf, const uint8_t *p, size_t width)
{
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++) {
        size_t k = cf->big_endian ? i : width - 1 - i;
        v = (v << 8) | p[k];
    }
    return v;
}

/* Internal result: the prefix in memory is too short; cf->need says how long. */
#define CORE_E_NEED_MORE ((enum core_err)-1)

/* [off, off+len) must be in the file (else err) and in memory (else ask for more). */
static enum core_err in_prefix(struct core_file *cf, uint64_t off, uint64_t len, enum core_err err)
{
    if (off > cf->size || len > cf->size - off)
        return err;
    if (off + len > cf->map_len) {
        cf->need = off + len;
        return CORE_E_NEED_MORE;
    }
    return CORE_OK;
}

static int seg_cmp(const void *a, const void *b)
{
    const struct core_seg *x = a, *y = b;
    return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* Size of prstatus fields that precede pr_reg, and where pr_pid lives. */
static void prstatus_layout(const struct core_file *cf, size_t *pid_off, size_t *reg_off)
{
    /* si_signo/si_code/si_errno, pr_cursig (+pad), sigpend, sighold, pid, ppid, pgrp,
     * sid, then four timevals: 32 + 4*16 = 112 on LP64, 24 + 4*8 = 72 on ILP32. */
    *pid_off = cf->is64 ? 32 : 24;
    *reg_off = cf->is64 ? 112 : 72;
}

static size_t gregset_size(uint16_t machine, bool is64)
{
    switch (machine) {
    case EM_X86_64: return 27 * 8;
    case EM_386: return 17 * 4;
    case EM_ARM: return 18 * 4;
    case EM_AARCH64: return 34 * 8;
    case EM_RISCV: return is64 ? 32 * 8 : 32 * 4;
    default: return 0;
    }
}

static enum core_err parse_note_seg(struct core_file *cf, uint64_t off, uint64_t len)
{
    const uint8_t *p = cf->map + off;
    uint64_t pos = 0;
    while (pos + 12 <= len) {
        uint64_t namesz = core_get(cf, p + pos, 4);
        uint64_t descsz = core_get(cf, p + pos + 4, 4);
        uint64_t type = core_get(cf, p + pos + 8, 4);
        pos += 12;
        uint64_t name_pad = (namesz + 3) & ~3ull;
        if (name_pad > len - pos)
            return CORE_E_BAD_NOTES;
        const uint8_t *name = p + pos;
        pos += name_pad;
        if (descsz > len - pos)
            return CORE_E_BAD_NOTES;
        const uint8_t *desc = p + pos;
        uint64_t desc_pad = (descsz + 3) & ~3ull;
        pos += desc_pad > len - pos ? len - pos : desc_pad;

        bool is_core = namesz == 5 && memcmp(name, "CORE", 5) == 0;
        if (!is_core)
            continue;
        if (type == NT_PRSTATUS) {
            size_t pid_off, reg_off, gsz = gregset_size(cf->machine, cf->is64);
            prstatus_layout(cf, &pid_off, &reg_off);
            if (descsz < reg_off + gsz)
                return CORE_E_BAD_NOTES;
            if (cf->nthreads >= CORE_MAX_THREADS)
                continue;
            struct core_thread *t = realloc(cf->threads, (cf->nthreads + 1) * sizeof *t);
            if (!t)
                return CORE_E_NOMEM;
            cf->threads = t;
            t = &cf->threads[cf->nthreads++];
            t->tid = (int32_t)core_get(cf, desc + pid_off, 4);
            t->signal = (int)core_get(cf, desc + 12, 2);
            t->regs = desc + reg_off;
            t->regs_len = gsz;
        } else if (type == NT_PRPSINFO) {
            /* pr_fname[16] sits 16+16+... before pr_psargs[80] at the end */
            if (descsz >= 96) {
                memcpy(cf->fname, desc + descsz - 96, 16);
                cf->fname[16] = 0;
            }
        } else if (type == NT_AUXV) {
            cf->auxv = desc;
            cf->auxv_len = descsz;
        } else if (type == NT_FILE) {
            cf->has_nt_file = true;
        } else if (type == NT_SIGINFO) {
            if (descsz >= 4)
                cf->siginfo_signo = (int)(int32_t)core_get(cf, desc, 4);
        }
    }
    return CORE_OK;
}

static enum core_err parse_prefix(struct core_file *cf, const uint8_t *map, size_t map_len,
                                  size_t size, int fd)
{
    memset(cf, 0, sizeof *cf);
    cf->map = map;
    cf->map_len = map_len;
    cf->size = size;
    cf->fd = fd;
    enum core_err e;
    if (size < EI_NIDENT)
        return CORE_E_NOT_ELF;
    if ((e = in_prefix(cf, 0, EI_NIDENT, CORE_E_NOT_ELF)) != CORE_OK)
        return e;
    if (memcmp(map, ELFMAG, SELFMAG) != 0)
        return CORE_E_NOT_ELF;
    if (map[EI_CLASS] != ELFCLASS32 && map[EI_CLASS] != ELFCLASS64)
        return CORE_E_NOT_ELF;
    if (map[EI_DATA] != ELFDATA2LSB && map[EI_DATA] != ELFDATA2MSB)
        return CORE_E_NOT_ELF;
    cf->is64 = map[EI_CLASS] == ELFCLASS64;
    cf->big_endian = map[EI_DATA] == ELFDATA2MSB;
    size_t ehsize = cf->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    if ((e = in_prefix(cf, 0, ehsize, CORE_E_TRUNCATED)) != CORE_OK)
        return e;
    if (core_get(cf, map + 16, 2) != ET_CORE)
        return CORE_E_NOT_CORE;
    cf->machine = (uint16_t)core_get(cf, map + 18, 2);
    if (gregset_size(cf->machine, cf->is64) == 0)
        return CORE_E_MACHINE;
    uint64_t phoff = cf->is64 ? core_get(cf, map + 32, 8) : core_get(cf, map + 28, 4);
    uint64_t phentsize = core_get(cf, map + (cf->is64 ? 54 : 42), 2);
    uint64_t phnum = core_get(cf, map + (cf->is64 ? 56 : 44), 2);
    size_t want = cf->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    if (phnum == PN_XNUM) {
        /* the real count is in section header 0's sh_info */
        uint64_t shoff = cf->is64 ? core_get(cf, map + 40, 8) : core_get(cf, map + 32, 4);
        size_t shsz = cf->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
        if (shoff == 0)
            return CORE_E_TRUNCATED;
        if ((e = in_prefix(cf, shoff, shsz, CORE_E_TRUNCATED)) != CORE_OK)
            return e;
        phnum = core_get(cf, map + shoff + (cf->is64 ? 44 : 28), 4);
    }
    if (phnum == 0 || phentsize != want || phnum > CORE_MAX_PHDRS)
        return CORE_E_BAD_PHDRS;
    if (phoff > size || (size - phoff) / phentsize < phnum)
        return CORE_E_TRUNCATED;
    if ((e = in_prefix(cf, phoff, phnum * phentsize, CORE_E_TRUNCATED)) != CORE_OK)
        return e;

    cf->segs = calloc(phnum, sizeof *cf->segs);
    if (!cf->segs)
        return CORE_E_NOMEM;
    for (uint64_t i = 0; i < phnum; i++) {
        const uint8_t *ph = map + phoff + i * phentsize;
        uint32_t type = (uint32_t)core_get(cf, ph, 4);
        uint64_t off, vaddr, filesz, memsz, flags;
        if (cf->is64) {
            flags = core_get(cf, ph + 4, 4);
            off = core_get(cf, ph + 8, 8);
            vaddr = core_get(cf, ph + 16, 8);
            filesz = core_get(cf, ph + 32, 8);
            memsz = core_get(cf, ph + 40, 8);
        } else {
            off = core_get(cf, ph + 4, 4);
            vaddr = core_get(cf, ph + 8, 4);
            filesz = core_get(cf, ph + 16, 4);
            memsz = core_get(cf, ph + 20, 4);
            flags = core_get(cf, ph + 24, 4);
        }
        if (type == PT_NOTE) {
            if ((e = in_prefix(cf, off, filesz, CORE_E_BAD_NOTES)) != CORE_OK)
                return e;
            if ((e = parse_note_seg(cf, off, filesz)) != CORE_OK)
                return e;
        } else if (type == PT_LOAD) {
            /* A segment cut short by a truncated file keeps what is present. */
            if (off > size)
                filesz = 0;
            else if (filesz > size - off)
                filesz = size - off;
            if (filesz > memsz)
                filesz = memsz;
            if (vaddr + memsz < vaddr)
                continue;
            struct core_seg *s = &cf->segs[cf->nsegs++];
            s->vaddr = vaddr;
            s->memsz = memsz;
            s->offset = off;
            s->filesz = filesz;
            s->flags = (uint32_t)flags;
        }
    }
    qsort(cf->segs, cf->nsegs, sizeof *cf->segs, seg_cmp);
    if (cf->nthreads == 0)
        return CORE_E_NO_THREADS;
    return CORE_OK;
}

enum core_err core_parse(struct core_file *cf, const uint8_t *map, size_t size)
{
    return parse_prefix(cf, map, size, size, -1);
}

static void parsed_free(struct core_file *cf)
{
    free(cf->segs);
    free(cf->threads);
    cf->segs = NULL;
    cf->threads = NULL;
}

static bool read_full(int fd, uint8_t *buf, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pread(fd, buf, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return true;
}

enum core_err core_open(struct core_file *cf, const char *path)
{
    memset(cf, 0, sizeof *cf);
    cf->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CORE_E_OPEN;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return CORE_E_OPEN;
    }
    size_t size = (size_t)st.st_size;
    /* A core up to 64 MiB is mapped whole, a larger one its first MiB (headers and
     * notes), not read: only the pages the unwinder touches are faulted in, straight
     * from the page cache, where a read copied them all into fresh heap pages (~210
     * page faults for a 1 MiB core), and the stack words the fallback unwinder scans
     * are not one pread each (660 for an armhf qemu core).  Process memory past the
     * mapping is read with pread, so a huge core does not take the address space
     * RLIMIT_AS leaves for symbol files.  The file must not shrink while mapped; cores
     * in the store never change, and a worker dying of SIGBUS is recorded like any
     * crash. */
    size_t len = size <= (64u << 20) ? size : (1u << 20);
    if (size == 0) {
        /* Nothing to map; the parser names what is missing. */
        uint8_t *empty = malloc(1);
        if (!empty) {
            close(fd);
            return CORE_E_NOMEM;
        }
        enum core_err e0 = parse_prefix(cf, empty, 0, 0, fd);
        cf->map = empty;
        cf->map_len = 0;
        cf->fd = fd;
        return e0;
    }
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    enum core_err e = CORE_E_NOMEM;
    for (int pass = 0; pass < 4; pass++) {
        if (buf)
            munmap(buf, buf_len);
        buf = NULL;
        if (len > size) {
            e = CORE_E_OPEN;           /* the parser wants more than the file holds */
            break;
        }
        void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            e = errno == ENOMEM ? CORE_E_NOMEM : CORE_E_OPEN;
            break;
        }
        buf = m;
        buf_len = len;
        e = parse_prefix(cf, buf, len, size, fd);
        if (e != CORE_E_NEED_MORE)
            break;
        parsed_free(cf);
        if (cf->need > CORE_MAX_PREFIX) {
            e = CORE_E_BAD_NOTES;      /* notes or headers larger than any real core's */
            break;
        }
        len = (size_t)cf->need;
    }
    if (e == CORE_E_NEED_MORE)
        e = CORE_E_BAD_NOTES;
    /* Keep what core_close must release even on error. */
    cf->map = buf;
    cf->map_len = buf_len;
    cf->mapped = buf != NULL;
    cf->size = size;
    cf->fd = fd;
    return e;
}

void core_close(struct core_file *cf)
{
    if (cf->mapped)
        munmap((void *)cf->map, cf->map_len);
    else
        free((void *)cf->map);
    if (cf->fd >= 0)
        close(cf->fd);
    parsed_free(cf);
    memset(cf, 0, sizeof *cf);
    cf->fd = -1;
}

const struct core_seg *core_seg_at(const struct core_file *cf, uint64_t addr)
{
    size_t lo = 0, hi = cf->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct core_seg *s = &cf->segs[mid];
        if (addr < s->vaddr)
            hi = mid;
        else if (addr - s->vaddr >= s->memsz)
            lo = mid + 1;
        else
            return s;
    }
    return NULL;
}

bool core_read(const struct core_file *cf, uint64_t addr, void *buf, size_t len)
{
    uint8_t *out = buf;
    while (len > 0) {
        const struct core_seg *s = core_seg_at(cf, addr);
        if (!s)
            return false;
        uint64_t in = addr - s->vaddr;
        if (in >= s->filesz)
            return false;
        uint64_t n = s->filesz - in;
        if (n > len)
            n = len;
        uint64_t fo = s->offset + in;
        if (fo + n <= cf->map_len)
            memcpy(out, cf->map + fo, n);
        else if (cf->fd < 0 || !read_full(cf->fd, out, n, fo))
            return false;
        out += n;
        addr += n;
        len -= n;
    }
    return true;
}

bool core_read_word(const struct core_file *cf, uint64_t addr, uint64_t *out)
{
    uint8_t b[8];
    size_t w = cf->is64 ? 8 : 4;
    if (!core_read(cf, addr, b, w))
        return false;
    *out = core_get(cf, b, w);
    return true;
}

bool core_auxv(const struct core_file *cf, uint64_t type, uint64_t *val)
{
    size_t w = cf->is64 ? 8 : 4;
    for (size_t i = 0; i + 2 * w <= cf->auxv_len; i += 2 * w) {
        uint64_t t = core_get(cf, cf->auxv + i, w);
        if (t == AT_NULL)
            break;
        if (t == type) {
            *val = core_get(cf, cf->auxv + i + w, w);
            return true;
        }
    }
    return false;
}
