// Flow records as the probe exports them, under nProbe's element names, and the decoder of
// the native batch encoding (native/flow/flow_record.h: keep offsets and RECORD_SIZE in step).
import { l7Name } from '../plugins/l7';
import { ipv4ToString, ipv6ToString, macToString } from './format';

/**
 * A JSON value kept as the text the native core wrote (<PROTO>_TRANSACTIONS): most flows
 * are only written out again, so parsing and re-serialising every array would be wasted.
 * JSON outputs inline the text (flowToJson); value() parses it on demand; JSON.stringify
 * still works through toJSON.
 */
export class RawJson {
  declare readonly text: string;
  /**
   * The text, or the bytes it is in, decoded on first read. `text` is an own enumerable
   * property either way, so two RawJson with the same text are equal to deep comparisons
   * (the bytes' buffer is not a property).
   */
  constructor(text: string | undefined, src?: Buffer, start = 0, end = src?.length ?? 0) {
    if (text !== undefined || !src) {
      Object.defineProperty(this, 'text', { value: text ?? '', enumerable: true });
      return;
    }
    let t: string | undefined;
    Object.defineProperty(this, 'text', { get: () => (t ??= src.toString('utf8', start, end)), enumerable: true });
  }
  value(): unknown {
    return JSON.parse(this.text);
  }
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
  toString(): string {
    return this.text;
  }
}

/** Records holding at least one RawJson value (JSON writers take the slow path only for them). */
export const recordsWithRawJson = new WeakSet<object>();

/** IPFIX flowEndReason (IANA IE 136), as nProbe's FLOW_END_REASON. */
export enum FlowEndReason {
  IdleTimeout = 1,
  ActiveTimeout = 2,
  EndOfFlow = 3,
  ForcedEnd = 4,
  LackOfResources = 5,
}

/** One exported flow. Keys are nProbe's element names; see README "Flow fields". */
export interface FlowRecord {
  FLOW_ID: number;
  IP_PROTOCOL_VERSION: number;
  IPV4_SRC_ADDR?: string;
  IPV4_DST_ADDR?: string;
  IPV6_SRC_ADDR?: string;
  IPV6_DST_ADDR?: string;
  L4_SRC_PORT: number;
  L4_DST_PORT: number;
  PROTOCOL: number;
  IN_PKTS: number;
  IN_BYTES: number;
  OUT_PKTS: number;
  OUT_BYTES: number;
  FIRST_SWITCHED: number;
  LAST_SWITCHED: number;
  FLOW_START_MICROSECONDS: number;
  FLOW_END_MICROSECONDS: number;
  FLOW_DURATION_MILLISECONDS: number;
  TCP_FLAGS: number;
  CLIENT_TCP_FLAGS: number;
  SERVER_TCP_FLAGS: number;
  SRC_VLAN: number;
  IN_SRC_MAC: string;
  OUT_DST_MAC: string;
  ICMP_TYPE: number;
  FLOW_END_REASON: FlowEndReason;
  L7_PROTO: number;
  L7_PROTO_NAME: string;
  /** Only on flows inside a GTP-U tunnel: TEIDs seen client->server and server->client. */
  UPSTREAM_TUNNEL_ID?: number;
  DOWNSTREAM_TUNNEL_ID?: number;
  /** Only on flows inside a GTP-U tunnel: FLOW_ID of the tunnel's own (outer UDP) flow. */
  OUTER_FLOW_ID?: number;
  /** Only when something was malformed: the anomaly names seen on this flow's packets. */
  FLOW_ANOMALIES?: string;
  /** Fields added by dissectors and Lua hooks; <PROTO>_TRANSACTIONS hold JSON arrays. */
  [extra: string]: string | number | RawJson | undefined;
}

export const RECORD_SIZE = 144;
const TWO32 = 4294967296;
const FLAG_TUNNELED = 1;

