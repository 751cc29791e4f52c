// Accuracy of GTPv1 against tshark (test/tools/accuracy.js): every value tshark extracts from
// the GTP packets of test/pcap/gtp/ is looked up in the probe's record of the same flow (same
// addresses and ports, the packet's time inside the flow's).
//
// - GTPv1-C (version 1, message != 0xff): the message type, IMSI, MSISDN, APN, end-user
//   address, TEID Data I / Control Plane (C2S or S2C by the packet's direction), cause must be
//   in a transaction of GTPV1_TRANSACTIONS with that message type; a request and its response
//   (same gtp.seq_number, other direction) must be one transaction; a non-zero header TEID
//   (the receiver's control TEID) must be the one the peer announced (the other direction's
//   TEID_CTRL); the flow is labelled GTP_C (272).
// - G-PDUs (version 1, 0xff): the TEID is the inner flow's UPSTREAM_TUNNEL_ID or
//   DOWNSTREAM_TUNNEL_ID (by the inner packet's direction), the outer flow is GTP_U (271).
// - Version 0 (GTPv0 on UDP 3386, which tshark names gtpprime by port): not GTPv1, so not
//   claimed; checked: such flows carry no L7 label and no GTPV1 field. Explained.
// - tshark fields with no nProbe element (flags, length, NSAPI, GSN addresses) are listed as
//   explained, with their counts.
// - Zeek's analyzer output (.zeek.out.txt) gives the RAI that tshark's extract lacks.
'use strict';
const fs = require('fs');
const path = require('path');

// TS 29.060 table 1 (same split as native/dissect/gtpc.cc).
const REQUESTS = new Set([1, 16, 18, 20, 22, 27, 29, 31, 32, 34, 36, 48, 50, 53, 55, 56, 58, 61, 70, 96, 98, 100, 102, 104, 112, 114, 116, 118, 120, 128]);
const RESPONSES = new Set([2, 3, 17, 19, 21, 23, 28, 30, 33, 35, 37, 49, 51, 52, 54, 57, 59, 60, 62, 97, 99, 101, 103, 105, 113, 115, 117, 119, 121, 129]);
const NOT_EXPORTED = {
  'gtp.flags.version': 'header version bits: selects the dissector (1 here), no nProbe element',
  'gtp.flags.payload': 'protocol-type bit: GTP vs GTP\', no nProbe element',
  'gtp.length': 'message/IE lengths: framing, no nProbe element',
  'gtp.nsapi': 'NSAPI: nProbe\'s GTPV1 plugin has no element for it',
  'gtp.gsn_ipv4': 'SGSN/GGSN signalling and user-plane addresses: nProbe\'s GTPV1 plugin has no element for them (they are the flow\'s and the GTP-U tunnel\'s endpoints)',
};

function us(ts) {
  const [s, f = ''] = ts.split('.');
  return Number(s) * 1e6 + Number((f + '000000').slice(0, 6));
}
const one = (v) => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
const hexNum = (v) => Number.parseInt(v, 16);

function addrs(f) {
  return [f.IPV4_SRC_ADDR ?? f.IPV6_SRC_ADDR, f.IPV4_DST_ADDR ?? f.IPV6_DST_ADDR];
}

// The flow holding a packet, and the packet's direction in it (0: client -> server).
function findFlow(flows, t, src, dst, sport, dport, pred) {
  for (const f of flows) {
    if (t < f.FLOW_START_MICROSECONDS || t > f.FLOW_END_MICROSECONDS || (pred && !pred(f))) continue;
    const [a, b] = addrs(f);
    const ports = (x, y) => sport === undefined || (f.L4_SRC_PORT === x && f.L4_DST_PORT === y);
    if (a === src && b === dst && ports(sport, dport)) return { f, dir: 0 };
    if (a === dst && b === src && ports(dport, sport)) return { f, dir: 1 };
  }
  return null;
}

