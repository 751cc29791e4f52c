/**
 * Live capture: the probe captures real traffic on a veth end inside a network namespace,
 * with tcpdump on the same interface as an independent oracle.
 *
 *   ns A (192.0.2.1, 2001:db8::1): probe, tcpdump, curl, UDP sender, ping
 *   ns B (192.0.2.2, 2001:db8::2): python3 http.server on 8080 (v4 and v6), UDP sink on 9999
 *
 * Every packet stays inside the two namespaces this file creates and removes.
 * Needs root (namespaces, packet capture) and curl/tcpdump/tshark/python3/ss; when they are
 * missing the suite is reported as skipped with the reason, except under CI, where missing
 * requirements are a failure. A missing probe build (dist/src/cli.js) is always a failure.
 *
 * Environment: NPROBE_CLI=path tests another build of the CLI; NPROBE_LIVE_KEEP=1 keeps the
 * per-run directory (oracle.pcap, flows.json) and prints where it is.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ADDR, Background, createPair, haveCommand, NetnsPair, netnsUnavailableReason, quietLink } from '../helpers/netns';

const ROOT = path.resolve(__dirname, '..', '..');
// NPROBE_CLI overrides the probe under test (e.g. an installed build).
const CLI = process.env.NPROBE_CLI ? path.resolve(process.env.NPROBE_CLI) : path.join(ROOT, 'dist', 'src', 'cli.js');
const NODE = process.execPath;
const PY = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const HTTP_PORT = 8080;
const UDP_PORT = 9999;
const UDP_SRC_PORT = 40000;
const UDP_PAYLOAD = 100;
const BODY_SIZE = 3000; // above one MSS (a veth may still carry it as one GSO packet; both taps see the same)
const N_CURL4 = 3;
const N_CURL6 = 2;
const N_UDP = 5;
const N_PING = 3;

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const SYN = 0x02;
const ACK = 0x10;

/** Keys every exported flow must carry (address keys checked per IP version). */
const COMMON_KEYS = [
  'FLOW_ID',
  'IP_PROTOCOL_VERSION',
  'L4_SRC_PORT',
  'L4_DST_PORT',
  'PROTOCOL',
  'IN_PKTS',
  'IN_BYTES',
  'OUT_PKTS',
  'OUT_BYTES',
  'FIRST_SWITCHED',
  'LAST_SWITCHED',
  'FLOW_START_MICROSECONDS',
  'FLOW_END_MICROSECONDS',
  'FLOW_DURATION_MILLISECONDS',
  'TCP_FLAGS',
  'CLIENT_TCP_FLAGS',
  'SERVER_TCP_FLAGS',
  'SRC_VLAN',
  'IN_SRC_MAC',
  'OUT_DST_MAC',
  'ICMP_TYPE',
  'FLOW_END_REASON',
  'L7_PROTO',
  'L7_PROTO_NAME',
];

type Flow = Record<string, unknown>;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// Requirements

function unavailable(): string | null {
  const r = netnsUnavailableReason();
  if (r) return r;
  const missing = ['curl', 'tcpdump', 'tshark', 'ss', PY].filter((c) => !haveCommand(c));
  return missing.length ? `needs ${missing.join(', ')} installed` : null;
}

// ---------------------------------------------------------------------------------------
// Oracle: per-direction packet/byte/flag counts from tcpdump's capture, read with tshark.

interface DirStats {
  pkts: number;
  bytes: number; // IP-layer bytes (IPv4 total length, IPv6 payload length + 40)
  flags: number; // OR of TCP flags
  first: number; // epoch seconds (float)
  last: number;
  icmpTypes: number[]; // type*256+code of each ICMP packet, in order
}

type Oracle = Map<string, DirStats>;

function dirKey(proto: number, src: string, sport: number | string, dst: string, dport: number | string): string {
  return `${proto}|${src}|${sport}|${dst}|${dport}`;
}

