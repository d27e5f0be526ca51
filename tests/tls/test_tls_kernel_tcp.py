"""The corecast kernel (QEMU riscv64, virtio-net, lwIP TCP) sends its crash dumps over
tls:// — TLS 1.2 with mbedtls and the PSK from corecast.psk=, netdump messages
length-prefixed in the stream — to a real corecastd.  A wrong key: nothing stored,
the console takes the dump.  On the wire, the crashing program's strings are visible
over udp:// and absent over tls://.

Under stress: a TCP relay (TcpRelay) resets, stalls or re-chunks and delays the
connection; QEMU's filter-redirector (FrameLink) drops real segments of the device's
own TCP, either way, or all of them after a point.  The kernel reconnects,
re-handshakes and netdump resumes from what the collector holds: one row,
byte-identical.  tls:// and dtls:// reach an IPv6 collector."""
import os
import pathlib
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
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


def boot(d, key, scheme="tls", more="", timeout=180, prog=SEGV, ep=None):
    psk = f" corecast.psk={key}" if key else ""
    ep = ep or f"{scheme}://{knet.HOST}:{d.port_of(scheme)}"
    args = f"{prog} corecast.device=kdev corecast.endpoint={ep}{psk} {more} poweroff"
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


class TcpRelay:
    """A TCP relay on 127.0.0.1 in front of a collector port, for tls:// under stress.

    cut_after=N: the first connection is reset (RST both ways, SO_LINGER 0) once N bytes
    have gone from the device to the collector; later connections pass untouched.
    With stall=True it is not reset but goes silent there instead: nothing more is
    read from the device and the collector hears nothing.  (QEMU's user network and
    the host's socket buffers then absorb megabytes, more than the netdump window,
    so the device's own TCP window does not close: FrameLink's blackhole does that.)
    close_after_cut=True: the relay stops listening at the cut (later connects refused).
    chunk=(lo, hi), delay=s: every read is forwarded in pieces of lo..hi bytes, each
    after a pause of delay seconds (seeded, so a run is repeatable).  It relays a byte
    stream: it can re-cut and delay TCP segments but cannot drop one (TCP below it
    repairs loss before the relay sees the data)."""

    def __init__(self, target_port, cut_after=None, chunk=None, delay=0.0, seed=7,
                 stall=False, close_after_cut=False):
        self.target = ("127.0.0.1", target_port)
        self.close_after_cut = close_after_cut
        self.cut_after = cut_after
        self.stall = stall
        self.chunk, self.delay = chunk, delay
        self.rng = random.Random(seed)
        self.conns = 0
        self.cuts = 0
        self.up_bytes = []                # bytes device->collector, per connection
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if stall:   # a small buffer: as little as possible vanishes into the stall
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.socks = []
        self.stalled = threading.Event()        # set by stop(): ends a stalled connection
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.target, timeout=10)
            except OSError:
                c.close()
                continue
            u.settimeout(None)
            for s in (c, u):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socks += [c, u]
            idx = self.conns
            self.conns += 1
            self.up_bytes.append(0)
            cut = self.cut_after if self.cut_after is not None and self.cuts == 0 else None
            if cut is not None:
                self.cuts += 1
            threading.Thread(target=self._pump, args=(c, u, idx, cut), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, None, None), daemon=True).start()

    def _reset(self, *socks):
        for s in socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            except OSError:
                pass

    def _pump(self, src, dst, idx, cut):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if idx is not None:
                    if cut is not None and self.up_bytes[idx] + len(data) >= cut:
                        keep = cut - self.up_bytes[idx]
                        dst.sendall(data[:keep])
                        self.up_bytes[idx] += keep
                        if self.stall:
                            self.stalled.wait()   # read nothing more: the collector
                        self._reset(src, dst)     # hears nothing until stop()
                        if self.close_after_cut:
                            self._unlisten()      # later connections are refused
                        return
                    self.up_bytes[idx] += len(data)
                off = 0
                while off < len(data):
                    n = len(data) - off
                    if self.chunk:
                        n = min(n, self.rng.randint(*self.chunk))
                    if self.delay:
                        time.sleep(self.delay)
                    dst.sendall(data[off:off + n])
                    off += n
        except OSError:
            self._reset(src, dst)

    def _unlisten(self):
        # shutdown, not only close: it wakes the thread blocked in accept(), which
        # would otherwise keep the socket listening
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()

    def stop(self):
        self.stopped = True
        self.stalled.set()
        self._unlisten()
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass


