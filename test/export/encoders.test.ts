// Unit tests of the NetFlow v5/v9 and IPFIX encoders: template layout, variable-length
// strings, sequence numbers, MTU split, biflow handling, -T parsing, collector addresses.
// Bytes are read back with the independent reader in helpers.ts.
import { parseCollectors } from '../../src/export/collector';
import { displayValue, dumpColumns } from '../../src/export/dump';
import { elementByName, NTOP_V9_BASE, parseTemplate, TemplateSet, writeIPv6 } from '../../src/export/fields';
import { IpfixEncoder } from '../../src/export/ipfix';
import { V5Encoder, V9Encoder, V5_HEADER_LEN, V5_RECORD_LEN } from '../../src/export/netflow';
import { FlowEndReason, FlowRecord } from '../../src/record';
import { FieldSpec, parseMessage } from './helpers';

const T0 = 1_700_000_000_000_000; // epoch us

function flow(i: number, extra: Partial<FlowRecord> = {}): FlowRecord {
  return {
    FLOW_ID: i,
    IP_PROTOCOL_VERSION: 4,
    IPV4_SRC_ADDR: `10.0.${i >> 8 & 255}.${i & 255}`,
    IPV4_DST_ADDR: '192.0.2.1',
    L4_SRC_PORT: 40000 + (i % 1000),
    L4_DST_PORT: 53,
    PROTOCOL: 17,
    IN_PKTS: 2,
    IN_BYTES: 150,
    OUT_PKTS: 1,
    OUT_BYTES: 300,
    FIRST_SWITCHED: Math.floor((T0 + i * 1000) / 1e6),
    LAST_SWITCHED: Math.floor((T0 + i * 1000 + 500_000) / 1e6),
    FLOW_START_MICROSECONDS: T0 + i * 1000,
    FLOW_END_MICROSECONDS: T0 + i * 1000 + 500_000,
    FLOW_DURATION_MILLISECONDS: 500,
    TCP_FLAGS: 0,
    CLIENT_TCP_FLAGS: 0,
    SERVER_TCP_FLAGS: 0,
    SRC_VLAN: 0,
    IN_SRC_MAC: '02:00:00:00:00:01',
    OUT_DST_MAC: '02:00:00:00:00:02',
    ICMP_TYPE: 0,
    FLOW_END_REASON: FlowEndReason.IdleTimeout,
    L7_PROTO: 5,
    L7_PROTO_NAME: 'DNS',
    ...extra,
  };
}

const v6flow = (i: number): FlowRecord => {
  const f = flow(i, { IP_PROTOCOL_VERSION: 6, IPV6_SRC_ADDR: '2001:db8::1', IPV6_DST_ADDR: '2001:db8::53' });
  delete f.IPV4_SRC_ADDR;
  delete f.IPV4_DST_ADDR;
  return f;
};

const opts = (tmpl: string, maxPayload = 1472, refreshPackets = 10) => ({
  templates: new TemplateSet(parseTemplate(tmpl), 257),
  maxPayload,
  refreshPackets,
  refreshMs: 60_000,
});

