/* Unit tests for the fallback unwinders: call-site validation per machine, fp chain, stack scan. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <stdint.h>
#include <string.h>

#include "collector/symbolize/unwind_fp.h"

/* A fake process: code at CODE_BASE, stack at STACK_BASE, three functions. */
#define CODE_BASE 0x400000u
#define STACK_BASE 0x7000u
static uint8_t code[0x300];
static uint8_t image[0x1000];      /* the core's only segment: the stack */
static const uint64_t funcs[][2] = {
    { 0x400000, 0x400100 }, { 0x400100, 0x400200 }, { 0x400200, 0x400300 },
};

static bool fake_function_at(void *arg, uint64_t addr, uint64_t *start)
{
    (void)arg;
    for (size_t i = 0; i < 3; i++)
        if (addr >= funcs[i][0] && addr < funcs[i][1]) {
            *start = funcs[i][0];
            return true;
        }
    return false;
}

static bool fake_read_code(void *arg, uint64_t addr, void *buf, size_t len)
{
    (void)arg;
    if (addr < CODE_BASE || addr + len > CODE_BASE + sizeof code)
        return false;
    memcpy(buf, code + (addr - CODE_BASE), len);
    return true;
}

/* Module range: code plus a PLT-like gap after the functions. */
static bool fake_in_module(void *arg, uint64_t addr)
{
    (void)arg;
    return addr >= CODE_BASE && addr < CODE_BASE + 0x1000;
}

static const struct fb_ops ops = { fake_function_at, fake_read_code, fake_in_module, NULL };
static struct core_seg seg;
static struct core_file cf;

