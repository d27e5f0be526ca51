"""bench-kernel-net: a 16 MiB core from the kernel (QEMU, virtio-net, lwIP) to corecastd.

MB/s for the default netdump window and for window 1 (stop-and-wait, the FreeBSD
netdump baseline), on a clean path and through the impairment proxy with 1% loss
each way; runs alternate between the windows so machine load hits both.  Then the
kernel RAM the network stack and the netdump sender use: static (sections of their
objects, from `size`) and peak (lwIP's own heap and pool statistics, printed by the
kernel after a dump).
"""
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import knet  # noqa: E402
from knet import H  # noqa: E402

ROUNDS = 2
MEM_MIB = 16
OBJ = knet.kqemu.ROOT / "build" / "riscv64-virt" / "obj"


def one(port, window):
    w = f" corecast.window={window}" if window else ""
    out = knet.run(f"run=crashdemo:mode=segv:mem={MEM_MIB} corecast.scope=writable "
                   f"corecast.endpoint=udp://{knet.HOST}:{port}{w} poweroff", timeout=600)
    m = re.search(r"attempt 1: stored size=(\d+) us=(\d+) kBps=\d+ window=(\d+) sent=(\d+) "
                  r"retransmits=(\d+)", out)
    if not m:
        raise SystemExit("bench-kernel-net: no stored transfer in the console:\n" + out[-3000:])
    size, us, win, sent, retr = (int(x) for x in m.groups())
    return {"size": size, "mbps": size / us, "window": win, "sent": sent, "retrans": retr,
            "out": out}


def sizes(paths):
    """text, data+bss summed over object files (riscv64 `size`, Berkeley format)."""
    p = subprocess.run(["riscv64-unknown-elf-size"] + [str(x) for x in paths],
                       stdout=subprocess.PIPE, text=True, check=True)
    text = data = 0
    for line in p.stdout.splitlines()[1:]:
        f = line.split()
        text += int(f[0])
        data += int(f[1]) + int(f[2])
    return text, data


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="corecast-bench-knet."))
    d = H.Daemon(work / "ccd").start()
    imp = H.Impair(work / "imp", f"127.0.0.1:{d.port}", ["--loss", 1], seed=11)
    res = {}
    last = None
    try:
        for r in range(ROUNDS):
            for loss, port in (("clean", d.port), ("1% loss", imp.port)):
                for window in (0, 1):
                    x = one(port, window)
                    res.setdefault((loss, window), []).append(x)
                    last = x
                    print(f"  round {r + 1} {loss:8s} window {x['window']:5d}: "
                          f"{x['mbps']:6.2f} MB/s ({x['sent']} packets, "
                          f"{x['retrans']} retransmitted)", flush=True)
    finally:
        imp.stop()
        d.stop()
    size = last["size"]
    print(f"\nbench-kernel-net: {size} byte core ({size / 2**20:.1f} MiB), median of {ROUNDS}")
    print(f"  {'path':10s} {'default window':>16s} {'window 1':>10s} {'ratio':>6s}")
    for loss in ("clean", "1% loss"):
        a = statistics.median(x["mbps"] for x in res[(loss, 0)])
        b = statistics.median(x["mbps"] for x in res[(loss, 1)])
        print(f"  {loss:10s} {a:11.2f} MB/s {b:6.2f} MB/s {a / b:5.1f}x")

    lwip = sorted((OBJ / "third_party").rglob("*.o"))
    glue = sorted((OBJ / "kernel" / "net").rglob("*.o")) + [OBJ / "hal/riscv64/plic.o"]
    nd = [OBJ / "netdump/tx.o", OBJ / "netdump/msg.o"]
    print("\n  kernel RAM, static (data+bss) and code:")
    for name, objs in (("lwIP core (UDP, IPv4+DHCP+ARP, IPv6+SLAAC, DNS)", lwip),
                       ("virtio-net driver, lwIP port, dump glue + sender state", glue),
                       ("netdump sender code (tx.c, msg.c)", nd)):
        t, dsz = sizes(objs)
        print(f"    {name:56s} data+bss {dsz:7d} B  text {t:7d} B")
    ram = re.search(r"\[net\] ram: (.*)", last["out"]).group(1)
    nic = re.search(r"\[net\] nic: (.*)", last["out"]).group(1)
    print(f"  peak during the last dump: {ram}")
    print(f"  NIC: {nic}")


if __name__ == "__main__":
    main()
