// The drweb modules of Dr.Web's firewall Lua interface (seed 000; DESIGN.md §5), JS side:
// installs require "drweb", "drweb.lookup", "drweb.firewall" (lua/drweb/*.lua) and the
// connection-hook runner's Lua half (lua/intercept.lua) into a script's state, and drives the
// Lua scheduler: timers of dw.sleep, lookups, and batched wake-ups (one JS->Lua crossing for all
// the tasks that became runnable in the same turn of the event loop).
import * as fs from 'fs';
import * as path from 'path';
import { LUA_REGISTRYINDEX, LuaEngine, LuaMultiReturn } from 'wasmoon';
import type { LookupService, Params } from '../lookup/service';

export type LogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error';
export type LogFn = (level: LogLevel, line: string) => void;

export interface DrwebOptions {
  /** Where dw.log() and friends go (default: stderr). */
  log?: LogFn;
  /** Lowest level passed on (default info). */
  logLevel?: LogLevel;
  /** Path of the --lookup-config file (drweb.lookup's data sources). */
  lookupConfig?: string;
}

const LEVELS: Record<LogLevel, number> = { debug: 1, info: 2, notice: 3, warning: 4, error: 5 };

/** Largest file dw.load_set/load_array read. */
const MAX_READ_BYTES = 64 * 1024 * 1024;
/** setTimeout's longest delay; longer sleeps re-arm. */
const MAX_DELAY = 2 ** 31 - 1;
/** Lookup answers waiting for their task (one per task at most; the Lua side caps tasks). */
const MAX_RESULTS = 100_000;

// Compiled: dist/src/lua/drweb.js; under ts-jest: src/lua/drweb.ts. Both find <package>/lua.
const LUA_DIR = [path.resolve(__dirname, '..', '..', '..', 'lua'), path.resolve(__dirname, '..', '..', 'lua')].find((d) =>
  fs.existsSync(path.join(d, 'drweb', 'runtime.lua')),
) ?? 'lua';
const CHUNKS = ['drweb/ip.lua', 'drweb/runtime.lua', 'intercept.lua'].map((f) => [f, fs.readFileSync(path.join(LUA_DIR, f), 'utf8')]);

const ret = (...v: unknown[]): LuaMultiReturn => LuaMultiReturn.from(v) as LuaMultiReturn;

type OwnerValues = [number?, number?, string?, string?, number?, string?];

