// Shared pieces of the fault tests (issue 9, test/faults/) and the metrics tests: a CLI child
// process with its output collected, synthetic captures whose per-5-tuple packet counts are
// known, the exit summary parsed, and a Prometheus scrape parsed into numbers.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { FlowRecord } from '../../src/record';
import * as g from './pcapgen';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `nprobe-fault-${tag}-`));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Child {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves true when re matches stderr, false on timeout or exit. */
  waitFor(re: RegExp, timeoutMs: number): Promise<boolean>;
  exited: Promise<number | null>;
}

/** Starts the CLI (optionally through a wrapper argv such as `ip netns exec NS`). */
export function startCli(args: string[], wrapper: string[] = []): Child {
  const argv = [...wrapper, process.execPath, CLI, ...args];
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => (out += d));
  proc.stderr!.on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => proc.on('close', (c) => r(c)));
  let done = false;
  void exited.then(() => (done = true));
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(re, timeoutMs) {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        if (re.test(err)) return true;
        if (done) return re.test(err);
        await sleep(25);
      }
      return false;
    },
  };
}

export function jsonFlows(text: string): FlowRecord[] {
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as FlowRecord);
}

export function tupleKey(f: FlowRecord): string {
  const src = f.IPV4_SRC_ADDR ?? f.IPV6_SRC_ADDR;
  const dst = f.IPV4_DST_ADDR ?? f.IPV6_DST_ADDR;
  return `${f.PROTOCOL} ${src}:${f.L4_SRC_PORT} ${dst}:${f.L4_DST_PORT}`;
}

export const pktsOf = (flows: FlowRecord[]): number => flows.reduce((n, f) => n + f.IN_PKTS + f.OUT_PKTS, 0);

/** The numbers of the exit summary (src/stats.ts summaryLines). */
export interface Summary {
  packets: number;
  created: number;
  exported: number;
  evicted: number;
  suppressed: number;
  active: number;
  nonIp: number;
  undecodable: number;
  kernelDrop: number | null;
  kernelRecv: number | null;
  queueDrops: number;
  queueDropPackets: number;
}

export function parseSummary(stderr: string): Summary {
  const p = /^nprobe: (\d+) packets \(/m.exec(stderr);
  const f = /^nprobe: flows: (\d+) created, (\d+) exported \((\d+) early for lack of room(?:, (\d+) suppressed by Lua)?\), (\d+) still active/m.exec(stderr);
  const d = /^nprobe: decode: \d+ IP, (\d+) non-IP, (\d+) undecodable/m.exec(stderr);
  const q = /^nprobe: drops: (?:kernel (\d+) \(of (\d+) received\), interface \d+, )?export queue (\d+)(?: flows \((\d+) packets\))?/m.exec(stderr);
  if (!p || !f || !d || !q) throw new Error(`no summary in stderr:\n${stderr}`);
  return {
    packets: Number(p[1]),
    created: Number(f[1]),
    exported: Number(f[2]),
    evicted: Number(f[3]),
    suppressed: Number(f[4] ?? 0),
    active: Number(f[5]),
    nonIp: Number(d[1]),
    undecodable: Number(d[2]),
    kernelDrop: q[1] !== undefined ? Number(q[1]) : null,
    kernelRecv: q[2] !== undefined ? Number(q[2]) : null,
    queueDrops: Number(q[3]),
    queueDropPackets: Number(q[4] ?? 0),
  };
}

/** "export NAME[ to COLLECTOR]: S flows sent, D dropped" lines of the summary, by NAME. */
export function outputLines(stderr: string): Map<string, { sent: number; dropped: number; line: string }> {
  const m = new Map<string, { sent: number; dropped: number; line: string }>();
  for (const line of stderr.split('\n')) {
    const r = /^nprobe: export (.+?)(?: to \S+)?: (\d+) (?:flows|flow records) sent, (\d+) dropped/.exec(line);
    if (r) m.set(r[1], { sent: Number(r[2]), dropped: Number(r[3]), line });
  }
  return m;
}

export const T0 = 1_600_000_000_000_000;

export interface GenFlow {
  key: string;
  packets: number;
}

/**
 * A capture of `flows` UDP/TCP conversations between 192.0.2.0/24 hosts, `perFlow` packets
 * each (both ways), interleaved over `spanSec` seconds of packet time, plus an optional last
 * packet `tailSec` later. Returns the file and, for each frame, its flow key (probe-style,
 * client first), so a prefix of the file has known per-flow counts.
 */
export function genCapture(o: { flows: number; perFlow: number; spanSec: number; tailSec?: number; file?: string }): { file: string; keys: string[] } {
  const frames: g.Frame[] = [];
  const keys: string[] = [];
  const total = o.flows * o.perFlow;
  for (let i = 0; i < total; i++) {
    const n = i % o.flows;
    const k = Math.floor(i / o.flows);
    const a = `192.0.2.${1 + (n % 200)}`;
    const b = `192.0.2.${201 + (n % 50)}`;
    const sport = 10000 + n;
    const dport = n % 2 ? 53 : 5000 + (n % 97);
    const proto = n % 3 === 0 ? 6 : 17;
    const fwd = k % 2 === 0;
    const payload = Buffer.from(`p${i}`);
    const l4 = proto === 6 ? (fwd ? g.tcp(sport, dport, g.ACK, payload, k + 1) : g.tcp(dport, sport, g.ACK, payload, k + 1)) : fwd ? g.udp(sport, dport, payload) : g.udp(dport, sport, payload);
    const data = fwd ? g.ipv4(a, b, proto, l4) : g.ipv4(b, a, proto, l4);
    frames.push({ tsUs: T0 + Math.floor((i * o.spanSec * 1e6) / total), data });
    keys.push(`${proto} ${a}:${sport} ${b}:${dport}`);
  }
  if (o.tailSec !== undefined) {
    frames.push({ tsUs: T0 + (o.spanSec + o.tailSec) * 1e6, data: g.ipv4('192.0.2.254', '192.0.2.253', 17, g.udp(1, 2, Buffer.from('tail'))) });
    keys.push('17 192.0.2.254:1 192.0.2.253:2');
  }
  return { file: g.writePcap(frames, g.LINKTYPE.RAW, o.file), keys };
}

/** Per-key packet counts of the first n frames. */
export function prefixCounts(keys: string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys.slice(0, n)) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

/** Per-5-tuple packet totals of exported flows (several records of one tuple are summed). */
export function flowCounts(flows: FlowRecord[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const f of flows) m.set(tupleKey(f), (m.get(tupleKey(f)) ?? 0) + f.IN_PKTS + f.OUT_PKTS);
  return m;
}

/** GET a URL on the loopback or in the current namespace; resolves with status and body. */
export function httpGet(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
  });
}

/** Prometheus text format → "name{a=\"b\"}" (labels as written) → value. */
export function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

export async function scrape(port: number, host = '127.0.0.1'): Promise<Map<string, number>> {
  const r = await httpGet(`http://${host}:${port}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.body}`);
  return parseMetrics(r.body);
}

/** A TCP port nobody listens on right now (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = http.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}
