// The RADIUS dissector (native/dissect/radius.cc) on hex payloads: real messages from the
// captures in test/pcap/ (values as tshark decodes them), and messages built here attribute by
// attribute to reach each rule (transactions and retransmissions, the Access-Accept User-Name,
// Gigawords, 3GPP vendor attributes, the transaction cap, truncation and invalid values, and
// what the probe accepts and refuses).
import { dissectHex, Payload } from '../helpers/dissect';

// ---- real payloads (UDP payload bytes as tshark shows them) ---------------------------------

// arkime_radius_acct_vlan.pcap: Accounting-Request (Interim-Update) and its response. Its
// Acct-Output-Packets (48) appears twice: 1463339353, then 71477.
const ACCT_REQ =
  '04e3015700000000000000000000000000000000010b78787878787878787804060a0000010506000000003d06000000132c1f78787878787878783938354145423839383030302d353733363133303030065738c95932193938354145423839383030302d3030303030303937303308060a0000031f0e3938354145423839383030301e0e303031413145303030303030193a5048fc3468f64f16b5207eb261bf274eb90b0000000000005230303030353533352d30312d303030303030306500000000000000000000002906000000001a14000039e7050e7878782d656d706c6f7965651a1a000039e70614585858582d3030302d3030302d30303061321a0c000039e70a06585858321a14000039e7010e5858585f454d504c4f5945451a0c000039e7020600000bd81a08000039e70c022806000000032a060051e1a22b06050f00ca2f060000945c3006000117352e060002b5d4';
const ACCT_RSP = '05e3001400000000000000000000000000000000';
// tcpdump_radius_auth.pcap frames 1-4: Access-Request 5, Access-Challenge 5, Access-Request 6,
// Access-Accept 6 (EAP; Framed-IP-Address in the responses).
const AUTH = [
  '0105008becfe3d2fe4473ec6299095ee46aedf7704060a00000105060000c35c3d060000000f010e4a6f686e2e4d63477569726b1e1330302d31392d30362d45412d42382d38431f1330302d31342d32322d45392d35342d35450606000000020c06000005dc4f1302000011014a6f686e2e4d63477569726b501228c5beb8842486da70db51316f9d7889',
  '0b05006df050649184625d36f14c9075b7a48b830806fffffffe0c0600000240060600000002120b48656c6c6f2c2025754f18010100160410266b0e9a58322f4d01ab25b35f879464501211b5043c8a288758173133a5e07434cf1812c6d195032fdc30240f7313b231ef1d77',
  '010600ae6a6f38e6dae830304d2333e5d536464304060a00000105060000c35c3d060000000f010e4a6f686e2e4d63477569726b1e1330302d31392d30362d45412d42382d38431f1330302d31342d32322d45392d35342d35450606000000020c06000005dc1812c6d195032fdc30240f7313b231ef1d774f24020100220410c9f9769597e320843f5f2af7b8f1c9bd4a6f686e2e4d63477569726b50122726e2713194ebf2bc894f6a6202af38',
  '02060061fbba6a784c7decb314caf0f27944a37b0806fffffffe0c0600000240060600000002121548656c6c6f2c204a6f686e2e4d63477569726b4f06030100045012b9c4ae6213a71d32125ef7ca4e4c6360010e4a6f686e2e4d63477569726b',
];
// zeek_radius_localhost.pcap frames 15-17: one Access-Request (id 184) sent three times, never
// answered.
const ZEEK_RETRANS =
  '01b8004b00efa0456c0755d2c0509338beff484001077374657665021246b90761ed64b62835c166d070fb53eb0406c0a8001c05060000007b5012c8f4e9e54928fbaec3bb91f76a43684c';
