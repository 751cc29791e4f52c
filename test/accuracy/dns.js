// DNS field accuracy against tshark (contract: test/tools/accuracy.js). For every DNS message
// tshark decodes, its values must be in the probe's record of the same flow (5-tuple, either
// direction, packet time inside the flow), in the transaction with the same id and question
// (DNS_TRANSACTIONS): the query's name, id and type; the response's return code, answer count,
// each answer (type and data, in order, in DNS_RESPONSE) and the TTL rule of DNS_TTL_ANSWER;
// and DNS_CLIENT is the sender of the queries. DNS over TCP (RFC 7766 framing, dns_tcp.cc) is
// checked the same way: tshark reports every message of a segment, and a message in the frame
// that completes it. Misses are explained per capture and field where the cause is known and
// checked here (the 1 KiB cut, messages the probe rejects); anything else fails.
//
// Two more oracles where tshark has none or says less:
// - malformed/suricata_dns_truncated_rname: DNS over TCP on port 1053, which tshark does not
//   decode as DNS (MANIFEST caveats). The capture's own bytes are read here instead (TCP
//   streams put in order, split at the 2-byte lengths): each message's id and first question
//   must be in the flow's transactions; a question name longer than RFC 1035's 255 bytes
//   leaves no DNS_QUERY and names dns_name_too_long on the flow. (Suricata, its test.yaml,
//   logs such a name cut at 1024 bytes with a truncation flag: the same message, another
//   policy.)
// - suricata-verify's test.yaml beside a capture: its counts of DNS requests and responses are
//   the transactions (each a query) and the answered ones.
'use strict';
const fs = require('fs');
const path = require('path');

const protocol = 'DNS';
const captures = [
  'dns/arkime_dns_wiresharkrepo.pcap',
  'dns/ndpi_dns_qinq_pppoe.pcap',
  'dns/suricata_dns_tcp_multirequest.pcap',
  'dns/tcpdump_dns_tcp.pcap',
  'dns/zeek_ipv6_fragmented_dns.pcap',
  'gtp/arkime_gtp_iphone.pcap',
  'mixed/ndpi_1kxun.pcap',
  'mixed/pcapplusplus_example.pcap',
  'mixed/pcapplusplus_many_protocols.pcap',
  'mixed/suricata_output_eve_ftp_data.pcap',
  'smtp/zeek_smtp.pcap',
  'malformed/ndpi_malformed_dns.pcap',
  'malformed/tcpdump_dns_zlip_1.pcap',
  'malformed/ndpi_fuzz_2006_06_26_mixed.pcap',
  'malformed/suricata_dns_truncated_rname.pcap',
];
// TCP captures whose DNS tshark does not decode (a port other than 53): read from their bytes.
const BYTES_ORACLE = ['malformed/suricata_dns_truncated_rname.pcap'];

const FIELDS = ['DNS_QUERY', 'DNS_QUERY_ID', 'DNS_QUERY_TYPE', 'DNS_RET_CODE', 'DNS_NUM_ANSWERS', 'DNS_TTL_ANSWER', 'DNS_RESPONSE', 'DNS_CLIENT'];
const MAX_FIELD = 1024; // dissect_limits::kMaxFieldBytes
const MAX_TXNS = 64; // dissect_limits::kMaxTransactions

const TYPES = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 28: 'AAAA', 29: 'LOC', 33: 'SRV',
  35: 'NAPTR', 39: 'DNAME', 41: 'OPT', 43: 'DS', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY', 50: 'NSEC3', 52: 'TLSA',
  64: 'SVCB', 65: 'HTTPS', 99: 'SPF', 257: 'CAA',
};
const typeName = (t) => TYPES[t] ?? `TYPE${t}`;

// tshark writes the root name as "<Root>"; the probe as "" (presentation form without the dot).
const tsharkName = (n) => (n === '<Root>' ? '' : n);
const lower = (s) => String(s).toLowerCase();
// Placeholders tshark prints instead of a name it could not read; the probe keeps no name
// then and names the anomaly on the flow.
const PLACEHOLDERS = { '<Unknown extended label>': 'dns_bad_label_type', '<Name too long>': 'dns_name_too_long' };

