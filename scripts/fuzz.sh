#!/usr/bin/env bash
# Builds and runs one libFuzzer target (ASan + UBSan), seeded from the test captures.
# Usage: scripts/fuzz.sh <dns|dhcp|radius|sip|gtpc|...|tcp|decode> <seconds>   (npm run fuzz -- dns 600)
# decode: the packet decoder (link layers, IP, fragments, GTP-U), seeded from the frames of
# every capture in $NPROBE_PCAPS (default ../shared/pcaps, malformed/ included) or test/pcap.
# Work dir: $NPROBE_FUZZ_DIR (default /tmp/nprobe-fuzz/<target>): binary, corpus, crashes.
# A crash leaves crash-* files there; reproduce with: <work>/fuzzer <crash file>.
set -euo pipefail
# Decoder seeds: windows of 8 consecutive frames of each capture (so fragments and tunnels
# combine), in decode_fuzz.cc's framing: link type selector, then u16 length | u8 flags | frame.
seed_decode() {
  local root=$1 out=$2 pcaps=${NPROBE_PCAPS:-$1/../shared/pcaps}
  [ -d "$pcaps" ] || pcaps=$root/test/pcap
  find "$pcaps" -name '*.pcap' -o -name '*.pcapng' | sort | python3 -c '
import sys, struct, hashlib, os
out = sys.argv[1]
SEL = {1: 0, 113: 1, 276: 2, 0: 3, 108: 4, 12: 5, 14: 6, 101: 7, 228: 8, 229: 9}
def frames(b):
    # (linktype, frame) of a classic pcap or pcapng file; stops quietly at a cut.
    m = b[:4]
    if m in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if m[0] in (0xd4, 0x4d) else ">"
        lt = struct.unpack(e + "I", b[20:24])[0] & 0xFFFF
        o = 24
        while o + 16 <= len(b):
            incl = struct.unpack(e + "I", b[o + 8:o + 12])[0]
            if o + 16 + incl > len(b): break
            yield lt, b[o + 16:o + 16 + incl]
            o += 16 + incl
    elif m == b"\x0a\x0d\x0d\x0a":
        o, e, ifs = 0, "<", []
        while o + 12 <= len(b):
            if b[o:o + 4] == b"\x0a\x0d\x0d\x0a":
                e = "<" if b[o + 8:o + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                ifs = []
            t, ln = struct.unpack(e + "II", b[o:o + 8])
            if ln < 12 or o + ln > len(b): break
            body = b[o + 8:o + ln - 4]
            if t == 1: ifs.append(struct.unpack(e + "H", body[:2])[0])
            elif t == 6 and len(body) >= 20:
                iid, _, _, cap, _ = struct.unpack(e + "IIIII", body[:20])
                if iid < len(ifs): yield ifs[iid], body[20:20 + cap]
            elif t == 3 and ifs and len(body) >= 4:
                yield ifs[0], body[4:]
            o += ln
n = 0
for path in sys.stdin.read().split():
    fr = [(lt, f) for lt, f in frames(open(path, "rb").read()) if lt in SEL]
    for i in range(0, min(len(fr), 8 * 200), 8):
        win = fr[i:i + 8]
        rec = bytes([SEL[win[0][0]]]) + b"".join(len(f[:65535]).to_bytes(2, "little") + b"\0" + f[:65535] for lt, f in win if lt == win[0][0])
        open(os.path.join(out, hashlib.sha1(rec).hexdigest()), "wb").write(rec)
        n += 1
print("fuzz.sh: %d decoder seeds" % n, file=sys.stderr)
' "$out"
}

# The body is a function so that editing this file while a fuzz run goes on can't make
# bash read new lines into the running script.
main() {
target=${1:?usage: fuzz.sh <dns|dhcp|radius|sip|gtpc|...|tcp|decode> <seconds>}
secs=${2:-600}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${NPROBE_FUZZ_DIR:-/tmp/nprobe-fuzz}/$target
l4=udp
case $target in
  dns) name=DNS; seeds="dns malformed" ;;
  dhcp) name=DHCP; seeds="dhcp malformed" ;;
  radius) name=RADIUS; seeds="radius malformed" ;;
  sip) name=SIP; seeds="sip malformed" ;;
  gtpc) name=GTPV1; seeds="gtp" ;;
  http) name=HTTP; seeds="http mixed"; l4=tcp ;;
  smtp) name=SMTP; seeds="smtp"; l4=tcp ;;
  imap) name=IMAP; seeds="imap"; l4=tcp ;;
  pop) name=POP; seeds="pop"; l4=tcp ;;
  ftp) name=FTP; seeds="ftp"; l4=tcp ;;
  dnstcp) name=DNS-TCP; seeds="dns malformed"; l4=tcp ;;
  siptcp) name=SIP-TCP; seeds="sip"; l4=tcp ;;
  tcp) name=; seeds= ;;
  decode) name=decoder; seeds= ;;
  *) echo "fuzz.sh: unknown target $target (dns dhcp radius sip gtpc http smtp imap pop ftp dnstcp siptcp tcp decode)" >&2; exit 2 ;;
