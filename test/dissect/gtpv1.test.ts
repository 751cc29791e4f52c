// GTPv1-C dissector (native/dissect/gtpc.cc) on hex input: real messages from
// test/pcap/gtp/zeek_gtp_pdp_ctx_messages.pcapng, messages built here per TS 29.060 for what
// the captures lack (Update/Delete PDP Context, IMEISV, RAT, ULI, IPv6 end-user address),
// transactions and their cap, probe() positive and negative, malformed input.
import { dissectHex, Payload } from '../helpers/dissect';

const D = 'GTPV1';

const h8 = (n: number) => n.toString(16).padStart(2, '0');
const h16 = (n: number) => n.toString(16).padStart(4, '0');
const h32 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
const tv = (type: number, hex: string) => h8(type) + hex;
const tlv = (type: number, hex: string) => h8(type) + h16(hex.length / 2) + hex;
// TBCD written out by hand-rule: digit pairs swapped, an odd count padded with F.
const tbcd = (digits: string) =>
  (digits.length % 2 ? digits + 'f' : digits).replace(/(.)(.)/g, '$2$1');

interface MsgOpts {
  flags?: number; // default 0x32: version 1, PT 1, S
  teid?: number;
  opt?: string; // the 4 optional octets and extension headers, when flags & 7
}
// A GTPv1 message: the length field counts everything after the first 8 octets.
function msg(type: number, seq: number, ies: string, o: MsgOpts = {}): string {
  const flags = o.flags ?? 0x32;
  const opt = o.opt ?? (flags & 0x07 ? h16(seq) + '0000' : '');
  const body = opt + ies;
  return h8(flags) + h8(type) + h16(body.length / 2) + h32(o.teid ?? 0) + body;
}

const C2S = (hex: string, extra: Partial<Payload> = {}): Payload => ({ dir: 0, hex, sport: 34273, dport: 2123, ...extra });
const S2C = (hex: string, extra: Partial<Payload> = {}): Payload => ({ dir: 1, hex, sport: 2123, dport: 34273, ...extra });

// Frames 2 and 3 (SGSN 192.169.100.1:34273 -> GGSN 10.100.200.33:2123) and 5..8 (Echo, then
// a Create PDP Context exchange on 2123 <-> 2123) of zeek_gtp_pdp_ctx_messages.pcapng.
const F2 =
  '3210008900000000130b00000264004001000001f10364f060fffeff0eb00ffd1032f02bf91132f02bf91405800002f1218300070665657465737484001a8080211601010016030600000000810600000000830600000000850004c0a96401850004c0a9640186000891685122010001f187000c021b421f738c4040744b4040970001029900022320ff00052aab020103';
const F3 =
  '3211006532f02bf9130b0000018008fe0e181010000085111000008014057f0623a7c9800006f121c0a8fc82840021808021100401001081060000000083060000000080210a0301000a0306c0a8fc828500040a64c8228500040a64c83187000c021b421f738c4040744b4040';
const F5 = '32010004000000000c000000';
const F6 = '32020006000000000c0000000e01';
const F7 =
  '32100068000000000c0100000242000121436587f90e030f011000000001110000000114001a0800800002f12183000908696e7465726e657484001580c0231101010011036d69670868656d6d656c69678500047f0000028500047f000002860007916407123254f6870004000b921f';
const F8 =
  '3211004e000000010c010000018008000e01100000000111000000017f00000001800006f121c0a8000284001480802110020000108106000000008306000000008500047f0000018500047f000001870004000b921f';
// Frame 9: version 0 (GTPv0, GSM 09.60) Create PDP Context Request on UDP 3386.
const F9_V0 =
  '1e10004f10010000ffffffff4200012143658709060b921f0e040f01100001110001800002f12183000908696e7465726e657484001580c0231101010011036d69670868656d6d656c69678500047f0000028500047f000002860007916407123254f6';

