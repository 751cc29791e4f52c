#!/usr/bin/env node
// nprobe command line: nProbe's option names (-i -f -s -t -d -M -n -b), JSON flow output,
// periodic stats, a progress bar on terminals, and one clear line for every bad input.
import yargs from 'yargs';
import { closeAll, createOutputs, exportOptions, FlowOutput, listFields, listFieldsRequested, OutputError, outputStatsLines, writeAll } from './export/outputs';
import type { HookStats, LuaHost } from './lua/host';
import { Probe, ProbeError, ProbeOptions } from './probe';
import { loadNative } from './native';
import { ProgressBar } from './progress';
import type { FlowBatch } from './batch';
import { StatsReporter, summaryLines } from './stats';
import type { InterceptBridge } from './intercept/bridge';
import { interceptLines } from './intercept/stats';
import type { MetricsServer } from './metrics';
import { dropPrivileges, lookupUser, UserEntry, UserError } from './privileges';

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
  'export-queue': number;
  dpi: boolean;
  'ftp-credentials': boolean;
  lua?: string;
  'lua-timeout-ms': number;
  'lua-memory-mb': number;
  'lua-sandbox': boolean;
  'as-list'?: string;    // DNS client enrichment (src/geo.ts)
  'city-list'?: string;
  'metrics-port'?: number;    // Prometheus /metrics (src/metrics.ts)
  'metrics-address': string;
  user?: string;              // -u: drop root after opening the capture (src/privileges.ts)
  // The connection hook (intercept_hook, src/intercept/)
  'intercept-timeout-ms': number;
  'intercept-default': 'pass' | 'check' | 'reject' | 'drop';
  'lookup-config'?: string;
  'intercept-rst': boolean;
  'queue-bypass': boolean;
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
    .option('export-queue', { type: 'number', default: 16384, describe: 'Finished flows held between the capture thread and export; live, a full queue drops flows (counted with their packets), a file waits' })
    .option('metrics-port', { type: 'number', describe: 'Serve Prometheus metrics at http://<metrics-address>:PORT/metrics' })
    .option('metrics-address', { type: 'string', default: '127.0.0.1', describe: 'Address of the --metrics-port server' })
    .option('intercept-timeout-ms', { type: 'number', default: 1000, describe: 'Time intercept_hook has to give a verdict; then the default applies' })
    .option('intercept-default', { type: 'string', choices: ['pass', 'check', 'reject', 'drop'], default: 'check', describe: 'Verdict on a hook error, nil, unknown string or time-out' })
    .option('lookup-config', { type: 'string', describe: 'Data sources of drweb.lookup (type@tag sections)' })
    .option('intercept-rst', { type: 'boolean', default: false, describe: 'Passive live capture: answer a "reject" verdict with TCP resets to both ends' })
    .option('queue-bypass', { type: 'boolean', default: false, describe: '-i nf:N: the kernel accepts the queue\'s packets while the probe is not running (fail-open)' })
    .option('user', { alias: 'u', type: 'string', describe: 'Run as this user once the capture is open (needs root; the Lua script and the outputs are opened as the user)' })
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
  num('export-queue', a['export-queue'], 16, 1 << 24);
  num('lua-timeout-ms', a['lua-timeout-ms'], 1, 600000);
  num('lua-memory-mb', a['lua-memory-mb'], 8, 65536);
  if (a['metrics-port'] !== undefined) num('metrics-port', a['metrics-port'], 1, 65535);
  num('intercept-timeout-ms', a['intercept-timeout-ms'], 1, 600000);
  for (const k of ['intercept-default', 'lookup-config'] as const) {
    if (Array.isArray(a[k])) throw new UsageError(`--${k} given more than once`);
  }
  for (const k of ['interface', 'bpf-filter', 'json-out', 'lua', 'as-list', 'city-list', 'metrics-port', 'metrics-address', 'user'] as const) {
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
  // -u: an unknown user is an option error, found before anything is opened.
  let runAs: UserEntry | null = null;
  if (args.user !== undefined) {
    try {
      runAs = lookupUser(args.user);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      say(`error: ${e.message} (see nprobe --help)`);
      return EXIT_USAGE;
    }
  }

  const probeOptions: ProbeOptions = {
    interface: args.interface,
    filter: args['bpf-filter'],
    snaplen: args.snaplen,
    activeTimeout: args['lifetime-timeout'],
    idleTimeout: args['idle-timeout'],
    maxFlows: args['max-num-flows'],
    originalSpeed: args['original-speed'],
    queueRecords: args['export-queue'],
    dissect: args.dpi,
    ftpCredentials: args['ftp-credentials'],
    asList: args['as-list'],
    cityList: args['city-list'],
    queueBypass: args['queue-bypass'],
  };
  let probe: Probe;
  try {
    probe = new Probe(probeOptions);
    probe.open();
  } catch (e) {
    if (e instanceof ProbeError) {
      say(`error: ${e.message}`);
      return EXIT_RUNTIME;
    }
    throw e;
  }

  // What the metrics report; outputs and Lua are filled in below. Read at scrape time.
  let outputs: FlowOutput[] = [];
  let exported = 0;
  let lua: LuaHost | null = null;
  let suppressedBefore = 0;
  let hookStatsBefore: HookStats[] = [];
  const luaStats = (): { hooks: HookStats[]; suppressed: number } | undefined =>
    lua ? { hooks: mergeHookStats(hookStatsBefore, lua.stats()), suppressed: suppressedBefore + lua.suppressed } : undefined;
  // Opened as root (before -u): the capture, the GeoIP databases (probe.open()) and the metrics
  // socket (a port below 1024 works). Everything after is opened as the user.
  let metrics: MetricsServer | null = null;
  if (args['metrics-port'] !== undefined) {
    const m = await import('./metrics');
    try {
      metrics = await m.MetricsServer.start(args['metrics-address'], args['metrics-port'], () => ({
        probe: probe.stats(), queueCapacity: probe.queueRecords, flowsOut: exported, lua: luaStats(), outputs: outputs.map((o) => o.stats()),
      }));
    } catch (e) {
      if (!(e instanceof m.MetricsError)) throw e;
      say(`error: ${e.message}`);
      return EXIT_RUNTIME;
    }
  }
  if (runAs) {
    try {
      const warning = dropPrivileges(runAs);
      if (warning) say(`warning: ${warning}`);
      else say(`running as ${runAs.name} (uid ${runAs.uid}, gid ${runAs.gid})`);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      say(`error: ${e.message}`);
      await metrics?.close();
      return EXIT_RUNTIME;
    }
  }

  // A capture file is read from here on, while the Lua script loads and the outputs are
  // set up (~50 ms with a script: wasmoon, the state, the drweb modules; a few ms for the
  // output modules): the capture thread starts instead of waiting for them, and its flows wait
  // in the queue. The script still loads before its first flow is handed over (nProbe's order
  // of messages). Should it define intercept_hook, which must be on before the first packet,
  // that capture is thrown away (nothing of it was exported yet) and the file opened again.
  // Not for stdin (no second reading) nor with -u (the file was opened as root).
  const early = probe.isFile && args.interface !== '-' && !runAs;
  if (early) probe.start();
  const discardEarly = (): void => {
    if (early) probe.discard();
  };
  // Loaded only when asked for: wasmoon alone adds tens of ms to every start.
  const luaModule = args.lua !== undefined ? await import('./lua/host') : null;
  const drwebModule = args.lua !== undefined ? await import('./lua/drweb') : null;
  const interceptModule = args.lua !== undefined ? await import('./lua/intercept') : null;
  const luaOptions = {
    timeoutMs: args['lua-timeout-ms'],
    memoryMb: args['lua-memory-mb'],
    sandbox: args['lua-sandbox'],
    // `require "drweb"` and "drweb.lookup" are there for every script (seed 000), installed
    // on first use.
    preload: (e: import('wasmoon').LuaEngine) => drwebModule?.preloadDrweb(e, { lookupConfig: args['lookup-config'] }),
  };
  // The connection hook: on when the script defines intercept_hook (src/intercept/bridge.ts).
  let bridge: InterceptBridge | null = null;
  const newRunner = (host: LuaHost): InstanceType<NonNullable<typeof interceptModule>['InterceptRunner']> =>
    new interceptModule!.InterceptRunner(host.lua, { timeoutMs: args['intercept-timeout-ms'], defaultVerdict: args['intercept-default'] });
  if (args.lua !== undefined && luaModule) {
    try {
      lua = await luaModule.LuaHost.load(args.lua, luaOptions);
      // The connection hook shares the script's Lua state (DESIGN.md §5).
      if (interceptModule && interceptModule.InterceptRunner.defined(lua.lua)) {
        const { InterceptBridge, VERDICT_CODES } = await import('./intercept/bridge');
        if (early) {
          discardEarly();
          probe = new Probe(probeOptions);
          probe.open();
        }
        bridge = new InterceptBridge(probe, newRunner(lua), { defaultVerdict: args['intercept-default'] });
        const b = bridge;
        probe.enableIntercept(
          { defaultVerdict: VERDICT_CODES[args['intercept-default']], timeoutMs: args['intercept-timeout-ms'], rst: args['intercept-rst'] },
          () => b.drain(),
        );
      }
    } catch (e) {
      if (e instanceof luaModule.LuaLoadError) {
        say(`error: [LUA] ${e.message}`);
        discardEarly();
        await metrics?.close();
        return EXIT_RUNTIME;
      }
      throw e;
    }
    say(`[LUA] Successfully interpreted ${args.lua}`);
  }
  // Between the two [LUA] lines, as nProbe prints them (seed 002).
  try {
    outputs = await createOutputs(args, say);
  } catch (e) {
    if (e instanceof OutputError) {
      say(`error: ${e.message}`);
      discardEarly();
      await metrics?.close();
      return EXIT_RUNTIME;
    }
    throw e;
  }
  if (lua) say(`${lua.enabled.length} plugin(s) enabled`);
  if (bridge) say(`[LUA] intercept_hook: every new TCP connection waits for its verdict (default ${args['intercept-default']}, ${args['intercept-timeout-ms']} ms)`);

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
  const onHup = (): void => {
    if (!lua || args.lua === undefined || !luaModule) return;
    const file = args.lua;
    luaModule.LuaHost.load(file, luaOptions).then(
      (fresh) => {
        // The connection hook moves to the new state before the old one closes; a script
        // that drops intercept_hook leaves connections undecided (dissected, FLOW_VERDICT 0).
        const hooks = interceptModule?.InterceptRunner.defined(fresh.lua) ?? false;
        if (bridge) bridge.replaceRunner(hooks ? newRunner(fresh) : null);
        else if (hooks) say('[LUA] SIGHUP: intercept_hook is new in the script: restart the probe to turn the connection hook on');
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
  const queueCapacity = probe.queueRecords;
  const reporter = args.verbose > 0 ? new StatsReporter(args.verbose, (l) => process.stderr.write(l + '\n')) : null;
  const progress = probe.isFile && ProgressBar.wanted() ? new ProgressBar() : null;
  const timers: NodeJS.Timeout[] = [];
  if (reporter) {
    timers.push(setInterval(() => {
      progress?.clear();
      const ps = probe.stats();
      reporter.report(ps, { queueCapacity, lua: luaStats(), flowsOut: exported });
      if (bridge) for (const l of interceptLines(ps.intercept, bridge.stats(), ps.nfqueue)) say(l);
      for (const l of outputStatsLines(outputs)) say(l);
    }, args['stats-interval'] * 1000));
  }
  if (progress) timers.push(setInterval(() => progress.update(probe.stats()), 200));

  let failure: Error | null = null;
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
  if (reporter) reporter.report(st, { queueCapacity, lua: ls, flowsOut: exported });
  if (st.warning) say(`warning: ${st.warning}`);
  for (const line of summaryLines(st, { source: args.interface, elapsed: probe.elapsed, flowsOut: exported, lua: ls })) say(line);
  if (bridge) for (const line of interceptLines(st.intercept, bridge.stats(), st.nfqueue)) say(line);
  for (const line of outputStatsLines(outputs)) say(line);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onHup);
  bridge?.close();
  lua?.close();
  await metrics?.close();
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
    h.costMs += b.costMs;
    h.p99Us = Math.max(h.p99Us, b.p99Us);
  }
  return out;
}

/** --cpu-prof, --heap-prof, --prof and NODE_V8_COVERAGE write their files as Node exits. */
function nodeWritesAtExit(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return !!process.env.NODE_V8_COVERAGE || flags.some((f) => /^--(cpu-prof|heap-prof|prof)\b/.test(f));
}

/** Time Node gets to exit on its own once main() is done (see exitAfter in native/addon.cc). */
const EXIT_GRACE_MS = 500;

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // main() has written and closed every output. Node's own way out would still wait for V8's
    // background compiles of the Lua VM (30-45 ms after a short run with a script) and tear
    // the heap down: nothing the probe needs. Leave now, unless stdout or stderr still hold
    // bytes (a slow pipe reader), or Node has a profile or coverage to write on its way out
    // (bench/profile.sh): then Node exits by itself, within the grace time.
    const flushed = process.stdout.writableLength === 0 && process.stderr.writableLength === 0;
    loadNative().exitAfter(code, flushed && !nodeWritesAtExit() ? 0 : EXIT_GRACE_MS);
  },
  (e: unknown) => {
    say(`error: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.NPROBE_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = EXIT_RUNTIME;
    // A capture started early would keep the process alive; the addon may be what failed.
    try {
      loadNative().exitAfter(EXIT_RUNTIME, EXIT_GRACE_MS);
    } catch {
      process.exit(EXIT_RUNTIME);
    }
  },
);
