// Runs the probe CLI (the built dist, as `npm test` does after `pretest`) on a capture and
// returns what it did: exit status/signal, raw stdout/stderr, the JSON flow records (one
// per stdout line) and stderr split into lines.
//
// CLI contract used here: `node dist/src/cli.js -i <capture> -n none --json-out - [...]`
// prints one JSON object per flow per line on stdout; everything else goes to stderr, each
// line prefixed "nprobe: " ("nprobe: error: ...", "nprobe: warning: ..."). Exit 0 on success
// (also for a capture cut short mid-record), 1 for unreadable input / bad filter / unknown
// interface, 2 for usage errors.

import type { FlowRecord } from '../../src/record';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { canonicalAddr, ConvProto, Endpoint, TupleCounts } from './conv';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
/** The addon the CLI loads: $NPROBE_NATIVE_ADDON (npm run test:asan) or the release build. */
export const NATIVE = process.env.NPROBE_NATIVE_ADDON ?? path.join(ROOT, 'build', 'Release', 'nprobe_native.node');
export const PCAP_DIR = path.join(ROOT, 'test', 'pcap');

const MAX_BUFFER = 512 * 1024 * 1024;
const TIMEOUT_MS = 100_000;

/** One exported flow record as printed by --json-out (the library's own type). */
export type ProbeFlow = FlowRecord;

export interface ProbeRun {
  args: string[];
  /** exit code, or null when killed by a signal */
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** stderr split into non-empty lines */
  stderrLines: string[];
  /** parsed stdout lines */
  flows: ProbeFlow[];
  /** stdout lines that were not JSON objects */
  badLines: string[];
  /** spawn failure (node missing, timeout...) */
  error?: string;
  ms: number;
}

/** True when the probe has been built (tsc output and native addon). */
export function probeBuilt(): boolean {
  return fs.existsSync(CLI) && fs.existsSync(NATIVE);
}

/** Absolute path of a corpus capture given as "<proto>/<file>". */
export function capturePath(rel: string): string {
  return path.isAbsolute(rel) ? rel : path.join(PCAP_DIR, rel);
}

export function probeArgs(capture: string, extra: string[] = []): string[] {
  return ['-i', capturePath(capture), '-n', 'none', '--json-out', '-', ...extra];
}

function finish(args: string[], status: number | null, signal: string | null, stdout: string, stderr: string, ms: number, error?: string): ProbeRun {
  const flows: ProbeFlow[] = [];
  const badLines: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const v = JSON.parse(line);
      if (v && typeof v === 'object' && !Array.isArray(v)) flows.push(v as ProbeFlow);
      else badLines.push(line);
    } catch {
      badLines.push(line);
    }
  }
  const stderrLines = stderr.split('\n').filter((l) => l.trim() !== '');
  return { args, status, signal, stdout, stderr, stderrLines, flows, badLines, error, ms };
}

/** Run the CLI with raw arguments (synchronously). */
export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): ProbeRun {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    maxBuffer: MAX_BUFFER,
    timeout: TIMEOUT_MS,
    env: { ...process.env, NODE_OPTIONS: '', ...(opts.env ?? {}) },
  });
  return finish(args, r.status, r.signal, r.stdout ?? '', r.stderr ?? '', Date.now() - t0, r.error ? String(r.error) : undefined);
}

/** Run the CLI with raw arguments (asynchronously, so that several probes run at once). */
export function runCliAsync(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<ProbeRun> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, NODE_OPTIONS: '', ...(opts.env ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let error: string | undefined;
    const timer = setTimeout(() => {
      error = `timeout after ${TIMEOUT_MS} ms`;
      child.kill('SIGKILL');
    }, TIMEOUT_MS);
    child.stdout.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_BUFFER) {
        error = 'stdout larger than maxBuffer';
        child.kill('SIGKILL');
      } else out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      error = String(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(finish(args, code, signal, Buffer.concat(out).toString('utf8'), Buffer.concat(err).toString('utf8'), Date.now() - t0, error));
    });
  });
}

/** Run the probe on a capture: `-i <capture> -n none --json-out - [extra...]`. */
export function runProbe(capture: string, extra: string[] = [], opts: { env?: Record<string, string> } = {}): ProbeRun {
  return runCli(probeArgs(capture, extra), opts);
}

export function runProbeAsync(capture: string, extra: string[] = []): Promise<ProbeRun> {
  return runCliAsync(probeArgs(capture, extra));
}

