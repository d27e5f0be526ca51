#!/usr/bin/python3
"""Benchmark: a 64 MiB real core through the impairment proxy at 0, 1 and 10 ms added
delay and 0% / 1% loss; corecast-send with window 1 (stop-and-wait baseline) and with
its default window, against a raw UDP blast on the same path (the ceiling).

Delay and loss apply to both directions, as netem on a loopback interface would: the
round-trip time grows by twice the delay.  Default-window and blast figures are the
median of --runs runs, taken alternately (a blast sends --blast-mib, 256 MiB by default,
and its rate is what the sink received between its first and last datagram); a window-1 run is bounded to --w1-seconds (corecast-send
--max-seconds) and its rate is the core bytes the collector acknowledged in that time
(the sender's --stats line), so a 10 ms stop-and-wait run does not take an hour.  MB = 10^6 bytes.

Prints a table and the ratios default/window1, default/blast and loss1%/loss0%; writes
the figures as JSON to build/bench/throughput.json.
"""
import argparse
import json
import os
import re
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "collector"))
import ccharness as H  # noqa: E402

class _Direct:
    """Stands in for the proxy in the `direct` row: traffic goes straight to the port."""

    def __init__(self, port):
        self.port = port
        self.endpoint = f"udp://127.0.0.1:{port}"

    def stop(self):
        return {}


def _proxy(work, port, delay, loss, seed):
    if delay is None:
        return _Direct(port)
    return H.Impair(work, f"127.0.0.1:{port}", ["--delay", delay, "--loss", loss], seed=seed)


def blast(work, delay, loss, size, seed):
    sink_port = work / "sink.port"
    if sink_port.exists():
        sink_port.unlink()
    sink = subprocess.Popen([str(H.UDPBLAST), "sink", "--port-file", str(sink_port),
                             "--idle-ms", "600", "--expect-bytes", str(size)],
                            stdout=subprocess.PIPE, text=True)
    port = H.wait_for(lambda: H.read_port_file(sink_port), 10, "udpblast sink")
    imp = _proxy(work / "imp-blast", port, delay, loss, seed)
    subprocess.run([str(H.UDPBLAST), "send", "--target", f"127.0.0.1:{imp.port}",
                    "--bytes", str(size), "--payload", "1424"],
                   stdout=subprocess.DEVNULL, check=True, timeout=120)
    out, _ = sink.communicate(timeout=60)
    imp.stop()
    kv = dict(x.split("=") for x in out.split()[1:])
    return float(kv["MBps"])


def send_full(work, core, delay, loss, seed, window=None):
    """One complete transfer through the proxy to a fresh collector; MB/s end to end."""
    store = work / "store"
    shutil.rmtree(store, ignore_errors=True)
    d = H.Daemon(work / "ccd", store=store).start()
    imp = _proxy(work / "imp", d.port, delay, loss, seed)
    extra = ["--timeout", 300] + (["--window", window] if window else [])
    t0 = time.monotonic()
    p = H.send(imp.endpoint, core["path"], f"bench-{seed}", *extra, timeout=600)
    secs = time.monotonic() - t0
    imp.stop()
    rc = d.stop()
    if p.returncode != 0 or rc != 0:
        raise RuntimeError(f"transfer failed: send rc {p.returncode} "
                           f"{(p.stdout + p.stderr).decode(errors='replace').strip()}; "
                           f"corecastd rc {rc}")
    return core["size"] / secs / 1e6


def send_bounded(work, core, delay, loss, seed, seconds):
    """Window-1 transfer stopped after `seconds` (corecast-send --max-seconds); MB/s of
    core bytes the collector acknowledged in that time, from the sender's --stats line."""
    store = work / "store"
    shutil.rmtree(store, ignore_errors=True)
    d = H.Daemon(work / "ccd", store=store).start()
    imp = _proxy(work / "imp", d.port, delay, loss, seed)
    p = H.send(imp.endpoint, core["path"], f"bench-w1-{seed}", "--window", 1, "--stats",
               "--max-seconds", seconds, "--timeout", 300, timeout=seconds + 60)
    imp.stop()
    d.stop()
    out = (p.stdout + p.stderr).decode(errors="replace")
    m = re.search(r"stats state=(\S+) size=\d+ acked=(\d+) seconds=([\d.]+)", out)
    if not m:
        raise RuntimeError(f"window-1 run gave no statistics (rc {p.returncode}): {out}")
    return int(m.group(2)) / float(m.group(3)) / 1e6


