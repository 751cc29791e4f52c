// FTP accuracy module for test/tools/accuracy.js: every FTP value tshark extracts
// (<capture>.tshark.jsonl, MANIFEST "Oracles": ftp.request.command/arg, ftp.response.code/arg,
// ftp.passive/active/eprt/epsv address and port; ftp-data.setup-frame/setup-method/command/
// command-frame/current-working-directory) must be in the probe's record of the same flow
// (same 5-tuple, packet time inside the flow):
// - the n-th request of a control flow -> FTP_TRANSACTIONS[n].FTP_COMMAND ("VERB arg"); PASS ->
//   "PASS" alone, and FTP_PASSWORD absent (the password is withheld unless --ftp-credentials);
//   the first USER's argument -> FTP_LOGIN.
// - replies pair with the oldest request still waiting (RFC 959 §4.2): a 1xx code and text ->
//   FTP_PRELIM_RET_CODE / FTP_PRELIM_RET_MSG, a 2xx-5xx code -> FTP_COMMAND_RET_CODE and its text (first line) ->
//   FTP_COMMAND_RET_MSG. The reply before any request is the greeting: its text ->
//   FTP_SERVER_BANNER.
// - ftp.passive.ip/port (227), ftp.epsv.ipv6/port (229), ftp.active.cip/port (PORT),
//   ftp.eprt.ip/ipv6/port (EPRT) -> FTP_DATA_ADDR / FTP_DATA_PORT of that transaction.
// - every flow with an FTP PDU -> L7_PROTO 1; flat FTP_COMMAND/FTP_COMMAND_RET_CODE =
//   FTP_TRANSACTIONS[0].
// - a flow with ftp-data PDUs (tshark linked it to a PASV/EPSV/PORT/EPRT) -> L7_PROTO 175 and
//   FTP_CONTROL_FLOW_ID = the FLOW_ID of the flow holding the setup frame; the setup method,
//   the command and the working directory tshark gives the data connection are the control
//   flow's: the transaction of the setup frame has that verb and the data connection's
//   listening port (FTP_DATA_PORT), the transaction of the command frame has that command and
//   FTP_CWD. Checked once per data flow (tshark repeats them on every data segment).
// Known differences, each explained where it occurs: tshark names EPSV's setup "EPASV";
// continuation lines of multi-line replies are not kept (the first line is); the greeting's code
// is not kept (FTP_SERVER_BANNER holds its text); the password is withheld by default.
//
// Second opinions, under their own rows:
// - Zeek's ftp.log (user, command, reply_code, data channel address/port) and conn.log
//   (service ftp-data -> L7_PROTO 175, ftp -> 1).
// - Suricata's test.yaml: ftp_data events (count of data connections whose command and file
//   name match), ftp events (USER command from the client).
// - nDPI's result (.ndpi.out): its label of each flow, and the user it found.
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');
const { addrs, tally, usOf } = require('../tools/accuracy-common');

const FTP = 1;
const FTP_DATA = 175;

// ---- flows ----
const endpoints = (p) => ({ src: String(p.src).toLowerCase(), dst: String(p.dst).toLowerCase(), sport: +p.sport, dport: +p.dport });

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

/** RFC 5952 text, as the probe writes addresses (tshark writes IPv6 the same way). */
const canon = (a) => String(a).toLowerCase();

