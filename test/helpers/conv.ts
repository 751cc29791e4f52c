// Parser of tshark's `-z conv,tcp -z conv,udp` text output (the test/pcap/**/*.conv.txt
// oracles, tshark 4.0.17), plus the small address/conversation-key utilities the pcap tests
// share.
//
// A conversation line looks like
//   10.10.1.4:1470  <-> 74.53.140.153:25   25 1980 bytes   28 22 kB   53 24 kB   0.036986000   7.5777
// i.e. "A:port <-> B:port", then the "<-" column (frames, bytes: B -> A), the "->" column
// (frames, bytes: A -> B), the total, the relative start and the duration. IPv6 addresses
// contain colons, so an endpoint is split on its LAST colon. Byte counts are printed with
// units ("bytes", "kB", "MB") and are therefore only approximate above 9999 bytes.
// Lines starting with "# tshark stderr:" (appended by the corpus tooling) carry tshark's read
// errors.

import * as fs from 'fs';

export type ConvProto = 'tcp' | 'udp';

export interface Endpoint {
  /** address in canonical text (IPv4 dotted quad, IPv6 RFC 5952) */
  addr: string;
  port: number;
}

export interface Conversation {
  proto: ConvProto;
  /** left endpoint as printed by tshark */
  a: Endpoint;
  /** right endpoint as printed by tshark */
  b: Endpoint;
  /** the "->" column: frames sent by A to B */
  aToBFrames: number;
  /** the "<-" column: frames sent by B to A */
  bToAFrames: number;
  /** the "->" / "<-" byte columns, in bytes (exact only when tshark printed "bytes") */
  aToBBytes: number;
  bToABytes: number;
  aToBBytesExact: boolean;
  bToABytesExact: boolean;
  totalFrames: number;
  relStart: number;
  duration: number;
  /** the raw line, for messages */
  line: string;
}

export interface ConvTable {
  conversations: Conversation[];
  /** tshark's stderr lines recorded in the file (without the "# tshark stderr: " prefix) */
  stderr: string[];
}

