"""The corecast kernel streams cores to corecastd over its own network stack (virtio-net, lwIP, netdump/UDP).

Real components only: the kernel in QEMU with user networking, the real collector
and its CLI, the impairment proxy, gdb-multiarch.  QEMU instances that do not
depend on each other run in parallel to keep the suite short on two cores.
"""
import concurrent.futures
import re
import subprocess
import time

import pytest

import knet
from knet import H

SEGV = "run=crashdemo:mode=segv:threads=2:fp=1"


@pytest.fixture
def daemon(tmp_path):
    for p in (H.CORECASTD, H.CORECASTCTL, H.IMPAIR, knet.kqemu.KERNEL, knet.CRASHDEMO):
        if not p.exists():
            pytest.fail(f"{p} is not built (run `make all kernel`)", pytrace=False)
    d = H.Daemon(tmp_path / "ccd").start()
    # Debug info filed first, so every dump is symbolized as it is stored.
    H.ctl(d.store, "symbols", "add", knet.CRASHDEMO)
    yield d
    assert d.stop() == 0, d.log_text()[-2000:]


def ep(port):
    return f"corecast.endpoint=udp://{knet.HOST}:{port}"


def test_crash_arrives_verified_and_backtrace_matches_gdb(daemon, tmp_path):
    out = knet.run(f"{SEGV} corecast.device=knet-one {ep(daemon.port)} poweroff")
    assert "status=signal 11 (SIGSEGV)" in out
    (pid, where, sha), = knet.stored(out)
    assert where == f"udp://{knet.HOST}:{daemon.port}"
    assert "BEGIN CORECAST" not in out  # nothing went to the console
    # The DHCP answers arrived by the NIC's interrupt, before the dump polled anything.
    assert int(re.search(r"\[net\] nic: irqs=(\d+)", out).group(1)) > 0
    assert re.search(r"\[net\] address 10\.0\.2\.15 \(dhcp\)", out)

    dumps = H.list_dumps(daemon.store)
    assert len(dumps) == 1, dumps
    rec = knet.wait_symbolized(daemon.store, dumps[0]["id"])
    assert rec["status"] == "stored" and rec["sha256"] == sha
    assert rec["device"] == "knet-one" and rec["exe"] == "crashdemo" and rec["signal"] == 11
    core = tmp_path / "core"
    assert H.dump_to(daemon.store, rec["id"], core) == sha

    names, g = knet.gdb_functions(core, knet.CRASHDEMO)
    assert "Program terminated with signal SIGSEGV" in g, g
    assert "do_crash" in names and "main" in names, g
    ctl = knet.ctl_functions(rec)
    assert ctl[:len(names)] == names, (ctl, g)
    assert len(rec["threads"]) == 3


def test_impaired_path_delivers_byte_identical(daemon, tmp_path):
    imp = H.Impair(tmp_path / "imp", f"127.0.0.1:{daemon.port}",
                   ["--loss", 3, "--dup", 3, "--reorder", 10, "--delay", 2], seed=7)
    try:
        out = knet.run(f"run=crashdemo:mode=segv:mem=2 corecast.scope=writable "
                       f"corecast.device=knet-impair {ep(imp.port)} poweroff", timeout=240)
    finally:
        counters = imp.stop()
    (pid, where, sha), = knet.stored(out)
    # The proxy really dropped, duplicated and reordered in both directions.
    up = counters["up"]
    assert up["lost"] > 0 and up["duplicated"] > 0 and up["reordered"] > 0, counters
    assert counters["down"]["lost"] > 0, counters
    retrans = int(re.search(r"retransmits=(\d+)", out).group(1))
    assert retrans > 0, out
    size = int(re.search(r"attempt 1: stored size=(\d+)", out).group(1))
    assert size > 2 << 20
    dumps = H.list_dumps(daemon.store)
    assert len(dumps) == 1, dumps
    rec = H.info(daemon.store, dumps[0]["id"])
    assert rec["sha256"] == sha and rec["size"] == size
    assert H.dump_to(daemon.store, rec["id"], tmp_path / "core") == sha


