"""corecast-symbolize --serve: one job line in, one framed result out, the cache kept
across jobs, symbols filed between jobs used at once."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import corecraft  # noqa: E402


def serve(lines, *args, timeout=120):
    p = subprocess.run([str(corecraft.SYMBOLIZE), "--serve", *map(str, args)],
                       input="".join(lines).encode(), capture_output=True, timeout=timeout)
    return p.returncode, read_records(p.stdout), p.stderr.decode(errors="replace")


def read_records(out):
    """Parse "ok|fail ID LEN\\n" + LEN bytes records; the whole output must be records."""
    recs, pos = [], 0
    while pos < len(out):
        nl = out.index(b"\n", pos)
        kind, ident, length = out[pos:nl].decode().split(" ")
        assert kind in ("ok", "fail")
        body = out[nl + 1:nl + 1 + int(length)]
        assert len(body) == int(length)
        recs.append((kind, int(ident), body.decode()))
        pos = nl + 1 + int(length)
    return recs


def esc(path):
    return "".join(c if 0x20 < ord(c) < 0x7f and c != "%" else f"%{ord(c):02X}"
                   for c in str(path))


def test_serve_answers_each_job_like_the_one_shot_worker(tmp_path):
    exe = corecraft.build("x86_64", tmp_path)
    core = corecraft.crash("x86_64", exe, tmp_path / "run")
    spaced = tmp_path / "a core with spaces%"
    shutil.copy(core, spaced)
    one = subprocess.run([str(corecraft.SYMBOLIZE), "--core", str(core)], capture_output=True,
                         check=True).stdout.decode()
    rc, recs, err = serve([f"job 1 {esc(core)}\n",
                           f"job 2 {esc(tmp_path / 'missing.core')}\n",
                           f"job 3 {esc(spaced)} buildid=abcd:x%20y\n"])
    assert rc == 0, err
    assert [(k, i) for k, i, _ in recs] == [("ok", 1), ("fail", 2), ("ok", 3)]
    assert json.loads(recs[0][2]) == json.loads(one)
    assert "missing.core" in recs[1][2] and "\n" not in recs[1][2]
    assert json.loads(recs[2][2])["threads"] == json.loads(one)["threads"]


def test_serve_stops_on_a_malformed_job_line(tmp_path):
    rc, recs, err = serve(["job 1 /nonexistent\n", "hello world\n", "job 2 /x\n"])
    assert rc == 2 and [(k, i) for k, i, _ in recs] == [("fail", 1)]
    assert "malformed job line" in err
    rc, recs, err = serve(["job 1 /a%zz\n"])
    assert rc == 2 and recs == []
    rc, recs, err = serve(["job 1 /no-newline"])
    assert rc == 2 and "unterminated" in err


def test_serve_uses_symbols_filed_between_jobs(tmp_path):
    """A long-lived worker remembered that the executable was missing; once it is
    in the store, the next job finds it (the cache drops the stale answers)."""
    exe = tmp_path / "gone"
    shutil.copy(corecraft.build("x86_64", tmp_path), exe)
    core = corecraft.crash("x86_64", exe, tmp_path / "run")
    hidden = tmp_path / "kept"
    os.rename(exe, hidden)
    store = tmp_path / "store"
    store.mkdir()
    p = subprocess.Popen([str(corecraft.SYMBOLIZE), "--serve", "--store", str(store)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        def job(n):
            p.stdin.write(f"job {n} {esc(core)}\n".encode())
            p.stdin.flush()
            kind, ident, length = p.stdout.readline().decode().split()
            assert (kind, int(ident)) == ("ok", n)
            return json.loads(p.stdout.read(int(length)))
        first = job(1)
        assert first["symbols_missing"] is True
        assert job(2)["symbols_missing"] is True   # still missing: still remembered
        corecraft.store_file(store, hidden, suffix="")
        third = job(3)
        assert third["symbols_missing"] is False
        assert [f["function"] for f in third["threads"][0]["frames"][:3]] == \
            ["level3", "level2", "level1"]
    finally:
        p.stdin.close()
        assert p.wait(timeout=30) == 0


def test_serve_decompresses_stored_cores_and_refuses_bad_streams(tmp_path):
    exe = corecraft.build("x86_64", tmp_path)
    core = corecraft.crash("x86_64", exe, tmp_path / "run")
    zst = tmp_path / "core.zst"
    subprocess.run(["zstd", "-q", "-f", str(core), "-o", str(zst)], check=True)
    cut = tmp_path / "cut.zst"
    cut.write_bytes(zst.read_bytes()[: zst.stat().st_size // 2])
    size = core.stat().st_size
    rc, recs, err = serve([f"job 1 {esc(zst)} zst={size}\n",
                           f"job 2 {esc(zst)} zst={size - 1}\n",
                           f"job 3 {esc(zst)} zst={size + 1}\n",
                           f"job 4 {esc(cut)} zst={size}\n",
                           f"job 5 {esc(core)} zst={size}\n"], "--store", tmp_path)
    assert rc == 0, err
    assert [(k, i) for k, i, _ in recs] == [("ok", 1), ("fail", 2), ("fail", 3), ("fail", 4),
                                            ("fail", 5)]
    one = subprocess.run([str(corecraft.SYMBOLIZE), "--core", str(core)], capture_output=True,
                         check=True).stdout.decode()
    assert json.loads(recs[0][2])["threads"] == json.loads(one)["threads"]
    assert "larger than" in recs[1][2] and "truncated" in recs[2][2]
    assert "truncated" in recs[3][2] and "corrupt" in recs[4][2]