describe('real Create PDP Context exchanges (Zeek pdp_ctx_messages)', () => {
  test('request + response on 34273 -> 2123: every field, one transaction', () => {
    const r = dissectHex(D, [C2S(F2), S2C(F3)]);
    expect(r.probe).toEqual([true, true]);
    expect(r.l7).toBe(272);
    expect(r.anomalies).toEqual([]);
    const top = {
      GTPV1_REQ_MSG_TYPE: 16,
      GTPV1_RSP_MSG_TYPE: 17,
      GTPV1_C2S_TEID_DATA: 0x32f02bf9,
      GTPV1_C2S_TEID_CTRL: 0x32f02bf9,
      GTPV1_S2C_TEID_DATA: 0x10000085,
      GTPV1_S2C_TEID_CTRL: 0x10000080,
      GTPV1_END_USER_IP: '192.168.252.130',
      GTPV1_END_USER_IMSI: '460004100000101',
      GTPV1_END_USER_MSISDN: '8615221000101',
      GTPV1_APN_NAME: 'eetest',
      GTPV1_RAT_TYPE: 2,
      // Zeek's oracle: rai=[mcc=460, mnc=6, lac=65534, rac=255]; the MNC has 2 digits (F filler).
      GTPV1_RAI_MCC: '460',
      GTPV1_RAI_MNC: '06',
      GTPV1_RAI_LAC: 65534,
      GTPV1_RAI_RAC: 255,
      GTPV1_RESPONSE_CAUSE: 128,
    };
    expect(r.fields).toEqual({ ...top, GTPV1_TRANSACTIONS: [top] });
  });

  test('Echo then Create on 2123 <-> 2123: top-level fields are the Create, both transactions listed', () => {
    const p = { sport: 2123, dport: 2123 };
    const r = dissectHex(D, [C2S(F5, p), S2C(F6, p), C2S(F7, p), S2C(F8, p)]);
    expect(r.probe).toEqual([true, true, true, true]);
    expect(r.anomalies).toEqual([]);
    const create = {
      GTPV1_REQ_MSG_TYPE: 16,
      GTPV1_RSP_MSG_TYPE: 17,
      GTPV1_C2S_TEID_DATA: 1,
      GTPV1_C2S_TEID_CTRL: 1,
      GTPV1_S2C_TEID_DATA: 1,
      GTPV1_S2C_TEID_CTRL: 1,
      GTPV1_END_USER_IP: '192.168.0.2',
      GTPV1_END_USER_IMSI: '240010123456789',
      GTPV1_END_USER_MSISDN: '46702123456',
      GTPV1_APN_NAME: 'internet',
      GTPV1_RESPONSE_CAUSE: 128,
    };
    expect(r.fields).toEqual({
      ...create,
      GTPV1_TRANSACTIONS: [{ GTPV1_REQ_MSG_TYPE: 1, GTPV1_RSP_MSG_TYPE: 2 }, create],
    });
  });

  test('a flow of Echo only: the Echo is the first transaction', () => {
    const r = dissectHex(D, [C2S(F5), S2C(F6)]);
    expect(r.fields).toEqual({
      GTPV1_REQ_MSG_TYPE: 1,
      GTPV1_RSP_MSG_TYPE: 2,
      GTPV1_TRANSACTIONS: [{ GTPV1_REQ_MSG_TYPE: 1, GTPV1_RSP_MSG_TYPE: 2 }],
    });
  });
});

