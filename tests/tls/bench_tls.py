#!/usr/bin/python3
"""Benchmark (make bench-tls): one corecastd listening on udp://, dtls:// and tls://
on loopback; corecast-send streams the same real 16 MiB crasher core over each carrier,
--runs times, the carriers taken in turn so machine load hits all of them alike.

Throughput is core bytes over the transfer's own time (corecast-send --stats
`seconds`: first OPEN to the stored RESULT, after the handshake); the handshake time is
corecast-send's `handshake_ms` (connect to authenticated), for PSK and certificate
devices.  Medians; MB = 10^6 bytes.  Prints a table and the ratios dtls/udp and tls/udp
(target: dtls >= 0.70 of udp), and writes build/bench/tls.json.
"""
import argparse
import json
import pathlib
import re
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import tlscerts  # noqa: E402
import tlsharness as T  # noqa: E402

H = T.H
ROOT = pathlib.Path(__file__).resolve().parent.parent.parent


def stats_of(p):
    m = re.search(r"stats (.*)", p.stderr)
    assert p.returncode == 0 and m, f"corecast-send exited {p.returncode}: {p.stderr}"
    out = {}
    for kv in m.group(1).split():
        k, v = kv.split("=", 1)
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mib", type=int, default=16, help="core size to aim for")
    a = ap.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-tls-"))
    try:
        certs = tlscerts.make_fleet(work / "certs")
        # the crasher's own image and stacks add ~0.6 MiB to the ballast
        core = H.make_core(work / "core", alloc_mib=max(1, a.mib - 1))
        d = T.TlsDaemon(work / "ccd", listen=["udp://127.0.0.1:0", "dtls://127.0.0.1:0",
                                              "tls://127.0.0.1:0"])
        d.write_config(f"""
TLSCertificate={certs['server_crt']}
TLSKey={certs['server_key']}
TLSCA={certs['ca']}
SymbolizeWorkers=0
DeviceRate=0
HandshakeRate=0
""")
        d.store.mkdir(parents=True)
        for args in (("add", "bench-psk", "--psk", T.PSK),
                     ("add", certs["device"], "--cert", certs["dev_crt"])):
            assert T.ctl_devices(d.store, *args).returncode == 0
        d.start()
        auth = {"udp": [], "dtls": ["--psk", T.PSK], "tls": ["--psk", T.PSK],
                "dtls-chacha": ["--psk", T.PSK, "--cipher", "chacha20-poly1305"]}
        mbps = {k: [] for k in auth}
        hs = {"dtls-psk": [], "tls-psk": [], "dtls-cert": [], "tls-cert": []}
        seq = 0
        try:
            for _ in range(a.runs):
                for carrier in ("udp", "dtls", "tls", "dtls-chacha"):
                    seq += 1
                    scheme = carrier.split("-")[0]
                    st = stats_of(T.send(d.url(scheme), core["path"], "bench-psk",
                                         *auth[carrier], "--stats", "--seq", seq))
                    mbps[carrier].append(core["size"] / st["seconds"] / 1e6)
                    if carrier in ("dtls", "tls"):
                        hs[f"{scheme}-psk"].append(st["handshake_ms"])
                # certificate handshakes: a small core, only the handshake counts
                for scheme in ("dtls", "tls"):
                    seq += 1
                    st = stats_of(T.send(d.url(scheme), ROOT / "README.md",
                                         certs["device"], "--cert", certs["dev_crt"],
                                         "--key", certs["dev_key"], "--ca", certs["ca"],
                                         "--stats", "--seq", seq))
                    hs[f"{scheme}-cert"].append(st["handshake_ms"])
        finally:
            rc = d.stop()
        med = {k: statistics.median(v) for k, v in mbps.items()}
        hmed = {k: statistics.median(v) for k, v in hs.items()}
        ratio = {"dtls/udp": med["dtls"] / med["udp"], "tls/udp": med["tls"] / med["udp"],
                 "dtls-chacha/udp": med["dtls-chacha"] / med["udp"]}
        print(f"bench-tls: {core['size'] / 2**20:.1f} MiB core, {a.runs} runs per carrier, "
              "loopback, medians")
        print(f"{'carrier':12} {'MB/s':>8}   runs (dtls, tls: AES-128-GCM)")
        for k in ("udp", "dtls", "tls", "dtls-chacha"):
            print(f"{k:12} {med[k]:8.1f}   " + " ".join(f"{x:.0f}" for x in mbps[k]))
        print("handshake ms: " + "  ".join(f"{k} {v:.2f}" for k, v in hmed.items()))
        print(f"ratio dtls/udp {ratio['dtls/udp']:.2f} (target >= 0.70: "
              f"{'met' if ratio['dtls/udp'] >= 0.70 else 'NOT met'}), "
              f"tls/udp {ratio['tls/udp']:.2f}, dtls-chacha/udp {ratio['dtls-chacha/udp']:.2f}")
        out = ROOT / "build" / "bench"
        out.mkdir(parents=True, exist_ok=True)
        (out / "tls.json").write_text(json.dumps({
            "core_bytes": core["size"], "runs": a.runs, "mbps": mbps, "median_mbps": med,
            "handshake_ms": hs, "median_handshake_ms": hmed, "ratios": ratio}, indent=1))
        if rc != 0:
            print(f"corecastd exited {rc}", file=sys.stderr)
            return 1
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
