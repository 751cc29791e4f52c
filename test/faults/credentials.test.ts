// Least privilege for data (issue 9): credentials never leave the probe unless asked for. The
// FTP and mail captures of test/pcap hold clear-text passwords (FTP/POP PASS, IMAP LOGIN, SASL
// PLAIN); none may appear in any output — JSON records, Lua tables — without --ftp-credentials.
// With it, FTP_PASSWORD (and only that: the mail plugins never keep passwords) is exported.
import * as fs from 'fs';
import * as path from 'path';
import { runCli } from '../helpers/probe';
import { jsonFlows, tmpDir } from '../helpers/faults';

jest.setTimeout(60_000);

const PCAP = path.resolve(__dirname, '..', 'pcap');
const tmp = tmpDir('cred');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Clear-text passwords in a capture's bytes, minus those equal to a user name of it. */
function passwordsIn(file: string): string[] {
  const text = fs.readFileSync(file).toString('latin1');
  const users = new Set<string>();
  const pw = new Set<string>();
  for (const m of text.matchAll(/(?<![A-Za-z])USER ([\x21-\x7e]+)\r\n/g)) users.add(m[1].trim());
  for (const m of text.matchAll(/(?<![A-Za-z])PASS ([\x21-\x7e]+)\r\n/g)) pw.add(m[1].trim());
  for (const m of text.matchAll(/ LOGIN "?([\x21\x23-\x7e]+)"? "?([\x21\x23-\x7e]+)"?\r\n/g)) {
    users.add(m[1]);
    pw.add(m[2]);
  }
  // SASL PLAIN: base64 of authzid \0 authcid \0 password, on the AUTH line or the next one.
  for (const m of text.matchAll(/(?:^|[\s])([A-Za-z0-9+/]{8,}={0,2})\r\n/g)) {
    const parts = Buffer.from(m[1], 'base64').toString('latin1').split('\0');
    if (parts.length === 3 && parts[2].length >= 3 && /^[\x20-\x7e]+$/.test(parts[2])) {
      users.add(parts[1]);
      pw.add(parts[2]);
    }
  }
  return [...pw].filter((p) => p.length >= 4 && !users.has(p));
}

// Prints every key and value of every hook's table: what a script could leak.
const DUMP_LUA = ['FTP', 'POP', 'IMAP', 'SMTP']
  .map((p) => `function check${p}Flow()\n  for k, v in pairs(${p.toLowerCase()}) do print("LUA " .. k .. "=" .. v) end\nend\n`)
  .join('');

const CAPTURES = ['ftp', 'pop', 'imap', 'smtp'].flatMap((d) =>
  fs.readdirSync(path.join(PCAP, d)).filter((f) => f.endsWith('.pcap')).map((f) => path.join(d, f)),
);
const WITH_PASSWORDS = CAPTURES.map((c) => [c, passwordsIn(path.join(PCAP, c))] as const).filter(([, p]) => p.length > 0);

/** Does any value (JSON string, Lua "k=v" value) hold p as a whole word? */
function leaks(values: string[], p: string): string | undefined {
  return values.find((v) => v.split(/[\s"',;:()<>\[\]{}]+/).includes(p));
}

function jsonValues(text: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  // Transactions are nested JSON: walk() reaches their values too.
  for (const line of text.split('\n').filter(Boolean)) walk(JSON.parse(line));
  return out;
}

test('the corpus has clear-text passwords to look for, in FTP and in mail captures', () => {
  const dirs = new Set(WITH_PASSWORDS.map(([c]) => c.split('/')[0]));
  expect(dirs.has('ftp')).toBe(true);
  expect(dirs.has('pop')).toBe(true);
  expect(dirs.has('imap')).toBe(true);
});

describe.each(WITH_PASSWORDS)('%s', (capture, passwords) => {
  const lua = path.join(tmp, 'dump.lua');
  const run = (extra: string[]): { json: string; lua: string } => {
    fs.writeFileSync(lua, DUMP_LUA);
    const out = path.join(tmp, `${path.basename(capture)}.${extra.length}.jsonl`);
    const r = runCli(['-i', path.join(PCAP, capture), '-n', 'none', '--json-out', out, '--lua', lua, ...extra]);
    expect(r.status).toBe(0);
    return { json: fs.readFileSync(out, 'utf8'), lua: r.stdout };
  };

  test(`without --ftp-credentials no output holds ${JSON.stringify(passwords)}`, () => {
    const o = run([]);
    expect(o.json.length).toBeGreaterThan(0);
    const jv = jsonValues(o.json);
    const lv = o.lua.split('\n').filter((l) => l.startsWith('LUA ')).map((l) => l.slice(l.indexOf('=') + 1));
    expect(lv.length).toBeGreaterThan(0);
    for (const p of passwords) {
      expect([p, leaks(jv, p)]).toEqual([p, undefined]);
      expect([p, leaks(lv, p)]).toEqual([p, undefined]);
    }
    expect(o.json).not.toContain('FTP_PASSWORD');
    // The key is there (unknown values are "", never nil), empty.
    expect(o.lua).not.toMatch(/password=\S/);
  });

  if (capture.startsWith('ftp/')) {
    test('with --ftp-credentials FTP_PASSWORD is exported, in JSON and in the Lua table', () => {
      const o = run(['--ftp-credentials']);
      const got = jsonFlows(o.json).map((f) => f.FTP_PASSWORD).filter((v) => typeof v === 'string');
      expect(got.length).toBeGreaterThan(0);
      for (const v of got) expect(passwords).toContain(v);
      expect(o.lua).toMatch(new RegExp(`LUA ftp\\.password=(${passwords.join('|')})`));
    });
  }
});
