// The DHCP dissector (native/dissect/dhcp.cc) on hex payloads: real messages from the captures
// in test/pcap/, and messages built here field by field to reach each rule (client-IP
// precedence, option 52 overload, RFC 3396 concatenation, option 82, DHCPv6 relays, caps,
// truncation and invalid values).
import { dissectHex, DissectResult, Payload } from '../helpers/dissect';

// ---- real payloads (UDP payload bytes as tshark shows them) ---------------------------------

// zeek_dhcp_lifecycle.pcap frame 1: DISCOVER xid 0x7c0, requested 192.168.211.194, hostname.
const LIFECYCLE_DISCOVER =
  '01010600000007c0000000000000000000000000000000000000000090b11c994929' + '00'.repeat(202) +
  '638253633501013204c0a8d3c20c0d62746573742e69732e636f6f6cff';
// suricata_dhcp_option52_overload.pcap frame 4: OFFER whose router, DNS server and domain
// name live in 'sname' (option 52 = 2).
const OVERLOAD_OFFER =
  '0201060024593b3e00000000000000000a6400320a6400020000000092dda48d5fde00000000000000000000' +
  '06040a64000203040a6400020f096576696c2e636f7270ff' + '00'.repeat(40) + '00'.repeat(128) +
  '6382536335010236040a64000233040000012c0104ffffff00340102ff';
// malformed/ndpi_dhcp_fuzz.pcapng: message type 106 and a vendor class running past the end.
const FUZZ =
  '01010600c979b96000000000c0a80168000000000000000000000000001f29da2d79' + '00'.repeat(119) + 'd700000000000053' + '00'.repeat(64) +
  '65000000000000000000006382536335016a3d0701001f29da2d790c074d4b30333836323c314d53465420352e30370c010f03062c2e2f1f21f92bfc2b03dc0100ff000000002500000000';
// tcpdump_dhcpv4v6_rfc5970.pcap frame 3: DHCPv6 ADVERTISE (IA_NA with 1234:5678::4, DNS server).
const V6_ADVERTISE =
  '02aca40700030028010100000000000000000000000500181234567800000000000000000000000400004650000070800001000e0001000129d081930000010100000002000e0001000129d0819cce0db48a33840088008d001a68747470733a2f2f737a7470312e646f776e6c6f61642e636f6d001f68747470733a2f2f737a7470322e646f776e6c6f61642e636f6d3a38303830001168747470733a2f2f31302e31302e302e30001668747470733a2f2f31302e31302e302e303a38303030002368747470733a2f2f5b323030313a343836303a343836303a3a383838385d3a38303830001800140e6172697374616e6574776f726b7303636f6d000017001012345678000000000000000000000002';
// Same capture, frame 14: INFORMATION-REQUEST with a DUID-LL client identifier.
const V6_INFO_REQ =
  '0b0b5fcf00110034000075710001002c4172697374613b546573742d446863707636446973636f7665723b30312e30303b48534831343432353134380001000a0003000100004401000000060006003b0018001700080002014b000f002400224172697374613b546573742d446863707636446973636f7665723b342e32312e5858';
// mixed/suricata_output_eve_ftp_data.pcap frame 5: SOLICIT with a Client FQDN (39).
const V6_SOLICIT_FQDN =
  '01a630b60008000205dc0001000e000100011771b601082e5f7632970003000c16685d4300000000000000000027000d000b6a61656b757279752d48500010000e0000013700084d53465420352e30000600080018001700110027';
// malformed/tcpdump_bootp_asan.pcap: the cut UDP payload toward port 68 (not DHCP at all).
const BOOTP_ASAN = 'e80005140000000d140000000d00ff6310ed00ffffffee0f4095000db6588afa00100022000000221d01100022000000040006 10';

// ---- builders ---------------------------------------------------------------------------------

const ip4 = (s: string): Buffer => Buffer.from(s.split('.').map(Number));
const mac = (s: string): Buffer => Buffer.from(s.replace(/:/g, ''), 'hex');
const opt = (code: number, value: Buffer | string | number[]): Buffer => {
  const v = Buffer.isBuffer(value) ? value : Array.isArray(value) ? Buffer.from(value) : Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([code, v.length]), v]);
};
const END = Buffer.from([255]);

interface V4 {
  op?: number;
  htype?: number;
  hlen?: number;
  xid?: number;
  ciaddr?: string;
  yiaddr?: string;
  siaddr?: string;
  giaddr?: string;
  chaddr?: string;
  sname?: Buffer;
  file?: Buffer;
  cookie?: number;
  options?: Buffer[];
}

