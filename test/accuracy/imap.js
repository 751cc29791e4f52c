// IMAP accuracy module for test/tools/accuracy.js: every IMAP value tshark extracts
// (<capture>.tshark.jsonl, MANIFEST "Oracles": imap.request_tag, imap.request.command,
// imap.request.username, imap.request.folder, imap.response_tag, imap.response.status) that
// this probe has a field for must be in the probe's record of the same flow (same 5-tuple,
// packet time inside the flow), in the right transaction:
// - the n-th LOGIN / AUTHENTICATE request of a flow -> IMAP_TRANSACTIONS[n-1]: its
//   IMAP_AUTH_METHOD ("LOGIN" / "AUTHENTICATE <MECH>"), its IMAP_LOGIN (tshark's
//   imap.request.username is the raw astring: a quoted string keeps its quotes and escapes, so
//   the module undoes the quoting, RFC 9051 §4.3, before comparing), and the status of the
//   tagged response with the request's tag -> its IMAP_AUTH_STATUS.
// - imap.request.folder of SELECT / EXAMINE (unquoted the same way) -> IMAP_MAILBOX, which is
//   the flow's first selected mailbox (every later SELECT must name a mailbox that is in the
//   record, i.e. the same one, or be explained).
// - STARTTLS request -> IMAP_STARTTLS 1 when the tagged response to it is OK, else 0.
// - every flow tshark dissects as IMAP -> L7_PROTO 4.
// - the flat fields equal IMAP_TRANSACTIONS[0] ("flat = first transaction").
// Not compared (no field in this probe): the other commands and their tags, the responses to
// other commands. (tshark also reports the ")" closing a FETCH literal as a response tag, a
// tshark artefact without a field here.)
//
// Second opinions, under their own rows:
// - nDPI's result (.ndpi.out): its label of each flow, and the user it found ("User: ...").
// - Suricata's test.yaml: the flow events whose app_proto is imap -> L7_PROTO 4.
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');
const { addrs, tally, usOf } = require('../tools/accuracy-common');

const IMAP = 4;
const FLAT = ['IMAP_LOGIN', 'IMAP_AUTHZID', 'IMAP_AUTH_METHOD', 'IMAP_AUTH_STATUS'];

// ---- flows ----
function endpoints(p) {
  return { src: String(p.src).toLowerCase(), dst: String(p.dst).toLowerCase(), sport: +p.sport, dport: +p.dport };
}

/** The TCP flow of these endpoints (either way), at time us if given. */
function findFlow(flows, e, us) {
  for (const f of flows) {
    if (f.PROTOCOL !== 6) continue;
    const [a, b] = addrs(f);
    const fwd = a === e.src && b === e.dst && f.L4_SRC_PORT === e.sport && f.L4_DST_PORT === e.dport;
    const rev = a === e.dst && b === e.src && f.L4_SRC_PORT === e.dport && f.L4_DST_PORT === e.sport;
    if ((fwd || rev) && (us === undefined || (f.FLOW_START_MICROSECONDS <= us && us <= f.FLOW_END_MICROSECONDS))) return f;
  }
  return null;
}

const list = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** RFC 9051 §4.3: "quoted" -> its content with the "\" escapes undone; atoms as they are. */
function astring(v) {
  const s = String(v);
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) return s.slice(1, -1).replace(/\\(.)/g, '$1');
  return s;
}