const UNIT: Record<string, number> = { bytes: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

/** Split "addr:port" on the last colon. */
export function splitEndpoint(text: string): Endpoint {
  const i = text.lastIndexOf(':');
  if (i <= 0 || i === text.length - 1) throw new Error(`not an address:port endpoint: ${JSON.stringify(text)}`);
  const port = Number(text.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port in endpoint ${JSON.stringify(text)}`);
  return { addr: canonicalAddr(text.slice(0, i)), port };
}

export function parseConvText(text: string): ConvTable {
  const conversations: Conversation[] = [];
  const stderr: string[] = [];
  let proto: ConvProto | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+$/, '');
    if (line.startsWith('# tshark stderr:')) {
      stderr.push(line.slice('# tshark stderr:'.length).trim());
      continue;
    }
    if (/^TCP Conversations\b/.test(line)) {
      proto = 'tcp';
      continue;
    }
    if (/^UDP Conversations\b/.test(line)) {
      proto = 'udp';
      continue;
    }
    if (/^[A-Z]+ Conversations\b/.test(line)) {
      proto = null; // some other table (not produced by the corpus tooling, but be safe)
      continue;
    }
    if (!line.includes('<->')) continue;
    if (proto === null) throw new Error(`conversation line outside a TCP/UDP table: ${line}`);
    const m =
      /^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+)\s+(bytes|kB|MB|GB|TB)\s+(\d+)\s+(\d+)\s+(bytes|kB|MB|GB|TB)\s+(\d+)\s+(\d+)\s+(?:bytes|kB|MB|GB|TB)\s+(\S+)\s+(\S+)$/.exec(
        line,
      );
    if (!m) throw new Error(`unparsable conversation line: ${line}`);
    conversations.push({
      proto,
      a: splitEndpoint(m[1]),
      b: splitEndpoint(m[2]),
      bToAFrames: Number(m[3]),
      bToABytes: Number(m[4]) * UNIT[m[5]],
      bToABytesExact: m[5] === 'bytes',
      aToBFrames: Number(m[6]),
      aToBBytes: Number(m[7]) * UNIT[m[8]],
      aToBBytesExact: m[8] === 'bytes',
      totalFrames: Number(m[9]),
      relStart: Number(m[11]),
      duration: Number(m[12]),
      line,
    });
  }
  for (const c of conversations) {
    if (c.aToBFrames + c.bToAFrames !== c.totalFrames) throw new Error(`frame columns do not add up: ${c.line}`);
  }
  return { conversations, stderr };
}

export function readConvFile(file: string): ConvTable {
  return parseConvText(fs.readFileSync(file, 'utf8'));
}

// ---------------------------------------------------------------------------------------
// Addresses

/** Parse IPv6 text (with optional embedded dotted quad) into 8 16-bit groups, or null. */
export function parseIPv6(text: string): number[] | null {
  let s = text;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.slice(lastColon + 1).includes('.')) {
    // embedded IPv4 (::ffff:192.0.2.1): rewrite the dotted quad as two hex groups
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (!v4) return null;
    s = s.slice(0, lastColon + 1) + ((v4[0] << 8) | v4[1]).toString(16) + ':' + ((v4[2] << 8) | v4[3]).toString(16);
  }
  const parts = s.split('::');
  if (parts.length > 2) return null;
  const groups = (p: string): number[] | null => {
    if (p === '') return [];
    const out: number[] = [];
    for (const g of p.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(parts[0]);
  if (!head) return null;
  if (parts.length === 1) {
    return head.length === 8 ? head : null;
  }
  const rest = groups(parts[1]);
  if (!rest) return null;
  const fill = 8 - head.length - rest.length;
  if (fill < 1) return null;
  return [...head, ...new Array<number>(fill).fill(0), ...rest];
}

export function parseIPv4(text: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  return b.every((x) => x <= 255) ? b : null;
}

/** RFC 5952 text of 8 groups: lower case, no leading zeros, longest run (>= 2) of zero groups as "::". */
export function formatIPv6(g: number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestLen < 2) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':');
}

/** Canonical text of an IPv4 or IPv6 address (IPv6 per RFC 5952), so that tshark's and the probe's spellings compare equal. */
export function canonicalAddr(text: string): string {
  if (parseIPv4(text)) return text;
  const g = parseIPv6(text);
  if (!g) throw new Error(`not an IP address: ${JSON.stringify(text)}`);
  return formatIPv6(g);
}

export function endpointText(e: Endpoint): string {
  return e.addr.includes(':') ? `[${e.addr}]:${e.port}` : `${e.addr}:${e.port}`;
}

function endpointOrderKey(e: Endpoint): string {
  // a stable, total order: family, then address bytes, then port
  if (e.addr.includes(':')) {
    const g = parseIPv6(e.addr)!;
    return '6' + g.map((x) => x.toString(16).padStart(4, '0')).join('') + e.port.toString().padStart(5, '0');
  }
  const b = parseIPv4(e.addr)!;
  return '4' + b.map((x) => x.toString(16).padStart(2, '0')).join('') + e.port.toString().padStart(5, '0');
}

// ---------------------------------------------------------------------------------------
// Direction-independent 5-tuple totals

/** Packet totals of one 5-tuple, oriented lo -> hi (lo = the smaller endpoint). */
export interface TupleCount {
  proto: ConvProto;
  lo: Endpoint;
  hi: Endpoint;
  loToHi: number;
  hiToLo: number;
}

/** Direction-independent key "udp [2001:db8::1]:53 <-> 10.0.0.1:1234" (smaller endpoint first). */
export function tupleKey(proto: ConvProto, x: Endpoint, y: Endpoint): string {
  const [lo, hi] = endpointOrderKey(x) <= endpointOrderKey(y) ? [x, y] : [y, x];
  return `${proto} ${endpointText(lo)} <-> ${endpointText(hi)}`;
}

export class TupleCounts {
  readonly map = new Map<string, TupleCount>();

  /** Add `packets` sent from `from` to `to`. */
  add(proto: ConvProto, from: Endpoint, to: Endpoint, packets: number): void {
    const key = tupleKey(proto, from, to);
    let t = this.map.get(key);
    if (!t && packets === 0) return;
    if (!t) {
      const fromIsLo = endpointOrderKey(from) <= endpointOrderKey(to);
      t = { proto, lo: fromIsLo ? from : to, hi: fromIsLo ? to : from, loToHi: 0, hiToLo: 0 };
      this.map.set(key, t);
    }
    // (a conversation of an endpoint with itself counts both directions as lo -> hi)
    if (endpointOrderKey(from) <= endpointOrderKey(to)) t.loToHi += packets;
    else t.hiToLo += packets;
  }

  get(key: string): TupleCount | undefined {
    return this.map.get(key);
  }

  keys(): string[] {
    return [...this.map.keys()].sort();
  }

  /** "lo->hi/hi->lo" text used in test messages */
  describe(key: string): string {
    const t = this.map.get(key);
    return t ? `${t.loToHi}/${t.hiToLo}` : 'absent';
  }
}

/** Per-5-tuple packet totals of a tshark conversation table (several lines of the same 5-tuple are summed). */
export function tsharkTupleCounts(table: ConvTable): TupleCounts {
  const tc = new TupleCounts();
  for (const c of table.conversations) {
    tc.add(c.proto, c.a, c.b, c.aToBFrames);
    tc.add(c.proto, c.b, c.a, c.bToAFrames);
  }
  return tc;
}

// ---------------------------------------------------------------------------------------
// Fragment oracle (test/pcap/**/<name>.frags.json, written by test/tools/frag-oracle.sh)

export interface FragsOracle {
  capture: string;
  fragment_frames: number;
  fragments_counted_by_tshark: number;
  /** extra wire packets per tshark conversation (a/b exactly as in the .conv.txt) */
  conversations: Array<{ proto: ConvProto; a: string; b: string; extra: { a_to_b: number; b_to_a: number } }>;
  /** fragments of datagrams reassembled into something that is neither TCP nor UDP */
  non_tcp_udp: Array<{ ip_proto: number; src: string; dst: string; extra: number; frames: number[] }>;
  /** fragments tshark never reassembled nor dissected past IP, grouped by datagram */
  unattributed: Array<{
    src: string;
    dst: string;
    ip_proto: number;
    ip_id: string;
    frames: number[];
    offsets: number[];
    first_fragment_l4: { proto: ConvProto; sport: number; dport: number } | null;
  }>;
  inner_fragments: number[];
}

/** The .frags.json next to a capture, or null when the capture has no fragments. */
export function readFragsOracle(captureFile: string): FragsOracle | null {
  const f = captureFile.replace(/\.(pcap|pcapng)$/, '.frags.json');
  return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as FragsOracle) : null;
}

export interface ExpectedCounts {
  /** tshark conversation frames + fragment extras, per 5-tuple */
  counts: TupleCounts;
  /**
   * Datagrams whose first fragment never arrived (no ports anywhere): the probe may count
   * their wire packets in a flow with ports 0/0 between the same addresses, or in no flow.
   * key: tupleKey(proto, {src,0}, {dst,0}), value: packets src->dst.
   */
  portless: TupleCounts;
}

/**
 * What the probe's TCP/UDP flows must add up to, per 5-tuple: tshark's conversation frames,
 * plus the fragments tshark folded into one reassembled frame, plus the wire packets of
 * datagrams tshark could not reassemble but whose first fragment carries the ports (the
 * probe gives up on the datagram and still counts every fragment in the flow).
 */
export function expectedCounts(table: ConvTable, frags: FragsOracle | null): ExpectedCounts {
  const counts = tsharkTupleCounts(table);
  const portless = new TupleCounts();
  if (frags) {
    for (const c of frags.conversations) {
      const a = splitEndpoint(c.a);
      const b = splitEndpoint(c.b);
      counts.add(c.proto, a, b, c.extra.a_to_b);
      counts.add(c.proto, b, a, c.extra.b_to_a);
    }
    for (const u of frags.unattributed) {
      if (u.first_fragment_l4) {
        const l4 = u.first_fragment_l4;
        counts.add(l4.proto, { addr: canonicalAddr(u.src), port: l4.sport }, { addr: canonicalAddr(u.dst), port: l4.dport }, u.frames.length);
      } else if (u.ip_proto === 6 || u.ip_proto === 17) {
        const proto: ConvProto = u.ip_proto === 6 ? 'tcp' : 'udp';
        portless.add(proto, { addr: canonicalAddr(u.src), port: 0 }, { addr: canonicalAddr(u.dst), port: 0 }, u.frames.length);
      }
    }
  }
  return { counts, portless };
}

/** A difference between the oracle and the probe that is understood, for one 5-tuple. */
export interface Explained {
  /** tupleKey() text, e.g. "udp 10.0.0.1:53 <-> 10.0.0.2:1234" */
  tuple: string;
  /** what the probe must report instead: [lo->hi, hi->lo] packets, or null for "no flow" */
  probe: [number, number] | null;
  reason: string;
}

/**
 * Compare the probe's per-5-tuple packet counts with the expected ones. Returns one line per
 * difference that no `explained` entry accounts for, and one line per `explained` entry that
 * is stale (the probe does not do what it says, or there is no difference to explain).
 */
export function compareCounts(expected: ExpectedCounts, probe: TupleCounts, explained: Explained[] = []): string[] {
  const problems: string[] = [];
  const byTuple = new Map(explained.map((e) => [e.tuple, e]));
  const keys = new Set([...expected.counts.keys(), ...probe.keys()]);
  for (const e of explained) keys.add(e.tuple);
  const show = (t: TupleCount | undefined): string => (t ? `${t.loToHi}/${t.hiToLo}` : 'none');
  for (const key of [...keys].sort()) {
    const want = expected.counts.get(key);
    const got = probe.get(key);
    const ex = byTuple.get(key);
    if (ex) {
      const exText = ex.probe ? `${ex.probe[0]}/${ex.probe[1]}` : 'none';
      if (exText === show(want)) problems.push(`${key}: stale explanation (oracle already says ${exText}): ${ex.reason}`);
      else if (show(got) !== exText) problems.push(`${key}: explained as probe=${exText} (${ex.reason}) but probe=${show(got)}, oracle=${show(want)}`);
      continue;
    }
    if (show(want) === show(got)) continue;
    if (!want && got && got.lo.port === 0 && got.hi.port === 0) {
      const p = expected.portless.get(key);
      if (p && show(p) === show(got)) continue; // fragments of a datagram whose first fragment was never seen
    }
    problems.push(`${key}: oracle(tshark+frags)=${show(want)} probe=${show(got)} (lo->hi/hi->lo packets)`);
  }
  return problems;
}