esac
command -v clang++ >/dev/null || { echo "fuzz.sh: needs clang (apt-get install -y clang libclang-rt-14-dev)" >&2; exit 2; }
command -v tshark >/dev/null || { echo "fuzz.sh: needs tshark to extract seeds (apt-get install -y tshark)" >&2; exit 2; }
mkdir -p "$work/corpus" "$work/crashes"
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
if [ "$target" = tcp ]; then
  clang++ "${flags[@]}" "$root/native/fuzz/reasm_fuzz.cc" "$root/native/reassembly/tcp_stream.cc" -o "$work/fuzzer"
elif [ "$target" = decode ]; then
  clang++ "${flags[@]}" "$root/native/fuzz/decode_fuzz.cc" "$root/native/decode/decoder.cc" "$root/native/decode/ip_frag.cc" -o "$work/fuzzer"
  if [ -z "$(ls -A "$work/corpus")" ]; then seed_decode "$root" "$work/corpus"; fi
else
  srcs=("$root"/native/dissect/*.cc)
  clang++ "${flags[@]}" -DNPROBE_FUZZ_DISSECTOR="\"$name\"" "$root/native/fuzz/dissect_fuzz.cc" "${srcs[@]}" -o "$work/fuzzer"
fi
# Seeds: every UDP payload (TCP segment payload for TCP targets, direction guessed from the
# lower port being the server's) of the captures, one file each, in the harness's framing.
if [ -n "$seeds" ] && [ -z "$(ls -A "$work/corpus")" ]; then
  for d in $seeds; do
    for f in "$root"/test/pcap/$d/*.pcap*; do
      tshark -n -r "$f" -Y "$l4.payload" -T fields -e $l4.srcport -e $l4.dstport -e $l4.payload 2>/dev/null || true
    done
  done | awk 'length($0) > 0' | head -5000 | python3 -c '
import sys, hashlib, os
out = sys.argv[1]
for line in sys.stdin:
    # Tunnelled packets list the value of every layer, comma-separated: keep the outermost.
    parts = [p.split(",")[0] for p in line.split()]
    if len(parts) != 3: continue
    sp, dp, hexdata = int(parts[0]), int(parts[1]), parts[2]
    b = bytes.fromhex(hexdata.replace(":", ""))[:65535]
    rec = bytes([1 if sp < dp else 0]) + len(b).to_bytes(2, "little") + b
    open(os.path.join(out, hashlib.sha1(rec).hexdigest()), "wb").write(rec)
' "$work/corpus"
fi
echo "fuzz.sh: $name for ${secs}s, corpus $(ls "$work/corpus" | wc -l) files, in $work" >&2
cd "$work/crashes"
"$work/fuzzer" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 "$work/corpus"
}
main "$@"; exit $?
