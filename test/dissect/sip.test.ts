// SIP dissector (native/dissect/sip.{h,cc}) on hex input: real datagrams read from the
// captures in test/pcap/sip/ and test/pcap/malformed/, and messages written here per RFC 3261
// (compact and folded headers, REGISTER/CANCEL/BYE flows, SDP per RFC 4566, multipart per
// RFC 5621) for what the captures lack; transactions and their cap, probe() positive and
// negative, malformed input and every named anomaly.
import * as path from 'path';

import { dissectHex, DissectResult, Payload } from '../helpers/dissect';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const acc = require('../accuracy/sip.js') as {
  probeOk(b: Buffer): boolean;
  udpDatagrams(file: string): Array<{ frame: number; us: number; src: string; dst: string; sport: number; dport: number; data: Buffer }>;
};

const D = 'SIP';
const PCAP = path.join(__dirname, '..', 'pcap');
const T0 = 1_700_000_000_000_000; // µs
const hex = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s, 'latin1') : s).toString('hex');

/** A SIP message from a start line, header lines and an optional body (CRLF line ends). */
function sip(start: string, headers: string[], body = '', opts: { noLength?: boolean; eol?: string } = {}): string {
  const eol = opts.eol ?? '\r\n';
  const hs = [...headers];
  if (!opts.noLength) hs.push(`Content-Length: ${Buffer.byteLength(body, 'latin1')}`);
  return [start, ...hs].join(eol) + eol + eol + body;
}

const C = (s: string, ms = 0, extra: Partial<Payload> = {}): Payload => ({ dir: 0, hex: hex(s), ts: T0 + ms * 1000, sport: 5060, dport: 5060, ...extra });
const S = (s: string, ms = 0, extra: Partial<Payload> = {}): Payload => ({ dir: 1, hex: hex(s), ts: T0 + ms * 1000, sport: 5060, dport: 5060, ...extra });
const secs = (ms: number) => Math.floor((T0 + ms * 1000) / 1e6);

// A call between alice (flow client) and bob, RFC 3261 §24.2 style.
const dialog = (callId: string, cseq: string, extra: string[] = []) => [
  'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'To: Bob <sip:bob@biloxi.example.com>',
  `Call-ID: ${callId}`,
  `CSeq: ${cseq}`,
  ...extra,
];
const answered = (callId: string, cseq: string, extra: string[] = []) => [
  'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf',
  `Call-ID: ${callId}`,
  `CSeq: ${cseq}`,
  ...extra,
];
const SDP_OFFER = 'v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 97 101\r\na=rtpmap:97 iLBC/8000\r\na=rtpmap:101 telephone-event/8000\r\n';
const SDP_ANSWER = 'v=0\r\no=bob 2808844564 2808844564 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\nm=audio 3456 RTP/AVP 8\r\n';
const INVITE = (callId = 'a84b4c76e66710@pc33', extra: string[] = [], body = SDP_OFFER) =>
  sip('INVITE sip:bob@biloxi.example.com SIP/2.0', dialog(callId, '314159 INVITE', [...extra, ...(body ? ['Content-Type: application/sdp'] : [])]), body);
const RESP = (code: string, callId: string, cseq: string, extra: string[] = [], body = '') =>
  sip(`SIP/2.0 ${code}`, answered(callId, cseq, [...extra, ...(body ? ['Content-Type: application/sdp'] : [])]), body);

function tx(r: DissectResult): Array<Record<string, unknown>> {
  return r.fields.SIP_TRANSACTIONS as Array<Record<string, unknown>>;
}

