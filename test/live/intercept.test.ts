/**
 * The connection hook enforced inline (`-i nf:N`, NFQUEUE) and passive resets, in network
 * namespaces this file creates and removes (test/helpers/netns.ts):
 *
 *   ns A 192.0.2.1 / 2001:db8::1: curl, python3 clients
 *   ns B 192.0.2.2 / 2001:db8::2: python3 -m http.server 8080, a silent TCP server on 8081
 *
 * Inline, server side: iptables-legacy in ns B queues port 8080 both ways to the probe
 * (ip6tables-legacy for the IPv6 case). The script picks the verdict by the client's port
 * (curl --local-port): pass -> the page arrives; reject -> curl sees a reset at once (exit 7);
 * drop -> curl times out; check -> the page arrives and the HTTP fields are exported.
 * Output divert: a rule on ns A's OUTPUT chain; the script reads the connecting curl's
 * uid/user/pid/exe_path. Passive: -i <veth> --intercept-rst answers "reject" with resets.
 * The kernel here has NFQUEUE for iptables but not for nft, hence the -legacy tools.
 * Needs root; skipped with the reason otherwise.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ADDR, Background, createPair, haveCommand, NetnsPair, netnsUnavailableReason } from '../helpers/netns';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const NODE = process.execPath;
const PY = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const CODE = { pass: 1, drop: 2, check: 3, reject: 4 } as const;
const PORTS = { pass: 41001, check: 41002, reject: 41003, drop: 41004, reject6: 41005 } as const;
// Queue numbers of this run (queues are per namespace; the pid keeps parallel runs apart anyway).
const QUEUE = 100 + (process.pid % 1000);

function unavailable(): string | null {
  const ns = netnsUnavailableReason();
  if (ns) return ns;
  for (const c of ['iptables-legacy', 'ip6tables-legacy', 'curl']) if (!haveCommand(c)) return `needs ${c} (Debian package ${c === 'curl' ? 'curl' : 'iptables'})`;
  if (!fs.existsSync(CLI)) return 'the probe is not built (npm run build)';
  return null;
}
const reason = unavailable();
if (reason) {
  // eslint-disable-next-line no-console
  console.warn(`intercept live tests skipped: ${reason}`);
}

const SCRIPT = `
local ports = { [${PORTS.pass}] = "pass", [${PORTS.check}] = "check", [${PORTS.reject}] = "reject", [${PORTS.drop}] = "drop", [${PORTS.reject6}] = "reject" }
function intercept_hook(ctx)
  if ctx.divert == "output" then
    print(string.format("OWNER %d %s %s %s %s %s %s", ctx.src.port, tostring(ctx.uid), tostring(ctx.gid), tostring(ctx.user),
      tostring(ctx.group), tostring(ctx.pid), tostring(ctx.exe_path)))
    return "pass"
  end
  print("CTX " .. tostring(ctx.src) .. " " .. ctx.divert .. " " .. tostring(ctx.iface_in) .. " " .. tostring(ctx.uid))
  return ports[ctx.src.port] or os.getenv("VERDICT") or "check"
end
`;

interface Curl {
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
}

async function curl(pair: NetnsPair, url: string, localPort: number, extra: string[] = []): Promise<Curl> {
  const t0 = Date.now();
  const bg = pair.spawnIn(pair.nsA, ['curl', '-sS', '--max-time', '2', '--local-port', String(localPort), ...extra, url]);
  const { code } = await bg.exited;
  return { code, ms: Date.now() - t0, stdout: bg.stdout(), stderr: bg.stderr() };
}

function flowsOf(file: string): Array<Record<string, unknown>> {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

async function startProbe(pair: NetnsPair, ns: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Background> {
  const probe = pair.spawnIn(ns, [NODE, CLI, ...args], { name: 'nprobe', env: { ...process.env, ...env } });
  const up = await probe.waitForOutput(/capturing on /, 20000);
  if (!up) throw new Error(`probe did not start: ${probe.stderr()}`);
  return probe;
}

(reason ? describe.skip : describe)('intercept_hook inline (NFQUEUE) and passive resets', () => {
  let pair: NetnsPair;
  let dir: string;
  let script: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-icpt-live-'));
    script = path.join(dir, 'hook.lua');
    fs.writeFileSync(script, SCRIPT);
    fs.writeFileSync(path.join(dir, 'index.html'), 'hello from ns B\n');
    pair = await createPair('icpt');
    pair.spawnIn(pair.nsB, [PY, '-m', 'http.server', '8080', '--bind', ADDR.b4], { cwd: dir, name: 'http.server' });
    await pair.waitForTcpListen(pair.nsB, 8080);
  });

  afterAll(async () => {
    await pair?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('server side: pass, check, reject (IPv4 and IPv6), drop', async () => {
    const rules = [
      ['iptables-legacy', '-A', 'INPUT', '-p', 'tcp', '--dport', '8080', '-j', 'NFQUEUE', '--queue-num', String(QUEUE)],
      ['iptables-legacy', '-A', 'OUTPUT', '-p', 'tcp', '--sport', '8080', '-j', 'NFQUEUE', '--queue-num', String(QUEUE)],
      ['ip6tables-legacy', '-A', 'INPUT', '-p', 'tcp', '--dport', '8080', '-j', 'NFQUEUE', '--queue-num', String(QUEUE)],
    ];
    for (const r of rules) expect(pair.exec(pair.nsB, r).status).toBe(0);
    const out = path.join(dir, 'inline.jsonl');
    const probe = await startProbe(pair, pair.nsB, ['-i', `nf:${QUEUE}`, '--lua', script, '-n', 'none', '--json-out', out]);
    try {
      const url = `http://${ADDR.b4}:8080/index.html`;
      const pass = await curl(pair, url, PORTS.pass);
      expect(pass.code).toBe(0);
      expect(pass.stdout).toBe('hello from ns B\n');
      const check = await curl(pair, url, PORTS.check);
      expect(check.code).toBe(0);
      expect(check.stdout).toBe('hello from ns B\n');
      const reject = await curl(pair, url, PORTS.reject);
      expect(reject.code).toBe(7); // "Couldn't connect": a reset answered the SYN
      expect(reject.ms).toBeLessThan(1000);
      const reject6 = await curl(pair, `http://[${ADDR.b6}]:8080/index.html`, PORTS.reject6);
      expect(reject6.code).toBe(7);
      expect(reject6.ms).toBeLessThan(1000);
      const drop = await curl(pair, url, PORTS.drop);
      expect(drop.code).toBe(28); // time-out: nothing came back
    } finally {
      await probe.stop('SIGINT', 10000);
      for (const r of rules) pair.exec(pair.nsB, [r[0], '-F', r[2]]);
    }
    expect(probe.stderr()).not.toMatch(/nprobe: error/);
    const ctx = probe.stdout().split('\n').filter((l) => l.startsWith('CTX '));
    // One hook call per connection (retransmitted SYNs of the dropped one are held, not hooked again).
    expect(ctx).toHaveLength(5);
    expect(ctx).toContain(`CTX ${ADDR.a4}:${PORTS.pass} input ${pair.vethB} nil`);
    const flows = flowsOf(out);
    for (const [what, port] of Object.entries(PORTS)) {
      const f = flows.filter((x) => x.L4_SRC_PORT === port && x.PROTOCOL === 6);
      expect(f.length).toBeGreaterThanOrEqual(1);
      const verdict = what === 'reject6' ? 'reject' : (what as keyof typeof CODE);
      for (const x of f) expect(x.FLOW_VERDICT).toBe(CODE[verdict]);
      const http = f.flatMap((x) => Object.keys(x).filter((k) => k.startsWith('HTTP_')));
      if (what === 'check') {
        expect(f[0].HTTP_URL).toBe('/index.html');
        expect(f[0].HTTP_HOST).toBe(`${ADDR.b4}:8080`);
        expect(f[0].HTTP_RET_CODE).toBe(200);
      } else {
        expect(http).toEqual([]);
      }
    }
    // The dropped connection's SYN and its retransmissions are all in its flow, none passed.
    const dropped = flows.find((x) => x.L4_SRC_PORT === PORTS.drop)!;
    expect(dropped.IN_PKTS as number).toBeGreaterThanOrEqual(2);
    expect(dropped.OUT_PKTS).toBe(0);
    expect(probe.stderr()).toMatch(/NFQUEUE \d+ accepted, \d+ dropped/);
  });

  test('output divert: the owner of the connection (uid, user, pid, exe_path)', async () => {
    const rule = ['iptables-legacy', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '8080', '-j', 'NFQUEUE', '--queue-num', String(QUEUE + 1)];
    expect(pair.exec(pair.nsA, rule).status).toBe(0);
    const probe = await startProbe(pair, pair.nsA, ['-i', `nf:${QUEUE + 1}`, '--lua', script, '-n', 'none']);
    let curlPid = 0;
    try {
      const bg = pair.spawnIn(pair.nsA, ['curl', '-sS', '--max-time', '2', '--local-port', '41010', `http://${ADDR.b4}:8080/index.html`]);
      curlPid = bg.proc.pid!;
      const { code } = await bg.exited;
      expect(code).toBe(0);
      expect(bg.stdout()).toBe('hello from ns B\n');
    } finally {
      await probe.stop('SIGINT', 10000);
      pair.exec(pair.nsA, ['iptables-legacy', '-F', 'OUTPUT']);
    }
    const line = probe.stdout().split('\n').find((l) => l.startsWith('OWNER '));
    const [, port, uid, gid, user, group, pid, exe] = (line ?? '').split(' ');
    expect(Number(port)).toBe(41010);
    expect(Number(uid)).toBe(process.getuid!());
    expect(Number(gid)).toBe(process.getgid!());
    expect(user).toBe(os.userInfo().username);
    expect(group).not.toBe('nil');
    expect(Number(pid)).toBe(curlPid);
    expect(exe).toBe(fs.realpathSync('/usr/bin/curl'));
  });

  test('a queue another program holds is a one-line error, exit 1', async () => {
    const first = await startProbe(pair, pair.nsA, ['-i', `nf:${QUEUE + 2}`, '-n', 'none']);
    try {
      const second = pair.exec(pair.nsA, [NODE, CLI, '-i', `nf:${QUEUE + 2}`, '-n', 'none'], { timeoutMs: 20000 });
      expect(second.status).toBe(1);
      expect(second.stderr.trim().split('\n')).toEqual([`nprobe: error: cannot read NFQUEUE ${QUEUE + 2}: queue ${QUEUE + 2} is already bound by another program`]);
    } finally {
      await first.stop('SIGINT', 10000);
    }
  });

  test('passive, --intercept-rst: "reject" is answered with a reset the client sees', async () => {
    // A server that accepts and never answers: only a reset ends the client's wait.
    const server = pair.spawnIn(pair.nsB, [PY, '-c', `
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${ADDR.b4}", 8081)); s.listen(8)
held = []
while True:
    c, _ = s.accept(); held.append(c)
`]);
    await pair.waitForTcpListen(pair.nsB, 8081);
    const out = path.join(dir, 'passive.jsonl');
    const probe = await startProbe(pair, pair.nsB, ['-i', pair.vethB, '--intercept-rst', '--lua', script, '-n', 'none', '--json-out', out, '-f', 'tcp port 8081'], { VERDICT: 'reject' });
    let result = '';
    try {
      const client = pair.spawnIn(pair.nsA, [PY, '-c', `
import socket, time
c = socket.create_connection(("${ADDR.b4}", 8081), timeout=5)
t0 = time.time()
try:
    d = c.recv(10)
    print("EOF" if d == b"" else "DATA")
except ConnectionResetError:
    print("RESET %.3f" % (time.time() - t0))
except socket.timeout:
    print("TIMEOUT")
`], { env: { ...process.env } });
      await client.exited;
      result = client.stdout().trim();
    } finally {
      await probe.stop('SIGINT', 10000);
      await server.stop();
    }
    expect(result).toMatch(/^RESET /);
    const flows = flowsOf(out).filter((f) => f.L4_DST_PORT === 8081);
    expect(flows.length).toBeGreaterThanOrEqual(1);
    expect(flows[0].FLOW_VERDICT).toBe(CODE.reject);
    expect(probe.stderr()).toMatch(/resets [1-9]\d* sent/);
  }, 60000);

  test('passive, --intercept-rst: the server end is reset too', async () => {
    // The probe watches from the client's side of the link this time: frames it injects on
    // vethA travel to ns B, so the reset addressed to the server is the one that arrives
    // (the one to the client goes the same way and is not taken there). The server waits for
    // data the client never sends: only a reset ends its wait.
    const server = pair.spawnIn(pair.nsB, [PY, '-c', `
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${ADDR.b4}", 8082)); s.listen(8)
c, _ = s.accept(); c.settimeout(8)
t0 = time.time()
try:
    d = c.recv(10)
    print("EOF" if d == b"" else "DATA", flush=True)
except ConnectionResetError:
    print("RESET %.3f" % (time.time() - t0), flush=True)
except socket.timeout:
    print("TIMEOUT", flush=True)
`]);
    await pair.waitForTcpListen(pair.nsB, 8082);
    const out = path.join(dir, 'passive-server.jsonl');
    // Seen from ns A the connection leaves a local address (divert "output", which the
    // shared script passes): this script rejects whatever it is asked about.
    const rejectAll = path.join(dir, 'reject.lua');
    fs.writeFileSync(rejectAll, 'function intercept_hook(ctx) return "reject" end\n');
    const probe = await startProbe(pair, pair.nsA, ['-i', pair.vethA, '--intercept-rst', '--lua', rejectAll, '-n', 'none', '--json-out', out, '-f', 'tcp port 8082']);
    let result = '';
    try {
      const client = pair.spawnIn(pair.nsA, [PY, '-c', `
import socket, time
c = socket.create_connection(("${ADDR.b4}", 8082), timeout=5)
time.sleep(9)
`]);
      await server.exited;
      result = server.stdout().trim();
      await client.stop('SIGTERM', 2000);
    } finally {
      await probe.stop('SIGINT', 10000);
    }
    expect(result).toMatch(/^RESET /);
    const flows = flowsOf(out).filter((f) => f.L4_DST_PORT === 8082);
    expect(flows.length).toBeGreaterThanOrEqual(1);
    expect(flows[0].FLOW_VERDICT).toBe(CODE.reject);
  }, 60000);
});
