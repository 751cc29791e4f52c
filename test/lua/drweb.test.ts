// The drweb modules (seed 000 "Available Auxiliary Modules"; DESIGN.md §5) in a real Lua state
// built as the probe builds it (LuaHost + installDrweb): IpAddress/TcpEndpoint, logging,
// sleep/async/Future, load_set/load_array, drweb.firewall, the sandbox, and the errors raised
// where a task cannot wait (flow hooks).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { LuaEngine } from 'wasmoon';
import { LuaHost } from '../../src/lua/host';
import { DrwebOptions, installDrweb } from '../../src/lua/drweb';
import type { FlowRecord } from '../../src/record';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-drweb-'));
function script(name: string, src: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, src);
  return f;
}

const hosts: LuaHost[] = [];
afterAll(() => hosts.forEach((h) => h.close()));

async function load(src: string, opts: DrwebOptions = {}, sandbox = false): Promise<{ lua: LuaEngine; host: LuaHost; logs: string[] }> {
  const logs: string[] = [];
  const host = await LuaHost.load(script(`s${hosts.length}.lua`, src), {
    sandbox,
    preload: (e) => installDrweb(e, { log: (l, m) => logs.push(`${l}: ${m}`), ...opts }),
  });
  hosts.push(host);
  return { lua: host.lua, host, logs };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('IpAddress', () => {
  let lua: LuaEngine;
  beforeAll(async () => {
    ({ lua } = await load('dw = require "drweb"\n'));
  });
  const ev = (expr: string): unknown => lua.doStringSync(`return ${expr}`);

  test('belongs with a dot call (the seed) and a colon call', () => {
    expect(ev('dw.ip("127.0.0.1").belongs("127.0.0.0/8")')).toBe(true);
    expect(ev('dw.ip("127.0.0.1"):belongs("127.0.0.0/8")')).toBe(true);
    expect(ev('dw.ip("128.0.0.1").belongs("127.0.0.0/8")')).toBe(false);
    expect(ev('dw.ip("128.0.0.1"):belongs("127.0.0.0/8")')).toBe(false);
  });

  test('belongs: CIDR, dotted mask, plain address, list', () => {
    expect(ev('dw.ip("10.20.30.41").belongs("10.0.0.0/255.0.0.0")')).toBe(true);
    expect(ev('dw.ip("11.20.30.41").belongs("10.0.0.0/255.0.0.0")')).toBe(false);
    expect(ev('dw.ip("192.168.1.7").belongs("192.168.1.7")')).toBe(true);
    expect(ev('dw.ip("192.168.1.8").belongs("192.168.1.7")')).toBe(false);
    expect(ev('dw.ip("192.168.1.8").belongs({"10.0.0.0/8", "192.168.0.0/16"})')).toBe(true);
    expect(ev('dw.ip("172.16.0.1"):belongs({"10.0.0.0/8", "192.168.0.0/16"})')).toBe(false);
    expect(ev('dw.ip("10.1.2.3").belongs("10.1.2.3/32")')).toBe(true);
    expect(ev('dw.ip("1.2.3.4").belongs("0.0.0.0/0")')).toBe(true);
    expect(ev('dw.ip("2001:db8::5").belongs("2001:db8::/32")')).toBe(true);
    expect(ev('dw.ip("2001:db9::5").belongs("2001:db8::/32")')).toBe(false);
    expect(ev('dw.ip("2001:db8::5").belongs("2001:db8::/ffff:ffff::")')).toBe(true);
    expect(ev('dw.ip("::1").belongs("::1")')).toBe(true);
    expect(ev('dw.ip("::1").belongs("127.0.0.0/8")')).toBe(false);
  });

  test('IPv4-mapped IPv6 matches IPv4 networks and the other way round', () => {
    expect(ev('dw.ip("::ffff:127.0.0.1").belongs("127.0.0.0/8")')).toBe(true);
    expect(ev('dw.ip("::ffff:7f00:1").belongs("127.0.0.0/255.0.0.0")')).toBe(true);
    expect(ev('dw.ip("127.0.0.1").belongs("::ffff:127.0.0.0/104")')).toBe(true);
    expect(ev('dw.ip("128.0.0.1").belongs("::ffff:127.0.0.0/104")')).toBe(false);
  });

  test('__tostring in canonical form (RFC 5952), __concat both sides', () => {
    expect(ev('tostring(dw.ip("127.0.0.1"))')).toBe('127.0.0.1');
    expect(ev('tostring(dw.ip("0:0:0:0:0:0:0:1"))')).toBe('::1');
    expect(ev('tostring(dw.ip("2001:DB8:0:0:1:0:0:1"))')).toBe('2001:db8::1:0:0:1');
    expect(ev('tostring(dw.ip("2001:db8:0:1:1:1:1:1"))')).toBe('2001:db8:0:1:1:1:1:1');
    expect(ev('tostring(dw.ip("fe80:0000:0000:0000:0204:61ff:fe9d:f156"))')).toBe('fe80::204:61ff:fe9d:f156');
    expect(ev('tostring(dw.ip("::"))')).toBe('::');
    expect(ev('tostring(dw.ip("::ffff:127.0.0.1"))')).toBe('::ffff:127.0.0.1');
    expect(ev('"ip=" .. dw.ip("10.0.0.1")')).toBe('ip=10.0.0.1');
    expect(ev('dw.ip("::1") .. "!"')).toBe('::1!');
  });

  test('__eq and __band', () => {
    expect(ev('dw.ip("10.0.0.1") == dw.ip("10.0.0.1")')).toBe(true);
    expect(ev('dw.ip("10.0.0.1") == dw.ip("10.0.0.2")')).toBe(false);
    expect(ev('dw.ip("::1") == dw.ip("0::0:1")')).toBe(true);
    expect(ev('dw.ip("127.0.0.1") == dw.ip("::ffff:127.0.0.1")')).toBe(true);
    expect(ev('tostring(dw.ip("192.168.1.2") & dw.ip("255.255.254.0"))')).toBe('192.168.0.0');
    expect(ev('(dw.ip("192.168.1.2") & dw.ip("255.255.254.0")) == dw.ip("192.168.0.0")')).toBe(true);
    expect(ev('tostring(dw.ip("2001:db8:1:2::7") & dw.ip("ffff:ffff:ffff::"))')).toBe('2001:db8:1::');
    expect(ev('getmetatable(dw.ip("1.2.3.4") & dw.ip("255.0.0.0")) == getmetatable(dw.ip("1.2.3.4"))')).toBe(true);
  });

  test('bad addresses and networks raise clear errors', () => {
    expect(() => ev('dw.ip("300.1.2.3")')).toThrow(/"300\.1\.2\.3" is not an IPv4 or IPv6 address/);
    expect(() => ev('dw.ip("1:2:3")')).toThrow(/not an IPv4 or IPv6 address/);
    expect(() => ev('dw.ip("1::2::3")')).toThrow(/not an IPv4 or IPv6 address/);
    expect(() => ev('dw.ip("example.com")')).toThrow(/not an IPv4 or IPv6 address/);
    expect(() => ev('dw.ip(42)')).toThrow(/address string expected, got number/);
    expect(() => ev('dw.ip("10.0.0.1").belongs("10.0.0.0/33")')).toThrow(/prefix length .* too long/);
    expect(() => ev('dw.ip("10.0.0.1").belongs("10.0.0.0/ffff::")')).toThrow(/not a dotted IPv4 mask/);
    expect(() => ev('dw.ip("10.0.0.1").belongs("bogus")')).toThrow(/"bogus" is not an address or network/);
  });
});

describe('require "drweb"', () => {
  test('log levels, the logLevel filter, drweb.firewall constants', async () => {
    const { lua, logs } = await load(
      [
        'local dw = require "drweb"',
        'local fw = require "drweb.firewall"',
        'dw.debug("d") dw.info("i") dw.notice("n") dw.warning("w") dw.error("e")',
        'dw.log("notice", "via log") dw.log("debug", "hidden")',
        'consts = fw.PASS .. fw.CHECK .. fw.REJECT .. fw.DROP',
      ].join('\n'),
      { logLevel: 'notice' },
    );
    expect(logs).toEqual(['notice: n', 'warning: w', 'error: e', 'notice: via log']);
    expect(lua.global.get('consts')).toBe('passcheckrejectdrop');
    expect(() => lua.doStringSync('require("drweb").log("loud", "x")')).toThrow(/unknown level "loud"/);
  });

  test('load_set / load_array trim lines and skip blank ones', async () => {
    const f = path.join(dir, 'list.txt');
    fs.writeFileSync(f, 'alpha\n  beta  \n\n \t \ngamma\r\nalpha\n');
    const { lua } = await load('dw = require "drweb"\n');
    lua.global.set('F', f);
    expect(lua.doStringSync('local a = dw.load_array(F) return table.concat(a, "|")')).toBe('alpha|beta|gamma|alpha');
    expect(lua.doStringSync('local s = dw.load_set(F) local n = 0 for k, v in pairs(s) do assert(v == true) n = n + 1 end return n')).toBe(3);
    expect(lua.doStringSync('return dw.load_set(F)["beta"]')).toBe(true);
    expect(() => lua.doStringSync('dw.load_set("/nonexistent/x.txt")')).toThrow(/drweb\.load_set: \/nonexistent\/x\.txt: ENOENT/);
  });

  test('--lua-sandbox: the modules load, reading files is refused', async () => {
    const { lua } = await load('dw = require "drweb"\nfw = require "drweb.firewall"\n', {}, true);
    expect(lua.doStringSync('return tostring(dw.ip("::1"))')).toBe('::1');
    expect(() => lua.doStringSync('dw.load_array("/etc/hostname")')).toThrow(/reading files is disabled by --lua-sandbox/);
    expect(() => lua.doStringSync('require "os2"')).toThrow(/not available/);
  });

  test('async + Future.wait (dot and colon), results and re-raised errors', async () => {
    const { lua } = await load(
      [
        'local dw = require "drweb"',
        'out = {}',
        'local function slow(x) dw.sleep(0.05) return x, x * 2 end',
        'local function bad() dw.sleep(0.01) error("bad thing", 0) end',
        'dw.async(function()',
        '  local f, g = dw.async(slow, 21), dw.async(bad)',
        '  local a, b = f.wait()',
        '  local c = f:wait()',
        '  local ok, err = pcall(g.wait)',
        '  out.r = table.concat({a, b, c, tostring(ok), err}, ",")',
        'end)',
      ].join('\n'),
    );
    await sleep(150);
    expect(lua.doStringSync('return out.r')).toBe('21,42,21,false,bad thing');
  });

  test('the seed\'s scheduled procedure: an endless loop of sleeps at load time', async () => {
    const { lua, logs } = await load(
      [
        'local dw = require "drweb"',
        'n = 0',
        'future = dw.async(function()',
        '   while true do',
        '     dw.sleep(0.02)',
        '     n = n + 1',
        '     dw.notice("A brand new day began")',
        '   end',
        'end)',
      ].join('\n'),
    );
    await sleep(200);
    const n = lua.global.get('n') as number;
    expect(n).toBeGreaterThanOrEqual(3);
    expect(logs[0]).toBe('notice: A brand new day began');
  });

  test('sleep and wait where no task can yield (a flow hook, load time) raise an error', async () => {
    const { host, lua } = await load(
      [
        'local dw = require "drweb"',
        'err = nil',
        'function checkDNSFlow()',
        '  local ok, e = pcall(dw.sleep, 1)',
        '  err = e',
        'end',
      ].join('\n'),
    );
    const flow = { FLOW_ID: 1, L7_PROTO: 5, L4_SRC_PORT: 1, L4_DST_PORT: 53, PROTOCOL: 17, FIRST_SWITCHED: 0, LAST_SWITCHED: 0 } as unknown as FlowRecord;
    const t0 = Date.now();
    host.process([flow]);
    expect(Date.now() - t0).toBeLessThan(500);
    expect(lua.global.get('err')).toMatch(/drweb\.sleep: cannot wait here: only inside intercept_hook or a drweb\.async function/);
    expect(() => lua.doStringSync('require("drweb").sleep(1)')).toThrow(/cannot wait here/);
    expect(() => lua.doStringSync('local dw = require "drweb" local f = dw.async(function() dw.sleep(1) end) f.wait()')).toThrow(/Future\.wait: cannot wait here/);
  });

  test('a dw.async function that never yields is stopped, not the probe', async () => {
    const { lua } = await load('dw = require "drweb"\n');
    const t0 = Date.now();
    lua.doStringSync('f = dw.async(function() while true do end end)');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(() => lua.doStringSync('f.wait()')).toThrow(/ran past its time budget/);
  });
});