describe('real captures', () => {
  const cloudshark = acc.udpDatagrams(path.join(PCAP, 'sip', 'suricata_sip_cloudshark_s0.pcap'));
  // The flow's client is 200.57.7.195:5060 (frame 1's sender); its peer is 200.57.7.204:5061.
  const toPayloads = (dgs: typeof cloudshark, client: string): Payload[] =>
    dgs.map((d) => ({ dir: d.src === client ? 0 : 1, hex: hex(d.data), ts: d.us, sport: d.sport, dport: d.dport }));

  test('suricata cloudshark s0: INVITE/100/180/200/ACK, REGISTER/200, second INVITE: three transactions', () => {
    const r = dissectHex(D, toPayloads(cloudshark, '200.57.7.195'));
    expect(r.probe.every(Boolean)).toBe(true);
    expect(r.l7).toBe(100);
    expect(r.anomalies).toEqual([]);
    const t = tx(r);
    expect(t.map((x) => x.SIP_CALL_ID)).toEqual(['12013223@200.57.7.195', 'D3A26FC3974B44ECB5A96E07282903E3@bestel.com', '12015624@200.57.7.195']);
    // Frame 1: From: <sip:200.57.7.195:55061;user=phone>;tag=...  To: "francisco@bestel.com" <sip:francisco@bestel.com:55060>
    expect(t[0].SIP_CALLING_PARTY).toBe('<sip:200.57.7.195:55061;user=phone>');
    expect(t[0].SIP_CALLED_PARTY).toBe('<sip:francisco@bestel.com:55060>');
    const sec = (frame: number) => Math.floor(cloudshark.find((d) => d.frame === frame)!.us / 1e6);
    expect(t[0]).toMatchObject({
      SIP_INVITE_TIME: sec(1), SIP_TRYING_TIME: sec(2), SIP_RINGING_TIME: sec(3), SIP_INVITE_OK_TIME: sec(4),
      SIP_RESPONSE_CODE: 200, SIP_CALL_STATE: 'CALL_IN_PROGRESS',
      // Frame 1 SDP: c=IN IP4 200.57.7.196, m=audio 40376 RTP/AVP 8 18 4 0 (rtpmaps PCMA G729 G723 PCMU);
      // frame 4 SDP: c=IN IP4 200.57.7.204, m=audio 8000.
      SIP_RTP_IPV4_SRC_ADDR: '200.57.7.196', SIP_RTP_L4_SRC_PORT: 40376,
      SIP_RTP_IPV4_DST_ADDR: '200.57.7.204', SIP_RTP_L4_DST_PORT: 8000,
      SIP_RTP_CODECS: 'PCMA,G729,G723,PCMU', SIP_C_IP: '200.57.7.196,200.57.7.204',
      SIP_UAS: 'X-Lite release 1103m',
    });
    expect(t[0].SIP_UAC).toBeUndefined(); // the client's messages carry no User-Agent
    // REGISTER from the flow's server (frame 6), 200 from the client (frame 7) 16.384 ms later.
    expect(t[1]).toMatchObject({ SIP_CALL_STATE: 'REGISTER', SIP_REGISTER_NUM_OK: 1, SIP_RESPONSE_CODE: 200, SIP_CALLING_PARTY: '<sip:francisco@bestel.com>' });
    const rrd = Math.floor((cloudshark.find((d) => d.frame === 7)!.us - cloudshark.find((d) => d.frame === 6)!.us) / 1000);
    expect(t[1].SIP_REGISTER_MAX_RRD).toBe(rrd);
    expect(t[2]).toMatchObject({ SIP_CALL_STATE: 'CALL_STARTED', SIP_RINGING_TIME: sec(10) });
    // The flat fields are the first transaction's.
    for (const [k, v] of Object.entries(t[0])) expect(r.fields[k]).toEqual(v);
  });

  test('nDPI T.38 fax call: SDP offer/answer, refused re-INVITE, BYE with Reason', () => {
    const fax = acc.udpDatagrams(path.join(PCAP, 'sip', 'ndpi_sip_fax_t38_call.pcap'))
      .filter((d) => [d.src, d.dst].includes('138.132.169.101') && [d.src, d.dst].includes('192.168.100.219'));
    const r = dissectHex(D, toPayloads(fax, '138.132.169.101'));
    expect(r.anomalies).toEqual([]);
    const t = tx(r);
    expect(t).toHaveLength(1); // INVITE, re-INVITEs, OPTIONS and BYE share one Call-ID
    const sec = (frame: number) => Math.floor(fax.find((d) => d.frame === frame)!.us / 1e6);
    expect(t[0]).toMatchObject({
      SIP_CALL_ID: 'SD4909701-9ff11bf72eb4a347c92974d8fbbc2668-ao8o3i1',
      SIP_CALLING_PARTY: '<sip:unavailable@hostportion>',
      SIP_CALLED_PARTY: '<sip:061963177@italtel.it;user=phone>',
      // Frame 27: c=IN IP4 138.132.169.101, m=audio 15580 RTP/AVP 8 103 102, rtpmap 103 G726-32, 102 telephone-event.
      SIP_RTP_IPV4_SRC_ADDR: '138.132.169.101', SIP_RTP_L4_SRC_PORT: 15580,
      SIP_RTP_CODECS: 'PCMA,G726-32,telephone-event',
      // Frame 48 (200 OK): c=IN IP4 192.168.100.219, m=audio 5002.
      SIP_RTP_IPV4_DST_ADDR: '192.168.100.219', SIP_RTP_L4_DST_PORT: 5002,
      SIP_UAS: 'Arcor/Arcor-1.02.005t2',
      SIP_INVITE_TIME: sec(27), SIP_INVITE_OK_TIME: sec(48), SIP_BYE_TIME: sec(1535), SIP_BYE_OK_TIME: sec(1541),
      // Frame 1535: "Reason: Q.850 ;cause=16 ;text=..." (spaces before ';').
      SIP_REASON_CAUSE: 16,
      SIP_RESPONSE_CODE: 200, // the 488 answers a re-INVITE (frame 1402): the call was set up
      SIP_CALL_STATE: 'CALL_COMPLETED',
    });
    expect(t[0].SIP_INVITE_FAILURE_TIME).toBeUndefined();
  });

  test('probe() agrees with the rule test/accuracy/sip.js restates (its explanations rest on it)', () => {
    const files = [path.join(PCAP, 'malformed', 'ndpi_fuzz_2006_06_26_mixed.pcap'), path.join(PCAP, 'sip', 'zeek_sip_wireshark.pcap'), path.join(PCAP, 'sip', 'ndpi_sip_fax_t38_call.pcap')];
    let positives = 0;
    let n = 0;
    for (const f of files) {
      for (const d of acc.udpDatagrams(f)) {
        const native = dissectHex(D, [{ dir: 0, hex: hex(d.data), sport: d.sport, dport: d.dport }]).probe[0];
        expect([d.frame, native]).toEqual([d.frame, acc.probeOk(d.data)]);
        if (native) positives++;
        n++;
      }
    }
    expect(n).toBeGreaterThan(1500);
    expect(positives).toBeGreaterThan(100);
  });

  test('bit-flipped SIP (nDPI fuzz capture): named anomalies, no crash', () => {
    const dgs = acc.udpDatagrams(path.join(PCAP, 'malformed', 'ndpi_fuzz_2006_06_26_mixed.pcap')).filter((d) => d.sport === 5060 || d.dport === 5060);
    const r = dissectHex(D, dgs.map((d) => ({ dir: d.src === '192.168.1.2' ? 0 : 1, hex: hex(d.data), ts: d.us })));
    expect(r.anomalies.length).toBeGreaterThan(3);
    for (const a of r.anomalies) expect(a).toMatch(/^sip_[a-z0-9_]+$/);
    expect(r.anomalies).toEqual(expect.arrayContaining(['sip_bad_start_line', 'sip_missing_call_id', 'sip_bad_cseq', 'sip_value_cap']));
    expect(tx(r).length).toBeGreaterThan(5);
  });
});

