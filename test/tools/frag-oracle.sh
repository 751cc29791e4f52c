#!/usr/bin/env bash
# frag-oracle.sh - write test/pcap/<proto>/<name>.frags.json for every capture that
# contains IPv4 or IPv6 fragments (in its outermost IP header).
#
# Why: tshark's conversation table (the .conv.txt oracle) counts a reassembled IP
# datagram as ONE frame (the frame that completes the reassembly). The probe counts
# every fragment on the wire as a packet (NetFlow semantics). The .frags.json file
# says, per tshark conversation (protocol + the two endpoints exactly as tshark's
# conversation table prints them) and per direction, how many EXTRA wire packets the
# fragments add: the fragments whose datagram tshark reassembled in another frame.
#
# Only the outermost IP header is considered: with GTP-U over fragmented outer UDP,
# the outer UDP tunnel conversation gets the extra packets, while the tunnelled inner
# connection is counted once per reassembled outer datagram both by tshark and the
# probe. Fragments of an inner (tunnelled) IP header are reported in "inner_fragments"
# and make the script fail, because no capture needs them yet.
#
# Fragments tshark could not reassemble and did not dissect past IP (bit-flipped
# fragment flags, lost first fragment) are listed under "unattributed" grouped by
# datagram (src, dst, IP protocol, IP id); for a first fragment (offset 0) the L4 ports
# are taken from a second tshark pass with defragmentation off. Fragments reassembled
# into a datagram that is neither TCP nor UDP are listed under "non_tcp_udp".
#
# Usage: test/tools/frag-oracle.sh [capture ...]   (default: every capture under test/pcap)
# Needs tshark (the oracles are tshark 4.0.17's) and node.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pcapdir="$root/test/pcap"
tshark="${TSHARK:-tshark}"

# Wireshark default preferences, as for the other oracles (see test/pcap/README.md).
export WIRESHARK_CONFIG_DIR="$(mktemp -d)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp" "$WIRESHARK_CONFIG_DIR"' EXIT

if [ $# -gt 0 ]; then
  captures=("$@")
else
  mapfile -t captures < <(cd "$pcapdir" && find . -mindepth 2 -maxdepth 2 -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sed 's#^\./##' | LC_ALL=C sort)
fi

# The post-processor (plain node, no dependencies), written out once.
cat > "$tmp/compute.js" <<'JS'
'use strict';
const fs = require('fs');
const [rel, pass1File, pass2File, convFile, tsharkVersion] = process.argv.slice(2);

function load(file) {
  const text = fs.readFileSync(file, 'utf8').trim();
  if (!text) return [];
  let pkts;
  try {
    pkts = JSON.parse(text);
  } catch (e) {
    // tshark stopped on a read error in the middle of its output: keep what is complete.
    const cut = text.lastIndexOf('\n  },\n');
    pkts = JSON.parse(text.slice(0, cut + 4) + '\n]');
  }
  return pkts.map((p) => p._source.layers);
}
const arr = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const first = (v) => arr(v)[0];

// One frame -> outermost IP header and the L4 header right after it (if tshark dissected one).
function describe(layers) {
  const frame = layers.frame;
  const num = Number(frame['frame.number']);
  const protos = String(frame['frame.protocols'] || '').split(':');
  const ipIdx = protos.findIndex((p) => p === 'ip' || p === 'ipv6');
  if (ipIdx < 0) return { num, ip: null };
  const v6 = protos[ipIdx] === 'ipv6';
  const ipl = first(v6 ? layers.ipv6 : layers.ip);
  const ip = { v6 };
  if (v6) {
    ip.src = ipl['ipv6.src'];
    ip.dst = ipl['ipv6.dst'];
    const fh = ipl['ipv6.fraghdr'];
    if (fh) {
      ip.frag = true;
      ip.id = fh['ipv6.fraghdr.ident'];
      ip.offset = Number(fh['ipv6.fraghdr.offset']) * 8;
      ip.more = fh['ipv6.fraghdr.more'] === '1';
      ip.proto = Number(fh['ipv6.fraghdr.nxt']);
      // an atomic fragment (offset 0, no more fragments) is a whole datagram
      if (ip.offset === 0 && !ip.more) ip.frag = false;
    } else {
      ip.frag = false;
      ip.proto = Number(ipl['ipv6.nxt']);
    }
    ip.reassembledIn = ipl['ipv6.reassembled.in'] !== undefined ? Number(ipl['ipv6.reassembled.in']) : null;
  } else {
    ip.src = ipl['ip.src'];
    ip.dst = ipl['ip.dst'];
    ip.id = ipl['ip.id'];
    const flagsTree = ipl['ip.flags_tree'] || {};
    ip.more = flagsTree['ip.flags.mf'] === '1';
    ip.offset = Number(ipl['ip.frag_offset'] || 0) * 8;
    ip.frag = ip.more || ip.offset > 0;
    ip.proto = Number(ipl['ip.proto']);
    ip.reassembledIn = ipl['ip.reassembled_in'] !== undefined ? Number(ipl['ip.reassembled_in']) : null;
  }
  // L4 directly after the outermost IP header (skipping IPv6 extension headers).
  let k = ipIdx + 1;
  while (k < protos.length && protos[k].startsWith('ipv6.')) k++;
  let l4 = null;
  if (protos[k] === 'udp' || protos[k] === 'tcp') {
    const l = first(layers[protos[k]]);
    l4 = {
      proto: protos[k],
      sport: Number(l[protos[k] + '.srcport']),
      dport: Number(l[protos[k] + '.dstport']),
    };
  }
  // Fragmentation of any inner (tunnelled) IP header.
  let innerFrag = false;
  const allIp = [...arr(layers.ip).map((x) => [false, x]), ...arr(layers.ipv6).map((x) => [true, x])];
  for (const [isV6, x] of allIp) {
    if (x === ipl) continue;
    if (isV6) {
      const fh = x['ipv6.fraghdr'];
      if (fh && !(fh['ipv6.fraghdr.offset'] === '0' && fh['ipv6.fraghdr.more'] === '0')) innerFrag = true;
    } else {
      const ft = x['ip.flags_tree'] || {};
      if (ft['ip.flags.mf'] === '1' || Number(x['ip.frag_offset'] || 0) > 0) innerFrag = true;
    }
  }
  return { num, ip, l4, innerFrag };
}

// tshark conversation table -> list of {proto, a, b}
function parseConv(file) {
  const out = [];
  if (!fs.existsSync(file)) return out;
  let proto = null;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (/^UDP Conversations/.test(line)) proto = 'udp';
    else if (/^TCP Conversations/.test(line)) proto = 'tcp';
    const m = /^(\S+)\s+<->\s+(\S+)\s/.exec(line);
    if (m && proto) out.push({ proto, a: m[1], b: m[2] });
  }
  return out;
}

