// DHCP accuracy module for test/tools/accuracy.js: every DHCP and DHCPv6 value tshark extracts
// (<capture>.tshark.jsonl, MANIFEST "Oracles": dhcp.type/id, message type, hw.mac_addr,
// ciaddr/yiaddr/siaddr/giaddr, hostname, requested IP, server id, router, DNS servers, subnet
// mask, lease time, domain name, vendor class; dhcpv6 msgtype, xid, iaaddr, DNS servers,
// client domain) must be in the probe's record of the same flow (same 5-tuple, packet time
// inside the flow), in the message it came from: the flow's DHCP_TRANSACTIONS entry of the
// packet's transaction id, DHCP_MESSAGES[k] for the k-th packet of that id in the flow.
//
// Checks of the probe's own semantics come with it:
// - "L7_PROTO": a flow with DHCP packets is DHCP (18), with DHCPv6 packets DHCPV6 (103);
// - "<FIELD> (transaction)": a transaction's field is the latest non-empty value of its
//   messages as tshark read them, and the flat nProbe fields are those of the first transaction;
// - the upstream oracles next to the captures: Zeek's dhcp.log (zeek_dhcp_lifecycle), Arkime's
//   session (arkime_wireshark_dhcp_dora), suricata-verify's option-52 checks
//   (suricata_dhcp_option52_overload).
// An address tshark shows as 0.0.0.0 ("not set", RFC 2131 §2) is expected as an absent key.
// Misses are explained only for a reason computed from the packet itself (the documented
// client-IP precedence, chaddr vs the client identifier's address, the caps).
'use strict';
const fs = require('fs');
const path = require('path');

const PCAP = path.join(__dirname, '..', 'pcap');
const DHCP = 18;
const DHCPV6 = 103;
const MAX_MESSAGES = 16; // kMaxMessagesPerTransaction in native/dissect/dhcp.cc
const MAX_TRANSACTIONS = 64;

// tshark key -> [probe key in DHCP_MESSAGES, kind]
const V4 = {
  'dhcp.type': ['DHCP_OP', 'num'],
  'dhcp.option.dhcp': ['DHCP_MESSAGE_TYPE', 'num'],
  'dhcp.option.hostname': ['DHCP_CLIENT_NAME', 'str'],
  'dhcp.ip.server': ['DHCP_NEXT_SERVER_IP', 'addr'],
  'dhcp.ip.relay': ['DHCP_RELAY_IP', 'addr'],
  'dhcp.option.dhcp_server_id': ['DHCP_SERVER_ID', 'str'],
  'dhcp.option.subnet_mask': ['DHCP_SUBNET_MASK', 'str'],
  'dhcp.option.ip_address_lease_time': ['DHCP_LEASE_TIME', 'num'],
  'dhcp.option.router': ['DHCP_ROUTERS', 'list'],
  'dhcp.option.domain_name_server': ['DHCP_DNS_SERVERS', 'list'],
  'dhcp.option.domain_name': ['DHCP_DOMAIN_NAME', 'str'],
  'dhcp.option.vendor_class_id': ['DHCP_VENDOR_CLASS', 'str'],
};
// Feed DHCP_CLIENT_IP (precedence yiaddr > ciaddr > option 50, as dhcp.cc documents).
const CLIENT_IP_SOURCES = ['dhcp.ip.your', 'dhcp.ip.client', 'dhcp.option.requested_ip_address'];
const V6 = {
  'dhcpv6.msgtype': ['DHCP_MESSAGE_TYPE', 'num'],
  'dhcpv6.iaaddr.ip': ['DHCP_CLIENT_IPV6', 'list'],
  'dhcpv6.dns_server': ['DHCP_DNS_SERVERS', 'list'],
  'dhcpv6.client_domain': ['DHCP_CLIENT_NAME', 'str'],
};
const NPROBE_FIELDS = ['DHCP_MESSAGE_TYPE', 'DHCP_CLIENT_MAC', 'DHCP_CLIENT_IP', 'DHCP_CLIENT_NAME', 'DHCP_REMOTE_ID', 'DHCP_SUBSCRIBER_ID'];

