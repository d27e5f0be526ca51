"""Harness for the collector end-to-end tests and benchmarks: run corecastd, the
impairment proxy and corecast-send as real processes on loopback, make real cores.

Cores: the machine's core_pattern is `core` (relative), so a program crashing with
RLIMIT_CORE raised leaves `core` (or `core.PID` when core_uses_pid is set) in its
working directory; make_core() crashes build/tests/crasher in a fresh directory.  If
core_pattern pipes to a helper (starts with `|`), no file appears and make_core()
raises CoreUnavailable so the callers can skip with the reason.
"""
import glob
import hashlib
import json
import os
import pathlib
import re
import resource
import signal
import socket
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
BIN = ROOT / "build" / "bin"
TBIN = ROOT / "build" / "tests"

CORECASTD = BIN / "corecastd"
CORECASTCTL = BIN / "corecastctl"
SEND = BIN / "corecast-send"
IMPAIR = TBIN / "impair"
CRASHER = TBIN / "crasher"
UDPBLAST = TBIN / "udpblast"


class CoreUnavailable(Exception):
    """This machine cannot produce a core file in the working directory."""


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def wait_for(predicate, timeout, what, interval=0.02):
    """Poll predicate() until it returns a true value; raise naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def read_port_file(path, count=1):
    """The port written to a port file (count=1), or the list of count ports written one
    per line; None while the file is missing or not complete yet."""
    try:
        words = pathlib.Path(path).read_text().split()
    except FileNotFoundError:
        return None
    if len(words) != count or not all(w.isdigit() for w in words):
        return None
    ports = [int(w) for w in words]
    return ports[0] if count == 1 else ports


def proc_status(pid, key):
    """A kB figure from /proc/PID/status (VmRSS, VmHWM), or None if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