function u64(v: DataView, off: number): number {
  // Counters and microsecond times stay far below 2^53.
  return v.getUint32(off, true) + v.getUint32(off + 4, true) * TWO32;
}

function anomalyList(mask: DataView, off: number, names: readonly string[]): string {
  const lo = mask.getUint32(off, true);
  const hi = mask.getUint32(off + 4, true);
  const out: string[] = [];
  for (let i = 0; i < names.length; i++) {
    const bit = i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
    if (bit) out.push(names[i]);
  }
  return out.join(',');
}

/** Decodes one readBatch() buffer: u32 count, then count records. */
export function decodeBatch(buf: Buffer, anomalyNames: readonly string[]): FlowRecord[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const bytes = buf; // a Buffer: its native utf8 slicing beats TextDecoder on short strings
  const n = view.getUint32(0, true);
  const out: FlowRecord[] = new Array(n);
  let p = 4;
  for (let i = 0; i < n; i++) {
    out[i] = decodeRecord(view, bytes, p, anomalyNames);
    p += RECORD_SIZE + view.getUint32(p + 140, true);
  }
  return out;
}

/** The record at offset p of a readBatch() buffer. */
export function decodeRecordAt(buf: Buffer, p: number, anomalyNames: readonly string[]): FlowRecord {
  return decodeRecord(new DataView(buf.buffer, buf.byteOffset, buf.byteLength), buf, p, anomalyNames);
}

function decodeRecord(v: DataView, b: Uint8Array, p: number, anomalyNames: readonly string[]): FlowRecord {
  const firstUs = u64(v, p + 8);
  const lastUs = u64(v, p + 16);
  const v6 = b[p + 114] === 6;
  const clientFlags = b[p + 116];
  const serverFlags = b[p + 117];
  const src = v6 ? ipv6ToString(b, p + 72) : ipv4ToString(b, p + 72);
  const dst = v6 ? ipv6ToString(b, p + 88) : ipv4ToString(b, p + 88);
  // One literal per IP version, in a fixed key order: each keeps a single V8 shape (an object
  // spread here cost more than the whole decode) and the output stays byte-stable.
  const rec: FlowRecord = v6
    ? {
        FLOW_ID: u64(v, p),
        IP_PROTOCOL_VERSION: 6,
        IPV6_SRC_ADDR: src,
        IPV6_DST_ADDR: dst,
        L4_SRC_PORT: v.getUint16(p + 104, true),
        L4_DST_PORT: v.getUint16(p + 106, true),
        PROTOCOL: b[p + 115],
        IN_PKTS: u64(v, p + 24),
        IN_BYTES: u64(v, p + 32),
        OUT_PKTS: u64(v, p + 40),
        OUT_BYTES: u64(v, p + 48),
        FIRST_SWITCHED: Math.floor(firstUs / 1e6),
        LAST_SWITCHED: Math.floor(lastUs / 1e6),
        FLOW_START_MICROSECONDS: firstUs,
        FLOW_END_MICROSECONDS: lastUs,
        FLOW_DURATION_MILLISECONDS: Math.floor((lastUs - firstUs) / 1000),
        TCP_FLAGS: clientFlags | serverFlags,
        CLIENT_TCP_FLAGS: clientFlags,
        SERVER_TCP_FLAGS: serverFlags,
        SRC_VLAN: v.getUint16(p + 108, true),
        IN_SRC_MAC: macToString(b, p + 120),
        OUT_DST_MAC: macToString(b, p + 126),
        ICMP_TYPE: v.getUint16(p + 110, true),
        FLOW_END_REASON: b[p + 118] as FlowEndReason,
        L7_PROTO: v.getUint16(p + 112, true),
        L7_PROTO_NAME: l7Name(v.getUint16(p + 112, true)),
      }
    : {
        FLOW_ID: u64(v, p),
        IP_PROTOCOL_VERSION: 4,
        IPV4_SRC_ADDR: src,
        IPV4_DST_ADDR: dst,
        L4_SRC_PORT: v.getUint16(p + 104, true),
        L4_DST_PORT: v.getUint16(p + 106, true),
        PROTOCOL: b[p + 115],
        IN_PKTS: u64(v, p + 24),
        IN_BYTES: u64(v, p + 32),
        OUT_PKTS: u64(v, p + 40),
        OUT_BYTES: u64(v, p + 48),
        FIRST_SWITCHED: Math.floor(firstUs / 1e6),
        LAST_SWITCHED: Math.floor(lastUs / 1e6),
        FLOW_START_MICROSECONDS: firstUs,
        FLOW_END_MICROSECONDS: lastUs,
        FLOW_DURATION_MILLISECONDS: Math.floor((lastUs - firstUs) / 1000),
        TCP_FLAGS: clientFlags | serverFlags,
        CLIENT_TCP_FLAGS: clientFlags,
        SERVER_TCP_FLAGS: serverFlags,
        SRC_VLAN: v.getUint16(p + 108, true),
        IN_SRC_MAC: macToString(b, p + 120),
        OUT_DST_MAC: macToString(b, p + 126),
        ICMP_TYPE: v.getUint16(p + 110, true),
        FLOW_END_REASON: b[p + 118] as FlowEndReason,
        L7_PROTO: v.getUint16(p + 112, true),
        L7_PROTO_NAME: l7Name(v.getUint16(p + 112, true)),
      };
  if (b[p + 119] & FLAG_TUNNELED) {
    rec.UPSTREAM_TUNNEL_ID = v.getUint32(p + 132, true);
    rec.DOWNSTREAM_TUNNEL_ID = v.getUint32(p + 136, true);
    rec.OUTER_FLOW_ID = u64(v, p + 64);
  }
  if (v.getUint32(p + 56, true) || v.getUint32(p + 60, true)) {
    rec.FLOW_ANOMALIES = anomalyList(v, p + 56, anomalyNames);
  }
  const extLen = v.getUint32(p + 140, true);
  if (extLen) decodeExt(v, b, p + RECORD_SIZE, extLen, rec);
  return rec;
}

