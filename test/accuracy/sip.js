// SIP accuracy module for test/tools/accuracy.js: every SIP value tshark extracts
// (<capture>.tshark.jsonl, MANIFEST "Oracles": Method, Status-Code, Call-ID, from/to user and
// host, CSeq, User-Agent) must be in the probe's record of the same flow (same 5-tuple, the
// innermost one for GTP-U; packet time inside the flow).
//
// Every message is looked up in the transaction of its Call-ID (SIP_TRANSACTIONS), and:
// - SIP_CALL_ID: the Call-ID is a transaction's.
// - SIP_CALLING_PARTY / SIP_CALLED_PARTY: tshark's from.user/from.host are in the calling
//   party and to.user/to.host in the called one; for a request sent by the callee side (or a
//   response to one: BYE, re-INVITE from the callee) From and To are swapped, as RFC 3261 §12
//   has it. The caller side is the sender of the transaction's first INVITE (else of its
//   first request).
// - SIP_UAC / SIP_UAS: the User-Agent is the one of the transaction's field for the side that
//   sent it (flow client -> UAC); a side's later, different User-Agent is explained (first
//   wins).
// - the call times, SIP_RESPONSE_CODE, SIP_CALL_STATE, SIP_REGISTER_NUM_OK/_OTHER/_MAX_RRD:
//   recomputed from tshark's parse of the flow's messages (Method, Status-Code, CSeq) with
//   the rules of native/dissect/sip.cc's header comment, and compared with the transaction.
//   One expected value per transaction and field that tshark's messages imply.
// - the flat fields equal SIP_TRANSACTIONS[0] ("flat = first transaction").
// Not compared (no nProbe SIP element): r-uri, contact.uri, from/to tags, CSeq number,
// Content-Type. SDP (c=, m=) is not in the oracle; test/dissect/sip.test.ts checks it on the
// captures' own bytes.
//
// Second opinion: Zeek's sip.log for zeek_sip_wireshark (call_id, user_agent of each
// request/response pair) is checked the same way, under its own rows.
//
// SIP over TCP (sip/suricata_sip_tcp, the IMS handset's connections inside
// gtp/arkime_gtp_iphone) is checked exactly like UDP: tshark reports a message in the frame
// that completes it, which lies inside the same TCP flow.
//
// Exceptions, each with a reason computed from the capture: in malformed/ the messages the
// probe rejects by RFC 3261 syntax, which this module re-checks on the packet's own bytes
// (start line, header lines; it reads the pcap itself).
'use strict';
const fs = require('fs');
const path = require('path');
const { usOf, tally } = require('../tools/accuracy-common');

const SIP = 100;
const TIME_FIELDS = [
  'SIP_INVITE_TIME', 'SIP_TRYING_TIME', 'SIP_RINGING_TIME', 'SIP_INVITE_OK_TIME', 'SIP_INVITE_FAILURE_TIME',
  'SIP_BYE_TIME', 'SIP_BYE_OK_TIME', 'SIP_CANCEL_TIME', 'SIP_CANCEL_OK_TIME',
];
const DERIVED = [...TIME_FIELDS, 'SIP_RESPONSE_CODE', 'SIP_CALL_STATE', 'SIP_REGISTER_NUM_OK', 'SIP_REGISTER_NUM_OTHER', 'SIP_REGISTER_MAX_RRD'];
const FLAT = ['SIP_CALL_ID', 'SIP_CALLING_PARTY', 'SIP_CALLED_PARTY', 'SIP_CALL_STATE', 'SIP_UAC', 'SIP_UAS', ...DERIVED];

// ---- the capture's own bytes: UDP payloads by frame number (classic pcap, Ethernet/SLL) ----

