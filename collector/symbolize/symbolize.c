/* Symbolization engine: libdwfl module discovery and CFI unwinding, fallbacks, symbol and line lookup. */
#include "collector/symbolize/symbolize.h"

#include <dwarf.h>
#include <elf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/symbolize/corefile.h"
#include "collector/symbolize/regs.h"
#include "collector/symbolize/symcache.h"
#include "collector/symbolize/symstore.h"
#include "collector/symbolize/unwind_fp.h"
#include "netdump/hex.h"

const char *sym_strerror(enum sym_err e)
{
    switch (e) {
    case SYM_OK: return "ok";
    case SYM_E_CORE: return "bad core file";
    case SYM_E_DWFL: return "libdwfl cannot read the core";
    case SYM_E_NOMEM: return "out of memory";
    case SYM_E_ARG: return "bad argument";
    }
    return "unknown error";
}

const char *sym_how_name(enum sym_how h)
{
    switch (h) {
    case SYM_HOW_INITIAL: return "initial";
    case SYM_HOW_CFI: return "cfi";
    case SYM_HOW_FP: return "fp";
    case SYM_HOW_SCAN: return "scan";
    }
    return "?";
}

/* State of one sym_symbolize call.  libdwfl's find_elf/find_debuginfo callbacks carry
 * no caller pointer, so they reach it through this one per-thread variable. */
struct run {
    const struct sym_options *opt;
    struct sym_cache *cache;
    struct core_file cf;
    const struct sym_regset *rs;
    Dwfl *dwfl;
    Elf *core_elf;
    int core_fd;
};
static _Thread_local struct run *current_run;

static void set_detail(char *detail, size_t len, const char *fmt, ...)
{
    if (!detail || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, len, fmt, ap);
    va_end(ap);
}

/* The module's build-id in lower-case hex (the .build-id layout's spelling), "" if none. */
static bool module_build_id(Dwfl_Module *mod, char *out, size_t outlen)
{
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(mod, &bits, &vaddr);
    out[0] = '\0';
    if (len <= 0 || (size_t)len * 2 + 1 > outlen)
        return false;
    nd_hex(bits, (size_t)len, out);
    return true;
}

static const char *hint_name_for(const struct sym_options *opt, const char *build_id)
{
    for (size_t i = 0; i < opt->nhints; i++)
        if (strcmp(opt->hints[i].build_id, build_id) == 0 && opt->hints[i].name[0])
            return opt->hints[i].name;
    return NULL;
}

/* A located file, swapped for its inflated copy in the store when its DWARF is
 * compressed (see symstore_inflated). */
static char *maybe_inflated(struct run *r, const char *build_id, char *path, const char *suffix)
{
    char *inf = path ? symstore_inflated(r->opt->store, build_id, path, suffix) : NULL;
    if (!inf)
        return path;
    free(path);
    return inf;
}

/* Find a file with this build-id to serve as the module's ELF, real executables
 * first (their .eh_frame is what CFI unwinding reads): the symbol store's executable,
 * --exe, the mapped path; then a debug file (the store's, which may also be the
 * unstripped executable, or the system's); then debuginfod. */
static char *locate_elf(struct run *r, const char *build_id, const char *fallback_path)
{
    const char *cached;
    if (symcache_path_get(r->cache, build_id, 0, &cached))
        return cached ? strdup(cached) : NULL;
    char *p = symstore_lookup(r->opt->store, build_id, "");
    char bid[129];
    if (!p && r->opt->exe && symstore_file_build_id(r->opt->exe, bid, sizeof bid) &&
        strcmp(bid, build_id) == 0)
        p = strdup(r->opt->exe);
    if (!p && fallback_path && symstore_file_build_id(fallback_path, bid, sizeof bid) &&
        strcmp(bid, build_id) == 0)
        p = strdup(fallback_path);
    if (!p)
        p = symstore_lookup(r->opt->store, build_id, ".debug");
    if (!p)
        p = symstore_lookup("/usr/lib/debug", build_id, ".debug");
    if (!p)
        p = symstore_dfd_fetch(symcache_dfd(r->cache, r->opt->debuginfod_timeout), build_id, false);
    if (!p)
        p = symstore_dfd_fetch(symcache_dfd(r->cache, r->opt->debuginfod_timeout), build_id, true);
    /* Not inflated: rewriting moves sections, and a main file's layout must match
     * its program headers (code is read through them). */
    symcache_path_put(r->cache, build_id, 0, p);
    return p;
}

static char *locate_debug(struct run *r, const char *build_id)
{
    const char *cached;
    if (symcache_path_get(r->cache, build_id, 1, &cached))
        return cached ? strdup(cached) : NULL;
    char *p = symstore_lookup(r->opt->store, build_id, ".debug");
    if (!p)
        p = symstore_lookup("/usr/lib/debug", build_id, ".debug");
    if (!p)
        p = symstore_dfd_fetch(symcache_dfd(r->cache, r->opt->debuginfod_timeout), build_id, true);
    p = maybe_inflated(r, build_id, p, ".debug");
    symcache_path_put(r->cache, build_id, 1, p);
    return p;
}

static int cb_find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                       char **file_name, Elf **elfp)
{
    struct run *r = current_run;
    char bid[129];
    *elfp = NULL;
    const char *fallback = (modname && modname[0] == '/') ? modname : NULL;
    char *path = NULL;
    if (module_build_id(mod, bid, sizeof bid))
        path = locate_elf(r, bid, fallback);
    else if (fallback && access(fallback, R_OK) == 0)
        path = strdup(fallback);   /* no build-id to check against: trust the mapped path */
    if (!path)
        return -1;
    Elf *e = symcache_elf(r->cache, path);
    if (!e) {
        free(path);
        return -1;
    }
    *elfp = e;
    *file_name = path;
    return -1;
}

