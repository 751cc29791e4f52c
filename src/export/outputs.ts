// The export side of the CLI in one place: the yargs options of every output (nProbe's names),
// their validation, and createOutputs(), which turns the parsed arguments into FlowOutputs:
// NetFlow v5/v9/IPFIX collectors (-n), JSON lines (--json-out), dump files (-P and the
// per-protocol --<proto>-dump-dir), JSON over TCP (--tcp). They combine: every output gets
// every exported flow (after the Lua hooks; a flow a hook suppressed reaches none).
import type { Argv } from 'yargs';
import { isCaptureFile } from '../probe';
import { FlowRecord } from '../record';
import type { FlowBatch } from '../batch';
import type { CollectorAddress, CollectorExporter, LinkStats } from './collector';
import { DumpFormat, dumpColumns, FlowDumpWriter, PROTOCOL_DUMPS, ProtocolDumpWriter } from './dump';
import { DEFAULT_TEMPLATE, ElementDef, listFields as listElementFields, parseTemplate, TemplateError, TemplateSet } from './fields';
import type { EncoderStats, FlowEncoder } from './ipfix';
import { JsonLinesWriter } from './json';
import type { TcpJsonWriter } from './tcpjson';

// The collector (sockets, DNS), NetFlow/IPFIX encoder and TCP modules load only when an
// option asks for them: together they were ~8 ms of every start.
const collectorModule = (): typeof import('./collector') => require('./collector');
const tcpModule = (): typeof import('./tcpjson') => require('./tcpjson');

export interface OutputStats {
  name: string;
  /** Flows (or flow records, for NetFlow/IPFIX) handed on. */
  sent: number;
  /** Flows lost in this output (full buffers, unreachable collectors, not exportable). */
  dropped: number;
  [detail: string]: unknown;
}

/** What the CLI drives: a sink for batches of exported flows. */
export interface FlowOutput {
  readonly name: string;
  /** A returned promise is back-pressure: the capture (file mode) waits for it. */
  write(flows: FlowRecord[]): void | Promise<void>;
  /** The same from an undecoded batch (src/batch.ts); outputs without it get batch.records(). */
  writeBatch?(batch: FlowBatch): void | Promise<void>;
  /** Flushes and closes; waits (bounded) for queued network output. */
  close(): Promise<void>;
  stats(): OutputStats;
}

/** nProbe's template id default (-U). */
export const DEFAULT_TEMPLATE_ID = 257;
/** nProbe -o default: data packets between two template exports. */
export const DEFAULT_TEMPLATE_PACKETS = 10;
/** Seconds of export clock between two template exports (whichever of -o and this comes first). */
export const DEFAULT_TEMPLATE_REFRESH_S = 60;
export const DEFAULT_MTU = 1500;
/** How long close() lets TCP outputs whose collector is away catch up (ms). */
export const CLOSE_GRACE_MS = 3000;

/** The arguments this module reads (yargs keys). */
export interface ExportArgs {
  interface?: string;
  'lifetime-timeout'?: number;
  'idle-timeout'?: number;
  collector?: string[];
  'flow-version'?: number;
  'flow-templ'?: string;
  'flow-templ-id'?: number;
  'all-collectors'?: boolean;
  'flows-intra-templ'?: number;
  'template-refresh'?: number;
  mtu?: number;
  'flow-delay'?: number;
  'json-out'?: string;
  'dump-path'?: string;
  'dump-frequency'?: number;
  'dump-format'?: string;
  'dont-nest-dump-dirs'?: boolean;
  'csv-separator'?: string;
  'list-fields'?: boolean;
  tcp?: string;
  [key: string]: unknown;
}