describe('element table and -T', () => {
  test('IANA and ntop ids as nProbe numbers them; v9 = 57472 + IPFIX id for ntop\'s', () => {
    expect(elementByName('IN_BYTES')).toMatchObject({ id: 1, pen: 0, v9Id: 1 });
    expect(elementByName('IPV4_SRC_ADDR')).toMatchObject({ id: 8, v9Id: 8 });
    expect(elementByName('L7_PROTO')).toMatchObject({ id: 118, pen: 35632, v9Id: 57590 });
    expect(elementByName('DNS_QUERY')).toMatchObject({ id: 205, pen: 35632, v9Id: 57677, plugin: 'DNS', lua: 'dns.query' });
    expect(elementByName('octetDeltaCount')?.name).toBe('IN_BYTES');
    expect(elementByName('SRC_MASK')?.name).toBe('IPV4_SRC_MASK');
    expect(NTOP_V9_BASE).toBe(57472);
  });

  test('-T accepts %NAME, %NAME%, commas, <...> and plugin shortcuts; rejects unknown names', () => {
    expect(parseTemplate('<%IPV4_SRC_ADDR %L4_SRC_PORT%,%IN_BYTES>').map((e) => e.name)).toEqual(['IPV4_SRC_ADDR', 'L4_SRC_PORT', 'IN_BYTES']);
    expect(parseTemplate('@DNS@').map((e) => e.name)).toContain('DNS_QUERY');
    expect(() => parseTemplate('%IPV4_SRC_ADDR %NOPE')).toThrow(/unknown element %NOPE/);
    expect(() => new TemplateSet(parseTemplate('%FLOW_ANOMALIES'), 257)).toThrow(/no NetFlow\/IPFIX id/);
  });

  test('an IPv4-only template gets an IPv6 twin (id + 1); OUT_* makes it a biflow template', () => {
    const s = new TemplateSet(parseTemplate('%IPV4_SRC_ADDR %IPV4_DST_ADDR %IN_BYTES'), 300);
    expect(s.variants.map((v) => [v.id, v.family, v.fields.map((e) => e.name).join(' ')])).toEqual([
      [300, 4, 'IPV4_SRC_ADDR IPV4_DST_ADDR IN_BYTES'],
      [301, 6, 'IPV6_SRC_ADDR IPV6_DST_ADDR IN_BYTES'],
    ]);
    expect(s.biflow).toBe(false);
    expect(new TemplateSet(parseTemplate('%IPV4_SRC_ADDR %IPV6_SRC_ADDR %OUT_BYTES'), 300).variants).toHaveLength(1);
    expect(new TemplateSet(parseTemplate('%IPV4_SRC_ADDR %OUT_BYTES'), 300).biflow).toBe(true);
  });

  test('IPv6 text to bytes (compressed forms, embedded IPv4)', () => {
    const b = Buffer.alloc(16);
    writeIPv6(b, 0, '2001:db8::1');
    expect(b.toString('hex')).toBe('20010db8000000000000000000000001');
    writeIPv6(b, 0, '::ffff:192.0.2.1');
    expect(b.toString('hex')).toBe('00000000000000000000ffffc0000201');
    writeIPv6(b, 0, 'bogus');
    expect(b.toString('hex')).toBe('0'.repeat(32));
  });
});

