// POP3 plugin (native/dissect/pop.cc). nProbe's POP plugin has one element: POP_USER, NFv9
// 57682 = IPFIX 35632.210 (ntopng's nprobe_mapping lists it with the other plugin elements:
// 57657 SMTP_MAIL_FROM = .185, 57677 DNS_QUERY = .205 ... the IPFIX id is the NFv9 id - 57472).
// The other fields are this probe's own (id 0): nProbe has no element for them.
//
// Transactions: one per authentication attempt (USER/PASS, APOP, AUTH <mechanism>) with the
// server's answer. The flat POP_USER / POP_AUTH_MECH / POP_AUTH_STATUS describe the first
// attempt; POP_TRANSACTIONS lists every attempt, at most 64 (more are counted as the anomaly
// pop_transactions_cap). The password is never exported nor decoded.
//
// L7_PROTO is 2 (POP3), also after STLS (POP_STLS = 1, the rest of the flow is TLS and not
// read). Implicit TLS (port 995) is not cleartext POP3 and is not labelled.
import { Plugin, field, FieldDef, FieldType } from './types';

const f = (name: string, id: number, type: FieldType, description: string): FieldDef => field('pop', name, id, type, description);

export const plugin: Plugin = {
  name: 'POP',
  dissector: 'POP',
  l7: [2],
  luaHook: 'checkPOPFlow',
  luaTable: 'pop',
  fields: [
    f('POP_USER', 210, 'string', 'User of the first authentication attempt: the USER argument, the APOP name, or the SASL identity (PLAIN authcid, LOGIN user, CRAM-MD5 name, XOAUTH2 user), base64-decoded; never the password'),
    f('POP_AUTH_MECH', 0, 'string', 'How the first attempt authenticated: "USER" (USER/PASS), "APOP", or the SASL mechanism of AUTH, upper case (this probe\'s own element)'),
    f('POP_AUTH_STATUS', 0, 'string', 'The server\'s answer to the first attempt: "+OK" or "-ERR"; absent when no answer was seen (this probe\'s own element)'),
    f('POP_GREETING', 0, 'string', 'Text of the server greeting after "+OK " (server software, APOP timestamp) (this probe\'s own element)'),
    f('POP_STLS', 0, 'unsigned8', '1 when the session switched to TLS with STLS (the rest of the flow is not read), else 0 (this probe\'s own element)'),
    f('POP_NUM_RETR', 0, 'unsigned32', 'RETR commands sent (messages downloaded) (this probe\'s own element)'),
    f('POP_NUM_TOP', 0, 'unsigned32', 'TOP commands sent (message headers fetched) (this probe\'s own element)'),
    f('POP_NUM_DELE', 0, 'unsigned32', 'DELE commands sent (messages marked for deletion) (this probe\'s own element)'),
    // This probe's own element (no nProbe id): every authentication attempt, capped at 64.
    f('POP_TRANSACTIONS', 0, 'json', 'All authentication attempts of the session (at most 64), each an object with POP_USER, POP_AUTH_MECH, POP_AUTH_STATUS'),
  ],
};
