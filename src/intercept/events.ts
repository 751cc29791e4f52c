// New TCP connections as the capture thread hands them over for intercept_hook (readConns):
// fixed 96-byte little-endian events, laid out in native/capture/intercept.h (keep in step).
import { ipv4ToString, ipv6ToString } from '../format';

export const CONN_EVENT_SIZE = 96;

export type Divert = 'input' | 'output' | 'forward';
const DIVERT: Record<number, Divert> = { 1: 'input', 2: 'output', 3: 'forward' };

export interface ConnEvent {
  /** FLOW_ID of the connection's flow. */
  id: number;
  /** First packet's time, epoch microseconds. */
  tsUs: number;
  ipVersion: 4 | 6;
  /** Client (sender of the first packet) and server. */
  src: string;
  sport: number;
  dst: string;
  dport: number;
  divert: Divert;
  /** Socket owner the kernel gave with the packet (NFQUEUE, locally sent packets). */
  uid?: number;
  gid?: number;
  ifaceIn?: string;
  ifaceOut?: string;
}

function cstr(b: Buffer, off: number, max: number): string | undefined {
  const end = b.indexOf(0, off);
  const stop = end < 0 || end > off + max ? off + max : end;
  return stop > off ? b.toString('latin1', off, stop) : undefined;
}

/** Decodes one readConns() buffer. */
export function decodeConns(buf: Buffer): ConnEvent[] {
  const out: ConnEvent[] = [];
  for (let p = 0; p + CONN_EVENT_SIZE <= buf.length; p += CONN_EVENT_SIZE) {
    const v6 = buf[p + 52] === 6;
    const flags = buf[p + 54];
    const e: ConnEvent = {
      id: buf.readUInt32LE(p) + buf.readUInt32LE(p + 4) * 2 ** 32,
      tsUs: buf.readUInt32LE(p + 8) + buf.readUInt32LE(p + 12) * 2 ** 32,
      ipVersion: v6 ? 6 : 4,
      src: v6 ? ipv6ToString(buf, p + 16) : ipv4ToString(buf, p + 16),
      sport: buf.readUInt16LE(p + 48),
      dst: v6 ? ipv6ToString(buf, p + 32) : ipv4ToString(buf, p + 32),
      dport: buf.readUInt16LE(p + 50),
      divert: DIVERT[buf[p + 53]] ?? 'forward',
    };
    if (flags & 1) e.uid = buf.readUInt32LE(p + 56);
    if (flags & 2) e.gid = buf.readUInt32LE(p + 60);
    const ifIn = cstr(buf, p + 64, 15);
    const ifOut = cstr(buf, p + 80, 15);
    if (ifIn) e.ifaceIn = ifIn;
    if (ifOut) e.ifaceOut = ifOut;
    out.push(e);
  }
  return out;
}