/** Adds the export options to a yargs parser (and checks them: a bad value is a usage error). */
export function exportOptions<T>(y: Argv<T>): Argv<T> {
  let p = y
    .option('collector', { alias: 'n', type: 'string', array: true, nargs: 1, describe: 'NetFlow/IPFIX collector [udp://|tcp://]host[:port] ([IPv6]:port; port 2055 if omitted); repeat or comma-separate for several; "none" for none' })
    .option('flow-version', { alias: 'V', type: 'number', describe: 'Export format: 5 (NetFlow v5), 9 (NetFlow v9), 10 (IPFIX). Default as nProbe: 5, or 9 when -T or -U is given' })
    .option('flow-templ', { alias: 'T', type: 'string', describe: 'NetFlow v9/IPFIX template "%NAME %NAME ..." (@DNS@-style plugin shortcuts; -H lists names); also the -P dump columns' })
    .option('flow-templ-id', { alias: 'U', type: 'number', describe: `First template id (default ${DEFAULT_TEMPLATE_ID}; the IPv6 twin gets the next one)` })
    .option('all-collectors', { alias: 'a', type: 'boolean', default: false, describe: 'Send every flow to every collector (default: round robin)' })
    .option('flows-intra-templ', { alias: 'o', type: 'number', default: DEFAULT_TEMPLATE_PACKETS, describe: 'Packets between two template exports' })
    .option('template-refresh', { type: 'number', default: DEFAULT_TEMPLATE_REFRESH_S, describe: 'Seconds between two template exports (whichever of -o and this comes first)' })
    .option('mtu', { type: 'number', default: DEFAULT_MTU, describe: 'Path MTU to the collectors: datagrams are kept within it (less IP and UDP headers)' })
    .option('flow-delay', { alias: 'e', type: 'number', default: 0, describe: 'Milliseconds to wait after each export packet (slow collectors)' })
    .option('dump-path', { alias: 'P', type: 'string', describe: 'Dump flows into files under this directory (YYYY/MM/DD/HH/MM/<epoch>.flows)' })
    .option('dump-frequency', { alias: 'F', type: 'number', default: 60, describe: 'Seconds covered by one -P dump file' })
    .option('dump-format', { alias: 'D', type: 'string', default: 't', describe: 'Dump format: t (text, "|" separated) or j (JSON lines)' })
    .option('dont-nest-dump-dirs', { type: 'boolean', default: false, describe: 'Put dump files straight in the dump directory (no date folders)' })
    .option('csv-separator', { type: 'string', default: '|', describe: 'Separator of text dump columns' })
    .option('list-fields', { alias: 'H', type: 'boolean', default: false, describe: 'List every exportable element (name, ids, type, plugin, Lua key) and exit' })
    .option('tcp', { type: 'string', describe: 'Send flows as JSON lines over TCP to host:port (Logstash style)' });
  for (const d of PROTOCOL_DUMPS) {
    p = p.option(d.option, { type: 'string', describe: `Directory where ${d.label} flow logs are written` });
  }
  return p.check((argv) => {
    validateExportArgs(argv as unknown as ExportArgs);
    return true;
  });
}

