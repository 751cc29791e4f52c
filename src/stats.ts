// Human-readable counters: the periodic lines of -b 1/2 (in nProbe's style) and the exit
// summary. Everything goes to stderr; stdout may carry JSON flows.
import type { HookStats } from './lua/host';
import { ProbeStats } from './probe';

export function si(n: number, unit = ''): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G${unit}`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M${unit}`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)} K${unit}`;
  return `${n.toFixed(n % 1 ? 2 : 0)} ${unit}`.trimEnd();
}

function stamp(d: Date): string {
  const m = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getMonth()];
  const p = (x: number): string => String(x).padStart(2, '0');
  return `${p(d.getDate())}/${m}/${d.getFullYear()} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export interface StatsContext {
  queueCapacity: number;
  lua?: { hooks: HookStats[]; suppressed: number };
  /** Flows handed to the outputs (after the Lua hooks), as the summary's "exported". */
  flowsOut?: number;
}

/**
 * One line per Lua hook: calls, errors, time-outs, suppressed flows, the time inside the hook
 * and its p99, and what the calls cost the probe all told (tables, crossing into Lua).
 */
export function hookLines(hooks: HookStats[]): string[] {
  const us = (ms: number, calls: number): string => (calls ? ((ms * 1000) / calls).toFixed(2) : '0');
  return hooks.map(
    (h) =>
      `[LUA] ${h.hook}: ${h.calls} calls, ${h.errors} errors, ${h.timeouts} timeouts, ${h.suppressed} suppressed, ` +
      `${h.totalMs.toFixed(1)} ms in the hook (${us(h.totalMs, h.calls)} us/call, p99 <= ${h.p99Us} us), ` +
      `${h.costMs.toFixed(1)} ms with tables and crossing (${us(h.costMs, h.calls)} us/call)`,
  );
}

/** Periodic stats (-b 1, -b 2), with rates over the last interval and since start. */
export class StatsReporter {
  private last: ProbeStats | null = null;
  private lastAt = 0;
  private readonly startAt = Date.now();

  constructor(
    private readonly level: number,
    private readonly write: (line: string) => void,
  ) {}

  report(s: ProbeStats, ctx: StatsContext, now = Date.now()): void {
    const since = Math.max((now - this.startAt) / 1000, 1e-3);
    const dt = this.last ? Math.max((now - this.lastAt) / 1000, 1e-3) : since;
    const prev = this.last ?? ({ packets: 0, wireBytes: 0, flowsExported: 0 } as ProbeStats);
    const ts = stamp(new Date(now));
    const w = (msg: string): void => this.write(`nprobe: ${ts} [stats] ${msg}`);
    w(`Average traffic: [${si(s.packets / since, 'pkt/s')}][All Traffic ${si((s.wireBytes * 8) / since, 'b/sec')}]`);
    w(`Current traffic: [${si((s.packets - prev.packets) / dt, 'pkt/s')}][${si(((s.wireBytes - prev.wireBytes) * 8) / dt, 'b/sec')}]`);
    w(`Current flow export rate: [${((s.flowsExported - prev.flowsExported) / dt).toFixed(1)} flows/sec]`);
    const kernel = s.kernelStatsValid ? `[kernel=${s.kernelDrop}][interface=${s.kernelIfDrop}]` : '';
    w(`Flow drops: [export queue too long=${s.queueDrops}][too many flows=${s.flowsEvicted} exported early]${kernel}`);
    w(`Export Queue: ${s.queueDepth}/${ctx.queueCapacity} [${((100 * s.queueDepth) / ctx.queueCapacity).toFixed(1)} %]`);
    const out = ctx.flowsOut !== undefined ? `[to outputs=${ctx.flowsOut}]` : '';
    const sup = ctx.lua ? `[suppressed by Lua=${ctx.lua.suppressed}]` : '';
    w(`Flow Buckets: [active=${s.flowsActive}][created=${s.flowsCreated}][exported=${s.flowsExported}]${out}${sup}`);
    if (ctx.lua) for (const l of hookLines(ctx.lua.hooks)) w(l);
    if (this.level >= 2) {
      w(`Decode: [ip=${s.ipPackets}][non-ip=${s.nonIp}][undecodable=${s.undecodable}][fragments=${s.fragments}][reassembled=${s.reassembled}][tunneled=${s.tunneled}]`);
      w(`Anomalies: ${anomalyText(s.anomalies)}`);
      w(`Memory: [flow table ${si(s.tableBytes, 'B')}][fragments ${si(s.fragBytes, 'B')} in ${s.fragInFlight} datagrams][rss ${si(process.memoryUsage.rss(), 'B')}]`);
    }
    this.last = s;
    this.lastAt = now;
  }
}

export function anomalyText(a: Record<string, number>): string {
  const keys = Object.keys(a).sort();
  return keys.length ? keys.map((k) => `${k}=${a[k]}`).join(', ') : 'none';
}

/** The exit summary: what was read, what became flows, what was dropped where. */
export function summaryLines(
  s: ProbeStats,
  o: { source: string; elapsed: number; flowsOut: number; lua?: { hooks: HookStats[]; suppressed: number } },
): string[] {
  const el = Math.max(o.elapsed, 1e-3);
  const lines = [
    `${s.packets} packets (${si(s.wireBytes, 'B')}) from ${o.source} in ${o.elapsed.toFixed(2)} s: ${si(s.packets / el, 'pkt/s')}, ${si((s.wireBytes * 8) / el, 'bit/s')} (capture thread ${(s.captureCpuUs / 1e6).toFixed(2)} s CPU${s.readerCpuUs ? `, file reader ${(s.readerCpuUs / 1e6).toFixed(2)} s` : ''})`,
    `flows: ${s.flowsCreated} created, ${o.flowsOut} exported (${s.flowsEvicted} early for lack of room${o.lua ? `, ${o.lua.suppressed} suppressed by Lua` : ''}), ${s.flowsActive} still active`,
    `decode: ${s.ipPackets} IP, ${s.nonIp} non-IP, ${s.undecodable} undecodable, ${s.fragments} fragments (${s.reassembled} datagrams reassembled, ${s.fragUnattributed} fragment packets without a flow), ${s.tunneled} tunnelled`,
    `drops: ${s.kernelStatsValid ? `kernel ${s.kernelDrop} (of ${s.kernelRecv} received), interface ${s.kernelIfDrop}, ` : ''}export queue ${s.queueDrops}${s.queueDrops ? ` flows (${s.queueDropPackets} packets)` : ''}`,
    `anomalies: ${anomalyText(s.anomalies)}`,
    ...(o.lua ? hookLines(o.lua.hooks) : []),
  ];
  return lines;
}
