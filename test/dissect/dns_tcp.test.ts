// DNS over TCP (native/dissect/dns_tcp.cc): RFC 1035 §4.2.2 / RFC 7766 framing on hex stream
// chunks through the test-only binding (each payload is one reassembled chunk of its
// direction), and, for what needs the engine (probe_stream on both directions, stream gaps,
// DNS_CLIENT), synthetic TCP captures and the real ones through the CLI.
//
// The binding's `probe` result comes from the dissector's packet probe, which for this TCP
// dissector answers "do these bytes start a client's DNS-over-TCP stream" (probe_stream on the
// client side alone).
import { noise as noiseBytes } from '../helpers/noise';
import { describe, expect, it } from '@jest/globals';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { dissectHex, Payload } from '../helpers/dissect';
import { ACK, LINKTYPE, PSH, writePcap } from '../helpers/pcapgen';
import { probeBuilt, ProbeFlow, runCli, runProbe } from '../helpers/probe';
import { TcpConn } from '../helpers/tcpconn';

/** Deterministic bytes as hex (test/helpers/noise.ts). */
const noise = (seed: number, n: number): string => noiseBytes(seed, n).toString('hex');

// ---- message builders (RFC 1035 §4.1 layouts) ----
const h8 = (n: number): string => (n & 0xff).toString(16).padStart(2, '0');
const h16 = (n: number): string => (n & 0xffff).toString(16).padStart(4, '0');
const h32 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
function wname(n: string): string {
  if (n === '') return '00';
  return n.split('.').map((l) => h8(l.length) + ascii(l)).join('') + '00';
}
const ptr = (off: number): string => h16(0xc000 | off);
const header = (id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): string => h16(id) + h16(flags) + h16(qd) + h16(an) + h16(ns) + h16(ar);
const question = (n: string, type: number): string => wname(n) + h16(type) + h16(1);
const rr = (owner: string, type: number, ttl: number, rdata: string): string => owner + h16(type) + h16(1) + h32(ttl) + h16(rdata.length / 2) + rdata;
const ipv4hex = (a: string): string => a.split('.').map((x) => h8(Number(x))).join('');
const query = (id: number, n: string, type = 1): string => header(id, 0x0100, 1) + question(n, type);
const answer = (id: number, n: string, addr: string, ttl = 300): string => header(id, 0x8180, 1, 1) + question(n, 1) + rr(ptr(12), 1, ttl, ipv4hex(addr));
const nxdomain = (id: number, n: string): string => header(id, 0x8183, 1) + question(n, 1);
/** RFC 1035 §4.2.2: the message preceded by its length. */
const framed = (msg: string): string => h16(msg.length / 2) + msg;

const c2s = (hex: string, extra: Partial<Payload> = {}): Payload => ({ dir: 0, hex, sport: 40000, dport: 53, ...extra });
const s2c = (hex: string, extra: Partial<Payload> = {}): Payload => ({ dir: 1, hex, sport: 53, dport: 40000, ...extra });
const run = (payloads: Payload[]) => dissectHex('DNS-TCP', payloads);
type Txn = Record<string, unknown>;
const txns = (r: ReturnType<typeof run>): Txn[] => (r.fields.DNS_TRANSACTIONS as Txn[]) ?? [];
/** Splits a hex string at the given byte offsets. */
function cut(hex: string, ...at: number[]): string[] {
  const out: string[] = [];
  let prev = 0;
  for (const a of [...at, hex.length / 2]) {
    out.push(hex.slice(prev * 2, a * 2));
    prev = a;
  }
  return out;
}

