// RADIUS accuracy module for test/tools/accuracy.js: every RADIUS value tshark extracts
// (<capture>.tshark.jsonl, MANIFEST "Oracles": radius code, User_Name, Framed-IP-Address, ...)
// must be in the probe's record of the same flow (same 5-tuple, packet time inside the flow).
//
// A value counts as found when a transaction of the flow's RADIUS_TRANSACTIONS has it next to
// the message's code (RADIUS_REQ_MSG_TYPE for a request, RADIUS_RSP_MSG_TYPE for a response).
// "wrong" = no transaction has it, but one with that code has the field with another value.
// Two checks of the probe's own structure come with it: a response tshark links to its request
// (radius.reqframe) shares one transaction with it ("transaction pairing"), and the flat
// fields are those of RADIUS_TRANSACTIONS[0] ("flat = first transaction").
//
// Misses are explained only with a reason computed from the capture's own bytes (this module
// reads the pcap/pcapng itself and walks the RADIUS message strictly by RFC 2865 §3/§5):
// tshark's own quirks (a string cut at a NUL octet, sub-attributes read past their
// Vendor-Specific attribute) and the probe's documented rules (first of a repeated attribute,
// request value first in a transaction, Access-Accept User-Name wins, retransmissions are one
// transaction, a flow whose first messages are not RADIUS is not labelled). Anything else is
// a failure.
'use strict';
const fs = require('fs');
const path = require('path');

const RADIUS = 146;
const REQUEST_CODES = new Set([1, 4, 12, 13, 40, 43]);
const RESPONSE_CODES = new Set([2, 3, 5, 11, 41, 42, 44, 45]);
const RADIUS_PORTS = new Set([1812, 1813, 1645, 1646, 3799]);

// tshark key -> [nProbe element, RADIUS attribute type, kind]
const ATTRS = {
  'radius.User_Name': ['RADIUS_USER_NAME', 1, 'string'],
  'radius.Calling_Station_Id': ['RADIUS_CALLING_STATION_ID', 31, 'string'],
  'radius.Called_Station_Id': ['RADIUS_CALLED_STATION_ID', 30, 'string'],
  'radius.NAS_IP_Address': ['RADIUS_NAS_IP_ADDR', 4, 'ipv4'],
  'radius.NAS_Identifier': ['RADIUS_NAS_IDENTIFIER', 32, 'string'],
  'radius.Framed-IP-Address': ['RADIUS_FRAMED_IP_ADDR', 8, 'ipv4'],
  'radius.Acct_Session_Id': ['RADIUS_ACCT_SESSION_ID', 44, 'string'],
  'radius.Acct_Status_Type': ['RADIUS_ACCT_STATUS_TYPE', 40, 'u32'],
  'radius.Acct_Input_Octets': ['RADIUS_ACCT_IN_OCTETS', 42, 'u32'],
  'radius.Acct_Output_Octets': ['RADIUS_ACCT_OUT_OCTETS', 43, 'u32'],
};
// tshark keys with no nProbe RADIUS element (nprobe -H lists ids 240-255 only).
const NOT_EXPORTED = {
  'radius.NAS_Port': 'NAS-Port (5)',
  'radius.Service_Type': 'Service-Type (6)',
  'radius.Reply_Message': 'Reply-Message (18)',
  'radius.Acct_Session_Time': 'Acct-Session-Time (46)',
  'radius.Acct_Terminate_Cause': 'Acct-Terminate-Cause (49)',
  'radius.Framed_IPv6_Prefix': 'Framed-IPv6-Prefix (97)',
};
const BOOKKEEPING = new Set(['radius.code', 'radius.id', 'radius.reqframe', 'radius.rspframe']);
const FLAT_FIELDS = [
  'RADIUS_REQ_MSG_TYPE', 'RADIUS_RSP_MSG_TYPE', ...Object.values(ATTRS).map((a) => a[0]),
  'RADIUS_USER_IMSI', 'RADIUS_USER_IMEI', 'RADIUS_ACCT_IN_PKTS', 'RADIUS_ACCT_OUT_PKTS',
];
const TWO32 = 2 ** 32;

// ---- capture reading: UDP payloads by frame number (pcap and pcapng, no IP reassembly) ----

