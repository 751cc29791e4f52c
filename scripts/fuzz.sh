#!/usr/bin/env bash
# Builds and runs one libFuzzer target (ASan + UBSan), seeded from the test captures.
# Usage: scripts/fuzz.sh <dns|dhcp|radius|sip|gtpc|tcp> <seconds>     (npm run fuzz -- dns 600)
# Work dir: $NPROBE_FUZZ_DIR (default /tmp/nprobe-fuzz/<target>): binary, corpus, crashes.
# A crash leaves crash-* files there; reproduce with: <work>/fuzzer <crash file>.
set -euo pipefail
# The body is a function so that editing this file while a fuzz run goes on can't make
# bash read new lines into the running script.
main() {
target=${1:?usage: fuzz.sh <dns|dhcp|radius|sip|gtpc> <seconds>}
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
  *) echo "fuzz.sh: unknown target $target (dns dhcp radius sip gtpc http smtp imap pop ftp dnstcp siptcp tcp)" >&2; exit 2 ;;
esac
command -v clang++ >/dev/null || { echo "fuzz.sh: needs clang (apt-get install -y clang libclang-rt-14-dev)" >&2; exit 2; }
command -v tshark >/dev/null || { echo "fuzz.sh: needs tshark to extract seeds (apt-get install -y tshark)" >&2; exit 2; }
mkdir -p "$work/corpus" "$work/crashes"
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
if [ "$target" = tcp ]; then
  clang++ "${flags[@]}" "$root/native/fuzz/reasm_fuzz.cc" "$root/native/reassembly/tcp_stream.cc" -o "$work/fuzzer"
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
