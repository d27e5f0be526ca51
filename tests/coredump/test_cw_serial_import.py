"""Serial format end to end: writer -> console text -> corecastctl import-serial -> store."""
import json
import os
import random
import subprocess

import pytest

import cw_elfcore as elfcore
from test_cw_core import BIN, MKCORE, mkcore, reference_core

CTL = BIN / "corecastctl"


def ctl(store, *args):
    return subprocess.run([str(CTL), "--store", str(store), *args], capture_output=True, text=True,
                          timeout=120)


def serial_of(tmp_path, name, *args):
    out = tmp_path / name
    p = subprocess.run([str(MKCORE), "-o", str(out), "--serial", *args], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return out.read_text(), json.loads(p.stdout)


def list_dumps(store):
    p = ctl(store, "--json", "list")
    assert p.returncode == 0, p.stderr
    recs = json.loads(p.stdout)
    return recs if isinstance(recs, list) else recs["dumps"]


def dumped_core(store, dump_id, tmp_path):
    out = tmp_path / ("dump%d.core" % dump_id)
    p = ctl(store, "dump", str(dump_id), "-o", str(out))
    assert p.returncode == 0, p.stderr
    return out.read_bytes()


def test_import_serial_finds_good_dumps_and_names_bad_ones(tmp_path):
    store = tmp_path / "store"
    good1, _ = serial_of(tmp_path, "g1", "--arch", "riscv64", "--seq", "1")
    good2, _ = serial_of(tmp_path, "g2", "--arch", "armv7a", "--seq", "2", "--device", "gw-7",
                         "--scope", "all", "--width", "64")
    cut, _ = serial_of(tmp_path, "cut", "--arch", "aarch64", "--seq", "3")
    bad, _ = serial_of(tmp_path, "bad", "--arch", "ia32", "--seq", "4")
    lines = bad.splitlines(True)
    lines[5] = lines[5][:10] + ("A" if lines[5][10] != "A" else "B") + lines[5][11:]
    bad = "".join(lines)
    log = ("U-Boot SPL\r\nOpenSBI v1.2\n" + good1 + "[ 5.0] crashdemo: killed\n"
           + cut[: len(cut) // 2] + "\n[ 9.9] reboot\n" + bad
           + good2.replace("\n", "\r\n") + "login: ")
    logf = tmp_path / "console.log"
    logf.write_text(log)
    p = ctl(store, "import-serial", str(logf))
    assert p.returncode == 1, p.stdout + p.stderr
    err = p.stderr.splitlines()
    start_lines = [i + 1 for i, l in enumerate(log.split("\n")) if "COREDUMP_START" in l]
    assert len(start_lines) == 4
    assert any("console.log:%d: dump '/usr/bin/synth: store page fault': truncated" % start_lines[1] in l
               for l in err), err
    assert any("console.log:%d:" % start_lines[2] in l and "not imported" in l for l in err), err
    assert len(err) == 2
    assert "2 imported, 0 already stored, 2 failed" in p.stdout
    recs = list_dumps(store)
    assert len(recs) == 2
    text = json.dumps(recs)
    for v in ("sensor-0042", "gw-7", "synth", "fw-1.2.3"):
        assert v in text
    # the stored cores are byte-identical to what the writer produced
    core1, info1 = mkcore(tmp_path, "riscv64", "--seq", "1", name="c1")
    core2, info2 = mkcore(tmp_path, "armv7a", "--seq", "2", "--device", "gw-7", "--scope", "all", name="c2")
    ids = sorted(r["id"] for r in recs)
    assert dumped_core(store, ids[0], tmp_path) == core1.read_bytes()
    assert dumped_core(store, ids[1], tmp_path) == core2.read_bytes()
    # metadata from the notes
    p = ctl(store, "info", str(ids[0]))
    assert "4242" in p.stdout and "11" in p.stdout and "synth" in p.stdout
    # importing the same log again stores nothing new
    p = ctl(store, "import-serial", str(logf))
    assert "0 imported, 2 already stored, 2 failed" in p.stdout
    assert len(list_dumps(store)) == 2


def test_import_serial_reads_stdin(tmp_path):
    text, _ = serial_of(tmp_path, "s", "--arch", "aarch64", "--seq", "9")
    p = subprocess.run([str(CTL), "--store", str(tmp_path / "store"), "import-serial", "-"],
                       input="console> " + text, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("(stdin):1: dump '/usr/bin/synth: store page fault' imported as dump 1")


def test_import_serial_reports_log_without_dumps(tmp_path):
    logf = tmp_path / "quiet.log"
    logf.write_text("nothing to see\n")
    p = ctl(tmp_path / "store", "import-serial", str(logf))
    assert p.returncode == 1 and "quiet.log: no core dump found" in p.stderr
    p = ctl(tmp_path / "store", "import-serial", str(tmp_path / "missing.log"))
    assert p.returncode == 1 and "missing.log" in p.stderr and "No such file" in p.stderr


@pytest.mark.parametrize("source", ["live_x86_64", "linux_x86_64", "qemu_armv7a", "random"])
def test_serial_round_trip_of_real_cores(tmp_path, source):
    if source == "live_x86_64":
        path, _ = mkcore(tmp_path, "x86_64", "--live", "--scope", "all")
        data = path.read_bytes()
    elif source == "random":
        rnd = random.Random(7)
        data = bytes(rnd.choice([0, 0xFE, rnd.randrange(256)]) for _ in range(200000))
        path = tmp_path / "random.bin"
        path.write_bytes(data)
    else:
        ref = reference_core(tmp_path, "x86_64" if source == "linux_x86_64" else "armv7a")
        data = ref.data
        path = tmp_path / "ref.core"
        path.write_bytes(data)
    txt = tmp_path / "dump.txt"
    subprocess.run([str(MKCORE), "--encode", str(path), "-o", str(txt), "--width", "100"], check=True)
    logf = tmp_path / "log"
    logf.write_text("noise\n" + txt.read_text() + "more noise\n")
    store = tmp_path / "store"
    p = ctl(store, "--json", "import-serial", str(logf))
    res = json.loads(p.stdout)
    if source == "random":
        # not an ELF core: reported, not imported
        assert p.returncode == 1 and res["failed"] == 1 and "not a little-endian ELF" in p.stderr
        return
    assert p.returncode == 0, p.stderr
    assert res["imported"] == 1
    assert dumped_core(store, res["dumps"][0]["id"], tmp_path) == data