const utf8 = new TextDecoder('utf-8');

/**
 * Decodes a record's variable part (native/dissect/dissector.h FieldWriter) into rec:
 * u8 type (1 number, 2 string, 3 JSON) | u16 name length | name | u32 length | value.
 */
export function decodeExt(v: DataView, b: Uint8Array, start: number, len: number, rec: Record<string, unknown>): void {
  // Buffer.toString('utf8', ...) is native and allocation-light; TextDecoder is the fallback.
  const buf = Buffer.isBuffer(b) ? b : null;
  const text = (s0: number, e0: number): string => (buf ? buf.toString('utf8', s0, e0) : utf8.decode(b.subarray(s0, e0)));
  let q = start;
  const end = start + len;
  while (q + 7 <= end) {
    const type = b[q];
    const nameLen = v.getUint16(q + 1, true);
    const name = text(q + 3, q + 3 + nameLen);
    q += 3 + nameLen;
    const valLen = v.getUint32(q, true);
    q += 4;
    const vs = q;
    q += valLen;
    if (type === 1) {
      rec[name] = v.getFloat64(vs, true);
    } else if (type === 3) {
      // The bytes are copied: the batch's buffer holds the next batch once its sink returns
      // (FlowBatch.release()), and the text is decoded only if someone reads it.
      rec[name] = buf ? new RawJson(undefined, Buffer.from(buf.subarray(vs, q))) : new RawJson(text(vs, q));
      recordsWithRawJson.add(rec);
    } else if (name === '__ANOMALIES') {
      const prev = rec.FLOW_ANOMALIES as string | undefined;
      rec.FLOW_ANOMALIES = prev ? `${prev},${text(vs, q)}` : text(vs, q);
    } else {
      rec[name] = text(vs, q);
    }
  }
}