describe('DNS over TCP: framing', () => {
  it('a framed query and its response give the same fields as over UDP', () => {
    const r = run([c2s(framed(query(0x4319, 'www.tcpdump.org'))), s2c(framed(answer(0x4319, 'www.tcpdump.org', '192.139.46.66', 60)))]);
    expect(r.l7).toBe(5);
    expect(r.anomalies).toEqual([]);
    expect(r.probe).toEqual([true, true]);
    expect(r.fields).toMatchObject({
      DNS_QUERY: 'www.tcpdump.org',
      DNS_QUERY_ID: 0x4319,
      DNS_QUERY_TYPE: 1,
      DNS_RET_CODE: 0,
      DNS_NUM_ANSWERS: 1,
      DNS_TTL_ANSWER: 60,
      DNS_RESPONSE: 'A 192.139.46.66',
      DNS_CLIENT: '0.0.0.0', // the binding's packets carry no addresses (the CLI tests check real ones)
    });
    // The UDP dissector reads the same message to the same transaction.
    const udp = dissectHex('DNS', [c2s(query(0x4319, 'www.tcpdump.org')), s2c(answer(0x4319, 'www.tcpdump.org', '192.139.46.66', 60))]);
    expect(txns(r)).toEqual(udp.fields.DNS_TRANSACTIONS);
  });

  it('20 queries in one segment, 20 NXDOMAIN answers out of order (pipelining, RFC 7766 §6.2.1.1)', () => {
    const ids = [...Array(20).keys()];
    const queries = ids.map((i) => framed(query(i, `${i}.google.com`))).join('');
    const answers = [...ids].reverse().map((i) => framed(nxdomain(i, `${i}.google.com`))).join('');
    const r = run([c2s(queries), s2c(answers)]);
    expect(r.anomalies).toEqual([]);
    expect(txns(r).map((t) => [t.DNS_QUERY_ID, t.DNS_QUERY, t.DNS_RET_CODE])).toEqual(ids.map((i) => [i, `${i}.google.com`, 3]));
    expect(r.fields).toMatchObject({ DNS_QUERY: '0.google.com', DNS_QUERY_ID: 0, DNS_RET_CODE: 3 });
  });

  it('the same transactions whatever the chunk boundaries (every split of the stream in two and in three)', () => {
    const stream = framed(query(1, 'a.example')) + framed(query(2, 'bb.example')) + framed(query(3, 'ccc.example'));
    const back = framed(answer(2, 'bb.example', '192.0.2.2')) + framed(answer(1, 'a.example', '192.0.2.1')) + framed(nxdomain(3, 'ccc.example'));
    const whole = run([c2s(stream), s2c(back)]);
    expect(txns(whole)).toHaveLength(3);
    const n = stream.length / 2;
    for (let i = 1; i < n; i++) {
      const r = run([...cut(stream, i).map((h) => c2s(h)), s2c(back)]);
      expect(r.anomalies).toEqual([]);
      expect(r.fields).toEqual(whole.fields);
      const j = Math.min(n - 1, i + 7);
      const r3 = run([...cut(stream, i, j).map((h) => c2s(h)), ...cut(back, Math.floor(i / 2)).map((h) => s2c(h))]);
      expect(r3.fields).toEqual(whole.fields);
    }
  });

  it('a length prefix split byte by byte, a message arriving one byte at a time', () => {
    const msg = framed(query(77, 'slow.example', 16));
    const r = run(cut(msg, ...[...Array(msg.length / 2 - 1).keys()].map((i) => i + 1)).map((h) => c2s(h)));
    expect(r.anomalies).toEqual([]);
    expect(txns(r)).toEqual([{ DNS_QUERY: 'slow.example', DNS_QUERY_ID: 77, DNS_QUERY_TYPE: 16 }]);
  });

  it('a message of 16 KiB and more: parsed from its first 16 KiB, the cap named, not a truncation', () => {
    const txt = (s: string): string => h8(s.length) + ascii(s);
    const answers = [...Array(70).keys()].map((i) => rr(ptr(12), 16, 5, txt(String(i).padStart(3, '0') + 'x'.repeat(240))));
    const big = header(9, 0x8180, 1, 70) + question('big.example', 16) + answers.join('');
    expect(big.length / 2).toBeGreaterThan(16384);
    const r = run([c2s(framed(query(9, 'big.example', 16))), s2c(framed(big)), c2s(framed(query(10, 'after.example')))]);
    expect(r.anomalies).toEqual(['dns_tcp_message_cap']);
    expect(txns(r)[0]).toMatchObject({ DNS_QUERY: 'big.example', DNS_QUERY_ID: 9, DNS_RET_CODE: 0, DNS_NUM_ANSWERS: 70, DNS_TTL_ANSWER: 5 });
    expect(String(txns(r)[0].DNS_RESPONSE)).toMatch(/^TXT "000x{240}",TXT "001x/);
    // The framing holds after it: the next query is read.
    expect(txns(r)[1]).toEqual({ DNS_QUERY: 'after.example', DNS_QUERY_ID: 10, DNS_QUERY_TYPE: 1 });
  });
});

describe('DNS over TCP: bad input', () => {
  it('a length below the 12-byte header: named, those bytes skipped, the next message read', () => {
    const r = run([c2s('0005' + 'aabbccddee' + '0000' + framed(query(5, 'next.example')))]);
    expect(r.anomalies).toEqual(['dns_tcp_bad_length']);
    expect(txns(r)).toEqual([{ DNS_QUERY: 'next.example', DNS_QUERY_ID: 5, DNS_QUERY_TYPE: 1 }]);
  });

  it('bytes inside the length after the message: dns_tcp_trailing_bytes, the message kept', () => {
    const q = query(6, 'pad.example');
    const r = run([c2s(h16(q.length / 2 + 4) + q + 'deadbeef'), c2s(framed(query(7, 'ok.example')))]);
    expect(r.anomalies).toEqual(['dns_tcp_trailing_bytes']);
    expect(txns(r).map((t) => t.DNS_QUERY)).toEqual(['pad.example', 'ok.example']);
  });

  it('a framed message that is not DNS: dns_tcp_bad_message, the rest of the chunk dropped, resync at a chunk that starts with a message', () => {
    const garbage = framed('ffff' + 'ffff' + noise(3, 40)); // Z bit set, opcode 15: not DNS
    const r = run([
      c2s(framed(query(1, 'one.example'))),
      c2s(garbage + framed(query(2, 'lost.example'))), // after the bad one the framing is not trusted
      c2s('0102' + noise(4, 30)), // a chunk that does not start with a DNS message
      c2s(framed(query(3, 'three.example'))),
    ]);
    expect(r.anomalies).toEqual(['dns_tcp_bad_message']);
    expect(txns(r).map((t) => t.DNS_QUERY)).toEqual(['one.example', 'three.example']);
  });

  it('damaged or bare DNS messages after detection are still DNS: recorded, the parser names the damage', () => {
    const formerr = header(0x2222, 0x8181, 0); // FORMERR without a question (RFC 1035 §4.1.1)
    const badPtr = header(3, 0x8180, 1, 1) + question('p.example', 1) + rr(ptr(500), 1, 9, ipv4hex('192.0.2.3'));
    const r = run([c2s(framed(query(1, 'q.example'))), s2c(framed(formerr) + framed(badPtr)), c2s(framed(query(4, 'after.example')))]);
    expect(r.anomalies).toEqual(['dns_bad_pointer']);
    expect(txns(r).map((t) => [t.DNS_QUERY_ID, t.DNS_QUERY, t.DNS_RET_CODE])).toEqual([
      [1, 'q.example', undefined],
      [0x2222, undefined, 1],
      [3, 'p.example', 0],
      [4, 'after.example', undefined],
    ]);
  });

  it('the flow ending inside a message: named, what came of it parsed', () => {
    const msg = framed(answer(8, 'cut.example', '192.0.2.8'));
    const r = run([c2s(framed(query(8, 'cut.example'))), s2c(msg.slice(0, msg.length - 6))]);
    expect(r.anomalies).toEqual(['dns_tcp_truncated_message']);
    expect(txns(r)).toEqual([{ DNS_QUERY: 'cut.example', DNS_QUERY_ID: 8, DNS_QUERY_TYPE: 1, DNS_RET_CODE: 0, DNS_NUM_ANSWERS: 1, DNS_TTL_ANSWER: 0, DNS_RESPONSE: '' }]);
    // Only a length prefix's first byte: named too, nothing recorded.
    const r2 = run([c2s('00')]);
    expect(r2.anomalies).toEqual(['dns_tcp_truncated_message']);
    expect(r2.fields).toEqual({});
  });

  it('transactions are capped at 64, the cap named once', () => {
    const qs = [...Array(70).keys()].map((i) => framed(query(i, `q${i}.example`))).join('');
    const r = run([c2s(qs)]);
    expect(txns(r)).toHaveLength(64);
    expect(txns(r)[63].DNS_QUERY).toBe('q63.example');
    expect(r.anomalies).toEqual(['dns_transactions_cap']);
  });

  it('an over-long question name (RFC 1035 §2.3.4) is named and the message kept without the name', () => {
    const long = [...Array(12).keys()].map(() => 'x'.repeat(30)).join('.');
    const q = header(0x08ae, 0x0100, 1) + question(long, 16);
    const r = run([c2s(framed(q))]);
    expect(r.probe).toEqual([true]);
    expect(r.anomalies).toEqual(['dns_name_too_long']);
    expect(txns(r)).toEqual([{ DNS_QUERY_ID: 0x08ae }]);
    // The UDP probe refuses that message alone; over TCP the length frames it (see dns_tcp.cc).
    expect(dissectHex('DNS', [c2s(q)]).probe).toEqual([false]);
  });

  it('random chunks in both directions: no crash, only DNS anomaly names', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const ps: Payload[] = [];
      for (let i = 0; i < 12; i++) ps.push((i % 2 ? s2c : c2s)(noise(seed * 100 + i, 1 + ((seed * 37 + i * 11) % 300))));
      // Some start with a valid message so that framing and resync are exercised.
      ps.splice(3, 0, c2s(framed(query(seed, 'r.example')) + noise(seed, 17)));
      const r = run(ps);
      for (const a of r.anomalies) expect(a).toMatch(/^dns_/);
    }
  });
});

