// DHCP plugin (native/dissect/dhcp.cc): nProbe's DHCP elements for DHCPv4 flows (L7_PROTO 18)
// and DHCPv6 flows (L7_PROTO 103, DHCPV6), hook checkDHCPFlow, Lua table `dhcp`.
//
// Ids are nProbe's ("nprobe -H", plugin "DHCP Protocol"): NFv9 57825..57827, 57895, 57896, 57901
// = IPFIX PEN 35632 elements 353..355, 423, 424, 429.
//
// The fields describe the flow's first transaction (one transaction = one transaction id);
// DHCP_TRANSACTIONS holds them all (at most 64 per flow, each with at most 16 messages; the
// caps are counted as dhcp_transactions_cap / dhcp_messages_cap).
//
// On a DHCPv6 flow DHCP_MESSAGE_TYPE carries the DHCPv6 msg-type (1 SOLICIT .. 13 RELAY-REPL
// ..., RFC 8415; L7_PROTO 103 says which numbering applies), DHCP_CLIENT_MAC the link-layer
// address of a DUID-LL/LLT client identifier, DHCP_CLIENT_NAME the Client FQDN option (39),
// DHCP_REMOTE_ID / DHCP_SUBSCRIBER_ID options 37 / 38; DHCP_CLIENT_IP (an IPv4 element) stays
// empty and the IA addresses are listed per message as DHCP_CLIENT_IPV6 in DHCP_TRANSACTIONS.
import { FieldDef, Plugin, field } from './types';

const f = (name: string, id: number, type: FieldDef['type'], description: string): FieldDef => field('dhcp', name, id, type, description);

export const plugin: Plugin = {
  name: 'DHCP',
  dissector: 'DHCP',
  l7: [18, 103],
  luaHook: 'checkDHCPFlow',
  luaTable: 'dhcp',
  fields: [
    // nProbe types it as a 6-byte MAC; exported as "aa:bb:cc:dd:ee:ff" text (FieldType has no macAddress).
    f('DHCP_CLIENT_MAC', 353, 'string', 'MAC of the DHCP client: chaddr (6-byte hlen), else the Ethernet client identifier (option 61); DHCPv6: DUID-LL/LLT link-layer address'),
    f('DHCP_CLIENT_IP', 354, 'ipv4Address', 'DHCP client IPv4 address: yiaddr if set, else ciaddr, else requested address (option 50); latest of the transaction'),
    f('DHCP_CLIENT_NAME', 355, 'string', 'DHCP client name: Host Name option 12 (DHCPv6: Client FQDN option 39)'),
    f('DHCP_REMOTE_ID', 423, 'string', 'DHCP agent remote Id: option 82 sub-option 2 (RFC 3046; DHCPv6 option 37), text if printable else colon hex'),
    f('DHCP_SUBSCRIBER_ID', 424, 'string', 'DHCP subscriber Id: option 82 sub-option 6 (RFC 3993; DHCPv6 option 38), text if printable else colon hex'),
    f('DHCP_MESSAGE_TYPE', 429, 'unsigned8', 'DHCP message type (option 53; DHCPv6 msg-type), latest of the transaction'),
    // This probe's own element (no nProbe id): JSON array, one object per transaction id.
    f('DHCP_TRANSACTIONS', 0, 'json', 'All transactions: [{DHCP_XID, the fields above, DHCP_MESSAGES: [{DHCP_OP, DHCP_MESSAGE_TYPE, ..., DHCP_SERVER_ID, DHCP_LEASE_TIME, DHCP_ROUTERS, ...}]}] (keys listed in native/dissect/dhcp.cc)'),
  ],
};
