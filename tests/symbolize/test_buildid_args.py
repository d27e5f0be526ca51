"""Build-ids given to corecast-symbolize (--buildid, job lines) and %XX escapes: what is
taken, how it is spelled for the store, what is refused."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import corecraft  # noqa: E402
from test_serve import serve  # noqa: E402


def symbolize(*args):
    return subprocess.run([str(corecraft.SYMBOLIZE), *map(str, args)], capture_output=True,
                          text=True, timeout=60)


def test_upper_case_buildid_finds_the_store_file(tmp_path):
    """A qemu-user core has no NT_FILE: the executable comes from the --buildid hint
    alone, filed in the store under the lower-case spelling."""
    exe = corecraft.build("i386", tmp_path)
    core = corecraft.crash("i386", exe, tmp_path / "run")
    store = tmp_path / "store"
    bid = corecraft.store_file(store, exe, "")
    os.unlink(exe)
    p = symbolize("--core", core, "--store", store, "--buildid", f"{bid.upper()}:crash")
    assert p.returncode == 0, p.stderr
    assert '"function":"level3"' in p.stdout
    assert f'"build_id":"{bid}"' in p.stdout


def test_buildid_values_that_are_not_hex_are_usage_errors(tmp_path):
    for bad in ["abc", "ab", "12g4", "0x1234", " 1234", "12 34", "", ":name", "a" * 130]:
        p = symbolize("--core", tmp_path / "none", "--buildid", bad)
        assert p.returncode == 2 and f"--buildid {bad}: not HEX[:NAME]" in p.stderr, bad
    # The longest build-id the store names (64 bytes) is taken: the core is what fails.
    p = symbolize("--core", tmp_path / "none", "--buildid", "a" * 128 + ":x")
    assert p.returncode == 1 and "none" in p.stderr


def test_job_line_escapes_and_buildids_are_checked(tmp_path):
    missing = tmp_path / "none"
    rc, recs, _ = serve([f"job 1 {missing}%41 buildid=ABCD:%41%62\n"])
    assert rc == 0 and recs[0][:2] == ("fail", 1) and f"{missing}A" in recs[0][2]
    for bad in [f"job 1 {missing}%4\n", f"job 1 {missing}%\n", f"job 1 {missing}%00\n",
                f"job 1 {missing}%g0\n", f"job 1 {missing} buildid=abc\n",
                f"job 1 {missing} buildid=%41%42%43\n"]:
        rc, recs, err = serve([bad])
        assert rc == 2 and recs == [] and "malformed job line" in err, bad
