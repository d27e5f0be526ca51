/* collector/groups/signature.c: crash signature v1 — normalize frames, hash, title. */
#include "collector/groups/signature.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netdump/hex.h"
#include "netdump/sha256.h"

/* Linux generic signal numbers (x86, arm, riscv share them); a fixed table so a
 * signature never depends on the collector's own libc. */
static const char *const signames[] = {
	[1] = "SIGHUP", [2] = "SIGINT", [3] = "SIGQUIT", [4] = "SIGILL", [5] = "SIGTRAP",
	[6] = "SIGABRT", [7] = "SIGBUS", [8] = "SIGFPE", [9] = "SIGKILL", [10] = "SIGUSR1",
	[11] = "SIGSEGV", [12] = "SIGUSR2", [13] = "SIGPIPE", [14] = "SIGALRM",
	[15] = "SIGTERM", [16] = "SIGSTKFLT", [17] = "SIGCHLD", [18] = "SIGCONT",
	[19] = "SIGSTOP", [20] = "SIGTSTP", [21] = "SIGTTIN", [22] = "SIGTTOU",
	[23] = "SIGURG", [24] = "SIGXCPU", [25] = "SIGXFSZ", [26] = "SIGVTALRM",
	[27] = "SIGPROF", [28] = "SIGWINCH", [29] = "SIGIO", [30] = "SIGPWR", [31] = "SIGSYS",
};

const char *sig_signame(int signo, char buf[16])
{
	if (signo > 0 && (size_t)signo < sizeof(signames) / sizeof(signames[0]) &&
	    signames[signo])
		return signames[signo];
	snprintf(buf, 16, "SIG%d", signo);
	return buf;
}

int sig_signum(const char *name)
{
	if (!name)
		return 0;
	for (size_t i = 1; i < sizeof(signames) / sizeof(signames[0]); i++)
		if (signames[i] && strcmp(signames[i], name) == 0)
			return (int)i;
	if (strncmp(name, "SIG", 3) == 0 && name[3] >= '0' && name[3] <= '9')
		return atoi(name + 3);
	return 0;
}

/*
 * Compiler-made copies of a function carry a suffix after a dot: GCC's
 * .constprop.N, .isra.N, .part.N, .cold(.N), .lto_priv.N, .localalias, .clone.N and
 * clang's .llvm.HASH.  Which copies exist depends on optimisation decisions that
 * change between builds of the same source, so the suffix is not part of the bug.
 */
static const char *const clone_suffixes[] = {
	"constprop", "isra", "part", "cold", "lto_priv", "localalias", "clone", "llvm",
};

void sig_normalize_function(const char *in, char *out, size_t outlen)
{
	size_t n = strlen(in);
	const char *at;

	if (outlen == 0)
		return;
	/* "f+0x1c": an offset is an address, not an identity */
	at = strstr(in, "+0x");
	if (at && (size_t)(at - in) < n)
		n = (size_t)(at - in);
	/* "raise@@GLIBC_2.2.5": the symbol version names the ABI, not the code */
	at = memchr(in, '@', n);
	if (at && at != in)
		n = (size_t)(at - in);
	for (size_t i = 1; i < n; i++) {
		if (in[i] != '.')
			continue;
		for (size_t k = 0; k < sizeof(clone_suffixes) / sizeof(clone_suffixes[0]); k++) {
			size_t kl = strlen(clone_suffixes[k]);
			if (i + 1 + kl <= n && memcmp(in + i + 1, clone_suffixes[k], kl) == 0 &&
			    (i + 1 + kl == n || in[i + 1 + kl] == '.')) {
				n = i;
				break;
			}
		}
	}
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, in, n);
	out[n] = '\0';
}

/*
 * Frames that are the machinery of dying rather than the bug: every assert or abort
 * passes through them, so keeping them would put unrelated bugs in one group.
 */
