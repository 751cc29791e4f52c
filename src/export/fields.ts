// Every information element the probe can export, under nProbe's names and ids: the core flow
// elements (IANA ids from the IPFIX registry / RFC 3954 for NetFlow v9; ntop's private ones
// under PEN 35632 with nProbe's numbering, as `nprobe -H` lists them) merged with the field
// tables of plugins/index.ts, so a field a plugin adds is exportable and listed by -H at once.
//
// Numbering of ntop's private elements: IPFIX carries id N with the enterprise bit and PEN
// 35632; NetFlow v9 has no enterprise numbers and nProbe sends the same element as field type
// 57472 + N (DNS_QUERY: IPFIX 35632.205 = NetFlow v9 57677; HTTP_URL: 35632.180 = 57652).
// Plugin tables give N (the IPFIX id); an id already in the v9 range (>= 57472) is taken as
// the v9 number and converted.
import { FieldType, PLUGINS } from '../../plugins';
import { NTOP_PEN } from '../../plugins/types';
import { FlowRecord } from '../record';

/** Encodings the exporters know: the plugins' FieldType plus the core's time and MAC types. */
export type ElementType =
  | FieldType
  | 'macAddress'
  | 'dateTimeSeconds'
  | 'dateTimeMicroseconds'
  /** Milliseconds since the exporter's (re)initialisation: FIRST_SWITCHED/LAST_SWITCHED. */
  | 'sysUpTime';

/**
 * Reads an element's value off a flow. `rev` is true for the server->client half of a flow
 * exported as two unidirectional records (NetFlow v5, or v9/IPFIX templates without OUT_*
 * counters). Times come back as epoch milliseconds (sysUpTime, dateTimeMilliseconds, seconds
 * types) or epoch microseconds (dateTimeMicroseconds); the encoders convert. `uni` is true
 * when the flow is exported as unidirectional records (only TCP_FLAGS cares: the sender's).
 */
export type Getter = (f: FlowRecord, rev: boolean, uni: boolean) => number | string | undefined;

export interface ElementDef {
  /** nProbe element name: the -T name, the JSON key, the dump column. */
  name: string;
  /** IPFIX information element id (for ntop's, the id under PEN 35632). 0: no id, not exportable in v9/IPFIX. */
  id: number;
  /** Private enterprise number, 0 for IANA elements. */
  pen: number;
  /** NetFlow v9 field type (IANA id, or 57472 + id for ntop's). */
  v9Id: number;
  type: ElementType;
  /** Fixed length in NetFlow v9 (nProbe's "Len"); strings are truncated or zero-padded to it. */
  v9Len: number;
  /** Length in IPFIX templates; 65535 = variable length (RFC 7011 §7). */
  ipfixLen: number;
  /** Who fills it: "core" or the plugin's name. */
  plugin: string;
  /** Key in the Lua table ("" when no hook sees it). */
  lua: string;
  /** IPFIX name, also accepted in -T ("%octetDeltaCount"). */
  ipfixName?: string;
  aliases?: string[];
  description: string;
  get: Getter;
}

/** nProbe's NetFlow v9 numbering of ntop's private elements: 57472 + IPFIX id. */
export const NTOP_V9_BASE = 57472;
export const VARLEN = 65535;
/** v9 length of a string element nProbe's listing does not give. */
const DEFAULT_V9_STRING_LEN = 64;

/** nProbe's v9 lengths of plugin string elements (`nprobe -H`); the rest get DEFAULT_V9_STRING_LEN. */
const NPROBE_V9_STRING_LEN: Readonly<Record<string, number>> = {
  DNS_QUERY: 256, DNS_RESPONSE: 256,
  HTTP_URL: 128, HTTP_METHOD: 8, HTTP_REFERER: 128, HTTP_USER_AGENT: 256, HTTP_MIME: 256, HTTP_HOST: 64, HTTP_SITE: 64,
  HTTP_X_FORWARDED_FOR: 256, HTTP_VIA: 256,
  IMAP_LOGIN: 64, POP_USER: 64, SMTP_MAIL_FROM: 64, SMTP_RCPT_TO: 64,
  SIP_CALL_ID: 96, SIP_CALLING_PARTY: 96, SIP_CALLED_PARTY: 96, SIP_RTP_CODECS: 512, SIP_UAC: 96, SIP_UAS: 96, SIP_C_IP: 128, SIP_CALL_STATE: 12,
  RADIUS_USER_NAME: 32, RADIUS_CALLING_STATION_ID: 32, RADIUS_CALLED_STATION_ID: 32, RADIUS_NAS_IDENTIFIER: 24,
  RADIUS_USER_IMSI: 16, RADIUS_USER_IMEI: 16, RADIUS_ACCT_SESSION_ID: 24,
};

