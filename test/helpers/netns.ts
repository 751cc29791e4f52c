/**
 * Network-namespace fixtures for live capture tests.
 *
 * createPair() builds two fresh namespaces joined by a veth pair:
 *
 *   ns A  <veth A>  192.0.2.1/24  2001:db8::1/64
 *   ns B  <veth B>  192.0.2.2/24  2001:db8::2/64
 *
 * Only documentation prefixes (RFC 5737 / RFC 3849) are used, and all traffic stays
 * inside the two namespaces. Names carry the test process's pid and a counter, so
 * parallel runs never collide; the veth ends are created directly inside their
 * namespaces, so nothing ever appears in the host namespace.
 *
 * Cleanup: pair.destroy() stops every process started through spawnIn(), then any
 * other process still living in the namespaces (they can only be ours: the
 * namespaces are private to this test process), then deletes both namespaces (which
 * removes the veth pair). A process 'exit' hook does the same for pairs a test forgot,
 * and createPair() removes stale namespaces left by earlier runs whose process is gone.
 */
import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';

export const NS_PREFIX = 'nprobe-live-';

export const ADDR = {
  a4: '192.0.2.1',
  b4: '192.0.2.2',
  a6: '2001:db8::1',
  b6: '2001:db8::2',
} as const;

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Background {
  name: string;
  proc: ChildProcess;
  /** Accumulated output so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited (immediately if it already has). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** Resolves with true when `re` matches stderr (or stdout with `which`), false on timeout/exit. */
  waitForOutput(re: RegExp, timeoutMs: number, which?: 'stderr' | 'stdout'): Promise<boolean>;
  /** Send `sig`, wait up to `graceMs` for exit, then SIGKILL. */
  stop(sig?: NodeJS.Signals, graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface NetnsPair {
  nsA: string;
  nsB: string;
  vethA: string;
  vethB: string;
  macA: string;
  macB: string;
  /** Run a command to completion inside a namespace (argv, no shell). */
  exec(ns: string, argv: string[], opts?: ExecOpts): RunResult;
  /** Start a background process inside a namespace; tracked and killed by destroy(). */
  spawnIn(ns: string, argv: string[], opts?: SpawnOpts): Background;
  /** Wait until something listens on TCP `port` (optionally on `host`) inside `ns`. */
  waitForTcpListen(ns: string, port: number, host?: string, timeoutMs?: number): Promise<void>;
  /** Stop tracked processes, kill leftovers in the namespaces, delete the namespaces. */
  destroy(): Promise<void>;
}

export interface ExecOpts {
  timeoutMs?: number;
  input?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface SpawnOpts {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  name?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function run(argv: string[], opts: ExecOpts = {}): RunResult {
  const r: SpawnSyncReturns<string> = spawnSync(argv[0], argv.slice(1), {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 30_000,
    input: opts.input,
    cwd: opts.cwd,
    env: opts.env,
    killSignal: 'SIGKILL',
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    return { status: 127, signal: null, stdout: '', stderr: `${argv[0]}: not found` };
  }
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function mustRun(argv: string[], opts?: ExecOpts): string {
  const r = run(argv, opts);
  if (r.status !== 0) {
    throw new Error(`command failed (${r.status ?? r.signal}): ${argv.join(' ')}\n${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

/** Is `cmd` an executable on PATH (or an absolute path)? */
export function haveCommand(cmd: string): boolean {
  if (cmd.includes('/')) {
    try {
      fs.accessSync(cmd, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    try {
      fs.accessSync(`${dir}/${cmd}`, fs.constants.X_OK);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

/**
 * Why namespace tests cannot run here, or null if they can. Checks root, the `ip`
 * tool, and actually creates and deletes a scratch namespace with a veth pair.
 */
export function netnsUnavailableReason(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'needs root (network namespaces and packet capture); run as root, as CI does';
  }
  if (!haveCommand('ip')) return "needs iproute2's `ip` command";
  const probe = `${NS_PREFIX}${process.pid}-probe`;
  const add = run(['ip', 'netns', 'add', probe]);
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  try {
    const veth = run(['ip', '-n', probe, 'link', 'add', 'vp0', 'type', 'veth', 'peer', 'name', 'vp1']);
    if (veth.status !== 0) return `cannot create a veth pair: ${veth.stderr.trim()}`;
  } finally {
    run(['ip', 'netns', 'del', probe]);
  }
  return null;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function listNamespaces(): string[] {
  const r = run(['ip', 'netns', 'list']);
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => !!n);
}

function nsPids(ns: string): number[] {
  const r = run(['ip', 'netns', 'pids', ns]);
  if (r.status !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number)
    .filter((p) => p !== process.pid);
}

/** Kill every process in `ns` (by pid), then delete it. Synchronous, best effort. */
function deleteNamespaceSync(ns: string): void {
  for (let round = 0; round < 2; round++) {
    for (const pid of nsPids(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  run(['ip', 'netns', 'del', ns]);
}

/** Remove namespaces from earlier runs of this helper whose owning process is gone. */
function removeStaleNamespaces(): void {
  const re = new RegExp(`^${NS_PREFIX}(\\d+)-`);
  for (const ns of listNamespaces()) {
    const m = re.exec(ns);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner !== process.pid && !pidAlive(owner)) deleteNamespaceSync(ns);
  }
}

const livePairs = new Set<string>();
let exitHookInstalled = false;
let counter = 0;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const ns of livePairs) deleteNamespaceSync(ns);
    livePairs.clear();
  });
}

function makeBackground(name: string, proc: ChildProcess): Background {
  let out = '';
  let err = '';
  let done = false;
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((f) => f());
  proc.stdout?.setEncoding('utf8');
  proc.stderr?.setEncoding('utf8');
  proc.stdout?.on('data', (d: string) => {
    out += d;
    notify();
  });
  proc.stderr?.on('data', (d: string) => {
    err += d;
    notify();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('error', (e) => {
      err += `\n[spawn error] ${e.message}\n`;
      done = true;
      notify();
      resolve({ code: 127, signal: null });
    });
    proc.on('close', (code, signal) => {
      done = true;
      notify();
      resolve({ code, signal });
    });
  });

  const bg: Background = {
    name,
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    hasExited: () => done,
    waitForOutput(re, timeoutMs, which = 'stderr') {
      return new Promise<boolean>((resolve) => {
        const text = () => (which === 'stderr' ? err : out);
        let timer: NodeJS.Timeout | undefined;
        const check = () => {
          if (re.test(text())) finish(true);
          else if (done) finish(false);
        };
        const finish = (v: boolean) => {
          listeners.delete(check);
          if (timer) clearTimeout(timer);
          resolve(v);
        };
        listeners.add(check);
        timer = setTimeout(() => finish(false), timeoutMs);
        check();
      });
    },
    async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 5000) {
      if (!done && proc.pid) {
        try {
          proc.kill(sig);
        } catch {
          /* gone */
        }
        let timer: NodeJS.Timeout | undefined;
        const t = await Promise.race([
          exited.then(() => 'exit'),
          new Promise<string>((r) => {
            timer = setTimeout(() => r('timeout'), graceMs);
          }),
        ]);
        if (timer) clearTimeout(timer);
        if (t === 'timeout' && !done) {
          try {
            proc.kill('SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
      return exited;
    },
  };
  return bg;
}

function macOf(ns: string, dev: string): string {
  const out = mustRun(['ip', '-n', ns, '-o', 'link', 'show', 'dev', dev]);
  const m = /link\/ether ([0-9a-f:]{17})/i.exec(out);
  if (!m) throw new Error(`no MAC for ${dev} in ${ns}: ${out}`);
  return m[1].toLowerCase();
}

/** Parse `ss -Hltn` local addresses ("192.0.2.2:8080", "[2001:db8::2]:8080", "*:8080"). */
function listening(ns: string): { host: string; port: number }[] {
  const r = run(['ip', 'netns', 'exec', ns, 'ss', '-Hltn']);
  if (r.status !== 0) return [];
  const res: { host: string; port: number }[] = [];
  for (const line of r.stdout.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4) continue;
    const local = cols[3];
    const i = local.lastIndexOf(':');
    if (i < 0) continue;
    let host = local.slice(0, i).replace(/^\[|\]$/g, '');
    host = host.replace(/%.*$/, '');
    res.push({ host, port: Number(local.slice(i + 1)) });
  }
  return res;
}

/**
 * Create ns A and ns B joined by a veth pair, addresses per the module comment.
 * Throws (after cleaning up) if any step fails.
 */
export async function createPair(tag = 't'): Promise<NetnsPair> {
  installExitHook();
  removeStaleNamespaces();
  const n = counter++;
  const base = `${NS_PREFIX}${process.pid}-${tag}${n}`;
  const nsA = `${base}-a`;
  const nsB = `${base}-b`;
  // Interface names are at most 15 characters; they live only inside the namespaces.
  const suffix = `${(process.pid % 100000).toString(36)}${n.toString(36)}`;
  const vethA = `npa${suffix}`.slice(0, 15);
  const vethB = `npb${suffix}`.slice(0, 15);
  const tracked = new Set<Background>();

  const destroySync = () => {
    deleteNamespaceSync(nsA);
    deleteNamespaceSync(nsB);
    livePairs.delete(nsA);
    livePairs.delete(nsB);
  };

  try {
    mustRun(['ip', 'netns', 'add', nsA]);
    livePairs.add(nsA);
    mustRun(['ip', 'netns', 'add', nsB]);
    livePairs.add(nsB);
    for (const ns of [nsA, nsB]) mustRun(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    mustRun(['ip', '-n', nsA, 'link', 'add', vethA, 'type', 'veth', 'peer', 'name', vethB, 'netns', nsB]);
    // No router solicitations / autoconf noise beyond what the kernel must do.
    for (const [ns, dev] of [
      [nsA, vethA],
      [nsB, vethB],
    ]) {
      run(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${dev}.accept_ra=0`]);
      run(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${dev}.router_solicitations=0`]);
    }
    mustRun(['ip', '-n', nsA, 'addr', 'add', `${ADDR.a4}/24`, 'dev', vethA]);
    mustRun(['ip', '-n', nsB, 'addr', 'add', `${ADDR.b4}/24`, 'dev', vethB]);
    mustRun(['ip', '-n', nsA, '-6', 'addr', 'add', `${ADDR.a6}/64`, 'dev', vethA, 'nodad']);
    mustRun(['ip', '-n', nsB, '-6', 'addr', 'add', `${ADDR.b6}/64`, 'dev', vethB, 'nodad']);
    mustRun(['ip', '-n', nsA, 'link', 'set', vethA, 'up']);
    mustRun(['ip', '-n', nsB, 'link', 'set', vethB, 'up']);
  } catch (e) {
    destroySync();
    throw e;
  }

  // Wait for both ends to be operationally up (carrier) so the first packet isn't lost.
  const deadline = Date.now() + 5000;
  for (;;) {
    const a = run(['ip', '-n', nsA, '-o', 'link', 'show', 'dev', vethA]).stdout;
    const b = run(['ip', '-n', nsB, '-o', 'link', 'show', 'dev', vethB]).stdout;
    if (/state UP/.test(a) && /state UP/.test(b)) break;
    if (Date.now() > deadline) {
      destroySync();
      throw new Error(`veth pair did not come up:\n${a}\n${b}`);
    }
    await sleep(50);
  }

  const macA = macOf(nsA, vethA);
  const macB = macOf(nsB, vethB);

  const pair: NetnsPair = {
    nsA,
    nsB,
    vethA,
    vethB,
    macA,
    macB,
    exec(ns, argv, opts) {
      return run(['ip', 'netns', 'exec', ns, ...argv], opts);
    },
    spawnIn(ns, argv, opts = {}) {
      // `ip netns exec` execs the command in place (no fork), so proc.pid is the
      // command itself and signals reach it directly.
      const proc = spawn('ip', ['netns', 'exec', ns, ...argv], {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const bg = makeBackground(opts.name ?? argv.join(' '), proc);
      tracked.add(bg);
      return bg;
    },
    async waitForTcpListen(ns, port, host, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const l = listening(ns);
        if (l.some((e) => e.port === port && (host === undefined || e.host === host))) return;
        if (Date.now() > end) {
          throw new Error(
            `nothing listening on ${host ?? '*'}:${port} in ${ns} after ${timeoutMs} ms; ss: ${JSON.stringify(l)}`,
          );
        }
        await sleep(50);
      }
    },
    async destroy() {
      await Promise.all([...tracked].map((bg) => bg.stop('SIGTERM', 2000)));
      tracked.clear();
      destroySync();
    },
  };
  return pair;
}

/**
 * Make the link silent except for test traffic: IPv6 off on both veth ends (no ND, MLD,
 * router solicitations) and permanent ARP entries (no ARP requests or NUD probes).
 * For tests of wall-clock behaviour that a stray packet would otherwise mask.
 */
export function quietLink(pair: NetnsPair): void {
  for (const [ns, dev] of [
    [pair.nsA, pair.vethA],
    [pair.nsB, pair.vethB],
  ]) {
    mustRun(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
  }
  mustRun(['ip', '-n', pair.nsA, 'neigh', 'replace', ADDR.b4, 'lladdr', pair.macB, 'dev', pair.vethA, 'nud', 'permanent']);
  mustRun(['ip', '-n', pair.nsB, 'neigh', 'replace', ADDR.a4, 'lladdr', pair.macA, 'dev', pair.vethB, 'nud', 'permanent']);
}

/** True if a namespace with this exact name exists. */
export function namespaceExists(ns: string): boolean {
  return listNamespaces().includes(ns);
}