function v4(m: V4): string {
  const h = Buffer.alloc(240);
  h[0] = m.op ?? 1;
  h[1] = m.htype ?? 1;
  h[2] = m.hlen ?? 6;
  h.writeUInt32BE(m.xid ?? 0x1234, 4);
  ip4(m.ciaddr ?? '0.0.0.0').copy(h, 12);
  ip4(m.yiaddr ?? '0.0.0.0').copy(h, 16);
  ip4(m.siaddr ?? '0.0.0.0').copy(h, 20);
  ip4(m.giaddr ?? '0.0.0.0').copy(h, 24);
  mac(m.chaddr ?? '02:00:00:00:00:01').copy(h, 28);
  (m.sname ?? Buffer.alloc(0)).copy(h, 44, 0, 64);
  (m.file ?? Buffer.alloc(0)).copy(h, 108, 0, 128);
  h.writeUInt32BE(m.cookie ?? 0x63825363, 236);
  return Buffer.concat([h, ...(m.options ?? [opt(53, [1]), END])]).toString('hex');
}

const on67 = (hex: string, dir: 0 | 1 = 0): Payload => ({ dir, hex, sport: dir ? 67 : 68, dport: dir ? 68 : 67 });
const run = (...p: Payload[]): DissectResult => dissectHex('DHCP', p);
type Tx = Record<string, unknown> & { DHCP_MESSAGES: Array<Record<string, unknown>> };
const txs = (r: DissectResult): Tx[] => r.fields.DHCP_TRANSACTIONS as Tx[];

// ---- DHCPv4 -----------------------------------------------------------------------------------

