// IPFIX export messages (RFC 7011 message format, RFC 7012 information elements) and the
// template-driven encoder it shares with NetFlow v9 (netflow.ts, RFC 3954).
//
// A message: 16-byte header (version 10, length, export time, sequence number, observation
// domain), then sets. Templates go out in a Template Set (id 2) at the start of a message, on
// the first one and then every `refreshPackets` messages or `refreshMs` of export clock, and
// at once on a new TCP session. With them goes an Options Template (Set id 3) whose one
// record carries systemInitTimeMilliseconds (IE 160): FIRST_SWITCHED/LAST_SWITCHED are
// flowStartSysUpTime/flowEndSysUpTime (IE 22/21), relative to it, as nProbe names them.
// ntop's elements carry the enterprise bit and PEN 35632; strings are variable length (§7).
// The sequence number counts the Data Records sent before the message in this observation
// domain and stream (§3.1). Messages stay within maxPayload bytes (the path MTU less the IP
// and UDP headers); a record that cannot fit even alone is dropped and counted.
import { FlowRecord } from '../record';
import { ElementDef, maxFieldSize, TemplateSet, TemplateVariant, ValueContext, VARLEN, writeValue } from './fields';

/** One datagram (or TCP message) and the flow records it carries (options records excluded). */
export interface EncodedMessage {
  buf: Buffer;
  records: number;
}

export interface EncoderOptions {
  templates: TemplateSet;
  /** Largest message: path MTU - IP header - UDP header. */
  maxPayload: number;
  /** Resend templates after this many messages (nProbe -o)... */
  refreshPackets: number;
  /** ...or after this much export-clock time (ms), whichever comes first. */
  refreshMs: number;
  /** NetFlow v9 source id / IPFIX observation domain id. */
  domainId?: number;
  /**
   * How far before the first flow's start the sysUpTime origin is put. A flow exported later
   * may have started before the first one exported (long flows are cut by the active timeout),
   * and sysUpTime values cannot be negative.
   */
  bootMarginMs?: number;
  /** Cap of one variable-length string in IPFIX (bytes). */
  maxVarlen?: number;
}

export interface EncoderStats {
  messages: number;
  /** Flow records (data records of the flow templates). */
  records: number;
  /** Flows that this format cannot carry (NetFlow v5: IPv6). */
  notExportable: number;
  /** Numbers larger than their field, sent saturated. */
  clamped: number;
  /** Strings cut to their field. */
  truncated: number;
  /** Records larger than a whole message: dropped. */
  oversize: number;
  templatesSent: number;
}

/** What every flow exporter offers the collector layer. */
export interface FlowEncoder {
  /** Encodes a batch; clockMs is the export clock (packet time in file mode, wall clock live). */
  encode(flows: FlowRecord[], clockMs: number): EncodedMessage[];
  /** A message with only the templates, for a new TCP session (null when the format has none). */
  templateMessage(clockMs: number): EncodedMessage | null;
  readonly stats: EncoderStats;
}

export const DEFAULT_BOOT_MARGIN_MS = 3_600_000;
/** Longest variable-length string sent in IPFIX; longer ones are cut (and counted). */
export const MAX_VARLEN_STRING = 512;
export const IPFIX_HEADER_LEN = 16;
const SET_HEADER_LEN = 4;

/**
 * Shared by NetFlow v9 and IPFIX: builds messages of template and data sets, splitting at
 * maxPayload, switching data sets when the template (IPv4/IPv6 twin) changes, exporting a
 * biflow as one or two records (see TemplateSet).
 */
export abstract class TemplateEncoder implements FlowEncoder {
  readonly stats: EncoderStats = { messages: 0, records: 0, notExportable: 0, clamped: 0, truncated: 0, oversize: 0, templatesSent: 0 };
  protected readonly ctx: ValueContext = { bootMs: 0, clamped: 0, truncated: 0 };
  protected readonly set: TemplateSet;
  protected readonly maxPayload: number;
  protected readonly domainId: number;
  protected readonly maxVarlen: number;
  protected nowMs = 0;
  /** Packets (v9) or data records (IPFIX) sent so far: the next message's sequence number. */
  protected sequence = 0;
  private booted = false;
  private readonly bootMarginMs: number;
  private readonly refreshPackets: number;
  private readonly refreshMs: number;
  private messagesSinceTemplates = 0;
  private lastTemplatesMs = 0;
  private templatesDue = true;
  private readonly scratch: Buffer;
  private readonly lens: Map<TemplateVariant, number[]>;

