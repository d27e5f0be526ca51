"""The corecast kernel (QEMU riscv64, virtio-net, lwIP TCP) sends its crash dumps over
tls:// — TLS 1.2 with mbedtls and the PSK from corecast.psk=, netdump messages
length-prefixed in the stream — to a real corecastd.  A wrong key: nothing stored,
the console takes the dump.  On the wire, the crashing program's strings are visible
over udp:// and absent over tls://."""
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

import tlsharness as T

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "net"))
import knet  # noqa: E402

H = T.H
SEGV = "run=crashdemo:mode=segv:threads=2:fp=1"
KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
RNG = ["-device", "virtio-rng-device"]
TCPDUMP = shutil.which("tcpdump") or "/usr/bin/tcpdump"

pytestmark = pytest.mark.skipif(
    not (knet.kqemu.KERNEL.exists() and knet.CRASHDEMO.exists()),
    reason="needs the kernel and its user programs (make kernel)")


@pytest.fixture
def kdaemon(make_tls_daemon):
    d = make_tls_daemon(listen=["udp://127.0.0.1:0", "tls://127.0.0.1:0"], enroll=False,
                        symbolize=1)
    assert T.ctl_devices(d.store, "add", "kdev", "--psk", KEY).returncode == 0
    d.hup()
    # debug info filed first: the dump is symbolized as it is stored
    H.ctl(d.store, "symbols", "add", knet.CRASHDEMO)
    return d


def boot(d, key, scheme="tls", more="", timeout=180, prog=SEGV):
    psk = f" corecast.psk={key}" if key else ""
    args = (f"{prog} corecast.device=kdev corecast.endpoint={scheme}://{knet.HOST}:"
            f"{d.port_of(scheme)}{psk} {more} poweroff")
    with knet.NetKernel(args, timeout, extra=RNG) as k:
        out = k.wait()
    assert k.proc.returncode == 0, out[-3000:]
    return out.replace("\r", "")


def test_kernel_core_over_tls_stored_verified_symbolized(kdaemon, tmp_path):
    out = boot(kdaemon, KEY)
    m = re.search(r"\[net\] core pid=\d+ stored by (tls://\S+) sha256=([0-9a-f]{64})", out)
    assert m, out[-3000:]
    assert m.group(1) == f"tls://{knet.HOST}:{kdaemon.port_of('tls')}"
    assert "[net] tls: authenticated as kdev (TLS-PSK-WITH-AES-128-GCM-SHA256)" in out
    assert re.search(r"\[net\] ram: tls pool high-water=\d+ of \d+", out), out[-2000:]
    assert re.search(r"\[net\] ram: tcp pcbs max=\d+ of \d+, segments max=\d+", out)
    assert "_COREDUMP_START_" not in out
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 1 and rows[0]["sha256"] == m.group(2) and rows[0]["device"] == "kdev"
    core = tmp_path / "core"
    # dump_to recomputes SHA-256 over the stored bytes: byte-identical to what the kernel hashed
    assert H.dump_to(kdaemon.store, rows[0]["id"], core) == m.group(2)
    assert core.stat().st_size == rows[0]["size"]
    assert "device kdev authenticated by PSK" in kdaemon.log_text()
    rec = knet.wait_symbolized(kdaemon.store, rows[0]["id"])
    assert rec["symbolization"]["status"] == "done", rec["symbolization"]
    assert "do_crash" in knet.ctl_functions(rec)


