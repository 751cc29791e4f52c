// The connection hook (seed 000; DESIGN.md §5) through InterceptRunner.submit, on connections
// built here: the seed's example scripts unchanged, a Dr.Web-style working-hours rule, ctx
// fields (endpoints, lazy owner), verdict defaults and their causes, time-outs, and that
// sleeping hooks run concurrently without delaying the others.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LuaHost } from '../../src/lua/host';
import { installDrweb } from '../../src/lua/drweb';
import { ConnInfo, InterceptOptions, InterceptRunner, Verdict } from '../../src/lua/intercept';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-intercept-'));
let nscript = 0;
function script(src: string): string {
  const f = path.join(dir, `hook${nscript++}.lua`);
  fs.writeFileSync(f, src);
  return f;
}

const open: Array<{ host: LuaHost; runner: InterceptRunner }> = [];
afterAll(() => open.forEach(({ host, runner }) => (runner.close(), host.close())));

async function runner(src: string, opts: InterceptOptions = {}) {
  const logs: string[] = [];
  const dwlogs: string[] = [];
  const host = await LuaHost.load(script(src), { preload: (e) => installDrweb(e, { log: (l, m) => dwlogs.push(`${l}: ${m}`) }) });
  const r = new InterceptRunner(host.lua, { log: (l, m) => logs.push(`${l}: ${m}`), ...opts });
  open.push({ host, runner: r });
  return { host, r, logs, dwlogs };
}

let nextId = 1;
function conn(extra: Partial<ConnInfo> = {}): ConnInfo {
  return { id: nextId++, src: '192.0.2.10', sport: 40000, dst: '198.51.100.1', dport: 443, divert: 'input', ...extra };
}

interface Answer {
  verdict: Verdict;
  cause?: string;
  ms: number;
}

/** Submits one batch and resolves with every connection's answer (by id). */
function verdicts(r: InterceptRunner, conns: ConnInfo[]): Promise<Map<number, Answer>> {
  const t0 = Date.now();
  const out = new Map<number, Answer>();
  return new Promise((resolve) => {
    r.submit(conns, (id, verdict, cause) => {
      expect(out.has(id)).toBe(false); // exactly once
      out.set(id, { verdict, cause, ms: Date.now() - t0 });
      if (out.size === conns.length) resolve(out);
    });
  });
}

const SEED_PASS = `-- Function of connection scanning written by the user
function intercept_hook(ctx)
  return "pass" -- do not scan the connection
end
`;

const SEED_RULES = `function intercept_hook(ctx)
  -- Do not scan connections, initiated from the local
  -- host (divert == "output") by application under the name of
  -- "drweb" (group == "[drweb]")
  if ctx.divert == "output" and ctx.group == "drweb" then
    return "pass"
  end

  -- Do not scan connections, initiated from
  -- privileged ports (range is from 0 to 1024)
  if ctx.src.port >= 0 and ctx.src.port <= 1024 then
    return "pass"
  end

  -- Do not scan connections from local network IP addresses
  -- (IP address range 127.0.0.1/8)
  if ctx.src.ip.belongs("127.0.0.0/8") then
    return "pass"
  end

  -- Connection is scanned by default
  return "check"
end
`;

