// The export options end to end through the nprobe CLI (src/cli.ts wired with exportOptions /
// createOutputs): -H, every output at once, nProbe's start-up messages, usage errors, a
// collector that is down. NPROBE_CLI may point at another build of the CLI.
import * as fs from 'fs';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { FlowRecord } from '../../src/record';
import { CLI, expectedRecords, freePort, have, Nfcapd, nfRecords, PCAP, runCli, TcpSink, tmpDir } from './helpers';

const DNS = PCAP('dns/arkime_dns_wiresharkrepo.pcap');
const MIXED = PCAP('mixed/pcapplusplus_many_protocols.pcap');
const itNf = have('nfcapd') && have('nfdump') ? test : test.skip;

/** Runs the CLI without blocking the event loop (collectors in this process must keep serving). */
function runCliAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NODE_OPTIONS: '' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b) => (stdout += b));
    p.stderr.on('data', (b) => (stderr += b));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('-H lists every element with ids, PEN, type, plugin and Lua key, without -i', () => {
  const r = runCli(['-H']);
  expect(r.status).toBe(0);
  const line = (name: string): string[] => (r.stdout.split('\n').find((l) => l.startsWith(`%${name} `)) ?? '').trim().split(/\s+/);
  expect(line('IN_BYTES').slice(0, 7)).toEqual(['%IN_BYTES', '1', '0', '1', 'unsigned64', '4', 'core']);
  expect(line('DNS_QUERY').slice(0, 8)).toEqual(['%DNS_QUERY', '205', '35632', '57677', 'string', '256', 'DNS', 'dns.query']);
  expect(line('L7_PROTO').slice(0, 4)).toEqual(['%L7_PROTO', '118', '35632', '57590']);
  expect(r.stdout).toMatch(/Default template \(-T omitted\): %IPV4_SRC_ADDR %IPV4_DST_ADDR %INPUT_SNMP/);
});

itNf('-n, --json-out, -P, --tcp and --dns-dump-dir in one run: each gets every flow', async () => {
  const port = await freePort('udp');
  const nf = new Nfcapd(port);
  await nf.start();
  const tcpPort = await freePort('tcp');
  const sink = new TcpSink();
  await sink.listen(tcpPort);
  const out = tmpDir('cli');
  const json = path.join(out, 'flows.jsonl');
  const dump = path.join(out, 'dump');
  const dns = path.join(out, 'dns');
  const r = await runCliAsync(['-i', DNS, '-n', `127.0.0.1:${port}`, '-V', '10', '--json-out', json, '-P', dump, '--tcp', `127.0.0.1:${tcpPort}`, '--dns-dump-dir', dns]);
  const recs = await nf.stop();
  await new Promise((res) => setTimeout(res, 200));
  await sink.close();
  expect(r.stderr).not.toMatch(/error/);
  expect(r.status).toBe(0);
  const flows = fs.readFileSync(json, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l)) as FlowRecord[];
  expect(flows.length).toBe(12);
  expect(nfRecords(recs).map((s) => s.split(' ').slice(0, 7).join(' '))).toEqual(expectedRecords(flows, 'uni').map((s) => s.split(' ').slice(0, 7).join(' ')));
  expect(sink.lines()).toEqual(flows);
  const lines = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? lines(path.join(dir, e.name)) : fs.readFileSync(path.join(dir, e.name), 'utf8').trimEnd().split('\n'),
    );
  expect(lines(dump).filter((l) => !l.startsWith('IPV4_SRC_ADDR|'))).toHaveLength(flows.length); // minus the header of each file
  expect(lines(dns).filter((l) => !l.startsWith('#'))).toHaveLength(flows.length);
  expect(r.stderr).toContain(`nprobe: DNS log files will be saved in ${dns}\n`);
  expect(r.stderr).toMatch(new RegExp(`nprobe: export IPFIX to udp://127\\.0\\.0\\.1:${port}: ${expectedRecords(flows, 'uni').length} flow records sent, 0 dropped`));
  expect(r.stderr).toMatch(/nprobe: export tcp-json:127\.0\.0\.1:\d+: 12 flows sent, 0 dropped, 1 connection/);
});

test('nProbe\'s start-up order with --lua: interpreted, DNS log files, plugins enabled (seed 002)', () => {
  const dir = tmpDir('seed');
  const script = path.join(dir, 'dnsSearch.lua');
  fs.writeFileSync(script, "function checkDNSFlow()\n  for k, v in pairs(dns) do\n    print('k: '..k..' v: '..v..'\\n')\n  end\nend\n");
  const r = runCli(['-i', DNS, '--lua', script, '--dns-dump-dir', dir]);
  expect(r.status).toBe(0);
  const lines = r.stderr.split('\n');
  const i = lines.indexOf(`nprobe: [LUA] Successfully interpreted ${script}`);
  expect(i).toBeGreaterThanOrEqual(0);
  expect(lines.slice(i, i + 3)).toEqual([`nprobe: [LUA] Successfully interpreted ${script}`, `nprobe: DNS log files will be saved in ${dir}`, 'nprobe: 1 plugin(s) enabled']);
  expect(r.stdout).toContain('k: dns.query v: google.com');
});