// Names are compared as bytes. The probe writes RFC 1035 presentation form (\DDD decimal,
// "\." and "\\" escaped); tshark 4.0's format_text writes control bytes as C escapes
// (\r, \ooo octal), bytes >= 0x80 that are not UTF-8 as U+FFFD, and a backslash as itself.
// The same bytes written two ways are the same name; U+FFFD stands for any byte >= 0x80.
function probeBytes(n) {
  const out = [];
  for (let i = 0; i < n.length; i++) {
    if (n[i] === '\\' && /^\d{3}$/.test(n.slice(i + 1, i + 4))) {
      out.push(Number(n.slice(i + 1, i + 4)));
      i += 3;
    } else if (n[i] === '\\' && i + 1 < n.length) {
      out.push(n.charCodeAt(++i));
    } else out.push(n.charCodeAt(i));
  }
  return out;
}
const C_ESC = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11 };
function tsharkBytes(n) {
  const out = [];
  for (let i = 0; i < n.length; i++) {
    const c = n[i];
    if (c === '\\' && /^[0-7]{3}$/.test(n.slice(i + 1, i + 4))) {
      out.push(parseInt(n.slice(i + 1, i + 4), 8));
      i += 3;
    } else if (c === '\\' && C_ESC[n[i + 1]] !== undefined) {
      out.push(C_ESC[n[++i]]);
    } else if (c === '\ufffd') {
      out.push(-1); // any byte >= 0x80
    } else {
      for (const b of Buffer.from(c, 'utf8')) out.push(b);
    }
  }
  return out;
}
function sameName(probeText, tsharkText) {
  const a = probeBytes(probeText);
  const b = tsharkBytes(tsharkName(tsharkText));
  if (a.length !== b.length) return false;
  const low = (x) => (x >= 65 && x <= 90 ? x + 32 : x);
  return a.every((x, i) => (b[i] === -1 ? x >= 0x80 : low(x) === low(b[i])));
}

/** Splits DNS_RESPONSE into its answers: commas outside quoted TXT strings separate them. */
function splitAnswers(text) {
  const out = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) {
      cur += c + text[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (text !== '') out.push(cur);
  return out;
}

/** The quoted strings of a TXT answer, unescaped. */
function txtStrings(rest) {
  const out = [];
  const re = /"((?:[^"\\]|\\.)*)"/g;
  let m;
  while ((m = re.exec(rest))) out.push(m[1].replace(/\\(\d{3})/g, (_, d) => String.fromCharCode(Number(d))).replace(/\\(.)/g, '$1'));
  return out;
}

/** True when one rendered answer ("MX 10 x.example") carries tshark's type and data. */
function answerMatches(rendered, a) {
  const sp = rendered.indexOf(' ');
  const type = sp < 0 ? rendered : rendered.slice(0, sp);
  const rest = sp < 0 ? '' : rendered.slice(sp + 1);
  if (type !== typeName(Number(a.type))) return false;
  const data = a.data;
  if (data === null || data === undefined) return true; // tshark gives no data for this type
  switch (Number(a.type)) {
    case 1:
    case 28:
      return rest === data;
    case 2:
    case 5:
    case 12:
    case 39:
      return sameName(rest, data);
    case 15:
      return /^\d+ /.test(rest) && sameName(rest.replace(/^\d+ /, ''), data);
    case 33:
      return sameName(rest.split(' ').slice(3).join(' '), data);
    case 6:
      return sameName(rest.split(' ')[0], data);
    case 16:
    case 99: {
      const want = Array.isArray(data) ? data : [data];
      const got = txtStrings(rest);
      return want.every((w, i) => got[i] === w);
    }
    default:
      return true;
  }
}

/** The innermost IP/UDP 5-tuple of a tshark packet (GTP-U tunnels: the inner one). */
function tupleOf(p) {
  if (p.ip_layers && p.l4_layers) {
    const ip = p.ip_layers[p.ip_layers.length - 1];
    const l4 = p.l4_layers[p.l4_layers.length - 1];
    return { src: ip.src, dst: ip.dst, sport: l4.sport, dport: l4.dport, l4: l4.proto };
  }
  return { src: p.src, dst: p.dst, sport: p.sport, dport: p.dport, l4: p.l4 };
}