describe('the seed\'s examples, unchanged', () => {
  test('always "pass"', async () => {
    const { host, r } = await runner(SEED_PASS);
    expect(InterceptRunner.defined(host.lua)).toBe(true);
    const cs = [conn(), conn({ src: '::1', dst: '::2', divert: 'forward' })];
    const v = await verdicts(r, cs);
    expect([...v.values()].map((a) => a.verdict)).toEqual(['pass', 'pass']);
  });

  test('owner group drweb, privileged port, 127.0.0.0/8 pass; the rest is checked', async () => {
    const { r } = await runner(SEED_RULES);
    let ownerCalls = 0;
    const owner = (group: string) => () => {
      ownerCalls++;
      return { uid: 1001, gid: 1001, user: 'u', group, pid: 4242, exePath: '/usr/bin/x' };
    };
    const cs = [
      conn({ sport: 1024 }), // privileged: pass
      conn({ sport: 0 }), // pass
      conn({ sport: 1025 }), // check
      conn({ src: '127.0.0.1' }), // pass
      conn({ src: '127.255.3.4' }), // pass
      conn({ src: '128.0.0.1' }), // check
      conn({ src: '::ffff:127.0.0.1' }), // mapped loopback: pass
      conn({ src: '2001:db8::1' }), // check
      conn({ divert: 'output', owner: owner('drweb') }), // pass
      conn({ divert: 'output', owner: owner('users') }), // check
      conn({ divert: 'input', owner: owner('drweb') }), // owner never asked for input: check
    ];
    const v = await verdicts(r, cs);
    expect(cs.map((c) => v.get(c.id)!.verdict)).toEqual(['pass', 'pass', 'check', 'pass', 'pass', 'check', 'pass', 'check', 'pass', 'check', 'check']);
    expect(ownerCalls).toBe(2);
    expect(r.stats().defaults).toBe(0);
  });
});

test('InterceptRunner.defined is false without a global intercept_hook', async () => {
  const host = await LuaHost.load(script('local function intercept_hook() end\nfunction intercept(ctx) end\n'), { preload: (e) => installDrweb(e) });
  expect(InterceptRunner.defined(host.lua)).toBe(false);
  host.close();
});

test('a Dr.Web-style working-hours rule with os.date: check or reject by divert and group', async () => {
  // In the style of DoctorWebLtd/drweb-lua-examples (firewall): outside working hours only
  // the admins may open outgoing connections; incoming ones are always checked.
  const src = `
local dw = require "drweb"
local function working_hours(t)
  local d = os.date("*t", t)
  return d.wday >= 2 and d.wday <= 6 and d.hour >= 9 and d.hour < 18
end
function intercept_hook(ctx)
  if ctx.divert ~= "output" then return "check" end
  if ctx.group == "admins" or working_hours(NOW) then return "check" end
  dw.notice("rejected " .. ctx.src .. " -> " .. ctx.dst .. " by " .. tostring(ctx.user))
  return "reject"
end
`;
  const { host, r, dwlogs } = await runner(src);
  const own = (group: string) => () => ({ user: 'bob', group });
  // Wednesday 2024-05-15 10:00 and 22:00 local time.
  const day = new Date(2024, 4, 15, 10, 0, 0).getTime() / 1000;
  const night = new Date(2024, 4, 15, 22, 0, 0).getTime() / 1000;
  const sunday = new Date(2024, 4, 19, 11, 0, 0).getTime() / 1000;
  const run = async (now: number, cs: ConnInfo[]) => {
    host.lua.global.set('NOW', now);
    const v = await verdicts(r, cs);
    return cs.map((c) => v.get(c.id)!.verdict);
  };
  const mk = () => [conn({ divert: 'output', owner: own('staff'), dst: '2001:db8::80', dport: 80 }), conn({ divert: 'output', owner: own('admins') }), conn({ divert: 'input' })];
  expect(await run(day, mk())).toEqual(['check', 'check', 'check']);
  expect(await run(night, mk())).toEqual(['reject', 'check', 'check']);
  expect(await run(sunday, mk())).toEqual(['reject', 'check', 'check']);
  expect(dwlogs[0]).toBe('notice: rejected 192.0.2.10:40000 -> [2001:db8::80]:80 by bob');
});

