"""corecastctl list/info/dump/rm and --json against a store holding real core files.

The store is populated through store_add_core by build/tests/store-import; the cores
come from a small program the test builds and crashes (ulimit -c unlimited, the
machine's core_pattern writes `core` into the working directory).
"""
import hashlib
import json
import os
import pathlib
import re
import sqlite3
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
CTL = ROOT / "build" / "bin" / "corecastctl"
IMPORT = ROOT / "build" / "tests" / "store-import"

CRASHER_C = r"""
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static char heap_marker[1 << 16];
static void *spin(void *arg) { (void)arg; for (;;) pause(); return NULL; }
int main(int argc, char **argv)
{
    pthread_t t;
    memset(heap_marker, 'C', sizeof heap_marker);
    pthread_create(&t, NULL, spin, NULL);
    usleep(10000);
    if (argc > 1 && !strcmp(argv[1], "abort"))
        abort();
    volatile int *p = NULL;
    return *p;
}
"""


def _run(*args, env=None, check=False):
    p = subprocess.run([str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, env=env, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} failed: {p.stderr}")
    return p


def ctl(store, *args, **kw):
    return _run(CTL, "--store", store, *args, **kw)


def _make_core(workdir, mode):
    """Crash the sample program; return the path of the real core it left."""
    src = workdir / "crasher.c"
    exe = workdir / "crasher"
    if not exe.exists():
        src.write_text(CRASHER_C)
        _run("cc", "-g", "-O0", "-pthread", src, "-o", exe, check=True)
    run = workdir / f"run-{mode}"
    run.mkdir()
    subprocess.run(["sh", "-c", f"ulimit -c unlimited; exec {exe} {mode}"], cwd=run,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    cores = [p for p in run.iterdir() if p.name == "core" or p.name.startswith("core.")]
    if not cores:
        pytest.skip("the crash left no core file (core_pattern is not `core`?)")
    return cores[0]


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    for p in (CTL, IMPORT):
        if not p.exists():
            pytest.fail(f"{p} is not built (run `make`)", pytrace=False)
    work = tmp_path_factory.mktemp("ctl")
    segv = _make_core(work, "segv")
    abrt = _make_core(work, "abort")
    store = work / "store"
    ids = {}
    for name, core, dev, seq, sig in (("segv", segv, "sensor-0001", 1, 11),
                                       ("abrt", abrt, "sensor-0002", 7, 6)):
        p = _run(IMPORT, "--store", store, "--device", dev, "--seq", seq, "--pid", 4242,
                 "--signal", sig, "--exe", "crasher", "--cause", "test crash",
                 "--firmware", "fw-2.1", "--boot", "00112233445566778899aabbccddeeff",
                 "--build-id", "0123456789abcdef0123456789abcdef01234567:crasher", core,
                 check=True)
        ids[name] = int(p.stdout.strip())
    return {"store": store, "segv": segv, "abrt": abrt, "ids": ids, "work": work}


def test_list_shows_real_cores_with_coredumpctl_columns(populated):
    p = ctl(populated["store"], "list", check=True)
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["ID", "TIME", "DEVICE", "PID", "SIG", "EXE", "SIZE", "STATUS"]
    assert len(lines) == 3
    assert re.search(r"sensor-0001\s+4242\s+SEGV\s+crasher\s+\S+\s+stored", lines[1])
    assert re.search(r"sensor-0002\s+4242\s+ABRT\s+crasher", lines[2])


def test_list_filters_by_device(populated):
    p = ctl(populated["store"], "list", "--device", "sensor-0002", "--json", check=True)
    recs = json.loads(p.stdout)
    assert [r["device"] for r in recs] == ["sensor-0002"]
    p = ctl(populated["store"], "list", "--device=nobody", check=True)
    assert len(p.stdout.splitlines()) == 1
    assert "No dumps" in p.stderr


def test_list_since_accepts_relative_and_iso_times(tmp_path, populated):
    # A private copy whose first dump is two days old.
    store = tmp_path / "st"
    subprocess.run(["cp", "-a", str(populated["store"]), str(store)], check=True)
    db = sqlite3.connect(store / "index.sqlite")
    db.execute("UPDATE dumps SET received = received - 2 * 86400 WHERE id = ?",
               (populated["ids"]["segv"],))
    db.commit()
    db.close()
    recent = json.loads(ctl(store, "--json", "list", "--since", "1h", check=True).stdout)
    assert [r["id"] for r in recent] == [populated["ids"]["abrt"]]
    both = json.loads(ctl(store, "--json", "list", "--since", "3d", check=True).stdout)
    assert len(both) == 2
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 3600))
    iso = json.loads(ctl(store, "--json", "list", "--since", today + "T00:00:00Z",
                         check=True).stdout)
    assert populated["ids"]["abrt"] in [r["id"] for r in iso]
    bad = ctl(store, "list", "--since", "yesterday-ish")
    assert bad.returncode != 0
    assert bad.stderr.count("\n") == 1 and "--since yesterday-ish" in bad.stderr