const arr = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const tsUs = (ts) => {
  const [s, f = '0'] = String(ts).split('.');
  return Number(s) * 1e6 + Number((f + '000000').slice(0, 6));
};

function flowKey(f) {
  return {
    a: f.IPV4_SRC_ADDR ?? f.IPV6_SRC_ADDR,
    b: f.IPV4_DST_ADDR ?? f.IPV6_DST_ADDR,
    ap: f.L4_SRC_PORT,
    bp: f.L4_DST_PORT,
  };
}

function findFlow(flows, pkt) {
  const t = tsUs(pkt.ts);
  return flows.find((f) => {
    if (f.PROTOCOL !== 17) return false;
    const k = flowKey(f);
    const same = (k.a === pkt.src && k.ap === pkt.sport && k.b === pkt.dst && k.bp === pkt.dport) || (k.b === pkt.src && k.bp === pkt.sport && k.a === pkt.dst && k.ap === pkt.dport);
    return same && t >= f.FLOW_START_MICROSECONDS && t <= f.FLOW_END_MICROSECONDS;
  });
}

function makeCounter() {
  const fields = {};
  const explained = [];
  const row = (name) => (fields[name] ??= { expected: 0, found: 0, wrong: 0, misses: [] });
  const notes = {}; // field|what|why -> count, folded into one explanation line each
  return {
    fields,
    explained,
    hit(name) {
      const r = row(name);
      r.expected++;
      r.found++;
    },
    wrong(name, text) {
      const r = row(name);
      r.expected++;
      r.wrong++;
      r.misses.push(text);
    },
    miss(name, text) {
      const r = row(name);
      r.expected++;
      r.misses.push(text);
    },
    // Expected, not found, for a reason computed from the packet: listed, not a failure.
    explain(name, what, why, counted = true) {
      if (counted) row(name).expected++;
      const k = `${name}\u0000${what}\u0000${why}`;
      notes[k] = (notes[k] ?? 0) + 1;
    },
    // Compares one expected value with what the probe has.
    check(name, want, have, where) {
      if (have === undefined) this.miss(name, `${where}: want ${JSON.stringify(want)}, record has none`);
      else if (have === want) this.hit(name);
      else this.wrong(name, `${where}: want ${JSON.stringify(want)}, record has ${JSON.stringify(have)}`);
    },
    finish() {
      for (const [k, n] of Object.entries(notes)) {
        const [field, what, why] = k.split('\u0000');
        explained.push({ field, what: `${what} (${n}x)`, why });
      }
      return { fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v])), explained };
    },
  };
}

// ---- per-packet checks ----------------------------------------------------------------------

