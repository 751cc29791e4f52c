// SIP over TCP (native/dissect/sip_tcp.cc): RFC 3261 §18.3 framing by Content-Length and
// RFC 5626 CRLF keep-alives, on stream chunks through the test-only binding (each payload is
// one reassembled chunk of its direction), and, for what needs the engine (probe_stream on both
// directions, stream gaps), synthetic TCP captures and the real ones through the CLI.
//
// The binding's `probe` result comes from the dissector's packet probe, which for this TCP
// dissector answers "do these bytes start a client's SIP-over-TCP stream" (probe_stream on the
// client side alone).
import { noise } from '../helpers/noise';
import { describe, expect, it } from '@jest/globals';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { dissectHex, DissectResult, Payload } from '../helpers/dissect';
import { ACK, LINKTYPE, writePcap } from '../helpers/pcapgen';
import { probeBuilt, ProbeFlow, runCli, runProbe } from '../helpers/probe';
import { TcpConn } from '../helpers/tcpconn';

const T0 = 1_700_000_000_000_000; // µs
const hex = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s, 'latin1') : s).toString('hex');

/** A SIP message: start line, header lines, Content-Length (unless noLength), body. */
function sip(start: string, headers: string[], body = '', opts: { noLength?: boolean } = {}): string {
  const hs = [...headers];
  if (!opts.noLength) hs.push(`Content-Length: ${Buffer.byteLength(body, 'latin1')}`);
  return [start, ...hs].join('\r\n') + '\r\n\r\n' + body;
}
const hdrs = (callId: string, cseq: string, toTag = '', extra: string[] = []) => [
  'Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  `To: Bob <sip:bob@biloxi.example.com>${toTag}`,
  `Call-ID: ${callId}`,
  `CSeq: ${cseq}`,
  ...extra,
];
const SDP_OFFER = 'v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n';
const SDP_ANSWER = 'v=0\r\no=bob 2808844564 2808844564 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\nm=audio 3456 RTP/AVP 8\r\n';
const INVITE = (cid: string) => sip('INVITE sip:bob@biloxi.example.com SIP/2.0', hdrs(cid, '1 INVITE', '', ['User-Agent: alice-phone/1.0', 'Content-Type: application/sdp']), SDP_OFFER);
const RESP = (code: string, cid: string, cseq: string, extra: string[] = [], body = '') =>
  sip(`SIP/2.0 ${code}`, hdrs(cid, cseq, ';tag=a6c85cf', [...extra, ...(body ? ['Content-Type: application/sdp'] : [])]), body);
const REQ = (method: string, cid: string, cseq: string, extra: string[] = []) => sip(`${method} sip:bob@biloxi.example.com SIP/2.0`, hdrs(cid, cseq, ';tag=a6c85cf', extra));

const C = (s: string, ms = 0): Payload => ({ dir: 0, hex: hex(s), ts: T0 + ms * 1000, sport: 40000, dport: 5060 });
const S = (s: string, ms = 0): Payload => ({ dir: 1, hex: hex(s), ts: T0 + ms * 1000, sport: 5060, dport: 40000 });
const run = (payloads: Payload[]) => dissectHex('SIP-TCP', payloads);
const txs = (r: DissectResult): Array<Record<string, unknown>> => (r.fields.SIP_TRANSACTIONS as Array<Record<string, unknown>>) ?? [];
const secs = (ms: number) => Math.floor((T0 + ms * 1000) / 1e6);
/** Splits a string at the given offsets. */
function cut(s: string, ...at: number[]): string[] {
  const out: string[] = [];
  let prev = 0;
  for (const a of [...at, s.length]) {
    out.push(s.slice(prev, a));
    prev = a;
  }
  return out;
}