const TYPE_LEN: Record<ElementType, number> = {
  unsigned8: 1, unsigned16: 2, unsigned32: 4, unsigned64: 8,
  ipv4Address: 4, ipv6Address: 16, macAddress: 6,
  dateTimeSeconds: 4, dateTimeMilliseconds: 8, dateTimeMicroseconds: 8, sysUpTime: 4,
  string: VARLEN, json: VARLEN,
};

const isString = (t: ElementType): boolean => t === 'string' || t === 'json';

type CoreSpec = [name: string, id: number, pen: number, type: ElementType, v9Len: number, ipfixName: string, lua: string, description: string, get: Getter];

const ZERO: Getter = () => 0;
const addr = (f: FlowRecord, src: boolean): string | undefined => (src ? f.IPV4_SRC_ADDR ?? f.IPV6_SRC_ADDR : f.IPV4_DST_ADDR ?? f.IPV6_DST_ADDR);
const ms = (us: number): number => Math.floor(us / 1000);

// The core elements: what src/record.ts carries, plus the members of nProbe's default template
// this probe has no source for (SNMP interfaces, BGP AS, masks, next hop, TOS): always 0, so
// that the default template and v5 records are complete. In `rev` the addresses, ports, MACs,
// tunnel ids and per-direction counters swap; times stay the flow's (per-direction first/last
// times are not kept).
const CORE: CoreSpec[] = [
  ['IN_BYTES', 1, 0, 'unsigned64', 4, 'octetDeltaCount', '', 'Bytes client->server (IP layer); in a reverse record server->client', (f, r) => (r ? f.OUT_BYTES : f.IN_BYTES)],
  ['IN_PKTS', 2, 0, 'unsigned64', 4, 'packetDeltaCount', '', 'Packets client->server (every IP fragment counts); in a reverse record server->client', (f, r) => (r ? f.OUT_PKTS : f.IN_PKTS)],
  ['PROTOCOL', 4, 0, 'unsigned8', 1, 'protocolIdentifier', 'flow.protocol', 'IP protocol number', (f) => f.PROTOCOL],
  ['SRC_TOS', 5, 0, 'unsigned8', 1, 'ipClassOfService', '', 'TOS/DSCP: not tracked, always 0', ZERO],
  ['TCP_FLAGS', 6, 0, 'unsigned8', 1, 'tcpControlBits', '', 'OR of the TCP flags: both ways in a biflow record, the sender\'s in a unidirectional one', (f, r, u) => (u ? (r ? f.SERVER_TCP_FLAGS : f.CLIENT_TCP_FLAGS) : f.TCP_FLAGS)],
  ['L4_SRC_PORT', 7, 0, 'unsigned16', 2, 'sourceTransportPort', 'flow.sport', 'Client port (TCP/UDP/SCTP), 0 for other protocols', (f, r) => (r ? f.L4_DST_PORT : f.L4_SRC_PORT)],
  ['IPV4_SRC_ADDR', 8, 0, 'ipv4Address', 4, 'sourceIPv4Address', 'flow.from', 'IPv4 client address', (f, r) => (r ? f.IPV4_DST_ADDR : f.IPV4_SRC_ADDR)],
  ['IPV4_SRC_MASK', 9, 0, 'unsigned8', 1, 'sourceIPv4PrefixLength', '', 'Source prefix length: no routing data, always 0', ZERO],
  ['INPUT_SNMP', 10, 0, 'unsigned32', 4, 'ingressInterface', '', 'Input interface SNMP index: always 0', ZERO],
  ['L4_DST_PORT', 11, 0, 'unsigned16', 2, 'destinationTransportPort', 'flow.dport', 'Server port', (f, r) => (r ? f.L4_SRC_PORT : f.L4_DST_PORT)],
  ['IPV4_DST_ADDR', 12, 0, 'ipv4Address', 4, 'destinationIPv4Address', 'flow.to', 'IPv4 server address', (f, r) => (r ? f.IPV4_SRC_ADDR : f.IPV4_DST_ADDR)],
  ['IPV4_DST_MASK', 13, 0, 'unsigned8', 1, 'destinationIPv4PrefixLength', '', 'Destination prefix length: always 0', ZERO],
  ['OUTPUT_SNMP', 14, 0, 'unsigned32', 4, 'egressInterface', '', 'Output interface SNMP index: always 0', ZERO],
  ['IPV4_NEXT_HOP', 15, 0, 'ipv4Address', 4, 'ipNextHopIPv4Address', '', 'IPv4 next hop: always 0.0.0.0', () => '0.0.0.0'],
  ['SRC_AS', 16, 0, 'unsigned32', 4, 'bgpSourceAsNumber', '', 'Source BGP AS: always 0', ZERO],
  ['DST_AS', 17, 0, 'unsigned32', 4, 'bgpDestinationAsNumber', '', 'Destination BGP AS: always 0', ZERO],
  ['LAST_SWITCHED', 21, 0, 'sysUpTime', 4, 'flowEndSysUpTime', 'flow.endTime', 'Last packet: sysUpTime ms in NetFlow/IPFIX, epoch seconds in JSON and dumps', (f) => ms(f.FLOW_END_MICROSECONDS)],
  ['FIRST_SWITCHED', 22, 0, 'sysUpTime', 4, 'flowStartSysUpTime', 'flow.beginTime', 'First packet: sysUpTime ms in NetFlow/IPFIX, epoch seconds in JSON and dumps', (f) => ms(f.FLOW_START_MICROSECONDS)],
  ['OUT_BYTES', 23, 0, 'unsigned64', 4, 'postOctetDeltaCount', '', 'Bytes server->client (biflow records)', (f, r) => (r ? 0 : f.OUT_BYTES)],
  ['OUT_PKTS', 24, 0, 'unsigned64', 4, 'postPacketDeltaCount', '', 'Packets server->client (biflow records)', (f, r) => (r ? 0 : f.OUT_PKTS)],
  ['IPV6_SRC_ADDR', 27, 0, 'ipv6Address', 16, 'sourceIPv6Address', 'flow.from', 'IPv6 client address', (f, r) => (r ? f.IPV6_DST_ADDR : f.IPV6_SRC_ADDR)],
  ['IPV6_DST_ADDR', 28, 0, 'ipv6Address', 16, 'destinationIPv6Address', 'flow.to', 'IPv6 server address', (f, r) => (r ? f.IPV6_SRC_ADDR : f.IPV6_DST_ADDR)],
  ['IPV6_SRC_MASK', 29, 0, 'unsigned8', 1, 'sourceIPv6PrefixLength', '', 'IPv6 source prefix length: always 0', ZERO],
  ['IPV6_DST_MASK', 30, 0, 'unsigned8', 1, 'destinationIPv6PrefixLength', '', 'IPv6 destination prefix length: always 0', ZERO],
  ['IPV6_NEXT_HOP', 62, 0, 'ipv6Address', 16, 'ipNextHopIPv6Address', '', 'IPv6 next hop: always ::', () => '::'],
  ['ICMP_TYPE', 32, 0, 'unsigned16', 2, 'icmpTypeCodeIPv4', '', 'ICMP type * 256 + code of the first ICMP/ICMPv6 packet', (f) => f.ICMP_TYPE],
  ['IN_SRC_MAC', 56, 0, 'macAddress', 6, 'sourceMacAddress', '', 'Source MAC of the first packet (of the direction)', (f, r) => (r ? f.OUT_DST_MAC : f.IN_SRC_MAC)],
  ['OUT_DST_MAC', 57, 0, 'macAddress', 6, 'postDestinationMacAddress', '', 'Destination MAC of the first packet (of the direction)', (f, r) => (r ? f.IN_SRC_MAC : f.OUT_DST_MAC)],
  ['SRC_VLAN', 58, 0, 'unsigned16', 2, 'vlanId', '', 'Innermost 802.1Q VLAN id', (f) => f.SRC_VLAN],
  ['IP_PROTOCOL_VERSION', 60, 0, 'unsigned8', 1, 'ipVersion', '', '4 or 6', (f) => f.IP_PROTOCOL_VERSION],
  ['DIRECTION', 61, 0, 'unsigned8', 1, 'flowDirection', '', '0 = client->server record (or biflow), 1 = server->client record', (_f, r) => (r ? 1 : 0)],
  ['FLOW_END_REASON', 136, 0, 'unsigned8', 1, 'flowEndReason', '', '1 idle, 2 active timeout, 3 end of flow, 4 forced end, 5 lack of resources', (f) => f.FLOW_END_REASON],
  ['FLOW_ID', 148, 0, 'unsigned32', 4, 'flowId', 'flow.id', 'Sequential flow id', (f) => f.FLOW_ID],
  ['FLOW_START_SEC', 150, 0, 'dateTimeSeconds', 4, 'flowStartSeconds', '', 'Epoch seconds of the first packet', (f) => ms(f.FLOW_START_MICROSECONDS)],
  ['FLOW_END_SEC', 151, 0, 'dateTimeSeconds', 4, 'flowEndSeconds', '', 'Epoch seconds of the last packet', (f) => ms(f.FLOW_END_MICROSECONDS)],
  ['FLOW_START_MILLISECONDS', 152, 0, 'dateTimeMilliseconds', 8, 'flowStartMilliseconds', '', 'Epoch ms of the first packet', (f) => ms(f.FLOW_START_MICROSECONDS)],
  ['FLOW_END_MILLISECONDS', 153, 0, 'dateTimeMilliseconds', 8, 'flowEndMilliseconds', '', 'Epoch ms of the last packet', (f) => ms(f.FLOW_END_MICROSECONDS)],
  ['FLOW_START_MICROSECONDS', 154, 0, 'dateTimeMicroseconds', 8, 'flowStartMicroseconds', '', 'First packet (NTP timestamp on the wire, epoch us in JSON)', (f) => f.FLOW_START_MICROSECONDS],
  ['FLOW_END_MICROSECONDS', 155, 0, 'dateTimeMicroseconds', 8, 'flowEndMicroseconds', '', 'Last packet (NTP timestamp on the wire, epoch us in JSON)', (f) => f.FLOW_END_MICROSECONDS],
  ['FLOW_DURATION_MILLISECONDS', 161, 0, 'unsigned32', 4, 'flowDurationMilliseconds', '', 'Last - first packet (ms)', (f) => f.FLOW_DURATION_MILLISECONDS],
  ['BIFLOW_DIRECTION', 239, 0, 'unsigned8', 1, 'biflowDirection', '', '1 initiator (client->server record or biflow), 2 reverse initiator', (_f, r) => (r ? 2 : 1)],
  ['CLIENT_TCP_FLAGS', 78, NTOP_PEN, 'unsigned8', 1, '', '', 'OR of the client\'s TCP flags', (f) => f.CLIENT_TCP_FLAGS],
  ['SERVER_TCP_FLAGS', 79, NTOP_PEN, 'unsigned8', 1, '', '', 'OR of the server\'s TCP flags', (f) => f.SERVER_TCP_FLAGS],
  ['UPSTREAM_TUNNEL_ID', 106, NTOP_PEN, 'unsigned32', 4, '', '', 'GTP-U TEID seen client->server (flows inside a tunnel), else 0', (f, r) => (r ? f.DOWNSTREAM_TUNNEL_ID : f.UPSTREAM_TUNNEL_ID)],
  ['L7_PROTO', 118, NTOP_PEN, 'unsigned16', 2, '', 'flow.l7_proto', 'nDPI protocol id', (f) => f.L7_PROTO],
  ['L7_PROTO_NAME', 119, NTOP_PEN, 'string', 16, '', '', 'nDPI protocol name', (f) => f.L7_PROTO_NAME],
  ['DOWNSTREAM_TUNNEL_ID', 120, NTOP_PEN, 'unsigned32', 4, '', '', 'GTP-U TEID seen server->client, else 0', (f, r) => (r ? f.UPSTREAM_TUNNEL_ID : f.DOWNSTREAM_TUNNEL_ID)],
  // This probe's own: no nProbe id, so JSON, --tcp and dumps only.
  ['OUTER_FLOW_ID', 0, 0, 'unsigned64', 0, '', '', 'FLOW_ID of the GTP-U tunnel flow carrying this one (JSON and dumps only)', (f) => f.OUTER_FLOW_ID],
  ['FLOW_ANOMALIES', 0, 0, 'string', 0, '', '', 'Anomalies seen on the flow\'s packets, comma separated (JSON and dumps only)', (f) => f.FLOW_ANOMALIES],
  ['FLOW_VERDICT', 0, 0, 'unsigned8', 0, '', '', 'Only with a Lua intercept_hook: the connection\'s verdict, 1 pass, 2 drop, 3 check, 4 reject; 0 no hook ran (not TCP) (JSON and dumps only)', (f) => f.FLOW_VERDICT as number | undefined],
];

