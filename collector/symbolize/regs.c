/* Register names and roles in each machine's NT_PRSTATUS general register set. */
#include "collector/symbolize/regs.h"

#include <elf.h>

/* Orders are the kernels' user_regs_struct / elf_gregset_t layouts. */
static const char *const x86_64_names[] = {
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
    "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base",
    "gs_base", "ds", "es", "fs", "gs",
};
static const char *const i386_names[] = {
    "ebx", "ecx", "edx", "esi", "edi", "ebp", "eax", "ds", "es", "fs", "gs",
    "orig_eax", "eip", "cs", "eflags", "esp", "ss",
};
static const char *const arm_names[] = {
    "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "fp", "ip",
    "sp", "lr", "pc", "cpsr", "orig_r0",
};
static const char *const aarch64_names[] = {
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12",
    "x13", "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24",
    "x25", "x26", "x27", "x28", "fp", "lr", "sp", "pc", "pstate",
};
static const char *const riscv_names[] = {
    "pc", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3",
    "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
    "t3", "t4", "t5", "t6",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct sym_regset sets[] = {
    { EM_X86_64, "x86_64", 8, x86_64_names, N(x86_64_names), 16, 19, 4, -1 },
    { EM_386, "i386", 4, i386_names, N(i386_names), 12, 15, 5, -1 },
    { EM_ARM, "arm", 4, arm_names, N(arm_names), 15, 13, 11, 14 },
    { EM_AARCH64, "aarch64", 8, aarch64_names, N(aarch64_names), 32, 31, 29, 30 },
    { EM_RISCV, "riscv64", 8, riscv_names, N(riscv_names), 0, 2, 8, 1 },
    { EM_RISCV, "riscv32", 4, riscv_names, N(riscv_names), 0, 2, 8, 1 },
};

const struct sym_regset *sym_regset_for(uint16_t machine, int is64)
{
    for (size_t i = 0; i < N(sets); i++)
        if (sets[i].machine == machine && (machine != EM_RISCV || (sets[i].word == 8) == !!is64))
            return &sets[i];
    return NULL;
}
