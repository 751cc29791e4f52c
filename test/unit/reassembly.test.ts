// TCP reassembly, one direction, through the test-only binding: order, retransmissions,
// overlaps (first data wins), sequence wrap, mid-stream pick-up, gaps, caps.
import { loadNative } from '../../src/native';

const R = (segs: Parameters<ReturnType<typeof loadNative>['testReassemble']>[0], flush = false) => loadNative().testReassemble(segs, flush);
const b = (s: string): Buffer => Buffer.from(s);
const EV = { retrans: 1, overlap: 2, cap: 4, acked: 8, gap: 16 };

test('in-order segments after a SYN come out as one stream', () => {
  const r = R([{ seq: 1000, syn: true, data: b('') }, { seq: 1001, data: b('hello ') }, { seq: 1007, data: b('world') }]);
  expect(r.data.toString()).toBe('hello world');
  expect(r.gaps).toEqual([]);
});

test('out-of-order segments wait for the hole, then come out in order', () => {
  const r = R([{ seq: 0, syn: true, data: b('') }, { seq: 7, data: b('ccc') }, { seq: 4, data: b('bbb') }, { seq: 1, data: b('aaa') }]);
  expect(r.data.toString()).toBe('aaabbbccc');
  expect(r.waiting).toBe(0);
});

test('a retransmission is dropped and counted; overlaps keep the first data received', () => {
  const r = R([
    { seq: 0, syn: true, data: b('') },
    { seq: 1, data: b('abcd') },
    { seq: 1, data: b('abcd') }, // exact retransmission
    { seq: 3, data: b('XXef') }, // overlaps "cd": first data wins
    { seq: 9, data: b('ij') },   // waits
    { seq: 8, data: b('YZ') },   // overlaps the waiting "i": the first (i) wins
    { seq: 7, data: b('g') },
  ]);
  expect(r.data.toString()).toBe('abcdefgYij');
  expect(r.events[2] & EV.retrans).toBeTruthy();
  expect(r.events[3] & EV.overlap).toBeTruthy();
  expect(r.events[5] & EV.overlap).toBeTruthy();
});

test('sequence numbers wrap around 2^32', () => {
  const isn = 0xfffffffa;
  const r = R([{ seq: isn, syn: true, data: b('') }, { seq: isn + 1, data: b('0123') }, { seq: (isn + 5) >>> 0, data: b('4567') }, { seq: (isn + 9) >>> 0, data: b('89') }]);
  expect(r.data.toString()).toBe('0123456789');
});

test('a stream picked up mid-way starts at the first segment seen', () => {
  const r = R([{ seq: 5000, data: b('middle ') }, { seq: 5007, data: b('of it') }]);
  expect(r.data.toString()).toBe('middle of it');
});

test('the peer acknowledging past a hole turns it into a gap; data after it flows', () => {
  const r = R([{ seq: 0, syn: true, data: b('') }, { seq: 1, data: b('aa') }, { seq: 13, data: b('zz') }, { ack: 13 }]);
  expect(r.data.toString()).toBe('aazz');
  expect(r.gaps).toEqual([10]);
  expect(r.events[3] & EV.acked).toBeTruthy();
});

test('an ACK seen before its data does not lose the data', () => {
  const r = R([{ seq: 0, syn: true, data: b('') }, { ack: 6 }, { seq: 1, data: b('early') }]);
  expect(r.data.toString()).toBe('early');
  expect(r.gaps).toEqual([]);
});

test('a segment cut by the snap length delivers what was captured and a gap for the rest', () => {
  const r = R([{ seq: 0, syn: true, data: b('') }, { seq: 1, data: b('head'), wire: 10 }, { seq: 11, data: b('next') }]);
  expect(r.data.toString()).toBe('headnext');
  expect(r.gaps).toEqual([6]);
});

test('the out-of-order cap gives up on the hole instead of growing', () => {
  const segs: Array<{ seq: number; syn?: boolean; data: Buffer }> = [{ seq: 0, syn: true, data: b('') }];
  // A hole at 1..100, then 300 KiB of data behind it: more than the 256 KiB cap.
  for (let off = 101; off < 101 + 300 * 1024; off += 1024) segs.push({ seq: off, data: Buffer.alloc(1024, 0x41) });
  const r = R(segs);
  expect(r.gaps[0]).toBe(100);
  expect(r.events.some((e) => e & EV.cap)).toBe(true);
  expect(r.waiting).toBeLessThanOrEqual(256 * 1024);
  expect(r.data.length + r.waiting).toBe(300 * 1024);
});

test('flush at the end delivers what waits behind holes, each hole a gap', () => {
  const r = R([{ seq: 0, syn: true, data: b('') }, { seq: 1, data: b('a') }, { seq: 5, data: b('e') }, { seq: 9, data: b('i') }], true);
  expect(r.data.toString()).toBe('aei');
  expect(r.gaps).toEqual([3, 3]);
});
