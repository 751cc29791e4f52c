// The glue between the capture thread's connection events and the Lua connection hook
// (DESIGN.md §5): on each wake-up, every new connection is drained (readConns), turned into
// the runner's ConnInfo and submitted as one batch; verdicts are collected and go back to the
// capture thread in batches (setVerdicts), never one native call per connection.
import { ConnEvent, decodeConns } from './events';
import type { ConnInfo, ConnOwner, InterceptStats, Verdict } from '../lua/intercept';
import { findOwner } from './owner';

export type { Verdict };
/** FLOW_VERDICT codes (src/lua/intercept.ts VERDICT_CODE); 0 = no hook ran. */
export const VERDICT_CODES: Readonly<Record<Verdict, number>> = { pass: 1, drop: 2, check: 3, reject: 4 };
export const NO_HOOK = 0;

/** What the bridge needs of src/lua/intercept.ts's InterceptRunner (types only: no wasmoon). */
export type ConnInfoLike = ConnInfo;
export type RunnerStats = InterceptStats;
export interface RunnerLike {
  submit(conns: ConnInfoLike[], done: (id: number, verdict: Verdict, cause?: string) => void): void;
  stats(): RunnerStats;
  close(): void;
}

/** The native side: src/native.ts NativeProbe (or a test double). */
export interface ConnSource {
  readConns(max: number): Buffer | null;
  setVerdicts(ids: Float64Array, codes: Uint8Array): void;
}

export interface BridgeOptions {
  /** Verdict given when a runner goes away (SIGHUP reload) before answering. */
  defaultVerdict: Verdict;
  /** Owner lookup (tests replace it). */
  owner?: (e: ConnEvent) => ConnOwner;
}

/** Connections drained per readConns call. */
const BATCH = 1024;

export class InterceptBridge {
  private runner: RunnerLike | null;
  private ids: number[] = [];
  private codes: number[] = [];
  private flushScheduled = false;
  private draining = false;
  /** Connections submitted and not answered yet, by the runner that has them. */
  private readonly outstanding = new Map<number, RunnerLike | null>();
  private readonly before: RunnerStats[] = [];
  /** Connections answered without a hook (the reloaded script has none). */
  noHook = 0;

  constructor(
    private readonly source: ConnSource,
    runner: RunnerLike | null,
    private readonly opts: BridgeOptions,
  ) {
    this.runner = runner;
  }

  /** Reads every waiting connection and hands them to the hook. Call on each wake-up. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (;;) {
        const buf = this.source.readConns(BATCH);
        if (!buf) break;
        const events = decodeConns(buf);
        const runner = this.runner;
        if (!runner) {
          for (const e of events) this.answer(e.id, NO_HOOK);
          this.noHook += events.length;
          continue;
        }
        const infos = events.map((e) => this.info(e));
        for (const e of events) this.outstanding.set(e.id, runner);
        runner.submit(infos, (id, verdict) => {
          if (this.outstanding.get(id) !== runner) return; // answered already (reload)
          this.outstanding.delete(id);
          this.answer(id, VERDICT_CODES[verdict] ?? VERDICT_CODES[this.opts.defaultVerdict]);
        });
        if (events.length < BATCH) break;
      }
    } finally {
      this.draining = false;
      this.flush(); // whatever the hook answered at once goes back in one call
    }
  }

  /**
   * SIGHUP: the new script's runner (null when it defines no intercept_hook). The old one is
   * closed; what it had not answered gets the default verdict.
   */
  replaceRunner(next: RunnerLike | null): void {
    const old = this.runner;
    this.runner = next;
    if (!old) return;
    this.before.push(old.stats());
    old.close();
    for (const [id, r] of this.outstanding) {
      if (r !== old) continue;
      this.outstanding.delete(id);
      this.answer(id, VERDICT_CODES[this.opts.defaultVerdict]);
    }
    this.flush();
  }

  /** The runner's counters, added over reloads. */
  stats(): RunnerStats {
    const all = [...this.before, ...(this.runner ? [this.runner.stats()] : [])];
    const out: RunnerStats = {
      calls: 0,
      verdicts: { pass: 0, check: 0, reject: 0, drop: 0 },
      defaults: 0,
      errors: 0,
      timeouts: 0,
      pending: 0,
      p50Us: 0,
      p99Us: 0,
    };
    for (const s of all) {
      out.calls += s.calls;
      for (const v of Object.keys(out.verdicts) as Verdict[]) out.verdicts[v] += s.verdicts[v] ?? 0;
      out.defaults += s.defaults;
      out.errors += s.errors;
      out.timeouts += s.timeouts;
      out.pending += s.pending;
      out.p50Us = Math.max(out.p50Us, s.p50Us);
      out.p99Us = Math.max(out.p99Us, s.p99Us);
    }
    return out;
  }

  close(): void {
    this.runner?.close();
    this.runner = null;
  }

  private info(e: ConnEvent): ConnInfoLike {
    const c: ConnInfoLike = { id: e.id, src: e.src, sport: e.sport, dst: e.dst, dport: e.dport, divert: e.divert };
    if (e.ifaceIn) c.ifaceIn = e.ifaceIn;
    if (e.ifaceOut) c.ifaceOut = e.ifaceOut;
    if (e.divert === 'output') {
      const lookup = this.opts.owner ?? ((ev: ConnEvent) => findOwner(ev));
      c.owner = () => lookup(e);
    }
    return c;
  }

  private answer(id: number, code: number): void {
    this.ids.push(id);
    this.codes.push(code);
    if (!this.draining && !this.flushScheduled) {
      // Answers that come later (sleep, async, lookups) are gathered until the event loop turns.
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  private flush(): void {
    if (this.ids.length === 0) return;
    const ids = Float64Array.from(this.ids);
    const codes = Uint8Array.from(this.codes);
    this.ids = [];
    this.codes = [];
    this.source.setVerdicts(ids, codes);
  }
}
