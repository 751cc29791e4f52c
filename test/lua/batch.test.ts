// The Lua hooks' batch built natively from encoded records (native/export/lua_batch.cc)
// against the one src/lua/host.ts builds from decoded records: the same bytes, on every
// capture in test/pcap, with every check<Protocol>Flow defined. And the hooks see the same
// tables either way.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FlowBatch } from '../../src/batch';
import { LuaHost } from '../../src/lua/host';
import { loadNative } from '../../src/native';
import { Probe } from '../../src/probe';
import { allCaptures } from '../helpers/probe';
import { PLUGINS } from '../../plugins';


const FILES = allCaptures().filter((f) => !f.includes('malformed'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-luabatch-'));
const SCRIPT = path.join(dir, 'all.lua');
fs.writeFileSync(SCRIPT, PLUGINS.map((p) => `function ${p.luaHook}() end`).join('\n') + '\n');

// Each batch is compared inside its sink: once the sink returns, the core reuses the batch's
// memory for the next one (FlowBatch.release()).
async function eachBatch(file: string, fn: (b: FlowBatch) => void): Promise<void> {
  const probe = new Probe({ interface: file, batchSize: 53 });
  probe.open();
  await probe.runBatches(fn);
}

let host: LuaHost;
let hookedTotal = 0;
const byFile = new Map<string, number>();
beforeAll(async () => {
  host = await LuaHost.load(SCRIPT);
});
afterAll(() => host.close());

test('every protocol has its hook in the test script', () => {
  expect(host.enabled.length).toBe(PLUGINS.length);
});

describe.each(FILES.map((f) => [path.relative(path.join(__dirname, '..', 'pcap'), f), f]))('%s', (_name, file) => {
  test('native batch bytes equal the JS ones', async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const h = host as any;
    const mod = loadNative();
    let hooked = 0;
    await eachBatch(file, (b) => {
      const native = mod.luaBatch(h.specId, b.raw);
      expect(native).not.toBeNull();
      const w = h.batch;
      w.len = 0;
      const idx: number[] = [];
      for (let i = 0; i < b.length; i++) {
        const bind = h.bindings.get(b.l7(i));
        if (!bind) continue;
        idx.push(i);
        w.flow(bind, b.record(i));
      }
      expect([...native!.flows]).toEqual(idx);
      expect(native!.bytes.equals(w.buf.subarray(0, w.len))).toBe(true);
      hooked += idx.length;
    });
    hookedTotal += hooked;
    byFile.set(file, hooked);
  });
});

test('the comparison covered real hooked flows of every protocol directory', () => {
  expect(hookedTotal).toBeGreaterThan(500);
  for (const d of ['dns', 'dhcp', 'radius', 'sip', 'http', 'smtp', 'imap', 'pop', 'ftp']) {
    const n = [...byFile].filter(([f]) => f.includes(`/${d}/`)).reduce((a, [, c]) => a + c, 0);
    expect([d, n > 0]).toEqual([d, true]);
  }
});
