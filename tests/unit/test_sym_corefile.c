/* Unit tests for the bounds-checked core reader (collector/symbolize/corefile.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/symbolize/corefile.h"

/* A little builder for ELF64 little-endian x86_64 cores in a static buffer. */
static uint8_t buf[65536];
static size_t len;

static void put(size_t off, uint64_t v, size_t w)
{
    for (size_t i = 0; i < w; i++)
        buf[off + i] = (uint8_t)(v >> (8 * i));
}

static size_t add_note(size_t off, uint32_t type, const void *desc, uint32_t descsz)
{
    put(off, 5, 4);
    put(off + 4, descsz, 4);
    put(off + 8, type, 4);
    memcpy(buf + off + 12, "CORE\0\0\0", 8);
    memcpy(buf + off + 20, desc, descsz);
    return off + 20 + ((descsz + 3) & ~3u);
}

/* Two threads (tids 41 and 42, signal 11), auxv with AT_ENTRY, and two adjacent
 * loads given out of address order; the second load is only partly dumped. */
static void make_core(void)
{
    memset(buf, 0, sizeof buf);
    memcpy(buf, ELFMAG, SELFMAG);
    buf[EI_CLASS] = ELFCLASS64;
    buf[EI_DATA] = ELFDATA2LSB;
    buf[EI_VERSION] = EV_CURRENT;
    put(16, ET_CORE, 2);
    put(18, EM_X86_64, 2);
    put(32, 64, 8);             /* e_phoff */
    put(54, 56, 2);             /* e_phentsize */
    put(56, 3, 2);              /* e_phnum */
    size_t notes = 1024, p = notes;
    uint8_t prs[336] = { 0 };
    for (int t = 0; t < 2; t++) {
        memset(prs, 0, sizeof prs);
        prs[12] = 11;                       /* pr_cursig */
        prs[32] = (uint8_t)(41 + t);        /* pr_pid */
        prs[112 + 16 * 8] = 0xaa;           /* rip */
        p = add_note(p, NT_PRSTATUS, prs, sizeof prs);
    }
    uint8_t auxv[48] = { 0 };
    auxv[0] = AT_ENTRY;
    auxv[8] = 0x34;
    auxv[9] = 0x12;
    p = add_note(p, NT_AUXV, auxv, sizeof auxv);
    size_t notes_len = p - notes;
    /* PT_NOTE */
    put(64, PT_NOTE, 4);
    put(64 + 8, notes, 8);
    put(64 + 32, notes_len, 8);
    /* PT_LOAD at 0x2000 (second in address order), half dumped */
    put(120, PT_LOAD, 4);
    put(120 + 8, 8192, 8);
    put(120 + 16, 0x2000, 8);
    put(120 + 32, 0x800, 8);
    put(120 + 40, 0x1000, 8);
    /* PT_LOAD at 0x1000 */
    put(176, PT_LOAD, 4);
    put(176 + 8, 4096, 8);
    put(176 + 16, 0x1000, 8);
    put(176 + 32, 0x1000, 8);
    put(176 + 40, 0x1000, 8);
    for (int i = 0; i < 4096; i++)
        buf[4096 + i] = (uint8_t)i;
    for (int i = 0; i < 0x800; i++)
        buf[8192 + i] = (uint8_t)(0x80 + i);
    len = 8192 + 0x800;
}

static void test_parses_threads_segments_and_auxv(void **state)
{
    (void)state;
    struct core_file cf;
    make_core();
    assert_int_equal(core_parse(&cf, buf, len), CORE_OK);
    assert_int_equal(cf.nthreads, 2);
    assert_int_equal(cf.threads[0].tid, 41);
    assert_int_equal(cf.threads[1].tid, 42);
    assert_int_equal(cf.threads[0].signal, 11);
    assert_int_equal(core_get(&cf, cf.threads[0].regs + 16 * 8, 8), 0xaa);
    assert_int_equal(cf.nsegs, 2);
    assert_true(cf.segs[0].vaddr < cf.segs[1].vaddr);
    uint64_t v;
    assert_true(core_auxv(&cf, AT_ENTRY, &v));
    assert_int_equal(v, 0x1234);
    assert_false(core_auxv(&cf, AT_PHDR, &v));
    free(cf.segs);
    free(cf.threads);
}

static void test_reads_across_segments_but_not_undumped_bytes(void **state)
{
    (void)state;
    struct core_file cf;
    make_core();
    assert_int_equal(core_parse(&cf, buf, len), CORE_OK);
    uint8_t b[8];
    /* 0x1ffc..0x2003 spans the boundary of two adjacent loads */
    assert_true(core_read(&cf, 0x1ffc, b, 8));
    assert_int_equal(b[0], (uint8_t)0xffc);
    assert_int_equal(b[4], 0x80);
    /* 0x2800.. lies inside memsz but past filesz: not dumped */
    assert_false(core_read(&cf, 0x27fc, b, 8));
    assert_false(core_read(&cf, 0x500, b, 1));
    assert_false(core_read(&cf, 0xffffffffffffffffull, b, 1));
    free(cf.segs);
    free(cf.threads);
}