static int cb_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                             Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                             GElf_Word debuglink_crc, char **debuginfo_file_name)
{
    struct run *r = current_run;
    char bid[129];
    if (!module_build_id(mod, bid, sizeof bid))
        return -1;
    char *path = locate_debug(r, bid);
    if (!path)
        return -1;
    /* The main file may itself be the .debug file already; libdwfl wants a new fd. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        free(path);
        return -1;
    }
    *debuginfo_file_name = path;
    return fd;
}

static const Dwfl_Callbacks dwfl_callbacks = {
    .find_elf = cb_find_elf,
    .find_debuginfo = cb_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

/* ---- module reporting for cores without NT_FILE (qemu-user writes such cores) ---- */

struct elf_geom {
    uint16_t type;
    uint64_t entry, phdr_vaddr, dyn_vaddr, dyn_size;
    bool have_phdr, have_dyn;
};

static bool elf_geometry(Elf *e, struct elf_geom *g)
{
    GElf_Ehdr eh;
    size_t phnum;
    memset(g, 0, sizeof *g);
    if (!gelf_getehdr(e, &eh) || elf_getphdrnum(e, &phnum) != 0)
        return false;
    g->type = eh.e_type;
    g->entry = eh.e_entry;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(e, (int)i, &ph))
            continue;
        if (ph.p_type == PT_PHDR) {
            g->phdr_vaddr = ph.p_vaddr;
            g->have_phdr = true;
        } else if (ph.p_type == PT_LOAD && !g->have_phdr && ph.p_offset <= eh.e_phoff &&
                   eh.e_phoff - ph.p_offset < ph.p_filesz) {
            g->phdr_vaddr = ph.p_vaddr + (eh.e_phoff - ph.p_offset);
            g->have_phdr = true;
        } else if (ph.p_type == PT_DYNAMIC) {
            g->dyn_vaddr = ph.p_vaddr;
            g->dyn_size = ph.p_memsz;
            g->have_dyn = true;
        }
    }
    return true;
}

/* Is this the object the link map entry describes?  Its dynamic section must sit at
 * l_ld once loaded at l_addr: distinct objects practically never share that offset. */
static bool layout_matches(struct run *r, const char *path, uint64_t l_addr, uint64_t l_ld)
{
    Elf *e = symcache_elf(r->cache, path);
    struct elf_geom g;
    bool ok = e && elf_geometry(e, &g) && g.type == ET_DYN && g.have_dyn &&
              g.dyn_vaddr + l_addr == l_ld;
    if (e)
        elf_end(e);
    return ok;
}

/* Walk the dynamic linker's r_debug list to report shared objects the sender named.
 * An object whose name is unreadable (qemu-user does not dump the pages that hold the
 * interpreter's name) is matched by layout against the hints not yet placed. */
static void report_link_map(struct run *r, uint64_t dyn_addr, uint64_t dyn_size, size_t exe_hint)
{
    const struct core_file *cf = &r->cf;
    unsigned w = cf->is64 ? 8 : 4;
    uint64_t rdebug = 0;
    for (uint64_t off = 0; off + 2 * w <= dyn_size && off < 4096 * w; off += 2 * w) {
        uint64_t tag, val;
        if (!core_read_word(cf, dyn_addr + off, &tag) || !core_read_word(cf, dyn_addr + off + w, &val))
            return;
        if (tag == DT_NULL)
            break;
        if (tag == DT_DEBUG)
            rdebug = val;
    }
    uint64_t lm;
    if (!rdebug || !core_read_word(cf, rdebug + w, &lm))     /* r_version is an int, padded */
        return;
    bool *placed = calloc(r->opt->nhints + 1, sizeof *placed);
    if (!placed)
        return;
    if (exe_hint < r->opt->nhints)
        placed[exe_hint] = true;
    for (int guard = 0; lm && guard < 1024; guard++) {
        uint64_t l_addr, l_name, l_ld, l_next;
        if (!core_read_word(cf, lm, &l_addr) || !core_read_word(cf, lm + w, &l_name) ||
            !core_read_word(cf, lm + 2 * w, &l_ld) || !core_read_word(cf, lm + 3 * w, &l_next))
            break;
        char name[256] = "";
        for (size_t i = 0; i + 1 < sizeof name; i++) {
            if (!core_read(cf, l_name + i, &name[i], 1) || name[i] == 0) {
                name[i] = 0;
                break;
            }
        }
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        /* The first entry is the executable itself, already reported.  A hint is
         * taken by name when both names are known, else by where its dynamic
         * section landed. */
        for (size_t i = 0; guard > 0 && i < r->opt->nhints; i++) {
            const struct sym_hint *h = &r->opt->hints[i];
            const char *hb = strrchr(h->name, '/');
            hb = hb ? hb + 1 : h->name;
            bool by_name = *base && *hb && strcmp(hb, base) == 0;
            if (placed[i] || (*base && *hb && !by_name))
                continue;
            char *path = locate_elf(r, h->build_id, NULL);
            if (!path || (!by_name && !layout_matches(r, path, l_addr, l_ld))) {
                free(path);
                if (by_name)
                    break;
                continue;
            }
            char label[24];
            snprintf(label, sizeof label, "[%.16s]", h->build_id);
            const char *mname = *base ? base : *hb ? hb : label;
            if (dwfl_report_elf(r->dwfl, mname, path, -1, l_addr, false))
                placed[i] = true;
            free(path);
            break;
        }
        lm = l_next;
    }
    free(placed);
}

