// The native JSON lines (native/export/json_lines.cc) against flowToJson (src/export/json.ts)
// on every capture in test/pcap: byte for byte, batch by batch, with and without records
// changed or dropped in between.
import * as fs from 'fs';
import * as path from 'path';
import { FlowBatch } from '../../src/batch';
import { flowToJson } from '../../src/export/json';
import { FlowRecord, recordsWithRawJson } from '../../src/record';
import { Probe } from '../../src/probe';
import { allCaptures } from '../helpers/probe';


const FILES = allCaptures();
/** The biggest capture: many batches of 37. */
const BIGGEST = (): string => [...FILES].sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];

// Each batch is looked at inside its sink: once the sink returns, the core reuses the batch's
// memory for the next one (FlowBatch.release()).
async function eachBatch(file: string, fn: (b: FlowBatch) => void): Promise<number> {
  const probe = new Probe({ interface: file, batchSize: 37 });
  let n = 0;
  try {
    probe.open();
  } catch {
    return n; // the malformed captures that do not open are malformed.test.ts's business
  }
  await probe
    .runBatches((b) => {
      n++;
      fn(b);
    })
    .catch(() => undefined);
  return n;
}

test('the corpus is there', () => {
  expect(FILES.length).toBeGreaterThan(40);
});

describe.each(FILES.map((f) => [path.relative(path.join(__dirname, '..', 'pcap'), f), f]))('%s', (_name, file) => {
  test('native JSON lines equal flowToJson', async () => {
    let flows = 0;
    const mismatches: string[] = [];
    const n = await eachBatch(file, (b) => {
      const native = b.jsonLines().toString();
      const js = b.records().map((f) => flowToJson(f) + '\n').join('');
      if (native !== js) mismatches.push(`native:\n${native}\njs:\n${js}`);
      flows += b.length;
    });
    expect(mismatches).toEqual([]);
    if (n) expect(flows).toBeGreaterThan(0);
  });
});

test('changed and dropped records: JS lines for them, native for the rest, order kept', async () => {
  const file = FILES.find((f) => f.includes('dns')) as string;
  let checked = 0;
  await eachBatch(file, (b) => {
    if (checked || b.length < 5) return;
    checked++;
    const expected: string[] = [];
    for (let i = 0; i < b.length; i++) {
      const r = b.record(i);
      if (i % 3 === 1) {
        b.drop(i);
        continue;
      }
      if (i % 3 === 2) {
        r.TAG = `changed "${i}"\n`;
        b.markChanged(i);
      }
      expected.push(flowToJson(r) + '\n');
    }
    expect(b.jsonLines().toString()).toBe(expected.join(''));
    expect(b.kept).toBe(expected.length);
    expect(b.records()).toHaveLength(expected.length);
  });
  expect(checked).toBe(1);
});

test('a batch kept past its sink says so instead of reading the next batch\'s bytes', async () => {
  const file = BIGGEST();
  const kept: FlowBatch[] = [];
  const lines: string[] = [];
  await eachBatch(file, (b) => {
    lines.push(b.jsonLines().toString());
    b.record(0); // decoded inside the sink: still there afterwards
    kept.push(b);
  });
  expect(kept.length).toBeGreaterThan(1);
  const first = kept[0];
  expect(first.record(0)).toBeDefined();
  expect(() => first.record(first.length - 1)).toThrow(/released/);
  expect(() => first.jsonLines()).toThrow(/released/);
  // Every batch's lines were its own: no line is repeated across batches.
  const all = lines.join('').split('\n').filter(Boolean);
  expect(new Set(all).size).toBe(all.length);
});

test('a copy taken in the sink keeps its flows after the batch is released', async () => {
  const file = BIGGEST();
  const copies: FlowBatch[] = [];
  const lines: string[] = [];
  await eachBatch(file, (b) => {
    lines.push(b.jsonLines().toString());
    copies.push(b.copy());
  });
  expect(copies.length).toBeGreaterThan(1);
  // Read only now, after every batch's buffer was reused: each copy still has its own flows.
  expect(copies.map((c) => c.jsonLines().toString())).toEqual(lines);
  expect(copies[0].record(copies[0].length - 1).FLOW_ID).toBeGreaterThan(0);
});

test('records decoded in the sink keep their transactions after the batch is released', async () => {
  // DNS_TRANSACTIONS and the like are decoded lazily (RawJson): they must not read the
  // batch's buffer, which holds later batches by then. Every capture of more than one batch.
  let checked = 0;
  for (const file of FILES) {
    const kept: Array<[FlowRecord, string]> = [];
    const batches = await eachBatch(file, (b) => {
      // The expected text from the native lines: reading the records' own would decode them now.
      const lines = b.jsonLines().toString().split('\n');
      for (let i = 0; i < b.length; i++) {
        const r = b.record(i);
        if (recordsWithRawJson.has(r)) kept.push([r, lines[i]]);
      }
    });
    if (batches < 2) continue;
    for (const [r, json] of kept) expect(flowToJson(r)).toBe(json);
    checked += kept.length;
  }
  expect(checked).toBeGreaterThan(100);
});