function readOracle(pcap: string): { oracle: Oracle; packets: number } {
  const fields = [
    'frame.time_epoch',
    'ip.src',
    'ip.dst',
    'ipv6.src',
    'ipv6.dst',
    'ip.proto',
    'ipv6.nxt',
    'ip.len',
    'ipv6.plen',
    'tcp.srcport',
    'tcp.dstport',
    'udp.srcport',
    'udp.dstport',
    'tcp.flags',
    'icmp.type',
    'icmp.code',
  ];
  const args = ['-r', pcap, '-n', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=f'];
  for (const f of fields) args.push('-e', f);
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`tshark failed on ${pcap}: ${r.stderr}`);
  const oracle: Oracle = new Map();
  let packets = 0;
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    const c = line.split('\t');
    const [ts, s4, d4, s6, d6, p4, p6, len4, plen6, tsp, tdp, usp, udp, tflags, itype, icode] = c;
    let src: string, dst: string, proto: number, bytes: number;
    if (s4) {
      src = s4;
      dst = d4;
      proto = Number(p4);
      bytes = Number(len4);
    } else if (s6) {
      src = s6;
      dst = d6;
      proto = Number(p6);
      bytes = Number(plen6) + 40;
    } else {
      continue; // ARP etc.
    }
    packets++;
    let sport = '';
    let dport = '';
    if (proto === TCP) {
      sport = tsp;
      dport = tdp;
    } else if (proto === UDP) {
      sport = usp;
      dport = udp;
    }
    const k = dirKey(proto, src, sport, dst, dport);
    let st = oracle.get(k);
    if (!st) {
      st = { pkts: 0, bytes: 0, flags: 0, first: Number(ts), last: Number(ts), icmpTypes: [] };
      oracle.set(k, st);
    }
    st.pkts++;
    st.bytes += bytes;
    if (proto === TCP && tflags) st.flags |= parseInt(tflags, 16);
    if (proto === ICMP && itype !== '') st.icmpTypes.push(Number(itype) * 256 + Number(icode || 0));
    st.first = Math.min(st.first, Number(ts));
    st.last = Math.max(st.last, Number(ts));
  }
  return { oracle, packets };
}

// ---------------------------------------------------------------------------------------
// Probe output

function srcAddr(f: Flow): string {
  return String(Number(f.IP_PROTOCOL_VERSION) === 6 ? f.IPV6_SRC_ADDR : f.IPV4_SRC_ADDR);
}
function dstAddr(f: Flow): string {
  return String(Number(f.IP_PROTOCOL_VERSION) === 6 ? f.IPV6_DST_ADDR : f.IPV4_DST_ADDR);
}

function parseJsonLines(text: string): { flows: Flow[]; errors: string[] } {
  const flows: Flow[] = [];
  const errors: string[] = [];
  const lines = text.split('\n');
  if (text.length > 0 && !text.endsWith('\n')) errors.push('output does not end with a newline');
  lines.forEach((line, i) => {
    if (line === '') {
      if (i !== lines.length - 1) errors.push(`line ${i + 1} is empty`);
      return;
    }
    try {
      const v = JSON.parse(line);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) errors.push(`line ${i + 1} is not a JSON object`);
      else flows.push(v as Flow);
    } catch (e) {
      errors.push(`line ${i + 1} is not JSON (${(e as Error).message}): ${line.slice(0, 200)}`);
    }
  });
  return { flows, errors };
}

function flowsBetween(
  flows: Flow[],
  proto: number,
  src: string,
  sport: number | null,
  dst: string,
  dport: number | null,
): Flow[] {
  return flows.filter(
    (f) =>
      Number(f.PROTOCOL) === proto &&
      srcAddr(f) === src &&
      dstAddr(f) === dst &&
      (sport === null || Number(f.L4_SRC_PORT) === sport) &&
      (dport === null || Number(f.L4_DST_PORT) === dport),
  );
}

/**
 * Compare one probe flow with the oracle's two directions; returns a list of mismatches.
 * `fwd` is client→server (IN_*), `rev` server→client (OUT_*).
 */