/** Per-state JS half of the scheduler; InterceptRunner (src/lua/intercept.ts) plugs into it. */
export class DrwebRuntime {
  private readonly stepFn: (conns: string, wakes: string, cancels: string) => string;
  private readonly configFn: (budget: number, minlevel: number) => void;
  private wakes: number[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private readonly results = new Map<number, unknown[]>();
  /** Tasks waiting for a lookup. */
  private readonly waiting = new Set<number>();
  readonly lookup?: LookupService;
  /** Verdict records of connections ("" verdict: the hook gave none; cause says why). */
  onVerdict?: (id: number, verdict: string, cause: string | undefined) => void;
  /** Owner of a connection (ctx.uid and friends), asked once per connection. */
  onOwner?: (id: number) => OwnerValues;
  readonly log: LogFn;

  constructor(readonly engine: LuaEngine, readonly opts: DrwebOptions) {
    this.log = opts.log ?? ((level, line) => process.stderr.write(`nprobe: [LUA] ${level}: ${line}\n`));
    // Loaded only with a --lookup-config: the LDAP client alone adds ~10 ms to a start.
    if (opts.lookupConfig) this.lookup = (require('../lookup/service') as typeof import('../lookup/service')).LookupService.fromFile(opts.lookupConfig);
    const g = engine.global;
    g.set('__drweb_h_log', (level: LogLevel, msg: string) => {
      this.log(level, msg);
    });
    g.set('__drweb_h_kick', () => {
      this.scheduleFlush();
    });
    g.set('__drweb_h_read', (p: string) => this.readLines(p));
    g.set('__drweb_h_lookup', (tid: number, kind: string, request: string, params: string, value: string) =>
      this.ask(tid, kind, request, params, value),
    );
    g.set('__drweb_h_take', (tid: number) => {
      const r = this.results.get(tid) ?? ['err', 'lookup answer lost'];
      this.results.delete(tid);
      return ret(...r);
    });
    g.set('__drweb_h_owner', (id: number) => ret(...(this.onOwner?.(id) ?? [])));
    exposeSethook(engine);
    for (const [name, src] of CHUNKS) {
      g.set('__drweb_src', src);
      // Loaded under their file names (errors read "lua/drweb/ip.lua:12: ..."), sharing one
      // internal table that no script sees.
      engine.doStringSync(
        `local s = __drweb_src; __drweb_src = nil; __drweb_I = __drweb_I or {}; assert(load(s, "@lua/${name}", "t"))(__drweb_I)`,
      );
    }
    engine.doStringSync('__drweb_I = nil');
    const D = g.get('__drweb') as Record<string, (...a: unknown[]) => unknown>;
    this.stepFn = D.step as DrwebRuntime['stepFn'];
    this.configFn = D.config as DrwebRuntime['configFn'];
    this.configure(1);
  }

  /** budget: CPU seconds one resume of a task may run before it is stopped (a time-out). */
  configure(budgetS: number): void {
    this.configFn(budgetS, LEVELS[this.opts.logLevel ?? 'info'] ?? 2);
  }

  /**
   * One crossing into Lua: starts the connections of `conns` (lua/intercept.lua's format),
   * resumes the tasks woken since the last step, drops the tasks of `cancels`; then files the
   * verdicts and timers that came back.
   */
  step(conns: string, cancels: string): void {
    if (this.closed) return;
    // LuaHost.close() closes the state under us: stop the timers then.
    if (this.engine.global.isClosed()) {
      this.close();
      return;
    }
    const wakes = this.wakes.length ? this.wakes.join(' ') : '';
    this.wakes = [];
    const out = this.stepFn(conns, wakes, cancels);
    if (!out) return;
    for (const rec of out.split('\x02')) {
      const p = rec.split('\x01');
      if (p[0] === 'V') this.onVerdict?.(Number(p[1]), p[2], p[2] ? undefined : p.slice(3).join('\x01'));
      else if (p[0] === 'T') this.arm(Number(p[1]), Number(p[2]));
      else if (p[0] === 'K') this.forget(Number(p[1]));
    }
  }

  /** A dropped task: its timer and its lookup (whose answer nobody will take) go too. */
  private forget(tid: number): void {
    clearTimeout(this.timers.get(tid));
    this.timers.delete(tid);
    this.waiting.delete(tid);
    this.results.delete(tid);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    // Everything that became runnable in this turn of the event loop goes in one step. Not
    // unref'd: an unref'd immediate does not wake a loop that sleeps in poll (it would wait for
    // the next ref'd timer); it runs once, at once, so it never holds the process up.
    setImmediate(() => {
      this.flushScheduled = false;
      try {
        this.step('', '');
      } catch (e) {
        this.log('error', `drweb scheduler: ${(e as Error).message}`);
      }
    });
  }

  private wake(tid: number): void {
    this.wakes.push(tid);
    this.scheduleFlush();
  }

  /** dw.sleep: unref'd so a background task's daily sleep never keeps the process alive. */
  private arm(tid: number, ms: number): void {
    const due = Date.now() + ms;
    const fire = (): void => {
      const left = due - Date.now();
      if (left > 0) {
        this.timers.set(tid, setTimeout(fire, Math.min(left, MAX_DELAY)).unref());
        return;
      }
      this.timers.delete(tid);
      this.wake(tid);
    };
    if (ms <= 0) {
      this.wake(tid);
      return;
    }
    this.timers.set(tid, setTimeout(fire, Math.min(ms, MAX_DELAY)).unref());
  }

  private readLines(p: string): LuaMultiReturn {
    try {
      const st = fs.statSync(p);
      if (st.size > MAX_READ_BYTES) return ret(false, `${p}: larger than ${MAX_READ_BYTES} bytes`);
      // Lines trimmed, blank and whitespace-only ones dropped (seed 000 load_set/load_array).
      const lines = fs
        .readFileSync(p, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '');
      return ret(true, lines.join('\n'));
    } catch (e) {
      return ret(false, `${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  /** drweb.lookup: "ok", n, joined (lookup) / "ok", 1|0 (check); "err", msg; "wait". */
  private ask(tid: number, kind: string, request: string, params: string, value: string): LuaMultiReturn {
    const answer = (r: string[] | boolean): unknown[] =>
      typeof r === 'boolean' ? ['ok', r ? 1 : 0] : ['ok', r.length, r.map((v) => v.replace(/[\x01\x02]/g, '')).join('\x01')];
    try {
      if (!this.lookup) throw new Error(`unknown data source "${request}": no --lookup-config file given`);
      const p: Params = {};
      if (params) {
        const f = params.split('\x01');
        for (let i = 0; i + 1 < f.length; i += 2) p[f[i]] = f[i + 1];
      }
      const r = kind === 'L' ? this.lookup.lookup(request, p) : this.lookup.check(value, request, p);
      if (!(r instanceof Promise)) return ret(...answer(r));
      if (!tid) {
        r.catch(() => undefined); // still fills the cache for the next call
        throw new Error(`${request}: the answer is not cached yet and this code cannot wait (only inside intercept_hook or a drweb.async function)`);
      }
      if (this.waiting.size + this.results.size >= MAX_RESULTS) throw new Error('too many lookups in flight');
      this.waiting.add(tid);
      const settle = (a: unknown[]): void => {
        if (!this.waiting.delete(tid)) return; // the task was dropped meanwhile
        this.results.set(tid, a);
        this.wake(tid);
      };
      r.then(
        (v) => settle(answer(v)),
        (e) => settle(['err', (e as Error).message]),
      );
      return ret('wait');
    } catch (e) {
      return ret('err', (e as Error).message);
    }
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    void this.lookup?.close();
  }
}

/**
 * debug.sethook for the scheduler's watchdog (a hook that never yields stops at its time-out
 * instead of freezing the probe). --lua-sandbox removes the global debug table before the
 * preload runs; the library itself is still in the registry's _LOADED table.
 */
function exposeSethook(engine: LuaEngine): void {
  const g = engine.global;
  const L = g.address;
  const top = g.getTop();
  try {
    g.lua.lua_getfield(L, LUA_REGISTRYINDEX, '_LOADED');
    g.lua.lua_getfield(L, -1, 'debug');
    if (g.lua.lua_type(L, -1) === 5 /* LUA_TTABLE */) {
      g.lua.lua_getfield(L, -1, 'sethook');
      g.lua.lua_setglobal(L, '__drweb_sethook');
    }
  } finally {
    g.setTop(top);
  }
}

const runtimes = new WeakMap<LuaEngine, DrwebRuntime>();

/** The runtime installDrweb put into this state, if any. */
export function drwebRuntime(engine: LuaEngine): DrwebRuntime | undefined {
  return runtimes.get(engine);
}

/**
 * Installs require "drweb", "drweb.lookup" and "drweb.firewall" into a fresh state. Meant as
 * LuaHost's preload: LuaHost.load(file, { preload: (e) => installDrweb(e, opts) }). Throws on
 * a bad --lookup-config file (message with file:line).
 */
export function installDrweb(engine: LuaEngine, opts: DrwebOptions = {}): void {
  if (runtimes.has(engine)) return;
  runtimes.set(engine, new DrwebRuntime(engine, opts));
}

/**
 * As installDrweb, on first use: require "drweb" (or "drweb.lookup", "drweb.firewall") in the
 * script installs the modules then. The CLI's preload: a script that never asks for them
 * saves the install (~5-25 ms of start-up, the runtime chunks and their JS functions).
 * InterceptRunner installs them itself for intercept_hook. Installed at once when there is a
 * --lookup-config (a bad file is an error before the script runs) and under --lua-sandbox
 * (no package table to hook into).
 */
export function preloadDrweb(engine: LuaEngine, opts: DrwebOptions = {}): void {
  if (runtimes.has(engine)) return;
  if (opts.lookupConfig) {
    installDrweb(engine, opts);
    return;
  }
  engine.global.set('__drweb_h_install', () => installDrweb(engine, opts));
  const hooked = engine.doStringSync(`
    local install = __drweb_h_install
    __drweb_h_install = nil
    if type(package) ~= "table" or type(package.preload) ~= "table" then return false end
    for _, name in ipairs({ "drweb", "drweb.lookup", "drweb.firewall" }) do
      package.preload[name] = function(n) install(); return package.loaded[n] end
    end
    return true`) as boolean;
  if (!hooked) installDrweb(engine, opts);
}