/* Place the executable (from --exe or the session's build-ids) where the auxv says it
 * was loaded, then its shared objects from the link map. */
static void report_from_hints(struct run *r)
{
    uint64_t at_entry = 0, at_phdr = 0;
    bool have_entry = core_auxv(&r->cf, AT_ENTRY, &at_entry);
    bool have_phdr = core_auxv(&r->cf, AT_PHDR, &at_phdr);
    size_t ncand = r->opt->nhints + 1;
    for (size_t i = 0; i < ncand; i++) {
        char *path = NULL;
        if (i == 0)
            path = r->opt->exe ? strdup(r->opt->exe) : NULL;
        else
            path = locate_elf(r, r->opt->hints[i - 1].build_id, NULL);
        if (!path)
            continue;
        Elf *e = symcache_elf(r->cache, path);
        struct elf_geom g;
        bool ok = e && elf_geometry(e, &g);
        if (e)
            elf_end(e);
        uint64_t bias = 0;
        if (ok && g.type == ET_EXEC)
            ok = !have_entry || g.entry == at_entry;
        else if (ok && g.type == ET_DYN && have_entry) {
            bias = at_entry - g.entry;
            ok = !have_phdr || !g.have_phdr || g.phdr_vaddr + bias == at_phdr;
        } else
            ok = false;
        if (ok) {
            /* Named by the session's hint, else as the core names the process, else
             * by the file found. */
            const char *name = i > 0 ? hint_name_for(r->opt, r->opt->hints[i - 1].build_id) : NULL;
            if (!name && r->cf.fname[0])
                name = r->cf.fname;
            if (!name) {
                name = strrchr(path, '/');
                name = name ? name + 1 : path;
            }
            if (dwfl_report_elf(r->dwfl, name, path, -1, bias, false) && g.have_dyn)
                report_link_map(r, g.dyn_vaddr + bias, g.dyn_size, i > 0 ? i - 1 : SIZE_MAX);
            free(path);
            return;
        }
        free(path);
    }
}

/* ---- symbol index ---- */

/* libdwfl finds the symbol at an address by decoding every global symbol of the
 * module (and the locals when no global matches), once per lookup: ~2 million
 * instructions per frame in libc, whose debug file holds ~20000 symbols.  The index
 * decodes the table once per module and answers with the same rules
 * (__libdwfl_addrsym of elfutils 0.188: closest start at or below the address;
 * sized symbols must contain it; ties by binding, then the narrower, then the first
 * in table order; globals first; a size-less label only in the address's section
 * and above every sized symbol's end) over a compact array.  Machines whose symbol
 * values libdwfl may resolve through function descriptors (ppc64) keep libdwfl's
 * own lookup. */
struct sym_ent {
    uint64_t value;     /* address as libdwfl reports it */
    uint64_t size;
    int idx;            /* index in the module's symbol table */
    uint8_t bind;       /* libdwfl's binding preference: global 3, unique 2, weak 1 */
    bool cand;          /* a candidate for address lookups */
    bool func;          /* a named function symbol: an alias candidate */
    bool code;          /* a defined function symbol, named or not (module_funcs) */
};

struct sym_index {
    uint64_t lo;        /* module start the values were read at */
    int first_global;
    struct sym_ent *e;  /* in table order */
    size_t n;
};

static void sym_index_free(void *p)
{
    struct sym_index *x = p;
    if (x)
        free(x->e);
    free(x);
}

static bool index_machine(int machine)
{
    return machine == EM_X86_64 || machine == EM_386 || machine == EM_ARM ||
           machine == EM_AARCH64 || machine == EM_RISCV;
}

static uint8_t binding_value(const GElf_Sym *s)
{
    switch (GELF_ST_BIND(s->st_info)) {
    case STB_GLOBAL: return 3;
    case STB_GNU_UNIQUE: return 2;
    case STB_WEAK: return 1;
    }
    return 0;
}

/* The module's index, built on first use and kept in the cache under its build-id
 * for cores that load it at the same address; NULL when the module has no build-id
 * or the machine is not covered (callers then ask libdwfl). */
static const struct sym_index *module_index_get(struct run *r, Dwfl_Module *mod)
{
    if (!index_machine(r->cf.machine))
        return NULL;
    GElf_Addr lo;
    dwfl_module_info(mod, NULL, &lo, NULL, NULL, NULL, NULL, NULL);
    char bid[129];
    if (!module_build_id(mod, bid, sizeof bid))
        return NULL;
    struct sym_index *x = symcache_blob_get(r->cache, bid);
    if (x && x->lo == lo)
        return x;
    int n = dwfl_module_getsymtab(mod);
    int fg = dwfl_module_getsymtab_first_global(mod);
    if (n < 0 || fg < 0)
        return NULL;
    x = calloc(1, sizeof *x);
    if (!x || !(x->e = malloc((n > 0 ? (size_t)n : 1) * sizeof *x->e))) {
        free(x);
        return NULL;
    }
    x->lo = lo;
    x->first_global = fg;
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr a;
        const char *nm = dwfl_module_getsym_info(mod, i, &sym, &a, NULL, NULL, NULL);
        if (!nm)
            continue;
        int type = GELF_ST_TYPE(sym.st_info);
        bool cand = *nm && sym.st_shndx != SHN_UNDEF && type != STT_SECTION && type != STT_FILE &&
                    type != STT_TLS;
        bool func = *nm && type == STT_FUNC;
        bool code = type == STT_FUNC && sym.st_shndx != SHN_UNDEF;
        if (cand || func || code)
            x->e[x->n++] = (struct sym_ent){ a, sym.st_size, i, binding_value(&sym), cand, func, code };
    }
    return symcache_blob_put(r->cache, bid, x, sym_index_free);
}