describe('DHCPv4 fields', () => {
  test('a real DISCOVER: MAC, requested IP, host name, message type, xid', () => {
    const r = run(on67(LIFECYCLE_DISCOVER));
    expect(r.probe).toEqual([true]);
    expect(r.l7).toBe(18);
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({
      DHCP_CLIENT_MAC: '90:b1:1c:99:49:29',
      DHCP_CLIENT_IP: '192.168.211.194',
      DHCP_CLIENT_NAME: 'btest.is.cool',
      DHCP_MESSAGE_TYPE: 1,
    });
    expect(r.fields.DHCP_REMOTE_ID).toBeUndefined();
    expect(txs(r)).toEqual([
      {
        DHCP_XID: 0x7c0,
        DHCP_MESSAGE_TYPE: 1,
        DHCP_CLIENT_MAC: '90:b1:1c:99:49:29',
        DHCP_CLIENT_IP: '192.168.211.194',
        DHCP_CLIENT_NAME: 'btest.is.cool',
        DHCP_MESSAGES: [
          { DHCP_OP: 1, DHCP_MESSAGE_TYPE: 1, DHCP_CLIENT_MAC: '90:b1:1c:99:49:29', DHCP_CLIENT_IP: '192.168.211.194', DHCP_CLIENT_NAME: 'btest.is.cool' },
        ],
      },
    ]);
  });

  test('server options are kept per message: server id, lease, mask, routers, DNS, domain, vendor class, siaddr, giaddr', () => {
    const r = run(
      on67(
        v4({
          op: 2,
          yiaddr: '10.0.0.7',
          siaddr: '10.0.0.2',
          giaddr: '10.9.9.1',
          options: [
            opt(53, [5]),
            opt(54, ip4('10.0.0.1')),
            opt(51, [0, 0, 0x0e, 0x10]),
            opt(1, ip4('255.255.255.0')),
            opt(3, ip4('10.0.0.254')),
            opt(6, Buffer.concat([ip4('9.9.9.9'), ip4('1.1.1.1')])),
            opt(15, 'example.org'),
            opt(60, 'udhcp 1.36'),
            END,
          ],
        }),
        1,
      ),
    );
    expect(r.anomalies).toEqual([]);
    expect(r.fields.DHCP_CLIENT_IP).toBe('10.0.0.7');
    expect(txs(r)[0].DHCP_MESSAGES[0]).toEqual({
      DHCP_OP: 2,
      DHCP_MESSAGE_TYPE: 5,
      DHCP_CLIENT_MAC: '02:00:00:00:00:01',
      DHCP_CLIENT_IP: '10.0.0.7',
      DHCP_SERVER_ID: '10.0.0.1',
      DHCP_NEXT_SERVER_IP: '10.0.0.2',
      DHCP_RELAY_IP: '10.9.9.1',
      DHCP_LEASE_TIME: 3600,
      DHCP_SUBNET_MASK: '255.255.255.0',
      DHCP_ROUTERS: '10.0.0.254',
      DHCP_DNS_SERVERS: '9.9.9.9,1.1.1.1',
      DHCP_DOMAIN_NAME: 'example.org',
      DHCP_VENDOR_CLASS: 'udhcp 1.36',
    });
  });

  test('a NAK says why in option 56 (Message)', () => {
    const r = run(on67(v4({ op: 2, options: [opt(53, [6]), opt(54, ip4('10.0.0.1')), opt(56, 'requested address not available'), END] }), 1));
    expect(txs(r)[0].DHCP_MESSAGES[0]).toMatchObject({ DHCP_MESSAGE_TYPE: 6, DHCP_MESSAGE_TEXT: 'requested address not available' });
    expect(r.fields.DHCP_CLIENT_IP).toBeUndefined();
  });

  test.each([
    ['yiaddr beats ciaddr and option 50', { yiaddr: '10.0.0.1', ciaddr: '10.0.0.2', req: '10.0.0.3' }, '10.0.0.1'],
    ['ciaddr beats option 50', { ciaddr: '10.0.0.2', req: '10.0.0.3' }, '10.0.0.2'],
    ['option 50 alone', { req: '10.0.0.3' }, '10.0.0.3'],
    ['0.0.0.0 everywhere is no address', { req: '0.0.0.0' }, undefined],
  ])('DHCP_CLIENT_IP: %s', (_name, a: { yiaddr?: string; ciaddr?: string; req?: string }, want) => {
    const options = [opt(53, [3]), ...(a.req ? [opt(50, ip4(a.req))] : []), END];
    const r = run(on67(v4({ yiaddr: a.yiaddr, ciaddr: a.ciaddr, options })));
    expect(r.fields.DHCP_CLIENT_IP).toBe(want);
    expect(r.anomalies).toEqual([]);
  });

  test('option 82: remote-id and subscriber-id as text, a binary remote-id as hex, circuit-id', () => {
    const agent = Buffer.concat([opt(1, 'ge-0/0/1.100'), opt(2, 'olt7-port3'), opt(6, 'cust-4711')]);
    const r = run(on67(v4({ giaddr: '10.1.1.1', options: [opt(53, [1]), opt(82, agent), END] })));
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({ DHCP_REMOTE_ID: 'olt7-port3', DHCP_SUBSCRIBER_ID: 'cust-4711' });
    expect(txs(r)[0].DHCP_MESSAGES[0]).toMatchObject({ DHCP_CIRCUIT_ID: 'ge-0/0/1.100', DHCP_RELAY_IP: '10.1.1.1' });

    const bin = run(on67(v4({ options: [opt(53, [1]), opt(82, opt(2, mac('00:1b:21:aa:bb:0c'))), END] })));
    expect(bin.fields.DHCP_REMOTE_ID).toBe('00:1b:21:aa:bb:0c');
  });

  test('option 82 with a sub-option running past the option: named, earlier sub-options kept', () => {
    const agent = Buffer.concat([opt(2, 'rid'), Buffer.from([6, 20, 0x41, 0x42])]);
    const r = run(on67(v4({ options: [opt(53, [1]), opt(82, agent), END] })));
    expect(r.fields.DHCP_REMOTE_ID).toBe('rid');
    expect(r.fields.DHCP_SUBSCRIBER_ID).toBeUndefined();
    expect(r.anomalies).toEqual(['dhcp_truncated_suboption']);
  });

  test('host name: trailing NULs dropped; RFC 3396 split option concatenated', () => {
    expect(run(on67(v4({ options: [opt(53, [1]), opt(12, 'pc-1\0\0'), END] }))).fields.DHCP_CLIENT_NAME).toBe('pc-1');
    const split = run(on67(v4({ options: [opt(12, 'long-'), opt(53, [1]), opt(12, 'name'), END] })));
    expect(split.fields.DHCP_CLIENT_NAME).toBe('long-name');
  });

  test('MAC: chaddr if 6 bytes long, else an Ethernet client identifier (option 61)', () => {
    const ib = run(on67(v4({ htype: 32, hlen: 0, chaddr: '00:00:00:00:00:00', options: [opt(53, [1]), opt(61, [1, 0xaa, 0xbb, 0xcc, 0, 0, 1]), END] })));
    expect(ib.fields.DHCP_CLIENT_MAC).toBe('aa:bb:cc:00:00:01');
    const none = run(on67(v4({ htype: 32, hlen: 0, chaddr: '00:00:00:00:00:00', options: [opt(53, [1]), opt(61, [0, 0x41, 0x42]), END] })));
    expect(none.fields.DHCP_CLIENT_MAC).toBeUndefined();
    // hlen > 16 does not fit chaddr: not DHCP for the probe, named inside a DHCP flow.
    const long = run(on67(v4({ xid: 1 })), on67(v4({ xid: 2, hlen: 17 })));
    expect(long.probe).toEqual([true, false]);
    expect(long.anomalies).toEqual(['dhcp_invalid_hlen']);
    expect(txs(long)[1].DHCP_CLIENT_MAC).toBeUndefined();
  });

  test('BOOTP message with the cookie but no option 53: no message type, op kept', () => {
    const r = run(on67(v4({ op: 1, options: [END] })));
    expect(r.fields.DHCP_MESSAGE_TYPE).toBeUndefined();
    expect(txs(r)[0].DHCP_MESSAGES[0]).toEqual({ DHCP_OP: 1, DHCP_CLIENT_MAC: '02:00:00:00:00:01' });
  });
});

