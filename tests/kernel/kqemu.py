"""Drive the corecast kernel in qemu-system-riscv64: boot with bootargs, talk to its console, decode its cores."""
import os
import pathlib
import re
import struct
import subprocess
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
KERNEL = ROOT / "build" / "riscv64-virt" / "kernel.elf"
USER = ROOT / "build" / "riscv64-virt" / "user"
QEMU = ["qemu-system-riscv64", "-M", "virt", "-m", "128M", "-smp", "1", "-bios", "default",
        "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot"]

# QEMU runs under TCG on a loaded machine: every wait is generous.
SLOW = float(os.environ.get("CORECAST_TEST_SLOW", "1"))


class Kernel:
    """One QEMU instance; output is collected by a reader thread."""

    def __init__(self, bootargs, timeout=60):
        self.proc = subprocess.Popen(QEMU + ["-kernel", str(KERNEL), "-append", bootargs],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.done = False
        self.timeout = timeout * SLOW
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            chunk = self.proc.stdout.read1(65536)
            with self.cond:
                if not chunk:
                    self.done = True
                    self.cond.notify_all()
                    return
                self.buf += chunk
                self.cond.notify_all()

    @property
    def text(self):
        with self.lock:
            return self.buf.decode(errors="replace")

    def expect(self, pattern, timeout=None, start=0):
        """Wait for a regex in the output after byte `start`; returns the match."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + (timeout * SLOW if timeout else self.timeout)
        with self.cond:
            while True:
                m = rx.search(self.buf, start)
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self.done:
                    raise AssertionError(f"no {pattern!r} in console output:\n"
                                         + self.buf[-3000:].decode(errors="replace"))
                self.cond.wait(min(left, 0.5))

    def mark(self):
        with self.lock:
            return len(self.buf)

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def wait(self, timeout=None):
        """Wait for QEMU to exit (the kernel powered off); returns the full output."""
        try:
            self.proc.wait(timeout=timeout * SLOW if timeout else self.timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("kernel did not power off:\n" + self.text[-3000:])
        self.reader.join(10)
        return self.text

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def run(bootargs, timeout=60):
    """Boot, let the kernel power itself off, return the console output."""
    with Kernel(bootargs, timeout) as k:
        out = k.wait()
    assert k.proc.returncode == 0, out[-2000:]
    return out


def gdb(core_path, exe, *cmds):
    args = ["gdb-multiarch", "-nx", "-batch", "-ex", "set pagination off",
            "-ex", f"file {exe}", "-ex", f"core-file {core_path}"]
    for c in cmds:
        args += ["-ex", c]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=120 * SLOW)
    return p.stdout


def elf_loads(core):
    """(vaddr, filesz, memsz, flags) of each PT_LOAD of a 64-bit little-endian ELF core."""
    assert core[:4] == b"\x7fELF"
    phoff, = struct.unpack_from("<Q", core, 32)
    phentsize, phnum = struct.unpack_from("<HH", core, 54)
    out = []
    for i in range(phnum):
        ptype, flags, off, vaddr, paddr, filesz, memsz, align = struct.unpack_from(
            "<IIQQQQQQ", core, phoff + i * phentsize)
        if ptype == 1:
            out.append((vaddr, filesz, memsz, flags))
    return out


def elf_notes(core):
    """(name, type, desc) of every note in the PT_NOTE segments."""
    phoff, = struct.unpack_from("<Q", core, 32)
    phentsize, phnum = struct.unpack_from("<HH", core, 54)
    notes = []
    for i in range(phnum):
        ptype, flags, off, vaddr, paddr, filesz, memsz, align = struct.unpack_from(
            "<IIQQQQQQ", core, phoff + i * phentsize)
        if ptype != 4:
            continue
        p, end = off, off + filesz
        while p + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", core, p)
            name = core[p + 12:p + 12 + namesz].rstrip(b"\0").decode()
            dstart = p + 12 + ((namesz + 3) & ~3)
            notes.append((name, ntype, core[dstart:dstart + descsz]))
            p = dstart + ((descsz + 3) & ~3)
    return notes


def prstatus_tids(core):
    """pr_pid of every NT_PRSTATUS, in file order (riscv64 layout: pr_pid at offset 32)."""
    return [struct.unpack_from("<I", d, 32)[0] for n, t, d in elf_notes(core) if t == 1 and n == "CORE"]
