// POP3 accuracy module for test/tools/accuracy.js: every POP value tshark extracts
// (<capture>.tshark.jsonl, MANIFEST "Oracles": pop.request.command/parameter,
// pop.response.indicator/description) that this probe has a field for must be in the probe's
// record of the same flow (same 5-tuple either way, packet time inside the flow):
// - The session is replayed from tshark's PDUs in packet order, the way RFC 1939/5034 define
//   it: each +OK/-ERR answers the oldest command waiting; after "AUTH <mechanism>" the next
//   client lines are SASL responses (tshark shows them as "commands"), not commands.
// - Authentication attempts (the probe's transactions): USER .. PASS, APOP, AUTH <mechanism>.
//   The n-th attempt of the oracle is POP_TRANSACTIONS[n]: POP_USER (the USER parameter, the
//   APOP name, or the identity in the SASL response, base64-decoded here: PLAIN's authcid),
//   POP_AUTH_MECH, POP_AUTH_STATUS (the indicator of the reply that decides the attempt).
// - The password (PASS parameter, PLAIN's passwd) must appear nowhere in the record.
// - The greeting (the server's first reply, before any command) -> POP_GREETING.
// - RETR / TOP / DELE commands -> POP_NUM_RETR / POP_NUM_TOP / POP_NUM_DELE of the flow.
// - STLS answered +OK -> POP_STLS 1, else 0 (one row per POP flow).
// - every flow tshark dissects as POP -> L7_PROTO 2; the flat fields equal POP_TRANSACTIONS[0].
// Not compared (no field in this probe): the descriptions of replies other than the greeting
// and the commands STAT, LIST, UIDL, CAPA, RSET, NOOP, QUIT and their parameters.
//
// Second opinions, under their own rows:
// - Suricata's test.yaml: greeting header, USER argument, PASS success, TOP count, the flows
//   labelled pop3.
// - nDPI's result (.ndpi.out): its label of each flow and the user it found (and its "Pwd:",
//   which must not be in the record).
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');
const { addrs, tally, usOf } = require('../tools/accuracy-common');

const POP3 = 2;
const FLAT = ['POP_USER', 'POP_AUTH_MECH', 'POP_AUTH_STATUS'];

// ---- flows ----

/** The TCP flow between these endpoints (either way), at time us when given. */
function flowOf(flows, src, sport, dst, dport, us) {
  src = String(src).toLowerCase();
  dst = String(dst).toLowerCase();
  for (const f of flows) {
    if (f.PROTOCOL !== 6) continue;
    const [a, b] = addrs(f);
    const fwd = a === src && b === dst && f.L4_SRC_PORT === +sport && f.L4_DST_PORT === +dport;
    const rev = a === dst && b === src && f.L4_SRC_PORT === +dport && f.L4_DST_PORT === +sport;
    if ((fwd || rev) && (us === undefined || (f.FLOW_START_MICROSECONDS <= us && us <= f.FLOW_END_MICROSECONDS))) return f;
  }
  return null;
}

const list = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The identity a SASL mechanism's first response carries (RFC 4616, 2195; LOGIN; XOAUTH2). */
function saslUser(mech, b64) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return { user: undefined };
  const raw = Buffer.from(b64, 'base64');
  if (mech === 'PLAIN') {
    const parts = raw.toString('latin1').split('\0');
    if (parts.length < 3) return { user: undefined };
    return { user: Buffer.from(parts[1], 'latin1').toString('utf8'), secret: Buffer.from(parts.slice(2).join('\0'), 'latin1').toString('utf8') };
  }
  if (mech === 'LOGIN') return { user: raw.toString('utf8') };
  if (mech === 'CRAM-MD5') {
    const s = raw.toString('utf8');
    return { user: s.slice(0, s.lastIndexOf(' ')) };
  }
  if (mech === 'XOAUTH2') {
    const m = /^user=([^\x01]*)\x01/.exec(raw.toString('utf8'));
    return { user: m ? m[1] : undefined };
  }
  return { user: undefined };
}

