// Builds small synthetic captures for the cases the real corpus lacks (SLL2, MPLS, BSD loop,
// SCTP, IPv6 extension headers, crafted timings). Layouts per the RFCs named in native/decode.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const LINKTYPE = { NULL: 0, ETHERNET: 1, RAW: 101, LOOP: 108, SLL: 113, SLL2: 276 } as const;

export interface Frame {
  tsUs: number;
  data: Buffer;
  origLen?: number;
}

export function writePcap(frames: Frame[], linktype: number, file?: string): string {
  const out = file ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-gen-')), 'gen.pcap');
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(262144, 16);
  hdr.writeUInt32LE(linktype, 20);
  const parts = [hdr];
  for (const f of frames) {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(Math.floor(f.tsUs / 1e6), 0);
    r.writeUInt32LE(f.tsUs % 1e6, 4);
    r.writeUInt32LE(f.data.length, 8);
    r.writeUInt32LE(f.origLen ?? f.data.length, 12);
    parts.push(r, f.data);
  }
  fs.writeFileSync(out, Buffer.concat(parts));
  return out;
}

function ip4(s: string): Buffer {
  return Buffer.from(s.split('.').map(Number));
}

function ip6(s: string): Buffer {
  const [h, t] = s.split('::');
  const hp = h ? h.split(':') : [];
  const tp = t !== undefined && t !== '' ? t.split(':') : [];
  const groups = [...hp, ...Array(8 - hp.length - tp.length).fill('0'), ...tp];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), 2 * i));
  return b;
}

export function tcp(sport: number, dport: number, flags: number, payload = Buffer.alloc(0), seq = 1): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(seq, 4);
  h[12] = 5 << 4;
  h[13] = flags;
  h.writeUInt16BE(65535, 14);
  return Buffer.concat([h, payload]);
}

export function udp(sport: number, dport: number, payload = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

export function sctp(sport: number, dport: number): Buffer {
  const h = Buffer.alloc(12 + 16);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h[12] = 1; // INIT chunk
  h.writeUInt16BE(16, 14);
  return h;
}

export function icmp(type: number, code: number, rest = Buffer.alloc(4)): Buffer {
  return Buffer.concat([Buffer.from([type, code, 0, 0]), rest]);
}

/** IPv4 header + payload; frag = { offset (bytes), more } for fragments. */
export function ipv4(src: string, dst: string, proto: number, payload: Buffer, opts: { id?: number; frag?: { offset: number; more: boolean } } = {}): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(opts.id ?? 1, 4);
  if (opts.frag) h.writeUInt16BE((opts.frag.more ? 0x2000 : 0) | (opts.frag.offset / 8), 6);
  h[8] = 64;
  h[9] = proto;
  ip4(src).copy(h, 12);
  ip4(dst).copy(h, 16);
  return Buffer.concat([h, payload]);
}

/** IPv6 header + extension headers (each [type, body-without-next/len]) + payload. */
export function ipv6(src: string, dst: string, proto: number, payload: Buffer, ext: Array<{ type: number; body: Buffer }> = []): Buffer {
  const chain: Buffer[] = [];
  for (let i = 0; i < ext.length; i++) {
    const next = i + 1 < ext.length ? ext[i + 1].type : proto;
    const e = ext[i];
    if (e.type === 44) {
      chain.push(Buffer.concat([Buffer.from([next, 0]), e.body]));
    } else {
      const len = 2 + e.body.length; // must be a multiple of 8
      chain.push(Buffer.concat([Buffer.from([next, len / 8 - 1]), e.body]));
    }
  }
  const body = Buffer.concat([...chain, payload]);
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(body.length, 4);
  h[6] = ext.length ? ext[0].type : proto;
  h[7] = 64;
  ip6(src).copy(h, 8);
  ip6(dst).copy(h, 24);
  return Buffer.concat([h, body]);
}

export function fragHeader6(offset: number, more: boolean, id: number): { type: number; body: Buffer } {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(offset | (more ? 1 : 0), 0);
  b.writeUInt32BE(id, 2);
  return { type: 44, body: b };
}

export const MAC_A = Buffer.from('020000000001', 'hex');
export const MAC_B = Buffer.from('020000000002', 'hex');

export function ether(src: Buffer, dst: Buffer, type: number, payload: Buffer, vlans: number[] = []): Buffer {
  const parts: Buffer[] = [dst, src];
  for (const v of vlans) {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(parts.length === 2 && vlans.length > 1 ? 0x88a8 : 0x8100, 0);
    t.writeUInt16BE(v, 2);
    parts.push(t.subarray(0, 2), t.subarray(2, 4));
  }
  const tb = Buffer.alloc(2);
  tb.writeUInt16BE(type, 0);
  parts.push(tb, payload);
  return Buffer.concat(parts);
}

export function mpls(labels: number[], payload: Buffer): Buffer {
  const parts = labels.map((l, i) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(((l << 12) | (i === labels.length - 1 ? 0x100 : 0) | 64) >>> 0, 0);
    return b;
  });
  return Buffer.concat([...parts, payload]);
}

export function sll2(proto: number, mac: Buffer, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(proto, 0);
  h.writeUInt32BE(2, 4);
  h.writeUInt16BE(1, 8);
  h[10] = 0;
  h[11] = 6;
  mac.copy(h, 12);
  return Buffer.concat([h, payload]);
}

export function loopFamily(fam: number, payload: Buffer, bigEndian: boolean): Buffer {
  const h = Buffer.alloc(4);
  if (bigEndian) h.writeUInt32BE(fam, 0);
  else h.writeUInt32LE(fam, 0);
  return Buffer.concat([h, payload]);
}

export const ETH_IPV4 = 0x0800;
export const ETH_IPV6 = 0x86dd;
export const ETH_MPLS = 0x8847;
export const SYN = 0x02, ACK = 0x10, FIN = 0x01, RST = 0x04, PSH = 0x08;
