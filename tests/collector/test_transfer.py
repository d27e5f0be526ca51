"""A real core crosses loopback (clean or impaired) and is stored byte-identical."""
import json

import pytest

import ccharness as H


def test_core_arrives_byte_identical_and_listed(daemon, core, tmp_path, sent_ok,
                                                stored_identical):
    p = H.send(daemon.endpoint(), core["path"], "dev-loop4")
    sent_ok(p)
    row = stored_identical(daemon.store, core, tmp_path)
    assert row["device"] == "dev-loop4"
    assert row["status"] == "stored"
    for key in ("id", "device", "boot_id", "seq", "pid", "signal", "exe", "size", "sha256",
                "received", "status"):
        assert key in row, f"list record lacks {key}: {row}"
    # The sender reads pid and signal from the core's own NT_PRSTATUS.
    rec = H.info(daemon.store, row["id"])
    assert int(rec["signal"]) == core["signal"]
    assert int(rec["pid"]) == core["pid"]
    assert rec["sha256"] == core["sha256"]


def test_core_arrives_over_ipv6(make_daemon, core, tmp_path, sent_ok, stored_identical):
    d = make_daemon(listen=["udp://[::1]:0"])
    assert d.endpoint().startswith("udp://[::1]:")
    sent_ok(H.send(d.endpoint(), core["path"], "dev-loop6"))
    row = stored_identical(d.store, core, tmp_path)
    assert row["device"] == "dev-loop6"


def test_core_from_stdin_with_exe_build_id(daemon, core, tmp_path, sent_ok, stored_identical):
    data = core["path"].read_bytes()
    p = H.send(daemon.endpoint(), None, "dev-stdin", "--exe", H.CRASHER, stdin_data=data)
    sent_ok(p)
    row = stored_identical(daemon.store, core, tmp_path)
    rec = H.info(daemon.store, row["id"])
    bid = H.build_id(H.CRASHER)
    assert bid, "the crasher is linked with a build-id"
    assert bid in json.dumps(rec).lower(), f"build-id {bid} missing from info: {rec}"


IMPAIRMENTS = {
    # 5% loss, 5% duplication, 5% reordered, 2 ms one-way delay, in both directions.
    "lan": ["--loss", 5, "--dup", 5, "--reorder", 5, "--delay", 2],
    # Much worse, and asymmetric: a third of what crosses is lost, doubled or late.
    "heavy": ["--up-loss", 15, "--down-loss", 25, "--dup", 10, "--reorder", 20,
              "--delay", 5],
}


@pytest.mark.parametrize("profile,family", [("lan", "ipv4"), ("lan", "ipv6"),
                                            ("heavy", "ipv4")])
def test_impaired_path_delivers_byte_identical(make_daemon, medium_core, tmp_path, procs,
                                               sent_ok, stored_identical, profile, family):
    host = "[::1]" if family == "ipv6" else "127.0.0.1"
    daemon = make_daemon(listen=[f"udp://{host}:0"])
    imp = H.Impair(tmp_path / "impair", f"{host}:{daemon.port}", IMPAIRMENTS[profile],
                   seed=7, listen=f"{host}:0")
    procs.append(imp)
    sent_ok(H.send(imp.endpoint, medium_core["path"], f"dev-{profile}-{family}",
                   "--timeout", 90, timeout=150))
    c = imp.stop()
    # The proxy really did impair both directions of this transfer.
    for d in ("up", "down"):
        assert c[d]["lost"] > 0 and c[d]["duplicated"] > 0 and c[d]["reordered"] > 0, c
    stored_identical(daemon.store, medium_core, tmp_path)


def test_same_dump_sent_twice_is_stored_once(daemon, core, tmp_path, sent_ok,
                                            stored_identical):
    # Same (device, boot id, seq): a retry of a finished dump must not make a second row.
    args = ("--boot-id", "00112233445566778899aabbccddeeff", "--seq", 41)
    sent_ok(H.send(daemon.endpoint(), core["path"], "dev-twice", *args))
    sent_ok(H.send(daemon.endpoint(), core["path"], "dev-twice", *args))
    stored_identical(daemon.store, core, tmp_path)


def test_distinct_dumps_get_distinct_rows(daemon, core, medium_core, sent_ok):
    boot = ("--boot-id", "0f0e0d0c0b0a09080706050403020100")
    sent_ok(H.send(daemon.endpoint(), core["path"], "dev-two", *boot, "--seq", 1))
    sent_ok(H.send(daemon.endpoint(), medium_core["path"], "dev-two", *boot, "--seq", 2))
    rows = H.list_dumps(daemon.store)
    assert sorted(r["sha256"] for r in rows) == sorted([core["sha256"], medium_core["sha256"]])
    assert sorted(int(r["seq"]) for r in rows) == [1, 2]