describe('header forms', () => {
  test('compact forms, case-insensitive names, space before the colon, folded lines, bare LF', () => {
    const msg = [
      'INVITE sip:bob@biloxi.example.com SIP/2.0',
      'v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8',
      'f: "Alice, \\"A<\\"" <sip:alice@atlanta.example.com>',
      '   ;tag=88sja8x',
      'T   :   <sip:bob@biloxi.example.com>',
      'i: f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
      '\tcontinued',
      'cSeQ: 1 INVITE',
      'm: <sip:alice@pc33.atlanta.example.com>',
      'USER-AGENT: Softphone/1.0',
      'c: application/SDP; charset=utf-8',
      `l: ${SDP_OFFER.length}`,
      '',
      SDP_OFFER,
    ].join('\n');
    const r = dissectHex(D, [C(msg)]);
    expect(r.probe).toEqual([true]);
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({
      // Folding: the line break and leading whitespace read as one space.
      SIP_CALL_ID: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6 continued',
      // The quoted display name holds '<' and an escaped quote: skipped over.
      SIP_CALLING_PARTY: '<sip:alice@atlanta.example.com>',
      SIP_CALLED_PARTY: '<sip:bob@biloxi.example.com>',
      SIP_UAC: 'Softphone/1.0',
      SIP_RTP_IPV4_SRC_ADDR: '192.0.2.10',
      SIP_RTP_CODECS: 'PCMU,PCMA,iLBC,telephone-event',
      SIP_CALL_STATE: 'CALL_STARTED',
    });
  });

  test('header names of a known name\'s length but another byte are other headers; case never matters', () => {
    // Call_ID and Content_Length have the length of Call-ID and Content-Length ('_' is not '-');
    // Content-Typf, User-Agenz and Reasom differ in their last byte only; Frog is From's length.
    const msg = sip('OPTIONS sip:carol@chicago.example.com SIP/2.0', [
      'Call_ID: not-this-one',
      'Frog: <sip:frog@example.com>',
      'fROM: <sip:alice@atlanta.example.com>;tag=1',
      'tO: <sip:carol@chicago.example.com>',
      'CALL-id: case1',
      'cseQ: 7 OPTIONS',
      'User-Agenz: NotThis/1',
      'uSER-aGENT: Phone/2',
      'Reasom: Q.850;cause=99',
      'REASON: Q.850;cause=16',
      'Content-Typf: text/plain',
      'CONTENT-type: application/sdp',
      'Content_Length: 99',
    ], SDP_OFFER);
    const r = dissectHex(D, [C(msg)]);
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({
      SIP_CALL_ID: 'case1',
      SIP_CALLING_PARTY: '<sip:alice@atlanta.example.com>',
      SIP_CALLED_PARTY: '<sip:carol@chicago.example.com>',
      SIP_UAC: 'Phone/2',
      SIP_REASON_CAUSE: 16,
      SIP_RTP_CODECS: 'PCMU,PCMA,iLBC,telephone-event',
    });
  });

  test('several folded values in one message are each joined on their own', () => {
    const msg = sip('INVITE sip:bob@biloxi.example.com SIP/2.0', [
      'From: Alice',
      ' <sip:alice@atlanta.example.com>;tag=1',
      'To: <sip:bob@biloxi.example.com>',
      'Call-ID: fold',
      '\ttwice',
      'CSeq: 1',
      ' INVITE',
      'User-Agent: Phone',
      '  2.0',
    ]);
    const r = dissectHex(D, [C(msg)]);
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({
      SIP_CALL_ID: 'fold twice',
      SIP_CALLING_PARTY: '<sip:alice@atlanta.example.com>',
      SIP_UAC: 'Phone 2.0',
      SIP_CALL_STATE: 'CALL_STARTED',
    });
  });

  test('addr-spec without brackets: header parameters are not part of the URI', () => {
    const r = dissectHex(D, [C(sip('OPTIONS sip:carol@chicago.example.com SIP/2.0', ['From: sip:alice@atlanta.example.com;tag=1', 'To: sip:carol@chicago.example.com', 'Call-ID: opt1', 'CSeq: 1 OPTIONS']))]);
    expect(r.fields).toMatchObject({ SIP_CALLING_PARTY: '<sip:alice@atlanta.example.com>', SIP_CALLED_PARTY: '<sip:carol@chicago.example.com>', SIP_CALL_STATE: 'UNKNOWN' });
  });

  test('Server header when the side sends no User-Agent; User-Agent preferred', () => {
    const r = dissectHex(D, [
      C(INVITE('ua1', ['Server: NotUsed/0'])),
      S(RESP('100 Trying', 'ua1', '314159 INVITE', ['Server: Registrar/2.1'])),
      C(sip('ACK sip:bob@biloxi.example.com SIP/2.0', dialog('ua1', '314159 ACK', ['User-Agent: Phone/3']))),
    ]);
    expect(r.fields.SIP_UAS).toBe('Registrar/2.1');
    expect(r.fields.SIP_UAC).toBe('Phone/3');
  });
});

