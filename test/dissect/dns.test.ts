// DNS dissector (native/dissect/dns.cc) on hex input through the test-only binding, plus the
// client enrichment (src/geo.ts) and the CLI on the DNS and malformed captures.
import { noise as noiseBytes } from '../helpers/noise';
import { describe, expect, it } from '@jest/globals';
import * as path from 'path';

import { GeoDb } from '../../src/geo';
import { dissectHex, Payload } from '../helpers/dissect';
import { probeBuilt, ProbeFlow, ROOT, runCli, runProbe } from '../helpers/probe';

/** Deterministic bytes as hex (test/helpers/noise.ts). */
const noise = (seed: number, n: number): string => noiseBytes(seed, n).toString('hex');

// ---- message builders (RFC 1035 §4.1 layouts) ----
const h8 = (n: number): string => (n & 0xff).toString(16).padStart(2, '0');
const h16 = (n: number): string => (n & 0xffff).toString(16).padStart(4, '0');
const h32 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

/** A name in wire form, uncompressed; "" is the root. */
function wname(n: string): string {
  if (n === '') return '00';
  return n.split('.').map((l) => h8(l.length) + ascii(l)).join('') + '00';
}
const ptr = (off: number): string => h16(0xc000 | off);
const QUERY = 0x0100; // RD
const RESP = 0x8180; // QR RD RA, NOERROR
function header(id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): string {
  return h16(id) + h16(flags) + h16(qd) + h16(an) + h16(ns) + h16(ar);
}
const question = (n: string, type: number, cls = 1): string => wname(n) + h16(type) + h16(cls);
function rr(owner: string, type: number, ttl: number, rdata: string, cls = 1): string {
  return owner + h16(type) + h16(cls) + h32(ttl) + h16(rdata.length / 2) + rdata;
}
const ipv4 = (a: string): string => a.split('.').map((x) => h8(Number(x))).join('');
const txt = (...s: string[]): string => s.map((x) => h8(x.length) + ascii(x)).join('');

/** Offset of the question name in any message: right after the 12-byte header. */
const Q = 12;

function query(id: number, n: string, type: number): string {
  return header(id, QUERY, 1) + question(n, type);
}
/** A response repeating the question, answers given as already built records. */
function response(id: number, n: string, type: number, answers: string[], flags = RESP): string {
  return header(id, flags, 1, answers.length) + question(n, type) + answers.join('');
}

const up = (hex: string, extra: Partial<Payload> = {}): Payload => ({ dir: 0, hex, sport: 40000, dport: 53, ...extra });
const down = (hex: string, extra: Partial<Payload> = {}): Payload => ({ dir: 1, hex, sport: 53, dport: 40000, ...extra });
const run = (payloads: Payload[]) => dissectHex('DNS', payloads);
type Txn = Record<string, unknown>;
const txns = (r: ReturnType<typeof run>): Txn[] => (r.fields.DNS_TRANSACTIONS as Txn[]) ?? [];