describe('option 52 overload', () => {
  test('the real overloaded OFFER: router, DNS server and domain from sname', () => {
    const r = run(on67(OVERLOAD_OFFER, 1));
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({ DHCP_MESSAGE_TYPE: 2, DHCP_CLIENT_IP: '10.100.0.50', DHCP_CLIENT_MAC: '92:dd:a4:8d:5f:de' });
    expect(txs(r)[0].DHCP_MESSAGES[0]).toMatchObject({ DHCP_ROUTERS: '10.100.0.2', DHCP_DNS_SERVERS: '10.100.0.2', DHCP_DOMAIN_NAME: 'evil.corp' });
  });

  test.each([
    [1, 'file', 'host-in-file'],
    [2, 'sname', 'host-in-sname'],
  ])('overload %i: options continue in %s', (value, area, name) => {
    const more = Buffer.concat([opt(12, name), opt(50, ip4('10.2.3.4')), END]);
    const m = v4({ [area]: more, options: [opt(53, [3]), opt(52, [value]), END] } as V4);
    const r = run(on67(m));
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({ DHCP_CLIENT_NAME: name, DHCP_CLIENT_IP: '10.2.3.4', DHCP_MESSAGE_TYPE: 3 });
  });

  test('without option 52, sname and file are not options', () => {
    const more = Buffer.concat([opt(12, 'not-an-option'), END]);
    const r = run(on67(v4({ sname: more, file: more })));
    expect(r.fields.DHCP_CLIENT_NAME).toBeUndefined();
  });

  test('overload 3: one long option split over options, file, sname is joined in that order (RFC 3396)', () => {
    const m = v4({
      file: Buffer.concat([opt(12, 'B-'), END]),
      sname: Buffer.concat([opt(12, 'C'), opt(53, [8]), END]),
      options: [opt(12, 'A-'), opt(52, [3]), END],
    });
    const r = run(on67(m));
    expect(r.fields.DHCP_CLIENT_NAME).toBe('A-B-C');
    expect(r.fields.DHCP_MESSAGE_TYPE).toBe(8);
  });

  test('option 52 inside file or sname is ignored; a bad overload value is named', () => {
    const r = run(on67(v4({ file: Buffer.concat([opt(52, [2]), END]), sname: Buffer.concat([opt(12, 'x'), END]), options: [opt(53, [1]), opt(52, [1]), END] })));
    expect(r.fields.DHCP_CLIENT_NAME).toBeUndefined();
    const bad = run(on67(v4({ sname: Buffer.concat([opt(12, 'x'), END]), options: [opt(53, [1]), opt(52, [4]), END] })));
    expect(bad.anomalies).toEqual(['dhcp_invalid_overload']);
    expect(bad.fields.DHCP_CLIENT_NAME).toBeUndefined();
  });
});