def test_json_records_carry_the_promised_fields(populated):
    recs = json.loads(ctl(populated["store"], "list", "--json", check=True).stdout)
    segv = populated["segv"]
    r = recs[0]
    for key in ("id", "device", "boot_id", "seq", "pid", "signal", "exe", "size",
                "sha256", "received", "status", "firmware", "cause", "machine",
                "build_ids"):
        assert key in r, key
    assert r["device"] == "sensor-0001"
    assert r["boot_id"] == "00112233445566778899aabbccddeeff"
    assert r["seq"] == 1 and r["pid"] == 4242 and r["signal"] == 11
    assert r["size"] == segv.stat().st_size
    assert r["sha256"] == hashlib.sha256(segv.read_bytes()).hexdigest()
    assert r["status"] == "stored"
    assert r["machine"] == 62            # EM_X86_64, read from the core's ELF header
    assert r["firmware"] == "fw-2.1" and r["cause"] == "test crash"
    assert r["build_ids"] == [{"build_id": "0123456789abcdef0123456789abcdef01234567",
                               "name": "crasher"}]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["received"])
    assert r["compressed_size"] < r["size"]


def test_info_shows_one_dump(populated):
    i = populated["ids"]["abrt"]
    p = ctl(populated["store"], "info", i, check=True)
    assert re.search(r"Device: sensor-0002", p.stdout)
    assert re.search(r"Signal: 6 \(SIGABRT\)", p.stdout)
    assert hashlib.sha256(populated["abrt"].read_bytes()).hexdigest() in p.stdout
    j = json.loads(ctl(populated["store"], "info", i, "--json", check=True).stdout)
    assert j["id"] == i and j["signal"] == 6 and j["exe"] == "crasher"


def test_dump_writes_the_core_byte_identical(tmp_path, populated):
    for name in ("segv", "abrt"):
        out = tmp_path / f"{name}.core"
        ctl(populated["store"], "dump", populated["ids"][name], "-o", out, check=True)
        assert out.read_bytes() == populated[name].read_bytes()
    # To standard output when it is not a terminal.
    p = subprocess.run([str(CTL), "--store", str(populated["store"]), "dump",
                        str(populated["ids"]["segv"])], stdout=subprocess.PIPE, timeout=60)
    assert p.returncode == 0 and p.stdout == populated["segv"].read_bytes()
    # The stored file is a plain zstd stream for other tools too.
    path = populated["store"] / "cores" / f"{populated['ids']['segv']}.core.zst"
    plain = subprocess.run(["zstd", "-dqc", str(path)], stdout=subprocess.PIPE, check=True)
    assert plain.stdout == populated["segv"].read_bytes()
    # gdb reads the dumped core as a real core.
    out = tmp_path / "segv.core"
    g = _run("gdb", "-batch", "-ex", "info threads", populated["work"] / "crasher", out)
    assert "SIGSEGV" in g.stdout + g.stderr or "signal 11" in g.stdout + g.stderr
    assert g.stdout.count("Thread ") >= 2 or g.stdout.count("LWP") >= 2


def test_dump_of_damaged_file_fails_and_leaves_no_output(tmp_path, populated):
    store = tmp_path / "st"
    subprocess.run(["cp", "-a", str(populated["store"]), str(store)], check=True)
    i = populated["ids"]["segv"]
    path = store / "cores" / f"{i}.core.zst"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xff
    path.write_bytes(bytes(data))
    out = tmp_path / "bad.core"
    p = ctl(store, "dump", i, "-o", out)
    assert p.returncode != 0
    assert p.stderr.strip() == f"corecastctl: dump {i}: stored data corrupt"
    assert not out.exists()


