/* collector/groups/signature.h: crash signature v1 — what makes two crashes "the same bug". */
#ifndef GROUPS_SIGNATURE_H
#define GROUPS_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/groups/json.h"

/*
 * The canonical string and the hash are specified in docs/crash-signature.md.
 * Changing anything that alters the canonical string of an existing crash needs a
 * new SIG_VERSION, because stored groups are keyed by the hash.
 */
#define SIG_VERSION         1
#define SIG_DEFAULT_FRAMES  5
#define SIG_MAX_FRAMES      32
#define SIG_HEX_LEN         16     /* truncated SHA-256, 64 bits */
#define SIG_TITLE_FRAMES    3
#define SIG_NAME_MAX        256    /* longer symbol names are cut (still deterministic) */

enum sig_err {
	SIG_OK = 0,
	SIG_E_NO_THREADS,     /* the document has no thread with frames */
	SIG_E_BAD_DOC,        /* not a corecast-symbolize document */
	SIG_E_NOMEM,
};

/* One frame as the symbolizer reported it. */
struct sig_frame {
	const char *function;  /* NULL when not symbolized */
	const char *module;    /* module name, may be NULL */
	const char *build_id;  /* hex, may be NULL */
	uint64_t mod_offset;   /* pc relative to the module's load address */
	bool has_mod_offset;
};

struct signature {
	char hex[SIG_HEX_LEN + 1];
	char *canonical;       /* malloc'd, the exact string that was hashed */
	char *title;           /* malloc'd, "SIGSEGV in level3 <- level2 <- level1" */
	int frames_used;
};

/* exe may be a path (its basename is used); nframes <= 0 means the default. */
enum sig_err sig_compute(const char *exe, int signo, const struct sig_frame *frames,
			 size_t n, int nframes, struct signature *out);

/* The same from a corecast-symbolize document: crashing thread (crashed:true, else the
 * first), its frames, module offsets from the "modules" list.  The signal is taken
 * from the document when present, else signo_fallback. */
enum sig_err sig_from_json(const struct json *doc, const char *exe, int signo_fallback,
			   int nframes, struct signature *out);

void sig_free(struct signature *s);
const char *sig_strerror(enum sig_err e);

/* Normalization steps, exposed for tests and the documentation examples. */
void sig_normalize_function(const char *in, char *out, size_t outlen);
bool sig_frame_is_noise(const char *normalized);
/* "SIGSEGV", or "SIG37" for numbers without a name; "signal" names map back. */
const char *sig_signame(int signo, char buf[16]);
int sig_signum(const char *name);   /* 0 if unknown */

#endif /* GROUPS_SIGNATURE_H */