function checkV4Message(c, pdu, msg, where) {
  for (const [key, [field, kind]] of Object.entries(V4)) {
    const values = arr(pdu[key]);
    if (values.length === 0) continue;
    if (kind === 'list') {
      const have = msg[field] === undefined ? undefined : msg[field].split(',');
      for (const v of values) {
        if (!have) c.miss(field, `${where}: want ${v}, record has none`);
        else if (have.includes(v)) c.hit(field);
        else c.wrong(field, `${where}: want ${v}, record has ${msg[field]}`);
      }
      continue;
    }
    for (const v of values) {
      if (kind === 'addr' && v === '0.0.0.0') {
        // The all-zero address means "not set" (RFC 2131 §2): expected as an absent key.
        if (msg[field] === undefined) c.hit(field);
        else c.wrong(field, `${where}: ${key} is 0.0.0.0, record has ${msg[field]}`);
        continue;
      }
      c.check(field, kind === 'num' ? Number(v) : v, msg[field], where);
    }
  }
  // DHCP_CLIENT_MAC: tshark lists chaddr first, then the client identifier's address (option 61).
  const macs = arr(pdu['dhcp.hw.mac_addr']);
  macs.forEach((m, i) => {
    if (i > 0 && m !== macs[0] && msg.DHCP_CLIENT_MAC === macs[0]) {
      c.explain('DHCP_CLIENT_MAC', `client identifier (option 61) address ${m} differs from chaddr ${macs[0]}`, 'DHCP_CLIENT_MAC is chaddr, the client hardware address of RFC 2131 §2; option 61 is used only when chaddr is not a 6-byte address');
      return;
    }
    c.check('DHCP_CLIENT_MAC', m, msg.DHCP_CLIENT_MAC, where);
  });
  // DHCP_CLIENT_IP: the first non-zero source in precedence order wins; the others are
  // expected too, and found when they carry the same address.
  // A 0.0.0.0 source ("no address", RFC 2131 §4.3.1) is found when it gave nothing: the
  // record has no address, or the address of another, non-zero source of the same message.
  const nonZero = CLIENT_IP_SOURCES.flatMap((k) => arr(pdu[k])).filter((v) => v !== '0.0.0.0');
  let winner;
  for (const key of CLIENT_IP_SOURCES) {
    for (const v of arr(pdu[key])) {
      if (v === '0.0.0.0') {
        const have = msg.DHCP_CLIENT_IP;
        if (have === undefined || nonZero.includes(have)) c.hit('DHCP_CLIENT_IP');
        else c.wrong('DHCP_CLIENT_IP', `${where}: ${key} is 0.0.0.0, record has ${have}`);
        continue;
      }
      if (winner === undefined || v === winner) {
        winner = v;
        c.check('DHCP_CLIENT_IP', v, msg.DHCP_CLIENT_IP, `${where} ${key}`);
      } else {
        c.explain('DHCP_CLIENT_IP', `${key} ${v} behind ${winner} of a higher-precedence source`, 'one client address per message: yiaddr, else ciaddr, else option 50 (native/dissect/dhcp.cc)');
      }
    }
  }
}

function checkV6Message(c, pdu, msg, where) {
  for (const [key, [field, kind]] of Object.entries(V6)) {
    for (const v of arr(pdu[key])) {
      if (kind === 'list') {
        const have = msg[field] === undefined ? undefined : msg[field].split(',');
        if (!have) c.miss(field, `${where}: want ${v}, record has none`);
        else if (have.includes(v)) c.hit(field);
        else c.wrong(field, `${where}: want ${v}, record has ${msg[field]}`);
      } else {
        c.check(field, kind === 'num' ? Number(v) : v, msg[field], where);
      }
    }
  }
}

// The transaction's fields: latest non-empty value among the messages tshark saw.
function expectedMerged(pdus, v6) {
  const m = {};
  for (const p of pdus) {
    const type = Number(v6 ? p['dhcpv6.msgtype'] : p['dhcp.option.dhcp']);
    if (type) m.DHCP_MESSAGE_TYPE = type;
    if (v6) {
      if (p['dhcpv6.client_domain'] !== undefined) m.DHCP_CLIENT_NAME = arr(p['dhcpv6.client_domain'])[0];
      continue;
    }
    const mac = arr(p['dhcp.hw.mac_addr'])[0];
    if (mac) m.DHCP_CLIENT_MAC = mac;
    for (const key of CLIENT_IP_SOURCES) {
      const v = arr(p[key])[0];
      if (v && v !== '0.0.0.0') {
        m.DHCP_CLIENT_IP = v;
        break;
      }
    }
    if (p['dhcp.option.hostname'] !== undefined) m.DHCP_CLIENT_NAME = arr(p['dhcp.option.hostname'])[0];
  }
  return m;
}

// ---- upstream oracles -------------------------------------------------------------------------

const V4_TYPE_NAMES = ['', 'DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE', 'INFORM'];