/* The sized symbol libdwfl would choose for addr among the index's symbols with
 * table index in [start, end): closest start at or below addr, containing it; a
 * stronger binding wins, then at the same start the narrower, then the first. */
static const struct sym_ent *addrsym_sized(const struct sym_index *x, uint64_t addr, int start,
                                           int end)
{
    const struct sym_ent *c = NULL;
    for (size_t i = 0; i < x->n; i++) {
        const struct sym_ent *e = &x->e[i];
        if (e->idx < start || e->idx >= end || !e->cand || e->value > addr || e->size == 0 ||
            addr - e->value >= e->size)
            continue;
        if (!c || c->value < e->value || c->bind < e->bind)
            c = e;
        else if (c->value == e->value &&
                 ((c->size > e->size && c->bind <= e->bind) || (c->size >= e->size && c->bind < e->bind)))
            c = e;
    }
    return c;
}

/* dwfl_module_addrinfo's answer from the index (name, *off, *sym).  Only sized
 * symbols are decided here; when the answer could be a size-less label (no sized
 * symbol contains addr), *ask is set and libdwfl decides, as its rules for labels
 * (sections, upper bounds of other symbols) are its own. */
static const char *index_addrinfo(Dwfl_Module *mod, const struct sym_index *x, uint64_t addr,
                                  GElf_Off *off, GElf_Sym *sym, bool *ask)
{
    int fg = x->first_global;
    *ask = false;
    const struct sym_ent *best = addrsym_sized(x, addr, fg == 0 ? 1 : fg, INT32_MAX);
    if (!best && fg > 1) {
        /* libdwfl skips the locals when a global label sits exactly at addr. */
        for (size_t i = 0; i < x->n; i++) {
            const struct sym_ent *e = &x->e[i];
            if (e->idx >= fg && e->cand && e->size == 0 && e->value == addr) {
                *ask = true;
                return NULL;
            }
        }
        best = addrsym_sized(x, addr, 1, fg);
    }
    if (!best) {
        *ask = true;
        return NULL;
    }
    GElf_Addr a;
    const char *name = dwfl_module_getsym_info(mod, best->idx, sym, &a, NULL, NULL, NULL);
    *off = addr - best->value;
    return name;
}

/* Compare index_addrinfo with dwfl_module_addrinfo around a sample of the module's
 * symbols (their start, the bytes around it, the middle and last byte). */
static void verify_module_index(struct run *r, Dwfl_Module *mod, struct sym_result *res)
{
    const struct sym_index *x = module_index_get(r, mod);
    if (!x)
        return;
    size_t stride = x->n / 300 + 1;
    for (size_t i = 0; i < x->n; i += stride) {
        const struct sym_ent *e = &x->e[i];
        uint64_t probes[5] = { e->value, e->value - 1, e->value + 1, e->value + e->size / 2,
                               e->value + (e->size ? e->size - 1 : 2) };
        for (int k = 0; k < 5; k++) {
            GElf_Off o1 = 0, o2 = 0;
            GElf_Sym s1, s2;
            bool ask;
            const char *n1 = index_addrinfo(mod, x, probes[k], &o1, &s1, &ask);
            if (ask)
                continue;   /* libdwfl answers these itself */
            const char *n2 = dwfl_module_addrinfo(mod, probes[k], &o2, &s2, NULL, NULL, NULL);
            bool same = (!n1 && !n2) ||
                        (n1 && n2 && strcmp(n1, n2) == 0 && o1 == o2 && s1.st_value == s2.st_value &&
                         s1.st_size == s2.st_size && s1.st_info == s2.st_info);
            res->index_checked++;
            if (!same)
                res->index_mismatches++;
        }
    }
}

/* ---- symbol lookup ---- */

/* The symbol covering addr.  ARM Thumb function symbols carry bit 0 in their value,
 * and libdwfl 0.188 compares addresses against it unmasked, so the first byte of a
 * Thumb function would fall into the previous symbol: ARM lookups use addr | 1, which
 * is inside the same function in both instruction sets.  *raw is the symbol's address
 * as libdwfl has it (for alias matching), *start the code address. */
static const char *symbol_at(struct run *r, Dwfl_Module *mod, bool arm, uint64_t addr, GElf_Sym *sym,
                             uint64_t *raw, uint64_t *start)
{
    GElf_Off off;
    uint64_t q = arm ? (addr | 1) : addr;
    const struct sym_index *x = module_index_get(r, mod);
    bool ask = true;
    const char *name = x ? index_addrinfo(mod, x, q, &off, sym, &ask) : NULL;
    if (ask)
        name = dwfl_module_addrinfo(mod, q, &off, sym, NULL, NULL, NULL);
    if (!name)
        return NULL;
    *raw = q - off;
    *start = arm ? (*raw & ~1ull) : *raw;
    return name;
}

/* How readable an alias is: fewer leading underscores, unversioned, global before
 * weak before local, then shorter.  Lower is better.  Debuggers show the public alias
 * (clone, not __clone), and so do we. */
static long alias_rank(const char *name, const GElf_Sym *sym)
{
    long u = 0;
    while (name[u] == '_')
        u++;
    int bind = GELF_ST_BIND(sym->st_info);
    long b = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
    return u * 1000000 + (strchr(name, '@') ? 100000 : 0) + b * 10000 + (long)strlen(name);
}