describe('calls', () => {
  test('INVITE / 100 / 180 / 200 / ACK / BYE / 200: every time, RTP both ways, COMPLETED', () => {
    const id = 'call-1';
    const r = dissectHex(D, [
      C(INVITE(id), 0),
      S(RESP('100 Trying', id, '314159 INVITE'), 40),
      S(RESP('180 Ringing', id, '314159 INVITE'), 1500),
      S(RESP('200 OK', id, '314159 INVITE', [], SDP_ANSWER), 9000),
      C(sip('ACK sip:bob@192.0.2.4 SIP/2.0', answered(id, '314159 ACK')), 9020),
      S(sip('BYE sip:alice@pc33.atlanta.example.com SIP/2.0', [
        'Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds10',
        'From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf', 'To: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
        `Call-ID: ${id}`, 'CSeq: 231 BYE', 'Reason: SIP ;cause=200 ;text="Call completed elsewhere"',
      ]), 70000),
      C(sip('SIP/2.0 200 OK', ['From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf', 'To: Alice <sip:alice@atlanta.example.com>;tag=1928301774', `Call-ID: ${id}`, 'CSeq: 231 BYE']), 70100),
    ]);
    expect(r.anomalies).toEqual([]);
    expect(tx(r)).toHaveLength(1);
    expect(r.fields).toEqual(expect.objectContaining({
      SIP_CALL_ID: id,
      // The callee's BYE swaps From/To: the parties stay the INVITE's.
      SIP_CALLING_PARTY: '<sip:alice@atlanta.example.com>', SIP_CALLED_PARTY: '<sip:bob@biloxi.example.com>',
      SIP_INVITE_TIME: secs(0), SIP_TRYING_TIME: secs(40), SIP_RINGING_TIME: secs(1500), SIP_INVITE_OK_TIME: secs(9000),
      SIP_BYE_TIME: secs(70000), SIP_BYE_OK_TIME: secs(70100),
      SIP_RTP_IPV4_SRC_ADDR: '192.0.2.10', SIP_RTP_L4_SRC_PORT: 49170,
      SIP_RTP_IPV4_DST_ADDR: '198.51.100.20', SIP_RTP_L4_DST_PORT: 3456,
      SIP_C_IP: '192.0.2.10,198.51.100.20', SIP_RTP_CODECS: 'PCMU,PCMA,iLBC,telephone-event',
      SIP_RESPONSE_CODE: 200, SIP_REASON_CAUSE: 200, SIP_CALL_STATE: 'CALL_COMPLETED',
    }));
    expect(r.fields.SIP_CANCEL_TIME).toBeUndefined();
    expect(r.fields.SIP_INVITE_FAILURE_TIME).toBeUndefined();
  });

  test('CANCEL before the answer: CANCEL and its 200, 487 failure, CANCELED', () => {
    const id = 'cancel-1';
    const r = dissectHex(D, [
      C(INVITE(id), 0),
      S(RESP('180 Ringing', id, '314159 INVITE'), 300),
      C(sip('CANCEL sip:bob@biloxi.example.com SIP/2.0', dialog(id, '314159 CANCEL')), 4000),
      S(RESP('200 OK', id, '314159 CANCEL'), 4050),
      S(RESP('487 Request Terminated', id, '314159 INVITE', ['Reason: Q.850;cause=31']), 4060),
    ]);
    expect(r.fields).toMatchObject({
      SIP_CANCEL_TIME: secs(4000), SIP_CANCEL_OK_TIME: secs(4050), SIP_INVITE_FAILURE_TIME: secs(4060),
      SIP_RESPONSE_CODE: 487, SIP_REASON_CAUSE: 31, SIP_CALL_STATE: 'CALL_CANCELED',
    });
  });

  test('refused call: 407 then 486 on a new CSeq, ERROR with the last failure', () => {
    const id = 'err-1';
    const r = dissectHex(D, [
      C(INVITE(id), 0),
      S(RESP('407 Proxy Authentication Required', id, '314159 INVITE'), 100),
      C(sip('INVITE sip:bob@biloxi.example.com SIP/2.0', dialog(id, '314160 INVITE')), 3000),
      S(RESP('486 Busy Here', id, '314160 INVITE'), 3100),
    ]);
    expect(r.fields).toMatchObject({ SIP_INVITE_TIME: secs(0), SIP_INVITE_FAILURE_TIME: secs(100), SIP_RESPONSE_CODE: 486, SIP_CALL_STATE: 'CALL_ERROR' });
  });

  test('a refused re-INVITE after the answer is neither a failure time nor the outcome', () => {
    const id = 're-1';
    const r = dissectHex(D, [
      C(INVITE(id), 0),
      S(RESP('200 OK', id, '314159 INVITE', [], SDP_ANSWER), 500),
      C(sip('INVITE sip:bob@192.0.2.4 SIP/2.0', answered(id, '314160 INVITE')), 20000),
      S(RESP('488 Not Acceptable Here', id, '314160 INVITE'), 20100),
    ]);
    expect(r.fields.SIP_INVITE_FAILURE_TIME).toBeUndefined();
    expect(r.fields).toMatchObject({ SIP_RESPONSE_CODE: 200, SIP_CALL_STATE: 'CALL_IN_PROGRESS', SIP_INVITE_OK_TIME: secs(500) });
  });

  test('late offer: SDP in the 200 (callee) and the ACK (caller) still give SRC = caller', () => {
    const id = 'late-1';
    const r = dissectHex(D, [
      C(INVITE(id, [], ''), 0),
      S(RESP('200 OK', id, '314159 INVITE', [], SDP_ANSWER), 100),
      C(sip('ACK sip:bob@192.0.2.4 SIP/2.0', answered(id, '314159 ACK', ['Content-Type: application/sdp']), SDP_OFFER), 200),
    ]);
    expect(r.fields).toMatchObject({
      SIP_RTP_IPV4_SRC_ADDR: '192.0.2.10', SIP_RTP_L4_SRC_PORT: 49170,
      SIP_RTP_IPV4_DST_ADDR: '198.51.100.20', SIP_RTP_L4_DST_PORT: 3456,
      SIP_RTP_CODECS: 'PCMA', // the first SDP of the transaction (the 200's)
    });
  });

  test('INVITE seen from the server side of the flow: the caller is the flow server', () => {
    const id = 'rev-1';
    const r = dissectHex(D, [
      C(sip('OPTIONS sip:x@example.com SIP/2.0', dialog(id, '1 OPTIONS')), 0),
      S(INVITE(id), 10),
      C(RESP('200 OK', id, '314159 INVITE', [], SDP_ANSWER), 20),
    ]);
    expect(r.fields).toMatchObject({ SIP_RTP_IPV4_SRC_ADDR: '192.0.2.10', SIP_RTP_IPV4_DST_ADDR: '198.51.100.20', SIP_CALL_STATE: 'CALL_IN_PROGRESS' });
  });
});

