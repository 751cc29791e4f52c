// NetFlow v5 (Cisco's fixed layout: 24-byte header, 48-byte records, at most 30 per datagram)
// and NetFlow v9 (RFC 3954: templates, FlowSets padded to 32 bits) encoders.
//
// Both put times as sysUpTime milliseconds. The export clock is the packet clock in file mode
// (the latest flow end seen) and the wall clock live; the header carries unix_secs (rounded up,
// so that it is never before a flow's last packet) and sysUpTime = unix_secs*1000 - boot, the
// origin the collector subtracts: first/last = packet time - boot. Boot is set, in whole
// seconds, a margin before the first exported flow's start (see EncoderOptions.bootMarginMs).
//
// Biflows: v5 is unidirectional by nature: each flow gives a client->server record and, when
// the server sent anything, a server->client one, like nProbe. Only IPv4 fits v5; other flows
// are counted as notExportable. v9 follows the template (see TemplateSet in fields.ts).
// Sequence numbers: v5 counts flow records sent before the datagram; v9 counts datagrams.
import { FlowRecord } from '../record';
import { ElementDef, ValueContext, writeIPv4, writeUnsigned } from './fields';
import { DEFAULT_BOOT_MARGIN_MS, EncodedMessage, EncoderOptions, EncoderStats, FlowEncoder, TemplateEncoder } from './ipfix';

export const V9_HEADER_LEN = 20;
export const V5_HEADER_LEN = 24;
export const V5_RECORD_LEN = 48;
/** Cisco's limit, and what collectors (nfdump) accept. */
export const V5_MAX_RECORDS = 30;

const TWO32 = 4294967296;

/** NetFlow v9 (RFC 3954): fixed field lengths (nProbe's), ntop's elements as types 57472 + id. */
export class V9Encoder extends TemplateEncoder {
  protected headerLen(): number {
    return V9_HEADER_LEN;
  }
  protected templateSetId(): number {
    return 0;
  }
  protected padSets(): boolean {
    return true;
  }

  constructor(opts: EncoderOptions) {
    super(opts);
  }

  protected fieldLen(e: ElementDef): number {
    return e.v9Len;
  }

  protected fieldSpecLen(): number {
    return 4;
  }

  protected writeFieldSpec(buf: Buffer, off: number, e: ElementDef, len: number): number {
    buf.writeUInt16BE(e.v9Id, off);
    buf.writeUInt16BE(len, off + 2);
    return off + 4;
  }

  protected writeHeader(buf: Buffer, _len: number): void {
    const secs = Math.ceil(this.nowMs / 1000);
    buf.writeUInt16BE(9, 0);
    // RFC 3954: count = template + options + data records in the packet.
    buf.writeUInt16BE(this.msgAllRecords, 2);
    buf.writeUInt32BE((secs * 1000 - this.ctx.bootMs) % TWO32 >>> 0, 4);
    buf.writeUInt32BE(secs >>> 0, 8);
    buf.writeUInt32BE(this.sequence >>> 0, 12);
    buf.writeUInt32BE(this.domainId >>> 0, 16);
  }

  protected advanceSequence(): void {
    this.sequence = (this.sequence + 1) % TWO32;
  }
}

export interface V5Options {
  maxPayload: number;
  engineType?: number;
  engineId?: number;
  bootMarginMs?: number;
}

/** NetFlow v5: IPv4 only, unidirectional records, nothing configurable but the engine. */
export class V5Encoder implements FlowEncoder {
  readonly stats: EncoderStats = { messages: 0, records: 0, notExportable: 0, clamped: 0, truncated: 0, oversize: 0, templatesSent: 0 };
  private readonly ctx: ValueContext = { bootMs: 0, clamped: 0, truncated: 0 };
  private readonly perDatagram: number;
  private readonly bootMarginMs: number;
  private booted = false;
  private nowMs = 0;
  private sequence = 0;

  constructor(private readonly opts: V5Options) {
    this.perDatagram = Math.min(V5_MAX_RECORDS, Math.floor((opts.maxPayload - V5_HEADER_LEN) / V5_RECORD_LEN));
    if (this.perDatagram < 1) throw new Error(`--mtu too small for a NetFlow v5 datagram`);
    this.bootMarginMs = opts.bootMarginMs ?? DEFAULT_BOOT_MARGIN_MS;
  }

