#!/usr/bin/env python3
"""Kernel benchmark (make bench): fault-to-end-of-dump time by dumped size, freeze latency, section sizes."""
import re
import statistics
import subprocess
import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import kqemu as kvm  # noqa: E402
import kserial as serialcore  # noqa: E402


def dump_times(bootargs, timeout=600):
    out = kvm.run(bootargs, timeout=timeout)
    m = re.search(r"\[k\] dump pid=\d+ freeze_us=(\d+) dump_us=(\d+)", out)
    core = serialcore.core_lines(out)[0]
    dumps = serialcore.dumps_in(out)
    assert len(dumps) == 1 and dumps[0].crc_ok
    return int(m.group(1)), int(m.group(2)), core


def main():
    print("kernel bench (QEMU TCG; times from the guest clock; the serial sink, an emulated ns16550\n"
          "  writing one byte per host write, dominates: the writer itself runs at ~8 MiB/s in the guest)")
    for mib in (1, 4, 16):
        runs = [dump_times(f"run=crashdemo:mode=segv:mem={mib}:delay=10 "
                           "corecast.scope=writable poweroff") for _ in range(3 if mib == 1 else 1)]
        total = statistics.median(f + d for f, d, _ in runs)
        core = runs[0][2]
        print(f"  fault->end of dump, {mib:2d} MiB mapped ({core['memory'] / 2**20:.2f} MiB dumped, "
              f"core {core['size'] / 2**20:.2f} MiB): median {total / 1000:.1f} ms "
              f"({core['size'] / 2**20 / (total / 1e6):.2f} MiB/s of core)")
    freezes = [dump_times("run=crashdemo:mode=segv:threads=32:delay=200 poweroff")[0]
               for _ in range(5)]
    print(f"  freeze latency, 33 threads (32 blocked or busy): median {statistics.median(freezes)} us "
          f"(runs: {freezes})")
    size = subprocess.run(["riscv64-unknown-elf-size", "-A", str(kvm.KERNEL)],
                          stdout=subprocess.PIPE, text=True).stdout
    secs = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\S+)\s+(\d+)", size, re.M)}
    print(f"  kernel.elf: text {secs.get('.text', 0)} B, rodata {secs.get('.rodata', 0)} B "
          f"(embedded user programs included), data {secs.get('.data', 0)} B, "
          f"bss {secs.get('.bss', 0)} B (thread table and kernel stacks: "
          f"{128} x 16 KiB)")


if __name__ == "__main__":
    main()
