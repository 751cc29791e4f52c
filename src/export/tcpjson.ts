// --tcp host:port: flows as JSON lines over TCP, the way Logstash's tcp input (codec
// json_lines) and similar collectors take them. One object per flow per line, the same as
// --json-out (every field, Lua-added ones included).
//
// The collector may be slow or gone: the probe never waits for it. Lines queue up to
// MAX_TCP_JSON_QUEUE_BYTES while it reconnects (backoff RECONNECT_MIN_MS..RECONNECT_MAX_MS);
// past that whole batches are dropped and counted. A flow is never split: the queue holds
// complete lines only, and a broken connection loses at most what the kernel had accepted.
// At exit the queue gets closeGraceMs to leave (a collector that comes back in that time
// still gets it); what remains is counted as dropped.
import { flowToJson } from './json';
import * as net from 'net';
import { FlowRecord } from '../record';
import { CollectorSpecError, RECONNECT_MAX_MS, RECONNECT_MIN_MS } from './collector';

export const MAX_TCP_JSON_QUEUE_BYTES = 16 * 1024 * 1024;

export interface TcpJsonStats {
  name: string;
  sent: number;
  dropped: number;
  connects: number;
  errors: number;
  lastError: string;
  connected: boolean;
}

/** "host:port" or "[v6]:port" (a tcp:// prefix is accepted). */
export function parseTcpTarget(spec: string): { host: string; port: number } {
  let s = spec.trim().replace(/^tcp:\/\//i, '');
  let host: string;
  let port: string;
  if (s.startsWith('[')) {
    const i = s.indexOf(']');
    if (i < 0 || s[i + 1] !== ':') throw new CollectorSpecError(`--tcp ${spec}: expected [address]:port`);
    host = s.slice(1, i);
    port = s.slice(i + 2);
  } else {
    const i = s.lastIndexOf(':');
    if (i <= 0 || s.indexOf(':') !== i) throw new CollectorSpecError(`--tcp ${spec}: expected host:port`);
    host = s.slice(0, i);
    port = s.slice(i + 1);
  }
  s = port;
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw new CollectorSpecError(`--tcp ${spec}: bad port "${s}"`);
  return { host, port: n };
}

export class TcpJsonWriter {
  readonly name: string;
  private readonly st: TcpJsonStats;
  private sock: net.Socket | null = null;
  private connected = false;
  private queue: Array<{ text: string; flows: number }> = [];
  private queuedBytes = 0;
  private backoff = RECONNECT_MIN_MS;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly closeGraceMs: number,
  ) {
    this.name = `tcp-json:${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
    this.st = { name: this.name, sent: 0, dropped: 0, connects: 0, errors: 0, lastError: '', connected: false };
    this.connect();
  }

  private connect(): void {
    if (this.closing) return;
    const sock = net.connect({ host: this.host, port: this.port });
    this.sock = sock;
    sock.setNoDelay(false);
    sock.on('connect', () => {
      this.connected = true;
      this.backoff = RECONNECT_MIN_MS;
      this.st.connects++;
      this.flush();
    });
    sock.on('drain', () => this.flush());
    sock.on('error', (e: NodeJS.ErrnoException) => {
      this.st.errors++;
      this.st.lastError = e.code ?? e.message;
    });
    sock.on('close', () => {
      this.connected = false;
      if (this.sock === sock) this.sock = null;
      if (this.closing) {
        this.wake();
        return;
      }
      this.timer = setTimeout(() => {
        this.timer = null;
        this.connect();
      }, this.backoff);
      this.backoff = Math.min(this.backoff * 2, RECONNECT_MAX_MS);
    });
  }

  private pending(): number {
    return this.queuedBytes + (this.sock ? this.sock.writableLength : 0);
  }

  /** Queues the batch (or drops it, counted, when the queue is full); never waits. */
  write(flows: FlowRecord[]): void {
    if (flows.length === 0) return;
    let text = '';
    for (const f of flows) text += flowToJson(f) + '\n';
    if (this.pending() + text.length > MAX_TCP_JSON_QUEUE_BYTES) {
      this.st.dropped += flows.length;
      return;
    }
    this.queue.push({ text, flows: flows.length });
    this.queuedBytes += text.length;
    this.flush();
  }

  private flush(): void {
    const sock = this.sock;
    while (sock && this.connected && this.queue.length && !sock.writableNeedDrain) {
      const item = this.queue.shift() as { text: string; flows: number };
      this.queuedBytes -= item.text.length;
      sock.write(item.text, () => this.wake());
      this.st.sent += item.flows;
    }
    this.wake();
  }

  private idle(): boolean {
    return this.queue.length === 0 && (!this.sock || this.sock.writableLength === 0);
  }

  private wake(): void {
    if (!this.idle()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  async close(): Promise<void> {
    if (!this.idle()) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.closeGraceMs);
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    for (const q of this.queue) this.st.dropped += q.flows;
    this.queue = [];
    this.queuedBytes = 0;
    const s = this.sock;
    if (s) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        s.end(() => {
          clearTimeout(t);
          resolve();
        });
      });
      s.destroy();
    }
  }

  stats(): TcpJsonStats & { backlogBytes: number } {
    return { ...this.st, connected: this.connected, backlogBytes: this.pending() };
  }
}
