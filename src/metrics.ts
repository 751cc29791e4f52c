// Prometheus metrics (--metrics-port, --metrics-address): an HTTP server answering GET /metrics
// with prom-client's text format. Nothing is counted here: every value is read at scrape time
// (prom-client collect callbacks) from the counters the probe keeps anyway — the native stats
// (probe.stats()), the Lua hooks' stats and the outputs' stats — so the metrics and the -b
// lines / exit summary (src/stats.ts) always agree. README.md lists the metric names.
import * as http from 'http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { OutputStats } from './export/outputs';
import type { HookStats } from './lua/host';
import type { ProbeStats } from './probe';

/** Everything one scrape reports, taken once at the start of the scrape. */
export interface MetricsSnapshot {
  probe: ProbeStats;
  queueCapacity: number;
  /** Flows handed to the outputs (after the Lua hooks). */
  flowsOut: number;
  lua?: { hooks: HookStats[]; suppressed: number };
  outputs: OutputStats[];
}

/** Link stats of a collector output (collector.ts LinkStats), as far as metrics need them. */
interface LinkLike {
  name: string;
  sent: number;
  dropped: number;
  connected: boolean;
}

export class MetricsError extends Error {}

// A counter whose value is set, not incremented: prom-client counters only go up through inc(),
// so each scrape resets and adds the current total (the totals themselves never go down).
function setCounter(c: Counter<string>, labels: Record<string, string> | null, v: number): void {
  if (!Number.isFinite(v) || v < 0) return;
  if (labels) c.inc(labels, v);
  else c.inc(v);
}

