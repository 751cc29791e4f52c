// The Lua host: one wasmoon (Lua 5.4) state per script, nProbe's check<Protocol>Flow hooks
// (seed 002, DESIGN.md §4) called right before export, batch by batch. The batch crosses
// into Lua once, as one binary string written straight into wasm memory (lua/prelude.lua
// unpacks it and builds the tables), and one string comes back: per-flow JS<->Lua crossings
// cost ~12 us each in wasmoon, and a JS string, or Lua source, costs ~1 us per value.
import * as fs from 'fs';
import * as path from 'path';
import { LuaEngine, LuaMultiReturn } from 'wasmoon';
import { luaFactory } from './factory';
import { FieldDef, Plugin, PLUGINS } from '../../plugins';
import { FlowBatch } from '../batch';
import { LuaBatchSpec, LuaKeySrc, loadNative } from '../native';
import { FlowRecord } from '../record';

export interface LuaOptions {
  /** Per-call time budget (ms): a hook running longer is stopped and counted (default 100). */
  timeoutMs?: number;
  /** Memory cap of the Lua state (MiB, default 256). */
  memoryMb?: number;
  /** Remove io, os.execute, file loading and debug: for untrusted scripts. */
  sandbox?: boolean;
  /** Where hook errors are reported (once per distinct message). */
  log?: (line: string) => void;
  /**
   * Runs on the fresh state after the prelude and before the script is loaded: installs
   * modules the script may `require` at load time (the drweb modules, issue 6).
   */
  preload?: (engine: LuaEngine) => void;
}

export interface HookStats {
  hook: string;
  calls: number;
  errors: number;
  timeouts: number;
  suppressed: number;
  /** Time inside the hook functions (from the watchdog's first visit: see lua/prelude.lua). */
  totalMs: number;
  /**
   * What the calls cost the probe: the batches' whole time (values gathered, the crossing into
   * Lua, tables, calls, results applied), shared among the hooks by their number of calls.
   */
  costMs: number;
  p99Us: number;
}

/** A script that does not load: the message carries Lua's "file:line: ...". */
export class LuaLoadError extends Error {}

interface HookBinding {
  index: number;
  plugin: Plugin;
  keys: string[];
  /** Per key: true when the table holds an integer there, false for a string. */
  ints: boolean[];
  /** For each key: how to read it off a record. */
  getters: Array<(f: FlowRecord) => string | number>;
  /** Lua key -> record field, for keys the hook may change. */
  back: Map<string, string>;
}

// Compiled: dist/src/lua/host.js; under ts-jest: src/lua/host.ts. Both find <package>/lua.
const PRELUDE_FILE = [path.resolve(__dirname, '..', '..', '..', 'lua', 'prelude.lua'), path.resolve(__dirname, '..', '..', 'lua', 'prelude.lua')].find((f) =>
  fs.existsSync(f),
);
const PRELUDE = fs.readFileSync(PRELUDE_FILE ?? 'lua/prelude.lua', 'utf8');

/** The common keys of every table (seed 002), in order, and where each comes from. */
// The last column says where the native batch builder (native/export/lua_batch.cc) finds the
// same value in an encoded record; the two must agree (test/lua/host.test.ts checks it).
const COMMON: Array<[string, string | null, boolean, (f: FlowRecord) => string | number, LuaKeySrc]> = [
  ['nprobe.pid', null, true, () => process.pid, LuaKeySrc.Pid],
  ['flow.id', 'FLOW_ID', true, (f) => f.FLOW_ID, LuaKeySrc.FlowId],
  ['flow.from', null, false, (f) => f.IPV4_SRC_ADDR ?? f.IPV6_SRC_ADDR ?? '', LuaKeySrc.From],
  ['flow.to', null, false, (f) => f.IPV4_DST_ADDR ?? f.IPV6_DST_ADDR ?? '', LuaKeySrc.To],
  ['flow.sport', 'L4_SRC_PORT', true, (f) => f.L4_SRC_PORT, LuaKeySrc.Sport],
  ['flow.dport', 'L4_DST_PORT', true, (f) => f.L4_DST_PORT, LuaKeySrc.Dport],
  ['flow.duration', null, true, (f) => f.LAST_SWITCHED - f.FIRST_SWITCHED, LuaKeySrc.Duration],
  ['flow.beginTime', 'FIRST_SWITCHED', true, (f) => f.FIRST_SWITCHED, LuaKeySrc.Begin],
  ['flow.endTime', 'LAST_SWITCHED', true, (f) => f.LAST_SWITCHED, LuaKeySrc.End],
  ['flow.l7_proto', 'L7_PROTO', true, (f) => f.L7_PROTO, LuaKeySrc.L7],
  ['flow.protocol', 'PROTOCOL', true, (f) => f.PROTOCOL, LuaKeySrc.Proto],
];

