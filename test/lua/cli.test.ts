// The Lua hooks end to end through the CLI on real captures: the seed's example line by
// line, the keys and types every hook gets, the example scripts, SIGHUP reload, the sandbox.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PLUGINS } from '../../plugins';
import type { FlowRecord } from '../../src/record';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const PCAP = path.join(ROOT, 'test', 'pcap');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-luacli-'));

function run(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, cwd: tmp, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function flowsOf(capture: string): FlowRecord[] {
  const r = run(['-i', path.join(PCAP, capture), '--json-out', '-']);
  expect(r.code).toBe(0);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowRecord);
}

const COMMON = ['nprobe.pid', 'flow.id', 'flow.from', 'flow.to', 'flow.sport', 'flow.dport', 'flow.duration', 'flow.beginTime', 'flow.endTime', 'flow.l7_proto', 'flow.protocol'];

test("the seed's dnsSearch.lua prints every key of every DNS flow, as nProbe does", () => {
  const capture = path.join(PCAP, 'dns', 'arkime_dns_wiresharkrepo.pcap');
  const r = run(['-i', capture, '--lua', path.join(ROOT, 'lua', 'dnsSearch.lua'), '--dns-dump-dir', tmp]);
  expect(r.code).toBe(0);
  // nProbe's console messages, in the seed's order.
  const msgs = r.stderr.split('\n').filter((l) => /\[LUA\] Successfully|log files will be saved|plugin\(s\) enabled/.test(l));
  expect(msgs).toEqual([
    `nprobe: [LUA] Successfully interpreted ${path.join(ROOT, 'lua', 'dnsSearch.lua')}`,
    `nprobe: DNS log files will be saved in ${tmp}`,
    'nprobe: 1 plugin(s) enabled',
  ]);
  // Every line is "k: <key> v: <value>" followed by the empty line the script's '\n' adds.
  const lines = r.stdout.split('\n');
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const m = /^k: (\S+) v: (.*)$/.exec(lines[i]);
    expect(m).not.toBeNull();
    expect(lines[i + 1]).toBe('');
    pairs.push([m![1], m![2]]);
  }
  // One table per DNS flow: split on flow.id, compare with the JSON records.
  const dnsKeys = PLUGINS.find((p) => p.name === 'DNS')!.fields.filter((f) => f.type !== 'json').map((f) => f.lua);
  const perFlow = new Map<string, Map<string, string>>();
  let current = new Map<string, string>();
  const tables: Array<Map<string, string>> = [];
  for (const [k, v] of pairs) {
    if (current.has(k)) {
      tables.push(current);
      current = new Map();
    }
    current.set(k, v);
  }
  if (current.size) tables.push(current);
  for (const t of tables) perFlow.set(t.get('flow.id')!, t);
  const flows = flowsOf('dns/arkime_dns_wiresharkrepo.pcap').filter((f) => f.L7_PROTO === 5);
  expect(flows.length).toBeGreaterThan(5);
  expect(perFlow.size).toBe(flows.length);
  for (const f of flows) {
    const t = perFlow.get(String(f.FLOW_ID))!;
    expect([...t.keys()].sort()).toEqual([...new Set([...COMMON, ...dnsKeys])].sort());
    expect(t.get('flow.from')).toBe(f.IPV4_SRC_ADDR ?? f.IPV6_SRC_ADDR);
    expect(t.get('flow.sport')).toBe(String(f.L4_SRC_PORT));
    expect(t.get('flow.l7_proto')).toBe('5');
    expect(t.get('dns.query')).toBe(String(f.DNS_QUERY ?? ''));
    expect(t.get('dns.answers')).toBe(String(f.DNS_RESPONSE ?? ''));
    expect(t.get('dns.dns_client')).toBe(String(f.DNS_CLIENT ?? ''));
    expect(t.get('nprobe.pid')).toMatch(/^\d+$/);
  }
});