function flowOf(flows, t, tsUs) {
  const proto = t.l4 === 'tcp' ? 6 : 17;
  for (const f of flows) {
    if (f.PROTOCOL !== proto) continue;
    const fs = f.IPV4_SRC_ADDR ?? f.IPV6_SRC_ADDR;
    const fd = f.IPV4_DST_ADDR ?? f.IPV6_DST_ADDR;
    const fwd = fs === t.src && fd === t.dst && f.L4_SRC_PORT === t.sport && f.L4_DST_PORT === t.dport;
    const rev = fs === t.dst && fd === t.src && f.L4_SRC_PORT === t.dport && f.L4_DST_PORT === t.sport;
    if ((fwd || rev) && tsUs >= f.FLOW_START_MICROSECONDS && tsUs <= f.FLOW_END_MICROSECONDS) return { flow: f, fromClient: fwd };
  }
  return null;
}

// ---- Why a message never reached the dissector: the real probe, replayed on the capture ----
// The probe (native/dissect/dns.cc) starts a flow's dissector at the first UDP payload it
// accepts, trying at most dissect_limits::kMaxProbePackets = 8 payloads; payloads before that
// are not dissected. To tell "rejected by the probe" from a bug, the UDP payloads are read
// from the capture (classic pcap, Ethernet/802.1Q, IPv4 unfragmented: what the captures that
// need it are) and handed to the native probe through the test binding.
const MAX_PROBE_PACKETS = 8;

function readPcapUdp(file) {
  const b = fs.readFileSync(file);
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) return null; // not classic pcap
  const u32 = (o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const nano = u32(0) === 0xa1b23c4d;
  if (u32(20) !== 1) return null; // Ethernet only
  const frames = new Map();
  let off = 24;
  for (let n = 1; off + 16 <= b.length; n++) {
    const tsUs = u32(off) * 1e6 + (nano ? Math.floor(u32(off + 4) / 1000) : u32(off + 4));
    const incl = u32(off + 8);
    const pkt = b.subarray(off + 16, Math.min(b.length, off + 16 + incl));
    off += 16 + incl;
    let e = 12;
    let type = pkt.length >= 14 ? pkt.readUInt16BE(12) : 0;
    while ((type === 0x8100 || type === 0x88a8) && pkt.length >= e + 6) {
      e += 4;
      type = pkt.readUInt16BE(e);
    }
    const ip = e + 2;
    if (type !== 0x0800 || pkt.length < ip + 20 || pkt[ip + 9] !== 17) continue;
    const ihl = (pkt[ip] & 15) * 4;
    if ((pkt.readUInt16BE(ip + 6) & 0x3fff) !== 0 || pkt.length < ip + ihl + 8) continue;
    const u = ip + ihl;
    const ulen = pkt.readUInt16BE(u + 4);
    const end = Math.min(pkt.length, u + Math.max(8, ulen), ip + pkt.readUInt16BE(ip + 2));
    const a = (o) => `${pkt[o]}.${pkt[o + 1]}.${pkt[o + 2]}.${pkt[o + 3]}`;
    frames.set(n, { tsUs, src: a(ip + 12), dst: a(ip + 16), sport: pkt.readUInt16BE(u), dport: pkt.readUInt16BE(u + 2), payload: pkt.subarray(u + 8, Math.max(u + 8, end)) });
  }
  return frames;
}

/** Header facts the probe checks, in words, for the explanation text. */
function headerWhy(d) {
  if (d.length < 12) return 'shorter than a DNS header';
  const flags = d.readUInt16BE(2);
  const qr = flags >> 15;
  const opcode = (flags >> 11) & 15;
  const why = [];
  if (flags & 0x40) why.push('Z bit set');
  if (![0, 2, 4, 5].includes(opcode)) why.push(`opcode ${opcode}`);
  if (!qr && (flags & 15)) why.push(`query with return code ${flags & 15}`);
  if (!qr && d.readUInt16BE(4) === 0) why.push('query without a question');
  // The first question's class (after a name walked in place).
  let o = 12;
  while (d.readUInt16BE(4) > 0 && o < d.length && d[o] !== 0 && d[o] < 0x40) o += 1 + d[o];
  if (d.readUInt16BE(4) > 0 && o < d.length && (d[o] === 0 || d[o] >= 0xc0)) {
    o += d[o] === 0 ? 1 : 2;
    if (o + 4 <= d.length) {
      const cls = d.readUInt16BE(o + 2) & 0x7fff;
      if (![1, 3, 4, 254, 255].includes(cls)) why.push('question class not IN/CH/HS/NONE/ANY');
    }
  }
  return why.join(', ');
}

