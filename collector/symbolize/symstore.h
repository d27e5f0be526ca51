/* Locating ELF and debug files by build-id: the symbol store, system debug dirs, debuginfod. */
#ifndef CORECAST_SYMBOLIZE_SYMSTORE_H
#define CORECAST_SYMBOLIZE_SYMSTORE_H

#include <stdbool.h>
#include <stddef.h>

struct symstore_dfd;    /* a debuginfod client with a per-request deadline */

/* Path of a file in STORE/.build-id/xx/rest[suffix] (suffix "" or ".debug") that
 * exists; malloc'd, NULL if none. */
char *symstore_lookup(const char *store, const char *build_id, const char *suffix);

/* Build-id of an ELF file as lowercase hex into out (>= 129 bytes); false if none. */
bool symstore_file_build_id(const char *path, char *out, size_t outlen);

/* Debug files often compress their DWARF (SHF_COMPRESSED), and every worker process
 * would inflate the same libc sections again for every core.  This keeps one inflated
 * copy per build-id in STORE/.cache/inflated/ID<suffix> and returns its path (malloc'd), or NULL
 * when path has nothing compressed, there is no store, or the copy cannot be made. */
char *symstore_inflated(const char *store, const char *build_id, const char *path,
                        const char *suffix);

/* debuginfod: NULL client when DEBUGINFOD_URLS is unset or empty. */
struct symstore_dfd *symstore_dfd_new(double timeout_s);
void symstore_dfd_free(struct symstore_dfd *d);
/* Fetch (or find in its cache) the executable or debuginfo; malloc'd path or NULL. */
char *symstore_dfd_fetch(struct symstore_dfd *d, const char *build_id, bool debuginfo);

#endif
