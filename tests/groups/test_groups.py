"""Crash grouping end to end: real cores of a real program, symbolized by the real
worker in the pool's limited child processes, grouped in a real store, read back
through corecastctl."""
import json
import os
import pathlib
import shutil
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
BIN = ROOT / "build" / "bin"
TBIN = ROOT / "build" / "tests"
CTL = BIN / "corecastctl"
SYMBOLIZER = BIN / "corecast-symbolize"
POOL_RUN = TBIN / "grp-pool-run"
IMPORT = TBIN / "store-import"
PROG = pathlib.Path(__file__).resolve().parent / "progs" / "bugs.c"

pytestmark = pytest.mark.skipif(
    not all(p.exists() for p in (CTL, SYMBOLIZER, POOL_RUN, IMPORT)),
    reason="build first: corecastctl, corecast-symbolize, grp-pool-run, store-import")

CFLAGS = ["-O1", "-g", "-fno-omit-frame-pointer", "-fno-inline", "-Wl,--build-id=sha1"]


def build(out, *extra):
    subprocess.run(["gcc", *CFLAGS, *extra, "-o", str(out), str(PROG)], check=True)
    return out


def crash(binary, workdir, mode):
    """Run binary in workdir until it dumps core; return the core's path."""
    workdir.mkdir(parents=True, exist_ok=True)
    core = workdir / "core"
    if core.exists():
        core.unlink()
    p = subprocess.run(["sh", "-c", f'ulimit -c unlimited; exec "{binary}" {mode}'],
                       cwd=workdir, capture_output=True)
    assert p.returncode != 0, "the program did not crash"
    assert core.exists(), f"no core in {workdir} (core_pattern must be 'core')"
    return core


@pytest.fixture(scope="module")
def progs(tmp_path_factory):
    """The test program built plainly and with padding, and its cores."""
    d = tmp_path_factory.mktemp("progs")
    a = build(d / "bugs")
    padded = build(d / "pad" / "bugs", "-DPAD") if (d / "pad").mkdir() is None else None
    cores = {
        "segv": crash(a, d / "c-segv", "segv"),
        "abort": crash(a, d / "c-abort", "abort"),
        "segv_pad": crash(padded, d / "c-pad", "segv"),
    }
    return {"bugs": a, "padded": padded, "cores": cores, "dir": d}


_seq = [0]


def store_import(store, core, device, firmware="1.0", signal=11, exe="bugs"):
    _seq[0] += 1
    out = subprocess.run([str(IMPORT), "--store", str(store), "--device", device,
                          "--seq", str(_seq[0]), "--signal", str(signal), "--exe", exe,
                          "--firmware", firmware, "--machine", "62", str(core)],
                         check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1])