class ProbeReplay {
  constructor(pcap) {
    this.frames = readPcapUdp(pcap);
    this.mod = this.frames ? require(path.join(__dirname, '..', '..', 'dist', 'src', 'native.js')).loadNative() : null;
    this.detection = new Map(); // flow key -> frame where the probe accepted, or 0
  }
  verdict(fr) {
    const r = this.mod.testDissect('DNS', [{ dir: 0, data: fr.payload, sport: fr.sport, dport: fr.dport }]);
    return { ok: r.probe[0], why: [...r.anomalies, headerWhy(fr.payload)].filter(Boolean).join(', ') || 'NetBIOS-shaped name' };
  }
  key(fr) {
    const x = `${fr.src}:${fr.sport}`;
    const y = `${fr.dst}:${fr.dport}`;
    return x < y ? `${x}-${y}` : `${y}-${x}`;
  }
  /**
   * Why the message in frame n never reached the dissector, or null if it should have.
   * flow: the probe's record holding the frame (its time span bounds the replay), if any.
   */
  why(n, flow) {
    if (!this.frames) return null;
    const fr = this.frames.get(n);
    if (!fr) return null;
    const from = flow ? flow.FLOW_START_MICROSECONDS : -Infinity;
    const to = flow ? flow.FLOW_END_MICROSECONDS : Infinity;
    const key = `${this.key(fr)}@${from}`;
    if (!this.detection.has(key)) {
      let tries = 0;
      let at = 0;
      for (const [m, f] of this.frames) {
        if (this.key(f) !== this.key(fr) || f.payload.length === 0 || f.tsUs < from || f.tsUs > to) continue;
        if (this.verdict(f).ok) {
          at = m;
          break;
        }
        if (++tries >= MAX_PROBE_PACKETS) break;
      }
      this.detection.set(key, at);
    }
    const at = this.detection.get(key);
    if (fr.payload.length === 0) return 'its UDP length field leaves no payload (the bytes past it are not UDP data)';
    const v = this.verdict(fr);
    if (v.ok) return null;
    if (at === 0) return `the probe rejects it (${v.why}) and no payload of its flow passes, so the flow is not DNS`;
    if (at > n) return `the probe rejects it (${v.why}); the flow was recognised later, at frame ${at}`;
    return null;
  }
}