/** Builds the registry; snap() is called by the collect callbacks (once per scrape, cached). */
export function buildRegistry(snap: () => MetricsSnapshot): Registry {
  const reg = new Registry();
  collectDefaultMetrics({ register: reg });
  const counter = (name: string, help: string, value: (s: MetricsSnapshot) => number): void => {
    new Counter({
      name, help, registers: [reg],
      collect() {
        this.reset();
        setCounter(this, null, value(snap()));
      },
    });
  };
  const gauge = (name: string, help: string, value: (s: MetricsSnapshot) => number): void => {
    new Gauge({
      name, help, registers: [reg],
      collect() {
        this.set(value(snap()));
      },
    });
  };
  const labelled = (kind: 'counter' | 'gauge', name: string, help: string, label: string, rows: (s: MetricsSnapshot) => Array<[string, number]>): void => {
    if (kind === 'counter') {
      new Counter({
        name, help, labelNames: [label], registers: [reg],
        collect() {
          this.reset();
          for (const [l, v] of rows(snap())) setCounter(this, { [label]: l }, v);
        },
      });
    } else {
      new Gauge({
        name, help, labelNames: [label], registers: [reg],
        collect() {
          this.reset();
          for (const [l, v] of rows(snap())) this.set({ [label]: l }, v);
        },
      });
    }
  };

  // Capture.
  counter('nprobe_packets_total', 'Packets read from the interface or file', (s) => s.probe.packets);
  counter('nprobe_bytes_total', 'Bytes of the packets read (captured length)', (s) => s.probe.wireBytes);
  counter('nprobe_kernel_received_packets_total', 'Packets the kernel saw for this capture (pcap_stats ps_recv; live only)', (s) => s.probe.kernelRecv);
  counter('nprobe_kernel_dropped_packets_total', 'Packets the kernel dropped: no room in the capture buffer (pcap_stats ps_drop; live only)', (s) => s.probe.kernelDrop);
  counter('nprobe_interface_dropped_packets_total', 'Packets the interface dropped (pcap_stats ps_ifdrop; live only)', (s) => s.probe.kernelIfDrop);
  labelled('counter', 'nprobe_decoded_packets_total', 'Packets by how they decoded', 'kind', (s) => [
    ['ip', s.probe.ipPackets], ['non_ip', s.probe.nonIp], ['undecodable', s.probe.undecodable], ['fragment', s.probe.fragments],
    ['fragment_without_flow', s.probe.fragUnattributed], ['tunneled', s.probe.tunneled],
  ]);
  labelled('counter', 'nprobe_anomalies_total', 'Malformed input, by anomaly name (native/util/anomalies.h)', 'anomaly', (s) => Object.entries(s.probe.anomalies));

  // Flows.
  counter('nprobe_flows_created_total', 'Flows created', (s) => s.probe.flowsCreated);
  counter('nprobe_flows_finished_total', 'Flows finished by the capture core and queued for export', (s) => s.probe.flowsExported);
  counter('nprobe_flows_exported_total', 'Flows handed to the outputs (after the Lua hooks)', (s) => s.flowsOut);
  counter('nprobe_flows_evicted_total', 'Flows exported early because the flow table was full (-M)', (s) => s.probe.flowsEvicted);
  counter('nprobe_flows_suppressed_total', 'Flows a Lua hook suppressed (returned false)', (s) => s.lua?.suppressed ?? 0);
  gauge('nprobe_flows_active', 'Flows in the flow table', (s) => s.probe.flowsActive);

  // The queue between the capture thread and JS.
  counter('nprobe_queue_dropped_flows_total', 'Finished flows dropped because the export queue was full (live capture)', (s) => s.probe.queueDrops);
  counter('nprobe_queue_dropped_packets_total', 'Packets of the flows dropped because the export queue was full', (s) => s.probe.queueDropPackets);
  gauge('nprobe_queue_depth', 'Finished flows waiting in the export queue', (s) => s.probe.queueDepth);
  gauge('nprobe_queue_capacity', 'Capacity of the export queue (flows)', (s) => s.queueCapacity);

  // Lua hooks.
  const hooks = (f: (h: HookStats) => number) => (s: MetricsSnapshot): Array<[string, number]> => (s.lua?.hooks ?? []).map((h) => [h.hook, f(h)]);
  labelled('counter', 'nprobe_lua_calls_total', 'Lua hook calls', 'hook', hooks((h) => h.calls));
  labelled('counter', 'nprobe_lua_errors_total', 'Lua hook calls that raised an error', 'hook', hooks((h) => h.errors));
  labelled('counter', 'nprobe_lua_timeouts_total', 'Lua hook calls stopped at --lua-timeout-ms', 'hook', hooks((h) => h.timeouts));
  labelled('counter', 'nprobe_lua_suppressed_total', 'Flows a Lua hook suppressed', 'hook', hooks((h) => h.suppressed));
  labelled('counter', 'nprobe_lua_seconds_total', 'Time spent in Lua hook calls', 'hook', hooks((h) => h.totalMs / 1000));
  labelled('counter', 'nprobe_lua_cost_seconds_total', 'What Lua hook calls cost the probe: tables, crossing into Lua, calls', 'hook', hooks((h) => h.costMs / 1000));
  labelled('gauge', 'nprobe_lua_latency_p99_seconds', '99th percentile of one hook call (upper bound of a power-of-two bucket)', 'hook', hooks((h) => h.p99Us / 1e6));

  // Outputs.
  const outs = (f: (o: OutputStats) => number | undefined) => (s: MetricsSnapshot): Array<[string, number]> =>
    s.outputs.flatMap((o) => {
      const v = f(o);
      return typeof v === 'number' ? [[o.name, v] as [string, number]] : [];
    });
  labelled('counter', 'nprobe_export_sent_total', 'Flows (flow records for NetFlow/IPFIX) an output handed on', 'output', outs((o) => o.sent));
  labelled('counter', 'nprobe_export_dropped_total', 'Flows (flow records for NetFlow/IPFIX) an output lost: collector down, queue full, file not writable', 'output', outs((o) => o.dropped));
  labelled('counter', 'nprobe_export_errors_total', 'Errors an output met (send, connect, open, rename)', 'output', outs((o) => (typeof o.errors === 'number' ? o.errors : undefined)));
  labelled('gauge', 'nprobe_export_backlog_bytes', 'Bytes an output holds that are not yet sent or written', 'output', outs((o) => (typeof o.backlogBytes === 'number' ? o.backlogBytes : undefined)));
  const links = (f: (l: LinkLike) => number) => (s: MetricsSnapshot): Array<[string, number]> =>
    s.outputs.flatMap((o) => (Array.isArray(o.collectors) ? (o.collectors as LinkLike[]).map((l) => [l.name, f(l)] as [string, number]) : []));
  labelled('counter', 'nprobe_collector_sent_records_total', 'Flow records sent to one NetFlow/IPFIX collector', 'collector', links((l) => l.sent));
  labelled('counter', 'nprobe_collector_dropped_records_total', 'Flow records lost on the way to one NetFlow/IPFIX collector', 'collector', links((l) => l.dropped));
  labelled('gauge', 'nprobe_collector_up', '1 while the collector\'s socket is connected', 'collector', links((l) => (l.connected ? 1 : 0)));
  return reg;
}

/** The HTTP side: GET /metrics; anything else is 404. */
export class MetricsServer {
  private cached: MetricsSnapshot | null = null;

  private constructor(
    private readonly server: http.Server,
    readonly registry: Registry,
  ) {}

  /** Listens on address:port; a port in use or an address not ours is a MetricsError. */
  static async start(address: string, port: number, snapshot: () => MetricsSnapshot): Promise<MetricsServer> {
    let self: MetricsServer | null = null;
    // One snapshot per scrape: probe.stats() crosses into native code; the collect callbacks
    // of a scrape all read the same instant, so the numbers of one scrape agree with each other.
    const registry = buildRegistry(() => {
      if (!self) return snapshot();
      self.cached ??= snapshot();
      return self.cached;
    });
    const server = http.createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || url !== '/metrics') {
        res.writeHead(url === '/metrics' ? 405 : 404, { 'Content-Type': 'text/plain' });
        res.end(url === '/metrics' ? 'GET only\n' : 'see /metrics\n');
        return;
      }
      const s = self as MetricsServer;
      s.cached = null;
      registry.metrics().then(
        (text) => {
          s.cached = null;
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(text);
        },
        (e: Error) => {
          s.cached = null;
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`${e.message}\n`);
        },
      );
    });
    // A scraper that never sends its request must not hold a socket for ever.
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new MetricsError(`--metrics-port ${port} on ${address}: ${e.code ?? e.message}`)));
      server.listen(port, address, () => resolve());
    });
    self = new MetricsServer(server, registry);
    return self;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
