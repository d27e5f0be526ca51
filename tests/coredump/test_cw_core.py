"""Core writer end to end: synthetic processes per arch -> core -> gdb-multiarch / eu-readelf."""
import json
import os
import pathlib
import re
import shutil
import struct
import subprocess

import pytest

import cw_elfcore as elfcore
# Paths computed here: another suite's conftest.py may be the "conftest" module.
ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = ROOT / "build" / "bin"
TBIN = ROOT / "build" / "tests"

MKCORE = TBIN / "cw_mkcore"
ARCHES = ["riscv64", "aarch64", "armv7a", "ia32", "x86_64"]

# Linux pr_reg order, as GDB names the registers (an independent statement of the
# layouts the writer must produce).
GREGS = {
    "riscv64": ["pc", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1"]
               + ["a%d" % i for i in range(8)] + ["s%d" % i for i in range(2, 12)]
               + ["t3", "t4", "t5", "t6"],
    "aarch64": ["x%d" % i for i in range(31)] + ["sp", "pc", "cpsr"],
    "armv7a": ["r%d" % i for i in range(13)] + ["sp", "lr", "pc", "cpsr", None],
    "ia32": ["ebx", "ecx", "edx", "esi", "edi", "ebp", "eax", "ds", "es", "fs", "gs", None,
             "eip", "cs", "eflags", "esp", "ss"],
    "x86_64": ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
               "rdx", "rsi", "rdi", None, "rip", "cs", "eflags", "rsp", "ss", "fs_base",
               "gs_base", "ds", "es", "fs", "gs"],
}
# Registers cw_mkcore sets to fixed values instead of the pattern.
FIXED = {
    "aarch64": {"cpsr": 0x20000000},
    "armv7a": {"cpsr": 0x60000010},
    "ia32": {"ds": 0x2B, "es": 0x2B, "ss": 0x2B, "fs": 0, "gs": 0x63, "cs": 0x23, "eflags": 0x246},
    "x86_64": {"cs": 0x33, "ss": 0x2B, "ds": 0, "es": 0, "fs": 0, "gs": 0, "eflags": 0x246},
}
SP_PC = {"riscv64": ("sp", "pc"), "aarch64": ("sp", "pc"), "armv7a": ("sp", "pc"),
         "ia32": ("esp", "eip"), "x86_64": ("rsp", "rip")}


def reg_val(t, r):
    return 0x10000000 + t * 0x100000 + r * 0x111


def mem_word(a):
    return ((a * 2654435761) & 0xFFFFFFFF) ^ 0xC0DEC0DE


def fp_val(t, i):
    return i + 0.5 + 100.0 * t


