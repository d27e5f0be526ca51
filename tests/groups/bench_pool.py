#!/usr/bin/python3
"""Benchmark: a storm of stored dumps of one build from as many devices through the
symbolization pool (decompress, symbolize, parse, sign, group), with long-lived
--serve workers and, as the baseline in the same run, one process per dump.

Run by `make bench` (target bench-groups-pool).  BENCH_DUMPS sets the storm size
(default 1000).
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
BIN = ROOT / "build" / "bin"
TBIN = ROOT / "build" / "tests"
N = int(os.environ.get("BENCH_DUMPS", "1000"))


def run_pool(store, workers, *extra):
    subprocess.run(["sqlite3", str(store / "index.sqlite"),
                    "DELETE FROM grp_symbolization; DELETE FROM grp_members;"
                    " DELETE FROM grp_groups;"], check=False, capture_output=True)
    p = subprocess.run(["/usr/bin/time", "-f", "%M", str(TBIN / "grp-pool-run"),
                        "--store", str(store), "--symbolizer", str(BIN / "corecast-symbolize"),
                        "--scan", "--workers", str(workers), "--max-seconds", "900", *extra],
                       capture_output=True, text=True)
    stats = json.loads(p.stdout.strip().splitlines()[-1])
    # GNU time's %M: the largest RSS of the pool process and the children it reaped
    stats["tree_rss_kb"] = int(p.stderr.strip().splitlines()[-1])
    stats["rate"] = stats["done"] / stats["busy_seconds"] if stats["busy_seconds"] else 0
    return stats


def line(label, s):
    extra = ""
    if s.get("workers_started"):
        extra = (f", {s['workers_started']} worker process(es), largest worker RSS "
                 f"{s['worker_rss_peak_kb'] / 1024:.1f} MiB")
    print(f"  {label:34} {s['rate']:7.1f} dumps/s  done {s['done']}, failed {s['failed']},"
          f" peak RSS (pool + children) {s['tree_rss_kb'] / 1024:.1f} MiB{extra}")


def main():
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        run = d / "run"
        run.mkdir()
        subprocess.run(["sh", "-c", f'ulimit -c unlimited; exec "{TBIN / "crasher"}"'],
                       cwd=run, capture_output=True)
        core = run / "core"
        if not core.exists():
            print("bench-groups-pool: no core file (core_pattern must be 'core')")
            return 1
        store = d / "store"
        for i in range(N):
            subprocess.run([str(TBIN / "store-import"), "--store", str(store), "--device",
                            f"dev-{i}", "--seq", str(i + 1), "--signal", "11", "--exe",
                            "crasher", str(core)], check=True, capture_output=True)
        print(f"bench-groups-pool: storm of {N} stored dumps of one build from {N} devices "
              f"({core.stat().st_size >> 10} KiB x86_64 cores), grp-pool-run (corecastd's pool)")
        serve = run_pool(store, 1)
        line("1 worker, --serve (default):", serve)
        per_core = run_pool(store, 1, "--per-core")
        line("1 worker, one process per dump:", per_core)
        serve2 = run_pool(store, 2)
        line("2 workers, --serve:", serve2)
        recycled = run_pool(store, 1, "--worker-jobs", "100")
        line("1 worker, retired every 100 dumps:", recycled)
        ratio = serve["rate"] / per_core["rate"] if per_core["rate"] else 0
        print(f"  serve / per-dump: {ratio:.2f}x; target >= 200 dumps/s with 1 worker: "
              f"{'met' if serve['rate'] >= 200 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