describe('NetFlow v9 (RFC 3954)', () => {
  test('template flowset layout: id 0, template ids, field types and nProbe lengths, 32-bit padding', () => {
    const enc = new V9Encoder(opts('%IPV4_SRC_ADDR %IN_BYTES %L4_SRC_PORT %L7_PROTO %DNS_QUERY %FIRST_SWITCHED'));
    const [m] = enc.encode([flow(1)], 0);
    const p = parseMessage(m.buf);
    expect(p.version).toBe(9);
    expect(p.sets[0].id).toBe(0);
    const t257 = p.templates.get(257) as FieldSpec[];
    expect(t257.map((f) => [f.id, f.len])).toEqual([[8, 4], [1, 4], [7, 2], [57590, 2], [57677, 256], [22, 4]]);
    expect((p.templates.get(258) as FieldSpec[])[0]).toEqual({ id: 27, len: 16, pen: 0 });
    for (const s of p.sets) expect(s.length % 4).toBe(0);
    // count = 2 template records + 2 data records (client->server and server->client)
    expect(p.count).toBe(4);
    expect(p.data).toHaveLength(2);
    const [fwd, rev] = p.data;
    expect(fwd.values[0].toString('hex')).toBe('0a000001');
    expect(fwd.values[1].readUInt32BE()).toBe(150);
    expect(rev.values[0].toString('hex')).toBe('c0000201'); // reverse record: server as source
    expect(rev.values[1].readUInt32BE()).toBe(300);
    expect(fwd.values[4].subarray(0, 3).toString()).toBe('\0\0\0'); // DNS_QUERY absent: zero-filled, fixed 256
    // sysUpTime: export time * 1000 - header sysUptime = boot; FIRST_SWITCHED = first packet - boot.
    const boot = p.exportSecs * 1000 - p.sysUptime;
    expect(boot + fwd.values[5].readUInt32BE()).toBe(Math.floor(flow(1).FLOW_START_MICROSECONDS / 1000));
    expect(p.exportSecs * 1000).toBeGreaterThanOrEqual(flow(1).FLOW_END_MICROSECONDS / 1000);
  });

  test('strings are cut to the v9 length (UTF-8 safe) and zero padded', () => {
    const enc = new V9Encoder(opts('%IPV4_SRC_ADDR %L7_PROTO_NAME'));
    const [m] = enc.encode([flow(1, { L7_PROTO_NAME: 'ééééééééééé', OUT_PKTS: 0 })], 0); // 22 bytes into 16
    const p = parseMessage(m.buf);
    expect(p.data[0].values[1].toString('utf8').replace(/\0+$/, '')).toBe('éééééééé');
    expect(enc.stats.truncated).toBe(1);
  });

  test('sequence = packets sent before; templates again after -o packets; every datagram within the MTU', () => {
    const enc = new V9Encoder(opts('%IPV4_SRC_ADDR %IPV4_DST_ADDR %IN_PKTS %IN_BYTES %L4_SRC_PORT %L4_DST_PORT %PROTOCOL', 200, 3));
    const flows = Array.from({ length: 100 }, (_, i) => flow(i));
    const msgs = enc.encode(flows, 0);
    const known = new Map<number, FieldSpec[]>();
    let records = 0;
    msgs.forEach((m, i) => {
      expect(m.buf.length).toBeLessThanOrEqual(200);
      const p = parseMessage(m.buf, known);
      expect(p.sequence).toBe(i);
      const hasTemplates = p.sets.some((s) => s.id === 0);
      expect(hasTemplates).toBe(i % 3 === 0);
      records += p.data.length;
      expect(m.records).toBe(p.data.length);
    });
    expect(records).toBe(200); // 100 flows, each both ways
    expect(enc.stats.records).toBe(200);
  });

  test('IPv4 and IPv6 flows in one datagram use their own templates', () => {
    const enc = new V9Encoder(opts('%IPV4_SRC_ADDR %IN_BYTES'));
    const [m] = enc.encode([flow(1, { OUT_PKTS: 0 }), v6flow(2), flow(3, { OUT_PKTS: 0 })], 0);
    const p = parseMessage(m.buf);
    expect(p.data.map((d) => d.setId)).toEqual([257, 258, 258, 257]);
    expect(p.data[1].values[0].toString('hex')).toBe('20010db8000000000000000000000001');
  });

  test('counters larger than nProbe\'s 4-byte v9 fields saturate and are counted', () => {
    const enc = new V9Encoder(opts('%IPV4_SRC_ADDR %IN_BYTES'));
    const [m] = enc.encode([flow(1, { IN_BYTES: 5e9, OUT_PKTS: 0 })], 0);
    expect(parseMessage(m.buf).data[0].values[1].readUInt32BE()).toBe(0xffffffff);
    expect(enc.stats.clamped).toBe(1);
  });
});

