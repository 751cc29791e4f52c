// Field accuracy against tshark for every protocol module in test/accuracy/ (see
// test/tools/accuracy.js): every value tshark extracts is in the probe's record of the same
// flow, or the module explains why not.
import * as fs from 'fs';
import * as path from 'path';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { evaluate } = require('../tools/accuracy.js');

const mods = fs.readdirSync(__dirname).filter((f) => f.endsWith('.js'));

describe.each(mods)('accuracy %s', (file) => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const mod = require(path.join(__dirname, file));
  test(`${mod.protocol}: every tshark value found, or explained`, () => {
    const r = evaluate(mod);
    expect(r.failures).toEqual([]);
    const fields = Object.values(r.total) as Array<{ expected: number; found: number; wrong: number }>;
    expect(fields.length).toBeGreaterThan(0);
    for (const t of fields) expect(t.found + t.wrong).toBeLessThanOrEqual(t.expected);
  });
});
