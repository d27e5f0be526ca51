/* Caches kept across cores: located files, open ELF handles and per-address symbol lookups. */
#include "collector/symbolize/symcache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bounds on memory: past these the symbol table is dropped and rebuilt on demand, and
 * further ELF files are opened per use instead of kept open. */
#define SYMCACHE_MAX_SYMS 200000u
#define SYMCACHE_MAX_ELFS 512u
#define SYMCACHE_BUCKETS 4096u

struct sym_node {
    struct sym_node *next;
    char *key;
    uint64_t rel;
    bool is_ret;
    struct symcache_entry *e;
};

struct path_node {
    struct path_node *next;
    char *build_id;
    int kind;
    char *path;         /* NULL: known absent */
};

struct elf_node {
    struct elf_node *next;
    char *path;
    int fd;
    Elf *elf;
};

struct symcache_funcs {
    struct symcache_funcs *next;
    char *build_id;
    uint64_t *r;        /* start0, end0, start1, end1, ... sorted by start */
    size_t n;
};

struct symcache_blob {
    struct symcache_blob *next;
    char *build_id;
    void *p;
    void (*free_fn)(void *);
};

struct sym_cache {
    struct symcache_funcs *funcs;
    struct symcache_blob *blobs;
    struct sym_node *syms[SYMCACHE_BUCKETS];
    size_t nsyms;
    struct path_node *paths;
    struct elf_node *elfs;
    size_t nelfs;
    struct symcache_entry **kept;
    size_t nkept;
    struct symstore_dfd *dfd;
    bool dfd_tried;
};

struct sym_cache *sym_cache_new(void)
{
    elf_version(EV_CURRENT);
    return calloc(1, sizeof(struct sym_cache));
}

static void entry_free(struct symcache_entry *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++) {
        free(e->items[i].function);
        free(e->items[i].file);
    }
    free(e->items);
    free(e);
}

static void syms_clear(struct sym_cache *c)
{
    for (size_t b = 0; b < SYMCACHE_BUCKETS; b++) {
        for (struct sym_node *n = c->syms[b], *nx; n; n = nx) {
            nx = n->next;
            entry_free(n->e);
            free(n->key);
            free(n);
        }
        c->syms[b] = NULL;
    }
    c->nsyms = 0;
    for (size_t i = 0; i < c->nkept; i++)
        entry_free(c->kept[i]);
    free(c->kept);
    c->kept = NULL;
    c->nkept = 0;
}

static void blob_free(struct symcache_blob *b)
{
    b->free_fn(b->p);
    free(b->build_id);
    free(b);
}

void sym_cache_free(struct sym_cache *c)
{
    if (!c)
        return;
    syms_clear(c);
    for (struct path_node *p = c->paths, *nx; p; p = nx) {
        nx = p->next;
        free(p->build_id);
        free(p->path);
        free(p);
    }
    for (struct elf_node *e = c->elfs, *nx; e; e = nx) {
        nx = e->next;
        elf_end(e->elf);
        close(e->fd);
        free(e->path);
        free(e);
    }
    for (struct symcache_funcs *f = c->funcs, *nx; f; f = nx) {
        nx = f->next;
        free(f->build_id);
        free(f->r);
        free(f);
    }
    for (struct symcache_blob *b = c->blobs, *nx; b; b = nx) {
        nx = b->next;
        blob_free(b);
    }
    symstore_dfd_free(c->dfd);
    free(c);
}

struct symcache_entry *symcache_entry_new(void)
{
    return calloc(1, sizeof(struct symcache_entry));
}

void symcache_entry_add(struct symcache_entry *e, const char *function, uint64_t offset,
                        const char *file, int line, bool inlined)
{
    struct symcache_item *p = realloc(e->items, (e->n + 1) * sizeof *p);
    if (!p)
        return;     /* the frame is lost, not the process: callers see fewer items */
    e->items = p;
    p[e->n] = (struct symcache_item){ function ? strdup(function) : NULL,
                                      file ? strdup(file) : NULL, offset, line, inlined };
    e->n++;
}

