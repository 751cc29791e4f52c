// The owner of a locally opened connection (seed 000's lazy ctx.uid/gid/user/group/pid/
// exe_path, divert "output"): the connection's local endpoint is looked up in the kernel's
// socket table (/proc/net/tcp, /proc/net/tcp6: address, port, uid, inode), the inode in the
// processes' descriptors (/proc/<pid>/fd/* -> "socket:[inode]"), then /proc/<pid>/exe.
// Names come from /etc/passwd and /etc/group. Everything is best effort: what cannot be
// found stays undefined (nil in Lua). Called at most once per connection, and only when the
// script reads one of the fields.
import * as fs from 'fs';
import { ipv6ToString } from '../format';

import type { ConnOwner } from '../lua/intercept';

export type { ConnOwner };

export interface OwnedConn {
  ipVersion: 4 | 6;
  /** The local (client) endpoint and the remote one. */
  src: string;
  sport: number;
  dst: string;
  dport: number;
  /** What the kernel already said (NFQUEUE gives the socket's uid/gid). */
  uid?: number;
  gid?: number;
}

/** Processes scanned for the socket at most (a bound on one lookup's cost). */
const MAX_PROCS = 65536;

/** "0100007F:1F90" (IPv4, host byte order words) -> canonical text form and port. */
export function parseProcAddr(s: string): { addr: string; port: number } | null {
  const i = s.indexOf(':');
  if (i < 0) return null;
  const hex = s.slice(0, i);
  const port = parseInt(s.slice(i + 1), 16);
  if (!/^[0-9A-Fa-f]+$/.test(hex) || (hex.length !== 8 && hex.length !== 32) || Number.isNaN(port)) return null;
  // Each 32-bit word is printed as a host-order (little-endian here) integer.
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = hex.slice(w, w + 8);
    for (let k = 6; k >= 0; k -= 2) bytes.push(parseInt(word.slice(k, k + 2), 16));
  }
  if (bytes.length === 4) return { addr: bytes.join('.'), port };
  return { addr: normalizeV6(bytes), port };
}

function normalizeV6(b: number[]): string {
  // The same text form the probe uses (src/format.ts) so both sides compare equal.
  return ipv6ToString(Uint8Array.from(b), 0);
}

interface SocketEntry {
  uid: number;
  inode: number;
}

/** Finds the socket whose local end is (src, sport) and remote end (dst, dport). */
export function findSocket(c: OwnedConn, procRoot = '/proc'): SocketEntry | null {
  const files = c.ipVersion === 4 ? ['net/tcp', 'net/tcp6'] : ['net/tcp6'];
  const wantSrc = [c.src, `::ffff:${c.src}`];
  const wantDst = [c.dst, `::ffff:${c.dst}`];
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(`${procRoot}/${f}`, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const local = parseProcAddr(cols[1]);
      const remote = parseProcAddr(cols[2]);
      if (!local || !remote || local.port !== c.sport || remote.port !== c.dport) continue;
      if (!wantSrc.includes(local.addr) || !wantDst.includes(remote.addr)) continue;
      const inode = Number(cols[9]);
      if (!inode) continue; // a socket in TIME_WAIT has no owner any more
      return { uid: Number(cols[7]), inode };
    }
  }
  return null;
}

/** The pid holding socket `inode` open (the lowest pid if several share it). */
export function pidOfInode(inode: number, procRoot = '/proc'): number | undefined {
  const target = `socket:[${inode}]`;
  let pids: number[];
  try {
    pids = fs
      .readdirSync(procRoot)
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b)
      .slice(0, MAX_PROCS);
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`${procRoot}/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`${procRoot}/${pid}/fd/${fd}`) === target) return pid;
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return undefined;
}

let passwd: Map<number, string> | null = null;
let groups: Map<number, string> | null = null;

function idNames(file: string): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const p = line.split(':');
      if (p.length >= 3 && /^\d+$/.test(p[2]) && !m.has(Number(p[2]))) m.set(Number(p[2]), p[0]);
    }
  } catch {
    /* no names */
  }
  return m;
}

export function userName(uid: number): string | undefined {
  passwd ??= idNames('/etc/passwd');
  return passwd.get(uid);
}

export function groupName(gid: number): string | undefined {
  groups ??= idNames('/etc/group');
  return groups.get(gid);
}

/** The effective gid of a process (/proc/<pid>/status "Gid:" real effective saved fs). */
function gidOfPid(pid: number, procRoot: string): number | undefined {
  try {
    const m = /^Gid:\s+\d+\s+(\d+)/m.exec(fs.readFileSync(`${procRoot}/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Everything seed 000 offers about the connection's owner that can be found. */
export function findOwner(c: OwnedConn, procRoot = '/proc'): ConnOwner {
  const o: ConnOwner = {};
  const sock = findSocket(c, procRoot);
  o.uid = c.uid ?? sock?.uid;
  if (sock) {
    o.pid = pidOfInode(sock.inode, procRoot);
    if (o.pid !== undefined) {
      try {
        o.exePath = fs.readlinkSync(`${procRoot}/${o.pid}/exe`);
      } catch {
        /* kernel thread, or gone */
      }
    }
  }
  o.gid = c.gid ?? (o.pid !== undefined ? gidOfPid(o.pid, procRoot) : undefined);
  if (o.uid !== undefined) o.user = userName(o.uid);
  if (o.gid !== undefined) o.group = groupName(o.gid);
  for (const k of Object.keys(o) as Array<keyof ConnOwner>) if (o[k] === undefined) delete o[k];
  return o;
}