const p1 = load(pass1File).map(describe);
const p2 = new Map(load(pass2File).map(describe).map((d) => [d.num, d]));
const byNum = new Map(p1.map((d) => [d.num, d]));
const convs = parseConv(convFile);
const ep = (addr, port) => `${addr}:${port}`;

const conversations = new Map(); // key -> entry
const nonTcpUdp = new Map();
const unattributed = new Map();
let fragmentFrames = 0;
let countedByTshark = 0;
const innerFragFrames = [];
const problems = [];

for (const d of p1) {
  if (d.innerFrag) innerFragFrames.push(d.num);
  if (!d.ip || !d.ip.frag) continue;
  fragmentFrames++;
  if (d.l4) {
    // tshark dissected TCP/UDP in this very frame: it is the frame tshark counts
    // (reassembly completed here, or a fragment tshark dissected without reassembly).
    countedByTshark++;
    continue;
  }
  if (d.ip.reassembledIn !== null) {
    const n = byNum.get(d.ip.reassembledIn);
    if (!n || !n.ip) {
      problems.push(`frame ${d.num}: reassembled in unknown frame ${d.ip.reassembledIn}`);
      continue;
    }
    if (n.ip.src !== d.ip.src || n.ip.dst !== d.ip.dst) {
      problems.push(`frame ${d.num}: addresses differ from reassembling frame ${n.num}`);
    }
    if (n.l4) {
      const src = ep(n.ip.src, n.l4.sport);
      const dst = ep(n.ip.dst, n.l4.dport);
      let c = convs.find((x) => x.proto === n.l4.proto && x.a === src && x.b === dst);
      let dir = 'a_to_b';
      if (!c) {
        c = convs.find((x) => x.proto === n.l4.proto && x.a === dst && x.b === src);
        dir = 'b_to_a';
      }
      if (!c) {
        problems.push(`frame ${d.num}: conversation ${n.l4.proto} ${src} -> ${dst} not in ${convFile}`);
        c = { proto: n.l4.proto, a: src, b: dst };
        dir = 'a_to_b';
      }
      const key = `${c.proto} ${c.a} ${c.b}`;
      if (!conversations.has(key)) {
        conversations.set(key, { proto: c.proto, a: c.a, b: c.b, extra: { a_to_b: 0, b_to_a: 0 }, frames: { a_to_b: [], b_to_a: [] } });
      }
      const e = conversations.get(key);
      e.extra[dir]++;
      e.frames[dir].push(d.num);
    } else {
      const key = `${n.ip.proto} ${n.ip.src} ${n.ip.dst}`;
      if (!nonTcpUdp.has(key)) nonTcpUdp.set(key, { ip_proto: n.ip.proto, src: n.ip.src, dst: n.ip.dst, extra: 0, frames: [] });
      const e = nonTcpUdp.get(key);
      e.extra++;
      e.frames.push(d.num);
    }
    continue;
  }
  // Never reassembled and not dissected past IP.
  const key = `${d.ip.src} ${d.ip.dst} ${d.ip.proto} ${d.ip.id}`;
  if (!unattributed.has(key)) {
    unattributed.set(key, { src: d.ip.src, dst: d.ip.dst, ip_proto: d.ip.proto, ip_id: d.ip.id, frames: [], offsets: [], first_fragment_l4: null });
  }
  const u = unattributed.get(key);
  u.frames.push(d.num);
  u.offsets.push(d.ip.offset);
  if (d.ip.offset === 0) {
    const q = p2.get(d.num);
    if (q && q.l4) u.first_fragment_l4 = { proto: q.l4.proto, sport: q.l4.sport, dport: q.l4.dport };
  }
}

