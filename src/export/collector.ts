// NetFlow/IPFIX collectors (-n): address parsing (nProbe's forms), UDP and TCP transports that
// never hold the capture back, and the exporter that feeds them (v5/v9/IPFIX, round robin or
// every collector with -a).
//
// A collector that is down, refuses or is unreachable costs flows, never capture: UDP sends
// are fire-and-forget with a cap on datagrams in flight (a connected socket, so ICMP
// port-unreachable shows up as ECONNREFUSED on later sends and is counted); TCP keeps a
// bounded queue while it reconnects with backoff, and a new session starts with the templates
// (RFC 7011 §8.1: templates are per transport session). Whatever does not fit is dropped and
// counted per collector, in flow records and messages.
import * as dgram from 'dgram';
import * as dns from 'dns';
import * as net from 'net';
import { FlowRecord } from '../record';
import { EncodedMessage, FlowEncoder } from './ipfix';

export type TransportKind = 'udp' | 'tcp';

export interface CollectorAddress {
  transport: TransportKind;
  host: string;
  port: number;
  /** As the user wrote it, normalised: "udp://127.0.0.1:2055", "tcp://[::1]:4739". */
  text: string;
}

/** nProbe's default collector port. */
export const DEFAULT_COLLECTOR_PORT = 2055;
/** UDP datagrams handed to the socket and not yet sent; more are dropped. */
export const MAX_UDP_INFLIGHT = 4096;
/** Bytes a TCP collector may hold (our queue + the socket's buffer) while slow or down. */
export const MAX_TCP_QUEUE_BYTES = 8 * 1024 * 1024;
export const RECONNECT_MIN_MS = 100;
export const RECONNECT_MAX_MS = 5000;
/**
 * UDP has no receipts: a datagram to a closed port is "sent", and the ICMP port unreachable it
 * causes shows up later as an ECONNREFUSED 'error' on the socket (libuv reads it on the receive
 * side, so the send callbacks never see it). Messages sent this recently before such an error
 * are moved from sent to dropped; older ones are taken as delivered.
 */
export const UDP_REFUSED_WINDOW_MS = 1000;
/** Socket send buffer asked for (the kernel may cap it at wmem_max). */
const UDP_SNDBUF = 4 * 1024 * 1024;

export class CollectorSpecError extends Error {}

/**
 * Parses -n values: each may be a comma list; "none" means no collector. Forms: host:port,
 * udp://host:port, tcp://host:port, [IPv6]:port, host (port 2055), a bare port (127.0.0.1).
 */
export function parseCollectors(values: string[]): CollectorAddress[] {
  const out: CollectorAddress[] = [];
  for (const v of values) {
    for (const raw of String(v).split(',')) {
      const spec = raw.trim();
      if (!spec || spec.toLowerCase() === 'none') continue;
      out.push(parseOne(spec));
    }
  }
  return out;
}

function parseOne(spec: string): CollectorAddress {
  let rest = spec;
  let transport: TransportKind = 'udp';
  const scheme = /^([a-z0-9]+):\/\//i.exec(rest);
  if (scheme) {
    const s = scheme[1].toLowerCase();
    if (s !== 'udp' && s !== 'tcp') throw new CollectorSpecError(`-n ${spec}: ${s}:// is not supported (udp:// or tcp://)`);
    transport = s;
    rest = rest.slice(scheme[0].length);
  }
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw new CollectorSpecError(`-n ${spec}: missing "]" after the IPv6 address`);
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after && !after.startsWith(':')) throw new CollectorSpecError(`-n ${spec}: expected ":port" after "]"`);
    portText = after ? after.slice(1) : undefined;
    if (net.isIPv6(host) === false) throw new CollectorSpecError(`-n ${spec}: "${host}" is not an IPv6 address`);
  } else if (/^\d+$/.test(rest)) {
    host = '127.0.0.1'; // nProbe: "-n 2055" is the local collector on that port
    portText = rest;
  } else {
    const colons = rest.split(':').length - 1;
    if (colons > 1) throw new CollectorSpecError(`-n ${spec}: write IPv6 collectors as [address]:port`);
    [host, portText] = colons === 1 ? rest.split(':') : [rest, undefined];
  }
  if (!host) throw new CollectorSpecError(`-n ${spec}: no host`);
  if (!/^[A-Za-z0-9._:%-]+$/.test(host)) throw new CollectorSpecError(`-n ${spec}: "${host}" is not a host name or address`);
  let port = DEFAULT_COLLECTOR_PORT;
  if (portText !== undefined) {
    port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new CollectorSpecError(`-n ${spec}: bad port "${portText}"`);
  }
  const hostText = net.isIPv6(host) ? `[${host}]` : host;
  return { transport, host, port, text: `${transport}://${hostText}:${port}` };
}

export interface LinkStats {
  name: string;
  /** Flow records handed to the network. */
  sent: number;
  /** Flow records lost here: buffer full, send error, still queued at exit. */
  dropped: number;
  messages: number;
  droppedMessages: number;
  bytes: number;
  errors: number;
  lastError: string;
  /** TCP: sessions opened (the first connect counts). */
  connects: number;
  connected: boolean;
}

