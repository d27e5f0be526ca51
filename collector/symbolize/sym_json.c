/* JSON rendering of a symbolization result: the document corecast-symbolize prints. */
#include <inttypes.h>
#include <stdio.h>

#include "collector/json/json_write.h"
#include "collector/symbolize/symbolize.h"

static void json_hex(FILE *f, uint64_t v)
{
    fprintf(f, "\"0x%" PRIx64 "\"", v);
}

int sym_result_write_json(const struct sym_result *r, FILE *f)
{
    fprintf(f, "{\"version\":1,\"machine\":");
    json_write_str(f, r->machine);
    fprintf(f, ",\"signal\":%d,\"crashed_tid\":%" PRId64 ",\"registers\":{", r->signal, r->crashed_tid);
    for (size_t i = 0; i < r->nregs; i++) {
        if (i)
            fputc(',', f);
        json_write_str(f, r->regs[i].name);
        fputc(':', f);
        json_hex(f, r->regs[i].value);
    }
    fputs("},\"threads\":[", f);
    for (size_t i = 0; i < r->nthreads; i++) {
        const struct sym_thread *t = &r->threads[i];
        fprintf(f, "%s{\"tid\":%" PRId64 ",\"crashed\":%s,\"frames\":[", i ? "," : "", t->tid,
                t->crashed ? "true" : "false");
        for (size_t j = 0; j < t->nframes; j++) {
            const struct sym_frame *fr = &t->frames[j];
            const struct sym_module *m = fr->module >= 0 ? &r->modules[fr->module] : NULL;
            fprintf(f, "%s{\"pc\":", j ? "," : "");
            json_hex(f, fr->pc);
            fputs(",\"function\":", f);
            json_write_str(f, fr->function);
            fprintf(f, ",\"offset\":%" PRIu64 ",\"module\":", fr->offset);
            json_write_str(f, m ? m->name : NULL);
            fputs(",\"build_id\":", f);
            json_write_str(f, m && m->build_id[0] ? m->build_id : NULL);
            fputs(",\"file\":", f);
            json_write_str(f, fr->file);
            if (fr->line > 0)
                fprintf(f, ",\"line\":%d", fr->line);
            else
                fputs(",\"line\":null", f);
            fprintf(f, ",\"inlined\":%s,\"how\":\"%s\"}", fr->inlined ? "true" : "false",
                    sym_how_name(fr->how));
        }
        fputs("]}", f);
    }
    fputs("],\"modules\":[", f);
    for (size_t i = 0; i < r->nmodules; i++) {
        const struct sym_module *m = &r->modules[i];
        fprintf(f, "%s{\"name\":", i ? "," : "");
        json_write_str(f, m->name);
        fputs(",\"build_id\":", f);
        json_write_str(f, m->build_id[0] ? m->build_id : NULL);
        fputs(",\"start\":", f);
        json_hex(f, m->start);
        fputs(",\"end\":", f);
        json_hex(f, m->end);
        fprintf(f, ",\"symbols\":\"%s\"}", m->symbols ? "found" : "missing");
    }
    fprintf(f, "],\"symbols_missing\":%s}\n", r->symbols_missing ? "true" : "false");
    return ferror(f) ? -1 : 0;
}