/** Every IPv4 UDP datagram of a classic pcap: { frame, us, src, dst, sport, dport, data }. */
function udpDatagrams(file) {
  const out = [];
  const b = fs.readFileSync(file);
  // Classic pcap in either byte order (the malformed one is big-endian); pcapng is not needed.
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) return out;
  const u32 = (o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const nano = (le ? magic : b.readUInt32BE(0)) === 0xa1b23c4d;
  const linktype = u32(20);
  let off = 24;
  let frame = 0;
  while (off + 16 <= b.length) {
    const us = u32(off) * 1e6 + (nano ? Math.floor(u32(off + 4) / 1000) : u32(off + 4));
    const incl = u32(off + 8);
    const d = b.subarray(off + 16, Math.min(b.length, off + 16 + incl));
    off += 16 + incl;
    frame++;
    let p;
    let et;
    if (linktype === 1) {
      p = 14;
      et = d.length >= 14 ? d.readUInt16BE(12) : 0;
      while ((et === 0x8100 || et === 0x88a8) && d.length >= p + 4) {
        et = d.readUInt16BE(p + 2);
        p += 4;
      }
    } else if (linktype === 113) {
      p = 16;
      et = d.length >= 16 ? d.readUInt16BE(14) : 0;
    } else {
      continue;
    }
    if (et !== 0x0800 || d.length < p + 20) continue;
    const ihl = (d[p] & 15) * 4;
    if (d[p + 9] !== 17 || d.length < p + ihl + 8) continue;
    const ip = (o) => `${d[o]}.${d[o + 1]}.${d[o + 2]}.${d[o + 3]}`;
    out.push({
      frame, us, src: ip(p + 12), dst: ip(p + 16), sport: d.readUInt16BE(p + ihl), dport: d.readUInt16BE(p + ihl + 2),
      data: d.subarray(p + ihl + 8),
    });
  }
  return out;
}
/** UDP payloads by frame number. */
function udpPayloads(file) {
  return new Map(udpDatagrams(file).map((x) => [x.frame, x.data]));
}

