"""corecastd against a second, independent netdump sender written from the spec
(ndclient.py): the spec is enough to interoperate, and the collector holds its ground
when a sender lies about the digest, replays a cookie or writes outside its window."""
import hashlib
import socket
import struct
import time

import ccharness as H
import ndclient as N


def test_spec_written_sender_stores_byte_identical(daemon, core, tmp_path, stored_identical):
    data = core["path"].read_bytes()
    s = N.Session("127.0.0.1", daemon.port, "dev-spec", data, seq=7)
    ack = s.open()
    assert ack["type"] == N.OPEN_ACK and ack["resume"] == 0 and ack["cookie"] != 0
    assert s.send_all() is None
    res = s.finish()
    assert res["code"] == N.STORED, res
    assert res["sha256"] == hashlib.sha256(data).digest()
    # A repeated FINISH gets the same RESULT again, and no second row.
    assert s.finish()["code"] == N.STORED
    s.close()
    row = stored_identical(daemon.store, core, tmp_path)
    assert int(row["seq"]) == 7 and int(row["signal"]) == 11


def test_sack_ranges_per_ack_follow_the_open_flag(daemon, core):
    # 20 holes (every other packet of the first 40): a sender that sets WIDE_SACK is
    # told about every held range in one ACK, the latest first, then ascending; one
    # that does not (any decoder written to the first text) never gets more than 8.
    data = core["path"].read_bytes()
    for wide, want in ((False, N.BASE_SACK), (True, 20)):
        s = N.Session("127.0.0.1", daemon.port, f"dev-sack-{int(wide)}", data, seq=11,
                      window=64, payload=1024, wide_sack=wide)
        ack = s.open()
        assert ack["type"] == N.OPEN_ACK
        assert bool(ack["flags"] & N.WIDE_SACK) == wide
        for k in range(1, 41, 2):
            s.sock.sendto(N.encode_data(s.cookie, 1024 * k, data[1024 * k:1024 * (k + 1)],
                                        tsval=k), s.addr)
        last = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (last is None or last["tsecr"] != 39):
            m = s.recv(0.5)      # recv fails the test on an ACK above the limit
            if m and m["type"] == N.ACK:
                last = m
        assert last and last["tsecr"] == 39 and last["cum"] == 0, last
        assert last["nsack"] == want
        assert last["sack"][0] == (1024 * 39, 1024 * 40)
        assert [r for r in last["sack"][1:]] == [(1024 * k, 1024 * (k + 1))
                                                 for k in range(1, 2 * want - 1, 2)]
        s.close()
    assert daemon.alive()


def test_finish_acknowledged_before_the_verdict(daemon, core):
    # Verification blocks the collector, so it first answers FINISH with an ACK for the
    # whole core: a sender's silence clock restarts when verification starts.
    data = core["path"].read_bytes()
    s = N.Session("127.0.0.1", daemon.port, "dev-fin-ack", data, seq=9)
    assert s.open()["type"] == N.OPEN_ACK
    assert s.send_all() is None
    while s.recv(0.3) is not None:
        pass    # the data's own ACKs
    s.sock.sendto(N.encode_finish(s.cookie, len(data), hashlib.sha256(data).digest()), s.addr)
    seen = []
    while not seen or seen[-1]["type"] != N.RESULT:
        m = s.recv(10)
        assert m is not None, f"no RESULT after {seen}"
        seen.append(m)
    s.close()
    assert [m["type"] for m in seen] == [N.ACK, N.RESULT], seen
    assert seen[0]["cum"] == len(data) and seen[1]["code"] == N.STORED


def test_digest_mismatch_is_answered_and_nothing_stored(daemon, core):
    data = core["path"].read_bytes()
    s = N.Session("127.0.0.1", daemon.port, "dev-liar", data)
    assert s.open()["type"] == N.OPEN_ACK
    s.send_all()
    res = s.finish(sha=bytes(32))
    assert res["code"] == N.DIGEST_MISMATCH, res
    # RESULT's sha256 is what the collector holds, or zeros (spec 4.7).
    assert res["sha256"] in (hashlib.sha256(data).digest(), bytes(32))
    s.close()
    assert H.list_dumps(daemon.store) == []
    assert daemon.alive()


def test_cookie_is_bound_to_the_source_address(daemon, core):
    data = core["path"].read_bytes()
    s = N.Session("127.0.0.1", daemon.port, "dev-cookie", data)
    assert s.open()["type"] == N.OPEN_ACK
    # The same cookie from another socket (another source port) is ignored.
    thief = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    thief.bind(("127.0.0.1", 0))
    thief.settimeout(0.5)
    thief.sendto(N.encode_data(s.cookie, 0, data[:1024]), ("127.0.0.1", daemon.port))
    try:
        reply = thief.recv(65536)
    except socket.timeout:
        reply = None
    assert reply is None, f"collector answered a replayed cookie: {reply!r}"
    thief.close()
    # From its own address the session works and completes.
    assert s.send_all() is None
    assert s.finish()["code"] == N.STORED
    s.close()
    assert daemon.stop() == 0
    assert daemon.exit_counters().get("bad_cookie", 0) >= 1


def test_data_outside_the_session_is_harmless(daemon, core, tmp_path, stored_identical):
    data = core["path"].read_bytes()
    s = N.Session("127.0.0.1", daemon.port, "dev-edges", data)
    assert s.open()["type"] == N.OPEN_ACK
    size = len(data)
    hostile = [
        N.encode_data(s.cookie, size, b"x" * 100),                 # beyond the end
        N.encode_data(s.cookie, size - 10, b"y" * 100),            # straddles the end
        N.encode_data(s.cookie, 1 << 40, b"z" * 100),              # far out of window
        N.encode_data(s.cookie, (1 << 64) - 50, b"w" * 100),       # offset overflow
        N.encode_data(s.cookie, 0, b""),                           # zero length
        N.header(N.DATA, s.cookie) + struct.pack(">QIH", 0, 0, 500) + b"short",
    ]
    for m in hostile:
        s.sock.sendto(m, ("127.0.0.1", daemon.port))
    # A FINISH disagreeing with the OPEN's size is a protocol violation that only the
    # cookie holder can commit; it is not sent here (the collector may end the session).
    time.sleep(0.1)
    assert daemon.alive()
    # Nothing above corrupted the session: the real bytes still make the right core.
    assert s.send_all() is None
    res = s.finish()
    s.close()
    assert res["code"] == N.STORED, res
    stored_identical(daemon.store, core, tmp_path)


def test_spec_written_sender_resumes_from_the_collectors_resume_point(daemon, core):
    data = core["path"].read_bytes()
    boot = bytes(range(16))
    first = N.Session("127.0.0.1", daemon.port, "dev-half", data[:], boot_id=boot, seq=3)
    assert first.open()["type"] == N.OPEN_ACK
    # Send the first half only, then vanish.
    half = (len(data) // 2) // 1024 * 1024
    first.data = data[:half]
    first.send_all()
    first.data = data
    first.close()
    again = N.Session("127.0.0.1", daemon.port, "dev-half", data, boot_id=boot, seq=3)
    ack = again.open()
    assert ack["type"] == N.OPEN_ACK
    assert 0 < ack["resume"] <= half, ack
    assert again.send_all() is None
    assert again.finish()["code"] == N.STORED
    again.close()
    rows = H.list_dumps(daemon.store)
    assert len(rows) == 1 and rows[0]["sha256"] == hashlib.sha256(data).digest().hex()
