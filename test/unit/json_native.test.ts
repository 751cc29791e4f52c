// The native JSON lines (native/export/json_lines.cc) against flowToJson (src/export/json.ts)
// on every capture in test/pcap: byte for byte, batch by batch, with and without records
// changed or dropped in between.
import * as path from 'path';
import { FlowBatch } from '../../src/batch';
import { flowToJson } from '../../src/export/json';
import { Probe } from '../../src/probe';
import { allCaptures } from '../helpers/probe';


const FILES = allCaptures();

async function batches(file: string): Promise<FlowBatch[]> {
  const probe = new Probe({ interface: file, batchSize: 37 });
  const out: FlowBatch[] = [];
  try {
    probe.open();
  } catch {
    return out; // the malformed captures that do not open are malformed.test.ts's business
  }
  await probe.runBatches((b) => {
    out.push(b);
  }).catch(() => undefined);
  return out;
}

test('the corpus is there', () => {
  expect(FILES.length).toBeGreaterThan(40);
});

describe.each(FILES.map((f) => [path.relative(path.join(__dirname, '..', 'pcap'), f), f]))('%s', (_name, file) => {
  test('native JSON lines equal flowToJson', async () => {
    const bs = await batches(file);
    let flows = 0;
    for (const b of bs) {
      const native = b.jsonLines().toString();
      const js = b.records().map((f) => flowToJson(f) + '\n').join('');
      expect(native).toBe(js);
      flows += b.length;
    }
    if (bs.length) expect(flows).toBeGreaterThan(0);
  });
});

test('changed and dropped records: JS lines for them, native for the rest, order kept', async () => {
  const file = FILES.find((f) => f.includes('dns')) as string;
  const bs = await batches(file);
  const b = bs.find((x) => x.length >= 5) as FlowBatch;
  expect(b).toBeDefined();
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
