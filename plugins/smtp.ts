// SMTP plugin (native/dissect/smtp.cc). nProbe's SMTP plugin has two elements (its plugin
// documentation, `nprobe -H`): SMTP_MAIL_FROM NFv9 57657 = IPFIX 35632.185 and SMTP_RCPT_TO
// NFv9 57658 = IPFIX 35632.186. The other fields are this probe's own (id 0): nProbe has no
// element for them.
//
// The flat fields describe the flow's first mail (MAIL FROM .. end of message); SMTP_TRANSACTIONS
// lists every mail of the session, at most 64 (more are counted as the anomaly
// smtp_transactions_cap). Addresses are written as nProbe's plugin writes them: without the
// angle brackets and ESMTP parameters; several recipients are comma separated.
//
// L7_PROTO is 3 (SMTP), also after STARTTLS (SMTP_STARTTLS = 1); nDPI labels such flows SMTPS
// (29). Implicit TLS (port 465) is not cleartext SMTP and is not labelled.
import { Plugin, field, FieldDef, FieldType } from './types';

const f = (name: string, id: number, type: FieldType, description: string): FieldDef => field('smtp', name, id, type, description);

export const plugin: Plugin = {
  name: 'SMTP',
  dissector: 'SMTP',
  l7: [3],
  luaHook: 'checkSMTPFlow',
  luaTable: 'smtp',
  fields: [
    f('SMTP_MAIL_FROM', 185, 'string', 'Mail sender: the MAIL FROM address without "<>" and parameters; "" for the null sender "<>" (a bounce)'),
    f('SMTP_RCPT_TO', 186, 'string', 'Mail recipients: every RCPT TO address of the mail, in order, comma separated ("a@x,b@y"), whole addresses up to 1 KiB'),
    f('SMTP_HELO', 0, 'string', 'HELO/EHLO argument (client domain or address literal) in effect for the mail (this probe\'s own element)'),
    f('SMTP_AUTH_USER', 0, 'string', 'User name of AUTH PLAIN (authcid), LOGIN or CRAM-MD5, base64-decoded; never the password (this probe\'s own element)'),
    f('SMTP_SUBJECT', 0, 'string', 'Subject header of the message (first one, unfolded, as sent: encoded words not decoded) (this probe\'s own element)'),
    f('SMTP_MESSAGE_ID', 0, 'string', 'Message-ID header of the message, with its angle brackets (this probe\'s own element)'),
    f('SMTP_STARTTLS', 0, 'unsigned8', '1 when the session switched to TLS with STARTTLS (the rest of the flow is not read), else 0 (this probe\'s own element)'),
    // This probe's own element (no nProbe id): every mail of the flow, capped at 64.
    f('SMTP_TRANSACTIONS', 0, 'json', 'All mails of the session (at most 64), each an object with SMTP_HELO, SMTP_AUTH_USER, SMTP_MAIL_FROM, SMTP_RCPT_TO, SMTP_SUBJECT, SMTP_MESSAGE_ID'),
  ],
};