def mkcore(tmp_path, arch, *args, name="c.core"):
    out = tmp_path / name
    p = subprocess.run([str(MKCORE), "--arch", arch, "-o", str(out), *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return out, json.loads(p.stdout)


def gdb(*cmds, exe=None, core=None, timeout=120):
    argv = ["gdb-multiarch", "-batch", "-nx"]
    if exe:
        argv.append(str(exe))
    if core:
        argv += ["-ex", "core-file %s" % core]
    for c in cmds:
        argv += ["-ex", c]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return p.stdout + p.stderr


def split_marks(out):
    parts = {}
    for chunk in out.split("@@")[1:]:
        key, _, body = chunk.partition("\n")
        parts[key.strip()] = body
    return parts


def fp_commands(arch):
    """GDB expressions and the function of thread index t each must equal."""
    if arch == "riscv64":
        return [("p $ft1", lambda t: fp_val(t, 1)), ("p $fa0", lambda t: fp_val(t, 10)),
                ("p $ft11", lambda t: fp_val(t, 31)), ("p/x $fcsr", lambda t: 0x20 + t)]
    if arch == "aarch64":
        return [("p $d1.f", lambda t: fp_val(t, 1)), ("p $d31.f", lambda t: fp_val(t, 31)),
                ("p/x $v2.d.u[1]", lambda t: 0x0303030303030303), ("p/x $fpsr", lambda t: 0x10 + t)]
    if arch == "armv7a":
        return [("p $d1", lambda t: fp_val(t, 1)), ("p $d31", lambda t: fp_val(t, 31)),
                ("p/x $fpscr", lambda t: 0x03000000 + t)]
    cmds = [("p $st0", lambda t: fp_val(t, 0)), ("p $st7", lambda t: fp_val(t, 7)),
            ("p $xmm1.v2_double[0]", lambda t: fp_val(t, 1)), ("p/x $mxcsr", lambda t: 0x1F80 | t)]
    if arch == "x86_64":
        cmds.append(("p $xmm15.v2_double[0]", lambda t: fp_val(t, 15)))
    return cmds


def parse_value(line):
    m = re.search(r"=\s*(.*)$", line)
    v = m.group(1).strip() if m else line.strip()
    m = re.search(r"double = ([-0-9.e+]+)", v)
    if m:
        return float(m.group(1))
    if v.startswith("0x"):
        return int(v, 16)
    return float(v)


@pytest.mark.parametrize("arch", ARCHES)
def test_gdb_shows_registers_fp_threads_and_stack(tmp_path, arch):
    core, info = mkcore(tmp_path, arch)
    threads = info["threads"]
    assert len(threads) == 3
    cmds = ["echo @@threads\\n", "info threads"]
    fps = fp_commands(arch)
    for k in range(len(threads)):
        cmds += ["thread %d" % (k + 1), "echo @@regs%d\\n" % k, "info registers"]
        for i, (expr, _) in enumerate(fps):
            cmds += ["echo @@fp%d_%d\\n" % (k, i), expr]
        cmds += ["echo @@mem%d\\n" % k, "x/4wx $%s" % SP_PC[arch][0]]
    out = gdb(*cmds, core=core)
    assert "Unexpected size" not in out, out
    parts = split_marks(out)
    assert len(re.findall(r"^\s*\*?\s*\d+\s+LWP \d+", parts["threads"], re.M)) == 3, parts["threads"]
    # the crashing thread is thread 1
    assert re.search(r"^\*\s+1\s+LWP %d\b" % threads[0]["tid"], parts["threads"], re.M)
    for k, th in enumerate(threads):
        t = th["index"]
        regs = {}
        for line in parts["regs%d" % k].splitlines():
            m = re.match(r"^(\w+)\s+(0x[0-9a-f]+)", line)
            if m:
                regs[m.group(1)] = int(m.group(2), 16)
        expect = {}
        for i, name in enumerate(GREGS[arch]):
            if name:
                expect[name] = reg_val(t, i)
        expect.update(FIXED.get(arch, {}))
        sp, pc = SP_PC[arch]
        expect[sp] = th["sp"]
        expect[pc] = th["pc"]
        if arch == "riscv64":
            expect.pop("pc")      # gdb prints pc symbolically; checked below
            assert regs["pc"] == th["pc"]
        for name, val in expect.items():
            if name in ("fs_base", "gs_base") and name not in regs:
                continue
            assert regs.get(name) == val, "%s thread %d %s: gdb %r want %#x" % (
                arch, k, name, regs.get(name), val)
        for i, (expr, fn) in enumerate(fps):
            got = parse_value(parts["fp%d_%d" % (k, i)].strip().splitlines()[-1])
            assert got == fn(t), "%s thread %d %s = %r, want %r" % (arch, k, expr, got, fn(t))
        if k == 0:   # default scope: only the crashing thread's stack is in the core
            memline = [l for l in parts["mem0"].splitlines() if re.match(r"^0x[0-9a-f]+:", l)][0]
            words = [int(x, 16) for x in re.findall(r"0x[0-9a-f]{8}\b", memline.split(":", 1)[1])]
            assert words == [mem_word(th["sp"] + 4 * i) for i in range(4)]


EXPECT_NOTES = {
    "riscv64": [("CORE", "FPREGSET")], "aarch64": [("CORE", "FPREGSET")],
    "armv7a": [("LINUX", "ARM_VFP")], "ia32": [("CORE", "FPREGSET"), ("LINUX", "PRXFPREG")],
    "x86_64": [("CORE", "FPREGSET")],
}


@pytest.mark.parametrize("arch", ARCHES)
def test_eu_readelf_parses_every_note(tmp_path, arch):
    core, info = mkcore(tmp_path, arch, "--scope", "all")
    p = subprocess.run(["eu-readelf", "-n", "-l", str(core)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "invalid" not in p.stdout.lower() and not p.stderr, p.stdout + p.stderr
    notes = re.findall(r"^  (\w+)\s+(\d+)\s+(\S+)", p.stdout, re.M)
    kinds = [(n, t) for n, _, t in notes]
    assert kinds.count(("CORE", "PRSTATUS")) == 3
    for fp in EXPECT_NOTES[arch]:
        assert kinds.count(fp) == 3, (fp, kinds)
    for t in ("PRPSINFO", "SIGINFO", "AUXV", "FILE"):
        assert kinds.count(("CORE", t)) == 1, (t, kinds)
    assert any(n == "CORECAST" for n, _ in kinds)
    # eu-readelf only decodes PRSTATUS/PRPSINFO whose size matches its own knowledge
    # of the arch, so decoded fields prove the layouts
    assert p.stdout.count("fpvalid: 1") == 3
    assert "fname: synth, psargs: synth --crash now" in p.stdout
    assert "fault address: 0x20010" in p.stdout
    assert "/usr/bin/synth" in p.stdout
    assert re.search(r"HWCAP: 0x[0-9a-f]+", p.stdout)
    # crashing thread first
    pids = re.findall(r"pid: (\d+), ppid: 1, pgrp: 4242", p.stdout)
    assert int(pids[0]) == info["threads"][0]["tid"] == 4243


def corecast_note(core):
    """Decode the CORECAST note as docs/core-format.md specifies it."""
    (n,) = core.notes_of(elfcore.NT_CORECAST)
    assert n["name"] == "CORECAST"
    d = n["desc"]
    ver, nimg, up, tm = struct.unpack_from("<IIQQ", d, 0)
    boot = d[24:40]
    signo, code, addr, pid, tid, hasaddr, seq = struct.unpack_from("<IiQIIII", d, 40)
    pos = 72
    strs = []
    for _ in range(4):
        (ln,) = struct.unpack_from("<H", d, pos)
        strs.append(d[pos + 2:pos + 2 + ln].decode())
        pos += 2 + ln
    images = []
    for _ in range(nimg):
        bl = d[pos]
        bid = d[pos + 1:pos + 1 + bl].hex()
        (base,) = struct.unpack_from("<Q", d, pos + 1 + bl)
        pos += 9 + bl
        (ln,) = struct.unpack_from("<H", d, pos)
        images.append((d[pos + 2:pos + 2 + ln].decode(), base, bid))
        pos += 2 + ln
    assert pos == len(d)
    return dict(version=ver, uptime=up, time=tm, boot=boot, signo=signo, code=code, addr=addr,
                pid=pid, tid=tid, hasaddr=hasaddr, seq=seq, device=strs[0], firmware=strs[1],
                cause=strs[2], exe=strs[3], images=images)


@pytest.mark.parametrize("arch", ["riscv64", "armv7a"])
def test_project_note_carries_device_and_build_ids(tmp_path, arch):
    core, _ = mkcore(tmp_path, arch)
    c = corecast_note(elfcore.load(core))
    assert c["version"] == 1
    assert (c["device"], c["firmware"], c["cause"], c["exe"]) == ("sensor-0042", "fw-1.2.3", "store page fault", "synth")
    assert c["boot"] == b"0123456789abcdef" and c["uptime"] == 123456789000
    assert (c["signo"], c["code"], c["addr"], c["pid"], c["tid"]) == (11, 1, 0x20010, 4242, 4243)
    assert c["hasaddr"] == 1 and c["seq"] == 7
    assert c["images"] == [("/usr/bin/synth", 0x10000, bytes(range(0xA0, 0xB4)).hex())]


# ---- memory scopes and caps ----------------------------------------------------------

STACK_LO = lambda t: 0x41000 + t * 0x10000
STACK_HI = lambda t: 0x49000 + t * 0x10000


def dumped_pages(core, lo, hi):
    return [a for a in range(lo, hi, 0x1000) if core.dumped(a)]


def test_scope_crash_stack_dumps_sp_to_top_plus_header_and_fault_pages(tmp_path):
    path, info = mkcore(tmp_path, "riscv64")
    c = elfcore.load(path)
    sp = info["threads"][0]["sp"]
    crash = info["threads"][0]["index"]
    assert dumped_pages(c, STACK_LO(crash), STACK_HI(crash)) == list(range(sp & ~0xFFF, STACK_HI(crash), 0x1000))
    for t in (0, 2):
        assert dumped_pages(c, STACK_LO(t), STACK_HI(t)) == []
    assert c.read(0x10000, 4) == b"\x7fELF"           # image header page: build-id travels
    assert c.dumped(0x20000) and not c.dumped(0x21000)  # just the fault page of the heap
    assert not c.dumped(0x11000) and not c.dumped(0x38000)
    assert info["mem_bytes"] == sum(p["filesz"] for p in c.loads())
    # every map has a PT_LOAD with its protections, whether dumped or not
    flags = {p["vaddr"]: p["flags"] for p in c.loads()}
    assert flags[0x10000] == 5 and flags[0x12000] == 6 and flags[0x20000] == 6 and flags[0x38000] == 4


def test_scope_all_stacks_writable_all(tmp_path):
    _, _ = mkcore(tmp_path, "aarch64")
    sizes = {}
    for scope in ("stacks", "writable", "all"):
        path, info = mkcore(tmp_path, "aarch64", "--scope", scope, name=scope)
        c = elfcore.load(path)
        for th in info["threads"]:
            t, sp = th["index"], th["sp"]
            assert dumped_pages(c, STACK_LO(t), STACK_HI(t))[0] == (sp & ~0xFFF if scope == "stacks" else STACK_LO(t))
        heap = dumped_pages(c, 0x20000, 0x30000)
        text = dumped_pages(c, 0x10000, 0x12000)
        ro = dumped_pages(c, 0x38000, 0x39000)
        if scope == "stacks":
            assert heap == [0x20000] and text == [0x10000] and ro == []
        elif scope == "writable":
            assert len(heap) == 16 and c.dumped(0x12000) and text == [0x10000] and ro == []
        else:
            assert len(heap) == 16 and len(text) == 2 and ro == [0x38000]
        for g in range(3):       # guard pages: never
            assert not c.dumped(STACK_LO(g) - 0x1000)
        sizes[scope] = info["mem_bytes"]
        w = c.read(0x20100, 4)
        assert w is None or struct.unpack("<I", w)[0] == mem_word(0x20100)
    assert sizes["stacks"] < sizes["writable"] < sizes["all"]


def test_stack_cap_keeps_the_pages_nearest_sp(tmp_path):
    path, info = mkcore(tmp_path, "x86_64", "--scope", "stacks", "--stack-cap", "4096")
    c = elfcore.load(path)
    for th in info["threads"]:
        t, sp = th["index"], th["sp"]
        assert dumped_pages(c, STACK_LO(t), STACK_HI(t)) == [sp & ~0xFFF]


def test_total_cap_bounds_memory_but_keeps_mandatory_pages(tmp_path):
    path, info = mkcore(tmp_path, "ia32", "--scope", "all", "--total-cap", str(8 * 4096))
    c = elfcore.load(path)
    assert info["mem_bytes"] <= 8 * 4096
    crash = info["threads"][0]
    assert c.dumped(crash["sp"]) and c.read(0x10000, 4) == b"\x7fELF" and c.dumped(0x20010)
    # a cap smaller than the mandatory pages still writes them
    path, info = mkcore(tmp_path, "ia32", "--scope", "all", "--total-cap", "4096", name="tiny")
    c = elfcore.load(path)
    assert c.dumped(info["threads"][0]["sp"]) and c.dumped(0x10000) and c.dumped(0x20010)
    assert not c.dumped(0x38000)


def test_thread_cap_keeps_crashing_thread_first(tmp_path):
    path, info = mkcore(tmp_path, "armv7a", "--threads", "6", "--thread-cap", "2")
    assert [t["tid"] for t in info["threads"]] == [4243, 4242]
    out = gdb("info threads", core=path)
    assert len(re.findall(r"^\*?\s+\d+\s+LWP \d+", out, re.M)) == 2, out
    c = elfcore.load(path)
    assert len(c.notes_of(elfcore.NT_PRSTATUS)) == 2 and len(c.notes_of(elfcore.NT_ARM_VFP)) == 2


def test_stack_overflow_dumps_whole_stack_mapping(tmp_path):
    path, info = mkcore(tmp_path, "riscv64", "--overflow")
    c = elfcore.load(path)
    crash = info["threads"][0]
    assert crash["sp"] == STACK_LO(crash["index"]) - 0x10      # SP in the guard page
    assert len(dumped_pages(c, STACK_LO(crash["index"]), STACK_HI(crash["index"]))) == 8
    assert not c.dumped(crash["sp"])
    path, info = mkcore(tmp_path, "riscv64", "--overflow", "--stack-cap", "8192", name="capped")
    c = elfcore.load(path)
    lo = STACK_LO(info["threads"][0]["index"])
    assert dumped_pages(c, lo, lo + 0x8000) == [lo, lo + 0x1000]   # the end SP ran into


def test_unreadable_fault_page_is_left_out(tmp_path):
    path, _ = mkcore(tmp_path, "riscv64", "--fault", "0x20010", "--unreadable", "20000:21000")
    c = elfcore.load(path)
    assert not c.dumped(0x20000)
    path, _ = mkcore(tmp_path, "riscv64", "--fault", "0x0", name="null")
    c = elfcore.load(path)
    assert not any(c.dumped(a) for a in range(0x20000, 0x30000, 0x1000))


def test_sha256_is_of_the_streamed_core(tmp_path):
    import hashlib
    path, info = mkcore(tmp_path, "aarch64", "--scope", "all")
    data = path.read_bytes()
    assert len(data) == info["size"]
    assert hashlib.sha256(data).hexdigest() == info["sha256"]


# ---- a real call chain on the host -----------------------------------------------------

def test_live_x86_64_process_unwinds_in_gdb(tmp_path):
    path, info = mkcore(tmp_path, "x86_64", "--live", "--scope", "stacks")
    out = gdb("bt", "info threads", "thread 2", "bt", exe=MKCORE, core=path)
    frames = re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\w+)", out, re.M)
    i = frames.index("live_level3")
    assert frames[i:i + 4] == ["live_level3", "live_level2", "live_level1", "main"], out
    assert "live_blocked" in frames, out
    assert len(re.findall(r"^\*?\s+\d+\s+LWP \d+", out, re.M)) == 2
    # elfutils (the symbolizer's unwinder) walks the same chain, into libc for both threads
    p = subprocess.run(["eu-stack", "--core=%s" % path, "-e", str(MKCORE)], capture_output=True,
                       text=True, timeout=60)
    names = re.findall(r"^#\d+\s+0x[0-9a-f]+ (\w+)", p.stdout, re.M)
    i = names.index("live_level3")
    assert names[i:i + 4] == ["live_level3", "live_level2", "live_level1", "main"], p.stdout
    assert "__libc_start_call_main" in names and "start_thread" in names, p.stdout


# ---- compare with cores Linux and qemu-user write ----------------------------------------

CRASH_C = r"""
#include <pthread.h>
#include <unistd.h>
static void *spin(void *a) { (void)a; for (;;) pause(); return 0; }
int main(void) { pthread_t t; pthread_create(&t, 0, spin, 0); usleep(100000);
                 *(volatile int *)0 = 1; return 0; }
"""

REF = {
    "x86_64": (["gcc"], []),
    "ia32": (["i686-linux-gnu-gcc", "-static"], ["qemu-i386"]),
    "armv7a": (["arm-linux-gnueabihf-gcc", "-static"], ["qemu-arm"]),
    "aarch64": (["aarch64-linux-gnu-gcc", "-static"], ["qemu-aarch64"]),
}


_REF_CACHE = {}


def reference_core(tmp_path, arch):
    """A core of a crashed two-thread program written by Linux or qemu-user (made once per run)."""
    if arch not in _REF_CACHE:
        _REF_CACHE[arch] = _make_reference_core(tmp_path, arch)
    return _REF_CACHE[arch]


def _make_reference_core(tmp_path, arch):
    cc, runner = REF[arch]
    if not shutil.which(cc[0]) or (runner and not shutil.which(runner[0])):
        pytest.skip("%s toolchain not installed" % arch)
    d = tmp_path / ("ref_" + arch)
    d.mkdir()
    (d / "crash.c").write_text(CRASH_C)
    p = subprocess.run(cc + ["-O0", "-o", str(d / "crash"), str(d / "crash.c"), "-lpthread"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("%s cross C library missing: %s" % (arch, p.stderr.strip().splitlines()[-1:]))
    cmd = "ulimit -c unlimited; exec %s ./crash" % " ".join(runner)
    subprocess.run(["bash", "-c", cmd], cwd=d, capture_output=True, timeout=120)
    if runner:
        cores = [p for p in d.iterdir() if p.name.startswith("qemu_crash") and p.name.endswith(".core")]
        host = d / "core"          # qemu itself dies of the signal too; not ours to keep
        if host.exists():
            host.unlink()
    else:
        cores = [p for p in d.iterdir() if p.name == "core" or p.name.startswith("core.")]
    if not cores:
        pytest.skip("no core written (core_pattern is %s)" % open("/proc/sys/kernel/core_pattern").read().strip())
    return elfcore.load(cores[0])


@pytest.mark.parametrize("arch", ["x86_64", "ia32", "armv7a", "aarch64"])
def test_note_layout_matches_real_linux_core(tmp_path, arch):
    ref = reference_core(tmp_path, arch)
    path, info = mkcore(tmp_path, arch)
    ours = elfcore.load(path)
    assert (ours.cls, ours.machine, ours.flags) == (ref.cls, ref.machine, ref.flags)
    assert ref.type == ours.type == 4
    ref_sizes = {(n["name"], n["type"]): len(n["desc"]) for n in ref.notes}
    our_sizes = {(n["name"], n["type"]): len(n["desc"]) for n in ours.notes}
    common = set(ref_sizes) & set(our_sizes)
    assert ("CORE", elfcore.NT_PRSTATUS) in common and ("CORE", elfcore.NT_PRPSINFO) in common
    for k in common:
        if k[1] in (elfcore.NT_AUXV, elfcore.NT_FILE):
            continue                     # variable length by nature
        assert ref_sizes[k] == our_sizes[k], (k, ref_sizes[k], our_sizes[k])
    # the same fields at the same offsets: pr_pid of the first thread, pr_fname
    W = 8 if ours.is64 else 4
    pid_off = 16 + 2 * W
    r0 = ref.notes_of(elfcore.NT_PRSTATUS)[0]["desc"]
    o0 = ours.notes_of(elfcore.NT_PRSTATUS)[0]["desc"]
    assert struct.unpack_from("<h", r0, 12)[0] == 11 == struct.unpack_from("<h", o0, 12)[0]
    assert struct.unpack_from("<I", o0, pid_off)[0] == 4243
    assert struct.unpack_from("<I", r0, pid_off)[0] > 0
    fname_off = 40 if ours.is64 else 28
    rp = ref.notes_of(elfcore.NT_PRPSINFO)[0]["desc"]
    assert rp[fname_off:fname_off + 5] == b"crash"
    assert ours.notes_of(elfcore.NT_PRPSINFO)[0]["desc"][fname_off:fname_off + 5] == b"synth"
    # note order of the first thread's block: PRSTATUS then PRPSINFO, as Linux writes it
    assert [n["type"] for n in ours.notes[:2]] == [elfcore.NT_PRSTATUS, elfcore.NT_PRPSINFO]


@pytest.mark.parametrize("arch", ["x86_64", "ia32", "armv7a", "aarch64"])
def test_gdb_sees_the_same_general_registers_as_in_a_real_core(tmp_path, arch):
    ref = reference_core(tmp_path, arch)
    refpath = tmp_path / "ref.core"
    refpath.write_bytes(ref.data)
    ours, _ = mkcore(tmp_path, arch)

    def names(core):
        out = gdb("info registers", core=core)
        return [m.group(1) for m in re.finditer(r"^(\w+)\s+0x[0-9a-f]+", out, re.M)]

    ref_names, our_names = names(refpath), names(ours)
    assert len(ref_names) >= 16
    # qemu-user writes no FP notes, so GDB shows the FP status registers for ours only
    assert [n for n in our_names if n not in ("fpscr", "fpsr", "fpcr", "mxcsr")] == ref_names
