"""What an eavesdropper on the wire sees: tcpdump on loopback, filtered to the collector's
port, while a real crasher core travels.  Over dtls:// and tls:// the marker string the
crasher keeps in its heap must not appear; over udp:// it must (else the test could not
fail)."""
import os
import shutil
import signal
import subprocess
import time

import pytest

import tlsharness as T

H = T.H

TCPDUMP = shutil.which("tcpdump") or "/usr/bin/tcpdump"

pytestmark = pytest.mark.skipif(
    not os.path.exists(TCPDUMP) or os.geteuid() != 0,
    reason="needs tcpdump (Debian package tcpdump) and root to capture on loopback")

# The marker may straddle two datagrams: either half found intact counts as plaintext.
HALVES = (T.MARKER[:15], T.MARKER[15:])


def capture(port, proto, path, run):
    """Run run() while tcpdump writes every packet to/from port into path."""
    # --immediate-mode: without it the kernel hands packets over in blocks, and the
    # last, partly filled block is lost when tcpdump is interrupted.
    p = subprocess.Popen([TCPDUMP, "-i", "lo", "-n", "-s", "0", "-U", "--immediate-mode", "-B", "65536",
                          "-w", str(path),
                          f"{proto} port {port}"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        line = p.stderr.readline()          # "listening on lo ..." once it captures
        assert "listening on" in line, line
        time.sleep(0.5)     # the ring is attached a moment after that line
        run()
        time.sleep(0.3)
    finally:
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=10)
    m = [l for l in err.splitlines() if "packets captured" in l]
    captured = int(m[0].split()[0]) if m else 0
    d = [l for l in err.splitlines() if "dropped by kernel" in l]
    dropped = int(d[0].split()[0]) if d else 0
    return path.read_bytes(), captured, dropped


@pytest.mark.parametrize("scheme,proto", [("udp", "udp"), ("dtls", "udp"), ("tls", "tcp")])
def test_capture_holds_core_plaintext_only_over_udp(make_tls_daemon, tls_core, tmp_path,
                                                   scheme, proto):
    assert T.MARKER in tls_core["path"].read_bytes()
    d = make_tls_daemon()
    psk = [] if scheme == "udp" else ["--psk", T.PSK]

    seq = [0]

    def run():
        # A modest window paces the transfer so that tcpdump keeps up on a busy
        # machine: the capture must hold every packet for the check to mean much.
        seq[0] += 1
        p = T.send(d.url(scheme), tls_core["path"], "dev-psk", *psk, "--window", 64,
                   "--seq", seq[0])
        assert p.returncode == 0, p.stderr
    for attempt in range(3):
        pcap, captured, dropped = capture(d.port_of(scheme), proto,
                                          tmp_path / f"cap{attempt}.pcap", run)
        if dropped == 0:
            break
    # The whole transfer is in the capture, so an absent marker means encryption.
    assert dropped == 0 and len(pcap) > tls_core["size"], (len(pcap), captured, dropped)
    found = any(h in pcap for h in HALVES)
    if scheme == "udp":
        assert found, "plain udp capture lacks the marker: the check could not fail"
    else:
        assert not found, f"core plaintext visible on the wire over {scheme}"
