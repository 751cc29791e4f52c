// Fuzz-style test of the whole probe from JS: real frames of the capture corpus (test/pcap/)
// mutated (bit flips, truncations, corrupted IP/UDP/TCP length fields, duplicates, reordering,
// clock jumps), random bytes under every link type, and real frames under the wrong link type,
// written as pcap files (test/helpers/pcapgen.ts) and run through the Probe class with all
// dissectors on. Each file must run to the end without an exception, read every frame, keep
// the packet books balanced (every packet in one flow outside tunnels, or counted non-IP,
// undecodable, or a fragment without a flow) and count what it found broken as anomalies.
// The PRNG is seeded (SEED below): a failure names its file's seed and recipe, and reruns
// the same bytes.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as g from '../helpers/pcapgen';
import { noise } from '../helpers/noise';
import { PCAP_DIR, pcapRecordOffsets } from '../helpers/probe';
import { books, runProbe } from './helpers';

const SEED = 0x5eed_2024;

/** Deterministic integers from test/helpers/noise.ts's xorshift stream. */
class Rng {
  private buf: Buffer;
  private pos = 0;
  constructor(seed: number) {
    this.buf = noise(seed, 1 << 16);
  }
  u32(): number {
    if (this.pos + 4 > this.buf.length) {
      this.buf = noise(this.buf.readUInt32LE(0) ^ 0x9e3779b9, this.buf.length);
      this.pos = 0;
    }
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }
  chance(pct: number): boolean {
    return this.int(100) < pct;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  bytes(n: number): Buffer {
    return noise(this.u32() || 1, n);
  }
}

interface Source {
  name: string;
  linktype: number;
  frames: Buffer[];
}

/** Frames of a classic pcap of the corpus (pcapng files are skipped). */
function readSource(rel: string): Source | null {
  const file = path.join(PCAP_DIR, rel);
  const buf = fs.readFileSync(file);
  const le = [0xa1b2c3d4, 0xa1b23c4d].includes(buf.readUInt32LE(0));
  if (!le && ![0xa1b2c3d4, 0xa1b23c4d].includes(buf.readUInt32BE(0))) return null;
  const frames = pcapRecordOffsets(file).map(([s, e]) => buf.subarray(s + 16, e));
  return { name: rel, linktype: (le ? buf.readUInt32LE(20) : buf.readUInt32BE(20)) & 0xffff, frames };
}

// Ethernet (with VLANs, PPPoE, GTP-U and fragments), Linux cooked, BSD null, raw IPv6,
// IPv6 fragments, and captures whose payloads reach the dissectors.
const SOURCES = [
  'gtp/zeek_gtp1_gn_fragmentation.pcap',
  'gtp/arkime_gtp_iphone.pcap',
  'gtp/ndpi_ipv6_in_gtp_vlan.pcap',
  'dns/zeek_ipv6_fragmented_dns.pcap',
  'dns/arkime_dns_wiresharkrepo.pcap',
  'http/pcapplusplus_four_ipv6_http_streams.pcap',
  'http/zeek_http_pipelined.pcap',
  'radius/zeek_radius_localhost.pcap',
  'sip/zeek_sip_wireshark.pcap',
  'dhcp/zeek_dhcp_lifecycle.pcap',
  'smtp/zeek_smtp.pcap',
  'ftp/ndpi_ftp.pcap',
  'malformed/ndpi_fuzz_2006_06_26_mixed.pcap',
]
  .map(readSource)
  .filter((s): s is Source => s !== null && s.frames.length > 0);

const LINKTYPES = [g.LINKTYPE.ETHERNET, g.LINKTYPE.SLL, g.LINKTYPE.SLL2, g.LINKTYPE.NULL, g.LINKTYPE.LOOP, g.LINKTYPE.RAW, 12, 228, 229];

/** Offset of the IP header in a frame of this link type, following 802.1Q tags; -1 if unknown. */
function ipOffset(linktype: number, f: Buffer): number {
  switch (linktype) {
    case g.LINKTYPE.ETHERNET: {
      let off = 12;
      while (off + 2 <= f.length && [0x8100, 0x88a8, 0x9100].includes(f.readUInt16BE(off))) off += 4;
      return off + 2;
    }
    case g.LINKTYPE.SLL:
      return 16;
    case g.LINKTYPE.SLL2:
      return 20;
    case g.LINKTYPE.NULL:
    case g.LINKTYPE.LOOP:
      return 4;
    default:
      return 0;
  }
}

/** Overwrites one length-like field of the IP or transport header with a boundary or random value. */
function corruptLength(rng: Rng, linktype: number, f: Buffer): void {
  const ip = ipOffset(linktype, f);
  if (ip < 0 || ip >= f.length) return;
  const put16 = (at: number): void => {
    if (at + 2 > f.length) return;
    const len = f.length - ip;
    f.writeUInt16BE(rng.pick([0, 1, 7, 8, 19, 20, 39, 40, len - 1, len, len + 1, 0xffff, rng.int(0x10000)]) & 0xffff, at);
  };
  const v = f[ip] >> 4;
  if (v === 4) {
    const ihl = (f[ip] & 0x0f) * 4;
    switch (rng.int(6)) {
      case 0: return put16(ip + 2); // total length
      case 1: f[ip] = 0x40 | rng.int(16); return; // IHL
      case 2: return put16(ip + 6); // flags + fragment offset
      case 3: return put16(ip + ihl + 4); // UDP length (or TCP sequence bytes)
      case 4: if (ip + ihl + 12 < f.length) f[ip + ihl + 12] = rng.int(256); return; // TCP data offset
      default: if (ip + 9 < f.length) f[ip + 9] = rng.pick([6, 17, 44, 47, 132, 1, 58, rng.int(256)]); return; // protocol
    }
  } else if (v === 6) {
    switch (rng.int(3)) {
      case 0: return put16(ip + 4); // payload length
      case 1: if (ip + 6 < f.length) f[ip + 6] = rng.pick([0, 43, 44, 60, 51, 135, 6, 17, 58, rng.int(256)]); return; // next header
      default: if (ip + 41 < f.length) f[ip + 41] = rng.int(256); return; // first extension header's length
    }
  } else {
    put16(ip + 2);
  }
}

interface Case {
  seed: number;
  recipe: string;
  linktype: number;
  frames: g.Frame[];
}

const T0 = 1_700_000_000_000_000;

/** A window of real frames of one source, each maybe mutated. */
function mutatedCase(seed: number): Case {
  const rng = new Rng(seed);
  const src = SOURCES[seed % SOURCES.length];
  const start = rng.int(Math.max(1, src.frames.length - 400));
  const window = src.frames.slice(start, start + 400);
  const frames: g.Frame[] = [];
  let ts = T0;
  for (let i = 0; i < window.length; i++) {
    let data = Buffer.from(window[i]);
    let origLen: number | undefined;
    ts += 1000;
    const roll = rng.int(100);
    if (roll < 40) {
      // unchanged
    } else if (roll < 55) {
      for (let n = 1 + rng.int(4); n > 0 && data.length; n--) data[rng.int(data.length)] ^= 1 << rng.int(8);
    } else if (roll < 65) {
      const head = Math.min(data.length, 80);
      for (let n = 1 + rng.int(3); n > 0 && head; n--) data[rng.int(head)] = rng.int(256);
    } else if (roll < 75) {
      origLen = data.length; // cut by the snap length: the wire length stays
      data = data.subarray(0, rng.int(data.length));
    } else if (roll < 80) {
      data = data.subarray(0, rng.int(data.length)); // cut short on the wire too
    } else if (roll < 92) {
      corruptLength(rng, src.linktype, data);
    } else if (roll < 95) {
      frames.push({ tsUs: ts, data: Buffer.from(data) }); // duplicate: overlapping fragments, retransmissions
    } else if (roll < 98 && i + 1 < window.length) {
      [window[i], window[i + 1]] = [window[i + 1], window[i]]; // reorder: fragments out of order
    } else {
      ts += 31_000_000; // past the fragment time-out: datagrams in flight are given up
    }
    frames.push({ tsUs: ts, data, origLen });
  }
  return { seed, recipe: `mutated ${src.name} frames ${start}..${start + window.length}`, linktype: src.linktype, frames };
}

/** Random bytes under a random link type, starting like the link's header half the time. */
function randomCase(seed: number): Case {
  const rng = new Rng(seed);
  const linktype = rng.pick(LINKTYPES);
  const frames: g.Frame[] = [];
  for (let i = 0; i < 300; i++) {
    const data = rng.bytes(rng.int(160));
    const ip = ipOffset(linktype, data);
    if (rng.chance(50) && ip + 1 < data.length) {
      if (linktype === g.LINKTYPE.ETHERNET) data.writeUInt16BE(rng.pick([0x0800, 0x86dd, 0x8100, 0x8847, 0x8864]), 12);
      if (linktype === g.LINKTYPE.NULL) data.writeUInt32LE(rng.pick([2, 10, 24, 28, 30]), 0);
      data[ip] = rng.pick([0x45, 0x46, 0x4f, 0x60, 0x40]);
    }
    frames.push({ tsUs: T0 + i * 1000, data });
  }
  return { seed, recipe: `random bytes, link type ${linktype}`, linktype, frames };
}

/** Real frames written under another link type. */
function wrongLinkCase(seed: number): Case {
  const rng = new Rng(seed);
  const src = SOURCES[seed % SOURCES.length];
  const linktype = rng.pick(LINKTYPES.filter((l) => l !== src.linktype));
  const frames = src.frames.slice(0, 400).map((data, i) => ({ tsUs: T0 + i * 1000, data: Buffer.from(data) }));
  return { seed, recipe: `${src.name} read as link type ${linktype}`, linktype, frames };
}

const CASES: Case[] = [
  ...Array.from({ length: 5 * SOURCES.length }, (_, i) => mutatedCase(SEED + i)),
  ...Array.from({ length: 24 }, (_, i) => randomCase(SEED + 100 + i)),
  ...Array.from({ length: 12 }, (_, i) => wrongLinkCase(SEED + 200 + i)),
];

let tmp = '';
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-fuzz-'));
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the corpus gives frames of several link types to mutate', () => {
  expect(SOURCES.length).toBeGreaterThanOrEqual(10);
  expect(new Set(SOURCES.map((s) => s.linktype)).size).toBeGreaterThanOrEqual(4);
});