  // The message being built.
  private buf: Buffer | null = null;
  private off = 0;
  private setStart = -1;
  private setId = -1;
  /** Records of every kind in the message (v9 header count). */
  protected msgAllRecords = 0;
  /** Data records in the message (IPFIX sequence), and flow records among them. */
  protected msgDataRecords = 0;
  private msgFlowRecords = 0;
  private out: EncodedMessage[] = [];

  constructor(opts: EncoderOptions) {
    this.set = opts.templates;
    this.maxPayload = opts.maxPayload;
    this.domainId = opts.domainId ?? 0;
    this.bootMarginMs = opts.bootMarginMs ?? DEFAULT_BOOT_MARGIN_MS;
    this.refreshPackets = Math.max(1, opts.refreshPackets);
    this.refreshMs = opts.refreshMs;
    this.maxVarlen = opts.maxVarlen ?? MAX_VARLEN_STRING;
    this.lens = new Map(this.set.variants.map((v) => [v, v.fields.map((e) => this.fieldLen(e))]));
    let scratch = 0;
    for (const [, l] of this.lens) scratch = Math.max(scratch, l.reduce((a, n) => a + maxFieldSize(n, this.maxVarlen), 0));
    this.scratch = Buffer.alloc(scratch);
    const tmpl = this.templateBytes();
    if (this.headerLen() + tmpl + SET_HEADER_LEN > this.maxPayload) {
      throw new Error(`the templates (${tmpl} bytes) do not fit in one ${this.maxPayload}-byte message: use fewer -T elements or a larger --mtu`);
    }
  }

  // Methods, not fields: the base constructor reads them before subclass fields exist.
  /** Header size of a message. */
  protected abstract headerLen(): number;
  /** Field length in the template for e (fixed, or VARLEN). */
  protected abstract fieldLen(e: ElementDef): number;
  /** Set id of template sets. */
  protected abstract templateSetId(): number;
  /** Pad each set to 4 bytes (v9 does; IPFIX sets carry variable-length records unpadded). */
  protected abstract padSets(): boolean;
  /** Bytes of one field specifier in a template record. */
  protected abstract fieldSpecLen(e: ElementDef): number;
  /** Writes a field specifier; returns the offset after it. */
  protected abstract writeFieldSpec(buf: Buffer, off: number, e: ElementDef, len: number): number;
  /** Extra sets sent with the templates (IPFIX: options template + options record); returns the new offset. */
  protected writeExtraTemplateSets(_buf: Buffer, off: number): number {
    return off;
  }
  protected extraTemplateBytes(): number {
    return 0;
  }
  /** Writes the header of a finished message of len bytes. */
  protected abstract writeHeader(buf: Buffer, len: number): void;
  /** Advances the sequence number past a finished message. */
  protected abstract advanceSequence(): void;

  private templateBytes(): number {
    let n = SET_HEADER_LEN;
    for (const v of this.set.variants) n += 4 + v.fields.reduce((a, e) => a + this.fieldSpecLen(e), 0);
    if (this.padSets()) n = (n + 3) & ~3;
    return n + this.extraTemplateBytes();
  }

  /** Next message starts with the templates (a new TCP session, or a collector restart). */
  requestTemplates(): void {
    this.templatesDue = true;
  }

  encode(flows: FlowRecord[], clockMs: number): EncodedMessage[] {
    this.out = [];
    if (flows.length === 0) return this.out;
    this.advanceClock(flows, clockMs);
    const clampedBefore = this.ctx.clamped;
    const truncatedBefore = this.ctx.truncated;
    const biflow = this.set.biflow;
    for (const f of flows) {
      const v = this.set.variantFor(f);
      this.addRecord(f, false, v);
      if (!biflow && f.OUT_PKTS > 0) this.addRecord(f, true, v);
    }
    this.finishMessage();
    this.stats.clamped += this.ctx.clamped - clampedBefore;
    this.stats.truncated += this.ctx.truncated - truncatedBefore;
    return this.out;
  }