/** nProbe's other names for core elements (-T accepts them). */
const ALIASES: Readonly<Record<string, string[]>> = {
  IN_BYTES: ['SRC_TO_DST_BYTES'],
  IN_PKTS: ['SRC_TO_DST_PKTS'],
  OUT_BYTES: ['DST_TO_SRC_BYTES'],
  OUT_PKTS: ['DST_TO_SRC_PKTS'],
  IPV4_SRC_MASK: ['SRC_MASK'],
  IPV4_DST_MASK: ['DST_MASK'],
  L7_PROTO_NAME: ['APPLICATION_NAME'],
};

function v9IdOf(id: number, pen: number): number {
  if (pen === NTOP_PEN) return id >= NTOP_V9_BASE ? id : NTOP_V9_BASE + id;
  return id;
}

function ipfixIdOf(id: number, pen: number): number {
  return pen === NTOP_PEN && id >= NTOP_V9_BASE ? id - NTOP_V9_BASE : id;
}

function coreElement(s: CoreSpec): ElementDef {
  const [name, id, pen, type, v9Len, ipfixName, lua, description, get] = s;
  return {
    name, id, pen, v9Id: v9IdOf(id, pen), type, v9Len, ipfixLen: TYPE_LEN[type], plugin: 'core', lua,
    ipfixName: ipfixName || undefined, aliases: ALIASES[name], description, get,
  };
}