// tcpdump_radius_rfc5176_coa.pcap frames 1 and 2: Disconnect-Request id 1, Disconnect-ACK id 2.
const DISCONNECT_REQ = '28010026e1792d2b4ab349f1a4c0fcc733d091c1501258513d662847e5f8734a30dbdac8e4af';
const DISCONNECT_ACK = '290200263bc9c343f689990756b96c583a56890a5012a74fa4bea5e08c870edb69432c277d17';
// malformed/tcpdump_radius_attr_asan.pcap: the 45 captured payload octets toward port 3799
// (code 58, Length 263, bogus attribute lengths).
const ASAN = '3a6a01070901020ed7ff03edb63a0f00cb0f00cb0505050504fe0404040404040404040404040403f714040403';
// malformed/ndpi_fuzz_2020_02_16_radius.pcap frame 1 (bit-flipped Access-Request, id 10): sound
// up to an attribute of length 0 at offset 365. tshark: User_Name
// "031148027\x9a516480@wlan.mnc480.mcc311.3gppnetwork.org", NAS-IP 172.20.1.16, NAS-Identifier
// "VZWC2TestLab", Calling-Station-Id "fc-db-b3-08-ff-14".
const FUZZ_FRAME1 =
  '010a02bf5e0e2b78773314628ae3d5ea0efe915e1a0a000057c80e0455531a0c000057c80d06776966691a0f000057c80909574953505231301a09000038a40d033637065b22a0e301353033313134383032379a35313634383040776c616e2e6d6e633438302e6d63633331312e336770706e6574776f726b2e6f72675903107e0831636973636f8306000000011f1366632d64622d62332d30382d66662d31341e2530302d61372d34322d64302d65302d30303a566572697a6f6e575646697763636573730506000000081a3100000009012b61756469742d73657373696f6e2d49643d3130666631306163303030303030623164316130323235622c2035623232613064312f66633a64623a62333a30383a66663a31342f3230350406ac140110200e565a574332546573744c61623a0c000037630106000000020606000000442500000005143d060000001340060000000d410600000006514535364f3a02010038013033313134383032373135313634383040776c616e2e6d6e633438302e6d63633331312e336770706e6574776f726b2e6f' +
  'aa'.repeat(338);

// ---- builders ---------------------------------------------------------------------------------

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const ip4 = (s: string): Buffer => Buffer.from(s.split('.').map(Number));
const attr = (type: number, value: Buffer | string): Buffer => {
  const v = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  return Buffer.concat([Buffer.from([type, v.length + 2]), v]);
};
/** Vendor-Specific (26) with RFC 2865 §5.26 sub-attributes. */
const vsa = (vendor: number, subs: Array<[number, Buffer | string]>): Buffer =>
  attr(26, Buffer.concat([u32(vendor), ...subs.map(([t, v]) => attr(t, v))]));
/** A message: code, id, Length = 20 + attributes, authenticator (16 octets, default all auth). */
const msg = (code: number, id: number, attrs: Buffer[] = [], auth = id): string => {
  const body = Buffer.concat(attrs);
  const h = Buffer.alloc(20, auth & 255);
  h[0] = code;
  h[1] = id;
  h.writeUInt16BE(20 + body.length, 2);
  return Buffer.concat([h, body]).toString('hex');
};
const req = (hex: string, ts = 0): Payload => ({ dir: 0, hex, sport: 40000, dport: 1812, ts });
const rsp = (hex: string, ts = 0): Payload => ({ dir: 1, hex, sport: 1812, dport: 40000, ts });
const run = (payloads: Payload[]) => dissectHex('RADIUS', payloads);
/** RADIUS_TRANSACTIONS as parsed JSON (the record keeps JSON fields as text with value()). */
const txns = (r: ReturnType<typeof run>): Array<Record<string, unknown>> => {
  const v = r.fields.RADIUS_TRANSACTIONS as unknown;
  const parsed = v !== null && typeof v === 'object' && typeof (v as { value?: unknown }).value === 'function' ? (v as { value(): unknown }).value() : v;
  return parsed as Array<Record<string, unknown>>;
};
const probeOn = (hex: string, sport: number, dport: number): boolean =>
  dissectHex('RADIUS', [{ dir: 0, hex, sport, dport }]).probe[0];

