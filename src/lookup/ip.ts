// Address and network matching for the lookup service's cidr mode (DESIGN.md §5, issue 6):
// IPv4 and IPv6 text to a 128-bit value in four 32-bit words, IPv4 mapped into ::ffff:0:0/96
// so IPv4 networks match IPv4-mapped IPv6 addresses and the other way round (as IpAddress does
// in lua/drweb/ip.lua). Networks: "addr", "addr/bits" or "addr/dotted-mask".
import { isIPv4, isIPv6 } from 'net';

export type Addr128 = [number, number, number, number];
export interface Network {
  addr: Addr128; // already masked
  mask: Addr128;
}

function v4word(s: string): number {
  const p = s.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

/** IPv4 or IPv6 text (no zone) -> 128-bit value, or null. */
export function parseAddress(text: string): Addr128 | null {
  const s = text.trim();
  if (isIPv4(s)) return [0, 0, 0xffff, v4word(s)];
  if (!isIPv6(s) || s.includes('%')) return null;
  let tail: number[] = [];
  let body = s;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    // Trailing dotted quad (::ffff:1.2.3.4): two groups; keep a "::" in front of it intact.
    const w = v4word(s.slice(lastColon + 1));
    tail = [w >>> 16, w & 0xffff];
    body = s.slice(0, lastColon + 1);
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const [h, t] = body.includes('::') ? body.split('::') : [body, undefined];
  const head = h ? h.split(':').map((g) => parseInt(g, 16)) : [];
  const rest = t === undefined ? [] : t ? t.split(':').map((g) => parseInt(g, 16)) : [];
  const zeros = t === undefined ? 0 : 8 - head.length - rest.length - tail.length;
  const g = [...head, ...new Array(Math.max(0, zeros)).fill(0), ...rest, ...tail];
  if (g.length !== 8) return null;
  return [0, 1, 2, 3].map((i) => ((g[2 * i] << 16) | g[2 * i + 1]) >>> 0) as Addr128;
}

/** "addr", "addr/bits", "addr/mask" -> Network, or null. */
export function parseNetwork(text: string): Network | null {
  const [a, m, extra] = text.trim().split('/').map((x) => x.trim());
  if (extra !== undefined) return null;
  const addr = parseAddress(a);
  if (!addr) return null;
  const v4 = isIPv4(a);
  let mask: Addr128 = [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff];
  if (m !== undefined) {
    if (/^\d+$/.test(m)) {
      let bits = Number(m);
      if (bits > (v4 ? 32 : 128)) return null;
      if (v4) bits += 96;
      mask = [0, 1, 2, 3].map((i) => {
        const b = Math.min(32, Math.max(0, bits - 32 * i));
        return b === 0 ? 0 : (0xffffffff << (32 - b)) >>> 0;
      }) as Addr128;
    } else {
      if (isIPv4(m) !== v4) return null;
      const mm = parseAddress(m);
      if (!mm) return null;
      mask = v4 ? [0xffffffff, 0xffffffff, 0xffffffff, mm[3]] : mm;
    }
  }
  return { addr: addr.map((w, i) => (w & mask[i]) >>> 0) as Addr128, mask };
}

export function contains(n: Network, a: Addr128): boolean {
  for (let i = 0; i < 4; i++) if (((a[i] & n.mask[i]) >>> 0) !== n.addr[i]) return false;
  return true;
}