void symcache_entry_keep(struct sym_cache *c, struct symcache_entry *e)
{
    struct symcache_entry **p = realloc(c->kept, (c->nkept + 1) * sizeof *p);
    if (!p) {
        entry_free(e);  /* caller must not use e after this; only reached on ENOMEM */
        return;
    }
    c->kept = p;
    c->kept[c->nkept++] = e;
}

static size_t hash(const char *key, uint64_t rel, bool is_ret)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ rel) * 1099511628211ull;
    h = (h ^ is_ret) * 1099511628211ull;
    return (size_t)(h % SYMCACHE_BUCKETS);
}

const struct symcache_entry *symcache_sym_get(struct sym_cache *c, const char *key, uint64_t rel,
                                              bool is_ret)
{
    for (struct sym_node *n = c->syms[hash(key, rel, is_ret)]; n; n = n->next)
        if (n->rel == rel && n->is_ret == is_ret && strcmp(n->key, key) == 0)
            return n->e;
    return NULL;
}

const struct symcache_entry *symcache_sym_put(struct sym_cache *c, const char *key, uint64_t rel,
                                              bool is_ret, struct symcache_entry *e)
{
    if (c->nsyms >= SYMCACHE_MAX_SYMS)
        syms_clear(c);
    struct sym_node *n = calloc(1, sizeof *n);
    char *k = strdup(key);
    if (!n || !k) {
        free(n);
        free(k);
        symcache_entry_keep(c, e);
        return e;
    }
    size_t b = hash(key, rel, is_ret);
    *n = (struct sym_node){ c->syms[b], k, rel, is_ret, e };
    c->syms[b] = n;
    c->nsyms++;
    return e;
}

bool symcache_path_get(struct sym_cache *c, const char *build_id, int kind, const char **path)
{
    for (struct path_node *p = c->paths; p; p = p->next)
        if (p->kind == kind && strcmp(p->build_id, build_id) == 0) {
            *path = p->path;
            return true;
        }
    return false;
}

void symcache_path_put(struct sym_cache *c, const char *build_id, int kind, const char *path)
{
    struct path_node *p = calloc(1, sizeof *p);
    if (!p)
        return;
    p->build_id = strdup(build_id);
    p->kind = kind;
    p->path = path ? strdup(path) : NULL;
    if (!p->build_id || (path && !p->path)) {
        free(p->build_id);
        free(p->path);
        free(p);
        return;
    }
    p->next = c->paths;
    c->paths = p;
}

Elf *symcache_elf(struct sym_cache *c, const char *path)
{
    for (struct elf_node *e = c->elfs; e; e = e->next)
        if (strcmp(e->path, path) == 0)
            return elf_begin(-1, ELF_C_READ_MMAP, e->elf);  /* same Elf, one more reference */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        if (elf)
            elf_end(elf);
        close(fd);
        return NULL;
    }
    struct elf_node *n = c->nelfs < SYMCACHE_MAX_ELFS ? calloc(1, sizeof *n) : NULL;
    if (n && (n->path = strdup(path)) != NULL) {
        n->fd = fd;
        n->elf = elf;
        n->next = c->elfs;
        c->elfs = n;
        c->nelfs++;
        return elf_begin(-1, ELF_C_READ_MMAP, elf);
    }
    free(n);
    /* Not cached: the caller's reference is the only one; the fd stays open with the
     * mapping, which does not need it once mapped. */
    close(fd);
    return elf;
}

/* Drop what the cache derived from a module's file while it was missing: lookups
 * made without symbols (keyed by build-id) and the empty function index. */
static void forget_build_id(struct sym_cache *c, const char *build_id)
{
    for (size_t b = 0; b < SYMCACHE_BUCKETS; b++)
        for (struct sym_node **pp = &c->syms[b]; *pp;) {
            struct sym_node *n = *pp;
            if (strcmp(n->key, build_id) != 0) {
                pp = &n->next;
                continue;
            }
            *pp = n->next;
            entry_free(n->e);
            free(n->key);
            free(n);
            c->nsyms--;
        }
    for (struct symcache_funcs **pp = &c->funcs; *pp;) {
        struct symcache_funcs *f = *pp;
        if (strcmp(f->build_id, build_id) != 0) {
            pp = &f->next;
            continue;
        }
        *pp = f->next;
        free(f->build_id);
        free(f->r);
        free(f);
    }
    for (struct symcache_blob **pp = &c->blobs; *pp;) {
        struct symcache_blob *b = *pp;
        if (strcmp(b->build_id, build_id) != 0) {
            pp = &b->next;
            continue;
        }
        *pp = b->next;
        blob_free(b);
    }
}

