"""Symbolization benchmark (make bench): corecast-symbolize vs eu-stack vs gdb per core,
and a storm of 1000 cores of one build through the library with caching.

--before PATH: also time another corecast-symbolize build (e.g. one built from an older
commit) on the same cores in the same run, and print its time and the speed-up."""
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corecraft  # noqa: E402

RUNS = int(os.environ.get("SYM_BENCH_RUNS", "5"))
STORM = 1000


def median_time(cmd):
    times = []
    out = ""
    for _ in range(RUNS):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        out = p.stdout + p.stderr
    return statistics.median(times), out


def median_pair(cmd_a, cmd_b):
    """Medians of two commands timed alternately, so that load from other jobs on the
    machine falls on both alike."""
    ta, tb = [], []
    for _ in range(RUNS):
        for cmd, ts in ((cmd_a, ta), (cmd_b, tb)):
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True)
            ts.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def per_core(work, before=None):
    print(f"per core, whole process, median of {RUNS} runs (ms)")
    print("corecast: no store; corecast+st: with a symbol store whose inflated-debug cache")
    print("is warm (what corecastd runs).  eu-stack: names only (its default); eu -s -i: with")
    print("source lines and inlines, which corecast always produces.  Ratios > 1: corecast")
    print("(with store) is faster.")
    if before:
        print(f"before: {before} (cc+st), timed alternately with cc+st; bef/cc: the speed-up")
    print(f"{'core':8} {'corecast':>9} {'cc+st':>7} {'eu-stack':>9} {'eu -s -i':>9} {'gdb':>8} "
          f"{'eu/cc':>6} {'eu-si/cc':>8} {'gdb/cc':>7}" +
          (f" {'before':>7} {'bef/cc':>6} {'eu/bef':>6}" if before else "") +
          "  eu-stack found level3?")
    for target in ("x86_64", "i386", "armhf"):
        d = os.path.join(work, target)
        os.makedirs(d)
        exe = corecraft.build(target, d)
        core = corecraft.crash(target, exe, os.path.join(d, "run"))
        exe_args = [] if target == "x86_64" else ["--exe", str(exe)]
        cc, out = median_time([str(corecraft.SYMBOLIZE), "--core", str(core)] + exe_args)
        assert "level3" in out, out[-500:]
        store = os.path.join(d, "store")
        os.makedirs(store)
        warm = [str(corecraft.SYMBOLIZE), "--core", str(core), "--store", store] + exe_args
        subprocess.run(warm, capture_output=True, check=True)
        if before:
            bwarm = [before] + warm[1:]
            subprocess.run(bwarm, capture_output=True, check=True)
            ccs, bef = median_pair(warm, bwarm)
        else:
            ccs, _ = median_time(warm)
        eu, eu_out = median_time(["eu-stack", "--core", str(core)] +
                                 ([] if target == "x86_64" else ["--exec", str(exe)]))
        eusi, _ = median_time(["eu-stack", "-s", "-i", "--core", str(core)] +
                              ([] if target == "x86_64" else ["--exec", str(exe)]))
        gdb = corecraft.TARGETS[target]["gdb"]
        g, _ = median_time([gdb, "-nx", "-batch", "-ex", "thread apply all bt", str(exe), str(core)])
        print(f"{target:8} {cc * 1e3:9.1f} {ccs * 1e3:7.1f} {eu * 1e3:9.1f} {eusi * 1e3:9.1f} "
              f"{g * 1e3:8.1f} {eu / ccs:6.2f} {eusi / ccs:8.2f} {g / ccs:7.2f}" +
              (f" {bef * 1e3:7.1f} {bef / ccs:6.2f} {eu / bef:6.2f}" if before else "") +
              f"  {'yes' if 'level3' in eu_out else 'no'}")


def prstatus_regs_offset(b):
    """File offset of the first NT_PRSTATUS register set in an ELF64 LE core."""
    phoff, = struct.unpack_from("<Q", b, 32)
    phnum, = struct.unpack_from("<H", b, 56)
    for i in range(phnum):
        ptype, _, off, _, _, filesz = struct.unpack_from("<IIQQQQ", b, phoff + i * 56)
        if ptype == 4:
            pos = off
            while pos < off + filesz:
                namesz, descsz, ntype = struct.unpack_from("<III", b, pos)
                desc = pos + 12 + ((namesz + 3) & ~3)
                if ntype == 1:
                    return desc + 112
                pos = desc + ((descsz + 3) & ~3)
    raise ValueError("no NT_PRSTATUS")


def storm(work):
    d = os.path.join(work, "storm")
    os.makedirs(d)
    exe = corecraft.build("x86_64", d)
    core = corecraft.crash("x86_64", exe, os.path.join(d, "run"))
    base = bytearray(open(core, "rb").read())
    regs = prstatus_regs_offset(base)
    paths = []
    for k in range(STORM):
        # Each device's core differs in its scratch registers (rax, rcx, rdx).
        for idx in (10, 11, 12):
            struct.pack_into("<Q", base, regs + idx * 8, 0x1000 * k + idx)
        p = os.path.join(d, f"dev{k:04d}.core")
        with open(p, "wb") as f:
            f.write(base)
        paths.append(p)
    bench = str(corecraft.TBIN / "corecast-symbench")
    r = json.loads(subprocess.run([bench] + paths, capture_output=True, text=True, check=True).stdout)
    nc = json.loads(subprocess.run([bench, "--no-cache"] + paths[:100], capture_output=True,
                                   text=True, check=True).stdout)
    store = os.path.join(d, "store")
    os.makedirs(store)
    subprocess.run([str(corecraft.SYMBOLIZE), "--core", paths[0], "--store", store],
                   capture_output=True, check=True)
    one, _ = median_time([str(corecraft.SYMBOLIZE), "--core", paths[1], "--store", store])
    print(f"\nstorm: {r['cores']} cores of one build, one process, one CPU")
    print(f"  with cache:    {r['cores_per_s']:8.1f} cores/s  ({r['seconds']:.2f} s, {r['failed']} failed)"
          f"  peak RSS {r['peak_rss_kb'] / 1024:.1f} MiB; RSS after 10% {r['rss_kb_at_10pct'] / 1024:.1f} MiB,"
          f" at end {r['rss_kb_end'] / 1024:.1f} MiB")
    print(f"  without cache: {nc['cores_per_s']:8.1f} cores/s  (first 100 cores)")
    print(f"  one process per core (corecast-symbolize, warm store): {1 / one:8.1f} cores/s")
    print(f"  cache speed-up: {r['cores_per_s'] / nc['cores_per_s']:.1f}x;"
          f" target >= 200 cores/s: {'met' if r['cores_per_s'] >= 200 else 'NOT met'}")


def main():
    before = None
    args = sys.argv[1:]
    if args[:1] == ["--before"] and len(args) == 2:
        before = os.path.abspath(args[1])
    elif args:
        sys.exit("usage: bench_symbolize.py [--before CORECAST-SYMBOLIZE]")
    work = tempfile.mkdtemp(prefix="corecast-symbench-")
    try:
        per_core(work, before)
        storm(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
