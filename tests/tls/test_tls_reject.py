"""Peers that must not get in: wrong key, unknown device, certificates from another CA,
expired or not enrolled, a device id that differs from the authenticated one, plain UDP
on a DTLS port, garbage and truncated handshakes, spoofed sources, handshake floods.
Each is refused, nothing is stored, the daemon stays up and says who and why."""
import os
import socket
import subprocess
import threading

import pytest

import tlsharness as T

H = T.H


def refused(p, *words):
    out = p.stderr
    assert p.returncode != 0, "corecast-send succeeded but should have been refused"
    for w in words:
        assert w in out, f"{w!r} not in corecast-send's message: {out.strip()}"


def nothing_stored(d):
    assert H.list_dumps(d.store) == []


def logged(d, *words):
    # When the device is the one refusing, its alert may still be on its way to the
    # collector as the sender exits: wait for the line a little.
    def found():
        lines = [l for l in d.log_text().splitlines() if "handshake" in l and "refused" in l]
        return any(all(w in l for w in words) for l in lines)
    try:
        H.wait_for(found, 10, "the collector's refusal line")
    except TimeoutError:
        lines = [l for l in d.log_text().splitlines() if "handshake" in l]
        raise AssertionError(f"no refusal line with {words} in:\n" + "\n".join(lines))


CASES = {
    # name: (device, sender arguments (c = certificate paths), sender words, log words)
    "wrong_psk": ("dev-psk", lambda c: ["--psk", T.WRONG_PSK], ["wrong key"],
                  ["device dev-psk", "wrong key"]),
    "unknown_device": ("dev-nobody", lambda c: ["--psk", T.PSK], ["unknown device"],
                       ["device dev-nobody", "unknown device"]),
    "foreign_ca": (None, lambda c: ["--cert", c["foreign_crt"], "--key", c["foreign_key"],
                                    "--ca", c["ca"]],
                   ["not issued by a CA the peer trusts"],
                   ["device dev-cert", "not issued by the trusted CA"]),
    "expired_cert": (None, lambda c: ["--cert", c["expired_crt"], "--key", c["expired_key"],
                                      "--ca", c["ca"]],
                     ["certificate expired"], ["device dev-cert", "certificate expired"]),
    "collector_from_other_ca": (None, lambda c: ["--cert", c["dev_crt"], "--key",
                                                 c["dev_key"], "--ca", c["foreign_ca"]],
                                ["certificate not issued by the trusted CA"],
                                ["not issued by a CA the peer trusts"]),
}


