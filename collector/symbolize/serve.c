/* corecast-symbolize --serve: a long-lived worker that symbolizes one core per job line, keeping its cache. */
#include "collector/symbolize/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include "netdump/hex.h"

/* Cores up to this size are decompressed into memory (a memfd); larger ones into
 * an unnamed file in STORE/tmp, so a huge core costs disk, not RAM. */
#define SYMSERVE_MEMFD_MAX (64ull << 20)

bool symserve_parse_hint(const char *arg, struct sym_hint *h)
{
    uint8_t bin[(sizeof h->build_id - 1) / 2];
    char digits[sizeof h->build_id];
    size_t len;
    memset(h, 0, sizeof *h);
    const char *colon = strchr(arg, ':');
    size_t n = colon ? (size_t)(colon - arg) : strlen(arg);
    if (n >= sizeof digits)
        return false;
    memcpy(digits, arg, n);
    digits[n] = '\0';
    if (nd_unhex_str(digits, bin, sizeof bin, &len) < 0 || len < 2)
        return false;
    /* re-encoded: the store's paths are lower case */
    nd_hex(bin, len, h->build_id);
    if (colon)
        snprintf(h->name, sizeof h->name, "%s", colon + 1);
    return true;
}

bool symserve_unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r != '%') {
            *w++ = *r;
            continue;
        }
        uint8_t byte;
        /* nd_unhex stops at a NUL after the '%': never reads past the string */
        if (nd_unhex(r + 1, 1, &byte) < 0 || byte == 0)
            return false;
        *w++ = (char)byte;
        r += 2;
    }
    *w = '\0';
    return true;
}

/* One record: header line, then exactly len bytes, flushed so the pool sees it now. */
static int put_record(FILE *out, const char *kind, uint64_t id, const char *body, size_t len)
{
    if (fprintf(out, "%s %" PRIu64 " %zu\n", kind, id, len) < 0 ||
        fwrite(body, 1, len, out) != len || fflush(out) != 0)
        return -1;
    return 0;
}

struct job {
    uint64_t id;
    char *core;
    bool zst;               /* core is a zstd stream (a stored .core.zst) ... */
    uint64_t zst_size;      /* ... of this many bytes uncompressed */
    struct sym_options opt;
    struct sym_hint *hints;
};

/* Parse "job ID CORE [field]..." (in place); false names nothing: the caller stops. */
static bool parse_job(char *line, const struct sym_options *base, struct job *j)
{
    char *save = NULL, *tok = strtok_r(line, " ", &save);
    memset(j, 0, sizeof *j);
    j->opt = *base;
    if (!tok || strcmp(tok, "job") != 0)
        return false;
    tok = strtok_r(NULL, " ", &save);
    char *end;
    errno = 0;
    if (!tok || !*tok || *tok == '-')
        return false;
    j->id = strtoull(tok, &end, 10);
    if (errno || *end)
        return false;
    j->core = strtok_r(NULL, " ", &save);
    if (!j->core || !symserve_unescape(j->core) || !*j->core)
        return false;
    while ((tok = strtok_r(NULL, " ", &save)) != NULL) {
        if (!symserve_unescape(tok))
            return false;
        if (strncmp(tok, "exe=", 4) == 0) {
            j->opt.exe = tok + 4;
        } else if (strncmp(tok, "zst=", 4) == 0) {
            errno = 0;
            if (tok[4] < '0' || tok[4] > '9')
                return false;
            j->zst_size = strtoull(tok + 4, &end, 10);
            if (errno || *end)
                return false;
            j->zst = true;
        } else if (strncmp(tok, "buildid=", 8) == 0) {
            struct sym_hint *p = realloc(j->hints, (j->opt.nhints + 1) * sizeof *p);
            if (!p)
                return false;
            j->hints = p;
            if (!symserve_parse_hint(tok + 8, &j->hints[j->opt.nhints]))
                return false;
            j->opt.nhints++;
        } else {
            return false;
        }
    }
    j->opt.hints = j->hints;
    return true;
}

/*
 * The stored core, decompressed into a memfd (or an unnamed file in STORE/tmp when
 * large); returns its fd, or -1 with why.  Skippable frames (the store's metadata
 * and trailer) are skipped by the decoder; the result must be exactly size bytes
 * and end on a frame boundary.  Runs in the worker, under its limits.
 */