  templateMessage(): null {
    return null;
  }

  encode(flows: FlowRecord[], clockMs: number): EncodedMessage[] {
    const out: EncodedMessage[] = [];
    let minStart = Infinity;
    let maxEnd = 0;
    const recs: Array<[FlowRecord, boolean]> = [];
    for (const f of flows) {
      if (f.IP_PROTOCOL_VERSION !== 4) {
        this.stats.notExportable++;
        continue;
      }
      if (f.FLOW_START_MICROSECONDS < minStart) minStart = f.FLOW_START_MICROSECONDS;
      if (f.FLOW_END_MICROSECONDS > maxEnd) maxEnd = f.FLOW_END_MICROSECONDS;
      recs.push([f, false]);
      if (f.OUT_PKTS > 0) recs.push([f, true]);
    }
    if (recs.length === 0) return out;
    if (!this.booted) {
      this.booted = true;
      this.ctx.bootMs = Math.floor((minStart / 1000 - this.bootMarginMs) / 1000) * 1000;
    }
    this.nowMs = Math.max(this.nowMs, clockMs, Math.ceil(maxEnd / 1000));
    const clampedBefore = this.ctx.clamped;
    for (let i = 0; i < recs.length; i += this.perDatagram) {
      const n = Math.min(this.perDatagram, recs.length - i);
      const buf = Buffer.alloc(V5_HEADER_LEN + n * V5_RECORD_LEN);
      this.header(buf, n);
      for (let k = 0; k < n; k++) this.record(buf, V5_HEADER_LEN + k * V5_RECORD_LEN, recs[i + k][0], recs[i + k][1]);
      out.push({ buf, records: n });
      this.sequence = (this.sequence + n) % TWO32;
      this.stats.messages++;
      this.stats.records += n;
    }
    this.stats.clamped += this.ctx.clamped - clampedBefore;
    return out;
  }

  private header(buf: Buffer, count: number): void {
    const secs = Math.ceil(this.nowMs / 1000);
    buf.writeUInt16BE(5, 0);
    buf.writeUInt16BE(count, 2);
    buf.writeUInt32BE((secs * 1000 - this.ctx.bootMs) % TWO32 >>> 0, 4);
    buf.writeUInt32BE(secs >>> 0, 8);
    buf.writeUInt32BE(0, 12); // unix_nsecs: the export time is a whole second
    buf.writeUInt32BE(this.sequence >>> 0, 16);
    buf[20] = this.opts.engineType ?? 0;
    buf[21] = this.opts.engineId ?? 0;
    buf.writeUInt16BE(0, 22); // no sampling
  }

  private record(buf: Buffer, o: number, f: FlowRecord, rev: boolean): void {
    const up = (us: number): number => {
      const d = Math.floor(us / 1000) - this.ctx.bootMs;
      return d > 0 ? d % TWO32 >>> 0 : 0;
    };
    writeIPv4(buf, o, rev ? f.IPV4_DST_ADDR : f.IPV4_SRC_ADDR);
    writeIPv4(buf, o + 4, rev ? f.IPV4_SRC_ADDR : f.IPV4_DST_ADDR);
    // nexthop, input, output: 0 (already zero)
    writeUnsigned(buf, o + 16, 4, rev ? f.OUT_PKTS : f.IN_PKTS, this.ctx);
    writeUnsigned(buf, o + 20, 4, rev ? f.OUT_BYTES : f.IN_BYTES, this.ctx);
    buf.writeUInt32BE(up(f.FLOW_START_MICROSECONDS), o + 24);
    buf.writeUInt32BE(up(f.FLOW_END_MICROSECONDS), o + 28);
    // ICMP: nfdump and most collectors read type*256+code from the destination port.
    const icmp = f.PROTOCOL === 1 || f.PROTOCOL === 58;
    buf.writeUInt16BE(icmp ? 0 : rev ? f.L4_DST_PORT : f.L4_SRC_PORT, o + 32);
    buf.writeUInt16BE(icmp ? f.ICMP_TYPE : rev ? f.L4_SRC_PORT : f.L4_DST_PORT, o + 34);
    buf[o + 37] = (rev ? f.SERVER_TCP_FLAGS : f.CLIENT_TCP_FLAGS) & 0xff;
    buf[o + 38] = f.PROTOCOL;
    // tos, src_as, dst_as, masks, padding: 0
  }
}