test('bad export options are usage errors (exit 2, one line)', () => {
  for (const [args, msg] of [
    [['-V', '7'], /-V 7: expected 5, 9 or 10/],
    [['-n', '127.0.0.1:2055', '-T', '%IPV4_SRC_ADDR %NOPE'], /unknown element %NOPE/],
    [['-n', 'sctp://127.0.0.1:2055'], /sctp:\/\/ is not supported/],
    [['-n', '127.0.0.1:2055', '-V', '9', '-T', '%FLOW_ANOMALIES'], /no NetFlow\/IPFIX id/],
    [['-D', 'b', '-P', '/tmp'], /-D b: expected t/],
    [['--mtu', '100'], /--mtu: expected an integer from 576/],
  ] as Array<[string[], RegExp]>) {
    const r = runCli(['-i', DNS, ...args]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }
  expect(runCli(['-i', DNS, '-n', 'none', '--json-out', '/dev/null']).status).toBe(0);
});

test('a collector that refuses: the capture completes (exit 0) and the summary counts the drops', async () => {
  const port = await freePort('udp');
  const r = runCli(['-i', MIXED, '-n', `127.0.0.1:${port}`, '-V', '9', '-o', '1', '--json-out', '/dev/null']);
  expect(r.status).toBe(0);
  const m = /export NetFlow v9 to udp:\/\/127\.0\.0\.1:\d+: (\d+) flow records sent, (\d+) dropped, \d+ errors \(ECONNREFUSED\)/.exec(r.stderr);
  expect(m).not.toBeNull();
  expect(Number((m as RegExpExecArray)[2])).toBeGreaterThan(0);
});

test('JSON lines are the same whether written to a file, to stdout as a file, or to a pipe', () => {
  // A file and stdout-as-a-file are written synchronously from the core's reused buffer; a
  // pipe gets copies through a stream (src/export/json.ts). 500 flows: several batches.
  const file = PCAP('mixed/zeek_echo_connections.pcap');
  const dir = tmpDir('json-routes');
  const viaFile = path.join(dir, 'file.json');
  const r1 = runCli(['-i', file, '--json-out', viaFile]);
  expect(r1.status).toBe(0);
  const piped = runCli(['-i', file, '--json-out', '-']);
  expect(piped.status).toBe(0);
  const stdoutFile = path.join(dir, 'stdout.json');
  const fd = fs.openSync(stdoutFile, 'w');
  const r3 = spawnSync(process.execPath, [CLI, '-i', file, '--json-out', '-'], {
    stdio: ['ignore', fd, 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  fs.closeSync(fd);
  expect(r3.status).toBe(0);
  const a = fs.readFileSync(viaFile, 'utf8');
  const lines = a.split('\n').filter(Boolean);
  expect(lines).toHaveLength(500);
  expect(new Set(lines.map((l) => (JSON.parse(l) as FlowRecord).FLOW_ID)).size).toBe(500);
  expect(piped.stdout).toBe(a);
  expect(fs.readFileSync(stdoutFile, 'utf8')).toBe(a);
});

test('the summary says how much CPU the capture thread and the file reader used', () => {
  const r = runCli(['-i', PCAP('mixed/zeek_echo_connections.pcap'), '--json-out', '/dev/null']);
  expect(r.status).toBe(0);
  const m = /^nprobe: \d+ packets .* in (\d+\.\d+) s: .* \(capture thread (\d+\.\d+) s CPU, file reader (\d+\.\d+) s\)$/m.exec(r.stderr);
  expect(m).not.toBeNull();
  const [elapsed, cpu, reader] = [Number(m![1]), Number(m![2]), Number(m![3])];
  // 82,582 packets (6.8 MB) take each thread some CPU, and never more than it was running for.
  expect(cpu).toBeGreaterThan(0);
  expect(cpu).toBeLessThanOrEqual(elapsed + 0.01);
  expect(reader).toBeLessThanOrEqual(elapsed + 0.01); // a few ms here: it may print as 0.00
});

test('a CPU profile asked of Node is still written: the quick exit steps aside for it', () => {
  // The CLI ends the process itself once its outputs are closed (src/cli.ts), which would
  // skip what Node writes on its way out; bench/profile.sh relies on --cpu-prof.
  const dir = tmpDir('cpu-prof');
  const r = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, CLI, '-i', DNS, '--json-out', '/dev/null', '--lua', path.join(__dirname, '../../bench/trivial.lua')], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  expect(r.status).toBe(0);
  const profiles = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  expect(profiles).toHaveLength(1);
  const prof = JSON.parse(fs.readFileSync(path.join(dir, profiles[0]), 'utf8')) as { nodes: unknown[] };
  expect(prof.nodes.length).toBeGreaterThan(10);
});
