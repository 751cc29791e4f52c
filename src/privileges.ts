// -u USER: run as an unprivileged user once the capture is open, as nProbe does. The user is
// looked up before anything is opened (an unknown user is a usage error); the switch itself
// (setgid, initgroups, setuid, in that order: the group calls need root) happens after
// probe.open() and the metrics socket, before the Lua script and the outputs are opened.
// With glibc, setuid()/setgid() change the credentials of every thread of the process (the
// "setxid" broadcast), so the native capture thread and libuv's pool run as USER too.
import { spawnSync } from 'child_process';
import * as fs from 'fs';

export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
}

export class UserError extends Error {}

function parsePasswdLine(line: string): UserEntry | null {
  const p = line.split(':');
  if (p.length < 4 || !/^\d+$/.test(p[2]) || !/^\d+$/.test(p[3])) return null;
  return { name: p[0], uid: Number(p[2]), gid: Number(p[3]) };
}

/** USER as a name or a numeric uid; NSS through getent, /etc/passwd when getent is missing. */
export function lookupUser(user: string): UserEntry {
  const r = spawnSync('getent', ['passwd', user], { encoding: 'utf8', timeout: 10_000 });
  if (!r.error) {
    const e = r.status === 0 ? parsePasswdLine(r.stdout.split('\n')[0]) : null;
    if (!e) throw new UserError(`-u ${user}: no such user`);
    return e;
  }
  let text = '';
  try {
    text = fs.readFileSync('/etc/passwd', 'utf8');
  } catch {
    /* no passwd file: no user */
  }
  for (const line of text.split('\n')) {
    const e = parsePasswdLine(line);
    if (e && (e.name === user || String(e.uid) === user)) return e;
  }
  throw new UserError(`-u ${user}: no such user`);
}

/**
 * Switches the whole process to the user. Returns a warning when there is nothing to do or
 * nothing can be done (not root); throws UserError when a call fails half way.
 */
export function dropPrivileges(u: UserEntry): string | null {
  if (typeof process.getuid !== 'function' || typeof process.setuid !== 'function') return `-u ${u.name}: not supported on this platform`;
  if (process.getuid() === u.uid && process.geteuid?.() === u.uid) return null;
  if (process.geteuid?.() !== 0) return `-u ${u.name}: not running as root, staying uid ${process.geteuid?.()}`;
  try {
    // Group first: once the uid is no longer 0, the group can no longer be changed.
    const proc = process as NodeJS.Process & { initgroups?: (user: string, extraGroup: number) => void };
    proc.setgid?.(u.gid);
    proc.initgroups?.(u.name, u.gid);
    proc.setuid?.(u.uid);
  } catch (e) {
    throw new UserError(`-u ${u.name}: cannot switch user: ${(e as Error).message}`);
  }
  // setuid from root to non-root clears every capability, so root cannot come back; check it.
  if (process.getuid() !== u.uid || process.geteuid?.() !== u.uid || process.getgid?.() !== u.gid) {
    throw new UserError(`-u ${u.name}: credentials did not change`);
  }
  return null;
}
