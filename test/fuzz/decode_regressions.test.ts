// Regressions found by the decoder fuzz target (native/fuzz/decode_fuzz.cc, npm run fuzz --
// decode). Each capture in test/fixtures/fuzz/ is a fuzzer input converted with
// test/tools/decode-fuzz-pcap.py (or, for the third, built by hand to show the same bug with
// a readable DNS exchange); see test/fixtures/fuzz/README.md.
import * as path from 'path';

import { books, runProbe, tunnelled } from './helpers';

const FIX = path.resolve(__dirname, '..', 'fixtures', 'fuzz');

describe('GTP-U inner packets are counted once (the tunnel flow already holds their wire packets)', () => {
  test('an inner IPv4 fragment without its first fragment is not also a "fragment without a flow"', async () => {
    const r = await runProbe(path.join(FIX, 'gtpu_inner_orphan_fragment.pcap'));
    expect(books(r)).toMatchObject({ packets: 4, balanced: true, fragUnattributed: 0 });
    expect(r.stats.anomalies.frag_orphaned).toBe(1);
    expect(r.stats.tunneled).toBe(4);
  });

  test('a truncated inner IPv6 header is an anomaly, not an undecodable frame', async () => {
    const r = await runProbe(path.join(FIX, 'gtpu_inner_truncated_ipv6.pcap'));
    expect(books(r)).toMatchObject({ packets: 1, inFlows: 1, undecodable: 0, balanced: true });
    expect(r.stats.anomalies.ipv6_truncated_header).toBe(1);
  });

  test('an inner datagram given up at the end of the capture is not a second, untunnelled flow', async () => {
    const r = await runProbe(path.join(FIX, 'gtpu_inner_fragment_given_up.pcap'));
    expect(books(r)).toMatchObject({ packets: 2, inFlows: 2, balanced: true });
    const outer = r.flows.filter((f) => !tunnelled(f));
    expect(outer.map((f) => [f.IPV4_SRC_ADDR, f.L4_SRC_PORT, f.L4_DST_PORT, f.IN_PKTS + f.OUT_PKTS])).toEqual([['10.0.0.1', 2152, 2152, 2]]);
    // The DNS query is in the tunnel; the answer's lone first fragment, given up with no tunnel
    // packet in hand, is only an anomaly (its wire packet is in the tunnel's flow).
    const inner = r.flows.filter(tunnelled);
    expect(inner).toHaveLength(1);
    expect(inner[0]).toMatchObject({ IPV4_SRC_ADDR: '192.0.2.1', L4_SRC_PORT: 40000, L4_DST_PORT: 53, IN_PKTS: 1, OUT_PKTS: 0, OUTER_FLOW_ID: outer[0].FLOW_ID, UPSTREAM_TUNNEL_ID: 0x1111 });
    expect(r.stats.anomalies.frag_incomplete_at_end).toBe(1);
  });

  test('a lone inner first fragment opens no flow of its own (nor reads a packet that is gone)', async () => {
    // Under npm run test:asan this once was a stack-use-after-return in the engine, which
    // takes an inner flow's tunnel endpoints from the outer packet it was given last.
    const r = await runProbe(path.join(FIX, 'gtpu_inner_lone_first_fragment.pcap'));
    expect(books(r)).toMatchObject({ packets: 1, inFlows: 1, balanced: true });
    expect(r.flows.map((f) => [f.IPV4_SRC_ADDR, f.L4_SRC_PORT, tunnelled(f)])).toEqual([['10.0.0.2', 2152, false]]);
    expect(r.stats.anomalies.frag_incomplete_at_end).toBe(1);
  });
});