function check(flows, packets, capture) {
  const fields = {};
  for (const n of FIELDS) fields[n] = { expected: 0, found: 0, wrong: 0, misses: [] };
  const explainedCount = new Map(); // "field\u0000why" -> { field, n, why }
  const explain = (field, why) => {
    const k = `${field}\u0000${why}`;
    const e = explainedCount.get(k) ?? { field, n: 0, why };
    e.n++;
    explainedCount.set(k, e);
  };
  const clientChecked = new Set();
  let replay = null;
  const replayWhy = (frame, flow) => (replay ??= new ProbeReplay(path.join(__dirname, '..', 'pcap', capture))).why(frame, flow);

  for (const p of packets) {
    if (!p.dns) continue;
    const t = tupleOf(p);
    const tsUs = Math.round(Number(p.ts) * 1e6);
    const hit = flowOf(flows, t, tsUs);
    for (const m of p.dns) {
      const id = parseInt(m['dns.id'], 16);
      const isResp = m['dns.flags.response'] === '1';
      const q = (m.queries ?? [])[0];
      const placeholder = q ? PLACEHOLDERS[q.name] : undefined;
      const qtype = q ? Number(q.type) : undefined;
      // What this message asks the record to hold: [field, test(txn, flow) -> true/false/null, text].
      const wants = [];
      wants.push(['DNS_QUERY_ID', (x) => x.DNS_QUERY_ID === id, `id ${id}`]);
      if (q) {
        wants.push(['DNS_QUERY', (x) => x.DNS_QUERY !== undefined && sameName(x.DNS_QUERY, q.name), `query ${JSON.stringify(q.name)}`]);
        wants.push(['DNS_QUERY_TYPE', (x) => x.DNS_QUERY_TYPE === qtype, `type ${qtype}`]);
      }
      // DNS_CLIENT is decided by a flow's first DNS message (its sender if a query, its
      // receiver if a response): checked once per flow, on that message.
      const clientIp = isResp ? t.dst : t.src;
      if (hit && !clientChecked.has(hit.flow)) {
        clientChecked.add(hit.flow);
        wants.push(['DNS_CLIENT', (_x, f) => f.DNS_CLIENT === clientIp, `client ${clientIp}`]);
      }
      if (isResp && m['dns.flags.rcode'] !== undefined) {
        const answers = m.answers ?? [];
        wants.push(['DNS_RET_CODE', (x) => x.DNS_RET_CODE === Number(m['dns.flags.rcode']), `rcode ${m['dns.flags.rcode']}`]);
        if (m['dns.count.answers'] !== undefined) {
          wants.push(['DNS_NUM_ANSWERS', (x) => x.DNS_NUM_ANSWERS === Number(m['dns.count.answers']), `answers ${m['dns.count.answers']}`]);
        }
        const addr = answers.find((a) => a.type === '1' || a.type === '28');
        const ttl = Number((addr ?? answers[0] ?? { ttl: 0 }).ttl ?? 0);
        wants.push(['DNS_TTL_ANSWER', (x) => x.DNS_TTL_ANSWER === ttl, `ttl ${ttl}`]);
        answers.forEach((a, i) => {
          wants.push([
            'DNS_RESPONSE',
            (x) => {
              if (typeof x.DNS_RESPONSE !== 'string') return false;
              const got = splitAnswers(x.DNS_RESPONSE);
              const cut = x.DNS_RESPONSE.length >= MAX_FIELD;
              if (cut && i >= got.length - 1 && (got[i] === undefined || !answerMatches(got[i], a))) return 'cut';
              if (PLACEHOLDERS[a.data] && !(got[i] !== undefined && answerMatches(got[i], a))) return PLACEHOLDERS[a.data];
              if ((a.data === null || a.data === undefined) && p.malformed && got[i] === undefined) return 'unreadable';
              return got[i] !== undefined && answerMatches(got[i], a);
            },
            `answer ${i + 1} ${typeName(Number(a.type))} ${JSON.stringify(a.data).slice(0, 80)}`,
          ]);
        });
      }

      for (const [field, test, what] of wants) {
        const F = fields[field];
        F.expected++;
        const where = `frame ${p.frame} ${isResp ? 'response' : 'query'} ${id}: ${what}`;
        const labelled = hit && hit.flow.L7_PROTO === 5;
        const txns = labelled && Array.isArray(hit.flow.DNS_TRANSACTIONS) ? hit.flow.DNS_TRANSACTIONS : [];
        // The transaction(s) of this message: same id and, when the message has one, question.
        const cands = txns.filter((x) => x.DNS_QUERY_ID === id && (!q || (x.DNS_QUERY !== undefined && sameName(x.DNS_QUERY, q.name) && x.DNS_QUERY_TYPE === qtype)));
        const pool = cands.length ? cands : txns.filter((x) => x.DNS_QUERY_ID === id);
        const results = field === 'DNS_CLIENT' ? (labelled ? [test(null, hit.flow)] : []) : pool.map((x) => test(x, hit.flow));
        if (results.includes(true)) {
          F.found++;
          continue;
        }
        // Not there: explained only for a cause checked here.
        const anomalies = labelled ? String(hit.flow.FLOW_ANOMALIES ?? '').split(',') : [];
        if (results.includes('cut')) {
          explain(field, `DNS_RESPONSE is cut at ${MAX_FIELD} bytes (dissect_limits::kMaxFieldBytes); this answer lies (partly) past the cut`);
          continue;
        }
        if (results.includes('unreadable') && anomalies.some((a) => a.startsWith('dns_'))) {
          explain(field, 'tshark could not read this answer\'s data either (it marks the frame malformed and gives no data); the probe leaves the record out of DNS_RESPONSE and names the anomaly');
          continue;
        }
        const ph = results.find((r) => typeof r === 'string');
        if (ph && anomalies.includes(ph)) {
          explain(field, `tshark prints a placeholder for an unreadable name in an answer; the probe leaves that record out of DNS_RESPONSE and names the anomaly (${ph})`);
          continue;
        }
        if (placeholder && labelled && anomalies.includes(placeholder) && pool.length > 0 && (field === 'DNS_QUERY' || field === 'DNS_QUERY_TYPE')) {
          explain(field, `tshark prints ${JSON.stringify(q.name)} for the question's name; the probe keeps no question for that message and names the anomaly (${placeholder})`);
          continue;
        }
        if (!labelled || cands.length === 0) {
          // The message is in no transaction: did it reach the dissector at all?
          const why = replayWhy(p.frame, hit ? hit.flow : null);
          if (why) {
            explain(field, `message ${why}`);
            continue;
          }
        }
        if (!labelled || pool.length === 0) {
          if (labelled && txns.length >= MAX_TXNS) {
            explain(field, `flow holds ${MAX_TXNS} transactions (dissect_limits::kMaxTransactions)`);
            continue;
          }
          F.misses.push(`${where}: ${!hit ? 'flow not found' : !labelled ? 'flow not labelled DNS' : 'no transaction with this id in the flow'}`);
          continue;
        }
        F.wrong++;
        F.misses.push(`${where}: ${field === 'DNS_CLIENT' ? `DNS_CLIENT is ${hit.flow.DNS_CLIENT}` : `transaction has ${JSON.stringify(pool.map((x) => x[field]))}`}`);
      }
    }
  }
  if (BYTES_ORACLE.includes(capture)) checkTcpBytes(flows, path.join(__dirname, '..', 'pcap', capture), fields);
  checkSuricataYaml(flows, capture, fields);
  const explained = [...explainedCount.values()].map((e) => ({ field: e.field, what: `${e.n} value(s)`, why: e.why }));
  return { fields, explained };
}