const FLAT = [
  'RADIUS_REQ_MSG_TYPE', 'RADIUS_RSP_MSG_TYPE', 'RADIUS_USER_NAME', 'RADIUS_CALLING_STATION_ID', 'RADIUS_CALLED_STATION_ID',
  'RADIUS_NAS_IP_ADDR', 'RADIUS_NAS_IDENTIFIER', 'RADIUS_USER_IMSI', 'RADIUS_USER_IMEI', 'RADIUS_FRAMED_IP_ADDR',
  'RADIUS_ACCT_SESSION_ID', 'RADIUS_ACCT_STATUS_TYPE', 'RADIUS_ACCT_IN_OCTETS', 'RADIUS_ACCT_OUT_OCTETS',
  'RADIUS_ACCT_IN_PKTS', 'RADIUS_ACCT_OUT_PKTS',
];
/** The flat nProbe fields are always the first transaction's. */
const expectFlatIsFirst = (r: ReturnType<typeof run>) => {
  const first = txns(r)[0];
  for (const k of FLAT) expect([k, r.fields[k]]).toEqual([k, first[k]]);
};

// ---- real captures ----------------------------------------------------------------------------

describe('RADIUS on real messages', () => {
  test('accounting request and response: every accounting field (arkime capture)', () => {
    const r = run([{ dir: 0, hex: ACCT_REQ, sport: 45210, dport: 1813 }, { dir: 1, hex: ACCT_RSP, sport: 1813, dport: 45210 }]);
    expect(r.probe).toEqual([true, true]);
    expect(r.l7).toBe(146);
    expect(r.fields).toMatchObject({
      RADIUS_REQ_MSG_TYPE: 4,
      RADIUS_RSP_MSG_TYPE: 5,
      RADIUS_USER_NAME: 'xxxxxxxxx',
      RADIUS_NAS_IP_ADDR: '10.0.0.1',
      RADIUS_ACCT_SESSION_ID: 'xxxxxxxx985AEB898000-57361300',
      RADIUS_FRAMED_IP_ADDR: '10.0.0.3',
      RADIUS_CALLING_STATION_ID: '985AEB898000',
      RADIUS_CALLED_STATION_ID: '001A1E000000',
      RADIUS_ACCT_STATUS_TYPE: 3,
      RADIUS_ACCT_IN_OCTETS: 5366178,
      RADIUS_ACCT_OUT_OCTETS: 84869322,
      RADIUS_ACCT_IN_PKTS: 37980,
      // Acct-Output-Packets is there twice (RFC 2866 allows one): the first counts, and says so.
      RADIUS_ACCT_OUT_PKTS: 1463339353,
    });
    expect(r.anomalies).toEqual(['radius_duplicate_attribute']);
    expect(txns(r)).toHaveLength(1);
    expectFlatIsFirst(r);
  });

  test('EAP authentication: two transactions, Framed-IP-Address from the responses (tcpdump capture)', () => {
    const r = run([req(AUTH[0]), rsp(AUTH[1]), req(AUTH[2]), rsp(AUTH[3])]);
    expect(r.probe).toEqual([true, true, true, true]);
    expect(r.anomalies).toEqual([]);
    const common = {
      RADIUS_REQ_MSG_TYPE: 1,
      RADIUS_USER_NAME: 'John.McGuirk',
      RADIUS_NAS_IP_ADDR: '10.0.0.1',
      RADIUS_CALLED_STATION_ID: '00-19-06-EA-B8-8C',
      RADIUS_CALLING_STATION_ID: '00-14-22-E9-54-5E',
      RADIUS_FRAMED_IP_ADDR: '255.255.255.254',
    };
    expect(txns(r)).toEqual([
      { ...common, RADIUS_RSP_MSG_TYPE: 11 },
      { ...common, RADIUS_RSP_MSG_TYPE: 2 },
    ]);
    expect(r.fields).toMatchObject({ ...common, RADIUS_RSP_MSG_TYPE: 11 });
    expectFlatIsFirst(r);
  });

  test('a request sent three times unanswered is one transaction (zeek capture)', () => {
    const r = run([req(ZEEK_RETRANS, 1), req(ZEEK_RETRANS, 5), req(ZEEK_RETRANS, 10)]);
    expect(txns(r)).toEqual([{ RADIUS_REQ_MSG_TYPE: 1, RADIUS_USER_NAME: 'steve', RADIUS_NAS_IP_ADDR: '192.168.0.28' }]);
    expect(r.fields.RADIUS_RSP_MSG_TYPE).toBeUndefined();
  });

  test('RFC 5176: a Disconnect-ACK with another identifier is not the request\'s answer', () => {
    const r = run([
      { dir: 0, hex: DISCONNECT_REQ, sport: 12345, dport: 3799 },
      { dir: 1, hex: DISCONNECT_ACK, sport: 3799, dport: 12345 },
    ]);
    expect(r.probe).toEqual([true, true]);
    expect(txns(r)).toEqual([{ RADIUS_REQ_MSG_TYPE: 40 }, { RADIUS_RSP_MSG_TYPE: 41 }]);
  });

  test('bit-flipped request (nDPI fuzz capture frame 1): fields up to the broken attribute, then a named anomaly', () => {
    const r = run([req(FUZZ_FRAME1)]);
    expect(r.probe).toEqual([true]);
    expect(r.anomalies).toEqual(['radius_bad_attribute_length']);
    expect(r.fields).toMatchObject({
      RADIUS_REQ_MSG_TYPE: 1,
      RADIUS_CALLING_STATION_ID: 'fc-db-b3-08-ff-14',
      RADIUS_NAS_IP_ADDR: '172.20.1.16',
      RADIUS_NAS_IDENTIFIER: 'VZWC2TestLab',
      RADIUS_ACCT_SESSION_ID: '5b22a0d1/fc:db:b3:08:ff:14/205',
    });
    // The flipped octet 0x9a is not UTF-8: it shows as U+FFFD, the rest as sent.
    expect(r.fields.RADIUS_USER_NAME).toBe('031148027\ufffd516480@wlan.mnc480.mcc311.3gppnetwork.org');
    // Off the RADIUS ports a message that does not hold together is not RADIUS.
    expect(probeOn(FUZZ_FRAME1, 40000, 50000)).toBe(false);
  });

  test('tcpdump radius_attr_asan: not RADIUS (code 58), and no crash when fed anyway', () => {
    expect(probeOn(ASAN, 258, 3799)).toBe(false);
    const r = run([{ dir: 0, hex: ASAN, sport: 258, dport: 3799 }]);
    expect(r.anomalies).toEqual(expect.arrayContaining(['radius_truncated_message', 'radius_unknown_code']));
    expect(r.fields).toEqual({});
  });
});