def pool_run(store, *args, symbolizer=SYMBOLIZER, timeout=120):
    p = subprocess.run([str(POOL_RUN), "--store", str(store), "--symbolizer", str(symbolizer),
                        "--scan", "--max-seconds", "90", *args],
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


def ctl(store, *args, check=True):
    p = subprocess.run([str(CTL), "--store", str(store), *args], capture_output=True,
                       text=True)
    if check:
        assert p.returncode == 0, f"corecastctl {' '.join(args)}: {p.stderr}"
    return p


def ctl_json(store, *args):
    return json.loads(ctl(store, "--json", *args).stdout)


def groups(store, *args):
    return ctl_json(store, "groups", *args)


def info(store, dump_id):
    return ctl_json(store, "info", str(dump_id))


def test_same_bug_from_five_devices_is_one_group(tmp_path, progs):
    store = tmp_path / "store"
    ids = [store_import(store, progs["cores"]["segv"], f"sensor-{i:04d}", "1.0")
           for i in range(5)]
    stats, log = pool_run(store, "--workers", "2")
    assert stats["done"] == 5 and stats["failed"] == 0, log
    gs = groups(store)
    assert len(gs) == 1
    g = gs[0]
    assert g["count"] == 5 and g["devices"] == 5
    assert g["title"] == "SIGSEGV in bug_level3 <- bug_level2 <- bug_level1"
    assert g["state"] == "open" and g["versions"] == ["1.0"]
    assert len(g["signature"]) == 16
    for i in ids:
        rec = info(store, i)
        assert rec["symbolization"]["status"] == "done"
        assert rec["group"]["signature"] == g["signature"]
        crashed = [t for t in rec["threads"] if t["crashed"]]
        assert len(crashed) == 1
        fns = [f["function"] for f in crashed[0]["frames"]]
        assert fns[:4] == ["bug_level3", "bug_level2", "bug_level1", "main"]
        f0 = crashed[0]["frames"][0]
        assert set(f0) >= {"pc", "function", "offset", "module", "build_id", "file", "line",
                           "how"}
        assert f0["file"].endswith("bugs.c") and f0["line"] > 0


def test_second_bug_is_second_group(tmp_path, progs):
    store = tmp_path / "store"
    for i in range(3):
        store_import(store, progs["cores"]["segv"], f"dev-{i}")
    store_import(store, progs["cores"]["abort"], "dev-0", signal=6)
    store_import(store, progs["cores"]["abort"], "dev-9", signal=6)
    stats, log = pool_run(store)
    assert stats["done"] == 5, log
    gs = groups(store)
    assert len(gs) == 2
    by_title = {g["title"]: g for g in gs}
    # abort/raise/__assert_fail frames are not part of the bug
    assert "SIGABRT in check_input <- parse_request <- main" in by_title
    assert by_title["SIGABRT in check_input <- parse_request <- main"]["count"] == 2
    assert by_title["SIGSEGV in bug_level3 <- bug_level2 <- bug_level1"]["count"] == 3
    # sorted by count by default, by devices on request
    assert [g["count"] for g in gs] == [3, 2]
    assert [g["devices"] for g in groups(store, "--by", "devices")] == [3, 2]
    text = ctl(store, "groups").stdout
    assert "check_input" in text and "bug_level3" in text


def test_rebuilt_binary_with_shifted_addresses_keeps_the_group(tmp_path, progs):
    nm = lambda b: subprocess.run(["nm", str(b)], capture_output=True, text=True).stdout
    addr = lambda out: [l.split()[0] for l in out.splitlines() if l.endswith(" bug_level3")][0]
    assert addr(nm(progs["bugs"])) != addr(nm(progs["padded"])), "padding moved nothing"
    store = tmp_path / "store"
    a = store_import(store, progs["cores"]["segv"], "dev-a", "1.0")
    b = store_import(store, progs["cores"]["segv_pad"], "dev-b", "1.1")
    stats, log = pool_run(store)
    assert stats["done"] == 2, log
    ia, ib = info(store, a), info(store, b)
    fa = [t for t in ia["threads"] if t["crashed"]][0]["frames"][0]
    fb = [t for t in ib["threads"] if t["crashed"]][0]["frames"][0]
    assert fa["build_id"] != fb["build_id"]
    assert fa["function"] == fb["function"] == "bug_level3"
    assert ia["group"]["signature"] == ib["group"]["signature"]
    g = groups(store)
    assert len(g) == 1 and g[0]["count"] == 2 and g[0]["versions"] == ["1.0", "1.1"]


def read_env(path, timeout=10):
    """The environment a hook wrote (it runs detached: wait for it)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.read_text().endswith("END\n"):
            break
        time.sleep(0.05)
    env = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    return env


def hook_cmd(out_dir, name):
    # one file per event: a hook that fired twice would leave two files
    return (f'f="{out_dir}/{name}-$CORECAST_DUMP_ID"; env | grep ^CORECAST_ > "$f.tmp"; '
            f'echo END >> "$f.tmp"; mv "$f.tmp" "$f"')


def test_resolved_group_reopens_on_newer_firmware_and_hooks_fire(tmp_path, progs):
    store = tmp_path / "store"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    args = ["--on-new-group", hook_cmd(hooks, "new"),
            "--on-regression", hook_cmd(hooks, "regression")]
    devices = {store_import(store, progs["cores"]["segv"], "dev-1", "1.9"): "dev-1",
               store_import(store, progs["cores"]["segv"], "dev-2", "1.9"): "dev-2"}
    stats, log = pool_run(store, *args)
    assert stats["done"] == 2, log
    # two workers race: either dump may be the one that made the group; the hook
    # runs detached, so give it time on a loaded machine, then a moment for a
    # (wrong) second one to show up
    deadline = time.time() + 15
    while time.time() < deadline and not [n for n in os.listdir(hooks)
                                          if not n.endswith(".tmp")]:
        time.sleep(0.05)
    time.sleep(0.5)
    fired = [n for n in os.listdir(hooks) if not n.endswith(".tmp")]
    assert len(fired) == 1 and fired[0].startswith("new-"), fired
    first = int(fired[0].split("-")[1])
    env = read_env(hooks / fired[0])
    sig = groups(store)[0]["signature"]
    assert env["CORECAST_EVENT"] == "new-group"
    assert env["CORECAST_GROUP"] == sig
    assert env["CORECAST_TITLE"] == "SIGSEGV in bug_level3 <- bug_level2 <- bug_level1"
    assert env["CORECAST_DEVICE"] == devices[first]
    assert env["CORECAST_FIRMWARE"] == "1.9"
    assert env["CORECAST_DUMP_ID"] == str(first)
    assert env["CORECAST_SIGNATURE"].startswith("corecast-signature v1 | exe bugs | "
                                                "signal SIGSEGV | frame bug_level3")
    assert sorted(os.listdir(hooks)) == [f"new-{first}"], "new-group fired once only"

    # resolve: fixed after the newest version seen (1.9)
    assert "resolved" in ctl(store, "group", sig[:8], "resolve").stdout
    assert groups(store, "--state", "resolved")[0]["signature"] == sig
    # an old device still on 1.9 crashing is expected: no reopen
    store_import(store, progs["cores"]["segv"], "dev-3", "1.9")
    pool_run(store, *args)
    assert groups(store)[0]["state"] == "resolved"
    # 1.10 is newer than 1.9: regression
    reg = store_import(store, progs["cores"]["segv"], "dev-4", "1.10")
    stats, log = pool_run(store, *args)
    assert stats["done"] == 1, log
    g = groups(store)[0]
    assert g["state"] == "open" and g["regressions"] == 1 and g["count"] == 4
    env = read_env(hooks / f"regression-{reg}")
    assert env["CORECAST_EVENT"] == "regression"
    assert env["CORECAST_FIRMWARE"] == "1.10" and env["CORECAST_DEVICE"] == "dev-4"
    assert sorted(os.listdir(hooks)) == [f"new-{first}", f"regression-{reg}"]

    # state changes from the CLI; a muted group stays muted on any version
    ctl(store, "group", sig, "mute")
    store_import(store, progs["cores"]["segv"], "dev-5", "9.0")
    pool_run(store, *args)
    assert groups(store)[0]["state"] == "muted"
    bad = ctl(store, "group", sig, "close", check=False)
    assert bad.returncode != 0 and "unknown action" in bad.stderr
    missing = ctl(store, "group", "ffffffff", check=False)
    assert missing.returncode != 0 and "no such group" in missing.stderr
    detail = ctl_json(store, "group", sig)
    assert detail["count"] == 5 and len(detail["dumps"]) == 5
    assert [v["firmware"] for v in detail["by_version"]] == ["1.9", "1.10", "9.0"]
    assert sum(d["count"] for d in detail["per_day"]) == 5


def write_script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_crashing_and_hanging_workers_are_recorded_failures(tmp_path, progs):
    store = tmp_path / "store"
    ids = [store_import(store, progs["cores"]["segv"], f"dev-{i}") for i in range(2)]
    # a worker that dies of SIGSEGV
    crasher = write_script(tmp_path / "crash.sh", "echo 'about to die' >&2; kill -SEGV $$\n")
    stats, log = pool_run(store, "--submit", str(ids[0]), symbolizer=crasher)
    assert stats["crashed"] >= 1
    rec = info(store, ids[0])["symbolization"]
    assert rec["status"] == "failed"
    assert "SIGSEGV" in rec["reason"] and "about to die" in rec["reason"]

    # a worker that hangs is killed at the wall-clock deadline
    hang = write_script(tmp_path / "hang.sh", "exec sleep 300\n")
    t0 = time.time()
    stats, log = pool_run(store, "--submit", str(ids[1]), "--timeout", "2", symbolizer=hang)
    assert time.time() - t0 < 30
    assert stats["timeouts"] == 1
    rec = info(store, ids[1])["symbolization"]
    assert rec["status"] == "failed" and "timed out after 2 s" in rec["reason"]

    # the real worker under a 4 MiB address-space limit cannot load its libraries
    # (it gets by in less than 10 MiB): it fails with the limit named, it does not
    # take the machine's memory
    ids.append(store_import(store, progs["cores"]["segv"], "dev-mem"))
    stats, log = pool_run(store, "--submit", str(ids[-1]), "--memory", str(4 << 20))
    rec = info(store, ids[-1])["symbolization"]
    assert rec["status"] == "failed" and "4 MiB memory" in rec["reason"], rec

    # garbage on stdout is refused by the strict reader, not trusted (a symbolizer
    # of the one-process-per-dump protocol; test_pool_serve.py has the --serve one)
    junk = write_script(tmp_path / "junk.sh", "printf '{\"threads\":[{\"frames\":'\n")
    ids.append(store_import(store, progs["cores"]["segv"], "dev-junk"))
    pool_run(store, "--submit", str(ids[-1]), "--per-core", symbolizer=junk)
    rec = info(store, ids[-1])["symbolization"]
    assert rec["status"] == "failed" and "malformed JSON" in rec["reason"]

    # a hostile core (truncated mid-way) fails in the real worker with a reason,
    # and a good core queued behind it is still symbolized in the same run
    hostile = tmp_path / "truncated.core"
    data = progs["cores"]["segv"].read_bytes()
    hostile.write_bytes(data[:200])
    bad = store_import(store, hostile, "dev-hostile")
    good = store_import(store, progs["cores"]["abort"], "dev-good", signal=6)
    stats, log = pool_run(store, "--submit", str(bad), "--submit", str(good))
    assert info(store, bad)["symbolization"]["status"] == "failed"
    assert info(store, bad)["symbolization"]["reason"]
    assert info(store, good)["symbolization"]["status"] == "done"


def test_late_symbols_add_resymbolizes_a_symbols_missing_dump(tmp_path, progs):
    # a stripped build crashes on the device; its binary is not on the collector
    work = tmp_path / "device"
    work.mkdir()
    stripped = work / "bugs"
    shutil.copy(progs["bugs"], stripped)
    subprocess.run(["strip", str(stripped)], check=True)
    core = crash(stripped, work / "run", "segv")
    stripped.unlink()

    store = tmp_path / "store"
    dump = store_import(store, core, "dev-1")
    stats, log = pool_run(store)
    assert stats["symbols_missing"] == 1, log
    rec = info(store, dump)
    assert rec["symbolization"]["status"] == "symbols-missing"
    frames = [t for t in rec["threads"] if t["crashed"]][0]["frames"]
    assert frames[0]["function"] is None and frames[0]["build_id"]
    before = groups(store)
    assert len(before) == 1 and "bug_level3" not in before[0]["title"]
    assert frames[0]["build_id"][:8] in before[0]["title"]

    # refusing a file without a build-id, clearly
    nobid = tmp_path / "nobid"
    subprocess.run(["gcc", "-Wl,--build-id=none", "-o", str(nobid), str(PROG)], check=True)
    p = ctl(store, "symbols", "add", str(nobid), check=False)
    assert p.returncode != 0 and "no GNU build-id" in p.stderr
    assert not (store / ".build-id").exists() or not any((store / ".build-id").iterdir())

    # the unstripped twin (same build-id) arrives late
    p = ctl(store, "symbols", "add", str(progs["bugs"]))
    assert "1 dump queued for re-symbolization" in p.stdout
    bid = frames[0]["build_id"]
    assert (store / ".build-id" / bid[:2] / (bid[2:] + ".debug")).exists()
    listed = ctl_json(store, "symbols", "list")
    assert [s["build_id"] for s in listed] == [bid] and listed[0]["contents"] == "debug info"

    stats, log = pool_run(store)     # the pool finds the pending dump by itself
    assert stats["done"] == 1, log
    rec = info(store, dump)
    assert rec["symbolization"]["status"] == "done"
    fns = [f["function"] for f in [t for t in rec["threads"] if t["crashed"]][0]["frames"]]
    assert fns[:3] == ["bug_level3", "bug_level2", "bug_level1"]
    after = groups(store)
    assert len(after) == 1, "the unsymbolized group is gone, the dump moved"
    assert after[0]["title"] == "SIGSEGV in bug_level3 <- bug_level2 <- bug_level1"
    assert after[0]["signature"] != before[0]["signature"]


def test_debug_runs_gdb_with_symbols_found_by_build_id(tmp_path, progs):
    store = tmp_path / "store"
    dump = store_import(store, progs["cores"]["segv"], "dev-1")
    pool_run(store)
    ctl(store, "symbols", "add", str(progs["bugs"]))
    p = ctl(store, "debug", str(dump), "--debugger", "gdb -batch -ex bt")
    assert "bug_level3" in p.stdout and "bug_level1" in p.stdout
    # the temporary core is gone afterwards
    assert not list(pathlib.Path(os.environ.get("TMPDIR", "/tmp")).glob(f"corecast-{dump}-*"))
    p = ctl(store, "debug", "999", check=False)
    assert p.returncode != 0 and p.stderr.count("\n") == 1


def test_debug_places_a_qemu_user_core_and_picks_gdb_multiarch(tmp_path, progs):
    """qemu-user writes armhf cores without NT_FILE, so GDB alone cannot place the
    position-independent program; debug hands it the load address the symbolizer
    found.  A foreign machine gets gdb-multiarch, a native one gdb."""
    if not shutil.which("arm-linux-gnueabihf-gcc") or not shutil.which("qemu-arm"):
        pytest.skip("needs arm-linux-gnueabihf-gcc and qemu-arm")
    exe = tmp_path / "bugs_arm"
    subprocess.run(["arm-linux-gnueabihf-gcc", *CFLAGS, "-o", str(exe), str(PROG)], check=True)
    run = tmp_path / "run"
    run.mkdir()
    env = dict(os.environ, QEMU_LD_PREFIX="/usr/arm-linux-gnueabihf")
    subprocess.run(["sh", "-c", f'ulimit -c unlimited; exec qemu-arm "{exe}" segv'], cwd=run,
                   env=env, capture_output=True)
    cores = list(run.glob("qemu_*.core")) or list(run.glob("core*"))
    assert cores, "qemu-arm wrote no core"
    bid = subprocess.run(["readelf", "-n", str(exe)], capture_output=True,
                         text=True).stdout.split("Build ID:")[1].split()[0]
    store = tmp_path / "store"
    _seq[0] += 1
    out = subprocess.run([str(IMPORT), "--store", str(store), "--device", "arm-1", "--seq",
                          str(_seq[0]), "--signal", "11", "--exe", "bugs_arm", "--machine",
                          "40", "--build-id", f"{bid}:bugs_arm", str(cores[0])],
                         check=True, capture_output=True, text=True).stdout
    dump = int(out.split()[-1])
    ctl(store, "symbols", "add", str(exe))
    pool_run(store)
    p = ctl(store, "debug", str(dump), "--debugger", "gdb-multiarch -batch -ex bt")
    assert "bug_level3" in p.stdout and "bug_level1" in p.stdout, p.stdout + p.stderr

    # the default debugger: a fake gdb and gdb-multiarch that say who they are
    fake = tmp_path / "fakebin"
    fake.mkdir()
    for name in ("gdb", "gdb-multiarch"):
        write_script(fake / name, f'echo "{name} $*"\n')
    env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}")
    p = subprocess.run([str(CTL), "--store", str(store), "debug", str(dump)], env=env,
                       capture_output=True, text=True)
    assert p.stdout.startswith("gdb-multiarch ") and "-o 0x" in p.stdout, p.stdout
    native = store_import(store, progs["cores"]["segv"], "x86-1")
    p = subprocess.run([str(CTL), "--store", str(store), "debug", str(native)], env=env,
                       capture_output=True, text=True)
    assert p.stdout.startswith("gdb "), p.stdout


def test_symbols_added_while_the_worker_runs_are_not_lost(tmp_path, progs):
    """`symbols add` during a job finds the dump pending (not yet symbols-missing)
    and cannot queue it; the pool notices the file arrived and runs it again."""
    work = tmp_path / "device"
    work.mkdir()
    stripped = work / "bugs"
    shutil.copy(progs["bugs"], stripped)
    subprocess.run(["strip", str(stripped)], check=True)
    core = crash(stripped, work / "run", "segv")
    stripped.unlink()
    store = tmp_path / "store"
    dump = store_import(store, core, "dev-1")
    # a worker that symbolizes (symbols missing), then, before it reports, the
    # operator files the symbols
    wrapper = write_script(tmp_path / "sym.sh", f'''out=$("{SYMBOLIZER}" "$@") || exit $?
"{CTL}" --store "{store}" symbols add "{progs["bugs"]}" > "{tmp_path}/add.$$" 2>&1
printf '%s' "$out"
''')
    stats, log = pool_run(store, "--per-core", symbolizer=wrapper)
    adds = [p.read_text() for p in tmp_path.glob("add.*")]
    assert any("added" in a and "queued" not in a for a in adds), adds
    assert "symbols were added during symbolization" in log
    assert stats["symbols_missing"] == 1 and stats["done"] == 1, (stats, log)
    assert info(store, dump)["symbolization"]["status"] == "done"
    assert groups(store)[0]["title"] == "SIGSEGV in bug_level3 <- bug_level2 <- bug_level1"