/**
 * tshark 4.0 shows bytes that are not UTF-8 as one U+FFFD each; the probe keeps valid UTF-8
 * sequences and replaces each other byte with U+FFFD. Both sides are the same
 * bytes when the ASCII parts agree and every run of U+FFFD in tshark's text stands for a run of
 * non-ASCII characters in the probe's.
 */
function sameText(want, got) {
  if (typeof got !== 'string') return false;
  if (want === got) return true;
  if (!want.includes('\ufffd')) return false;
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp('^' + want.split(/\ufffd+/).map(esc).join('[^\\x00-\\x7f]+') + '$', 'u');
  return re.test(got);
}

function check(flows, packets, capture) {
  const { fields, F, explain, compare, result } = tally();

  // Replay of each flow's session from the oracle.
  const sessions = new Map(); // flow -> state
  const stateOf = (flow) => {
    let st = sessions.get(flow);
    if (!st) {
      st = { pending: [], attempts: [], open: null, sasl: null, anyCommand: false, greeting: undefined, counts: { RETR: 0, TOP: 0, DELE: 0 }, stls: 0, secrets: [] };
      sessions.set(flow, st);
    }
    return st;
  };
  const startAttempt = (st, mech, user, where) => {
    st.open = { mech, user, status: undefined, where };
    st.attempts.push(st.open);
  };

  for (const p of packets) {
    if (!p.pop) continue;
    const flow = flowOf(flows, p.src, p.sport, p.dst, p.dport, usOf(p.ts));
    const where = `frame ${p.frame}`;
    if (!flow) {
      F('(flow of the packet)').expected++;
      F('(flow of the packet)').misses.push(`${where}: no TCP flow ${p.src}:${p.sport} <-> ${p.dst}:${p.dport}`);
      continue;
    }
    const st = stateOf(flow);
    for (const pdu of p.pop) {
      const cmds = list(pdu['pop.request.command']);
      const params = list(pdu['pop.request.parameter']);
      cmds.forEach((cmd, i) => {
        const param = cmds.length === params.length ? params[i] : i === 0 ? params[0] : undefined;
        if (st.sasl) {
          // A SASL response (tshark shows the line as a command of its own).
          const line = param === undefined ? String(cmd) : `${cmd} ${param}`;
          if (line === '*') return;
          if (st.sasl.step++ === 0) {
            const { user, secret } = saslUser(st.sasl.mech, line);
            if (user !== undefined && st.open) st.open.user = user;
            if (secret) st.secrets.push({ secret, where });
          }
          return;
        }
        st.anyCommand = true;
        const verb = String(cmd).toUpperCase();
        if (verb === 'USER') {
          startAttempt(st, 'USER', param, where);
          st.pending.push('USER');
        } else if (verb === 'PASS') {
          if (!st.open || st.open.mech !== 'USER' || st.open.passSeen) startAttempt(st, 'USER', undefined, where);
          st.open.passSeen = true;
          if (param !== undefined && param !== '') st.secrets.push({ secret: String(param), where });
          st.pending.push('PASS');
        } else if (verb === 'APOP') {
          startAttempt(st, 'APOP', String(param ?? '').split(' ')[0], where);
          st.pending.push('APOP');
        } else if (verb === 'AUTH' && param) {
          const [mech, ir] = String(param).split(' ');
          startAttempt(st, mech.toUpperCase(), undefined, where);
          st.sasl = { mech: mech.toUpperCase(), step: 0 };
          if (ir !== undefined && ir !== '=') {
            st.sasl.step++;
            const { user, secret } = saslUser(st.sasl.mech, ir);
            if (user !== undefined) st.open.user = user;
            if (secret) st.secrets.push({ secret, where });
          }
          st.pending.push('AUTH');
        } else {
          if (verb in st.counts) st.counts[verb]++;
          st.pending.push(verb);
        }
      });
      const ind = pdu['pop.response.indicator'];
      if (ind === undefined) continue;
      const desc = pdu['pop.response.description'] ?? '';
      if (!st.anyCommand && st.greeting === undefined && st.pending.length === 0) {
        st.greeting = { text: desc, where };
        continue;
      }
      const cmd = st.pending.shift();
      if (cmd === undefined) continue;
      const status = ind === '+OK' ? '+OK' : '-ERR';
      if (cmd === 'AUTH') st.sasl = null;
      if ((cmd === 'USER' && status === '-ERR') || cmd === 'PASS' || cmd === 'APOP' || cmd === 'AUTH') {
        if (st.open) st.open.status = status;
        st.open = null;
      }
      if (cmd === 'STLS' && status === '+OK') st.stls = 1;
    }
  }

  /** Every string in the record, with the user names the session sent in clear cut out (a password may be part of its user's name). */
  const recordText = (f, users) => {
    const out = [];
    const walk = (v) => {
      if (typeof v === 'string') out.push(users.reduce((s, u) => (u ? s.split(u).join('\u0000') : s), v));
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(f);
    return out.join('\u0000');
  };
  for (const [flow, st] of sessions) {
    const id = `flow ${flow.FLOW_ID}`;
    compare('L7_PROTO', id, POP3, flow.L7_PROTO);
    const txs = flow.POP_TRANSACTIONS || [];
    st.attempts.forEach((a, i) => {
      const t = txs[i];
      const where = `${id} attempt ${i + 1} (${a.where})`;
      if (a.user !== undefined) compare(`POP_USER (${a.mech === 'USER' || a.mech === 'APOP' ? a.mech : 'AUTH ' + a.mech})`, where, a.user, t && t.POP_USER);
      compare('POP_AUTH_MECH', where, a.mech, t && t.POP_AUTH_MECH);
      if (a.status !== undefined) compare('POP_AUTH_STATUS', where, a.status, t && t.POP_AUTH_STATUS);
    });
    if (txs.length > st.attempts.length) {
      F('POP_TRANSACTIONS (count)').expected++;
      F('POP_TRANSACTIONS (count)').wrong++;
      F('POP_TRANSACTIONS (count)').misses.push(`${id}: ${txs.length} transactions, the oracle has ${st.attempts.length} attempts`);
    }
    // The password appears nowhere in the record.
    const text = recordText(flow, st.attempts.map((a) => a.user).filter((u) => u !== undefined));
    for (const s of st.secrets) compare('(password not in the record)', `${id} (${s.where})`, true, !text.includes(s.secret));
    if (st.greeting) {
      const ok = sameText(st.greeting.text, flow.POP_GREETING);
      compare('POP_GREETING', `${id} (${st.greeting.where})`, st.greeting.text, flow.POP_GREETING, ok);
      if (ok && st.greeting.text !== flow.POP_GREETING)
        explain(
          'POP_GREETING',
          `${id}: tshark ${JSON.stringify(st.greeting.text)}, record ${JSON.stringify(flow.POP_GREETING)}`,
          'the greeting has bytes that are not UTF-8 (a GB2312 server name): tshark 4.0 shows each such byte as U+FFFD; the probe replaces each byte that does not start a valid UTF-8 sequence (the core\'s one rule), so the pair CA BC, valid UTF-8, stays U+02BC; the ASCII text and the run of 8-bit bytes agree',
        );
    }
    for (const [verb, n] of Object.entries(st.counts)) {
      if (n === 0 && flow[`POP_NUM_${verb}`] === undefined) continue;
      const got = flow[`POP_NUM_${verb}`] ?? 0;
      F(`POP_NUM_${verb}`).expected += n;
      if (got === n) F(`POP_NUM_${verb}`).found += n;
      else {
        F(`POP_NUM_${verb}`).wrong += n;
        F(`POP_NUM_${verb}`).misses.push(`${id}: ${n} ${verb} commands, record ${got}`);
      }
    }
    compare('POP_STLS', id, st.stls, flow.POP_STLS);
  }

  // Flat fields = the first transaction.
  for (const f of flows) {
    if (f.L7_PROTO !== POP3 || !f.POP_TRANSACTIONS || !f.POP_TRANSACTIONS.length) continue;
    const t0 = f.POP_TRANSACTIONS[0];
    const bad = FLAT.filter((k) => f[k] !== t0[k]);
    compare('flat = POP_TRANSACTIONS[0]', `flow ${f.FLOW_ID}`, '', bad.join(','));
  }

  const base = path.join(__dirname, '..', 'pcap', capture.replace(/\.pcap$/, ''));
  const popFlows = flows.filter((f) => f.L7_PROTO === POP3);
  const allTx = popFlows.flatMap((f) => f.POP_TRANSACTIONS || []);

  // Suricata's expected EVE events (each pop3 event is one command with its reply, or the greeting).
  if (fs.existsSync(`${base}.suricata-test.yaml`)) {
    const doc = yaml.load(fs.readFileSync(`${base}.suricata-test.yaml`, 'utf8'));
    for (const c of doc.checks || []) {
      const m = c.filter && c.filter.match;
      if (!m) continue;
      const n = c.filter.count;
      if (m.event_type === 'flow' && m.app_proto === 'pop3') {
        compare('L7_PROTO (suricata flows)', 'app_proto pop3', n, popFlows.length);
        continue;
      }
      const cmd = m['pop3.request.command'];
      const ok = m['pop3.response.success'];
      const where = `${cmd ?? 'greeting'} ${JSON.stringify(m['pop3.response.header'] ?? '')}`;
      if (cmd === undefined && m['pop3.response.header'] !== undefined) {
        compare('POP_GREETING (suricata)', where, n, popFlows.filter((f) => f.POP_GREETING === m['pop3.response.header']).length);
      } else if (cmd === 'USER' && m['pop3.request.args[0]'] !== undefined) {
        compare('POP_USER (suricata)', where, n, allTx.filter((t) => t.POP_AUTH_MECH === 'USER' && t.POP_USER === m['pop3.request.args[0]']).length);
      } else if (cmd === 'PASS' && ok !== undefined) {
        const want = ok ? '+OK' : '-ERR';
        compare('POP_AUTH_STATUS (suricata)', where, n, allTx.filter((t) => t.POP_AUTH_MECH === 'USER' && t.POP_AUTH_STATUS === want).length);
      } else if (cmd === 'TOP' || cmd === 'RETR' || cmd === 'DELE') {
        compare(`POP_NUM_${cmd} (suricata)`, where, n, popFlows.reduce((s, f) => s + (f[`POP_NUM_${cmd}`] ?? 0), 0));
      }
    }
  }

  // nDPI's label of each flow, and the credentials it found.
  if (fs.existsSync(`${base}.ndpi.out`)) {
    for (const line of fs.readFileSync(`${base}.ndpi.out`, 'utf8').split('\n')) {
      const m = /^\s*\d+\s+TCP\s+(\S+)\s+<->\s+(\S+)\s.*?\[proto: ([\d.]+)\/([^\]]+)\]/.exec(line);
      if (!m) continue;
      const ep = (s) => {
        const i = s.lastIndexOf(':');
        return [s.slice(0, i).replace(/^\[|\]$/g, ''), +s.slice(i + 1)];
      };
      const [a, ap] = ep(m[1]);
      const [b, bp] = ep(m[2]);
      const flow = flowOf(flows, a, ap, b, bp);
      const where = `${m[1]} <-> ${m[2]} ${m[4]}`;
      compare('L7_PROTO (nDPI)', where, +m[3].split('.')[0], flow && flow.L7_PROTO);
      const user = /\[User: ([^\]]*)\]/.exec(line);
      if (user) compare('POP_USER (nDPI)', where, user[1], flow && flow.POP_USER);
      const pwd = /\[Pwd: ([^\]]*)\]/.exec(line);
      if (pwd) compare('(password not in the record) (nDPI)', where, true, !!flow && !recordText(flow, user ? [user[1]] : []).includes(pwd[1]));
    }
  }

  return result();
}

module.exports = {
  protocol: 'POP',
  captures: ['pop/ndpi_pop3.pcap', 'pop/suricata_pop3.pcap', 'pop/suricata_pop3_bug7709.pcap'],
  check,
};
