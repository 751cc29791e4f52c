#!/usr/bin/env node
// nprobe command line: nProbe's option names (-i -f -s -t -d -M -n -b), JSON flow output,
// periodic stats, a progress bar on terminals, and one clear line for every bad input.
import yargs from 'yargs';
import { closeAll, createOutputs, exportOptions, FlowOutput, listFields, listFieldsRequested, OutputError, outputStatsLines, writeAll } from './export/outputs';
import type { HookStats, LuaHost } from './lua/host';
import { Probe, ProbeError } from './probe';
import { ProgressBar } from './progress';
import type { FlowBatch } from './batch';
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
  verbose: number;
  'json-out'?: string;
  'original-speed': boolean;
  'stats-interval': number;
  dpi: boolean;
  'ftp-credentials': boolean;
  lua?: string;
  'lua-timeout-ms': number;
  'lua-memory-mb': number;
  'lua-sandbox': boolean;
  'as-list'?: string;    // DNS client enrichment (src/geo.ts)
  'city-list'?: string;
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
  const parser = exportOptions(yargs(joinDashValues(argv))
    .scriptName('nprobe')
    .usage('Usage: nprobe -i <interface|capture file> [options]')
    .option('interface', { alias: 'i', type: 'string', describe: 'Interface name or capture file (pcap/pcapng; "-" = stdin)', demandOption: 'give -i <interface|file>' })
    .option('bpf-filter', { alias: 'f', type: 'string', describe: 'BPF filter expression' })
    .option('snaplen', { alias: 's', type: 'number', default: 65535, describe: 'Capture snap length (live capture)' })
    .option('lifetime-timeout', { alias: 't', type: 'number', default: 120, describe: 'Active timeout: export flows active longer than this (s)' })
    .option('idle-timeout', { alias: 'd', type: 'number', default: 30, describe: 'Idle timeout: export flows idle longer than this (s)' })
    .option('max-num-flows', { alias: 'M', type: 'number', default: 524288, describe: 'Maximum active flows; when full the least recently seen is exported early' })
    .option('verbose', { alias: 'b', type: 'number', default: 0, describe: 'Verbosity: 0 quiet, 1 periodic stats, 2 detailed stats' })
    .option('json-out', { type: 'string', describe: 'Write flows as JSON lines to FILE, or "-" for stdout' })
    .option('original-speed', { type: 'boolean', default: false, describe: 'Replay a capture file at its recorded pace' })
    .option('dpi', { type: 'boolean', default: true, describe: 'Dissect protocols (DNS, DHCP, RADIUS, SIP, GTPv1); --no-dpi exports flows only' })
    .option('ftp-credentials', { type: 'boolean', default: false, describe: 'Export FTP passwords (FTP_PASSWORD, also in the Lua table); off: never exported' })
    .option('lua', { type: 'string', describe: 'Lua script with check<Protocol>Flow hooks, called right before each flow is exported' })
    .option('lua-timeout-ms', { type: 'number', default: 100, describe: 'Time budget of one hook call; longer calls are stopped and counted' })
    .option('lua-memory-mb', { type: 'number', default: 256, describe: 'Memory cap of the Lua state' })
    .option('lua-sandbox', { type: 'boolean', default: false, describe: 'Remove io, os.execute and file loading from the script (untrusted scripts)' })
    // nProbe's options; used for the DNS client fields (src/geo.ts).
    .option('as-list', { type: 'string', describe: 'MaxMind ASN database (.mmdb): AS of DNS clients' })
    .option('city-list', { type: 'string', describe: 'MaxMind City database (.mmdb): country and city of DNS clients' })
    .option('stats-interval', { type: 'number', default: 5, describe: 'Seconds between -b stats reports' })
    )
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
  num('lua-timeout-ms', a['lua-timeout-ms'], 1, 600000);
  num('lua-memory-mb', a['lua-memory-mb'], 8, 65536);
  for (const k of ['interface', 'bpf-filter', 'json-out', 'lua', 'as-list', 'city-list'] as const) {
    if (Array.isArray(a[k])) throw new UsageError(`--${k} given more than once`);
  }
  return a;
}

