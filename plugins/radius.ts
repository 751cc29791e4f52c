// RADIUS plugin (native/dissect/radius.cc): RFC 2865 authentication, RFC 2866 accounting
// (+ RFC 2869 Gigawords), RFC 5176 Disconnect/CoA, 3GPP TS 29.061 vendor attributes.
// Field ids are nProbe's (`nprobe -H`, "Plugin Radius Protocol templates": NFv9 57712-57727 =
// IPFIX 35632.240-255). The flat fields describe the flow's first transaction (request and
// its response, matched by identifier); RADIUS_TRANSACTIONS lists all of them, at most 64
// (more are counted as the anomaly radius_transactions_cap).
import { Plugin, field } from './types';

const f = (name: string, id: number, type: Parameters<typeof field>[3], description: string) =>
  field('radius', name, id, type, description);

export const plugin: Plugin = {
  name: 'RADIUS',
  dissector: 'RADIUS',
  l7: [146],
  luaHook: 'checkRADIUSFlow',
  luaTable: 'radius',
  fields: [
    f('RADIUS_REQ_MSG_TYPE', 240, 'unsigned8', 'RADIUS request code (1 Access-Request, 4 Accounting-Request, 12 Status-Server, 40 Disconnect-Request, 43 CoA-Request)'),
    f('RADIUS_RSP_MSG_TYPE', 241, 'unsigned8', 'RADIUS response code (2 Access-Accept, 3 Access-Reject, 5 Accounting-Response, 11 Access-Challenge, 41/42 Disconnect-ACK/NAK, 44/45 CoA-ACK/NAK)'),
    f('RADIUS_USER_NAME', 242, 'string', 'User-Name (attribute 1)'),
    f('RADIUS_CALLING_STATION_ID', 243, 'string', 'Calling-Station-Id (attribute 31)'),
    f('RADIUS_CALLED_STATION_ID', 244, 'string', 'Called-Station-Id (attribute 30)'),
    f('RADIUS_NAS_IP_ADDR', 245, 'ipv4Address', 'NAS-IP-Address (attribute 4)'),
    f('RADIUS_NAS_IDENTIFIER', 246, 'string', 'NAS-Identifier (attribute 32)'),
    f('RADIUS_USER_IMSI', 247, 'string', '3GPP-IMSI (vendor 10415, sub-attribute 1), decimal digits'),
    // nProbe's -H describes 248 as "RADIUS User MSISDN (Extension)"; the element name says IMEI,
    // and that is what it carries here.
    f('RADIUS_USER_IMEI', 248, 'string', '3GPP-IMEISV (vendor 10415, sub-attribute 20), decimal digits'),
    f('RADIUS_FRAMED_IP_ADDR', 249, 'ipv4Address', 'Framed-IP-Address (attribute 8)'),
    f('RADIUS_ACCT_SESSION_ID', 250, 'string', 'Acct-Session-Id (attribute 44)'),
    f('RADIUS_ACCT_STATUS_TYPE', 251, 'unsigned8', 'Acct-Status-Type (attribute 40: 1 Start, 2 Stop, 3 Interim-Update, 7 Accounting-On, 8 Accounting-Off)'),
    // nProbe declares 4 octets; the value here is Gigawords x 2^32 + Octets (RFC 2869 5.1),
    // which needs 8 once the 32-bit counter has wrapped.
    f('RADIUS_ACCT_IN_OCTETS', 252, 'unsigned64', 'Acct-Input-Octets (42) + Acct-Input-Gigawords (52) x 2^32'),
    f('RADIUS_ACCT_OUT_OCTETS', 253, 'unsigned64', 'Acct-Output-Octets (43) + Acct-Output-Gigawords (53) x 2^32'),
    f('RADIUS_ACCT_IN_PKTS', 254, 'unsigned32', 'Acct-Input-Packets (attribute 47)'),
    f('RADIUS_ACCT_OUT_PKTS', 255, 'unsigned32', 'Acct-Output-Packets (attribute 48)'),
    // This probe's own element (no nProbe id): every transaction of the flow, capped at 64.
    f('RADIUS_TRANSACTIONS', 0, 'json', 'All transactions of the flow (at most 64), each an object with the fields above'),
  ],
};