describe('DNS over TCP: detection (the client side of probe_stream)', () => {
  const probe = (hex: string): boolean => run([c2s(hex)]).probe[0];

  it('recognises framed queries and responses', () => {
    expect(probe(framed(query(1, 'example.com')))).toBe(true);
    expect(probe(framed(answer(1, 'example.com', '192.0.2.1')))).toBe(true);
    // Several pipelined queries, or the first of them cut by the end of what was seen.
    expect(probe(framed(query(1, 'a.example')) + framed(query(2, 'b.example')))).toBe(true);
  });

  it('does not label other bytes', () => {
    expect(probe(query(1, 'example.com'))).toBe(false); // DNS without its length (UDP form)
    expect(probe(h16(60) + query(1, 'example.com') + noise(1, 60 - 29))).toBe(false); // the length frames more than the message
    expect(probe(ascii('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n'))).toBe(false);
    expect(probe(ascii('REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n'))).toBe(false);
    expect(probe('16030100a5010000a10303' + '11'.repeat(160))).toBe(false); // TLS ClientHello (DoT on 53)
    expect(probe('0008' + '0001000000000000')).toBe(false); // shorter than a header
    for (let seed = 1; seed <= 200; seed++) expect(probe(noise(seed, 200))).toBe(false);
  });
});

