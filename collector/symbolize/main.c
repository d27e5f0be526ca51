/* corecast-symbolize: symbolize one core file and print the result as JSON on stdout. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/symbolize/serve.h"
#include "collector/symbolize/symbolize.h"

static void usage(FILE *f)
{
    fputs("usage: corecast-symbolize --core FILE [--store DIR] [--exe PATH]\n"
          "                          [--buildid HEX[:NAME]]... [--debuginfod-timeout S] [--json]\n"
          "       corecast-symbolize --serve [--store DIR] [--debuginfod-timeout S]\n"
          "       corecast-symbolize --help\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "core", required_argument, NULL, 'c' },
        { "store", required_argument, NULL, 's' },
        { "exe", required_argument, NULL, 'e' },
        { "buildid", required_argument, NULL, 'b' },
        { "debuginfod-timeout", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "serve", no_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct sym_options opt = { 0 };
    const char *core = NULL;
    bool serve = false;
    struct sym_hint *hints = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': core = optarg; break;
        case 's': opt.store = optarg; break;
        case 'e': opt.exe = optarg; break;
        case 'j': break;    /* JSON is the only output format */
        case 'S': serve = true; break;
        case 'b': {
            struct sym_hint *p = realloc(hints, (opt.nhints + 1) * sizeof *p);
            if (!p) {
                fprintf(stderr, "corecast-symbolize: out of memory\n");
                return 1;
            }
            hints = p;
            if (!symserve_parse_hint(optarg, &hints[opt.nhints])) {
                fprintf(stderr, "corecast-symbolize: --buildid %s: not HEX[:NAME]\n", optarg);
                return 2;
            }
            opt.nhints++;
            break;
        }
        case 't': {
            char *end;
            errno = 0;
            opt.debuginfod_timeout = strtod(optarg, &end);
            if (errno || *end || opt.debuginfod_timeout <= 0) {
                fprintf(stderr, "corecast-symbolize: --debuginfod-timeout %s: not a positive number of seconds\n", optarg);
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (serve ? (core || opt.exe || opt.nhints) : !core) {
        usage(stderr);
        return 2;
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    opt.hints = hints;
    if (opt.debuginfod_timeout <= 0)
        opt.debuginfod_timeout = 30;
    /* libdebuginfod also bounds connection stalls by this variable. */
    if (!getenv("DEBUGINFOD_TIMEOUT")) {
        char t[32];
        snprintf(t, sizeof t, "%d", (int)(opt.debuginfod_timeout + 0.999));
        setenv("DEBUGINFOD_TIMEOUT", t, 1);
    }

    if (serve)
        return symserve_run(stdin, stdout, &opt);

    struct sym_result *res;
    char detail[512] = "";
    enum sym_err e = sym_symbolize(core, &opt, NULL, &res, detail, sizeof detail);
    free(hints);
    if (e != SYM_OK) {
        fprintf(stderr, "corecast-symbolize: %s\n", detail[0] ? detail : sym_strerror(e));
        return 1;
    }
    int rc = sym_result_write_json(res, stdout);
    sym_result_free(res);
    if (rc != 0 || fflush(stdout) != 0) {
        fprintf(stderr, "corecast-symbolize: writing output: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
