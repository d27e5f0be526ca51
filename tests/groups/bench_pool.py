#!/usr/bin/python3
"""Benchmark: dumps per second through the symbolization pool (fork, decompress,
exec corecast-symbolize under limits, parse, sign, group), by worker count.

Run by `make bench` (target bench-groups-pool).  Prints one line per worker count.
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
N = int(os.environ.get("BENCH_DUMPS", "200"))


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
        for workers in (1, 2, 4):
            subprocess.run(["sqlite3", str(store / "index.sqlite"),
                            "DELETE FROM grp_symbolization; DELETE FROM grp_members;"
                            " DELETE FROM grp_groups;"], check=False, capture_output=True)
            p = subprocess.run(["/usr/bin/time", "-f", "%M", str(TBIN / "grp-pool-run"),
                                "--store", str(store), "--symbolizer",
                                str(BIN / "corecast-symbolize"), "--scan", "--workers",
                                str(workers), "--max-seconds", "600"],
                               capture_output=True, text=True)
            stats = json.loads(p.stdout.strip().splitlines()[-1])
            rss_kb = int(p.stderr.strip().splitlines()[-1])
            rate = stats["done"] / stats["busy_seconds"] if stats["busy_seconds"] else 0
            print(f"bench-groups-pool: {N} dumps ({core.stat().st_size >> 10} KiB cores), "
                  f"{workers} worker(s): {rate:.1f} dumps/s, done {stats['done']}, "
                  f"failed {stats['failed']}, pool process peak RSS {rss_kb} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
