#!/usr/bin/env node
// Lua hook throughput (issue 5): hook calls per second and microseconds per call with a
// trivial checkDNSFlow, on the flows of a capture (default: the 290k-flow bench file, mostly
// DNS). The flows are captured and decoded first; then only LuaHost.processBatch is timed
// (building the binary batch in JS, the crossing, the tables, the calls, the results), the
// CPU time of the process over that span, best of --runs passes.
//   node bench/lua.js [--file PCAP] [--script LUA] [--runs N]
'use strict';
const fs = require('fs');
const path = require('path');

const REPO = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const CACHE = process.env.NPROBE_BENCH_DIR || '/tmp/nprobe-bench';
const file = opt('--file', path.join(CACHE, 'mix-290k.pcap'));
const runs = Number(opt('--runs', 5));
const scriptFile = opt('--script', null);

if (!fs.existsSync(file)) {
  console.error(`${file}: not found (npm run bench -- --mix290k writes it)`);
  process.exit(2);
}

(async () => {
  const { Probe } = require(path.join(REPO, 'dist/src/probe'));
  const { LuaHost } = require(path.join(REPO, 'dist/src/lua/host'));
  const script = scriptFile || path.join(fs.mkdtempSync('/tmp/nprobe-luabench-'), 'trivial.lua');
  if (!scriptFile) fs.writeFileSync(script, 'function checkDNSFlow()\n  local q = dns["dns.query"]\nend\n');
  const probe = new Probe({ interface: file });
  probe.open();
  const batches = [];
  // Copied: a batch's own bytes are reused for the next one once the sink returns.
  await probe.runBatches((b) => {
    batches.push(b.copy());
  });
  let best = null;
  for (let r = 0; r < runs; r++) {
    const host = await LuaHost.load(script);
    // Records decoded outside the timed span, as the probe's JSON path decodes only these.
    for (const b of batches) for (let i = 0; i < b.length; i++) if (b.l7(i) === 5) b.record(i);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (const b of batches) host.processBatch(b);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    const calls = host.stats().reduce((a, s) => a + s.calls, 0);
    const hookMs = host.stats().reduce((a, s) => a + s.totalMs, 0);
    host.close();
    if (!best || cpu < best.cpu) best = { calls, wall, cpu, hookMs };
  }
  const perCall = (best.cpu * 1e6) / best.calls;
  console.log(`${path.basename(file)}: ${best.calls} hook calls; best of ${runs}: ` +
    `${Math.round(best.calls / best.cpu).toLocaleString('en')} calls/s of CPU (${perCall.toFixed(2)} us/call), ` +
    `wall ${(best.wall * 1000).toFixed(0)} ms; inside the hooks ${(best.hookMs).toFixed(0)} ms`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