/** Throws a one-line Error for a bad export option (yargs turns it into a usage error). */
export function validateExportArgs(a: ExportArgs): void {
  const single = ['flow-version', 'flow-templ', 'flow-templ-id', 'flows-intra-templ', 'template-refresh', 'mtu', 'flow-delay', 'dump-path', 'dump-frequency', 'dump-format', 'csv-separator', 'tcp', ...PROTOCOL_DUMPS.map((d) => d.option)];
  for (const k of single) if (Array.isArray(a[k])) throw new Error(`--${k} given more than once`);
  const int = (name: string, v: unknown, min: number, max: number): void => {
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Error(`--${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  };
  if (a['flow-version'] !== undefined && ![5, 9, 10].includes(a['flow-version'])) throw new Error(`-V ${a['flow-version']}: expected 5, 9 or 10`);
  int('flow-templ-id', a['flow-templ-id'], 256, 65000);
  int('flows-intra-templ', a['flows-intra-templ'], 1, 1_000_000);
  int('template-refresh', a['template-refresh'], 1, 86400);
  int('mtu', a.mtu, 576, 65535);
  int('flow-delay', a['flow-delay'], 0, 1000);
  int('dump-frequency', a['dump-frequency'], 1, 86400);
  if (a['dump-format'] !== undefined && !['t', 'j'].includes(a['dump-format'])) throw new Error(`-D ${a['dump-format']}: expected t (text) or j (JSON)`);
  const sep = a['csv-separator'];
  if (sep !== undefined && (sep.length === 0 || /[\n\r]/.test(sep))) throw new Error('--csv-separator: expected a non-empty separator without line breaks');
  const collector = a.collector?.length ? collectorModule() : null;
  try {
    const cols = collector ? collector.parseCollectors(a.collector ?? []) : [];
    if (a.tcp !== undefined) tcpModule().parseTcpTarget(a.tcp);
    const t = parseTemplate(a['flow-templ'] ?? DEFAULT_TEMPLATE);
    if (cols.length && exportVersion(a) !== 5) new TemplateSet(t, a['flow-templ-id'] ?? DEFAULT_TEMPLATE_ID);
  } catch (e) {
    if (e instanceof TemplateError || (collector && e instanceof collector.CollectorSpecError)) throw new Error(e.message);
    throw e;
  }
}

/** -V, or nProbe's default: v5, switched to v9 by -T or -U. */
export function exportVersion(a: ExportArgs): 5 | 9 | 10 {
  if (a['flow-version'] !== undefined) return a['flow-version'] as 5 | 9 | 10;
  return a['flow-templ'] !== undefined || a['flow-templ-id'] !== undefined ? 9 : 5;
}

const VERSION_NAME: Record<number, string> = { 5: 'NetFlow v5', 9: 'NetFlow v9', 10: 'IPFIX' };

/** -H output. */
export function listFields(): string {
  return listElementFields();
}

/** True when argv asks for -H / --list-fields (check before parsing: -i is not needed then). */
export function listFieldsRequested(argv: string[]): boolean {
  return argv.some((a) => a === '-H' || a === '--list-fields' || a === '--list-fields=true');
}

class CollectorOutput implements FlowOutput {
  readonly name: string;
  constructor(
    private readonly exporter: CollectorExporter,
    private readonly encoders: FlowEncoder[],
    private readonly version: number,
  ) {
    this.name = VERSION_NAME[version];
  }

  write(flows: FlowRecord[]): void | Promise<void> {
    return this.exporter.write(flows);
  }

  close(): Promise<void> {
    return this.exporter.close();
  }

  stats(): OutputStats {
    const links: LinkStats[] = this.exporter.opts.links.map((l) => ({ ...l.stats }));
    const enc: EncoderStats = { messages: 0, records: 0, notExportable: 0, clamped: 0, truncated: 0, oversize: 0, templatesSent: 0 };
    for (const e of this.encoders) for (const k of Object.keys(enc) as Array<keyof EncoderStats>) enc[k] += e.stats[k];
    return {
      name: this.name,
      sent: links.reduce((a, l) => a + l.sent, 0),
      dropped: links.reduce((a, l) => a + l.dropped, 0) + enc.oversize,
      notExportable: enc.notExportable,
      clamped: enc.clamped,
      truncated: enc.truncated,
      templatesSent: enc.templatesSent,
      collectors: links,
      backlogBytes: this.exporter.opts.links.reduce((a, l) => a + l.backlogBytes, 0),
    };
  }
}

class JsonOutput implements FlowOutput {
  readonly name: string;
  constructor(private readonly w: JsonLinesWriter, target: string) {
    this.name = target === '-' ? 'json:stdout' : `json:${target}`;
  }
  write(flows: FlowRecord[]): void | Promise<void> {
    return this.w.write(flows);
  }
  writeBatch(batch: FlowBatch): void | Promise<void> {
    return this.w.writeText(batch.jsonLines(), batch.kept);
  }
  close(): Promise<void> {
    return this.w.close();
  }
  stats(): OutputStats {
    // No drop counter to speak of: a JSON output that fails stops the probe (exit 1, or 0 on
    // EPIPE: the reader went away), so nothing is lost silently.
    return { name: this.name, sent: this.w.written, dropped: 0, backlogBytes: this.w.backlogBytes };
  }
}

class DumpOutput implements FlowOutput {
  constructor(private readonly w: FlowDumpWriter | ProtocolDumpWriter) {}
  get name(): string {
    return this.w.name;
  }
  write(flows: FlowRecord[]): Promise<void> {
    return this.w.write(flows);
  }
  close(): Promise<void> {
    return this.w.close();
  }
  stats(): OutputStats {
    const e = this.w.errs;
    return { name: this.w.name, sent: this.w.written, dropped: e.dropped, files: this.w.files, errors: e.errors, lastError: e.lastError, backlogBytes: this.w.backlogBytes };
  }
}

class TcpJsonOutput implements FlowOutput {
  constructor(private readonly w: TcpJsonWriter) {}
  get name(): string {
    return this.w.name;
  }
  write(flows: FlowRecord[]): void {
    this.w.write(flows);
  }
  close(): Promise<void> {
    return this.w.close();
  }
  stats(): OutputStats {
    return { ...this.w.stats() };
  }
}

/** An error that stops the start (unresolvable collector, unwritable directory): exit 1. */
export class OutputError extends Error {}

export interface CreateOutputOptions {
  /** Export clock: wall clock (live) or flow time (file). Default: from args.interface. */
  live?: boolean;
  /** TCP outputs' grace period at close (ms). */
  closeGraceMs?: number;
}

/**
 * Builds the outputs the arguments ask for, in a fixed order: collectors, JSON, -P dump,
 * per-protocol dumps, --tcp. Announces the per-protocol dump directories on log (nProbe's
 * "DNS log files will be saved in /tmp") and the collectors. Throws OutputError.
 */
export async function createOutputs(parsed: object, log: (line: string) => void, opts: CreateOutputOptions = {}): Promise<FlowOutput[]> {
  // `object`: the CLI's own Args interface has no index signature.
  const args = parsed as ExportArgs;
  const outputs: FlowOutput[] = [];
  const live = opts.live ?? (args.interface !== undefined ? !isCaptureFile(args.interface) : false);
  const grace = opts.closeGraceMs ?? CLOSE_GRACE_MS;
  let template: ElementDef[];
  let addrs: CollectorAddress[];
  try {
    template = parseTemplate(args['flow-templ'] ?? DEFAULT_TEMPLATE);
    addrs = args.collector?.length ? collectorModule().parseCollectors(args.collector) : [];
  } catch (e) {
    throw new OutputError((e as Error).message);
  }
  try {
    if (addrs.length) outputs.push(await collectorOutput(args, addrs, template, live, grace, log));
    if (args['json-out'] !== undefined) {
      let w: JsonLinesWriter;
      try {
        w = new JsonLinesWriter(args['json-out']);
      } catch (e) {
        throw new OutputError(`cannot write ${args['json-out']}: ${(e as Error).message}`);
      }
      outputs.push(new JsonOutput(w, args['json-out']));
    }
    const format = (args['dump-format'] ?? 't') as DumpFormat;
    const nested = !args['dont-nest-dump-dirs'];
    if (args['dump-path'] !== undefined) {
      const dir = args['dump-path'];
      try {
        outputs.push(
          new DumpOutput(
            new FlowDumpWriter({
              dir, periodSec: args['dump-frequency'] ?? 60, format, nested, columns: dumpColumns(template),
              separator: args['csv-separator'] ?? '|', liveClock: live, warn: (l) => log(`warning: ${l}`),
            }),
          ),
        );
      } catch (e) {
        throw new OutputError(`-P ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      log(`Dumping flows onto ${dir} (${format === 'j' ? 'JSON' : 'text'}, one file every ${args['dump-frequency'] ?? 60} s)`);
    }
    for (const d of PROTOCOL_DUMPS) {
      const dir = args[d.option];
      if (typeof dir !== 'string') continue;
      try {
        outputs.push(new DumpOutput(ProtocolDumpWriter.forProtocol(d.label, dir, format, nested, (l) => log(`warning: ${l}`))));
      } catch (e) {
        throw new OutputError(`--${d.option} ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      log(`${d.label} log files will be saved in ${dir}`);
    }
    if (args.tcp !== undefined) {
      let t: { host: string; port: number };
      try {
        t = tcpModule().parseTcpTarget(args.tcp);
      } catch (e) {
        throw new OutputError((e as Error).message);
      }
      outputs.push(new TcpJsonOutput(new (tcpModule().TcpJsonWriter)(t.host, t.port, grace)));
    }
  } catch (e) {
    await Promise.allSettled(outputs.map((o) => o.close()));
    throw e;
  }
  return outputs;
}

async function collectorOutput(
  args: ExportArgs,
  addrs: CollectorAddress[],
  template: ElementDef[],
  live: boolean,
  grace: number,
  log: (line: string) => void,
): Promise<FlowOutput> {
  const { CollectorExporter, CollectorLink } = collectorModule();
  const { IpfixEncoder } = require('./ipfix') as typeof import('./ipfix');
  const { V5Encoder, V9Encoder } = require('./netflow') as typeof import('./netflow');
  const version = exportVersion(args);
  const all = !!args['all-collectors'];
  const encoders: FlowEncoder[] = [];
  // Every link of a shared encoder (-a) gets the same stream; round robin: one encoder each.
  const encoderFor = (i: number): FlowEncoder => encoders[all ? 0 : i];
  const links = addrs.map((a, i) => new CollectorLink(a, CollectorExporter.sessionStart(() => encoderFor(i), live)));
  try {
    await Promise.all(links.map((l) => l.open()));
  } catch (e) {
    await Promise.allSettled(links.map((l) => l.close(0)));
    throw new OutputError((e as Error).message);
  }
  const mtu = args.mtu ?? DEFAULT_MTU;
  const lifetime = (args['lifetime-timeout'] ?? 120) + (args['idle-timeout'] ?? 30);
  const bootMarginMs = Math.max(3600, lifetime + 60) * 1000;
  const make = (overhead: number): FlowEncoder => {
    const maxPayload = mtu - overhead;
    if (version === 5) return new V5Encoder({ maxPayload, bootMarginMs });
    const o = {
      templates: new TemplateSet(template, args['flow-templ-id'] ?? DEFAULT_TEMPLATE_ID),
      maxPayload,
      refreshPackets: args['flows-intra-templ'] ?? DEFAULT_TEMPLATE_PACKETS,
      refreshMs: (args['template-refresh'] ?? DEFAULT_TEMPLATE_REFRESH_S) * 1000,
      bootMarginMs,
    };
    return version === 10 ? new IpfixEncoder(o) : new V9Encoder(o);
  };
  try {
    if (all) encoders.push(make(Math.max(...links.map((l) => l.overhead))));
    else for (const l of links) encoders.push(make(l.overhead));
  } catch (e) {
    await Promise.allSettled(links.map((l) => l.close(0)));
    throw new OutputError((e as Error).message);
  }
  const exporter = new CollectorExporter({
    links, encoders, all, liveClock: live, flowDelayMs: args['flow-delay'] ?? 0, closeGraceMs: grace, version,
  });
  log(`Exporting ${VERSION_NAME[version]} flows to ${addrs.map((a) => a.text).join(', ')}${addrs.length > 1 ? (all ? ' (every flow to all)' : ' (round robin)') : ''}`);
  return new CollectorOutput(exporter, encoders, version);
}

/** Writes a batch to every output; the promise (if any) settles when all can take more. */
export function writeAll(outputs: FlowOutput[], batch: FlowRecord[] | FlowBatch): void | Promise<void> {
  let pending: Promise<void>[] | null = null;
  for (const o of outputs) {
    const r = Array.isArray(batch) ? o.write(batch) : o.writeBatch ? o.writeBatch(batch) : o.write(batch.records());
    if (r) (pending ??= []).push(r);
  }
  if (pending) return Promise.all(pending).then(() => undefined);
}

/** Closes every output; the first failure (after all have been closed) is thrown. */
export async function closeAll(outputs: FlowOutput[]): Promise<void> {
  const results = await Promise.allSettled(outputs.map((o) => o.close()));
  const bad = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (bad) throw bad.reason;
}

/** One line per output for -b and the exit summary (collectors get one line each too). */
export function outputStatsLines(outputs: FlowOutput[]): string[] {
  const lines: string[] = [];
  for (const o of outputs) {
    if (o.name.startsWith('json:')) continue; // the summary's "flows out" says it
    const s = o.stats();
    let line = `export ${s.name}: ${s.sent} ${s.collectors ? 'flow records' : 'flows'} sent, ${s.dropped} dropped`;
    if (typeof s.notExportable === 'number' && s.notExportable) line += `, ${s.notExportable} flows not exportable in NetFlow v5 (IPv6)`;
    if (typeof s.clamped === 'number' && s.clamped) line += `, ${s.clamped} values saturated`;
    if (typeof s.truncated === 'number' && s.truncated) line += `, ${s.truncated} strings cut`;
    if (typeof s.files === 'number') line += `, ${s.files} file${s.files === 1 ? '' : 's'}${s.errors ? `, ${s.errors} errors (${s.lastError})` : ''}`;
    if (typeof s.connects === 'number') line += `, ${s.connects} connection${s.connects === 1 ? '' : 's'}${s.errors ? `, ${s.errors} errors (${s.lastError})` : ''}`;
    lines.push(line);
    if (Array.isArray(s.collectors) && s.collectors.length > 1) {
      for (const c of s.collectors as LinkStats[]) {
        lines.push(`export ${s.name} ${c.name}: ${c.sent} sent, ${c.dropped} dropped${c.errors ? `, ${c.errors} errors (${c.lastError})` : ''}`);
      }
    } else if (Array.isArray(s.collectors) && s.collectors.length === 1) {
      const c = (s.collectors as LinkStats[])[0];
      lines[lines.length - 1] = line.replace(`export ${s.name}:`, `export ${s.name} to ${c.name}:`) + (c.errors ? `, ${c.errors} errors (${c.lastError})` : '');
    }
  }
  return lines;
}