let nextSpecId = 1;

function isNumeric(fd: FieldDef): boolean {
  return fd.type.startsWith('unsigned') || fd.type === 'dateTimeMilliseconds';
}

/**
 * The batch for N.run (lua/prelude.lua), per flow: hook index, layout, size, then values.
 * Layout 0 is the hook's own (integers as i8, strings as s4, little-endian), with each
 * value's offset before the values, so Lua unpacks only the keys a hook reads; layout 1 tags
 * every value (0 integer, 1 float, 2 string) for the rare flow whose values do not fit it (a
 * float, a string where a number is expected). native/export/lua_batch.h has the bytes.
 */
class BatchWriter {
  buf = Buffer.allocUnsafe(1 << 16);
  len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  private readonly vals: Array<string | number> = [];

  flow(b: HookBinding, f: FlowRecord): void {
    const vals = this.vals; // reused: no array per flow
    const getters = b.getters;
    vals.length = getters.length;
    let fits = true;
    for (let j = 0; j < getters.length; j++) {
      const v = getters[j](f);
      vals[j] = v;
      if (b.ints[j] ? !Number.isSafeInteger(v) : typeof v !== 'string') fits = false;
    }
    // Header: the flow's size and, in the hook's own layout, each value's offset, both from
    // the flow's first byte, patched in as the values are written (lua_batch.h).
    const start = this.len;
    const head = 6 + (fits ? 4 * vals.length : 0);
    this.room(head);
    this.buf[start] = b.index;
    this.buf[start + 1] = fits ? 0 : 1;
    this.len += head;
    for (let j = 0; j < vals.length; j++) {
      const v = vals[j];
      if (fits) this.buf.writeUInt32LE(this.len - start, start + 6 + 4 * j);
      else {
        this.room(1);
        this.buf[this.len++] = typeof v === 'string' ? 2 : Number.isSafeInteger(v) ? 0 : 1;
      }
      if (typeof v === 'string') this.str(v);
      else if (Number.isSafeInteger(v)) this.int(v);
      else {
        this.room(8);
        this.buf.writeDoubleLE(Number.isFinite(v) ? v : 0, this.len);
        this.len += 8;
      }
    }
    this.buf.writeUInt32LE(this.len - start, start + 2);
  }

  private int(v: number): void {
    this.room(8);
    // Two's complement in two halves: safe integers only (checked by the caller), no BigInt.
    const hi = Math.floor(v / 4294967296);
    this.buf.writeUInt32LE(v - hi * 4294967296, this.len);
    this.buf.writeInt32LE(hi, this.len + 4);
    this.len += 8;
  }

  private str(v: string): void {
    this.room(4 + v.length * 3); // UTF-8 is at most 3 bytes per UTF-16 unit
    const n = this.buf.write(v, this.len + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.len);
    this.len += 4 + n;
  }
}

function fieldGetter(fd: FieldDef): (f: FlowRecord) => string | number {
  const numeric = isNumeric(fd);
  return (f) => {
    const v = f[fd.name];
    if (v === undefined || v === null) return numeric ? 0 : '';
    if (typeof v === 'number' || typeof v === 'string') return v;
    return String(v); // transactions (RawJson) go in as their JSON text: values are strings or numbers only
  };
}

