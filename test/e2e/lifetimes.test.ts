// Flow lifetimes as nProbe has them: idle (-d) and active (-t) timeouts on the packet clock,
// TCP end on FIN both ways or RST, -M eviction, end of capture, and nothing lost on the way.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { FlowEndReason, FlowRecord, Probe, ProbeOptions } from '../../src';
import * as g from '../helpers/pcapgen';

const CLI = path.resolve(__dirname, '../../dist/src/cli.js');
const T0 = 1_600_000_000_000_000;
const A = '192.0.2.10';
const B = '192.0.2.20';

async function run(frames: g.Frame[], opts: Partial<ProbeOptions> = {}): Promise<{ flows: FlowRecord[]; probe: Probe }> {
  const probe = new Probe({ interface: g.writePcap(frames, g.LINKTYPE.RAW), ...opts });
  probe.open();
  const flows: FlowRecord[] = [];
  await probe.run((batch) => {
    flows.push(...batch);
  });
  return { flows, probe };
}

const udpAB = (t: number, sport = 1000): g.Frame => ({ tsUs: t, data: g.ipv4(A, B, 17, g.udp(sport, 2000, Buffer.from('ping'))) });
const udpBA = (t: number, sport = 1000): g.Frame => ({ tsUs: t, data: g.ipv4(B, A, 17, g.udp(2000, sport, Buffer.from('pong'))) });

test('the sender of the first packet is the client; IN counts its packets; times in microseconds', async () => {
  const { flows } = await run([udpBA(T0 + 7), udpAB(T0 + 19), udpBA(T0 + 1_000_123)]);
  expect(flows).toHaveLength(1);
  expect(flows[0]).toMatchObject({
    FLOW_ID: 1,
    IPV4_SRC_ADDR: B,
    L4_SRC_PORT: 2000,
    IN_PKTS: 2,
    OUT_PKTS: 1,
    IN_BYTES: 2 * 32,
    FLOW_START_MICROSECONDS: T0 + 7,
    FLOW_END_MICROSECONDS: T0 + 1_000_123,
    FIRST_SWITCHED: Math.floor((T0 + 7) / 1e6),
    FLOW_DURATION_MILLISECONDS: 1000,
    FLOW_END_REASON: FlowEndReason.ForcedEnd,
  });
});

test('idle timeout (-d) splits a flow when the packet clock passes it, even in an old capture', async () => {
  const { flows } = await run([udpAB(T0), udpBA(T0 + 1e6), udpAB(T0 + 42e6)], { idleTimeout: 30 });
  expect(flows.map((f) => [f.FLOW_ID, f.IN_PKTS, f.OUT_PKTS, f.FLOW_END_REASON])).toEqual([
    [1, 1, 1, FlowEndReason.IdleTimeout],
    [2, 1, 0, FlowEndReason.ForcedEnd],
  ]);
});

test('active timeout (-t) cuts long flows into records no longer than the timeout', async () => {
  const frames = Array.from({ length: 31 }, (_, i) => udpAB(T0 + i * 10e6)); // one every 10 s for 300 s
  const { flows } = await run(frames, { activeTimeout: 120, idleTimeout: 30 });
  expect(flows.map((f) => f.IN_PKTS)).toEqual([12, 12, 7]);
  expect(flows.slice(0, 2).every((f) => f.FLOW_END_REASON === FlowEndReason.ActiveTimeout)).toBe(true);
  expect(flows.every((f) => f.FLOW_DURATION_MILLISECONDS < 120_000)).toBe(true);
});

test('TCP: FIN both ways ends the flow with its last ACK; a new SYN on the same ports is a new flow; RST ends too', async () => {
  const c = (t: number, flags: number): g.Frame => ({ tsUs: t, data: g.ipv4(A, B, 6, g.tcp(40000, 80, flags)) });
  const s = (t: number, flags: number): g.Frame => ({ tsUs: t, data: g.ipv4(B, A, 6, g.tcp(80, 40000, flags)) });
  const frames = [
    c(T0, g.SYN), s(T0 + 1, g.SYN | g.ACK), c(T0 + 2, g.ACK),
    c(T0 + 3, g.FIN | g.ACK), s(T0 + 4, g.FIN | g.ACK), c(T0 + 5, g.ACK), // last ACK after both FINs
    c(T0 + 500_000, g.SYN), s(T0 + 500_001, g.RST | g.ACK), // port reuse, refused
    udpAB(T0 + 10e6),
  ];
  const { flows } = await run(frames);
  const tcpFlows = flows.filter((f) => f.PROTOCOL === 6);
  expect(tcpFlows.map((f) => [f.IN_PKTS, f.OUT_PKTS, f.CLIENT_TCP_FLAGS, f.SERVER_TCP_FLAGS, f.FLOW_END_REASON])).toEqual([
    [4, 2, g.SYN | g.ACK | g.FIN, g.SYN | g.ACK | g.FIN, FlowEndReason.EndOfFlow],
    [1, 1, g.SYN, g.RST | g.ACK, FlowEndReason.EndOfFlow],
  ]);
  expect(tcpFlows[0].TCP_FLAGS).toBe(g.SYN | g.ACK | g.FIN);
});

