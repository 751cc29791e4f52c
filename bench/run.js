#!/usr/bin/env node
// bench/run.js - `npm run bench`: throughput and peak memory of the probe, side by side with
// the peers a user would pick instead (softflowd, nfpcapd, ndpiReader) and the libpcap floor,
// on the same synthetic capture, measured in one run.  See bench/README.md.
//
// Plain Node 20, CommonJS, no dependencies.  Nothing here is a test: the targets are printed,
// never asserted (exit status is non-zero only when the benchmark itself could not run).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const cp = require('child_process');

const REPO = path.resolve(__dirname, '..');
const SHARED = path.resolve(process.env.NPROBE_SHARED || path.join(REPO, '..', 'shared'));
const CACHE = path.resolve(process.env.NPROBE_BENCH_DIR || '/tmp/nprobe-bench');
const CLI = path.join(REPO, 'dist', 'src', 'cli.js');
const ADDON = path.join(REPO, 'build', 'Release', 'nprobe_native.node');
const TIME = '/usr/bin/time';

// ---------------------------------------------------------------- what is measured

// Input files: generated once into CACHE by the shared generator, reused afterwards.
const FILES = {
  'mix-1m': { file: 'mix-1m.pcap', gen: [] },
  'mix-290k': { file: 'mix-290k.pcap', gen: ['--mix', 'dns=80,radius=12,sip=4,dhcp=2,http=2'] },
};

// Probe configurations: name, probe argv after the input file (the bench adds `-i FILE`),
// and the targets printed next to the ratios (text only: `min` is a ratio probe/peer).
// Adding a configuration is one line here.
const CONFIGS = [
  // Capture, flows and JSON export, no dissection: what softflowd/nfpcapd do.
  { name: 'flows-only', args: ['--no-dpi', '-n', 'none', '--json-out', '/dev/null'],
    targets: [{ vs: 'softflowd', min: 1.5 }, { vs: 'floor', min: 0.40 }] },
  // Every dissector on (the default). Issue 3: within 25% of flows-only.
  { name: 'dpi', args: ['-n', 'none', '--json-out', '/dev/null'],
    targets: [{ of: 'flows-only', min: 0.75 }, { vs: 'ndpiReader', min: 2.5 }] },
  // The full configuration of issue 8: dissectors, reassembly, Lua with trivial checkDNSFlow
  // and checkHTTPFlow (bench/trivial.lua), JSON to /dev/null. Issue 5: within 15% of dpi.
  { name: 'full', args: ['-n', 'none', '--json-out', '/dev/null', '--lua', path.join(__dirname, 'trivial.lua')],
    targets: [{ of: 'dpi', min: 0.85 }, { vs: 'softflowd', min: 1.2 }, { vs: 'ndpiReader', min: 2.5 }] },
];

const PEERS = ['floor', 'softflowd', 'nfpcapd', 'ndpiReader'];
const RATIO_VS = ['floor', 'softflowd', 'ndpiReader'];

// Debian packages providing the peers and the tools the bench needs.
const NEEDED = [
  { bin: 'softflowd', why: 'peer' },
  { bin: 'ndpiReader', why: 'peer' },
  { bin: 'nfpcapd', why: 'peer' },
  { bin: TIME, why: 'timing' },
  { bin: 'capinfos', why: 'file facts' },
];
const APT_PKGS = ['softflowd', 'libndpi-bin', 'nfdump', 'time', 'wireshark-common', 'tshark'];

// ---------------------------------------------------------------- options

