// HTTP accuracy module for test/tools/accuracy.js: every HTTP value tshark extracts
// (<capture>.tshark.jsonl, MANIFEST "Oracles": request method/uri/host/user_agent/referer/
// x_forwarded_for, response code/content_type, request_in) must be in the probe's record of
// the same flow (5-tuple, the innermost one for GTP-U; packet time inside the flow).
//
// - Requests: the flow's n-th request tshark decodes is the n-th transaction with a method in
//   HTTP_TRANSACTIONS; HTTP_METHOD, HTTP_URL, HTTP_HOST, HTTP_UA, HTTP_REFERER,
//   HTTP_X_FORWARDED_FOR must equal tshark's values (as UTF-8, the probe keeps header values
//   as sent; values longer than 1 KiB are cut by the probe, compared as a prefix then).
// - Responses: paired with their request by tshark's request_in (else the oldest unanswered
//   request of the flow, as RFC 9112 §9.3.2 pairs them); HTTP_RET_CODE and HTTP_MIME must be
//   in that request's transaction: the pairing is checked, not only the values.
// - L7_PROTO: a flow where tshark decodes an HTTP request or response is labelled HTTP, and
//   no flow is labelled HTTP where tshark decodes no HTTP at all (the negative side).
// - flat fields = HTTP_TRANSACTIONS[0] on every HTTP flow.
// Second opinions, each under its own rows: Zeek's http.log (zeek_http_pipelined and the
// GTP capture: method, host, uri, referrer, user_agent, status_code of each trans_depth) and
// nDPI's expected output for ndpi_http_ua_split (Hostname, StatusCode, User-Agent). The
// suricata-verify test beside suricata_http_vlan_keepalive checks file extraction only: no
// HTTP field to compare.
//
// Exceptions, each with its reason computed from the capture: transactions past the cap of 64
// (dissect_limits::kMaxTransactions), 1xx interim responses (HTTP_RET_CODE is the final
// status, RFC 9110 §15.2), a request's own Content-Type (HTTP_MIME is the response's), and
// nDPI's User-Agent for the split header (nDPI keeps the first segment's part only).
'use strict';
const fs = require('fs');
const path = require('path');
const { usOf, tally } = require('../tools/accuracy-common');

const HTTP = 7;
const MAX_TXNS = 64; // dissect_limits::kMaxTransactions
const MAX_VALUE = 1024; // dissect_limits::kMaxFieldBytes
const FLAT = ['HTTP_URL', 'HTTP_METHOD', 'HTTP_RET_CODE', 'HTTP_REFERER', 'HTTP_UA', 'HTTP_MIME', 'HTTP_HOST', 'HTTP_SITE', 'HTTP_X_FORWARDED_FOR', 'HTTP_VIA'];
const REQ_FIELDS = {
  'http.request.method': 'HTTP_METHOD',
  'http.request.uri': 'HTTP_URL',
  'http.host': 'HTTP_HOST',
  'http.user_agent': 'HTTP_UA',
  'http.referer': 'HTTP_REFERER',
  'http.x_forwarded_for': 'HTTP_X_FORWARDED_FOR',
};

function endpoints(p) {
  const ip = p.ip_layers ? p.ip_layers[p.ip_layers.length - 1] : { src: p.src, dst: p.dst };
  const l4 = p.l4_layers ? p.l4_layers[p.l4_layers.length - 1] : { proto: p.l4, sport: p.sport, dport: p.dport };
  return { src: ip.src, dst: ip.dst, proto: l4.proto, sport: +l4.sport, dport: +l4.dport };
}

function sameFlow(f, e) {
  const a = f.IPV4_SRC_ADDR ?? f.IPV6_SRC_ADDR;
  const b = f.IPV4_DST_ADDR ?? f.IPV6_DST_ADDR;
  if (a === e.src && b === e.dst && f.L4_SRC_PORT === e.sport && f.L4_DST_PORT === e.dport) return 0;
  if (a === e.dst && b === e.src && f.L4_SRC_PORT === e.dport && f.L4_DST_PORT === e.sport) return 1;
  return -1;
}

function findFlow(flows, e, us) {
  for (const f of flows) {
    if (f.PROTOCOL !== 6) continue;
    const dir = sameFlow(f, e);
    if (dir >= 0 && f.FLOW_START_MICROSECONDS <= us && us <= f.FLOW_END_MICROSECONDS) return { flow: f, dir };
  }
  return null;
}

