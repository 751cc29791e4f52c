// SMTP accuracy module for test/tools/accuracy.js: every SMTP value tshark extracts
// (<capture>.tshark.jsonl, MANIFEST "Oracles": smtp.req.command/parameter, smtp.auth.username,
// imf.subject, imf.message_id) must be in the probe's record of the same flow (same 5-tuple,
// packet time inside the flow), in the right transaction:
// - EHLO/HELO parameter -> SMTP_HELO of the mails that follow it (or the flat field).
// - MAIL parameter -> SMTP_MAIL_FROM of the n-th transaction for the flow's n-th MAIL; RCPT
//   parameters -> in SMTP_RCPT_TO of the transaction of the MAIL before them. tshark gives the
//   raw parameter ("FROM: <a@b> SIZE=1"); the module reduces it to the address the way
//   nProbe's plugin exports it (no "FROM:", no angle brackets, no ESMTP parameters).
// - smtp.auth.username (tshark shows the base64 text of AUTH LOGIN's response) -> decoded,
//   SMTP_AUTH_USER.
// - STARTTLS (tshark 4.0 splits it into command "STAR" + parameter "TLS", MANIFEST caveat) ->
//   SMTP_STARTTLS 1 when the server's next reply is 220, else 0.
// - imf.subject / imf.message_id of a DATA body -> SMTP_SUBJECT / SMTP_MESSAGE_ID of the
//   transaction of the MAIL before it.
// - every flow tshark dissects as SMTP -> L7_PROTO 3.
// - the flat fields equal SMTP_TRANSACTIONS[0] ("flat = first transaction").
// Not compared (no field in this probe): smtp.response.code/rsp.parameter, smtp.req.command of
// other verbs (DATA, QUIT ...), imf from/to/cc/date/user_agent.
//
// Second opinions, under their own rows:
// - Suricata's test.yaml (the SMTP events' mail_from and rcpt_to[i], counts). For
//   suricata_smtp_pipelining it is the oracle: tshark reads that pipelined segment as message
//   data (MANIFEST caveat) and extracts no MAIL/RCPT there.
// - Zeek's smtp.log: helo, mailfrom, rcptto (a set), msg_id, subject, tls of each trans_depth.
// - nDPI's result (.ndpi.out): its label of each flow. After STARTTLS nDPI says SMTPS (29);
//   this probe keeps SMTP (3) with SMTP_STARTTLS = 1 (an explained difference, by design; the
//   STARTTLS nDPI implies is checked as a row of its own).
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');
const { addrs, tally, usOf } = require('../tools/accuracy-common');

const SMTP = 3;
const FLAT = ['SMTP_HELO', 'SMTP_AUTH_USER', 'SMTP_MAIL_FROM', 'SMTP_RCPT_TO', 'SMTP_SUBJECT', 'SMTP_MESSAGE_ID'];

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
    if ((fwd || rev) && (us === undefined || (f.FLOW_START_MICROSECONDS <= us && us <= f.FLOW_END_MICROSECONDS))) return { flow: f, dir: fwd ? 0 : 1 };
  }
  return null;
}

// ---- tshark's raw values, reduced to the probe's form ----
/** "FROM: <a@b> SIZE=10" / "to:<@r:u@h>" / "TO:user" -> the mailbox (RFC 5321 §4.1.2). */
function pathOf(param, kw) {
  let s = String(param).trim();
  const m = new RegExp(`^${kw}\\s*:\\s*`, 'i').exec(s);
  if (!m) return null;
  s = s.slice(m[0].length);
  let a;
  if (s.startsWith('<')) {
    const end = s.indexOf('>');
    a = end < 0 ? s.slice(1).split(/\s/)[0] : s.slice(1, end);
  } else {
    a = s.split(/\s/)[0];
  }
  if (a.startsWith('@')) a = a.slice(a.indexOf(':') + 1);
  return a;
}
const unbracket = (s) => String(s).replace(/^<(.*)>$/, '$1');
const list = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The PDU's commands as [command, parameter] pairs (a PDU may hold several, as lists). */
function commands(pdu) {
  const c = list(pdu['smtp.req.command']);
  const p = list(pdu['smtp.req.parameter']);
  if (c.length <= 1) return c.map((x) => [x, p[0]]);
  if (c.length === p.length) return c.map((x, i) => [x, p[i]]);
  return null;
}

