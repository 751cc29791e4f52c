// The file reader's block mode (native/capture/file_reader.h): classic pcap records are read
// in 512 KiB blocks and checked by our code, not libpcap's pcap_next_ex. It must give exactly
// what libpcap gives: the same frames, timestamps, cut lengths and warnings. Every classic
// capture shipped in test/ (real traffic and the malformed corpus) is run both ways
// (NPROBE_FILE_READER=libpcap forces libpcap's reads) and the records compared byte for byte;
// synthetic files cover what the corpus lacks: both byte orders with nanosecond stamps, a
// caplen past the file's snapshot length or past libpcap's 256 KiB maximum, and files cut
// inside a record header, inside a frame, and inside a frame longer than the snapshot length.
// Each case also asserts its own expected figures, so the two ways cannot agree on a mistake.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Probe } from '../../src';
import * as g from '../helpers/pcapgen';
import { allCaptures, mapLimit, parseSummary, ProbeRun, runCliAsync, runProbe } from '../helpers/probe';

const ROOT = path.join(__dirname, '..', '..');
const CLASSIC = new Set(['a1b2c3d4', 'd4c3b2a1', 'a1b23c4d', '4d3cb2a1']);
const T0 = 1_700_000_000_000_000;

function magic(file: string): string {
  const fd = fs.openSync(file, 'r');
  const b = Buffer.alloc(4);
  fs.readSync(fd, b, 0, 4, 0);
  fs.closeSync(fd);
  return b.toString('hex');
}

const warnings = (r: ProbeRun): string[] => r.stderrLines.filter((l) => /^nprobe: (warning|anomalies)/.test(l));

function both(file: string, extra: string[] = []): Promise<[ProbeRun, ProbeRun]> {
  const args = ['-i', file, '-n', 'none', '--json-out', '-', ...extra];
  return Promise.all([runCliAsync(args, { env: { NPROBE_FILE_READER: 'block' } }), runCliAsync(args, { env: { NPROBE_FILE_READER: 'libpcap' } })]);
}

function expectSame(block: ProbeRun, lib: ProbeRun): void {
  expect(block.status).toBe(lib.status);
  expect(block.stdout).toBe(lib.stdout); // every record, byte for byte
  expect(warnings(block)).toEqual(warnings(lib));
  expect(parseSummary(block.stderr)).toEqual(parseSummary(lib.stderr));
}

describe('every classic capture in test/ reads the same in blocks as through libpcap', () => {
  const files = allCaptures(path.join(ROOT, 'test')).filter((f) => CLASSIC.has(magic(f)));

  test('the corpus has captures of each kind block mode must handle', () => {
    const kinds = new Set(files.map(magic));
    expect(files.length).toBeGreaterThanOrEqual(50);
    expect(kinds).toContain('d4c3b2a1'); // little-endian, microseconds
    expect(kinds).toContain('a1b2c3d4'); // big-endian
    expect(kinds).toContain('4d3cb2a1'); // little-endian, nanoseconds
  });

  test('records, warnings and counts are identical', async () => {
    const runs = await mapLimit(files, async (f) => ({ f, r: await both(f) }));
    let cutShort = 0;
    for (const { f, r } of runs) {
      try {
        expectSame(r[0], r[1]);
      } catch (e) {
        throw new Error(`${path.relative(ROOT, f)}: ${(e as Error).message}`);
      }
      expect(r[0].status).toBe(0);
      if (warnings(r[0]).some((l) => l.includes('cut short'))) cutShort++;
    }
    // The malformed corpus includes files cut short: the warning path was compared too.
    expect(cutShort).toBeGreaterThanOrEqual(1);
  }, 240_000);
});

// ---------------------------------------------------------------------------------------
// Synthetic classic pcaps with a chosen byte order, timestamp unit and snapshot length.

interface Rec {
  tsUs: number;
  subUsNs?: number; // nanoseconds past tsUs (nanosecond files only)
  data: Buffer;
  caplen?: number; // claimed in the record header (default: data.length)
}