/** Map with bounded concurrency (one probe per core by default). */
export async function mapLimit<T, R>(items: T[], fn: (item: T) => Promise<R>, limit = Math.max(1, os.cpus().length)): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------
// Flow record helpers

export function flowProto(f: ProbeFlow): ConvProto | null {
  return f.PROTOCOL === 6 ? 'tcp' : f.PROTOCOL === 17 ? 'udp' : null;
}

export function flowSrc(f: ProbeFlow): Endpoint {
  const a = f.IP_PROTOCOL_VERSION === 6 ? f.IPV6_SRC_ADDR : f.IPV4_SRC_ADDR;
  if (typeof a !== 'string') throw new Error(`flow ${f.FLOW_ID} has no source address: ${JSON.stringify(f)}`);
  return { addr: canonicalAddr(a), port: f.L4_SRC_PORT };
}

export function flowDst(f: ProbeFlow): Endpoint {
  const a = f.IP_PROTOCOL_VERSION === 6 ? f.IPV6_DST_ADDR : f.IPV4_DST_ADDR;
  if (typeof a !== 'string') throw new Error(`flow ${f.FLOW_ID} has no destination address: ${JSON.stringify(f)}`);
  return { addr: canonicalAddr(a), port: f.L4_DST_PORT };
}

/**
 * True for a flow carried inside a GTP-U tunnel: such a record names its tunnel's flow in
 * OUTER_FLOW_ID (GTP-C records carry TEID fields of their own, so names alone don't tell).
 */
export function isTunnelled(f: ProbeFlow): boolean {
  return typeof f.OUTER_FLOW_ID === 'number' && f.OUTER_FLOW_ID > 0;
}

/** Stack trace or uncaught exception text in stderr (what the probe must never print). */
export function crashEvidence(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter(
      (l) =>
        /^\s{4}at\s/.test(l) ||
        /^\s*at .*\(.*:\d+:\d+\)\s*$/.test(l) ||
        /^(Uncaught )?([A-Z][A-Za-z]*)?Error(\s\[[A-Z_]+\])?:/.test(l) ||
        /^node:internal/.test(l) ||
        /Segmentation fault|Aborted|core dumped|terminate called/.test(l),
    );
}

/** Count the packet records of a pcap or pcapng file (for plausibility checks). Returns null if unknown. */
export function countCaptureRecords(file: string): number | null {
  const buf = fs.readFileSync(file);
  if (buf.length < 24) return null;
  const magicLE = buf.readUInt32LE(0);
  if (magicLE === 0x0a0d0d0a) {
    // pcapng: count Enhanced / Simple / obsolete Packet Blocks
    let off = 0;
    let le = true;
    let n = 0;
    while (off + 12 <= buf.length) {
      const typeLE = buf.readUInt32LE(off);
      if (typeLE === 0x0a0d0d0a) {
        const bom = buf.readUInt32LE(off + 8);
        le = bom === 0x1a2b3c4d;
      }
      const type = le ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
      const len = le ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off + 4);
      if (len < 12 || off + len > buf.length) break;
      if (type === 6 || type === 3 || type === 2) n++;
      off += len;
    }
    return n;
  }
  let le: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) le = true;
  else if (buf.readUInt32BE(0) === 0xa1b2c3d4 || buf.readUInt32BE(0) === 0xa1b23c4d) le = false;
  else return null;
  const inclAt = pcapInclLenOffset(buf, le);
  let off = 24;
  let n = 0;
  while (off + 16 <= buf.length) {
    const incl = le ? buf.readUInt32LE(off + inclAt) : buf.readUInt32BE(off + inclAt);
    if (off + 16 + incl > buf.length) break;
    n++;
    off += 16 + incl;
  }
  return n;
}

/**
 * Offset of the captured-length field in a pcap record header: 8, except in files of format
 * version < 2.3, where (as libpcap and wiretap know) the captured and original lengths are
 * stored the other way round.
 */
function pcapInclLenOffset(buf: Buffer, le: boolean): number {
  const major = le ? buf.readUInt16LE(4) : buf.readUInt16BE(4);
  const minor = le ? buf.readUInt16LE(6) : buf.readUInt16BE(6);
  return major < 2 || (major === 2 && minor < 3) ? 12 : 8;
}