// All messages of the capture's DHCPv4 flows, by xid.
function messagesByXid(flows) {
  const by = new Map();
  for (const f of flows) {
    for (const t of f.DHCP_TRANSACTIONS ?? []) {
      if (f.L7_PROTO !== DHCP) continue;
      const e = by.get(t.DHCP_XID) ?? { messages: [], transactions: [], flows: [] };
      e.messages.push(...t.DHCP_MESSAGES);
      e.transactions.push(t);
      e.flows.push(f);
      by.set(t.DHCP_XID, e);
    }
  }
  return by;
}

const multiset = (xs) => [...xs].sort().join(',');

// Zeek dhcp.log: one line per DHCP exchange across connections (no xid column): matched to
// the probe's xid whose message types are the same multiset as the line's msg_types.
function checkZeek(c, flows, file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const names = lines.find((l) => l.startsWith('#fields')).split('\t').slice(1);
  const by = messagesByXid(flows);
  for (const l of lines) {
    if (!l || l.startsWith('#')) continue;
    const z = Object.fromEntries(l.split('\t').map((v, i) => [names[i], v]));
    const types = z.msg_types.split(',');
    const match = [...by.entries()].find(([, e]) => multiset(e.messages.map((m) => V4_TYPE_NAMES[m.DHCP_MESSAGE_TYPE] ?? '?')) === multiset(types));
    const where = `zeek line ${z.msg_types}`;
    c.check('zeek msg_types', true, match !== undefined, where);
    if (!match) continue;
    const [, e] = match;
    const set = (k) => z[k] !== '-' && z[k] !== '(empty)';
    const anyMsg = (field, v) => e.messages.some((m) => m[field] === v);
    if (set('mac')) c.check('zeek mac', true, anyMsg('DHCP_CLIENT_MAC', z.mac), `${where}: mac ${z.mac}`);
    if (set('host_name')) c.check('zeek host_name', true, anyMsg('DHCP_CLIENT_NAME', z.host_name), `${where}: host_name ${z.host_name}`);
    if (set('domain')) c.check('zeek domain', true, anyMsg('DHCP_DOMAIN_NAME', z.domain), `${where}: domain ${z.domain}`);
    if (set('lease_time')) c.check('zeek lease_time', true, anyMsg('DHCP_LEASE_TIME', Math.round(Number(z.lease_time))), `${where}: lease ${z.lease_time}`);
    // Zeek keeps the latest requested address of the exchange: the client transaction's field.
    if (set('requested_addr')) c.check('zeek requested_addr', true, e.transactions.some((t) => t.DHCP_MESSAGES.some((m) => m.DHCP_OP === 1) && t.DHCP_CLIENT_IP === z.requested_addr), `${where}: requested ${z.requested_addr}`);
    // assigned_addr: yiaddr of the ACK.
    if (set('assigned_addr')) c.check('zeek assigned_addr', true, e.messages.some((m) => m.DHCP_MESSAGE_TYPE === 5 && m.DHCP_CLIENT_IP === z.assigned_addr), `${where}: assigned ${z.assigned_addr}`);
    for (const k of ['client_message', 'server_message']) if (set(k)) c.check(`zeek ${k}`, true, anyMsg('DHCP_MESSAGE_TEXT', z[k]), `${where}: ${k} ${z[k]}`);
    // client_addr / server_addr come from IP headers: an endpoint of a flow carrying this xid.
    for (const k of ['client_addr', 'server_addr']) {
      if (set(k)) c.check(`zeek ${k}`, true, e.flows.some((f) => [f.IPV4_SRC_ADDR, f.IPV4_DST_ADDR].includes(z[k])), `${where}: ${k} ${z[k]}`);
    }
  }
}