// ---- through the engine (CLI): both directions, gaps, client address ------------------------

/** A DNS-over-TCP connection (test/helpers/tcpconn.ts); strings are hex, one segment each. */
class Conn extends TcpConn {
  constructor(cport: number, sport: number, handshake = true) {
    super(cport, sport, { handshake, client: '192.0.2.10', server: '198.51.100.53' });
  }
  send(dir: 0 | 1, hex: string | Buffer): this {
    const b = typeof hex === 'string' ? Buffer.from(hex, 'hex') : hex;
    this.segment(dir, ACK | PSH, b);
    this.seq[dir] += b.length;
    return this;
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-dnstcp-'));
let nfile = 0;
function cli(c: Conn): ProbeFlow & Record<string, unknown> {
  const file = writePcap(c.frames, LINKTYPE.ETHERNET, path.join(tmp, `t${nfile++}.pcap`));
  const r = runCli(['-i', file, '-n', 'none', '--json-out', '-']);
  expect(r.status).toBe(0);
  const tcp = r.flows.filter((f) => f.PROTOCOL === 6);
  expect(tcp).toHaveLength(1);
  return tcp[0] as ProbeFlow & Record<string, unknown>;
}
const ftx = (f: Record<string, unknown>): Txn[] => (f.DNS_TRANSACTIONS as Txn[] | undefined) ?? [];
const anomalies = (f: Record<string, unknown>): string[] => (f.FLOW_ANOMALIES ? String(f.FLOW_ANOMALIES).split(',').sort() : []);

const describeCli = probeBuilt() ? describe : describe.skip;

describeCli('DNS over TCP through the CLI: detection', () => {
  it('off port 53, and from the server side alone (a capture started late); DNS_CLIENT is the asker', () => {
    const off = cli(new Conn(40001, 5300).c(framed(query(1, 'off.example'))).s(framed(answer(1, 'off.example', '192.0.2.1'))));
    expect(off).toMatchObject({ L7_PROTO: 5, DNS_QUERY: 'off.example', DNS_RESPONSE: 'A 192.0.2.1', DNS_CLIENT: '192.0.2.10' });
    // The first bytes seen are a response sent by 198.51.100.53: the client is its receiver.
    const late = cli(new Conn(40002, 53, false).s(framed(answer(2, 'late.example', '192.0.2.2'))).c(framed(query(3, 'next.example'))));
    expect(late.L7_PROTO).toBe(5);
    expect(late.DNS_CLIENT).toBe('192.0.2.10');
    expect(ftx(late).map((t) => t.DNS_QUERY)).toEqual(['late.example', 'next.example']);
  });

  it('other protocols and garbage on port 53 are not labelled DNS', () => {
    const cases = [
      new Conn(40010, 53).c(noise(1, 300)).s(noise(2, 300)),
      new Conn(40011, 53).c(ascii('GET / HTTP/1.1\r\nHost: x\r\n\r\n')).s(ascii('HTTP/1.1 200 OK\r\n\r\n')),
      new Conn(40012, 53).c('16030100a5010000a10303' + '11'.repeat(160)).s('160303004a020000460303' + '22'.repeat(80)),
      new Conn(40013, 53).c(query(1, 'udp-form.example')).s(answer(1, 'udp-form.example', '192.0.2.1')),
    ];
    for (const c of cases) {
      const f = cli(c);
      expect(f.L7_PROTO).not.toBe(5);
      expect(Object.keys(f).filter((k) => k.startsWith('DNS_'))).toEqual([]);
    }
  });
});

describeCli('DNS over TCP through the CLI: stream gaps', () => {
  it('a hole inside a response: that message is lost, the framing holds, the next pair is right', () => {
    const resp = framed(answer(1, 'one.example', '192.0.2.1'));
    const [head, mid, tail] = cut(resp, 20, 30);
    const f = cli(
      new Conn(40020, 53)
        .c(framed(query(1, 'one.example')) + framed(query(2, 'two.example')))
        .s(head)
        .skip(1, mid.length / 2)
        .s(tail + framed(answer(2, 'two.example', '192.0.2.2')))
        .ack(0),
    );
    expect(f.L7_PROTO).toBe(5);
    expect(anomalies(f)).toEqual(['dns_tcp_gap']);
    // The response's bytes before the hole (header and question) still answer query 1.
    expect(ftx(f).map((t) => [t.DNS_QUERY, t.DNS_RET_CODE, t.DNS_RESPONSE])).toEqual([
      ['one.example', 0, ''],
      ['two.example', 0, 'A 192.0.2.2'],
    ]);
  });

  it('a hole that takes a whole response: resync at the next segment, which starts a message', () => {
    const f = cli(
      new Conn(40021, 53)
        .c(framed(query(1, 'one.example')))
        .skip(1, framed(answer(1, 'one.example', '192.0.2.1')).length / 2)
        .c(framed(query(2, 'two.example')))
        .s(framed(answer(2, 'two.example', '192.0.2.2')))
        .ack(0),
    );
    expect(anomalies(f)).toEqual(['dns_tcp_gap']);
    expect(ftx(f).map((t) => [t.DNS_QUERY, t.DNS_RESPONSE])).toEqual([
      ['one.example', undefined],
      ['two.example', 'A 192.0.2.2'],
    ]);
  });

  it('a hole that takes a length prefix: nothing after it is misread until a segment starts with a message', () => {
    const a1 = framed(answer(1, 'one.example', '192.0.2.1'));
    const a2 = framed(answer(2, 'two.example', '192.0.2.2'));
    const f = cli(
      new Conn(40022, 53)
        .c(framed(query(1, 'one.example')) + framed(query(2, 'two.example')) + framed(query(3, 'three.example')))
        .s(a1.slice(0, 40))
        // The hole runs from inside answer 1 to the middle of answer 2's length prefix.
        .skip(1, a1.length / 2 - 20 + 1)
        .s(a2.slice(2))
        .s(framed(nxdomain(3, 'three.example')))
        .ack(0),
    );
    expect(anomalies(f)).toEqual(['dns_tcp_gap']);
    expect(ftx(f).map((t) => [t.DNS_QUERY, t.DNS_RET_CODE])).toEqual([
      ['one.example', 0],
      ['two.example', undefined],
      ['three.example', 3],
    ]);
  });
});

describeCli('DNS over TCP: the real captures', () => {
  it('tcpdump dns_tcp: one query, A answers, the client', () => {
    const f = runProbe('dns/tcpdump_dns_tcp.pcap').flows.filter((x) => x.PROTOCOL === 6) as Array<Record<string, unknown>>;
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({
      L7_PROTO: 5,
      DNS_QUERY: 'www.tcpdump.org',
      DNS_QUERY_ID: 0x4319,
      DNS_NUM_ANSWERS: 2,
      DNS_RESPONSE: 'A 192.139.46.66,A 198.199.88.104',
      DNS_TTL_ANSWER: 60,
      DNS_CLIENT: '192.168.1.11',
    });
    expect(f[0].FLOW_ANOMALIES).toBeUndefined();
  });

  it('suricata dns-tcp-multirequest: 20 queries in one segment, 20 NXDOMAIN', () => {
    const f = runProbe('dns/suricata_dns_tcp_multirequest.pcap').flows.filter((x) => x.PROTOCOL === 6) as Array<Record<string, unknown>>;
    expect(f).toHaveLength(1);
    expect(f[0].FLOW_ANOMALIES).toBeUndefined();
    expect(ftx(f[0]).map((t) => [t.DNS_QUERY_ID, t.DNS_QUERY, t.DNS_RET_CODE])).toEqual([...Array(20).keys()].map((i) => [i, `${i}.google.com`, 3]));
  });

  it('suricata dns-truncated-rname: DNS on port 1053, a 16 KiB query with 1500 over-long names', () => {
    const r = runProbe('malformed/suricata_dns_truncated_rname.pcap');
    expect(r.status).toBe(0);
    const f = r.flows.filter((x) => x.PROTOCOL === 6) as Array<Record<string, unknown>>;
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ L4_DST_PORT: 1053, L7_PROTO: 5, DNS_QUERY_ID: 0x08ae, DNS_CLIENT: '127.0.0.1' });
    expect(f[0].DNS_QUERY).toBeUndefined();
    expect(anomalies(f[0])).toEqual(['dns_name_too_long', 'dns_tcp_message_cap']);
  });
});