// Zeek's GTPv1 analyzer output beside the capture (<name>.zeek.out.txt), a second oracle for
// what tshark's extract lacks: the Routeing Area Identity of Create PDP Context Requests.
function zeekRai(flows, capture, tally) {
  const file = path.join(__dirname, '..', 'pcap', capture.replace(/\.pcap(ng)?$/, '.zeek.out.txt'));
  if (!fs.existsSync(file)) return;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const h = /^gtp create request, \[orig_h=([^,]+), orig_p=(\d+)\/udp, resp_h=([^,]+), resp_p=(\d+)\/udp/.exec(lines[i]);
    const rai = h && /rai=\[mcc=(\d+), mnc=(\d+), lac=(\d+), rac=(\d+)\]/.exec(lines[i + 2] ?? '');
    if (!rai) continue;
    const [, oh, op, rh, rp] = h;
    const f = flows.find((x) => addrs(x)[0] === oh && addrs(x)[1] === rh && x.L4_SRC_PORT === Number(op) && x.L4_DST_PORT === Number(rp));
    const txns = ((f && f.GTPV1_TRANSACTIONS) || []).filter((x) => x.GTPV1_REQ_MSG_TYPE === 16);
    const where = `zeek.out.txt line ${i + 1}`;
    // Zeek prints MCC and MNC as integers: compare the numbers (the record keeps the digits).
    const got = (k, num) => txns.map((x) => x[k]).filter((x) => x !== undefined).map((x) => (num ? Number(x) : x));
    tally('GTPV1_RAI_MCC (zeek)', Number(rai[1]), got('GTPV1_RAI_MCC', true), where);
    tally('GTPV1_RAI_MNC (zeek)', Number(rai[2]), got('GTPV1_RAI_MNC', true), where);
    tally('GTPV1_RAI_LAC (zeek)', Number(rai[3]), got('GTPV1_RAI_LAC'), where);
    tally('GTPV1_RAI_RAC (zeek)', Number(rai[4]), got('GTPV1_RAI_RAC'), where);
  }
}

