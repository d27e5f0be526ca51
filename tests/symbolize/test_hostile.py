"""Hostile cores never crash or hang corecast-symbolize: each ends in JSON or one clear error line.

The cores are made by mutating a real core; the program under test is the
AddressSanitizer/UBSan build, so memory errors fail the test even when they would
not crash a normal build."""
import json
import os
import random
import struct
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import corecraft  # noqa: E402

ASAN = corecraft.TBIN / "corecast-symbolize-asan"
HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def real_core(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    exe = corecraft.build("x86_64", d)
    core = corecraft.crash("x86_64", exe, d / "run")
    return core.read_bytes()


def ehdr(b):
    """(phoff, phentsize, phnum) of an ELF64 little-endian file."""
    return struct.unpack_from("<Q", b, 32)[0], *struct.unpack_from("<HH", b, 54)


def phdrs(b):
    phoff, ent, num = ehdr(b)
    return [(phoff + i * ent, struct.unpack_from("<IIQQQQQQ", b, phoff + i * ent)) for i in range(num)]


def note_phdr(b):
    return next((off, ph) for off, ph in phdrs(b) if ph[0] == 4)  # PT_NOTE


def notes(b):
    """(offset of the note header, type) of each note in the PT_NOTE segment."""
    _, ph = note_phdr(b)
    pos, end, out = ph[2], ph[2] + ph[5], []
    while pos + 12 <= end:
        namesz, descsz, ntype = struct.unpack_from("<III", b, pos)
        out.append((pos, ntype))
        pos += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    return out


def mutate(core, name):
    b = bytearray(core)
    if name.startswith("truncated-"):
        n = {"truncated-0": 0, "truncated-ident": 10, "truncated-ehdr": 63,
             "truncated-phdrs": ehdr(b)[0] + 100, "truncated-notes": note_phdr(b)[1][2] + 200,
             "truncated-half": len(b) // 2}[name]
        return bytes(b[:n])
    if name == "note-descsz-huge":
        off, _ = notes(b)[0]
        struct.pack_into("<I", b, off + 4, 0xfffffff0)
    elif name == "note-namesz-huge":
        off, _ = notes(b)[1]
        struct.pack_into("<I", b, off, 0xffffffff)
    elif name == "nt-file-count-huge":
        off, _ = next(n for n in notes(b) if n[1] == 0x46494c45)    # NT_FILE
        namesz = struct.unpack_from("<I", b, off)[0]
        desc = off + 12 + ((namesz + 3) & ~3)
        struct.pack_into("<QQ", b, desc, 0x7fffffffffffffff, 0x1000)
    elif name == "prstatus-short":
        off, _ = next(n for n in notes(b) if n[1] == 1)
        struct.pack_into("<I", b, off + 4, 16)
    elif name == "notes-past-eof":
        off, ph = note_phdr(b)
        struct.pack_into("<Q", b, off + 8, len(b) + 4096)
    elif name == "notes-size-past-eof":
        off, ph = note_phdr(b)
        struct.pack_into("<Q", b, off + 32, len(b))
    elif name == "phdrs-past-eof":
        struct.pack_into("<Q", b, 32, len(b) - 8)
    elif name == "phentsize-bogus":
        struct.pack_into("<H", b, 54, 7)
    elif name in ("phnum-65535", "phnum-65535-xnum"):
        # A table of 65535 headers: the real ones, then loads that overlap everything.
        table = bytearray()
        for _, ph in phdrs(b):
            table += struct.pack("<IIQQQQQQ", *ph)
        i = 0
        while len(table) < 65535 * 56:
            table += struct.pack("<IIQQQQQQ", 1, 5, 0x1000, 0x400000 + i * 0x1000, 0, 0x1000,
                                 0x10000000, 0x1000)
            i += 1
        struct.pack_into("<Q", b, 32, len(b))
        struct.pack_into("<H", b, 56, 65535)
        b += table
        if name == "phnum-65535-xnum":
            # Extended numbering as the ELF spec has it: e_phnum = PN_XNUM and the
            # real count in section header 0's sh_info.
            struct.pack_into("<Q", b, 40, len(b))        # e_shoff
            struct.pack_into("<HHH", b, 58, 64, 1, 0)    # e_shentsize, e_shnum, e_shstrndx
            b += struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, 65535, 0, 0)
    elif name == "phnum-xnum-no-sections":
        struct.pack_into("<H", b, 56, 0xffff)
        struct.pack_into("<Q", b, 40, 0)
    elif name == "machine-unknown":
        struct.pack_into("<H", b, 18, 0x1234)
    elif name == "not-core":
        struct.pack_into("<H", b, 16, 2)
    elif name == "loads-past-eof":
        for off, ph in phdrs(b):
            if ph[0] == 1:
                struct.pack_into("<Q", b, off + 8, len(b) + 0x100000)
    elif name.startswith("noise-"):
        rnd = random.Random(int(name.split("-")[1]))
        _, ph = note_phdr(b)
        for _ in range(64):
            b[ph[2] + rnd.randrange(ph[5])] = rnd.randrange(256)
    else:
        raise ValueError(name)
    return bytes(b)


CASES = ["truncated-0", "truncated-ident", "truncated-ehdr", "truncated-phdrs",
         "truncated-notes", "truncated-half", "note-descsz-huge", "note-namesz-huge",
         "nt-file-count-huge", "prstatus-short", "notes-past-eof", "notes-size-past-eof",
         "phdrs-past-eof", "phentsize-bogus", "phnum-65535", "phnum-65535-xnum", "phnum-xnum-no-sections",
         "machine-unknown", "not-core", "loads-past-eof"] + [f"noise-{i}" for i in range(12)]

# Cases that cannot be symbolized at all: they must be refused with a reason.
MUST_FAIL = {"truncated-0", "truncated-ident", "truncated-ehdr", "truncated-phdrs",
             "note-descsz-huge", "note-namesz-huge", "prstatus-short", "notes-past-eof",
             "notes-size-past-eof", "phdrs-past-eof", "phentsize-bogus",
             "phnum-xnum-no-sections", "machine-unknown", "not-core"}


@pytest.mark.parametrize("case", CASES)
def test_hostile_core_is_refused_cleanly_or_symbolized(real_core, tmp_path, case):
    path = tmp_path / f"{case}.core"
    path.write_bytes(mutate(real_core, case))
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
               LSAN_OPTIONS=f"suppressions={HERE}/lsan.supp", UBSAN_OPTIONS="halt_on_error=1:exitcode=98")
    p = corecraft.symbolize(path, binary=ASAN, env=env, timeout=60)
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr[-3000:]
    assert p.returncode in (0, 1), (p.returncode, p.stderr[-3000:])
    if p.returncode == 1:
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("corecast-symbolize: ") and path.name in lines[0], lines
        assert p.stdout == ""
    else:
        doc = json.loads(p.stdout)
        assert doc["version"] == 1 and doc["threads"]
    if case in MUST_FAIL:
        assert p.returncode == 1