describe('probe', () => {
  test('recognised off port 2123', () => {
    const r = dissectHex(D, [{ dir: 0, hex: F7, sport: 40000, dport: 40001 }, { dir: 1, hex: F8, sport: 40001, dport: 40000 }]);
    expect(r.probe).toEqual([true, true]);
    expect(r.fields.GTPV1_END_USER_IMSI).toBe('240010123456789');
  });

  test('a DNS query on 2123 is not GTP-C', () => {
    const dns = '123401000001000000000000076578616d706c6503636f6d0000010001';
    expect(dissectHex(D, [C2S(dns)]).probe).toEqual([false]);
  });

  test('random bytes on 2123 are not GTP-C', () => {
    // xorshift32, fixed seed: 2000 payloads of 1..200 bytes, none may be claimed... unless
    // one is a valid GTPv1-C message, which the check below rules out by hand.
    let s = 0x2545f491;
    const rnd = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), s >>> 0);
    let claimed = 0;
    for (let i = 0; i < 2000; i++) {
      const n = 1 + (rnd() % 200);
      const b = Buffer.alloc(n);
      for (let j = 0; j < n; j++) b[j] = rnd() & 0xff;
      if (dissectHex(D, [C2S(b.toString('hex'))]).probe[0]) claimed++;
    }
    expect(claimed).toBe(0);
  });

  test('random bytes behind a valid-looking GTPv1 header are not GTP-C (IEs must parse to the end)', () => {
    let s = 0x1234567;
    const rnd = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), s >>> 0);
    let claimed = 0;
    for (let i = 0; i < 500; i++) {
      let ies = '';
      for (let j = 0; j < 40; j++) ies += h8(rnd() & 0xff);
      if (dissectHex(D, [C2S(msg(16, i, ies))]).probe[0]) claimed++;
    }
    // An IE walk over 40 random octets ends exactly at the end only by rare chance.
    expect(claimed).toBeLessThan(10);
  });

  test('GTPv2-C (version 2) on 2123 is not claimed and gives no anomaly', () => {
    const v2echo = '4001000900000100030001000a';
    const r = dissectHex(D, [C2S(v2echo)]);
    expect(r.probe).toEqual([false]);
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toEqual({});
  });

  test("version 0 (GTPv0 on 3386) is explicitly not GTPv1 (nor GTP')", () => {
    const r = dissectHex(D, [{ dir: 0, hex: F9_V0, sport: 3386, dport: 3386 }]);
    expect(r.probe).toEqual([false]);
    expect(r.anomalies).toEqual(['gtpv1_bad_version']);
  });

  test("GTP' (PT 0, TS 32.295) is not claimed", () => {
    // Data Record Transfer Request: flags 0x0e (version 0, PT 0, spare 111, 6-octet header).
    expect(dissectHex(D, [{ dir: 0, hex: '0ef0000400010200', sport: 3386, dport: 3386 }]).probe).toEqual([false]);
    // The same flags with version 1.
    expect(dissectHex(D, [C2S(msg(16, 1, '', { flags: 0x22 }))]).probe).toEqual([false]);
  });

  test('G-PDUs are never claimed: not on 2152, not on 2123', () => {
    const gpdu = '30ff001c00000001' + '4500001c0000000040110000c0a80001c0a8000204d2162e00080000';
    expect(dissectHex(D, [{ dir: 0, hex: gpdu, sport: 2152, dport: 2152 }]).probe).toEqual([false]);
    expect(dissectHex(D, [C2S(gpdu)]).probe).toEqual([false]);
    const gpduSeq = msg(255, 7, '4500001c0000000040110000c0a80001c0a8000204d2162e00080000');
    expect(dissectHex(D, [{ dir: 0, hex: gpduSeq, sport: 2152, dport: 2152 }]).probe).toEqual([false]);
  });

  test('GTP-U Echo on 2152 is claimed as GTP_U (271), with no GTPV1 fields', () => {
    const p = { sport: 2152, dport: 2152 };
    const r = dissectHex(D, [C2S(F5, p), S2C(F6, p)]);
    expect(r.probe).toEqual([true, true]);
    expect(r.l7).toBe(271);
    expect(r.fields).toEqual({});
    expect(r.anomalies).toEqual([]);
  });

  test('a Create PDP Context Request on 2152 is not claimed (GTP-C does not use the GTP-U port)', () => {
    expect(dissectHex(D, [{ dir: 0, hex: F7, sport: 2152, dport: 2152 }]).probe).toEqual([false]);
  });

  test('strictness: exact length, sequence present, known message type, known TV IEs', () => {
    expect(dissectHex(D, [C2S(F7 + '00')]).probe).toEqual([false]); // trailing octet
    expect(dissectHex(D, [C2S(F7.slice(0, -2))]).probe).toEqual([false]); // one octet short
    expect(dissectHex(D, [C2S(msg(16, 1, tv(14, '01'), { flags: 0x30 }))]).probe).toEqual([false]); // no S
    expect(dissectHex(D, [C2S(msg(8, 1, ''))]).probe).toEqual([false]); // type 8: unassigned
    expect(dissectHex(D, [C2S(msg(4, 1, ''))]).probe).toEqual([false]); // Node Alive: GTP' only
    expect(dissectHex(D, [C2S(msg(1, 1, tv(30, '00')))]).probe).toEqual([false]); // TV 30 unknown
    expect(dissectHex(D, [C2S(msg(1, 1, ''))]).probe).toEqual([true]);
    expect(dissectHex(D, [C2S(msg(20, 1, tv(20, '05')))]).probe).toEqual([true]);
  });
});