function linkPayload(linktype, d) {
  let off;
  let et;
  if (linktype === 1) {
    off = 14;
    et = d.readUInt16BE(12);
    while ((et === 0x8100 || et === 0x88a8) && d.length >= off + 4) {
      et = d.readUInt16BE(off + 2);
      off += 4;
    }
  } else if (linktype === 0 || linktype === 108) {
    off = 4; // BSD loopback: a 4-octet address family, then IP
    et = d[off] >> 4 === 6 ? 0x86dd : 0x0800;
  } else if (linktype === 101 || linktype === 12) {
    off = 0;
    et = (d[0] >> 4) === 6 ? 0x86dd : 0x0800;
  } else if (linktype === 113) {
    off = 16;
    et = d.readUInt16BE(14);
  } else {
    return null;
  }
  return et === 0x0800 || et === 0x86dd ? d.subarray(off) : null;
}

function udpPayload(ip) {
  if (ip.length < 20) return null;
  let p;
  let proto;
  if (ip[0] >> 4 === 4) {
    const ihl = (ip[0] & 15) * 4;
    const frag = ip.readUInt16BE(6) & 0x1fff;
    proto = ip[9];
    if (frag !== 0) return null;
    p = ip.subarray(ihl);
  } else if (ip[0] >> 4 === 6) {
    proto = ip[6];
    p = ip.subarray(40);
  } else {
    return null;
  }
  if (proto !== 17 || p.length < 8) return null;
  const ulen = p.readUInt16BE(4);
  return p.subarray(8, Math.max(8, Math.min(p.length, ulen)));
}