def test_hostile_cores_in_one_long_lived_worker_leave_it_serving(real_core, tmp_path):
    """Every hostile core through one --serve worker (ASan/UBSan build) interleaved
    with the real core: each hostile one is its own record, the worker survives
    them all, and its cache still gives the real core's exact result afterwards."""
    good = tmp_path / "good.core"
    good.write_bytes(real_core)
    lines, expect = [], {}
    for n, case in enumerate(CASES):
        path = tmp_path / f"{case}.core"
        path.write_bytes(mutate(real_core, case))
        lines.append(f"job {2 * n + 1} {path}\n")
        lines.append(f"job {2 * n + 2} {good}\n")
        expect[2 * n + 1] = case
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
               LSAN_OPTIONS=f"suppressions={HERE}/lsan.supp", UBSAN_OPTIONS="halt_on_error=1:exitcode=98")
    p = subprocess.run([str(ASAN), "--serve"], input="".join(lines).encode(), env=env,
                       capture_output=True, timeout=600)
    err = p.stderr.decode(errors="replace")
    assert "Sanitizer" not in err and "runtime error" not in err, err[-3000:]
    assert p.returncode == 0, err[-3000:]
    out, pos, recs = p.stdout, 0, {}
    while pos < len(out):
        nl = out.index(b"\n", pos)
        kind, ident, length = out[pos:nl].decode().split(" ")
        recs[int(ident)] = (kind, out[nl + 1:nl + 1 + int(length)].decode())
        pos = nl + 1 + int(length)
    assert sorted(recs) == list(range(1, 2 * len(CASES) + 1))
    one = corecraft.symbolize(good, binary=ASAN, env=env, timeout=60)
    want = json.loads(one.stdout)
    for ident, (kind, body) in recs.items():
        if ident in expect:
            if expect[ident] in MUST_FAIL:
                assert kind == "fail" and body, (expect[ident], body)
        else:
            assert kind == "ok", body
            assert json.loads(body)["threads"] == want["threads"], ident