describe('fields the captures lack', () => {
  // Update PDP Context Request (SGSN -> GGSN) with RAI, TEIDs, NSAPI, ULI (CGI), RAT, IMEISV;
  // Response (GGSN -> SGSN) with Cause, TEIDs, Charging ID.
  const updReq = msg(
    18,
    0x4711,
    tv(3, '13f620' + '1a2b' + '07') + // RAI
      tv(14, '05') +
      tv(16, 'aabbccdd') +
      tv(17, '11223344') +
      tv(20, '06') +
      tlv(133, 'c0000201') +
      tlv(133, 'c0000202') +
      tlv(135, '0b921f') +
      tlv(151, '01') +
      tlv(152, '00' + '130062' + '0102' + 'abcd') +
      tlv(154, tbcd('3534900698733021')),
    { teid: 0x10000080 },
  );
  const updRsp = msg(
    19,
    0x4711,
    tv(1, '80') + tv(16, '00000085') + tv(17, '00000080') + tv(127, '0623a7c9') + tlv(133, 'c0000203') + tlv(133, 'c0000204'),
    { teid: 0xaabbccdd },
  );

  test('Update PDP Context Request/Response: RAI, ULI (CGI), RAT, IMEISV, TEIDs both ways, cause', () => {
    const r = dissectHex(D, [C2S(updReq), S2C(updRsp)]);
    expect(r.probe).toEqual([true, true]);
    expect(r.anomalies).toEqual([]);
    const t = {
      GTPV1_REQ_MSG_TYPE: 18,
      GTPV1_RSP_MSG_TYPE: 19,
      GTPV1_C2S_TEID_DATA: 0xaabbccdd,
      GTPV1_C2S_TEID_CTRL: 0x11223344,
      GTPV1_S2C_TEID_DATA: 0x85,
      GTPV1_S2C_TEID_CTRL: 0x80,
      GTPV1_END_USER_IMEI: '3534900698733021',
      GTPV1_RAT_TYPE: 1,
      // 13 f6 20: MCC digits 3,1,6; MNC3 = F (2 digits); MNC 0,2.
      GTPV1_RAI_MCC: '316',
      GTPV1_RAI_MNC: '02',
      GTPV1_RAI_LAC: 0x1a2b,
      GTPV1_RAI_RAC: 7,
      // 13 00 62: MCC 3,1,0; MNC 2,6 and MNC3 0 -> "260" (3 digits, order MNC1 MNC2 MNC3).
      GTPV1_ULI_MCC: '310',
      GTPV1_ULI_MNC: '260',
      GTPV1_ULI_CELL_LAC: 0x0102,
      GTPV1_ULI_CELL_CI: 0xabcd,
      GTPV1_RESPONSE_CAUSE: 128,
    };
    expect(r.fields).toEqual({ ...t, GTPV1_TRANSACTIONS: [t] });
  });

  test('Delete PDP Context Request/Response (teardown), cause "non-existent" (192)', () => {
    const del = msg(20, 9, tv(19, 'ff') + tv(20, '05'), { teid: 0x32f02bf9 });
    const rsp = msg(21, 9, tv(1, 'c0'));
    const r = dissectHex(D, [C2S(del), S2C(rsp)]);
    expect(r.probe).toEqual([true, true]);
    expect(r.anomalies).toEqual([]);
    const t = { GTPV1_REQ_MSG_TYPE: 20, GTPV1_RSP_MSG_TYPE: 21, GTPV1_RESPONSE_CAUSE: 192 };
    expect(r.fields).toEqual({ ...t, GTPV1_TRANSACTIONS: [t] });
  });

  test('ULI as SAI (type 1) and as RAI (type 2)', () => {
    const sai = dissectHex(D, [C2S(msg(18, 1, tlv(152, '01' + '21f354' + 'fffe' + '0042')))]);
    expect(sai.anomalies).toEqual([]);
    expect(sai.fields).toMatchObject({ GTPV1_ULI_MCC: '123', GTPV1_ULI_MNC: '45', GTPV1_ULI_CELL_LAC: 0xfffe, GTPV1_ULI_SAC: 0x42 });
    expect(sai.fields).not.toHaveProperty('GTPV1_ULI_CELL_CI');
    const rai = dissectHex(D, [C2S(msg(18, 1, tlv(152, '02' + '00f110' + '0001' + '09ff')))]);
    expect(rai.anomalies).toEqual([]);
    expect(rai.fields).toMatchObject({ GTPV1_ULI_MCC: '001', GTPV1_ULI_MNC: '01', GTPV1_ULI_CELL_LAC: 1 });
    expect(rai.fields).not.toHaveProperty('GTPV1_ULI_CELL_CI');
    expect(rai.fields).not.toHaveProperty('GTPV1_ULI_SAC');
  });

  test('TBCD keeps leading zeros; 14-digit IMSI ends with a full filler octet', () => {
    const r = dissectHex(D, [C2S(msg(16, 1, tv(2, tbcd('001010000000001')) + tlv(134, '91' + tbcd('0049301234'))))]);
    expect(r.fields).toMatchObject({ GTPV1_END_USER_IMSI: '001010000000001', GTPV1_END_USER_MSISDN: '0049301234' });
    const r14 = dissectHex(D, [C2S(msg(16, 1, tv(2, tbcd('00101000000001') + 'ff')))]);
    expect(r14.fields.GTPV1_END_USER_IMSI).toBe('00101000000001');
    expect(r14.anomalies).toEqual([]);
  });

  test('MSISDN may carry TBCD * # a b c', () => {
    const r = dissectHex(D, [C2S(msg(16, 1, tlv(134, '81' + 'a1' + 'cb' + 'fe')))]);
    expect(r.fields.GTPV1_END_USER_MSISDN).toBe('1*#ac');
    expect(r.anomalies).toEqual([]);
  });

  test('End User Address: IPv6, IPv4v6 (IPv4 shown), dynamic (none), ETSI PPP (none)', () => {
    const v6 = dissectHex(D, [S2C(msg(17, 1, tv(1, '80') + tlv(128, 'f157' + '20010db8000000000000000000000042')))]);
    expect(v6.fields.GTPV1_END_USER_IP).toBe('2001:db8::42');
    const v4v6 = dissectHex(D, [S2C(msg(17, 1, tlv(128, 'f18d' + 'c0000209' + '20010db8000000000000000000000042')))]);
    expect(v4v6.fields.GTPV1_END_USER_IP).toBe('192.0.2.9');
    const only6 = dissectHex(D, [S2C(msg(17, 1, tlv(128, 'f18d' + '20010db8000000000000000000000001')))]);
    expect(only6.fields.GTPV1_END_USER_IP).toBe('2001:db8::1');
    const dyn = dissectHex(D, [C2S(msg(16, 1, tlv(128, 'f121')))]);
    expect(dyn.fields).not.toHaveProperty('GTPV1_END_USER_IP');
    const ppp = dissectHex(D, [C2S(msg(16, 1, tlv(128, 'f001')))]);
    expect(ppp.fields).not.toHaveProperty('GTPV1_END_USER_IP');
    for (const x of [v6, v4v6, only6, dyn, ppp]) expect(x.anomalies).toEqual([]);
  });

  test('APN with several labels is dotted', () => {
    const apn = '08696e7465726e6574' + '066d6e63303031' + '066d6363303031' + '0467707273';
    const r = dissectHex(D, [C2S(msg(16, 1, tlv(131, apn)))]);
    expect(r.fields.GTPV1_APN_NAME).toBe('internet.mnc001.mcc001.gprs');
  });

  test('extension headers (E flag) are skipped and the IEs after them read', () => {
    // seq 0x0101, N-PDU 0, next type 0xc0 (PDCP PDU number): 1 unit = 4 octets, then next 0.
    const m = msg(16, 0x101, tv(2, tbcd('262011234567890')), { flags: 0x36, opt: '0101' + '00' + 'c0' + '01' + '0000' + '00' });
    const r = dissectHex(D, [C2S(m)]);
    expect(r.probe).toEqual([true]);
    expect(r.anomalies).toEqual([]);
    expect(r.fields.GTPV1_END_USER_IMSI).toBe('262011234567890');
  });
});