// ---- DNS over TCP from the capture's own bytes (classic pcap; Ethernet, null, SLL, raw IP) ----

/** TCP payload segments of a classic pcap: { us, src, dst, sport, dport, seq, data }. */
function tcpSegments(file) {
  const b = fs.readFileSync(file);
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) return [];
  const u32 = (o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const nano = u32(0) === 0xa1b23c4d;
  const link = u32(20);
  const out = [];
  for (let off = 24; off + 16 <= b.length; ) {
    const us = u32(off) * 1e6 + (nano ? Math.floor(u32(off + 4) / 1000) : u32(off + 4));
    const incl = u32(off + 8);
    const d = b.subarray(off + 16, Math.min(b.length, off + 16 + incl));
    off += 16 + incl;
    let ip;
    if (link === 1) ip = 14;
    else if (link === 0) ip = 4; // BSD null: a 4-byte address family
    else if (link === 113) ip = 16;
    else if (link === 101) ip = 0;
    else continue;
    if (link === 1 && d.length >= 14 && d.readUInt16BE(12) === 0x8100) ip += 4;
    if (d.length < ip + 20) continue;
    const v = d[ip] >> 4;
    let l4;
    let src;
    let dst;
    let end;
    if (v === 4) {
      if (d[ip + 9] !== 6) continue;
      l4 = ip + (d[ip] & 15) * 4;
      src = `${d[ip + 12]}.${d[ip + 13]}.${d[ip + 14]}.${d[ip + 15]}`;
      dst = `${d[ip + 16]}.${d[ip + 17]}.${d[ip + 18]}.${d[ip + 19]}`;
      end = Math.min(d.length, ip + d.readUInt16BE(ip + 2));
    } else continue; // the captures read here are IPv4
    if (d.length < l4 + 20) continue;
    const data = d.subarray(l4 + (d[l4 + 12] >> 4) * 4, end);
    out.push({ us, src, dst, sport: d.readUInt16BE(l4), dport: d.readUInt16BE(l4 + 2), seq: d.readUInt32BE(l4 + 4), syn: (d[l4 + 13] & 2) !== 0, data });
  }
  return out;
}

/** The DNS messages of each TCP direction: { tuple, us (of the last byte), id, qr, qd, name, wire }. */
function tcpDnsMessages(file) {
  const dirs = new Map();
  for (const s of tcpSegments(file)) {
    const k = `${s.src}|${s.sport}|${s.dst}|${s.dport}`;
    if (!dirs.has(k)) dirs.set(k, { tuple: s, next: null, bytes: [], us: [] });
    const d = dirs.get(k);
    if (s.syn) d.next = (s.seq + 1) >>> 0;
    if (!s.data.length) continue;
    if (d.next === null) d.next = s.seq;
    if (s.seq !== d.next) continue; // retransmission or out of order: these captures have none
    d.bytes.push(s.data);
    d.us.push(s.us);
    d.next = (s.seq + s.data.length) >>> 0;
  }
  const out = [];
  for (const d of dirs.values()) {
    const stream = Buffer.concat(d.bytes);
    // Time of the segment holding byte i.
    const ends = [];
    let acc = 0;
    for (const x of d.bytes) ends.push((acc += x.length));
    const usAt = (i) => d.us[ends.findIndex((e) => e > i)];
    for (let i = 0; i + 2 + 12 <= stream.length; ) {
      const len = stream.readUInt16BE(i);
      const m = stream.subarray(i + 2, i + 2 + len);
      if (m.length < len || len < 12) break;
      // The first question's name, walked label by label (an uncompressed name in place).
      let o = 12;
      const labels = [];
      let wire = 1;
      while (o < m.length && m[o] !== 0 && m[o] < 0x40) {
        labels.push(m.subarray(o + 1, o + 1 + m[o]).toString('latin1'));
        wire += 1 + m[o];
        o += 1 + m[o];
      }
      const flags = m.readUInt16BE(2);
      out.push({ tuple: d.tuple, us: usAt(i + 2 + len - 1), id: m.readUInt16BE(0), qr: flags >> 15, qd: m.readUInt16BE(4), name: labels.join('.'), wire });
      i += 2 + len;
    }
  }
  return out;
}