static void expect_error(enum core_err want)
{
    struct core_file cf;
    enum core_err e = core_parse(&cf, buf, len);
    free(cf.segs);
    free(cf.threads);
    assert_int_equal(e, want);
}

static void test_refuses_truncated_headers(void **state)
{
    (void)state;
    make_core();
    len = 40;
    expect_error(CORE_E_TRUNCATED);
    make_core();
    len = 100;          /* phdr table runs past the end */
    expect_error(CORE_E_TRUNCATED);
    make_core();
    len = 3;
    expect_error(CORE_E_NOT_ELF);
}

static void test_refuses_note_sizes_past_segment(void **state)
{
    (void)state;
    make_core();
    put(1024 + 4, 0xfffffff0u, 4);     /* first note's descsz */
    expect_error(CORE_E_BAD_NOTES);
    make_core();
    put(1024, 0xffffffffu, 4);          /* namesz */
    expect_error(CORE_E_BAD_NOTES);
    make_core();
    put(64 + 8, 1u << 30, 8);           /* PT_NOTE offset past EOF */
    expect_error(CORE_E_BAD_NOTES);
    make_core();
    put(1024 + 4, 40, 4);               /* prstatus shorter than its register set */
    expect_error(CORE_E_BAD_NOTES);
}

static void test_extended_phnum_is_read_from_section_zero(void **state)
{
    (void)state;
    struct core_file cf;
    make_core();
    put(56, PN_XNUM, 2);
    put(40, 60000, 8);                  /* e_shoff -> section header 0 */
    put(60000 + 44, 3, 4);              /* sh_info = real phnum */
    len = 60000 + 64;
    assert_int_equal(core_parse(&cf, buf, len), CORE_OK);
    assert_int_equal(cf.nthreads, 2);
    free(cf.segs);
    free(cf.threads);
    put(60000 + 44, 1000000, 4);        /* absurd count */
    expect_error(CORE_E_BAD_PHDRS);
    put(40, 0, 8);                      /* PN_XNUM without sections */
    expect_error(CORE_E_TRUNCATED);
}

static void test_refuses_non_core_and_unknown_machine(void **state)
{
    (void)state;
    make_core();
    put(16, ET_EXEC, 2);
    expect_error(CORE_E_NOT_CORE);
    make_core();
    put(18, 0x4242, 2);
    expect_error(CORE_E_MACHINE);
    make_core();
    put(64 + 32, 0, 8);                 /* empty note segment: no threads */
    expect_error(CORE_E_NO_THREADS);
}

/* Notes placed past the first MiB: core_open reads a longer prefix, and reads process
 * memory from the file, not from its in-memory prefix. */
static void test_open_reads_notes_past_first_mib_and_memory_by_pread(void **state)
{
    (void)state;
    make_core();
    const uint64_t far = 3u << 20;
    size_t notes_len = 0;
    for (size_t p = 1024; p < 4096 && buf[p + 8]; p += 20 + ((buf[p + 4] | buf[p + 5] << 8) + 3u) / 4 * 4)
        notes_len = p + 20 + ((buf[p + 4] | buf[p + 5] << 8) + 3u) / 4 * 4 - 1024;
    char path[] = "/tmp/test_sym_corefile.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    put(64 + 8, far, 8);                                /* PT_NOTE offset */
    assert_int_equal(pwrite(fd, buf, len, 0), (ssize_t)len);
    assert_int_equal(pwrite(fd, buf + 1024, notes_len, (off_t)far), (ssize_t)notes_len);
    close(fd);
    struct core_file cf;
    enum core_err e = core_open(&cf, path);
    unlink(path);
    assert_int_equal(e, CORE_OK);
    assert_int_equal(cf.nthreads, 2);
    assert_true(cf.map_len >= far);
    uint8_t b[4];
    assert_true(core_read(&cf, 0x2000, b, 4));
    assert_int_equal(b[0], 0x80);
    core_close(&cf);
    assert_int_equal(core_open(&cf, "/nonexistent/core"), CORE_E_OPEN);
    core_close(&cf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_threads_segments_and_auxv),
        cmocka_unit_test(test_reads_across_segments_but_not_undumped_bytes),
        cmocka_unit_test(test_refuses_truncated_headers),
        cmocka_unit_test(test_refuses_note_sizes_past_segment),
        cmocka_unit_test(test_extended_phnum_is_read_from_section_zero),
        cmocka_unit_test(test_refuses_non_core_and_unknown_machine),
        cmocka_unit_test(test_open_reads_notes_past_first_mib_and_memory_by_pread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
