/* Locating ELF and debug files by build-id: the symbol store, system debug dirs, debuginfod. */
#include "collector/symbolize/symstore.h"

#include <dlfcn.h>
#include <elfutils/debuginfod.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "netdump/hex.h"

/* libdebuginfod is opened only when a server is configured: linking it pulls in
 * libcurl and a TLS stack whose relocation alone costs more than symbolizing a core. */
static struct {
    bool tried, ok;
    debuginfod_client *(*begin)(void);
    void (*end)(debuginfod_client *);
    int (*find_debuginfo)(debuginfod_client *, const unsigned char *, int, char **);
    int (*find_executable)(debuginfod_client *, const unsigned char *, int, char **);
    void (*set_progressfn)(debuginfod_client *, debuginfod_progressfn_t);
    void (*set_user_data)(debuginfod_client *, void *);
    void *(*get_user_data)(debuginfod_client *);
} dfd_lib;

static bool dfd_load(void)
{
    if (dfd_lib.tried)
        return dfd_lib.ok;
    dfd_lib.tried = true;
    void *h = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return false;
    /* POSIX allows converting dlsym's object pointer to a function pointer this way. */
    *(void **)&dfd_lib.begin = dlsym(h, "debuginfod_begin");
    *(void **)&dfd_lib.end = dlsym(h, "debuginfod_end");
    *(void **)&dfd_lib.find_debuginfo = dlsym(h, "debuginfod_find_debuginfo");
    *(void **)&dfd_lib.find_executable = dlsym(h, "debuginfod_find_executable");
    *(void **)&dfd_lib.set_progressfn = dlsym(h, "debuginfod_set_progressfn");
    *(void **)&dfd_lib.set_user_data = dlsym(h, "debuginfod_set_user_data");
    *(void **)&dfd_lib.get_user_data = dlsym(h, "debuginfod_get_user_data");
    dfd_lib.ok = dfd_lib.begin && dfd_lib.end && dfd_lib.find_debuginfo &&
                 dfd_lib.find_executable && dfd_lib.set_progressfn && dfd_lib.set_user_data &&
                 dfd_lib.get_user_data;
    return dfd_lib.ok;
}

struct symstore_dfd {
    debuginfod_client *client;
    double timeout_s;
    double deadline;        /* monotonic seconds; the progress callback aborts after it */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A build-id as the .build-id layout and debuginfod spell it: 2..64 bytes in lower-case
 * hex.  Paths are made from it, so anything else (upper case, '/', "..") is refused. */
static bool hex_ok(const char *h)
{
    uint8_t bin[64];
    char canon[2 * sizeof bin + 1];
    size_t n;
    if (nd_unhex_str(h, bin, sizeof bin, &n) < 0 || n < 2)
        return false;
    nd_hex(bin, n, canon);
    return strcmp(canon, h) == 0;
}

char *symstore_lookup(const char *store, const char *build_id, const char *suffix)
{
    if (!store || !*store || !hex_ok(build_id))
        return NULL;
    size_t len = strlen(store) + strlen(build_id) + strlen(suffix) + 16;
    char *p = malloc(len);
    if (!p)
        return NULL;
    snprintf(p, len, "%s/.build-id/%.2s/%s%s", store, build_id, build_id + 2, suffix);
    if (access(p, R_OK) == 0)
        return p;
    free(p);
    return NULL;
}

bool symstore_file_build_id(const char *path, char *out, size_t outlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    bool ok = false;
    size_t shnum = 0;
    /* Files on disk keep their build-id in a SHT_NOTE section. */
    if (e && elf_kind(e) == ELF_K_ELF && elf_getshdrnum(e, &shnum) == 0) {
        for (Elf_Scn *s = NULL; !ok && (s = elf_nextscn(e, s)) != NULL;) {
            GElf_Shdr sh;
            if (!gelf_getshdr(s, &sh) || sh.sh_type != SHT_NOTE)
                continue;
            Elf_Data *d = elf_getdata(s, NULL);
            if (!d)
                continue;
            GElf_Nhdr nh;
            size_t off = 0, no, dof;
            while (!ok && (off = gelf_getnote(d, off, &nh, &no, &dof)) > 0) {
                if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
                    memcmp((char *)d->d_buf + no, "GNU", 4) == 0 && nh.n_descsz > 0 &&
                    nh.n_descsz * 2 + 1 <= outlen && nh.n_descsz <= 64) {
                    nd_hex((const uint8_t *)d->d_buf + dof, nh.n_descsz, out);
                    ok = true;
                }
            }
        }
    }
    if (e)
        elf_end(e);
    close(fd);
    return ok;
}