describe('transactions', () => {
  test('one per xid; messages in order; fields are the latest of the exchange; top level = first transaction', () => {
    const xid = 0x7c0;
    const r = run(
      on67(v4({ xid, options: [opt(53, [1]), opt(50, ip4('192.168.211.194')), opt(12, 'h'), END] })),
      on67(v4({ xid, options: [opt(53, [3]), opt(50, ip4('192.168.211.194')), END] })),
      on67(v4({ xid, options: [opt(53, [3]), opt(50, ip4('128.2.6.189')), END] })),
      on67(v4({ xid: 0x79c, ciaddr: '128.2.6.189', options: [opt(53, [7]), END] })),
      on67(v4({ xid, options: [opt(53, [4]), END] })),
    );
    expect(r.anomalies).toEqual([]);
    const t = txs(r);
    expect(t.map((x) => x.DHCP_XID)).toEqual([0x7c0, 0x79c]);
    expect(t[0].DHCP_MESSAGES.map((m) => m.DHCP_MESSAGE_TYPE)).toEqual([1, 3, 3, 4]);
    expect(t[0].DHCP_MESSAGES.map((m) => m.DHCP_CLIENT_IP)).toEqual(['192.168.211.194', '192.168.211.194', '128.2.6.189', undefined]);
    expect(t[0]).toMatchObject({ DHCP_MESSAGE_TYPE: 4, DHCP_CLIENT_IP: '128.2.6.189', DHCP_CLIENT_NAME: 'h' });
    expect(t[1]).toMatchObject({ DHCP_MESSAGE_TYPE: 7, DHCP_CLIENT_IP: '128.2.6.189' });
    expect(r.fields).toMatchObject({ DHCP_MESSAGE_TYPE: 4, DHCP_CLIENT_IP: '128.2.6.189', DHCP_CLIENT_NAME: 'h' });
  });

  test('both directions of one exchange make one transaction', () => {
    const r = run(on67(v4({ xid: 9, ciaddr: '10.0.0.5', options: [opt(53, [3]), END] })), on67(v4({ op: 2, xid: 9, yiaddr: '10.0.0.5', options: [opt(53, [5]), END] }), 1));
    expect(txs(r)).toHaveLength(1);
    expect(txs(r)[0].DHCP_MESSAGES.map((m) => [m.DHCP_OP, m.DHCP_MESSAGE_TYPE])).toEqual([[1, 3], [2, 5]]);
  });

  test('at most 64 transactions per flow, the cap counted; the first transaction stays the top level', () => {
    const p: Payload[] = [];
    for (let i = 0; i < 70; i++) p.push(on67(v4({ xid: 1000 + i, chaddr: `02:00:00:00:00:${(i + 1).toString(16).padStart(2, '0')}` })));
    const r = run(...p);
    expect(txs(r)).toHaveLength(64);
    expect(txs(r)[63].DHCP_XID).toBe(1063);
    expect(r.fields.DHCP_CLIENT_MAC).toBe('02:00:00:00:00:01');
    expect(r.anomalies).toEqual(['dhcp_transactions_cap']);
  });

  test('at most 16 messages per transaction (retransmissions), the fields still follow the latest', () => {
    const p: Payload[] = [];
    for (let i = 0; i < 20; i++) p.push(on67(v4({ xid: 5, options: [opt(53, [1]), opt(12, `try-${i}`), END] })));
    const r = run(...p);
    expect(txs(r)[0].DHCP_MESSAGES).toHaveLength(16);
    expect(r.fields.DHCP_CLIENT_NAME).toBe('try-19');
    expect(r.anomalies).toEqual(['dhcp_messages_cap']);
  });

  test('message text kept per flow is bounded (64 KiB), the cap counted; transactions still listed', () => {
    const p: Payload[] = [];
    const big = (c: string): string => c.repeat(255);
    for (let i = 0; i < 60; i++) p.push(on67(v4({ xid: i + 1, options: [opt(53, [1]), opt(12, big('h')), opt(60, big('v')), opt(15, big('d')), END] })));
    const r = run(...p);
    const t = txs(r);
    expect(t).toHaveLength(60);
    expect(r.anomalies).toEqual(['dhcp_state_bytes_cap']);
    const kept = t.filter((x) => x.DHCP_MESSAGES.length === 1).length;
    expect(kept).toBeGreaterThan(20);
    expect(kept).toBeLessThan(60);
    expect(t[59].DHCP_CLIENT_NAME).toBe(big('h'));
  });
});

