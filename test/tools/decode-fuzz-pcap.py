#!/usr/bin/env python3
"""Converts between the decoder fuzz target's input format (native/fuzz/decode_fuzz.cc) and
classic pcap, so that a crash the fuzzer finds becomes a named capture for a regression test,
and a capture becomes a fuzzer input to check a fix with the harness's own invariants.

  decode-fuzz-pcap.py to-pcap   <fuzz input> <out.pcap>
  decode-fuzz-pcap.py from-pcap <in.pcap>    <out fuzz input>

Fuzz input: u8 link type selector | frames (u16 LE captured length | u8 flags | bytes).
Flags bit 0: wire length = captured + 1 + (flags >> 2) * 61; bit 1: the clock jumps by the
fragment time-out + 1 us before the frame. Otherwise frames are 10 us apart, as in the harness.
"""
import struct
import sys

LINKTYPES = [1, 113, 276, 0, 108, 12, 14, 101, 228, 229]  # kLinkTypes in decode_fuzz.cc
T0 = 1_700_000_000_000_000
FRAG_TIMEOUT_US = 30_000_000


def to_pcap(src, dst):
    data = open(src, "rb").read()
    lt = LINKTYPES[data[0] % len(LINKTYPES)]
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, lt)]
    pos, ts, n = 1, T0, 0
    while len(data) - pos >= 3 and n < 64:
        n += 1
        ln = data[pos] | data[pos + 1] << 8
        flags = data[pos + 2]
        pos += 3
        frame = data[pos:pos + ln]
        pos += len(frame)
        wire = len(frame) + (1 + (flags >> 2) * 61 if flags & 1 else 0)
        if flags & 2:
            ts += FRAG_TIMEOUT_US + 1
        ts += 10
        out.append(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), wire) + frame)
    open(dst, "wb").write(b"".join(out))


def from_pcap(src, dst):
    b = open(src, "rb").read()
    e = "<" if b[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    lt = struct.unpack(e + "I", b[20:24])[0] & 0xFFFF
    out = [bytes([LINKTYPES.index(lt)])]
    pos = 24
    while pos + 16 <= len(b):
        _, _, incl, _ = struct.unpack(e + "IIII", b[pos:pos + 16])
        frame = b[pos + 16:pos + 16 + incl][:65535]
        out.append(len(frame).to_bytes(2, "little") + b"\0" + frame)
        pos += 16 + incl
    open(dst, "wb").write(b"".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("to-pcap", "from-pcap"):
        sys.exit(__doc__)
    (to_pcap if sys.argv[1] == "to-pcap" else from_pcap)(sys.argv[2], sys.argv[3])
