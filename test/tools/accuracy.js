#!/usr/bin/env node
// Field accuracy against tshark: for each protocol module in test/accuracy/<proto>.js, runs
// the probe on that protocol's captures and counts, per field, what tshark extracted
// (<capture>.tshark.jsonl) that the probe's record of the same flow has: expected / found /
// wrong. Prints a table; --json prints the details. Exit 1 if any module reports an
// unexplained miss (used by test/accuracy/accuracy.test.ts).
//
// A module exports { protocol, captures: ['dns/x.pcap', ...], check(flows, packets, capture) }
// where check returns { fields: { NAME: { expected, found, wrong, misses: [text] } },
// explained: [{ field, what, why }] } and every miss not explained counts as a failure.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const PCAP = path.join(ROOT, 'test', 'pcap');

function runProbe(capture) {
  const r = spawnSync(process.execPath, [CLI, '-i', path.join(PCAP, capture), '-n', 'none', '--json-out', '-'], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  if (r.status !== 0) throw new Error(`probe failed on ${capture}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function readTshark(capture) {
  const f = path.join(PCAP, capture.replace(/\.pcap(ng)?$/, '.tshark.jsonl'));
  return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function evaluate(mod) {
  const total = {};
  const explained = [];
  const failures = [];
  for (const capture of mod.captures) {
    const res = mod.check(runProbe(capture), readTshark(capture), capture);
    for (const [name, f] of Object.entries(res.fields)) {
      const t = (total[name] ??= { expected: 0, found: 0, wrong: 0 });
      t.expected += f.expected;
      t.found += f.found;
      t.wrong += f.wrong;
      for (const m of f.misses ?? []) failures.push(`${capture}: ${name}: ${m}`);
    }
    for (const e of res.explained ?? []) explained.push({ capture, ...e });
  }
  return { protocol: mod.protocol, total, explained, failures };
}

function main() {
  const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const mods = fs
    .readdirSync(path.join(ROOT, 'test', 'accuracy'))
    .filter((f) => f.endsWith('.js'))
    .map((f) => require(path.join(ROOT, 'test', 'accuracy', f)))
    .filter((m) => only.length === 0 || only.includes(m.protocol.toLowerCase()));
  const results = mods.map(evaluate);
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(results, null, 2));
  } else {
    for (const r of results) {
      console.log(`== ${r.protocol}`);
      console.log(`${'field'.padEnd(32)} ${'expected'.padStart(8)} ${'found'.padStart(8)} ${'wrong'.padStart(8)}   share`);
      for (const [name, t] of Object.entries(r.total)) {
        const share = t.expected ? ((100 * t.found) / t.expected).toFixed(1) + '%' : '-';
        console.log(`${name.padEnd(32)} ${String(t.expected).padStart(8)} ${String(t.found).padStart(8)} ${String(t.wrong).padStart(8)}   ${share}`);
      }
      for (const e of r.explained) console.log(`  explained: ${e.capture}: ${e.field}: ${e.what} -- ${e.why}`);
      for (const f of r.failures) console.log(`  MISS: ${f}`);
    }
  }
  process.exitCode = results.some((r) => r.failures.length) ? 1 : 0;
}

if (require.main === module) main();
module.exports = { evaluate, runProbe, readTshark };