describe('DNS message fields', () => {
  it('a query and its A response give every nProbe field', () => {
    const r = run([up(query(0x1234, 'www.example.com', 1)), down(response(0x1234, 'www.example.com', 1, [rr(ptr(Q), 1, 300, ipv4('93.184.216.34'))]))]);
    expect(r.probe).toEqual([true, true]);
    expect(r.l7).toBe(5);
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({
      DNS_QUERY: 'www.example.com',
      DNS_QUERY_ID: 0x1234,
      DNS_QUERY_TYPE: 1,
      DNS_RET_CODE: 0,
      DNS_NUM_ANSWERS: 1,
      DNS_TTL_ANSWER: 300,
      DNS_RESPONSE: 'A 93.184.216.34',
      // The test binding's packets carry no addresses; the capture tests below check real ones.
      DNS_CLIENT: '0.0.0.0',
      DNS_CLIENT_AS: 0,
      DNS_CLIENT_COUNTRY: '',
      DNS_CLIENT_CITY: '',
    });
    expect(txns(r)).toEqual([
      { DNS_QUERY: 'www.example.com', DNS_QUERY_ID: 0x1234, DNS_QUERY_TYPE: 1, DNS_RET_CODE: 0, DNS_NUM_ANSWERS: 1, DNS_TTL_ANSWER: 300, DNS_RESPONSE: 'A 93.184.216.34' },
    ]);
  });

  it('a query alone has no response fields', () => {
    const r = run([up(query(7, 'example.org', 28))]);
    expect(r.fields.DNS_QUERY).toBe('example.org');
    expect(r.fields.DNS_QUERY_TYPE).toBe(28);
    for (const k of ['DNS_RET_CODE', 'DNS_NUM_ANSWERS', 'DNS_TTL_ANSWER', 'DNS_RESPONSE']) expect(r.fields).not.toHaveProperty(k);
    expect(txns(r)).toEqual([{ DNS_QUERY: 'example.org', DNS_QUERY_ID: 7, DNS_QUERY_TYPE: 28 }]);
  });

  it('NXDOMAIN: return code 3, no answers, an empty answer text', () => {
    const soa = rr(ptr(Q + 5), 6, 900, wname('ns1.example') + wname('hostmaster.example') + h32(2024010101) + h32(7200) + h32(3600) + h32(1209600) + h32(300));
    const r = run([up(query(9, 'nope.example', 1)), down(header(9, 0x8183, 1, 0, 1) + question('nope.example', 1) + soa)]);
    expect(r.fields).toMatchObject({ DNS_RET_CODE: 3, DNS_NUM_ANSWERS: 0, DNS_TTL_ANSWER: 0, DNS_RESPONSE: '' });
    expect(r.anomalies).toEqual([]);
  });

  it('a real MX response (arkime dns-wiresharkrepo frame 4): compressed names, additional records not in the answer text', () => {
    const hex =
      'f76f8180000100060000000606676f6f676c6503636f6d00000f0001c00c000f000100000228000a002805736d747034c00cc00c000f000100000228000a000a05736d747035c00cc00c000f000100000228000a000a05736d747036c00cc00c000f000100000228000a000a05736d747031c00cc00c000f000100000228000a000a05736d747032c00cc00c000f000100000228000a002805736d747033c00cc02a00010001000002580004d8ef251ac0400001000100000258000440e9a719c0560001000100000258000442660919c06c00010001000002580004d8ef3919c08200010001000002580004d8ef2519c09800010001000002580004d8ef391a';
    const r = run([down(hex)]);
    expect(r.probe).toEqual([true]);
    expect(r.fields.DNS_RESPONSE).toBe('MX 40 smtp4.google.com,MX 10 smtp5.google.com,MX 10 smtp6.google.com,MX 10 smtp1.google.com,MX 10 smtp2.google.com,MX 40 smtp3.google.com');
    expect(r.fields.DNS_NUM_ANSWERS).toBe(6);
    // No A/AAAA answer: the first answer's TTL (the A records at TTL 600 are additional).
    expect(r.fields.DNS_TTL_ANSWER).toBe(552);
    expect(r.fields.DNS_QUERY).toBe('google.com');
  });

  it('renders every answer type it knows, and unknown ones in RFC 3597 form', () => {
    const n = ptr(Q);
    const answers = [
      rr(n, 5, 60, wname('alias.example.net')), // CNAME
      rr(n, 1, 120, ipv4('192.0.2.1')), // A: its TTL is DNS_TTL_ANSWER, not the CNAME's
      rr(n, 28, 130, '20010db8000000000000000000000001'), // AAAA, RFC 5952 text
      rr(n, 2, 1, wname('ns1.example.net')), // NS
      rr(n, 12, 1, wname('host.example.net')), // PTR
      rr(n, 15, 1, h16(10) + wname('mx.example.net')), // MX
      rr(n, 16, 1, txt('v=spf1 -all', 'say "hi", \\ok')), // TXT, two strings, quotes and a comma
      rr(n, 33, 1, h16(0) + h16(5) + h16(5060) + wname('sip.example.net')), // SRV
      rr(n, 6, 1, wname('ns.example.net') + wname('admin.example.net') + h32(1) + h32(2) + h32(3) + h32(4) + h32(5)), // SOA
      rr(n, 99, 1, txt('spf')), // SPF (TXT form)
      rr(n, 65, 1, '0001000001'), // HTTPS: generic form
      rr(n, 4660, 1, 'beef'), // unassigned type 0x1234
    ];
    const r = run([down(response(1, 'example.com', 255, answers))]);
    expect(r.anomalies).toEqual([]);
    expect(r.fields.DNS_TTL_ANSWER).toBe(120);
    expect(r.fields.DNS_NUM_ANSWERS).toBe(12);
    expect((r.fields.DNS_RESPONSE as string).split(/,(?=[A-Z])/)).toEqual([
      'CNAME alias.example.net',
      'A 192.0.2.1',
      'AAAA 2001:db8::1',
      'NS ns1.example.net',
      'PTR host.example.net',
      'MX 10 mx.example.net',
      'TXT "v=spf1 -all" "say \\"hi\\", \\\\ok"',
      'SRV 0 5 5060 sip.example.net',
      'SOA ns.example.net admin.example.net 1 2 3 4 5',
      'SPF "spf"',
      'HTTPS \\# 5 0001000001',
      'TYPE4660 \\# 2 beef',
    ]);
  });

  it('names in presentation form: "." and "\\" escaped, other bytes as \\DDD; the root is ""', () => {
    const odd = h8(3) + ascii('a.b') + h8(4) + '20ff5c41' + wname('example'); // "a.b", " \xff\A", example
    const r = run([up(header(1, QUERY, 1) + odd + h16(1) + h16(1))]);
    expect(r.fields.DNS_QUERY).toBe('a\\.b.\\032\\255\\\\A.example');
    const root = run([up(query(2, '', 2))]);
    expect(root.probe).toEqual([true]);
    expect(root.fields.DNS_QUERY).toBe('');
    expect(root.fields.DNS_QUERY_TYPE).toBe(2);
  });


  it('the longest name text: 255 wire bytes that all need \\DDD (the parser builds it on the stack)', () => {
    // Labels of 63, 63, 63 and 61 bytes + 4 length bytes + the zero = 255, the most allowed.
    const label = (n: number, byte: number): string => h8(n) + h8(byte).repeat(n);
    const name = label(63, 0xff) + label(63, 0x00) + label(63, 0x2e) + label(61, 0x7f) + '00';
    const want = ['\\255'.repeat(63), '\\000'.repeat(63), '\\.'.repeat(63), '\\127'.repeat(61)].join('.');
    const q = header(7, QUERY, 1) + name + h16(1) + h16(1);
    const r = run([up(q), down(header(7, RESP, 1, 1) + name + h16(1) + h16(1) + rr(ptr(Q), 5, 60, name))]);
    expect(r.anomalies).toEqual([]);
    expect(r.fields.DNS_QUERY).toBe(want);
    expect((r.fields.DNS_QUERY as string).length).toBe(63 * 4 * 2 + 63 * 2 + 61 * 4 + 3);
    // The CNAME's target is the same name, rendered inside the answer text (cut at 1 KiB).
    expect(r.fields.DNS_RESPONSE).toBe(('CNAME ' + want).slice(0, 1024));
    expect(txns(r)).toHaveLength(1);
  });

  it('two queries of the same length with other names are two transactions (the probe keeps only its own parse)', () => {
    const r = run([up(query(1, 'aaaa.example', 1)), up(query(1, 'bbbb.example', 1)), down(response(1, 'bbbb.example', 1, [rr(ptr(Q), 1, 30, ipv4('192.0.2.9'))]))]);
    expect(txns(r).map((t) => [t.DNS_QUERY, t.DNS_RESPONSE])).toEqual([
      ['aaaa.example', undefined],
      ['bbbb.example', 'A 192.0.2.9'],
    ]);
  });
  it('follows a pointer chain inside RDATA to an earlier name', () => {
    // CNAME target "cdn" + pointer to "example.com" of the question (offset 12 + 4 = "example").
    const cname = rr(ptr(Q), 5, 30, h8(3) + ascii('cdn') + ptr(Q + 4));
    const a = rr(ptr(12 + 17 + 4 + 12), 1, 40, ipv4('198.51.100.7')); // owner: the CNAME's target
    const r = run([down(response(3, 'www.example.com', 1, [cname, a]))]);
    expect(r.anomalies).toEqual([]);
    expect(r.fields.DNS_RESPONSE).toBe('CNAME cdn.example.com,A 198.51.100.7');
    expect(r.fields.DNS_TTL_ANSWER).toBe(40);
  });

  it('the first question is the query; a second one is walked past', () => {
    const m = header(5, QUERY, 2) + question('one.example', 1) + question('two.example', 28);
    const r = run([up(m)]);
    expect(r.probe).toEqual([true]);
    expect(r.fields).toMatchObject({ DNS_QUERY: 'one.example', DNS_QUERY_TYPE: 1 });
  });
});

