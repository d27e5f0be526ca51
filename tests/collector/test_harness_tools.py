"""The test tools themselves: the impairment proxy impairs as told, the crasher makes the
core the other tests rely on.  If these were wrong, the collector tests would prove less."""
import socket
import struct
import subprocess
import threading
import time

import pytest

import ccharness as H


class Echo:
    """UDP echo server on loopback; records the source address of every datagram."""

    def __init__(self):
        self.sock = _client()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.sources = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            self.sources.append(addr)
            self.sock.sendto(data, addr)

    def close(self):
        self.stop = True
        self.t.join()
        self.sock.close()


@pytest.fixture
def echo():
    e = Echo()
    yield e
    e.close()


@pytest.fixture
def impair(tmp_path, echo):
    _need_tools()
    started = []

    def start(*args, seed=1):
        imp = H.Impair(tmp_path / f"imp{len(started)}", f"127.0.0.1:{echo.port}", args,
                       seed=seed)
        started.append(imp)
        return imp
    yield start
    for imp in started:
        imp.stop()


def _need_tools():
    for p in (H.IMPAIR, H.CRASHER, H.UDPBLAST):
        if not p.exists():
            pytest.fail(f"{p} is not built (run `make`)", pytrace=False)


def _client(timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Thousands of tiny datagrams queue up before the test reads them.
    force = getattr(socket, "SO_RCVBUFFORCE", 33)
    try:
        s.setsockopt(socket.SOL_SOCKET, force, 16 << 20)
    except PermissionError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    s.settimeout(timeout)
    return s


def _collect(sock, quiet=0.3):
    """Datagrams received until `quiet` seconds pass without one."""
    out = []
    sock.settimeout(quiet)
    while True:
        try:
            out.append(sock.recv(65536))
        except socket.timeout:
            return out


def test_impair_relays_each_client_through_its_own_upstream(impair, echo):
    imp = impair()
    a, b = _client(), _client()
    a.sendto(b"from-a", ("127.0.0.1", imp.port))
    b.sendto(b"from-b", ("127.0.0.1", imp.port))
    assert a.recv(100) == b"from-a"
    assert b.recv(100) == b"from-b"
    a.sendto(b"again-a", ("127.0.0.1", imp.port))
    assert a.recv(100) == b"again-a"
    # Two clients, two stable upstream addresses as seen by the target.
    assert len(set(echo.sources)) == 2
    c = imp.stop()
    assert c["up"]["tx"] == 3 and c["down"]["tx"] == 3


def test_impair_adds_delay_in_both_directions(impair):
    imp = impair("--delay", 20)
    s = _client()
    rtts = []
    for i in range(5):
        t0 = time.monotonic()
        s.sendto(b"x%d" % i, ("127.0.0.1", imp.port))
        assert s.recv(100) == b"x%d" % i
        rtts.append(time.monotonic() - t0)
    assert min(rtts) >= 0.040, rtts


def test_impair_loss_and_duplication_rates(impair):
    imp = impair("--up-loss", 10, "--down-dup", 10, seed=3)
    s = _client()
    n = 3000
    for i in range(n):
        s.sendto(struct.pack(">I", i), ("127.0.0.1", imp.port))
        if i % 100 == 99:
            time.sleep(0.002)  # stay well inside socket buffers
    got = _collect(s)
    c = imp.stop()
    assert c["up"]["rx"] == n
    assert 0.07 * n < c["up"]["lost"] < 0.13 * n, c
    assert c["up"]["duplicated"] == 0 and c["down"]["lost"] == 0
    delivered = n - c["up"]["lost"]
    assert 0.07 * delivered < c["down"]["duplicated"] < 0.13 * delivered, c
    assert len(got) == delivered + c["down"]["duplicated"]
    seqs = [struct.unpack(">I", g)[0] for g in got]
    assert len(set(seqs)) == delivered


def test_impair_reorders(impair):
    imp = impair("--up-reorder", 20, seed=5)
    s = _client()
    for i in range(500):
        s.sendto(struct.pack(">I", i), ("127.0.0.1", imp.port))
        time.sleep(0.0002)
    seqs = [struct.unpack(">I", g)[0] for g in _collect(s)]
    c = imp.stop()
    assert sorted(seqs) == list(range(500)), "reordering must neither lose nor add"
    inversions = sum(1 for x, y in zip(seqs, seqs[1:]) if y < x)
    assert c["up"]["reordered"] > 50 and inversions > 50, (c, inversions)


def test_impair_same_seed_same_losses(impair):
    def lost_set(seed):
        imp = impair("--up-loss", 30, seed=seed)
        s = _client()
        for i in range(300):
            s.sendto(struct.pack(">I", i), ("127.0.0.1", imp.port))
            time.sleep(0.0002)
        got = {struct.unpack(">I", g)[0] for g in _collect(s)}
        imp.stop()
        return set(range(300)) - got
    first, again, other = lost_set(9), lost_set(9), lost_set(10)
    assert first == again and first != other


def test_impair_rate_limit(impair):
    # 8 Mbit/s = 1 MB/s: 200 KB need about 0.2 s however fast they are offered.
    imp = impair("--up-rate", 8)
    s = _client()
    t0 = time.monotonic()
    for i in range(200):
        s.sendto(b"r" * 1000, ("127.0.0.1", imp.port))
    got = []
    s.settimeout(2)
    while len(got) < 200:
        got.append(s.recv(2000))
    assert time.monotonic() - t0 >= 0.18
    imp.stop()


def test_udpblast_measures_what_arrives(tmp_path):
    _need_tools()
    pf = tmp_path / "sink.port"
    sink = subprocess.Popen([str(H.UDPBLAST), "sink", "--port-file", str(pf), "--idle-ms",
                             "300", "--expect-bytes", str(1 << 20)], stdout=subprocess.PIPE,
                            text=True)
    port = H.wait_for(lambda: H.read_port_file(pf), 5, "sink port")
    subprocess.run([str(H.UDPBLAST), "send", "--target", f"127.0.0.1:{port}", "--bytes",
                    str(1 << 20), "--pps", "20000"], check=True, stdout=subprocess.DEVNULL)
    out, _ = sink.communicate(timeout=10)
    kv = dict(x.split("=") for x in out.split()[1:])
    assert int(kv["bytes"]) == 1 << 20 and int(kv["lost"]) == 0
    assert float(kv["MBps"]) > 0


def test_crasher_core_has_threads_chain_and_marker(core):
    data = core["path"].read_bytes()
    assert data[:4] == b"\x7fELF" and data[16] == 4, "an ELF core file (ET_CORE)"
    assert b"CORECAST-CRASHER-MARKER-7f3a9c" in data
    bt = subprocess.run(["gdb", "-batch", "-nx", "-ex", "thread apply all bt", str(H.CRASHER),
                         str(core["path"])], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        text=True, timeout=60).stdout
    chain = [bt.find(f) for f in ("in crasher_level3 (", "in crasher_level2 (",
                                  "in crasher_level1 (", "in main (")]
    assert all(i >= 0 for i in chain) and chain == sorted(chain), bt
    assert bt.count("crasher_idle_thread") == 3, bt
    assert "terminated with signal SIGSEGV" in bt, bt