describe('bad input', () => {
  test('the real fuzzed message: unknown type 106 and a truncated option, fields before it kept', () => {
    const r = run({ dir: 0, hex: FUZZ, sport: 68, dport: 67 });
    expect(r.probe).toEqual([true]);
    expect(r.anomalies.sort()).toEqual(['dhcp_truncated_option', 'dhcp_unknown_message_type']);
    expect(r.fields).toMatchObject({ DHCP_MESSAGE_TYPE: 106, DHCP_CLIENT_MAC: '00:1f:29:da:2d:79', DHCP_CLIENT_IP: '192.168.1.104', DHCP_CLIENT_NAME: 'MK03862' });
  });

  test('every prefix of a real message: no crash, truncation named, never a half-parsed header', () => {
    const full = Buffer.from(LIFECYCLE_DISCOVER, 'hex');
    for (let n = 1; n < full.length; n++) {
      const r = run(on67(LIFECYCLE_DISCOVER), on67(full.subarray(0, n).toString('hex')));
      expect(r.anomalies.length).toBeGreaterThan(0);
      expect(r.anomalies.every((a) => ['dhcp_truncated_header', 'dhcp_truncated_option', 'dhcp_missing_end_option'].includes(a))).toBe(true);
      expect(r.fields.DHCP_CLIENT_MAC).toBe('90:b1:1c:99:49:29');
      if (n < 240) expect(r.anomalies).toEqual(['dhcp_truncated_header']);
    }
  });

  test('a cut header as the first payload is named a truncated header', () => {
    const r = run(on67(LIFECYCLE_DISCOVER.slice(0, 200)));
    expect(r.probe).toEqual([false]);
    expect(r.anomalies).toEqual(['dhcp_truncated_header']);
    expect(r.fields).toEqual({});
  });

  test('later payloads with a bad cookie or op are named and ignored', () => {
    const r = run(on67(LIFECYCLE_DISCOVER), on67(v4({ cookie: 0x63825364, xid: 77 })), on67(v4({ op: 3, xid: 78 })));
    expect(r.anomalies).toEqual(['dhcp_bad_magic_cookie', 'dhcp_invalid_op']);
    expect(txs(r)).toHaveLength(1);
  });

  test.each([
    ['option 53 of length 2', [opt(53, [1, 1]), END], 'dhcp_bad_option_length'],
    ['option 50 of length 3', [opt(53, [1]), opt(50, [10, 0, 0]), END], 'dhcp_bad_option_length'],
    ['routers of length 6', [opt(53, [2]), opt(3, [10, 0, 0, 1, 10, 0]), END], 'dhcp_bad_option_length'],
    ['message type 0', [opt(53, [0]), END], 'dhcp_unknown_message_type'],
    ['no End option', [opt(53, [1])], 'dhcp_missing_end_option'],
    ['a length byte missing at the end', [opt(53, [1]), Buffer.from([12])], 'dhcp_truncated_option'],
    ['a length past the end', [opt(53, [1]), Buffer.from([12, 40, 0x41])], 'dhcp_truncated_option'],
  ])('%s is named', (_n, options, name) => {
    const r = run(on67(v4({ options: options as Buffer[] })));
    expect(r.anomalies).toEqual([name]);
  });

  test('caps on one message: text cut at 255 bytes, at most 16 addresses, at most 1 KiB per option', () => {
    const long = run(on67(v4({ options: [opt(53, [1]), opt(12, 'a'.repeat(200)), opt(12, 'b'.repeat(100)), END] })));
    expect(long.fields.DHCP_CLIENT_NAME).toBe('a'.repeat(200) + 'b'.repeat(55));
    expect(long.anomalies).toEqual(['dhcp_string_cap']);

    const dns = Buffer.concat(Array.from({ length: 20 }, (_, i) => ip4(`10.0.0.${i + 1}`)));
    const many = run(on67(v4({ op: 2, options: [opt(53, [2]), opt(6, dns.subarray(0, 60)), opt(6, dns.subarray(60)), END] })));
    expect((txs(many)[0].DHCP_MESSAGES[0].DHCP_DNS_SERVERS as string).split(',')).toHaveLength(16);
    expect(many.anomalies).toEqual(['dhcp_address_list_cap']);

    const huge = run(on67(v4({ options: [opt(53, [1]), ...Array.from({ length: 5 }, () => opt(60, 'x'.repeat(255))), END] })));
    expect(huge.anomalies.sort()).toEqual(['dhcp_option_bytes_cap', 'dhcp_string_cap']);
  });

  test('bytes that are not UTF-8 in a host name still give valid JSON', () => {
    const r = run(on67(v4({ options: [opt(53, [1]), opt(12, Buffer.from([0x70, 0xff, 0xc3, 0x22, 0x5c])), END] })));
    expect(txs(r)[0].DHCP_CLIENT_NAME).toBe('p\ufffd\ufffd"\\');
  });

  test('random payloads after a real message: no crash, the real transaction intact', () => {
    let seed = 12345;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >>> 16) & 255;
    const base = Buffer.from(LIFECYCLE_DISCOVER, 'hex');
    const p: Payload[] = [on67(LIFECYCLE_DISCOVER)];
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(base);
      for (let k = 0; k < 6; k++) b[240 + (rnd() % (b.length - 240))] = rnd(); // damage the options
      p.push(on67(b.subarray(0, 240 + (rnd() % (b.length - 239))).toString('hex')));
    }
    const r = run(...p);
    expect(txs(r)[0].DHCP_XID).toBe(0x7c0);
    expect(r.fields.DHCP_CLIENT_MAC).toBe('90:b1:1c:99:49:29');
  });
});

