"""Build the symbolizer's test program for each target and crash it into real cores."""
import os
import pathlib
import re
import resource
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
BIN = ROOT / "build" / "bin"
TBIN = ROOT / "build" / "tests"
PROG = ROOT / "tests" / "symbolize" / "progs" / "crash_threads.c"
SYMBOLIZE = BIN / "corecast-symbolize"

CFLAGS = ["-O1", "-g", "-fno-omit-frame-pointer", "-pthread"]

# Native x86_64 is dynamically linked (cores carry NT_FILE); the foreign builds run
# under qemu-user, whose cores have neither NT_FILE nor dumped text.
TARGETS = {
    "x86_64": {"cc": ["gcc"], "runner": [], "gdb": "gdb"},
    "i386": {"cc": ["i686-linux-gnu-gcc", "-static"], "runner": ["qemu-i386"], "gdb": "gdb-multiarch"},
    "armhf": {"cc": ["arm-linux-gnueabihf-gcc", "-static", "-marm"], "runner": ["qemu-arm"],
              "gdb": "gdb-multiarch"},
    "aarch64": {"cc": ["aarch64-linux-gnu-gcc", "-static"], "runner": ["qemu-aarch64"],
                "gdb": "gdb-multiarch"},
    # Dynamically linked against Debian's armhf cross libc, loaded by qemu from its prefix.
    "armhf-dyn": {"cc": ["arm-linux-gnueabihf-gcc", "-marm"], "runner": ["qemu-arm"],
                  "gdb": "gdb-multiarch", "env": {"QEMU_LD_PREFIX": "/usr/arm-linux-gnueabihf"}},
}
ARMHF_LIBS = ["/usr/arm-linux-gnueabihf/lib/libc.so.6",
              "/usr/arm-linux-gnueabihf/lib/ld-linux-armhf.so.3"]


def build(target, outdir, extra=()):
    """Compile the test program for target into outdir; return the executable path."""
    t = TARGETS[target]
    exe = pathlib.Path(outdir) / f"crash_threads.{target}"
    subprocess.run(t["cc"] + CFLAGS + list(extra) + ["-o", str(exe), str(PROG)], check=True)
    return exe


def _core_limit():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def crash(target, exe, workdir):
    """Run exe (under qemu-user for foreign targets) in workdir until it faults;
    return the path of the guest core it left."""
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t = TARGETS[target]
    env = dict(os.environ, **t.get("env", {}))
    p = subprocess.run(t["runner"] + [str(exe)], cwd=workdir, preexec_fn=_core_limit, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    assert p.returncode != 0, "test program did not crash"
    if t["runner"]:
        cores = sorted(workdir.glob("qemu_*.core"))
        # qemu itself dies of the same signal and leaves a host core: not ours.
        for c in workdir.glob("core*"):
            c.unlink()
    else:
        cores = sorted(workdir.glob("core*"))
    assert cores, f"no core file in {workdir}"
    dest = workdir / f"{target}.core"
    os.rename(cores[0], dest)
    return dest


def build_id(path):
    out = subprocess.run(["readelf", "-n", str(path)], check=True, capture_output=True,
                         text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else None


def store_file(store, path, suffix=".debug"):
    """File path into STORE/.build-id/xx/rest<suffix>; return the build-id."""
    bid = build_id(path)
    d = pathlib.Path(store) / ".build-id" / bid[:2]
    d.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, d / (bid[2:] + suffix))
    return bid


def symbolize(core, *args, binary=SYMBOLIZE, env=None, timeout=60):
    return subprocess.run([str(binary), "--core", str(core), "--json", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout)


GDB_FRAME = re.compile(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(\S+)")


def gdb_functions(target, exe, core):
    """Function names of the crashing thread's backtrace as gdb prints them."""
    gdb = TARGETS[target]["gdb"]
    out = subprocess.run([gdb, "-nx", "-batch", "-ex", "bt", str(exe), str(core)],
                         capture_output=True, text=True, timeout=120).stdout
    frames = [m for line in out.splitlines() if (m := GDB_FRAME.match(line))]
    # gdb announces frame #0 once when it loads the core, then bt prints all frames.
    starts = [i for i, m in enumerate(frames) if m.group(1) == "0"]
    return [m.group(2) for m in frames[starts[-1]:]] if starts else []


def gdb_thread_ids(target, exe, core):
    gdb = TARGETS[target]["gdb"]
    out = subprocess.run([gdb, "-nx", "-batch", "-ex", "info threads", str(exe), str(core)],
                         capture_output=True, text=True, timeout=120).stdout
    return sorted({int(x) for x in re.findall(r"LWP (\d+)", out)})


def gdb_all_threads(target, exe, core):
    """{tid: [function, ...]} from gdb's `thread apply all bt`."""
    gdb = TARGETS[target]["gdb"]
    out = subprocess.run([gdb, "-nx", "-batch", "-ex", "thread apply all bt", str(exe), str(core)],
                         capture_output=True, text=True, timeout=120).stdout
    threads, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^Thread \d+ .*LWP (\d+)", line)
        if m:
            cur = threads.setdefault(int(m.group(1)), [])
            continue
        m = GDB_FRAME.match(line)
        if m and cur is not None:
            cur.append(m.group(2))
    return threads