const HELP = `usage: node bench/run.js [options]          (npm run bench -- [options])

Times the probe (median wall of N runs under ${TIME}, file in the page cache,
the configurations taking turns)
and the peers (softflowd, nfpcapd, ndpiReader, libpcap floor, via
shared/bench/peers.sh) on the same synthetic capture; prints one table per file
with pkts/s, Mbit/s, wall s, cpu s, peak RSS MiB and the ratios of every probe
configuration to the floor, softflowd and ndpiReader.  Also writes the results
to <cache>/last-bench.json.

options:
  --runs N        runs per program, the median by wall time is reported
                  (default: env RUNS, else 3)
  --mix290k       also bench the ~290k-flow file (flow-table stress)
  --all           every file (mix-1m and the 290k-flow file) and every config
  --only WHAT     probe: only the probe (the peer rows and ratios are then taken
                         from the last run's last-bench.json, marked as such)
                  peers: only the peers and the floor
                  gen:   only generate the input files, print their paths
                  argv:  print the probe command line of the (first selected)
                         config on the (first) file, one argument per line
                         (used by bench/profile.sh)
  --config NAME   only this probe configuration (repeatable, or a,b)
                  configurations: ${CONFIGS.map((c) => c.name).join(', ')}
  --file PCAP     bench this capture instead of the generated ones
  -h, --help      this text

environment:
  NPROBE_SHARED     shared/ directory (default: <repo>/../shared = ${SHARED})
  NPROBE_BENCH_DIR  cache for generated captures and results (default /tmp/nprobe-bench)
  RUNS              default for --runs (also passed to peers.sh)
`;

function parseArgs(argv) {
  const o = { runs: Number(process.env.RUNS) || 3, files: ['mix-1m'], only: null, configs: [], file: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (a.includes('=')) return a.slice(a.indexOf('=') + 1);
      if (i + 1 >= argv.length) die(`${a} needs a value`);
      return argv[++i];
    };
    const key = a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    switch (key) {
      case '-h': case '--help': process.stdout.write(HELP); process.exit(0); break;
      case '--runs': o.runs = parseInt(val(), 10); if (!(o.runs >= 1)) die('--runs needs a number >= 1'); break;
      case '--mix290k': case '--all': o.files = ['mix-1m', 'mix-290k']; break;
      case '--only': o.only = val(); if (!['probe', 'peers', 'gen', 'argv'].includes(o.only)) die('--only probe|peers|gen|argv'); break;
      case '--config': o.configs.push(...val().split(',').filter(Boolean)); break;
      case '--file': o.file = path.resolve(val()); break;
      default: die(`unknown option ${a} (see --help)`);
    }
  }
  for (const c of o.configs) {
    if (!CONFIGS.some((x) => x.name === c)) die(`unknown config ${c} (known: ${CONFIGS.map((x) => x.name).join(', ')})`);
  }
  return o;
}

// ---------------------------------------------------------------- helpers