function compareWithOracle(label: string, f: Flow, fwd: DirStats, rev: DirStats | undefined, pair: NetnsPair): string[] {
  const p: string[] = [];
  const want = (name: string, got: unknown, exp: number | string) => {
    const ok = typeof exp === 'number' ? Number(got) === exp : String(got).toLowerCase() === exp.toLowerCase();
    if (!ok) p.push(`${label}: ${name} = ${JSON.stringify(got)}, tcpdump says ${JSON.stringify(exp)}`);
  };
  const revPkts = rev?.pkts ?? 0;
  const revBytes = rev?.bytes ?? 0;
  want('IN_PKTS', f.IN_PKTS, fwd.pkts);
  want('OUT_PKTS', f.OUT_PKTS, revPkts);
  want('IN_BYTES', f.IN_BYTES, fwd.bytes);
  want('OUT_BYTES', f.OUT_BYTES, revBytes);
  want('SRC_VLAN', f.SRC_VLAN, 0);
  // The client's frames go from A's MAC to B's MAC.
  want('IN_SRC_MAC', f.IN_SRC_MAC, pair.macA);
  want('OUT_DST_MAC', f.OUT_DST_MAC, pair.macB);

  // Times: packet timestamps, microseconds. Both taps see the same packets, so the first
  // and last timestamps agree with tcpdump's to well under 50 ms.
  const first = Math.min(fwd.first, rev?.first ?? Infinity);
  const last = Math.max(fwd.last, rev?.last ?? -Infinity);
  const start = Number(f.FLOW_START_MICROSECONDS);
  const end = Number(f.FLOW_END_MICROSECONDS);
  if (!(Math.abs(start - first * 1e6) < 50_000)) {
    p.push(`${label}: FLOW_START_MICROSECONDS ${f.FLOW_START_MICROSECONDS} vs first packet ${Math.round(first * 1e6)}`);
  }
  if (!(Math.abs(end - last * 1e6) < 50_000)) {
    p.push(`${label}: FLOW_END_MICROSECONDS ${f.FLOW_END_MICROSECONDS} vs last packet ${Math.round(last * 1e6)}`);
  }
  if (!(end >= start)) p.push(`${label}: FLOW_END_MICROSECONDS < FLOW_START_MICROSECONDS`);
  const dur = Number(f.FLOW_DURATION_MILLISECONDS);
  if (!(Math.abs(dur - (end - start) / 1000) <= 1)) {
    p.push(`${label}: FLOW_DURATION_MILLISECONDS ${f.FLOW_DURATION_MILLISECONDS} vs (end-start)/1000 = ${(end - start) / 1000}`);
  }
  const fs_ = Number(f.FIRST_SWITCHED);
  const ls_ = Number(f.LAST_SWITCHED);
  if (!(Math.abs(fs_ - start / 1e6) <= 1)) p.push(`${label}: FIRST_SWITCHED ${f.FIRST_SWITCHED} is not the start time in epoch seconds`);
  if (!(Math.abs(ls_ - end / 1e6) <= 1)) p.push(`${label}: LAST_SWITCHED ${f.LAST_SWITCHED} is not the end time in epoch seconds`);
  return p;
}

// ---------------------------------------------------------------------------------------
// One scenario: servers in B, tcpdump + probe + clients in A, clean stop, parse everything.

interface Scenario {
  tmp: string;
  probeArgs: string[];
  exit: { code: number | null; signal: NodeJS.Signals | null };
  stopTimedOut: boolean;
  sawCapturing: boolean;
  stderr: string;
  stderrBeforeStop: string;
  stdout: string;
  runMs: number;
  jsonText: string;
  flows: Flow[];
  jsonErrors: string[];
  oracle: Oracle;
  oraclePackets: number;
  curl4Ports: number[];
  curl6Ports: number[];
  pingRequests: number;
}

const UDP_SINK = [
  'import socket,sys,time',
  `s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind((sys.argv[1],${UDP_PORT}))`,
  'print("ready",flush=True); s.settimeout(1.0); end=time.time()+60',
  'while time.time()<end:',
  '  try: s.recvfrom(65535)',
  '  except socket.timeout: pass',
].join('\n');

const UDP_SEND = [
  'import socket,sys,time',
  `s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind((sys.argv[1],${UDP_SRC_PORT}))`,
  `for i in range(${N_UDP}):`,
  `  s.sendto(bytes([65+i])*${UDP_PAYLOAD},(sys.argv[2],${UDP_PORT})); time.sleep(0.05)`,
].join('\n');

// Fallback when iputils ping is not installed: the same echo requests from a raw socket.
const PING_PY = [
  'import socket,struct,sys,time,os',
  'def cs(b):',
  '  b=b+b"\\0"*(len(b)&1); t=sum(struct.unpack("!%dH"%(len(b)//2),b)); t=(t>>16)+(t&0xffff); t+=t>>16',
  '  return ~t&0xffff',
  's=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP); s.settimeout(2)',
  'ident=os.getpid()&0xffff; data=b"nprobe-live-ping"*3; got=0',
  'for seq in range(1,int(sys.argv[2])+1):',
  '  h=struct.pack("!BBHHH",8,0,0,ident,seq); c=cs(h+data)',
  '  s.sendto(struct.pack("!BBHHH",8,0,c,ident,seq)+data,(sys.argv[1],0))',
  '  t=time.time()',
  '  while time.time()-t<2:',
  '    r=s.recv(2048); ihl=(r[0]&15)*4',
  '    if r[ihl]==0 and struct.unpack("!H",r[ihl+4:ihl+6])[0]==ident: got+=1; break',
  '  time.sleep(0.2)',
  'sys.exit(0 if got==int(sys.argv[2]) else 1)',
].join('\n');