/** Map frame number (1-based, as tshark counts) -> UDP payload Buffer. */
function readUdpPayloads(file) {
  const b = fs.readFileSync(file);
  const frames = [];
  const magic = b.readUInt32LE(0);
  if (magic === 0x0a0d0d0a) {
    const idbs = [];
    let le = true;
    let q = 0;
    while (q + 12 <= b.length) {
      if (b.readUInt32LE(q) === 0x0a0d0d0a) le = b.readUInt32LE(q + 8) === 0x1a2b3c4d;
      const u32 = (o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
      const u16 = (o) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
      const type = u32(q);
      const len = u32(q + 4);
      if (len < 12 || q + len > b.length) break;
      if (type === 1) idbs.push(u16(q + 8));
      else if (type === 6) frames.push([idbs[u32(q + 8)], b.subarray(q + 28, q + 28 + u32(q + 20))]);
      else if (type === 3) frames.push([idbs[0], b.subarray(q + 12, q + Math.min(len - 4, 12 + u32(q + 8)))]);
      else if (type === 2) frames.push([idbs[u16(q + 8)], b.subarray(q + 28, q + 28 + u32(q + 20))]);
      q += len;
    }
  } else {
    const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
    const u32 = (o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const linktype = u32(20) & 0xffff;
    let q = 24;
    while (q + 16 <= b.length) {
      const cap = u32(q + 8);
      frames.push([linktype, b.subarray(q + 16, q + 16 + cap)]);
      q += 16 + cap;
    }
  }
  const out = new Map();
  frames.forEach(([lt, d], i) => {
    try {
      const ip = linkPayload(lt, d);
      const u = ip && udpPayload(ip);
      if (u) out.set(i + 1, u);
    } catch {
      /* a frame too short for its headers: no payload */
    }
  });
  return out;
}

// ---- an independent strict walk of one RADIUS message (RFC 2865 §3, §5) ----

function walk(p) {
  if (!p || p.length < 20) return null;
  const length = p.readUInt16BE(2);
  const m = { code: p[0], id: p[1], length, auth: p.subarray(4, 20).toString('hex'), attrs: [], stop: null };
  if (length < 20 || length > 4096) {
    m.stop = { off: 2, why: `Length ${length} outside 20..4096 (radius_bad_length)` };
    return m;
  }
  const end = Math.min(length, p.length);
  let i = 20;
  while (i < end) {
    if (i + 2 > end) {
      m.stop = { off: i, why: `one octet left at offset ${i}` };
      break;
    }
    const t = p[i];
    const l = p[i + 1];
    if (l < 2 || i + l > length) {
      m.stop = { off: i, why: `attribute type ${t} at offset ${i} has length ${l}, ${l < 2 ? 'under 2' : `past the message Length ${length}`} (radius_bad_attribute_length)` };
      break;
    }
    if (i + l > p.length) {
      m.stop = { off: i, why: `attribute at offset ${i} cut by the capture (radius_truncated_attribute)` };
      break;
    }
    m.attrs.push({ type: t, off: i, value: p.subarray(i + 2, i + l) });
    i += l;
  }
  return m;
}

/** Why the probe's probe() rejects this payload, or null when it should accept it. */
function probeRejects(p, sport, dport) {
  if (!p || p.length < 20) return `payload of ${p ? p.length : 0} octets is shorter than the 20-octet header`;
  const code = p[0];
  const length = p.readUInt16BE(2);
  if (!REQUEST_CODES.has(code) && !RESPONSE_CODES.has(code)) return `code ${code} is not a RADIUS request or response code`;
  if (length < 20 || length > 4096) return `Length ${length} outside 20..4096`;
  if (length > p.length) return `Length ${length} is beyond the ${p.length}-octet datagram`;
  const hinted = RADIUS_PORTS.has(sport) || RADIUS_PORTS.has(dport);
  if (!hinted && length !== p.length) return `off the RADIUS ports and Length ${length} != datagram ${p.length}`;
  let n = 0;
  for (let i = 20; i < length; ) {
    const t = p[i];
    const l = i + 1 < length ? p[i + 1] : 0;
    if (t === 0 || l < 2 || i + l > length) {
      if (hinted && n > 0) return null;
      return hinted ? `first attribute (offset ${i}, type ${t}, length ${l}) is invalid` : `off the RADIUS ports and attribute at offset ${i} is invalid`;
    }
    i += l;
    n++;
  }
  return hinted || n > 0 ? null : 'off the RADIUS ports without attributes';
}

// ---- value comparison ----

function rawText(kind, v) {
  if (kind === 'ipv4') return v.length === 4 ? [...v].join('.') : null;
  if (kind === 'u32') return v.length === 4 ? String(v.readUInt32BE(0)) : null;
  return v.toString('utf8');
}

/** A string attribute as the probe's JSON shows it: every octet that is not part of a valid
 * UTF-8 sequence becomes U+FFFD (native/util/json_writer.h). */
function probeText(v) {
  let out = '';
  for (let i = 0; i < v.length; ) {
    const c = v[i];
    const n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    let ok = n !== 0 && i + n <= v.length;
    for (let j = 1; ok && j < n; j++) ok = (v[i + j] & 0xc0) === 0x80;
    if (ok && n === 3) ok = !(c === 0xe0 && v[i + 1] < 0xa0) && !(c === 0xed && v[i + 1] >= 0xa0);
    if (ok && n === 4) ok = !(c === 0xf0 && v[i + 1] < 0x90) && !(c === 0xf4 && v[i + 1] >= 0x90);
    if (ok) {
      out += v.subarray(i, i + n).toString('utf8');
      i += n;
    } else {
      out += '\ufffd';
      i++;
    }
  }
  return out;
}

/** tshark shows a string attribute up to its first NUL octet. */
function tsharkText(kind, v) {
  if (kind !== 'string') return rawText(kind, v);
  const z = v.indexOf(0);
  return (z < 0 ? v : v.subarray(0, z)).toString('utf8');
}

function same(field, probeValue, tsharkValue) {
  if (probeValue === undefined) return false;
  if (field === 'RADIUS_ACCT_IN_OCTETS' || field === 'RADIUS_ACCT_OUT_OCTETS') {
    // The probe adds Gigawords x 2^32 (RFC 2869 5.1); tshark shows the 32-bit attribute.
    return probeValue % TWO32 === Number(tsharkValue);
  }
  if (typeof probeValue === 'number') return probeValue === Number(tsharkValue);
  return probeValue === tsharkValue;
}

/** Microseconds from tshark's "sec.nsec" string, exactly. */
function tsUs(ts) {
  const [s, f = ''] = ts.split('.');
  return Number(s) * 1e6 + Number((f + '000000').slice(0, 6));
}

function flowOf(flows, pkt) {
  const t = tsUs(pkt.ts);
  return flows.find((f) => {
    if (f.PROTOCOL !== 17 || t < f.FLOW_START_MICROSECONDS || t > f.FLOW_END_MICROSECONDS) return false;
    const src = f.IPV4_SRC_ADDR ?? f.IPV6_SRC_ADDR;
    const dst = f.IPV4_DST_ADDR ?? f.IPV6_DST_ADDR;
    const fwd = src === pkt.src && dst === pkt.dst && f.L4_SRC_PORT === pkt.sport && f.L4_DST_PORT === pkt.dport;
    const rev = src === pkt.dst && dst === pkt.src && f.L4_SRC_PORT === pkt.dport && f.L4_DST_PORT === pkt.sport;
    return fwd || rev;
  });
}

// ---- the check ----

function check(flows, packets, capture) {
  const fields = {};
  const explained = [];
  const F = (name) => (fields[name] ??= { expected: 0, found: 0, wrong: 0, misses: [] });
  const raw = readUdpPayloads(path.join(__dirname, '..', 'pcap', capture));
  const byFrame = new Map(packets.map((p) => [p.frame, p]));
  const notExported = {};
  // frame of a request -> frame of the response tshark paired with it
  const rspOf = new Map();
  for (const p of packets) for (const pdu of p.radius ?? []) if (pdu['radius.reqframe']) rspOf.set(Number(pdu['radius.reqframe']), p);
  // first copy of each request per flow, direction, code, id and authenticator
  const firstCopy = new Map();
  const labelled = new Map(); // flow id -> reason it is not RADIUS (computed once per frame)

  for (const pkt of packets) {
    for (const pdu of pkt.radius ?? []) {
      const code = Number(pdu['radius.code']);
      const isReq = REQUEST_CODES.has(code);
      const codeField = isReq ? 'RADIUS_REQ_MSG_TYPE' : 'RADIUS_RSP_MSG_TYPE';
      const where = `frame ${pkt.frame} (code ${code}, id ${pdu['radius.id']})`;
      const flow = flowOf(flows, pkt);
      const txns = flow?.RADIUS_TRANSACTIONS ?? [];
      const payload = raw.get(pkt.frame);
      const msg = walk(payload);

      for (const k of Object.keys(pdu)) {
        if (k in NOT_EXPORTED) notExported[k] = (notExported[k] ?? 0) + 1;
        else if (!(k in ATTRS) && !BOOKKEEPING.has(k)) F(`(unmapped tshark key ${k})`).misses.push(`${where}: no mapping for ${k}`);
      }

      // Whole-message reasons first.
      let whole = null;
      if (!flow) whole = { why: null, text: 'no flow with this 5-tuple and time' };
      else if (flow.L7_PROTO !== RADIUS) {
        const r = probeRejects(payload, pkt.sport, pkt.dport);
        whole = r
          ? { why: `flow ${flow.FLOW_ID} is not labelled RADIUS: its messages fail the probe (this one: ${r}); tshark decodes RADIUS by port`, text: 'flow not RADIUS' }
          : { why: null, text: `flow ${flow.FLOW_ID} not labelled RADIUS though this message passes the probe` };
      } else if (!isReq && !RESPONSE_CODES.has(code)) whole = { why: null, text: 'unknown code' };

      let repeatOf = null;
      if (isReq && flow && msg) {
        const k = `${flow.FLOW_ID}|${pkt.src}:${pkt.sport}|${code}|${msg.id}|${msg.auth}`;
        if (firstCopy.has(k)) repeatOf = firstCopy.get(k);
        else firstCopy.set(k, pkt.frame);
      }

      const expectations = [[codeField, String(code), null]];
      for (const [k, a] of Object.entries(ATTRS)) {
        const v = pdu[k];
        if (v === undefined) continue;
        (Array.isArray(v) ? v : [v]).forEach((one, i) => expectations.push([a[0], one, { type: a[1], kind: a[2], key: k, nth: i }]));
      }

      for (const [field, value, attr] of expectations) {
        const f = F(field);
        f.expected++;
        const label = `${where}: ${field}=${JSON.stringify(value)}`;
        if (whole) {
          if (whole.why) explained.push({ field, what: label, why: whole.why });
          else f.misses.push(`${label}: ${whole.text}`);
          continue;
        }
        const withCode = txns.filter((t) => t[codeField] === code);
        if (withCode.some((t) => same(field, t[field], value))) {
          f.found++;
          continue;
        }
        const conflicting = withCode.filter((t) => t[field] !== undefined);
        if (conflicting.length && field !== codeField) f.wrong++;
        const why = attr && explainAttr({ field, value, attr, msg, raw, isReq, code, repeatOf, withCode, pkt, pdu, rspOf });
        if (why) explained.push({ field, what: label, why });
        else f.misses.push(`${label} not in flow ${flow.FLOW_ID}` + (conflicting.length ? ` (has ${conflicting.map((t) => JSON.stringify(t[field])).join(', ')})` : ''));
      }

      // A response tshark links to its request must share one transaction with it.
      const reqFrame = pdu['radius.reqframe'];
      if (reqFrame !== undefined && !whole) {
        const reqPdu = byFrame.get(Number(reqFrame))?.radius?.find((p) => p['radius.id'] === pdu['radius.id']);
        if (reqPdu) {
          const f = F('transaction pairing');
          f.expected++;
          const rc = Number(reqPdu['radius.code']);
          const reqFlow = flowOf(flows, byFrame.get(Number(reqFrame)));
          if (txns.some((t) => t.RADIUS_REQ_MSG_TYPE === rc && t.RADIUS_RSP_MSG_TYPE === code)) f.found++;
          else if (reqFlow !== flow)
            explained.push({ field: 'transaction pairing', what: `${where}: response to frame ${reqFrame}`,
              why: `the request is in another flow (${reqFlow ? `flow ${reqFlow.FLOW_ID}` : 'none'}: bit-flipped address or port), tshark pairs by its own conversation rules` });
          else f.misses.push(`${where}: no transaction ${rc}/${code} in flow ${flow.FLOW_ID}`);
        }
      }
    }
  }

  for (const flow of flows) {
    if (flow.L7_PROTO !== RADIUS) continue;
    const f = F('flat = first transaction');
    f.expected++;
    const first = flow.RADIUS_TRANSACTIONS?.[0] ?? {};
    const bad = FLAT_FIELDS.filter((k) => flow[k] !== first[k]);
    if (bad.length === 0) f.found++;
    else f.misses.push(`flow ${flow.FLOW_ID}: ${bad.join(', ')} differ from RADIUS_TRANSACTIONS[0]`);
  }

  checkZeek(flows, capture, F);
  checkArkime(flows, capture, F);

  for (const [k, n] of Object.entries(notExported)) {
    explained.push({ field: k, what: `${n} value(s) not compared`, why: `${NOT_EXPORTED[k]} has no nProbe RADIUS element (nprobe -H lists 240-255 only)` });
  }
  return { fields, explained: summarize(explained) };
}

// ---- second opinions shipped with the captures ----

/** Every transaction of the flows with these endpoints (either direction). */
function txnsOf(flows, a, ap, b, bp) {
  return flows
    .filter((f) => f.L7_PROTO === RADIUS)
    .filter((f) => (f.IPV4_SRC_ADDR === a && f.L4_SRC_PORT === ap && f.IPV4_DST_ADDR === b && f.L4_DST_PORT === bp) ||
      (f.IPV4_SRC_ADDR === b && f.L4_SRC_PORT === bp && f.IPV4_DST_ADDR === a && f.L4_DST_PORT === ap))
    .flatMap((f) => f.RADIUS_TRANSACTIONS ?? []);
}

const normMac = (s) => (s ?? '').toLowerCase().replace(/[^0-9a-f]/g, '').replace(/(..)(?!$)/g, '$1:');

function count(F, name, ok, miss) {
  const f = F(name);
  f.expected++;
  if (ok) f.found++;
  else f.misses.push(miss);
}

/** Zeek radius.log (one row per connection): username, mac, framed_addr, result. */
function checkZeek(flows, capture, F) {
  const file = path.join(__dirname, '..', 'pcap', capture.replace(/\.pcap(ng)?$/, '.zeek.radius.log'));
  if (!fs.existsSync(file)) return;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const cols = lines.find((l) => l.startsWith('#fields')).split('\t').slice(1);
  for (const l of lines) {
    if (!l || l.startsWith('#')) continue;
    const r = Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v]));
    const t = txnsOf(flows, r['id.orig_h'], Number(r['id.orig_p']), r['id.resp_h'], Number(r['id.resp_p']));
    const at = `zeek row ${r['id.orig_h']}:${r['id.orig_p']}`;
    if (r.username !== '-') count(F, 'zeek: username', t.some((x) => x.RADIUS_USER_NAME === r.username), `${at}: ${r.username}`);
    if (r.mac !== '-') count(F, 'zeek: mac', t.some((x) => normMac(x.RADIUS_CALLING_STATION_ID) === r.mac), `${at}: ${r.mac}`);
    // Zeek takes framed_addr from Access-Challenge only (base/protocols/radius/main.zeek), so
    // it is "-" on connections whose Framed-IP-Address came with Access-Accept: nothing to check.
    if (r.framed_addr !== '-') count(F, 'zeek: framed_addr', t.some((x) => x.RADIUS_FRAMED_IP_ADDR === r.framed_addr), `${at}: ${r.framed_addr}`);
    const codes = t.map((x) => x.RADIUS_RSP_MSG_TYPE);
    const ok = r.result === 'success' ? codes.includes(2) : r.result === 'failed' ? codes.includes(3) : r.result === 'unknown' ? t.length > 0 && codes.every((c) => c === undefined) : false;
    count(F, 'zeek: result', ok, `${at}: result ${r.result}, response codes ${JSON.stringify(codes)}`);
  }
}