describe('detection', () => {
  test('DHCP off its ports is recognised', () => {
    expect(dissectHex('DHCP', [{ dir: 0, hex: LIFECYCLE_DISCOVER, sport: 40000, dport: 6767 }]).probe).toEqual([true]);
    expect(dissectHex('DHCP', [{ dir: 0, hex: V6_INFO_REQ, sport: 40000, dport: 6767 }]).probe).toEqual([true]);
  });

  test.each([
    ['random bytes', Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 151 + 7) & 255)).toString('hex')],
    ['a DNS query', '123401000001000000000000076578616d706c6503636f6d0000010001'],
    ['a RADIUS Access-Request', '01070026' + '00'.repeat(16) + '0106' + '61626364'],
    ['BOOTP without the DHCP cookie (RFC 951)', v4({ cookie: 0 })],
    ['an op that is neither request nor reply', v4({ op: 0 })],
    ['the cut non-DHCP payload of tcpdump bootp_asan', BOOTP_ASAN.replace(/\s/g, '')],
    ['zeros', '00'.repeat(300)],
  ])('%s on port 67 is not DHCP', (_n, hex) => {
    const r = dissectHex('DHCP', [{ dir: 0, hex, sport: 68, dport: 67 }]);
    expect(r.probe).toEqual([false]);
  });

  test('a DHCPv6-shaped payload without a client/server identifier needs the DHCPv6 ports', () => {
    const noId = '0b123456' + '00060004' + '00170018'; // INFORMATION-REQUEST with only an ORO
    expect(dissectHex('DHCP', [{ dir: 0, hex: noId, sport: 546, dport: 547 }]).probe).toEqual([true]);
    expect(dissectHex('DHCP', [{ dir: 0, hex: noId, sport: 40000, dport: 4000 }]).probe).toEqual([false]);
    // Options that do not end exactly at the end of the payload are not DHCPv6, even on 547.
    expect(dissectHex('DHCP', [{ dir: 0, hex: noId + '00', sport: 546, dport: 547 }]).probe).toEqual([false]);
    expect(dissectHex('DHCP', [{ dir: 0, hex: '0b123456', sport: 546, dport: 547 }]).probe).toEqual([false]);
  });
});

// ---- DHCPv6 -----------------------------------------------------------------------------------

const on547 = (hex: string, dir: 0 | 1 = 0): Payload => ({ dir, hex, sport: dir ? 547 : 546, dport: dir ? 546 : 547 });
const v6opt = (code: number, value: Buffer | string): Buffer => {
  const v = Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1');
  const h = Buffer.alloc(4);
  h.writeUInt16BE(code, 0);
  h.writeUInt16BE(v.length, 2);
  return Buffer.concat([h, v]);
};
const DUID_LL = Buffer.from('00030001020000000042', 'hex'); // DUID-LL, Ethernet, 02:00:00:00:00:42
const solicit = (xid: number, ...opts: Buffer[]): Buffer => Buffer.concat([Buffer.from([1, xid >> 16, (xid >> 8) & 255, xid & 255]), v6opt(1, DUID_LL), ...opts]);
const relay = (type: number, inner: Buffer, ...opts: Buffer[]): Buffer => Buffer.concat([Buffer.from([type, 0]), Buffer.alloc(32), ...opts, v6opt(9, inner)]);

