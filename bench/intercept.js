#!/usr/bin/env node
// The connection hook inline (issue 6): what intercept_hook costs a new TCP connection. Two
// network namespaces this script creates and removes (192.0.2.1 client, 192.0.2.2 server);
// the server namespace queues TCP to port 8080 to NFQUEUE (iptables-legacy) and the probe
// answers with a trivial hook (`return "pass"`). Measured from the client: connect latency
// (SYN sent to connection established) p50/p99 over sequential connections, with and without
// the probe, and new connections per second sustained by parallel clients. Root only.
//   node bench/intercept.js [--conns N] [--parallel P] [--seconds S]
// NO_HOOK=1: the same inline path with a script that has no intercept_hook (NFQUEUE alone).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { option, sh, inNs, sleep, vethPair, start, waitFor, have } = require('./common');

const REPO = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const CONNS = Number(option(args, '--conns', 2000));
const PARALLEL = Number(option(args, '--parallel', 16));
const SECONDS = Number(option(args, '--seconds', 5));
const QUEUE = 7;
const pair = vethPair('bi');
const NS_C = pair.a;
const NS_S = pair.b;
const setup = pair.setup;
const teardown = pair.teardown;

// The server: accepts and closes (the connection's setup is what is measured).
const SERVER = `require('net').createServer((s) => { s.on('error', () => {}); s.end(); }).listen(8080, '192.0.2.2', () => console.log('ready'));`;

// The client: sequential connections for latency, then parallel ones for a rate.
const CLIENT = `
const net = require('net');
const [n, par, secs] = process.argv.slice(1).map(Number);
const once = () => new Promise((res, rej) => {
  const t = process.hrtime.bigint();
  const s = net.connect(8080, '192.0.2.2', () => { const us = Number(process.hrtime.bigint() - t) / 1000; s.destroy(); res(us); });
  s.on('error', rej);
});
(async () => {
  const lat = [];
  for (let i = 0; i < n; i++) lat.push(await once());
  lat.sort((a, b) => a - b);
  let done = 0, failed = 0;
  const end = Date.now() + secs * 1000;
  await Promise.all(Array.from({ length: par }, async () => { while (Date.now() < end) { try { await once(); done++; } catch { failed++; } } }));
  console.log(JSON.stringify({ p50: lat[Math.floor(n * 0.5)], p99: lat[Math.floor(n * 0.99)], rate: done / secs, failed }));
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

function client() {
  const r = sh(inNs(NS_C, [process.execPath, '-e', CLIENT, String(CONNS), String(PARALLEL), String(SECONDS)]));
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

(async () => {
  if (process.getuid() !== 0) {
    console.error('bench/intercept.js needs root (namespaces, NFQUEUE)');
    process.exit(2);
  }
  if (!have('iptables-legacy')) {
    console.error('iptables-legacy not found (apt-get install iptables)');
    process.exit(2);
  }
  process.on('exit', teardown);
  setup();
  let server = start(inNs(NS_S, [process.execPath, '-e', SERVER]));
  if (!(await waitFor(() => server.out().includes('ready'), 10000))) throw new Error('server did not start');

  const base = client();
  // Fresh namespaces for the inline run: the baseline's tens of thousands of connections
  // leave the client's ports in TIME_WAIT, which would slow the next run's connects.
  server.p.kill('SIGTERM');
  await server.exited;
  setup();
  server = start(inNs(NS_S, [process.execPath, '-e', SERVER]));
  if (!(await waitFor(() => server.out().includes('ready'), 10000))) throw new Error('server did not start');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-bi-'));
  const lua = path.join(dir, 'pass.lua');
  fs.writeFileSync(lua, process.env.NO_HOOK ? 'function checkDNSFlow() end\n' : 'function intercept_hook(ctx)\n  return "pass"\nend\n');
  const probe = start(inNs(NS_S, [process.execPath, path.join(REPO, 'dist/src/cli.js'), '-i', `nf:${QUEUE}`,
    '--lua', lua, '-n', 'none', '--json-out', '/dev/null']));
  if (!(await waitFor(() => /capturing on|reading|nf:/.test(probe.err()), 15000))) throw new Error(`probe did not start: ${probe.err()}`);
  await sleep(500);
  sh(inNs(NS_S, ['iptables-legacy', '-A', 'INPUT', '-p', 'tcp', '--dport', '8080', '-j', 'NFQUEUE', '--queue-num', String(QUEUE)]));
  const inline = client();
  sh(inNs(NS_S, ['iptables-legacy', '-D', 'INPUT', '-p', 'tcp', '--dport', '8080', '-j', 'NFQUEUE', '--queue-num', String(QUEUE)]), true);
  probe.p.kill('SIGTERM');
  await probe.exited;
  server.p.kill('SIGTERM');
  const lines = probe.err().split('\n').filter((l) => /intercept|verdict|nfqueue/i.test(l));

  const f = (x) => `${x.toFixed(0)} us`;
  console.log(`== connection hook inline: ${CONNS} sequential connections, then ${PARALLEL} parallel clients for ${SECONDS} s; ${os.cpus().length} cores`);
  console.log(`without the probe: connect p50 ${f(base.p50)}, p99 ${f(base.p99)}; ${Math.round(base.rate)} connections/s`);
  console.log(`inline (-i nf:${QUEUE}, hook returns "pass"): connect p50 ${f(inline.p50)}, p99 ${f(inline.p99)}; ${Math.round(inline.rate)} connections/s` +
    `${inline.failed ? `, ${inline.failed} failed` : ''}`);
  console.log(`added by the verdict: p50 ${f(inline.p50 - base.p50)}, p99 ${f(inline.p99 - base.p99)}`);
  for (const l of lines) console.log(`  ${l}`);
})().catch((e) => {
  console.error(e.message || e);
  teardown();
  process.exit(1);
});