function pluginGetter(name: string, type: ElementType): Getter {
  if (type === 'json') {
    return (f) => {
      const v = f[name];
      return v === undefined || v === null ? undefined : typeof v === 'string' ? v : JSON.stringify(v);
    };
  }
  return (f) => f[name] as number | string | undefined;
}

/** Builds the table: core first, then each plugin's fields in plugins/index.ts order. */
export function buildElements(): ElementDef[] {
  const out = CORE.map(coreElement);
  const seen = new Set(out.map((e) => e.name));
  for (const p of PLUGINS) {
    for (const fd of p.fields) {
      if (seen.has(fd.name)) continue;
      seen.add(fd.name);
      const type = fd.type as ElementType;
      const id = ipfixIdOf(fd.id, fd.pen);
      out.push({
        name: fd.name, id, pen: fd.pen, v9Id: fd.id ? v9IdOf(id, fd.pen) : 0, type,
        v9Len: isString(type) ? NPROBE_V9_STRING_LEN[fd.name] ?? DEFAULT_V9_STRING_LEN : TYPE_LEN[type],
        ipfixLen: TYPE_LEN[type], plugin: p.name, lua: fd.lua, description: fd.description, get: pluginGetter(fd.name, type),
      });
    }
  }
  return out;
}

let cached: { list: ElementDef[]; byName: Map<string, ElementDef> } | null = null;