/** One collector's socket. send() never waits. */
export class CollectorLink {
  readonly stats: LinkStats;
  /** IP header + transport header in bytes, for the MTU budget (IPv6 until resolved). */
  overhead = 48;
  private udp: dgram.Socket | null = null;
  private inflight = 0;
  private inflightBytes = 0;
  /** UDP messages sent within UDP_REFUSED_WINDOW_MS (capped like the datagrams in flight). */
  private recent: Array<{ at: number; records: number }> = [];
  private tcp: net.Socket | null = null;
  private queue: EncodedMessage[] = [];
  private queuedBytes = 0;
  private backoff = RECONNECT_MIN_MS;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  private address = '';
  private family = 4;
  private idleWaiters: Array<() => void> = [];

  /** onSession: the message to send first on each new TCP session (templates), if any. */
  constructor(
    readonly addr: CollectorAddress,
    private readonly onSession: () => EncodedMessage | null = () => null,
  ) {
    this.stats = { name: addr.text, sent: 0, dropped: 0, messages: 0, droppedMessages: 0, bytes: 0, errors: 0, lastError: '', connects: 0, connected: false };
  }

  /** Resolves the host (an unknown name is an error here, at start) and opens the socket. */
  async open(): Promise<void> {
    // verbatim: false puts IPv4 first for names like localhost (collectors mostly listen there).
    const r = await dns.promises.lookup(this.addr.host, { verbatim: false }).catch((e: NodeJS.ErrnoException) => {
      throw new Error(`collector ${this.addr.text}: cannot resolve ${this.addr.host} (${e.code ?? e.message})`);
    });
    this.address = r.address;
    this.family = r.family;
    this.overhead = (r.family === 6 ? 40 : 20) + (this.addr.transport === 'udp' ? 8 : 20);
    if (this.addr.transport === 'udp') {
      const sock = dgram.createSocket(r.family === 6 ? 'udp6' : 'udp4');
      this.udp = sock;
      sock.on('error', (e: NodeJS.ErrnoException) => {
        this.noteError(e);
        if (e.code === 'ECONNREFUSED') this.refused();
      });
      await new Promise<void>((resolve) => {
        sock.connect(this.addr.port, this.address, () => resolve());
      });
      try {
        sock.setSendBufferSize(UDP_SNDBUF);
      } catch {
        /* capped by the kernel: the default is fine */
      }
      this.stats.connected = true;
    } else {
      this.connect();
    }
  }

  send(msg: EncodedMessage): void {
    if (this.addr.transport === 'udp') this.sendUdp(msg);
    else this.sendTcp(msg);
  }

  private drop(msg: EncodedMessage): void {
    this.stats.dropped += msg.records;
    this.stats.droppedMessages++;
  }

  private noteError(e: Error): void {
    this.stats.errors++;
    this.stats.lastError = (e as NodeJS.ErrnoException).code ?? e.message;
  }

  private sendUdp(msg: EncodedMessage): void {
    const sock = this.udp;
    if (!sock || this.inflight >= MAX_UDP_INFLIGHT) {
      this.drop(msg);
      return;
    }
    this.inflight++;
    this.inflightBytes += msg.buf.length;
    sock.send(msg.buf, (err) => {
      this.inflight--;
      this.inflightBytes -= msg.buf.length;
      if (err) {
        this.noteError(err);
        this.drop(msg);
      } else {
        this.stats.sent += msg.records;
        this.stats.messages++;
        this.stats.bytes += msg.buf.length;
        const now = Date.now();
        while (this.recent.length && (now - this.recent[0].at > UDP_REFUSED_WINDOW_MS || this.recent.length >= MAX_UDP_INFLIGHT)) this.recent.shift();
        this.recent.push({ at: now, records: msg.records });
      }
      if (this.inflight === 0) this.wakeIdle();
    });
  }

  // The collector refused (ICMP port unreachable): what went out just before is lost.
  private refused(): void {
    const now = Date.now();
    for (const m of this.recent) {
      if (now - m.at > UDP_REFUSED_WINDOW_MS) continue;
      this.stats.sent -= m.records;
      this.stats.messages--;
      this.stats.dropped += m.records;
      this.stats.droppedMessages++;
    }
    this.recent = [];
  }

  private connect(): void {
    if (this.closing) return;
    const sock = net.connect({ host: this.address, port: this.addr.port, family: this.family });
    this.tcp = sock;
    sock.setNoDelay(true);
    sock.on('connect', () => {
      this.backoff = RECONNECT_MIN_MS;
      this.stats.connects++;
      this.stats.connected = true;
      const first = this.onSession();
      if (first) this.writeTcp(first);
      this.flushQueue();
    });
    sock.on('drain', () => this.flushQueue());
    sock.on('error', (e) => this.noteError(e));
    sock.on('close', () => {
      this.stats.connected = false;
      if (this.tcp === sock) this.tcp = null;
      if (this.closing) {
        this.wakeIdle();
        return;
      }
      this.timer = setTimeout(() => {
        this.timer = null;
        this.connect();
      }, this.backoff);
      this.backoff = Math.min(this.backoff * 2, RECONNECT_MAX_MS);
    });
  }