def _label(delay):
    return "direct" if delay is None else f"{delay:g}ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5,
                    help="runs per figure; the machine is shared, medians need several")
    ap.add_argument("--w1-seconds", type=float, default=4.0)
    ap.add_argument("--alloc-mib", type=int, default=63,
                    help="crasher ballast; 63 MiB makes a core of about 64 MiB")
    ap.add_argument("--blast-mib", type=int, default=256,
                    help="bytes per blast run: longer than the core, so a scheduling "
                         "hiccup on a shared machine does not decide the ceiling")
    ap.add_argument("--delays", default="0,1,10")
    ap.add_argument("--losses", default="0,1")
    ap.add_argument("--no-direct", dest="direct", action="store_false",
                    help="skip the row without the proxy")
    ap.add_argument("--out", default=str(H.ROOT / "build" / "bench" / "throughput.json"))
    a = ap.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="corecast-bench-"))
    try:
        core = H.make_core(work / "core", alloc_mib=a.alloc_mib)
        print(f"core: {core['size']} bytes ({core['size'] / 2**20:.1f} MiB), real crasher core, "
              f"incompressible ballast", flush=True)
        results = []
        seed = 100
        # The `direct` row bypasses the proxy: how much does the proxy itself cost?
        plan = [(None, 0.0)] if a.direct else []
        plan += [(float(d), float(l)) for d in a.delays.split(",") for l in a.losses.split(",")]
        for delay, loss in plan:
            seed += 1
            row = {"delay_ms": delay, "loss_pct": loss}
            # Blast and default-window runs alternate, so a burst of load from
            # elsewhere on the machine hits both sides of the ratio alike.
            blasts, defaults = [], []
            for i in range(a.runs):
                blasts.append(blast(work, delay, loss, a.blast_mib << 20, seed + i))
                defaults.append(send_full(work, core, delay, loss, seed + i))
            row["blast"] = statistics.median(blasts)
            row["default"] = statistics.median(defaults)
            row["blast_runs"], row["default_runs"] = blasts, defaults
            row["window1"] = send_bounded(work, core, delay, loss, seed, a.w1_seconds)
            results.append(row)
            print(f"  {_label(delay)} loss {loss:g}%: blast {row['blast']:.1f} "
                  f"window1 {row['window1']:.2f} default {row['default']:.1f} MB/s",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("64 MiB core through impair (delay one-way, both directions; MB/s, 10^6 B/s)")
    hdr = (f"{'delay':>6} {'loss':>5} {'blast':>8} {'window1':>8} {'default':>8} "
           f"{'def/w1':>8} {'def/blast':>9} {'loss1/loss0':>11}")
    print(hdr)
    print("-" * len(hdr))
    by = {(r["delay_ms"], r["loss_pct"]): r for r in results}
    for r in results:
        r["default_over_window1"] = r["default"] / r["window1"] if r["window1"] else None
        r["default_over_blast"] = r["default"] / r["blast"] if r["blast"] else None
        base = by.get((r["delay_ms"], 0.0))
        r["loss_over_noloss"] = (r["default"] / base["default"]
                                 if base and r["loss_pct"] and base["default"] else None)
        f = lambda v, w=8, p=2: f"{v:>{w}.{p}f}" if v is not None else f"{'-':>{w}}"  # noqa
        print(f"{_label(r['delay_ms']):>6} {r['loss_pct']:>4g}% {r['blast']:>8.1f} "
              f"{r['window1']:>8.2f} {r['default']:>8.1f} {f(r['default_over_window1'], 8, 1)} "
              f"{f(r['default_over_blast'], 9)} {f(r['loss_over_noloss'], 11)}")
    one = by.get((1.0, 0.0))
    if one:
        print(f"\ntargets at 1 ms, no loss: default/window1 {one['default_over_window1']:.1f}x "
              f"(>= 20x), default/blast {one['default_over_blast']:.0%} (>= 70%)")
    lossy = [r["loss_over_noloss"] for r in results if r["loss_over_noloss"] is not None]
    if lossy:
        print(f"1% loss keeps {min(lossy):.0%} .. {max(lossy):.0%} of the loss-free "
              f"throughput (target >= 50%)")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"core_size": core["size"], "results": results}, f, indent=1)
    print(f"figures: {a.out}")


if __name__ == "__main__":
    main()