/** The element table (built once, after every plugin module has loaded). */
export function elements(): { list: ElementDef[]; byName: Map<string, ElementDef> } {
  if (!cached) {
    const list = buildElements();
    const byName = new Map<string, ElementDef>();
    for (const e of list) {
      byName.set(e.name.toUpperCase(), e);
      for (const a of e.aliases ?? []) byName.set(a.toUpperCase(), e);
      if (e.ipfixName) byName.set(e.ipfixName.toUpperCase(), e);
    }
    cached = { list, byName };
  }
  return cached;
}

/** Looks an element up by nProbe name, alias or IPFIX name (case-insensitive). */
export function elementByName(name: string): ElementDef | undefined {
  return elements().byName.get(name.toUpperCase());
}

/** True when the element can go into a NetFlow v9 / IPFIX template. */
export function exportable(e: ElementDef): boolean {
  return e.id > 0;
}

export function isStringType(t: ElementType): boolean {
  return isString(t);
}

/** nProbe's default template (`-T` omitted), from its documentation. */
export const DEFAULT_TEMPLATE =
  '%IPV4_SRC_ADDR %IPV4_DST_ADDR %INPUT_SNMP %OUTPUT_SNMP %IN_PKTS %IN_BYTES %FIRST_SWITCHED %LAST_SWITCHED %L4_SRC_PORT %L4_DST_PORT %TCP_FLAGS %PROTOCOL %SRC_TOS %SRC_AS %DST_AS';

/** nProbe's @NTOPNG@ shortcut (probe mode); elements this probe does not know are left out. */
const NTOPNG_TEMPLATE =
  '%IN_SRC_MAC %OUT_DST_MAC %INPUT_SNMP %OUTPUT_SNMP %SRC_VLAN %IPV4_SRC_ADDR %IPV4_DST_ADDR %L4_SRC_PORT %L4_DST_PORT %IPV6_SRC_ADDR %IPV6_DST_ADDR %SRC_TOS %IP_PROTOCOL_VERSION %PROTOCOL %L7_PROTO %IN_BYTES %IN_PKTS %OUT_BYTES %OUT_PKTS %FIRST_SWITCHED %LAST_SWITCHED %CLIENT_TCP_FLAGS %SERVER_TCP_FLAGS %DNS_QUERY %DNS_QUERY_TYPE %DNS_RET_CODE %HTTP_URL %HTTP_SITE %HTTP_METHOD %HTTP_RET_CODE %HTTP_USER_AGENT';

export class TemplateError extends Error {}

/**
 * Parses nProbe's -T syntax: "%NAME %NAME ..." (also "%NAME%", commas, an enclosing <...>),
 * @PLUGIN@ for every exportable field of a plugin (@DNS@, @SIP@ ...) and @NTOPNG@. Unknown names
 * are an error that says where to look; a name given twice counts once.
 */