function check(flows, packets, capture) {
  const { fields, F, compare } = tally();

  // Per flow, in packet order: the authentication attempts so far, the tags waiting for a status.
  const state = new Map(); // FLOW_ID -> { txn: count, waiting: Map(tag -> {kind, index, where}) }
  const imapFlows = new Set();
  for (const p of packets) {
    if (!p.imap) continue;
    const where = `frame ${p.frame}`;
    const flow = findFlow(flows, endpoints(p), usOf(p.ts));
    if (!flow) {
      F('(flow of the packet)').expected++;
      F('(flow of the packet)').misses.push(`${where}: no TCP flow ${p.src}:${p.sport} <-> ${p.dst}:${p.dport}`);
      continue;
    }
    imapFlows.add(flow);
    const st = state.get(flow.FLOW_ID) ?? { txn: 0, waiting: new Map() };
    state.set(flow.FLOW_ID, st);
    const txns = flow.IMAP_TRANSACTIONS || [];
    for (const pdu of p.imap) {
      const cmd = pdu['imap.request.command'];
      if (cmd !== undefined) {
        const verb = String(cmd).toUpperCase();
        const tag = String(pdu['imap.request_tag']);
        if (verb === 'LOGIN' || verb === 'AUTHENTICATE') {
          const t = txns[st.txn];
          const w = `${where} (${verb} #${st.txn + 1})`;
          if (verb === 'LOGIN') compare('IMAP_AUTH_METHOD', w, 'LOGIN', t && t.IMAP_AUTH_METHOD);
          else compare('IMAP_AUTH_METHOD', w, 'AUTHENTICATE', t && t.IMAP_AUTH_METHOD, !!t && /^AUTHENTICATE /.test(t.IMAP_AUTH_METHOD));
          if ('imap.request.username' in pdu) compare('IMAP_LOGIN', w, astring(pdu['imap.request.username']), t && t.IMAP_LOGIN);
          st.waiting.set(tag, { kind: 'auth', index: st.txn, where: w });
          st.txn++;
        } else if (verb === 'STARTTLS') {
          st.waiting.set(tag, { kind: 'tls', where });
        }
        if ((verb === 'SELECT' || verb === 'EXAMINE') && 'imap.request.folder' in pdu) {
          compare('IMAP_MAILBOX', where, astring(pdu['imap.request.folder']), flow.IMAP_MAILBOX);
        }
      }
      // Responses: tshark lists every "tag"-looking line start of the PDU; the status belongs to
      // the real tag (")" closes a FETCH literal).
      const tags = list(pdu['imap.response_tag']).filter((t) => t !== ')');
      const status = pdu['imap.response.status'];
      if (status !== undefined && tags.length === 1 && st.waiting.has(tags[0])) {
        const w = st.waiting.get(tags[0]);
        st.waiting.delete(tags[0]);
        if (w.kind === 'auth') {
          const t = txns[w.index];
          compare('IMAP_AUTH_STATUS', w.where, String(status).toUpperCase(), t && t.IMAP_AUTH_STATUS);
        } else {
          compare('IMAP_STARTTLS', w.where, String(status).toUpperCase() === 'OK' ? 1 : 0, flow.IMAP_STARTTLS);
        }
      }
    }
  }
  for (const [id, st] of state) {
    for (const w of st.waiting.values()) {
      // No tagged response in the capture: a LOGIN keeps no status, a STARTTLS counts as refused.
      if (w.kind === 'auth') compare('IMAP_AUTH_STATUS', `${w.where} (no response captured)`, undefined, (flows.find((f) => f.FLOW_ID === id).IMAP_TRANSACTIONS || [])[w.index]?.IMAP_AUTH_STATUS);
      else compare('IMAP_STARTTLS', `${w.where} (no response captured)`, 0, flows.find((f) => f.FLOW_ID === id).IMAP_STARTTLS);
    }
    const f = flows.find((x) => x.FLOW_ID === id);
    compare('IMAP_TRANSACTIONS (count)', `flow ${id}`, st.txn, (f.IMAP_TRANSACTIONS || []).length);
  }

  for (const f of imapFlows) compare('L7_PROTO', `flow ${f.FLOW_ID}`, IMAP, f.L7_PROTO);

  // Flat fields = the first transaction.
  for (const f of flows) {
    if (f.L7_PROTO !== IMAP || !f.IMAP_TRANSACTIONS || !f.IMAP_TRANSACTIONS.length) continue;
    const t0 = f.IMAP_TRANSACTIONS[0];
    const bad = FLAT.filter((k) => f[k] !== t0[k]);
    compare('flat = IMAP_TRANSACTIONS[0]', `flow ${f.FLOW_ID}`, '', bad.join(','));
  }

  const base = path.join(__dirname, '..', 'pcap', capture.replace(/\.pcap$/, ''));

  // nDPI's label and user of each flow.
  if (fs.existsSync(`${base}.ndpi.out`)) {
    for (const line of fs.readFileSync(`${base}.ndpi.out`, 'utf8').split('\n')) {
      const m = /^\s*\d+\s+TCP\s+(\S+)\s+<->\s+(\S+)\s.*?\[proto: ([\d.]+)\/([^\]]+)\]/.exec(line);
      if (!m) continue;
      const ep = (s) => {
        const i = s.lastIndexOf(':');
        return [s.slice(0, i).replace(/^\[|\]$/g, '').toLowerCase(), +s.slice(i + 1)];
      };
      const [a, ap] = ep(m[1]);
      const [b, bp] = ep(m[2]);
      const flow = findFlow(flows, { src: a, dst: b, sport: ap, dport: bp });
      const where = `${m[1]} <-> ${m[2]} ${m[4]}`;
      compare('L7_PROTO (nDPI)', where, +m[3].split('.')[0], flow && flow.L7_PROTO);
      const user = /\[User: ([^\]]*)\]/.exec(line);
      if (user) compare('IMAP_LOGIN (nDPI)', where, user[1], flow && flow.IMAP_LOGIN);
    }
  }

  // Suricata's expected flow events.
  if (fs.existsSync(`${base}.suricata-test.yaml`)) {
    const doc = yaml.load(fs.readFileSync(`${base}.suricata-test.yaml`, 'utf8'));
    for (const c of doc.checks || []) {
      const m = c.filter && c.filter.match;
      if (!m || m.event_type !== 'flow' || m.app_proto !== 'imap') continue;
      const flow = findFlow(flows, { src: String(m.src_ip), dst: String(m.dest_ip), sport: +m.src_port, dport: +m.dest_port });
      compare('L7_PROTO (suricata)', `${m.src_ip}:${m.src_port} -> ${m.dest_ip}:${m.dest_port}`, IMAP, flow && flow.L7_PROTO);
    }
  }

  return { fields, explained: [] };
}

module.exports = {
  protocol: 'IMAP',
  captures: ['imap/ndpi_imap.pcap', 'imap/suricata_imap_detection.pcap'],
  check,
};