async function runScenario(pair: NetnsPair, tmp: string, probeArgs: string[], minRunMs: number): Promise<Scenario> {
  const www = path.join(tmp, 'www');
  fs.mkdirSync(www);
  fs.writeFileSync(path.join(www, 'index.html'), Buffer.alloc(BODY_SIZE, 'x'));
  const pcap = path.join(tmp, 'oracle.pcap');
  const jsonOut = path.join(tmp, 'flows.json');

  // Servers in B.
  pair.spawnIn(pair.nsB, [PY, '-m', 'http.server', String(HTTP_PORT), '--bind', ADDR.b4], { cwd: www });
  pair.spawnIn(pair.nsB, [PY, '-m', 'http.server', String(HTTP_PORT), '--bind', ADDR.b6], { cwd: www });
  const sink = pair.spawnIn(pair.nsB, [PY, '-u', '-c', UDP_SINK, ADDR.b4]);
  await pair.waitForTcpListen(pair.nsB, HTTP_PORT, ADDR.b4);
  await pair.waitForTcpListen(pair.nsB, HTTP_PORT, ADDR.b6);
  if (!(await sink.waitForOutput(/ready/, 10_000, 'stdout'))) throw new Error(`UDP sink did not start: ${sink.stderr()}`);

  // Oracle: tcpdump on the same veth end. -Z root: it must be able to write into our 0700 tmp dir.
  const tcpdump = pair.spawnIn(pair.nsA, ['tcpdump', '-i', pair.vethA, '-nn', '-U', '-Z', 'root', '-w', pcap], {
    name: 'tcpdump',
  });
  if (!(await tcpdump.waitForOutput(/listening on/, 10_000))) {
    throw new Error(`tcpdump did not start: ${tcpdump.stderr()}`);
  }

  // The probe.
  const probe: Background = pair.spawnIn(
    pair.nsA,
    [NODE, CLI, '-i', pair.vethA, '-n', 'none', '--json-out', jsonOut, ...probeArgs],
    { name: 'probe' },
  );
  const startedAt = Date.now();
  // Wait until it says it is capturing; tolerate other wording by falling back to a fixed wait.
  const sawCapturing = await probe.waitForOutput(/capturing/i, 5_000);
  if (probe.hasExited()) {
    const st = await probe.exited;
    throw new Error(`probe exited before traffic (code ${st.code}, signal ${st.signal}); stderr:\n${probe.stderr()}`);
  }
  if (!sawCapturing) await sleep(Math.max(0, 1_000 - (Date.now() - startedAt)));
  await sleep(300);

  // Traffic, all from A to B.
  const curl = (url: string, v6: boolean): number => {
    const args = ['curl', '-sS', '-o', '/dev/null', '--max-time', '5', '-w', '%{http_code} %{size_download} %{local_port}'];
    if (v6) args.push('-g');
    const r = pair.exec(pair.nsA, [...args, url]);
    const m = /^(\d+) (\d+) (\d+)$/.exec(r.stdout.trim());
    if (r.status !== 0 || !m || m[1] !== '200' || Number(m[2]) !== BODY_SIZE) {
      throw new Error(`curl ${url} failed (${r.status}): ${r.stdout} ${r.stderr}`);
    }
    return Number(m[3]);
  };
  const curl4Ports: number[] = [];
  const curl6Ports: number[] = [];
  for (let i = 0; i < N_CURL4; i++) {
    curl4Ports.push(curl(`http://${ADDR.b4}:${HTTP_PORT}/`, false));
    await sleep(100);
  }
  for (let i = 0; i < N_CURL6; i++) {
    curl6Ports.push(curl(`http://[${ADDR.b6}]:${HTTP_PORT}/`, true));
    await sleep(100);
  }
  const u = pair.exec(pair.nsA, [PY, '-c', UDP_SEND, ADDR.a4, ADDR.b4]);
  if (u.status !== 0) throw new Error(`UDP sender failed: ${u.stderr}`);
  const ping = haveCommand('ping')
    ? pair.exec(pair.nsA, ['ping', '-n', '-c', String(N_PING), '-i', '0.2', '-W', '2', ADDR.b4])
    : pair.exec(pair.nsA, [PY, '-c', PING_PY, ADDR.b4, String(N_PING)]);
  if (ping.status !== 0) throw new Error(`ping failed: ${ping.stdout} ${ping.stderr}`);

  // Keep the run long enough for periodic stats, then let the last packets reach both taps.
  while (Date.now() - startedAt < minRunMs) await sleep(100);
  await sleep(500);
  if (probe.hasExited()) {
    const st = await probe.exited;
    throw new Error(`probe died during the run (code ${st.code}, signal ${st.signal}); stderr:\n${probe.stderr()}`);
  }

  // Clean stop: SIGINT, must exit by itself.
  const stderrBeforeStop = probe.stderr();
  const runMs = Date.now() - startedAt;
  probe.proc.kill('SIGINT');
  let stopTimedOut = false;
  let stopTimer: NodeJS.Timeout | undefined;
  const t = await Promise.race([
    probe.exited.then(() => 'exit'),
    new Promise<string>((r) => {
      stopTimer = setTimeout(() => r('timeout'), 15_000);
    }),
  ]);
  if (stopTimer) clearTimeout(stopTimer);
  if (t === 'timeout') {
    stopTimedOut = true;
    await probe.stop('SIGKILL', 1000);
  }
  const exit = await probe.exited;
  await tcpdump.stop('SIGINT', 5000);

  const jsonText = fs.existsSync(jsonOut) ? fs.readFileSync(jsonOut, 'utf8') : '';
  const { flows, errors } = parseJsonLines(jsonText);
  const { oracle, packets } = readOracle(pcap);
  const pingFwd = oracle.get(dirKey(ICMP, ADDR.a4, '', ADDR.b4, ''));
  return {
    tmp,
    probeArgs,
    exit,
    stopTimedOut,
    sawCapturing,
    stderr: probe.stderr(),
    stderrBeforeStop,
    stdout: probe.stdout(),
    runMs,
    jsonText,
    flows,
    jsonErrors: errors,
    oracle,
    oraclePackets: packets,
    curl4Ports,
    curl6Ports,
    pingRequests: pingFwd?.icmpTypes.filter((x) => x === 8 * 256).length ?? 0,
  };
}