// The probe's syntax rules (native/dissect/sip.cc), restated to explain a rejected message.
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
function lines(buf) {
  const s = buf.toString('latin1');
  const out = [];
  let i = 0;
  while (i < s.length) {
    const nl = s.indexOf('\n', i);
    const end = nl < 0 ? s.length : nl;
    out.push({ text: s.slice(i, end).replace(/\r$/, ''), complete: nl >= 0 });
    i = end + 1;
  }
  return out;
}
function startLineOk(l, strict) {
  const m = /^SIP\/2\.0 (\d{3})( .*)?$/i.exec(l);
  if (m && (!strict || l.startsWith('SIP/2.0 '))) return +m[1] >= 100 && +m[1] <= 699;
  const r = /^(\S+) (\S+) (\S+)$/.exec(l);
  if (!r) return false;
  if (strict ? !/^[A-Z]{3,32}$/.test(r[1]) : !TOKEN.test(r[1])) return false;
  if (strict ? r[3] !== 'SIP/2.0' : r[3].toUpperCase() !== 'SIP/2.0') return false;
  return strict ? /^[A-Za-z][A-Za-z0-9+.-]*:./.test(r[2]) : /^[^:]+:/.test(r[2]);
}
function headerName(l) {
  const m = /^([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*:/.exec(l);
  return m ? m[1].toLowerCase() : null;
}
/** Why the probe cannot use this datagram as a message, or null when it can. */
function rejection(payload) {
  if (!payload) return null;
  const ls = lines(payload);
  if (!ls.length || !ls[0].complete) return `start line not terminated by LF: ${JSON.stringify(ls[0] ? ls[0].text.slice(0, 60) : '')}`;
  if (!startLineOk(ls[0].text, false)) return `start line breaks RFC 3261 §7.1 syntax: ${JSON.stringify(ls[0].text.slice(0, 70))}`;
  return null;
}
/** Does this datagram pass probe() (strict start line, a header line among the next 4)? */
function probeOk(payload) {
  const ls = lines(payload);
  if (!ls.length || !ls[0].complete || !startLineOk(ls[0].text, true)) return false;
  for (let i = 1; i <= 4 && i < ls.length && ls[i].complete && ls[i].text !== ''; i++) if (headerName(ls[i].text)) return true;
  return false;
}
// ---- flows ----

function endpoints(p) {
  const ip = p.ip_layers ? p.ip_layers[p.ip_layers.length - 1] : { src: p.src, dst: p.dst };
  const l4 = p.l4_layers ? p.l4_layers[p.l4_layers.length - 1] : { proto: p.l4, sport: p.sport, dport: p.dport };
  return { src: ip.src, dst: ip.dst, proto: l4.proto, sport: +l4.sport, dport: +l4.dport };
}
const secOf = (ts) => Number(String(ts).split('.')[0]);

function findFlow(flows, e, us) {
  const proto = e.proto === 'tcp' ? 6 : 17;
  for (const f of flows) {
    if (f.PROTOCOL !== proto) continue;
    const a = f.IPV4_SRC_ADDR ?? f.IPV6_SRC_ADDR;
    const b = f.IPV4_DST_ADDR ?? f.IPV6_DST_ADDR;
    const fwd = a === e.src && b === e.dst && f.L4_SRC_PORT === e.sport && f.L4_DST_PORT === e.dport;
    const rev = a === e.dst && b === e.src && f.L4_SRC_PORT === e.dport && f.L4_DST_PORT === e.sport;
    if ((fwd || rev) && f.FLOW_START_MICROSECONDS <= us && us <= f.FLOW_END_MICROSECONDS) return { flow: f, dir: fwd ? 0 : 1 };
  }
  return null;
}

// ---- the dissector's rules, applied to tshark's parse of one transaction's messages ----

function expectFromOracle(msgs) {
  const t = {};
  let kind = null;
  let established = false;
  let lastInvite = 0;
  let lastFinal = 0;
  let bye = false;
  let cancel = false;
  const reg = { pending: false, cseq: 0, us: 0, max: 0, ok: 0, other: 0 };
  const once = (k, m) => {
    if (!(k in t)) t[k] = secOf(m.ts);
  };
  for (const m of msgs) {
    const method = m.request ? m.method : m.cseqMethod;
    if (!method) continue;
    if (kind === null) kind = method === 'REGISTER' ? 'register' : ['INVITE', 'ACK', 'BYE', 'CANCEL'].includes(method) ? 'call' : 'other';
    if (method === 'INVITE') kind = 'call';
    if (method === 'REGISTER' && kind === 'other') kind = 'register';
    if (m.request) {
      if (method === 'INVITE') once('SIP_INVITE_TIME', m);
      else if (method === 'BYE') (once('SIP_BYE_TIME', m), (bye = true));
      else if (method === 'CANCEL') (once('SIP_CANCEL_TIME', m), (cancel = true));
      else if (method === 'REGISTER' && m.cseq !== undefined && (!reg.pending || reg.cseq !== m.cseq)) Object.assign(reg, { pending: true, cseq: m.cseq, us: m.us });
      continue;
    }
    const s = m.status;
    if (s >= 200) lastFinal = s;
    if (method === 'INVITE') {
      if (s === 100) once('SIP_TRYING_TIME', m);
      else if (s === 180 || s === 183) once('SIP_RINGING_TIME', m);
      else if (s >= 200 && s < 300) once('SIP_INVITE_OK_TIME', m);
      else if (s >= 300 && !established) once('SIP_INVITE_FAILURE_TIME', m);
      if (s >= 200 && !established) lastInvite = s;
      if (s >= 200 && s < 300) established = true;
    } else if (method === 'BYE' && s >= 200 && s < 300) once('SIP_BYE_OK_TIME', m);
    else if (method === 'CANCEL' && s >= 200 && s < 300) once('SIP_CANCEL_OK_TIME', m);
    else if (method === 'REGISTER' && s >= 200) {
      if (s < 300) reg.ok++;
      else reg.other++;
      if (reg.pending && reg.cseq === m.cseq && m.us >= reg.us) {
        reg.max = Math.max(reg.max, Math.floor((m.us - reg.us) / 1000));
        reg.pending = false;
      }
    }
  }
  if (kind === null) return t;
  const code = lastInvite || lastFinal;
  if (code) t.SIP_RESPONSE_CODE = code;
  t.SIP_CALL_STATE = kind === 'register' ? 'REGISTER' : kind !== 'call' ? 'UNKNOWN'
    : bye ? 'CALL_COMPLETED' : cancel ? 'CALL_CANCELED' : established ? 'CALL_IN_PROGRESS' : lastInvite >= 300 ? 'CALL_ERROR' : 'CALL_STARTED';
  if (reg.ok) t.SIP_REGISTER_NUM_OK = reg.ok;
  if (reg.other) t.SIP_REGISTER_NUM_OTHER = reg.other;
  if (reg.max) t.SIP_REGISTER_MAX_RRD = reg.max;
  return t;
}

/** A header's value as the probe reads it (first line with that name, before the blank line). */
function probeHeader(payload, names) {
  const ls = lines(payload);
  for (let i = 1; i < ls.length && ls[i].text !== ''; i++) {
    const n = headerName(ls[i].text);
    // Lines are split as bytes (latin1); the value is compared as tshark shows it (UTF-8,
    // a bad byte as U+FFFD).
    if (n && names.includes(n)) return Buffer.from(ls[i].text.slice(ls[i].text.indexOf(':') + 1).trim(), 'latin1').toString('utf8');
  }
  return null;
}

function check(flows, packets, capture) {
  const { F, explain, result } = tally();
  // The capture's own bytes, for malformed/ only: there the probe's reading of a damaged
  // message is re-derived from them to explain a difference. Clean captures get no excuse.
  const raw = capture.startsWith('malformed/') ? udpPayloads(path.join(__dirname, '..', 'pcap', capture)) : new Map();

  // Every UDP datagram of each flow, in order (for "before detection" reasons).
  const flowFrames = new Map();
  if (raw.size) {
    for (const p of packets) {
      if (!raw.has(p.frame) || !p.src) continue;
      const hit = findFlow(flows, endpoints(p), usOf(p.ts));
      if (!hit) continue;
      if (!flowFrames.has(hit.flow.FLOW_ID)) flowFrames.set(hit.flow.FLOW_ID, []);
      flowFrames.get(hit.flow.FLOW_ID).push(p.frame);
    }
  }
  /** Why the probe does not use this message the way tshark reads it (malformed/ only). */
  const unusable = (m) => {
    if (!m.raw || !m.hit) return null;
    const frames = flowFrames.get(m.hit.flow.FLOW_ID) ?? [];
    const upTo = frames.slice(0, frames.indexOf(m.frame) + 1);
    if (m.hit.flow.L7_PROTO !== SIP && frames.slice(0, 8).every((fr) => !probeOk(raw.get(fr))))
      return 'flow not labelled SIP: none of its first 8 datagrams passes probe() (damaged start line, or no header line among the next 4)';
    if (upTo.every((fr) => !probeOk(raw.get(fr)))) return 'before detection: no datagram of the flow up to this one passes probe()';
    if (m.rejected) return `start line rejected: ${m.rejected}`;
    const cid = probeHeader(m.raw, ['call-id', 'i']);
    if (cid === null) return 'no header line the probe reads as Call-ID';
    return null;
  };
  /** Why a response counts for nothing in the call times and counters: its CSeq (malformed/ only). */
  const cseqUnusable = (m) => {
    if (!m.raw || m.request) return null;
    const cs = probeHeader(m.raw, ['cseq']);
    if (cs === null || !/^\d{1,10}[ \t]+[A-Za-z0-9\-.!%*_+`'~]+$/.test(cs)) return `CSeq breaks RFC 3261 §20.16 syntax: ${JSON.stringify(cs)}`;
    return null;
  };

  // Messages by flow and Call-ID (UDP and TCP alike).
  const groups = new Map();
  for (const p of packets) {
    if (!p.sip) continue;
    const e = endpoints(p);
    for (const pdu of p.sip) {
      const us = usOf(p.ts);
      const hit = findFlow(flows, e, us);
      const m = {
        frame: p.frame, ts: p.ts, us, pdu, hit, request: 'sip.Method' in pdu, method: pdu['sip.Method'],
        status: pdu['sip.Status-Code'] !== undefined ? +pdu['sip.Status-Code'] : undefined,
        cseq: pdu['sip.CSeq.seq'] !== undefined ? +pdu['sip.CSeq.seq'] : undefined, cseqMethod: pdu['sip.CSeq.method'],
        cid: pdu['sip.Call-ID'], raw: raw.get(p.frame), rejected: rejection(raw.get(p.frame)),
      };
      m.why = unusable(m);
      m.cseqWhy = cseqUnusable(m);
      const key = hit ? `${hit.flow.FLOW_ID}\u0000${m.cid}` : `none\u0000${p.frame}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(m);
    }
  }

  for (const msgs of groups.values()) {
    const { hit, cid } = msgs[0];
    const flow = hit && hit.flow;
    const txs = flow && flow.L7_PROTO === SIP ? flow.SIP_TRANSACTIONS ?? [] : [];
    // The transaction of this Call-ID. In malformed/, tshark ends a string at a NUL octet and
    // the probe does not (a header value runs to its line end), and a value past the 512-byte
    // cap is cut: such a transaction is the same one, and its Call-ID an explained difference.
    let tx = txs.find((t) => t.SIP_CALL_ID === cid);
    let cidWhy = null;
    if (!tx && raw.size && cid !== undefined) {
      tx = txs.find((t) => t.SIP_CALL_ID.startsWith(cid + '\u0000'));
      if (tx) cidWhy = 'tshark ends the string at a NUL octet; the probe keeps the header value to its line end';
      else if ((tx = txs.find((t) => cid.startsWith(t.SIP_CALL_ID) && Buffer.byteLength(t.SIP_CALL_ID) >= 500))) cidWhy = 'value cut at the 512-byte cap (sip::kMaxValueBytes, anomaly sip_value_cap)';
    }
    const usable = msgs.filter((m) => !m.why);
    // Caller side, as the dissector decides: sender of the first INVITE, else of the first
    // message if a request, else the other side.
    const firstInvite = usable.find((m) => m.request && m.method === 'INVITE');
    const first = usable[0];
    const callerDir = firstInvite ? firstInvite.hit.dir : first ? (first.request ? first.hit.dir : 1 - first.hit.dir) : 0;
    const fromCallerOf = (m) => (m.request ? m.hit.dir === callerDir : m.hit.dir !== callerDir);
    // The message whose From/To become the calling/called party (no swap applied to it).
    const partySrc = firstInvite ?? first;
    const uaFirst = [usable.find((m) => m.hit.dir === 0 && m.pdu['sip.User-Agent'] !== undefined), usable.find((m) => m.hit.dir === 1 && m.pdu['sip.User-Agent'] !== undefined)];

    for (const m of msgs) {
      const pdu = m.pdu;
      const where = `frame ${m.frame}`;
      const miss = (field, what) => {
        if (m.why) explain(field, `${where}: ${what}`, m.why);
        else F(field).misses.push(`${where}: ${what}${flow ? '' : ' (no flow)'}`);
      };
      if (cid !== undefined) {
        F('SIP_CALL_ID').expected++;
        if (tx && !cidWhy) F('SIP_CALL_ID').found++;
        else if (tx) explain('SIP_CALL_ID', `${where}: ${JSON.stringify(cid.slice(0, 40))}`, cidWhy);
        else miss('SIP_CALL_ID', JSON.stringify(cid.slice(0, 80)));
      }
      // Parties: a message's From is on the calling side when it goes the same way as the
      // message the parties come from (RFC 3261 §12: the callee's requests swap From and To).
      for (const [side, fld] of [['from', 'SIP_CALLING_PARTY'], ['to', 'SIP_CALLED_PARTY']]) {
        for (const part of ['user', 'host']) {
          const v = pdu[`sip.${side}.${part}`];
          if (v === undefined || cid === undefined) continue;
          const sameWay = !partySrc || !m.hit || fromCallerOf(m) === fromCallerOf(partySrc);
          const toCalling = (side === 'from') === sameWay;
          const tfld = toCalling ? 'SIP_CALLING_PARTY' : 'SIP_CALLED_PARTY';
          F(fld).expected++;
          if (!tx) {
            miss(fld, `${side}.${part} ${JSON.stringify(v)} (no transaction)`);
            continue;
          }
          const target = tx[tfld];
          if (typeof target === 'string' && target.includes(v)) {
            F(fld).found++;
            continue;
          }
          const srcVal = partySrc && partySrc.pdu[`sip.${toCalling ? 'from' : 'to'}.${part}`];
          const hdr = m.raw ? probeHeader(m.raw, side === 'from' ? ['from', 'f'] : ['to', 't']) : null;
          if (hdr !== null && !hdr.includes(v))
            explain(fld, `${where}: ${side}.${part} ${JSON.stringify(v)}`, `tshark's value is not in the message's ${side === 'from' ? 'From' : 'To'} header (${JSON.stringify(hdr.slice(0, 60))}): its URI parser read a damaged URI differently`);
          else if (partySrc && partySrc !== m && srcVal !== v && typeof target === 'string' && (srcVal === undefined || target.includes(srcVal)))
            explain(fld, `${where}: ${side}.${part} ${JSON.stringify(v)} vs ${JSON.stringify(target)}`, `the transaction keeps the From/To of its first INVITE, else of its first message (frame ${partySrc.frame}); this message's differ`);
          else if (m.why) explain(fld, `${where}: ${side}.${part} ${JSON.stringify(v)}`, m.why);
          else {
            F(fld).wrong++;
            F(fld).misses.push(`${where}: ${side}.${part} ${JSON.stringify(v)} not in ${tfld} ${JSON.stringify(target)}`);
          }
        }
      }
      const ua = pdu['sip.User-Agent'];
      if (ua !== undefined && cid !== undefined && m.hit) {
        const fld = m.hit.dir === 0 ? 'SIP_UAC' : 'SIP_UAS';
        F(fld).expected++;
        const first = uaFirst[m.hit.dir];
        if (!tx) miss(fld, `${JSON.stringify(ua)} (no transaction)`);
        else if (tx[fld] === ua) F(fld).found++;
        else if (m.why) explain(fld, `${where}: ${JSON.stringify(ua)}`, m.why);
        else if (first && first !== m && first.pdu['sip.User-Agent'] !== ua && tx[fld] === first.pdu['sip.User-Agent'])
          explain(fld, `${where}: ${JSON.stringify(ua)}`, `the first User-Agent of the side wins (frame ${first.frame})`);
        else if (raw.size && typeof tx[fld] === 'string' && tx[fld].startsWith(ua + '\u0000'))
          explain(fld, `${where}: ${JSON.stringify(ua)}`, 'tshark ends the string at a NUL octet; the probe keeps the header value to its line end');
        else {
          F(fld).wrong++;
          F(fld).misses.push(`${where}: ${JSON.stringify(ua)} != ${JSON.stringify(tx[fld])}`);
        }
      }
    }

    // Fields derived from all the transaction's messages (tshark's parse, the dissector's rules).
    if (cid === undefined || !flow) continue;
    const all = expectFromOracle(msgs);
    const probeSees = expectFromOracle(usable.filter((m) => !m.cseqWhy));
    const whyNot = msgs.filter((m) => m.why || m.cseqWhy).map((m) => `frame ${m.frame}: ${m.why || m.cseqWhy}`);
    for (const [fld, v] of Object.entries(all)) {
      F(fld).expected++;
      const got = tx ? tx[fld] : undefined;
      if (got === v) F(fld).found++;
      else if (whyNot.length && got === probeSees[fld]) explain(fld, `${cid.slice(0, 40)}: ${v} vs ${got}`, `from the messages the probe can use: ${whyNot.slice(0, 3).join('; ')}`);
      else if (!tx) F(fld).misses.push(`${cid.slice(0, 60)}: ${fld} ${v} (no transaction)`);
      else {
        F(fld).wrong++;
        F(fld).misses.push(`${cid.slice(0, 60)}: ${fld} expected ${v}, record ${got}`);
      }
    }
  }

  // Flat fields = the first transaction.
  for (const f of flows) {
    if (f.L7_PROTO !== SIP || !f.SIP_TRANSACTIONS || !f.SIP_TRANSACTIONS.length) continue;
    const t0 = f.SIP_TRANSACTIONS[0];
    F('flat = SIP_TRANSACTIONS[0]').expected++;
    const bad = FLAT.filter((k) => f[k] !== t0[k]);
    if (!bad.length) F('flat = SIP_TRANSACTIONS[0]').found++;
    else F('flat = SIP_TRANSACTIONS[0]').misses.push(`flow ${f.FLOW_ID}: ${bad.join(',')}`);
  }

  // Zeek's sip.log beside this capture: call_id and user_agent of each row.
  const zeekLog = path.join(__dirname, '..', 'pcap', capture.replace(/\.pcap$/, '.zeek.sip.log'));
  if (fs.existsSync(zeekLog)) {
    const text = fs.readFileSync(zeekLog, 'utf8').split('\n');
    const names = (text.find((l) => l.startsWith('#fields')) || '').split('\t').slice(1);
    for (const line of text) {
      if (!line || line.startsWith('#')) continue;
      const row = Object.fromEntries(line.split('\t').map((v, i) => [names[i], v]));
      const e = { src: row['id.orig_h'], dst: row['id.resp_h'], sport: +row['id.orig_p'], dport: +row['id.resp_p'] };
      const cands = flows.filter((f) => f.L7_PROTO === SIP && (f.SIP_TRANSACTIONS || []).some((t) => t.SIP_CALL_ID === row.call_id) &&
        ((f.IPV4_SRC_ADDR === e.src && f.L4_SRC_PORT === e.sport && f.IPV4_DST_ADDR === e.dst && f.L4_DST_PORT === e.dport) ||
         (f.IPV4_SRC_ADDR === e.dst && f.L4_SRC_PORT === e.dport && f.IPV4_DST_ADDR === e.src && f.L4_DST_PORT === e.sport)));
      F('SIP_CALL_ID (zeek sip.log)').expected++;
      if (cands.length) F('SIP_CALL_ID (zeek sip.log)').found++;
      else F('SIP_CALL_ID (zeek sip.log)').misses.push(`${row.method} ${row.call_id}`);
      if (row.user_agent && row.user_agent !== '-') {
        // Zeek logs the request's User-Agent; the request came from the flow's client or server.
        F('SIP_UAC/SIP_UAS (zeek sip.log)').expected++;
        if (cands.some((f) => f.SIP_TRANSACTIONS.some((t) => t.SIP_CALL_ID === row.call_id && (t.SIP_UAC === row.user_agent || t.SIP_UAS === row.user_agent)))) F('SIP_UAC/SIP_UAS (zeek sip.log)').found++;
        else F('SIP_UAC/SIP_UAS (zeek sip.log)').misses.push(`${row.call_id}: ${row.user_agent}`);
      }
    }
  }

  // Suricata's expectation beside this capture: how many TCP flows it sees as SIP.
  const yaml = path.join(__dirname, '..', 'pcap', capture.replace(/\.pcap$/, '.suricata-test.yaml'));
  if (fs.existsSync(yaml)) {
    const m = /stats\.app_layer\.flow\.sip_tcp:\s*(\d+)/.exec(fs.readFileSync(yaml, 'utf8'));
    if (m) {
      const want = Number(m[1]);
      const got = flows.filter((f) => f.PROTOCOL === 6 && f.L7_PROTO === SIP).length;
      const row = F('SIP over TCP flows (suricata test.yaml)');
      row.expected += want;
      row.found += Math.min(want, got);
      if (got !== want) {
        if (got > want) row.wrong += got - want;
        row.misses.push(`${got} TCP flows labelled SIP, suricata counts ${want}`);
      }
    }
  }

  return result();
}

module.exports = {
  protocol: 'SIP',
  // For test/dissect/sip.test.ts: the restated probe() rule must agree with the native one,
  // or the explanations built on it would be wrong.
  probeOk,
  udpDatagrams,
  captures: [
    'sip/ndpi_sip_fax_t38_call.pcap',
    'sip/suricata_sip_cloudshark_s0.pcap',
    'sip/zeek_sip_wireshark.pcap',
    'sip/suricata_sip_tcp.pcap',
    'gtp/arkime_gtp_iphone.pcap',
    'malformed/ndpi_fuzz_2006_06_26_mixed.pcap',
  ],
  check,
};