/** Arkime's expected session (tests/pcap/<name>.test): radius user, nasIp, framedIp, mac, msgType. */
function checkArkime(flows, capture, F) {
  const file = path.join(__dirname, '..', 'pcap', capture.replace(/\.pcap(ng)?$/, '.arkime.test.json'));
  if (!fs.existsSync(file)) return;
  const MSG = { 'access-request': 1, 'access-accept': 2, 'access-reject': 3, 'accounting-request': 4, 'accounting-response': 5, 'access-challenge': 11 };
  for (const { body } of JSON.parse(fs.readFileSync(file, 'utf8')).sessions3) {
    if (!body.radius) continue;
    const t = txnsOf(flows, body.source.ip, body.source.port, body.destination.ip, body.destination.port);
    const at = `arkime session ${body.source.ip}:${body.source.port}`;
    for (const u of body.radius.user ?? []) count(F, 'arkime: user', t.some((x) => x.RADIUS_USER_NAME === u), `${at}: ${u}`);
    for (const ip of body.radius.nasIp ?? []) count(F, 'arkime: nasIp', t.some((x) => x.RADIUS_NAS_IP_ADDR === ip), `${at}: ${ip}`);
    for (const ip of body.radius.framedIp ?? []) count(F, 'arkime: framedIp', t.some((x) => x.RADIUS_FRAMED_IP_ADDR === ip), `${at}: ${ip}`);
    for (const m of body.radius.mac ?? []) count(F, 'arkime: mac', t.some((x) => normMac(x.RADIUS_CALLING_STATION_ID) === m), `${at}: ${m}`);
    for (const m of body.radius.msgType ?? [])
      count(F, 'arkime: msgType', t.some((x) => x.RADIUS_REQ_MSG_TYPE === MSG[m] || x.RADIUS_RSP_MSG_TYPE === MSG[m]), `${at}: ${m}`);
  }
}

