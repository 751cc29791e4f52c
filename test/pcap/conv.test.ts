// Flow oracle test: for every capture of the corpus outside malformed/, the probe's TCP and
// UDP flows must be exactly tshark's conversations (5-tuple, direction-independent), with
// the same packet count in each direction once the IP fragments tshark folds into one
// reassembled frame are added back (the .frags.json oracle, see test/tools/frag-oracle.sh).
//
// Several probe records of one 5-tuple (idle/active timeouts, a new TCP connection reusing
// the ports) and several tshark lines of one 5-tuple are summed before comparing.
// Non-TCP/UDP flows (ICMP, ESP, ...) are not in tshark's table and are not compared here.
// Every other difference must be listed, with its reason, in EXPLAINED below.

import { beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'fs';
import * as path from 'path';

import { compareCounts, expectedCounts, Explained, parseConvText, readConvFile, readFragsOracle, splitEndpoint, TupleCounts, tupleKey } from '../helpers/conv';
import {
  accountingProblems,
  capturePath,
  countCaptureRecords,
  crashEvidence,
  mapLimit,
  PCAP_DIR,
  probeBuilt,
  ProbeRun,
  probeTupleCounts,
  runProbeAsync,
} from '../helpers/probe';

/** Every capture of the corpus outside malformed/, as "<proto>/<file>". */
function corpus(): string[] {
  const out: string[] = [];
  for (const dir of fs.readdirSync(PCAP_DIR).sort()) {
    if (dir === 'malformed') continue;
    const full = path.join(PCAP_DIR, dir);
    if (!fs.statSync(full).isDirectory()) continue;
    for (const f of fs.readdirSync(full).sort()) if (/\.(pcap|pcapng)$/.test(f)) out.push(`${dir}/${f}`);
  }
  return out;
}

/**
 * Understood differences between tshark's conversation table (+ fragment oracle) and the
 * probe, per capture and 5-tuple. `probe` is what the probe must report for that 5-tuple,
 * as [lo->hi, hi->lo] packets (lo = the smaller endpoint, as printed by tupleKey), or null
 * for "no flow". An entry that no longer matches the probe, or explains no difference,
 * fails the test.
 */
const EXPLAINED: Record<string, Explained[]> = {};

const CAPTURES = corpus();
const runs = new Map<string, ProbeRun>();

beforeAll(async () => {
  if (!probeBuilt()) throw new Error('the probe is not built: run `npm install` (native addon) and `npx tsc -p tsconfig.json` first');
  const results = await mapLimit(CAPTURES, (c) => runProbeAsync(c));
  CAPTURES.forEach((c, i) => runs.set(c, results[i]));
}, 600_000);

describe('conv.txt parser', () => {
  it('splits IPv6 endpoints on the last colon and reads both direction columns', () => {
    const t = parseConvText(
      [
        '================================================================================',
        'UDP Conversations',
        'Filter:<No Filter>',
        '                                                           |       <-      | |       ->      | |     Total     |    Relative    |   Duration   |',
        '                                                           | Frames  Bytes | | Frames  Bytes | | Frames  Bytes |      Start     |              |',
        '2001:470:1f11:81f:d138:5f55:6d4:1fe2:51851 <-> 2607:f740:b::f93:53             2 3326 bytes       1 136 bytes       3 3462 bytes    15.153801000         5.0840',
        '0.0.0.0:68                 <-> 255.255.255.255:67               0 0 bytes        50 14 kB          50 14 kB         0.000000000         0.0049',
        '================================================================================',
        '# tshark stderr: tshark: The file "x.pcap" appears to have been cut short in the middle of a packet.',
      ].join('\n'),
    );
    expect(t.stderr).toEqual(['tshark: The file "x.pcap" appears to have been cut short in the middle of a packet.']);
    expect(t.conversations).toHaveLength(2);
    const [v6, v4] = t.conversations;
    expect(v6.proto).toBe('udp');
    expect(v6.a).toEqual({ addr: '2001:470:1f11:81f:d138:5f55:6d4:1fe2', port: 51851 });
    expect(v6.b).toEqual({ addr: '2607:f740:b::f93', port: 53 });
    expect([v6.aToBFrames, v6.bToAFrames, v6.bToABytes, v6.aToBBytes]).toEqual([1, 2, 3326, 136]);
    expect([v4.aToBFrames, v4.bToAFrames, v4.aToBBytes, v4.aToBBytesExact]).toEqual([50, 0, 14000, false]);
  });

  it('canonicalises IPv6 text so that tshark and RFC 5952 spellings meet', () => {
    expect(splitEndpoint('2001:DB8:0:0:0:0:0:1:80').addr).toBe('2001:db8::1');
    expect(splitEndpoint('::ffff:192.0.2.1:53').addr).toBe('::ffff:c000:201');
    expect(tupleKey('tcp', splitEndpoint('10.0.0.2:80'), splitEndpoint('10.0.0.1:1234'))).toBe(
      tupleKey('tcp', splitEndpoint('10.0.0.1:1234'), splitEndpoint('10.0.0.2:80')),
    );
  });

  it('parses every conv.txt of the corpus (frame columns add up)', () => {
    for (const c of [...CAPTURES, ...fs.readdirSync(path.join(PCAP_DIR, 'malformed')).filter((f) => /\.(pcap|pcapng)$/.test(f)).map((f) => `malformed/${f}`)]) {
      const conv = capturePath(c).replace(/\.(pcap|pcapng)$/, '.conv.txt');
      expect(() => readConvFile(conv)).not.toThrow();
    }
  });

  it('compareCounts reports every kind of difference and checks explanations', () => {
    const ep = splitEndpoint;
    const table = parseConvText(
      [
        'UDP Conversations',
        '10.0.0.1:1000 <-> 10.0.0.2:53      2 200 bytes   3 300 bytes   5 500 bytes   0.0   1.0',
        '10.0.0.1:1001 <-> 10.0.0.2:53      1 100 bytes   1 100 bytes   2 200 bytes   0.0   1.0',
        'TCP Conversations',
        '10.0.0.1:2000 <-> 10.0.0.2:80      4 400 bytes   4 400 bytes   8 800 bytes   0.0   1.0',
        '10.0.0.1:2000 <-> 10.0.0.2:80      1 100 bytes   1 100 bytes   2 200 bytes   5.0   1.0',
      ].join('\n'),
    );
    const frags = {
      conversations: [{ proto: 'udp' as const, a: '10.0.0.1:1000', b: '10.0.0.2:53', extra: { a_to_b: 0, b_to_a: 2 } }],
      unattributed: [
        { src: '10.0.0.9', dst: '10.0.0.1', ip_proto: 17, ip_id: '0x1', frames: [9], offsets: [1480], first_fragment_l4: null },
        { src: '10.0.0.2', dst: '10.0.0.1', ip_proto: 17, ip_id: '0x2', frames: [10, 11], offsets: [0, 1480], first_fragment_l4: { proto: 'udp' as const, sport: 53, dport: 1001 } },
      ],
    } as unknown as Parameters<typeof expectedCounts>[1];
    const expected = expectedCounts(table, frags);
    const probe = new TupleCounts();
    probe.add('udp', ep('10.0.0.1:1000'), ep('10.0.0.2:53'), 3); // as tshark
    probe.add('udp', ep('10.0.0.2:53'), ep('10.0.0.1:1000'), 4); // tshark 2 + 2 fragments
    probe.add('udp', ep('10.0.0.1:1001'), ep('10.0.0.2:53'), 1);
    probe.add('udp', ep('10.0.0.2:53'), ep('10.0.0.1:1001'), 3); // 1 + the 2 fragments of a given-up datagram
    probe.add('tcp', ep('10.0.0.1:2000'), ep('10.0.0.2:80'), 5); // two tshark lines, summed
    probe.add('tcp', ep('10.0.0.2:80'), ep('10.0.0.1:2000'), 5);
    probe.add('udp', ep('10.0.0.9:0'), ep('10.0.0.1:0'), 1); // orphan non-first fragment: allowed with ports 0/0
    expect(compareCounts(expected, probe)).toEqual([]);

    probe.add('tcp', ep('10.0.0.2:80'), ep('10.0.0.1:2000'), 1); // one packet too many
    probe.add('udp', ep('10.0.0.3:5'), ep('10.0.0.4:6'), 1); // a flow tshark does not have
    const problems = compareCounts(expected, probe);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('tcp 10.0.0.1:2000 <-> 10.0.0.2:80: oracle(tshark+frags)=5/5 probe=5/6');
    expect(problems[1]).toContain('udp 10.0.0.3:5 <-> 10.0.0.4:6: oracle(tshark+frags)=none probe=1/0');

    const explained: Explained[] = [
      { tuple: 'tcp 10.0.0.1:2000 <-> 10.0.0.2:80', probe: [5, 6], reason: 'test' },
      { tuple: 'udp 10.0.0.3:5 <-> 10.0.0.4:6', probe: [1, 0], reason: 'test' },
    ];
    expect(compareCounts(expected, probe, explained)).toEqual([]);
    // an explanation that does not match the probe, and one that explains nothing, are reported
    const wrong: Explained[] = [
      { tuple: 'tcp 10.0.0.1:2000 <-> 10.0.0.2:80', probe: [5, 7], reason: 'test' },
      { tuple: 'udp 10.0.0.3:5 <-> 10.0.0.4:6', probe: [1, 0], reason: 'test' },
      { tuple: 'udp 10.0.0.1:1001 <-> 10.0.0.2:53', probe: [1, 3], reason: 'stale' },
    ];
    expect(compareCounts(expected, probe, wrong)).toHaveLength(2);
  });

  it('has no EXPLAINED entry for a capture that is not in the corpus', () => {
    expect(Object.keys(EXPLAINED).filter((c) => !CAPTURES.includes(c))).toEqual([]);
  });
});

describe.each(CAPTURES)('%s', (capture) => {
  const file = capturePath(capture);

  it('runs cleanly: exit 0, only JSON flow lines on stdout, no crash on stderr', () => {
    const r = runs.get(capture)!;
    expect({ status: r.status, signal: r.signal, error: r.error }).toEqual({ status: 0, signal: null, error: undefined });
    expect(crashEvidence(r.stderr)).toEqual([]);
    expect(r.stderrLines.filter((l) => !l.startsWith('nprobe: '))).toEqual([]);
    expect(r.stderrLines.filter((l) => l.startsWith('nprobe: error:'))).toEqual([]);
    expect(r.badLines).toEqual([]);
    const ids = r.flows.map((f) => f.FLOW_ID);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('TCP/UDP flows and per-direction packet counts equal tshark conversations + fragment oracle', () => {
    const r = runs.get(capture)!;
    const table = readConvFile(file.replace(/\.(pcap|pcapng)$/, '.conv.txt'));
    const expected = expectedCounts(table, readFragsOracle(file));
    const got = probeTupleCounts(r.flows);
    expect(compareCounts(expected, got, EXPLAINED[capture] ?? [])).toEqual([]);
  });

  it('every packet of the capture is accounted for: in one flow outside tunnels, or counted as not in a flow', () => {
    const r = runs.get(capture)!;
    expect(accountingProblems(r, countCaptureRecords(file))).toEqual([]);
    // and every flow saw at least one packet
    expect(r.flows.filter((f) => f.IN_PKTS + f.OUT_PKTS <= 0).map((f) => f.FLOW_ID)).toEqual([]);
  });
});