BIG = "run=crashdemo:mode=segv:mem=4 corecast.scope=writable"


def test_kernel_tls_connection_reset_mid_transfer_resumes(kdaemon, tmp_path):
    # The relay resets the first TCP connection after 1 MB of the ~4 MiB core: the
    # kernel's attempt fails, the next attempt connects again, handshakes again and
    # netdump resumes from what the collector holds; one row, byte-identical.
    relay = TcpRelay(kdaemon.port_of("tls"), cut_after=1_000_000)
    try:
        args = (f"{BIG} corecast.device=kdev corecast.psk={KEY} corecast.retries=2 "
                f"corecast.endpoint=tls://{knet.HOST}:{relay.port} poweroff")
        with knet.NetKernel(args, 240, extra=RNG) as k:
            out = k.wait().replace("\r", "")
        assert k.proc.returncode == 0, out[-3000:]
    finally:
        relay.stop()
    tries = re.findall(r"\[net\] core pid=\d+ to tls://\S+ attempt (\d+): (\S+)[^\n]*? size=(\d+) "
                       r"[^\n]* opens=(\d+) resume=(\d+)", out)
    assert [t[:2] for t in tries] == [("1", "failed"), ("2", "stored")], \
        "\n".join(l for l in out.splitlines() if "[net]" in l)
    size, resume = int(tries[1][2]), int(tries[1][4])
    # resumed past the cut: the collector held (most of) the first megabyte
    assert 500_000 < resume < size, (resume, size)
    assert out.count("[net] tls: authenticated as kdev") == 2
    assert relay.conns == 2 and relay.cuts == 1
    # the second connection carried only what the collector lacked
    assert relay.up_bytes[1] < size - 400_000, (relay.up_bytes, size)
    m = re.search(r"\[net\] core pid=\d+ stored by tls://\S+ sha256=([0-9a-f]{64})", out)
    assert m and "_COREDUMP_START_" not in out
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 1 and rows[0]["sha256"] == m.group(1) and rows[0]["size"] == size
    assert H.dump_to(kdaemon.store, rows[0]["id"], tmp_path / "core") == m.group(1)


def test_kernel_tls_stalled_connection_times_out_then_resumes(kdaemon, tmp_path):
    # The first connection goes silent after 1 MB without being closed: no error
    # on the device's side, the collector just stops answering.  The attempt must
    # end after corecast.timeout of silence, and the next one resume.
    relay = TcpRelay(kdaemon.port_of("tls"), cut_after=1_000_000, stall=True)
    try:
        args = (f"{BIG} corecast.device=kdev corecast.psk={KEY} corecast.retries=1 "
                f"corecast.timeout=2 corecast.endpoint=tls://{knet.HOST}:{relay.port} poweroff")
        with knet.NetKernel(args, 120, extra=RNG) as k:
            out = k.wait().replace("\r", "")
        assert k.proc.returncode == 0, out[-3000:]
    finally:
        relay.stop()
    tries = re.findall(r"\[net\] core pid=\d+ to tls://\S+ attempt (\d+): (\S+)[^\n]*? "
                       r"us=(\d+)[^\n]* resume=(\d+)", out)
    net = "\n".join(l for l in out.splitlines() if "[net]" in l)
    assert [t[:2] for t in tries] == [("1", "failed"), ("2", "stored")], net
    assert "attempt 1: failed collector not answering (timeout)" in out, net
    assert 2_000_000 <= int(tries[0][2]) < 10_000_000, net
    assert int(tries[1][3]) > 500_000, net
    m = re.search(r"\[net\] core pid=\d+ stored by tls://\S+ sha256=([0-9a-f]{64})", out)
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 1 and rows[0]["sha256"] == m.group(1)
    assert H.dump_to(kdaemon.store, rows[0]["id"], tmp_path / "core") == m.group(1)


