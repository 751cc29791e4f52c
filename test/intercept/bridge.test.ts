/**
 * The glue of the connection hook, without a capture: connection events decoded from the
 * native layout, batches in and out (one setVerdicts per wake-up or event-loop turn), the
 * lazy owner only for divert output, a SIGHUP swap answering what the old runner had not,
 * and the /proc parsing of the owner lookup (checked against this very process's socket).
 */
import { describe, expect, test } from '@jest/globals';
import * as net from 'net';
import { ConnInfoLike, InterceptBridge, RunnerLike, RunnerStats, Verdict } from '../../src/intercept/bridge';
import { CONN_EVENT_SIZE, decodeConns } from '../../src/intercept/events';
import { findOwner, parseProcAddr } from '../../src/intercept/owner';

function event(id: number, o: { v6?: boolean; divert?: number; uid?: number; gid?: number; ifIn?: string; ifOut?: string } = {}): Buffer {
  const b = Buffer.alloc(CONN_EVENT_SIZE);
  b.writeUInt32LE(id, 0);
  b.writeUInt32LE(7, 8);
  if (o.v6) {
    b[16] = 0x20, b[17] = 0x01, b[18] = 0x0d, b[19] = 0xb8, b[31] = 1;
    b[32] = 0x20, b[33] = 0x01, b[34] = 0x0d, b[35] = 0xb8, b[47] = 2;
  } else {
    Buffer.from([192, 0, 2, 1]).copy(b, 16);
    Buffer.from([192, 0, 2, 2]).copy(b, 32);
  }
  b.writeUInt16LE(40000 + id, 48);
  b.writeUInt16LE(80, 50);
  b[52] = o.v6 ? 6 : 4;
  b[53] = o.divert ?? 3;
  b[54] = (o.uid !== undefined ? 1 : 0) | (o.gid !== undefined ? 2 : 0);
  b.writeUInt32LE(o.uid ?? 0, 56);
  b.writeUInt32LE(o.gid ?? 0, 60);
  if (o.ifIn) b.write(o.ifIn, 64, 'latin1');
  if (o.ifOut) b.write(o.ifOut, 80, 'latin1');
  return b;
}

class FakeSource {
  queue: Buffer[] = [];
  calls: Array<[number[], number[]]> = [];
  readConns(): Buffer | null {
    return this.queue.shift() ?? null;
  }
  setVerdicts(ids: Float64Array, codes: Uint8Array): void {
    this.calls.push([Array.from(ids), Array.from(codes)]);
  }
}

