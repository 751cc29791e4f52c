// Test driver for the exporters: runs the library (Probe + createOutputs) the way the CLI does,
// real collectors on loopback (nfcapd from nfdump), a UDP sink that keeps datagrams, a TCP
// line collector, a pcap writer for tshark, and a small NetFlow v9 / IPFIX reader used to
// check the encoders' bytes independently of the code under test.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import yargs from 'yargs';
import { Probe } from '../../src/probe';
import { FlowRecord } from '../../src/record';
import { closeAll, createOutputs, exportOptions, FlowOutput, writeAll } from '../../src/export/outputs';
import * as g from '../helpers/pcapgen';

export const ROOT = path.resolve(__dirname, '..', '..');
export const PCAP = (rel: string): string => path.join(ROOT, 'test', 'pcap', rel);
/** The CLI under test: the built one, or NPROBE_CLI (a wired copy while cli.ts is being changed). */
export const CLI = process.env.NPROBE_CLI ?? path.join(ROOT, 'dist', 'src', 'cli.js');

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `nprobe-export-${tag}-`));
}

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** A free port on the loopback (bound and released: good enough for a test). */
export async function freePort(kind: 'udp' | 'tcp', host = '127.0.0.1'): Promise<number> {
  if (kind === 'tcp') {
    return new Promise((resolve, reject) => {
      const s = net.createServer();
      s.on('error', reject);
      s.listen(0, host, () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
  }
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((r) => s.bind(0, host, () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** Parses export options like the CLI (exportOptions) and adds -i. */
export function parseExportArgs(pcap: string, argv: string[]): Record<string, unknown> {
  const a = exportOptions(yargs(argv).exitProcess(false).fail((m, e) => { throw e ?? new Error(m); })).parseSync() as Record<string, unknown>;
  return { ...a, interface: pcap, 'lifetime-timeout': 120, 'idle-timeout': 30 };
}

export interface DriverRun {
  flows: FlowRecord[];
  outputs: FlowOutput[];
  log: string[];
}

/** Reads a capture with the library and hands every batch to the outputs, as the CLI does. */
export async function runDriver(pcap: string, argv: string[], closeGraceMs = 3000, beforeClose?: () => Promise<void>): Promise<DriverRun> {
  const log: string[] = [];
  const outputs = await createOutputs(parseExportArgs(pcap, argv), (l) => log.push(l), { closeGraceMs });
  const probe = new Probe({ interface: pcap });
  probe.open();
  const flows: FlowRecord[] = [];
  await probe.run((batch) => {
    flows.push(...batch);
    return writeAll(outputs, batch);
  });
  if (beforeClose) await beforeClose();
  await closeAll(outputs);
  return { flows, outputs, log };
}

/** nfcapd on loopback; stop() ends it and returns nfdump's view of what it stored. */
export class Nfcapd {
  private proc: ChildProcess | null = null;
  readonly dir: string;
  out = '';

  constructor(readonly port: number, readonly host = '127.0.0.1') {
    this.dir = tmpDir('nfcapd');
  }

  async start(): Promise<void> {
    const args = ['-b', this.host, '-p', String(this.port), '-w', this.dir, '-t', '3600'];
    if (this.host.includes(':')) args.push('-6');
    const p = spawn('nfcapd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`nfcapd did not start: ${this.out}`)), 10000);
      const on = (b: Buffer): void => {
        this.out += b.toString();
        if (/Startup/.test(this.out)) {
          clearTimeout(t);
          resolve();
        }
      };
      p.stdout?.on('data', on);
      p.stderr?.on('data', on);
      p.on('exit', () => reject(new Error(`nfcapd exited: ${this.out}`)));
    });
  }

  /** Stops the collector (its file is complete then) and reads the records back with nfdump. */
  async stop(): Promise<NfRecord[]> {
    const p = this.proc as ChildProcess;
    await new Promise((r) => setTimeout(r, 300)); // the last datagrams in its socket
    const done = new Promise<void>((r) => p.on('exit', () => r()));
    p.kill('SIGINT');
    await done;
    const r = spawnSync('nfdump', ['-R', this.dir, '-q', '-N', '-6', '-o', 'fmt:%pr,%sa,%sp,%da,%dp,%ipkt,%ibyt,%opkt,%obyt,%ts,%te'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`nfdump failed: ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter((l) => l.split(',').length >= 11) // "No matching flows" and the like
      .map((l) => {
        const c = l.split(',').map((x) => x.trim());
        return { proto: Number(c[0]), src: c[1], sport: Number(c[2]), dst: c[3], dport: Number(c[4]), pkts: Number(c[5]), bytes: Number(c[6]), opkts: Number(c[7]), obytes: Number(c[8]), first: c[9], last: c[10] };
      });
  }

  /** nfcapd's own closing line: "Flows: N, ..., Sequence Errors: N". */
  summary(): { flows: number; sequenceErrors: number } {
    const m = /Flows: (\d+),.*Sequence Errors: (\d+)/.exec(this.out);
    return { flows: m ? Number(m[1]) : -1, sequenceErrors: m ? Number(m[2]) : -1 };
  }
}

export interface NfRecord {
  proto: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  pkts: number;
  bytes: number;
  opkts: number;
  obytes: number;
  first: string;
  last: string;
}

/** What a collector should hold for the probe's flows: unidirectional records, or biflows. */
export function expectedRecords(flows: FlowRecord[], mode: 'uni' | 'bi', v4only = false): string[] {
  const out: string[] = [];
  for (const f of flows) {
    if (v4only && f.IP_PROTOCOL_VERSION !== 4) continue;
    const s = (f.IPV4_SRC_ADDR ?? f.IPV6_SRC_ADDR) as string;
    const d = (f.IPV4_DST_ADDR ?? f.IPV6_DST_ADDR) as string;
    const icmp = f.PROTOCOL === 1 || f.PROTOCOL === 58;
    const sp = icmp ? 0 : f.L4_SRC_PORT;
    // nfdump shows the ICMP type in the destination port column (the code apart)
    const dp = icmp ? f.ICMP_TYPE >> 8 : f.L4_DST_PORT;
    if (mode === 'bi') {
      out.push([f.PROTOCOL, s, sp, d, dp, f.IN_PKTS, f.IN_BYTES, f.OUT_PKTS, f.OUT_BYTES].join(' '));
      continue;
    }
    out.push([f.PROTOCOL, s, sp, d, dp, f.IN_PKTS, f.IN_BYTES, 0, 0].join(' '));
    // ICMP_TYPE is the first packet's: the reverse record carries it too
    if (f.OUT_PKTS > 0) out.push([f.PROTOCOL, d, icmp ? 0 : f.L4_DST_PORT, s, icmp ? dp : f.L4_SRC_PORT, f.OUT_PKTS, f.OUT_BYTES, 0, 0].join(' '));
  }
  return out.sort();
}

export function nfRecords(recs: NfRecord[]): string[] {
  return recs.map((r) => [r.proto, r.src, r.sport, r.dst, r.dport, r.pkts, r.bytes, r.opkts, r.obytes].join(' ')).sort();
}

/** A UDP socket that keeps every datagram (with its source port) until read. */
export class UdpSink {
  readonly sock: dgram.Socket;
  readonly got: Array<{ buf: Buffer; port: number }> = [];

  constructor(readonly host = '127.0.0.1') {
    this.sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    this.sock.on('message', (buf, rinfo) => this.got.push({ buf, port: rinfo.port }));
  }

  async bind(): Promise<number> {
    await new Promise<void>((r) => this.sock.bind(0, this.host, () => r()));
    return this.sock.address().port;
  }

  async settle(n?: number): Promise<void> {
    // Loopback delivery is quick; wait up to 2 s for n datagrams (or 200 ms when n is not known).
    for (let i = 0; i < (n === undefined ? 10 : 100) && (n === undefined || this.got.length < n); i++) await new Promise((r) => setTimeout(r, 20));
  }

  close(): Promise<void> {
    return new Promise((r) => this.sock.close(() => r()));
  }

  /** The datagrams as a raw-IP pcap (127.0.0.1 -> 127.0.0.1) that tshark can decode. */
  toPcap(port: number): string {
    const file = path.join(tmpDir('pcap'), 'export.pcap');
    g.writePcap(
      this.got.map((d, i) => ({ tsUs: 1_700_000_000_000_000 + i * 1000, data: g.ipv4('127.0.0.1', '127.0.0.1', 17, g.udp(d.port, port, d.buf)) })),
      g.LINKTYPE.RAW,
      file,
    );
    return file;
  }
}

/** A TCP server that collects newline-separated text (JSON lines) or raw bytes. */
export class TcpSink {
  private server: net.Server | null = null;
  data = Buffer.alloc(0);
  connections = 0;

  async listen(port: number, host = '127.0.0.1'): Promise<void> {
    const s = net.createServer((c) => {
      this.connections++;
      c.on('data', (b) => (this.data = Buffer.concat([this.data, b])));
      c.on('error', () => undefined);
    });
    this.server = s;
    await new Promise<void>((r) => s.listen(port, host, () => r()));
  }

  lines(): unknown[] {
    return this.data
      .toString('utf8')
      .split('\n')
      .filter((l) => l)
      .map((l) => JSON.parse(l));
  }

  close(): Promise<void> {
    const s = this.server;
    this.server = null;
    return new Promise((r) => (s ? s.close(() => r()) : r()));
  }
}

/** tshark's verbose decoding of cflow (NetFlow/IPFIX) on the given port. */
export function tsharkDecode(pcap: string, port: number): { text: string; status: number | null } {
  const r = spawnSync('tshark', ['-r', pcap, '-d', `udp.port==${port},cflow`, '-V'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { text: r.stdout, status: r.status };
}

// ---------------------------------------------------------------------------------------
// A minimal independent reader of NetFlow v9 / IPFIX messages (RFC 3954 / RFC 7011), to
// check the encoders byte by byte.

export interface FieldSpec {
  id: number;
  len: number;
  pen: number;
}

export interface ParsedMessage {
  version: number;
  count: number; // v9 header count
  length: number; // IPFIX header length
  sequence: number;
  sysUptime: number;
  exportSecs: number;
  domain: number;
  templates: Map<number, FieldSpec[]>;
  optionTemplates: Map<number, { scope: FieldSpec[]; fields: FieldSpec[] }>;
  /** Data records by set id, each as the raw field values. */
  data: Array<{ setId: number; values: Buffer[] }>;
  sets: Array<{ id: number; length: number }>;
}

/** Decodes one message; templates seen in earlier messages can be passed in. */
export function parseMessage(buf: Buffer, known: Map<number, FieldSpec[]> = new Map()): ParsedMessage {
  const version = buf.readUInt16BE(0);
  const ipfix = version === 10;
  const m: ParsedMessage = {
    version,
    count: ipfix ? 0 : buf.readUInt16BE(2),
    length: ipfix ? buf.readUInt16BE(2) : buf.length,
    sysUptime: ipfix ? 0 : buf.readUInt32BE(4),
    exportSecs: ipfix ? buf.readUInt32BE(4) : buf.readUInt32BE(8),
    sequence: ipfix ? buf.readUInt32BE(8) : buf.readUInt32BE(12),
    domain: ipfix ? buf.readUInt32BE(12) : buf.readUInt32BE(16),
    templates: known,
    optionTemplates: new Map(),
    data: [],
    sets: [],
  };
  let o = ipfix ? 16 : 20;
  while (o + 4 <= buf.length) {
    const id = buf.readUInt16BE(o);
    const len = buf.readUInt16BE(o + 2);
    if (len < 4 || o + len > buf.length) throw new Error(`bad set length ${len} at ${o}`);
    m.sets.push({ id, length: len });
    const end = o + len;
    let p = o + 4;
    if (id === (ipfix ? 2 : 0)) {
      while (p + 4 <= end) {
        const tid = buf.readUInt16BE(p);
        const n = buf.readUInt16BE(p + 2);
        p += 4;
        const fields: FieldSpec[] = [];
        for (let i = 0; i < n; i++) {
          let fid = buf.readUInt16BE(p);
          const flen = buf.readUInt16BE(p + 2);
          p += 4;
          let pen = 0;
          if (ipfix && fid & 0x8000) {
            fid &= 0x7fff;
            pen = buf.readUInt32BE(p);
            p += 4;
          }
          fields.push({ id: fid, len: flen, pen });
        }
        m.templates.set(tid, fields);
      }
    } else if (ipfix && id === 3) {
      const tid = buf.readUInt16BE(p);
      const n = buf.readUInt16BE(p + 2);
      const scopeN = buf.readUInt16BE(p + 4);
      p += 6;
      const all: FieldSpec[] = [];
      for (let i = 0; i < n; i++) {
        all.push({ id: buf.readUInt16BE(p), len: buf.readUInt16BE(p + 2), pen: 0 });
        p += 4;
      }
      m.optionTemplates.set(tid, { scope: all.slice(0, scopeN), fields: all.slice(scopeN) });
      m.templates.set(tid, all);
    } else if (id >= 256) {
      const t = m.templates.get(id);
      if (!t) throw new Error(`data set ${id} without template`);
      while (p < end) {
        const values: Buffer[] = [];
        const start = p;
        for (const f of t) {
          let l = f.len;
          if (l === 65535) {
            l = buf[p++];
            if (l === 255) {
              l = buf.readUInt16BE(p);
              p += 2;
            }
          }
          values.push(buf.subarray(p, p + l));
          p += l;
        }
        if (p > end) throw new Error('record runs past its set');
        m.data.push({ setId: id, values });
        const minLen = t.reduce((a, f) => a + (f.len === 65535 ? 1 : f.len), 0);
        if (end - p < minLen || p === start) break; // padding
      }
    }
    o = end;
  }
  if (ipfix && m.length !== buf.length) throw new Error(`IPFIX length ${m.length} != datagram ${buf.length}`);
  return m;
}

export function runCli(args: string[], opts: { env?: Record<string, string> } = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: 100_000,
    env: { ...process.env, NODE_OPTIONS: '', ...(opts.env ?? {}) },
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
