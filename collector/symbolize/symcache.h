/* Caches kept across cores: located files, open ELF handles and per-address symbol lookups. */
#ifndef CORECAST_SYMBOLIZE_SYMCACHE_H
#define CORECAST_SYMBOLIZE_SYMCACHE_H

#include <gelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/symbolize/symbolize.h"
#include "collector/symbolize/symstore.h"

struct symcache_item {
    char *function, *file;
    uint64_t offset;
    int line;
    bool inlined;
};

/* The symbolic frames of one pc (inlined call sites first). */
struct symcache_entry {
    struct symcache_item *items;
    size_t n;
};

struct symcache_entry *symcache_entry_new(void);
void symcache_entry_add(struct symcache_entry *e, const char *function, uint64_t offset,
                        const char *file, int line, bool inlined);
/* Hand an uncached entry to the cache so it is freed with it (or at the next reset). */
void symcache_entry_keep(struct sym_cache *c, struct symcache_entry *e);

/* Lookups keyed by (module build-id, pc - module start, is-return-address). */
const struct symcache_entry *symcache_sym_get(struct sym_cache *c, const char *key, uint64_t rel,
                                              bool is_ret);
const struct symcache_entry *symcache_sym_put(struct sym_cache *c, const char *key, uint64_t rel,
                                              bool is_ret, struct symcache_entry *e);

/* Function ranges of one module, relative to its start and sorted, so that the
 * fallback unwinder's many "is this inside a function?" questions are a binary search
 * instead of libdwfl's linear symbol-table walk. */
struct symcache_funcs;
struct symcache_funcs *symcache_funcs_get(struct sym_cache *c, const char *build_id);
/* Takes ownership of ranges (pairs of start, end; malloc'd). */
struct symcache_funcs *symcache_funcs_put(struct sym_cache *c, const char *build_id,
                                          uint64_t *ranges, size_t n);
bool symcache_funcs_find(const struct symcache_funcs *f, uint64_t rel, uint64_t *start_rel);

/* Something derived from one module's file (the symbol index of symbolize.c), kept
 * under its build-id and dropped with the lookups when the build-id is revalidated. */
void *symcache_blob_get(struct sym_cache *c, const char *build_id);
/* Takes ownership of p (released with free_fn); replaces what was kept before. */
void *symcache_blob_put(struct sym_cache *c, const char *build_id, void *p, void (*free_fn)(void *));

/* Located path per (build-id, kind); a NULL path records "not found". */
bool symcache_path_get(struct sym_cache *c, const char *build_id, int kind, const char **path);
void symcache_path_put(struct sym_cache *c, const char *build_id, int kind, const char *path);

/* A new reference to the ELF at path, opened once per cache; release with elf_end. */
Elf *symcache_elf(struct sym_cache *c, const char *path);

/* The debuginfod client, created on first use; NULL when none is configured. */
struct symstore_dfd *symcache_dfd(struct sym_cache *c, double timeout_s);

#endif