/* The module's function index, built on first use and kept in the cache under the
 * module's build-id (a module without one gets none: its file may differ per core). */
static const struct symcache_funcs *module_funcs(struct run *r, Dwfl_Module *mod, uint64_t lo)
{
    void **ud;
    dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
    if (*ud)
        return *ud;
    char bid[129];
    if (!module_build_id(mod, bid, sizeof bid))
        return NULL;
    struct symcache_funcs *f = symcache_funcs_get(r->cache, bid);
    const struct sym_index *x = f ? NULL : module_index_get(r, mod);
    if (!f && x) {
        /* The same ranges as the walk below, from the index's one walk. */
        uint64_t *rg = malloc((x->n ? x->n : 1) * 2 * sizeof *rg);
        size_t k = 0;
        for (size_t i = 0; rg && i < x->n; i++) {
            uint64_t a = x->e[i].value;
            if (!x->e[i].code || a < lo)
                continue;
            if (r->cf.machine == EM_ARM)
                a &= ~1ull;
            rg[2 * k] = a - lo;
            rg[2 * k + 1] = a - lo + x->e[i].size;
            k++;
        }
        if (!rg)
            return NULL;
        f = symcache_funcs_put(r->cache, bid, rg, k);
    } else if (!f) {
        int n = dwfl_module_getsymtab(mod);
        uint64_t *rg = malloc((n > 0 ? (size_t)n : 1) * 2 * sizeof *rg);
        size_t k = 0;
        for (int i = 1; rg && i < n; i++) {
            GElf_Sym sym;
            GElf_Addr a;
            GElf_Word shndx;
            const char *nm = dwfl_module_getsym_info(mod, i, &sym, &a, &shndx, NULL, NULL);
            if (!nm || GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF || a < lo)
                continue;
            if (r->cf.machine == EM_ARM)
                a &= ~1ull;
            rg[2 * k] = a - lo;
            rg[2 * k + 1] = a - lo + sym.st_size;
            k++;
        }
        if (!rg)
            return NULL;
        f = symcache_funcs_put(r->cache, bid, rg, k);
    }
    *ud = f;
    return f;
}

static bool fb_function_at(void *arg, uint64_t addr, uint64_t *start)
{
    struct run *r = arg;
    Dwfl_Module *mod = dwfl_addrmodule(r->dwfl, addr);
    if (!mod)
        return false;
    GElf_Addr lo;
    dwfl_module_info(mod, NULL, &lo, NULL, NULL, NULL, NULL, NULL);
    const struct symcache_funcs *f = module_funcs(r, mod, lo);
    uint64_t rel;
    if (f) {
        if (!symcache_funcs_find(f, addr - lo, &rel))
            return false;
        *start = lo + rel;
        return true;
    }
    GElf_Sym sym;
    uint64_t raw;
    const char *name = symbol_at(r, mod, r->cf.machine == EM_ARM, addr, &sym, &raw, start);
    return name && GELF_ST_TYPE(sym.st_info) == STT_FUNC;
}

static bool fb_in_module(void *arg, uint64_t addr)
{
    struct run *r = arg;
    return dwfl_addrmodule(r->dwfl, addr) != NULL;
}

static bool fb_read_code(void *arg, uint64_t addr, void *buf, size_t len)
{
    struct run *r = arg;
    if (core_read(&r->cf, addr, buf, len))
        return true;
    Dwfl_Module *mod = dwfl_addrmodule(r->dwfl, addr);
    if (!mod)
        return false;
    GElf_Addr bias;
    Elf *e = dwfl_module_getelf(mod, &bias);
    size_t phnum, fsize;
    if (!e || elf_getphdrnum(e, &phnum) != 0)
        return false;
    const char *raw = elf_rawfile(e, &fsize);
    if (!raw)
        return false;
    uint64_t va = addr - bias;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
            continue;
        if (va < ph.p_vaddr || va - ph.p_vaddr >= ph.p_filesz || ph.p_filesz - (va - ph.p_vaddr) < len)
            continue;
        uint64_t fo = ph.p_offset + (va - ph.p_vaddr);
        if (fo > fsize || fsize - fo < len)
            return false;
        memcpy(buf, raw + fo, len);
        return true;
    }
    return false;
}

static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
    if (!n)
        n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
    if (!n)
        n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &a));
    return n;
}

/* Among the function symbols at the same address as sym, the most readable name
 * (the first of the best rank in symbol-table order). */
static const char *preferred_alias(struct run *r, Dwfl_Module *mod, const char *name,
                                   const GElf_Sym *sym, GElf_Addr addr)
{
    long best = alias_rank(name, sym);
    const struct sym_index *x = module_index_get(r, mod);
    if (x) {
        /* Only the named function symbols at addr, in symbol-table order. */
        for (size_t i = 0; i < x->n; i++) {
            if (!x->e[i].func || x->e[i].value != addr)
                continue;
            GElf_Sym s;
            GElf_Addr a;
            const char *nm = dwfl_module_getsym_info(mod, x->e[i].idx, &s, &a, NULL, NULL, NULL);
            if (!nm || a != addr || GELF_ST_TYPE(s.st_info) != STT_FUNC || !*nm)
                continue;
            long rk = alias_rank(nm, &s);
            if (rk < best) {
                best = rk;
                name = nm;
            }
        }
        return name;
    }
    int n = dwfl_module_getsymtab(mod);
    for (int i = 1; i < n; i++) {
        GElf_Sym s;
        GElf_Addr a;
        const char *nm = dwfl_module_getsym_info(mod, i, &s, &a, NULL, NULL, NULL);
        if (!nm || a != addr || GELF_ST_TYPE(s.st_info) != STT_FUNC || !*nm)
            continue;
        long rk = alias_rank(nm, &s);
        if (rk < best) {
            best = rk;
            name = nm;
        }
    }
    return name;
}