function checkTcpBytes(flows, file, fields) {
  const row = (n) => (fields[n] ??= { expected: 0, found: 0, wrong: 0, misses: [] });
  for (const m of tcpDnsMessages(file)) {
    const t = { src: m.tuple.src, dst: m.tuple.dst, sport: m.tuple.sport, dport: m.tuple.dport, l4: 'tcp' };
    const hit = flowOf(flows, t, m.us);
    const txns = hit && hit.flow.L7_PROTO === 5 && Array.isArray(hit.flow.DNS_TRANSACTIONS) ? hit.flow.DNS_TRANSACTIONS : [];
    const where = `${m.qr ? 'response' : 'query'} ${m.id} (capture bytes, TCP port ${m.tuple.dport})`;
    const idRow = row('DNS_QUERY_ID (capture bytes)');
    idRow.expected++;
    const pool = txns.filter((x) => x.DNS_QUERY_ID === m.id);
    if (pool.length) idRow.found++;
    else idRow.misses.push(`${where}: ${hit ? (txns.length ? 'no transaction with this id' : 'flow not labelled DNS') : 'flow not found'}`);
    if (!m.qd || !pool.length) continue;
    const qRow = row('DNS_QUERY (capture bytes)');
    qRow.expected++;
    const anomalies = String(hit.flow.FLOW_ANOMALIES ?? '').split(',');
    if (m.wire > 255) {
      // RFC 1035 §2.3.4: a name is at most 255 bytes; the probe keeps none and names it.
      if (pool.some((x) => x.DNS_QUERY === undefined) && anomalies.includes('dns_name_too_long')) qRow.found++;
      else {
        qRow.wrong++;
        qRow.misses.push(`${where}: a ${m.wire}-byte name: expected no DNS_QUERY and dns_name_too_long, got ${JSON.stringify(pool.map((x) => x.DNS_QUERY))} ${anomalies}`);
      }
    } else if (pool.some((x) => x.DNS_QUERY !== undefined && sameName(x.DNS_QUERY, m.name))) qRow.found++;
    else {
      qRow.wrong++;
      qRow.misses.push(`${where}: query ${JSON.stringify(m.name)} not in ${JSON.stringify(pool.map((x) => x.DNS_QUERY))}`);
    }
  }
}

// ---- suricata-verify's test.yaml: counts of DNS request and response events ----
function checkSuricataYaml(flows, capture, fields) {
  const yaml = path.join(__dirname, '..', 'pcap', capture.replace(/\.pcap$/, '.suricata-test.yaml'));
  if (!fs.existsSync(yaml)) return;
  // Each filter: "count: N" with a "dns.type: request|response" match.
  const want = {};
  for (const block of fs.readFileSync(yaml, 'utf8').split(/\n\s*- filter:/).slice(1)) {
    const c = /count:\s*(\d+)/.exec(block);
    const ty = /dns\.type:\s*(request|response)/.exec(block);
    if (c && ty) want[ty[1]] = Number(c[1]);
  }
  const txns = flows.filter((f) => f.L7_PROTO === 5).flatMap((f) => f.DNS_TRANSACTIONS ?? []);
  const got = { request: txns.length, response: txns.filter((x) => x.DNS_RET_CODE !== undefined).length };
  for (const [type, n] of Object.entries(want)) {
    const r = (fields[`DNS ${type}s (suricata test.yaml)`] ??= { expected: 0, found: 0, wrong: 0, misses: [] });
    r.expected += n;
    r.found += Math.min(n, got[type]);
    if (got[type] !== n) r.misses.push(`${got[type]} ${type}s in the records, suricata counts ${n}`);
  }
}

module.exports = { protocol, captures, check };