def test_kernel_tls_through_delaying_rechunking_relay(kdaemon, tmp_path):
    """Both directions re-cut into pieces of 1..1400 bytes, each held 1 ms: records
    and the collector's answers arrive split at arbitrary points and late.  This is a
    byte-stream relay: it cannot drop a TCP segment (the host's TCP under it has
    already repaired any loss); real loss is FrameLink's, in the tests below."""
    relay = TcpRelay(kdaemon.port_of("tls"), chunk=(1, 1400), delay=0.001)
    try:
        args = (f"{SEGV} corecast.device=kdev corecast.psk={KEY} corecast.retries=0 "
                f"corecast.endpoint=tls://{knet.HOST}:{relay.port} poweroff")
        with knet.NetKernel(args, 180, extra=RNG) as k:
            out = k.wait().replace("\r", "")
        assert k.proc.returncode == 0, out[-3000:]
    finally:
        relay.stop()
    net = "\n".join(l for l in out.splitlines() if "[net]" in l)
    assert re.search(r"attempt 1: stored ", out), net
    m = re.search(r"\[net\] core pid=\d+ stored by tls://\S+ sha256=([0-9a-f]{64})", out)
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 1 and rows[0]["sha256"] == m.group(1)
    assert H.dump_to(kdaemon.store, rows[0]["id"], tmp_path / "core") == m.group(1)
    assert relay.up_bytes[0] > rows[0]["size"]    # the whole core went through the relay


@pytest.mark.parametrize("scheme", ["tls", "dtls"])
def test_kernel_secure_to_ipv6_endpoint(make_tls_daemon, scheme, tmp_path):
    # QEMU's user network advertises fec0::/64 (the kernel takes a SLAAC address)
    # and forwards fec0::2 to the host's ::1, where the collector listens.
    d = make_tls_daemon(listen=[f"{scheme}://[::1]:0"], enroll=False)
    assert T.ctl_devices(d.store, "add", "kdev", "--psk", KEY).returncode == 0
    d.hup()
    ep = f"{scheme}://[fec0::2]:{d.port_of(scheme)}"
    out = boot(d, KEY, scheme=scheme, more="", ep=ep)
    net = "\n".join(l for l in out.splitlines() if "[net]" in l)
    m = re.search(r"\[net\] core pid=\d+ stored by (\S+) sha256=([0-9a-f]{64})", out)
    assert m and m.group(1) == ep, net
    assert re.search(r"\[net\] address FEC0::[0-9A-F:]+ \(slaac\)", out), net
    assert f"[net] {scheme}: authenticated as kdev" in out, net
    rows = H.list_dumps(d.store)
    assert len(rows) == 1 and rows[0]["sha256"] == m.group(2)
    assert H.dump_to(d.store, rows[0]["id"], tmp_path / "core") == m.group(2)
    assert re.search(rf"{scheme} handshake from \[?::1\]?|device kdev authenticated",
                     d.log_text()), d.log_text()[-2000:]