export function parseTemplate(spec: string): ElementDef[] {
  let s = spec.trim();
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1);
  const out: ElementDef[] = [];
  const add = (e: ElementDef): void => {
    if (!out.includes(e)) out.push(e);
  };
  for (const tok of s.split(/[\s,]+/).filter(Boolean)) {
    const shortcut = /^@([A-Za-z0-9_]+)@$/.exec(tok);
    if (shortcut) {
      const key = shortcut[1].toUpperCase();
      if (key === 'NTOPNG') {
        for (const n of NTOPNG_TEMPLATE.split(' ')) {
          const e = elementByName(n.slice(1));
          if (e) add(e);
        }
        continue;
      }
      const plugin = PLUGINS.find((p) => p.name.toUpperCase() === key);
      if (!plugin) throw new TemplateError(`-T: unknown shortcut ${tok} (plugins: ${PLUGINS.map((p) => `@${p.name}@`).join(' ')})`);
      for (const fd of plugin.fields) {
        const e = elementByName(fd.name);
        if (e && exportable(e)) add(e);
      }
      continue;
    }
    const name = tok.replace(/^%/, '').replace(/%$/, '');
    if (!name || !/^[A-Za-z0-9_]+$/.test(name)) throw new TemplateError(`-T: cannot read "${tok}" (expected %NAME, see nprobe -H)`);
    const e = elementByName(name);
    if (!e) throw new TemplateError(`-T: unknown element %${name} (nprobe -H lists them)`);
    add(e);
  }
  if (out.length === 0) throw new TemplateError('-T: the template has no elements');
  return out;
}

/** The -H listing: every element with its ids, type, filling plugin and Lua key. */
export function listFields(): string {
  const { list } = elements();
  const header = ['NAME', 'IPFIX', 'PEN', 'NFv9', 'TYPE', 'V9 LEN', 'PLUGIN', 'LUA KEY', 'DESCRIPTION'];
  const rows = list.map((e) => [
    `%${e.name}`,
    e.id ? String(e.id) : '-',
    e.id ? String(e.pen) : '-',
    e.id ? String(e.v9Id) : '-',
    e.type,
    e.id ? String(e.v9Len) : '-',
    e.plugin,
    e.lua || '-',
    e.description + (e.aliases?.length ? ` [aliases: ${e.aliases.map((a) => '%' + a).join(' ')}]` : '') + (e.ipfixName ? ` [IPFIX: %${e.ipfixName}]` : ''),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === header.length - 1 ? 0 : r[i].length))));
  const fmt = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  const lines = [fmt(header), ...rows.map(fmt)];
  lines.push('');
  lines.push('IPFIX sends ntop\'s elements (PEN 35632) with the enterprise bit; NetFlow v9 sends them as field type 57472 + id.');
  lines.push('Strings are variable-length in IPFIX and fixed to "V9 LEN" bytes in NetFlow v9. Elements without ids: JSON, --tcp and dumps only.');
  lines.push(`Default template (-T omitted): ${DEFAULT_TEMPLATE}`);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------
// Templates: the element list of -T as NetFlow v9 / IPFIX template records.

export interface TemplateVariant {
  /** Template id on the wire (-U for the first one). */
  id: number;
  fields: ElementDef[];
  /** The IP version whose flows use it; 0 = every flow. */
  family: 0 | 4 | 6;
}

const V4_TO_V6: Readonly<Record<string, string>> = {
  IPV4_SRC_ADDR: 'IPV6_SRC_ADDR', IPV4_DST_ADDR: 'IPV6_DST_ADDR', IPV4_NEXT_HOP: 'IPV6_NEXT_HOP',
  IPV4_SRC_MASK: 'IPV6_SRC_MASK', IPV4_DST_MASK: 'IPV6_DST_MASK',
};
const V6_TO_V4: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(V4_TO_V6).map(([a, b]) => [b, a]));
const V4_ADDR = new Set(['IPV4_SRC_ADDR', 'IPV4_DST_ADDR', 'IPV4_NEXT_HOP']);
const V6_ADDR = new Set(['IPV6_SRC_ADDR', 'IPV6_DST_ADDR', 'IPV6_NEXT_HOP']);

/**
 * The templates one -T makes, as nProbe does: a template naming IPv4 addresses only (like the
 * default one) gets a twin for IPv6 flows with the IPv6 elements in their places (id -U + 1),
 * and the other way round; a template with both families (or neither) is used for every flow,
 * the absent family's addresses being zero.
 *
 * Bidirectional flows: a template with OUT_BYTES or OUT_PKTS exports one record per flow (IN_*
 * client->server, OUT_* server->client). Without them (the default template) each flow becomes
 * two unidirectional records, client->server and, when the server sent anything,
 * server->client with addresses, ports, MACs, TEIDs and counters swapped: what nProbe does,
 * and what collectors that know only IN_BYTES (nfdump's default view) can account correctly.
 */
export class TemplateSet {
  readonly variants: TemplateVariant[];
  readonly biflow: boolean;
  private readonly byFamily: Array<TemplateVariant | undefined> = [];