describe('SDP', () => {
  const withSdp = (sdp: string, ct = 'application/sdp') =>
    dissectHex(D, [C(sip('INVITE sip:bob@biloxi.example.com SIP/2.0', dialog('sdp', '1 INVITE', [`Content-Type: ${ct}`]), sdp))]);

  test('media-level c= beats the session one; a port-0 stream is skipped; static names; IPv6 only in C_IP', () => {
    const r = withSdp([
      'v=0', 'o=- 1 1 IN IP6 2001:db8::1', 's=-', 'c=IN IP6 2001:db8::1', 't=0 0',
      'm=audio 0 RTP/AVP 0', // rejected stream
      'm=audio 5004 RTP/SAVP 3 18 13', 'c=IN IP4 203.0.113.7/127',
      'm=video 5006 RTP/AVP 34 96', 'a=rtpmap:96 H264/90000',
      'm=image 6000 udptl t38', '',
    ].join('\r\n'));
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({
      SIP_RTP_IPV4_SRC_ADDR: '203.0.113.7', SIP_RTP_L4_SRC_PORT: 5004,
      SIP_RTP_CODECS: 'GSM,G729,CN,H263,H264,t38',
      SIP_C_IP: '2001:db8::1,203.0.113.7',
    });
  });

  test('only an IPv6 connection: the port is kept, the IPv4 address is not invented', () => {
    const r = withSdp('v=0\r\nc=IN IP6 2001:db8::5\r\nm=audio 7078 RTP/AVP 0\r\n');
    expect(r.fields.SIP_RTP_L4_SRC_PORT).toBe(7078);
    expect(r.fields.SIP_RTP_IPV4_SRC_ADDR).toBeUndefined();
    expect(r.fields.SIP_C_IP).toBe('2001:db8::5');
  });

  test('multipart/mixed (SIP-I: ISUP + SDP): the SDP part is found', () => {
    const body = [
      '--unique-boundary-1', 'Content-Type: application/ISUP; version=itu-t92+', 'Content-Disposition: signal; handling=required', '',
      '\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\x00\x03',
      '--unique-boundary-1', 'Content-Type: application/sdp', '', 'v=0', 'c=IN IP4 192.0.2.77', 'm=audio 20000 RTP/AVP 8', '',
      '--unique-boundary-1--', '',
    ].join('\r\n');
    const r = withSdp(body, 'multipart/mixed; boundary="unique-boundary-1"');
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({ SIP_RTP_IPV4_SRC_ADDR: '192.0.2.77', SIP_RTP_L4_SRC_PORT: 20000, SIP_RTP_CODECS: 'PCMA' });
  });

  test('a body that is not SDP, bad SDP lines', () => {
    expect(withSdp('hello world\r\n').anomalies).toEqual(['sip_bad_sdp']);
    const r = withSdp('v=0\r\nthis is not a line\r\nc=IN\r\nm=audio x RTP/AVP 0\r\nm=audio\r\na=rtpmap:\r\n');
    expect(r.anomalies).toEqual(['sip_bad_sdp_line']);
    expect(r.fields.SIP_RTP_CODECS).toBeUndefined();
    expect(withSdp('v=0\r\n', 'multipart/mixed').anomalies).toEqual(['sip_bad_multipart']);
    // Another content type is not looked into.
    expect(withSdp('v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 1 RTP/AVP 0\r\n', 'application/isup').fields.SIP_RTP_CODECS).toBeUndefined();
  });

  test('caps: media sections, rtpmaps, codecs, addresses, multipart parts', () => {
    const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\r\n');
    expect(withSdp(`v=0\r\n${many(20, (i) => `m=audio ${1000 + i} RTP/AVP 0`)}\r\n`).anomalies).toEqual(['sip_sdp_media_cap']);
    expect(withSdp(`v=0\r\nm=audio 1000 RTP/AVP 96\r\n${many(70, (i) => `a=rtpmap:${i} X${i}/8000`)}\r\n`).anomalies).toEqual(['sip_sdp_rtpmap_cap']);
    const codecs = withSdp(`v=0\r\nm=audio 1000 RTP/AVP ${many(40, (i) => String(96 + i)).replace(/\r\n/g, ' ')}\r\n`);
    expect(codecs.anomalies).toEqual(['sip_sdp_codecs_cap']);
    expect(String(codecs.fields.SIP_RTP_CODECS).split(',')).toHaveLength(32);
    expect(withSdp(`v=0\r\n${many(10, (i) => `c=IN IP4 192.0.2.${i}`)}\r\n`).anomalies).toEqual(['sip_sdp_addrs_cap']);
    const fmts = withSdp(`v=0\r\nm=audio 1000 RTP/AVP ${'0 '.repeat(5000)}\r\n`);
    expect(fmts.anomalies).toEqual(['sip_sdp_formats_cap']);
    expect(fmts.fields.SIP_RTP_CODECS).toBe('PCMU');
    const parts = many(20, () => '--b\r\nContent-Type: text/plain\r\n\r\nx') + '\r\n--b--\r\n';
    expect(withSdp(parts, 'multipart/mixed;boundary=b').anomalies).toEqual(['sip_multipart_cap']);
  });

  test('SIP_C_IP cap per transaction (8 addresses)', () => {
    const ps: Payload[] = [];
    for (let i = 0; i < 5; i++)
      ps.push(C(sip('INVITE sip:b@x SIP/2.0', dialog('cip', `${i + 1} INVITE`, ['Content-Type: application/sdp']), `v=0\r\nc=IN IP4 192.0.2.${2 * i}\r\nm=audio 1 RTP/AVP 0\r\nc=IN IP4 192.0.2.${2 * i + 1}\r\n`), i));
    const r = dissectHex(D, ps);
    expect(r.anomalies).toEqual(['sip_c_ip_cap']);
    expect(String(r.fields.SIP_C_IP).split(',')).toHaveLength(8);
  });
});