// ---- transactions -------------------------------------------------------------------------------

describe('RADIUS transactions', () => {
  test('request and response matched by identifier, interleaved', () => {
    const r = run([
      req(msg(1, 7, [attr(1, 'alice')])),
      req(msg(1, 8, [attr(1, 'bob')])),
      rsp(msg(3, 8)),
      rsp(msg(2, 7, [attr(8, ip4('10.1.2.3'))])),
    ]);
    expect(txns(r)).toEqual([
      { RADIUS_REQ_MSG_TYPE: 1, RADIUS_RSP_MSG_TYPE: 2, RADIUS_USER_NAME: 'alice', RADIUS_FRAMED_IP_ADDR: '10.1.2.3' },
      { RADIUS_REQ_MSG_TYPE: 1, RADIUS_RSP_MSG_TYPE: 3, RADIUS_USER_NAME: 'bob' },
    ]);
    expectFlatIsFirst(r);
  });

  test('the same identifier with another authenticator is a new transaction', () => {
    const r = run([req(msg(1, 9, [attr(1, 'a')], 1)), rsp(msg(3, 9)), req(msg(1, 9, [attr(1, 'b')], 2)), rsp(msg(2, 9))]);
    expect(txns(r).map((t) => [t.RADIUS_USER_NAME, t.RADIUS_RSP_MSG_TYPE])).toEqual([['a', 3], ['b', 2]]);
  });

  test('a retransmission after the answer, and a repeated answer, add nothing', () => {
    const q = msg(4, 3, [attr(44, 'S1'), attr(40, u32(1))]);
    const r = run([req(q), rsp(msg(5, 3)), req(q), rsp(msg(5, 3))]);
    expect(txns(r)).toEqual([{ RADIUS_REQ_MSG_TYPE: 4, RADIUS_RSP_MSG_TYPE: 5, RADIUS_ACCT_SESSION_ID: 'S1', RADIUS_ACCT_STATUS_TYPE: 1 }]);
  });

  test('a response nobody asked for is a transaction of its own; one from the requester\'s side does not answer', () => {
    const r = run([rsp(msg(2, 1, [attr(1, 'late')])), req(msg(1, 2)), { ...req(msg(2, 2)), dir: 0 }]);
    expect(txns(r)).toEqual([
      { RADIUS_RSP_MSG_TYPE: 2, RADIUS_USER_NAME: 'late' },
      { RADIUS_REQ_MSG_TYPE: 1 },
      { RADIUS_RSP_MSG_TYPE: 2 },
    ]);
  });

  test('response codes answer only their requests; Status-Server takes Access-Accept (RFC 5997)', () => {
    const r = run([req(msg(1, 1)), rsp(msg(5, 1)), req(msg(12, 2)), rsp(msg(2, 2)), req(msg(43, 3)), rsp(msg(45, 3))]);
    expect(txns(r)).toEqual([
      { RADIUS_REQ_MSG_TYPE: 1 },
      { RADIUS_RSP_MSG_TYPE: 5 },
      { RADIUS_REQ_MSG_TYPE: 12, RADIUS_RSP_MSG_TYPE: 2 },
      { RADIUS_REQ_MSG_TYPE: 43, RADIUS_RSP_MSG_TYPE: 45 },
    ]);
  });

  test('the response fills what the request lacked; an Access-Accept User-Name replaces the request\'s', () => {
    const r = run([
      req(msg(1, 1, [attr(1, 'anonymous@realm'), attr(4, ip4('192.0.2.1')), attr(32, 'nas-1')])),
      rsp(msg(2, 1, [attr(1, '001010123456789@realm'), attr(4, ip4('192.0.2.99')), attr(8, ip4('198.51.100.7'))])),
      req(msg(1, 2, [attr(1, 'carol')])),
      rsp(msg(11, 2, [attr(1, 'not-carol')])),
    ]);
    expect(txns(r)).toEqual([
      {
        RADIUS_REQ_MSG_TYPE: 1,
        RADIUS_RSP_MSG_TYPE: 2,
        RADIUS_USER_NAME: '001010123456789@realm',
        RADIUS_NAS_IP_ADDR: '192.0.2.1',
        RADIUS_NAS_IDENTIFIER: 'nas-1',
        RADIUS_FRAMED_IP_ADDR: '198.51.100.7',
      },
      { RADIUS_REQ_MSG_TYPE: 1, RADIUS_RSP_MSG_TYPE: 11, RADIUS_USER_NAME: 'carol' },
    ]);
  });

  test('at most 64 transactions, counted; stored ones still pair after the cap', () => {
    const payloads: Payload[] = [];
    for (let i = 0; i < 70; i++) payloads.push(req(msg(1, i, [attr(1, `u${i}`)])));
    payloads.push(rsp(msg(2, 5)));
    payloads.push(rsp(msg(2, 66))); // its request was dropped by the cap
    const r = run(payloads);
    const t = txns(r);
    expect(t).toHaveLength(64);
    expect(t[63].RADIUS_USER_NAME).toBe('u63');
    expect(t[5]).toEqual({ RADIUS_REQ_MSG_TYPE: 1, RADIUS_RSP_MSG_TYPE: 2, RADIUS_USER_NAME: 'u5' });
    expect(r.anomalies).toEqual(['radius_transactions_cap']);
    expect(r.fields.RADIUS_USER_NAME).toBe('u0');
  });

  test('no transaction, no fields', () => {
    const r = run([]);
    expect(r.fields).toEqual({});
    expect(r.l7).toBe(146);
  });
});

