"""The corecast kernel (QEMU riscv64, virtio-net, lwIP) sends its crash dumps over
dtls:// with mbedtls and a PSK from corecast.psk=; entropy from a virtio-rng device.
A wrong key or a missing entropy device: no dump stored, the console fallback."""
import os
import pathlib
import re
import shutil
import signal
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

pytestmark = pytest.mark.skipif(
    not (knet.kqemu.KERNEL.exists() and knet.CRASHDEMO.exists()),
    reason="needs the kernel and its user programs (make kernel)")


@pytest.fixture
def kdaemon(make_tls_daemon):
    d = make_tls_daemon(listen=["dtls://127.0.0.1:0"], enroll=False, symbolize=1)
    assert T.ctl_devices(d.store, "add", "kdev", "--psk", KEY).returncode == 0
    d.hup()
    # debug info filed first: the dump is symbolized as it is stored
    H.ctl(d.store, "symbols", "add", knet.CRASHDEMO)
    return d


def boot(d, key, extra=RNG, more="", port=None, timeout=180, prog=SEGV, kernel=None):
    psk = f"corecast.psk={key}" if key else ""
    args = (f"{prog} corecast.device=kdev corecast.endpoint=dtls://{knet.HOST}:"
            f"{port or d.port} {psk} {more} poweroff")
    with knet.NetKernel(args, timeout, extra=extra, kernel=kernel) as k:
        out = k.wait()
    assert k.proc.returncode == 0, out[-3000:]
    return out.replace("\r", "")


def test_kernel_core_over_dtls_stored_verified(kdaemon, tmp_path):
    out = boot(kdaemon, KEY)
    m = re.search(r"\[net\] core pid=\d+ stored by (dtls://\S+) sha256=([0-9a-f]{64})", out)
    assert m, out[-3000:]
    assert m.group(1) == f"dtls://{knet.HOST}:{kdaemon.port}"
    assert "[net] dtls: authenticated as kdev (TLS-PSK-WITH-AES-128-GCM-SHA256)" in out
    assert re.search(r"\[net\] ram: dtls pool high-water=\d+ of \d+", out), out[-2000:]
    assert "_COREDUMP_START_" not in out
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 1 and rows[0]["sha256"] == m.group(2) and rows[0]["device"] == "kdev"
    core = tmp_path / "core"
    assert H.dump_to(kdaemon.store, rows[0]["id"], core) == m.group(2)
    assert "device kdev authenticated by PSK" in kdaemon.log_text()
    rec = knet.wait_symbolized(kdaemon.store, rows[0]["id"])
    assert rec["symbolization"]["status"] == "done", rec["symbolization"]
    assert "do_crash" in knet.ctl_functions(rec)


def test_kernel_dtls_through_loss_and_reordering(kdaemon, procs):
    imp = H.Impair(kdaemon.workdir / "imp", f"127.0.0.1:{kdaemon.port}",
                   ["--loss", 3, "--reorder", 5, "--delay", 1], seed=5)
    procs.append(imp)
    # 2 MiB of writable memory: over a thousand records, so the proxy's losses
    # and reorderings certainly hit the transfer (and maybe the handshake).
    out = boot(kdaemon, KEY, port=imp.port, more="corecast.timeout=20", timeout=300,
               prog="run=crashdemo:mode=segv:mem=2 corecast.scope=writable")
    m = re.search(r"stored by dtls://\S+ sha256=([0-9a-f]{64})", out)
    assert m, out[-3000:]
    c = imp.stop()
    assert c["up"]["lost"] > 0 and c["up"]["reordered"] > 0, c
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 1 and rows[0]["sha256"] == m.group(1)


def test_kernel_wrong_key_refused_then_console(kdaemon):
    out = boot(kdaemon, "00" * 16, more="corecast.endpoint=serial corecast.retries=0")
    assert "[net] dtls handshake failed: wrong key" in out, out[-3000:]
    assert "_COREDUMP_START_" in out            # the dump went to the console instead
    assert H.list_dumps(kdaemon.store) == []
    assert re.search(r"dtls handshake from 127\.0\.0\.1:\d+ refused: device kdev: wrong key",
                     kdaemon.log_text())


def test_kernel_without_entropy_device_never_uses_a_fixed_seed(kdaemon):
    out = boot(kdaemon, KEY, extra=(), more="corecast.endpoint=serial corecast.retries=0")
    assert "[net] dtls: no entropy: a virtio-rng device is needed for dtls://" in out
    assert "_COREDUMP_START_" in out
    assert H.list_dumps(kdaemon.store) == []


@pytest.mark.skipif(not shutil.which("tcpdump") or os.geteuid() != 0,
                    reason="needs tcpdump and root")
def test_kernel_dtls_capture_has_no_core_plaintext(kdaemon, tmp_path):
    # The OPEN names the executable and the core holds its path and strings: over
    # plain UDP "crashdemo" is on the wire many times, over DTLS never.
    pcap = tmp_path / "k.pcap"
    p = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-s", "0", "-U", "--immediate-mode",
                          "-B", "65536", "-w", str(pcap), f"udp port {kdaemon.port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening on" in p.stderr.readline()
        time.sleep(0.5)
        out = boot(kdaemon, KEY)
        time.sleep(0.3)
    finally:
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=10)
    assert "stored by dtls://" in out, out[-3000:]
    data = pcap.read_bytes()
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 1 and len(data) > rows[0]["size"]
    core = tmp_path / "core"
    H.dump_to(kdaemon.store, rows[0]["id"], core)
    assert b"crashdemo" in core.read_bytes()
    assert b"crashdemo" not in data


def test_kernel_key_compiled_in_from_build_key_file(kdaemon, tmp_path):
    """Real builds carry the device key from a file named at build time, not from the
    boot arguments: a kernel built with K_TLS_KEYFILE= authenticates with no
    corecast.psk= at all, and the key never appears on the console."""
    keyfile = tmp_path / "device.psk"
    keyfile.write_text(KEY + "\n")
    build = tmp_path / "build"
    r = subprocess.run(["make", "-s", "-C", str(knet.kqemu.ROOT), "-j2", f"BUILD={build}",
                        f"K_TLS_KEYFILE={keyfile}", "kernel"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:]
    kernel = build / "riscv64-virt" / "kernel.elf"
    out = boot(kdaemon, None, kernel=kernel)
    assert "[net] dtls: authenticated as kdev" in out, out[-3000:]
    m = re.search(r"\[net\] core pid=\d+ stored by dtls://\S+ sha256=([0-9a-f]{64})", out)
    assert m, out[-3000:]
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 1 and rows[0]["sha256"] == m.group(1)
    assert KEY not in out

    # The same test build without the key file and without corecast.psk= has no key.
    out = boot(kdaemon, None, more="corecast.endpoint=serial corecast.retries=0")
    assert "no key (corecast.psk=, or a kernel built with K_TLS_KEYFILE=)" in out, out[-3000:]
    assert len(H.list_dumps(kdaemon.store)) == 1


def test_kernel_dtls_on_virtio_1_0_transport(kdaemon):
    """The entropy device and the NIC on the modern virtio-mmio transport (version 2):
    the handshake is seeded from virtio-rng there too and the core is stored."""
    out = boot(kdaemon, KEY, extra=RNG + ["-global", "virtio-mmio.force-legacy=false"])
    assert "virtio-net (virtio-mmio v2)" in out, out[-3000:]
    m = re.search(r"\[net\] core pid=\d+ stored by dtls://\S+ sha256=([0-9a-f]{64})", out)
    assert m, out[-3000:]
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 1 and rows[0]["sha256"] == m.group(1)