static int decompress(ZSTD_DCtx *dctx, const char *path, uint64_t size, const char *store,
                      char *why, size_t whylen)
{
    static char inbuf[1 << 17], outbuf[1 << 17];
    int in = open(path, O_RDONLY | O_CLOEXEC), out = -1;
    uint64_t total = 0;
    size_t last = 0;

    if (in < 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (size <= SYMSERVE_MEMFD_MAX) {
        out = memfd_create("core", MFD_CLOEXEC);
    } else {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tmp", store && *store ? store : "/var");
        out = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    }
    if (out < 0) {
        snprintf(why, whylen, "%s: no file to decompress into: %s", path, strerror(errno));
        close(in);
        return -1;
    }
    ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
    for (;;) {
        ssize_t n = read(in, inbuf, sizeof inbuf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(why, whylen, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        ZSTD_inBuffer ib = { inbuf, (size_t)n, 0 };
        while (ib.pos < ib.size) {
            ZSTD_outBuffer ob = { outbuf, sizeof outbuf, 0 };
            last = ZSTD_decompressStream(dctx, &ob, &ib);
            if (ZSTD_isError(last)) {
                snprintf(why, whylen, "%s: stored core is corrupt: %s", path,
                         ZSTD_getErrorName(last));
                goto fail;
            }
            total += ob.pos;
            if (total > size) {
                snprintf(why, whylen, "%s: stored core is larger than its %" PRIu64 " bytes",
                         path, size);
                goto fail;
            }
            for (size_t w = 0; w < ob.pos;) {
                ssize_t k = write(out, outbuf + w, ob.pos - w);
                if (k < 0 && errno == EINTR)
                    continue;
                if (k <= 0) {
                    snprintf(why, whylen, "%s: decompressing: %s", path,
                             k < 0 ? strerror(errno) : "short write");
                    goto fail;
                }
                w += (size_t)k;
            }
        }
    }
    if (last != 0 || total != size) {
        snprintf(why, whylen, "%s: stored core is truncated (%" PRIu64 " of %" PRIu64 " bytes)",
                 path, total, size);
        goto fail;
    }
    close(in);
    return out;
fail:
    close(in);
    close(out);
    return -1;
}

int symserve_run(FILE *in, FILE *out, const struct sym_options *base)
{
    ZSTD_DCtx *dctx = NULL;
    struct sym_cache *cache = sym_cache_new();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;

    if (!cache) {
        fprintf(stderr, "corecast-symbolize: --serve: out of memory\n");
        return 1;
    }
    while ((n = getline(&line, &cap, in)) > 0) {
        struct job j;
        if (line[n - 1] != '\n' || (size_t)n > SYMSERVE_MAX_LINE) {
            fprintf(stderr, "corecast-symbolize: --serve: job line unterminated or longer than %u bytes\n",
                    SYMSERVE_MAX_LINE);
            rc = 2;
            break;
        }
        line[n - 1] = '\0';
        if (!parse_job(line, base, &j)) {
            free(j.hints);
            fprintf(stderr, "corecast-symbolize: --serve: malformed job line\n");
            rc = 2;
            break;
        }
        /* symbols filed since an earlier core lacked them must be seen now */
        sym_cache_revalidate(cache, base->store);
        struct sym_result *res = NULL;
        char detail[512] = "";
        enum sym_err e = SYM_OK;
        int fd = -1;
        const char *core = j.core;
        char fdpath[64];
        if (j.zst) {
            if (!dctx && !(dctx = ZSTD_createDCtx()))
                e = SYM_E_NOMEM;
            else if ((fd = decompress(dctx, j.core, j.zst_size, base->store, detail,
                                      sizeof detail)) < 0)
                e = SYM_E_CORE;
            snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
            core = fdpath;
        }
        if (e == SYM_OK)
            e = sym_symbolize(core, &j.opt, cache, &res, detail, sizeof detail);
        if (fd >= 0)
            close(fd);
        free(j.hints);
        int wr;
        if (e != SYM_OK) {
            const char *why = detail[0] ? detail : sym_strerror(e);
            wr = put_record(out, "fail", j.id, why, strlen(why));
        } else {
            char *doc = NULL;
            size_t len = 0;
            FILE *m = open_memstream(&doc, &len);
            int jr = m ? sym_result_write_json(res, m) : -1;
            if (m && fclose(m) != 0)
                jr = -1;
            if (jr != 0) {
                const char *why = "out of memory rendering the result";
                wr = put_record(out, "fail", j.id, why, strlen(why));
            } else {
                wr = put_record(out, "ok", j.id, doc, len);
            }
            free(doc);
            sym_result_free(res);
        }
        if (wr != 0) {
            /* the pool is gone or stopped reading: nothing left to serve */
            fprintf(stderr, "corecast-symbolize: --serve: writing a result: %s\n", strerror(errno));
            rc = 1;
            break;
        }
    }
    free(line);
    ZSTD_freeDCtx(dctx);
    sym_cache_free(cache);
    return rc;
}
