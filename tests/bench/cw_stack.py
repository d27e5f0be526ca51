#!/usr/bin/env python3
"""Worst-case stack depth of the core writer from GCC's -fcallgraph-info=su output.

Usage: cw_stack.py FILE.ci...   Prints one line per entry point.  Indirect calls
(source callbacks, the sink, arch callbacks) are charged as the deepest of the
register-set functions and the serial sink, i.e. the writer's own code; the
kernel adds its own source callbacks' depth on top (documented in docs/porting.md).
"""
import re
import sys
from functools import lru_cache

nodes, edges = {}, {}


def short(title):
    return title.rsplit(":", 1)[-1]


for path in sys.argv[1:]:
    text = open(path).read()
    for m in re.finditer(r'node: \{ title: "([^"]+)" label: "([^"]*)"', text):
        title, label = m.groups()
        sm = re.search(r"\\n(\d+) bytes", label)
        if sm:
            nodes[short(title)] = int(sm.group(1))
    for m in re.finditer(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', text):
        edges.setdefault(short(m.group(1)), set()).add(short(m.group(2)))

CALLBACKS = [n for n in nodes if re.match(r"rv64_|cw_serial_sink$", n)]


@lru_cache(maxsize=None)
def depth(fn, indirect):
    if fn == "__indirect_call":
        return max((depth(c, False) for c in CALLBACKS), default=0) if indirect else 0
    own = nodes.get(fn, 0)
    return own + max((depth(c, indirect) for c in edges.get(fn, ())), default=0)


for root in ("cw_begin", "cw_write", "cw_read_range", "cw_serial_sink", "cw_serial_end"):
    print("stack %-15s %5d bytes (writer code; + the source callbacks' own use)" % (root, depth(root, True)))