/**
 * A Vendor-Specific attribute whose sub-attributes (type, length, value after the vendor id)
 * do not end at the attribute's own end, or have an impossible length: tshark follows the
 * sub-attribute lengths, past the attribute or into garbage, and takes its offsets from there.
 */
function vsaOverrun(msg) {
  for (const a of msg.attrs) {
    if (a.type !== 26 || a.value.length < 4) continue;
    const v = a.value;
    for (let j = 4; j < v.length; ) {
      if (j + 2 > v.length) break;
      if (v[j + 1] < 2)
        return `the Vendor-Specific attribute at offset ${a.off} holds a sub-attribute of length ${v[j + 1]} (under 2; tshark: "VSA too short") after which tshark loses the attribute boundaries`;
      if (j + v[j + 1] > v.length)
        return `the Vendor-Specific attribute at offset ${a.off} (length ${v.length + 2}) holds a sub-attribute of length ${v[j + 1]} that runs ${j + v[j + 1] - v.length} octet(s) past it`;
      j += v[j + 1];
    }
  }
  return null;
}

/** The first attribute of a type in the message of a frame, as the probe would show it. */
function firstAttr(raw, frame, type, kind) {
  const m = walk(raw.get(frame));
  const a = m?.attrs.find((x) => x.type === type);
  if (!a) return undefined;
  return kind === 'string' ? probeText(a.value) : rawText(kind, a.value);
}

