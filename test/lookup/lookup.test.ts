// drweb.lookup's file@ sources and the config file (DESIGN.md §5, issue 6), from Lua as a
// script calls them (lookup/check inside intercept_hook and in a flow hook) and at the service
// level: all-match, mask, regex and cidr modes, $u/$U substitution and escaping, reloads,
// config errors with file:line, unknown sources.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LuaHost } from '../../src/lua/host';
import { installDrweb } from '../../src/lua/drweb';
import { InterceptRunner, Verdict } from '../../src/lua/intercept';
import { LookupConfigError, parseLookupConfig } from '../../src/lookup/config';
import { LookupService } from '../../src/lookup/service';
import { escapeDnValue, escapeFilterValue, substitute } from '../../src/lookup/subst';

const FIX = path.join(__dirname, '..', 'fixtures', 'lookup');
const CONF = path.join(FIX, 'sources.conf');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-lookup-'));

describe('file sources, from Lua', () => {
  let host: LuaHost;
  const ev = (code: string): unknown => host.lua.doStringSync(code);
  beforeAll(async () => {
    const f = path.join(dir, 'l.lua');
    fs.writeFileSync(f, 'dwl = require "drweb.lookup"\ndw = require "drweb"\n');
    host = await LuaHost.load(f, { preload: (e) => installDrweb(e, { lookupConfig: CONF }) });
  });
  afterAll(() => host.close());

  test('all-match: lookup returns the entries (trimmed, no blanks or comments), check is exact', () => {
    expect(ev('return table.concat(dwl.lookup("file@users"), ",")')).toBe('alice,Bob,carol');
    expect(ev('return dwl.check("alice", "file@users")')).toBe(true);
    expect(ev('return dwl.check("Bob", "file@users")')).toBe(true);
    expect(ev('return dwl.check("bob", "file@users")')).toBe(false);
    expect(ev('return dwl.check("ali", "file@users")')).toBe(false);
  });

  test('all-match with ignore_case and a $u query', () => {
    expect(ev('return dwl.check("BOB", "file@users_ci")')).toBe(true);
    expect(ev('return table.concat(dwl.lookup("file@users_ci", {user = "BOB"}), ",")')).toBe('Bob');
    expect(ev('return #dwl.lookup("file@users_ci", {user = "dave"})')).toBe(0);
    expect(() => ev('dwl.lookup("file@users_ci")')).toThrow(/drweb\.lookup\.lookup: \$u needs params\.user/);
  });

  test('mask: shell wildcards * and ?', () => {
    expect(ev('return dwl.check("www.example.com", "file@hosts")')).toBe(true);
    expect(ev('return dwl.check("example.com", "file@hosts")')).toBe(false);
    expect(ev('return dwl.check("mail1.test.org", "file@hosts")')).toBe(true);
    expect(ev('return dwl.check("mail12.test.org", "file@hosts")')).toBe(false);
    expect(ev('return dwl.check("mailx.testxorg", "file@hosts")')).toBe(false); // "." is literal
  });

  test('regex, with a $U query for lookup', () => {
    expect(ev('return dwl.check("adm42", "file@admins")')).toBe(true);
    expect(ev('return dwl.check("xadm42", "file@admins")')).toBe(false);
    expect(ev('return dwl.check("root", "file@admins")')).toBe(true);
    expect(ev('return table.concat(dwl.lookup("file@admins", {user = "adm7"}), ",")')).toBe('^adm[0-9]+$');
    expect(ev('return #dwl.lookup("file@admins", {user = "Root"})')).toBe(0); // $U keeps the case
  });

  test('cidr: check of an address (string or IpAddress) tests membership', () => {
    expect(ev('return dwl.check("10.200.1.1", "file@nets")')).toBe(true);
    expect(ev('return dwl.check(dw.ip("192.168.44.1"), "file@nets")')).toBe(true);
    expect(ev('return dwl.check(dw.ip("::ffff:192.168.44.1"), "file@nets")')).toBe(true);
    expect(ev('return dwl.check("2001:db8:ffff::1", "file@nets")')).toBe(true);
    expect(ev('return dwl.check("203.0.113.7", "file@nets")')).toBe(true);
    expect(ev('return dwl.check("203.0.113.8", "file@nets")')).toBe(false);
    expect(ev('return dwl.check("192.169.0.1", "file@nets")')).toBe(false);
    expect(ev('return dwl.check("not-an-address", "file@nets")')).toBe(false);
  });

  test('an unknown source is a clear Lua error', () => {
    expect(() => ev('dwl.lookup("ldap@nowhere", {user = "x"})')).toThrow(/unknown data source "ldap@nowhere" \(.*sources\.conf defines: file@users, /);
    expect(() => ev('dwl.check("x", 42)')).toThrow(/request \("type@tag"\) expected, got number/);
  });

  test('file lookups answer at once, so they work in flow hooks too', () => {
    host.lua.doStringSync('function f() return dwl.check("carol", "file@users") end');
    expect(ev('return f()')).toBe(true);
  });
});

test('lookup inside intercept_hook decides the verdict; a lookup error gives the default', async () => {
  const f = path.join(dir, 'hook.lua');
  fs.writeFileSync(
    f,
    `local dwl = require "drweb.lookup"
function intercept_hook(ctx)
  if ctx.dst.port == 1 then return dwl.check(ctx.src.ip, "file@missing") and "drop" or "pass" end
  if dwl.check(ctx.src.ip, "file@nets") then return "pass" end
  return "reject"
end
`,
  );
  const host = await LuaHost.load(f, { preload: (e) => installDrweb(e, { lookupConfig: CONF }) });
  const r = new InterceptRunner(host.lua, { log: () => undefined });
  const got = new Map<number, [Verdict, string | undefined]>();
  r.submit(
    [
      { id: 1, src: '10.1.1.1', sport: 5000, dst: '192.0.2.1', dport: 80, divert: 'input' },
      { id: 2, src: '198.51.100.1', sport: 5000, dst: '192.0.2.1', dport: 80, divert: 'input' },
      { id: 3, src: '10.1.1.1', sport: 5000, dst: '192.0.2.1', dport: 1, divert: 'input' },
    ],
    (id, v, c) => got.set(id, [v, c]),
  );
  expect(got.get(1)).toEqual(['pass', undefined]);
  expect(got.get(2)).toEqual(['reject', undefined]);
  expect(got.get(3)![0]).toBe('check');
  expect(got.get(3)![1]).toMatch(/^error: .*hook\.lua:3: drweb\.lookup\.check: unknown data source "file@missing"/);
  r.close();
  host.close();
});

test('a changed file is read again after its ttl', async () => {
  const list = path.join(dir, 'list.txt');
  fs.writeFileSync(list, 'one\n');
  const conf = path.join(dir, 'reload.conf');
  fs.writeFileSync(conf, `[file@l]\npath = ${list}\nttl = 0.1\n`);
  const svc = LookupService.fromFile(conf);
  expect(svc.check('two', 'file@l', {})).toBe(false);
  fs.writeFileSync(list, 'one\ntwo\n');
  expect(svc.check('two', 'file@l', {})).toBe(false); // within the ttl: the loaded copy
  await new Promise((r) => setTimeout(r, 150));
  expect(svc.check('two', 'file@l', {})).toBe(true);
});

describe('substitution', () => {
  test('$u/$d lower-cased, $U/$D as given, $$ literal', () => {
    expect(substitute('$u|$U|$d|$D|$$', { user: 'Alice', domain: 'Example.ORG' })).toBe('alice|Alice|example.org|Example.ORG|$');
  });
  test('RFC 4515 filter escaping and RFC 4514 DN escaping', () => {
    expect(escapeFilterValue('a*b(c)d\\e\0')).toBe('a\\2ab\\28c\\29d\\5ce\\00');
    expect(substitute('(uid=$U)', { user: '*)(uid=*' }, escapeFilterValue)).toBe('(uid=\\2a\\29\\28uid=\\2a)');
    expect(escapeDnValue('Smith, John+x')).toBe('Smith\\, John\\+x');
    expect(escapeDnValue(' #lead')).toBe('\\ #lead');
  });
});

describe('config file errors name file:line', () => {
  const bad = (text: string) => () => parseLookupConfig(text, 'x.conf');
  test.each([
    ['path = a\n', /x\.conf:1: "path" outside of a \[type@tag\] section/],
    ['[file@a]\nmode = fuzzy\npath = a\n', /x\.conf:2: mode: all-match, mask, regex or cidr expected/],
    ['[file@a]\npaht = a\n', /x\.conf:2: unknown key "paht"/],
    ['[redis@a]\n', /x\.conf:1: \[redis@a\]: name must be file@TAG or ldap@TAG/],
    ['[ldap@u]\nurl = ldap://127.0.0.1\nbase = dc=x\nfilter = (uid=$x)\n', /x\.conf:4: filter: unknown marker/],
    ['[ldap@u]\nbase = dc=x\n', /url = ldap:\/\/host\[:port\]/],
    ['[file@a]\npath = a\n[file@a]\npath = b\n', /x\.conf:3: \[file@a\] defined twice/],
    ['garbage\n', /x\.conf:1: "key = value" or "\[type@tag\]" expected/],
  ])('%j', (text, re) => {
    expect(bad(text)).toThrow(LookupConfigError);
    expect(bad(text)).toThrow(re);
  });

  test('installDrweb fails on a bad config, before the script runs', async () => {
    const conf = path.join(dir, 'bad.conf');
    fs.writeFileSync(conf, '[file@a]\nmode = all-match\n');
    const f = path.join(dir, 'x.lua');
    fs.writeFileSync(f, 'x = 1\n');
    await expect(LuaHost.load(f, { preload: (e) => installDrweb(e, { lookupConfig: conf }) })).rejects.toThrow(/bad\.conf:1: \[file@a\]: path is required/);
  });
});