// For every protocol with a capture here: the hook is called once per flow of that protocol,
// with exactly the common keys and the plugin's keys, each a string or a number as declared.
const BY_PROTO: Array<[string, string]> = [
  ['DNS', 'dns/arkime_dns_wiresharkrepo.pcap'],
  ['DHCP', 'dhcp/zeek_dhcp_lifecycle.pcap'],
  ['SIP', 'sip/suricata_sip_cloudshark_s0.pcap'],
  ['RADIUS', 'radius/zeek_radius_localhost.pcap'],
  ['GTPV1', 'gtp/zeek_gtp_pdp_ctx_messages.pcapng'],
];
test.each(BY_PROTO)('check%sFlow gets the right keys and types', (proto, capture) => {
  const plugin = PLUGINS.find((p) => p.name === proto)!;
  const script = path.join(tmp, `types-${proto}.lua`);
  fs.writeFileSync(
    script,
    `function ${plugin.luaHook}()
       local t = ${plugin.luaTable}
       local out = {}
       for k, v in pairs(t) do out[#out + 1] = k .. "=" .. type(v) end
       table.sort(out)
       t["test.types"] = table.concat(out, ";")
     end`,
  );
  const r = run(['-i', path.join(PCAP, capture), '--lua', script, '--json-out', '-']);
  expect(r.code).toBe(0);
  const flows = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowRecord);
  const mine = flows.filter((f) => plugin.l7.includes(f.L7_PROTO));
  if (plugin.fields.length === 0) {
    // The dissector for this protocol has not landed in this tree: nothing to check yet.
    expect(mine).toEqual([]);
    return;
  }
  expect(mine.length).toBeGreaterThan(0);
  for (const f of flows) expect(f.TEST_TYPES === undefined).toBe(!plugin.l7.includes(f.L7_PROTO));
  const expected = new Map<string, string>();
  for (const k of COMMON) expected.set(k, k === 'flow.from' || k === 'flow.to' ? 'string' : 'number');
  for (const fd of plugin.fields) if (fd.type !== 'json' && !expected.has(fd.lua)) expected.set(fd.lua, fd.type.startsWith('unsigned') || fd.type === 'dateTimeMilliseconds' ? 'number' : 'string');
  for (const f of mine) {
    const got = new Map(String(f.TEST_TYPES).split(';').map((kv) => kv.split('=') as [string, string]));
    expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [k, ty] of expected) expect(`${k}=${got.get(k)}`).toBe(`${k}=${ty}`);
  }
});

test('suppressInternalDns.lua drops DNS flows to internal resolvers, and only those', () => {
  const all = flowsOf('dns/arkime_dns_wiresharkrepo.pcap');
  const internal = (a: string): boolean => /^(10\.|127\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(a);
  const dropped = all.filter((f) => f.L7_PROTO === 5 && internal(String(f.IPV4_DST_ADDR ?? '')));
  expect(dropped.length).toBeGreaterThan(0);
  const r = run(['-i', path.join(PCAP, 'dns', 'arkime_dns_wiresharkrepo.pcap'), '--lua', path.join(ROOT, 'lua', 'suppressInternalDns.lua'), '--json-out', '-']);
  expect(r.code).toBe(0);
  const kept = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowRecord);
  expect(kept.map((f) => f.FLOW_ID).sort()).toEqual(all.filter((f) => !dropped.includes(f)).map((f) => f.FLOW_ID).sort());
  expect(r.stderr).toContain(`${dropped.length} suppressed by Lua`);
  expect(r.stderr).toMatch(new RegExp(`checkDNSFlow: ${all.filter((f) => f.L7_PROTO === 5).length} calls, 0 errors, 0 timeouts, ${dropped.length} suppressed`));
});

test('sipCalls.lua writes one CSV line per SIP flow to a real file', () => {
  const csv = path.join(tmp, 'calls.csv');
  const r = run(['-i', path.join(PCAP, 'sip', 'suricata_sip_cloudshark_s0.pcap'), '--lua', path.join(ROOT, 'lua', 'sipCalls.lua'), '--json-out', '-'], { NPROBE_SIP_CSV: csv });
  expect(r.code).toBe(0);
  const sip = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowRecord).filter((f) => f.L7_PROTO === 100);
  const lines = fs.readFileSync(csv, 'utf8').trim().split('\n');
  expect(lines[0]).toBe('begin,end,call_id,calling,called,response_code,codecs,flow_id');
  expect(lines.length - 1).toBe(sip.length);
  expect(lines[1]).toContain(String(sip[0].SIP_CALL_ID));
});

test('protoCount.lua prints its table when the probe exits', () => {
  const r = run(['-i', path.join(PCAP, 'dns', 'arkime_dns_wiresharkrepo.pcap'), '--lua', path.join(ROOT, 'lua', 'protoCount.lua')]);
  expect(r.code).toBe(0);
  const n = flowsOf('dns/arkime_dns_wiresharkrepo.pcap').filter((f) => f.L7_PROTO === 5).length;
  expect(r.stdout).toMatch(/^protocol\s+flows$/m);
  expect(r.stdout).toMatch(new RegExp(`^dns\\s+${n}$`, 'm'));
});