describe('IPFIX (RFC 7011)', () => {
  test('template set id 2 with enterprise bit + PEN 35632; options template with systemInitTimeMilliseconds', () => {
    const enc = new IpfixEncoder(opts('%IPV4_SRC_ADDR %IN_BYTES %DNS_QUERY %FIRST_SWITCHED %FLOW_START_MICROSECONDS'));
    const [m] = enc.encode([flow(7, { DNS_QUERY: 'example.org' })], 0);
    const p = parseMessage(m.buf);
    expect(p.version).toBe(10);
    expect(p.length).toBe(m.buf.length);
    expect(p.sets.map((s) => s.id)).toEqual([2, 3, 259, 257]);
    expect(p.templates.get(257)).toEqual([
      { id: 8, len: 4, pen: 0 },
      { id: 1, len: 8, pen: 0 },
      { id: 205, len: 65535, pen: 35632 },
      { id: 22, len: 4, pen: 0 },
      { id: 154, len: 8, pen: 0 },
    ]);
    const opt = p.optionTemplates.get(259);
    expect(opt?.scope.map((f) => f.id)).toEqual([143]);
    expect(opt?.fields.map((f) => [f.id, f.len])).toEqual([[160, 8]]);
    const bootRec = p.data.find((d) => d.setId === 259) as { values: Buffer[] };
    const boot = Number(bootRec.values[1].readBigUInt64BE());
    const rec = p.data.filter((d) => d.setId === 257)[0];
    expect(rec.values[2].toString()).toBe('example.org');
    expect(boot + rec.values[3].readUInt32BE()).toBe(Math.floor(flow(7).FLOW_START_MICROSECONDS / 1000));
    // dateTimeMicroseconds: NTP seconds since 1900 and a binary fraction
    const ntpSec = rec.values[4].readUInt32BE(0) - 2208988800;
    const frac = rec.values[4].readUInt32BE(4) / 2 ** 32;
    expect(Math.abs(ntpSec + frac - flow(7).FLOW_START_MICROSECONDS / 1e6)).toBeLessThan(1e-5);
  });

  test('variable-length strings: 1-byte length below 255, 0xFF + 2 bytes from 255 (RFC 7011 §7)', () => {
    const enc = new IpfixEncoder(opts('%IPV4_SRC_ADDR %DNS_QUERY'));
    const short = 'a'.repeat(254);
    const long = 'b'.repeat(300);
    const msgs = enc.encode([flow(1, { DNS_QUERY: short, OUT_PKTS: 0 }), flow(2, { DNS_QUERY: long, OUT_PKTS: 0 }), flow(3, { DNS_QUERY: '', OUT_PKTS: 0 })], 0);
    const known = new Map<number, FieldSpec[]>();
    const recs = msgs.flatMap((m) => parseMessage(m.buf, known).data.filter((d) => d.setId === 257));
    expect(recs.map((r) => r.values[1].toString())).toEqual([short, long, '']);
    const raw = msgs[0].buf;
    expect(raw.indexOf(Buffer.from([254, 0x61, 0x61]))).toBeGreaterThan(0);
    const all = Buffer.concat(msgs.map((m) => m.buf));
    expect(all.indexOf(Buffer.from([255, 0x01, 0x2c, 0x62]))).toBeGreaterThan(0); // 0xFF, 300
  });

  test('sequence = data records sent before (options record included); split within the MTU', () => {
    const enc = new IpfixEncoder(opts('%IPV4_SRC_ADDR %IPV4_DST_ADDR %IN_PKTS %IN_BYTES %OUT_PKTS %OUT_BYTES %L7_PROTO_NAME', 300, 1000));
    const msgs = enc.encode(Array.from({ length: 60 }, (_, i) => flow(i, { L7_PROTO_NAME: 'x'.repeat(i % 40) })), 0);
    const known = new Map<number, FieldSpec[]>();
    let expected = 0;
    let flows = 0;
    for (const m of msgs) {
      expect(m.buf.length).toBeLessThanOrEqual(300);
      const p = parseMessage(m.buf, known);
      expect(p.sequence).toBe(expected);
      expected += p.data.length;
      flows += p.data.filter((d) => d.setId === 257).length;
    }
    expect(flows).toBe(60); // biflow template: one record per flow
    expect(msgs.length).toBeGreaterThan(5);
  });

  test('a record too large for any message is dropped and counted', () => {
    const enc = new IpfixEncoder({ ...opts('%IPV4_SRC_ADDR %DNS_QUERY', 200), maxVarlen: 512 });
    const msgs = enc.encode([flow(1, { DNS_QUERY: 'z'.repeat(400), OUT_PKTS: 0 }), flow(2, { DNS_QUERY: 'ok', OUT_PKTS: 0 })], 0);
    expect(enc.stats.oversize).toBe(1);
    expect(msgs.reduce((a, m) => a + m.records, 0)).toBe(1);
  });

  test('templateMessage gives a templates-only message for a new TCP session', () => {
    const enc = new IpfixEncoder(opts('%IPV4_SRC_ADDR %IN_BYTES'));
    expect(enc.templateMessage(0)).toBeNull(); // no flow yet: the first data message has them
    enc.encode([flow(1)], 0);
    const t = enc.templateMessage(0);
    const p = parseMessage((t as { buf: Buffer }).buf);
    expect(p.sets.map((s) => s.id)).toEqual([2, 3, 259]);
    expect(p.sequence).toBe(3); // 1 options record + 2 flow records before it
  });
});