// A whole call: INVITE with SDP, 100, 180, 200 with SDP, ACK, BYE, 200.
const CALL = 'call-1@pc33.atlanta.example.com';
const callC = [INVITE(CALL), REQ('ACK', CALL, '1 ACK'), REQ('BYE', CALL, '2 BYE')];
const callS = [
  RESP('100 Trying', CALL, '1 INVITE'),
  RESP('180 Ringing', CALL, '1 INVITE'),
  RESP('200 OK', CALL, '1 INVITE', ['Server: bob-pbx/2.0'], SDP_ANSWER),
  RESP('200 OK', CALL, '2 BYE'),
];
const CALL_FIELDS = {
  SIP_CALL_ID: CALL,
  SIP_CALLING_PARTY: '<sip:alice@atlanta.example.com>',
  SIP_CALLED_PARTY: '<sip:bob@biloxi.example.com>',
  SIP_CALL_STATE: 'CALL_COMPLETED',
  SIP_UAC: 'alice-phone/1.0',
  SIP_UAS: 'bob-pbx/2.0',
  SIP_RTP_CODECS: 'PCMU,PCMA,telephone-event',
  SIP_RTP_IPV4_SRC_ADDR: '192.0.2.10',
  SIP_RTP_L4_SRC_PORT: 49170,
  SIP_RTP_IPV4_DST_ADDR: '198.51.100.20',
  SIP_RTP_L4_DST_PORT: 3456,
  SIP_C_IP: '192.0.2.10,198.51.100.20',
  SIP_RESPONSE_CODE: 200,
};

describe('SIP over TCP: framing', () => {
  it('a whole call over one connection: the same fields as over UDP', () => {
    const r = run([C(callC[0], 0), S(callS[0], 10), S(callS[1], 20), S(callS[2], 3000), C(callC[1], 3010), C(callC[2], 9000), S(callS[3], 9010)]);
    expect(r.l7).toBe(100);
    expect(r.anomalies).toEqual([]);
    expect(r.probe[0]).toBe(true);
    expect(r.fields).toMatchObject({ ...CALL_FIELDS, SIP_INVITE_TIME: secs(0), SIP_INVITE_OK_TIME: secs(3000), SIP_BYE_TIME: secs(9000) });
    const udp = dissectHex('SIP', [C(callC[0], 0), S(callS[0], 10), S(callS[1], 20), S(callS[2], 3000), C(callC[1], 3010), C(callC[2], 9000), S(callS[3], 9010)]);
    expect(r.fields).toEqual(udp.fields);
  });

  it('the same fields whatever the chunk boundaries: every split of each direction in two', () => {
    const c = callC.join('');
    const s = callS.join('');
    const whole = run([C(c), S(s)]);
    expect(whole.fields).toMatchObject({ ...CALL_FIELDS, SIP_CALL_STATE: 'CALL_COMPLETED' });
    for (let i = 1; i < c.length; i += 3) {
      const r = run([...cut(c, i).map((x) => C(x)), S(s)]);
      expect(r.anomalies).toEqual([]);
      expect(r.fields).toEqual(whole.fields);
    }
    for (let i = 1; i < s.length; i += 5) {
      const r = run([C(c), ...cut(s, i, Math.min(s.length - 1, i + 300)).map((x) => S(x))]);
      expect(r.fields).toEqual(whole.fields);
    }
  });

  it('CRLF keep-alives between messages (RFC 5626: CRLFCRLF ping, CRLF pong) are no messages', () => {
    const r = run([C('\r\n\r\n'), S('\r\n'), C('\r\n\r\n' + REQ('OPTIONS', 'ka-1', '1 OPTIONS') + '\r\n\r\n'), S('\r\n' + RESP('200 OK', 'ka-1', '1 OPTIONS') + '\r\n'), C('\r\n\r\n')]);
    expect(r.anomalies).toEqual([]);
    expect(txs(r)).toEqual([expect.objectContaining({ SIP_CALL_ID: 'ka-1', SIP_CALL_STATE: 'UNKNOWN', SIP_RESPONSE_CODE: 200 })]);
  });

  it('a body is skipped by its Content-Length, even one holding SIP start lines (message/sipfrag)', () => {
    const frag = 'SIP/2.0 200 OK\r\nCall-ID: not-a-message\r\nCSeq: 1 INVITE\r\n\r\n';
    const notify = sip('NOTIFY sip:alice@atlanta.example.com SIP/2.0', hdrs('refer-1', '3 NOTIFY', ';tag=x', ['Content-Type: message/sipfrag;version=2.0']), frag);
    const r = run([C(notify + REQ('OPTIONS', 'after-1', '1 OPTIONS'))]);
    expect(r.anomalies).toEqual([]);
    expect(txs(r).map((t) => t.SIP_CALL_ID)).toEqual(['refer-1', 'after-1']);
  });

  it('compact header forms (i: f: t: l:) frame and fill the fields the same', () => {
    const m = 'MESSAGE sip:bob@biloxi.example.com SIP/2.0\r\nv: SIP/2.0/TCP h\r\nf: <sip:alice@a.example>;tag=1\r\nt: <sip:bob@b.example>\r\ni: compact-1\r\nCSeq: 1 MESSAGE\r\nc: text/plain\r\nl: 5\r\n\r\nhello';
    const r = run([C(m + m.replace('compact-1', 'compact-2'))]);
    expect(r.anomalies).toEqual([]);
    expect(txs(r).map((t) => [t.SIP_CALL_ID, t.SIP_CALLING_PARTY, t.SIP_CALLED_PARTY])).toEqual([
      ['compact-1', '<sip:alice@a.example>', '<sip:bob@b.example>'],
      ['compact-2', '<sip:alice@a.example>', '<sip:bob@b.example>'],
    ]);
  });

  it('REGISTER delay measured across chunks (SIP_REGISTER_MAX_RRD from the completing chunk\'s time)', () => {
    const reg = sip('REGISTER sip:example.com SIP/2.0', hdrs('reg-1', '7 REGISTER', '', ['Contact: <sip:alice@192.0.2.10;transport=tcp>']));
    const [a, b] = cut(reg, 40);
    const r = run([C(a, 0), C(b, 5), S(RESP('200 OK', 'reg-1', '7 REGISTER'), 130)]);
    expect(r.fields).toMatchObject({ SIP_CALL_STATE: 'REGISTER', SIP_REGISTER_NUM_OK: 1, SIP_REGISTER_MAX_RRD: 125 });
  });
});