describe('transactions', () => {
  it('a resolver port reused for several queries: responses matched by id and question, out of order', () => {
    const r = run([
      up(query(1, 'a.example', 1)),
      up(query(2, 'b.example', 28)),
      up(query(3, 'c.example', 15)),
      down(response(3, 'c.example', 15, [rr(ptr(Q), 15, 50, h16(5) + wname('mx.c.example'))])),
      down(response(1, 'a.example', 1, [rr(ptr(Q), 1, 10, ipv4('192.0.2.10'))])),
      down(response(2, 'b.example', 28, [], 0x8183)),
    ]);
    expect(txns(r)).toEqual([
      { DNS_QUERY: 'a.example', DNS_QUERY_ID: 1, DNS_QUERY_TYPE: 1, DNS_RET_CODE: 0, DNS_NUM_ANSWERS: 1, DNS_TTL_ANSWER: 10, DNS_RESPONSE: 'A 192.0.2.10' },
      { DNS_QUERY: 'b.example', DNS_QUERY_ID: 2, DNS_QUERY_TYPE: 28, DNS_RET_CODE: 3, DNS_NUM_ANSWERS: 0, DNS_TTL_ANSWER: 0, DNS_RESPONSE: '' },
      { DNS_QUERY: 'c.example', DNS_QUERY_ID: 3, DNS_QUERY_TYPE: 15, DNS_RET_CODE: 0, DNS_NUM_ANSWERS: 1, DNS_TTL_ANSWER: 50, DNS_RESPONSE: 'MX 5 mx.c.example' },
    ]);
    // The flat fields are the first transaction's.
    expect(r.fields).toMatchObject({ DNS_QUERY: 'a.example', DNS_QUERY_ID: 1, DNS_RESPONSE: 'A 192.0.2.10' });
  });

  it('the same id with another question is another transaction; names match without case', () => {
    const r = run([
      up(query(77, 'x.example', 1)),
      up(query(77, 'y.example', 1)),
      down(response(77, 'Y.EXAMPLE', 1, [rr(ptr(Q), 1, 5, ipv4('192.0.2.99'))])),
    ]);
    const t = txns(r);
    expect(t).toHaveLength(2);
    expect(t[0]).toEqual({ DNS_QUERY: 'x.example', DNS_QUERY_ID: 77, DNS_QUERY_TYPE: 1 });
    expect(t[1]).toMatchObject({ DNS_QUERY: 'y.example', DNS_RESPONSE: 'A 192.0.2.99' });
  });

  it('a retransmitted query stays one transaction; a response without its query is one of its own', () => {
    const r = run([
      up(query(10, 'r.example', 1)),
      up(query(10, 'r.example', 1)),
      down(response(10, 'r.example', 1, [rr(ptr(Q), 1, 7, ipv4('192.0.2.7'))])),
      down(response(11, 'orphan.example', 1, [rr(ptr(Q), 1, 8, ipv4('192.0.2.8'))])),
    ]);
    expect(txns(r).map((t) => [t.DNS_QUERY, t.DNS_QUERY_ID, t.DNS_RESPONSE])).toEqual([
      ['r.example', 10, 'A 192.0.2.7'],
      ['orphan.example', 11, 'A 192.0.2.8'],
    ]);
  });

  it('a flow seen from the response only still has the query fields (from the echoed question)', () => {
    const r = run([down(response(0xbeef, 'late.example', 16, [rr(ptr(Q), 16, 99, txt('hello'))]))]);
    expect(r.fields).toMatchObject({ DNS_QUERY: 'late.example', DNS_QUERY_ID: 0xbeef, DNS_QUERY_TYPE: 16, DNS_RESPONSE: 'TXT "hello"', DNS_TTL_ANSWER: 99 });
  });

  it('at most 64 transactions per flow, the cap counted once as dns_transactions_cap', () => {
    const p: Payload[] = [];
    for (let i = 0; i < 70; i++) p.push(up(query(i, `q${i}.example`, 1)));
    const r = run(p);
    expect(txns(r)).toHaveLength(64);
    expect(txns(r)[63].DNS_QUERY).toBe('q63.example');
    expect(r.anomalies).toEqual(['dns_transactions_cap']);
  });

  it('the text kept per flow is bounded (dns_flow_text_cap) before 64 large transactions fill it', () => {
    // Each response carries ~1 KiB of TXT: 32 KiB of text is reached well before 64.
    const big = 'x'.repeat(250);
    const p: Payload[] = [];
    for (let i = 0; i < 60; i++) {
      p.push(up(query(i, `t${i}.example`, 16)));
      p.push(down(response(i, `t${i}.example`, 16, [rr(ptr(Q), 16, 1, txt(big, big, big, big))])));
    }
    const r = run(p);
    expect(r.anomalies).toEqual(['dns_flow_text_cap']);
    const n = txns(r).length;
    expect(n).toBeGreaterThan(20);
    expect(n).toBeLessThan(40);
    for (const t of txns(r)) expect((t.DNS_RESPONSE as string).length).toBeLessThanOrEqual(1024);
    expect(r.fields.DNS_RESPONSE).toBe(txns(r)[0].DNS_RESPONSE);
  });
});