/** The export name of a key a script added: "http.site_tag" -> "HTTP_SITE_TAG". */
export function exportNameOf(luaKey: string): string {
  return luaKey.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase();
}

/** Memory the state may use beyond its cap to report what a failed batch had done. */
const RECOVERY_HEADROOM = 4 * 1024 * 1024;

/** Largest file a script may read through io.open (read whole at open). */
const MAX_READ_BYTES = 64 * 1024 * 1024;

/**
 * The real file system for io.open/io.lines/io.write and os.getenv/remove/rename (see the end
 * of lua/prelude.lua): Lua in WebAssembly would otherwise write into memory. Returns follow
 * Lua's convention: a value, or nil and a message.
 */
function installHostFs(engine: LuaEngine): void {
  const files = new Map<number, number>(); // handle -> fd
  let next = 1;
  const err = (e: unknown): string => (e as Error).message.replace(/^(\w+): /, '');
  // Several Lua return values; a JS null would not cross (wasmoon), undefined is nil.
  const ret = (...v: unknown[]): LuaMultiReturn => LuaMultiReturn.from(v) as LuaMultiReturn;
  engine.global.set('__host_open', (p: string, mode: string) => {
    try {
      const m = mode.replace('b', '');
      if (m === 'r') {
        const st = fs.statSync(p);
        if (st.size > MAX_READ_BYTES) return ret(undefined, `${p}: larger than ${MAX_READ_BYTES} bytes`);
        return ret(0, fs.readFileSync(p, 'latin1'));
      }
      const flags = m.startsWith('a') ? 'a' : m.startsWith('w') ? 'w' : m === 'r+' ? 'r+' : undefined;
      if (!flags) return ret(undefined, `${p}: mode ${mode} not supported`);
      const fd = fs.openSync(p, flags);
      files.set(next, fd);
      return ret(next++, '');
    } catch (e) {
      return ret(undefined, `${p}: ${err(e)}`);
    }
  });
  engine.global.set('__host_write', (id: number, text: string) => {
    try {
      if (id === -1) process.stdout.write(text);
      else fs.writeSync(files.get(id) ?? -1, text);
      return ret(true, '');
    } catch (e) {
      return ret(false, err(e));
    }
  });
  engine.global.set('__host_close', (id: number) => {
    const fd = files.get(id);
    if (fd !== undefined) fs.closeSync(fd);
    files.delete(id);
    return true;
  });
  engine.global.set('__host_getenv', (name: string) => process.env[name]);
  engine.global.set('__host_remove', (p: string) => {
    try {
      fs.rmSync(p);
      return ret(true, '');
    } catch (e) {
      return ret(false, `${p}: ${err(e)}`);
    }
  });
  engine.global.set('__host_rename', (a: string, b: string) => {
    try {
      fs.renameSync(a, b);
      return ret(true, '');
    } catch (e) {
      return ret(false, `${a}: ${err(e)}`);
    }
  });
}

/**
 * Calls a global Lua function with (bytes, number) through the raw C API: the bytes are
 * copied into wasm memory and pushed with lua_pushlstring, where wasmoon's own call would
 * convert a JS string to UTF-8 one char at a time (~20 ns per byte). Returns the string
 * result; throws with Lua's message when the call fails.
 */
