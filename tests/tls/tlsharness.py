"""Harness for the dtls/tls suites: corecastd with udp, dtls and tls listeners at once,
a key store, test certificates, corecast-send with PSKs or certificates."""
import pathlib
import signal
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "collector"))
import ccharness as H  # noqa: E402

PSK = "00112233445566778899aabbccddeeff"          # 16 bytes
WRONG_PSK = "00112233445566778899aabbccddee00"
MARKER = b"CORECAST-CRASHER-MARKER-7f3a9c"          # tests/tools/crasher.c keeps it in heap


class TlsDaemon(H.Daemon):
    """A corecastd with secure listeners: key store reloads and the secure counters.
    (Ports per listener, url() and port_of() come from ccharness.Daemon.)"""

    def hup(self):
        before = self.log_text().count("device key store ")
        self.proc.send_signal(signal.SIGHUP)
        H.wait_for(lambda: self.log_text().count("device key store ") > before, 10,
                   "key store reload")

    def stats(self):
        """The secure-connection counters (SIGUSR1 line) as a dict."""
        before = self.log_text().count(": secure connections=")
        self.proc.send_signal(signal.SIGUSR1)
        H.wait_for(lambda: self.log_text().count(": secure connections=") > before, 10,
                   "statistics")
        line = [l for l in self.log_text().splitlines() if ": secure connections=" in l][-1]
        words = line.split(": secure ", 1)[1].split()
        return {k: int(v) for k, v in (w.split("=") for w in words)}


def ctl_devices(store, *args, keys=None):
    cmd = [str(H.CORECASTCTL), "--store", str(store), "devices"] + [str(a) for a in args]
    if keys:
        cmd += ["--keys", str(keys)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def send(endpoint, core, device, *extra, timeout=120):
    """corecast-send to completion; CompletedProcess with text stdout/stderr."""
    p = H.send(endpoint, core, device, *extra, timeout=timeout)
    p.stdout = p.stdout.decode(errors="replace")
    p.stderr = p.stderr.decode(errors="replace")
    return p