// ---- attributes ---------------------------------------------------------------------------------

describe('RADIUS attributes', () => {
  test('accounting counters: Gigawords carry the octet counts past 2^32 (RFC 2869 5.1-5.2)', () => {
    const r = run([
      req(msg(4, 1, [attr(40, u32(2)), attr(42, u32(5)), attr(52, u32(2)), attr(53, u32(1)), attr(47, u32(1000)), attr(48, u32(0))])),
    ]);
    expect(r.fields).toMatchObject({
      RADIUS_ACCT_STATUS_TYPE: 2,
      RADIUS_ACCT_IN_OCTETS: 2 * 2 ** 32 + 5,
      RADIUS_ACCT_OUT_OCTETS: 2 ** 32, // Gigawords alone: the octet attribute was 0 or absent
      RADIUS_ACCT_IN_PKTS: 1000,
      RADIUS_ACCT_OUT_PKTS: 0, // present and zero is exported
    });
    expect(r.anomalies).toEqual([]);
  });

  test('3GPP-IMSI and 3GPP-IMEISV (vendor 10415), ASCII digits, several sub-attributes in one VSA', () => {
    const r = run([req(msg(4, 1, [vsa(10415, [[2, u32(1)], [1, '001010123456789'], [20, '3534900612345601']])]))]);
    expect(r.fields).toMatchObject({ RADIUS_USER_IMSI: '001010123456789', RADIUS_USER_IMEI: '3534900612345601' });
    expect(r.anomalies).toEqual([]);
  });

  test('3GPP values sent TBCD-coded are decoded to the same digits; garbage is named', () => {
    // IMSI 262019876543210 and IMEISV 3534900612345601, two digits per octet, low nibble first,
    // F filling the last high nibble of an odd count.
    const r = run([req(msg(1, 1, [vsa(10415, [[1, Buffer.from('62029178563412f0', 'hex')], [20, Buffer.from('5343096021436510', 'hex')]])]))]);
    expect(r.fields).toMatchObject({ RADIUS_USER_IMSI: '262019876543210', RADIUS_USER_IMEI: '3534900612345601' });
    expect(r.anomalies).toEqual([]);
    // 16 digits are too many for an IMSI (TS 23.003: at most 15).
    const long = run([req(msg(1, 1, [vsa(10415, [[1, Buffer.from('6202917856341200', 'hex')]])]))]);
    expect(long.fields.RADIUS_USER_IMSI).toBeUndefined();
    expect(long.anomalies).toEqual(['radius_bad_3gpp_value']);
    // F in a low nibble is no digit.
    const lowF = run([req(msg(1, 1, [vsa(10415, [[1, Buffer.from('62021f', 'hex')]])]))]);
    expect(lowF.anomalies).toEqual(['radius_bad_3gpp_value']);
    const text = run([req(msg(1, 1, [vsa(10415, [[1, 'IMSI-ABC']])]))]);
    expect(text.fields.RADIUS_USER_IMSI).toBeUndefined();
    expect(text.anomalies).toEqual(['radius_bad_3gpp_value']);
  });

  test('other vendors\' data is left alone; a broken 3GPP VSA is named', () => {
    const other = run([req(msg(1, 1, [attr(26, Buffer.concat([u32(9), Buffer.from('ff00ff', 'hex')])), attr(1, 'x')]))]);
    expect(other.anomalies).toEqual([]);
    expect(other.fields.RADIUS_USER_NAME).toBe('x');
    const short = run([req(msg(1, 1, [attr(26, Buffer.from('0000', 'hex')), attr(1, 'y')]))]);
    expect(short.anomalies).toEqual(['radius_bad_vsa']);
    expect(short.fields.RADIUS_USER_NAME).toBe('y'); // the message goes on
    const sub = run([req(msg(1, 1, [attr(26, Buffer.concat([u32(10415), Buffer.from('0109303031', 'hex')]))]))]);
    expect(sub.anomalies).toEqual(['radius_bad_vsa']);
    expect(sub.fields.RADIUS_USER_IMSI).toBeUndefined();
    const zero = run([req(msg(1, 1, [attr(26, Buffer.concat([u32(10415), Buffer.from('0100', 'hex')]))]))]);
    expect(zero.anomalies).toEqual(['radius_bad_vsa']);
  });

  test('addresses and integers of the wrong size are invalid values; empty strings are no value', () => {
    const r = run([req(msg(4, 1, [attr(4, Buffer.from('0a000001ff', 'hex')), attr(8, ip4('10.9.8.7')), attr(40, Buffer.from('01', 'hex')), attr(1, '')]))]);
    expect(r.anomalies).toEqual(['radius_bad_attribute_value']);
    expect(r.fields.RADIUS_NAS_IP_ADDR).toBeUndefined();
    expect(r.fields.RADIUS_ACCT_STATUS_TYPE).toBeUndefined();
    expect(r.fields.RADIUS_USER_NAME).toBeUndefined();
    expect(r.fields.RADIUS_FRAMED_IP_ADDR).toBe('10.9.8.7');
  });

  test('a repeated single-valued attribute: the first counts, named', () => {
    const r = run([req(msg(1, 1, [attr(1, 'first'), attr(31, 'aa-bb'), attr(1, 'second')]))]);
    expect(r.fields.RADIUS_USER_NAME).toBe('first');
    expect(r.anomalies).toEqual(['radius_duplicate_attribute']);
  });

  test('a broken UTF-8 sequence reads the same in the flat field and in RADIUS_TRANSACTIONS', () => {
    // E2 82 starts a 3-octet sequence that "A" breaks: one U+FFFD per bad octet, in both places
    // (the WHATWG decoder of the flat bytes would fold them into one).
    const r = run([req(msg(1, 1, [attr(1, Buffer.from('e28241', 'hex'))]))]);
    expect(r.fields.RADIUS_USER_NAME).toBe('\ufffd\ufffdA');
    expect(txns(r)[0].RADIUS_USER_NAME).toBe('\ufffd\ufffdA');
  });

  test('strings keep every octet (NUL and non-UTF-8 included)', () => {
    const r = run([req(msg(1, 1, [attr(1, Buffer.from('616200636466ff', 'hex'))]))]);
    expect(r.fields.RADIUS_USER_NAME).toBe('ab\u0000cdf\ufffd');
    expect(txns(r)[0].RADIUS_USER_NAME).toBe('ab\u0000cdf\ufffd');
  });
});