  templateMessage(clockMs: number): EncodedMessage | null {
    // Before the first flow there is no sysUpTime origin yet; the first data message will
    // carry the templates anyway.
    this.templatesDue = true;
    if (!this.booted) return null;
    this.out = [];
    this.nowMs = Math.max(this.nowMs, clockMs);
    this.startMessage();
    this.finishMessage();
    return this.out[0] ?? null;
  }

  private boot(startMs: number): void {
    this.booted = true;
    // Whole seconds: v5/v9 headers carry the export time in seconds and the collector derives
    // the origin as export time - sysUpTime.
    this.ctx.bootMs = Math.floor((startMs - this.bootMarginMs) / 1000) * 1000;
  }

  private advanceClock(flows: FlowRecord[], clockMs: number): void {
    let minStart = Infinity;
    let maxEnd = 0;
    for (const f of flows) {
      if (f.FLOW_START_MICROSECONDS < minStart) minStart = f.FLOW_START_MICROSECONDS;
      if (f.FLOW_END_MICROSECONDS > maxEnd) maxEnd = f.FLOW_END_MICROSECONDS;
    }
    if (!this.booted) this.boot(Math.floor(minStart / 1000));
    // Never before the last packet of a flow in the message: collectors that check
    // LAST_SWITCHED <= sysUpTime see consistent values.
    this.nowMs = Math.max(this.nowMs, clockMs, Math.ceil(maxEnd / 1000));
  }

  private addRecord(f: FlowRecord, rev: boolean, v: TemplateVariant): void {
    const lens = this.lens.get(v) as number[];
    const fields = v.fields;
    const s = this.scratch;
    const uni = !this.set.biflow;
    let o = 0;
    for (let i = 0; i < fields.length; i++) {
      const e = fields[i];
      o = writeValue(s, o, e, lens[i], e.get(f, rev, uni), this.ctx, this.maxVarlen);
    }
    const pad = this.padSets() ? 3 : 0;
    const fits = (): boolean => this.off + o + (this.setId === v.id ? 0 : SET_HEADER_LEN) + pad <= this.maxPayload;
    if (!this.buf) this.startMessage();
    if (!fits()) {
      this.finishMessage();
      this.startMessage();
      if (!fits()) {
        // Fresh templates took the room: they go alone, the record in the next message.
        this.finishMessage();
        this.startMessage();
        if (!fits()) {
          this.stats.oversize++;
          return;
        }
      }
    }
    const buf = this.buf as Buffer;
    if (this.setId !== v.id) {
      this.closeSet();
      this.setStart = this.off;
      this.setId = v.id;
      buf.writeUInt16BE(v.id, this.off);
      this.off += SET_HEADER_LEN;
    }
    s.copy(buf, this.off, 0, o);
    this.off += o;
    this.msgAllRecords++;
    this.msgDataRecords++;
    this.msgFlowRecords++;
  }

  private startMessage(): void {
    this.buf = Buffer.alloc(this.maxPayload);
    this.off = this.headerLen();
    this.setStart = -1;
    this.setId = -1;
    this.msgAllRecords = 0;
    this.msgDataRecords = 0;
    this.msgFlowRecords = 0;
    if (
      this.templatesDue ||
      this.messagesSinceTemplates >= this.refreshPackets ||
      this.nowMs - this.lastTemplatesMs >= this.refreshMs
    ) {
      this.writeTemplates();
    }
  }

  private writeTemplates(): void {
    const buf = this.buf as Buffer;
    const start = this.off;
    buf.writeUInt16BE(this.templateSetId(), start);
    let o = start + SET_HEADER_LEN;
    for (const v of this.set.variants) {
      buf.writeUInt16BE(v.id, o);
      buf.writeUInt16BE(v.fields.length, o + 2);
      o += 4;
      const lens = this.lens.get(v) as number[];
      for (let i = 0; i < v.fields.length; i++) o = this.writeFieldSpec(buf, o, v.fields[i], lens[i]);
      this.msgAllRecords++;
    }
    if (this.padSets()) while ((o - start) & 3) buf[o++] = 0;
    buf.writeUInt16BE(o - start, start + 2);
    this.off = this.writeExtraTemplateSets(buf, o);
    this.templatesDue = false;
    this.messagesSinceTemplates = 0;
    this.lastTemplatesMs = this.nowMs;
    this.stats.templatesSent++;
  }

