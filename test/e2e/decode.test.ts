// Link types, encapsulations and transport headers the real corpus does not cover, on
// synthetic captures built packet by packet (test/helpers/pcapgen.ts).
import { Probe, FlowRecord } from '../../src';
import * as g from '../helpers/pcapgen';

async function flowsOf(file: string, opts: Partial<ConstructorParameters<typeof Probe>[0]> = {}): Promise<{ flows: FlowRecord[]; probe: Probe }> {
  const probe = new Probe({ interface: file, ...opts });
  probe.open();
  const flows: FlowRecord[] = [];
  for await (const f of probe.flows()) flows.push(f);
  return { flows, probe };
}

const T0 = 1_700_000_000_000_000;
const A = '192.0.2.1';
const B = '192.0.2.2';

function tcpHandshake(wrap: (ip: Buffer) => Buffer, t = T0): g.Frame[] {
  return [
    { tsUs: t, data: wrap(g.ipv4(A, B, 6, g.tcp(40000, 80, g.SYN))) },
    { tsUs: t + 100, data: wrap(g.ipv4(B, A, 6, g.tcp(80, 40000, g.SYN | g.ACK))) },
    { tsUs: t + 200, data: wrap(g.ipv4(A, B, 6, g.tcp(40000, 80, g.ACK, Buffer.from('GET / HTTP/1.0\r\n\r\n')))) },
  ];
}

describe('link layers', () => {
  test('Linux cooked v2 (SLL2) carries IPv4 and the source MAC', async () => {
    const file = g.writePcap(tcpHandshake((ip) => g.sll2(g.ETH_IPV4, g.MAC_A, ip)), g.LINKTYPE.SLL2);
    const { flows } = await flowsOf(file);
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({ IPV4_SRC_ADDR: A, IPV4_DST_ADDR: B, L4_SRC_PORT: 40000, L4_DST_PORT: 80, IN_PKTS: 2, OUT_PKTS: 1, IN_SRC_MAC: '02:00:00:00:00:01' });
  });

  test('BSD loopback in both byte orders, and IPv6 families of several systems', async () => {
    const v6 = g.ipv6('2001:db8::1', '2001:db8::2', 17, g.udp(5000, 53, Buffer.from('x')));
    const frames: g.Frame[] = [
      { tsUs: T0, data: g.loopFamily(2, g.ipv4(A, B, 17, g.udp(1, 2)), false) },
      { tsUs: T0 + 1, data: g.loopFamily(30, v6, false) },
      { tsUs: T0 + 2, data: g.loopFamily(24, v6, false) },
      { tsUs: T0 + 3, data: g.loopFamily(7, Buffer.alloc(20), false) }, // not IP: counted, no flow
    ];
    const nul = await flowsOf(g.writePcap(frames, g.LINKTYPE.NULL));
    expect(nul.flows.map((f) => [f.PROTOCOL, f.IN_PKTS])).toEqual([[17, 1], [17, 2]]);
    expect(nul.probe.stats().anomalies.link_unsupported_family).toBe(1);
    const loop = await flowsOf(g.writePcap([{ tsUs: T0, data: g.loopFamily(2, g.ipv4(A, B, 17, g.udp(1, 2)), true) }], g.LINKTYPE.LOOP));
    expect(loop.flows).toHaveLength(1);
  });

  test('MPLS label stack over Ethernet; QinQ tags are part of the key, innermost is SRC_VLAN', async () => {
    const ip = g.ipv4(A, B, 17, g.udp(1000, 2000, Buffer.from('hello')));
    const frames: g.Frame[] = [
      { tsUs: T0, data: g.ether(g.MAC_A, g.MAC_B, g.ETH_MPLS, g.mpls([100, 200, 300], ip)) },
      { tsUs: T0 + 1, data: g.ether(g.MAC_A, g.MAC_B, g.ETH_IPV4, ip, [10, 20]) },
      { tsUs: T0 + 2, data: g.ether(g.MAC_A, g.MAC_B, g.ETH_IPV4, ip, [11, 20]) },
    ];
    const { flows } = await flowsOf(g.writePcap(frames, g.LINKTYPE.ETHERNET));
    expect(flows.map((f) => f.SRC_VLAN)).toEqual([0, 20, 20]);
    expect(flows.every((f) => f.IN_PKTS === 1 && f.IN_BYTES === ip.length)).toBe(true);
  });

  test('raw IP, a truncated Ethernet header and an unknown version are counted, not fatal', async () => {
    const frames: g.Frame[] = [
      { tsUs: T0, data: g.ipv4(A, B, 1, g.icmp(8, 0)) },
      { tsUs: T0 + 1, data: g.ipv4(B, A, 1, g.icmp(0, 0)) },
      { tsUs: T0 + 2, data: Buffer.from([0x50, 1, 2, 3]) },
    ];
    const { flows, probe } = await flowsOf(g.writePcap(frames, g.LINKTYPE.RAW));
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({ PROTOCOL: 1, ICMP_TYPE: 8 * 256, IN_PKTS: 1, OUT_PKTS: 1, L4_SRC_PORT: 0 });
    expect(probe.stats().anomalies.ip_bad_version).toBe(1);
  });
});