// Batches built by hand (record.ts layout; ext fields as FieldWriter writes them: type, u16
// name length, name, u32 value length, value), so no dissector cap or transactions copy gets
// in the way.
const field = (type: number, name: string, value: Buffer): Buffer => {
  const h = Buffer.alloc(3);
  h[0] = type;
  h.writeUInt16LE(name.length, 1);
  const l = Buffer.alloc(4);
  l.writeUInt32LE(value.length, 0);
  return Buffer.concat([h, Buffer.from(name), l, value]);
};
const num = (name: string, v: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v, 0);
  return field(1, name, b);
};
/** One batch of records, each an IPv4/UDP flow with the given ext fields. */
function handBatch(exts: Buffer[]): FlowBatch {
  const parts = exts.map((ext, i) => {
    const rec = Buffer.alloc(144);
    rec.writeBigUInt64LE(BigInt(7 + i), 0); // FLOW_ID
    rec.writeBigUInt64LE(1_700_000_000_000_000n, 8);
    rec.writeBigUInt64LE(1_700_000_000_500_000n, 16);
    rec.writeBigUInt64LE(1n, 24);
    rec.writeBigUInt64LE(60n, 32);
    Buffer.from([192, 0, 2, 1]).copy(rec, 72);
    Buffer.from([192, 0, 2, 2]).copy(rec, 88);
    rec[114] = 4;
    rec[115] = 17;
    rec.writeUInt32LE(ext.length, 140);
    return Buffer.concat([rec, ext]);
  });
  const count = Buffer.alloc(4);
  count.writeUInt32LE(exts.length, 0);
  return new FlowBatch(Buffer.concat([count, ...parts]), []);
}

test('a value whose escapes outgrow the text buffer mid-record is written whole (TextBuffer growth)', () => {
  // The formatter reserves twice the batch's size (at least 4 KiB), then makes room piece by
  // piece. A string field of 2.5 MB of control bytes escapes to 6x its size (\u0001), so its
  // room has to come from a larger buffer in the middle of the record: larger than any batch
  // before it in this process left the (kept) buffer, and under the 16 MiB it keeps.
  const ext = Buffer.concat([
    field(2, 'X_FIRST', Buffer.from('plain')),
    field(2, 'X_CONTROLS', Buffer.alloc(2_500_000, 0x01)),
    field(2, 'X_QUOTES', Buffer.from('"\\'.repeat(500))),
  ]);
  const batch = handBatch([ext]);
  const line = batch.jsonLines().toString();
  expect(line).toBe(flowToJson(batch.record(0)) + '\n');
  const back = JSON.parse(line);
  expect(back.X_CONTROLS).toBe('\u0001'.repeat(2_500_000));
  expect(back.X_QUOTES).toBe('"\\'.repeat(500));
  expect(back.X_FIRST).toBe('plain');
  expect(line.length).toBeGreaterThan(2 * (4 + 144 + ext.length));
});

test('a field named like a fixed key, or like an earlier field, leaves its record to JS (one key, the last value)', () => {
  // The native formatter screens names with a 256-bit filter before its exact scans; JS writes
  // a repeated key once, where it first stood. Each record must still come out as JS writes it.
  const many = Array.from({ length: 40 }, (_, i) => num(`X_FIELD_${i}`, i));
  const batch = handBatch([
    Buffer.concat(many),
    Buffer.concat([...many.slice(0, 30), num('X_FIELD_3', 333), ...many.slice(30)]),
    Buffer.concat([num('X_A', 1), num('L4_SRC_PORT', 9999), num('FLOW_ID', 5), num('X_B', 2)]),
    Buffer.concat([field(2, 'L7_PROTO_NAME', Buffer.from('Mine')), field(2, 'X_C', Buffer.from('c'))]),
  ]);
  const lines = batch.jsonLines().toString().split('\n').filter(Boolean);
  expect(lines).toEqual(batch.records().map((f) => flowToJson(f)));
  const [all, repeated, fixed, named] = lines.map((l) => JSON.parse(l));
  expect(Object.keys(all).filter((k) => k.startsWith('X_FIELD_'))).toHaveLength(40);
  expect(repeated.X_FIELD_3).toBe(333);
  expect(lines[1].match(/"X_FIELD_3"/g)).toHaveLength(1);
  expect([fixed.L4_SRC_PORT, fixed.FLOW_ID, fixed.X_B]).toEqual([9999, 5, 2]);
  expect(named.L7_PROTO_NAME).toBe('Mine');
});