describe('NetFlow v5', () => {
  test('Cisco layout: 24-byte header, 48-byte records, <= 30 a datagram, sequence = flows before, IPv6 not exportable', () => {
    const enc = new V5Encoder({ maxPayload: 1472 });
    const flows = [...Array.from({ length: 20 }, (_, i) => flow(i, { PROTOCOL: 6, CLIENT_TCP_FLAGS: 0x1b, SERVER_TCP_FLAGS: 0x12 })), v6flow(99)];
    const msgs = enc.encode(flows, 0);
    expect(enc.stats.notExportable).toBe(1);
    expect(msgs.map((m) => m.records)).toEqual([30, 10]);
    let seq = 0;
    for (const m of msgs) {
      expect(m.buf.readUInt16BE(0)).toBe(5);
      expect(m.buf.length).toBe(V5_HEADER_LEN + m.records * V5_RECORD_LEN);
      expect(m.buf.readUInt16BE(2)).toBe(m.records);
      expect(m.buf.readUInt32BE(16)).toBe(seq);
      seq += m.records;
    }
    const b = msgs[0].buf;
    const r0 = V5_HEADER_LEN;
    const r1 = V5_HEADER_LEN + V5_RECORD_LEN;
    expect(b.subarray(r0, r0 + 4).toString('hex')).toBe('0a000000');
    expect(b.readUInt32BE(r0 + 16)).toBe(2); // dPkts
    expect(b.readUInt32BE(r0 + 20)).toBe(150); // dOctets
    expect(b.readUInt16BE(r0 + 34)).toBe(53);
    expect(b[r0 + 37]).toBe(0x1b); // client's flags
    expect(b[r0 + 38]).toBe(6);
    expect(b.subarray(r1, r1 + 4).toString('hex')).toBe('c0000201'); // reverse record
    expect(b.readUInt32BE(r1 + 20)).toBe(300);
    expect(b[r1 + 37]).toBe(0x12); // server's flags
    const boot = b.readUInt32BE(8) * 1000 - b.readUInt32BE(4);
    expect(boot + b.readUInt32BE(r0 + 24)).toBe(Math.floor(flow(0).FLOW_START_MICROSECONDS / 1000));
    expect(boot + b.readUInt32BE(r0 + 28)).toBe(Math.floor(flow(0).FLOW_END_MICROSECONDS / 1000));
  });
});

describe('collector addresses (-n)', () => {
  test('nProbe forms: host:port, udp:// tcp://, [IPv6]:port, default port 2055, comma lists, none', () => {
    expect(parseCollectors(['127.0.0.1:2056,tcp://[::1]:4739', 'udp://localhost', 'none', '9995']).map((a) => a.text)).toEqual([
      'udp://127.0.0.1:2056',
      'tcp://[::1]:4739',
      'udp://localhost:2055',
      'udp://127.0.0.1:9995',
    ]);
    expect(parseCollectors(['none'])).toEqual([]);
    expect(() => parseCollectors(['::1:2055'])).toThrow(/\[address\]:port/);
    expect(() => parseCollectors(['sctp://1.2.3.4:5'])).toThrow(/not supported/);
    expect(() => parseCollectors(['1.2.3.4:99999'])).toThrow(/bad port/);
  });
});

describe('dump columns', () => {
  test('an IPv4-only template also gets the IPv6 address columns; values as JSON shows them', () => {
    const cols = dumpColumns(parseTemplate('%IPV4_SRC_ADDR %IPV4_DST_ADDR %FIRST_SWITCHED %FLOW_START_SEC %INPUT_SNMP'));
    expect(cols.map((e) => e.name)).toEqual(['IPV4_SRC_ADDR', 'IPV6_SRC_ADDR', 'IPV4_DST_ADDR', 'IPV6_DST_ADDR', 'FIRST_SWITCHED', 'FLOW_START_SEC', 'INPUT_SNMP']);
    const f = flow(1);
    expect(cols.map((e) => displayValue(e, f))).toEqual(['10.0.0.1', '', '192.0.2.1', '', f.FIRST_SWITCHED, f.FIRST_SWITCHED, 0]);
  });
});
