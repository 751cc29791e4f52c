// Drives one native dissector on payloads given as hex (the test-only binding), and decodes
// its fields the way the probe's records are decoded.
import { loadNative } from '../../src/native';
import { decodeExt, RawJson } from '../../src/record';

export interface Payload {
  dir: 0 | 1;
  hex: string;
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
    payloads.map((p) => ({ dir: p.dir, data: Buffer.from(p.hex.replace(/\s+/g, ''), 'hex'), ts: p.ts, sport: p.sport, dport: p.dport })),
  );
  const fields: Record<string, unknown> = {};
  const view = new DataView(r.fields.buffer, r.fields.byteOffset, r.fields.byteLength);
  decodeExt(view, new Uint8Array(r.fields.buffer, r.fields.byteOffset, r.fields.byteLength), 0, r.fields.byteLength, fields);
  // Records keep JSON fields as text (RawJson); tests look at their values.
  for (const [k, v] of Object.entries(fields)) if (v instanceof RawJson) fields[k] = v.value();
  return { probe: r.probe, l7: r.l7, fields, anomalies: r.anomalies };
}