describe('SIP over TCP: bad input and caps', () => {
  it('Content-Length missing (mandatory over TCP): named, no body assumed, the next message read', () => {
    const r = run([C(sip('OPTIONS sip:x@example.com SIP/2.0', hdrs('nolen-1', '1 OPTIONS'), '', { noLength: true }) + REQ('OPTIONS', 'next-1', '1 OPTIONS'))]);
    expect(r.anomalies).toEqual(['sip_missing_content_length']);
    expect(txs(r).map((t) => t.SIP_CALL_ID)).toEqual(['nolen-1', 'next-1']);
  });

  it('garbage between messages: the start line is named, the stream resyncs at the next start line', () => {
    const r = run([C(REQ('OPTIONS', 'one', '1 OPTIONS') + 'this is not SIP\r\nnor this\r\n' + REQ('OPTIONS', 'two', '1 OPTIONS')), C(noise(1, 300).toString('latin1')), C('\r\n' + REQ('OPTIONS', 'three', '1 OPTIONS'))]);
    expect(r.anomalies).toEqual(['sip_bad_start_line']);
    expect(txs(r).map((t) => t.SIP_CALL_ID)).toEqual(['one', 'two', 'three']);
  });

  it('a start line that never ends hits the head cap; a 1 MB line stays bounded and the direction is given up', () => {
    const r = run([C('INVITE sip:' + 'a'.repeat(20000))]);
    expect(r.anomalies).toEqual(['sip_tcp_head_cap']);
    const chunks: Payload[] = [];
    for (let i = 0; i < 16; i++) chunks.push(C('x'.repeat(65536)));
    const big = run([C(REQ('OPTIONS', 'before', '1 OPTIONS')), ...chunks, C('\r\n' + REQ('OPTIONS', 'after', '1 OPTIONS')), S(RESP('200 OK', 'before', '1 OPTIONS'))]);
    expect(big.anomalies).toEqual(['sip_tcp_head_cap', 'sip_tcp_resync_cap']);
    // The client direction is abandoned; the server's still counts.
    expect(txs(big)).toEqual([expect.objectContaining({ SIP_CALL_ID: 'before', SIP_RESPONSE_CODE: 200 })]);
  });

  it('a message over 64 KiB: parsed from its first 64 KiB, the rest skipped by its length, the framing kept', () => {
    const body = 'v=0\r\n' + 'a=x:' + 'y'.repeat(100000) + '\r\n';
    const inv = sip('INVITE sip:bob@biloxi.example.com SIP/2.0', hdrs('huge-1', '1 INVITE', '', ['Content-Type: text/plain']), body);
    const stream = inv + REQ('BYE', 'huge-1', '2 BYE');
    const r = run(cut(stream, 1000, 30000, 70000).map((x) => C(x)));
    expect(r.anomalies).toEqual(['sip_tcp_message_cap', 'sip_truncated_body']);
    expect(txs(r)).toEqual([expect.objectContaining({ SIP_CALL_ID: 'huge-1', SIP_CALL_STATE: 'CALL_COMPLETED' })]);
  });

  it('the flow ending inside a message: what came is parsed, its cut named by the parser', () => {
    const inv = INVITE('cut-1');
    const r = run([C(inv.slice(0, inv.length - 20))]);
    expect(r.anomalies).toEqual(['sip_truncated_body']);
    expect(r.fields.SIP_CALL_ID).toBe('cut-1');
    const h = run([C(inv.slice(0, inv.indexOf('CSeq')))]);
    expect(h.anomalies).toContain('sip_truncated_header');
    expect(h.fields.SIP_CALL_ID).toBe('cut-1');
  });

  it('Call-IDs are capped at 64 transactions, the cap named', () => {
    const msgs = [...Array(70).keys()].map((i) => REQ('OPTIONS', `opt-${i}`, '1 OPTIONS')).join('');
    const r = run([C(msgs)]);
    expect(txs(r)).toHaveLength(64);
    expect(r.anomalies).toEqual(['sip_transactions_cap']);
  });

  it('random chunks in both directions: no crash, only SIP anomaly names', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const ps: Payload[] = [C(REQ('OPTIONS', `r${seed}`, '1 OPTIONS'))];
      for (let i = 0; i < 10; i++) {
        const junk = noise(seed * 50 + i, 1 + ((seed * 29 + i * 13) % 400)).toString('latin1');
        ps.push(i % 2 ? S(junk) : C(i === 4 ? 'SIP/2.0 200 OK\r\nl: 99999999\r\n\r\n' + junk : junk));
      }
      const r = run(ps);
      for (const a of r.anomalies) expect(a).toMatch(/^sip_/);
    }
  });
});