function describeScenario(sc: Scenario): string {
  return `probe ${sc.probeArgs.join(' ')}: exit ${sc.exit.code}/${sc.exit.signal}, ${sc.flows.length} flows; stderr:\n${sc.stderr}`;
}

function expectCleanExit(sc: Scenario): void {
  if (sc.stopTimedOut) throw new Error(`probe did not exit within 15 s of SIGINT (killed); ${describeScenario(sc)}`);
  if (sc.exit.code !== 0 || sc.exit.signal !== null) throw new Error(`probe did not exit 0 after SIGINT; ${describeScenario(sc)}`);
}

/** All checks for one HTTP connection; returns the list of mismatches. */
function checkHttpFlow(sc: Scenario, pair: NetnsPair, client: string, server: string, eph: number, v: 4 | 6): string[] {
  const label = `TCP ${v === 6 ? `[${client}]` : client}:${eph} -> ${v === 6 ? `[${server}]` : server}:${HTTP_PORT}`;
  const fwd = sc.oracle.get(dirKey(TCP, client, eph, server, HTTP_PORT));
  const rev = sc.oracle.get(dirKey(TCP, server, HTTP_PORT, client, eph));
  if (!fwd || !rev) return [`${label}: tcpdump did not see this connection (test problem)`];
  const p: string[] = [];
  const matches = flowsBetween(sc.flows, TCP, client, eph, server, HTTP_PORT);
  const reversed = flowsBetween(sc.flows, TCP, server, HTTP_PORT, client, eph);
  if (reversed.length) p.push(`${label}: ${reversed.length} flow(s) exported with client and server swapped`);
  if (matches.length !== 1) {
    p.push(`${label}: expected exactly 1 flow, found ${matches.length}: ${JSON.stringify(matches)}`);
    return p;
  }
  const f = matches[0];
  if (Number(f.IP_PROTOCOL_VERSION) !== v) p.push(`${label}: IP_PROTOCOL_VERSION ${f.IP_PROTOCOL_VERSION}`);
  const cf = Number(f.CLIENT_TCP_FLAGS);
  const sf = Number(f.SERVER_TCP_FLAGS);
  if ((cf & SYN) !== SYN) p.push(`${label}: CLIENT_TCP_FLAGS ${f.CLIENT_TCP_FLAGS} lacks SYN`);
  if ((sf & (SYN | ACK)) !== (SYN | ACK)) p.push(`${label}: SERVER_TCP_FLAGS ${f.SERVER_TCP_FLAGS} lacks SYN|ACK`);
  if (cf !== fwd.flags) p.push(`${label}: CLIENT_TCP_FLAGS ${cf} but OR of client packets' flags is ${fwd.flags}`);
  if (sf !== rev.flags) p.push(`${label}: SERVER_TCP_FLAGS ${sf} but OR of server packets' flags is ${rev.flags}`);
  if (Number(f.TCP_FLAGS) !== (fwd.flags | rev.flags)) {
    p.push(`${label}: TCP_FLAGS ${f.TCP_FLAGS} but OR of all packets' flags is ${fwd.flags | rev.flags}`);
  }
  if (!(Number(f.OUT_BYTES) > BODY_SIZE)) p.push(`${label}: OUT_BYTES ${f.OUT_BYTES} not above the body size ${BODY_SIZE}`);
  p.push(...compareWithOracle(label, f, fwd, rev, pair));
  return p;
}

