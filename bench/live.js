#!/usr/bin/env node
// Live capture under load (issue 8): tcpreplay feeds a veth pair between two network
// namespaces this script creates and removes (frames never leave them), at a series of rates
// and at its top speed, while the probe (full configuration: every dissector, trivial Lua
// hooks, JSON to a file) and then softflowd capture on the other end. For each run: packets
// tcpreplay sent, packets libpcap delivered and dropped (pcap_stats), and for the probe
// whether the exported flows account for exactly the packets delivered. The first rate with
// kernel drops above 0.1% is each tool's drop onset. Root only; not a test.
//   node bench/live.js [--file PCAP] [--seconds S] [--rates 100000,200000,400000,top]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { option, sh, inNs, sleep, vethPair, start, waitFor, have } = require('./common');

const REPO = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const file = option(args, '--file', path.join(process.env.NPROBE_BENCH_DIR || '/tmp/nprobe-bench', 'mix-1m.pcap'));
const seconds = Number(option(args, '--seconds', 10));
const rates = option(args, '--rates', '100000,200000,400000,top').split(',');
const pair = vethPair('bl');
const NS_A = pair.a;
const NS_B = pair.b;
const VA = pair.va;
const VB = pair.vb;
const setup = pair.setup;
const teardown = pair.teardown;

function replay(rate) {
  const speed = rate === 'top' ? ['--topspeed'] : [`--pps=${rate}`];
  const r = sh(inNs(NS_A, ['tcpreplay', '-i', VA, ...speed, '--loop=0', `--duration=${seconds}`, '--no-flow-stats', file]), { ok: true });
  const sent = /Actual: (\d+) packets/.exec(r.stdout);
  const pps = /Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(r.stdout);
  return { sent: sent ? Number(sent[1]) : NaN, pps: pps ? Number(pps[1]) : NaN };
}

async function runProbe(rate, dir) {
  const json = path.join(dir, `flows-${rate}.json`);
  const c = start(inNs(NS_B, [process.execPath, path.join(REPO, 'dist/src/cli.js'), '-i', VB,
    '--lua', path.join(__dirname, 'trivial.lua'), '-n', 'none', '--json-out', json]));
  if (!(await waitFor(() => /capturing on/.test(c.err()), 15000))) throw new Error(`probe did not start: ${c.err()}`);
  const tx = replay(rate);
  await sleep(1000);
  c.p.kill('SIGTERM');
  await c.exited;
  const err = c.err();
  const pk = /nprobe: (\d+) packets \(/.exec(err);
  const dr = /drops: kernel (\d+) \(of (\d+) received\), interface (\d+), export queue (\d+)(?: flows \((\d+) packets\))?/.exec(err);
  const dec = /decode: \d+ IP, (\d+) non-IP, (\d+) undecodable/.exec(err);
  let inFlows = 0;
  // Line by line: a minute at top speed writes more JSON than fits in one string.
  const rl = require('readline').createInterface({ input: fs.createReadStream(json), crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line) continue;
    const f = JSON.parse(line);
    inFlows += f.IN_PKTS + f.OUT_PKTS;
  }
  fs.rmSync(json);
  const delivered = pk ? Number(pk[1]) : NaN;
  const accounted = inFlows + (dr && dr[5] ? Number(dr[5]) : 0) + (dec ? Number(dec[1]) + Number(dec[2]) : 0);
  return { tool: 'nprobe (full)', rate, ...tx, recv: dr ? Number(dr[2]) : NaN, drop: dr ? Number(dr[1]) : NaN,
    delivered, booksOk: delivered === accounted, note: delivered === accounted ? '' : `flows account for ${accounted} of ${delivered}` };
}

async function runSoftflowd(rate, dir) {
  const ctl = path.join(dir, 'sf.ctl');
  const c = start(inNs(NS_B, ['softflowd', '-i', VB, '-d', '-c', ctl, '-n', '127.0.0.1:9']));
  if (!(await waitFor(() => fs.existsSync(ctl), 10000))) throw new Error(`softflowd did not start: ${c.err()}`);
  const tx = replay(rate);
  await sleep(1000);
  const st = sh(inNs(NS_B, ['softflowctl', '-c', ctl, 'statistics']), { ok: true }).stdout;
  sh(inNs(NS_B, ['softflowctl', '-c', ctl, 'shutdown']), { ok: true });
  await c.exited;
  const recv = /Packets received by libpcap: (\d+)/.exec(st);
  const drop = /Packets dropped by libpcap: (\d+)/.exec(st);
  return { tool: 'softflowd', rate, ...tx, recv: recv ? Number(recv[1]) : NaN, drop: drop ? Number(drop[1]) : NaN, delivered: NaN, booksOk: null, note: '' };
}

(async () => {
  if (process.getuid() !== 0) {
    console.error('bench/live.js needs root (network namespaces)');
    process.exit(2);
  }
  for (const bin of ['tcpreplay', 'softflowd', 'softflowctl']) {
    if (!have(bin)) {
      console.error(`${bin} not found (apt-get install tcpreplay softflowd)`);
      process.exit(2);
    }
  }
  if (!fs.existsSync(file)) {
    console.error(`${file}: not found (npm run bench writes it)`);
    process.exit(2);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-live-bench-'));
  const rows = [];
  process.on('exit', teardown);
  try {
    for (const [name, run] of [['nprobe', runProbe], ['softflowd', runSoftflowd]]) {
      for (const rate of rates) {
        teardown();
        setup();
        const r = await run(rate, dir);
        rows.push(r);
        const pct = r.recv > 0 ? (100 * r.drop) / (r.recv + r.drop) : 0;
        console.error(`${name} @ ${rate}: sent ${r.sent} (${r.pps} pps), libpcap received ${r.recv}, dropped ${r.drop} (${pct.toFixed(2)}%)${r.booksOk === null ? '' : r.booksOk ? ', flows account for every delivered packet' : `, ${r.note}`}`);
      }
    }
  } finally {
    teardown();
  }
  console.log(`\n== live: ${path.basename(file)} replayed by tcpreplay into a veth pair, ${seconds} s per run; ${os.cpus().length} cores`);
  console.log(['tool'.padEnd(14), 'rate'.padStart(8), 'sent pps'.padStart(10), 'received'.padStart(10), 'dropped'.padStart(9), 'drop %'.padStart(7), '  books'].join(' '));
  for (const r of rows) {
    const pct = r.recv + r.drop > 0 ? (100 * r.drop) / (r.recv + r.drop) : 0;
    console.log([r.tool.padEnd(14), String(r.rate).padStart(8), String(Math.round(r.pps)).padStart(10), String(r.recv).padStart(10),
      String(r.drop).padStart(9), pct.toFixed(2).padStart(7), '  ' + (r.booksOk === null ? '-' : r.booksOk ? 'exact' : r.note)].join(' '));
  }
  for (const tool of ['nprobe (full)', 'softflowd']) {
    const first = rows.find((r) => r.tool === tool && r.recv + r.drop > 0 && r.drop / (r.recv + r.drop) > 0.001);
    console.log(`${tool}: kernel drops start at ${first ? `${first.rate} (${Math.round(first.pps)} pps sent)` : 'none of the rates tried'}`);
  }
})().catch((e) => {
  console.error(e.message || e);
  teardown();
  process.exit(1);
});