static void setup_core(uint16_t machine, bool is64)
{
    memset(code, 0, sizeof code);
    memset(image, 0, sizeof image);
    seg = (struct core_seg){ STACK_BASE, sizeof image, 0, sizeof image, 6 };
    memset(&cf, 0, sizeof cf);
    cf.map = image;
    cf.size = sizeof image;
    cf.map_len = sizeof image;
    cf.fd = -1;
    cf.is64 = is64;
    cf.machine = machine;
    cf.segs = &seg;
    cf.nsegs = 1;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void stack64(uint64_t addr, uint64_t v)
{
    put64(image + (addr - STACK_BASE), v);
}

/* x86 call rel32 at addr to target */
static void x86_call(uint64_t addr, uint64_t target)
{
    code[addr - CODE_BASE] = 0xe8;
    put32(code + (addr - CODE_BASE) + 1, (uint32_t)(target - (addr + 5)));
}

static void test_x86_return_needs_call_into_known_function(void **state)
{
    (void)state;
    setup_core(EM_X86_64, true);
    x86_call(0x400010, 0x400100);           /* main -> f_a */
    x86_call(0x400060, 0x900000);           /* main -> nowhere */
    code[0x250] = 0xff;                     /* f_b: call *%rax */
    code[0x251] = 0xd0;
    code[0x270] = 0xff;                     /* f_b: call *0x8(%rbx) */
    code[0x271] = 0x53;
    code[0x272] = 0x08;
    assert_true(fb_valid_return(&cf, &ops, 0x400015));
    assert_false(fb_valid_return(&cf, &ops, 0x400065));   /* target unknown */
    x86_call(0x400070, 0x400800);           /* main -> a PLT stub: no symbol, in the module */
    assert_true(fb_valid_return(&cf, &ops, 0x400075));
    assert_false(fb_valid_return(&cf, &ops, 0x400016));   /* not just after the call */
    assert_true(fb_valid_return(&cf, &ops, 0x400252));
    assert_true(fb_valid_return(&cf, &ops, 0x400273));
    assert_false(fb_valid_return(&cf, &ops, 0x500000));   /* outside any function */
}

static void test_x86_64_frame_pointer_chain(void **state)
{
    (void)state;
    setup_core(EM_X86_64, true);
    x86_call(0x400010, 0x400100);           /* main -> f_a, returns to 0x400015 */
    x86_call(0x400150, 0x400200);           /* f_a -> f_b, returns to 0x400155 */
    stack64(0x7200, 0x7300);
    stack64(0x7208, 0x400155);
    stack64(0x7300, 0);
    stack64(0x7308, 0x400015);
    uint8_t regs[27 * 8] = { 0 };
    put64(regs + 16 * 8, 0x400280);         /* rip in f_b */
    put64(regs + 19 * 8, 0x7100);           /* rsp */
    put64(regs + 4 * 8, 0x7200);            /* rbp */
    struct fb_frame f[8];
    size_t n = fb_unwind(&cf, sym_regset_for(EM_X86_64, 1), regs, &ops, f, 8);
    assert_int_equal(n, 3);
    assert_int_equal(f[0].pc, 0x400280);
    assert_int_equal(f[0].how, SYM_HOW_INITIAL);
    assert_int_equal(f[1].pc, 0x400155);
    assert_int_equal(f[1].how, SYM_HOW_FP);
    assert_int_equal(f[2].pc, 0x400015);
    assert_int_equal(f[2].how, SYM_HOW_FP);
}

static void test_stack_scan_keeps_only_validated_chained_returns(void **state)
{
    (void)state;
    setup_core(EM_X86_64, true);
    x86_call(0x400010, 0x400100);
    x86_call(0x400150, 0x400200);
    stack64(0x7110, 0x400100);              /* a function start, not after a call */
    stack64(0x7118, 0x7abc);                /* a stack address */
    x86_call(0x400030, 0x400200);           /* main -> f_b: returned long ago */
    stack64(0x7120, 0x400155);
    stack64(0x7128, 0x400035);              /* stale: calls f_b, but the frame below is f_a */
    stack64(0x7130, 0x400015);
    stack64(0x7140, 0x999999);
    uint8_t regs[27 * 8] = { 0 };
    put64(regs + 16 * 8, 0x400280);
    put64(regs + 19 * 8, 0x7100);           /* rbp = 0: no frame-pointer chain */
    struct fb_frame f[8];
    size_t n = fb_unwind(&cf, sym_regset_for(EM_X86_64, 1), regs, &ops, f, 8);
    assert_int_equal(n, 3);
    assert_int_equal(f[1].pc, 0x400155);
    assert_int_equal(f[1].how, SYM_HOW_SCAN);
    assert_int_equal(f[2].pc, 0x400015);
    assert_int_equal(f[2].how, SYM_HOW_SCAN);
}

static void test_frame_pointer_loop_terminates(void **state)
{
    (void)state;
    setup_core(EM_X86_64, true);
    x86_call(0x400150, 0x400200);
    stack64(0x7200, 0x7200);                /* points at itself */
    stack64(0x7208, 0x400155);
    uint8_t regs[27 * 8] = { 0 };
    put64(regs + 16 * 8, 0x400280);
    put64(regs + 19 * 8, 0x7100);
    put64(regs + 4 * 8, 0x7200);
    struct fb_frame f[64];
    size_t n = fb_unwind(&cf, sym_regset_for(EM_X86_64, 1), regs, &ops, f, 64);
    assert_true(n <= 3);
}

static void test_arm_bl_thumb_bl_and_blx_register(void **state)
{
    (void)state;
    setup_core(EM_ARM, false);
    /* ARM: bl 0x400100 at 0x400020 */
    uint32_t off = (uint32_t)((0x400100 - (0x400020 + 8)) / 4) & 0xffffff;
    put32(code + 0x20, 0xeb000000u | off);
    assert_true(fb_valid_return(&cf, &ops, 0x400024));
    /* Thumb-2: bl 0x400200 at 0x400120 */
    int32_t rel = 0x400200 - (0x400120 + 4);
    uint32_t imm = (uint32_t)rel >> 1, s = (rel < 0), i1 = (imm >> 22) & 1, i2 = (imm >> 21) & 1;
    uint32_t j1 = (~i1 ^ s) & 1, j2 = (~i2 ^ s) & 1;
    uint16_t h1 = (uint16_t)(0xf000 | s << 10 | ((imm >> 11) & 0x3ff));
    uint16_t h2 = (uint16_t)(0xd000 | j1 << 13 | j2 << 11 | (imm & 0x7ff));
    code[0x120] = (uint8_t)h1;
    code[0x121] = (uint8_t)(h1 >> 8);
    code[0x122] = (uint8_t)h2;
    code[0x123] = (uint8_t)(h2 >> 8);
    assert_true(fb_valid_return(&cf, &ops, 0x400124 | 1));
    assert_false(fb_valid_return(&cf, &ops, 0x400124));   /* as ARM code it is no call */
    /* Thumb: blx r3 */
    code[0x180] = 0x98;
    code[0x181] = 0x47;
    assert_true(fb_valid_return(&cf, &ops, 0x400182 | 1));
}

static void test_arm_leaf_uses_lr_then_gcc_frame_records(void **state)
{
    (void)state;
    setup_core(EM_ARM, false);
    /* main: bl f_a at 0x400020; f_a: bl f_b at 0x400140 */
    put32(code + 0x20, 0xeb000000u | (((0x400100 - 0x400028) / 4) & 0xffffff));
    put32(code + 0x140, 0xeb000000u | (((0x400200 - 0x400148) / 4) & 0xffffff));
    /* f_b is a leaf: push {fp}; fp = sp.  f_a: push {fp, lr}; fp = sp + 4. */
    uint8_t *st = image;
    put32(st + 0x100, 0x7204);              /* f_b's saved fp = f_a's fp */
    put32(st + 0x200, 0x7304);              /* f_a's saved fp (at fp-4) */
    put32(st + 0x204, 0x400024);            /* f_a's saved lr (at fp) -> main */
    uint8_t regs[18 * 4] = { 0 };
    put32(regs + 15 * 4, 0x400210);         /* pc in f_b */
    put32(regs + 14 * 4, 0x400144);         /* lr -> f_a */
    put32(regs + 13 * 4, 0x7100);
    put32(regs + 11 * 4, 0x7100);           /* fp */
    put32(regs + 16 * 4, 0x10);             /* cpsr: ARM state */
    struct fb_frame f[8];
    size_t n = fb_unwind(&cf, sym_regset_for(EM_ARM, 0), regs, &ops, f, 8);
    assert_true(n >= 3);
    assert_int_equal(f[1].pc, 0x400144);
    assert_int_equal(f[2].pc, 0x400024);
}

static void test_aarch64_and_riscv_calls(void **state)
{
    (void)state;
    setup_core(EM_AARCH64, true);
    put32(code + 0x40, 0x94000000u | (((0x400200 - 0x400040) / 4) & 0x3ffffff));
    assert_true(fb_valid_return(&cf, &ops, 0x400044));
    put32(code + 0x50, 0xd63f0020u);        /* blr x1 */
    assert_true(fb_valid_return(&cf, &ops, 0x400054));
    assert_false(fb_valid_return(&cf, &ops, 0x400048));

    setup_core(EM_RISCV, true);
    int32_t imm = 0x400100 - 0x400060;      /* jal ra, f_a */
    uint32_t w = ((uint32_t)(imm >> 20) & 1) << 31 | ((uint32_t)(imm >> 1) & 0x3ff) << 21 |
                 ((uint32_t)(imm >> 11) & 1) << 20 | ((uint32_t)(imm >> 12) & 0xff) << 12 |
                 1u << 7 | 0x6f;
    put32(code + 0x60, w);
    assert_true(fb_valid_return(&cf, &ops, 0x400064));
    code[0x70] = 0x82;                      /* c.jalr a0 = 0x9502 */
    code[0x71] = 0x95;
    assert_true(fb_valid_return(&cf, &ops, 0x400072));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x86_return_needs_call_into_known_function),
        cmocka_unit_test(test_x86_64_frame_pointer_chain),
        cmocka_unit_test(test_stack_scan_keeps_only_validated_chained_returns),
        cmocka_unit_test(test_frame_pointer_loop_terminates),
        cmocka_unit_test(test_arm_bl_thumb_bl_and_blx_register),
        cmocka_unit_test(test_arm_leaf_uses_lr_then_gcc_frame_records),
        cmocka_unit_test(test_aarch64_and_riscv_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