const anomalyTotals: Record<string, number> = {};

describe.each(CASES.map((c) => [`seed ${c.seed.toString(16)}: ${c.recipe}`, c] as const))('%s', (_name, c) => {
  test('runs to the end, reads every frame, and every packet is accounted for', async () => {
    const file = g.writePcap(c.frames, c.linktype, path.join(tmp, `${c.seed.toString(16)}.pcap`));
    const r = await runProbe(file);
    expect(r.stats.packets).toBe(c.frames.length);
    expect(books(r)).toMatchObject({ balanced: true });
    const ids = r.flows.map((f) => f.FLOW_ID);
    expect(new Set(ids).size).toBe(ids.length);
    expect(r.flows.filter((f) => f.IN_PKTS + f.OUT_PKTS <= 0)).toEqual([]);
    for (const [k, v] of Object.entries(r.stats.anomalies)) anomalyTotals[k] = (anomalyTotals[k] ?? 0) + v;
  });
});

test('the broken input was counted under many different anomaly names', () => {
  // Runs after the cases above (jest runs a file's tests in order).
  const seen = Object.entries(anomalyTotals).filter(([, v]) => v > 0).map(([k]) => k);
  if (process.env.NPROBE_FUZZ_VERBOSE) console.log(anomalyTotals);
  expect(seen.length).toBeGreaterThanOrEqual(10);
  expect(seen).toEqual(expect.arrayContaining(['ipv4_bad_header_length', 'ipv4_length_exceeds_frame', 'udp_bad_length', 'tcp_bad_data_offset', 'frag_overlap']));
});
