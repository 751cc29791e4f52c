// IMAP plugin (native/dissect/imap.cc: IMAP4rev2 RFC 9051 / IMAP4rev1 RFC 3501 over
// reassembled TCP, STARTTLS, LOGIN, AUTHENTICATE with SASL PLAIN/LOGIN/CRAM-MD5/XOAUTH2).
// nProbe's IMAP plugin has one element (ntop's nProbe documentation, "IMAP Plugin" /
// `nprobe -H`): IMAP_LOGIN, NetFlow v9 57732 = IPFIX 35632.260. The other fields are this
// probe's own (id 0): nProbe has no element for them.
//
// A transaction is one authentication attempt (a LOGIN or AUTHENTICATE command) with its
// result. The flat IMAP_LOGIN / IMAP_AUTHZID / IMAP_AUTH_METHOD / IMAP_AUTH_STATUS describe
// the flow's first attempt; IMAP_TRANSACTIONS lists every attempt (at most 64, more counted as
// the anomaly imap_transactions_cap). The password is never exported nor decoded.
//
// L7_PROTO is 4 (IMAP), also after STARTTLS (IMAP_STARTTLS = 1; the rest of the flow is not
// read). Implicit TLS (port 993) is not cleartext IMAP and is not labelled.
import { Plugin, field, FieldDef, FieldType } from './types';

const f = (name: string, id: number, type: FieldType, description: string): FieldDef => field('imap', name, id, type, description);

export const plugin: Plugin = {
  name: 'IMAP',
  dissector: 'IMAP',
  l7: [4],
  luaHook: 'checkIMAPFlow',
  luaTable: 'imap',
  fields: [
    f('IMAP_LOGIN', 260, 'string', 'User name of the first authentication attempt: LOGIN\'s user (quoted string or literal decoded), or the base64-decoded SASL identity (PLAIN authcid, LOGIN, CRAM-MD5, XOAUTH2 user); never the password'),
    f('IMAP_AUTHZID', 0, 'string', 'SASL PLAIN authorization identity of the first attempt, when sent and different from the user (this probe\'s own element)'),
    f('IMAP_AUTH_METHOD', 0, 'string', '"LOGIN" (the LOGIN command) or "AUTHENTICATE <MECHANISM>" of the first attempt (this probe\'s own element)'),
    f('IMAP_AUTH_STATUS', 0, 'string', 'Tagged response to the first attempt: OK, NO or BAD; absent when not seen (this probe\'s own element)'),
    f('IMAP_STARTTLS', 0, 'unsigned8', '1 when the session switched to TLS with STARTTLS (the rest of the flow is not read), else 0 (this probe\'s own element)'),
    f('IMAP_GREETING', 0, 'string', 'Text of the server greeting ("* OK/PREAUTH/BYE ..."), without the status word and a leading [CAPABILITY] code (this probe\'s own element)'),
    f('IMAP_CAPABILITIES', 0, 'string', 'First capability list the server announced (greeting code or CAPABILITY response), space separated, as sent (this probe\'s own element)'),
    f('IMAP_MAILBOX', 0, 'string', 'First mailbox the client SELECTed or EXAMINEd, as sent (quoting undone, modified UTF-7 not decoded) (this probe\'s own element)'),
    // This probe's own element (no nProbe id): every authentication attempt, capped at 64.
    f('IMAP_TRANSACTIONS', 0, 'json', 'All authentication attempts of the session (at most 64), each an object with IMAP_LOGIN, IMAP_AUTHZID, IMAP_AUTH_METHOD, IMAP_AUTH_STATUS'),
  ],
};