@pytest.mark.parametrize("scheme", ["dtls", "tls"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_peer_refused_nothing_stored(make_tls_daemon, tls_core, certs, scheme, case):
    device, args, words, log_words = CASES[case]
    d = make_tls_daemon()
    p = T.send(d.url(scheme), tls_core["path"], device or certs["device"], *args(certs),
               "--timeout", 10)
    assert p.returncode == 9, p.stderr
    refused(p, "handshake failed", *words)
    logged(d, f"{scheme} handshake from 127.0.0.1", *log_words)
    nothing_stored(d)
    assert d.alive()


@pytest.mark.parametrize("scheme", ["dtls", "tls"])
def test_certificate_not_in_key_store_refused(make_tls_daemon, tls_core, certs, scheme):
    # A valid chain from the fleet CA is not enough: the device must be enrolled.
    d = make_tls_daemon(enroll=False)
    p = T.send(d.url(scheme), tls_core["path"], certs["device"], "--cert", certs["dev_crt"],
               "--key", certs["dev_key"], "--ca", certs["ca"], "--timeout", 10)
    refused(p, "handshake failed", "does not allow this device")
    logged(d, "device dev-cert", "not allowed by the key store")
    nothing_stored(d)


@pytest.mark.parametrize("scheme", ["dtls", "tls"])
def test_open_for_another_device_refused(make_tls_daemon, tls_core, certs, scheme):
    # Authenticated as dev-cert, the sender claims to be someone else in OPEN.
    d = make_tls_daemon()
    p = T.send(d.url(scheme), tls_core["path"], "dev-psk", "--cert", certs["dev_crt"],
               "--key", certs["dev_key"], "--ca", certs["ca"], "--timeout", 10)
    assert p.returncode == 6, p.stderr
    refused(p, "differs from the authenticated identity dev-cert")
    assert "refused device=dev-psk" in d.log_text()
    nothing_stored(d)


def capture_hello(scheme, core):
    """The first flight a real corecast-send sends (a ClientHello), caught by a socket
    that never answers."""
    kind = socket.SOCK_DGRAM if scheme == "dtls" else socket.SOCK_STREAM
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    s.settimeout(10)
    if kind == socket.SOCK_STREAM:
        s.listen(1)
    port = s.getsockname()[1]
    p = subprocess.Popen([str(H.SEND), "--endpoint", f"{scheme}://127.0.0.1:{port}",
                          "--device", "dev-psk", "--psk", T.PSK, "--timeout", "3", "--quiet",
                          str(core)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if kind == socket.SOCK_DGRAM:
            data, _ = s.recvfrom(4096)
        else:
            c, _ = s.accept()
            c.settimeout(10)
            data = c.recv(4096)
            c.close()
    finally:
        p.kill()
        p.wait()
        s.close()
    assert data[0] == 22, data[:16]
    return data


def test_plain_udp_to_dtls_port_refused(make_tls_daemon, tls_core):
    d = make_tls_daemon()
    p = T.send(f"udp://127.0.0.1:{d.port_of('dtls')}", tls_core["path"], "dev-psk",
               "--timeout", 3)
    assert p.returncode == 5, p.stderr       # no answer: nothing is said in clear there
    assert "no answer" in p.stderr
    assert d.stats()["not_dtls"] > 0
    nothing_stored(d)


def test_garbage_and_truncated_handshakes_leave_daemon_working(make_tls_daemon, tls_core,
                                                               tmp_path):
    d = make_tls_daemon()
    dtls_hello = capture_hello("dtls", tls_core["path"])
    tls_hello = capture_hello("tls", tls_core["path"])
    dport, tport = d.port_of("dtls"), d.port_of("tls")
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payloads = [os.urandom(n) for n in (1, 13, 25, 200, 1400)]
    payloads += [dtls_hello[:n] for n in (1, 5, 13, 14, 25, 40, len(dtls_hello) - 1)]
    payloads += [bytes([22, 0xfe, 0xfd]) + b"\0" * 10 + b"\x01" + os.urandom(100)]
    payloads += [dtls_hello[:60] + os.urandom(len(dtls_hello) - 60)]
    for _ in range(20):
        for pl in payloads:
            u.sendto(pl, ("127.0.0.1", dport))
    held = []
    for pl in [os.urandom(300), tls_hello[:7], tls_hello[:len(tls_hello) // 2],
               tls_hello[:60] + os.urandom(200), b"GET / HTTP/1.0\r\n\r\n"]:
        c = socket.create_connection(("127.0.0.1", tport), timeout=5)
        c.sendall(pl)
        if len(held) < 2:
            held.append(c)       # truncated and left hanging: must not block anyone
        else:
            c.close()
    # Real devices still get through on both carriers while the junk sits there.
    for scheme in ("dtls", "tls"):
        p = T.send(d.url(scheme), tls_core["path"], "dev-psk", "--psk", T.PSK,
                   "--seq", 7 if scheme == "dtls" else 8)
        assert p.returncode == 0, p.stderr
    for c in held:
        c.close()
    assert len(H.list_dumps(d.store)) == 2
    assert d.alive()
    st = d.stats()
    assert st["not_dtls"] > 0 and st["handshake_failed"] > 0, st


def test_dtls_cookie_exchange_keeps_no_state_for_unverified_sources(make_tls_daemon,
                                                                    tls_core):
    d = make_tls_daemon()
    hello = capture_hello("dtls", tls_core["path"])
    n = 50
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.sendto(hello, ("127.0.0.1", d.port_of("dtls")))
        socks.append(s)
    for s in socks:
        reply, _ = s.recvfrom(4096)
        # HelloVerifyRequest (handshake type 3), never larger than what was sent
        assert reply[0] == 22 and reply[13] == 3, reply[:16]
        assert len(reply) <= len(hello)
        s.close()
    st = d.stats()
    assert st["hello_verify"] >= n and st["connections"] == 0, st


def test_handshakes_rate_limited_per_source(make_tls_daemon, tls_core):
    d = make_tls_daemon(extra="HandshakeRate=3")
    rcs = [T.send(d.url("tls"), tls_core["path"], "dev-psk", "--psk", T.PSK, "--seq", i,
                  "--timeout", 5).returncode for i in range(5)]
    assert rcs[:3] == [0, 0, 0] and all(rc != 0 for rc in rcs[3:]), rcs
    assert "more than 3 per minute from this source (HandshakeRate)" in d.log_text()
    assert d.stats()["handshake_rate_limited"] >= 2
    assert len(H.list_dumps(d.store)) == 3
