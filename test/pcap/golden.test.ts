// Golden-output regression test: the probe's complete JSON-lines output for a handful of
// small captures (different link types and encapsulations) must be byte-for-byte what is
// stored in test/golden/<name>.jsonl. After a deliberate change, regenerate with
// `npm run golden` and review `git diff test/golden/`.
// Also: the same capture run twice gives byte-identical output (determinism).

import { describe, expect, it } from '@jest/globals';
import * as fs from 'fs';

import { probeBuilt, runProbe } from '../helpers/probe';

interface GoldenCase {
  name: string;
  capture: string;
  covers: string;
}
interface RegenModule {
  CASES: GoldenCase[];
  goldenPath(c: GoldenCase): string;
  runCase(c: GoldenCase): { status: number | null; signal: string | null; stdout: string; stderr: string; error?: Error };
}
// eslint-disable-next-line @typescript-eslint/no-var-requires
const regen = require('../tools/regen-golden.js') as RegenModule;

/** A readable hint of where two JSON-lines outputs first differ. */
function diffHint(expected: string, actual: string): string {
  const e = expected.split('\n');
  const a = actual.split('\n');
  const hints: string[] = [`expected ${e.length - 1} lines, got ${a.length - 1}`];
  const n = Math.max(e.length, a.length);
  let shown = 0;
  for (let i = 0; i < n && shown < 3; i++) {
    if (e[i] === a[i]) continue;
    shown++;
    hints.push(`line ${i + 1}:`);
    let ej: Record<string, unknown> | null = null;
    let aj: Record<string, unknown> | null = null;
    try {
      ej = e[i] ? JSON.parse(e[i]) : null;
      aj = a[i] ? JSON.parse(a[i]) : null;
    } catch {
      /* not JSON: raw lines below */
    }
    if (ej && aj) {
      const keys = [...new Set([...Object.keys(ej), ...Object.keys(aj)])];
      for (const k of keys) {
        if (JSON.stringify(ej[k]) !== JSON.stringify(aj[k])) hints.push(`  ${k}: expected ${JSON.stringify(ej[k])}, got ${JSON.stringify(aj[k])}`);
      }
      if (keys.every((k) => JSON.stringify(ej![k]) === JSON.stringify(aj![k]))) hints.push('  same fields and values, different key order or spacing');
    } else {
      hints.push(`  - ${e[i] ?? '(no line)'}`, `  + ${a[i] ?? '(no line)'}`);
    }
  }
  hints.push('if the change is deliberate: `npm run golden` and review `git diff test/golden/`');
  return hints.join('\n');
}

describe('golden JSON output', () => {
  it('the probe is built', () => {
    expect(probeBuilt()).toBe(true);
  });

  it('has 5-6 cases', () => {
    expect(regen.CASES.length).toBeGreaterThanOrEqual(5);
    expect(regen.CASES.length).toBeLessThanOrEqual(6);
  });

  describe.each(regen.CASES.map((c) => [c.name, c] as [string, GoldenCase]))('%s', (_name, c) => {
    it(`matches test/golden/${c.name}.jsonl byte for byte (${c.covers})`, () => {
      const file = regen.goldenPath(c);
      if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run golden\` and review it`);
      const expected = fs.readFileSync(file, 'utf8');
      const r = regen.runCase(c);
      expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
      expect(expected.length).toBeGreaterThan(0);
      if (r.stdout !== expected) throw new Error(`output differs from ${file}\n${diffHint(expected, r.stdout)}`);
    });
  });
});

describe('determinism', () => {
  it.each(['mixed/ndpi_1kxun.pcap', 'gtp/zeek_gtp1_gn_fragmentation.pcap'])('%s: two runs give byte-identical output', (capture) => {
    const a = runProbe(capture);
    const b = runProbe(capture);
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    expect(a.flows.length).toBeGreaterThan(0);
    if (a.stdout !== b.stdout) throw new Error(`two runs differ\n${diffHint(a.stdout, b.stdout)}`);
  });

  it('the output does not depend on the local time zone', () => {
    const utc = runProbe('dns/arkime_dns_wiresharkrepo.pcap', [], { env: { TZ: 'UTC' } });
    const ny = runProbe('dns/arkime_dns_wiresharkrepo.pcap', [], { env: { TZ: 'America/New_York' } });
    const tokyo = runProbe('dns/arkime_dns_wiresharkrepo.pcap', [], { env: { TZ: 'Asia/Tokyo' } });
    expect(utc.status).toBe(0);
    expect(utc.flows.length).toBeGreaterThan(0);
    if (ny.stdout !== utc.stdout) throw new Error(`TZ=America/New_York differs from TZ=UTC\n${diffHint(utc.stdout, ny.stdout)}`);
    if (tokyo.stdout !== utc.stdout) throw new Error(`TZ=Asia/Tokyo differs from TZ=UTC\n${diffHint(utc.stdout, tokyo.stdout)}`);
  });

  it('flow ids are 1..N: sequential, no gap, no duplicate', () => {
    const r = runProbe('mixed/ndpi_1kxun.pcap');
    const ids = r.flows.map((f) => f.FLOW_ID).sort((x, y) => x - y);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
  });
});
