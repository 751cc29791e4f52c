// Issue 9, fault tests: Lua scripts that fail on real captures through the CLI. A hook that
// errors, loops forever or allocates without end never stops the probe: every flow is exported
// (unchanged where its hook failed) and the failures are counted per hook in the summary.
// test/lua/host.test.ts has the same cases on single flows through the library; these run the
// whole CLI on a capture, with hooks that fail on some flows and work on the others.
import * as fs from 'fs';
import * as path from 'path';
import type { FlowRecord } from '../../src/record';
import { runProbe } from '../helpers/probe';
import { parseSummary, tmpDir } from '../helpers/faults';

jest.setTimeout(60_000);

const MIXED = 'mixed/pcapplusplus_example.pcap'; // 136 flows, 69 of them DNS
const DNS = 'dns/arkime_dns_wiresharkrepo.pcap'; // 12 DNS flows
const tmp = tmpDir('lua');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function script(name: string, text: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
}

function hookLine(stderr: string, hook: string): { calls: number; errors: number; timeouts: number } {
  const m = new RegExp(`\\[LUA\\] ${hook}: (\\d+) calls, (\\d+) errors, (\\d+) timeouts`).exec(stderr);
  if (!m) throw new Error(`no ${hook} line in:\n${stderr}`);
  return { calls: Number(m[1]), errors: Number(m[2]), timeouts: Number(m[3]) };
}

/** The flows without the keys a hook may add. */
const core = (flows: FlowRecord[]): unknown[] => flows.map((f) => [f.FLOW_ID, f.IN_PKTS, f.OUT_PKTS, f.IN_BYTES, f.OUT_BYTES, f.L7_PROTO]);

const plain = new Map<string, FlowRecord[]>();
function plainFlows(capture: string): FlowRecord[] {
  if (!plain.has(capture)) plain.set(capture, runProbe(capture).flows);
  return plain.get(capture)!;
}

test('a hook that errors on some flows: the others are scripted, all exported, errors counted', () => {
  const lua = script('err.lua', 'function checkDNSFlow()\n  if dns["flow.id"] % 2 == 1 then error("odd flow") end\n  dns["x.even"] = 1\nend\n');
  const r = runProbe(MIXED, ['--lua', lua]);
  expect(r.status).toBe(0);
  const dns = plainFlows(MIXED).filter((f) => f.L7_PROTO === 5);
  const odd = dns.filter((f) => f.FLOW_ID % 2 === 1).length;
  expect(core(r.flows)).toEqual(core(plainFlows(MIXED)));
  expect(hookLine(r.stderr, 'checkDNSFlow')).toEqual({ calls: dns.length, errors: odd, timeouts: 0 });
  expect(r.flows.filter((f) => f.X_EVEN === 1).map((f) => f.FLOW_ID)).toEqual(dns.filter((f) => f.FLOW_ID % 2 === 0).map((f) => f.FLOW_ID));
  // Logged once per distinct message, not once per flow.
  expect(r.stderr.split('\n').filter((l) => l.includes('odd flow'))).toHaveLength(1);
  expect(parseSummary(r.stderr).exported).toBe(r.flows.length);
});

test('a hook that loops forever on some flows is stopped each time; the next flows still run', () => {
  const lua = script('loop.lua', 'function checkDNSFlow()\n  if dns["flow.id"] % 3 == 0 then while true do end end\n  dns["x.ok"] = 1\nend\n');
  const r = runProbe(MIXED, ['--lua', lua, '--lua-timeout-ms', '20']);
  expect(r.status).toBe(0);
  const dns = plainFlows(MIXED).filter((f) => f.L7_PROTO === 5);
  const looping = dns.filter((f) => f.FLOW_ID % 3 === 0);
  expect(looping.length).toBeGreaterThan(5);
  expect(core(r.flows)).toEqual(core(plainFlows(MIXED)));
  expect(hookLine(r.stderr, 'checkDNSFlow')).toEqual({ calls: dns.length, errors: 0, timeouts: looping.length });
  expect(r.flows.filter((f) => f.X_OK === 1)).toHaveLength(dns.length - looping.length);
});

test('a hook that allocates without end in each call hits the memory cap each time, not the process', () => {
  const lua = script('hog.lua', 'function checkDNSFlow()\n  local t = {}\n  for i = 1, 1e9 do t[#t + 1] = string.rep("x", 1000) .. i end\nend\n');
  const r = runProbe(DNS, ['--lua', lua, '--lua-memory-mb', '8', '--lua-timeout-ms', '10000']);
  expect(r.status).toBe(0);
  expect(core(r.flows)).toEqual(core(plainFlows(DNS)));
  const n = plainFlows(DNS).filter((f) => f.L7_PROTO === 5).length;
  expect(hookLine(r.stderr, 'checkDNSFlow')).toEqual({ calls: n, errors: n, timeouts: 0 });
});

test('a script that keeps what it allocates (the state stays full) still exports every flow', () => {
  const lua = script('hoard.lua', 'hoard = {}\nfunction checkDNSFlow()\n  for i = 1, 1e9 do hoard[#hoard + 1] = string.rep("x", 1000) .. i end\nend\n');
  const r = runProbe(MIXED, ['--lua', lua, '--lua-memory-mb', '8', '--lua-timeout-ms', '10000']);
  expect(r.status).toBe(0);
  expect(core(r.flows)).toEqual(core(plainFlows(MIXED)));
  // Every DNS flow is an error of the hook: its call ran out of memory, or its batch failed
  // before it (a table could not be built) and it was counted as not scripted.
  const dns = plainFlows(MIXED).filter((f) => f.L7_PROTO === 5);
  expect(hookLine(r.stderr, 'checkDNSFlow').errors).toBe(dns.length);
  expect(r.stderr).toMatch(/not enough memory/);
});
