"""A short libFuzzer run of the serial decoder, seeded with real serial dumps."""
import subprocess

import pytest

from test_cw_core import MKCORE, TBIN

FUZZ = TBIN / "fuzz_serial_decode"


def test_serial_decoder_survives_fuzzing(tmp_path):
    if not FUZZ.exists():
        pytest.skip("fuzzer not built (make test builds it; needs clang)")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for arch, width in (("riscv64", "76"), ("ia32", "16")):
        subprocess.run([str(MKCORE), "--arch", arch, "--serial", "--width", width,
                        "-o", str(corpus / arch)], check=True, capture_output=True)
    p = subprocess.run([str(FUZZ), "-max_total_time=15", "-max_len=65536", "-timeout=10",
                        "-rss_limit_mb=1024", str(corpus)],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Done" in p.stderr