/* Symbolic frames for one pc: inlined call sites innermost first, then the real
 * function.  lookup is pc for the initial frame and pc-1 for return addresses, so a
 * call at the end of a function resolves to that function and its call line. */
static void describe_pc(struct run *r, Dwfl_Module *mod, bool arm, uint64_t lookup, uint64_t pc,
                        struct symcache_entry *ent)
{
    GElf_Addr lo;
    dwfl_module_info(mod, NULL, &lo, NULL, NULL, NULL, NULL, NULL);
    GElf_Sym sym;
    uint64_t raw = 0, fstart = 0;
    const char *fname = symbol_at(r, mod, arm, lookup, &sym, &raw, &fstart);

    const char *file = NULL;
    int line = 0;
    Dwfl_Line *dl = dwfl_module_getsrc(mod, lookup);
    if (dl)
        file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);

    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(mod, lookup, &bias);
    Dwarf_Die *scopes = NULL;
    int nscopes = cu ? dwarf_getscopes(cu, lookup - bias, &scopes) : 0;
    Dwarf_Files *files = NULL;
    if (nscopes > 0)
        dwarf_getsrcfiles(cu, &files, NULL);
    for (int i = 0; i < nscopes; i++) {
        if (dwarf_tag(&scopes[i]) != DW_TAG_inlined_subroutine)
            continue;
        const char *n = die_name(&scopes[i]);
        symcache_entry_add(ent, n, pc - (fname ? fstart : lo), file, line, true);
        /* The caller's position is the inlined call site. */
        Dwarf_Attribute a;
        Dwarf_Word cf_idx = 0, cl = 0;
        file = NULL;
        line = 0;
        if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &a), &cf_idx) == 0 && files)
            file = dwarf_filesrc(files, cf_idx, NULL, NULL);
        if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &a), &cl) == 0)
            line = (int)cl;
    }
    /* The containing function's DWARF name is what a debugger shows (no .constprop
     * clones, no aliases); C++ functions (with a linkage name) keep the symbol. */
    const char *dwname = NULL;
    /* Assembler-made DWARF names the entry label (__clone3), not the public alias. */
    bool asm_cu = cu && dwarf_srclang(cu) == DW_LANG_Mips_Assembler;
    for (int i = 0; i < nscopes && !asm_cu; i++) {
        Dwarf_Attribute a;
        if (dwarf_tag(&scopes[i]) != DW_TAG_subprogram)
            continue;
        if (!dwarf_attr_integrate(&scopes[i], DW_AT_linkage_name, &a))
            dwname = dwarf_formstring(dwarf_attr_integrate(&scopes[i], DW_AT_name, &a));
        break;
    }
    const char *shown = dwname;
    if (!shown && fname)
        shown = preferred_alias(r, mod, fname, &sym, raw);
    symcache_entry_add(ent, shown, fname ? pc - fstart : pc - lo, file, line, false);
    free(scopes);
}

/* ---- result assembly ---- */

struct frames_buf {
    struct fb_frame *f;
    bool *activation;
    size_t n, max;
};

static int cfi_frame_cb(Dwfl_Frame *state, void *arg)
{
    struct frames_buf *b = arg;
    Dwarf_Addr pc;
    bool act;
    if (!dwfl_frame_pc(state, &pc, &act))
        return DWARF_CB_ABORT;
    if (b->n >= b->max || (b->n > 0 && pc == 0))
        return DWARF_CB_ABORT;
    b->f[b->n] = (struct fb_frame){ pc, b->n == 0 ? SYM_HOW_INITIAL : SYM_HOW_CFI };
    b->activation[b->n] = act;
    b->n++;
    return DWARF_CB_OK;
}

static int module_index(struct sym_result *res, Dwfl_Module **mods, Dwfl_Module *m)
{
    for (size_t i = 0; i < res->nmodules; i++)
        if (mods[i] == m)
            return (int)i;
    return -1;
}

struct mods_collect {
    Dwfl_Module **mods;
    size_t n, cap;
};

static int collect_module_cb(Dwfl_Module *m, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
    struct mods_collect *c = arg;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 16;
        Dwfl_Module **p = realloc(c->mods, nc * sizeof *p);
        if (!p)
            return DWARF_CB_ABORT;
        c->mods = p;
        c->cap = nc;
    }
    c->mods[c->n++] = m;
    return DWARF_CB_OK;
}

static int add_frame(struct sym_thread *t, size_t *cap, const struct sym_frame *f)
{
    if (t->nframes == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        struct sym_frame *p = realloc(t->frames, nc * sizeof *p);
        if (!p)
            return -1;
        t->frames = p;
        *cap = nc;
    }
    t->frames[t->nframes++] = *f;
    return 0;
}

/* Combine the CFI walk with the fallback walk: CFI frames are trusted; when CFI ends
 * early, the fallback continues after the last CFI pc it also found; a fallback that
 * shares nothing with a short CFI walk replaces it when it gets further. */