function check(flows, packets, capture) {
  const { fields, F, explain, compare, result } = tally();

  // Per flow, in packet order: which mail each command belongs to, and the server's replies.
  const state = new Map(); // FLOW_ID -> { mail: index of the current MAIL (-1 before any), pendingTls: [...] }
  const txOf = (flow, i) => (flow.SMTP_TRANSACTIONS || [])[i];
  const smtpFlows = new Set();
  for (const p of packets) {
    if (!p.smtp && !p.imf) continue;
    const e = endpoints(p);
    const us = usOf(p.ts);
    const hit = findFlow(flows, e, us);
    const where = `frame ${p.frame}`;
    if (!hit) {
      F('(flow of the packet)').expected++;
      F('(flow of the packet)').misses.push(`${where}: no TCP flow ${e.src}:${e.sport} <-> ${e.dst}:${e.dport}`);
      continue;
    }
    const flow = hit.flow;
    smtpFlows.add(flow);
    const st = state.get(flow.FLOW_ID) ?? { mail: -1, tls: [] };
    state.set(flow.FLOW_ID, st);
    for (const pdu of p.smtp ?? []) {
      // A reply after STARTTLS decides it.
      const codes = list(pdu['smtp.response.code']);
      if (codes.length && st.tls.length) {
        const t = st.tls.shift();
        compare('SMTP_STARTTLS', t.where, codes[0] === '220' ? 1 : 0, flow.SMTP_STARTTLS);
      }
      if ('smtp.auth.username' in pdu) {
        const raw = String(pdu['smtp.auth.username']);
        const dec = /^[A-Za-z0-9+/]+=*$/.test(raw) ? Buffer.from(raw, 'base64').toString('utf8') : raw;
        const txs = flow.SMTP_TRANSACTIONS || [];
        compare('SMTP_AUTH_USER', where, dec, flow.SMTP_AUTH_USER, flow.SMTP_AUTH_USER === dec || txs.some((t) => t.SMTP_AUTH_USER === dec));
      }
      const cmds = commands(pdu);
      if (cmds === null) {
        F('(oracle PDU)').expected++;
        F('(oracle PDU)').misses.push(`${where}: commands and parameters do not pair up`);
        continue;
      }
      for (const [cmd, param] of cmds) {
        const verb = String(cmd).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') {
          const next = txOf(flow, st.mail + 1);
          const txs = flow.SMTP_TRANSACTIONS || [];
          if (next) compare('SMTP_HELO', where, param, next.SMTP_HELO);
          else if (!txs.length) compare('SMTP_HELO', where, param, flow.SMTP_HELO);
          else compare('SMTP_HELO', where, param, txs[txs.length - 1].SMTP_HELO);
        } else if (verb === 'MAIL') {
          st.mail++;
          const t = txOf(flow, st.mail);
          compare('SMTP_MAIL_FROM', where, pathOf(param, 'FROM'), t && t.SMTP_MAIL_FROM);
        } else if (verb === 'RCPT') {
          const t = txOf(flow, Math.max(st.mail, 0));
          const want = pathOf(param, 'TO');
          const got = t && t.SMTP_RCPT_TO;
          compare('SMTP_RCPT_TO', where, want, got, got !== undefined && got.split(',').includes(want));
        } else if (verb === 'STARTTLS' || (verb === 'STAR' && String(param).toUpperCase() === 'TLS')) {
          if (verb === 'STAR') explain('SMTP_STARTTLS', where, 'tshark 4.0 splits STARTTLS into command "STAR" and parameter "TLS" (MANIFEST caveat): read as STARTTLS');
          st.tls.push({ where });
        }
      }
    }
    for (const pdu of p.imf ?? []) {
      const t = txOf(flow, Math.max(st.mail, 0));
      if ('imf.subject' in pdu) compare('SMTP_SUBJECT', where, pdu['imf.subject'], t && t.SMTP_SUBJECT);
      if ('imf.message_id' in pdu) compare('SMTP_MESSAGE_ID', where, pdu['imf.message_id'], t && t.SMTP_MESSAGE_ID);
    }
  }
  for (const [id, st] of state) for (const t of st.tls) F('SMTP_STARTTLS').misses.push(`${t.where}: no reply to STARTTLS in the oracle (flow ${id})`);

  for (const f of smtpFlows) compare('L7_PROTO', `flow ${f.FLOW_ID}`, SMTP, f.L7_PROTO);

  // Flat fields = the first transaction.
  for (const f of flows) {
    if (f.L7_PROTO !== SMTP || !f.SMTP_TRANSACTIONS || !f.SMTP_TRANSACTIONS.length) continue;
    const t0 = f.SMTP_TRANSACTIONS[0];
    const bad = FLAT.filter((k) => f[k] !== t0[k]);
    compare('flat = SMTP_TRANSACTIONS[0]', `flow ${f.FLOW_ID}`, '', bad.join(','));
  }

  const base = path.join(__dirname, '..', 'pcap', capture.replace(/\.pcap$/, ''));

  // Suricata's expected EVE events.
  if (fs.existsSync(`${base}.suricata-test.yaml`)) {
    const doc = yaml.load(fs.readFileSync(`${base}.suricata-test.yaml`, 'utf8'));
    const txs = flows.filter((f) => f.L7_PROTO === SMTP).flatMap((f) => f.SMTP_TRANSACTIONS || []);
    for (const c of doc.checks || []) {
      const m = c.filter && c.filter.match;
      if (!m || m.event_type !== 'smtp') continue;
      const from = m['smtp.mail_from'] !== undefined ? unbracket(m['smtp.mail_from']) : undefined;
      const rcpts = Object.keys(m).filter((k) => /^smtp\.rcpt_to\[\d+\]$/.test(k)).map((k) => [+k.match(/\d+/)[0], unbracket(m[k])]);
      const none = m['not-has-key'] && /^smtp\.rcpt_to\[(\d+)\]$/.exec(m['not-has-key']);
      const fits = (t) => {
        const got = (t.SMTP_RCPT_TO || '').split(',').filter(Boolean);
        return (from === undefined || t.SMTP_MAIL_FROM === from) && rcpts.every(([i, a]) => got[i] === a) && (!none || got.length <= +none[1]);
      };
      const n = txs.filter(fits).length;
      const where = `${from ?? '*'} -> ${rcpts.map((r) => r[1]).join(',')}`;
      if (from !== undefined) compare('SMTP_MAIL_FROM (suricata)', where, c.filter.count, n);
      if (rcpts.length) compare('SMTP_RCPT_TO (suricata)', where, c.filter.count, n);
    }
  }

  // Zeek's smtp.log: one row per mail (trans_depth).
  if (fs.existsSync(`${base}.zeek.smtp.log`)) {
    const text = fs.readFileSync(`${base}.zeek.smtp.log`, 'utf8').split('\n');
    const names = (text.find((l) => l.startsWith('#fields')) || '').split('\t').slice(1);
    for (const line of text) {
      if (!line || line.startsWith('#')) continue;
      const row = Object.fromEntries(line.split('\t').map((v, i) => [names[i], v]));
      const e = { src: row['id.orig_h'], dst: row['id.resp_h'], sport: +row['id.orig_p'], dport: +row['id.resp_p'] };
      const hit = findFlow(flows, e);
      const t = hit && txOf(hit.flow, +row.trans_depth - 1);
      const where = `${row.uid} #${row.trans_depth}`;
      const val = (k) => (row[k] === '-' || row[k] === undefined ? undefined : row[k]);
      if (val('helo')) compare('SMTP_HELO (zeek)', where, val('helo'), t && t.SMTP_HELO);
      if (val('mailfrom')) compare('SMTP_MAIL_FROM (zeek)', where, val('mailfrom'), t && t.SMTP_MAIL_FROM);
      if (val('rcptto')) {
        const want = val('rcptto').split(',').sort().join(',');
        const got = t && t.SMTP_RCPT_TO && t.SMTP_RCPT_TO.split(',').sort().join(',');
        compare('SMTP_RCPT_TO (zeek)', where, want, got);
      }
      if (val('msg_id')) compare('SMTP_MESSAGE_ID (zeek)', where, val('msg_id'), t && t.SMTP_MESSAGE_ID);
      if (val('subject')) compare('SMTP_SUBJECT (zeek)', where, val('subject'), t && t.SMTP_SUBJECT);
      if (val('tls')) compare('SMTP_STARTTLS (zeek)', where, val('tls') === 'T' ? 1 : 0, hit && hit.flow.SMTP_STARTTLS);
    }
  }

  // nDPI's label of each flow.
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
      const hit = findFlow(flows, { src: a, dst: b, sport: ap, dport: bp });
      const master = +m[3].split('.')[0];
      const where = `${m[1]} <-> ${m[2]} ${m[4]}`;
      if (master === 29) {
        // SMTPS after STARTTLS: the upgrade itself is checkable.
        compare('SMTP_STARTTLS (nDPI SMTPS)', where, 1, hit && hit.flow.SMTP_STARTTLS);
        F('L7_PROTO (nDPI)').expected++;
        if (hit && hit.flow.L7_PROTO === 29) F('L7_PROTO (nDPI)').found++;
        else if (hit && hit.flow.L7_PROTO === SMTP && hit.flow.SMTP_STARTTLS === 1) {
          F('L7_PROTO (nDPI)').wrong++;
          explain('L7_PROTO (nDPI)', where, 'nDPI labels SMTP upgraded with STARTTLS as SMTPS (29); this probe keeps SMTP (3), the protocol the session speaks, and sets SMTP_STARTTLS = 1 (native/dissect/smtp.cc header)');
        } else F('L7_PROTO (nDPI)').misses.push(`${where}: record ${hit ? hit.flow.L7_PROTO : 'none'}`);
      } else {
        compare('L7_PROTO (nDPI)', where, master, hit && hit.flow.L7_PROTO);
      }
    }
  }

  return result();
}

module.exports = {
  protocol: 'SMTP',
  captures: [
    'smtp/ndpi_smtp_starttls_v4v6_vlan.pcap',
    'smtp/suricata_smtp_multi_mail.pcap',
    'smtp/suricata_smtp_pipelining.pcap',
    'smtp/zeek_smtp.pcap',
  ],
  check,
};