describe('registrations and transactions', () => {
  const REG = (id: string, cseq: number, from = 'sip:bob@biloxi.example.com') =>
    sip('REGISTER sip:registrar.biloxi.example.com SIP/2.0', [
      'Via: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7', `From: Bob <${from}>;tag=456248`, `To: Bob <${from}>`,
      `Call-ID: ${id}`, `CSeq: ${cseq} REGISTER`, 'Contact: <sip:bob@192.0.2.4>', 'User-Agent: BobPhone/2',
    ]);
  const REG_RESP = (code: string, id: string, cseq: number) =>
    sip(`SIP/2.0 ${code}`, ['From: Bob <sip:bob@biloxi.example.com>;tag=456248', 'To: Bob <sip:bob@biloxi.example.com>;tag=2493k59kd', `Call-ID: ${id}`, `CSeq: ${cseq} REGISTER`, 'Server: Registrar/1']);

  test('REGISTER / 401 / REGISTER (retransmitted) / 100 / 200: counters and max delay', () => {
    const id = '843817637684230@998sdasdh09';
    const r = dissectHex(D, [
      C(REG(id, 1826), 0), S(REG_RESP('401 Unauthorized', id, 1826), 120),
      C(REG(id, 1827), 5000), C(REG(id, 1827), 5500), // a retransmission: the delay runs from the first copy
      S(REG_RESP('100 Trying', id, 1827), 5600), S(REG_RESP('200 OK', id, 1827), 5750),
    ]);
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({
      SIP_CALL_STATE: 'REGISTER', SIP_REGISTER_NUM_OK: 1, SIP_REGISTER_NUM_OTHER: 1, SIP_REGISTER_MAX_RRD: 750,
      SIP_RESPONSE_CODE: 200, SIP_UAC: 'BobPhone/2', SIP_UAS: 'Registrar/1', SIP_CALLING_PARTY: '<sip:bob@biloxi.example.com>',
    });
    expect(r.fields.SIP_INVITE_TIME).toBeUndefined();
  });

  test('a call, a registration and an OPTIONS ping on one 5-tuple: three transactions, flat = first', () => {
    const r = dissectHex(D, [
      C(REG('reg-1', 1), 0), S(REG_RESP('200 OK', 'reg-1', 1), 50),
      C(INVITE('call-9'), 1000), S(RESP('200 OK', 'call-9', '314159 INVITE', [], SDP_ANSWER), 2000),
      S(sip('OPTIONS sip:alice@192.0.2.10 SIP/2.0', ['From: <sip:proxy.example.com>;tag=9', 'To: <sip:alice@192.0.2.10>', 'Call-ID: ping-1', 'CSeq: 7 OPTIONS']), 3000),
      C(sip('SIP/2.0 200 OK', ['From: <sip:proxy.example.com>;tag=9', 'To: <sip:alice@192.0.2.10>;tag=x', 'Call-ID: ping-1', 'CSeq: 7 OPTIONS']), 3010),
    ]);
    const t = tx(r);
    expect(t.map((x) => [x.SIP_CALL_ID, x.SIP_CALL_STATE])).toEqual([['reg-1', 'REGISTER'], ['call-9', 'CALL_IN_PROGRESS'], ['ping-1', 'UNKNOWN']]);
    expect(t[2]).toMatchObject({ SIP_RESPONSE_CODE: 200, SIP_CALLING_PARTY: '<sip:proxy.example.com>' });
    expect(r.fields.SIP_CALL_ID).toBe('reg-1');
    expect(r.fields.SIP_REGISTER_NUM_OK).toBe(1);
    expect(r.fields.SIP_INVITE_TIME).toBeUndefined(); // the call is the second transaction
  });

  test('transactions cap: 64 Call-IDs kept, the rest counted', () => {
    const ps = Array.from({ length: 70 }, (_, i) => C(sip('OPTIONS sip:x@example.com SIP/2.0', [`From: <sip:a@example.com>`, 'To: <sip:x@example.com>', `Call-ID: ping-${i}`, '1 OPTIONS'.replace(/^/, 'CSeq: ')]), i));
    const r = dissectHex(D, ps);
    expect(tx(r)).toHaveLength(64);
    expect(tx(r)[63].SIP_CALL_ID).toBe('ping-63');
    expect(r.anomalies).toEqual(['sip_transactions_cap']);
    // A known Call-ID still updates its transaction after the cap.
    const r2 = dissectHex(D, [...ps, S(sip('SIP/2.0 200 OK', ['From: <sip:a@example.com>', 'To: <sip:x@example.com>', 'Call-ID: ping-5', 'CSeq: 1 OPTIONS']), 100)]);
    expect(tx(r2)[5].SIP_RESPONSE_CODE).toBe(200);
  });
});

