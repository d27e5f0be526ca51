"""Minimal ELF core reader for the core-writer tests (independent of the C code)."""
import struct


class Core:
    def __init__(self, data):
        self.data = data
        assert data[:4] == b"\x7fELF", "not an ELF file"
        self.cls = data[4]
        self.is64 = self.cls == 2
        if self.is64:
            (self.type, self.machine, _, _, self.phoff, _, self.flags, _, self.phentsize,
             self.phnum) = struct.unpack_from("<HHIQQQIHHH", data, 16)
        else:
            (self.type, self.machine, _, _, self.phoff, _, self.flags, _, self.phentsize,
             self.phnum) = struct.unpack_from("<HHIIIIIHHH", data, 16)
        self.phdrs = []
        for i in range(self.phnum):
            off = self.phoff + i * self.phentsize
            if self.is64:
                t, fl, o, va, _, fs, ms, al = struct.unpack_from("<IIQQQQQQ", data, off)
            else:
                t, o, va, _, fs, ms, fl, al = struct.unpack_from("<IIIIIIII", data, off)
            self.phdrs.append(dict(type=t, flags=fl, offset=o, vaddr=va, filesz=fs, memsz=ms, align=al))
        self.notes = []
        for p in self.phdrs:
            if p["type"] != 4:
                continue
            pos, end = p["offset"], p["offset"] + p["filesz"]
            while pos + 12 <= end:
                nsz, dsz, typ = struct.unpack_from("<III", data, pos)
                name = data[pos + 12:pos + 12 + nsz].rstrip(b"\0").decode()
                dpos = pos + 12 + ((nsz + 3) & ~3)
                self.notes.append(dict(name=name, type=typ, desc=data[dpos:dpos + dsz]))
                pos = dpos + ((dsz + 3) & ~3)

    def loads(self):
        return [p for p in self.phdrs if p["type"] == 1]

    def read(self, addr, n):
        """Bytes at a virtual address from the file contents, or None if not dumped."""
        for p in self.loads():
            if p["vaddr"] <= addr and addr + n <= p["vaddr"] + p["filesz"]:
                o = p["offset"] + addr - p["vaddr"]
                return self.data[o:o + n]
        return None

    def dumped(self, addr):
        return self.read(addr, 1) is not None

    def notes_of(self, typ):
        return [n for n in self.notes if n["type"] == typ]


NT_PRSTATUS, NT_FPREGSET, NT_PRPSINFO, NT_AUXV = 1, 2, 3, 6
NT_SIGINFO, NT_FILE = 0x53494749, 0x46494C45
NT_PRXFPREG, NT_ARM_VFP = 0x46E62B7F, 0x400
NT_CORECAST = 0x43430001


def load(path):
    with open(path, "rb") as f:
        return Core(f.read())
