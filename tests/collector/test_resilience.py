"""The collector survives being killed mid-transfer, senders vanishing, many senders at
once and a flood of hostile datagrams."""
import random
import re
import struct
import subprocess
import time

import ccharness as H
import ndclient as N


def _spool_bytes(store):
    """Bytes of partial data in the store's spool (the .part files)."""
    total = 0
    spool = store / "spool"
    if spool.is_dir():
        for f in spool.iterdir():
            if f.name.endswith(".part"):
                total += f.stat().st_size
    return total


def test_resume_after_collector_sigkill(make_daemon, big_core, tmp_path, procs, sent_ok,
                                        stored_identical):
    d = make_daemon()
    port = d.port
    # 40 Mbit/s: the 24 MiB core takes about five seconds, so it is surely mid-flight.
    imp = H.Impair(tmp_path / "impair", f"127.0.0.1:{port}", ["--rate", 40, "--delay", 1])
    procs.append(imp)
    sender = H.send_async(imp.endpoint, big_core["path"], "dev-resume", "--timeout", 120,
                          "--stats", log=tmp_path / "send.log")
    procs.append(sender)
    size = big_core["size"]
    # Kill late enough that any sane durability batching (the store fsyncs the spool
    # in batches of megabytes or seconds) has claimed a good part of the core.
    H.wait_for(lambda: _spool_bytes(d.store) >= size * 3 // 4, 60,
               "three quarters of the core in the spool")
    assert sender.poll() is None, "transfer finished before the collector could be killed"
    d.kill()
    killed_at = imp.counters()["up"]["tx_bytes"]

    time.sleep(0.5)  # the sender keeps retransmitting into a dead port meanwhile
    d.start(listen=[f"udp://127.0.0.1:{port}"])
    assert d.port == port
    sender.wait(150)
    sent_ok(_completed(sender, tmp_path / "send.log"))
    after = imp.stop()["up"]["tx_bytes"] - killed_at
    assert d.stop() == 0
    assert d.exit_counters().get("resumes", 0) >= 1, d.log_text()[-2000:]

    row = stored_identical(d.store, big_core, tmp_path)
    assert row["device"] == "dev-resume"
    # Resumed, not restarted: the collector offered a resume point and well under a
    # whole core crossed after the restart.
    stats = (tmp_path / "send.log").read_text()
    m = re.search(r"\bresume=(\d+)", stats)
    assert m and int(m.group(1)) > 0, f"no resume point after the restart: {stats}"
    assert after < 0.8 * size, f"{after} bytes sent after restart for a {size}-byte core"
    assert not any(f.name.endswith(".part") for f in (d.store / "spool").iterdir())