def test_no_collector_falls_back_to_serial_and_imports_identical(tmp_path):
    port = knet.free_udp_port()
    out = knet.run(f"{SEGV} {ep(port)} corecast.endpoint=serial corecast.retries=1 "
                   f"corecast.timeout=2 run=hello poweroff", timeout=180)
    # Two bounded attempts, then the console; the kernel carries on and powers off.
    tries = knet.attempts(out)
    assert [(a, s) for _, a, s in tries] == [("1", "failed"), ("2", "failed")], tries
    assert "status=signal 11 (SIGSEGV)" in out and "all programs exited" in out
    sha = re.search(r"\[k\] core pid=1 threads=\d+ size=\d+ memory=\d+ sha256=([0-9a-f]{64})",
                    out).group(1)
    log = tmp_path / "console.log"
    log.write_text(out)
    store = tmp_path / "store"
    p = subprocess.run([str(H.CORECASTCTL), "--store", str(store), "import-serial", str(log)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert p.returncode == 0, p.stdout
    dumps = H.list_dumps(store)
    assert len(dumps) == 1, dumps
    rec = H.info(store, dumps[0]["id"])
    assert rec["sha256"] == sha
    # No corecast.device=: the id is derived from QEMU's default MAC address.
    assert rec["device"] == "cc-525400123456"
    assert H.dump_to(store, rec["id"], tmp_path / "core") == sha


def test_collector_started_late_within_retry_budget_gets_the_dump(tmp_path):
    port = knet.free_udp_port()
    d = H.Daemon(tmp_path / "ccd", listen=[f"udp://127.0.0.1:{port}"])
    with knet.NetKernel(f"{SEGV} {ep(port)} corecast.retries=5 corecast.timeout=3 poweroff",
                        timeout=240) as k:
        k.expect(r"attempt 1: failed", timeout=120)  # nobody there: the first attempt gave up
        d.start()
        try:
            out = k.wait().replace("\r", "")
        finally:
            rc = d.stop()
    assert rc == 0
    tries = knet.attempts(out)
    assert tries[0][2] == "failed" and tries[-1][2] == "stored", tries
    (pid, where, sha), = knet.stored(out)
    dumps = H.list_dumps(d.store)
    assert len(dumps) == 1 and H.info(d.store, dumps[0]["id"])["sha256"] == sha


def test_fleet_same_bug_groups_by_device(daemon):
    # Three boards with the same bug, one with another; device ids from their MACs.
    boards = [("52:54:00:cc:00:01", "segv"), ("52:54:00:cc:00:02", "segv"),
              ("52:54:00:cc:00:03", "segv"), ("52:54:00:cc:00:04", "illegal")]

    def boot(board):
        mac, mode = board
        return knet.run(f"run=crashdemo:mode={mode} {ep(daemon.port)} poweroff", mac=mac,
                        timeout=240)
    with concurrent.futures.ThreadPoolExecutor(len(boards)) as pool:
        outs = list(pool.map(boot, boards))
    for out in outs:
        assert len(knet.stored(out)) == 1, out[-2000:]
    dumps = H.list_dumps(daemon.store)
    assert sorted(d["device"] for d in dumps) == [f"cc-525400cc000{i}" for i in range(1, 5)]
    for d in dumps:
        knet.wait_symbolized(daemon.store, d["id"])
    groups = H.ctl(daemon.store, "groups")
    assert sorted((g["devices"], g["count"]) for g in groups) == [(1, 1), (3, 3)], groups
    big = max(groups, key=lambda g: g["devices"])
    assert "SIGSEGV" in big["title"]


def test_static_address_on_virtio_1_0_transport(daemon):
    out = knet.run(f"{SEGV} corecast.ip=10.0.2.20 corecast.netmask=255.255.255.0 "
                   f"corecast.gw=10.0.2.2 {ep(daemon.port)} poweroff",
                   extra=["-global", "virtio-mmio.force-legacy=false"])
    assert "virtio-net (virtio-mmio v2)" in out and "[net] address 10.0.2.20 (static)" in out
    (pid, where, sha), = knet.stored(out)
    dumps = H.list_dumps(daemon.store)
    assert len(dumps) == 1 and H.info(daemon.store, dumps[0]["id"])["sha256"] == sha


def test_endpoint_by_dns_name_and_fallback_order(tmp_path):
    """In a private network namespace: a name server on the host side answers one
    name with 10.0.2.2; the first endpoint's name does not resolve, the second does."""
    if subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        pytest.skip("cannot create a network namespace here (needs root)")
    store, pf, qlog = tmp_path / "store", tmp_path / "port", tmp_path / "queries"
    console, ccdlog = tmp_path / "console.log", tmp_path / "corecastd.log"
    qemu = " ".join(knet.kqemu.QEMU) + f" -kernel {knet.kqemu.KERNEL}" \
        " -device virtio-net-device,netdev=n0 -netdev user,id=n0"
    args = (f"{SEGV} corecast.dns=10.0.2.2 corecast.timeout=3 corecast.retries=0 "
            "corecast.endpoint=udp://nowhere.corecast.test:7770 "
            "corecast.endpoint=udp://collector.corecast.test:7770 poweroff")
    script = f"""
set -e
ip link set lo up
/usr/bin/python3 {knet.HERE}/dns_stub.py 127.0.0.1 53 collector.corecast.test 10.0.2.2 {qlog} &
DNS=$!
{H.CORECASTD} --store {store} --port-file {pf} --listen udp://127.0.0.1:7770 2>{ccdlog} &
CCD=$!
for i in $(seq 100); do [ -s {pf} ] && [ -e {qlog} ] && break; sleep 0.1; done
timeout 200 {qemu} -append '{args}' </dev/null >{console} 2>&1
kill -TERM $CCD; wait $CCD; kill $DNS
"""
    p = subprocess.run(["unshare", "-n", "sh", "-c", script], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    out = console.read_text(errors="replace").replace("\r", "")
    assert p.returncode == 0, (p.stdout, out[-3000:])
    assert "[net] udp://nowhere.corecast.test:7770: cannot resolve the name" in out, out[-3000:]
    (pid, where, sha), = knet.stored(out)
    assert where == "udp://collector.corecast.test:7770"
    queries = qlog.read_text().split("\n")
    assert "nowhere.corecast.test 1" in queries and "collector.corecast.test 1" in queries
    dumps = H.list_dumps(store)
    assert len(dumps) == 1 and H.info(store, dumps[0]["id"])["sha256"] == sha


def test_refusing_collector_then_next_endpoint(daemon, tmp_path):
    small = H.Daemon(tmp_path / "small")
    small.write_config("MaxCoreSize=4K")
    small.start()
    try:
        out = knet.run(f"{SEGV} {ep(small.port)} {ep(daemon.port)} corecast.retries=1 poweroff")
    finally:
        assert small.stop() == 0
    tries = knet.attempts(out)
    first = f"udp://{knet.HOST}:{small.port}"
    assert [(w, s) for w, _, s in tries] == [(first, "refused"), (first, "refused"),
                                            (f"udp://{knet.HOST}:{daemon.port}", "stored")], tries
    (pid, where, sha), = knet.stored(out)
    assert H.list_dumps(small.store) == []
    dumps = H.list_dumps(daemon.store)
    assert len(dumps) == 1 and H.info(daemon.store, dumps[0]["id"])["sha256"] == sha
    assert "status=signal 11 (SIGSEGV)" in out


def test_ipv6_endpoint_with_slaac_address(tmp_path):
    d = H.Daemon(tmp_path / "ccd6", listen=["udp://[::1]:0"]).start()
    try:
        # QEMU's user network advertises fec0::/64 and forwards fec0::2 to the host's ::1.
        out = knet.run(f"{SEGV} corecast.endpoint=udp://[fec0::2]:{d.port} poweroff")
        (pid, where, sha), = knet.stored(out)
        assert where == f"udp://[fec0::2]:{d.port}"
        assert re.search(r"\[net\] address FEC0::[0-9A-F:]+ \(slaac\)", out), out[-2000:]
        dumps = H.list_dumps(d.store)
        assert len(dumps) == 1 and H.info(d.store, dumps[0]["id"])["sha256"] == sha
    finally:
        assert d.stop() == 0


def test_collector_killed_mid_transfer_resumes(tmp_path):
    port = knet.free_udp_port()
    d = H.Daemon(tmp_path / "ccd", listen=[f"udp://127.0.0.1:{port}"]).start()
    # A 20 Mbit/s link makes an 8 MiB core take seconds: time to kill the collector.
    imp = H.Impair(tmp_path / "imp", f"127.0.0.1:{port}", ["--rate", 20])
    try:
        with knet.NetKernel(f"run=crashdemo:mode=segv:mem=8 corecast.scope=writable "
                            f"{ep(imp.port)} corecast.timeout=10 poweroff", timeout=300) as k:
            k.expect(r"\[k\] fault pid=1")
            # Kill once 2 MB of the 8 MiB have passed the proxy (about a second before the end).
            H.wait_for(lambda: imp.counters().get("up", {}).get("tx_bytes", 0) > 2_000_000,
                       120, "2 MB of the core on the way", interval=0.1)
            d.kill()       # SIGKILL: the spool on disk is all that survives
            time.sleep(0.5)
            d.start()
            out = k.wait().replace("\r", "")
    finally:
        imp.stop()
        rc = d.stop()
    assert rc == 0
    m = re.search(r"attempt 1: stored size=(\d+) .* opens=(\d+) resume=(\d+)", out)
    assert m, out[-3000:]
    size, opens, resume = (int(x) for x in m.groups())
    # Re-opened to the restarted collector, which resumed past the start of the core.
    assert opens >= 2 and 0 < resume < size, (opens, resume, size)
    (pid, where, sha), = knet.stored(out)
    dumps = H.list_dumps(d.store)
    assert len(dumps) == 1 and H.info(d.store, dumps[0]["id"])["sha256"] == sha


def test_nic_without_endpoint_keeps_the_console_dump(tmp_path):
    out = knet.run(f"{SEGV} poweroff")
    assert "[net] virtio-net (virtio-mmio v1)" in out
    assert knet.attempts(out) == [] and "COREDUMP_END" in out
    assert "status=signal 11 (SIGSEGV)" in out
