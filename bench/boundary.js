#!/usr/bin/env node
// Measures what the JS/C++ boundary costs: time the JS thread spends pulling batches out of
// the native queue (readBatch: copy into one Buffer), decoding them into FlowRecord objects,
// and formatting JSON lines, next to the whole run's wall time.
// Usage: node bench/boundary.js [FILE]   (default: the bench capture /tmp/nprobe-bench/mix-1m.pcap)
'use strict';
const path = require('path');
const dist = path.resolve(__dirname, '..', 'dist', 'src');
const record = require(path.join(dist, 'record.js'));
const native = require(path.join(dist, 'native.js'));
const { Probe } = require(path.join(dist, 'probe.js'));

const file = process.argv[2] || path.join(process.env.NPROBE_BENCH_DIR || '/tmp/nprobe-bench', 'mix-1m.pcap');
const ns = () => Number(process.hrtime.bigint());
let readNs = 0, decodeNs = 0, jsonNs = 0, flows = 0;

// Wrap the two calls the probe makes per batch.
const origDecode = record.decodeBatch;
record.decodeBatch = (buf, names) => {
  const t = ns();
  const r = origDecode(buf, names);
  decodeNs += ns() - t;
  return r;
};
const mod = native.loadNative();
const Orig = mod.NativeProbe;
mod.NativeProbe = function (opts) {
  const p = new Orig(opts);
  const rb = p.readBatch.bind(p);
  // N-API methods are read-only on the prototype: define an own property instead.
  Object.defineProperty(p, 'readBatch', {
    value: (max) => {
      const t = ns();
      const r = rb(max);
      readNs += ns() - t;
      return r;
    },
  });
  return p;
};

(async () => {
  const t0 = ns();
  const probe = new Probe({ interface: file });
  probe.open();
  await probe.run((batch) => {
    const t = ns();
    let s = '';
    for (const f of batch) s += JSON.stringify(f) + '\n';
    jsonNs += ns() - t;
    flows += batch.length;
    return s.length < 0 ? undefined : undefined;
  });
  const wall = ns() - t0;
  const st = probe.stats();
  const pct = (x) => ((100 * x) / wall).toFixed(1) + '%';
  const per = (x) => (x / flows / 1000).toFixed(2) + ' us/flow';
  console.log(`file ${file}: ${st.packets} packets, ${flows} flows, wall ${(wall / 1e9).toFixed(3)} s`);
  console.log(`readBatch (native -> Buffer): ${(readNs / 1e6).toFixed(1)} ms  ${pct(readNs)}  ${per(readNs)}`);
  console.log(`decodeBatch (Buffer -> records): ${(decodeNs / 1e6).toFixed(1)} ms  ${pct(decodeNs)}  ${per(decodeNs)}`);
  console.log(`JSON lines: ${(jsonNs / 1e6).toFixed(1)} ms  ${pct(jsonNs)}  ${per(jsonNs)}`);
  console.log('(the JS thread runs beside the capture thread: these overlap capture, they do not add to it)');
})();
