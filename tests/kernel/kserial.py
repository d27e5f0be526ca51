"""Decode the serial (console text) form of corecast cores out of a kernel console log.

Format (docs/core-format.md): start marker, header line `<path>: <cause>`, base64 of
RLE(core || crc32le(core)), end marker.  RLE: 0xFE, LEB128 run length, byte.
"""
import base64
import binascii
import re

START = "_____________COREDUMP_START_____________"
END = "_____________COREDUMP_END_____________"


class Dump:
    def __init__(self, header, core, crc_ok):
        self.header = header
        self.core = core
        self.crc_ok = crc_ok


def rle_decode(data):
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        if b != 0xFE:
            out.append(b)
            i += 1
            continue
        i += 1
        run = 0
        shift = 0
        while True:
            if i >= n:
                raise ValueError("truncated run length")
            c = data[i]
            i += 1
            run |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                break
        if i >= n:
            raise ValueError("truncated run byte")
        out += bytes([data[i]]) * run
        i += 1
    return bytes(out)


def dumps_in(text):
    """Every complete dump in a console log, in order."""
    out = []
    lines = text.replace("\r", "").split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() != START:
            i += 1
            continue
        header = lines[i + 1].strip() if i + 1 < len(lines) else ""
        body = []
        j = i + 2
        while j < len(lines) and lines[j].strip() != END:
            body.append(lines[j].strip())
            j += 1
        if j >= len(lines):
            break
        raw = rle_decode(base64.b64decode("".join(body)))
        core, crc = raw[:-4], int.from_bytes(raw[-4:], "little")
        out.append(Dump(header, core, binascii.crc32(core) & 0xFFFFFFFF == crc))
        i = j + 1
    return out


def core_lines(text):
    """The kernel's `[k] core ...` summary lines as dicts."""
    res = []
    for m in re.finditer(r"\[k\] core pid=(\d+) threads=(\d+) size=(\d+) memory=(\d+) sha256=([0-9a-f]+)", text):
        res.append(dict(pid=int(m.group(1)), threads=int(m.group(2)), size=int(m.group(3)),
                        memory=int(m.group(4)), sha256=m.group(5)))
    return res