test('a script error is reported once, counted, and the flows are exported unchanged', () => {
  const script = path.join(tmp, 'err.lua');
  fs.writeFileSync(script, 'function checkDNSFlow()\n  local x = nil\n  return x.y\nend\n');
  const plain = flowsOf('dns/arkime_dns_wiresharkrepo.pcap');
  const r = run(['-i', path.join(PCAP, 'dns', 'arkime_dns_wiresharkrepo.pcap'), '--lua', script, '--json-out', '-']);
  expect(r.code).toBe(0);
  expect(r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l))).toEqual(plain);
  expect(r.stderr.split('\n').filter((l) => l.includes('err.lua:3:'))).toHaveLength(1);
  const n = plain.filter((f) => f.L7_PROTO === 5).length;
  expect(r.stderr).toMatch(new RegExp(`checkDNSFlow: ${n} calls, ${n} errors`));
});

test('the sandbox refuses a script that needs io; without it the same script runs', () => {
  const r = run(['-i', path.join(PCAP, 'sip', 'suricata_sip_cloudshark_s0.pcap'), '--lua', path.join(ROOT, 'lua', 'sipCalls.lua'), '--lua-sandbox'], { NPROBE_SIP_CSV: path.join(tmp, 'sb.csv') });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/nprobe: error: \[LUA\] .*sipCalls\.lua:\d+: .*io/);
  expect(fs.existsSync(path.join(tmp, 'sb.csv'))).toBe(false);
});

test('SIGHUP reloads the script without losing a flow; a broken script leaves the old one', async () => {
  const script = path.join(tmp, 'hup.lua');
  fs.writeFileSync(script, 'function checkDNSFlow() dns["test.version"] = 1 end\n');
  // 20 s of DNS traffic replayed at its pace: time to send signals while it runs.
  const child = spawn(process.execPath, [CLI, '-i', path.join(PCAP, 'dns', 'arkime_dns_wiresharkrepo.pcap'), '--lua', script, '--json-out', '-', '--original-speed', '-d', '1'], { cwd: tmp });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  await wait(1500);
  fs.writeFileSync(script, 'function checkDNSFlow( broken\n');
  child.kill('SIGHUP');
  await wait(1500);
  fs.writeFileSync(script, 'function checkDNSFlow() dns["test.version"] = 2 end\n');
  child.kill('SIGHUP');
  await wait(1500);
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  expect(code).toBe(0);
  expect(err).toMatch(/SIGHUP: .*hup\.lua not reloaded, the running script stays: .*hup\.lua:\d+:/);
  expect(err).toMatch(/SIGHUP: reloaded .*hup\.lua, 1 plugin\(s\) enabled/);
  const flows = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowRecord);
  const m = /^nprobe: (\d+) packets/m.exec(err)!;
  expect(flows.reduce((n, f) => n + f.IN_PKTS + f.OUT_PKTS, 0)).toBe(Number(m[1]));
  const versions = flows.filter((f) => f.L7_PROTO === 5).map((f) => f.TEST_VERSION);
  expect(versions.every((v) => v === 1 || v === 2)).toBe(true);
  expect(versions).toContain(2);
});

test('tagHttpHost.lua adds HTTP_SITE_TAG to every HTTP flow, by its host', () => {
  const capture = path.join(PCAP, 'mixed', 'pcapplusplus_many_protocols.pcap');
  const r = run(['-i', capture, '--lua', path.join(ROOT, 'lua', 'tagHttpHost.lua'), '--json-out', '-']);
  expect(r.code).toBe(0);
  const flows = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowRecord);
  const http = flows.filter((f) => f.L7_PROTO === 7);
  expect(http.length).toBeGreaterThan(5);
  // The script's rules, restated: first match wins.
  const rules: Array<[RegExp, string]> = [[/\.google\.com$/, 'search'], [/\.googleapis\.com$/, 'cloud-api'], [/update/, 'software-update'], [/\.example$/, 'lab'], [/^\d+\.\d+\.\d+\.\d+$/, 'bare-ip']];
  for (const f of http) {
    const host = String(f.HTTP_HOST ?? '').toLowerCase();
    const want = host === '' ? 'no-host' : rules.find(([re]) => re.test(host))?.[1] ?? 'other';
    expect(`${f.FLOW_ID} ${host} ${f.HTTP_SITE_TAG}`).toBe(`${f.FLOW_ID} ${host} ${want}`);
  }
  for (const f of flows.filter((x) => x.L7_PROTO !== 7)) expect(f.HTTP_SITE_TAG).toBeUndefined();
  expect(new Set(http.map((f) => f.HTTP_SITE_TAG)).size).toBeGreaterThan(1);
});
