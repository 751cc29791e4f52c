// The connection hook runner (seed 000 "Processing Connections in Lua"; DESIGN.md §5): calls the
// script's intercept_hook(ctx) once per new connection and hands back its verdict. Connections
// come in batches; a batch crosses into Lua once as one compact string (lua/intercept.lua builds
// the ctx tables) and each hook runs in its own coroutine, so a hook that sleeps, waits or looks
// something up delays nobody else. No verdict within timeoutMs, an error, nil or an unknown
// string gives the default verdict, counted and logged once per distinct cause.
import { performance } from 'perf_hooks';
import { LuaEngine } from 'wasmoon';
import { drwebRuntime, DrwebRuntime, installDrweb } from './drweb';

export type Verdict = 'pass' | 'check' | 'reject' | 'drop';
/** FLOW_VERDICT values exported with each flow. 0 = no hook ran. */
export const VERDICT_CODE: Record<Verdict, number> = { pass: 1, drop: 2, check: 3, reject: 4 };

export interface ConnOwner {
  uid?: number;
  gid?: number;
  user?: string;
  group?: string;
  pid?: number;
  exePath?: string;
}

export interface ConnInfo {
  id: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  divert: 'input' | 'output' | 'forward';
  ifaceIn?: string;
  ifaceOut?: string;
  /** Lazy: called at most once, on the script's first read of an owner field, only for divert 'output'. */
  owner?: () => ConnOwner;
}

export interface InterceptOptions {
  timeoutMs?: number;
  defaultVerdict?: Verdict;
  log?: (level: 'debug' | 'info' | 'notice' | 'warning' | 'error', line: string) => void;
}

export interface InterceptStats {
  calls: number;
  verdicts: Record<Verdict, number>;
  defaults: number;
  errors: number;
  timeouts: number;
  pending: number;
  p50Us: number;
  p99Us: number;
}

type Done = (id: number, verdict: Verdict, cause?: string) => void;

interface Pending {
  done: Done;
  t0: number;
  batch: Batch;
  owner?: () => ConnOwner;
}

interface Batch {
  left: number;
  ids: number[];
  timer?: NodeJS.Timeout;
}

/** Connections waiting for a verdict; more are answered at once with the default ("busy"). */
const MAX_PENDING = 100_000;
/** Latency samples kept for p50/p99 (the most recent ones). */
const LAT_SAMPLES = 8192;
/** Distinct causes logged; past this they are only counted. */
const MAX_CAUSES = 1000;

const VERDICTS: ReadonlySet<string> = new Set(['pass', 'check', 'reject', 'drop']);
const DIVERT = { input: 'i', output: 'o', forward: 'f' } as const;

// Text fields go between \1 separators: those bytes (and NUL) must not occur inside.
const clean = (s: string | undefined): string => (s === undefined ? '' : /[\x00-\x02]/.test(s) ? s.replace(/[\x00-\x02]/g, '') : s);
const port = (n: number): number => (Number.isInteger(n) && n >= 0 && n <= 65535 ? n : 0);

export class InterceptRunner {
  private readonly rt: DrwebRuntime;
  private readonly timeoutMs: number;
  private readonly def: Verdict;
  private readonly log: NonNullable<InterceptOptions['log']>;
  private readonly pending = new Map<number, Pending>();
  private readonly batches = new Set<Batch>();
  private readonly seen = new Set<string>();
  private readonly lat = new Float64Array(LAT_SAMPLES);
  private nlat = 0;
  private closed = false;
  private readonly st = { calls: 0, verdicts: { pass: 0, check: 0, reject: 0, drop: 0 } as Record<Verdict, number>, defaults: 0, errors: 0, timeouts: 0 };

  /** True when the script in this state defines a global function intercept_hook. */
  static defined(engine: LuaEngine): boolean {
    return typeof engine.global.get('intercept_hook') === 'function';
  }

  constructor(engine: LuaEngine, opts: InterceptOptions = {}) {
    if (!drwebRuntime(engine)) installDrweb(engine);
    this.rt = drwebRuntime(engine)!;
    if (this.rt.onVerdict) throw new Error('an InterceptRunner already runs on this Lua state');
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.def = opts.defaultVerdict ?? 'check';
    if (!VERDICTS.has(this.def)) throw new Error(`default verdict must be pass, check, reject or drop, not "${this.def}"`);
    this.log = opts.log ?? ((level, line) => process.stderr.write(`nprobe: [LUA] ${level}: ${line}\n`));
    // A hook that never yields is stopped after the same time, measured as CPU time per resume.
    this.rt.configure(this.timeoutMs / 1000);
    this.rt.onVerdict = (id, verdict, cause) => this.finish(id, verdict, cause);
    this.rt.onOwner = (id) => this.owner(id);
  }

