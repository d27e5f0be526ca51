/* Fallback unwinders for when CFI is absent or stops early: frame-pointer chain, then stack scan. */
#ifndef CORECAST_SYMBOLIZE_UNWIND_FP_H
#define CORECAST_SYMBOLIZE_UNWIND_FP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/symbolize/corefile.h"
#include "collector/symbolize/regs.h"
#include "collector/symbolize/symbolize.h"

/* The engine answers the two questions a fallback unwinder cannot answer alone. */
struct fb_ops {
    /* Start address of the function (STT_FUNC symbol) covering addr, false if none. */
    bool (*function_at)(void *arg, uint64_t addr, uint64_t *start);
    /* Code bytes at addr, from the core or else from the module's file. */
    bool (*read_code)(void *arg, uint64_t addr, void *buf, size_t len);
    /* True if addr lies in a reported module (PLT stubs have no symbol of their own). */
    bool (*in_module)(void *arg, uint64_t addr);
    void *arg;
};

struct fb_frame {
    uint64_t pc;
    enum sym_how how;
};

/* Words scanned above the last known frame when the frame-pointer chain is unusable. */
#define FB_SCAN_WORDS 4096u

/* Unwind one thread from its NT_PRSTATUS registers.  out[0] is the initial pc.
 * Returns the number of frames written (<= max). */
size_t fb_unwind(const struct core_file *cf, const struct sym_regset *rs, const uint8_t *regs,
                 const struct fb_ops *ops, struct fb_frame *out, size_t max);

/* True if ret is a plausible return address: just after a call instruction, inside a
 * known function, and (for direct calls) calling a known function or a module's PLT. */
bool fb_valid_return(const struct core_file *cf, const struct fb_ops *ops, uint64_t ret);

#endif
