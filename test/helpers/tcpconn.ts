/**
 * One TCP connection written as Ethernet/IPv4 frames with real sequence and ack numbers, for
 * the TCP dissector tests that go through the whole CLI (payload detection, reassembly with
 * holes). Direction 0 is the client. send() cuts data into segments of at most `mss` bytes;
 * skip() leaves a hole the peer's next segment acknowledges past; ack() is a pure ACK.
 */
import { ACK, ETH_IPV4, ETH_IPV6, ether, FIN, ipv4, ipv6, MAC_A, MAC_B, PSH, SYN } from './pcapgen';

/** Where frames go, with the clock they share (several connections in one capture). */
export interface FrameSink {
  t: number;
  frames: Array<{ tsUs: number; data: Buffer }>;
}

export interface TcpConnOptions {
  /** SYN, SYN-ACK, ACK first (default true). */
  handshake?: boolean;
  /** Time of the first frame (µs) and the gap between frames. */
  t0?: number;
  /** Frames go here, on its clock, instead of into this connection's own list (t0 unused). */
  sink?: FrameSink;
  stepUs?: number;
  /** Initial sequence numbers, client then server. */
  isn?: [number, number];
  client?: string;
  server?: string;
  /** Largest payload per segment. */
  mss?: number;
  /** How a string argument of send() becomes bytes (default: latin1, as is). */
  text?: (s: string) => Buffer;
  /** 802.1Q tags of every frame, outermost first (default none). */
  vlans?: number[];
}

export class TcpConn {
  readonly frames: Array<{ tsUs: number; data: Buffer }>;
  protected seq: [number, number];
  private readonly sink: FrameSink;
  private readonly step: number;
  private readonly addr: [string, string];
  private readonly mss: number;
  private readonly text: (s: string) => Buffer;
  private readonly vlans: number[];

  constructor(
    private readonly cport: number,
    private readonly sport: number,
    o: TcpConnOptions = {},
  ) {
    this.seq = [...(o.isn ?? [100000, 900000])] as [number, number];
    this.sink = o.sink ?? { t: o.t0 ?? 1_700_000_000_000_000, frames: [] };
    this.frames = this.sink.frames;
    this.step = o.stepUs ?? 1000;
    this.addr = [o.client ?? '192.0.2.10', o.server ?? '198.51.100.20'];
    this.mss = o.mss ?? 1400;
    this.text = o.text ?? ((s) => Buffer.from(s, 'latin1'));
    this.vlans = o.vlans ?? [];
    if (o.handshake !== false) {
      this.segment(0, SYN, Buffer.alloc(0));
      this.seq[0]++;
      this.segment(1, SYN | ACK, Buffer.alloc(0));
      this.seq[1]++;
      this.segment(0, ACK, Buffer.alloc(0));
    }
  }

  /** One frame of dir with the current sequence numbers (they do not advance). */
  segment(dir: 0 | 1, flags: number, payload: Buffer): this {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(dir === 0 ? this.cport : this.sport, 0);
    h.writeUInt16BE(dir === 0 ? this.sport : this.cport, 2);
    h.writeUInt32BE(this.seq[dir] >>> 0, 4);
    h.writeUInt32BE(flags & ACK ? this.seq[1 - dir] >>> 0 : 0, 8);
    h[12] = 5 << 4;
    h[13] = flags;
    h.writeUInt16BE(65535, 14);
    const [src, dst] = dir === 0 ? this.addr : [this.addr[1], this.addr[0]];
    const v6 = src.includes(':');
    const ip = (v6 ? ipv6 : ipv4)(src, dst, 6, Buffer.concat([h, payload]));
    this.sink.t += this.step;
    this.sink.frames.push({ tsUs: this.sink.t, data: ether(dir === 0 ? MAC_A : MAC_B, dir === 0 ? MAC_B : MAC_A, v6 ? ETH_IPV6 : ETH_IPV4, ip, this.vlans) });
    return this;
  }

  send(dir: 0 | 1, data: string | Buffer): this {
    const b = typeof data === 'string' ? this.text(data) : data;
    for (let i = 0; i < b.length; i += this.mss) {
      const part = b.subarray(i, i + this.mss);
      this.segment(dir, ACK | PSH, part);
      this.seq[dir] += part.length;
    }
    return this;
  }

  c(data: string | Buffer): this {
    return this.send(0, data);
  }

  s(data: string | Buffer): this {
    return this.send(1, data);
  }

  /** A pure ACK from dir (acknowledges everything the peer sent, holes included). */
  ack(dir: 0 | 1): this {
    return this.segment(dir, ACK, Buffer.alloc(0));
  }

  /** n bytes of dir the capture never has. */
  skip(dir: 0 | 1, n: number): this {
    this.seq[dir] += n;
    return this;
  }

  /** FIN from dir. */
  fin(dir: 0 | 1): this {
    this.segment(dir, FIN | ACK, Buffer.alloc(0));
    this.seq[dir]++;
    return this;
  }

  /** The client closes, the server closes, the client acknowledges. */
  close(): this {
    return this.fin(0).fin(1).ack(0);
  }
}