function rawCall(engine: LuaEngine, fnName: string): (bytes: Buffer, len: number, num: number) => string {
  const lua = engine.global.lua;
  const L = engine.global.address;
  const mod = lua.module as unknown as {
    _malloc(n: number): number;
    _free(p: number): void;
    HEAPU8: Uint8Array;
    ccall(name: string, ret: string, types: string[], args: unknown[]): unknown;
  };
  return (bytes, len, num) => {
    const top = lua.lua_gettop(L);
    const ptr = mod._malloc(Math.max(len, 1));
    if (!ptr) throw new Error('out of wasm memory for the batch');
    try {
      mod.HEAPU8.set(bytes.subarray(0, len), ptr); // HEAPU8 read after malloc: memory may have grown
      lua.lua_getglobal(L, fnName);
      // Called directly: wasmoon's wrapper would read the pushed bytes back as a C string.
      mod.ccall('lua_pushlstring', 'number', ['number', 'number', 'number'], [L, ptr, len]);
    } finally {
      mod._free(ptr);
    }
    lua.lua_pushnumber(L, num);
    const rc = lua.lua_pcallk(L, 2, 1, 0, 0, null);
    const out = lua.lua_tolstring(L, -1, null) ?? '';
    lua.lua_settop(L, top);
    if (rc !== 0) throw new Error(out || `Lua error ${rc}`);
    return out;
  };
}

export class LuaHost {
  private engine!: LuaEngine;
  private bindings = new Map<number, HookBinding>(); // by nDPI id
  private byIndex: HookBinding[] = [];
  private runFn!: (batch: Buffer, len: number, budget: number) => string;
  private readonly batch = new BatchWriter();
  private readonly native = loadNative();
  private readonly specId = nextSpecId++;
  private statsFn!: () => string;
  private partialFn!: () => string;
  /** Per hook index: the batches' time shared by calls (HookStats.costMs), ms. */
  private readonly costMs: Record<number, number> = {};
  private readonly batchCalls: number[] = [];
  /** Per hook index: flows of a failed batch that never reached their hook (errors). */
  private readonly notScripted: Record<number, number> = {};
  private readonly seen = new Set<string>();
  private readonly timeoutS: number;
  /** The state's memory cap (--lua-memory-mb), bytes. */
  private readonly memoryMax: number;
  /** Flows whose export a hook suppressed (returned false). */
  suppressed = 0;

  private constructor(readonly file: string, private readonly opts: LuaOptions) {
    this.timeoutS = (opts.timeoutMs ?? 100) / 1000;
    this.memoryMax = (opts.memoryMb ?? 256) * 1024 * 1024;
  }

  /** Loads the script once; throws LuaLoadError with Lua's message (file:line). */
  static async load(file: string, opts: LuaOptions = {}): Promise<LuaHost> {
    const host = new LuaHost(file, opts);
    await host.init();
    return host;
  }

  /** The script's Lua state, shared with the connection hook (DESIGN.md §5). */
  get lua(): LuaEngine {
    return this.engine;
  }

  /** Plugins whose check<Protocol>Flow the script defines. */
  get enabled(): Plugin[] {
    return this.byIndex.map((b) => b.plugin);
  }