// ---------------------------------------------------------------------------------------

const reason = unavailable();

if (reason && process.env.CI) {
  describe('live capture', () => {
    test('requirements for live tests are met in CI', () => {
      throw new Error(`live tests cannot run in CI: ${reason}`);
    });
  });
} else if (reason) {
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED test/live/live.test.ts (live capture in network namespaces): ${reason}`);
  describe.skip(`live capture (skipped: ${reason})`, () => {
    test('not run', () => undefined);
  });
} else {
  describe('live capture in network namespaces', () => {
    test('the probe is built (dist/src/cli.js)', () => {
      expect(fs.existsSync(CLI)).toBe(true);
    });

    describe('unfiltered, -b 1, stopped with SIGINT', () => {
      let pair: NetnsPair | undefined;
      let tmp: string | undefined;
      let sc: Scenario;

      beforeAll(async () => {
        if (!fs.existsSync(CLI)) throw new Error(`${CLI} not built`);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-live-'));
        pair = await createPair('u');
        sc = await runScenario(pair, tmp, ['-b', '1'], 7_000);
      }, 120_000);

      afterAll(async () => {
        if (pair) await pair.destroy();
        if (tmp && !process.env.NPROBE_LIVE_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
        else if (tmp) console.warn(`live test files kept in ${tmp}`); // eslint-disable-line no-console
      }, 30_000);

      test('exits 0 on SIGINT, promptly', () => {
        expectCleanExit(sc);
      });

      test('logs go to stderr, every line prefixed "nprobe: "; nothing on stdout', () => {
        expect(sc.stdout).toBe('');
        const bad = sc.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('nprobe: '));
        expect(bad).toEqual([]);
      });

      test('says it is capturing on the interface', () => {
        expect(sc.stderr).toMatch(new RegExp(`capturing on ${pair!.vethA}`));
      });

      test('-b 1 prints periodic stats while running (run lasted >= 6 s)', () => {
        expect(sc.runMs).toBeGreaterThanOrEqual(6_000);
        const stats = sc.stderrBeforeStop
          .split('\n')
          .filter((l) => !/capturing on/i.test(l) && /pkt\/s|pps|flows|packets/i.test(l));
        if (stats.length === 0) {
          throw new Error(`no stats line on stderr during a ${sc.runMs} ms run with -b 1; stderr before SIGINT:\n${sc.stderrBeforeStop}`);
        }
      });

      test('JSON output: one flow object per line, unique FLOW_IDs, contract keys present', () => {
        expect(sc.jsonErrors).toEqual([]);
        expect(sc.flows.length).toBeGreaterThan(0);
        const ids = sc.flows.map((f) => f.FLOW_ID);
        expect(new Set(ids).size).toBe(ids.length);
        const missing: string[] = [];
        for (const f of sc.flows) {
          const v = Number(f.IP_PROTOCOL_VERSION);
          const keys = [...COMMON_KEYS, ...(v === 6 ? ['IPV6_SRC_ADDR', 'IPV6_DST_ADDR'] : ['IPV4_SRC_ADDR', 'IPV4_DST_ADDR'])];
          const m = keys.filter((k) => !(k in f));
          if (m.length) missing.push(`flow ${f.FLOW_ID}: missing ${m.join(',')}`);
        }
        expect(missing).toEqual([]);
      });

      test(`each of the ${N_CURL4} IPv4 HTTP connections is one TCP flow matching tcpdump`, () => {
        expect(sc.curl4Ports).toHaveLength(N_CURL4);
        const problems = sc.curl4Ports.flatMap((eph) => checkHttpFlow(sc, pair!, ADDR.a4, ADDR.b4, eph, 4));
        expect(problems).toEqual([]);
      });

      test(`each of the ${N_CURL6} IPv6 HTTP connections is one TCP flow matching tcpdump`, () => {
        expect(sc.curl6Ports).toHaveLength(N_CURL6);
        const problems = sc.curl6Ports.flatMap((eph) => checkHttpFlow(sc, pair!, ADDR.a6, ADDR.b6, eph, 6));
        expect(problems).toEqual([]);
        for (const eph of sc.curl6Ports) {
          const f = flowsBetween(sc.flows, TCP, ADDR.a6, eph, ADDR.b6, HTTP_PORT)[0];
          expect(f?.IPV6_SRC_ADDR).toBe('2001:db8::1');
          expect(f?.IPV6_DST_ADDR).toBe('2001:db8::2');
        }
      });

      // L7_PROTO_NAME of these flows is checked once the HTTP dissector exists (issue: Dissectors II).

      test('no other TCP flows than the HTTP connections', () => {
        const tcp = sc.flows.filter((f) => Number(f.PROTOCOL) === TCP);
        expect(tcp.length).toBe(N_CURL4 + N_CURL6);
      });

      test(`the ${N_UDP} UDP datagrams are one UDP flow matching tcpdump`, () => {
        const label = `UDP ${ADDR.a4}:${UDP_SRC_PORT} -> ${ADDR.b4}:${UDP_PORT}`;
        const fwd = sc.oracle.get(dirKey(UDP, ADDR.a4, UDP_SRC_PORT, ADDR.b4, UDP_PORT));
        expect(fwd?.pkts).toBe(N_UDP); // oracle sanity
        const m = flowsBetween(sc.flows, UDP, ADDR.a4, UDP_SRC_PORT, ADDR.b4, UDP_PORT);
        expect(m).toHaveLength(1);
        const f = m[0];
        expect(Number(f.IP_PROTOCOL_VERSION)).toBe(4);
        const problems = compareWithOracle(label, f, fwd!, undefined, pair!);
        expect(problems).toEqual([]);
        expect(Number(f.IN_BYTES)).toBe(N_UDP * (20 + 8 + UDP_PAYLOAD));
      });

      test('the ping is one ICMP flow, echo request first (ICMP_TYPE 2048), replies counted as OUT', () => {
        const label = `ICMP ${ADDR.a4} -> ${ADDR.b4}`;
        const fwd = sc.oracle.get(dirKey(ICMP, ADDR.a4, '', ADDR.b4, ''));
        const rev = sc.oracle.get(dirKey(ICMP, ADDR.b4, '', ADDR.a4, ''));
        // Oracle sanity: only our echo requests and replies went by.
        expect(fwd?.icmpTypes).toEqual(Array(N_PING).fill(8 * 256));
        expect(rev?.icmpTypes).toEqual(Array(N_PING).fill(0));
        const m = flowsBetween(sc.flows, ICMP, ADDR.a4, null, ADDR.b4, null);
        const reversed = flowsBetween(sc.flows, ICMP, ADDR.b4, null, ADDR.a4, null);
        expect({ forward: m.length, reversed: reversed.length }).toEqual({ forward: 1, reversed: 0 });
        const f = m[0];
        expect(Number(f.ICMP_TYPE)).toBe(8 * 256 + 0);
        expect(compareWithOracle(label, f, fwd!, rev, pair!)).toEqual([]);
      });

      test('a clean stop loses nothing: every IPv4 packet tcpdump saw is in some flow', () => {
        // All IPv4 traffic in this run is ours (IPv6 also carries neighbour discovery).
        let oracleV4 = 0;
        for (const [k, st] of sc.oracle) if (!k.includes(':')) oracleV4 += st.pkts;
        let probeV4 = 0;
        for (const f of sc.flows) if (Number(f.IP_PROTOCOL_VERSION) === 4) probeV4 += Number(f.IN_PKTS) + Number(f.OUT_PKTS);
        expect(probeV4).toBe(oracleV4);
      });
    });

    describe('idle timeout on a quiet link (-d 2)', () => {
      let pair: NetnsPair | undefined;

      afterAll(async () => {
        if (pair) await pair.destroy();
      }, 30_000);

      test('an idle flow is exported while the probe runs, with no further packet to wake it', async () => {
        expect(fs.existsSync(CLI)).toBe(true);
        pair = await createPair('i');
        quietLink(pair); // no ND/MLD/ARP: nothing but the ping may wake the capture
        await sleep(500);
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-live-'));
        const jsonOut = path.join(tmp, 'flows.json');
        try {
          const probe = pair.spawnIn(pair.nsA, [NODE, CLI, '-i', pair.vethA, '-n', 'none', '--json-out', jsonOut, '-d', '2'], {
            name: 'probe',
          });
          const saw = await probe.waitForOutput(/capturing/i, 5_000);
          if (probe.hasExited()) throw new Error(`probe exited early: ${probe.stderr()}`);
          if (!saw) await sleep(1_000);
          await sleep(300);
          const ping = haveCommand('ping')
            ? pair.exec(pair.nsA, ['ping', '-n', '-c', '2', '-i', '0.2', '-W', '2', ADDR.b4])
            : pair.exec(pair.nsA, [PY, '-c', PING_PY, ADDR.b4, '2']);
          expect(ping.status).toBe(0);
          const lastPacket = Date.now();
          // Idle 2 s: the flow must come out within a few seconds of that, by the wall clock.
          let found: Flow | undefined;
          while (!found && Date.now() - lastPacket < 10_000 && !probe.hasExited()) {
            await sleep(200);
            const text = fs.existsSync(jsonOut) ? fs.readFileSync(jsonOut, 'utf8') : '';
            found = parseJsonLines(text.slice(0, text.lastIndexOf('\n') + 1)).flows.find(
              (f) => Number(f.PROTOCOL) === ICMP && srcAddr(f) === ADDR.a4 && dstAddr(f) === ADDR.b4,
            );
          }
          const waited = Date.now() - lastPacket;
          await probe.stop('SIGINT', 5_000);
          if (!found) {
            throw new Error(
              `ICMP flow idle for ${waited} ms with -d 2 was not exported while the probe ran; stderr:\n${probe.stderr()}`,
            );
          }
          expect(Number(found.IN_PKTS)).toBe(2);
          expect(Number(found.OUT_PKTS)).toBe(2);
        } finally {
          fs.rmSync(tmp, { recursive: true, force: true });
        }
      }, 60_000);
    });

    describe('with -f "tcp port 8080"', () => {
      let pair: NetnsPair | undefined;
      let tmp: string | undefined;
      let sc: Scenario;

      beforeAll(async () => {
        if (!fs.existsSync(CLI)) throw new Error(`${CLI} not built`);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-live-'));
        pair = await createPair('f');
        sc = await runScenario(pair, tmp, ['-f', `tcp port ${HTTP_PORT}`], 0);
      }, 120_000);

      afterAll(async () => {
        if (pair) await pair.destroy();
        if (tmp && !process.env.NPROBE_LIVE_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
        else if (tmp) console.warn(`live test files kept in ${tmp}`); // eslint-disable-line no-console
      }, 30_000);

      test('exits 0 on SIGINT with valid JSON lines', () => {
        expectCleanExit(sc);
        expect(sc.jsonErrors).toEqual([]);
      });

      test('only port-8080 TCP flows are exported (tcpdump saw UDP and ICMP too)', () => {
        // Oracle sanity: the unfiltered tap did see the other traffic.
        expect(sc.oracle.get(dirKey(UDP, ADDR.a4, UDP_SRC_PORT, ADDR.b4, UDP_PORT))?.pkts).toBe(N_UDP);
        expect(sc.pingRequests).toBe(N_PING);
        const others = sc.flows.filter(
          (f) => !(Number(f.PROTOCOL) === TCP && (Number(f.L4_SRC_PORT) === HTTP_PORT || Number(f.L4_DST_PORT) === HTTP_PORT)),
        );
        expect(others).toEqual([]);
        expect(sc.flows.length).toBe(N_CURL4 + N_CURL6);
      });

      test('the filtered HTTP flows still match tcpdump exactly', () => {
        const problems = [
          ...sc.curl4Ports.flatMap((eph) => checkHttpFlow(sc, pair!, ADDR.a4, ADDR.b4, eph, 4)),
          ...sc.curl6Ports.flatMap((eph) => checkHttpFlow(sc, pair!, ADDR.a6, ADDR.b6, eph, 6)),
        ];
        expect(problems).toEqual([]);
      });
    });
  });
}

// Needs no namespace or privileges: the interface simply does not exist.
describe('live capture: bad interface', () => {
  test('-i on a missing interface exits 1 with one "nprobe: error:" line naming it', () => {
    expect(fs.existsSync(CLI)).toBe(true);
    const iface = `npnx${process.pid}`;
    const r = spawnSync(NODE, [CLI, '-i', iface, '-n', 'none', '--json-out', '-'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    const ctx = `status ${r.status} signal ${r.signal}\nstderr:\n${r.stderr}\nstdout:\n${r.stdout}`;
    expect({ status: r.status, ctx }).toEqual({ status: 1, ctx });
    const errs = r.stderr.split('\n').filter((l) => l.startsWith('nprobe: error:'));
    expect(errs).toHaveLength(1);
    expect(errs[0]).toContain(iface);
    expect(r.stderr).not.toMatch(/^\s+at /m); // a message, not a stack trace
    expect(r.stdout).toBe('');
  }, 30_000);
});