  /** Options records written with the templates count as records (v9 count, IPFIX sequence). */
  protected countOptionsRecord(): void {
    this.msgAllRecords++;
    this.msgDataRecords++;
  }

  private closeSet(): void {
    if (this.setStart < 0) return;
    const buf = this.buf as Buffer;
    if (this.padSets()) while ((this.off - this.setStart) & 3) buf[this.off++] = 0;
    buf.writeUInt16BE(this.off - this.setStart, this.setStart + 2);
    this.setStart = -1;
    this.setId = -1;
  }

  private finishMessage(): void {
    if (!this.buf) return;
    this.closeSet();
    const buf = this.buf;
    const len = this.off;
    this.buf = null;
    if (len === this.headerLen()) return; // nothing in it
    this.writeHeader(buf, len);
    this.out.push({ buf: buf.subarray(0, len), records: this.msgFlowRecords });
    this.advanceSequence();
    this.stats.messages++;
    this.stats.records += this.msgFlowRecords;
    this.messagesSinceTemplates++;
  }
}

/** IPFIX (RFC 7011): variable-length strings, enterprise-specific elements, systemInitTime option. */
export class IpfixEncoder extends TemplateEncoder {
  protected headerLen(): number {
    return IPFIX_HEADER_LEN;
  }
  protected templateSetId(): number {
    return 2;
  }
  protected padSets(): boolean {
    return false;
  }
  /** Options template id: right after the flow templates. */
  private readonly optionsTemplateId: number;

  constructor(opts: EncoderOptions) {
    super(opts);
    this.optionsTemplateId = Math.max(...opts.templates.variants.map((v) => v.id)) + 1;
  }

  protected fieldLen(e: ElementDef): number {
    return e.ipfixLen;
  }

  protected fieldSpecLen(e: ElementDef): number {
    return e.pen ? 8 : 4;
  }

  protected writeFieldSpec(buf: Buffer, off: number, e: ElementDef, len: number): number {
    buf.writeUInt16BE(e.pen ? 0x8000 | e.id : e.id, off);
    buf.writeUInt16BE(len, off + 2);
    if (!e.pen) return off + 4;
    buf.writeUInt32BE(e.pen, off + 4);
    return off + 8;
  }

  // Options Template Set (id 3): scope meteringProcessId (143, 4 bytes), then
  // systemInitTimeMilliseconds (160, 8 bytes); and its Data Set with the one record.
  protected override extraTemplateBytes(): number {
    return 4 + 6 + 8 + (4 + 12);
  }

  protected override writeExtraTemplateSets(buf: Buffer, off: number): number {
    buf.writeUInt16BE(3, off);
    buf.writeUInt16BE(18, off + 2);
    buf.writeUInt16BE(this.optionsTemplateId, off + 4);
    buf.writeUInt16BE(2, off + 6); // field count
    buf.writeUInt16BE(1, off + 8); // scope field count
    buf.writeUInt16BE(143, off + 10);
    buf.writeUInt16BE(4, off + 12);
    buf.writeUInt16BE(160, off + 14);
    buf.writeUInt16BE(8, off + 16);
    off += 18;
    buf.writeUInt16BE(this.optionsTemplateId, off);
    buf.writeUInt16BE(16, off + 2);
    buf.writeUInt32BE(this.domainId >>> 0, off + 4);
    const boot = this.ctx.bootMs;
    buf.writeUInt32BE(Math.floor(boot / 4294967296), off + 8);
    buf.writeUInt32BE(boot % 4294967296 >>> 0, off + 12);
    this.countOptionsRecord();
    return off + 16;
  }

  protected writeHeader(buf: Buffer, len: number): void {
    buf.writeUInt16BE(10, 0);
    buf.writeUInt16BE(len, 2);
    buf.writeUInt32BE(Math.floor(this.nowMs / 1000) >>> 0, 4);
    buf.writeUInt32BE(this.sequence >>> 0, 8);
    buf.writeUInt32BE(this.domainId >>> 0, 12);
  }

  protected advanceSequence(): void {
    this.sequence = (this.sequence + this.msgDataRecords) % 4294967296;
  }
}

export { VARLEN };