async function main(argv: string[]): Promise<number> {
  if (listFieldsRequested(argv)) {
    process.stdout.write(listFields());
    return EXIT_OK;
  }
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
      ftpCredentials: args['ftp-credentials'],
      asList: args['as-list'],
      cityList: args['city-list'],
    });
    probe.open();
  } catch (e) {
    if (e instanceof ProbeError) {
      say(`error: ${e.message}`);
      return EXIT_RUNTIME;
    }
    throw e;
  }

  // The script loads once, before capture starts (nProbe's order of messages).
  let lua: LuaHost | null = null;
  const luaOptions = {
    timeoutMs: args['lua-timeout-ms'],
    memoryMb: args['lua-memory-mb'],
    sandbox: args['lua-sandbox'],
  };
  // Loaded only when asked for: wasmoon alone adds tens of ms to every start.
  const luaModule = args.lua !== undefined ? await import('./lua/host') : null;
  if (args.lua !== undefined && luaModule) {
    try {
      lua = await luaModule.LuaHost.load(args.lua, luaOptions);
    } catch (e) {
      if (e instanceof luaModule.LuaLoadError) {
        say(`error: [LUA] ${e.message}`);
        return EXIT_RUNTIME;
      }
      throw e;
    }
    say(`[LUA] Successfully interpreted ${args.lua}`);
  }
  // Between the two [LUA] lines, as nProbe prints them (seed 002).
  let outputs: FlowOutput[];
  try {
    outputs = await createOutputs(args, say);
  } catch (e) {
    if (e instanceof OutputError) {
      say(`error: ${e.message}`);
      return EXIT_RUNTIME;
    }
    throw e;
  }
  if (lua) say(`${lua.enabled.length} plugin(s) enabled`);

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
  // SIGHUP reloads the script between two batches: no flow is lost; a script that fails
  // to load leaves the old one running.
  let suppressedBefore = 0;
  let hookStatsBefore: HookStats[] = [];
  const onHup = (): void => {
    if (!lua || args.lua === undefined || !luaModule) return;
    const file = args.lua;
    luaModule.LuaHost.load(file, luaOptions).then(
      (fresh) => {
        if (lua) {
          suppressedBefore += lua.suppressed;
          hookStatsBefore = mergeHookStats(hookStatsBefore, lua.stats());
          lua.close();
        }
        lua = fresh;
        say(`[LUA] SIGHUP: reloaded ${file}, ${fresh.enabled.length} plugin(s) enabled`);
      },
      (e: Error) => say(`[LUA] SIGHUP: ${file} not reloaded, the running script stays: ${e.message}`),
    );
  };
  process.on('SIGHUP', onHup);
  const luaStats = (): { hooks: HookStats[]; suppressed: number } | undefined =>
    lua ? { hooks: mergeHookStats(hookStatsBefore, lua.stats()), suppressed: suppressedBefore + lua.suppressed } : undefined;

  const queueCapacity = probe.queueRecords;
  const reporter = args.verbose > 0 ? new StatsReporter(args.verbose, (l) => process.stderr.write(l + '\n')) : null;
  const progress = probe.isFile && ProgressBar.wanted() ? new ProgressBar() : null;
  const timers: NodeJS.Timeout[] = [];
  if (reporter) {
    timers.push(setInterval(() => {
      progress?.clear();
      reporter.report(probe.stats(), { queueCapacity, lua: luaStats() });
      for (const l of outputStatsLines(outputs)) say(l);
    }, args['stats-interval'] * 1000));
  }
  if (progress) timers.push(setInterval(() => progress.update(probe.stats()), 200));

  let failure: Error | null = null;
  let exported = 0;
  // Batches stay undecoded unless a hook or a non-JSON output needs records (src/batch.ts).
  const sink = (batch: FlowBatch): void | Promise<void> => {
    if (lua) lua.processBatch(batch);
    exported += batch.kept;
    return writeAll(outputs, batch);
  };
  try {
    await probe.runBatches(sink);
  } catch (e) {
    failure = e as Error;
  }
  for (const t of timers) clearInterval(t);
  progress?.clear();
  try {
    await closeAll(outputs);
  } catch (e) {
    failure = failure ?? (e as Error);
  }
  const st = probe.stats();
  const ls = luaStats();
  if (reporter) reporter.report(st, { queueCapacity, lua: ls });
  if (st.warning) say(`warning: ${st.warning}`);
  for (const line of summaryLines(st, { source: args.interface, elapsed: probe.elapsed, flowsOut: exported, lua: ls })) say(line);
  for (const line of outputStatsLines(outputs)) say(line);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onHup);
  lua?.close();
  if (failure) {
    const code = (failure as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') return EXIT_OK; // the reader went away (e.g. | head): not an error
    say(`error: output failed: ${failure.message}`);
    return EXIT_RUNTIME;
  }
  return EXIT_OK;
}

/** Adds the counters of a script that was reloaded away to those of the running one. */
function mergeHookStats(before: HookStats[], now: HookStats[]): HookStats[] {
  const out = now.map((h) => ({ ...h }));
  for (const b of before) {
    const h = out.find((x) => x.hook === b.hook);
    if (!h) {
      out.push({ ...b });
      continue;
    }
    h.calls += b.calls;
    h.errors += b.errors;
    h.timeouts += b.timeouts;
    h.suppressed += b.suppressed;
    h.totalMs += b.totalMs;
    h.p99Us = Math.max(h.p99Us, b.p99Us);
  }
  return out;
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
