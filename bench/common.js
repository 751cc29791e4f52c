// Helpers shared by the bench scripts that build their own network namespaces (live.js,
// intercept.js): option parsing, commands in a namespace, a veth pair between two namespaces
// (192.0.2.0/24, removed afterwards), and background processes whose output is kept.
'use strict';
const { spawn, spawnSync } = require('child_process');

/** --name VALUE from argv, or def. */
function option(argv, name, def) {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
}

function sh(argv, ok = false) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0 && !ok) throw new Error(`${argv.join(' ')}: ${r.stderr || r.status}`);
  return r;
}

const inNs = (ns, argv) => ['ip', 'netns', 'exec', ns, ...argv];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Two namespaces joined by a veth pair: a = 192.0.2.1 on va, b = 192.0.2.2 on vb. */
function vethPair(tag) {
  const p = { a: `nprobe-${tag}-a${process.pid}`, b: `nprobe-${tag}-b${process.pid}`,
    va: `n${tag}a${process.pid}`.slice(0, 15), vb: `n${tag}b${process.pid}`.slice(0, 15) };
  p.teardown = () => {
    sh(['ip', 'netns', 'del', p.a], true);
    sh(['ip', 'netns', 'del', p.b], true);
  };
  p.setup = () => {
    p.teardown();
    sh(['ip', 'netns', 'add', p.a]);
    sh(['ip', 'netns', 'add', p.b]);
    sh(['ip', 'link', 'add', p.va, 'netns', p.a, 'type', 'veth', 'peer', 'name', p.vb, 'netns', p.b]);
    for (const [ns, v, addr] of [[p.a, p.va, '192.0.2.1/24'], [p.b, p.vb, '192.0.2.2/24']]) {
      sh(inNs(ns, ['ip', 'addr', 'add', addr, 'dev', v]));
      sh(inNs(ns, ['ip', 'link', 'set', v, 'up']));
      sh(inNs(ns, ['ip', 'link', 'set', 'lo', 'up']));
      // Nothing of the namespaces' own (IPv6 neighbour discovery) mixed into what is measured.
      sh(inNs(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']), true);
    }
  };
  return p;
}

/** A background process; out()/err() are what it wrote so far. */
function start(argv) {
  const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (err += d));
  return { p, out: () => out, err: () => err, exited: new Promise((r) => p.on('close', r)) };
}

async function waitFor(fn, ms) {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(50)) if (fn()) return true;
  return false;
}

const have = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

module.exports = { option, sh, inNs, sleep, vethPair, start, waitFor, have };
