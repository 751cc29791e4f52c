// Robustness and error-path tests.
//
// 1. Every capture in test/pcap/malformed/ (fuzzed, truncated, corrupt): the probe must not
//    crash (no signal, no stack trace), must exit 0 (each file's header is readable), must
//    warn once about a file cut short, and its TCP/UDP flows must cover tshark's
//    conversations exactly as in conv.test.ts (differences explained per 5-tuple below).
// 2. CLI error paths: missing file, not a capture, empty file, bad BPF filter, unknown
//    option, bad numeric value, and a capture truncated mid-packet by this test.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { compareCounts, expectedCounts, Explained, readConvFile, readFragsOracle, TupleCounts } from '../helpers/conv';
import {
  accountingProblems,
  capturePath,
  countCaptureRecords,
  crashEvidence,
  mapLimit,
  PCAP_DIR,
  pcapRecordOffsets,
  probeBuilt,
  ProbeFlow,
  ProbeRun,
  probeTupleCounts,
  runCli,
  runProbe,
  runProbeAsync,
} from '../helpers/probe';

const MALFORMED = fs
  .readdirSync(path.join(PCAP_DIR, 'malformed'))
  .filter((f) => /\.(pcap|pcapng)$/.test(f))
  .sort()
  .map((f) => `malformed/${f}`);

/** Files whose last record is cut short / corrupt: tshark also stops with a read error there. */
const CUT_SHORT = new Set(['malformed/ndpi_fuzz_2021_10_13_cut_short.pcap', 'malformed/suricata_bug6875_corrupt.pcap']);

/** A warning about the capture file ending early or a corrupt record. */
const CUT_WARNING = /^nprobe: warning: .*(cut short|truncated|short read|corrupt|damaged|bigger than|invalid|premature|end of file|EOF)/i;

/** Understood differences with tshark's conversations, per capture and 5-tuple (see conv.test.ts). */
const EXPLAINED: Record<string, Explained[]> = {
  'malformed/ndpi_fuzz_2006_06_26_mixed.pcap': [
    {
      // frame 86: IPv4 IHL 7 (28-byte header) and total length 40 leave 12 bytes of TCP header
      tuple: 'tcp 147.234.1.253:47645 <-> 192.168.1.2:58657',
      probe: [0, 1],
      reason:
        'frame 86 has a TCP header cut to 12 bytes by the IPv4 total length: tshark throws "Malformed Packet" ' +
        'before its conversation tap; the probe reads the ports and counts the packet in a flow (anomaly tcp_truncated_header)',
    },
  ],
  'malformed/suricata_bug6875_corrupt.pcap': [
    {
      tuple: 'tcp 0.0.16.64:0 <-> 192.168.0.0:256',
      probe: [0, 1],
      reason:
        "tshark's wiretap reads this damaged file as a pcap variant with 24-byte record headers (its frame 1 starts 8 bytes " +
        'later: "Ethernet II 45:00:00:ae:11:16 -> 27:7f:b5:8b:08:00", no IP); libpcap, the probe\'s reader, reads record 1 ' +
        'as standard pcap: Ethernet/IPv4/TCP 192.168.0.0:256 -> 0.0.16.64:0 with an invalid TCP data offset (anomaly tcp_bad_data_offset), ' +
        'counted in a flow since its ports are readable',
    },
  ],
};

const runs = new Map<string, ProbeRun>();
let tmp = '';

