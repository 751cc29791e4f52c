// GTPv1-C (3GPP TS 29.060): nProbe's "GTPv1 Signaling Protocol" plugin fields, written by
// native/dissect/gtpc.cc. Ids are nProbe's (IPFIX 35632.<id>, NetFlow v9 57472 + id).
//
// The fields describe the flow's first transaction (request + response with the same sequence
// number) that is not path management (Echo), or its first one; GTPV1_TRANSACTIONS holds every
// transaction (at most 64) with the same names inside. Departures from nProbe's encodings:
// MCC/MNC are the decoded digits as text ("460", "06": the leading zero tells a 2-digit MNC
// from a 3-digit one; nProbe sends a 2-byte number), and GTPV1_END_USER_IP is text so that an
// IPv6 PDP address can be shown too (nProbe's element holds IPv4 only).
import { Plugin, field } from './types';

const P = 'gtpv1';

export const plugin: Plugin = {
  name: 'GTPV1',
  dissector: 'GTPV1',
  // nDPI GTP_C (272) and the older generic GTP (152). GTP_U (271) tunnel flows are not this
  // plugin's: the capture core decapsulates them.
  l7: [272, 152],
  luaHook: 'checkGTPV1Flow',
  luaTable: 'gtpv1',
  fields: [
    field(P, 'GTPV1_REQ_MSG_TYPE', 220, 'unsigned8', 'GTPv1 request message type (TS 29.060 table 1, e.g. 16 Create PDP Context Request)'),
    field(P, 'GTPV1_RSP_MSG_TYPE', 221, 'unsigned8', 'GTPv1 response message type (e.g. 17 Create PDP Context Response)'),
    field(P, 'GTPV1_C2S_TEID_DATA', 222, 'unsigned32', 'TEID Data I sent by the client (the flow\'s first sender)'),
    field(P, 'GTPV1_C2S_TEID_CTRL', 223, 'unsigned32', 'TEID Control Plane sent by the client'),
    field(P, 'GTPV1_S2C_TEID_DATA', 224, 'unsigned32', 'TEID Data I sent by the server'),
    field(P, 'GTPV1_S2C_TEID_CTRL', 225, 'unsigned32', 'TEID Control Plane sent by the server'),
    field(P, 'GTPV1_END_USER_IP', 226, 'string', 'End User Address: the PDP (handset) address, IPv4 dotted or IPv6 text (IPv4 for IPv4v6)'),
    field(P, 'GTPV1_END_USER_IMSI', 227, 'string', 'IMSI digits (TBCD decoded, leading zeros kept)'),
    field(P, 'GTPV1_END_USER_MSISDN', 228, 'string', 'MSISDN digits (without the nature-of-address octet)'),
    field(P, 'GTPV1_END_USER_IMEI', 229, 'string', 'IMEISV digits (IE 154)'),
    field(P, 'GTPV1_APN_NAME', 230, 'string', 'Access Point Name, labels joined with dots'),
    field(P, 'GTPV1_RAT_TYPE', 236, 'unsigned8', 'RAT Type (1 UTRAN, 2 GERAN, 3 WLAN, 4 GAN, 5 HSPA Evolution, 6 E-UTRAN)'),
    field(P, 'GTPV1_RAI_MCC', 231, 'string', 'Routeing Area Identity: Mobile Country Code (digits)'),
    field(P, 'GTPV1_RAI_MNC', 232, 'string', 'Routeing Area Identity: Mobile Network Code (2 or 3 digits)'),
    field(P, 'GTPV1_RAI_LAC', 342, 'unsigned16', 'Routeing Area Identity: Location Area Code'),
    field(P, 'GTPV1_RAI_RAC', 343, 'unsigned8', 'Routeing Area Identity: Routing Area Code'),
    field(P, 'GTPV1_ULI_MCC', 344, 'string', 'User Location Information: Mobile Country Code (digits)'),
    field(P, 'GTPV1_ULI_MNC', 345, 'string', 'User Location Information: Mobile Network Code (2 or 3 digits)'),
    field(P, 'GTPV1_ULI_CELL_LAC', 233, 'unsigned16', 'User Location Information: Location Area Code (CGI, SAI or RAI)'),
    field(P, 'GTPV1_ULI_CELL_CI', 234, 'unsigned16', 'User Location Information: Cell Identity (CGI)'),
    field(P, 'GTPV1_ULI_SAC', 235, 'unsigned16', 'User Location Information: Service Area Code (SAI)'),
    field(P, 'GTPV1_RESPONSE_CAUSE', 332, 'unsigned8', 'Cause (TS 29.060 §7.7.1; 128 Request accepted)'),
    field(P, 'GTPV1_TRANSACTIONS', 0, 'json', 'Every transaction of the flow (at most 64), objects with the fields above; this probe\'s own element, no IPFIX id', 0),
  ],
};
