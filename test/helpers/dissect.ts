// Drives one native dissector on payloads given as hex (the test-only binding), and decodes
// its fields the way the probe's records are decoded.
import { loadNative } from '../../src/native';
import { decodeExt, RawJson } from '../../src/record';

export interface Payload {
  dir: 0 | 1;
  /** Stream bytes as hex; or leave empty and give `gap` for a hole of that many bytes (TCP). */
  hex: string;
  gap?: number;
  ts?: number;
  sport?: number;
  dport?: number;
}

export interface DissectResult {
  probe: boolean[];
  l7: number;
  fields: Record<string, unknown>;
  anomalies: string[];
}

export function dissectHex(name: string, payloads: Payload[]): DissectResult {
  const mod = loadNative();
  const r = mod.testDissect(
    name,
    payloads.map((p) =>
      p.gap !== undefined
        ? { dir: p.dir, gap: p.gap }
        : { dir: p.dir, data: Buffer.from(p.hex.replace(/\s+/g, ''), 'hex'), ts: p.ts, sport: p.sport, dport: p.dport },
    ),
  );
  const fields: Record<string, unknown> = {};
  const view = new DataView(r.fields.buffer, r.fields.byteOffset, r.fields.byteLength);
  decodeExt(view, new Uint8Array(r.fields.buffer, r.fields.byteOffset, r.fields.byteLength), 0, r.fields.byteLength, fields);
  // Records keep JSON fields as text (RawJson); tests look at their values.
  for (const [k, v] of Object.entries(fields)) if (v instanceof RawJson) fields[k] = v.value();
  return { probe: r.probe, l7: r.l7, fields, anomalies: r.anomalies };
}

/** A TCP dissector's stream probe on the first bytes of each direction (1 yes, 0 more, -1 no). */
export function probeStream(name: string, c2s: string | Buffer, s2c: string | Buffer, clientPort: number, serverPort: number): number {
  const b = (x: string | Buffer): Buffer => (typeof x === 'string' ? Buffer.from(x) : x);
  return loadNative().testProbeStream(name, b(c2s), b(s2c), clientPort, serverPort);
}