beforeAll(async () => {
  if (!probeBuilt()) throw new Error('the probe is not built: run `npm install` (native addon) and `npx tsc -p tsconfig.json` first');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-malformed-'));
  const results = await mapLimit(MALFORMED, (c) => runProbeAsync(c));
  MALFORMED.forEach((c, i) => runs.set(c, results[i]));
}, 300_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function errorLines(r: ProbeRun): string[] {
  return r.stderrLines.filter((l) => l.startsWith('nprobe: error:'));
}

function warningLines(r: ProbeRun): string[] {
  return r.stderrLines.filter((l) => l.startsWith('nprobe: warning:'));
}

function noCrash(r: ProbeRun): void {
  expect({ signal: r.signal, error: r.error }).toEqual({ signal: null, error: undefined });
  expect(crashEvidence(r.stderr)).toEqual([]);
}

/** Exit 1 with exactly one stderr line, "nprobe: error: ...", and no flow output. */
function expectOneError(r: ProbeRun, mention?: string): void {
  noCrash(r);
  expect(r.status).toBe(1);
  expect(r.stderrLines).toHaveLength(1);
  expect(r.stderrLines[0]).toMatch(/^nprobe: error: \S/);
  if (mention !== undefined) expect(r.stderrLines[0]).toContain(mention);
  expect(r.flows).toEqual([]);
}

/** Exit 2 (usage error), no crash, an "nprobe: error:" line matching `mention`. */
function expectUsageError(r: ProbeRun, mention: RegExp): void {
  noCrash(r);
  expect(r.status).toBe(2);
  expect(errorLines(r).filter((l) => mention.test(l)).length).toBeGreaterThanOrEqual(1);
  expect(r.flows).toEqual([]);
}

function totals(flows: ProbeFlow[]): { pkts: number; bytes: number } {
  return flows.reduce((s, f) => ({ pkts: s.pkts + f.IN_PKTS + f.OUT_PKTS, bytes: s.bytes + f.IN_BYTES + f.OUT_BYTES }), { pkts: 0, bytes: 0 });
}

describe('malformed corpus', () => {
  it('has no EXPLAINED entry for a capture that is not in malformed/', () => {
    expect(Object.keys(EXPLAINED).filter((c) => !MALFORMED.includes(c))).toEqual([]);
  });

  describe.each(MALFORMED)('%s', (capture) => {
    const file = capturePath(capture);

    it('does not crash and exits 0; stdout is JSON flow lines only', () => {
      const r = runs.get(capture)!;
      noCrash(r);
      expect(r.status).toBe(0);
      expect(errorLines(r)).toEqual([]);
      expect(r.stderrLines.filter((l) => !l.startsWith('nprobe: '))).toEqual([]);
      expect(r.badLines).toEqual([]);
    });

    if (CUT_SHORT.has(capture)) {
      it('warns once that the file is cut short / corrupt (tshark also stops with a read error)', () => {
        const r = runs.get(capture)!;
        const tshark = readConvFile(file.replace(/\.(pcap|pcapng)$/, '.conv.txt'));
        expect(tshark.stderr.length).toBeGreaterThan(0); // the oracle's own read error
        expect(warningLines(r).filter((l) => CUT_WARNING.test(l))).toHaveLength(1);
      });
    }

    it('every packet read is accounted for: in one flow outside tunnels, or counted as not in a flow', () => {
      const r = runs.get(capture)!;
      expect(accountingProblems(r, countCaptureRecords(file))).toEqual([]);
    });

    it("TCP/UDP flows cover tshark's conversations (+ fragment oracle)", () => {
      const r = runs.get(capture)!;
      const table = readConvFile(file.replace(/\.(pcap|pcapng)$/, '.conv.txt'));
      const expected = expectedCounts(table, readFragsOracle(file));
      expect(compareCounts(expected, probeTupleCounts(r.flows), EXPLAINED[capture] ?? [])).toEqual([]);
    });
  });
});

describe('CLI error paths', () => {
  it('missing file: exit 1, one error line naming the file', () => {
    const missing = path.join(tmp, 'does-not-exist.pcap');
    expectOneError(runProbe(missing), 'does-not-exist.pcap');
  });

  it('a text file is not a capture: exit 1, one error line', () => {
    const f = path.join(tmp, 'notes.txt');
    fs.writeFileSync(f, 'This is not a packet capture.\nJust some text, long enough to hold a pcap header and more.\n');
    expectOneError(runProbe(f), 'notes.txt');
  });

  it('an empty file: exit 1, one error line', () => {
    const f = path.join(tmp, 'empty.pcap');
    fs.writeFileSync(f, Buffer.alloc(0));
    expectOneError(runProbe(f), 'empty.pcap');
  });

  it('a file shorter than the pcap header: exit 1, one error line', () => {
    const f = path.join(tmp, 'half-header.pcap');
    fs.writeFileSync(f, fs.readFileSync(capturePath('dns/arkime_dns_wiresharkrepo.pcap')).subarray(0, 12));
    expectOneError(runProbe(f), 'half-header.pcap');
  });

  it('a valid pcap header with no packet: exit 0, no flow, no warning', () => {
    const f = path.join(tmp, 'header-only.pcap');
    fs.writeFileSync(f, fs.readFileSync(capturePath('dns/arkime_dns_wiresharkrepo.pcap')).subarray(0, 24));
    const r = runProbe(f);
    noCrash(r);
    expect(r.status).toBe(0);
    expect(r.flows).toEqual([]);
    expect(errorLines(r)).toEqual([]);
    expect(warningLines(r)).toEqual([]);
  });

  it('a directory given as capture file: exit 1, one error line', () => {
    expectOneError(runProbe(tmp));
  });

  it('bad BPF filter -f "port foo": exit 1, one error line', () => {
    expectOneError(runProbe('dns/arkime_dns_wiresharkrepo.pcap', ['-f', 'port foo']));
  });

  it('a good BPF filter is applied (-f "tcp" on a UDP-only capture gives no flow)', () => {
    const r = runProbe('dns/arkime_dns_wiresharkrepo.pcap', ['-f', 'tcp']);
    noCrash(r);
    expect(r.status).toBe(0);
    expect(r.flows).toEqual([]);
  });

  it('unknown option: exit 2', () => {
    expectUsageError(runCli(['-i', capturePath('dns/arkime_dns_wiresharkrepo.pcap'), '--bogus-option']), /bogus-option/);
  });

  it('bad numeric value -t abc: exit 2', () => {
    expectUsageError(runCli(['-i', capturePath('dns/arkime_dns_wiresharkrepo.pcap'), '-n', 'none', '--json-out', '-', '-t', 'abc']), /abc|-t\b|timeout/i);
  });

  it('bad numeric value -s big: exit 2', () => {
    expectUsageError(runCli(['-i', capturePath('dns/arkime_dns_wiresharkrepo.pcap'), '-n', 'none', '--json-out', '-', '-s', 'big']), /big|-s\b|snaplen/i);
  });

  it('bad -b value: exit 2', () => {
    expectUsageError(runCli(['-i', capturePath('dns/arkime_dns_wiresharkrepo.pcap'), '-n', 'none', '--json-out', '-', '-b', '7']), /7|-b\b/);
  });
});

describe('capture truncated mid-packet', () => {
  // 63 packets, all Ethernet/IPv4/TCP (checked with tshark): every packet belongs to a flow.
  const SOURCE = 'ftp/suricata_ftp_download_passive.pcap';
  const K = 40; // records fully before the cut

  function cutAt(name: string, offset: number): string {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, fs.readFileSync(capturePath(SOURCE)).subarray(0, offset));
    return f;
  }

  function perTuple(flows: ProbeFlow[]): TupleCounts {
    return probeTupleCounts(flows);
  }

  it.each([
    ['in the middle of the packet data', (start: number, end: number) => start + 16 + Math.floor((end - start - 16) / 2)],
    ['in the middle of the record header', (start: number) => start + 8],
  ])('cut %s: exit 0, one warning, every packet before the cut counted', (_what, where) => {
    const recs = pcapRecordOffsets(capturePath(SOURCE));
    expect(recs.length).toBe(63);
    const [start, end] = recs[K];
    const cut = cutAt(`cut-${start}.pcap`, where(start, end));
    const clean = cutAt(`clean-${K}.pcap`, start); // exactly the first K records

    const rCut = runProbe(cut);
    const rClean = runProbe(clean);

    noCrash(rCut);
    expect(rCut.status).toBe(0);
    expect(errorLines(rCut)).toEqual([]);
    expect(warningLines(rCut).filter((l) => CUT_WARNING.test(l))).toHaveLength(1);
    expect(rCut.badLines).toEqual([]);

    noCrash(rClean);
    expect(rClean.status).toBe(0);
    expect(warningLines(rClean).filter((l) => CUT_WARNING.test(l))).toEqual([]);

    // none lost: exactly the K complete packets, in the same flows as a clean file of K packets
    expect(totals(rCut.flows).pkts).toBe(K);
    expect(totals(rCut.flows)).toEqual(totals(rClean.flows));
    const a = perTuple(rCut.flows);
    const b = perTuple(rClean.flows);
    expect(a.keys()).toEqual(b.keys());
    for (const k of a.keys()) expect([k, a.describe(k)]).toEqual([k, b.describe(k)]);
  });
});