// A value as the probe keeps it: at most 1 KiB (cut on a UTF-8 boundary).
function capped(v) {
  const b = Buffer.from(v, 'utf8');
  if (b.length <= MAX_VALUE) return v;
  let cut = MAX_VALUE;
  while (cut > 0 && (b[cut] & 0xc0) === 0x80) cut--;
  return b.subarray(0, cut).toString('utf8');
}

// Percent-decoding as Zeek applies it to the URI it logs (invalid escapes kept as they are).
function pctDecode(s) {
  return Buffer.from(s.replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
}

function check(flows, packets, capture) {
  const { F, explain, result } = tally();
  const compare = (field, want, got, where) => {
    F(field).expected++;
    const w = capped(String(want));
    if (got !== undefined && String(got) === w) {
      F(field).found++;
    } else if (got === undefined) {
      F(field).misses.push(`${where}: ${JSON.stringify(String(want).slice(0, 80))} missing`);
    } else {
      F(field).wrong++;
      F(field).misses.push(`${where}: ${JSON.stringify(String(want).slice(0, 80))} != ${JSON.stringify(String(got).slice(0, 80))}`);
    }
  };

  // tshark's HTTP PDUs by flow, in frame order.
  const byFlow = new Map();
  const tsharkHttp = new Set(); // flows where tshark decodes any HTTP, continuations included
  for (const p of packets) {
    if (!p.http) continue;
    const e = endpoints(p);
    if (e.proto !== 'tcp') continue;
    const hit = findFlow(flows, e, usOf(p.ts));
    if (hit) tsharkHttp.add(hit.flow.FLOW_ID);
    for (const pdu of p.http) {
      const isReq = 'http.request.method' in pdu;
      const isRsp = 'http.response.code' in pdu;
      if (!isReq && !isRsp) continue; // a continuation tshark could not read as a message
      if (!hit) {
        F(isReq ? 'HTTP_METHOD' : 'HTTP_RET_CODE').expected++;
        F(isReq ? 'HTTP_METHOD' : 'HTTP_RET_CODE').misses.push(`frame ${p.frame}: no flow`);
        continue;
      }
      const id = hit.flow.FLOW_ID;
      if (!byFlow.has(id)) byFlow.set(id, { flow: hit.flow, msgs: [] });
      byFlow.get(id).msgs.push({ frame: p.frame, dir: hit.dir, pdu, isReq });
    }
  }

  for (const { flow, msgs } of byFlow.values()) {
    const where0 = `flow ${flow.FLOW_ID}`;
    F('L7_PROTO').expected++;
    if (flow.L7_PROTO === HTTP) F('L7_PROTO').found++;
    else F('L7_PROTO').misses.push(`${where0}: L7_PROTO ${flow.L7_PROTO}`);
    const txs = flow.HTTP_TRANSACTIONS ?? [];
    const withMethod = txs.filter((t) => t.HTTP_METHOD !== undefined);
    const capHit = txs.length >= MAX_TXNS && (flow.FLOW_ANOMALIES ?? '').split(',').includes('http_transactions_cap');

    // Requests, in order: the n-th is the n-th transaction with a method.
    const txOfFrame = new Map();
    const unanswered = [];
    let n = 0;
    for (const m of msgs) {
      if (!m.isReq) continue;
      const where = `frame ${m.frame}`;
      const tx = withMethod[n++];
      if (tx) txOfFrame.set(m.frame, tx);
      unanswered.push(m.frame);
      for (const [k, fld] of Object.entries(REQ_FIELDS)) {
        if (m.pdu[k] === undefined) continue;
        if (!tx && capHit) {
          F(fld).expected++;
          explain(fld, `${where0}: request ${n}`, `past the cap of ${MAX_TXNS} transactions per flow (dissect_limits::kMaxTransactions, anomaly http_transactions_cap on the flow)`);
          continue;
        }
        compare(fld, m.pdu[k], tx ? tx[fld] : undefined, where);
      }
      // A request's own Content-Type (the type of its body) is not HTTP_MIME.
      if (m.pdu['http.content_type'] !== undefined) {
        F('HTTP_MIME').expected++;
        if (tx && tx.HTTP_MIME === m.pdu['http.content_type']) F('HTTP_MIME').found++;
        else explain('HTTP_MIME', `${where}: ${m.pdu['http.request.method']} body ${JSON.stringify(m.pdu['http.content_type'])}`, 'a request\'s Content-Type describes its body; HTTP_MIME is the response\'s Content-Type (nProbe: "HTTP Mime Type" of the content returned)');
      }
    }

    // Responses: paired by request_in, else with the oldest unanswered request.
    const responseOnly = txs.filter((t) => t.HTTP_METHOD === undefined);
    let ro = 0;
    for (const m of msgs) {
      if (m.isReq) continue;
      const where = `frame ${m.frame}`;
      const code = +m.pdu['http.response.code'];
      const interim = code >= 100 && code < 200 && code !== 101;
      let reqFrame = m.pdu['http.request_in'] !== undefined ? +m.pdu['http.request_in'] : undefined;
      if (interim) {
        // tshark pairs no 1xx; the final response that follows answers the request.
        F('HTTP_RET_CODE').expected++;
        explain('HTTP_RET_CODE', `${where}: ${code}`, 'interim 1xx response: HTTP_RET_CODE is the status of the final response (RFC 9110 §15.2); the pair is checked on that one');
        continue;
      }
      if (reqFrame === undefined) reqFrame = unanswered[0];
      const k = unanswered.indexOf(reqFrame);
      if (k >= 0) unanswered.splice(k, 1);
      let tx = reqFrame !== undefined ? txOfFrame.get(reqFrame) : undefined;
      let pastCap = reqFrame !== undefined && !tx && capHit;
      if (reqFrame === undefined) {
        // tshark saw no request for it (the capture lacks it): the probe's response-only entry.
        tx = responseOnly[ro++];
        pastCap = !tx && capHit;
      }
      const pairs = [['HTTP_RET_CODE', code]];
      if (m.pdu['http.content_type'] !== undefined) pairs.push(['HTTP_MIME', m.pdu['http.content_type']]);
      for (const [fld, want] of pairs) {
        if (pastCap) {
          F(fld).expected++;
          explain(fld, `${where0}: response to frame ${reqFrame}`, `past the cap of ${MAX_TXNS} transactions per flow (dissect_limits::kMaxTransactions, anomaly http_transactions_cap on the flow)`);
          continue;
        }
        compare(fld, want, tx ? tx[fld] : undefined, `${where} (request ${reqFrame === undefined ? 'none' : `frame ${reqFrame}`})`);
      }
    }
  }

  // Flat fields = the first transaction; and no flow is labelled HTTP where tshark sees none.
  for (const f of flows) {
    if (f.L7_PROTO !== HTTP) continue;
    F('L7_PROTO = HTTP only where tshark sees HTTP').expected++;
    if (tsharkHttp.has(f.FLOW_ID)) F('L7_PROTO = HTTP only where tshark sees HTTP').found++;
    else F('L7_PROTO = HTTP only where tshark sees HTTP').misses.push(`flow ${f.FLOW_ID} ${f.L4_SRC_PORT}->${f.L4_DST_PORT}`);
    F('flat = HTTP_TRANSACTIONS[0]').expected++;
    const t0 = (f.HTTP_TRANSACTIONS ?? [])[0];
    const bad = t0 ? FLAT.filter((k) => f[k] !== t0[k]) : ['no HTTP_TRANSACTIONS'];
    if (!bad.length) F('flat = HTTP_TRANSACTIONS[0]').found++;
    else F('flat = HTTP_TRANSACTIONS[0]').misses.push(`flow ${f.FLOW_ID}: ${bad.join(',')}`);
  }

  // Zeek's http.log beside this capture: one row per transaction (trans_depth).
  const zeekLog = path.join(__dirname, '..', 'pcap', capture.replace(/\.pcap(ng)?$/, '.zeek.http.log'));
  if (fs.existsSync(zeekLog)) {
    const text = fs.readFileSync(zeekLog, 'utf8').split('\n');
    const names = (text.find((l) => l.startsWith('#fields')) || '').split('\t').slice(1);
    for (const line of text) {
      if (!line || line.startsWith('#')) continue;
      const row = Object.fromEntries(line.split('\t').map((v, i) => [names[i], v]));
      const e = { src: row['id.orig_h'], dst: row['id.resp_h'], sport: +row['id.orig_p'], dport: +row['id.resp_p'] };
      const flow = flows.find((f) => f.PROTOCOL === 6 && sameFlow(f, e) === 0);
      const tx = flow && (flow.HTTP_TRANSACTIONS ?? [])[+row.trans_depth - 1];
      const where = `zeek row ${row.trans_depth} ${String(row.uri).slice(0, 40)}`;
      for (const [col, fld] of [['method', 'HTTP_METHOD'], ['host', 'HTTP_HOST'], ['uri', 'HTTP_URL'], ['referrer', 'HTTP_REFERER'], ['user_agent', 'HTTP_UA'], ['status_code', 'HTTP_RET_CODE']]) {
        if (row[col] === undefined || row[col] === '-') continue;
        const name = `${fld} (zeek http.log)`;
        F(name).expected++;
        if (tx && String(tx[fld]) === row[col]) F(name).found++;
        else if (!tx) F(name).misses.push(`${where}: no transaction`);
        else if (col === 'uri' && pctDecode(String(tx[fld])) === row[col])
          explain(name, `${where}`, 'Zeek logs the request-target percent-decoded ("%2C" as ","); HTTP_URL keeps it as sent, as tshark\'s http.request.uri does (checked under HTTP_URL)');
        else {
          F(name).wrong++;
          F(name).misses.push(`${where}: ${col} ${JSON.stringify(row[col].slice(0, 60))} != ${JSON.stringify(String(tx[fld]).slice(0, 60))}`);
        }
      }
    }
  }

  // nDPI's expected output beside this capture: Hostname, StatusCode, User-Agent of the flow.
  const ndpiOut = path.join(__dirname, '..', 'pcap', capture.replace(/\.pcap(ng)?$/, '.ndpi.out'));
  if (capture.startsWith('http/') && fs.existsSync(ndpiOut)) {
    for (const line of fs.readFileSync(ndpiOut, 'utf8').split('\n')) {
      const m = /TCP ([\d.]+):(\d+) <-> ([\d.]+):(\d+) .*\[proto: 7\/HTTP\]/.exec(line);
      if (!m) continue;
      const e = { src: m[1], sport: +m[2], dst: m[3], dport: +m[4] };
      // nDPI's flow is the whole connection; the probe's first record of it holds what nDPI
      // read from its first packets.
      const flow = flows.filter((f) => f.PROTOCOL === 6 && sameFlow(f, e) >= 0).sort((a, b) => a.FLOW_ID - b.FLOW_ID)[0];
      const host = /\[Hostname\/SNI: ([^\]]+)\]/.exec(line);
      const status = /\[StatusCode: (\d+)\]/.exec(line);
      const ua = /\[User-Agent: ([^\]]+)\]/.exec(line);
      F('L7_PROTO (nDPI)').expected++;
      if (flow && flow.L7_PROTO === HTTP) F('L7_PROTO (nDPI)').found++;
      else F('L7_PROTO (nDPI)').misses.push(`${line.slice(0, 60)}: ${flow ? flow.L7_PROTO : 'no flow'}`);
      if (host) compare('HTTP_HOST (nDPI)', host[1], flow && flow.HTTP_HOST, 'nDPI');
      if (status) compare('HTTP_RET_CODE (nDPI)', status[1], flow && flow.HTTP_RET_CODE, 'nDPI');
      if (ua) {
        F('HTTP_UA (nDPI)').expected++;
        const got = flow && flow.HTTP_UA;
        if (got === ua[1]) F('HTTP_UA (nDPI)').found++;
        else if (typeof got === 'string' && got.startsWith(ua[1]) && got.length > ua[1].length)
          explain('HTTP_UA (nDPI)', `nDPI ${JSON.stringify(ua[1])}, probe ${JSON.stringify(got.slice(0, 40))}...`, 'the User-Agent line is split across two TCP segments: nDPI (per packet) keeps the first segment\'s part; the probe reads the reassembled line, as tshark does');
        else {
          F('HTTP_UA (nDPI)').wrong++;
          F('HTTP_UA (nDPI)').misses.push(`${JSON.stringify(ua[1])} vs ${JSON.stringify(got)}`);
        }
      }
    }
  }

  return result();
}

module.exports = {
  protocol: 'HTTP',
  captures: [
    'http/ndpi_http_ua_split.pcapng',
    'http/pcapplusplus_four_ipv6_http_streams.pcap',
    'http/suricata_http_vlan_keepalive.pcap',
    'http/zeek_http_1000_requests.pcap',
    'http/zeek_http_pipelined.pcap',
    'gtp/zeek_gtp1_gn_fragmentation.pcap',
    'mixed/ndpi_1kxun.pcap',
    'mixed/pcapplusplus_example.pcap',
    'mixed/pcapplusplus_many_protocols.pcap',
    'mixed/suricata_output_eve_ftp_data.pcap',
    'mixed/zeek_echo_connections.pcap',
  ],
  check,
};
