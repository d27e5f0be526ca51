"""A one-name DNS responder for the kernel's resolver test: A queries for NAME get ADDR, others NXDOMAIN.

usage: dns_stub.py LISTEN_ADDR PORT NAME ADDR LOG
Each query is appended to LOG as 'NAME TYPE'; LOG is created when the socket is bound.
"""
import socket
import struct
import sys


def qname(msg, off):
    labels = []
    while off < len(msg) and msg[off]:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n].decode(errors="replace"))
        off += 1 + n
    return ".".join(labels), off + 1


def main():
    listen, port, name, addr, log = sys.argv[1:6]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((listen, int(port)))
    open(log, "w").close()
    while True:
        q, peer = s.recvfrom(1500)
        if len(q) < 17:
            continue
        qn, end = qname(q, 12)
        if end + 4 > len(q):
            continue
        qtype, = struct.unpack_from(">H", q, end)
        with open(log, "a") as f:
            f.write(f"{qn} {qtype}\n")
        question = q[12:end + 4]
        if qn.lower() == name.lower() and qtype == 1:
            hdr = q[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0)
            ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(addr)
            s.sendto(hdr + question + ans, peer)
        else:
            s.sendto(q[:2] + struct.pack(">HHHHH", 0x8183, 1, 0, 0, 0) + question, peer)


if __name__ == "__main__":
    main()