function check(flows, packets, capture) {
  const { fields, F, explain, compare, result } = tally();
  /** A tshark value the probe keeps on purpose in another form or not at all: counted, explained. */
  const notKept = (name, where, why) => {
    F(name).expected++;
    F(name).wrong++;
    explain(name, where, why);
  };

  // ---- control connections: requests and replies in packet order ----
  const state = new Map(); // FLOW_ID -> { req: number of requests seen, waiting: [tx index], greeted }
  const frameTx = new Map(); // frame -> { flow, tx } for requests and the replies that answered them
  const ftpFlows = new Set();
  for (const p of packets) {
    if (!p.ftp) continue;
    const us = usOf(p.ts);
    const hit = findFlow(flows, endpoints(p), us);
    const where = `frame ${p.frame}`;
    if (!hit) {
      F('(flow of the packet)').expected++;
      F('(flow of the packet)').misses.push(`${where}: no TCP flow ${p.src}:${p.sport} <-> ${p.dst}:${p.dport}`);
      continue;
    }
    const flow = hit.flow;
    ftpFlows.add(flow);
    const st = state.get(flow.FLOW_ID) ?? { req: 0, waiting: [], greeted: false, login: false };
    state.set(flow.FLOW_ID, st);
    const txs = flow.FTP_TRANSACTIONS || [];
    for (const pdu of p.ftp) {
      if ('ftp.request.command' in pdu) {
        const i = st.req++;
        st.waiting.push(i);
        frameTx.set(p.frame, { flow, tx: i });
        const t = txs[i];
        const verb = String(pdu['ftp.request.command']);
        const arg = pdu['ftp.request.arg'];
        if (i >= 64) {
          notKept('FTP_COMMAND', where, 'beyond the 64 transactions kept per flow (ftp_transactions_cap)');
          continue;
        }
        if (verb.toUpperCase() === 'PASS') {
          compare('FTP_COMMAND', where, 'PASS', t && t.FTP_COMMAND);
          if (arg !== undefined) {
            notKept('FTP_PASSWORD', where, 'the password is not exported unless the user asks for credentials (--ftp-credentials); the record must not hold it');
            compare('password withheld', where, true, flow.FTP_PASSWORD === undefined && !txs.some((x) => x.FTP_COMMAND === `PASS ${arg}`));
          }
        } else {
          compare('FTP_COMMAND', where, arg === undefined ? verb : `${verb} ${arg}`, t && t.FTP_COMMAND);
        }
        if (verb.toUpperCase() === 'USER' && !st.login) {
          st.login = true;
          compare('FTP_LOGIN', where, arg ?? '', flow.FTP_LOGIN);
        }
        if ('ftp.active.cip' in pdu) compare('FTP_DATA_ADDR', where, canon(pdu['ftp.active.cip']), t && t.FTP_DATA_ADDR);
        if ('ftp.eprt.ip' in pdu) compare('FTP_DATA_ADDR', where, canon(pdu['ftp.eprt.ip']), t && t.FTP_DATA_ADDR);
        if ('ftp.eprt.ipv6' in pdu) compare('FTP_DATA_ADDR', where, canon(pdu['ftp.eprt.ipv6']), t && t.FTP_DATA_ADDR);
        for (const k of ['ftp.active.port', 'ftp.eprt.port']) if (k in pdu) compare('FTP_DATA_PORT', where, +pdu[k], t && t.FTP_DATA_PORT);
        continue;
      }
      const code = 'ftp.response.code' in pdu ? +pdu['ftp.response.code'] : undefined;
      const text = pdu['ftp.response.arg'];
      if (code === undefined) {
        // A line of a multi-line reply after its first.
        if (text !== undefined) notKept('FTP_COMMAND_RET_MSG', where, 'continuation lines of multi-line replies (FEAT, HELP, banners) are read past, not kept: the first line is');
        continue;
      }
      if (!st.greeted && st.req === 0) {
        st.greeted = true;
        notKept('greeting code', where, 'the greeting\'s code (220) is not exported; FTP_SERVER_BANNER holds its text');
        if (text !== undefined) compare('FTP_SERVER_BANNER', where, text, flow.FTP_SERVER_BANNER);
        continue;
      }
      st.greeted = true;
      if (!st.waiting.length) {
        F('(reply pairing)').expected++;
        F('(reply pairing)').misses.push(`${where}: reply ${code} with no request waiting in the oracle`);
        continue;
      }
      const i = st.waiting[0];
      const t = txs[i];
      frameTx.set(p.frame, { flow, tx: i });
      if (code < 200) {
        compare('FTP_PRELIM_RET_CODE', where, code, t && t.FTP_PRELIM_RET_CODE);
        compare('FTP_PRELIM_RET_MSG', where, text ?? '', t && t.FTP_PRELIM_RET_MSG);
      } else {
        st.waiting.shift();
        compare('FTP_COMMAND_RET_CODE', where, code, t && t.FTP_COMMAND_RET_CODE);
        compare('FTP_COMMAND_RET_MSG', where, text ?? '', t && t.FTP_COMMAND_RET_MSG);
      }
      if ('ftp.passive.ip' in pdu) compare('FTP_DATA_ADDR', where, canon(pdu['ftp.passive.ip']), t && t.FTP_DATA_ADDR);
      if ('ftp.epsv.ip' in pdu) compare('FTP_DATA_ADDR', where, canon(pdu['ftp.epsv.ip']), t && t.FTP_DATA_ADDR);
      if ('ftp.epsv.ipv6' in pdu) compare('FTP_DATA_ADDR', where, canon(pdu['ftp.epsv.ipv6']), t && t.FTP_DATA_ADDR);
      for (const k of ['ftp.passive.port', 'ftp.epsv.port']) if (k in pdu) compare('FTP_DATA_PORT', where, +pdu[k], t && t.FTP_DATA_PORT);
    }
  }
  for (const f of ftpFlows) compare('L7_PROTO', `flow ${f.FLOW_ID}`, FTP, f.L7_PROTO);

  // Flat fields = the first transaction.
  for (const f of flows) {
    if (f.L7_PROTO !== FTP || !f.FTP_TRANSACTIONS || !f.FTP_TRANSACTIONS.length) continue;
    const t0 = f.FTP_TRANSACTIONS[0];
    const bad = ['FTP_COMMAND', 'FTP_COMMAND_RET_CODE'].filter((k) => f[k] !== t0[k]);
    compare('flat = FTP_TRANSACTIONS[0]', `flow ${f.FLOW_ID}`, '', bad.join(','));
  }

  // ---- data connections ----
  const seenData = new Set();
  for (const p of packets) {
    for (const pdu of p['ftp-data'] ?? []) {
      const hit = findFlow(flows, endpoints(p), usOf(p.ts));
      const where = `frame ${p.frame}`;
      if (!hit) {
        F('(flow of the packet)').expected++;
        F('(flow of the packet)').misses.push(`${where}: no TCP flow ${p.src}:${p.sport} <-> ${p.dst}:${p.dport}`);
        continue;
      }
      const d = hit.flow;
      if (seenData.has(d.FLOW_ID)) continue; // tshark repeats the same values on every segment
      seenData.add(d.FLOW_ID);
      const w = `data flow ${d.FLOW_ID} (${where})`;
      compare('L7_PROTO (data)', w, FTP_DATA, d.L7_PROTO);
      const setup = frameTx.get(+pdu['ftp-data.setup-frame']);
      compare('FTP_CONTROL_FLOW_ID', w, setup ? setup.flow.FLOW_ID : '(setup frame not in an FTP flow)', d.FTP_CONTROL_FLOW_ID);
      const control = flows.find((f) => f.FLOW_ID === d.FTP_CONTROL_FLOW_ID);
      const txOf = (frame) => {
        const x = frameTx.get(+frame);
        return x && control && x.flow === control ? (control.FTP_TRANSACTIONS || [])[x.tx] : undefined;
      };
      // The data connection's listener: the end the first packet went to (a SYN).
      const listenPort = d.L4_DST_PORT;
      let method = String(pdu['ftp-data.setup-method']);
      if (method === 'EPASV') {
        explain('data setup (via control)', w, 'tshark names the EPSV setup "EPASV"; the command is EPSV (RFC 2428 §3)');
        method = 'EPSV';
      }
      const st = txOf(pdu['ftp-data.setup-frame']);
      compare('data setup (via control)', w, method, st && String(st.FTP_COMMAND).split(' ')[0].toUpperCase());
      compare('data port (via control)', w, listenPort, st && st.FTP_DATA_PORT);
      const ct = txOf(pdu['ftp-data.command-frame']);
      compare('data command (via control)', w, pdu['ftp-data.command'], ct && ct.FTP_COMMAND);
      const cwd = pdu['ftp-data.current-working-directory'];
      if (cwd) compare('data cwd (via control)', w, cwd, ct && ct.FTP_CWD);
    }
  }

  const base = path.join(__dirname, '..', 'pcap', capture.replace(/\.pcap$/, ''));
  const dataFlows = flows.filter((f) => f.L7_PROTO === FTP_DATA);
  const controlTx = (f) => {
    const c = flows.find((x) => x.FLOW_ID === f.FTP_CONTROL_FLOW_ID);
    return c ? c.FTP_TRANSACTIONS || [] : [];
  };
  /** The transfer command a data flow carried: the first transfer command after its setup.
   * A port may be announced again later (suricata_ftp_download_passive reuses 21008): the k-th
   * data flow of a control flow to a port goes with its k-th announcement of that port. */
  const dataCommand = (f) => {
    const txs = controlTx(f);
    const k = dataFlows.filter((g) => g.FTP_CONTROL_FLOW_ID === f.FTP_CONTROL_FLOW_ID && g.L4_DST_PORT === f.L4_DST_PORT && g.FLOW_ID < f.FLOW_ID).length;
    const setups = [];
    txs.forEach((t, i) => {
      if (t.FTP_DATA_PORT === f.L4_DST_PORT && /^(PASV|EPSV|PORT|EPRT)\b/i.test(t.FTP_COMMAND)) setups.push(i);
    });
    if (k >= setups.length) return undefined;
    return txs.slice(setups[k] + 1).find((t) => /^(RETR|STOR|STOU|APPE|LIST|NLST|MLSD)\b/i.test(t.FTP_COMMAND));
  };

  // ---- Zeek ----
  const zeekRows = (file) => {
    if (!fs.existsSync(file)) return [];
    const text = fs.readFileSync(file, 'utf8').split('\n');
    const names = (text.find((l) => l.startsWith('#fields')) || '').split('\t').slice(1);
    return text.filter((l) => l && !l.startsWith('#')).map((l) => Object.fromEntries(l.split('\t').map((v, i) => [names[i], v])));
  };
  const val = (row, k) => (row[k] === '-' || row[k] === undefined ? undefined : row[k]);
  const seenCmd = new Map();
  for (const row of zeekRows(`${base}.zeek.ftp.log`)) {
    const hit = findFlow(flows, { src: canon(row['id.orig_h']), dst: canon(row['id.resp_h']), sport: +row['id.orig_p'], dport: +row['id.resp_p'] });
    const where = `${row.uid} ${row.command}`;
    const f = hit && hit.flow;
    if (val(row, 'user')) compare('FTP_LOGIN (zeek)', where, val(row, 'user'), f && f.FTP_LOGIN);
    if (val(row, 'password')) {
      notKept('FTP_PASSWORD (zeek)', where, 'the password is not exported unless the user asks for credentials (--ftp-credentials)');
    }
    // The n-th row of a command is the n-th transaction with that verb.
    const key = `${row.uid}\u0000${row.command}`;
    const n = seenCmd.get(key) ?? 0;
    seenCmd.set(key, n + 1);
    const t = f && (f.FTP_TRANSACTIONS || []).filter((x) => String(x.FTP_COMMAND).split(' ')[0].toUpperCase() === row.command)[n];
    compare('FTP_COMMAND (zeek)', where, row.command, t && String(t.FTP_COMMAND).split(' ')[0].toUpperCase());
    if (val(row, 'reply_code')) compare('FTP_COMMAND_RET_CODE (zeek)', where, +row.reply_code, t && t.FTP_COMMAND_RET_CODE);
    if (val(row, 'reply_msg')) compare('FTP_COMMAND_RET_MSG (zeek)', where, row.reply_msg, t && t.FTP_COMMAND_RET_MSG);
    if (val(row, 'arg') && /^(RETR|STOR|APPE|STOU)$/.test(row.command)) {
      // Zeek logs the file as a URL (ftp://host/dir/file): its path ends with the argument.
      compare('file (zeek)', where, true, !!t && row.arg.endsWith('/' + String(t.FTP_COMMAND).split(' ').slice(1).join(' ')));
    }
    if (val(row, 'data_channel.resp_h')) {
      compare('FTP_DATA_ADDR (zeek)', where, canon(row['data_channel.resp_h']), t && t.FTP_DATA_ADDR);
      compare('FTP_DATA_PORT (zeek)', where, +row['data_channel.resp_p'], t && t.FTP_DATA_PORT);
    }
  }
  for (const row of zeekRows(`${base}.zeek.conn.log`)) {
    const hit = findFlow(flows, { src: canon(row['id.orig_h']), dst: canon(row['id.resp_h']), sport: +row['id.orig_p'], dport: +row['id.resp_p'] });
    const where = `${row.uid} ${row['id.orig_p']}->${row['id.resp_p']} ${row.service}`;
    if (row.service === 'ftp-data') compare('L7_PROTO (zeek conn)', where, FTP_DATA, hit && hit.flow.L7_PROTO);
    else if (row.service === 'ftp') compare('L7_PROTO (zeek conn)', where, FTP, hit && hit.flow.L7_PROTO);
  }

  // ---- Suricata ----
  if (fs.existsSync(`${base}.suricata-test.yaml`)) {
    const doc = yaml.load(fs.readFileSync(`${base}.suricata-test.yaml`, 'utf8'));
    for (const c of doc.checks || []) {
      const m = c.filter && c.filter.match;
      if (!m) continue;
      const where = JSON.stringify(m);
      if (m.event_type === 'ftp_data') {
        // One event per data connection: its command (and file name, when it has one).
        const fits = (f) => {
          const t = dataCommand(f);
          if (!t) return false;
          const [verb, ...rest] = String(t.FTP_COMMAND).split(' ');
          const file = rest.join(' ');
          if (m['ftp_data.command'] !== undefined && verb.toUpperCase() !== m['ftp_data.command']) return false;
          if (m['ftp_data.filename'] !== undefined && file !== m['ftp_data.filename']) return false;
          if (m['not-has-key'] === 'ftp_data.filename' && file !== '') return false;
          const [a, b] = addrs(f);
          if (m.src_ip !== undefined && a !== m.src_ip) return false;
          if (m.dest_ip !== undefined && b !== m.dest_ip) return false;
          return true;
        };
        compare('FTP data flows (suricata)', where, c.filter.count, dataFlows.filter(fits).length);
      } else if (m.event_type === 'ftp' && m['ftp.command'] === 'USER') {
        const n = flows.filter((f) => f.L7_PROTO === FTP && addrs(f)[0] === m.src_ip && addrs(f)[1] === m.dest_ip && (f.FTP_TRANSACTIONS || []).some((t) => /^USER\b/i.test(t.FTP_COMMAND))).length;
        compare('USER sessions (suricata)', where, c.filter.count, n);
      }
    }
  }

  // ---- nDPI ----
  if (fs.existsSync(`${base}.ndpi.out`)) {
    for (const line of fs.readFileSync(`${base}.ndpi.out`, 'utf8').split('\n')) {
      const m = /^\s*\d+\s+TCP\s+(\S+)\s+<?->\s+(\S+)\s.*?\[proto: ([\d.]+)\/([^\]]+)\]/.exec(line);
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
      const got = hit && hit.flow.L7_PROTO;
      const user = /\[User: ([^\]]*)\]/.exec(line);
      if (user) compare('FTP_LOGIN (nDPI)', where, user[1], hit && hit.flow.FTP_LOGIN);
      if (/\[Pwd: [^\]]*\]/.test(line)) notKept('FTP_PASSWORD (nDPI)', where, 'the password is not exported unless the user asks for credentials (--ftp-credentials)');
      if (master === 0 && got === FTP_DATA) {
        // nDPI guesses FTP data from the payload of the first packets; this connection starts
        // without its handshake (the capture began late) and carries a zip file.
        notKept('L7_PROTO (nDPI)', where, 'nDPI leaves this connection Unknown; it was announced by PASV on the control connection (tshark links it too: ftp-data.setup-frame), so it is FTP_DATA here');
      } else if (master !== FTP && master !== FTP_DATA && got !== FTP && got !== FTP_DATA) {
        continue; // other protocols: not this module's
      } else {
        compare('L7_PROTO (nDPI)', where, master, got);
      }
    }
  }

  // Explained differences are counted as "wrong" but are no failures.
  for (const f of Object.values(fields)) f.misses = f.misses.filter(Boolean);
  return result();
}

module.exports = {
  protocol: 'FTP',
  captures: [
    'ftp/ndpi_ftp.pcap',
    'ftp/suricata_ftp_all_data_ipv4.pcap',
    'ftp/suricata_ftp_download_active.pcap',
    'ftp/suricata_ftp_download_passive.pcap',
    'ftp/zeek_ftp_ipv6.pcap',
    'mixed/suricata_output_eve_ftp_data.pcap',
  ],
  check,
};