  /** Bytes handed to this link and not yet sent (UDP in flight; TCP queued or in the socket). */
  get backlogBytes(): number {
    return this.addr.transport === 'udp' ? this.inflightBytes : this.pendingBytes();
  }

  private pendingBytes(): number {
    return this.queuedBytes + (this.tcp ? this.tcp.writableLength : 0);
  }

  private sendTcp(msg: EncodedMessage): void {
    if (this.pendingBytes() + msg.buf.length > MAX_TCP_QUEUE_BYTES) {
      this.drop(msg);
      return;
    }
    const sock = this.tcp;
    if (sock && this.stats.connected && this.queue.length === 0 && !sock.writableNeedDrain) this.writeTcp(msg);
    else {
      this.queue.push(msg);
      this.queuedBytes += msg.buf.length;
    }
  }

  private writeTcp(msg: EncodedMessage): void {
    (this.tcp as net.Socket).write(msg.buf, () => this.wakeIdle());
    this.stats.sent += msg.records;
    this.stats.messages++;
    this.stats.bytes += msg.buf.length;
  }

  private flushQueue(): void {
    const sock = this.tcp;
    while (sock && this.stats.connected && this.queue.length && !sock.writableNeedDrain) {
      const m = this.queue.shift() as EncodedMessage;
      this.queuedBytes -= m.buf.length;
      this.writeTcp(m);
    }
    this.wakeIdle();
  }

  private idle(): boolean {
    if (this.addr.transport === 'udp') return this.inflight === 0;
    return this.queue.length === 0 && (!this.tcp || this.tcp.writableLength === 0);
  }

  private wakeIdle(): void {
    if (!this.idle()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /**
   * Waits up to graceMs for what is queued to leave (a TCP collector that comes back in that
   * time still gets it), then closes; what is left counts as dropped.
   */
  async close(graceMs: number): Promise<void> {
    if (!this.idle()) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs);
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    for (const m of this.queue) this.drop(m);
    this.queue = [];
    this.queuedBytes = 0;
    if (this.udp) {
      const s = this.udp;
      this.udp = null;
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    if (this.tcp) {
      const s = this.tcp;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          s.destroy();
          resolve();
        }, 1000);
        s.end(() => {
          clearTimeout(t);
          resolve();
        });
      });
      s.destroy();
    }
    this.stats.connected = false;
  }
}

export interface ExporterOptions {
  links: CollectorLink[];
  /** One encoder per link (round robin), or a single shared one (-a: same stream to all). */
  encoders: FlowEncoder[];
  all: boolean;
  /** Export clock: packet time (file mode) or wall clock (live). */
  liveClock: boolean;
  /** nProbe -e: milliseconds to wait after each message (slows export, and file-mode capture). */
  flowDelayMs: number;
  /** How long close() lets a queued TCP collector catch up. */
  closeGraceMs: number;
  version: number;
}

/** Feeds flows to the collectors: round robin per flow, or all of them with -a. */
export class CollectorExporter {
  private rr = 0;

  constructor(readonly opts: ExporterOptions) {}

  write(flows: FlowRecord[]): void | Promise<void> {
    if (flows.length === 0) return;
    const clock = this.opts.liveClock ? Date.now() : 0;
    const { links, encoders } = this.opts;
    const batches: Array<[CollectorLink[], EncodedMessage[]]> = [];
    if (this.opts.all || links.length === 1) {
      batches.push([links, encoders[0].encode(flows, clock)]);
    } else {
      const parts: FlowRecord[][] = links.map(() => []);
      for (const f of flows) {
        parts[this.rr].push(f);
        this.rr = (this.rr + 1) % links.length;
      }
      parts.forEach((p, i) => {
        if (p.length) batches.push([[links[i]], encoders[i].encode(p, clock)]);
      });
    }
    if (this.opts.flowDelayMs <= 0) {
      for (const [ls, msgs] of batches) for (const m of msgs) for (const l of ls) l.send(m);
      return;
    }
    return (async () => {
      for (const [ls, msgs] of batches) {
        for (const m of msgs) {
          for (const l of ls) l.send(m);
          await new Promise((r) => setTimeout(r, this.opts.flowDelayMs));
        }
      }
    })();
  }

  async close(): Promise<void> {
    await Promise.all(this.opts.links.map((l) => l.close(this.opts.closeGraceMs)));
  }

  /** Template message for a link's new TCP session (its own encoder, or the shared one). */
  static sessionStart(encoder: () => FlowEncoder, liveClock: boolean): () => EncodedMessage | null {
    return () => encoder().templateMessage(liveClock ? Date.now() : 0);
  }
}