describe('probe()', () => {
  const probe = (s: string | Buffer, sport = 40000, dport = 5080) =>
    dissectHex(D, [{ dir: 0, hex: hex(s), sport, dport }]).probe[0];

  test('requests and responses on any port', () => {
    expect(probe(INVITE())).toBe(true);
    expect(probe(RESP('200 OK', 'x', '1 INVITE'), 5080, 40000)).toBe(true);
    expect(probe(sip('MESSAGE tel:+15551234 SIP/2.0', ['Call-ID: m', 'CSeq: 1 MESSAGE']))).toBe(true);
    expect(probe(sip('SUBSCRIBE sips:x@example.com SIP/2.0', ['Call-ID: m', 'CSeq: 1 SUBSCRIBE']), 5061, 5061)).toBe(true);
    // One damaged header line right after the start line does not hide the message.
    expect(probe('REGISTER sip:r.example.com SIP/2.0\r\nVi\x1d: x\r\nCall-ID: 1\r\n\r\n')).toBe(true);
  });

  test('other protocols and junk on the SIP port are not SIP', () => {
    const junk = Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 37 + 11) & 0xff));
    expect(probe(junk, 5060, 5060)).toBe(false);
    expect(probe('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n', 40000, 5060)).toBe(false);
    expect(probe('OPTIONS rtsp://example.com/media RTSP/1.0\r\nCSeq: 1\r\n\r\n', 40000, 5060)).toBe(false);
    expect(probe('HTTP/1.1 200 OK\r\nServer: x\r\n\r\n', 5060, 40000)).toBe(false);
    // A DNS query (id 0x1234, one question www.example.com A) sent to 5060.
    expect(probe(Buffer.from('123401000001000000000000037777770765786d706c6503636f6d0000010001', 'hex'), 40000, 5060)).toBe(false);
    expect(probe('\r\n\r\n', 5060, 5060)).toBe(false); // keep-alive
    expect(probe('invite sip:bob@biloxi.example.com SIP/2.0\r\nCall-ID: 1\r\n\r\n')).toBe(false); // methods are capitals
    expect(probe('INVITE bob SIP/2.0\r\nCall-ID: 1\r\n\r\n')).toBe(false); // no URI scheme
    expect(probe('INVITE sip:bob@b SIP/3.0\r\nCall-ID: 1\r\n\r\n')).toBe(false);
    expect(probe('SIP/2.0 99 Low\r\nCall-ID: 1\r\n\r\n')).toBe(false);
    expect(probe('SIP/2.0 200OK\r\nCall-ID: 1\r\n\r\n')).toBe(false);
    expect(probe('INVITE sip:bob@b SIP/2.0')).toBe(false); // no line end
    expect(probe('INVITE sip:bob@b SIP/2.0\r\n\r\n')).toBe(false); // no header
    expect(probe('INVITE sip:bob@b SIP/2.0\r\nnot a header\r\nnor this\r\n')).toBe(false);
  });
});