describe('SIP over TCP: detection (the client side of probe_stream)', () => {
  const probe = (s: string | Buffer): boolean => run([{ dir: 0, hex: hex(s) }]).probe[0];
  it('a request or status line followed by a header line', () => {
    expect(probe(REQ('OPTIONS', 'p1', '1 OPTIONS'))).toBe(true);
    expect(probe(RESP('200 OK', 'p1', '1 OPTIONS'))).toBe(true);
    expect(probe('\r\n\r\n' + REQ('REGISTER', 'p2', '1 REGISTER'))).toBe(true); // a keep-alive first
    // Only the start line so far: not yet (the engine waits for more).
    expect(probe('INVITE sip:bob@biloxi.example.com SIP/2.0\r\n')).toBe(false);
  });
  it('other text protocols and garbage are not SIP', () => {
    expect(probe('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n')).toBe(false);
    expect(probe('OPTIONS rtsp://cam.example/s RTSP/1.0\r\nCSeq: 1\r\n\r\n')).toBe(false);
    expect(probe('HTTP/1.1 200 OK\r\nServer: x\r\n\r\n')).toBe(false);
    expect(probe('invite sip:bob@example.com SIP/2.0\r\nCall-ID: x\r\n\r\n')).toBe(false); // methods are upper case
    expect(probe('EHLO mail.example.com\r\n')).toBe(false);
    expect(probe(Buffer.from('16030100a5010000a10303' + '11'.repeat(160), 'hex'))).toBe(false); // TLS (SIPS on 5061)
    for (let seed = 1; seed <= 100; seed++) expect(probe(noise(seed, 300))).toBe(false);
  });
});

// ---- through the engine (CLI): both directions, gaps ----------------------------------------

