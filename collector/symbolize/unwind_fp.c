/* Fallback unwinders for when CFI is absent or stops early: frame-pointer chain, then stack scan. */
#include "collector/symbolize/unwind_fp.h"

#include <elf.h>
#include <string.h>

/* A frame-pointer chain never spans more than this between two records; a bigger step
 * means we are following garbage. */
#define FB_MAX_FRAME_STEP (8u << 20)

static uint64_t reg_get(const struct core_file *cf, const struct sym_regset *rs,
                        const uint8_t *regs, int idx)
{
    return core_get(cf, regs + (size_t)idx * rs->word, rs->word);
}

static uint32_t le32(const uint8_t *p, bool be)
{
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint16_t le16(const uint8_t *p, bool be)
{
    return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static int64_t sext(uint64_t v, unsigned bits)
{
    uint64_t m = 1ull << (bits - 1);
    v &= (bits == 64) ? ~0ull : ((1ull << bits) - 1);
    return (int64_t)((v ^ m) - m);
}

/* Decode the instruction that ends at ret; *is_call tells whether it is a call, and
 * *target is set for direct calls (else left 0). */
static bool call_before(const struct core_file *cf, const struct fb_ops *ops, uint64_t ret,
                        uint64_t *target)
{
    uint8_t b[8];
    bool be = cf->big_endian;
    *target = 0;
    switch (cf->machine) {
    case EM_X86_64:
    case EM_386:
        if (ret >= 5 && ops->read_code(ops->arg, ret - 5, b, 5) && b[0] == 0xe8) {
            int32_t rel = (int32_t)le32(b + 1, false);
            *target = ret + (uint64_t)(int64_t)rel;
            if (!cf->is64)
                *target &= 0xffffffffu;
            return true;
        }
        /* ff /2: indirect call, 2 to 7 bytes long depending on ModRM/SIB/disp */
        for (unsigned len = 2; len <= 7; len++) {
            if (ret < len || !ops->read_code(ops->arg, ret - len, b, 2))
                continue;
            if (b[0] == 0xff && ((b[1] >> 3) & 7) == 2) {
                unsigned mod = b[1] >> 6, rm = b[1] & 7, want = 2;
                if (mod == 1) want += 1;
                else if (mod == 2) want += 4;
                else if (mod == 0 && rm == 5) want += 4;
                if (mod != 3 && rm == 4) {
                    uint8_t sib[3];
                    if (!ops->read_code(ops->arg, ret - len, sib, 3))
                        continue;
                    want += 1;
                    if (mod == 0 && (sib[2] & 7) == 5) want += 4;
                }
                if (want == len)
                    return true;
            }
        }
        return false;
    case EM_ARM:
        if (ret & 1) {      /* returning into Thumb code */
            uint64_t a = ret & ~1ull;
            if (a >= 4 && ops->read_code(ops->arg, a - 4, b, 4)) {
                uint16_t h1 = le16(b, be), h2 = le16(b + 2, be);
                if ((h1 & 0xf800) == 0xf000 && (h2 & 0xc000) == 0xc000) {
                    uint32_t s = (h1 >> 10) & 1, j1 = (h2 >> 13) & 1, j2 = (h2 >> 11) & 1;
                    uint32_t i1 = !(j1 ^ s), i2 = !(j2 ^ s);
                    uint32_t imm = s << 24 | i1 << 23 | i2 << 22 | (h1 & 0x3ffu) << 12 | (h2 & 0x7ffu) << 1;
                    *target = a + (uint64_t)sext(imm, 25);
                    if (!(h2 & 0x1000))     /* BLX to ARM: target is word aligned from Align(PC,4) */
                        *target = ((a) & ~3ull) + (uint64_t)sext(imm, 25);
                    *target &= 0xffffffffu;
                    return true;
                }
            }
            if (a >= 2 && ops->read_code(ops->arg, a - 2, b, 2) && (le16(b, be) & 0xff87) == 0x4780)
                return true;
            return false;
        }
        if (ret >= 4 && ops->read_code(ops->arg, ret - 4, b, 4)) {
            uint32_t w = le32(b, be);
            if ((w & 0x0f000000) == 0x0b000000 && (w >> 28) != 0xf) {
                *target = (ret + 4 + (uint64_t)(sext(w & 0xffffff, 24) * 4)) & 0xffffffffu;
                return true;
            }
            if ((w & 0xfe000000) == 0xfa000000) {
                *target = (ret + 4 + (uint64_t)(sext(w & 0xffffff, 24) * 4) + ((w >> 23) & 2)) & 0xffffffffu;
                return true;
            }
            if ((w & 0x0ffffff0) == 0x012fff30)
                return true;
        }
        return false;
    case EM_AARCH64:
        if (ret >= 4 && ops->read_code(ops->arg, ret - 4, b, 4)) {
            uint32_t w = le32(b, be);
            if ((w & 0xfc000000) == 0x94000000) {
                *target = ret - 4 + (uint64_t)(sext(w & 0x3ffffff, 26) * 4);
                return true;
            }
            if ((w & 0xfffffc1f) == 0xd63f0000)
                return true;
        }
        return false;
    case EM_RISCV:
        if (ret >= 4 && ops->read_code(ops->arg, ret - 4, b, 4)) {
            uint32_t w = le32(b, false);
            if ((w & 0xfff) == 0x0ef) {         /* jal ra, imm */
                uint32_t imm = ((w >> 31) & 1) << 20 | ((w >> 12) & 0xff) << 12 |
                               ((w >> 20) & 1) << 11 | ((w >> 21) & 0x3ff) << 1;
                *target = ret - 4 + (uint64_t)sext(imm, 21);
                return true;
            }
            if ((w & 0x7fff) == 0x00e7)         /* jalr ra, rs1, imm */
                return true;
        }
        if (ret >= 2 && ops->read_code(ops->arg, ret - 2, b, 2)) {
            uint16_t h = le16(b, false);
            if ((h & 0xf07f) == 0x9002 && (h & 0x0f80) != 0)  /* c.jalr rs1 */
                return true;
        }
        return false;
    default:
        return false;
    }
}

bool fb_valid_return(const struct core_file *cf, const struct fb_ops *ops, uint64_t ret)
{
    uint64_t start, target;
    uint64_t code = cf->machine == EM_ARM ? (ret & ~1ull) : ret;
    if (code == 0 || !ops->function_at(ops->arg, code - 1, &start))
        return false;
    if (!call_before(cf, ops, ret, &target))
        return false;
    if (target != 0) {
        uint64_t tstart, t = cf->machine == EM_ARM ? (target & ~1ull) : target;
        if (!ops->function_at(ops->arg, t, &tstart) && !ops->in_module(ops->arg, t))
            return false;
    }
    return true;
}

static uint64_t strip(const struct core_file *cf, uint64_t pc)
{
    return cf->machine == EM_ARM ? (pc & ~1ull) : pc;
}

/* Read one frame record at fp for this machine.  Layouts tried in order; the first
 * whose return address validates wins. */
static bool fp_record(const struct core_file *cf, const struct fb_ops *ops, uint64_t fp,
                      uint64_t *next, uint64_t *ret)
{
    unsigned w = cf->is64 ? 8 : 4;
    struct layout { int64_t next_off, ret_off; } lay[2];
    size_t nlay = 0;
    switch (cf->machine) {
    case EM_X86_64: case EM_386: case EM_AARCH64:
        lay[nlay++] = (struct layout){ 0, w };
        break;
    case EM_RISCV:      /* fp is the CFA; ra and the caller's fp sit just below */
        lay[nlay++] = (struct layout){ -2 * (int64_t)w, -(int64_t)w };
        break;
    case EM_ARM:        /* GCC ARM mode: fp points at the saved lr; AAPCS frame record */
        lay[nlay++] = (struct layout){ -4, 0 };
        lay[nlay++] = (struct layout){ 0, 4 };
        break;
    default:
        return false;
    }
    for (size_t i = 0; i < nlay; i++) {
        uint64_t n, r;
        if (!core_read_word(cf, fp + (uint64_t)lay[i].next_off, &n) ||
            !core_read_word(cf, fp + (uint64_t)lay[i].ret_off, &r))
            continue;
        if (n != 0 && n <= fp)
            continue;
        if (!fb_valid_return(cf, ops, r))
            continue;
        *next = n;
        *ret = r;
        return true;
    }
    return false;
}

size_t fb_unwind(const struct core_file *cf, const struct sym_regset *rs, const uint8_t *regs,
                 const struct fb_ops *ops, struct fb_frame *out, size_t max)
{
    if (max == 0)
        return 0;
    unsigned w = rs->word;
    uint64_t pc = reg_get(cf, rs, regs, rs->pc);
    uint64_t sp = reg_get(cf, rs, regs, rs->sp);
    int fp_idx = rs->fp;
    if (cf->machine == EM_ARM && (reg_get(cf, rs, regs, 16) & 0x20))
        fp_idx = 7;         /* Thumb code keeps its frame pointer in r7 */
    uint64_t fp = reg_get(cf, rs, regs, fp_idx);
    size_t n = 0;
    out[n++] = (struct fb_frame){ strip(cf, pc), SYM_HOW_INITIAL };

    /* With a link register, a leaf function's caller is only in lr.  An lr that returns
     * into the faulting function itself is stale (left by an earlier call). */
    bool used_lr = false;
    if (rs->lr >= 0 && n < max) {
        uint64_t lr = reg_get(cf, rs, regs, rs->lr);
        uint64_t fs, ls;
        if (fb_valid_return(cf, ops, lr) &&
            !(ops->function_at(ops->arg, strip(cf, pc), &fs) &&
              ops->function_at(ops->arg, strip(cf, lr) - 1, &ls) && fs == ls)) {
            out[n++] = (struct fb_frame){ strip(cf, lr), SYM_HOW_FP };
            used_lr = true;
        }
    }

    uint64_t last = sp, cur = fp;
    size_t fp_frames = 0;
    bool leaf_skip = used_lr;
    while (n < max && cur != 0 && cur >= last && cur - last <= FB_MAX_FRAME_STEP && cur % w == 0) {
        uint64_t next, ret;
        if (!fp_record(cf, ops, cur, &next, &ret)) {
            /* A leaf that saved only fp: its record holds just the caller's fp. */
            uint64_t n2;
            int64_t off = cf->machine == EM_RISCV ? -(int64_t)w : 0;
            if (leaf_skip && core_read_word(cf, cur + (uint64_t)off, &n2) && n2 > cur) {
                leaf_skip = false;
                last = cur;
                cur = n2;
                continue;
            }
            break;
        }
        leaf_skip = false;
        /* A non-leaf frame 0 that has not called yet saved the lr we already used. */
        if (!(used_lr && fp_frames == 0 && n == 2 && strip(cf, ret) == out[1].pc))
            out[n++] = (struct fb_frame){ strip(cf, ret), SYM_HOW_FP };
        fp_frames++;
        last = cur;
        cur = next;
    }
    if (fp_frames > 0)
        return n;

    /* No usable frame-pointer chain: scan the stack for validated return addresses.
     * Stacks hold stale return addresses of calls that already returned; a direct
     * call must therefore call the function of the frame found before it (PLT stubs
     * and indirect calls cannot be checked and pass).  The first frame is exempt: the
     * innermost function is often reached through a tail call or an inlined wrapper. */
    uint64_t prev_start = 0;
    bool have_prev = ops->function_at(ops->arg, out[n - 1].pc - (n > 1 ? 1 : 0), &prev_start);
    size_t first_scan = n;
    for (uint64_t i = 0, a = sp - sp % w; i < FB_SCAN_WORDS && n < max; i++, a += w) {
        uint64_t v, target, tstart, start;
        if (!core_read_word(cf, a, &v))
            break;
        if (v == 0 || !fb_valid_return(cf, ops, v))
            continue;
        if (strip(cf, v) == out[n - 1].pc)
            continue;
        if (n > first_scan && have_prev && call_before(cf, ops, v, &target) && target != 0 &&
            ops->function_at(ops->arg, strip(cf, target), &tstart) && tstart != prev_start)
            continue;
        out[n++] = (struct fb_frame){ strip(cf, v), SYM_HOW_SCAN };
        have_prev = ops->function_at(ops->arg, strip(cf, v) - 1, &start);
        prev_start = start;
    }
    return n;
}
