"""The engine's symbol index answers address lookups exactly as libdwfl's
dwfl_module_addrinfo does, on the modules of real cores (libc's ~20000-symbol debug
file on x86_64, static i386/armhf/aarch64 programs with ARM Thumb symbols)."""
import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import corecraft  # noqa: E402


@pytest.mark.parametrize("target", ["x86_64", "i386", "armhf", "aarch64"])
def test_symbol_index_matches_libdwfl(tmp_path, target):
    exe = corecraft.build(target, tmp_path)
    core = corecraft.crash(target, exe, tmp_path / "run")
    bench = str(corecraft.TBIN / "corecast-symbench")
    p = subprocess.run([bench, "--verify-index", "--exe", str(exe), str(core)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    # Every module with a build-id is probed around ~300 of its symbols.
    assert r["index_checked"] >= 500, r
    assert r["index_mismatches"] == 0, r