  private async init(): Promise<void> {
    let src: string;
    try {
      src = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      throw new LuaLoadError(`${this.file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    const engine = await luaFactory().createEngine({ traceAllocations: true, injectObjects: false, enableProxy: false });
    engine.global.setMemoryMax(this.memoryMax);
    installHostFs(engine);
    engine.doStringSync(PRELUDE);
    const N = engine.global.get('__nprobe') as Record<string, (...a: unknown[]) => unknown>;
    if (this.opts.sandbox) N.sandbox();
    this.opts.preload?.(engine);
    const err = N.loadscript(src, this.file) as string | null | undefined;
    if (err) {
      engine.global.close();
      throw new LuaLoadError(String(err));
    }
    const bindings = new Map<number, HookBinding>();
    const byIndex: HookBinding[] = [];
    const spec: LuaBatchSpec = { pid: process.pid, hooks: [] };
    for (const plugin of PLUGINS) {
      if (!N.defined(plugin.luaHook)) continue;
      const keys: string[] = [];
      const ints: boolean[] = [];
      const getters: HookBinding['getters'] = [];
      const back = new Map<string, string>();
      const srcs: LuaBatchSpec['hooks'][number]['keys'] = [];
      for (const [k, field, int, get, src] of COMMON) {
        keys.push(k);
        ints.push(int);
        getters.push(get);
        srcs.push({ src, int });
        if (field) back.set(k, field);
      }
      for (const fd of plugin.fields) {
        // <PROTO>_TRANSACTIONS stay out of the table: nProbe's tables hold flat values (the
        // first transaction); a script printing its table (the seed's) should not dump JSON.
        if (fd.type === 'json') continue;
        if (back.has(fd.lua) || keys.includes(fd.lua)) continue;
        keys.push(fd.lua);
        ints.push(isNumeric(fd));
        getters.push(fieldGetter(fd));
        srcs.push({ src: LuaKeySrc.Ext, int: isNumeric(fd), name: fd.name });
        back.set(fd.lua, fd.name);
      }
      const b: HookBinding = { index: byIndex.length + 1, plugin, keys, ints, getters, back };
      spec.hooks.push({ index: b.index, l7: [...plugin.l7], keys: srcs });
      N.register(b.index, plugin.luaHook, plugin.luaTable, ints.map((i) => (i ? 'i' : 's')).join(''), ...keys);
      byIndex.push(b);
      for (const id of plugin.l7) bindings.set(id, b);
    }
    this.engine = engine;
    this.bindings = bindings;
    this.byIndex = byIndex;
    engine.doStringSync('__nprobe_run = __nprobe.run');
    this.native.setLuaSpec(this.specId, spec);
    this.runFn = rawCall(engine, '__nprobe_run');
    this.statsFn = N.stats as () => string;
    this.partialFn = N.partial as () => string;
  }

  /**
   * Runs the hooks on the flows of a batch that have one, in order. Applies what the hooks
   * changed or added to the records, and returns the flows to export (suppressed ones removed).
   */
  process(flows: FlowRecord[]): FlowRecord[] {
    if (this.byIndex.length === 0) return flows;
    const b = FlowBatch.of(flows);
    this.processBatch(b);
    return b.records();
  }

  /**
   * The same on an undecoded batch: only the flows with a hook are decoded; the ones a hook
   * changed are marked changed, the suppressed ones dropped.
   */
  processBatch(batch: FlowBatch): void {
    if (this.byIndex.length === 0) return;
    const t0 = performance.now();
    let hooked: ArrayLike<number>;
    let bytes: Buffer;
    let len: number;
    // Flows as the core wrote them are batched natively, without a JS record each; a batch
    // where something changed a record first (GeoIP) is batched from the records.
    const fromCore = batch.pristine() ? this.native.luaBatch(this.specId, batch.raw) : null;
    if (fromCore) {
      hooked = fromCore.flows;
      bytes = fromCore.bytes;
      len = bytes.length;
    } else {
      const idx: number[] = [];
      const w = this.batch;
      w.len = 0;
      for (let i = 0; i < batch.length; i++) {
        const b = this.bindings.get(batch.l7(i));
        if (!b) continue;
        idx.push(i);
        w.flow(b, batch.record(i));
      }
      hooked = idx;
      bytes = w.buf;
      len = w.len;
    }
    if (hooked.length === 0) return;
    let result: string;
    try {
      result = this.runFn(bytes, len, this.timeoutS);
    } catch (e) {
      // The batch failed part way (the memory cap hit while building a table): what the
      // hooks did before is applied, the flows from there on are exported unchanged, counted
      // as errors of their hook, and the failure is reported once.
      const [done, partial] = this.recover().split('\x03');
      for (let k = Number(done); k < hooked.length; k++) {
        const b = this.bindings.get(batch.l7(hooked[k]));
        if (b) this.notScripted[b.index] = (this.notScripted[b.index] ?? 0) + 1;
      }
      this.report(`${hooked.length - Number(done)} flows not scripted: ${(e as Error).message}`);
      result = partial ?? '';
    }
    // Counted before the results apply: a hook may change a flow's l7 key.
    const calls = this.callsByHook(batch, hooked);
    if (result) this.apply(batch, hooked, result);
    const ms = performance.now() - t0;
    for (let i = 1; i < calls.length; i++) if (calls[i]) this.costMs[i] = (this.costMs[i] ?? 0) + (ms * calls[i]) / hooked.length;
  }

  /** The batch's calls per hook index (to share its time among the hooks). */
  private callsByHook(batch: FlowBatch, hooked: ArrayLike<number>): number[] {
    const n = this.batchCalls;
    n.length = this.byIndex.length + 1;
    n.fill(0);
    for (let k = 0; k < hooked.length; k++) {
      const b = this.bindings.get(batch.l7(hooked[k]));
      if (b) n[b.index]++;
    }
    return n;
  }

  /** What the hooks said (N.run's result): suppressions, errors, time-outs, changed keys. */
  private apply(batch: FlowBatch, hooked: ArrayLike<number>, result: string): void {
    for (const rec of result.split('\x02')) {
      const p = rec.split('\x01');
      const i = hooked[Number(p[1])];
      const f = batch.record(i);
      const b = this.bindings.get(f.L7_PROTO)!;
      switch (p[0]) {
        case 'S':
          if (!batch.isDropped(i)) this.suppressed++;
          batch.drop(i);
          break;
        case 'E':
          this.report(`${b.plugin.luaHook}: ${p.slice(2).join('\x01')}`);
          break;
        case 'T':
          this.report(`${b.plugin.luaHook}: stopped after ${this.opts.timeoutMs ?? 100} ms (--lua-timeout-ms)`);
          break;
        case 'K': {
          const key = p[2];
          const value = p[3] === 'n' ? Number(p[4]) : p.slice(4).join('\x01');
          f[b.back.get(key) ?? exportNameOf(key)] = value;
          batch.markChanged(i);
          break;
        }
      }
    }
  }

  /**
   * What a failed batch had done (N.partial). The state that failed is often full (a script
   * keeping what it allocates): reading the answer out needs memory too, so the cap is raised
   * by RECOVERY_HEADROOM for that call only. If even that fails, nothing of the batch counts
   * as done: every flow is exported unchanged and counted as not scripted.
   */
  private recover(): string {
    const g = this.engine.global;
    g.setMemoryMax(this.memoryMax + RECOVERY_HEADROOM);
    try {
      return this.partialFn();
    } catch {
      return '0\x03';
    } finally {
      g.setMemoryMax(this.memoryMax);
    }
  }

  /** Per-hook counters and latency (p99 from a log2 histogram, upper bucket bound). */
  stats(): HookStats[] {
    const out: HookStats[] = [];
    for (const line of this.statsFn().split('\n').filter(Boolean)) {
      const [idx, calls, errors, timeouts, suppressed, total, hist] = line.split(' ');
      const b = this.byIndex[Number(idx) - 1];
      const buckets = (hist ?? '')
        .split(',')
        .filter(Boolean)
        .map((x) => x.split(':').map(Number) as [number, number])
        .sort((a, c) => a[0] - c[0]);
      const n = Number(calls);
      let acc = 0;
      let p99 = 0;
      for (const [bucket, count] of buckets) {
        acc += count;
        if (acc >= 0.99 * n) {
          p99 = 2 ** (bucket + 1);
          break;
        }
      }
      out.push({
        hook: b.plugin.luaHook,
        calls: n,
        errors: Number(errors) + (this.notScripted[b.index] ?? 0),
        timeouts: Number(timeouts),
        suppressed: Number(suppressed),
        totalMs: Number(total) * 1000,
        costMs: this.costMs[b.index] ?? 0,
        p99Us: p99,
      });
    }
    return out;
  }

  close(): void {
    this.native.setLuaSpec(this.specId, null);
    this.engine?.global.close();
  }

  private report(msg: string): void {
    if (this.seen.has(msg) || this.seen.size > 1000) return;
    this.seen.add(msg);
    (this.opts.log ?? ((l) => process.stderr.write(`nprobe: ${l}\n`)))(`[LUA] error: ${msg}`);
  }
}