static size_t merge_frames(struct fb_frame *cfi, size_t ncfi, int cfi_rc, struct fb_frame *fb,
                           size_t nfb, struct fb_frame *out, size_t max)
{
    size_t n = 0;
    if (ncfi > 0 && cfi_rc == 0) {
        memcpy(out, cfi, ncfi * sizeof *out);
        return ncfi;
    }
    if (ncfi >= 2) {
        for (size_t k = nfb; k-- > 1;) {
            if (fb[k].pc == cfi[ncfi - 1].pc) {
                n = ncfi;
                memcpy(out, cfi, n * sizeof *out);
                for (size_t j = k + 1; j < nfb && n < max; j++)
                    out[n++] = fb[j];
                return n;
            }
        }
    }
    if (nfb > ncfi) {
        memcpy(out, fb, nfb * sizeof *out);
        return nfb;
    }
    memcpy(out, cfi, ncfi * sizeof *out);
    return ncfi;
}

static enum sym_err symbolize_thread(struct run *r, struct sym_result *res, Dwfl_Module **mods,
                                     const struct core_thread *ct, bool attached,
                                     struct sym_thread *t)
{
    size_t max = r->opt->max_frames ? r->opt->max_frames : 256;
    struct fb_frame *cfi = calloc(max, sizeof *cfi), *fb = calloc(max, sizeof *fb),
                    *all = calloc(max, sizeof *all);
    bool *act = calloc(max, sizeof *act);
    enum sym_err err = SYM_OK;
    if (!cfi || !fb || !all || !act) {
        err = SYM_E_NOMEM;
        goto out;
    }
    struct frames_buf b = { cfi, act, 0, max };
    int rc = -1;
    if (attached)
        rc = dwfl_getthread_frames(r->dwfl, (pid_t)ct->tid, cfi_frame_cb, &b);
    size_t nfb = 0;
    if (rc != 0 || b.n == 0) {
        struct fb_ops ops = { fb_function_at, fb_read_code, fb_in_module, r };
        nfb = fb_unwind(&r->cf, r->rs, ct->regs, &ops, fb, max);
    }
    size_t n = merge_frames(cfi, b.n, rc, fb, nfb, all, max);

    t->tid = ct->tid;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t pc = all[i].pc;
        /* Return addresses are looked up one byte back: the call, not what follows it. */
        bool is_ret = all[i].how != SYM_HOW_INITIAL && !(all[i].how == SYM_HOW_CFI && act[i]);
        uint64_t lookup = is_ret && pc > 0 ? pc - 1 : pc;
        Dwfl_Module *mod = dwfl_addrmodule(r->dwfl, lookup);
        struct sym_frame f = { .pc = pc, .module = -1, .how = all[i].how, .offset = pc };
        if (!mod) {
            if (add_frame(t, &cap, &f) != 0) {
                err = SYM_E_NOMEM;
                goto out;
            }
            continue;
        }
        f.module = module_index(res, mods, mod);
        const char *bid = f.module >= 0 ? res->modules[f.module].build_id : "";
        const char *key = bid[0] ? bid : (f.module >= 0 ? res->modules[f.module].name : "?");
        GElf_Addr lo;
        dwfl_module_info(mod, NULL, &lo, NULL, NULL, NULL, NULL, NULL);
        const struct symcache_entry *ent = symcache_sym_get(r->cache, key, pc - lo, is_ret);
        if (!ent) {
            struct symcache_entry *ne = symcache_entry_new();
            if (!ne) {
                err = SYM_E_NOMEM;
                goto out;
            }
            describe_pc(r, mod, r->cf.machine == EM_ARM, lookup, pc, ne);
            /* Only files identified by build-id are the same for the next core. */
            ent = bid[0] ? symcache_sym_put(r->cache, key, pc - lo, is_ret, ne) : ne;
            if (!bid[0])
                symcache_entry_keep(r->cache, ne);
        }
        for (size_t k = 0; k < ent->n; k++) {
            struct sym_frame g = f;
            g.function = ent->items[k].function ? strdup(ent->items[k].function) : NULL;
            g.file = ent->items[k].file ? strdup(ent->items[k].file) : NULL;
            g.line = ent->items[k].line;
            g.offset = ent->items[k].offset;
            g.inlined = ent->items[k].inlined;
            if (add_frame(t, &cap, &g) != 0) {
                free(g.function);
                free(g.file);
                err = SYM_E_NOMEM;
                goto out;
            }
        }
    }
out:
    free(cfi);
    free(fb);
    free(all);
    free(act);
    return err;
}

void sym_result_free(struct sym_result *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->nthreads; i++) {
        for (size_t j = 0; j < res->threads[i].nframes; j++) {
            free(res->threads[i].frames[j].function);
            free(res->threads[i].frames[j].file);
        }
        free(res->threads[i].frames);
    }
    free(res->threads);
    for (size_t i = 0; i < res->nmodules; i++)
        free(res->modules[i].name);
    free(res->modules);
    free(res->regs);
    free(res);
}

static void run_close(struct run *r)
{
    if (r->dwfl)
        dwfl_end(r->dwfl);
    if (r->core_elf)
        elf_end(r->core_elf);
    if (r->core_fd >= 0)
        close(r->core_fd);
    core_close(&r->cf);
}

