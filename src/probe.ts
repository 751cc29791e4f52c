// The library API the CLI is built on: a Probe captures from an interface or a capture file
// in the native core and hands finished flows to JS in batches, with back-pressure.
import * as fs from 'fs';
import { GeoDb } from './geo';
import { loadNative, NativeProbe, NativeStats } from './native';
import { FlowBatch } from './batch';
import { FlowRecord } from './record';

export interface ProbeOptions {
  /** Interface name or capture file (pcap or pcapng, any extension); "-" reads a capture from stdin. */
  interface: string;
  /** BPF filter expression. */
  filter?: string;
  /** Snap length for live capture (bytes). */
  snaplen?: number;
  /** Promiscuous mode on interfaces (default true). */
  promisc?: boolean;
  /** Active (lifetime) timeout in seconds (nProbe -t, default 120). */
  activeTimeout?: number;
  /** Idle timeout in seconds (nProbe -d, default 30). */
  idleTimeout?: number;
  /** Maximum active flows (nProbe -M, default 524288). */
  maxFlows?: number;
  /** Replay a capture file at its recorded pace. */
  originalSpeed?: boolean;
  /** Finished flows held between the capture thread and JS (default 16384). */
  queueRecords?: number;
  /** Run the L7 dissectors (default true); false = flows only. */
  dissect?: boolean;
  /** Export credentials the dissectors see (FTP_PASSWORD); default false: never exported. */
  ftpCredentials?: boolean;
  /** Records pulled per batch (default 1024). */
  batchSize?: number;
  /** DNS client enrichment (src/geo.ts): MaxMind ASN database (nProbe --as-list). */
  asList?: string;
  /** DNS client enrichment (src/geo.ts): MaxMind City database (nProbe --city-list). */
  cityList?: string;
  /** `-i nf:N`: the kernel accepts the queue's packets while the probe is not there (--queue-bypass). */
  queueBypass?: boolean;
}

export type ProbeStats = NativeStats;

/** Finished flows the capture thread may hold for JS (native/util/limits.h has the same). */
export const DEFAULT_QUEUE_RECORDS = 16384;

/** A one-line, user-facing error: bad file, bad filter, unknown interface, no permission. */
export class ProbeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProbeError';
  }
}

/** Receives each batch of finished flows; a returned promise holds the next batch back. */
export type FlowSink = (flows: FlowRecord[]) => void | Promise<void>;
/** The same, with the batch undecoded (src/batch.ts): records only where they are needed. */
export type BatchSink = (batch: FlowBatch) => void | Promise<void>;

/** Decides whether -i names a capture file (it exists and is not a device) or an interface. */
export function isCaptureFile(name: string): boolean {
  if (name === '-') return true;
  try {
    const st = fs.statSync(name);
    return !st.isCharacterDevice() || name.startsWith('/dev/');
  } catch {
    // A path that does not exist but looks like one is a missing file, not an interface.
    return name.includes('/') || /\.(pcap|pcapng|cap|dmp)$/i.test(name);
  }
}

export class Probe {
  readonly isFile: boolean;
  /** Capacity of the queue between the capture thread and JS. */
  readonly queueRecords: number;
  private readonly native: NativeProbe;
  private readonly anomalyNames: readonly string[];
  private readonly batchSize: number;
  private sink: BatchSink | null = null;
  private pumping = false;
  private started = false;
  private signalled = false;
  private finished = false;
  private resolveDone!: () => void;
  private rejectDone!: (e: unknown) => void;
  private readonly donePromise: Promise<void>;
  private startedAt = 0;
  private endedAt = 0;
  private delivered = 0;
  private geo: GeoDb | null = null;  // DNS client AS/country/city, when databases are given
  private connHandler: (() => void) | null = null;  // the connection hook's drain (src/intercept)

  constructor(readonly options: ProbeOptions) {
    const mod = loadNative();
    this.anomalyNames = mod.anomalyNames;
    this.isFile = isCaptureFile(options.interface);
    this.batchSize = options.batchSize ?? 1024;
    this.queueRecords = options.queueRecords ?? DEFAULT_QUEUE_RECORDS;
    if (this.isFile && options.interface !== '-' && !fs.existsSync(options.interface)) {
      throw new ProbeError(`${options.interface}: no such file`);
    }
    this.native = new mod.NativeProbe({
      source: options.interface,
      isFile: this.isFile,
      filter: options.filter,
      snaplen: options.snaplen,
      promisc: options.promisc ?? true,
      maxFlows: options.maxFlows,
      idleTimeoutUs: options.idleTimeout !== undefined ? Math.round(options.idleTimeout * 1e6) : undefined,
      activeTimeoutUs: options.activeTimeout !== undefined ? Math.round(options.activeTimeout * 1e6) : undefined,
      queueRecords: this.queueRecords,
      originalSpeed: options.originalSpeed,
      dissect: options.dissect ?? true,
      credentials: options.ftpCredentials ?? false,
      queueBypass: options.queueBypass ?? false,
    });
    this.donePromise = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
  }

  /** Opens the interface or file and compiles the filter. Throws ProbeError. */
  open(): void {
    try {
      this.geo = GeoDb.open({ asList: this.options.asList, cityList: this.options.cityList });
      this.native.open();
    } catch (e) {
      throw new ProbeError(e instanceof Error ? e.message : String(e));
    }
  }

