#!/usr/bin/env node
// nprobe command line: nProbe's option names (-i -f -s -t -d -M -n -b), JSON flow output,
// periodic stats, a progress bar on terminals, and one clear line for every bad input.
import yargs from 'yargs';
import { JsonLinesWriter } from './export/json';
import { Probe, ProbeError } from './probe';
import { ProgressBar } from './progress';
import { FlowRecord } from './record';
import { StatsReporter, summaryLines } from './stats';

const EXIT_OK = 0;
const EXIT_RUNTIME = 1;
const EXIT_USAGE = 2;

function say(line: string): void {
  process.stderr.write(`nprobe: ${line}\n`);
}

class UsageError extends Error {}

interface Args {
  interface: string;
  'bpf-filter'?: string;
  snaplen: number;
  'lifetime-timeout': number;
  'idle-timeout': number;
  'max-num-flows': number;
  collector?: string;
  verbose: number;
  'json-out'?: string;
  'original-speed': boolean;
  'stats-interval': number;
  dpi: boolean;
}

// yargs reads a lone "-" as a positional; join it to its option ("--json-out=-", "-i=-").
function joinDashValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i + 1] === '-' && /^-{1,2}[A-Za-z][\w-]*$/.test(argv[i])) {
      out.push(`${argv[i]}=-`);
      i++;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

function parseArgs(argv: string[]): Args {
  const parser = yargs(joinDashValues(argv))
    .scriptName('nprobe')
    .usage('Usage: nprobe -i <interface|capture file> [options]')
    .option('interface', { alias: 'i', type: 'string', describe: 'Interface name or capture file (pcap/pcapng; "-" = stdin)', demandOption: 'give -i <interface|file>' })
    .option('bpf-filter', { alias: 'f', type: 'string', describe: 'BPF filter expression' })
    .option('snaplen', { alias: 's', type: 'number', default: 65535, describe: 'Capture snap length (live capture)' })
    .option('lifetime-timeout', { alias: 't', type: 'number', default: 120, describe: 'Active timeout: export flows active longer than this (s)' })
    .option('idle-timeout', { alias: 'd', type: 'number', default: 30, describe: 'Idle timeout: export flows idle longer than this (s)' })
    .option('max-num-flows', { alias: 'M', type: 'number', default: 524288, describe: 'Maximum active flows; when full the least recently seen is exported early' })
    .option('collector', { alias: 'n', type: 'string', describe: 'Flow collector; "none" for no collector' })
    .option('verbose', { alias: 'b', type: 'number', default: 0, describe: 'Verbosity: 0 quiet, 1 periodic stats, 2 detailed stats' })
    .option('json-out', { type: 'string', describe: 'Write flows as JSON lines to FILE, or "-" for stdout' })
    .option('original-speed', { type: 'boolean', default: false, describe: 'Replay a capture file at its recorded pace' })
    .option('dpi', { type: 'boolean', default: true, describe: 'Dissect protocols (DNS, DHCP, RADIUS, SIP, GTPv1); --no-dpi exports flows only' })
    .option('stats-interval', { type: 'number', default: 5, describe: 'Seconds between -b stats reports' })
    .help('help')
    .alias('help', 'h')
    .version(false)
    .strict()
    .wrap(Math.min(110, process.stderr.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      throw new UsageError(msg || (err && err.message) || 'bad usage');
    });
  const a = parser.parseSync() as unknown as Args & { help?: boolean };
  const num = (name: string, v: number, min: number, max: number, integer = true): void => {
    if (typeof v !== 'number' || Number.isNaN(v) || v < min || v > max || (integer && !Number.isInteger(v)))
      throw new UsageError(`--${name}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(v)}`);
  };
  num('snaplen', a.snaplen, 64, 262144);
  num('lifetime-timeout', a['lifetime-timeout'], 1, 86400 * 7, false);
  num('idle-timeout', a['idle-timeout'], 1, 86400, false);
  num('max-num-flows', a['max-num-flows'], 1, 1 << 26);
  num('verbose', a.verbose, 0, 2);
  num('stats-interval', a['stats-interval'], 1, 3600);
  for (const k of ['interface', 'bpf-filter', 'collector', 'json-out'] as const) {
    if (Array.isArray(a[k])) throw new UsageError(`--${k} given more than once`);
  }
  if (a.collector !== undefined && a.collector.toLowerCase() !== 'none') {
    throw new UsageError(`-n ${a.collector}: NetFlow/IPFIX collectors are not available in this version; use -n none (and --json-out for flows)`);
  }
  return a;
}

async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      say(`error: ${e.message.split('\n')[0]} (see nprobe --help)`);
      return EXIT_USAGE;
    }
    throw e;
  }
  if ((args as { help?: boolean }).help) return EXIT_OK;

  let probe: Probe;
  try {
    probe = new Probe({
      interface: args.interface,
      filter: args['bpf-filter'],
      snaplen: args.snaplen,
      activeTimeout: args['lifetime-timeout'],
      idleTimeout: args['idle-timeout'],
      maxFlows: args['max-num-flows'],
      originalSpeed: args['original-speed'],
      dissect: args.dpi,
    });
    probe.open();
  } catch (e) {
    if (e instanceof ProbeError) {
      say(`error: ${e.message}`);
      return EXIT_RUNTIME;
    }
    throw e;
  }

  let json: JsonLinesWriter | null = null;
  if (args['json-out'] !== undefined) {
    try {
      json = new JsonLinesWriter(args['json-out']);
    } catch (e) {
      say(`error: cannot write ${args['json-out']}: ${(e as Error).message}`);
      return EXIT_RUNTIME;
    }
  }

  const info = probe.info();
  say(probe.isFile ? `reading ${args.interface} (${info.linktypeName})` : `capturing on ${args.interface} (${info.linktypeName})`);

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      say(`${sig}: stopping, exporting every active flow`);
      probe.stop();
    } else {
      say(`${sig} again: stopping now`);
      probe.abort();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const queueCapacity = probe.queueRecords;
  const reporter = args.verbose > 0 ? new StatsReporter(args.verbose, (l) => process.stderr.write(l + '\n')) : null;
  const progress = probe.isFile && ProgressBar.wanted() ? new ProgressBar() : null;
  const timers: NodeJS.Timeout[] = [];
  if (reporter) {
    timers.push(setInterval(() => {
      progress?.clear();
      reporter.report(probe.stats(), { queueCapacity });
    }, args['stats-interval'] * 1000));
  }
  if (progress) timers.push(setInterval(() => progress.update(probe.stats()), 200));

  let failure: Error | null = null;
  const sink = (flows: FlowRecord[]): void | Promise<void> => (json ? json.write(flows) : undefined);
  try {
    await probe.run(sink);
  } catch (e) {
    failure = e as Error;
  }
  for (const t of timers) clearInterval(t);
  progress?.clear();
  if (json) {
    try {
      await json.close();
    } catch (e) {
      failure = failure ?? (e as Error);
    }
  }
  const st = probe.stats();
  if (reporter) reporter.report(st, { queueCapacity });
  if (st.warning) say(`warning: ${st.warning}`);
  for (const line of summaryLines(st, { source: args.interface, elapsed: probe.elapsed, flowsOut: probe.flowsDelivered })) say(line);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (failure) {
    const code = (failure as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') return EXIT_OK; // the reader went away (e.g. | head): not an error
    say(`error: output failed: ${failure.message}`);
    return EXIT_RUNTIME;
  }
  return EXIT_OK;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    say(`error: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.NPROBE_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = EXIT_RUNTIME;
  },
);