class FrameLink:
    """Real segment loss on the device's own TCP: QEMU's filter-redirector hands every
    Ethernet frame the guest sends (to_device=True: every frame sent to the guest)
    to this object (over a unix socket, each frame a 4-byte big-endian length then
    the bytes) and takes back the ones it passes.
    Only frames of TCP connections to `port` are touched:
      drop_every=K: every Kth frame that carries TCP payload is dropped (the
        guest's lwIP must retransmit it);
      blackhole_after=N: every frame of the first connection after its Nth payload
        frame is dropped (the device hears TCP acks no more), later connections pass."""

    def __init__(self, workdir, port, drop_every=None, blackhole_after=None, to_device=False):
        self.port, self.drop_every, self.blackhole_after = port, drop_every, blackhole_after
        self.to_device = to_device
        self.dropped = 0
        self.payload_frames = 0
        self.first_sport = None
        self.first_payload = 0
        self.seen = set()             # (sport, seq) of payload frames
        self.resent = 0               # payload frames seen again with the same seq
        self.tag = "down" if to_device else "up"
        self.paths = [pathlib.Path(workdir) / f"{self.tag}-{n}.sock" for n in ("out", "in")]
        self.lsocks = []
        for p in self.paths:
            if p.exists():
                p.unlink()
            ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            ls.bind(str(p))
            ls.listen(1)
            self.lsocks.append(ls)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def qemu_args(self):
        # queue=rx: frames the guest sends into the network; tx: frames to the guest
        t = self.tag
        return ["-chardev", f"socket,id={t}out,path={self.paths[0]}",
                "-chardev", f"socket,id={t}in,path={self.paths[1]}",
                "-object", f"filter-redirector,id={t}fr,netdev=n0,"
                f"queue={'tx' if self.to_device else 'rx'},outdev={t}out,indev={t}in"]

    def _keep(self, f):
        if len(f) < 34 or f[12:14] != b"\x08\x00" or f[23] != 6:
            return True
        ihl = (f[14] & 15) * 4
        tcp = 14 + ihl
        sport, dport, seq = struct.unpack(">HHI", f[tcp:tcp + 8])
        if self.to_device:        # the connection is named by the device's port
            sport, dport = dport, sport
        if dport != self.port:
            return True
        total = struct.unpack(">H", f[16:18])[0]
        paylen = total - ihl - (f[tcp + 12] >> 4) * 4
        if self.first_sport is None:
            self.first_sport = sport
        if paylen > 0:
            self.payload_frames += 1
            if (sport, seq) in self.seen:
                self.resent += 1
            self.seen.add((sport, seq))
        if self.blackhole_after is not None and sport == self.first_sport:
            if paylen > 0:
                self.first_payload += 1
            if self.first_payload > self.blackhole_after:
                return False
        if self.drop_every and paylen > 0 and self.payload_frames % self.drop_every == 0:
            return False
        return True

    def _run(self):
        try:
            out, _ = self.lsocks[0].accept()
            inj, _ = self.lsocks[1].accept()
            while True:
                hdr = out.recv(4, socket.MSG_WAITALL)
                if len(hdr) < 4:
                    return
                n = struct.unpack(">I", hdr)[0]
                f = out.recv(n, socket.MSG_WAITALL)
                if len(f) < n:
                    return
                if self._keep(f):
                    inj.sendall(hdr + f)
                else:
                    self.dropped += 1
        except OSError:
            return

    def stop(self):
        for ls in self.lsocks:
            ls.close()


def test_kernel_tls_with_real_segment_loss(kdaemon, tmp_path):
    # Every 100th TCP segment with payload that the device sends (1%) is dropped
    # between its NIC and the network: lwIP retransmits, TLS records and netdump
    # see an intact stream; byte-identical, one row.
    link = FrameLink(tmp_path, kdaemon.port_of("tls"), drop_every=100)
    try:
        # A generous silence budget: on a loaded host lwIP's retransmission timer, not
        # the loss, would otherwise decide whether the first attempt survives.
        args = (f"{BIG} corecast.device=kdev corecast.psk={KEY} corecast.retries=0 "
                f"corecast.timeout=30 corecast.endpoint=tls://{knet.HOST}:{kdaemon.port_of('tls')} poweroff")
        with knet.NetKernel(args, 180, extra=RNG + link.qemu_args()) as k:
            out = k.wait().replace("\r", "")
        assert k.proc.returncode == 0, out[-3000:]
    finally:
        link.stop()
    net = "\n".join(l for l in out.splitlines() if "[net]" in l)
    assert re.search(r"attempt 1: stored ", out), net
    assert link.dropped >= 20 and link.resent >= link.dropped, (link.dropped, link.resent)
    m = re.search(r"\[net\] core pid=\d+ stored by tls://\S+ sha256=([0-9a-f]{64})", out)
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 1 and rows[0]["sha256"] == m.group(1)
    assert H.dump_to(kdaemon.store, rows[0]["id"], tmp_path / "core") == m.group(1)


