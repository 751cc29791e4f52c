// The file reader thread (native/capture/file_reader.h): the capture is read on a thread of
// its own and handed to the capture thread in a ring of 512 KiB chunks, in blocks of records
// (block mode) or frame by frame through libpcap; both are run here. A synthetic capture of
// ~15 MB goes round that ring many times, with frames from 42 bytes to libpcap's 256 KiB cap,
// so frames land at every offset in a chunk, at its end and across it (block mode carries a
// partial record over); every frame must reach its flow intact, and a file cut short after
// many chunks must still give every frame before the cut.
import * as fs from 'fs';
import * as path from 'path';
import { Probe } from '../../src';
import * as g from '../helpers/pcapgen';
import { parseSummary, ProbeFlow, runProbe } from '../helpers/probe';

const T0 = 1_700_000_000_000_000;
const FLOWS = 64;
const N = 6000;

interface Expect {
  pkts: number;
  bytes: number;
}

/** Deterministic frame sizes: mostly ordinary, some jumbo, some at the 256 KiB frame cap. */
function buildFrames(): { frames: g.Frame[]; perFlow: Map<number, Expect> } {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const frames: g.Frame[] = [];
  const perFlow = new Map<number, Expect>();
  for (let i = 0; i < N; i++) {
    const sport = 10000 + (i % FLOWS);
    let payload = rnd(1473);
    if (i % 97 === 0) payload = 60000;
    if (i % 211 === 0) payload = 65535 - 28; // the largest IPv4 datagram ...
    const ip = g.ipv4('192.0.2.1', '192.0.2.2', 17, g.udp(sport, 9, Buffer.alloc(payload, i & 0xff)), { id: i & 0xffff });
    let frame = g.ether(g.MAC_A, g.MAC_B, g.ETH_IPV4, ip);
    // ... in a frame padded up to libpcap's 256 KiB cap (an Ethernet trailer, not IP bytes)
    if (i % 211 === 0) frame = Buffer.concat([frame, Buffer.alloc(262144 - frame.length)]);
    frames.push({ tsUs: T0 + i * 10, data: frame });
    const e = perFlow.get(sport) ?? { pkts: 0, bytes: 0 };
    e.pkts++;
    e.bytes += ip.length;
    perFlow.set(sport, e);
  }
  return { frames, perFlow };
}

function byPort(flows: ProbeFlow[]): Map<number, Expect> {
  const m = new Map<number, Expect>();
  for (const f of flows) {
    const e = m.get(f.L4_SRC_PORT as number) ?? { pkts: 0, bytes: 0 };
    e.pkts += (f.IN_PKTS as number) + (f.OUT_PKTS as number);
    e.bytes += (f.IN_BYTES as number) + (f.OUT_BYTES as number);
    m.set(f.L4_SRC_PORT as number, e);
  }
  return m;
}

const { frames, perFlow } = buildFrames();
let dir: string;
let file: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'nprobe-reader-'));
  file = g.writePcap(frames, g.LINKTYPE.ETHERNET, path.join(dir, 'ring.pcap'));
  // Several times round the 4 x 512 KiB ring, or the test proves nothing about it.
  expect(fs.statSync(file).size).toBeGreaterThan(5 * 4 * 512 * 1024);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test.each(['block', 'libpcap'])('every frame, from 42 bytes to 256 KiB, reaches its flow across many chunks (%s reads)', (mode) => {
  const r = runProbe(file, [], { env: { NPROBE_FILE_READER: mode } });
  expect(r.status).toBe(0);
  expect(r.badLines).toEqual([]);
  const s = parseSummary(r.stderr)!;
  expect(s).not.toBeNull();
  expect(s.packets).toBe(N);
  expect(s.ip).toBe(N);
  expect(s.undecodable).toBe(0);
  // A frame that lost its place in a chunk would decode as garbage: an anomaly, a stray flow.
  expect(r.stderr).toMatch(/^nprobe: anomalies: none$/m);
  expect(r.flows).toHaveLength(FLOWS);
  expect(byPort(r.flows)).toEqual(perFlow);
  // The summary names the reader thread's CPU beside the capture thread's.
  expect(r.stderr).toMatch(/\(capture thread \d+\.\d+ s CPU, file reader \d+\.\d+ s\)$/m);
});

test('the library reads the same file through the reader and counts its CPU', async () => {
  const probe = new Probe({ interface: file });
  probe.open();
  const flows: ProbeFlow[] = [];
  for await (const f of probe.flows()) flows.push(f);
  expect(byPort(flows)).toEqual(perFlow);
  const s = probe.stats();
  expect(s.packets).toBe(N);
  expect(s.filePos).toBe(fs.statSync(file).size); // progress reaches the end of the file
  expect(s.fileReader).toBe('block'); // a classic pcap, no filter: read in blocks
  expect(s.readerCpuUs).toBeGreaterThan(0); // ~15 MB read: some CPU, in µs
  expect(s.readerCpuUs).toBeLessThan(60e6);
});

test.each(['block', 'libpcap'])('a file cut short after many chunks: one warning, every frame before the cut counted (%s reads)', (mode) => {
  const K = N - 100;
  // Offset of record K: the 24-byte file header, then 16 + length per record.
  let off = 24;
  for (let i = 0; i < K; i++) off += 16 + frames[i].data.length;
  const cut = path.join(dir, 'cut.pcap');
  fs.writeFileSync(cut, fs.readFileSync(file).subarray(0, off + 16 + 10)); // inside record K's data
  const r = runProbe(cut, [], { env: { NPROBE_FILE_READER: mode } });
  expect(r.status).toBe(0);
  expect(r.stderrLines.filter((l) => /^nprobe: warning: .*cut short after packet \d+/.test(l))).toEqual([
    expect.stringContaining(`cut short after packet ${K} `),
  ]);
  expect(parseSummary(r.stderr)!.packets).toBe(K);
  const want = new Map<number, Expect>();
  for (let i = 0; i < K; i++) {
    const sport = 10000 + (i % FLOWS);
    const e = want.get(sport) ?? { pkts: 0, bytes: 0 };
    e.pkts++;
    e.bytes += frames[i].data.readUInt16BE(14 + 2);
    want.set(sport, e);
  }
  expect(byPort(r.flows)).toEqual(want);
});