describe('bad input: named anomalies, nothing exported from the unusable', () => {
  const one = (s: string | Buffer) => dissectHex(D, [C(typeof s === 'string' ? s : s.toString('latin1'))]);
  const base = (extra: string[] = []) => ['From: <sip:a@example.com>;tag=1', 'To: <sip:b@example.com>', 'Call-ID: bad-1', 'CSeq: 1 INVITE', ...extra];

  test('start line: cut, invalid', () => {
    expect(one('INVITE sip:bob@b SIP/2.0').anomalies).toEqual(['sip_truncated_start_line']);
    expect(one('SIP/2.0 200').anomalies).toEqual(['sip_truncated_start_line']);
    expect(one('\x01\x02garbage').anomalies).toEqual(['sip_bad_start_line']);
    expect(one('INVITE sip:bob@b SIP/2.5\r\nCall-ID: x\r\n\r\n').anomalies).toEqual(['sip_bad_start_line']);
    expect(one('SIP/2.0 7000 Odd\r\nCall-ID: x\r\n\r\n').anomalies).toEqual(['sip_bad_start_line']);
    expect(one('INV@TE sip:bob@b SIP/2.0\r\nCall-ID: x\r\n\r\n').anomalies).toEqual(['sip_bad_start_line']);
    // A NUL is no token character (a C string search would have matched its terminator).
    expect(one('INV\0TE sip:bob@b SIP/2.0\r\nCall-ID: x\r\n\r\n').anomalies).toEqual(['sip_bad_start_line']);
    expect(one('INVITE sip:bob@b SIP/2.0\r\nCall\0ID: x\r\nCSeq: 1 INVITE\r\n\r\n').anomalies).toEqual(['sip_bad_header', 'sip_missing_call_id']);
    expect(one('INVITE sip:bob@b SIP/2.0\r\nCall-ID: x\r\n\r\n').fields.SIP_CALL_ID).toBe('x'); // missing CSeq is not fatal
  });

  test('headers: missing Call-ID, bad/missing CSeq, method mismatch, bad lines, cap', () => {
    expect(one(sip('INVITE sip:b@x SIP/2.0', ['From: <sip:a@x>', 'CSeq: 1 INVITE'])).anomalies).toEqual(['sip_missing_call_id']);
    const noCall = one(sip('INVITE sip:b@x SIP/2.0', ['From: <sip:a@x>', 'CSeq: 1 INVITE']));
    expect(noCall.fields.SIP_TRANSACTIONS).toBeUndefined();
    expect(one(sip('INVITE sip:b@x SIP/2.0', ['Call-ID: c', 'CSeq: x INVITE'])).anomalies).toEqual(['sip_bad_cseq']);
    expect(one(sip('INVITE sip:b@x SIP/2.0', ['Call-ID: c', 'CSeq: 99999999999 INVITE'])).anomalies).toEqual(['sip_bad_cseq']);
    expect(one(sip('INVITE sip:b@x SIP/2.0', ['Call-ID: c', 'CSeq: 1'])).anomalies).toEqual(['sip_bad_cseq']);
    expect(one(sip('INVITE sip:b@x SIP/2.0', ['Call-ID: c'])).anomalies).toEqual(['sip_missing_cseq']);
    expect(one(sip('INVITE sip:b@x SIP/2.0', ['Call-ID: c', 'CSeq: 1 BYE'])).anomalies).toEqual(['sip_cseq_method_mismatch']);
    expect(one(sip('INVITE sip:b@x SIP/2.0', [' folded first', ...base(['no colon here', ': empty name'])])).anomalies).toEqual(['sip_bad_header']);
    const many = Array.from({ length: 300 }, (_, i) => `X-H${i}: ${i}`);
    const capped = one(sip('INVITE sip:b@x SIP/2.0', [...many, ...base()]));
    expect(capped.anomalies).toEqual(['sip_headers_cap', 'sip_missing_cseq', 'sip_missing_call_id']);
    expect(capped.fields.SIP_CALL_ID).toBeUndefined();
  });

  test('values past 512 bytes are cut (UTF-8 safe) and counted', () => {
    const id = 'é'.repeat(300); // 600 bytes in UTF-8
    const r = dissectHex(D, [{ dir: 0, hex: Buffer.from(sip('INVITE sip:b@x SIP/2.0', [`Call-ID: ${id}`, 'CSeq: 1 INVITE']), 'utf8').toString('hex') }]);
    expect(r.anomalies).toEqual(['sip_value_cap']);
    expect(r.fields.SIP_CALL_ID).toBe('é'.repeat(256));
    // Folded continuation lines cannot grow a value past the cap either.
    const folded = ['Call-ID: start', ...Array.from({ length: 100 }, () => ' 0123456789')];
    const f = one(sip('INVITE sip:b@x SIP/2.0', [...folded, 'CSeq: 1 INVITE']));
    expect(f.anomalies).toEqual(['sip_value_cap']);
    expect(String(f.fields.SIP_CALL_ID).length).toBe(512);
  });

  test('Content-Length: invalid, conflicting, longer than the datagram, shorter with junk after', () => {
    expect(one(sip('INVITE sip:b@x SIP/2.0', [...base(), 'l: ten'], '', { noLength: true })).anomalies).toEqual(['sip_bad_content_length']);
    expect(one(sip('INVITE sip:b@x SIP/2.0', [...base(), 'Content-Length:'], '', { noLength: true })).anomalies).toEqual(['sip_bad_content_length']);
    expect(one(sip('INVITE sip:b@x SIP/2.0', [...base(), 'Content-Length: 99999999999'], '', { noLength: true })).anomalies).toEqual(['sip_bad_content_length']);
    expect(one(sip('INVITE sip:b@x SIP/2.0', [...base(), 'Content-Length: 0', 'l: 5'], '', { noLength: true })).anomalies).toEqual(['sip_bad_content_length']);
    // The same length twice is consistent.
    expect(one(sip('INVITE sip:b@x SIP/2.0', [...base(), 'Content-Length: 0', 'l: 0'], '', { noLength: true })).anomalies).toEqual([]);
    const short = sip('INVITE sip:b@x SIP/2.0', [...base(), 'Content-Type: application/sdp', 'Content-Length: 400'], SDP_OFFER, { noLength: true });
    const r = one(short);
    expect(r.anomalies).toEqual(['sip_truncated_body']);
    expect(r.fields.SIP_RTP_L4_SRC_PORT).toBe(49170); // what arrived is still read
    expect(one(sip('INVITE sip:b@x SIP/2.0', base()) + 'JUNK').anomalies).toEqual(['sip_extra_bytes']);
    expect(one(sip('INVITE sip:b@x SIP/2.0', base()) + '\r\n\0\0').anomalies).toEqual([]); // padding
    // Without Content-Length a datagram's body runs to its end (RFC 3261 §18.3).
    const nolen = one(sip('INVITE sip:b@x SIP/2.0', [...base(), 'Content-Type: application/sdp'], SDP_OFFER, { noLength: true }));
    expect(nolen.anomalies).toEqual([]);
    expect(nolen.fields.SIP_RTP_L4_SRC_PORT).toBe(49170);
  });

  test('headers cut before the blank line: the lines that arrived still count', () => {
    const r = one('INVITE sip:b@x SIP/2.0\r\nCall-ID: cut-1\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@x>\r\nTo: <sip:b@');
    expect(r.anomalies).toEqual(['sip_truncated_header']);
    expect(r.fields).toMatchObject({ SIP_CALL_ID: 'cut-1', SIP_CALLED_PARTY: '<sip:b@>', SIP_CALL_STATE: 'CALL_STARTED' });
  });

  test('keep-alives and STUN on the SIP flow are silently skipped', () => {
    const stun = '000100002112a442' + '0123456789abcdef01234567';
    const r = dissectHex(D, [
      { dir: 0, hex: hex('\r\n\r\n') }, { dir: 1, hex: hex('\r\n') }, { dir: 0, hex: stun }, { dir: 0, hex: hex('     ') }, { dir: 0, hex: '' },
    ]);
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toEqual({});
  });

  test('a non-SIP datagram later in a SIP flow is counted, the flow keeps its fields', () => {
    const r = dissectHex(D, [C(INVITE('k-1')), C('\x80\x08\x12\x34 RTP-looking bytes')]);
    expect(r.anomalies).toEqual(['sip_bad_start_line']);
    expect(r.fields.SIP_CALL_ID).toBe('k-1');
  });
});