describe('transactions', () => {
  const req = (seq: number, imsi: string) => msg(16, seq, tv(2, tbcd(imsi)));
  const rsp = (seq: number, ip: string) =>
    msg(17, seq, tv(1, '80') + tlv(128, 'f121' + ip.split('.').map((x) => h8(Number(x))).join('')));

  test('responses matched by sequence number, out of order; a response without request stands alone', () => {
    const r = dissectHex(D, [
      C2S(req(1, '001010000000001')),
      C2S(req(2, '001010000000002')),
      S2C(rsp(2, '10.0.0.2')),
      S2C(rsp(1, '10.0.0.1')),
      S2C(rsp(3, '10.0.0.3')),
    ]);
    expect(r.anomalies).toEqual([]);
    expect(r.fields.GTPV1_TRANSACTIONS).toEqual([
      { GTPV1_REQ_MSG_TYPE: 16, GTPV1_RSP_MSG_TYPE: 17, GTPV1_END_USER_IMSI: '001010000000001', GTPV1_END_USER_IP: '10.0.0.1', GTPV1_RESPONSE_CAUSE: 128 },
      { GTPV1_REQ_MSG_TYPE: 16, GTPV1_RSP_MSG_TYPE: 17, GTPV1_END_USER_IMSI: '001010000000002', GTPV1_END_USER_IP: '10.0.0.2', GTPV1_RESPONSE_CAUSE: 128 },
      { GTPV1_RSP_MSG_TYPE: 17, GTPV1_END_USER_IP: '10.0.0.3', GTPV1_RESPONSE_CAUSE: 128 },
    ]);
    expect(r.fields.GTPV1_END_USER_IMSI).toBe('001010000000001');
    expect(r.fields.GTPV1_END_USER_IP).toBe('10.0.0.1');
  });

  test('a response in the same direction as the request does not answer it', () => {
    const r = dissectHex(D, [C2S(req(5, '001010000000005')), C2S(rsp(5, '10.0.0.5'))]);
    expect(r.fields.GTPV1_TRANSACTIONS).toHaveLength(2);
  });

  test('retransmitted request and response fold into their transaction', () => {
    const r = dissectHex(D, [C2S(req(7, '001010000000007')), C2S(req(7, '001010000000007')), S2C(rsp(7, '10.0.0.7')), S2C(rsp(7, '10.0.0.7'))]);
    expect(r.fields.GTPV1_TRANSACTIONS).toEqual([
      { GTPV1_REQ_MSG_TYPE: 16, GTPV1_RSP_MSG_TYPE: 17, GTPV1_END_USER_IMSI: '001010000000007', GTPV1_END_USER_IP: '10.0.0.7', GTPV1_RESPONSE_CAUSE: 128 },
    ]);
  });

  test('a reused sequence number after the answer starts a new transaction', () => {
    const r = dissectHex(D, [C2S(req(0, '001010000000001')), S2C(rsp(0, '10.0.0.1')), C2S(req(0, '001010000000002')), S2C(rsp(0, '10.0.0.2'))]);
    const tx = r.fields.GTPV1_TRANSACTIONS as Array<Record<string, unknown>>;
    expect(tx.map((t) => [t.GTPV1_END_USER_IMSI, t.GTPV1_END_USER_IP])).toEqual([
      ['001010000000001', '10.0.0.1'],
      ['001010000000002', '10.0.0.2'],
    ]);
  });

  test('at most 64 transactions per flow; the cap is counted; answers to kept requests still match', () => {
    const p: Payload[] = [];
    for (let i = 0; i < 70; i++) p.push(C2S(msg(1, i, '')));
    p.push(S2C(msg(2, 3, tv(14, '00'))));
    p.push(S2C(msg(2, 69, tv(14, '00')))); // its request was over the cap: over the cap too
    const r = dissectHex(D, p);
    const tx = r.fields.GTPV1_TRANSACTIONS as Array<Record<string, unknown>>;
    expect(tx).toHaveLength(64);
    expect(tx[3]).toEqual({ GTPV1_REQ_MSG_TYPE: 1, GTPV1_RSP_MSG_TYPE: 2 });
    expect(tx.filter((t) => t.GTPV1_RSP_MSG_TYPE !== undefined)).toHaveLength(1);
    expect(r.anomalies).toEqual(['gtpv1_transactions_cap']);
  });
});