def test_rm_deletes_and_errors_name_the_dump(tmp_path, populated):
    store = tmp_path / "st"
    subprocess.run(["cp", "-a", str(populated["store"]), str(store)], check=True)
    i = populated["ids"]["segv"]
    j = json.loads(ctl(store, "rm", i, "--json", check=True).stdout)
    assert j == {"removed": [i]}
    assert not (store / "cores" / f"{i}.core.zst").exists()
    p = ctl(store, "info", i)
    assert p.returncode != 0
    assert p.stderr == f"corecastctl: dump {i}: no such dump\n"
    p = ctl(store, "rm", i)
    assert p.returncode != 0 and p.stderr == f"corecastctl: dump {i}: no such dump\n"
    p = ctl(store, "info", "abc")
    assert p.returncode != 0 and p.stderr == "corecastctl: abc: not a dump id (expected a number)\n"
    left = json.loads(ctl(store, "list", "--json", check=True).stdout)
    assert [r["id"] for r in left] == [populated["ids"]["abrt"]]


def test_global_options_before_or_after_command_and_env(populated):
    store = str(populated["store"])
    a = _run(CTL, "--json", "--store", store, "list", check=True).stdout
    b = _run(CTL, "list", "--store", store, "--json", check=True).stdout
    c = _run(CTL, "list", f"--store={store}", "--json", check=True).stdout
    env = dict(os.environ, CORECAST_STORE=store)
    d = _run(CTL, "list", "--json", env=env, check=True).stdout
    assert a == b == c == d
    assert len(json.loads(a)) == 2


def test_missing_store_and_unknown_command_fail_with_one_line(tmp_path):
    p = _run(CTL, "--store", tmp_path / "nope", "list")
    assert p.returncode != 0
    assert p.stderr.count("\n") == 1 and str(tmp_path / "nope") in p.stderr
    (tmp_path / "empty").mkdir()
    p = _run(CTL, "--store", tmp_path / "empty", "list")
    assert p.returncode != 0 and "not a corecast store" in p.stderr
    p = _run(CTL, "--store", tmp_path, "frobnicate")
    assert p.returncode != 0 and "frobnicate: unknown command" in p.stderr


def test_import_of_a_stored_key_is_idempotent(tmp_path, populated):
    store = tmp_path / "st"
    subprocess.run(["cp", "-a", str(populated["store"]), str(store)], check=True)
    p = _run(IMPORT, "--store", store, "--device", "sensor-0001", "--seq", 1, "--boot",
             "00112233445566778899aabbccddeeff", populated["segv"])
    assert p.returncode == 3 and int(p.stdout) == populated["ids"]["segv"]
    assert len(json.loads(ctl(store, "list", "--json", check=True).stdout)) == 2


def test_hostile_device_strings_keep_json_valid_and_tables_tame(tmp_path, populated):
    store = tmp_path / "st"
    dev = b'evil"dev\\\n\x1b[2J\xff\xfe'
    p = subprocess.run([bytes(IMPORT), b"--store", bytes(store), b"--device", dev,
                        b"--exe", b"caf\xc3\xa9\x80", bytes(populated["abrt"])],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr
    recs = json.loads(ctl(store, "list", "--json", check=True).stdout)
    assert recs[0]["device"] == 'evil"dev\\\n\x1b[2J\ufffd\ufffd'
    assert recs[0]["exe"] == "caf\u00e9\ufffd"
    table = subprocess.run([str(CTL), "--store", str(store), "list"], stdout=subprocess.PIPE,
                           check=True, timeout=60).stdout
    assert b"\x1b" not in table and table.count(b"\n") == 2


def test_stored_cores_are_not_world_readable(populated):
    store = populated["store"]
    for p in [store, store / "cores", store / "spool", store / "tmp",
              *(store / "cores").iterdir()]:
        assert p.stat().st_mode & 0o007 == 0, oct(p.stat().st_mode)
