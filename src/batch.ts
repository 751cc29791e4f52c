// One readBatch() of finished flows, decoded only as far as someone asks. A flow that goes
// only to JSON outputs never becomes a JS object: its line is formatted natively
// (native/export/json_lines.cc, byte for byte flowToJson's). Records are decoded on demand
// (Lua hooks and GeoIP need a few protocols' flows; NetFlow/IPFIX and dumps need all), and
// whoever changes a record says so (markChanged), so its line is written from the record.
import { flowToJson } from './export/json';
import { loadNative } from './native';
import { decodeRecordAt, FlowRecord, RECORD_SIZE } from './record';
import { l7Name } from '../plugins/l7';

const KEPT = 0;
const CHANGED = 1;
const DROPPED = 2;

let l7NamesSent = false;
const EMPTY = Buffer.alloc(0);

export class FlowBatch {
  /** Flows in the batch (dropped ones included). */
  readonly length: number;
  private readonly offsets: Uint32Array;
  private readonly recs: Array<FlowRecord | undefined>;
  private readonly state: Uint8Array;
  private dropped = 0;
  private all: FlowRecord[] | null = null;
  private lines: Buffer | string | null = null;
  private rawBytes: Buffer;
  private released = false;

  constructor(
    raw: Buffer,
    private readonly anomalyNames: readonly string[],
  ) {
    this.rawBytes = raw;
    const n = raw.length >= 4 ? raw.readUInt32LE(0) : 0;
    const offsets = new Uint32Array(n);
    let p = 4;
    for (let i = 0; i < n; i++) {
      offsets[i] = p;
      p += RECORD_SIZE + raw.readUInt32LE(p + 140);
    }
    this.length = n;
    this.offsets = offsets;
    this.recs = new Array(n);
    this.state = new Uint8Array(n);
  }

  /** A batch of records that exist already (tests, library users): no native lines. */
  static of(records: FlowRecord[]): FlowBatch {
    const b = new FlowBatch(Buffer.alloc(4), []);
    (b as { length: number }).length = records.length;
    (b as unknown as { recs: FlowRecord[] }).recs = records.slice();
    (b as unknown as { state: Uint8Array }).state = new Uint8Array(records.length).fill(CHANGED);
    return b;
  }

  /**
   * The readBatch() buffer. The core reuses its memory for the next batch, which the pump
   * reads once the sink is done with this one; then release() cuts the batch off from it, and
   * what was not decoded by then is gone (a clear error, never another batch's bytes).
   */
  get raw(): Buffer {
    if (this.released) throw new Error('FlowBatch: the batch was released (its sink had returned): decode records before then');
    return this.rawBytes;
  }

  /** A batch of the same flows that owns its bytes, to keep past the sink (benches, tools). */
  copy(): FlowBatch {
    return new FlowBatch(Buffer.from(this.raw), this.anomalyNames);
  }

  /** The pump is done with the batch: its buffer is about to hold the next one. */
  release(): void {
    this.released = true;
    this.rawBytes = EMPTY;
    this.lines = null;
  }

  /** Flows still to be exported. */
  get kept(): number {
    return this.length - this.dropped;
  }

  /** nDPI id of flow i, read without decoding the record. */
  l7(i: number): number {
    const r = this.recs[i];
    return r ? r.L7_PROTO : this.raw.readUInt16LE(this.offsets[i] + 112);
  }

  /** Flow i as a record (decoded once). Changing it needs markChanged(i). */
  record(i: number): FlowRecord {
    let r = this.recs[i];
    if (!r) {
      r = decodeRecordAt(this.raw, this.offsets[i], this.anomalyNames);
      this.recs[i] = r;
    }
    return r;
  }

  markChanged(i: number): void {
    if (this.state[i] === KEPT) this.state[i] = CHANGED;
    this.lines = null;
  }

  /** Flow i is not exported (a Lua hook suppressed it). */
  drop(i: number): void {
    if (this.state[i] !== DROPPED) {
      this.state[i] = DROPPED;
      this.dropped++;
      this.all = null;
      this.lines = null;
    }
  }

  /** True while every flow is as the core wrote it (none changed, dropped or made in JS). */
  pristine(): boolean {
    for (let i = 0; i < this.length; i++) if (this.state[i] !== KEPT) return false;
    return this.raw.length > 4 || this.length === 0;
  }

  isDropped(i: number): boolean {
    return this.state[i] === DROPPED;
  }

  /** Every flow still to be exported, as records, in order. */
  records(): FlowRecord[] {
    if (this.all) return this.all;
    const out: FlowRecord[] = [];
    for (let i = 0; i < this.length; i++) if (this.state[i] !== DROPPED) out.push(this.record(i));
    this.all = out;
    return out;
  }

  /**
   * The JSON lines of the flows still to be exported (flowToJson's text, one per line).
   * A Buffer may be a view of the core's scratch memory, valid until the next batch is
   * formatted: write it at once (JsonLinesWriter does) or copy it.
   */
  jsonLines(): Buffer | string {
    this.lines ??= this.formatLines();
    return this.lines;
  }

  private formatLines(): Buffer | string {
    if (this.raw.length <= 4 && this.length > 0) {
      let s = '';
      for (const f of this.records()) s += flowToJson(f) + '\n';
      return s;
    }
    const mod = loadNative();
    if (!l7NamesSent) {
      mod.setL7Names(Array.from({ length: 1024 }, (_, id) => l7Name(id)));
      l7NamesSent = true;
    }
    const { text, ends, fallback } = mod.formatJson(this.raw);
    for (const i of fallback) if (this.state[i] === KEPT) this.state[i] = CHANGED;
    let simple = ends.length === this.length;
    for (let i = 0; simple && i < this.length; i++) if (this.state[i] !== KEPT) simple = false;
    if (simple) return text;
    // Native lines where the record is as the core wrote it, JS ones where it changed.
    const parts: Buffer[] = [];
    let runStart = -1;
    let start = 0;
    for (let i = 0; i < this.length; i++) {
      const end = i < ends.length ? ends[i] : start;
      const st = this.state[i];
      if (st === KEPT && i < ends.length) {
        if (runStart < 0) runStart = start;
      } else {
        if (runStart >= 0) parts.push(text.subarray(runStart, start));
        runStart = -1;
        if (st !== DROPPED) parts.push(Buffer.from(flowToJson(this.record(i)) + '\n'));
      }
      start = end;
    }
    if (runStart >= 0) parts.push(text.subarray(runStart, start));
    return Buffer.concat(parts);
  }
}