/** Reason, from the capture's bytes, why an attribute value tshark shows is not in the flow. */
function explainAttr({ field, value, attr, msg, raw, isReq, code, repeatOf, withCode, pkt, pdu, rspOf }) {
  if (!msg) return null;
  const { type, kind } = attr;
  const ofType = msg.attrs.filter((a) => a.type === type);
  const reachable = ofType.filter((a) => tsharkText(kind, a.value) === value);
  if (reachable.length === 0) {
    const o = vsaOverrun(msg);
    if (o) return `not at any attribute boundary of the message: ${o}; tshark reads on from there, the probe follows the attribute Length (RFC 2865 5.26)`;
    if (msg.stop) return `not reachable by Length: the walk stops at ${msg.stop.why}; tshark reads on from its own offsets`;
    return null;
  }
  const a = reachable[0];
  if (ofType.indexOf(a) > 0 || attr.nth > 0)
    return `attribute type ${type} repeated in the message: the first (${JSON.stringify(tsharkText(kind, ofType[0].value))}) counts (radius_duplicate_attribute)`;
  if (a.value.length === 0) return `empty attribute (length 2; RFC 2865 5 requires at least one octet): the probe exports no empty value`;
  if (repeatOf !== null)
    return `retransmission of frame ${repeatOf} (same code, identifier and Request Authenticator, RFC 5080 2.2.1): one transaction, the first copy's values kept`;
  if (!isReq && pdu['radius.reqframe'] !== undefined) {
    const rf = Number(pdu['radius.reqframe']);
    const reqVal = firstAttr(raw, rf, type, kind);
    if (reqVal !== undefined && reqVal !== probeText(a.value) && !(code === 2 && type === 1) && withCode.some((t) => same(field, t[field], reqVal)))
      return `the request (frame ${rf}) carries ${JSON.stringify(reqVal)}: a transaction keeps the request's value, the response only fills what the request lacked`;
  }
  if (kind === 'string' && a.value.includes(0) && withCode.some((t) => typeof t[field] === 'string' && t[field].startsWith(`${value}\u0000`)))
    return 'tshark shows the string up to its first NUL octet; the probe keeps every octet of the attribute';
  if (isReq && type === 1 && rspOf.has(pkt.frame)) {
    const rsp = rspOf.get(pkt.frame);
    const accepted = rsp.radius?.some((p) => p['radius.code'] === '2') ? firstAttr(raw, rsp.frame, 1, 'string') : undefined;
    if (accepted !== undefined && accepted !== value && withCode.some((t) => t[field] === accepted))
      return `the Access-Accept (frame ${rsp.frame}) names the user ${JSON.stringify(accepted)}, which replaces the request's (RFC 2865 5.1)`;
  }
  return null;
}