describe('malformed messages: named anomalies, no crash', () => {
  it('tcpdump dns-zlip-1: a pointer to itself is a compression loop, and not DNS for the probe', () => {
    // The capture's UDP payload (its UDP length field says 0 payload bytes, so the probe never
    // sees these bytes from the capture itself).
    const zlip = 'ed6900000001000000000000c00cc007c010c017c020c027c030c0ffcf00000001 0001';
    const r = run([up(zlip)]);
    expect(r.probe).toEqual([false]);
    expect(r.anomalies).toEqual(['dns_compression_loop']);
    expect(r.fields).not.toHaveProperty('DNS_QUERY');
  });

  it('a loop through labels (pointer back to the start of its own name) is a loop too', () => {
    const m = header(1, QUERY, 1) + h8(3) + ascii('abc') + ptr(Q) + h16(1) + h16(1);
    expect(run([up(m)]).anomalies).toEqual(['dns_compression_loop']);
  });

  it('a chain of more than 16 pointers without a loop hits the hop cap', () => {
    // 18 pointers each pointing at the previous one, the first at a real name; the question
    // (last) points at the end of the chain. They sit in an answer record's RDATA area.
    let blob = wname('deep.example'); // offset 12 + 4 (after a fake question) ...
    // Layout: header | question "x" A IN | answer owner=root type NULL(10) rdata=[name + pointers]
    const qsec = question('x', 1);
    const rdataStart = 12 + qsec.length / 2 + 1 + 10; // owner "00" then type/class/ttl/rdlength
    const offs: number[] = [rdataStart];
    let at = rdataStart + blob.length / 2;
    for (let i = 0; i < 18; i++) {
      blob += ptr(offs[offs.length - 1]);
      offs.push(at);
      at += 2;
    }
    const cname = rr(ptr(Q), 5, 1, ptr(offs[offs.length - 1]));
    const m = header(1, RESP, 1, 2) + qsec + rr('00', 10, 1, blob) + cname;
    const r = run([down(m)]);
    expect(r.anomalies).toEqual(['dns_compression_hops_cap']);
    // The NULL record still renders; the CNAME whose name could not be read is left out.
    expect(r.fields.DNS_RESPONSE).toMatch(/^NULL|^TYPE10 /);
    expect(r.fields.DNS_RESPONSE).not.toContain('CNAME');
    // 16 hops are fine: the CNAME's own pointer and 15 of the chain resolve.
    const ok = header(1, RESP, 1, 2) + qsec + rr('00', 10, 1, blob) + rr(ptr(Q), 5, 1, ptr(offs[15]));
    const r2 = run([down(ok)]);
    expect(r2.anomalies).toEqual([]);
    expect(r2.fields.DNS_RESPONSE).toContain('CNAME deep.example');
  });

  it('a pointer past the end of the message: dns_bad_pointer', () => {
    const m = header(1, QUERY, 1) + ptr(0x3fff) + h16(1) + h16(1);
    const r = run([up(m)]);
    expect(r.probe).toEqual([false]);
    expect(r.anomalies).toEqual(['dns_bad_pointer']);
  });

  it('a name over 255 bytes: dns_name_too_long', () => {
    const long = Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.');
    const r = run([up(query(1, long, 1))]);
    expect(r.probe).toEqual([false]);
    expect(r.anomalies).toEqual(['dns_name_too_long']);
    // 4 labels of 62 + the zero = 253 bytes: fine.
    expect(run([up(query(1, Array.from({ length: 4 }, () => 'b'.repeat(62)).join('.'), 1))]).anomalies).toEqual([]);
  });

  it('a name that is only too long is walked to its end: the records after it are still read (ndpi malformed_dns)', () => {
    const long = Array.from({ length: 5 }, () => 'A'.repeat(60)).join('.');
    const a = rr(ptr(Q), 1, 0, ipv4('66.66.66.66'));
    const second = run([down(header(0x84b4, RESP, 2, 1) + question('www.xt.com', 1) + question(long, 1) + a)]);
    expect(second.anomalies).toEqual(['dns_name_too_long']);
    expect(second.fields).toMatchObject({ DNS_QUERY: 'www.xt.com', DNS_RESPONSE: 'A 66.66.66.66', DNS_NUM_ANSWERS: 1 });
    // The first question too long: no DNS_QUERY, the answers still there.
    const first = run([down(header(0x84b4, RESP, 1, 1) + question(long, 1) + rr(wname('x'), 1, 3, ipv4('192.0.2.3')))]);
    expect(first.anomalies).toEqual(['dns_name_too_long']);
    expect(first.fields).not.toHaveProperty('DNS_QUERY');
    expect(first.fields).toMatchObject({ DNS_QUERY_ID: 0x84b4, DNS_RESPONSE: 'A 192.0.2.3' });
    // A too-long owner name in the answer section: that record is still rendered.
    const owner = run([down(header(1, RESP, 1, 2) + question('y.example', 1) + rr(wname(long), 1, 4, ipv4('192.0.2.4')) + rr(ptr(Q), 1, 5, ipv4('192.0.2.5')))]);
    expect(owner.fields.DNS_RESPONSE).toBe('A 192.0.2.4,A 192.0.2.5');
    expect(owner.anomalies).toEqual(['dns_name_too_long']);
  });

  it('a compression loop in the question leaves the rest of the message readable', () => {
    // The question's name is a pointer to itself; the answer after it is fine.
    const m = header(2, RESP, 1, 1) + ptr(Q) + h16(1) + h16(1) + rr(ptr(Q + 6), 1, 9, ipv4('192.0.2.9'));
    const r = run([down(m)]);
    expect(r.anomalies).toEqual(['dns_compression_loop']);
    expect(r.probe).toEqual([false]);
    expect(r.fields).toMatchObject({ DNS_QUERY_ID: 2, DNS_RESPONSE: 'A 192.0.2.9' });
    expect(r.fields).not.toHaveProperty('DNS_QUERY');
  });

  it('reserved label types 0x40 / 0x80: dns_bad_label_type', () => {
    for (const lead of ['41', '81']) {
      const r = run([up(header(1, QUERY, 1) + lead + '00'.repeat(8))]);
      expect(r.anomalies).toEqual(['dns_bad_label_type']);
      expect(r.probe).toEqual([false]);
    }
  });

  it('truncation at each level has its own name', () => {
    const q = query(1, 'www.example.com', 1);
    expect(run([up(q.slice(0, 22))]).anomalies).toEqual(['dns_truncated_header']);
    expect(run([up(q.slice(0, 30))]).anomalies).toEqual(['dns_truncated_name']);
    expect(run([up(q.slice(0, q.length - 4))]).anomalies).toEqual(['dns_truncated_question']);
    const resp = response(1, 'www.example.com', 1, [rr(ptr(Q), 1, 300, ipv4('192.0.2.1'))]);
    const cutRr = run([down(resp.slice(0, resp.length - 6))]);
    expect(cutRr.anomalies).toEqual(['dns_truncated_rr']);
    // Cut after the question: still DNS (a capture snap length can do that), and the query is kept.
    expect(cutRr.probe).toEqual([true]);
    expect(cutRr.fields.DNS_QUERY).toBe('www.example.com');
    expect(run([down(resp.slice(0, resp.length - 20))]).anomalies).toEqual(['dns_truncated_rr']);
    const empty = run([up('')]);
    expect(empty.anomalies).toEqual(['dns_truncated_header']);
    expect(empty.fields).toEqual({});
  });

  it('RDATA that does not fit its type: dns_bad_rdata, that record left out, the others kept', () => {
    const answers = [
      rr(ptr(Q), 1, 5, ipv4('192.0.2.1') + '00'), // A with 5 bytes
      rr(ptr(Q), 28, 5, '2001'), // AAAA with 2
      rr(ptr(Q), 5, 5, wname('x.example') + 'ff'), // a name not filling its RDATA
      rr(ptr(Q), 5, 5, h8(9) + ascii('cut')), // a name running past RDLENGTH
      rr(ptr(Q), 16, 5, ''), // empty TXT
      rr(ptr(Q), 1, 6, ipv4('192.0.2.2')),
    ];
    const r = run([down(response(1, 'example.com', 1, answers))]);
    expect(r.anomalies).toEqual(['dns_bad_rdata']);
    expect(r.fields.DNS_RESPONSE).toBe('A 192.0.2.2');
    expect(r.fields.DNS_NUM_ANSWERS).toBe(6);
    expect(r.fields.DNS_TTL_ANSWER).toBe(5); // the first A record's TTL, even with bad RDATA
  });

  it('names decoded per message are capped (dns_names_cap): the rest of the answers is walked, not rendered', () => {
    const answers: string[] = [];
    for (let i = 0; i < 70; i++) answers.push(rr(ptr(Q), 5, 1, h8(1) + ascii('a') + '00'));
    const r = run([down(response(1, 'n.example', 5, answers))]);
    expect(r.anomalies).toEqual(['dns_names_cap']);
    // The question's name is the first of 64: 63 CNAME targets rendered.
    expect((r.fields.DNS_RESPONSE as string).split(',')).toHaveLength(63);
    expect(r.fields.DNS_NUM_ANSWERS).toBe(70);
  });

  it('absurd counts end at the end of the message', () => {
    const m = header(1, RESP, 0xffff, 0xffff, 0xffff, 0xffff) + question('a.example', 1);
    const r = run([down(m)]);
    expect(r.anomalies.every((a) => a.startsWith('dns_truncated_'))).toBe(true);
    expect(r.probe).toEqual([false]); // the question section itself is cut
  });

  it('random payloads never crash and never come out as anything but named anomalies', () => {
    const names = new Set<string>();
    for (let s = 1; s <= 300; s++) {
      const r = run([up(noise(s, 12 + (s % 90))), down(noise(s * 7919, s % 40))]);
      r.anomalies.forEach((a) => names.add(a));
    }
    for (const n of names) expect(n).toMatch(/^dns_[a-z0-9_]+$/);
  });
});