/** Byte offsets of the pcap records of a classic pcap file: [start, end) of each record (header included). */
export function pcapRecordOffsets(file: string): Array<[number, number]> {
  const buf = fs.readFileSync(file);
  const magicLE = buf.readUInt32LE(0);
  let le: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) le = true;
  else if (buf.readUInt32BE(0) === 0xa1b2c3d4 || buf.readUInt32BE(0) === 0xa1b23c4d) le = false;
  else throw new Error(`${file} is not a classic pcap file`);
  const inclAt = pcapInclLenOffset(buf, le);
  const out: Array<[number, number]> = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const incl = le ? buf.readUInt32LE(off + inclAt) : buf.readUInt32BE(off + inclAt);
    if (off + 16 + incl > buf.length) break;
    out.push([off, off + 16 + incl]);
    off += 16 + incl;
  }
  return out;
}

/** Per-5-tuple packet totals of the probe's TCP/UDP flows (all records of a 5-tuple summed). */
export function probeTupleCounts(flows: ProbeFlow[]): TupleCounts {
  const tc = new TupleCounts();
  for (const f of flows) {
    const proto = flowProto(f);
    if (!proto) continue;
    const src = flowSrc(f);
    const dst = flowDst(f);
    tc.add(proto, src, dst, f.IN_PKTS);
    tc.add(proto, dst, src, f.OUT_PKTS);
  }
  return tc;
}

/** Packet accounting printed by the probe on stderr at the end of a capture-file run. */
export interface ProbeSummary {
  packets: number;
  ip: number;
  nonIp: number;
  undecodable: number;
  fragments: number;
  reassembled: number;
  fragmentsWithoutFlow: number;
  tunnelled: number;
}

/**
 * Parse the end-of-run summary lines, e.g.
 *   nprobe: 8 packets (4.62 KB) from x.pcap in 0.00 s: ...
 *   nprobe: decode: 8 IP, 0 non-IP, 0 undecodable, 4 fragments (1 datagrams reassembled, 1 fragment packets without a flow), 0 tunnelled
 * Returns null when they are not there (if the wording changes, update this parser).
 */
export function parseSummary(stderr: string): ProbeSummary | null {
  const p = /^nprobe: (\d+) packets\b/m.exec(stderr);
  const d =
    /^nprobe: decode: (\d+) IP, (\d+) non-IP, (\d+) undecodable, (\d+) fragments \((\d+) datagrams reassembled, (\d+) fragment packets without a flow\), (\d+) tunnelled/m.exec(
      stderr,
    );
  if (!p || !d) return null;
  const n = d.slice(1).map(Number);
  return {
    packets: Number(p[1]),
    ip: n[0],
    nonIp: n[1],
    undecodable: n[2],
    fragments: n[3],
    reassembled: n[4],
    fragmentsWithoutFlow: n[5],
    tunnelled: n[6],
  };
}

/**
 * Packet accounting of one run: every packet read from the file is in exactly one flow
 * outside tunnels, or counted as non-IP, undecodable, or a fragment without a flow.
 * Returns the list of violations (empty when the books balance).
 */
export function accountingProblems(run: ProbeRun, captureRecords: number | null): string[] {
  const s = parseSummary(run.stderr);
  if (!s) return ['no packet summary on stderr (nprobe: N packets ... / nprobe: decode: ...): update parseSummary() if its wording changed'];
  const problems: string[] = [];
  if (captureRecords !== null && s.packets !== captureRecords) problems.push(`probe read ${s.packets} packets, the file has ${captureRecords} complete records`);
  const inFlows = run.flows.filter((f) => !isTunnelled(f)).reduce((sum, f) => sum + f.IN_PKTS + f.OUT_PKTS, 0);
  const accounted = inFlows + s.nonIp + s.undecodable + s.fragmentsWithoutFlow;
  if (accounted !== s.packets) {
    problems.push(
      `${inFlows} packets in flows outside tunnels + ${s.nonIp} non-IP + ${s.undecodable} undecodable + ${s.fragmentsWithoutFlow} fragments without a flow = ${accounted}, but ${s.packets} packets read`,
    );
  }
  return problems;
}

/** Every capture file below dir (default test/pcap), sorted. */
export function allCaptures(dir: string = PCAP_DIR): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...allCaptures(p));
    else if (/\.(pcap|pcapng|cap)$/.test(e.name)) out.push(p);
  }
  return out.sort();
}
