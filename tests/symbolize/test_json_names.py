"""The JSON document keeps UTF-8 names as they are and stays valid JSON whatever bytes a name holds."""
import json
import os
import pathlib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import corecraft  # noqa: E402

# A marker as long as BAD, compiled in as level3's name and then overwritten in the
# executable (symbol table and DWARF alike): no compiler takes these bytes in a name.
MARKER = b"level3_QQQQQQQQQQQQQQQQQQQQ"
# Bytes that do not begin valid UTF-8 (stray continuation, overlong "/", UTF-16
# surrogate, past U+10FFFF, a sequence cut short by the end of the name) around
# valid ASCII, and two control characters that JSON must escape.
BAD = b"level3_a\xffb\xc0\xafc\xed\xa0\x80d\xf4\x90\x80\x80e\x01\x7ff\xe2\x82"
# Each byte that begins no valid sequence is one U+FFFD.
BAD_SHOWN = ("level3_a\ufffdb\ufffd\ufffdc\ufffd\ufffd\ufffdd\ufffd\ufffd\ufffd\ufffd"
             "e\x01\x7ff\ufffd\ufffd")
assert len(MARKER) == len(BAD)


def crash_named(tmp_path, exe_name, level3):
    """Build the test program with level3 renamed, as executable exe_name (bytes); crash it."""
    exe = pathlib.Path(os.fsdecode(bytes(tmp_path) + b"/" + exe_name))
    subprocess.run(["gcc", *corecraft.CFLAGS, f"-Dlevel3={level3}", "-o", str(exe),
                    str(corecraft.PROG)], check=True)
    return exe


def symbolize_strict(core, exe):
    """The document as bytes, decoded as strict UTF-8 and strict JSON."""
    p = subprocess.run([str(corecraft.SYMBOLIZE), "--core", str(core), "--exe", str(exe), "--json"],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.decode("utf-8", errors="strict"))


def crashing_frame(doc, function):
    frames = doc["threads"][0]["frames"]
    return next(f for f in frames if f["function"] == function)


def test_utf8_function_and_module_names_are_kept(tmp_path):
    exe = crash_named(tmp_path, "crash_é".encode(), "niveau3_é")
    core = corecraft.crash("x86_64", exe, tmp_path / "run")
    doc = symbolize_strict(core, exe)
    assert [f["function"] for f in doc["threads"][0]["frames"]][:3] == \
        ["niveau3_é", "level2", "level1"]
    frame = crashing_frame(doc, "niveau3_é")
    assert frame["module"] == "crash_é"
    assert any(m["name"] == frame["module"] for m in doc["modules"])


def test_invalid_utf8_in_names_is_replaced_and_json_stays_valid(tmp_path):
    exe = crash_named(tmp_path, b"crash_\xff\xfe", MARKER.decode())
    data = exe.read_bytes()
    assert data.count(MARKER) >= 2          # ELF symbol table and DWARF
    exe.write_bytes(data.replace(MARKER, BAD))
    core = corecraft.crash("x86_64", exe, tmp_path / "run")
    doc = symbolize_strict(core, exe)
    assert [f["function"] for f in doc["threads"][0]["frames"]][:3] == \
        [BAD_SHOWN, "level2", "level1"]
    frame = crashing_frame(doc, BAD_SHOWN)
    assert frame["module"] == "crash_\ufffd\ufffd"
    assert any(m["name"] == frame["module"] for m in doc["modules"])