describe('network and transport', () => {
  test('IPv6 extension headers are walked to the transport header', async () => {
    const hbh = { type: 0, body: Buffer.alloc(6) };
    const dst = { type: 60, body: Buffer.alloc(14) };
    const pkt = g.ipv6('2001:db8::1', '2001:db8::2', 6, g.tcp(1234, 443, g.SYN), [hbh, dst]);
    const { flows } = await flowsOf(g.writePcap([{ tsUs: T0, data: pkt }], g.LINKTYPE.RAW));
    expect(flows[0]).toMatchObject({ IPV6_SRC_ADDR: '2001:db8::1', PROTOCOL: 6, L4_SRC_PORT: 1234, L4_DST_PORT: 443, CLIENT_TCP_FLAGS: g.SYN, IN_BYTES: pkt.length });
  });

  test('SCTP ports, ICMPv6 type/code, and another protocol without ports', async () => {
    const frames: g.Frame[] = [
      { tsUs: T0, data: g.ipv4(A, B, 132, g.sctp(3868, 3868)) },
      { tsUs: T0 + 1, data: g.ipv6('2001:db8::1', '2001:db8::2', 58, g.icmp(128, 0)) },
      { tsUs: T0 + 2, data: g.ipv4(A, B, 47, Buffer.alloc(24)) }, // GRE
    ];
    const { flows } = await flowsOf(g.writePcap(frames, g.LINKTYPE.RAW));
    expect(flows.map((f) => [f.PROTOCOL, f.L4_SRC_PORT, f.L4_DST_PORT, f.ICMP_TYPE])).toEqual([
      [132, 3868, 3868, 0],
      [58, 0, 0, 128 * 256],
      [47, 0, 0, 0],
    ]);
  });

  test('IPv4 fragments out of order are reassembled; every fragment counts as a packet', async () => {
    const payload = g.udp(5353, 53, Buffer.alloc(3000, 0x61));
    const frag = (off: number, len: number, more: boolean): Buffer =>
      g.ipv4(A, B, 17, payload.subarray(off, off + len), { id: 77, frag: { offset: off, more } });
    const frames: g.Frame[] = [
      { tsUs: T0 + 2, data: frag(2960, payload.length - 2960, false) },
      { tsUs: T0, data: frag(0, 1480, true) },
      { tsUs: T0 + 1, data: frag(1480, 1480, true) },
      { tsUs: T0 + 3, data: frag(1480, 1480, true) }, // duplicate: overlap, first data kept
    ];
    const { flows, probe } = await flowsOf(g.writePcap(frames, g.LINKTYPE.RAW));
    expect(flows).toHaveLength(1);
    // The duplicate arrives after completion: it starts a new datagram that never completes,
    // and without its first fragment it can't be put in a flow: counted, not lost silently.
    expect(flows[0]).toMatchObject({ L4_SRC_PORT: 5353, L4_DST_PORT: 53, IN_PKTS: 3, IN_BYTES: 3 * 20 + payload.length });
    const s = probe.stats();
    expect(s.reassembled).toBe(1);
    expect(s.fragUnattributed).toBe(1);
    expect(s.anomalies.frag_orphaned).toBe(1);
  });

  test('IPv6 fragments, and a datagram given up at its timeout still counts in its flow', async () => {
    const payload = g.udp(1111, 2222, Buffer.alloc(2000, 0x62));
    const f6 = (off: number, len: number, more: boolean, id: number): Buffer =>
      g.ipv6('2001:db8::1', '2001:db8::2', 17, payload.subarray(off, off + len), [g.fragHeader6(off, more, id)]);
    const frames: g.Frame[] = [
      { tsUs: T0, data: f6(0, 1232, true, 1) },
      { tsUs: T0 + 10, data: f6(1232, payload.length - 1232, false, 1) },
      { tsUs: T0 + 20, data: f6(0, 1232, true, 2) }, // second half never comes
      { tsUs: T0 + 40_000_000, data: g.ipv4(A, B, 17, g.udp(9, 9)) }, // moves the clock past 30 s
    ];
    const { flows, probe } = await flowsOf(g.writePcap(frames, g.LINKTYPE.RAW), { idleTimeout: 300 });
    const v6 = flows.filter((f) => f.IP_PROTOCOL_VERSION === 6);
    expect(v6).toHaveLength(1);
    expect(v6[0]).toMatchObject({ L4_SRC_PORT: 1111, IN_PKTS: 3 });
    expect(v6[0].FLOW_ANOMALIES).toContain('frag_timeout');
    expect(probe.stats().anomalies.frag_timeout).toBe(1);
  });

  test('GTP-U: the tunnel is a flow and so is each connection inside it, linked by id and TEIDs', async () => {
    const gtpu = (teid: number, inner: Buffer): Buffer => {
      const h = Buffer.alloc(8);
      h[0] = 0x30;
      h[1] = 0xff;
      h.writeUInt16BE(inner.length, 2);
      h.writeUInt32BE(teid, 4);
      return Buffer.concat([h, inner]);
    };
    const up = g.ipv4('198.51.100.1', '198.51.100.2', 17, g.udp(2152, 2152, gtpu(0x1111, g.ipv4('10.1.1.1', '192.0.2.9', 6, g.tcp(5555, 80, g.SYN)))));
    const down = g.ipv4('198.51.100.2', '198.51.100.1', 17, g.udp(2152, 2152, gtpu(0x2222, g.ipv4('192.0.2.9', '10.1.1.1', 6, g.tcp(80, 5555, g.SYN | g.ACK)))));
    const { flows } = await flowsOf(g.writePcap([{ tsUs: T0, data: up }, { tsUs: T0 + 5, data: down }], g.LINKTYPE.RAW));
    expect(flows).toHaveLength(2);
    const outer = flows.find((f) => f.L4_DST_PORT === 2152)!;
    const inner = flows.find((f) => f.PROTOCOL === 6)!;
    expect(outer.IN_PKTS + outer.OUT_PKTS).toBe(2);
    expect(inner).toMatchObject({ IPV4_SRC_ADDR: '10.1.1.1', IN_PKTS: 1, OUT_PKTS: 1, UPSTREAM_TUNNEL_ID: 0x1111, DOWNSTREAM_TUNNEL_ID: 0x2222, OUTER_FLOW_ID: outer.FLOW_ID });
    expect(outer.UPSTREAM_TUNNEL_ID).toBeUndefined();
  });
});