static const char *const noise[] = {
	"abort", "raise", "gsignal", "assert", "__assert_fail", "__assert_fail_base",
	"__assert_perror_fail", "__assert", "__assert_func", "pthread_kill",
	"__pthread_kill", "__pthread_kill_implementation", "__pthread_kill_internal",
	"__libc_message", "__fortify_fail", "__chk_fail", "__stack_chk_fail",
	"__libc_fatal",
};

bool sig_frame_is_noise(const char *fn)
{
	if (strncmp(fn, "__GI_", 5) == 0)
		return true;
	for (size_t k = 0; k < sizeof(noise) / sizeof(noise[0]); k++)
		if (strcmp(fn, noise[k]) == 0)
			return true;
	return false;
}

static const char *base_name(const char *p)
{
	const char *s;

	if (!p || !*p)
		return "?";
	s = strrchr(p, '/');
	return s && s[1] ? s + 1 : p;
}

/* A growing string; on allocation failure it stays NULL and the caller reports it. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 256);
		while (cap < b->len + n + 1)
			cap *= 2;
		char *ns = realloc(b->s, cap);
		if (!ns) {
			b->oom = true;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

/* Frame identity for the canonical string: the normalized function name, else
 * build-id (or module name) + module offset, else "?". */
static void frame_key(const struct sig_frame *f, char *out, size_t outlen)
{
	if (f->function && *f->function) {
		sig_normalize_function(f->function, out, outlen);
		if (*out)
			return;
	}
	const char *who = f->build_id && *f->build_id ? f->build_id :
			  f->module && *f->module ? base_name(f->module) : NULL;
	if (who && f->has_mod_offset)
		snprintf(out, outlen, "%.*s+0x%" PRIx64, (int)SIG_NAME_MAX / 2, who, f->mod_offset);
	else if (who)
		snprintf(out, outlen, "%.*s+?", (int)SIG_NAME_MAX / 2, who);
	else
		snprintf(out, outlen, "?");
}

enum sig_err sig_compute(const char *exe, int signo, const struct sig_frame *frames,
			 size_t n, int nframes, struct signature *out)
{
	struct sbuf canon = { 0 }, title = { 0 };
	char key[SIG_NAME_MAX], line[SIG_NAME_MAX + 32], sbuf[16];
	const char *sname = sig_signame(signo, sbuf);
	uint8_t digest[ND_SHA256_DIGEST];
	int used = 0;

	memset(out, 0, sizeof(*out));
	if (nframes <= 0)
		nframes = SIG_DEFAULT_FRAMES;
	if (nframes > SIG_MAX_FRAMES)
		nframes = SIG_MAX_FRAMES;

	snprintf(line, sizeof(line), "corecast-signature v%d\n", SIG_VERSION);
	sb_add(&canon, line);
	snprintf(line, sizeof(line), "exe %.*s\n", SIG_NAME_MAX, base_name(exe));
	sb_add(&canon, line);
	snprintf(line, sizeof(line), "signal %s\n", sname);
	sb_add(&canon, line);
	sb_add(&title, sname);
	for (size_t i = 0; i < n && used < nframes; i++) {
		frame_key(&frames[i], key, sizeof(key));
		if (frames[i].function && sig_frame_is_noise(key))
			continue;
		snprintf(line, sizeof(line), "frame %s\n", key);
		sb_add(&canon, line);
		if (used < SIG_TITLE_FRAMES) {
			sb_add(&title, used == 0 ? " in " : " <- ");
			sb_add(&title, key);
		}
		used++;
	}
	if (used == 0) {
		sb_add(&title, " in ");
		sb_add(&title, base_name(exe));
	}
	if (canon.oom || title.oom) {
		free(canon.s);
		free(title.s);
		return SIG_E_NOMEM;
	}
	nd_sha256(canon.s, canon.len, digest);
	nd_hex(digest, SIG_HEX_LEN / 2, out->hex);
	out->canonical = canon.s;
	out->title = title.s;
	out->frames_used = used;
	return SIG_OK;
}