// Arkime's session JSON (the DORA capture): ids, MACs, request IPs and message types.
function checkArkime(c, flows, file) {
  const s = JSON.parse(fs.readFileSync(file, 'utf8')).sessions3[0].body.dhcp;
  const by = messagesByXid(flows);
  for (const id of s.id) c.check('arkime id', true, by.has(parseInt(id, 16)), `arkime id ${id}`);
  const all = [...by.values()].flatMap((e) => e.messages);
  for (const m of s.mac) c.check('arkime mac', true, all.some((x) => x.DHCP_CLIENT_MAC === m), `arkime mac ${m}`);
  for (const t of s.type) c.check('arkime type', true, all.some((x) => V4_TYPE_NAMES[x.DHCP_MESSAGE_TYPE] === t), `arkime type ${t}`);
  for (const ip of s.requestIp) {
    // 0.0.0.0 ("no address") is found as a client message without DHCP_CLIENT_IP.
    if (ip === '0.0.0.0') c.check('arkime requestIp', true, all.some((x) => x.DHCP_OP === 1 && x.DHCP_CLIENT_IP === undefined), `arkime requestIp ${ip}`);
    else c.check('arkime requestIp', true, all.some((x) => x.DHCP_CLIENT_IP === ip), `arkime requestIp ${ip}`);
  }
}

// suricata-verify test.yaml: frame (pcap_cnt) -> dhcp_type, dns_servers[0], routers[0].
function checkSuricata(c, flows, packets, file) {
  const blocks = fs.readFileSync(file, 'utf8').split('- filter:').slice(1);
  for (const b of blocks) {
    const get = (k) => (b.match(new RegExp(`^\\s*${k.replace(/[.[\]]/g, '\\$&')}:\\s*(\\S+)`, 'm')) ?? [])[1];
    const frame = Number(get('pcap_cnt'));
    const pkt = packets.find((p) => p.frame === frame);
    const msg = pkt && locate(flows, packets, pkt).msg;
    const where = `suricata pcap_cnt ${frame}`;
    if (!msg) {
      c.miss('suricata dhcp_type', `${where}: no message in the record`);
      continue;
    }
    c.check('suricata dhcp_type', get('dhcp.dhcp_type'), (V4_TYPE_NAMES[msg.DHCP_MESSAGE_TYPE] ?? '').toLowerCase(), where);
    c.check('suricata dns_servers[0]', get('dhcp.dns_servers[0]'), (msg.DHCP_DNS_SERVERS ?? '').split(',')[0] || undefined, where);
    c.check('suricata routers[0]', get('dhcp.routers[0]'), (msg.DHCP_ROUTERS ?? '').split(',')[0] || undefined, where);
  }
}

// The record's message for one tshark packet: flow, transaction by xid, k-th of that xid.
function locate(flows, packets, pkt) {
  const flow = findFlow(flows, pkt);
  if (!flow) return {};
  const v6 = !!pkt.dhcpv6;
  const pdu = (pkt.dhcp ?? pkt.dhcpv6)[0];
  const xid = parseInt(v6 ? pdu['dhcpv6.xid'] : pdu['dhcp.id'], 16);
  const k = packets.filter((p) => p.frame < pkt.frame && (p.dhcp || p.dhcpv6) && findFlow([flow], p) && parseInt(p.dhcp ? p.dhcp[0]['dhcp.id'] : p.dhcpv6[0]['dhcpv6.xid'], 16) === xid).length;
  const tx = (flow.DHCP_TRANSACTIONS ?? []).find((t) => t.DHCP_XID === xid);
  return { flow, tx, k, xid, msg: tx?.DHCP_MESSAGES[k] };
}

// ---- the module -------------------------------------------------------------------------------

