"""corecast-symbolize on real cores: native x86_64, and i386/armhf cores written by qemu-user."""
import json
import re
import resource
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import corecraft  # noqa: E402


# The line of the faulting store in the test program.
FAULT_LINE = 1 + next(i for i, l in enumerate(corecraft.PROG.read_text().splitlines())
                      if "*target = depth;" in l)


@pytest.fixture(scope="session")
def crashed(tmp_path_factory):
    """target -> (exe, core), each built and crashed once per session."""
    made = {}

    def get(target):
        if target not in made:
            d = tmp_path_factory.mktemp(f"sym-{target}")
            exe = corecraft.build(target, d)
            made[target] = (exe, corecraft.crash(target, exe, d / "run"))
        return made[target]
    return get


def run_json(core, *args, **kw):
    p = corecraft.symbolize(core, *args, **kw)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def named(funcs):
    """Drop trailing frames without a name: gdb prints them as ??, we as null."""
    funcs = list(funcs)
    while funcs and funcs[-1] in (None, "??"):
        funcs.pop()
    return funcs


@pytest.mark.parametrize("target", ["x86_64", "i386", "armhf", "aarch64"])
def test_crashing_thread_matches_gdb_and_every_thread_present(crashed, target):
    exe, core = crashed(target)
    doc = run_json(core, "--exe", exe)
    assert doc["version"] == 1
    assert doc["signal"] == 11
    threads = doc["threads"]
    first = threads[0]
    assert first["crashed"] and not any(t["crashed"] for t in threads[1:])
    assert first["tid"] == doc["crashed_tid"]
    ours = [f["function"] for f in first["frames"]]
    gdbs = corecraft.gdb_functions(target, exe, core)
    assert gdbs[:4] == ["level3", "level2", "level1", "crashing_worker"], gdbs
    assert named(ours) == named(gdbs), (ours, gdbs)
    assert sorted(t["tid"] for t in threads) == corecraft.gdb_thread_ids(target, exe, core)
    assert len(threads) == 4
    top = first["frames"][0]
    assert top["how"] == "initial" and top["file"].endswith("crash_threads.c")
    assert top["line"] == FAULT_LINE
    assert all(f["how"] in ("cfi", "fp", "scan") for f in first["frames"][1:])
    assert doc["symbols_missing"] is False
    pc_reg = {"x86_64": "rip", "i386": "eip", "armhf": "pc", "aarch64": "pc"}[target]
    assert doc["registers"][pc_reg] == top["pc"]
    mod = [m for m in doc["modules"] if m["build_id"] == corecraft.build_id(exe)]
    assert len(mod) == 1 and mod[0]["symbols"] == "found"
    assert top["build_id"] == corecraft.build_id(exe)


def test_qemu_core_symbolizes_where_eu_stack_reports_no_dwarf(crashed):
    exe, core = crashed("armhf")
    eu = subprocess.run(["eu-stack", "--core", str(core), "--exec", str(exe)],
                        capture_output=True, text=True, timeout=60)
    assert "No DWARF information found" in eu.stdout + eu.stderr
    assert "level3" not in eu.stdout
    doc = run_json(core, "--exe", exe)
    funcs = [f["function"] for f in doc["threads"][0]["frames"]]
    assert funcs[:4] == ["level3", "level2", "level1", "crashing_worker"]


@pytest.mark.parametrize("suffix", [".debug", ""])
def test_qemu_core_finds_executable_by_session_build_id_in_store(crashed, tmp_path, suffix):
    exe, core = crashed("armhf")
    store = tmp_path / "store"
    bid = corecraft.store_file(store, exe, suffix)
    doc = run_json(core, "--store", store, "--buildid", f"{bid}:crash_threads.armhf")
    frames = doc["threads"][0]["frames"]
    assert [f["function"] for f in frames[:3]] == ["level3", "level2", "level1"]
    assert frames[0]["build_id"] == bid and frames[0]["module"] == "crash_threads.armhf"


def test_qemu_core_without_symbols_keeps_pcs_and_flags_missing(crashed):
    exe, core = crashed("armhf")
    doc = run_json(core)
    assert doc["symbols_missing"] is True
    frames = doc["threads"][0]["frames"]
    assert frames[0]["function"] is None and frames[0]["how"] == "initial"
    assert int(frames[0]["pc"], 16) == int(doc["registers"]["pc"], 16)