const sortKey = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const result = {
  capture: rel,
  oracle: `${tsharkVersion}; generated by test/tools/frag-oracle.sh`,
  meaning:
    'extra = wire packets (IP fragments of the outermost IP header) that tshark folds into the one frame ' +
    'it counts per reassembled datagram; a_to_b is tshark\'s "->" column (A = left endpoint), b_to_a is "<-". ' +
    'Expected probe packets for a conversation = tshark conv frames + extra.',
  fragment_frames: fragmentFrames,
  fragments_counted_by_tshark: countedByTshark,
  conversations: [...conversations.values()].sort((x, y) => sortKey(`${x.proto} ${x.a} ${x.b}`, `${y.proto} ${y.a} ${y.b}`)),
  non_tcp_udp: [...nonTcpUdp.values()],
  unattributed: [...unattributed.values()],
  inner_fragments: innerFragFrames,
};
if (problems.length) result.problems = problems;
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
for (const p of problems) process.stderr.write(`frag-oracle: ${rel}: ${p}\n`);
if (innerFragFrames.length) {
  process.stderr.write(`frag-oracle: ${rel}: fragmented inner IP headers in frames ${innerFragFrames.join(',')} - not supported\n`);
  process.exit(1);
}
JS

written=0
for cap in "${captures[@]}"; do
  case "$cap" in /*) abs="$cap" ;; *) if [ -f "$pcapdir/$cap" ]; then abs="$pcapdir/$cap"; else abs="$(pwd)/$cap"; fi ;; esac
  rel="${abs#"$pcapdir/"}"
  base="${abs%.*}"
  out="$base.frags.json"
  conv="$base.conv.txt"

  # Any outer or inner IP fragment at all? (cheap pre-check)
  nfrag=$("$tshark" -n -r "$abs" -Y 'ip.flags.mf == 1 || ip.frag_offset > 0 || ipv6.fraghdr' \
            -T fields -e frame.number 2>/dev/null | wc -l) || true
  if [ "$nfrag" -eq 0 ]; then
    if [ -f "$out" ]; then rm -f "$out"; echo "removed stale $out"; fi
    continue
  fi

  # Pass 1: default preferences (reassembly on), two-pass so that every fragment
  # carries "reassembled in" pointing to the frame that completes its datagram.
  "$tshark" -2 -n -r "$abs" -T json --no-duplicate-keys -J "frame ip ipv6 udp tcp" \
      > "$tmp/pass1.json" 2> "$tmp/pass1.err" || true
  # Pass 2: reassembly off, to read the L4 ports of first fragments never reassembled.
  "$tshark" -n -r "$abs" -o ip.defragment:FALSE -o ipv6.defragment:FALSE -T json \
      --no-duplicate-keys -J "frame ip ipv6 udp tcp" \
      > "$tmp/pass2.json" 2> "$tmp/pass2.err" || true

  node "$tmp/compute.js" "$rel" "$tmp/pass1.json" "$tmp/pass2.json" "$conv" \
      "$("$tshark" --version 2>/dev/null | head -1 | sed 's/\.$//')" > "$tmp/out.json"
  mv "$tmp/out.json" "$out"
  echo "wrote $out"
  written=$((written + 1))
done
echo "$written .frags.json file(s) written"
