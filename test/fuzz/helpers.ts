// Shared by the fuzz-style tests: run a capture through the whole probe in this process (the
// Probe class, all dissectors on) and check the packet books the stats keep.
import { Probe, FlowRecord } from '../../src';
import type { ProbeStats } from '../../src/probe';

export interface Run {
  flows: FlowRecord[];
  stats: ProbeStats;
}

export async function runProbe(file: string): Promise<Run> {
  const probe = new Probe({ interface: file, dissect: true });
  probe.open();
  const flows: FlowRecord[] = [];
  for await (const f of probe.flows()) flows.push(f);
  return { flows, stats: probe.stats() };
}

/** True for a flow inside a GTP-U tunnel (it names the tunnel's flow). */
export function tunnelled(f: FlowRecord): boolean {
  return typeof f.OUTER_FLOW_ID === 'number' && f.OUTER_FLOW_ID > 0;
}

/**
 * The identity of test/helpers/probe.ts accountingProblems(), from the stats: every packet
 * read is in exactly one flow outside tunnels, or counted non-IP, undecodable, or a fragment
 * without a flow. Returns the books as an object so a failing test prints all of it.
 */
export function books(r: Run): { packets: number; inFlows: number; nonIp: number; undecodable: number; fragUnattributed: number; balanced: boolean } {
  const inFlows = r.flows.filter((f) => !tunnelled(f)).reduce((s, f) => s + f.IN_PKTS + f.OUT_PKTS, 0);
  const { packets, nonIp, undecodable, fragUnattributed } = r.stats;
  return { packets, inFlows, nonIp, undecodable, fragUnattributed, balanced: packets === inFlows + nonIp + undecodable + fragUnattributed };
}