def test_native_core_without_symbol_files_keeps_module_and_offset(crashed, tmp_path):
    """The executable is gone: frames name its module and build-id (read from the
    ELF headers dumped in the core) with module-relative offsets; then the file
    appears in the symbol store and the same core symbolizes fully."""
    exe0, _ = crashed("x86_64")
    exe = tmp_path / "gone"
    shutil.copy(exe0, exe)
    core = corecraft.crash("x86_64", exe, tmp_path / "run")
    bid = corecraft.build_id(exe)
    hidden = tmp_path / "kept"
    os.rename(exe, hidden)
    doc = run_json(core)
    assert doc["symbols_missing"] is True
    mod = next(m for m in doc["modules"] if m["build_id"] == bid)
    assert mod["symbols"] == "missing"
    top = doc["threads"][0]["frames"][0]
    assert top["function"] is None and top["build_id"] == bid and top["module"] == mod["name"]
    assert top["offset"] == int(top["pc"], 16) - int(mod["start"], 16)

    store = tmp_path / "store"
    corecraft.store_file(store, hidden)
    doc = run_json(core, "--store", store)
    assert [f["function"] for f in doc["threads"][0]["frames"][:3]] == ["level3", "level2", "level1"]
    assert doc["symbols_missing"] is False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_debuginfod_supplies_missing_executable(crashed, tmp_path):
    if not shutil.which("debuginfod"):
        pytest.fail("debuginfod is not installed (scripts/debian-packages)")
    exe0, _ = crashed("x86_64")
    exe = tmp_path / "served"
    shutil.copy(exe0, exe)
    core = corecraft.crash("x86_64", exe, tmp_path / "run")
    bid = corecraft.build_id(exe)
    served = tmp_path / "srv"
    served.mkdir()
    os.rename(exe, served / "served")
    port = free_port()
    srv = subprocess.Popen(["debuginfod", "-p", str(port), "-F", str(served), "-d",
                            str(tmp_path / "dfd.sqlite"), "-t", "1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:     # wait until its scan has indexed the file
            try:
                with urllib.request.urlopen(f"{url}/buildid/{bid}/executable", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.time() < deadline, "debuginfod never served the executable"
            time.sleep(0.3)
        env = dict(os.environ, DEBUGINFOD_URLS=url,
                   DEBUGINFOD_CACHE_PATH=str(tmp_path / "cache"))
        empty = tmp_path / "empty-store"
        empty.mkdir()
        doc = run_json(core, "--store", empty, "--debuginfod-timeout", "20", env=env)
        funcs = [f["function"] for f in doc["threads"][0]["frames"]]
        assert funcs[:4] == ["level3", "level2", "level1", "crashing_worker"]
        mod = next(m for m in doc["modules"] if m["build_id"] == bid)
        assert mod["symbols"] == "found"
    finally:
        srv.terminate()
        srv.wait(timeout=10)


def test_debuginfod_unreachable_is_bounded(crashed, tmp_path):
    """A debuginfod server that accepts and never answers costs at most the timeout."""
    exe0, _ = crashed("x86_64")
    exe = tmp_path / "nowhere"
    shutil.copy(exe0, exe)
    core = corecraft.crash("x86_64", exe, tmp_path / "run")
    exe.unlink()
    with socket.socket() as lst:
        lst.bind(("127.0.0.1", 0))
        lst.listen(16)
        url = "http://127.0.0.1:%d" % lst.getsockname()[1]
        env = dict(os.environ, DEBUGINFOD_URLS=url, DEBUGINFOD_CACHE_PATH=str(tmp_path / "c"))
        env.pop("DEBUGINFOD_TIMEOUT", None)
        t0 = time.time()
        doc = run_json(core, "--debuginfod-timeout", "2", env=env, timeout=60)
        assert time.time() - t0 < 20
        assert doc["symbols_missing"] is True


def test_bad_arguments_fail_with_one_line(tmp_path):
    p = corecraft.symbolize(tmp_path / "absent.core")
    assert p.returncode != 0 and p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1 and "absent.core" in p.stderr
    p = subprocess.run([str(corecraft.SYMBOLIZE), "--core", "x", "--buildid", "zz"],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "--buildid" in p.stderr


def test_dynamic_qemu_core_places_shared_objects_from_session_build_ids(crashed, tmp_path):
    """A dynamically linked armhf program under qemu-user: no NT_FILE, no dumped text,
    not even the interpreter's name.  With only the session's build-ids (no names) and
    the files in the store, the executable is placed from the auxv and the shared
    objects from the dynamic linker's list, each at its own address."""
    exe, core = crashed("armhf-dyn")
    store = tmp_path / "store"
    files = [exe] + corecraft.ARMHF_LIBS
    bids = [corecraft.store_file(store, f, "") for f in files]
    doc = run_json(core, "--store", store, *sum((["--buildid", b] for b in bids), []))
    mods = {m["build_id"]: m for m in doc["modules"]}
    assert set(bids) <= set(mods), doc["modules"]
    starts = {mods[b]["start"] for b in bids}
    assert len(starts) == 3
    frames = doc["threads"][0]["frames"]
    assert [f["function"] for f in frames[:4]] == ["level3", "level2", "level1", "crashing_worker"]
    # crashing_worker returns into libc (start_thread; Debian's libc has no .symtab)
    assert frames[4]["build_id"] == bids[1]
    assert len(doc["threads"]) == 4
    # Without the libraries, the executable alone still symbolizes its own frames.
    doc = run_json(core, "--store", store, "--buildid", bids[0])
    assert [f["function"] for f in doc["threads"][0]["frames"][:4]] == \
        ["level3", "level2", "level1", "crashing_worker"]


def test_arm_threads_without_cfi_are_unwound_by_fallback(crashed):
    """Debian's armhf glibc has no CFI libdwfl can use (ARM.exidx only): the idle
    threads, stopped inside glibc, reach idle_worker only through the fallback."""
    exe, core = crashed("armhf")
    doc = run_json(core, "--exe", exe)
    idle = [t for t in doc["threads"][1:]
            if any(f["function"] == "idle_worker" for f in t["frames"])]
    assert len(idle) == 2
    for t in idle:
        f = next(f for f in t["frames"] if f["function"] == "idle_worker")
        assert f["how"] in ("fp", "scan")
        assert f["file"].endswith("crash_threads.c")
    # Every thread's backtrace starts with what gdb shows for it (gdb stops at main,
    # the scan may go on to _start); no stale return address sneaks in between.
    gdb = corecraft.gdb_all_threads("armhf", exe, core)
    assert set(gdb) == {t["tid"] for t in doc["threads"]}
    for t in doc["threads"]:
        ours = [f["function"] for f in t["frames"]]
        want = named(gdb[t["tid"]])
        assert ours[:len(want)] == want, (t["tid"], ours, want)


def test_storm_library_with_cache_gives_the_worker_output(crashed, tmp_path):
    """Cores of one build through the cached library: each document is byte-identical
    to what the standalone worker prints for that core."""
    exe, core = crashed("x86_64")
    base = bytearray(core.read_bytes())
    paths = []
    for k in range(3):
        p = tmp_path / f"dev{k}.core"
        b = bytearray(base)
        # vary the crashing thread's rax so each core is distinct
        i = b.find(b"CORE\0\0\0\0")
        struct.pack_into("<Q", b, i + 8 + 112 + 10 * 8, 0xdead0000 + k)
        p.write_bytes(b)
        paths.append(p)
    out = tmp_path / "storm.jsonl"
    subprocess.run([str(corecraft.TBIN / "corecast-symbench"), "--out", str(out), *map(str, paths)],
                   check=True, capture_output=True)
    docs = out.read_text().splitlines()
    assert len(docs) == 3
    for p, d in zip(paths, docs):
        single = corecraft.symbolize(p)
        assert single.returncode == 0
        assert d + "\n" == single.stdout
    assert json.loads(docs[1])["registers"]["rax"] == hex(0xdead0001)


def test_compressed_debug_file_is_inflated_once_into_the_store(tmp_path):
    """A stripped executable plus a separate debug file with zlib-compressed DWARF (as
    Debian's -dbg packages ship them): the first run leaves an inflated copy under
    STORE/.cache/inflated/, later runs use it and print the same result."""
    exe = corecraft.build("x86_64", tmp_path)
    dbg = tmp_path / "crash_threads.debug"
    subprocess.run(["objcopy", "--only-keep-debug", "--compress-debug-sections=zlib", str(exe),
                    str(dbg)], check=True)
    subprocess.run(["strip", "--strip-debug", "--strip-unneeded", str(exe)], check=True)
    core = corecraft.crash("x86_64", exe, tmp_path / "run")
    store = tmp_path / "store"
    bid = corecraft.store_file(store, exe, "")
    assert corecraft.store_file(store, dbg, ".debug") == bid
    exe.unlink()
    first = run_json(core, "--store", store)
    inflated = store / ".cache" / "inflated" / f"{bid}.debug"
    assert inflated.exists() and inflated.stat().st_size > dbg.stat().st_size
    flags = subprocess.run(["readelf", "-SW", str(inflated)], capture_output=True, text=True).stdout
    assert ".debug_info" in flags
    assert not [l for l in flags.splitlines() if ".debug_" in l and "C" in l.split()[-4]]
    second = run_json(core, "--store", store)
    assert first == second
    top = second["threads"][0]["frames"][0]
    assert top["function"] == "level3" and top["line"] == FAULT_LINE
    assert top["file"].endswith("crash_threads.c")


def test_inlined_function_is_its_own_frame_like_gdb(tmp_path):
    """level2 inlined into level1: an extra frame with inlined=true at level1's pc,
    function names and lines equal to gdb's."""
    exe = corecraft.build("x86_64", tmp_path, extra=["-DINLINE_LEVEL2"])
    core = corecraft.crash("x86_64", exe, tmp_path / "run")
    doc = run_json(core)
    frames = doc["threads"][0]["frames"]
    assert named([f["function"] for f in frames]) == named(corecraft.gdb_functions("x86_64", exe, core))
    inl = [f for f in frames if f["inlined"]]
    assert [f["function"] for f in inl] == ["level2_body"]
    i = frames.index(inl[0])
    assert frames[i + 1]["function"] == "level1" and frames[i + 1]["pc"] == inl[0]["pc"]
    out = subprocess.run(["gdb", "-nx", "-batch", "-ex", "bt", str(exe), str(core)],
                         capture_output=True, text=True).stdout
    gdb_lines = [int(m) for m in re.findall(r"crash_threads\.c:(\d+)", out.rsplit("#0", 1)[-1])]
    our_lines = [f["line"] for f in frames if f["file"] and f["file"].endswith("crash_threads.c")]
    assert our_lines == gdb_lines[:len(our_lines)] and len(our_lines) == 4


def test_core_larger_than_the_workers_address_space_limit(crashed, tmp_path):
    """corecastd runs the worker under RLIMIT_AS (1 GiB by default): a 3 GiB core
    (sparse here) must still symbolize, so the core is read, not mapped whole."""
    exe, core = crashed("i386")
    b = bytearray(core.read_bytes())
    phoff, = struct.unpack_from("<I", b, 28)
    phnum, = struct.unpack_from("<H", b, 44)
    big = 3 << 30
    for i in range(phnum):
        o = phoff + i * 32
        ptype, off, vaddr, _, filesz, memsz = struct.unpack_from("<IIIIII", b, o)
        if ptype == 1 and filesz == 0 and memsz == 0x1000:      # a guard page
            struct.pack_into("<II", b, o + 4, big - 0x1000, vaddr)
            struct.pack_into("<II", b, o + 16, 0x1000, 0x1000)
            break
    else:
        pytest.fail("no guard page segment to move")
    path = tmp_path / "big.core"
    with open(path, "wb") as f:
        f.write(b)
        f.truncate(big)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    p = subprocess.run([str(corecraft.SYMBOLIZE), "--core", str(path), "--exe", str(exe)],
                       capture_output=True, text=True, preexec_fn=limit, timeout=120)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert [f["function"] for f in doc["threads"][0]["frames"][:3]] == ["level3", "level2", "level1"]
