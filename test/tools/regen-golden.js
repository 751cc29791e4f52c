#!/usr/bin/env node
// Regenerates test/golden/<name>.jsonl: the probe's complete JSON-lines output for a handful
// of small captures chosen for their link types and encapsulations. Run after a deliberate
// change of the output (`npm run golden`, after `npx tsc -p tsconfig.json`), then review the
// diff with `git diff test/golden/` before committing it.
//
// Usage: node test/tools/regen-golden.js [--check] [name ...]
//   --check   do not write; exit 1 if any golden file differs from the probe's output now
//   name      only these cases (default: all)
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const GOLDEN_DIR = path.join(ROOT, 'test', 'golden');

// name -> capture (relative to the repository root, so that no absolute path can leak into
// the output) and what it covers.
const CASES = [
  {
    name: 'suricata_http_vlan_keepalive',
    capture: 'test/pcap/http/suricata_http_vlan_keepalive.pcap',
    covers: 'Ethernet + 802.1Q VLAN 120, one TCP connection with 11 keep-alive HTTP transactions',
  },
  {
    name: 'arkime_gtp_iphone',
    capture: 'test/pcap/gtp/arkime_gtp_iphone.pcap',
    covers: 'Linux cooked capture (SLL), GTP-U tunnel with inner IPv4/IPv6 DNS, SIP, RTP, TCP flows',
  },
  {
    name: 'zeek_radius_localhost',
    capture: 'test/pcap/radius/zeek_radius_localhost.pcap',
    covers: 'BSD loopback (DLT_NULL), RADIUS over UDP on 127.0.0.1',
  },
  {
    name: 'pcapplusplus_four_ipv6_http_streams',
    capture: 'test/pcap/http/pcapplusplus_four_ipv6_http_streams.pcap',
    covers: 'raw IP link type, four HTTP-over-IPv6 TCP connections',
  },
  {
    name: 'ndpi_dns_qinq_pppoe',
    capture: 'test/pcap/dns/ndpi_dns_qinq_pppoe.pcap',
    covers: 'pcapng (despite the .pcap name), QinQ (VLAN 421/785) + PPPoE session, DNS/UDP',
  },
  {
    name: 'zeek_dhcp_unique_xid',
    capture: 'test/pcap/dhcp/zeek_dhcp_unique_xid.pcapng',
    covers: 'pcapng, 50 DHCP broadcasts from 50 MACs',
  },
];

const ARGS = ['-n', 'none', '--json-out', '-'];

function goldenPath(c) {
  return path.join(GOLDEN_DIR, `${c.name}.jsonl`);
}

/** Run the probe on one case; returns { status, signal, stdout, stderr }. */
function runCase(c) {
  const r = spawnSync(process.execPath, [CLI, '-i', c.capture, ...ARGS], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: 120000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout || '', stderr: r.stderr || '', error: r.error };
}

function main(argv) {
  const check = argv.includes('--check');
  const names = argv.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !CASES.some((c) => c.name === n));
  if (unknown.length) {
    process.stderr.write(`regen-golden: unknown case(s): ${unknown.join(', ')}\n`);
    return 2;
  }
  if (!fs.existsSync(CLI)) {
    process.stderr.write(`regen-golden: ${path.relative(ROOT, CLI)} not found: build first (npx tsc -p tsconfig.json)\n`);
    return 1;
  }
  fs.mkdirSync(GOLDEN_DIR, { recursive: true });
  let failed = 0;
  for (const c of CASES) {
    if (names.length && !names.includes(c.name)) continue;
    const r = runCase(c);
    if (r.error || r.status !== 0) {
      process.stderr.write(`regen-golden: ${c.name}: probe failed (status ${r.status}, signal ${r.signal}${r.error ? `, ${r.error}` : ''})\n${r.stderr}`);
      failed++;
      continue;
    }
    const file = goldenPath(c);
    const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    const lines = r.stdout.split('\n').filter((l) => l !== '').length;
    if (check) {
      if (old !== r.stdout) {
        process.stderr.write(`regen-golden: ${c.name}: differs from ${path.relative(ROOT, file)}\n`);
        failed++;
      }
      continue;
    }
    fs.writeFileSync(file, r.stdout);
    const what = old === null ? 'created' : old === r.stdout ? 'unchanged' : 'UPDATED';
    process.stdout.write(`${what.padEnd(9)} ${path.relative(ROOT, file)} (${lines} flows) - ${c.covers}\n`);
  }
  return failed ? 1 : 0;
}

module.exports = { CASES, ARGS, ROOT, CLI, GOLDEN_DIR, goldenPath, runCase };

if (require.main === module) process.exit(main(process.argv.slice(2)));
