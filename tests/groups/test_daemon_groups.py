"""corecastd symbolizes and groups what it stores: cores sent over real UDP by
corecast-send, workers started by the daemon, results read back with corecastctl.
A core that makes the worker fail is recorded as failed and the daemon keeps
serving."""
import json
import pathlib
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "collector"))
import ccharness as h  # noqa: E402

SYMBOLIZER = h.BIN / "corecast-symbolize"


def _daemon_has_pool():
    if not h.CORECASTD.exists():
        return False
    return b"pool_create" in h.CORECASTD.read_bytes()


pytestmark = pytest.mark.skipif(
    not (h.SEND.exists() and h.CRASHER.exists() and SYMBOLIZER.exists()
         and _daemon_has_pool()),
    reason="needs corecastd with symbolization, corecast-send, corecast-symbolize, crasher")


def groups(store):
    return h.ctl(store, "groups") or []


def status(store, dump_id):
    return h.info(store, dump_id)["symbolization"]["status"]


def sent_id(p):
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    out = (p.stdout + p.stderr).decode(errors="replace")
    ids = [int(w) for w in out.replace(",", " ").split() if w.isdigit()]
    return ids


@pytest.fixture
def daemon(tmp_path):
    d = h.Daemon(tmp_path / "d")
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    d.hooks = hooks
    d.write_config(f"""
SymbolizeWorkers=2
SymbolizeTimeout=20s
OnNewGroup=env | grep ^CORECAST_ > {hooks}/new-$CORECAST_DUMP_ID.tmp && mv {hooks}/new-$CORECAST_DUMP_ID.tmp {hooks}/new-$CORECAST_DUMP_ID
""")
    d.start()
    yield d
    if d.alive():
        d.stop()


def wait_groups(store, pred, what, timeout=60):
    return h.wait_for(lambda: (lambda g: g if pred(g) else None)(groups(store)), timeout,
                      what, interval=0.2)


def test_daemon_groups_five_devices_and_fires_the_hook(tmp_path, daemon):
    core = h.make_core(tmp_path / "c1")
    for i in range(5):
        p = h.send(daemon.endpoint(), core["path"], f"sensor-{i}", "--seq", str(i + 1),
                   "--signal", "11", "--firmware", "2.0")
        assert p.returncode == 0, p.stderr
    g = wait_groups(daemon.store, lambda g: g and g[0]["count"] == 5, "one group of 5")
    assert len(g) == 1 and g[0]["devices"] == 5
    assert g[0]["title"] == "SIGSEGV in crasher_level3 <- crasher_level2 <- crasher_level1"
    fired = h.wait_for(lambda: [p for p in daemon.hooks.iterdir()
                                if not p.name.endswith(".tmp")], 10, "OnNewGroup hook")
    assert len(fired) == 1
    env = dict(l.split("=", 1) for l in fired[0].read_text().splitlines())
    assert env["CORECAST_EVENT"] == "new-group"
    assert env["CORECAST_GROUP"] == g[0]["signature"]
    assert env["CORECAST_FIRMWARE"] == "2.0"
    assert daemon.alive()


def test_hostile_core_fails_the_worker_not_the_daemon(tmp_path, daemon):
    good = h.make_core(tmp_path / "good")
    # A core whose ELF header claims 65535 program headers far past the end of the
    # file: the worker must refuse it (or die trying) in its own process.
    data = bytearray(good["path"].read_bytes())
    data[0x38:0x3a] = (65535).to_bytes(2, "little")       # e_phnum
    data[0x20:0x28] = (len(data) - 8).to_bytes(8, "little")  # e_phoff near EOF
    hostile = tmp_path / "hostile.core"
    hostile.write_bytes(bytes(data))
    p = h.send(daemon.endpoint(), hostile, "evil-1", "--seq", "1", "--signal", "11")
    assert p.returncode == 0, p.stderr
    dumps = h.wait_for(lambda: h.list_dumps(daemon.store), 30, "hostile dump stored")
    bad_id = dumps[0]["id"]
    rec = h.wait_for(lambda: (lambda r: r if r["symbolization"]["status"] == "failed"
                              else None)(h.info(daemon.store, bad_id)), 60,
                     "hostile dump recorded as failed")
    assert rec["symbolization"]["reason"]
    assert daemon.alive()
    # the daemon still takes and symbolizes a good dump afterwards
    p = h.send(daemon.endpoint(), good["path"], "good-1", "--seq", "1", "--signal", "11")
    assert p.returncode == 0, p.stderr
    g = wait_groups(daemon.store, lambda g: len(g) == 1, "the good dump's group")
    assert "crasher_level3" in g[0]["title"]
    assert daemon.alive()


PROG = pathlib.Path(__file__).resolve().parent / "progs" / "bugs.c"


def test_running_daemon_resymbolizes_after_late_symbols_add(tmp_path, daemon):
    # a stripped build crashes; its unstripped twin (same build-id) is not on the
    # collector yet
    full = tmp_path / "bugs"
    subprocess.run(["gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-fno-inline",
                    "-Wl,--build-id=sha1", "-o", str(full), str(PROG)], check=True)
    run = tmp_path / "run"
    run.mkdir()
    stripped = run / "bugs"
    stripped.write_bytes(full.read_bytes())
    stripped.chmod(0o755)
    subprocess.run(["strip", str(stripped)], check=True)
    subprocess.run(["sh", "-c", 'ulimit -c unlimited; exec ./bugs segv'], cwd=run,
                   capture_output=True)
    stripped.unlink()
    core = run / "core"
    assert core.exists()
    p = h.send(daemon.endpoint(), core, "dev-1", "--seq", "1", "--signal", "11")
    assert p.returncode == 0, p.stderr
    dump_id = h.wait_for(lambda: h.list_dumps(daemon.store), 30, "dump stored")[0]["id"]
    h.wait_for(lambda: status(daemon.store, dump_id) == "symbols-missing", 60,
               "symbols-missing")
    before = groups(daemon.store)
    assert len(before) == 1 and "bug_level3" not in before[0]["title"]

    out = subprocess.run([str(h.CORECASTCTL), "--store", str(daemon.store), "symbols", "add",
                          str(full)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "1 dump queued for re-symbolization" in out.stdout
    # the daemon notices the pending dump by itself (no signal, no restart)
    h.wait_for(lambda: status(daemon.store, dump_id) == "done", 60, "re-symbolized")
    after = groups(daemon.store)
    assert len(after) == 1
    assert after[0]["title"] == "SIGSEGV in bug_level3 <- bug_level2 <- bug_level1"
    assert daemon.alive()
