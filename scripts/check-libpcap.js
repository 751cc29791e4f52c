#!/usr/bin/env node
// Runs before node-gyp at `npm install`: the addon links against the system libpcap, so its
// headers must be there. As root on Debian/Ubuntu with no terminal prompt needed, install
// them; otherwise stop with one line saying exactly what to run.
'use strict';
const fs = require('fs');
const { spawnSync } = require('child_process');

const HEADER_DIRS = ['/usr/include', '/usr/local/include', '/opt/homebrew/include', '/usr/include/x86_64-linux-gnu'];
// The addon also links libnetfilter_queue (inline mode, -i nf:N).
const have = () =>
  HEADER_DIRS.some((d) => fs.existsSync(`${d}/pcap/pcap.h`) || fs.existsSync(`${d}/pcap.h`)) &&
  HEADER_DIRS.some((d) => fs.existsSync(`${d}/libnetfilter_queue/libnetfilter_queue.h`));

if (have()) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
if (isRoot && hasApt && process.env.NPROBE_NO_AUTO_INSTALL === undefined) {
  process.stderr.write('nprobe: libpcap/libnetfilter_queue headers missing; installing libpcap-dev libnetfilter-queue-dev with apt-get\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const pkgs = ['libpcap-dev', 'libnetfilter-queue-dev'];
  let r = spawnSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env });
  }
  if (r.status === 0 && have()) process.exit(0);
}
const cmd = hasApt
  ? 'sudo apt-get install -y libpcap-dev libnetfilter-queue-dev'
  : 'install the libpcap and libnetfilter_queue development packages (e.g. libpcap-devel libnetfilter_queue-devel)';
process.stderr.write(`nprobe: libpcap or libnetfilter_queue headers (pcap/pcap.h, libnetfilter_queue/libnetfilter_queue.h) not found; run: ${cmd}\n`);
process.exit(1);