describe('malformed input: named anomalies, no crash', () => {
  const one = (hex: string, dir: 0 | 1 = 0) => dissectHex(D, [dir ? S2C(hex) : C2S(hex)]);

  test('truncated header', () => {
    expect(one('3210').anomalies).toEqual(['gtpv1_truncated_header']);
    // S set but the 4 optional octets missing.
    expect(one('3210000000000000').anomalies).toEqual(['gtpv1_truncated_header']);
    expect(one('').anomalies).toEqual([]); // empty payload: nothing at all
  });

  test('bad version, bad protocol type', () => {
    expect(one(msg(16, 1, '', { flags: 0x72 })).anomalies).toEqual(['gtpv1_bad_version']); // version 3
    expect(one(msg(16, 1, '', { flags: 0x22 })).anomalies).toEqual(['gtpv1_bad_protocol_type']);
  });

  test('message cut by the capture: fields before the cut kept', () => {
    const r = one(F7.slice(0, 2 * 60));
    expect(r.anomalies).toEqual(['gtpv1_truncated_message', 'gtpv1_truncated_ie']);
    expect(r.fields.GTPV1_END_USER_IMSI).toBe('240010123456789');
    expect(r.fields.GTPV1_REQ_MSG_TYPE).toBe(16);
  });

  test('trailing data after the declared length', () => {
    const r = one(F5 + 'deadbeef');
    expect(r.anomalies).toEqual(['gtpv1_trailing_data']);
    expect(r.fields.GTPV1_REQ_MSG_TYPE).toBe(1);
  });

  test('unknown TV type ends the walk; IEs before it are kept', () => {
    const r = one(msg(16, 1, tv(2, tbcd('001010000000001')) + '1e00' + tlv(131, '0161')));
    expect(r.anomalies).toEqual(['gtpv1_unknown_tv_ie']);
    expect(r.fields.GTPV1_END_USER_IMSI).toBe('001010000000001');
    expect(r.fields).not.toHaveProperty('GTPV1_APN_NAME');
  });

  test('TLV overrunning the message', () => {
    const r = one(msg(16, 1, '83ffff0161'));
    expect(r.anomalies).toEqual(['gtpv1_truncated_ie']);
    expect(one(msg(16, 1, '83')).anomalies).toEqual(['gtpv1_truncated_ie']); // no length octets
    expect(one(msg(16, 1, '02' + '0011')).anomalies).toEqual(['gtpv1_truncated_ie']); // TV cut short
  });

  test('extension headers: zero length, cut short, chain over the cap', () => {
    expect(one(msg(16, 1, '', { flags: 0x36, opt: '000100c0' + '00' })).anomalies).toEqual(['gtpv1_bad_extension_header']);
    expect(one(msg(16, 1, '', { flags: 0x36, opt: '000100c0' + '02aabb' })).anomalies).toEqual(['gtpv1_truncated_extension_header']);
    expect(one(msg(16, 1, '', { flags: 0x36, opt: '000100c0' })).anomalies).toEqual(['gtpv1_truncated_extension_header']);
    const chain = '000100c0' + '010000c0'.repeat(9) + '01000000';
    expect(one(msg(16, 1, '', { flags: 0x36, opt: chain })).anomalies).toEqual(['gtpv1_extension_headers_cap']);
    // Without E the next-type octet is not read (TS 29.060 §6), whatever it holds.
    expect(one(msg(16, 1, tv(14, '01'), { flags: 0x32, opt: '000100c0' })).anomalies).toEqual([]);
  });

  test('user-plane and unknown message types in a control flow; missing sequence', () => {
    expect(one(msg(255, 1, '4500')).anomalies).toEqual(['gtpv1_user_plane_message']);
    expect(one(msg(26, 1, '')).anomalies).toEqual(['gtpv1_user_plane_message']);
    expect(one(msg(8, 1, '')).anomalies).toEqual(['gtpv1_unknown_message_type']);
    const r = one(msg(16, 0, tv(2, tbcd('001010000000001')), { flags: 0x30 }));
    expect(r.anomalies).toEqual(['gtpv1_missing_sequence']);
    expect(r.fields.GTPV1_END_USER_IMSI).toBe('001010000000001');
  });

  test('bad TBCD: non-decimal IMSI digit, digits after the filler', () => {
    const d = one(msg(16, 1, tv(2, '00a1000000000010')));
    expect(d.anomalies).toEqual(['gtpv1_bad_tbcd_digit']);
    expect(d.fields.GTPV1_END_USER_IMSI).toBe('001*000000000001');
    const f = one(msg(16, 1, tv(2, '00f1000000000010')));
    expect(f.anomalies).toEqual(['gtpv1_bad_tbcd_filler']);
    expect(f.fields.GTPV1_END_USER_IMSI).toBe('001');
    const m = one(msg(18, 1, tv(3, 'a4f060' + '0001' + '01')));
    expect(m.anomalies).toEqual(['gtpv1_bad_tbcd_digit']);
  });

  test('bad IE lengths: RAT, IMEISV, ULI, MSISDN', () => {
    expect(one(msg(18, 1, tlv(151, '0102'))).anomalies).toEqual(['gtpv1_bad_ie_length']);
    const imei = one(msg(18, 1, tlv(154, tbcd('35349006987330'))));
    expect(imei.anomalies).toEqual(['gtpv1_bad_ie_length']);
    expect(imei.fields.GTPV1_END_USER_IMEI).toBe('35349006987330');
    expect(one(msg(18, 1, tlv(152, '00' + '130062' + '0102'))).anomalies).toEqual(['gtpv1_bad_ie_length']);
    expect(one(msg(18, 1, tlv(152, ''))).anomalies).toEqual(['gtpv1_bad_ie_length']);
    expect(one(msg(16, 1, tlv(134, ''))).anomalies).toEqual(['gtpv1_bad_ie_length']);
  });

  test('unknown ULI type, bad end-user address', () => {
    expect(one(msg(18, 1, tlv(152, '05' + '130062' + '0102' + 'abcd'))).anomalies).toEqual(['gtpv1_unknown_uli_type']);
    expect(one(msg(17, 1, tlv(128, 'f199c0000201')), 1).anomalies).toEqual(['gtpv1_bad_end_user_address']);
    expect(one(msg(17, 1, tlv(128, 'f121c00002')), 1).anomalies).toEqual(['gtpv1_bad_end_user_address']);
    expect(one(msg(17, 1, tlv(128, 'f1')), 1).anomalies).toEqual(['gtpv1_bad_end_user_address']);
  });

  test('caps on numbers and APN; APN not label-encoded is shown as sent', () => {
    const long = one(msg(16, 1, tlv(134, '91' + tbcd('1'.repeat(40)))));
    expect(long.anomalies).toEqual(['gtpv1_number_too_long']);
    expect(long.fields.GTPV1_END_USER_MSISDN).toBe('1'.repeat(32));
    const labels = ('3f' + '61'.repeat(63)).repeat(5); // 5 labels of 63: 319 octets dotted
    const apn = one(msg(16, 1, tlv(131, labels)));
    expect(apn.anomalies).toEqual(['gtpv1_apn_too_long']);
    expect(apn.fields.GTPV1_APN_NAME).toHaveLength(255);
    const raw = one(msg(16, 1, tlv(131, Buffer.from('internet').toString('hex'))));
    expect(raw.anomalies).toEqual(['gtpv1_bad_apn']);
    expect(raw.fields.GTPV1_APN_NAME).toBe('internet');
  });

  test('random garbage after a claimed flow never throws and only gives gtpv1_ anomalies', () => {
    let s = 0xdeadbeef;
    const rnd = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), s >>> 0);
    for (let i = 0; i < 300; i++) {
      // A real message with random octets overwritten: exercises every branch of the walk.
      const b = Buffer.from(i % 2 ? F2 : F7, 'hex');
      for (let k = 0; k < 1 + (i % 8); k++) b[rnd() % b.length] = rnd() & 0xff;
      const r = dissectHex(D, [C2S(F5), C2S(b.toString('hex'))]);
      for (const a of r.anomalies) expect(a).toMatch(/^gtpv1_[a-z0-9_]+$/);
      expect(r.fields.GTPV1_TRANSACTIONS).toBeDefined();
    }
  });
});
