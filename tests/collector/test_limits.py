"""Refusals: the sender exits non-zero naming the collector's reason, and nothing that
was already stored is harmed."""
import re
import signal
import subprocess
import time

import pytest

import ccharness as H

BOOT = ("--boot-id", "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")


def _out(p):
    out = (p.stdout or b"") + (p.stderr or b"")
    return out.decode(errors="replace") if isinstance(out, bytes) else out


def assert_refused(p, pattern):
    text = _out(p)
    assert p.returncode != 0, f"corecast-send succeeded but should be refused: {text}"
    assert re.search(pattern, text, re.I), f"refusal reason /{pattern}/ not in: {text!r}"


def _dump_all(store, tmp_path):
    """{id: sha256 of `corecastctl dump`} for every stored dump."""
    out = {}
    for r in H.list_dumps(store):
        out[r["id"]] = H.dump_to(store, r["id"], tmp_path / f"keep-{r['id']}.core")
    return out


def test_store_over_quota_refused(make_daemon, core, medium_core, tmp_path, sent_ok):
    d = make_daemon()
    sent_ok(H.send(d.endpoint(), core["path"], "dev-quota", *BOOT, "--seq", 1))
    sent_ok(H.send(d.endpoint(), medium_core["path"], "dev-quota", *BOOT, "--seq", 2))
    before = _dump_all(d.store, tmp_path)
    assert sorted(before.values()) == sorted([core["sha256"], medium_core["sha256"]])
    assert d.stop() == 0

    # KeepFree beyond the size of any file system: no dump can ever be admitted, and
    # deleting the stored ones would not help, so they must be left alone.
    d.write_config("KeepFree=1000T\nMaxUse=1000T")
    d.start(listen=[f"udp://127.0.0.1:{d.port}"])
    p = H.send(d.endpoint(), core["path"], "dev-quota", *BOOT, "--seq", 3, "--timeout", 30)
    assert_refused(p, r"quota|disk full|space")
    assert d.alive()
    assert _dump_all(d.store, tmp_path) == before


def test_full_disk_refused_and_stored_dumps_intact(make_daemon, core, medium_core, tmp_path,
                                                   sent_ok):
    # A real full file system: a 24 MiB tmpfs under the store, filled with ballast.
    mnt = tmp_path / "fs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)],
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        d = make_daemon(config="MaxUse=1G\nKeepFree=0", store=mnt / "store")
        sent_ok(H.send(d.endpoint(), core["path"], "dev-full", *BOOT, "--seq", 1))
        before = _dump_all(d.store, tmp_path)
        # Leave about 1 MiB free; the 4.6 MB core cannot fit.
        ballast = mnt / "ballast"
        with open(ballast, "wb") as f:
            try:
                while True:
                    f.write(b"\xa5" * (1 << 20))
                    f.flush()
            except OSError:
                pass
        subprocess.run(["truncate", "-s", f"-{1 << 20}", str(ballast)], check=True)
        p = H.send(d.endpoint(), medium_core["path"], "dev-full", *BOOT, "--seq", 2,
                   "--timeout", 30)
        assert_refused(p, r"quota|disk full|space")
        assert d.alive()
        assert _dump_all(d.store, tmp_path) == before
        # Room again: the same dump now goes through.
        ballast.unlink()
        sent_ok(H.send(d.endpoint(), medium_core["path"], "dev-full", *BOOT, "--seq", 2))
        assert len(H.list_dumps(d.store)) == 2
        assert d.stop() == 0
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_core_larger_than_max_core_size_refused(make_daemon, core, medium_core, tmp_path,
                                                sent_ok):
    d = make_daemon(config="MaxCoreSize=2M")
    p = H.send(d.endpoint(), medium_core["path"], "dev-big", "--timeout", 30)
    assert_refused(p, r"too large|larger")
    assert H.list_dumps(d.store) == []
    # A core under the limit is still welcome.
    sent_ok(H.send(d.endpoint(), core["path"], "dev-big"))


def test_too_many_sessions_refused(make_daemon, big_core, core, tmp_path, procs, sent_ok,
                                   stored_identical):
    d = make_daemon(config="MaxSessions=1")
    imp = H.Impair(tmp_path / "impair", f"127.0.0.1:{d.port}", ["--rate", 40])
    procs.append(imp)
    slow = H.send_async(imp.endpoint, big_core["path"], "dev-slow", "--timeout", 120,
                        log=tmp_path / "slow.log")
    procs.append(slow)
    H.wait_for(lambda: any(f.name.endswith(".part") for f in (d.store / "spool").iterdir())
               if (d.store / "spool").is_dir() else False, 30, "the first session")
    p = H.send(d.endpoint(), core["path"], "dev-second", "--timeout", 20)
    assert slow.poll() is None, "the first transfer ended before the second was tried"
    assert_refused(p, r"too many|busy|sessions")
    assert slow.wait(150) == 0, (tmp_path / "slow.log").read_text()
    stored_identical(d.store, big_core, tmp_path)


def test_device_rate_limit_refused(make_daemon, core, sent_ok):
    d = make_daemon(config="DeviceRate=1")
    sent_ok(H.send(d.endpoint(), core["path"], "dev-rate", *BOOT, "--seq", 1))
    p = H.send(d.endpoint(), core["path"], "dev-rate", *BOOT, "--seq", 2, "--timeout", 20)
    assert_refused(p, r"rate")
    # Another device is not affected.
    sent_ok(H.send(d.endpoint(), core["path"], "dev-other", *BOOT, "--seq", 1))


def test_sighup_reload_applies_new_limits(make_daemon, core, medium_core, sent_ok):
    d = make_daemon(config="MaxCoreSize=1G")
    sent_ok(H.send(d.endpoint(), medium_core["path"], "dev-hup", *BOOT, "--seq", 1))
    d.write_config("MaxCoreSize=2M")
    d.proc.send_signal(signal.SIGHUP)
    # Reload is asynchronous: retry until the new limit is in force.
    deadline = time.monotonic() + 10
    seq = 2
    while True:
        p = H.send(d.endpoint(), medium_core["path"], "dev-hup", *BOOT, "--seq", seq,
                   "--timeout", 20)
        if p.returncode != 0 or time.monotonic() > deadline:
            break
        seq += 1
        time.sleep(0.2)
    assert_refused(p, r"too large|larger")
    assert d.alive()