def test_kernel_tls_blackholed_connection_gives_up_then_resumes(kdaemon, tmp_path):
    # After 300 segments of the first connection nothing the device sends arrives:
    # no TCP acks come back, its send buffer stays full and the netdump sender is
    # never polled.  The attempt must still end after corecast.timeout (not after
    # lwIP's retransmission back-off, minutes), then a new connection resumes.
    link = FrameLink(tmp_path, kdaemon.port_of("tls"), blackhole_after=300)
    try:
        args = (f"{BIG} corecast.device=kdev corecast.psk={KEY} corecast.retries=1 "
                f"corecast.timeout=2 corecast.endpoint=tls://{knet.HOST}:"
                f"{kdaemon.port_of('tls')} poweroff")
        with knet.NetKernel(args, 120, extra=RNG + link.qemu_args()) as k:
            out = k.wait().replace("\r", "")
        assert k.proc.returncode == 0, out[-3000:]
    finally:
        link.stop()
    net = "\n".join(l for l in out.splitlines() if "[net]" in l)
    tries = re.findall(r"\[net\] core pid=\d+ to tls://\S+ attempt (\d+): (\S+)[^\n]*? "
                       r"us=(\d+)[^\n]* resume=(\d+)", out)
    assert [t[:2] for t in tries] == [("1", "failed"), ("2", "stored")], net
    assert "[net] tls: the collector is silent and TCP cannot send" in out, net
    assert 2_000_000 <= int(tries[0][2]) < 6_000_000, net
    assert int(tries[1][3]) > 100_000, net       # resumed: the first 300 segments are held
    assert link.dropped > 0
    m = re.search(r"\[net\] core pid=\d+ stored by tls://\S+ sha256=([0-9a-f]{64})", out)
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 1 and rows[0]["sha256"] == m.group(1)
    assert H.dump_to(kdaemon.store, rows[0]["id"], tmp_path / "core") == m.group(1)


def test_kernel_tls_cut_then_refused_then_next_endpoint_resumes(kdaemon, tmp_path):
    # The relay cuts the first connection after 1 MB and then refuses connections:
    # the refused attempt reports its own empty figures (not the cut attempt's), and
    # the next endpoint, the same collector reached directly, resumes the same dump.
    relay = TcpRelay(kdaemon.port_of("tls"), cut_after=1_000_000, close_after_cut=True)
    direct = f"tls://{knet.HOST}:{kdaemon.port_of('tls')}"
    try:
        args = (f"{BIG} corecast.device=kdev corecast.psk={KEY} corecast.retries=1 "
                f"corecast.endpoint=tls://{knet.HOST}:{relay.port} "
                f"corecast.endpoint={direct} poweroff")
        with knet.NetKernel(args, 180, extra=RNG) as k:
            out = k.wait().replace("\r", "")
        assert k.proc.returncode == 0, out[-3000:]
    finally:
        relay.stop()
    net = "\n".join(l for l in out.splitlines() if "[net]" in l)
    tries = re.findall(r"\[net\] core pid=\d+ to (tls://\S+) attempt (\d+): (\S+)[^\n]*? "
                       r"sent=(\d+)[^\n]* opens=(\d+) resume=(\d+)", out)
    relayed = f"tls://{knet.HOST}:{relay.port}"
    assert [t[:3] for t in tries] == [(relayed, "1", "failed"), (relayed, "2", "failed"),
                                      (direct, "1", "stored")], net
    assert int(tries[0][3]) > 500 and int(tries[0][4]) == 1, net
    assert tries[1][3:] == ("0", "0", "0"), net        # refused: nothing sent, no OPEN
    assert "[net] tls: connection refused" in out, net
    assert int(tries[2][5]) > 500_000, net             # resumed on the other endpoint
    m = re.search(r"\[net\] core pid=\d+ stored by tls://\S+ sha256=([0-9a-f]{64})", out)
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 1 and rows[0]["sha256"] == m.group(1)
    assert H.dump_to(kdaemon.store, rows[0]["id"], tmp_path / "core") == m.group(1)