  submit(conns: ConnInfo[], done: Done): void {
    const t0 = performance.now();
    const batch: Batch = { left: 0, ids: [] };
    const parts: string[] = [];
    for (const c of conns) {
      this.st.calls++;
      const id = c.id;
      if (this.closed || !Number.isSafeInteger(id) || id < 0 || this.pending.has(id) || this.pending.size >= MAX_PENDING) {
        const cause = this.closed
          ? 'closed'
          : !Number.isSafeInteger(id) || id < 0
            ? `bad connection id ${id}`
            : this.pending.has(id)
              ? `connection id ${id} already waiting`
              : `busy: ${MAX_PENDING} connections waiting for a verdict`;
        this.answer(id, done, t0, '', cause);
        continue;
      }
      const hasOwner = c.divert === 'output' && c.owner !== undefined;
      this.pending.set(id, { done, t0, batch, owner: hasOwner ? c.owner : undefined });
      batch.ids.push(id);
      batch.left++;
      parts.push(
        `${id}\x01${clean(c.src)}\x01${port(c.sport)}\x01${clean(c.dst)}\x01${port(c.dport)}\x01${DIVERT[c.divert] ?? 'f'}\x01${clean(c.ifaceIn)}\x01${clean(c.ifaceOut)}\x01${hasOwner ? 1 : 0}\x02`,
      );
    }
    if (batch.left === 0) return;
    this.batches.add(batch);
    try {
      this.rt.step(parts.join(''), '');
    } catch (e) {
      // The step itself failed (memory cap, a broken state): the batch gets the default.
      const cause = `error: ${(e as Error).message}`;
      for (const id of batch.ids) this.finish(id, '', cause);
    }
    if (batch.left > 0) batch.timer = setTimeout(() => this.expire(batch), this.timeoutMs).unref();
  }

  stats(): InterceptStats {
    const n = Math.min(this.nlat, LAT_SAMPLES);
    const s = Array.from(this.lat.subarray(0, n)).sort((a, b) => a - b);
    const q = (p: number): number => (n ? Math.round(s[Math.min(n - 1, Math.floor(p * n))] * 1000) : 0);
    return { ...this.st, verdicts: { ...this.st.verdicts }, pending: this.pending.size, p50Us: q(0.5), p99Us: q(0.99) };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const ids = [...this.pending.keys()];
    for (const id of ids) this.finish(id, '', 'closed');
    for (const b of this.batches) clearTimeout(b.timer);
    this.batches.clear();
    try {
      if (ids.length) this.rt.step('', ids.join(' '));
    } catch {
      // the state may be closed already
    }
    this.rt.close();
  }

  private expire(batch: Batch): void {
    const late: number[] = [];
    for (const id of batch.ids) {
      const p = this.pending.get(id);
      if (p && p.batch === batch) {
        late.push(id);
        this.finish(id, '', 'timeout');
      }
    }
    // The late hooks' tasks are dropped in Lua: a verdict after the default would mean nothing.
    if (late.length) {
      try {
        this.rt.step('', late.join(' '));
      } catch (e) {
        this.report('error', `intercept_hook: ${(e as Error).message}`);
      }
    }
  }

  private owner(id: number): [number?, number?, string?, string?, number?, string?] {
    const p = this.pending.get(id);
    const f = p?.owner;
    if (!f) return [];
    p.owner = undefined;
    try {
      const o = f();
      return [o.uid, o.gid, o.user, o.group, o.pid, o.exePath];
    } catch (e) {
      this.report('warning', `intercept_hook: connection owner: ${(e as Error).message}`);
      return [];
    }
  }

  private finish(id: number, verdict: string, cause: string | undefined): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    const b = p.batch;
    if (--b.left === 0) {
      clearTimeout(b.timer);
      this.batches.delete(b);
    }
    this.answer(id, p.done, p.t0, verdict, cause);
  }

  private answer(id: number, done: Done, t0: number, verdict: string, cause: string | undefined): void {
    let v: Verdict;
    if (VERDICTS.has(verdict)) {
      v = verdict as Verdict;
      cause = undefined;
    } else {
      v = this.def;
      cause = cause || 'nil';
      this.st.defaults++;
      if (cause === 'timeout') this.st.timeouts++;
      else if (cause.startsWith('error: ') || cause === 'nil' || cause.startsWith('unknown verdict')) this.st.errors++;
      this.report('warning', `intercept_hook: ${cause}: default verdict "${v}"`);
    }
    this.st.verdicts[v]++;
    this.lat[this.nlat++ % LAT_SAMPLES] = performance.now() - t0;
    try {
      done(id, v, cause);
    } catch (e) {
      this.report('error', `intercept verdict callback: ${(e as Error).message}`);
    }
  }

  private report(level: 'warning' | 'error', line: string): void {
    if (this.seen.has(line) || this.seen.size >= MAX_CAUSES) return;
    this.seen.add(line);
    this.log(level, line);
  }
}
