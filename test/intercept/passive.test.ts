/**
 * The connection hook on capture files (passive, DESIGN.md §5): every TCP connection of an
 * HTTP capture through each verdict. FLOW_VERDICT on every flow; HTTP fields and
 * checkHTTPFlow only for "check"; the default verdict for an error, nil, an unknown string
 * and a time-out; non-TCP flows carry FLOW_VERDICT 0 (no hook ran); "check" exports exactly
 * what a run without the hook exports (the buffered packets are replayed in order).
 */
import { describe, expect, test } from '@jest/globals';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { probeArgs, probeBuilt, ProbeFlow, runCli } from '../helpers/probe';

const HTTP = 'http/pcapplusplus_four_ipv6_http_streams.pcap'; // 4 HTTP connections over IPv6
const HTTP2 = 'http/ndpi_http_ua_split.pcapng';
const DNS = 'dns/arkime_dns_wiresharkrepo.pcap'; // UDP (and no TCP) flows
const CODE = { pass: 1, drop: 2, check: 3, reject: 4 } as const;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-icpt-'));
function script(name: string, body: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, body);
  return f;
}

const HOOKS = `
function intercept_hook(ctx)
  print("HOOK " .. tostring(ctx.src) .. " " .. tostring(ctx.dst) .. " " .. ctx.divert .. " " .. tostring(ctx.iface_in) .. " " .. tostring(ctx.uid))
  return os.getenv("VERDICT")
end
function checkHTTPFlow()
  print("CHECKHTTP " .. http["flow.id"])
end
`;

function run(capture: string, lua: string, extra: string[] = [], env: Record<string, string> = {}) {
  const r = runCli([...probeArgs(capture, ['--lua', lua, ...extra])], { env: { ...process.env, ...env } as Record<string, string> });
  const flows: ProbeFlow[] = [];
  const lines: string[] = [];
  for (const l of r.stdout.split('\n')) {
    if (l.startsWith('{')) flows.push(JSON.parse(l));
    else if (l.trim()) lines.push(l);
  }
  return { ...r, flows, lines };
}

const httpKeys = (f: ProbeFlow): string[] => Object.keys(f).filter((k) => k.startsWith('HTTP_'));

const built = probeBuilt();
(built ? describe : describe.skip)('intercept_hook on capture files', () => {
  const hooked = script('hooks.lua', HOOKS);

  test.each(['pass', 'check', 'reject', 'drop'] as const)('verdict %s', (verdict) => {
    const r = run(HTTP, hooked, [], { VERDICT: verdict });
    expect(r.status).toBe(0);
    expect(r.flows).toHaveLength(4);
    // One hook call per connection, with the seed's ctx: "[ip]:port", forward, no interface, no owner.
    const calls = r.lines.filter((l) => l.startsWith('HOOK '));
    expect(calls).toHaveLength(4);
    for (const c of calls) expect(c).toMatch(/^HOOK \[2001:618:400::5199:cc70\]:\d+ \[2001:[0-9a-f:]+\]:80 forward nil nil$/);
    for (const f of r.flows) expect(f.FLOW_VERDICT).toBe(CODE[verdict]);
    const checked = r.lines.filter((l) => l.startsWith('CHECKHTTP '));
    if (verdict === 'check') {
      for (const f of r.flows) expect(httpKeys(f)).toEqual(expect.arrayContaining(['HTTP_URL', 'HTTP_HOST', 'HTTP_METHOD']));
      expect(checked).toHaveLength(4);
      expect(r.flows.every((f) => f.L7_PROTO === 7)).toBe(true);
    } else {
      for (const f of r.flows) expect(httpKeys(f)).toEqual([]);
      for (const f of r.flows) expect(f.L7_PROTO).toBe(0);
      expect(checked).toEqual([]);
    }
    // Counters never wait for the verdict: the same packets as without the hook.
    expect(r.flows.map((f) => f.IN_PKTS + f.OUT_PKTS).reduce((a, b) => a + b, 0)).toBe(81);
    expect(r.stderr).toMatch(new RegExp(`intercept_hook: 4 calls, .*${verdict} 4`));
  });

  test.each([HTTP, HTTP2])('"check" exports what a run without the hook exports (%s)', (capture) => {
    const plain = runCli(probeArgs(capture));
    const r = run(capture, hooked, [], { VERDICT: 'check' });
    expect(r.status).toBe(0);
    const strip = (f: ProbeFlow): ProbeFlow => {
      const { FLOW_VERDICT: _v, ...rest } = f;
      return rest as ProbeFlow;
    };
    expect(r.flows.map(strip)).toEqual(plain.flows);
  });

  test('flows with no connection (UDP) carry FLOW_VERDICT 0; the hook is not called for them', () => {
    const r = run(DNS, hooked, [], { VERDICT: 'drop' });
    expect(r.status).toBe(0);
    expect(r.flows.length).toBeGreaterThan(0);
    for (const f of r.flows) expect(f.FLOW_VERDICT).toBe(f.PROTOCOL === 6 ? CODE.drop : 0);
    expect(r.lines.filter((l) => l.startsWith('HOOK ')).length).toBe(r.flows.filter((f) => f.PROTOCOL === 6).length);
  });

  test('without intercept_hook no flow carries FLOW_VERDICT', () => {
    const r = run(HTTP, script('nohook.lua', 'function checkHTTPFlow() end\n'));
    expect(r.status).toBe(0);
    for (const f of r.flows) expect(f.FLOW_VERDICT).toBeUndefined();
  });

  const defaults: Array<[string, string, string[]]> = [
    ['a runtime error', 'function intercept_hook(ctx) error("boom") end', []],
    ['nil', 'function intercept_hook(ctx) return nil end', []],
    ['an unknown string', 'function intercept_hook(ctx) return "maybe" end', []],
    ['a time-out', 'local dw = require "drweb"\nfunction intercept_hook(ctx) dw.sleep(30) return "drop" end', ['--intercept-timeout-ms', '300']],
  ];
  test.each(defaults)('%s gives the default verdict (--intercept-default)', (what, body, extra) => {
    for (const def of ['pass', 'reject'] as const) {
      const r = run(HTTP, script(`default-${what.replace(/\W/g, '')}.lua`, body + '\nfunction checkHTTPFlow() print("CHECKHTTP") end\n'), [
        '--intercept-default',
        def,
        ...extra,
      ]);
      expect(r.status).toBe(0);
      expect(r.flows).toHaveLength(4);
      for (const f of r.flows) expect(f.FLOW_VERDICT).toBe(CODE[def]);
      expect(r.lines.filter((l) => l.startsWith('CHECKHTTP'))).toEqual([]);
      expect(r.stderr).toMatch(/intercept_hook: 4 calls, .* 4 defaults/);
    }
  });

  test('the default verdict "check" dissects as usual', () => {
    const r = run(HTTP, script('nil.lua', 'function intercept_hook(ctx) return nil end'));
    for (const f of r.flows) {
      expect(f.FLOW_VERDICT).toBe(CODE.check);
      expect(f.HTTP_URL).toBeDefined();
    }
  });

  test('bad options are usage errors', () => {
    const r = runCli(probeArgs(HTTP, ['--lua', hooked, '--intercept-default', 'maybe']));
    expect(r.status).toBe(2);
    const t = runCli(probeArgs(HTTP, ['--lua', hooked, '--intercept-timeout-ms', '0']));
    expect(t.status).toBe(2);
    const q = runCli(['-i', 'nf:70000', '-n', 'none']);
    expect(q.status).toBe(1);
    expect(q.stderr).toMatch(/nf:70000: expected nf:N with a queue number N from 0 to 65535/);
  });
});