def test_kernel_tls_with_lost_answers(kdaemon, tmp_path):
    # Every 20th segment the collector sends to the device (acks, TLS records) is
    # lost.  lwIP keeps no out-of-order queue here (lwipopts.h), so a lost answer
    # also costs the segments behind it until the collector's TCP retransmits,
    # often only on its retransmission timer (1 s, doubling when the retransmission
    # is lost too), and the acks arrive late.  At this rate runs take about 1 s.
    # At every 10th, runs took 1 to 31 s (all stored, none past the 5 s default
    # timeout; before netdump's own retransmissions were turned off over TCP, one
    # in five was): 30 s here keeps the test about delivery under loss, not speed.
    down = FrameLink(tmp_path, kdaemon.port_of("tls"), drop_every=20, to_device=True)
    try:
        args = (f"{BIG} corecast.device=kdev corecast.psk={KEY} corecast.retries=0 "
                f"corecast.timeout=30 "
                f"corecast.endpoint=tls://{knet.HOST}:{kdaemon.port_of('tls')} poweroff")
        with knet.NetKernel(args, 180, extra=RNG + down.qemu_args()) as k:
            out = k.wait().replace("\r", "")
        assert k.proc.returncode == 0, out[-3000:]
    finally:
        down.stop()
    net = "\n".join(l for l in out.splitlines() if "[net]" in l)
    assert re.search(r"attempt 1: stored ", out), net
    assert down.dropped >= 10 and down.resent >= 1, (down.dropped, down.resent)
    m = re.search(r"\[net\] core pid=\d+ stored by tls://\S+ sha256=([0-9a-f]{64})", out)
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 1 and rows[0]["sha256"] == m.group(1)
    assert H.dump_to(kdaemon.store, rows[0]["id"], tmp_path / "core") == m.group(1)


def test_kernel_tls_with_loss_both_ways(kdaemon, tmp_path):
    # 1% of the device's data segments and 5% of the collector's answers lost at once.
    up = FrameLink(tmp_path, kdaemon.port_of("tls"), drop_every=100)
    down = FrameLink(tmp_path, kdaemon.port_of("tls"), drop_every=20, to_device=True)
    try:
        args = (f"{BIG} corecast.device=kdev corecast.psk={KEY} corecast.retries=0 "
                f"corecast.timeout=30 "
                f"corecast.endpoint=tls://{knet.HOST}:{kdaemon.port_of('tls')} poweroff")
        with knet.NetKernel(args, 180, extra=RNG + up.qemu_args() + down.qemu_args()) as k:
            out = k.wait().replace("\r", "")
        assert k.proc.returncode == 0, out[-3000:]
    finally:
        up.stop()
        down.stop()
    net = "\n".join(l for l in out.splitlines() if "[net]" in l)
    assert re.search(r"attempt 1: stored ", out), net
    assert up.dropped >= 20 and up.resent >= up.dropped, (up.dropped, up.resent)
    assert down.dropped >= 10 and down.resent >= 1, (down.dropped, down.resent)
    m = re.search(r"\[net\] core pid=\d+ stored by tls://\S+ sha256=([0-9a-f]{64})", out)
    rows = H.list_dumps(kdaemon.store)
    assert len(rows) == 1 and rows[0]["sha256"] == m.group(1)
    assert H.dump_to(kdaemon.store, rows[0]["id"], tmp_path / "core") == m.group(1)