describe('DHCPv6', () => {
  test('a real ADVERTISE: DHCPV6 (103), msg-type, xid, client MAC from the DUID-LLT, IA address, DNS server', () => {
    const r = run(on547(V6_ADVERTISE, 1));
    expect(r.probe).toEqual([true]);
    expect(r.l7).toBe(103);
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({ DHCP_MESSAGE_TYPE: 2, DHCP_CLIENT_MAC: '00:00:01:01:00:00' });
    expect(r.fields.DHCP_CLIENT_IP).toBeUndefined();
    expect(txs(r)).toEqual([
      {
        DHCP_XID: 0xaca407,
        DHCP_MESSAGE_TYPE: 2,
        DHCP_CLIENT_MAC: '00:00:01:01:00:00',
        DHCP_MESSAGES: [{ DHCP_MESSAGE_TYPE: 2, DHCP_CLIENT_MAC: '00:00:01:01:00:00', DHCP_CLIENT_IPV6: '1234:5678::4', DHCP_DNS_SERVERS: '1234:5678::2' }],
      },
    ]);
  });

  test('real INFORMATION-REQUEST (DUID-LL) and SOLICIT with a Client FQDN', () => {
    const info = run(on547(V6_INFO_REQ));
    expect(info.fields).toMatchObject({ DHCP_MESSAGE_TYPE: 11, DHCP_CLIENT_MAC: '00:00:44:01:00:00' });
    expect(txs(info)[0].DHCP_XID).toBe(0x0b5fcf);
    const fq = run(on547(V6_SOLICIT_FQDN));
    expect(fq.fields).toMatchObject({ DHCP_MESSAGE_TYPE: 1, DHCP_CLIENT_NAME: 'jaekuryu-HP' });
    expect(fq.anomalies).toEqual([]);
  });

  test('DHCPv6 is not parsed as DHCPv4 and DHCPv4 not as DHCPv6', () => {
    // A DHCPv4 payload in a DHCPv6 flow reads as a broken DHCPv6 message (type 1, xid 0x010600),
    // never as a DHCPv4 one: none of its DHCPv4 fields appear.
    const r6 = run(on547(V6_ADVERTISE, 1), on547(LIFECYCLE_DISCOVER));
    expect(r6.l7).toBe(103);
    expect(r6.anomalies).toEqual(['dhcpv6_truncated_option']);
    expect(txs(r6)[1]).toEqual({ DHCP_XID: 0x010600, DHCP_MESSAGE_TYPE: 1, DHCP_MESSAGES: [{ DHCP_MESSAGE_TYPE: 1 }] });
    const r4 = run(on67(LIFECYCLE_DISCOVER), on67(V6_ADVERTISE));
    expect(r4.l7).toBe(18);
    expect(r4.anomalies).toEqual(['dhcp_bad_magic_cookie']); // 320 bytes, no cookie at 236
    expect(txs(r4)).toHaveLength(1);
  });

  test('a relayed SOLICIT: inner message and xid, remote-id (37) and subscriber-id (38) of the relay', () => {
    const inner = solicit(0xabcdef, v6opt(39, Buffer.concat([Buffer.from([0, 4]), Buffer.from('host'), Buffer.from([3]), Buffer.from('lan'), Buffer.from([0])])));
    const msg = relay(12, inner, v6opt(18, 'eth0'), v6opt(37, Buffer.concat([Buffer.from([0, 0, 0x0d, 0xe9]), Buffer.from('bng1:port7')])), v6opt(38, 'sub-99'));
    const r = run(on547(msg.toString('hex')));
    expect(r.probe).toEqual([true]);
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({ DHCP_MESSAGE_TYPE: 1, DHCP_CLIENT_MAC: '02:00:00:00:00:42', DHCP_CLIENT_NAME: 'host.lan', DHCP_REMOTE_ID: 'bng1:port7', DHCP_SUBSCRIBER_ID: 'sub-99' });
    expect(txs(r)[0].DHCP_XID).toBe(0xabcdef);
  });

  test('relays nested deeper than 8 are capped; a relay without a relayed message is named', () => {
    let m = solicit(1);
    for (let i = 0; i < 9; i++) m = relay(12, m);
    const deep = run(on547(solicit(1).toString('hex')), on547(m.toString('hex')));
    expect(deep.probe).toEqual([true, false]);
    expect(deep.anomalies).toEqual(['dhcpv6_relay_depth_cap']);
    expect(txs(deep)).toHaveLength(1);
    let ok = solicit(1);
    for (let i = 0; i < 7; i++) ok = relay(12, ok);
    expect(run(on547(ok.toString('hex'))).probe).toEqual([true]);
    const empty = Buffer.concat([Buffer.from([12, 0]), Buffer.alloc(32), v6opt(18, 'eth0')]);
    const r = run(on547(solicit(2).toString('hex')), on547(empty.toString('hex')));
    expect(r.anomalies).toEqual(['dhcpv6_missing_relay_message']);
  });

  test('truncated options, a cut header, an unknown msg-type and a bad FQDN are named', () => {
    const first = on547(solicit(3).toString('hex'));
    const cut = solicit(4, v6opt(23, Buffer.alloc(16)));
    expect(run(first, on547(cut.subarray(0, cut.length - 3).toString('hex'))).anomalies).toEqual(['dhcpv6_truncated_option']);
    expect(run(first, on547('0b12')).anomalies).toEqual(['dhcpv6_truncated_header']);
    expect(run(first, on547('fa123456')).anomalies).toEqual(['dhcpv6_unknown_message_type']);
    expect(run(first, on547(solicit(5, v6opt(39, Buffer.from([0, 70, 0x41]))).toString('hex'))).anomalies).toEqual(['dhcpv6_bad_fqdn']);
    expect(run(first, on547(solicit(6, v6opt(23, Buffer.alloc(10))).toString('hex'))).anomalies).toEqual(['dhcpv6_bad_option_length']);
    expect(run(first, on547(solicit(7, v6opt(3, Buffer.alloc(8))).toString('hex'))).anomalies).toEqual(['dhcpv6_bad_option_length']);
  });

  test('every prefix of a real DHCPv6 message: no crash', () => {
    const full = Buffer.from(V6_ADVERTISE, 'hex');
    for (let n = 1; n < full.length; n++) {
      const r = run(on547(V6_INFO_REQ), on547(full.subarray(0, n).toString('hex'), 1));
      expect(r.l7).toBe(103);
      expect(txs(r)[0].DHCP_XID).toBe(0x0b5fcf);
    }
  });
});