  constructor(fields: ElementDef[], baseId: number) {
    const bad = fields.filter((e) => !exportable(e));
    if (bad.length) throw new TemplateError(`-T: ${bad.map((e) => '%' + e.name).join(' ')} ${bad.length > 1 ? 'have' : 'has'} no NetFlow/IPFIX id (JSON, --tcp and dumps only)`);
    const names = new Set(fields.map((e) => e.name));
    const hasV4 = [...V4_ADDR].some((n) => names.has(n));
    const hasV6 = [...V6_ADDR].some((n) => names.has(n));
    const swap = (map: Readonly<Record<string, string>>): ElementDef[] =>
      fields.map((e) => (map[e.name] ? (elementByName(map[e.name]) as ElementDef) : e));
    if (hasV4 && !hasV6) {
      this.variants = [
        { id: baseId, fields, family: 4 },
        { id: baseId + 1, fields: swap(V4_TO_V6), family: 6 },
      ];
    } else if (hasV6 && !hasV4) {
      this.variants = [
        { id: baseId, fields, family: 6 },
        { id: baseId + 1, fields: swap(V6_TO_V4), family: 4 },
      ];
    } else {
      this.variants = [{ id: baseId, fields, family: 0 }];
    }
    for (const v of this.variants) {
      if (v.family) this.byFamily[v.family] = v;
      else this.byFamily[4] = this.byFamily[6] = v;
    }
    this.biflow = names.has('OUT_BYTES') || names.has('OUT_PKTS');
  }

  variantFor(f: FlowRecord): TemplateVariant {
    return this.byFamily[f.IP_PROTOCOL_VERSION === 6 ? 6 : 4] as TemplateVariant;
  }
}

// ---------------------------------------------------------------------------------------
// Values on the wire (network byte order).

/** Encoder state the values need: the sysUpTime origin, and counts of values that did not fit. */
export interface ValueContext {
  /** Epoch ms of the exporter's (re)initialisation: FIRST_SWITCHED = first packet - bootMs. */
  bootMs: number;
  /** Numbers larger than their field (e.g. > 4 GiB in nProbe's 4-byte v9 counters): sent saturated. */
  clamped: number;
  /** Strings cut to fit (v9 fixed lengths, or MAX_VARLEN_STRING in IPFIX). */
  truncated: number;
}

const TWO32 = 4294967296;
/** Seconds from the NTP epoch (1900) to the Unix epoch (RFC 7011 §6.1.9). */
const NTP_UNIX_OFFSET = 2208988800;

/** Writes an unsigned number into len bytes, saturating (and counting) when it does not fit. */
export function writeUnsigned(buf: Buffer, off: number, len: number, v: number, ctx: ValueContext): void {
  if (!(v > 0)) v = 0; // NaN, negatives, undefined
  if (len >= 8) {
    if (len > 8) buf.fill(0, off, off + len - 8);
    const o = off + len - 8;
    const hi = Math.floor(v / TWO32);
    buf.writeUInt32BE(Math.min(hi, 0xffffffff), o);
    buf.writeUInt32BE(v - hi * TWO32 >>> 0, o + 4);
    return;
  }
  const max = len === 4 ? 0xffffffff : len === 2 ? 0xffff : len === 1 ? 0xff : 2 ** (8 * len) - 1;
  if (v > max) {
    v = max;
    ctx.clamped++;
  }
  v = Math.floor(v);
  if (len === 4) buf.writeUInt32BE(v, off);
  else if (len === 2) buf.writeUInt16BE(v, off);
  else if (len === 1) buf[off] = v;
  else buf.writeUIntBE(v, off, len);
}

/** Dotted quad -> 4 bytes; anything else -> 0.0.0.0. */
export function writeIPv4(buf: Buffer, off: number, s: string | undefined): void {
  let n = 0;
  let acc = 0;
  let digits = 0;
  if (typeof s === 'string') {
    for (let i = 0; i <= s.length; i++) {
      const c = i < s.length ? s.charCodeAt(i) : 46;
      if (c === 46) {
        if (!digits || acc > 255 || n > 3) break;
        buf[off + n++] = acc;
        acc = 0;
        digits = 0;
      } else if (c >= 48 && c <= 57 && digits < 3) {
        acc = acc * 10 + c - 48;
        digits++;
      } else break;
    }
  }
  if (n !== 4) buf.fill(0, off, off + 4);
}

