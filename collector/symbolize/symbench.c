/* corecast-symbench: symbolize many cores through the library with one shared cache (storm mode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "collector/symbolize/symbolize.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    /* current RSS from /proc, to show memory stays flat across the storm */
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * 4;
}

int main(int argc, char **argv)
{
    struct sym_options opt = { 0 };
    bool cache_on = true;
    const char *out_path = "/dev/null";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--no-cache") == 0)
            cache_on = false;
        else if (strcmp(argv[i], "--exe") == 0 && i + 1 < argc)
            opt.exe = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out_path = argv[++i];     /* one JSON document per core, for comparisons */
        else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
            opt.store = argv[++i];
        else if (strcmp(argv[i], "--verify-index") == 0)
            opt.verify_index = true;   /* symbol index vs libdwfl's lookup */
        else {
            fprintf(stderr, "usage: corecast-symbench [--no-cache] [--exe P] [--store D] [--out F] "
                            "[--verify-index] CORE...\n");
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "corecast-symbench: no cores given\n");
        return 2;
    }
    FILE *devnull = fopen(out_path, "w");
    if (!devnull)
        return 1;
    struct sym_cache *cache = cache_on ? sym_cache_new() : NULL;
    int ncores = argc - i, failed = 0;
    long rss_tenth = 0;
    size_t checked = 0, mismatches = 0;
    double t0 = now_s();
    for (int k = 0; k < ncores; k++) {
        struct sym_result *r;
        char detail[256];
        if (sym_symbolize(argv[i + k], &opt, cache, &r, detail, sizeof detail) != SYM_OK) {
            fprintf(stderr, "corecast-symbench: %s\n", detail);
            failed++;
            continue;
        }
        checked += r->index_checked;
        mismatches += r->index_mismatches;
        sym_result_write_json(r, devnull);
        sym_result_free(r);
        if (k == ncores / 10)
            rss_tenth = rss_kb();
    }
    double dt = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"cores\":%d,\"failed\":%d,\"seconds\":%.3f,\"cores_per_s\":%.1f,"
           "\"cpu_s\":%.3f,\"peak_rss_kb\":%ld,\"rss_kb_at_10pct\":%ld,\"rss_kb_end\":%ld,"
           "\"cache\":%s,\"index_checked\":%zu,\"index_mismatches\":%zu}\n",
           ncores, failed, dt, ncores / dt,
           (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6,
           ru.ru_maxrss, rss_tenth, rss_kb(), cache_on ? "true" : "false", checked, mismatches);
    sym_cache_free(cache);
    fclose(devnull);
    return failed ? 1 : 0;
}