describe('probe: by payload, on any port', () => {
  const mdnsAnnounce =
    header(0, 0x8400, 0, 1) + rr(wname('printer.local'), 1, 120, ipv4('192.168.1.50'), 0x8001); // cache-flush bit set

  it('recognises DNS off port 53: mDNS (5353) answers without a question, a query on 1053, LLMNR', () => {
    expect(run([{ dir: 0, hex: mdnsAnnounce, sport: 5353, dport: 5353 }]).probe).toEqual([true]);
    expect(run([up(query(1, 'x.example', 1), { dport: 1053 })]).probe).toEqual([true]);
    expect(run([up(query(1, 'wpad', 1), { sport: 60000, dport: 5355 })]).probe).toEqual([true]);
    const q = run([{ dir: 0, hex: header(0, 0, 1) + question('_ipp._tcp.local', 12, 0x8001), sport: 5353, dport: 5353 }]);
    expect(q.probe).toEqual([true]);
    expect(q.fields.DNS_QUERY).toBe('_ipp._tcp.local');
  });

  it('rejects random bytes on port 53', () => {
    let accepted = 0;
    for (let s = 1; s <= 2000; s++) if (run([up(noise(s, 20 + (s % 200)))]).probe[0]) accepted++;
    expect(accepted).toBe(0);
  });

  it('rejects other protocols on port 53 (HTTP, SIP, TLS, a DHCP message)', () => {
    const http = ascii('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n');
    const sip = ascii('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n\r\n');
    const tls = '160301020001' + '0001fc0303' + noise(5, 100);
    const dhcp = '01010600' + '12345678' + '0000' + '0000' + '00'.repeat(16) + '001122334455' + '00'.repeat(202) + '63825363' + '350101ff';
    for (const hex of [http, sip, tls, dhcp]) expect(run([up(hex)]).probe).toEqual([false]);
  });

  it('rejects headers that DNS does not send', () => {
    const q = question('a.example', 1);
    expect(run([up(header(1, 0x0101, 1) + q)]).probe).toEqual([false]); // a query with an error code
    expect(run([up(header(1, 0x0140, 1) + q)]).probe).toEqual([false]); // Z bit
    expect(run([up(header(1, 0x1800, 1) + q)]).probe).toEqual([false]); // opcode 3 (unassigned)
    expect(run([up(header(1, QUERY, 0))]).probe).toEqual([false]); // a query asking nothing
    expect(run([down(header(1, RESP, 0))]).probe).toEqual([false]); // a bare header
    expect(run([up(header(1, QUERY, 1) + wname('a.example') + h16(1) + h16(77))]).probe).toEqual([false]); // class 77
    expect(run([up(header(1, 0x2800, 1) + q)]).probe).toEqual([true]); // UPDATE (opcode 5)
    expect(run([up(header(1, 0x2000, 1) + q)]).probe).toEqual([true]); // NOTIFY (opcode 4)
  });

  it('NetBIOS name service (same wire format) is not DNS', () => {
    // Name query for "WORKGROUP<1b>" in NetBIOS first-level encoding (RFC 1002 §4.1).
    const nb = 'FHEPFCELEHFCEPFFFACACACACACACABL';
    const nbq = header(0x8012, 0x0110, 1) + h8(32) + ascii(nb) + '00' + h16(0x20) + h16(1);
    expect(run([{ dir: 0, hex: nbq, sport: 137, dport: 137 }]).probe).toEqual([false]);
    expect(run([up(nbq)]).probe).toEqual([false]); // its encoding alone is enough
    // A damaged NetBIOS name on port 137 (a byte outside 'A'..'P') is still not DNS.
    const bad = nbq.replace(ascii('FHEP'), ascii('FHxP'));
    expect(run([{ dir: 0, hex: bad, sport: 137, dport: 137 }]).probe).toEqual([false]);
    // ... while the same bytes off port 137 parse as an (odd) DNS query.
    expect(run([up(bad)]).probe).toEqual([true]);
  });
});