test('-M: a full table exports its least recently seen flow early, counted; no packet is lost', async () => {
  const frames: g.Frame[] = [];
  for (let i = 0; i < 50; i++) frames.push(udpAB(T0 + i * 1000, 3000 + (i % 10)));
  const { flows, probe } = await run(frames, { maxFlows: 4 });
  const total = flows.reduce((n, f) => n + f.IN_PKTS, 0);
  expect(total).toBe(50);
  const evicted = flows.filter((f) => f.FLOW_END_REASON === FlowEndReason.LackOfResources).length;
  expect(evicted).toBe(probe.stats().flowsEvicted);
  expect(evicted).toBe(flows.length - 4);
  expect(new Set(flows.map((f) => f.FLOW_ID)).size).toBe(flows.length);
});

test('file mode waits for a slow consumer instead of dropping (tiny queue, slow sink)', async () => {
  const frames: g.Frame[] = [];
  for (let i = 0; i < 400; i++) frames.push(udpAB(T0 + i, 10000 + i));
  const probe = new Probe({ interface: g.writePcap(frames, g.LINKTYPE.RAW), queueRecords: 4, batchSize: 3 });
  probe.open();
  const ids: number[] = [];
  await probe.run(async (batch) => {
    ids.push(...batch.map((f) => f.FLOW_ID));
    await new Promise((r) => setTimeout(r, 1));
  });
  expect(ids).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
  expect(probe.stats().queueDrops).toBe(0);
});

test('SIGINT in the middle of a capture exports every flow seen so far and exits 0', async () => {
  // 20 flows spread over 20 s of packet time, replayed at the recorded pace.
  const frames: g.Frame[] = [];
  for (let i = 0; i < 20; i++) frames.push(udpAB(T0 + i * 1e6, 20000 + i), udpBA(T0 + i * 1e6 + 10, 20000 + i));
  const file = g.writePcap(frames, g.LINKTYPE.RAW);
  const child = spawn(process.execPath, [CLI, '-i', file, '-n', 'none', '--json-out', '-', '--original-speed'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  await new Promise((r) => setTimeout(r, 2500));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  expect(code).toBe(0);
  const flows = out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowRecord);
  const m = /^nprobe: (\d+) packets/m.exec(err);
  expect(m).not.toBeNull();
  const packets = Number(m![1]);
  expect(packets).toBeGreaterThan(2);
  expect(packets).toBeLessThan(40);
  // Every packet read is in an exported flow, each flow once.
  expect(flows.reduce((n, f) => n + f.IN_PKTS + f.OUT_PKTS, 0)).toBe(packets);
  expect(new Set(flows.map((f) => f.FLOW_ID)).size).toBe(flows.length);
  expect(flows.every((f) => f.FLOW_END_REASON === FlowEndReason.ForcedEnd)).toBe(true);
  expect(err).toMatch(/SIGINT/);
});

test('the async iterator yields the same flows as run()', async () => {
  const file = path.resolve(__dirname, '../pcap/dns/arkime_dns_wiresharkrepo.pcap');
  const src = fs.existsSync(file) ? file : path.resolve(__dirname, '../../../shared/pcaps/dns/arkime_dns_wiresharkrepo.pcap');
  const a = new Probe({ interface: src });
  a.open();
  const viaRun: FlowRecord[] = [];
  await a.run((b) => {
    viaRun.push(...b);
  });
  const b = new Probe({ interface: src });
  b.open();
  const viaIter: FlowRecord[] = [];
  for await (const f of b.flows()) viaIter.push(f);
  expect(viaIter).toEqual(viaRun);
  expect(viaRun.length).toBeGreaterThan(5);
});

test('--original-speed: the capture clock runs while waiting, so an idle flow ends before the next packet', async () => {
  // Flow A at t=0; the next packet (flow B) 4 s later; -d 1. Replayed at the recorded pace,
  // A must come out about 1 s in, while the probe still waits for B, as it would live.
  const file = g.writePcap([udpAB(T0, 1000), udpAB(T0 + 4e6, 1001)], g.LINKTYPE.RAW);
  const start = Date.now();
  const child = spawn(process.execPath, [CLI, '-i', file, '--original-speed', '-d', '1', '-n', 'none', '--json-out', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const seen: Array<{ port: number; at: number }> = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      seen.push({ port: (JSON.parse(buf.slice(0, i)) as FlowRecord).L4_SRC_PORT, at: Date.now() - start });
      buf = buf.slice(i + 1);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const end = Date.now() - start;
  expect(code).toBe(0);
  expect(seen.map((s) => s.port)).toEqual([1000, 1001]);
  // A left while B was still 4 s of capture time away: well before the end of the run.
  expect(end - seen[0].at).toBeGreaterThan(1500);
  expect(end).toBeGreaterThanOrEqual(3900);
});