unsigned sym_cache_revalidate(struct sym_cache *c, const char *store)
{
    unsigned n = 0;
again:
    for (struct path_node *p = c->paths; p; p = p->next) {
        if (p->path)
            continue;
        char *found = symstore_lookup(store, p->build_id, "");
        if (!found)
            found = symstore_lookup(store, p->build_id, ".debug");
        if (!found)
            found = symstore_lookup("/usr/lib/debug", p->build_id, ".debug");
        if (!found)
            continue;
        free(found);
        /* Both kinds (ELF, debug) of this build-id go: either may now be found.
         * Rare (symbols were filed), so the list is simply scanned again. */
        char *id = p->build_id;
        forget_build_id(c, id);
        for (struct path_node **qq = &c->paths; *qq;) {
            struct path_node *q = *qq;
            if (q != p && strcmp(q->build_id, id) == 0) {
                *qq = q->next;
                free(q->build_id);
                free(q->path);
                free(q);
            } else if (q == p) {
                *qq = q->next;
            } else {
                qq = &q->next;
            }
        }
        free(p->build_id);
        free(p);
        n++;
        goto again;
    }
    return n;
}

struct symstore_dfd *symcache_dfd(struct sym_cache *c, double timeout_s)
{
    if (!c->dfd_tried) {
        c->dfd_tried = true;
        c->dfd = symstore_dfd_new(timeout_s);
    }
    return c->dfd;
}

struct symcache_funcs *symcache_funcs_get(struct sym_cache *c, const char *build_id)
{
    for (struct symcache_funcs *f = c->funcs; f; f = f->next)
        if (strcmp(f->build_id, build_id) == 0)
            return f;
    return NULL;
}

static int range_cmp(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

struct symcache_funcs *symcache_funcs_put(struct sym_cache *c, const char *build_id,
                                          uint64_t *ranges, size_t n)
{
    struct symcache_funcs *f = calloc(1, sizeof *f);
    if (!f || !(f->build_id = strdup(build_id))) {
        free(f);
        free(ranges);
        return NULL;
    }
    qsort(ranges, n, 2 * sizeof *ranges, range_cmp);
    /* A symbol without a size covers up to the next one, as libdwfl treats it. */
    for (size_t i = 0; i < n; i++)
        if (ranges[2 * i + 1] == ranges[2 * i])
            ranges[2 * i + 1] = i + 1 < n ? ranges[2 * i + 2] : ranges[2 * i] + 1;
    f->r = ranges;
    f->n = n;
    f->next = c->funcs;
    c->funcs = f;
    return f;
}

bool symcache_funcs_find(const struct symcache_funcs *f, uint64_t rel, uint64_t *start_rel)
{
    /* Last range starting at or before rel; aliases and nested ranges make earlier
     * ones worth a look too, but never more than a few. */
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->r[2 * mid] <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo, k = 0; i-- > 0 && k < 8; k++)
        if (rel < f->r[2 * i + 1]) {
            *start_rel = f->r[2 * i];
            return true;
        }
    return false;
}

void *symcache_blob_get(struct sym_cache *c, const char *build_id)
{
    for (struct symcache_blob *b = c->blobs; b; b = b->next)
        if (strcmp(b->build_id, build_id) == 0)
            return b->p;
    return NULL;
}

void *symcache_blob_put(struct sym_cache *c, const char *build_id, void *p, void (*free_fn)(void *))
{
    for (struct symcache_blob **pp = &c->blobs; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->build_id, build_id) == 0) {
            struct symcache_blob *old = *pp;
            *pp = old->next;
            blob_free(old);
            break;
        }
    struct symcache_blob *b = calloc(1, sizeof *b);
    if (!b || !(b->build_id = strdup(build_id))) {
        free(b);
        free_fn(p);
        return NULL;
    }
    b->p = p;
    b->free_fn = free_fn;
    b->next = c->blobs;
    c->blobs = b;
    return p;
}