/** A SIP-over-TCP connection (test/helpers/tcpconn.ts). */
class Conn extends TcpConn {
  constructor(cport: number, sport: number, handshake = true) {
    super(cport, sport, { handshake, t0: T0, client: '192.0.2.10', server: '198.51.100.20' });
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-siptcp-'));
let nfile = 0;
function cli(c: Conn): ProbeFlow & Record<string, unknown> {
  const file = writePcap(c.frames, LINKTYPE.ETHERNET, path.join(tmp, `t${nfile++}.pcap`));
  const r = runCli(['-i', file, '-n', 'none', '--json-out', '-']);
  expect(r.status).toBe(0);
  const tcp = r.flows.filter((f) => f.PROTOCOL === 6);
  expect(tcp).toHaveLength(1);
  return tcp[0] as ProbeFlow & Record<string, unknown>;
}
const ftx = (f: Record<string, unknown>): Array<Record<string, unknown>> => (f.SIP_TRANSACTIONS as Array<Record<string, unknown>> | undefined) ?? [];
const anomalies = (f: Record<string, unknown>): string[] => (f.FLOW_ANOMALIES ? String(f.FLOW_ANOMALIES).split(',').sort() : []);
const describeCli = probeBuilt() ? describe : describe.skip;

describeCli('SIP over TCP through the CLI: detection', () => {
  it('off port 5060, and a connection whose server speaks first', () => {
    const off = cli(new Conn(40001, 5080).c(REQ('OPTIONS', 'off-1', '1 OPTIONS')).s(RESP('200 OK', 'off-1', '1 OPTIONS')));
    expect(off).toMatchObject({ L7_PROTO: 100, SIP_CALL_ID: 'off-1', SIP_RESPONSE_CODE: 200 });
    const srv = cli(new Conn(40002, 5060).s(REQ('NOTIFY', 'srv-1', '1 NOTIFY')).c(RESP('200 OK', 'srv-1', '1 NOTIFY')));
    expect(srv).toMatchObject({ L7_PROTO: 100, SIP_CALL_ID: 'srv-1' });
  });

  it('other protocols and garbage on port 5060 are not labelled SIP', () => {
    const cases = [
      new Conn(40010, 5060).c(noise(1, 1500)).s(noise(2, 1500)),
      new Conn(40011, 5060).c('GET / HTTP/1.1\r\nHost: x\r\n\r\n').s('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
      new Conn(40012, 5060).c('OPTIONS rtsp://cam.example/s RTSP/1.0\r\nCSeq: 1\r\n\r\n').s('RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n'),
      new Conn(40013, 5061).c(Buffer.from('16030100a5010000a10303' + '11'.repeat(160), 'hex')).s(Buffer.from('160303004a020000460303' + '22'.repeat(80), 'hex')),
    ];
    for (const c of cases) {
      const f = cli(c);
      expect(f.L7_PROTO).not.toBe(100);
      expect(Object.keys(f).filter((k) => k.startsWith('SIP_'))).toEqual([]);
    }
  });
});

describeCli('SIP over TCP through the CLI: stream gaps', () => {
  it('a hole inside a body: that message parsed from what came, the rest skipped, the next read', () => {
    const ok = RESP('200 OK', CALL, '1 INVITE', ['Server: bob-pbx/2.0'], SDP_ANSWER);
    const at = ok.indexOf('m=audio');
    const f = cli(
      new Conn(40020, 5060)
        .c(INVITE(CALL))
        .s(ok.slice(0, at))
        .skip(1, 10)
        .s(ok.slice(at + 10) + RESP('200 OK', CALL, '2 BYE'))
        .c(REQ('BYE', CALL, '2 BYE'))
        .ack(0),
    );
    expect(f.L7_PROTO).toBe(100);
    expect(anomalies(f)).toEqual(['sip_tcp_gap', 'sip_truncated_body']);
    expect(ftx(f)).toEqual([expect.objectContaining({ SIP_CALL_ID: CALL, SIP_CALL_STATE: 'CALL_COMPLETED', SIP_UAS: 'bob-pbx/2.0', SIP_RESPONSE_CODE: 200 })]);
  });

  it('a hole inside a body is skipped by the body\'s length: start lines later in that body are not taken for messages', () => {
    const frag = 'SIP/2.0 180 Ringing\r\nCall-ID: inside-the-body\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n';
    const notify = sip('NOTIFY sip:alice@atlanta.example.com SIP/2.0', hdrs('refer-2', '3 NOTIFY', ';tag=x', ['Content-Type: message/sipfrag;version=2.0']), 'x'.repeat(50) + frag);
    const at = notify.length - frag.length - 30;
    const f = cli(new Conn(40023, 5060).c(notify.slice(0, at)).skip(0, 10).c(notify.slice(at + 10) + REQ('OPTIONS', 'o-2', '1 OPTIONS')).s(RESP('200 OK', 'o-2', '1 OPTIONS')).ack(1));
    expect(anomalies(f)).toEqual(['sip_tcp_gap', 'sip_truncated_body']);
    // No transaction for the Call-ID inside the body. (Which of the two opens first depends on
    // when the engine settles the hole, before or after the server's answer: sorted here.)
    expect(ftx(f).map((t) => [t.SIP_CALL_ID, t.SIP_RESPONSE_CODE]).sort()).toEqual([
      ['o-2', 200],
      ['refer-2', undefined],
    ]);
  });

  it('a hole that takes whole messages: the next segment starts a message and is read', () => {
    const f = cli(
      new Conn(40021, 5060)
        .c(REQ('OPTIONS', 'g-1', '1 OPTIONS'))
        .skip(0, REQ('OPTIONS', 'g-2', '1 OPTIONS').length)
        .c(REQ('OPTIONS', 'g-3', '1 OPTIONS'))
        .s(RESP('200 OK', 'g-1', '1 OPTIONS'))
        .ack(1),
    );
    expect(anomalies(f)).toEqual(['sip_tcp_gap']);
    expect(ftx(f).map((t) => [t.SIP_CALL_ID, t.SIP_RESPONSE_CODE])).toEqual([
      ['g-1', 200],
      ['g-3', undefined],
    ]);
  });

  it('a hole inside a head: no misreading, the stream resumes at the next start line', () => {
    const m2 = REQ('OPTIONS', 'h-2', '1 OPTIONS');
    const f = cli(
      new Conn(40022, 5060)
        .c(REQ('OPTIONS', 'h-1', '1 OPTIONS') + m2.slice(0, 60))
        .skip(0, 20)
        .c(m2.slice(80) + REQ('OPTIONS', 'h-3', '1 OPTIONS'))
        .ack(1),
    );
    // h-2's head was cut inside its Via: what came is parsed as over UDP (a cut head, without
    // CSeq and Call-ID, so nothing of it is kept); its Call-ID line after the hole is not
    // taken for anything; h-3 is read whole.
    expect(anomalies(f)).toEqual(['sip_missing_call_id', 'sip_missing_cseq', 'sip_tcp_gap', 'sip_truncated_header']);
    expect(ftx(f).map((t) => t.SIP_CALL_ID)).toEqual(['h-1', 'h-3']);
  });
});

describeCli('SIP over TCP: the real captures', () => {
  it('suricata sip-tcp: REGISTER and 200 on one connection', () => {
    const f = runProbe('sip/suricata_sip_tcp.pcap').flows.filter((x) => x.PROTOCOL === 6) as Array<Record<string, unknown>>;
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({
      L7_PROTO: 100,
      SIP_CALL_ID: '8OmtYUU8EdlafUh4g4jiAw..',
      SIP_CALL_STATE: 'REGISTER',
      SIP_UAC: 'Zoiper rv2.10.3.2',
      SIP_RESPONSE_CODE: 200,
      SIP_REGISTER_NUM_OK: 1,
    });
    expect(f[0].FLOW_ANOMALIES).toBeUndefined();
  });

  it('arkime gtp-iphone: the handset\'s SIP over TCP inside GTP-U (messages split over two segments), a whole call', () => {
    const sipTcp = runProbe('gtp/arkime_gtp_iphone.pcap').flows.filter((x) => x.PROTOCOL === 6 && x.L7_PROTO === 100) as Array<Record<string, unknown>>;
    expect(sipTcp.map((x) => x.SIP_CALL_STATE)).toEqual(['REGISTER', 'REGISTER', 'CALL_COMPLETED', 'REGISTER']);
    const call = sipTcp[2];
    expect(call).toMatchObject({
      SIP_CALL_ID: 'zTHDK1uOm6wLihi3m15pRfSR',
      SIP_CALLED_PARTY: '<tel:122>',
      SIP_RTP_CODECS: 'AMR-WB,AMR,telephone-event',
      SIP_RESPONSE_CODE: 200,
      SIP_C_IP: 'fd00:183:1:1:1886:9040:8605:32b8,fd01::183',
    });
    for (const x of sipTcp) expect(x.FLOW_ANOMALIES).toBeUndefined();
  });
});