test('ctx fields: endpoints, divert, interfaces (nil when unknown), owner fields nil unless output', async () => {
  const src = `
function intercept_hook(ctx)
  seen = seen or {}
  seen[#seen + 1] = table.concat({
    tostring(ctx.src), tostring(ctx.dst), "x" .. ctx.src, ctx.dst .. "y", ctx.divert,
    tostring(ctx.iface_in), tostring(ctx.iface_out), tostring(ctx.uid), tostring(ctx.gid),
    tostring(ctx.user), tostring(ctx.group), tostring(ctx.pid), tostring(ctx.exe_path),
    tostring(ctx.src.port), tostring(ctx.dst.ip), math.type(ctx.dst.port)
  }, " ")
  return "check"
end
`;
  const { host, r } = await runner(src);
  await verdicts(r, [
    conn({ src: '10.1.2.3', sport: 5555, dst: '10.9.8.7', dport: 443, divert: 'forward', ifaceIn: 'eth0', ifaceOut: 'eth1' }),
    conn({ src: '::1', sport: 80, dst: '2001:db8:0::1', dport: 8080, divert: 'output', owner: () => ({ uid: 0, gid: 0, user: 'root', group: 'root', pid: 1, exePath: '/sbin/init' }) }),
    conn({ src: '::1', sport: 80, dst: '::2', dport: 1, divert: 'output', owner: () => ({ uid: 7 }) }),
  ]);
  const seen = host.lua.doStringSync('return table.concat(seen, "\\n")') as string;
  expect(seen.split('\n')).toEqual([
    '10.1.2.3:5555 10.9.8.7:443 x10.1.2.3:5555 10.9.8.7:443y forward eth0 eth1 nil nil nil nil nil nil 5555 10.9.8.7 integer',
    '[::1]:80 [2001:db8::1]:8080 x[::1]:80 [2001:db8::1]:8080y output nil nil 0 0 root root 1 /sbin/init 80 2001:db8::1 integer',
    '[::1]:80 [::2]:1 x[::1]:80 [::2]:1y output nil nil 7 nil nil nil nil nil 80 ::2 integer',
  ]);
});

describe('defaults', () => {
  const src = `
local dw = require "drweb"
function intercept_hook(ctx)
  local p = ctx.dst.port
  if p == 1 then error("no route to " .. "the rule") end
  if p == 2 then return nil end
  if p == 3 then return "allow" end
  if p == 4 then return 42 end
  if p == 5 then dw.sleep(5) return "pass" end
  if p == 6 then while true do end end
  if p == 7 then local t = nil; return t.x end
  return "drop"
end
`;

  test('error, nil, unknown string -> the default verdict, with the cause, logged once per cause', async () => {
    const { r, logs } = await runner(src, { defaultVerdict: 'reject' });
    const cs = [1, 2, 3, 4, 7, 8, 1, 2].map((p) => conn({ dport: p }));
    const v = await verdicts(r, cs);
    const got = cs.map((c) => [v.get(c.id)!.verdict, v.get(c.id)!.cause]);
    expect(got[0][0]).toBe('reject');
    expect(got[0][1]).toMatch(/^error: .*hook\d+\.lua:5: no route to the rule$/);
    expect(got[1]).toEqual(['reject', 'nil']);
    expect(got[2]).toEqual(['reject', 'unknown verdict "allow"']);
    expect(got[3]).toEqual(['reject', 'unknown verdict "42"']);
    expect(got[4][1]).toMatch(/^error: .*hook\d+\.lua:11: attempt to index a nil value/);
    expect(got[5]).toEqual(['drop', undefined]);
    expect(got[6][1]).toBe(got[0][1]);
    const st = r.stats();
    expect(st).toMatchObject({ calls: 8, defaults: 7, errors: 7, timeouts: 0, pending: 0 });
    expect(st.verdicts).toEqual({ pass: 0, check: 0, reject: 7, drop: 1 });
    // Five distinct causes, each logged once although errors and nil came twice.
    expect(logs).toHaveLength(5);
    expect(logs.filter((l) => l.includes('no route'))).toHaveLength(1);
    expect(logs).toContain('warning: intercept_hook: nil: default verdict "reject"');
  });

  test('no verdict within timeoutMs -> default with cause "timeout", and the others are not held up', async () => {
    const { r, logs } = await runner(src, { timeoutMs: 300 });
    const cs = [conn({ dport: 5 }), conn({ dport: 8 })];
    const v = await verdicts(r, cs);
    expect(v.get(cs[1].id)).toMatchObject({ verdict: 'drop' });
    expect(v.get(cs[1].id)!.ms).toBeLessThan(100);
    expect(v.get(cs[0].id)).toMatchObject({ verdict: 'check', cause: 'timeout' });
    expect(v.get(cs[0].id)!.ms).toBeGreaterThanOrEqual(290);
    expect(r.stats()).toMatchObject({ timeouts: 1, defaults: 1, pending: 0 });
    expect(logs).toEqual(['warning: intercept_hook: timeout: default verdict "check"']);
  });

  test('a hook that never yields is stopped at its time budget', async () => {
    const { r } = await runner(src, { timeoutMs: 200 });
    const cs = [conn({ dport: 6 }), conn({ dport: 8 })];
    const t0 = Date.now();
    const v = await verdicts(r, cs);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(v.get(cs[0].id)).toMatchObject({ verdict: 'check', cause: 'timeout' });
    expect(v.get(cs[1].id)!.verdict).toBe('drop');
  });

  test('close() answers the pending connections with the default', async () => {
    const { r } = await runner(src, { timeoutMs: 10000 });
    const c = conn({ dport: 5 });
    const p = verdicts(r, [c]);
    r.close();
    expect((await p).get(c.id)).toMatchObject({ verdict: 'check', cause: 'closed' });
  });
});