static int dfd_progress(debuginfod_client *c, long a, long b)
{
    struct symstore_dfd *d = dfd_lib.get_user_data(c);
    (void)a;
    (void)b;
    return d && now_s() > d->deadline ? -1 : 0;
}

struct symstore_dfd *symstore_dfd_new(double timeout_s)
{
    const char *urls = getenv("DEBUGINFOD_URLS");
    if (!urls || !*urls)
        return NULL;
    if (!dfd_load())
        return NULL;
    struct symstore_dfd *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->client = dfd_lib.begin();
    if (!d->client) {
        free(d);
        return NULL;
    }
    d->timeout_s = timeout_s > 0 ? timeout_s : 30;
    dfd_lib.set_user_data(d->client, d);
    dfd_lib.set_progressfn(d->client, dfd_progress);
    return d;
}

void symstore_dfd_free(struct symstore_dfd *d)
{
    if (!d)
        return;
    dfd_lib.end(d->client);
    free(d);
}

char *symstore_dfd_fetch(struct symstore_dfd *d, const char *build_id, bool debuginfo)
{
    if (!d || !hex_ok(build_id))
        return NULL;
    char *path = NULL;
    d->deadline = now_s() + d->timeout_s;
    const unsigned char *id = (const unsigned char *)build_id;
    int fd = debuginfo ? dfd_lib.find_debuginfo(d->client, id, 0, &path)
                       : dfd_lib.find_executable(d->client, id, 0, &path);
    if (fd < 0)
        return NULL;
    close(fd);
    return path;
}

static bool has_compressed_sections(Elf *e)
{
    for (Elf_Scn *s = NULL; (s = elf_nextscn(e, s)) != NULL;) {
        GElf_Shdr sh;
        if (gelf_getshdr(s, &sh) && (sh.sh_flags & SHF_COMPRESSED))
            return true;
    }
    return false;
}

static bool copy_file(int in, int out)
{
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w <= 0)
                return false;
            off += w;
        }
    return n == 0;
}

char *symstore_inflated(const char *store, const char *build_id, const char *path,
                        const char *suffix)
{
    if (!store || !*store || !hex_ok(build_id))
        return NULL;
    size_t len = strlen(store) + strlen(build_id) + strlen(suffix) + 64;
    char *dst = malloc(len), *tmp = malloc(len + 8);
    if (!dst || !tmp)
        goto fail;
    snprintf(dst, len, "%s/.cache/inflated/%s%s", store, build_id, suffix);
    if (access(dst, R_OK) == 0) {
        free(tmp);
        return dst;
    }
    elf_version(EV_CURRENT);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        goto fail;
    Elf *e = elf_begin(in, ELF_C_READ_MMAP, NULL);
    bool compressed = e && elf_kind(e) == ELF_K_ELF && has_compressed_sections(e);
    if (e)
        elf_end(e);
    if (!compressed) {
        close(in);
        goto fail;
    }
    snprintf(tmp, len + 8, "%s/.cache", store);
    mkdir(tmp, 0755);
    snprintf(tmp, len + 8, "%s/.cache/inflated", store);
    mkdir(tmp, 0755);
    snprintf(tmp, len + 8, "%s.XXXXXX", dst);
    /* Written under a temporary name and renamed, so concurrent workers never see
     * a partial file; the loser of a race just replaces an identical copy. */
    int out = mkstemp(tmp);
    if (out < 0) {
        close(in);
        goto fail;
    }
    bool ok = fchmod(out, 0644) == 0 && copy_file(in, out);
    close(in);
    Elf *w = ok ? elf_begin(out, ELF_C_RDWR, NULL) : NULL;
    ok = w != NULL;
    for (Elf_Scn *s = NULL; ok && (s = elf_nextscn(w, s)) != NULL;) {
        GElf_Shdr sh;
        if (gelf_getshdr(s, &sh) && (sh.sh_flags & SHF_COMPRESSED) && sh.sh_type != SHT_NOBITS)
            ok = elf_compress(s, 0, 0) >= 0;
    }
    ok = ok && elf_update(w, ELF_C_WRITE) >= 0;
    if (w)
        elf_end(w);
    ok = close(out) == 0 && ok;
    if (!ok || rename(tmp, dst) != 0) {
        unlink(tmp);
        goto fail;
    }
    free(tmp);
    return dst;
fail:
    free(dst);
    free(tmp);
    return NULL;
}
