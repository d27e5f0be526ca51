"""Drive the corecast kernel with a virtio-net NIC on QEMU user networking, next to a real corecastd.

The guest reaches the host at 10.0.2.2: a collector (or the impairment proxy)
listening on the host's 127.0.0.1 is udp://10.0.2.2:PORT from inside.
"""
import pathlib
import re
import socket
import subprocess
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "collector"))
sys.path.insert(0, str(HERE.parent / "kernel"))
import ccharness as H  # noqa: E402
import kqemu  # noqa: E402

CRASHDEMO = kqemu.USER / "crashdemo"
HOST = "10.0.2.2"


class NetKernel(kqemu.Kernel):
    """One QEMU instance with a virtio-net device on user networking."""

    def __init__(self, bootargs, timeout=120, mac=None, extra=(), kernel=None):
        nic = "virtio-net-device,netdev=n0" + (f",mac={mac}" if mac else "")
        args = kqemu.QEMU + ["-kernel", str(kernel or kqemu.KERNEL), "-append", bootargs,
                             "-device", nic, "-netdev", "user,id=n0"] + list(extra)
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.done = False
        self.timeout = timeout * kqemu.SLOW
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()


def run(bootargs, timeout=120, **kw):
    """Boot, wait for poweroff, return the console text (QEMU must exit 0)."""
    with NetKernel(bootargs, timeout, **kw) as k:
        out = k.wait()
    assert k.proc.returncode == 0, out[-3000:]
    return out.replace("\r", "")


def stored(out):
    """[(pid, endpoint, sha256)] of every '[net] core ... stored by' line."""
    return re.findall(r"\[net\] core pid=(\d+) stored by (udp://\S+) sha256=([0-9a-f]{64})", out)


def attempts(out):
    return re.findall(r"\[net\] core pid=\d+ to (udp://\S+) attempt (\d+): (\S+)", out)


def free_udp_port():
    """A port nothing listens on now (bound, then released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_symbolized(store, dump_id, timeout=60):
    def done():
        d = H.info(store, dump_id)
        st = (d.get("symbolization") or {}).get("status")
        return d if st not in (None, "pending", "queued", "running") else None
    return H.wait_for(done, timeout, f"symbolization of dump {dump_id}", interval=0.2)


def gdb_functions(core, exe):
    """Function names of the crashing thread's backtrace as gdb-multiarch prints them."""
    g = kqemu.gdb(core, exe, "bt")
    names = []
    # gdb shows frame #0 once when it loads the core; the backtrace follows this line.
    for line in g.split("[Current thread is", 1)[-1].splitlines():
        m = re.match(r"#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(", line)
        if m:
            names.append(m.group(1))
    return names, g


def ctl_functions(record):
    for t in record["threads"]:
        if t.get("crashed"):
            return [f.get("function") for f in t["frames"]]
    raise AssertionError(f"no crashed thread in {record}")