function check(flows, packets, capture) {
  const c = makeCounter();
  const dhcpPackets = packets.filter((p) => p.dhcp || p.dhcpv6);
  const perTx = new Map(); // flow id|xid -> { flow, tx, pdus, v6 }
  for (const pkt of dhcpPackets) {
    const v6 = !!pkt.dhcpv6;
    const pdus = pkt.dhcp ?? pkt.dhcpv6;
    const where = `frame ${pkt.frame}`;
    if (pdus.length !== 1) c.miss('DHCP_XID', `${where}: ${pdus.length} DHCP PDUs in one UDP datagram`);
    const { flow, tx, k, xid, msg } = locate(flows, packets, pkt);
    if (!flow) {
      c.miss('L7_PROTO', `${where}: no flow ${pkt.src}:${pkt.sport} -> ${pkt.dst}:${pkt.dport}`);
      continue;
    }
    c.check('L7_PROTO', v6 ? DHCPV6 : DHCP, flow.L7_PROTO, where);
    if (!tx) {
      if ((flow.DHCP_TRANSACTIONS ?? []).length >= MAX_TRANSACTIONS) c.explain('DHCP_XID', `xid ${xid} after ${MAX_TRANSACTIONS} transactions`, 'transactions per flow are capped (dhcp_transactions_cap)');
      else c.miss('DHCP_XID', `${where}: no transaction ${xid.toString(16)} in flow ${flow.FLOW_ID}`);
      continue;
    }
    c.hit('DHCP_XID');
    const key = `${flow.FLOW_ID}|${xid}`;
    const e = perTx.get(key) ?? { flow, tx, pdus: [], v6 };
    e.pdus.push(pdus[0]);
    perTx.set(key, e);
    if (!msg) {
      if (k >= MAX_MESSAGES) c.explain('DHCP_MESSAGES', `message ${k + 1} of one transaction`, `messages per transaction are capped at ${MAX_MESSAGES} (dhcp_messages_cap)`);
      else c.miss('DHCP_MESSAGES', `${where}: message ${k} of xid ${xid.toString(16)} missing`);
      continue;
    }
    if (v6) checkV6Message(c, pdus[0], msg, where);
    else checkV4Message(c, pdus[0], msg, where);
  }

  // Transaction fields = latest non-empty of its messages; flat fields = first transaction.
  for (const { flow, tx, pdus, v6 } of perTx.values()) {
    const want = expectedMerged(pdus, v6);
    for (const [field, v] of Object.entries(want)) c.check(`${field} (transaction)`, v, tx[field], `flow ${flow.FLOW_ID} xid ${tx.DHCP_XID.toString(16)}`);
    if (tx === flow.DHCP_TRANSACTIONS[0]) {
      for (const f of NPROBE_FIELDS) c.check('flat = first transaction', tx[f] ?? null, flow[f] ?? null, `flow ${flow.FLOW_ID} ${f}`);
    }
  }

  const base = path.join(PCAP, capture.replace(/\.pcap(ng)?$/, ''));
  if (fs.existsSync(`${base}.zeek.dhcp.log`)) checkZeek(c, flows, `${base}.zeek.dhcp.log`);
  if (fs.existsSync(`${base}.arkime.test.json`)) checkArkime(c, flows, `${base}.arkime.test.json`);
  if (fs.existsSync(`${base}.suricata-test.yaml`) && capture.startsWith('dhcp/')) checkSuricata(c, flows, packets, `${base}.suricata-test.yaml`);
  return c.finish();
}

// Every capture whose tshark oracle has DHCP or DHCPv6 packets: the DHCP folder, the fuzzed
// DHCP captures in malformed/, and the DHCP flows of the mixed captures.
function captures() {
  const out = [];
  for (const dir of ['dhcp', 'malformed', 'mixed']) {
    for (const f of fs.readdirSync(path.join(PCAP, dir)).sort()) {
      if (!/\.pcap(ng)?$/.test(f)) continue;
      const oracle = path.join(PCAP, dir, f.replace(/\.pcap(ng)?$/, '.tshark.jsonl'));
      if (!fs.existsSync(oracle)) continue;
      const text = fs.readFileSync(oracle, 'utf8');
      if (dir === 'dhcp' || text.includes('"dhcp"') || text.includes('"dhcpv6"')) out.push(`${dir}/${f}`);
    }
  }
  return out;
}

module.exports = { protocol: 'DHCP', captures: captures(), check };