static bool parse_hex_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || strncmp(s, "0x", 2) != 0 || !s[2])
		return false;
	*out = strtoull(s + 2, &end, 16);
	return *end == '\0';
}

/* A number that may come as a JSON integer or as a "0x..." string. */
static bool json_u64(const struct json *v, uint64_t *out)
{
	int64_t i;

	if (json_int(v, &i) && i >= 0) {
		*out = (uint64_t)i;
		return true;
	}
	return parse_hex_u64(json_str(v), out);
}

static const struct json *find_module(const struct json *modules, const char *name,
				      const char *build_id)
{
	if (!modules || modules->type != JSON_ARRAY)
		return NULL;
	for (const struct json *m = modules->child; m; m = m->next) {
		const char *bid = json_str(json_get(m, "build_id"));
		const char *mn = json_str(json_get(m, "name"));
		if (build_id && bid && strcmp(build_id, bid) == 0)
			return m;
		if (!build_id && name && mn && strcmp(name, mn) == 0)
			return m;
	}
	return NULL;
}

enum sig_err sig_from_json(const struct json *doc, const char *exe, int signo_fallback,
			   int nframes, struct signature *out)
{
	const struct json *threads = json_get(doc, "threads"), *thread = NULL, *frames;
	const struct json *modules = json_get(doc, "modules"), *sigv = json_get(doc, "signal");
	struct sig_frame fr[SIG_MAX_FRAMES * 4];
	size_t n = 0;
	int signo = signo_fallback;
	int64_t iv;

	memset(out, 0, sizeof(*out));
	if (!doc || doc->type != JSON_OBJECT || !threads || threads->type != JSON_ARRAY)
		return SIG_E_BAD_DOC;
	for (const struct json *t = threads->child; t; t = t->next)
		if (json_true(json_get(t, "crashed"))) {
			thread = t;
			break;
		}
	if (!thread)
		thread = threads->child;
	frames = json_get(thread, "frames");
	if (!frames || frames->type != JSON_ARRAY || frames->n == 0)
		return SIG_E_NO_THREADS;
	if (json_int(sigv, &iv) && iv > 0 && iv < 1024)
		signo = (int)iv;
	else if (sig_signum(json_str(sigv)))
		signo = sig_signum(json_str(sigv));

	/* Noise frames are skipped after this point, so take more than nframes. */
	for (const struct json *f = frames->child; f && n < sizeof(fr) / sizeof(fr[0]);
	     f = f->next) {
		struct sig_frame *s = &fr[n++];
		const struct json *mod;
		uint64_t pc, start;

		memset(s, 0, sizeof(*s));
		s->function = json_str(json_get(f, "function"));
		s->module = json_str(json_get(f, "module"));
		s->build_id = json_str(json_get(f, "build_id"));
		mod = find_module(modules, s->module, s->build_id);
		if (json_u64(json_get(f, "pc"), &pc) && mod &&
		    json_u64(json_get(mod, "start"), &start) && pc >= start) {
			s->mod_offset = pc - start;
			s->has_mod_offset = true;
		} else if (!s->function && json_u64(json_get(f, "offset"), &pc)) {
			/* without a module list the worker's own offset is module-relative */
			s->mod_offset = pc;
			s->has_mod_offset = true;
		}
	}
	return sig_compute(exe, signo, fr, n, nframes, out);
}

void sig_free(struct signature *s)
{
	free(s->canonical);
	free(s->title);
	s->canonical = s->title = NULL;
}

const char *sig_strerror(enum sig_err e)
{
	switch (e) {
	case SIG_OK: return "ok";
	case SIG_E_NO_THREADS: return "no frames in the crashing thread";
	case SIG_E_BAD_DOC: return "not a symbolizer document (no threads)";
	case SIG_E_NOMEM: return "out of memory";
	}
	return "unknown signature error";
}