function die(msg) { process.stderr.write(`bench: ${msg}\n`); process.exit(2); }
function log(msg) { process.stderr.write(`# ${msg}\n`); }
function warn(msg) {
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n!! ${msg.split('\n').join('\n!! ')}\n${bar}\n\n`);
}

function have(bin) {
  if (bin.startsWith('/')) { try { fs.accessSync(bin, fs.constants.X_OK); return true; } catch { return false; } }
  return cp.spawnSync('sh', ['-c', 'command -v "$1" >/dev/null', 'sh', bin]).status === 0;
}

function nonEmpty(f) { try { return fs.statSync(f).size > 0; } catch { return false; } }

function median(runs) {
  const s = [...runs].sort((a, b) => a.wall - b.wall);
  return s[Math.floor((s.length + 1) / 2) - 1];   // same pick as peers.sh
}

function warmCache(file) {
  // read the whole file once so that every program reads it from memory
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(8 << 20);
  while (fs.readSync(fd, buf, 0, buf.length, null) > 0) { /* discard */ }
  fs.closeSync(fd);
}

// ---------------------------------------------------------------- input files

function ensureFile(key) {
  const spec = FILES[key];
  const out = path.join(CACHE, spec.file);
  if (nonEmpty(out)) { log(`reusing ${out}`); return out; }
  const gen = path.join(SHARED, 'bench', 'gen_mix_pcap.py');
  if (!fs.existsSync(gen)) die(`generator not found: ${gen} (set NPROBE_SHARED)`);
  fs.mkdirSync(CACHE, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  log(`generating ${out} (python3 ${gen} ${spec.gen.join(' ')}) ...`);
  const t0 = Date.now();
  const r = cp.spawnSync('python3', [gen, '-o', tmp, ...spec.gen], { stdio: ['ignore', 'inherit', 'pipe'] });
  const msg = (r.stderr || '').toString().trim();
  if (r.status !== 0 || !nonEmpty(tmp)) {
    try { fs.unlinkSync(tmp); } catch { /* none */ }
    die(`generating ${out} failed (status ${r.status}${r.signal ? ', ' + r.signal : ''}): ${msg}`);
  }
  // the generator's summary line (packets, bytes, flows per kind) goes next to the file
  fs.writeFileSync(`${out}.gen.txt`, msg.replace(tmp, out) + '\n');
  fs.renameSync(tmp, out);
  log(`generated in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${msg.replace(tmp, path.basename(out))}`);
  return out;
}

function fileFacts(file) {
  const r = cp.spawnSync('capinfos', ['-T', '-r', '-c', '-d', file], { encoding: 'utf8' });
  const f = (r.stdout || '').trim().split('\n').pop().split('\t');
  const packets = Number(f[1]);
  const bytes = Number(f[2]);
  if (r.status !== 0 || !(packets > 0)) die(`capinfos could not read ${file}: ${(r.stderr || '').trim()}`);
  let flows = null;
  let gen = null;
  try {
    gen = fs.readFileSync(`${file}.gen.txt`, 'utf8').trim();
    const m = gen.match(/(\d+) flows/);
    if (m) flows = Number(m[1]);
  } catch { /* not generated by us */ }
  return { path: file, packets, bytes, fileSize: fs.statSync(file).size, flows, generator: gen };
}

// ---------------------------------------------------------------- peers

function ensurePeers() {
  const missing = NEEDED.filter((n) => !have(n.bin));
  if (!missing.length) return;
  const cmd = `apt-get install -y ${APT_PKGS.join(' ')}`;
  log(`missing: ${missing.map((m) => m.bin).join(', ')}`);
  if (process.getuid && process.getuid() === 0 && have('apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const inst = () => cp.spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...APT_PKGS],
      { stdio: ['ignore', 'ignore', 'inherit'], env }).status === 0;
    log(`installing: DEBIAN_FRONTEND=noninteractive ${cmd}`);
    if (!inst()) {
      log('install failed, trying apt-get update first');
      cp.spawnSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env });
      if (!inst()) log('install failed; going on with what is there');
    }
    const still = NEEDED.filter((n) => !have(n.bin));
    if (still.length) log(`still missing: ${still.map((m) => m.bin).join(', ')}`);
  } else {
    log(`to install them run (as root): DEBIAN_FRONTEND=noninteractive ${cmd}`);
    log('going on with what is there');
  }
}

function runPeers(file, runs) {
  const script = path.join(SHARED, 'bench', 'peers.sh');
  if (!fs.existsSync(script)) die(`peers.sh not found: ${script} (set NPROBE_SHARED)`);
  log(`peers: RUNS=${runs} ${script} ${file} ${PEERS.join(' ')}`);
  const r = cp.spawnSync('bash', [script, file, ...PEERS], {
    env: { ...process.env, RUNS: String(runs) }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  const err = r.stderr || '';
  process.stderr.write(err);
  if (r.status !== 0) log(`peers.sh exited with status ${r.status}`);
  const rows = {};
  for (const line of (r.stdout || '').split('\n')) {
    const m = line.trim().match(/^(\S+) (\d+) ([\d.]+) ([\d.]+) (\d+)$/);
    if (!m) continue;
    const [, name, pps, mbps, wall, rss] = m;
    const cpu = err.match(new RegExp(`#\\s+${name.replace(/[^\w-]/g, '.')} cpu_s=([\\d.]+) runs\\(wall\\): ([\\d. ]+)`));
    rows[name] = {
      name, kind: name === 'floor' ? 'floor' : 'peer', pps: Number(pps), mbps: Number(mbps),
      wall: Number(wall), rssKiB: Number(rss), cpu: cpu ? Number(cpu[1]) : null,
      runsWall: cpu ? cpu[2].trim().split(/\s+/).map(Number) : null,
    };
  }
  for (const p of PEERS) if (!rows[p]) log(`${p}: no result (see above)`);
  return rows;
}

// ---------------------------------------------------------------- probe