class FakeRunner implements RunnerLike {
  seen: ConnInfoLike[] = [];
  later: Array<[number, (id: number, v: Verdict) => void]> = [];
  closed = false;
  constructor(private readonly answer: (c: ConnInfoLike) => Verdict | null) {}
  submit(conns: ConnInfoLike[], done: (id: number, v: Verdict) => void): void {
    for (const c of conns) {
      this.seen.push(c);
      const v = this.answer(c);
      if (v) done(c.id, v);
      else this.later.push([c.id, done]);
    }
  }
  stats(): RunnerStats {
    return { calls: this.seen.length, verdicts: { pass: 0, check: 0, reject: 0, drop: 0 }, defaults: 0, errors: 0, timeouts: 0, pending: this.later.length, p50Us: 5, p99Us: 9 };
  }
  close(): void {
    this.closed = true;
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('connection events', () => {
  test('decode the native layout', () => {
    const [a, b] = decodeConns(Buffer.concat([event(1, { uid: 1000, gid: 100, divert: 2, ifOut: 'eth0' }), event(2, { v6: true, divert: 1, ifIn: 'veth-in-15chars' })]));
    expect(a).toEqual({ id: 1, tsUs: 7, ipVersion: 4, src: '192.0.2.1', sport: 40001, dst: '192.0.2.2', dport: 80, divert: 'output', uid: 1000, gid: 100, ifaceOut: 'eth0' });
    expect(b).toMatchObject({ id: 2, ipVersion: 6, src: '2001:db8::1', dst: '2001:db8::2', divert: 'input', ifaceIn: 'veth-in-15chars' });
    expect(b.uid).toBeUndefined();
  });
});

describe('InterceptBridge', () => {
  test('a wake-up drains everything, answers at once go back in one call', () => {
    const src = new FakeSource();
    src.queue.push(Buffer.concat([event(1), event(2), event(3)]));
    const r = new FakeRunner((c) => (c.id === 2 ? 'reject' : 'pass'));
    const b = new InterceptBridge(src, r, { defaultVerdict: 'check' });
    b.drain();
    expect(r.seen.map((c) => c.id)).toEqual([1, 2, 3]);
    expect(src.calls).toEqual([[[1, 2, 3], [1, 4, 1]]]);
  });

  test('later answers are gathered per event-loop turn', async () => {
    const src = new FakeSource();
    src.queue.push(Buffer.concat([event(1), event(2)]));
    const r = new FakeRunner(() => null);
    const b = new InterceptBridge(src, r, { defaultVerdict: 'check' });
    b.drain();
    expect(src.calls).toEqual([]);
    for (const [id, done] of r.later) done(id, 'drop');
    await tick();
    expect(src.calls).toEqual([[[1, 2], [2, 2]]]);
  });

  test('owner only for divert output, and lazy', () => {
    const src = new FakeSource();
    src.queue.push(Buffer.concat([event(1, { divert: 2, uid: 5 }), event(2, { divert: 1 })]));
    const looked: number[] = [];
    const r = new FakeRunner(() => 'pass');
    const b = new InterceptBridge(src, r, { defaultVerdict: 'check', owner: (e) => (looked.push(e.id), { uid: e.uid, user: 'u' }) });
    b.drain();
    expect(looked).toEqual([]);
    expect(r.seen[1].owner).toBeUndefined();
    expect(r.seen[0].owner!()).toEqual({ uid: 5, user: 'u' });
    expect(looked).toEqual([1]);
  });

  test('a reload answers what the old runner had not (default), a script without the hook answers 0', async () => {
    const src = new FakeSource();
    src.queue.push(Buffer.concat([event(1), event(2)]));
    const old = new FakeRunner(() => null);
    const b = new InterceptBridge(src, old, { defaultVerdict: 'drop' });
    b.drain();
    b.replaceRunner(null);
    expect(old.closed).toBe(true);
    expect(src.calls).toEqual([[[1, 2], [2, 2]]]);
    // A late answer from the closed runner is ignored.
    old.later[0][1](1, 'pass');
    src.queue.push(event(3));
    b.drain();
    await tick();
    expect(src.calls).toEqual([[[1, 2], [2, 2]], [[3], [0]]]);
    expect(b.stats().calls).toBe(2);
  });
});

describe('owner lookup', () => {
  test('/proc/net/tcp addresses', () => {
    expect(parseProcAddr('0100007F:1F90')).toEqual({ addr: '127.0.0.1', port: 8080 });
    expect(parseProcAddr('B80D0120000000000000000001000000:0050')).toEqual({ addr: '2001:db8::1', port: 80 });
    expect(parseProcAddr('0000000000000000FFFF00000100007F:0016')).toEqual({ addr: '::ffff:127.0.0.1', port: 22 });
    expect(parseProcAddr('zz:1')).toBeNull();
    expect(parseProcAddr('0100007F')).toBeNull();
  });

  test('finds this process as the owner of its own connection', async () => {
    const server = net.createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.on('connect', () => r()));
    try {
      const o = findOwner({ ipVersion: 4, src: '127.0.0.1', sport: sock.localPort!, dst: '127.0.0.1', dport: port });
      expect(o.pid).toBe(process.pid);
      expect(o.uid).toBe(process.getuid!());
      expect(o.gid).toBe(process.getegid!());
      expect(o.exePath).toBe(process.execPath);
      if (process.getuid!() === 0) expect(o.user).toBe('root');
      // Nothing for a connection that does not exist.
      expect(findOwner({ ipVersion: 4, src: '127.0.0.1', sport: 1, dst: '127.0.0.1', dport: 1 })).toEqual({});
    } finally {
      sock.destroy();
      server.close();
    }
  });
});