describe('client enrichment (src/geo.ts, --as-list / --city-list)', () => {
  const FIX = path.join(ROOT, 'test', 'fixtures', 'geo');
  const db = GeoDb.open({ asList: path.join(FIX, 'test-asn.mmdb'), cityList: path.join(FIX, 'test-city.mmdb') })!;

  it('looks up AS, country and city for IPv4 and IPv6 clients; unknown is 0 / ""', () => {
    expect(db.lookup('192.0.2.77')).toEqual({ as: 64500, country: 'IT', city: 'Florence' });
    expect(db.lookup('2001:470:1f11:81f::1')).toEqual({ as: 64510, country: 'US', city: 'San Francisco' });
    expect(db.lookup('198.51.100.1')).toEqual({ as: 0, country: 'IT', city: '' });
    expect(db.lookup('203.0.113.1')).toEqual({ as: 0, country: '', city: '' });
    expect(db.lookup('2001:db8::5')).toEqual({ as: 64511, country: '', city: '' });
  });

  it('fills only DNS flows, and only when DNS_CLIENT is known', () => {
    const dns: Record<string, unknown> = { L7_PROTO: 5, DNS_CLIENT: '192.0.2.1', DNS_CLIENT_AS: 0, DNS_CLIENT_COUNTRY: '', DNS_CLIENT_CITY: '' };
    db.enrich(dns);
    expect(dns).toMatchObject({ DNS_CLIENT_AS: 64500, DNS_CLIENT_COUNTRY: 'IT', DNS_CLIENT_CITY: 'Florence' });
    const other: Record<string, unknown> = { L7_PROTO: 18, DNS_CLIENT: '192.0.2.1' };
    db.enrich(other);
    expect(other).not.toHaveProperty('DNS_CLIENT_AS');
  });

  it('one database alone: the other fields stay 0 / ""', () => {
    const asOnly = GeoDb.open({ asList: path.join(FIX, 'test-asn.mmdb') })!;
    expect(asOnly.lookup('192.0.2.1')).toEqual({ as: 64500, country: '', city: '' });
    expect(GeoDb.open({})).toBeNull();
  });

  it('bad files are one-line errors naming the option', () => {
    expect(() => GeoDb.open({ asList: path.join(FIX, 'missing.mmdb') })).toThrow(/^--as-list .*missing\.mmdb: no such file$/);
    expect(() => GeoDb.open({ cityList: path.join(FIX, 'make-mmdb.pl') })).toThrow(/^--city-list .*: not a MaxMind DB file/);
  });
});