function check(flows, packets, capture) {
  const fields = {};
  const explained = [];
  const notExported = {};
  const zeroTeid = [];
  const v0 = [];
  const F = (n) => (fields[n] ??= { expected: 0, found: 0, wrong: 0, misses: [] });
  // One expected value: found when one of the candidate values equals it, wrong when there are
  // candidates but none equal, missing otherwise.
  const tally = (name, want, got, where) => {
    const t = F(name);
    t.expected++;
    if (got.some((g) => g === want)) t.found++;
    else {
      if (got.length) t.wrong++;
      t.misses.push(`${where}: want ${JSON.stringify(want)}, record has ${got.length ? JSON.stringify(got) : 'none'}`);
    }
  };
  const requests = []; // GTPv1-C requests seen, to pair responses with

  for (const p of packets) {
    const t = us(p.ts);
    for (const g of p.gtp ?? []) {
      const where = `frame ${p.frame}`;
      const version = Number(g['gtp.flags.version']);
      const type = hexNum(g['gtp.message']);
      for (const k of Object.keys(NOT_EXPORTED)) if (g[k] !== undefined) notExported[k] = (notExported[k] ?? 0) + one(g[k]).length;

      if (version !== 1) {
        // GTPv0 / GTP': its flow must stay unlabelled and without GTPV1 fields.
        v0.push(p.frame);
        const m = findFlow(flows, t, p.src, p.dst, p.sport, p.dport);
        const bad = !m || m.f.L7_PROTO !== 0 || Object.keys(m.f).some((k) => k.startsWith('GTPV1_'));
        if (bad) F('L7_PROTO').misses.push(`${where}: version ${version} flow ${m ? `labelled ${m.f.L7_PROTO_NAME} / has GTPV1 fields` : 'not found'}`);
        continue;
      }

      if (type === 0xff) {
        // G-PDU: the outer flow is the tunnel; the inner flow carries the TEID.
        const outer = findFlow(flows, t, p.src, p.dst, p.sport, p.dport, (f) => f.OUTER_FLOW_ID === undefined);
        tally('L7_PROTO', 271, outer ? [outer.f.L7_PROTO] : [], `${where} outer`);
        const ip = p.ip_layers?.[1];
        const l4 = p.l4_layers?.[1];
        const inner = ip && findFlow(flows, t, ip.src, ip.dst, l4?.sport, l4?.dport, (f) => outer && f.OUTER_FLOW_ID === outer.f.FLOW_ID);
        const key = inner && inner.dir === 1 ? 'DOWNSTREAM_TUNNEL_ID' : 'UPSTREAM_TUNNEL_ID';
        tally(key, hexNum(g['gtp.teid']), inner && inner.f[key] !== undefined ? [inner.f[key]] : [], `${where} inner`);
        continue;
      }

      // GTPv1-C.
      const m = findFlow(flows, t, p.src, p.dst, p.sport, p.dport);
      tally('L7_PROTO', 272, m ? [m.f.L7_PROTO] : [], where);
      const txns = (m && m.f.GTPV1_TRANSACTIONS) || [];
      const isReq = REQUESTS.has(type);
      const typeKey = isReq ? 'GTPV1_REQ_MSG_TYPE' : RESPONSES.has(type) ? 'GTPV1_RSP_MSG_TYPE' : null;
      if (!typeKey) {
        F('GTPV1_REQ_MSG_TYPE').misses.push(`${where}: message type ${type} neither request nor response`);
        continue;
      }
      tally(typeKey, type, txns.map((x) => x[typeKey]).filter((x) => x !== undefined), where);
      const cand = txns.filter((x) => x[typeKey] === type);
      const vals = (k) => cand.map((x) => x[k]).filter((x) => x !== undefined);
      const dirKey = (what) => `GTPV1_${m && m.dir === 1 ? 'S2C' : 'C2S'}_TEID_${what}`;
      for (const v of one(g['e212.imsi'])) tally('GTPV1_END_USER_IMSI', v, vals('GTPV1_END_USER_IMSI'), where);
      for (const v of one(g['e164.msisdn'])) tally('GTPV1_END_USER_MSISDN', v, vals('GTPV1_END_USER_MSISDN'), where);
      for (const v of one(g['gtp.apn'])) tally('GTPV1_APN_NAME', v, vals('GTPV1_APN_NAME'), where);
      for (const v of [...one(g['gtp.user_ipv4']), ...one(g['gtp.user_ipv6'])]) tally('GTPV1_END_USER_IP', v, vals('GTPV1_END_USER_IP'), where);
      for (const v of one(g['gtp.teid_data'])) tally(dirKey('DATA'), hexNum(v), vals(dirKey('DATA')), where);
      for (const v of one(g['gtp.teid_cp'])) tally(dirKey('CTRL'), hexNum(v), vals(dirKey('CTRL')), where);
      for (const v of one(g['gtp.cause'])) tally('GTPV1_RESPONSE_CAUSE', Number(v), vals('GTPV1_RESPONSE_CAUSE'), where);
      const teid = hexNum(g['gtp.teid']);
      if (teid === 0) zeroTeid.push(p.frame);
      else {
        // The header TEID is the receiver's control TEID, announced by the receiver earlier.
        const peer = `GTPV1_${m && m.dir === 1 ? 'C2S' : 'S2C'}_TEID_CTRL`;
        tally('header TEID = peer TEID_CTRL', teid, vals(peer), where);
      }
      const seq = g['gtp.seq_number'];
      if (isReq) requests.push({ seq, type, flow: m && m.f, dir: m && m.dir });
      else {
        const req = requests.find((r) => r.seq === seq && m && r.flow === m.f && r.dir !== m.dir);
        if (req) {
          const pair = txns.filter((x) => x.GTPV1_REQ_MSG_TYPE === req.type).map((x) => x.GTPV1_RSP_MSG_TYPE);
          tally('request/response pairing (seq)', type, pair.filter((x) => x !== undefined), `${where} (seq ${seq})`);
        }
      }
    }
  }
  zeekRai(flows, capture, tally);
  for (const [k, n] of Object.entries(notExported)) explained.push({ field: k, what: `${n} value(s) not exported`, why: NOT_EXPORTED[k] });
  if (zeroTeid.length)
    explained.push({
      field: 'gtp.teid',
      what: `header TEID 0 in frames ${zeroTeid.join(' ')}`,
      why: 'TEID 0 means "no tunnel yet" (Echo, first Create PDP Context Request: TS 29.060 §9.1): no value to export',
    });
  if (v0.length)
    explained.push({
      field: 'gtp (version 0)',
      what: `${v0.length} PDU(s) in frames ${v0.join(' ')} not dissected (checked: their flows are unlabelled, no GTPV1 field)`,
      why: "GTPv0 (GSM 09.60, 20-octet header, version 0, PT 1) on UDP 3386: not GTPv1-C, whose fields differ (TID instead of TEIDs; nProbe has a separate GTPV0 plugin). tshark calls them gtpprime by port only; nDPI's GTP_PRIME needs PT 0 (GTP', TS 32.295), so nDPI would not label them either",
    });
  return { fields, explained };
}

module.exports = {
  protocol: 'GTPV1',
  captures: [
    'gtp/zeek_gtp_pdp_ctx_messages.pcapng',
    'gtp/arkime_gtp_iphone.pcap',
    'gtp/ndpi_ipv6_in_gtp_vlan.pcap',
    'gtp/zeek_gtp1_gn_fragmentation.pcap',
  ],
  check,
};
