"""corecastd smoke test: starts the real daemon on loopback, feeds it garbage and forged
datagrams over real UDP sockets, reloads it with SIGHUP (good and bad configs), and checks
that it stays up, counts what it dropped, and exits 0 on SIGTERM."""
import os
import pathlib
import random
import re
import signal
import socket
import struct
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORECASTD = ROOT / "build" / "bin" / "corecastd"

pytestmark = pytest.mark.skipif(not CORECASTD.exists(), reason="corecastd not built")


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


RUNNING = []


@pytest.fixture(autouse=True)
def _reap_daemons():
    """A failed assertion must not leave a daemon behind."""
    yield
    while RUNNING:
        p = RUNNING.pop()
        if p.poll() is None:
            p.kill()
            p.wait()


class Daemon:
    def __init__(self, tmp, config=None, listen=("udp://127.0.0.1:0",)):
        self.tmp = tmp
        self.log = tmp / "corecastd.log"
        self.port_file = tmp / "port"
        self.conf = tmp / "corecastd.conf"
        self.conf.write_text(config or "[Collector]\n")
        args = [str(CORECASTD), "--store", str(tmp / "store"), "--config", str(self.conf),
                "--port-file", str(self.port_file), "--foreground"]
        for url in listen:
            args += ["--listen", url]
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=self.logf)
        RUNNING.append(self.proc)
        ports = wait_for(self.ports, 10, "port file")
        self.port = ports[0]

    def ports(self):
        if self.proc.poll() is not None:
            raise AssertionError("corecastd exited at start:\n" + self.log.read_text())
        try:
            text = self.port_file.read_text()
        except FileNotFoundError:
            return None
        return [int(x) for x in text.split()] or None

    def text(self):
        return self.log.read_text()

    def rss_kb(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return None

    def signal_and_wait_log(self, sig, pattern, timeout=5):
        before = len(self.text())
        self.proc.send_signal(sig)
        return wait_for(lambda: re.search(pattern, self.text()[before:]), timeout, pattern)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(15)
        self.logf.close()
        return rc


def header(msg_type, cookie, version=1):
    return b"ND" + bytes([version, msg_type]) + struct.pack(">Q", cookie)


def garbage(rng, n):
    """Random bytes, truncated headers, bad versions, unknown types, and well-formed
    DATA / FINISH with cookies no session owns."""
    out = []
    for i in range(n):
        k = i % 6
        if k == 0:
            out.append(rng.randbytes(rng.randrange(0, 1500)))
        elif k == 1:
            out.append(b"ND\x01"[: rng.randrange(0, 4)])
        elif k == 2:
            out.append(header(rng.randrange(1, 8), rng.getrandbits(64), version=9)
                       + rng.randbytes(40))
        elif k == 3:
            out.append(header(rng.randrange(8, 256), rng.getrandbits(64)))
        elif k == 4:  # DATA: offset, tsval, len, payload
            payload = rng.randbytes(rng.randrange(1, 1400))
            out.append(header(4, rng.getrandbits(64)) +
                       struct.pack(">QIH", rng.getrandbits(40), 0, len(payload)) + payload)
        else:         # FINISH: size + sha256
            out.append(header(6, rng.getrandbits(64)) + struct.pack(">Q", 1234) +
                       rng.randbytes(32))
    return out


def stats(d):
    m = d.signal_and_wait_log(signal.SIGUSR1, r"statistics: (.*)")
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def test_garbage_is_counted_and_ignored(tmp_path):
    d = Daemon(tmp_path)
    rng = random.Random(7)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    msgs = garbage(rng, 20000)
    for m in msgs:
        s.sendto(m, ("127.0.0.1", d.port))
    # Without privileges the kernel may drop part of the burst (small rmem_max):
    # wait until the count settles instead of expecting every datagram.
    prev = {"datagrams": -1}

    def settled():
        nonlocal prev
        time.sleep(0.2)
        cur = stats(d)
        done = cur["datagrams"] == prev["datagrams"]
        prev = cur
        return cur if done else None
    st = wait_for(settled, 20, "datagram count to settle")
    assert st["datagrams"] >= 1000
    assert d.proc.poll() is None
    # Forged cookies are dropped silently; undecodable messages are garbage.
    assert st["bad_cookie"] > 0
    assert st["garbage"] > 0
    assert st["garbage"] + st["bad_cookie"] + st["truncated"] == st["datagrams"]
    assert st["opens"] == 0 and st["stored"] == 0
    # The daemon answers nothing to forged DATA/FINISH (only version-mismatched OPENs
    # get a REFUSE): nothing should arrive for the junk above but those refusals.
    s.settimeout(0.2)
    answers = []
    try:
        while True:
            answers.append(s.recv(2048))
    except socket.timeout:
        pass
    assert all(a[:2] == b"ND" and a[3] == 3 for a in answers)  # REFUSE only
    # Never more bytes back than came in (the bad-version OPENs were 52 bytes):
    # a spoofed source cannot use the collector as an amplifier.
    assert all(len(a) <= 52 for a in answers)
    assert d.rss_kb() < 64 * 1024
    assert d.stop() == 0
    assert re.search(r"^<6>exit: datagrams=\d+", d.text(), re.M)


def test_ipv4_and_ipv6_listeners_and_priority_prefixes(tmp_path):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    d = Daemon(tmp_path, listen=("udp://127.0.0.1:0", "udp://[::1]:0"))
    ports = d.ports()
    assert len(ports) == 2 and all(p > 0 for p in ports)
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s6.sendto(b"not netdump", ("::1", ports[1]))
    st = wait_for(lambda: (lambda x: x if x["garbage"] >= 1 else None)(stats(d)), 5, "v6 datagram")
    assert st["garbage"] == 1
    assert re.search(r"listening on udp://\[::1\]:%d" % ports[1], d.text())
    assert d.stop() == 0
    # Every line carries an sd-daemon priority prefix.
    for line in d.text().splitlines():
        assert re.match(r"^<[3-7]>", line), line


def test_sighup_reload_good_and_bad(tmp_path):
    d = Daemon(tmp_path, config="[Collector]\nMaxSessions=10\n")
    d.conf.write_text("[Collector]\nMaxSessions=20\nDeviceRate=5\nBogusKey=1\n")
    d.signal_and_wait_log(signal.SIGHUP, r"reloaded .*: 2 settings changed")
    log = d.text()
    assert "MaxSessions: 10 -> 20" in log
    assert "DeviceRate: 60 -> 5" in log
    assert re.search(r"<4>.*corecastd.conf:4: unknown key 'BogusKey'", log)
    # A bad file keeps the running configuration and says why, with file:line.
    d.conf.write_text("[Collector]\nMaxSessions=30\nReceiveWindow=lots\n")
    d.signal_and_wait_log(signal.SIGHUP, r"<3>reload of .* failed, keeping the running "
                                         r"configuration: .*corecastd.conf:3: ReceiveWindow")
    assert "MaxSessions: 20 -> 30" not in d.text()
    assert d.proc.poll() is None
    assert d.stop() == 0


def test_bad_command_line_and_config_exit_nonzero(tmp_path):
    r = subprocess.run([str(CORECASTD), "--listen", "tcp://1.2.3.4:5", "--store",
                        str(tmp_path / "s")], capture_output=True, text=True)
    assert r.returncode != 0
    assert "tcp://1.2.3.4:5: scheme must be udp://" in r.stderr
    conf = tmp_path / "bad.conf"
    conf.write_text("[Collector]\nMaxCoreSize=huge\n")
    r = subprocess.run([str(CORECASTD), "--listen", "udp://127.0.0.1:0", "--store",
                        str(tmp_path / "s"), "--config", str(conf)],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert re.search(r"^<3>configuration: .*bad.conf:2: MaxCoreSize: 'huge'", r.stderr, re.M)