def test_kernel_tls_wrong_key_refused_then_console(kdaemon, tmp_path):
    out = boot(kdaemon, "00" * 16, more="corecast.endpoint=serial corecast.retries=0")
    assert "[net] tls handshake failed: wrong key" in out, out[-3000:]
    assert re.search(r"\[net\] core pid=\d+ to tls://\S+ attempt 1: failed", out), out[-3000:]
    assert "_COREDUMP_START_" in out            # the dump went to the console instead
    assert H.list_dumps(kdaemon.store) == []
    assert re.search(r"tls handshake from 127\.0\.0\.1:\d+ refused: device kdev: wrong key",
                     kdaemon.log_text())
    # and the console dump is the whole core: it imports byte-identical
    sha = re.search(r"\[k\] core pid=\d+ threads=\d+ size=\d+ memory=\d+ sha256=([0-9a-f]{64})",
                    out).group(1)
    log = tmp_path / "console.log"
    log.write_text(out)
    store = tmp_path / "store"
    p = subprocess.run([str(H.CORECASTCTL), "--store", str(store), "import-serial", str(log)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert p.returncode == 0, p.stdout
    dumps = H.list_dumps(store)
    assert len(dumps) == 1 and dumps[0]["sha256"] == sha, dumps
    assert H.dump_to(store, dumps[0]["id"], tmp_path / "core") == sha


def test_kernel_tls_refused_connection_then_next_endpoint(kdaemon):
    # Nothing listens on the first port: TCP is reset, the attempts are spent at
    # once, and the next endpoint (the real collector over tls://) stores the dump.
    with socket.socket() as sk:           # a TCP port nothing listens on now
        sk.bind(("127.0.0.1", 0))
        dead = sk.getsockname()[1]
    args = (f"{SEGV} corecast.device=kdev corecast.psk={KEY} corecast.retries=1 "
            f"corecast.endpoint=tls://{knet.HOST}:{dead} "
            f"corecast.endpoint=tls://{knet.HOST}:{kdaemon.port_of('tls')} poweroff")
    with knet.NetKernel(args, 180, extra=RNG) as k:
        out = k.wait().replace("\r", "")
    assert k.proc.returncode == 0, out[-3000:]
    tries = re.findall(r"\[net\] core pid=\d+ to (tls://\S+) attempt (\d+): (\S+)", out)
    assert tries == [(f"tls://{knet.HOST}:{dead}", "1", "failed"),
                     (f"tls://{knet.HOST}:{dead}", "2", "failed"),
                     (f"tls://{knet.HOST}:{kdaemon.port_of('tls')}", "1", "stored")], tries
    assert out.count("[net] tls: connection refused") == 2
    assert "_COREDUMP_START_" not in out
    assert len(H.list_dumps(kdaemon.store)) == 1


def capture(port, path, run):
    """Run run() while tcpdump writes every packet to/from port on loopback into path."""
    p = subprocess.Popen([TCPDUMP, "-i", "lo", "-n", "-s", "0", "-U", "--immediate-mode",
                          "-B", "65536", "-w", str(path), f"port {port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening on" in p.stderr.readline()
        time.sleep(0.5)     # the ring is attached a moment after that line
        out = run()
        time.sleep(0.3)
    finally:
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=10)
    d = [l for l in err.splitlines() if "dropped by kernel" in l]
    return out, path.read_bytes(), int(d[0].split()[0]) if d else 0


@pytest.mark.skipif(not os.path.exists(TCPDUMP) or os.geteuid() != 0,
                    reason="needs tcpdump and root")
def test_kernel_tls_capture_has_no_core_plaintext_plain_udp_does(kdaemon, tmp_path):
    # The marker is an argument the crashing program ignores: it lives in its
    # memory (argv on its stack), so it is in the core, and nowhere in the
    # netdump metadata.  A plain udp:// capture must hold it (else the check could
    # not fail); a tls:// capture of the same crash must not.
    marker = "ccmark=K7-PLAINTEXT-7f3a9c1e"
    halves = (marker[:14].encode(), marker[14:].encode())  # it may straddle two packets
    seen = {}
    for scheme in ("udp", "tls"):
        for attempt in range(3):
            out, pcap, dropped = capture(
                kdaemon.port_of(scheme), tmp_path / f"{scheme}{attempt}.pcap",
                lambda s=scheme: boot(kdaemon, KEY if s == "tls" else "", scheme=s,
                                      prog=f"{SEGV}:{marker}"))
            assert f"stored by {scheme}://" in out, "\n".join(
                l for l in out.splitlines() if "[net]" in l or "bootargs" in l)
            if dropped == 0:
                break
        assert dropped == 0
        seen[scheme] = pcap
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 2
    for r in rows:
        core = tmp_path / f"core{r['id']}"
        H.dump_to(kdaemon.store, r["id"], core)
        assert marker.encode() in core.read_bytes()
    # the whole transfer is in each capture
    assert all(len(seen[k]) > max(r["size"] for r in rows) for k in seen)
    assert any(h in seen["udp"] for h in halves), "plain udp capture lacks the marker"
    assert not any(h in seen["tls"] for h in halves), "core plaintext visible over tls://"
    assert b"crashdemo" in seen["udp"] and b"crashdemo" not in seen["tls"]