const built = probeBuilt();
(built ? describe : describe.skip)('DNS on captures (CLI)', () => {
  const dnsFlows = (flows: ProbeFlow[]) => flows.filter((f) => f.L7_PROTO === 5);

  it('dns/arkime_dns_wiresharkrepo.pcap: every flow is DNS, client fields from the databases', () => {
    const FIX = path.join(ROOT, 'test', 'fixtures', 'geo');
    const r = runProbe('dns/arkime_dns_wiresharkrepo.pcap', ['--as-list', path.join(FIX, 'test-asn.mmdb'), '--city-list', path.join(FIX, 'test-city.mmdb')]);
    expect(r.status).toBe(0);
    expect(r.flows.length).toBeGreaterThan(0);
    for (const f of r.flows) {
      expect(f.L7_PROTO_NAME).toBe('DNS');
      // Every flow starts with its query: the DNS client is the flow's source.
      expect(f.DNS_CLIENT).toBe(f.IPV4_SRC_ADDR);
      expect(f.DNS_CLIENT).toMatch(/^192\.168\.170\./);
      expect(f).toMatchObject({ DNS_CLIENT_AS: 64496, DNS_CLIENT_COUNTRY: 'US', DNS_CLIENT_CITY: 'New York' });
    }
    const plain = runProbe('dns/arkime_dns_wiresharkrepo.pcap');
    for (const f of plain.flows) expect(f).toMatchObject({ DNS_CLIENT_AS: 0, DNS_CLIENT_COUNTRY: '', DNS_CLIENT_CITY: '' });
    const bad = runCli(['-i', path.join(ROOT, 'test/pcap/dns/arkime_dns_wiresharkrepo.pcap'), '-n', 'none', '--as-list', path.join(FIX, 'nope.mmdb')]);
    expect(bad.status).toBe(1);
    expect(bad.stderrLines).toContain(`nprobe: error: --as-list ${path.join(FIX, 'nope.mmdb')}: no such file`);
  });

  it('dns/zeek_ipv6_fragmented_dns.pcap: the reassembled TXT answer and the IPv6 client', () => {
    const FIX = path.join(ROOT, 'test', 'fixtures', 'geo');
    const r = runProbe('dns/zeek_ipv6_fragmented_dns.pcap', ['--as-list', path.join(FIX, 'test-asn.mmdb'), '--city-list', path.join(FIX, 'test-city.mmdb')]);
    const flows = dnsFlows(r.flows);
    expect(flows).toHaveLength(2);
    for (const f of flows) {
      expect(f.DNS_CLIENT).toBe('2001:470:1f11:81f:d138:5f55:6d4:1fe2');
      expect(f).toMatchObject({ DNS_CLIENT_AS: 64510, DNS_CLIENT_CITY: 'San Francisco' });
    }
    // Zeek's dns.log: query txtpadding_3230... (id 40849, asked twice), one TXT record of 19
    // strings, the response in IPv6 fragments; the text is cut at 1 KiB.
    const big = flows.find((f) => f.DNS_QUERY === 'txtpadding_3230.n1.netalyzr.icsi.berkeley.edu')!;
    expect(big).toMatchObject({ DNS_QUERY_ID: 40849, DNS_QUERY_TYPE: 16, DNS_RET_CODE: 0, DNS_NUM_ANSWERS: 1, DNS_TTL_ANSWER: 1 });
    expect(big.DNS_RESPONSE as string).toMatch(/^TXT "This TXT record should be ignored" "As it is just padding" "X{189}" "X{189}"/);
    expect((big.DNS_RESPONSE as string).length).toBe(1024);
    expect(big.DNS_TRANSACTIONS).toHaveLength(1); // the retransmitted query is the same transaction
  });

  it('malformed captures: named DNS anomalies, exit 0', () => {
    const r = runProbe('malformed/ndpi_malformed_dns.pcap');
    expect(r.status).toBe(0);
    const d = dnsFlows(r.flows);
    expect(d).toHaveLength(1);
    expect(d[0].FLOW_ANOMALIES).toContain('dns_name_too_long');
    const fuzz = runProbe('malformed/ndpi_fuzz_2006_06_26_mixed.pcap');
    expect(fuzz.status).toBe(0);
    // NetBIOS name service on 137 is never DNS, however damaged.
    expect(fuzz.flows.filter((f) => f.L7_PROTO === 5 && (f.L4_SRC_PORT === 137 || f.L4_DST_PORT === 137))).toEqual([]);
    expect(dnsFlows(fuzz.flows).length).toBeGreaterThan(100);
  });

  it('DNS over TCP goes to the DNS-TCP dissector (test/dissect/dns_tcp.test.ts): the same fields', () => {
    const r = runProbe('dns/tcpdump_dns_tcp.pcap');
    const tcp = r.flows.filter((f) => f.PROTOCOL === 6);
    expect(tcp).toHaveLength(1);
    expect(tcp[0]).toMatchObject({ L7_PROTO: 5, DNS_QUERY: 'www.tcpdump.org', DNS_QUERY_ID: 0x4319, DNS_CLIENT: '192.168.1.11' });
  });
});
