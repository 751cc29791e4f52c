// Issue 9, fault tests: a flow table far too small for the traffic (-M 100 on a mixed capture).
// Flows are exported early (end reason 5, counted as evictions), none is lost: per 5-tuple the
// exported packets are those of a run with room for every flow.
import { runProbe, accountingProblems, countCaptureRecords, capturePath } from '../helpers/probe';
import type { FlowRecord } from '../../src/record';
import { parseSummary } from '../helpers/faults';

jest.setTimeout(60_000);

/** Packets per conversation, either direction (a flow evicted and seen again from the server's
 * side comes back with the server as its client). */
function convCounts(flows: FlowRecord[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const f of flows) {
    const a = `${f.IPV4_SRC_ADDR ?? f.IPV6_SRC_ADDR}:${f.L4_SRC_PORT}`;
    const b = `${f.IPV4_DST_ADDR ?? f.IPV6_DST_ADDR}:${f.L4_DST_PORT}`;
    const k = `${f.PROTOCOL} ${[a, b].sort().join(' ')} ${f.SRC_VLAN ?? 0}`;
    m.set(k, (m.get(k) ?? 0) + f.IN_PKTS + f.OUT_PKTS);
  }
  return m;
}

const CAPTURE = 'mixed/pcapplusplus_many_protocols.pcap';

test('-M 100: every flow still exported, evictions counted, packet totals unchanged', () => {
  const roomy = runProbe(CAPTURE);
  const tight = runProbe(CAPTURE, ['-M', '100']);
  expect(roomy.status).toBe(0);
  expect(tight.status).toBe(0);
  const s = parseSummary(tight.stderr);
  const evicted = tight.flows.filter((f) => f.FLOW_END_REASON === 5);
  expect(evicted.length).toBeGreaterThan(0);
  expect(s.evicted).toBe(evicted.length);
  expect(s.exported).toBe(tight.flows.length);
  expect(s.created).toBe(tight.flows.length);
  expect(s.active).toBe(0);
  // An evicted flow whose 5-tuple comes back is a second record: the sums per tuple still match.
  expect(convCounts(tight.flows)).toEqual(convCounts(roomy.flows));
  expect(accountingProblems(tight, countCaptureRecords(capturePath(CAPTURE)))).toEqual([]);
  expect(new Set(tight.flows.map((f) => f.FLOW_ID)).size).toBe(tight.flows.length);
  // With room for every flow, nothing is evicted.
  expect(parseSummary(roomy.stderr).evicted).toBe(0);
});