describe('concurrency', () => {
  const src = `
local dw = require "drweb"
function intercept_hook(ctx)
  if ctx.dst.port == 80 then dw.sleep(0.2) return "reject" end
  if ctx.dst.port == 81 then
    local f1 = dw.async(function(m) dw.sleep(0.2) return m end, "Hello,")
    local f2 = dw.async(function(m) dw.sleep(0.2) return m end, " world!")
    dw.log("notice", f1.wait() .. f2.wait())
    return "pass"
  end
  return "check"
end
`;

  test('two connections that sleep 200 ms each finish in ~200 ms; one that does not sleep is answered at once', async () => {
    const { r } = await runner(src);
    const cs = [conn({ dport: 80 }), conn({ dport: 80 }), conn({ dport: 443 })];
    let syncAnswers = 0;
    const t0 = Date.now();
    const all = new Promise<Map<number, Answer>>((resolve) => {
      const out = new Map<number, Answer>();
      r.submit(cs, (id, verdict, cause) => {
        out.set(id, { verdict, cause, ms: Date.now() - t0 });
        if (out.size === cs.length) resolve(out);
      });
      syncAnswers = out.size;
    });
    expect(syncAnswers).toBe(1); // the non-sleeping hook answered inside submit
    const v = await all;
    expect(v.get(cs[2].id)!.verdict).toBe('check');
    for (const c of cs.slice(0, 2)) {
      expect(v.get(c.id)!.verdict).toBe('reject');
      expect(v.get(c.id)!.ms).toBeGreaterThanOrEqual(195);
      expect(v.get(c.id)!.ms).toBeLessThan(380);
    }
  });

  test('the seed\'s async example: two 200 ms functions waited for in ~200 ms', async () => {
    const { r, dwlogs } = await runner(src);
    const c = conn({ dport: 81 });
    const v = await verdicts(r, [c]);
    expect(v.get(c.id)!.verdict).toBe('pass');
    expect(v.get(c.id)!.ms).toBeLessThan(380);
    expect(dwlogs).toEqual(['notice: Hello, world!']);
  });

  test('a later batch is not delayed by sleeping hooks of an earlier one', async () => {
    const { r } = await runner(src);
    const slow = verdicts(r, [conn({ dport: 80 })]);
    const t0 = Date.now();
    const fast = await verdicts(r, [conn({ dport: 22 })]);
    expect(Date.now() - t0).toBeLessThan(50);
    expect([...fast.values()][0].verdict).toBe('check');
    expect(r.stats().pending).toBe(1);
    await slow;
  });
});

test('a batch of trivial hooks: verdicts inside submit, stats with latency percentiles', async () => {
  const { r } = await runner('function intercept_hook(ctx) return "check" end\n');
  const cs = Array.from({ length: 500 }, (_, i) => conn({ sport: 1024 + i }));
  let n = 0;
  r.submit(cs, (_id, v) => {
    expect(v).toBe('check');
    n++;
  });
  expect(n).toBe(500);
  const st = r.stats();
  expect(st.calls).toBe(500);
  expect(st.verdicts.check).toBe(500);
  expect(st.p50Us).toBeGreaterThan(0);
  expect(st.p99Us).toBeGreaterThanOrEqual(st.p50Us);
});