/** RFC 4291 text (with "::" and a trailing dotted quad) -> 16 bytes; anything else -> ::. */
export function writeIPv6(buf: Buffer, off: number, s: string | undefined): void {
  buf.fill(0, off, off + 16);
  if (typeof s !== 'string' || s.length < 2) return;
  const z = s.indexOf('%');
  if (z >= 0) s = s.slice(0, z);
  const dbl = s.indexOf('::');
  const parse = (part: string): number[] | null => {
    if (part === '') return [];
    const groups = part.split(':');
    const words: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (i === groups.length - 1 && g.includes('.')) {
        const tmp = Buffer.alloc(4);
        writeIPv4(tmp, 0, g);
        words.push(tmp.readUInt16BE(0), tmp.readUInt16BE(2));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        words.push(parseInt(g, 16));
      }
    }
    return words;
  };
  let words: number[] | null;
  if (dbl >= 0) {
    const head = parse(s.slice(0, dbl));
    const tail = parse(s.slice(dbl + 2));
    if (!head || !tail || head.length + tail.length > 7) return;
    words = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    words = parse(s);
    if (!words || words.length !== 8) return;
  }
  for (let i = 0; i < 8; i++) buf.writeUInt16BE(words[i], off + 2 * i);
}

/** "aa:bb:cc:dd:ee:ff" -> 6 bytes. */
export function writeMac(buf: Buffer, off: number, s: string | undefined): void {
  if (typeof s === 'string' && s.length === 17) {
    for (let i = 0; i < 6; i++) {
      const b = parseInt(s.substr(i * 3, 2), 16);
      buf[off + i] = Number.isNaN(b) ? 0 : b;
    }
  } else buf.fill(0, off, off + 6);
}

/** Epoch microseconds -> 64-bit NTP timestamp; the fraction's low 11 bits stay 0 (RFC 7011 §6.1.9). */
export function writeNtpMicros(buf: Buffer, off: number, us: number): void {
  if (!(us > 0)) us = 0;
  const sec = Math.floor(us / 1e6);
  const frac = Math.floor(((us - sec * 1e6) * TWO32) / 1e6);
  buf.writeUInt32BE((sec + NTP_UNIX_OFFSET) >>> 0, off);
  buf.writeUInt32BE((frac & ~0x7ff) >>> 0, off + 4);
}

/** Longest prefix of s whose UTF-8 form is at most max bytes (never splits a character). */
export function utf8Prefix(s: string, max: number): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= max) return b;
  let end = max;
  while (end > 0 && (b[end] & 0xc0) === 0x80) end--; // back off a continuation byte
  return b.subarray(0, end);
}

/**
 * Writes one field value at off and returns the offset after it. len: the field's length in
 * the template (VARLEN = variable, IPFIX only); maxVarlen caps a variable-length string.
 */
export function writeValue(buf: Buffer, off: number, e: ElementDef, len: number, v: number | string | undefined, ctx: ValueContext, maxVarlen: number): number {
  switch (e.type) {
    case 'unsigned8':
    case 'unsigned16':
    case 'unsigned32':
    case 'unsigned64':
      writeUnsigned(buf, off, len, typeof v === 'number' ? v : Number(v ?? 0), ctx);
      return off + len;
    case 'ipv4Address':
      writeIPv4(buf, off, v as string | undefined);
      return off + len;
    case 'ipv6Address':
      writeIPv6(buf, off, v as string | undefined);
      return off + len;
    case 'macAddress':
      writeMac(buf, off, v as string | undefined);
      return off + len;
    case 'sysUpTime': {
      // Milliseconds since bootMs, modulo 2^32 as sysUpTime wraps.
      const d = (v as number) - ctx.bootMs;
      buf.writeUInt32BE(d > 0 ? d % TWO32 >>> 0 : 0, off);
      return off + len;
    }
    case 'dateTimeSeconds':
      writeUnsigned(buf, off, len, Math.floor(((v as number) ?? 0) / 1000), ctx);
      return off + len;
    case 'dateTimeMilliseconds':
      writeUnsigned(buf, off, len, (v as number) ?? 0, ctx);
      return off + len;
    case 'dateTimeMicroseconds':
      writeNtpMicros(buf, off, (v as number) ?? 0);
      return off + len;
    case 'string':
    case 'json': {
      const s = v === undefined || v === null ? '' : String(v);
      if (len === VARLEN) {
        // RFC 7011 §7: one length byte below 255, else 255 and a 2-byte length.
        const b = utf8Prefix(s, maxVarlen);
        if (b.length < Buffer.byteLength(s)) ctx.truncated++;
        if (b.length < 255) buf[off++] = b.length;
        else {
          buf[off] = 255;
          buf.writeUInt16BE(b.length, off + 1);
          off += 3;
        }
        b.copy(buf, off);
        return off + b.length;
      }
      const b = utf8Prefix(s, len);
      if (b.length < Buffer.byteLength(s)) ctx.truncated++;
      b.copy(buf, off);
      buf.fill(0, off + b.length, off + len);
      return off + len;
    }
  }
}

/** Upper bound of a field's encoded size (for sizing the scratch record buffer). */
export function maxFieldSize(len: number, maxVarlen: number): number {
  return len === VARLEN ? 3 + maxVarlen : len;
}