enum sym_err sym_symbolize(const char *core_path, const struct sym_options *opt,
                           struct sym_cache *cache, struct sym_result **out, char *detail,
                           size_t detail_len)
{
    struct sym_options defopt = { 0 };
    struct sym_cache *own = NULL;
    struct run r = { .opt = opt ? opt : &defopt, .core_fd = -1 };
    struct sym_result *res = NULL;
    enum sym_err err = SYM_OK;
    *out = NULL;
    if (!cache && !(cache = own = sym_cache_new()))
        return SYM_E_NOMEM;
    r.cache = cache;

    enum core_err ce = core_open(&r.cf, core_path);
    if (ce != CORE_OK) {
        set_detail(detail, detail_len, "%s: %s", core_path, core_strerror(ce));
        err = ce == CORE_E_NOMEM ? SYM_E_NOMEM : SYM_E_CORE;
        goto fail;
    }
    r.rs = sym_regset_for(r.cf.machine, r.cf.is64);
    if (!r.rs) {
        set_detail(detail, detail_len, "%s: %s", core_path, core_strerror(CORE_E_MACHINE));
        err = SYM_E_CORE;
        goto fail;
    }

    elf_version(EV_CURRENT);
    r.core_fd = open(core_path, O_RDONLY | O_CLOEXEC);
    /* Read, not mapped: process memory is fetched piecewise, and a big core must not
     * use up the address space RLIMIT_AS leaves for symbol files. */
    r.core_elf = r.core_fd >= 0 ? elf_begin(r.core_fd, ELF_C_READ, NULL) : NULL;
    if (!r.core_elf) {
        set_detail(detail, detail_len, "%s: %s", core_path, elf_errmsg(-1));
        err = SYM_E_DWFL;
        goto fail;
    }
    r.dwfl = dwfl_begin(&dwfl_callbacks);
    if (!r.dwfl) {
        set_detail(detail, detail_len, "%s: %s", core_path, dwfl_errmsg(-1));
        err = SYM_E_DWFL;
        goto fail;
    }
    current_run = &r;
    dwfl_report_begin(r.dwfl);
    if (r.cf.has_nt_file)
        dwfl_core_file_report(r.dwfl, r.core_elf, r.opt->exe);
    else
        report_from_hints(&r);
    dwfl_report_end(r.dwfl, NULL, NULL);
    bool attached = dwfl_core_file_attach(r.dwfl, r.core_elf) >= 0;

    res = calloc(1, sizeof *res);
    if (!res) {
        err = SYM_E_NOMEM;
        goto fail;
    }
    res->machine = r.rs->machine_name;
    res->signal = r.cf.siginfo_signo ? r.cf.siginfo_signo : r.cf.threads[0].signal;
    res->crashed_tid = r.cf.threads[0].tid;

    res->regs = calloc(r.rs->count, sizeof *res->regs);
    if (!res->regs) {
        err = SYM_E_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < r.rs->count; i++)
        res->regs[i] = (struct sym_reg){ r.rs->names[i],
                                         core_get(&r.cf, r.cf.threads[0].regs + i * r.rs->word, r.rs->word) };
    res->nregs = r.rs->count;

    struct mods_collect mc = { 0 };
    dwfl_getmodules(r.dwfl, collect_module_cb, &mc, 0);
    res->modules = calloc(mc.n ? mc.n : 1, sizeof *res->modules);
    if (!res->modules) {
        free(mc.mods);
        err = SYM_E_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < mc.n; i++) {
        struct sym_module *m = &res->modules[i];
        const char *name;
        Dwarf_Addr start, end;
        name = dwfl_module_info(mc.mods[i], NULL, &start, &end, NULL, NULL, NULL, NULL);
        m->name = strdup(name ? name : "?");
        m->start = start;
        m->end = end;
        module_build_id(mc.mods[i], m->build_id, sizeof m->build_id);
        res->nmodules++;
    }
    res->threads = calloc(r.cf.nthreads, sizeof *res->threads);
    if (!res->threads) {
        free(mc.mods);
        err = SYM_E_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < r.cf.nthreads; i++) {
        err = symbolize_thread(&r, res, mc.mods, &r.cf.threads[i], attached, &res->threads[i]);
        res->nthreads++;
        if (err != SYM_OK) {
            free(mc.mods);
            goto fail;
        }
        res->threads[i].crashed = i == 0;
    }
    /* A module has symbols if its ELF (after debuginfo lookup) has a symbol table or
     * DWARF; checked after unwinding so files already opened are reused. */
    for (size_t i = 0; i < res->nmodules; i++) {
        Dwarf_Addr bias;
        GElf_Addr ebias;
        bool used = false;
        for (size_t t = 0; t < res->nthreads && !used; t++)
            for (size_t f = 0; f < res->threads[t].nframes && !used; f++)
                used = res->threads[t].frames[f].module == (int)i;
        res->modules[i].symbols = dwfl_module_getelf(mc.mods[i], &ebias) != NULL &&
                                  (dwfl_module_getsymtab(mc.mods[i]) > 0 ||
                                   dwfl_module_getdwarf(mc.mods[i], &bias) != NULL);
        if (used && !res->modules[i].symbols)
            res->symbols_missing = true;
    }
    if (r.opt->verify_index)
        for (size_t i = 0; i < res->nmodules; i++)
            verify_module_index(&r, mc.mods[i], res);
    /* A frame in no known module is also a hole a symbol upload could fill. */
    for (size_t t = 0; t < res->nthreads; t++)
        for (size_t f = 0; f < res->threads[t].nframes; f++)
            if (res->threads[t].frames[f].module < 0)
                res->symbols_missing = true;
    free(mc.mods);
    current_run = NULL;
    run_close(&r);
    sym_cache_free(own);
    *out = res;
    return SYM_OK;

fail:
    current_run = NULL;
    if (err == SYM_E_NOMEM)
        set_detail(detail, detail_len, "%s: out of memory", core_path);
    sym_result_free(res);
    run_close(&r);
    sym_cache_free(own);
    return err;
}
