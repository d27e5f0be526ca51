"""The same netdump transfer over udp://, dtls:// and tls://: real cores from the crasher,
real corecastd and corecast-send processes on loopback, PSK and certificate devices."""
import pytest

import tlsharness as T

H = T.H


def assert_stored_identical(store, core, tmp_path, device):
    rows = [r for r in H.list_dumps(store) if r.get("device") == device]
    assert len(rows) == 1, f"expected one dump of {device}, found {rows}"
    row = rows[0]
    assert row["sha256"] == core["sha256"]
    dest = tmp_path / f"dump-{row['id']}.core"
    assert H.dump_to(store, row["id"], dest) == core["sha256"]
    assert dest.read_bytes() == core["path"].read_bytes()
    return row


def sent(p):
    assert p.returncode == 0, f"corecast-send exited {p.returncode}: {p.stderr.strip()}"


@pytest.mark.parametrize("scheme", ["udp", "dtls", "tls"])
def test_psk_device_core_stored_byte_identical(make_tls_daemon, tls_core, tmp_path, scheme):
    d = make_tls_daemon()
    psk = [] if scheme == "udp" else ["--psk", T.PSK]
    sent(T.send(d.url(scheme), tls_core["path"], "dev-psk", *psk))
    assert_stored_identical(d.store, tls_core, tmp_path, "dev-psk")
    if scheme != "udp":
        assert f"{scheme} from 127.0.0.1" in d.log_text()
        assert "device dev-psk authenticated by PSK (TLS-PSK-WITH-AES-128-GCM" in d.log_text()


@pytest.mark.parametrize("scheme", ["dtls", "tls"])
def test_certificate_device_core_stored_byte_identical(make_tls_daemon, tls_core, certs,
                                                       tmp_path, scheme):
    d = make_tls_daemon()
    sent(T.send(d.url(scheme), tls_core["path"], certs["device"], "--cert", certs["dev_crt"],
                "--key", certs["dev_key"], "--ca", certs["ca"]))
    assert_stored_identical(d.store, tls_core, tmp_path, certs["device"])
    assert (f"device {certs['device']} authenticated by certificate (TLS-ECDHE-ECDSA-WITH-"
            "AES-128-GCM") in d.log_text()


def test_dtls_core_is_symbolized(make_tls_daemon, big_tls_core, tmp_path):
    # A large core: thousands of records, and the symbolization worker's file-size
    # limit (the core's size) leaves room for the debug files it inflates.
    tls_core = big_tls_core
    d = make_tls_daemon(symbolize=1)
    p = H.ctl(d.store, "symbols", "add", H.CRASHER, check=False)
    assert p.returncode == 0, p.stderr
    sent(T.send(d.url("dtls"), tls_core["path"], "dev-psk", "--psk", T.PSK,
                "--exe", H.CRASHER))
    row = assert_stored_identical(d.store, tls_core, tmp_path, "dev-psk")
    rec = H.wait_for(lambda: (lambda r: r if r["symbolization"]["status"] in
                              ("done", "failed", "symbols-missing") else None)(
                                  H.info(d.store, row["id"])), 60, "symbolization")
    assert rec["symbolization"]["status"] == "done", rec["symbolization"]
    groups = H.ctl(d.store, "groups")
    assert any("crasher_level3" in g["title"] for g in groups), groups


def test_dtls_through_loss_and_reordering_delivers(make_tls_daemon, tls_core, tmp_path,
                                                  procs):
    d = make_tls_daemon()
    imp = H.Impair(tmp_path / "impair", f"127.0.0.1:{d.port_of('dtls')}",
                   ["--loss", 3, "--reorder", 5, "--delay", 1], seed=11)
    procs.append(imp)
    endpoint = imp.endpoint.replace("udp://", "dtls://")
    sent(T.send(endpoint, tls_core["path"], "dev-psk", "--psk", T.PSK, "--timeout", 60,
                timeout=150))
    c = imp.stop()
    for way in ("up", "down"):
        assert c[way]["lost"] > 0 and c[way]["reordered"] > 0, c
    assert_stored_identical(d.store, tls_core, tmp_path, "dev-psk")


def test_key_store_changes_apply_on_sighup(make_tls_daemon, tls_core, tmp_path):
    d = make_tls_daemon()
    args = (tls_core["path"], "dev-late", "--psk", T.PSK, "--timeout", 10)
    p = T.send(d.url("tls"), *args)
    assert p.returncode == 9 and "unknown device" in p.stderr, p.stderr
    assert T.ctl_devices(d.store, "add", "dev-late", "--psk", T.PSK).returncode == 0
    d.hup()
    sent(T.send(d.url("tls"), *args))
    listed = H.ctl(d.store, "devices", "list")
    assert {"device": "dev-late", "auth": "psk", "key_bytes": 16} in listed
    assert T.ctl_devices(d.store, "rm", "dev-late").returncode == 0
    d.hup()
    p = T.send(d.url("dtls"), *args, "--seq", 99)
    assert p.returncode == 9 and "unknown device" in p.stderr, p.stderr
    assert len([r for r in H.list_dumps(d.store) if r["device"] == "dev-late"]) == 1


@pytest.mark.parametrize("scheme", ["dtls", "tls"])
def test_interrupted_transfer_resumes_on_a_new_connection(make_tls_daemon, big_tls_core,
                                                          tmp_path, scheme):
    # The sender stops early; a second run handshakes again (new connection, new
    # address) and the collector continues the same dump from what it holds.
    d = make_tls_daemon()
    args = (big_tls_core["path"], "dev-psk", "--psk", T.PSK, "--seq", 5, "--stats")
    p = T.send(d.url(scheme), *args, "--max-seconds", "0.02")
    assert p.returncode in (8, 0), p.stderr    # 0 only on a machine fast enough to finish
    p = T.send(d.url(scheme), *args)
    sent(p)
    resume = int(p.stderr.split(" resume=")[1].split()[0])
    assert resume > 0, p.stderr
    assert_stored_identical(d.store, big_tls_core, tmp_path, "dev-psk")
    assert d.log_text().count("device dev-psk authenticated by PSK") == 2
