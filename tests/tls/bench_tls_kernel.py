#!/usr/bin/python3
"""bench-tls, kernel part: a 16 MiB core from the corecast kernel (QEMU riscv64,
virtio-net, lwIP) to corecastd over udp://, dtls:// and tls:// (mbedtls, PSK,
AES-128-GCM in software; tls:// on lwIP's TCP), alternating, ROUNDS each; the
handshake times the kernel prints (for tls:// without the TCP connect, printed
apart); the kernel RAM mbedtls adds: static (text, data+bss of the mbedtls
objects, the DTLS/TLS glue and the virtio-rng driver, from `size`) and peak (the
high-water mark of the static allocation pool, printed after the dump); and what
TCP adds for tls://: static (lwIP's tcp*.o, the TCP carrier and netdump's stream
framing) and peak (lwIP heap high-water during a tls:// dump above that of a
udp:// dump, and the TCP segment descriptors in use).  MB = 10^6 bytes; medians.
Writes build/bench/tls-kernel.json.
"""
import json
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "net"))
import knet  # noqa: E402
import tlsharness as T  # noqa: E402

H = T.H
ROUNDS = 2
SCHEMES = ("udp", "dtls", "tls")
MEM_MIB = 16
KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
OBJ = knet.kqemu.ROOT / "build" / "riscv64-virt" / "obj"


def one(d, scheme):
    extra = ["-device", "virtio-rng-device"]
    key = f" corecast.psk={KEY}" if scheme != "udp" else ""
    args = (f"run=crashdemo:mode=segv:mem={MEM_MIB} corecast.scope=writable corecast.device=kb "
            f"corecast.endpoint={scheme}://{knet.HOST}:{d.port_of(scheme)}{key} poweroff")
    with knet.NetKernel(args, 600, extra=extra) as k:
        out = k.wait().replace("\r", "")
    m = re.search(r"attempt 1: stored size=(\d+) us=(\d+)", out)
    if not m:
        raise SystemExit(f"bench-tls kernel: no stored {scheme} transfer:\n" + out[-3000:])
    size, us = int(m.group(1)), int(m.group(2))
    hs = re.search(r"\[net\] d?tls: authenticated as \S+ \(\S+\) in (\d+) us", out)
    conn = re.search(r"\(TCP connect (\d+) us\)", out)
    peak = re.search(r"d?tls pool high-water=(\d+) of (\d+)", out)
    heap = re.search(r"lwip heap max=(\d+) of", out)
    segs = re.search(r"tcp pcbs max=\d+ of \d+, segments max=(\d+) of", out)
    return {"size": size, "mbps": size / us, "handshake_us": int(hs.group(1)) if hs else None,
            "connect_us": int(conn.group(1)) if conn else None,
            "pool_peak": int(peak.group(1)) if peak else None,
            "pool": int(peak.group(2)) if peak else None,
            "heap_peak": int(heap.group(1)) if heap else None,
            "tcp_segs": int(segs.group(1)) if segs else None}


def static_ram(objs=None):
    if objs is None:
        objs = sorted((OBJ / "third_party").glob("mbedtls-*/library/*.o"))
        objs += [OBJ / "kernel/net/tls/ktls.o", OBJ / "kernel/net/tls/virtio_rng.o"]
    p = subprocess.run(["riscv64-unknown-elf-size"] + [str(o) for o in objs],
                       stdout=subprocess.PIPE, text=True, check=True)
    text = data = 0
    for line in p.stdout.splitlines()[1:]:
        f = line.split()
        text += int(f[0])
        data += int(f[1]) + int(f[2])
    return text, data


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-tls-kernel-"))
    d = T.TlsDaemon(work / "ccd", listen=["udp://127.0.0.1:0", "dtls://127.0.0.1:0",
                                          "tls://127.0.0.1:0"])
    d.write_config("SymbolizeWorkers=0\nDeviceRate=0\nHandshakeRate=0\n")
    d.store.mkdir(parents=True)
    assert T.ctl_devices(d.store, "add", "kb", "--psk", KEY).returncode == 0
    d.start()
    res = {k: [] for k in SCHEMES}
    try:
        for _ in range(ROUNDS):
            for scheme in SCHEMES:
                res[scheme].append(one(d, scheme))
    finally:
        d.stop()
    med = {k: statistics.median(r["mbps"] for r in v) for k, v in res.items()}
    hs = statistics.median(r["handshake_us"] for r in res["dtls"]) / 1000
    hs_tls = statistics.median(r["handshake_us"] for r in res["tls"]) / 1000
    conn_tls = statistics.median(r["connect_us"] for r in res["tls"]) / 1000
    text, data = static_ram()
    peak = max(r["pool_peak"] for r in res["dtls"])
    peak_tls = max(r["pool_peak"] for r in res["tls"])
    pool = res["dtls"][0]["pool"]
    lw = OBJ / "third_party" / "lwip-2.1.3+dfsg1" / "src" / "core"
    tcp_text, tcp_data = static_ram([lw / "tcp.o", lw / "tcp_in.o", lw / "tcp_out.o",
                                     OBJ / "kernel/net/tls/ktls_tcp.o", OBJ / "netdump/frame.o"])
    heap_udp = max(r["heap_peak"] for r in res["udp"])
    heap_tls = max(r["heap_peak"] for r in res["tls"])
    segs = max(r["tcp_segs"] for r in res["tls"])
    print(f"bench-tls kernel: {res['udp'][0]['size'] / 2**20:.1f} MiB core from QEMU riscv64, "
          f"{ROUNDS} runs each, medians")
    for k in SCHEMES:
        print(f"  {k:5} {med[k]:7.2f} MB/s   " + " ".join(f"{r['mbps']:.2f}" for r in res[k]))
    print(f"  ratio dtls/udp {med['dtls'] / med['udp']:.2f}, tls/udp {med['tls'] / med['udp']:.2f}, "
          f"tls/dtls {med['tls'] / med['dtls']:.2f}")
    print(f"  handshake: DTLS {hs:.1f} ms; TLS {hs_tls:.1f} ms after a {conn_tls:.1f} ms TCP connect")
    print(f"  kernel RAM for DTLS/TLS: static text {text} B, data+bss {data} B "
          f"(includes the {pool} B pool); pool peak {peak} B (dtls), {peak_tls} B (tls)")
    print(f"  kernel RAM added by TCP for tls://: static text {tcp_text} B, data+bss {tcp_data} B "
          f"(lwIP tcp*.o, ktls_tcp.o, frame.o); peak lwIP heap {heap_tls} B vs {heap_udp} B "
          f"over udp (+{heap_tls - heap_udp} B), {segs} TCP segment descriptors")
    out = knet.kqemu.ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "tls-kernel.json").write_text(json.dumps({
        "runs": res, "median_mbps": med, "handshake_ms": hs, "tls_handshake_ms": hs_tls,
        "tls_connect_ms": conn_tls, "static_text": text, "static_data_bss": data, "pool": pool,
        "pool_peak": peak, "tls_pool_peak": peak_tls, "tcp_static_text": tcp_text,
        "tcp_static_data_bss": tcp_data, "heap_peak_udp": heap_udp, "heap_peak_tls": heap_tls,
        "tcp_segs_peak": segs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