/** One explained line per (field, kind of reason), listing every frame, so the table stays readable. */
function summarize(list) {
  const out = new Map();
  for (const e of list) {
    const kind = e.why.replace(/\d+/g, 'N').replace(/"[^"]*"/g, '""');
    const key = `${e.field}|${kind}`;
    if (!out.has(key)) out.set(key, { field: e.field, whats: [], why: e.why });
    out.get(key).whats.push(e.what);
  }
  return [...out.values()].map((o) => {
    if (o.whats.length === 1) return { field: o.field, what: o.whats[0], why: o.why };
    const frames = o.whats.map((w) => (/^frame (\d+)/.exec(w) ?? [w])[1] ?? w);
    return { field: o.field, what: `${o.whats.length} values (frames ${frames.join(' ')})`, why: `e.g. ${o.whats[0]}: ${o.why}` };
  });
}

module.exports = {
  protocol: 'RADIUS',
  captures: [
    'radius/arkime_radius_acct_vlan.pcap',
    'radius/tcpdump_radius_auth.pcap',
    'radius/tcpdump_radius_rfc5176_coa.pcap',
    'radius/zeek_radius_localhost.pcap',
    'malformed/ndpi_fuzz_2020_02_16_radius.pcap',
    'malformed/tcpdump_radius_attr_asan.pcap',
  ],
  check,
  // exported for the module's own sanity test
  _internals: { readUdpPayloads, walk, probeRejects },
};