def test_sigterm_mid_transfer_exits_0_and_keeps_everything_for_resume(
        make_daemon, big_core, tmp_path, procs, sent_ok, stored_identical):
    d = make_daemon()
    port = d.port
    imp = H.Impair(tmp_path / "impair", f"127.0.0.1:{port}", ["--rate", 40])
    procs.append(imp)
    sender = H.send_async(imp.endpoint, big_core["path"], "dev-drain", "--timeout", 120,
                          "--stats", log=tmp_path / "send.log")
    procs.append(sender)
    size = big_core["size"]
    H.wait_for(lambda: _spool_bytes(d.store) >= size // 3, 60, "a third of the core")
    # Draining means: exit 0, and what was received is made durable on the way out,
    # so the resume point covers (nearly) everything that reached the spool.
    assert d.stop() == 0, d.log_text()[-2000:]
    held = _spool_bytes(d.store)
    assert sender.poll() is None
    d.start(listen=[f"udp://127.0.0.1:{port}"])
    sender.wait(150)
    sent_ok(_completed(sender, tmp_path / "send.log"))
    imp.stop()
    stored_identical(d.store, big_core, tmp_path)
    m = re.search(r"\bresume=(\d+)", (tmp_path / "send.log").read_text())
    assert m, (tmp_path / "send.log").read_text()
    # At most a window's worth of out-of-order tail may be missing from the prefix.
    assert int(m.group(1)) >= held - (4 << 20), (int(m.group(1)), held)


class _Done:
    def __init__(self, rc, out):
        self.returncode, self.stdout, self.stderr = rc, out, b""


def _completed(proc, log):
    return _Done(proc.returncode, log.read_bytes())


def garbage_datagrams(n, seed=1):
    """n hostile datagrams: random bytes, truncated headers, forged cookies (netdump v1:
    12-byte header "ND", version, type, cookie u64; DATA adds offset u64, tsval u32,
    len u16, payload)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:          # random bytes of random length, including empty
            out.append(rng.randbytes(rng.randrange(0, 1500)))
        elif kind == 1:        # a valid-looking header cut short anywhere
            hdr = b"ND\x01" + bytes([rng.randrange(0, 16)]) + rng.randbytes(8) + \
                rng.randbytes(rng.randrange(0, 64))
            out.append(hdr[:rng.randrange(0, len(hdr) + 1)])
        elif kind == 2:        # well-formed DATA (type 4) with a forged cookie
            payload = rng.randbytes(rng.randrange(1, 1424))
            out.append(b"ND\x01\x04" + rng.randbytes(8) +
                       struct.pack(">QIH", rng.randrange(0, 1 << 40), rng.getrandbits(32),
                                   len(payload)) + payload)
        else:                  # any version and type after the magic, forged cookie
            out.append(b"ND" + bytes([rng.choice((1, 1, 0, 2, 255)), rng.randrange(0, 256)])
                       + rng.randbytes(8) + rng.randbytes(rng.randrange(0, 1460)))
    return out


def flood(port, datagrams, host="127.0.0.1", sockets=8):
    """Send the datagrams from several source ports, as fast as loopback takes them."""
    socks = [H.udp_socket() for _ in range(sockets)]
    sent = 0
    for i, dg in enumerate(datagrams):
        try:
            socks[i % sockets].sendto(dg, (host, port))
            sent += 1
        except (BlockingIOError, OSError):
            time.sleep(0.001)
    for s in socks:
        s.close()
    return sent


def test_garbage_flood_during_transfer(daemon, big_core, core, tmp_path, procs, sent_ok,
                                       stored_identical):
    rss_before = H.proc_status(daemon.pid, "VmRSS")
    garbage = garbage_datagrams(100_000, seed=11)
    # 40 Mbit/s through the proxy keeps the 24 MiB transfer running during the flood.
    imp = H.Impair(tmp_path / "impair", f"127.0.0.1:{daemon.port}", ["--rate", 40])
    procs.append(imp)
    sender = H.send_async(imp.endpoint, big_core["path"], "dev-flooded", "--timeout", 120,
                          log=tmp_path / "send.log")
    procs.append(sender)
    H.wait_for(lambda: _spool_bytes(daemon.store) > 0, 30, "the transfer to start")
    t0 = time.monotonic()
    sent = flood(daemon.port, garbage)
    flood_s = time.monotonic() - t0
    assert sent >= 99_000
    assert sender.poll() is None, \
        f"the transfer ended before the {flood_s:.1f} s flood did; the test proved nothing"
    sender.wait(150)
    sent_ok(_completed(sender, tmp_path / "send.log"))
    assert daemon.alive(), "corecastd died under garbage:\n" + daemon.log_text()[-2000:]
    rss_after = H.proc_status(daemon.pid, "VmRSS")
    hwm = H.proc_status(daemon.pid, "VmHWM")
    # Garbage must cost no memory: no session, no buffer per bogus datagram.
    assert rss_after - rss_before < 16 * 1024, (rss_before, rss_after)
    assert hwm < 64 * 1024, f"peak RSS {hwm} kB"
    stored_identical(daemon.store, big_core, tmp_path)
    # Still serving after the flood.
    sent_ok(H.send(daemon.endpoint(), core["path"], "dev-after-flood"))
    assert len(H.list_dumps(daemon.store)) == 2
    assert daemon.stop() == 0
    c = daemon.exit_counters()
    # The flood reached the daemon (not just the kernel's socket buffer) and was
    # rejected as garbage or for its forged cookie.
    rejected = c.get("garbage", 0) + c.get("bad_cookie", 0) + c.get("truncated", 0)
    assert rejected >= sent // 2, c


def test_concurrent_senders_each_get_their_own_core(make_daemon, core, tmp_path, sent_ok):
    # Forty senders at once, each with different bytes: a mix-up between sessions
    # could not produce the right digests.
    d = make_daemon()
    base = core["path"].read_bytes()
    rng = random.Random(3)
    files, want = [], {}
    for i in range(40):
        f = tmp_path / f"core-{i:02d}"
        f.write_bytes(base + rng.randbytes(rng.randrange(1, 400_000)))
        files.append(f)
        want[f"dev-many-{i:02d}"] = H.sha256_file(f)
    senders = [H.send_async(d.endpoint(), f, f"dev-many-{i:02d}", "--timeout", 60,
                            log=tmp_path / f"send-{i:02d}.log") for i, f in enumerate(files)]
    for i, s in enumerate(senders):
        assert s.wait(120) == 0, (tmp_path / f"send-{i:02d}.log").read_text()
    got = {r["device"]: r["sha256"] for r in H.list_dumps(d.store)}
    assert got == want
    assert H.proc_status(d.pid, "VmHWM") < 64 * 1024


def test_idle_session_times_out_and_resumes_later(make_daemon, core):
    d = make_daemon(config="SessionTimeout=1s")
    data = core["path"].read_bytes()
    boot = bytes(range(100, 116))
    half = (len(data) // 2) // 1024 * 1024
    first = N.Session("127.0.0.1", d.port, "dev-idle", data, boot_id=boot, seq=9)
    assert first.open()["type"] == N.OPEN_ACK
    first.data = data[:half]
    first.send_all()
    first.close()
    time.sleep(2.5)  # the sender went silent: the collector closes the session
    again = N.Session("127.0.0.1", d.port, "dev-idle", data, boot_id=boot, seq=9)
    ack = again.open()
    assert ack["type"] == N.OPEN_ACK and ack["resume"] > 0, ack
    assert again.send_all() is None
    assert again.finish()["code"] == N.STORED
    again.close()
    assert d.stop() == 0
    c = d.exit_counters()
    assert c.get("timeouts", 0) >= 1 and c.get("resumes", 0) >= 1, c


def test_unusable_store_is_named_once_at_start(tmp_path, collector_built):
    # A store below a regular file cannot be created: corecastd must exit non-zero with
    # one line naming the directory once, then the cause (not "store X: X: ...").
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    store = blocker / "store"
    p = subprocess.run([str(H.CORECASTD), "--store", str(store), "--listen",
                        "udp://127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    assert p.returncode != 0
    lines = [l for l in p.stderr.splitlines() if "store " in l]
    assert len(lines) == 1, p.stderr
    assert lines[0].count(str(blocker)) == 1, lines[0]
    assert re.search(r"store " + re.escape(str(blocker)) + r"\S*: cannot create the directory",
                     lines[0]), lines[0]
