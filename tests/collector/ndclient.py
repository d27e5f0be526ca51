"""A small netdump v1 sender written from docs/netdump-protocol.md alone, in Python.

It is the spec's second implementation: if it can talk to corecastd, the spec says
enough.  It is also a tool the tests use to do what corecast-send never does on its
own: lie about the digest, replay a cookie from another address, send data outside
the window.  Go-back-N with a small window is all it needs on loopback.
"""
import hashlib
import os
import socket
import struct
import time

MAGIC = b"ND"
VERSION = 1
OPEN, OPEN_ACK, REFUSE, DATA, ACK, FINISH, RESULT = range(1, 8)
STORED, DIGEST_MISMATCH, REFUSED = 0, 1, 2
WIDE_SACK = 1                      # OPEN and OPEN_ACK flags bit 0 (spec 4.5)
BASE_SACK, MAX_SACK = 8, 64        # SACK ranges per ACK without / with WIDE_SACK


def header(mtype, cookie=0):
    return MAGIC + bytes([VERSION, mtype]) + struct.pack(">Q", cookie)


def tlv(tag, value):
    return struct.pack(">BH", tag, len(value)) + value


def encode_open(nonce, window, max_payload, device, boot_id, seq, size, machine=62, pid=1,
                signal=11, exe="ndclient", flags=0):
    meta = (tlv(1, device.encode()) + tlv(2, boot_id) + tlv(3, struct.pack(">I", seq)) +
            tlv(4, struct.pack(">Q", size)) + tlv(5, struct.pack(">H", machine)) +
            tlv(6, struct.pack(">I", pid)) + tlv(7, struct.pack(">I", signal)) +
            tlv(8, exe.encode()))
    return header(OPEN) + struct.pack(">QIHH", nonce, window, max_payload, flags) + meta


def encode_data(cookie, offset, payload, tsval=0):
    return header(DATA, cookie) + struct.pack(">QIH", offset, tsval & 0xffffffff,
                                              len(payload)) + payload


def encode_finish(cookie, size, sha):
    return header(FINISH, cookie) + struct.pack(">Q", size) + sha


def decode(buf):
    """Parse a collector message into a dict; None if it is not one we understand."""
    if len(buf) < 12 or buf[:2] != MAGIC or buf[2] != VERSION:
        return None
    t, cookie = buf[3], struct.unpack(">Q", buf[4:12])[0]
    m = {"type": t, "cookie": cookie}
    if t == OPEN_ACK and len(buf) >= 36:
        m["nonce"], m["window"], m["max_payload"], nr, m["flags"] = \
            struct.unpack(">QIHBB", buf[12:28])
        m["resume"] = struct.unpack(">Q", buf[28:36])[0]
    elif t == REFUSE and len(buf) >= 26:
        m["nonce"], m["retry_after_ms"], m["reason"], tl = struct.unpack(">QIBB", buf[12:26])
        m["text"] = buf[26:26 + tl].decode(errors="replace")
    elif t == ACK and len(buf) >= 30:
        m["cum"], m["tsecr"], m["window"], m["nsack"], m["flags"] = \
            struct.unpack(">QIIBB", buf[12:30])
        if m["nsack"] > MAX_SACK or len(buf) != 30 + 16 * m["nsack"]:
            return None
        m["sack"] = [struct.unpack(">QQ", buf[30 + 16 * i:46 + 16 * i])
                     for i in range(m["nsack"])]
    elif t == RESULT and len(buf) >= 48:
        m["code"], m["reason"], tl = buf[12], buf[13], buf[14]
        m["sha256"] = buf[16:48]
        m["text"] = buf[48:48 + tl].decode(errors="replace")
    else:
        return None
    return m


class Session:
    """One dump session over a UDP socket of our own."""

    def __init__(self, host, port, device, data, boot_id=None, seq=1, window=32,
                 payload=1024, family=socket.AF_INET, wide_sack=False):
        self.addr = (host, port)
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.device, self.data = device, data
        self.boot_id = boot_id or os.urandom(16)
        self.seq, self.window, self.payload = seq, window, payload
        self.cookie = None
        self.cum = 0
        self.wide_sack = wide_sack
        self.sack_limit = BASE_SACK   # ranges per ACK this session allows (from OPEN_ACK)

    def recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            m = decode(self.sock.recv(65536))
        except socket.timeout:
            return None
        if m and m["type"] == ACK and m["nsack"] > self.sack_limit:
            raise AssertionError(f"ACK with {m['nsack']} SACK ranges, limit {self.sack_limit}")
        return m

    def open(self, attempts=10):
        """OPEN until OPEN_ACK or REFUSE; returns the reply dict."""
        nonce = int.from_bytes(os.urandom(8), "big")
        msg = encode_open(nonce, self.window, self.payload, self.device, self.boot_id,
                          self.seq, len(self.data), flags=WIDE_SACK if self.wide_sack else 0)
        for _ in range(attempts):
            self.sock.sendto(msg, self.addr)
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                m = self.recv(max(0.01, deadline - time.monotonic()))
                if m and m["type"] in (OPEN_ACK, REFUSE) and m.get("nonce") == nonce:
                    if m["type"] == OPEN_ACK:
                        self.cookie = m["cookie"]
                        self.cum = m["resume"]
                        self.window = min(self.window, m["window"])
                        self.payload = min(self.payload, m["max_payload"])
                        granted = self.wide_sack and m["flags"] & WIDE_SACK
                        self.sack_limit = MAX_SACK if granted else BASE_SACK
                    return m
        raise TimeoutError("no answer to OPEN")

    def send_all(self, timeout=30):
        """Go-back-N until the collector acknowledges every byte."""
        size = len(self.data)
        deadline = time.monotonic() + timeout
        while self.cum < size:
            if time.monotonic() > deadline:
                raise TimeoutError(f"stuck at {self.cum} of {size}")
            off = self.cum
            for _ in range(self.window):
                if off >= size:
                    break
                chunk = self.data[off:off + self.payload]
                self.sock.sendto(encode_data(self.cookie, off, chunk,
                                             int(time.monotonic() * 1e6)), self.addr)
                off += len(chunk)
            t_end = time.monotonic() + 0.2
            while time.monotonic() < t_end:
                m = self.recv(max(0.005, t_end - time.monotonic()))
                if m is None:
                    break
                if m["type"] == ACK and m["cookie"] == self.cookie:
                    self.cum = max(self.cum, m["cum"])
                    if self.cum >= off:
                        break
                elif m["type"] == RESULT:
                    return m
        return None

    def finish(self, sha=None, attempts=20):
        """FINISH (with the true digest unless told otherwise) until RESULT."""
        sha = sha if sha is not None else hashlib.sha256(self.data).digest()
        msg = encode_finish(self.cookie, len(self.data), sha)
        for _ in range(attempts):
            self.sock.sendto(msg, self.addr)
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                m = self.recv(max(0.01, deadline - time.monotonic()))
                if m and m["type"] == RESULT and m["cookie"] == self.cookie:
                    return m
        raise TimeoutError("no RESULT")

    def close(self):
        self.sock.close()
