#!/usr/bin/python3
"""Benchmark: 500 concurrent corecast-send processes, 2 MiB each, into one corecastd.

Every sender streams a different 2 MiB file (a real crasher core padded to 2 MiB with
bytes unique to that sender), so a dump mixed up between sessions could not pass the
check: every stored dump must have the SHA-256 of its own file.  By default the senders
go through the impairment proxy (one upstream socket per sender) with --delay ms each
way; --direct skips the proxy.  Reports aggregate MB/s (all bytes / wall time from the
first start to the last exit), the collector's peak RSS (VmHWM, target <= 128 MiB) and
writes build/bench/fanout.json.
"""
import argparse
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "collector"))
import ccharness as H  # noqa: E402

SIZE = 2 << 20


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--senders", type=int, default=500)
    ap.add_argument("--delay", type=float, default=1.0)
    ap.add_argument("--direct", action="store_true")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--out", default=str(H.ROOT / "build" / "bench" / "fanout.json"))
    a = ap.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="corecast-fanout-", dir="/dev/shm"
                                         if os.path.isdir("/dev/shm") else None))
    procs = []
    try:
        core = H.make_core(work / "core")
        base = core["path"].read_bytes()[:SIZE]
        files, digests = [], {}
        rng = random.Random(5)
        for i in range(a.senders):
            f = work / f"core-{i:03d}"
            f.write_bytes(base + rng.randbytes(SIZE - len(base)))
            files.append(f)
            digests[f"fan-{i:03d}"] = H.sha256_file(f)

        d = H.Daemon(work / "ccd", store=work / "store")
        d.write_config(f"MaxSessions={a.senders + 24}\nMaxUse=100G\nKeepFree=0")
        d.start()
        endpoint = d.endpoint()
        imp = None
        if not a.direct:
            imp = H.Impair(work / "imp", f"127.0.0.1:{d.port}", ["--delay", a.delay])
            endpoint = imp.endpoint
        t0 = time.monotonic()
        for i, f in enumerate(files):
            procs.append(H.send_async(endpoint, f, f"fan-{i:03d}", "--timeout", a.timeout,
                                      log=work / f"send-{i:03d}.log"))
        failed = []
        for i, p in enumerate(procs):
            left = max(1.0, a.timeout + 30 - (time.monotonic() - t0))
            try:
                rc = p.wait(left)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "timeout"
            if rc != 0:
                failed.append((i, rc, (work / f"send-{i:03d}.log").read_text()[-300:]))
        secs = time.monotonic() - t0
        hwm = H.proc_status(d.pid, "VmHWM")
        if imp:
            imp.stop()
        rc = d.stop()

        rows = H.list_dumps(d.store)
        stored = {r["device"]: r["sha256"] for r in rows}
        wrong = [k for k, v in digests.items() if stored.get(k) != v]
        # Spot-check the store itself: dump a few and compare with the files sent.
        for i in (0, a.senders // 2, a.senders - 1):
            row = next((r for r in rows if r["device"] == f"fan-{i:03d}"), None)
            if row:
                got = H.dump_to(d.store, row["id"], work / f"check-{i}")
                if got != digests[f"fan-{i:03d}"]:
                    wrong.append(f"dump of fan-{i:03d}")
        total = a.senders * SIZE
        res = {"senders": a.senders, "bytes_each": SIZE, "path":
               "direct" if a.direct else f"impair delay {a.delay:g} ms",
               "seconds": secs, "aggregate_MBps": total / secs / 1e6,
               "collector_vmhwm_kib": hwm, "failed_senders": len(failed),
               "stored": len(rows), "wrong_or_missing": len(wrong), "corecastd_rc": rc}
        print(f"{a.senders} senders x 2 MiB ({res['path']}): {len(rows)} stored, "
              f"{len(failed)} senders failed, {len(wrong)} wrong or missing")
        print(f"  wall {secs:.1f} s, aggregate {res['aggregate_MBps']:.1f} MB/s, "
              f"collector peak RSS {hwm / 1024:.1f} MiB (target <= 128 MiB), "
              f"corecastd exit {rc}")
        for i, rc_, tail in failed[:5]:
            print(f"  sender {i} exit {rc_}: {tail.strip()}")
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)
        ok = not failed and not wrong and hwm <= 128 * 1024 and rc == 0
        print("fan-out:", "PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