// ---- malformed input ------------------------------------------------------------------------

describe('RADIUS bad input', () => {
  test('shorter than the header', () => {
    const r = run([req('0101001400')]);
    expect(r.anomalies).toEqual(['radius_truncated_header']);
    expect(r.fields).toEqual({});
  });

  test('Length under 20 or over 4096 is invalid', () => {
    const h = msg(1, 1);
    expect(run([req(h.slice(0, 4) + '0013' + h.slice(8))]).anomalies).toEqual(['radius_bad_length']);
    expect(run([req('01011001' + h.slice(8))]).anomalies).toEqual(['radius_bad_length']);
  });

  test('Length beyond the captured bytes: what is there is parsed, the cut is named', () => {
    const full = msg(1, 4, [attr(1, 'dave'), attr(32, 'nas-x')]);
    const cut = full.slice(0, full.length - 4); // two octets of NAS-Identifier missing
    const r = run([req(cut)]);
    expect(r.anomalies).toEqual(['radius_truncated_message', 'radius_truncated_attribute']);
    expect(r.fields).toMatchObject({ RADIUS_REQ_MSG_TYPE: 1, RADIUS_USER_NAME: 'dave' });
    expect(r.fields.RADIUS_NAS_IDENTIFIER).toBeUndefined();
    // Cut inside an attribute header (one octet left).
    const cut1 = full.slice(0, (20 + 6 + 1) * 2);
    expect(run([req(cut1)]).anomalies).toEqual(['radius_truncated_message', 'radius_truncated_attribute']);
  });

  test('attribute lengths under 2 or past the message Length are invalid (not truncation)', () => {
    const zero = run([req(msg(1, 1, [attr(1, 'eve'), Buffer.from('2000', 'hex')]))]);
    expect(zero.anomalies).toEqual(['radius_bad_attribute_length']);
    expect(zero.fields.RADIUS_USER_NAME).toBe('eve');
    const past = run([req(msg(1, 1, [attr(1, 'eve'), Buffer.from('2010616263', 'hex')]))]);
    expect(past.anomalies).toEqual(['radius_bad_attribute_length']);
    // A Length that leaves one stray octet after the last attribute.
    const stray = run([req(msg(1, 1, [attr(1, 'eve'), Buffer.from('01', 'hex')]))]);
    expect(stray.anomalies).toEqual(['radius_bad_attribute_length']);
    // Past the Length even though the datagram has more octets (they are padding).
    const h = msg(1, 1, [attr(1, 'eve')]);
    const shortLen = h.slice(0, 4) + (20 + 3).toString(16).padStart(4, '0') + h.slice(8);
    expect(run([req(shortLen)]).anomalies).toEqual(['radius_bad_attribute_length']);
  });

  test('padding after Length is ignored (RFC 2865 3)', () => {
    const r = run([req(msg(1, 1, [attr(1, 'frank')]) + '00000000')]);
    expect(r.anomalies).toEqual([]);
    expect(r.fields.RADIUS_USER_NAME).toBe('frank');
  });

  test('an unknown code is named and makes no transaction', () => {
    const r = run([req(msg(1, 1, [attr(1, 'g')])), req(msg(99, 2, [attr(1, 'h')]))]);
    expect(r.anomalies).toEqual(['radius_unknown_code']);
    expect(txns(r)).toHaveLength(1);
  });

  test('every cut of a real message is safe', () => {
    for (let n = 0; n <= ACCT_REQ.length / 2; n++) {
      const r = run([req(ACCT_REQ.slice(0, 2 * n))]);
      if (n < 20) expect(r.anomalies).toEqual(['radius_truncated_header']);
      else if (n < ACCT_REQ.length / 2) expect(r.anomalies).toContain('radius_truncated_message');
      else expect(r.anomalies).toEqual(['radius_duplicate_attribute']);
    }
  });
});