// Look for the packet count in the probe's summary: any number written next to the word
// "packets"/"pkts" (either side, "packets: 1,002,900", "1002900 pkts", "packets=1002900").
function summaryPackets(text) {
  const found = new Set();
  const num = '(\\d[\\d,_\']*)';
  const res = [
    new RegExp(`\\b(?:packets|pkts|pkt_count|packets_read|packets_processed)\\b["']?\\s*[:=]?\\s*${num}`, 'gi'),
    new RegExp(`${num}\\s*(?:packets|pkts)\\b`, 'gi'),
  ];
  for (const re of res) for (const m of text.matchAll(re)) found.add(Number(m[1].replace(/[,_']/g, '')));
  return [...found].filter((n) => Number.isFinite(n));
}

// NODE_EXTRA_CA_CERTS makes every node start parse a CA bundle (~35 ms on the machines this
// was measured on, where the variable is set for the whole environment); the probe makes no
// TLS connection, so its figures are taken without it. Reported in bench/README.md.
const PROBE_ENV = { ...process.env };
delete PROBE_ENV.NODE_EXTRA_CA_CERTS;

// One run of one configuration: { wall, user, sys, rssKiB, stderr } or { error, stderr }.
function runProbeOnce(cfg, file, i, work) {
  const argv = [CLI, '-i', file, ...cfg.args];
  const tfile = path.join(work, `time-${cfg.name}-${i}`);
  const efile = path.join(work, `stderr-${cfg.name}-${i}`);
  const efd = fs.openSync(efile, 'w');
  const r = cp.spawnSync(TIME, ['-f', '%e %U %S %M', '-o', tfile, process.execPath, ...argv],
    { stdio: ['ignore', 'ignore', efd], cwd: work, env: PROBE_ENV });
  fs.closeSync(efd);
  const stderr = fs.readFileSync(efile, 'utf8');
  if (r.status !== 0) {
    log(`probe ${cfg.name}: run ${i} failed (status ${r.status}${r.signal ? ', ' + r.signal : ''}):`);
    process.stderr.write(stderr.split('\n').slice(-15).map((l) => `#   ${l}`).join('\n') + '\n');
    return { error: `exit status ${r.status}`, stderr };
  }
  const t = fs.readFileSync(tfile, 'utf8').trim().split('\n').pop().split(/\s+/).map(Number);
  return { wall: t[0], user: t[1], sys: t[2], rssKiB: t[3], stderr };
}

// Every configuration's runs, taken in turns (run 1 of each, then run 2 of each, ...): on a
// machine whose speed drifts (a VM next to other guests), a slow spell then falls on every
// configuration alike instead of on whichever ran during it, and the ratios between them hold.
function runProbes(cfgs, file, facts, runs, work) {
  for (const cfg of cfgs) log(`probe ${cfg.name}: ${TIME} -f '%e %U %S %M' ${process.execPath} ${[CLI, '-i', file, ...cfg.args].join(' ')}   x${runs}`);
  const all = cfgs.map(() => []);
  const failed = cfgs.map(() => null);
  for (let i = 0; i < runs; i++) {
    cfgs.forEach((cfg, k) => {
      if (failed[k]) return;
      const r = runProbeOnce(cfg, file, i, work);
      if (r.error) failed[k] = { name: cfg.name, kind: 'probe', error: r.error, stderr: r.stderr.slice(-4000) };
      else all[k].push(r);
    });
  }
  return cfgs.map((cfg, k) => failed[k] || probeRow(cfg, file, facts, all[k]));
}

function probeRow(cfg, file, facts, all) {
  const argv = [CLI, '-i', file, ...cfg.args];
  const m = median(all);
  const wall = m.wall > 0 ? m.wall : 0.005;   // /usr/bin/time resolution is 10 ms
  const row = {
    name: cfg.name, kind: 'probe', argv: [process.execPath, ...argv],
    pps: Math.round(facts.packets / wall), mbps: Number((facts.bytes * 8 / wall / 1e6).toFixed(1)),
    wall: m.wall, cpu: Number((m.user + m.sys).toFixed(2)), rssKiB: m.rssKiB,
    runsWall: all.map((x) => x.wall), summary: m.stderr.trim(),
  };
  log(`  ${cfg.name} cpu_s=${row.cpu.toFixed(2)} runs(wall): ${row.runsWall.join(' ')}`);
  // did it process the whole file?
  const seen = summaryPackets(m.stderr);
  row.summaryPackets = seen;
  // accept the count labelled as packets, or failing that written anywhere (1002900 / 1,002,900)
  const anywhere = m.stderr.replace(/(\d),(?=\d{3}\b)/g, '$1').match(new RegExp(`(^|[^\\d.])${facts.packets}($|[^\\d])`));
  if (seen.includes(facts.packets) || anywhere) {
    row.packetsOk = true;
  } else {
    row.packetsOk = false;
    warn(`probe ${cfg.name}: the summary does not report the file's ${facts.packets} packets ` +
      `(capinfos)\n${seen.length ? `numbers next to "packets" in it: ${seen.join(', ')}` : 'no packet count found in its stderr'}\n` +
      `its figures may not be comparable.  Summary of the median run:\n${m.stderr.trim().split('\n').slice(-20).join('\n') || '(empty)'}`);
  }
  return row;
}

// ---------------------------------------------------------------- report

function fmtPps(n) { return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`; }
function pad(s, n, left) { s = String(s); return left ? s.padEnd(n) : s.padStart(n); }

function ratios(row, peers) {
  const out = {};
  for (const vs of RATIO_VS) {
    if (peers[vs] && peers[vs].wall > 0 && row.wall > 0) out[vs] = Number((peers[vs].wall / row.wall).toFixed(3));
  }
  return out;
}

function renderTable(res) {
  const lines = [];
  const f = res.facts;
  const flows = f.flows != null ? `, ${f.flows} flows` : '';
  lines.push(`== ${path.basename(f.path)}: ${f.packets} packets, ${(f.bytes / 1e6).toFixed(1)} MB of frames` +
    `${flows}, ${(f.fileSize / 1e6).toFixed(1)} MB on disk; median of ${res.runs} runs; ` +
    `${os.cpus().length} x ${(os.cpus()[0] || {}).model || '?'}; node ${process.version}`);
  if (res.peersFrom) lines.push(`   (peer rows and ratios from the run of ${res.peersFrom}, not measured now)`);
  const head = [pad('', 12, true), pad('pkts/s', 9), pad('Mbit/s', 8), pad('wall s', 7), pad('cpu s', 6),
    pad('RSS MiB', 8), '  ', ...RATIO_VS.map((v) => pad(`x${v}`, 12)), '  targets'];
  lines.push(head.join(' '));
  const rows = [...res.probe, ...PEERS.map((p) => res.peers[p]).filter(Boolean)];
  for (const r of rows) {
    if (r.error) { lines.push(`${pad(r.name, 12, true)} FAILED: ${r.error}`); continue; }
    const cells = [pad(r.name, 12, true), pad(fmtPps(r.pps), 9), pad(r.mbps.toFixed(1), 8), pad(r.wall.toFixed(2), 7),
      pad(r.cpu != null ? r.cpu.toFixed(2) : '-', 6), pad((r.rssKiB / 1024).toFixed(1), 8), '  '];
    if (r.kind === 'probe') {
      for (const v of RATIO_VS) cells.push(pad(r.ratios[v] != null ? `${r.ratios[v].toFixed(2)}x` : '-', 12));
      const cfg = CONFIGS.find((c) => c.name === r.name);
      const t = (cfg && cfg.targets || []).map((tg) => {
        if (tg.of) {
          // Against another probe configuration of the same run: their wall times' ratio.
          const other = res.probe.find((x) => x.name === tg.of && !x.error);
          const have = other && r.wall > 0 ? other.wall / r.wall : null;
          const mark = have == null ? '?' : have >= tg.min ? 'ok' : 'BELOW';
          return `${have == null ? '-' : have.toFixed(2)}x of ${tg.of} (want >=${tg.min.toFixed(2)}) ${mark}`;
        }
        const have = r.ratios[tg.vs];
        const mark = have == null ? '?' : have >= tg.min ? 'ok' : 'BELOW';
        const want = tg.vs === 'floor' ? `>=${tg.min.toFixed(2)}x floor (${Math.round(tg.min * 100)}%)` : `>=${tg.min.toFixed(1)}x ${tg.vs}`;
        return `${want} ${mark}${tg.note ? ` (${tg.note})` : ''}`;
      });
      cells.push(' ', t.join('; '));
      if (r.packetsOk === false) cells.push('  [!! packet count not confirmed]');
    }
    lines.push(cells.join(' ').trimEnd());
  }
  for (const r of res.probe) {
    if (!r.summary) continue;
    lines.push(`   ${r.name} summary (stderr of the median run):`);
    for (const l of r.summary.split('\n').slice(-8)) lines.push(`     ${l}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

function main() {
  const o = parseArgs(process.argv.slice(2));
  fs.mkdirSync(CACHE, { recursive: true });
  const files = o.file ? [o.file] : o.files.map(ensureFile);
  if (o.only === 'gen') { for (const f of files) process.stdout.write(`${f}\n`); return 0; }
  const configs = o.configs.length ? CONFIGS.filter((c) => o.configs.includes(c.name)) : CONFIGS;
  if (o.only === 'argv') {
    process.stdout.write([process.execPath, CLI, '-i', files[0], ...configs[0].args].join('\n') + '\n');
    return 0;
  }
  ensurePeers();
  if (!have(TIME)) die(`needs ${TIME}: apt-get install -y time`);
  if (!have('capinfos')) die('needs capinfos: apt-get install -y wireshark-common');

  const doProbe = o.only !== 'peers';
  const doPeers = o.only !== 'probe';
  let probeReady = doProbe;
  if (doProbe && !fs.existsSync(CLI)) {
    warn(`probe not built: ${CLI} is missing.\nbuild it: cd ${REPO} && npx node-gyp rebuild && npx tsc -p tsconfig.json`);
    probeReady = false;
  } else if (doProbe && !fs.existsSync(ADDON)) {
    log(`note: ${ADDON} is missing (native addon not built?) - trying anyway`);
  }

  const lastPath = path.join(CACHE, 'last-bench.json');
  let last = null;
  if (!doPeers) { try { last = JSON.parse(fs.readFileSync(lastPath, 'utf8')); } catch { /* none */ } }

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-bench-'));
  const results = [];
  try {
    for (const file of files) {
      const facts = fileFacts(file);
      log(`file=${file} packets=${facts.packets} bytes=${facts.bytes} runs=${o.runs}`);
      let peers = {};
      let peersFrom = null;
      if (doPeers) {
        peers = runPeers(file, o.runs);
      } else if (last) {
        const prev = (last.files || []).find((x) => x.facts && x.facts.path === file && x.facts.packets === facts.packets);
        if (prev && prev.peers && Object.keys(prev.peers).length) { peers = prev.peers; peersFrom = prev.peersFrom || last.date; }
      }
      const probe = [];
      if (probeReady) {
        warmCache(file);
        for (const row of runProbes(configs, file, facts, o.runs, work)) {
          if (!row.error) row.ratios = ratios(row, peers);
          probe.push(row);
        }
      }
      results.push({ facts, runs: o.runs, peers, peersFrom, probe });
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }

  const out = [];
  for (const res of results) out.push(renderTable(res));
  process.stdout.write(`\n${out.join('\n\n')}\n`);
  const json = {
    date: new Date().toISOString(), host: os.hostname(), cpus: os.cpus().length,
    cpuModel: (os.cpus()[0] || {}).model, node: process.version, runs: o.runs,
    repo: REPO, shared: SHARED, configs: configs.map((c) => ({ name: c.name, args: c.args, targets: c.targets })),
    files: results,
  };
  fs.writeFileSync(`${lastPath}.tmp`, JSON.stringify(json, null, 2) + '\n');
  fs.renameSync(`${lastPath}.tmp`, lastPath);
  process.stdout.write(`\n(results also in ${lastPath})\n`);
  const failed = results.some((r) => r.probe.some((p) => p.error)) || (doProbe && !probeReady);
  return failed ? 1 : 0;
}

process.exitCode = main();