function pcapFile(recs: Rec[], o: { be?: boolean; nsec?: boolean; snaplen?: number } = {}): Buffer {
  const w32 = (b: Buffer, v: number, at: number) => (o.be ? b.writeUInt32BE(v, at) : b.writeUInt32LE(v, at));
  const w16 = (b: Buffer, v: number, at: number) => (o.be ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  const hdr = Buffer.alloc(24);
  w32(hdr, o.nsec ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(hdr, 2, 4);
  w16(hdr, 4, 6);
  w32(hdr, o.snaplen ?? 262144, 16);
  w32(hdr, g.LINKTYPE.ETHERNET, 20);
  const parts = [hdr];
  for (const r of recs) {
    const h = Buffer.alloc(16);
    w32(h, Math.floor(r.tsUs / 1e6), 0);
    w32(h, o.nsec ? (r.tsUs % 1e6) * 1000 + (r.subUsNs ?? 0) : r.tsUs % 1e6, 4);
    w32(h, r.caplen ?? r.data.length, 8);
    w32(h, r.data.length, 12);
    parts.push(h, r.data);
  }
  return Buffer.concat(parts);
}

function udpFrame(sport: number, payload: number, fill: number): Buffer {
  const ip = g.ipv4('192.0.2.1', '192.0.2.2', 17, g.udp(sport, 9, Buffer.alloc(payload, fill)));
  return g.ether(g.MAC_A, g.MAC_B, g.ETH_IPV4, ip);
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-block-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function save(name: string, b: Buffer): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, b);
  return f;
}

const cutWarning = (r: ProbeRun): string | undefined => r.stderrLines.find((l) => l.includes('cut short'));

test.each([
  ['little-endian', false],
  ['big-endian', true],
])('%s nanosecond stamps are cut to microseconds, as libpcap does', async (_n, be) => {
  // 3 packets of one flow; 999 ns past each microsecond must not round up.
  const recs: Rec[] = [0, 1_500_000, 2_000_001].map((d, i) => ({ tsUs: T0 + d, subUsNs: 999, data: udpFrame(4000, 10 + i, i) }));
  const f = save(`ns-${be ? 'be' : 'le'}.pcap`, pcapFile(recs, { be, nsec: true }));
  const [block, lib] = await both(f);
  expectSame(block, lib);
  expect(block.flows).toHaveLength(1);
  const fl = block.flows[0];
  expect(fl.FLOW_START_MICROSECONDS).toBe(T0);
  expect(fl.FLOW_END_MICROSECONDS).toBe(T0 + 2_000_001);
  expect(fl.IN_PKTS).toBe(3);
});

test('a record longer than the snapshot length is cut to it, and the next record still found', async () => {
  // A 75-byte DNS query whose name lies past a 60-byte snapshot, then a 60-byte frame.
  const query = Buffer.concat([Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from('\x03www\x07example\x03com\x00\x00\x01\x00\x01', 'latin1')]);
  const dns = g.ether(g.MAC_A, g.MAC_B, g.ETH_IPV4, g.ipv4('192.0.2.1', '192.0.2.2', 17, g.udp(3333, 53, query)));
  expect(dns.length).toBe(75);
  const recs: Rec[] = [
    { tsUs: T0, data: dns },
    { tsUs: T0 + 1, data: udpFrame(5001, 18, 0xbb) },
  ];
  const cut = save('oversnap.pcap', pcapFile(recs, { snaplen: 60 }));
  const [block, lib] = await both(cut);
  expectSame(block, lib);
  expect(cutWarning(block)).toBeUndefined();
  expect(parseSummary(block.stderr)!.packets).toBe(2);
  const byPort = new Map(block.flows.map((x) => [x.L4_SRC_PORT, x]));
  expect([...byPort.keys()].sort()).toEqual([3333, 5001]);
  // The decoder saw 60 bytes: the name was cut off, so no DNS. The same file with the
  // default snapshot shows the query, so the cut is what hid it.
  expect(byPort.get(3333)!.DNS_QUERY).toBeUndefined();
  expect(byPort.get(3333)!.L7_PROTO_NAME).toBe('Unknown');
  const [whole] = await both(save('undersnap.pcap', pcapFile(recs)));
  expect(whole.flows.find((x) => x.L4_SRC_PORT === 3333)!.DNS_QUERY).toBe('www.example.com');
});

test('a caplen past 256 KiB ends the read with libpcap\'s message, after the frames before it', async () => {
  const recs: Rec[] = [];
  for (let i = 0; i < 5; i++) recs.push({ tsUs: T0 + i, data: udpFrame(6000, 20, i) });
  const file = pcapFile(recs);
  // A sixth record claiming 300000 captured bytes.
  const bad = Buffer.alloc(16);
  bad.writeUInt32LE(Math.floor(T0 / 1e6), 0);
  bad.writeUInt32LE(300000, 8);
  bad.writeUInt32LE(300000, 12);
  const f = save('huge.pcap', Buffer.concat([file, bad, Buffer.alloc(64)]));
  const [block, lib] = await both(f);
  expectSame(block, lib);
  expect(cutWarning(block)).toContain('cut short after packet 5 (invalid packet capture length 300000, bigger than snaplen of 262144)');
  expect(block.flows).toHaveLength(1);
  expect(block.flows[0].IN_PKTS).toBe(5);
});

describe('files cut short give libpcap\'s words and every whole frame before the cut', () => {
  const recs: Rec[] = [];
  for (let i = 0; i < 4; i++) recs.push({ tsUs: T0 + i, data: udpFrame(7000, 30, i) }); // 72-byte frames
  const whole = pcapFile(recs, { snaplen: 50 }); // every frame is longer than the snapshot
  const rec3 = 24 + 3 * (16 + 72);
  test.each([
    ['inside a record header', rec3 + 5, 'tried to read 16 header bytes, only got 5'],
    ['inside the snapshot part of a frame', rec3 + 16 + 20, 'tried to read 50 captured bytes, only got 20'],
    ['past the snapshot part of a frame', rec3 + 16 + 60, 'tried to read 72 captured bytes, only got 60'],
  ])('%s', async (name, cut, words) => {
    const f = save(`cut-${cut}.pcap`, whole.subarray(0, cut));
    const [block, lib] = await both(f);
    expectSame(block, lib);
    expect(cutWarning(block)).toContain(`cut short after packet 3 (truncated dump file; ${words})`);
    expect(block.flows).toHaveLength(1);
    expect(block.flows[0].IN_PKTS).toBe(3);
  });
});

test('block mode is the one used for a classic file; libpcap for pcapng, a filter or when asked', async () => {
  const f = save('mode.pcap', pcapFile([{ tsUs: T0, data: udpFrame(8000, 8, 1) }]));
  const mode = async (iface: string, opts: { filter?: string } = {}): Promise<string> => {
    const p = new Probe({ interface: iface, ...opts });
    p.open();
    for await (const _ of p.flows()); // eslint-disable-line @typescript-eslint/no-unused-vars
    return p.stats().fileReader;
  };
  expect(await mode(f)).toBe('block');
  expect(await mode(f, { filter: 'udp' })).toBe('libpcap');
  const ng = allCaptures(path.join(ROOT, 'test')).find((x) => magic(x) === '0a0d0d0a')!;
  expect(await mode(ng)).toBe('libpcap');
  // jest gives each test file a copy of the environment, so the switch is tried in a child.
  const script = `const { Probe } = require(${JSON.stringify(path.join(ROOT, 'dist', 'src'))});
    (async () => { const p = new Probe({ interface: process.argv[1] }); p.open();
      for await (const _ of p.flows()); console.log(p.stats().fileReader); })();`;
  const child = spawnSync(process.execPath, ['-e', script, f], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', NPROBE_FILE_READER: 'libpcap' } });
  expect(child.stderr).toBe('');
  expect(child.stdout.trim()).toBe('libpcap');
  // And the CLI with a filter reads through libpcap and still applies it.
  const r = runProbe(f, ['-f', 'tcp']);
  expect(r.status).toBe(0);
  expect(r.flows).toHaveLength(0);
});

test('a file many times the reader\'s ring (8 x 512 KiB) arrives whole, both ways', async () => {
  // ~26 MiB: the ring fills, drains to half and is refilled ~12 times (the reader is woken only
  // at half-free, FileReader::release), and frame sizes that are not a divisor of the chunk
  // leave a partial record at the end of nearly every block.
  const recs: Rec[] = [];
  const n = 19_000;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const data = udpFrame(10_000 + (i % 40), 1300 + (i % 97), i & 0xff);
    bytes += data.length;
    recs.push({ tsUs: T0 + i * 10, data });
  }
  const f = save('ring.pcap', pcapFile(recs));
  expect(fs.statSync(f).size).toBeGreaterThan(6 * 4 * 1024 * 1024);
  const [block, lib] = await both(f);
  expectSame(block, lib);
  expect(block.status).toBe(0);
  expect(parseSummary(block.stderr)!.packets).toBe(n);
  expect(block.flows).toHaveLength(40);
  expect(block.flows.reduce((s, x) => s + x.IN_PKTS, 0)).toBe(n);
  expect(block.flows.reduce((s, x) => s + x.IN_BYTES, 0)).toBe(bytes - n * 14); // IP bytes: the Ethernet header is not counted
}, 60_000);