  /** Link type of the source, e.g. { linktype: 1, linktypeName: "EN10MB" }. */
  info(): { linktype: number; linktypeName: string } {
    return this.native.info();
  }

  /**
   * Starts capturing; sink gets every finished flow, in export order. Resolves when the
   * capture has ended (end of file, or stop()) and every flow has been handed to the sink.
   */
  run(sink: FlowSink): Promise<void> {
    return this.runBatches((b) => sink(b.records()));
  }

  /**
   * As run(), with each batch undecoded: the fast path for JSON outputs (src/batch.ts). A batch
   * is the sink's until the sink returns (or its promise settles); then it is released and
   * only the records decoded by then are left in it.
   */
  runBatches(sink: BatchSink): Promise<void> {
    if (this.sink) throw new Error('Probe.run() called twice');
    this.sink = sink;
    if (this.started) void this.pump();
    else this.start();
    return this.donePromise;
  }

  /**
   * Starts capturing before there is a sink: finished flows wait in the native queue (a full
   * queue holds a capture file's reading back, so nothing is lost) until runBatches() takes
   * them. The CLI starts a capture file this way while the Lua script loads.
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.startedAt = Date.now();
    this.native.start(() => this.onSignal());
  }

  /** Ends a capture whose flows nobody will take (started, never run): joins its thread. */
  discard(): void {
    if (this.sink) throw new Error('Probe.discard() after run()');
    this.finished = true;
    this.native.close();
  }

  /** The flows as an async iterator (same order as run()). */
  async *flows(): AsyncGenerator<FlowRecord> {
    const queue: FlowRecord[][] = [];
    let wake: (() => void) | null = null;
    let ended = false;
    let failure: unknown = null;
    let release: (() => void) | null = null;
    const done = this.run(
      (batch) =>
        new Promise<void>((resolve) => {
          queue.push(batch);
          release = resolve;
          if (wake) wake();
        }),
    ).then(
      () => {
        ended = true;
        if (wake) wake();
      },
      (e) => {
        failure = e;
        ended = true;
        if (wake) wake();
      },
    );
    try {
      for (;;) {
        const batch = queue.shift();
        if (batch) {
          for (const f of batch) yield f;
          const r = release as (() => void) | null;
          release = null;
          if (r) r();
          continue;
        }
        if (ended) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
      if (failure) throw failure;
    } finally {
      if (!ended) this.stop();
      await done;
    }
  }

  /**
   * The connection hook (DESIGN.md §5), before run(): new TCP connections wait for a verdict
   * (FLOW_VERDICT codes); `onConnections` runs on every wake-up to drain them (readConns) and
   * answers go back with setVerdicts.
   */
  enableIntercept(o: { defaultVerdict: number; timeoutMs: number; rst?: boolean }, onConnections: () => void): void {
    this.native.configureIntercept({ on: true, ...o });
    this.connHandler = onConnections;
  }

  readConns(max: number): Buffer | null {
    return this.native.readConns(max);
  }

  setVerdicts(ids: Float64Array, codes: Uint8Array): void {
    this.native.setVerdicts(ids, codes);
  }

  /** Asks the capture to end: every flow seen so far is still exported. */
  stop(): void {
    this.native.stop();
  }

  /** Ends without waiting for the flows still queued to be consumed. */
  abort(): void {
    this.native.abort();
  }

  stats(): ProbeStats {
    return this.native.stats();
  }

  /** Flows handed to the sink so far. */
  get flowsDelivered(): number {
    return this.delivered;
  }

  /** Wall-clock seconds since run() (until the end once finished). */
  get elapsed(): number {
    if (!this.startedAt) return 0;
    return ((this.endedAt || Date.now()) - this.startedAt) / 1000;
  }

  private onSignal(): void {
    // New connections first: their verdicts may be what the capture thread waits for.
    if (this.connHandler) this.connHandler();
    this.signalled = true;
    if (this.sink) void this.pump();
  }

  // Drains the native queue. Only one pump runs at a time; a signal during a pump makes it
  // loop again, so no wake-up is lost.
  private async pump(): Promise<void> {
    if (this.pumping || this.finished) return;
    this.pumping = true;
    try {
      for (;;) {
        this.signalled = false;
        // Read "done" before the queue: if the thread had finished, the queue holds its last flow.
        const done = this.native.isDone();
        const buf = this.native.readBatch(this.batchSize);
        if (buf) {
          const batch = new FlowBatch(buf, this.anomalyNames);
          if (this.geo) {
            // DNS client fields: only DNS flows are decoded for it.
            for (let i = 0; i < batch.length; i++) {
              if (!this.geo.wants(batch.l7(i))) continue;
              this.geo.enrich(batch.record(i));
              batch.markChanged(i);
            }
          }
          this.delivered += batch.length;
          try {
            const r = this.sink!(batch);
            if (r) await r;
          } finally {
            batch.release();  // its buffer holds the next batch from here on (readBatch)
          }
          continue;
        }
        if (done) {
          this.finished = true;
          this.endedAt = Date.now();
          this.native.close();
          this.resolveDone();
          return;
        }
        if (!this.signalled) return;
      }
    } catch (e) {
      this.finished = true;
      this.endedAt = Date.now();
      this.native.abort();
      this.native.close();
      this.rejectDone(e);
    } finally {
      this.pumping = false;
    }
  }
}