def _core_limit():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def make_core(workdir, signal_name="segv", alloc_mib=0, fill="random"):
    """Crash the crasher in workdir; return dict(path, pid, signal, size, sha256)."""
    pattern = pathlib.Path("/proc/sys/kernel/core_pattern").read_text().strip()
    if pattern.startswith("|"):
        raise CoreUnavailable(f"core_pattern pipes to a helper ({pattern}); no core file")
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for old in glob.glob(str(workdir / "core*")):
        os.unlink(old)
    args = [str(CRASHER), "--signal", signal_name]
    if alloc_mib:
        args += ["--alloc-mib", str(alloc_mib), "--fill", fill]
    p = subprocess.run(args, cwd=workdir, preexec_fn=_core_limit, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    signo = {"segv": signal.SIGSEGV, "abort": signal.SIGABRT, "fpe": signal.SIGFPE}[signal_name]
    if p.returncode != -signo:
        raise RuntimeError(f"crasher exited {p.returncode}, expected signal {signo}: {p.stderr}")
    m = re.search(r"pid (\d+)", p.stdout)
    pid = int(m.group(1)) if m else None
    cores = [c for c in glob.glob(str(workdir / "core*")) if os.path.isfile(c)]
    if not cores:
        raise CoreUnavailable(f"no core file in {workdir} (core_pattern {pattern!r})")
    path = pathlib.Path(cores[0])
    return {"path": path, "pid": pid, "signal": int(signo), "size": path.stat().st_size,
            "sha256": sha256_file(path)}


def _tail(path, n=30):
    try:
        return "\n".join(pathlib.Path(path).read_text(errors="replace").splitlines()[-n:])
    except FileNotFoundError:
        return "(no log)"


class Daemon:
    """One corecastd process: a temp store, loopback listener(s), stderr to a log file.
    ports lists the bound port of each listener, in --listen order; port is the first."""

    def __init__(self, workdir, store=None, config=None, listen=None, port_file=None):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.store = pathlib.Path(store) if store else self.workdir / "store"
        self.config = config
        self.listen = listen or ["udp://127.0.0.1:0"]
        self.port_file = pathlib.Path(port_file) if port_file else self.workdir / "corecastd.port"
        self.proc = None
        self.port = None
        self.ports = []
        self.runs = 0
        self.log = None

    def write_config(self, text):
        """Write the [Collector] config file this daemon is started with."""
        self.config = self.workdir / "corecastd.conf"
        self.config.write_text("[Collector]\n" + text.strip() + "\n")
        return self.config

    def start(self, listen=None, timeout=15):
        if listen:
            self.listen = listen
        self.runs += 1
        self.log = self.workdir / f"corecastd.{self.runs}.log"
        if self.port_file.exists():
            self.port_file.unlink()
        args = [str(CORECASTD), "--store", str(self.store), "--port-file", str(self.port_file)]
        for l in self.listen:
            args += ["--listen", l]
        if self.config:
            args += ["--config", str(self.config)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "w"), cwd=self.workdir)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"corecastd exited {self.proc.returncode} at start:\n"
                                   + _tail(self.log, 60))
            return read_port_file(self.port_file, len(self.listen))
        # corecastd writes one port per listener, one per line.
        ports = wait_for(ready, timeout, "corecastd port file")
        self.ports = ports if isinstance(ports, list) else [ports]
        self.port = self.ports[0]
        return self

    @property
    def pid(self):
        return self.proc.pid

    def host(self):
        l = self.listen[0]
        return "[::1]" if "[::1]" in l else "127.0.0.1"

    def endpoint(self):
        return f"udp://{self.host()}:{self.port}"

    def url(self, scheme):
        """The endpoint of the first listener of that scheme (udp, dtls, tls)."""
        for l, p in zip(self.listen, self.ports):
            if l.startswith(scheme + "://"):
                return f"{scheme}://127.0.0.1:{p}"
        raise KeyError(scheme)

    def port_of(self, scheme):
        return int(self.url(scheme).rsplit(":", 1)[1])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        return pathlib.Path(self.log).read_text(errors="replace") if self.log else ""

    def exit_counters(self):
        """Counters from the `exit:` line corecastd logs when it stops ({} if none)."""
        for line in reversed(self.log_text().splitlines()):
            m = re.match(r"<\d>exit: (.*)", line)
            if m:
                return {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())
                        if v.isdigit()}
        return {}

    def stop(self, timeout=30):
        """SIGTERM, wait, return the exit code (tests assert it is 0)."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("corecastd did not exit within %ss of SIGTERM:\n%s"
                                 % (timeout, _tail(self.log)))

    def kill(self):
        self.proc.kill()
        self.proc.wait()


class Impair:
    """The impairment proxy in front of a target port; counters parsed from its stderr."""

    def __init__(self, workdir, target, args=(), seed=1, listen="127.0.0.1:0"):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port_file = self.workdir / "impair.port"
        if self.port_file.exists():
            self.port_file.unlink()
        self.log = self.workdir / "impair.log"
        cmd = [str(IMPAIR), "--listen", listen, "--target", target, "--port-file",
               str(self.port_file), "--seed", str(seed)] + [str(a) for a in args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("impair exited at start:\n" + _tail(self.log))
            return read_port_file(self.port_file)
        self.port = wait_for(ready, 10, "impair port file")
        host = listen.rsplit(":", 1)[0]
        self.endpoint = f"udp://{host}:{self.port}"

    def counters(self):
        """Ask for the counters (SIGUSR1) and return {'up': {...}, 'down': {...}}."""
        before = self.log.read_text().count("impair: down ")
        self.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: self.log.read_text().count("impair: down ") > before, 5,
                 "impair counters")
        return self._parse()

    def _parse(self):
        out = {}
        for line in self.log.read_text().splitlines():
            m = re.match(r"impair: (up|down) (.*)", line)
            if m:
                out[m.group(1)] = {k: int(v) for k, v in
                                   (kv.split("=") for kv in m.group(2).split())}
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        return self._parse()


def send(endpoint, core, device, *extra, timeout=120, stdin_data=None, env=None):
    """Run corecast-send to completion; return the CompletedProcess (text output)."""
    args = [str(SEND), "--endpoint", endpoint, "--device", device, "--quiet"]
    args += [str(a) for a in extra]
    args.append("-" if stdin_data is not None else str(core))
    return subprocess.run(args, input=stdin_data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, env=env)


def send_async(endpoint, core, device, *extra, log=None):
    """Start corecast-send in the background; returns the Popen."""
    args = [str(SEND), "--endpoint", endpoint, "--device", device, "--quiet"]
    args += [str(a) for a in extra] + [str(core)]
    out = open(log, "w") if log else subprocess.PIPE
    return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)


def ctl(store, *args, check=True):
    """Run corecastctl --json; return the parsed JSON (or CompletedProcess if check=False)."""
    cmd = [str(CORECASTCTL), "--store", str(store), "--json"] + [str(a) for a in args]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=60)
    if not check:
        return p
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout) if p.stdout.strip() else None


def list_dumps(store):
    """corecastctl list --json as a list of records (accepts a bare list or {dumps: []})."""
    out = ctl(store, "list")
    if out is None:
        return []
    if isinstance(out, dict):
        for key in ("dumps", "cores", "records", "items"):
            if key in out:
                return out[key]
        return [out]
    return out


def info(store, dump_id):
    out = ctl(store, "info", dump_id)
    if isinstance(out, list):
        assert len(out) == 1, out
        return out[0]
    return out


def dump_to(store, dump_id, dest):
    """corecastctl dump ID -o dest; returns dest's SHA-256."""
    cmd = [str(CORECASTCTL), "--store", str(store), "dump", str(dump_id), "-o", str(dest)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=60)
    assert p.returncode == 0, f"dump {dump_id} exited {p.returncode}: {p.stderr}"
    return sha256_file(dest)


def build_id(path):
    """The GNU build-id of an ELF file, as lowercase hex (readelf -n)."""
    out = subprocess.run(["readelf", "-n", str(path)], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    m = re.search(r"Build ID:\s*([0-9a-f]+)", out)
    return m.group(1) if m else None


def udp_socket(family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    return s