// ---- detection ------------------------------------------------------------------------------

describe('RADIUS probe', () => {
  test('recognises every real message on the RADIUS ports, and a whole message off them', () => {
    for (const [hex, port] of [[ACCT_REQ, 1813], [ACCT_RSP, 1813], ...AUTH.map((h) => [h, 1812]), [DISCONNECT_REQ, 3799], [ZEEK_RETRANS, 1645]] as Array<[string, number]>)
      expect(probeOn(hex, 40000, port)).toBe(true);
    expect(probeOn(AUTH[0], 40000, 50000)).toBe(true);
    expect(probeOn(ACCT_REQ, 31000, 32000)).toBe(true);
  });

  test('off the RADIUS ports: no attributes, padding or a bad attribute are not enough', () => {
    expect(probeOn(ACCT_RSP, 40000, 50000)).toBe(false); // header only
    expect(probeOn(msg(1, 1, [attr(1, 'x')]) + '00', 40000, 50000)).toBe(false); // padding
    expect(probeOn(msg(1, 1, [attr(1, 'x')]) + '00', 40000, 1812)).toBe(true);
    expect(probeOn(msg(1, 1, [attr(1, 'x'), attr(0, 'y')]), 40000, 50000)).toBe(false); // type 0
  });

  test('refuses other protocols and random bytes on the RADIUS ports', () => {
    const dnsQuery = 'abcd01000001000000000000076578616d706c6503636f6d0000010001';
    const dnsReply = '01b2818000010001000000000377777706676f6f676c6503636f6d0000010001c00c000100010000012c00048efa4a24';
    const sip = Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4\r\n\r\n').toString('hex');
    // DHCP DISCOVER: op 1 = "Access-Request", but its "Length" (htype/hlen 0x0106) is not its size.
    const dhcp = '0101060012345678' + '00'.repeat(228) + '63825363350101ff';
    for (const hex of [dnsQuery, dnsReply, sip, dhcp]) {
      expect(probeOn(hex, 40000, 1812)).toBe(false);
      expect(probeOn(hex, 1813, 40000)).toBe(false);
    }
    // Unknown code 0x3a with a valid-looking rest (the tcpdump ASan capture).
    expect(probeOn(ASAN, 258, 3799)).toBe(false);
    // Random payloads (fixed seed): none taken for RADIUS.
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 255;
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      const n = 20 + (rnd() % 200);
      const b = Buffer.alloc(n);
      for (let j = 0; j < n; j++) b[j] = rnd();
      if (probeOn(b.toString('hex'), 40000, 1812)) accepted++;
    }
    expect(accepted).toBe(0);
  });

  test('the first attribute must be sound even on a RADIUS port; a later break is the dissector\'s business', () => {
    expect(probeOn(msg(1, 1, [Buffer.from('0100', 'hex')]), 40000, 1812)).toBe(false);
    expect(probeOn(msg(1, 1, [attr(1, 'x'), Buffer.from('0100', 'hex')]), 40000, 1812)).toBe(true);
    expect(probeOn(msg(1, 1, [attr(1, 'x'), Buffer.from('0100', 'hex')]), 40000, 50000)).toBe(false);
    // Length beyond the datagram (a cut capture) is never enough to be detected on.
    expect(probeOn(msg(1, 1, [attr(1, 'xyz')]).slice(0, -2), 40000, 1812)).toBe(false);
  });
});
