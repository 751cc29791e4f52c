// SMTP dissector (native/dissect/smtp.cc) on stream chunks through the test-only binding, and
// the whole path (payload detection, TCP reassembly with holes, caps) through the CLI on the
// SMTP captures and on synthetic captures built here.
import { noise } from '../helpers/noise';
import { afterAll, describe, expect, it } from '@jest/globals';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { dissectHex, Payload } from '../helpers/dissect';
import { ACK, LINKTYPE, writePcap } from '../helpers/pcapgen';
import { probeBuilt, ProbeFlow, runCli, runProbe } from '../helpers/probe';
import { TcpConn } from '../helpers/tcpconn';

const hex = (s: string | Buffer): string => (typeof s === 'string' ? Buffer.from(s, 'latin1') : s).toString('hex');
/** Client -> server chunk (dir 0) and server -> client chunk (dir 1); "\n" becomes CRLF. */
const crlf = (s: string): string => s.replace(/\r?\n/g, '\r\n');
const C = (s: string): Payload => ({ dir: 0, hex: hex(crlf(s)), sport: 40000, dport: 25 });
const S = (s: string): Payload => ({ dir: 1, hex: hex(crlf(s)), sport: 25, dport: 40000 });
const run = (payloads: Payload[]) => dissectHex('SMTP', payloads);
type Txn = Record<string, unknown>;
const txns = (r: ReturnType<typeof run>): Txn[] => (r.fields.SMTP_TRANSACTIONS as Txn[]) ?? [];
const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64');

const GREETING = S('220 mx.example.org ESMTP Postfix\n');
const EHLO = [C('EHLO client.example.com\n'), S('250-mx.example.org\n250-PIPELINING\n250-AUTH PLAIN LOGIN\n250 8BITMIME\n')];

/** One mail, each command answered in turn. */
function mail(from: string, to: string[], message: string): Payload[] {
  const out: Payload[] = [C(`MAIL FROM:<${from}>\n`), S('250 2.1.0 Ok\n')];
  for (const t of to) out.push(C(`RCPT TO:<${t}>\n`), S('250 2.1.5 Ok\n'));
  out.push(C('DATA\n'), S('354 End data with <CR><LF>.<CR><LF>\n'), C(`${message}\n.\n`), S('250 2.0.0 Ok: queued\n'));
  return out;
}


describe('SMTP session fields', () => {
  it('a whole session: HELO, AUTH PLAIN, envelope, headers; flat fields = the first mail', () => {
    const r = run([
      GREETING,
      ...EHLO,
      C(`AUTH PLAIN ${b64('\0alice@example.com\0s3cret-pw')}\n`),
      S('235 2.7.0 Authentication successful\n'),
      ...mail('alice@example.com', ['bob@example.net', 'carol@example.net'], 'From: Alice <alice@example.com>\nSubject: Quarterly numbers\nMessage-ID: <1234.5678@example.com>\n\nHello Bob.'),
      C('QUIT\n'),
      S('221 2.0.0 Bye\n'),
    ]);
    expect(r.l7).toBe(3);
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({
      SMTP_HELO: 'client.example.com',
      SMTP_AUTH_USER: 'alice@example.com',
      SMTP_MAIL_FROM: 'alice@example.com',
      SMTP_RCPT_TO: 'bob@example.net,carol@example.net',
      SMTP_SUBJECT: 'Quarterly numbers',
      SMTP_MESSAGE_ID: '<1234.5678@example.com>',
      SMTP_STARTTLS: 0,
    });
    expect(txns(r)).toEqual([
      {
        SMTP_HELO: 'client.example.com',
        SMTP_AUTH_USER: 'alice@example.com',
        SMTP_MAIL_FROM: 'alice@example.com',
        SMTP_RCPT_TO: 'bob@example.net,carol@example.net',
        SMTP_SUBJECT: 'Quarterly numbers',
        SMTP_MESSAGE_ID: '<1234.5678@example.com>',
      },
    ]);
    // The password is nowhere in the record.
    expect(JSON.stringify(r.fields)).not.toContain('s3cret');
  });

  it('several mails in one session: one transaction each, in order; RSET aborts one', () => {
    const r = run([
      GREETING,
      ...EHLO,
      ...mail('a@x.test', ['b@y.test'], 'Subject: one\n\nbody'),
      C('MAIL FROM:<c@x.test>\n'),
      S('250 Ok\n'),
      C('RSET\n'),
      S('250 Ok\n'),
      ...mail('d@x.test', ['e@y.test', 'f@y.test'], 'Subject: three\n\nbody'),
    ]);
    expect(txns(r)).toEqual([
      { SMTP_HELO: 'client.example.com', SMTP_MAIL_FROM: 'a@x.test', SMTP_RCPT_TO: 'b@y.test', SMTP_SUBJECT: 'one' },
      { SMTP_HELO: 'client.example.com', SMTP_MAIL_FROM: 'c@x.test' },
      { SMTP_HELO: 'client.example.com', SMTP_MAIL_FROM: 'd@x.test', SMTP_RCPT_TO: 'e@y.test,f@y.test', SMTP_SUBJECT: 'three' },
    ]);
    expect(r.fields.SMTP_MAIL_FROM).toBe('a@x.test');
  });

  it('lower-case commands, blanks around ":", ESMTP parameters, the null sender, a source route, a bare path', () => {
    const r = run([
      GREETING,
      C('helo relay.example\n'),
      S('250 ok\n'),
      C('mail from: <> SIZE=1234 BODY=8BITMIME\n'),
      S('250 ok\n'),
      C('rcpt To :<@hop1,@hop2:user@final.example> NOTIFY=NEVER\n'),
      S('250 ok\n'),
      C('RCPT TO:postmaster\n'),
      S('250 ok\n'),
      C('RCPT TO:<"odd >name"@example.com>\n'),
      S('250 ok\n'),
      C('data\n'),
      S('354 go\n'),
      C('subject: lower-case header name\n\n.\n'),
      S('250 ok\n'),
    ]);
    expect(r.anomalies).toEqual([]);
    expect(txns(r)).toEqual([
      {
        SMTP_HELO: 'relay.example',
        SMTP_MAIL_FROM: '',
        SMTP_RCPT_TO: 'user@final.example,postmaster,"odd >name"@example.com',
        SMTP_SUBJECT: 'lower-case header name',
      },
    ]);
    expect(r.fields.SMTP_MAIL_FROM).toBe('');
  });

  it('pipelining (RFC 2920): commands, body and replies in single chunks', () => {
    const r = run([
      GREETING,
      ...EHLO,
      C('MAIL FROM:<p@x.test>\nRCPT TO:<q@y.test>\nRCPT TO:<r@y.test>\nDATA\nSubject: piped\n\nbody\n.\nQUIT\n'),
      S('250 2.1.0 Ok\n250 2.1.5 Ok\n250 2.1.5 Ok\n354 End data\n250 2.0.0 queued\n221 Bye\n'),
    ]);
    expect(r.anomalies).toEqual([]);
    expect(txns(r)).toEqual([{ SMTP_HELO: 'client.example.com', SMTP_MAIL_FROM: 'p@x.test', SMTP_RCPT_TO: 'q@y.test,r@y.test', SMTP_SUBJECT: 'piped' }]);
  });

  it('the same session cut into one-byte chunks gives the same record', () => {
    const session = [
      GREETING,
      ...EHLO,
      C(`AUTH LOGIN\n`),
      S(`334 ${b64('Username:')}\n`),
      C(`${b64('bob')}\n`),
      S(`334 ${b64('Password:')}\n`),
      C(`${b64('hunter2')}\n`),
      S('235 ok\n'),
      ...mail('a@x.test', ['b@y.test'], 'Subject: split\n  across lines\nMessage-ID: <m@x>\n\nbody\n..leading dot'),
    ];
    const whole = run(session);
    const bytes: Payload[] = [];
    for (const p of session) for (let i = 0; i < p.hex.length; i += 2) bytes.push({ ...p, hex: p.hex.slice(i, i + 2) });
    const split = run(bytes);
    expect(whole.fields.SMTP_SUBJECT).toBe('split  across lines');
    expect(split.fields).toEqual(whole.fields);
    expect(split.anomalies).toEqual(whole.anomalies);
  });
});

describe('the message: header section only, body skipped', () => {
  it('folded Subject is unfolded; only the first Subject/Message-ID count; headers end at the empty line', () => {
    const r = run([
      GREETING,
      ...EHLO,
      ...mail('a@x.test', ['b@y.test'], 'Subject: =?UTF-8?B?w6ljaG8=?=\n\tsecond part  \nSubject: duplicate\nX-Other: x\n continued other\nMessage-ID:\n <folded@id>\n\nSubject: in the body\nMessage-ID: <body@id>'),
    ]);
    expect(r.fields.SMTP_SUBJECT).toBe('=?UTF-8?B?w6ljaG8=?=\tsecond part');
    expect(r.fields.SMTP_MESSAGE_ID).toBe('<folded@id>');
  });

  it('dot-stuffing: ".." is a line starting with a dot, "." alone ends the message; commands in a body are body', () => {
    const r = run([
      GREETING,
      ...EHLO,
      C('MAIL FROM:<a@x.test>\n'),
      S('250 ok\n'),
      C('RCPT TO:<b@y.test>\n'),
      S('250 ok\n'),
      C('DATA\n'),
      S('354 go\n'),
      C('Subject: dots\n\n..\nMAIL FROM:<not-a-command@x.test>\n. \n...\n.\n'),
      S('250 queued\n'),
      C('MAIL FROM:<second@x.test>\n'),
      S('250 ok\n'),
    ]);
    expect(txns(r).map((t) => t.SMTP_MAIL_FROM)).toEqual(['a@x.test', 'second@x.test']);
    expect(txns(r)[0].SMTP_SUBJECT).toBe('dots');
  });

  it('a message without a header section (body only) has no Subject and no anomaly', () => {
    const r = run([GREETING, ...EHLO, ...mail('a@x.test', ['b@y.test'], 'This is a test')]);
    expect(r.fields.SMTP_SUBJECT).toBeUndefined();
    expect(r.anomalies).toEqual([]);
  });

  it('DATA refused: what follows is commands again, not a message', () => {
    const r = run([
      GREETING,
      ...EHLO,
      C('MAIL FROM:<a@x.test>\n'),
      S('250 ok\n'),
      C('RCPT TO:<nobody@y.test>\n'),
      S('550 5.1.1 unknown user\n'),
      C('DATA\n'),
      S('554 5.5.1 Error: no valid recipients\n'),
      C('RSET\n'),
      S('250 ok\n'),
      C('MAIL FROM:<b@x.test>\n'),
      S('250 ok\n'),
    ]);
    expect(txns(r).map((t) => t.SMTP_MAIL_FROM)).toEqual(['a@x.test', 'b@x.test']);
    expect(txns(r)[0].SMTP_RCPT_TO).toBe('nobody@y.test');
  });

  it('a client that sends its body before 354 and is then refused: lines read as headers are dropped', () => {
    const r = run([
      GREETING,
      ...EHLO,
      C('MAIL FROM:<a@x.test>\nRCPT TO:<b@y.test>\nDATA\nSubject: early\n'),
      S('250 ok\n250 ok\n554 no\n'),
      C('QUIT\n'),
    ]);
    expect(txns(r)).toEqual([{ SMTP_HELO: 'client.example.com', SMTP_MAIL_FROM: 'a@x.test', SMTP_RCPT_TO: 'b@y.test' }]);
  });

  it('BDAT (RFC 3030): sized chunks, headers read across chunks, commands after them in step', () => {
    const msg = crlf('Subject: chunked subject\nMessage-ID: <bdat@x>\n\nbody line\n.\n');
    const a = msg.slice(0, 20);
    const b = msg.slice(20);
    const r = run([
      GREETING,
      ...EHLO,
      C('MAIL FROM:<a@x.test>\nRCPT TO:<b@y.test>\n'),
      S('250 ok\n250 ok\n'),
      { dir: 0, hex: hex(`BDAT ${a.length}\r\n${a}BDAT ${b.length} LAST\r\n${b}`) },
      S('250 ok\n250 ok\n'),
      C('MAIL FROM:<c@x.test>\nRCPT TO:<d@y.test>\nBDAT 0 LAST\nQUIT\n'),
    ]);
    expect(r.anomalies).toEqual([]);
    expect(txns(r)).toEqual([
      { SMTP_HELO: 'client.example.com', SMTP_MAIL_FROM: 'a@x.test', SMTP_RCPT_TO: 'b@y.test', SMTP_SUBJECT: 'chunked subject', SMTP_MESSAGE_ID: '<bdat@x>' },
      { SMTP_HELO: 'client.example.com', SMTP_MAIL_FROM: 'c@x.test', SMTP_RCPT_TO: 'd@y.test' },
    ]);
  });

  it('BDAT with a bad size is an anomaly, not a crash', () => {
    const r = run([GREETING, ...EHLO, C('MAIL FROM:<a@x.test>\nBDAT lots\nBDAT 12 NOTLAST\nQUIT\n')]);
    expect(r.anomalies).toContain('smtp_bad_bdat');
    expect(txns(r)).toEqual([{ SMTP_HELO: 'client.example.com', SMTP_MAIL_FROM: 'a@x.test' }]);
  });
});

describe('AUTH (RFC 4954): the user only, never the password', () => {
  it('LOGIN without initial response: the first response is the user, the second (password) is skipped', () => {
    const r = run([
      GREETING,
      ...EHLO,
      C('AUTH LOGIN\n'),
      S(`334 ${b64('Username:')}\n`),
      C(`${b64('gurpartap@patriots.in')}\n`),
      S(`334 ${b64('Password:')}\n`),
      C(`${b64('punjab@123')}\n`),
      S('235 Authentication succeeded\n'),
      C('MAIL FROM:<gurpartap@patriots.in>\n'),
      S('250 ok\n'),
    ]);
    expect(r.fields.SMTP_AUTH_USER).toBe('gurpartap@patriots.in');
    expect(txns(r)[0].SMTP_AUTH_USER).toBe('gurpartap@patriots.in');
    expect(JSON.stringify(r.fields)).not.toContain('punjab');
    expect(r.anomalies).toEqual([]);
  });

  it('LOGIN with the user as initial response', () => {
    const r = run([GREETING, ...EHLO, C(`AUTH LOGIN ${b64('carol')}\n`), S(`334 ${b64('Password:')}\n`), C(`${b64('pw')}\n`), S('235 ok\n'), C('NOOP\n'), S('250 ok\n')]);
    expect(r.fields.SMTP_AUTH_USER).toBe('carol');
  });

  it('PLAIN after an empty challenge, with an authorization identity: the authentication identity is the user', () => {
    const r = run([GREETING, ...EHLO, C('AUTH PLAIN\n'), S('334 \n'), C(`${b64('admin\0dave\0pw-dave')}\n`), S('235 ok\n')]);
    expect(r.fields.SMTP_AUTH_USER).toBe('dave');
    expect(r.anomalies).toEqual([]);
  });

  it('CRAM-MD5: the name before the digest', () => {
    const r = run([GREETING, ...EHLO, C('AUTH CRAM-MD5\n'), S(`334 ${b64('<1896.697170952@postoffice.example.net>')}\n`), C(`${b64('tim b913a602c7eda7a495b4e6e7334d3890')}\n`), S('235 ok\n')]);
    expect(r.fields.SMTP_AUTH_USER).toBe('tim');
  });

  it('a cancelled exchange ("*") and an unknown mechanism give no user; the commands after them are read', () => {
    const r = run([
      GREETING,
      ...EHLO,
      C('AUTH LOGIN\n'),
      S(`334 ${b64('Username:')}\n`),
      C('*\n'),
      S('501 cancelled\n'),
      C('AUTH XOAUTH2\n'),
      S('334 \n'),
      C(`${b64('user=eve@x\x01auth=Bearer tok\x01\x01')}\n`),
      S('235 ok\n'),
      C('MAIL FROM:<eve@x>\n'),
      S('250 ok\n'),
    ]);
    expect(r.fields.SMTP_AUTH_USER).toBeUndefined();
    expect(r.fields.SMTP_MAIL_FROM).toBe('eve@x');
  });

  it('malformed PLAIN responses are anomalies', () => {
    expect(run([GREETING, C(`AUTH PLAIN ${b64('no-nuls-here')}\n`)]).anomalies).toContain('smtp_bad_auth');
    expect(run([GREETING, C('AUTH PLAIN not*base64\n')]).anomalies).toContain('smtp_bad_auth');
    expect(run([GREETING, C('AUTH\n')]).anomalies).toContain('smtp_bad_auth');
  });
});

describe('STARTTLS (RFC 3207)', () => {
  it('accepted: SMTP_STARTTLS 1, nothing after it is read, L7 stays SMTP', () => {
    const r = run([
      GREETING,
      ...EHLO,
      C('STARTTLS\n'),
      S('220 2.0.0 Ready to start TLS\n'),
      C('MAIL FROM:<hidden@x.test>\n'),
      S('250 ok\n'),
    ]);
    expect(r.fields.SMTP_STARTTLS).toBe(1);
    expect(r.fields.SMTP_MAIL_FROM).toBeUndefined();
    expect(r.fields.SMTP_HELO).toBe('client.example.com');
    expect(r.l7).toBe(3);
  });

  it('refused (454): the session goes on in clear', () => {
    const r = run([GREETING, ...EHLO, C('STARTTLS\n'), S('454 4.7.0 TLS not available\n'), ...mail('a@x.test', ['b@y.test'], 'Subject: clear\n')]);
    expect(r.fields.SMTP_STARTTLS).toBe(0);
    expect(r.fields.SMTP_MAIL_FROM).toBe('a@x.test');
  });

  it('the server reply not captured: a TLS handshake record from the client means TLS', () => {
    const r = run([GREETING, ...EHLO, C('STARTTLS\n'), { dir: 0, hex: '160301005a010000560303' + '00'.repeat(40) }, C('MAIL FROM:<hidden@x.test>\n')]);
    expect(r.fields.SMTP_STARTTLS).toBe(1);
    expect(r.fields.SMTP_MAIL_FROM).toBeUndefined();
  });
});

describe('resync and odd starts', () => {
  it('a reply during a confirmed body ends the message (its "." was lost)', () => {
    const r = run([
      GREETING,
      ...EHLO,
      C('MAIL FROM:<a@x.test>\nRCPT TO:<b@y.test>\nDATA\n'),
      S('250 ok\n250 ok\n354 go\n'),
      C('Subject: lost end\n\nbody without its end\n'),
      S('250 queued\n'),
      C('MAIL FROM:<next@x.test>\n'),
      S('250 ok\n'),
    ]);
    expect(txns(r).map((t) => [t.SMTP_MAIL_FROM, t.SMTP_SUBJECT])).toEqual([
      ['a@x.test', 'lost end'],
      ['next@x.test', undefined],
    ]);
  });

  it('a 354 for a DATA the capture lost starts a body', () => {
    const r = run([GREETING, ...EHLO, C('MAIL FROM:<a@x.test>\n'), S('250 ok\n'), S('250 ok\n'), S('354 go\n'), C('Subject: found\n\n.\n'), S('250 ok\n')]);
    expect(r.anomalies).toContain('smtp_out_of_step');
    expect(r.fields.SMTP_SUBJECT).toBe('found');
  });

  it('picked up mid-stream with the server as the first sender: roles read the right way round', () => {
    const r = run([
      { dir: 0, hex: hex('250 2.1.0 Ok\r\n') },
      { dir: 1, hex: hex('RCPT TO:<late@y.test>\r\nDATA\r\n') },
      { dir: 0, hex: hex('250 2.1.5 Ok\r\n354 go\r\n') },
      { dir: 1, hex: hex('Subject: mid-stream\r\n\r\n.\r\n') },
      { dir: 0, hex: hex('250 queued\r\n') },
    ]);
    expect(txns(r)).toEqual([{ SMTP_RCPT_TO: 'late@y.test', SMTP_SUBJECT: 'mid-stream' }]);
    expect(r.fields.SMTP_MAIL_FROM).toBeUndefined();
  });

  it('a flow that ends mid-message still reports the mail', () => {
    const r = run([GREETING, ...EHLO, C('MAIL FROM:<a@x.test>\nRCPT TO:<b@y.test>\nDATA\n'), S('250 ok\n250 ok\n354 go\n'), C('Subject: cut short\n\npartial bo')]);
    expect(txns(r)).toEqual([{ SMTP_HELO: 'client.example.com', SMTP_MAIL_FROM: 'a@x.test', SMTP_RCPT_TO: 'b@y.test', SMTP_SUBJECT: 'cut short' }]);
  });
});

describe('caps and malformed input: named anomalies, bounded state, no crash', () => {
  it('transactions are capped at 64, the rest counted', () => {
    const p: Payload[] = [GREETING, ...EHLO];
    for (let i = 0; i < 70; i++) p.push(C(`MAIL FROM:<m${i}@x.test>\nRCPT TO:<r@y.test>\nRSET\n`));
    const r = run(p);
    expect(txns(r)).toHaveLength(64);
    expect(txns(r)[63].SMTP_MAIL_FROM).toBe('m63@x.test');
    expect(r.anomalies).toContain('smtp_transactions_cap');
  });

  it('recipients: whole addresses up to 1 KiB, the rest counted', () => {
    const p: Payload[] = [GREETING, ...EHLO, C('MAIL FROM:<a@x.test>\n')];
    for (let i = 0; i < 200; i++) p.push(C(`RCPT TO:<recipient-${String(i).padStart(3, '0')}@example.com>\n`));
    const r = run(p);
    const list = (r.fields.SMTP_RCPT_TO as string).split(',');
    expect((r.fields.SMTP_RCPT_TO as string).length).toBeLessThanOrEqual(1024);
    expect(list[0]).toBe('recipient-000@example.com');
    for (const [i, a] of list.entries()) expect(a).toBe(`recipient-${String(i).padStart(3, '0')}@example.com`);
    expect(list.length).toBeLessThan(200);
    expect(r.anomalies).toContain('smtp_recipients_cap');
  });

  it('an over-long path is cut at 256 bytes; a path without ">" is malformed', () => {
    const long = 'x'.repeat(400) + '@example.com';
    const r1 = run([GREETING, C(`MAIL FROM:<${long}>\n`)]);
    expect((r1.fields.SMTP_MAIL_FROM as string).length).toBe(256);
    expect(r1.anomalies).toContain('smtp_path_too_long');
    const r2 = run([GREETING, C('MAIL FROM:<broken@x.test SIZE=10\n'), C('RCPT\n')]);
    expect(r2.fields.SMTP_MAIL_FROM).toBe('broken@x.test');
    expect(r2.anomalies).toContain('smtp_bad_path');
    expect(run([GREETING, C('MAIL TO:<a@b>\n')]).anomalies).toContain('smtp_bad_path');
    const r3 = run([GREETING, C('MAIL FROM:<a@x.test>\nRCPT TO:<>\nRCPT TO:<b@y.test>\n')]);
    expect(r3.fields.SMTP_RCPT_TO).toBe('b@y.test');
    expect(r3.anomalies).toContain('smtp_bad_path');
  });

  it('an over-long Subject is cut at 1 KiB; too many header lines end the header section', () => {
    const r = run([GREETING, ...EHLO, ...mail('a@x.test', ['b@y.test'], `Subject: ${'s'.repeat(3000)}\nX-A: 1`)]);
    expect((r.fields.SMTP_SUBJECT as string).length).toBeLessThanOrEqual(1024);
    expect(r.anomalies).toContain('smtp_header_too_long');
    const many = Array.from({ length: 1100 }, (_, i) => `X-H${i}: v`).join('\n');
    const r2 = run([GREETING, ...EHLO, ...mail('a@x.test', ['b@y.test'], `${many}\nSubject: too late`)]);
    expect(r2.anomalies).toContain('smtp_header_lines_cap');
    expect(r2.fields.SMTP_SUBJECT).toBeUndefined();
  });

  it('a line over the line reader cap is cut and named; the session goes on', () => {
    const r = run([GREETING, ...EHLO, C(`NOOP ${'z'.repeat(20000)}\n`), S('250 ok\n'), C('MAIL FROM:<after@x.test>\n')]);
    expect(r.anomalies).toContain('smtp_line_too_long');
    expect(r.fields.SMTP_MAIL_FROM).toBe('after@x.test');
  });

  it('commands never answered (one direction captured) hit the pipeline cap once', () => {
    const p: Payload[] = [GREETING];
    for (let i = 0; i < 300; i++) p.push(C('NOOP\n'));
    p.push(C('MAIL FROM:<still@x.test>\n'));
    const r = run(p);
    expect(r.anomalies.filter((a) => a === 'smtp_pipeline_cap')).toHaveLength(1);
    expect(r.fields.SMTP_MAIL_FROM).toBe('still@x.test');
  });

  it('bad replies and bad commands are named; a stream of them makes the dissector give up', () => {
    const r1 = run([GREETING, S('hello there\n'), C('12345 what\n'), C('MAIL FROM:<ok@x.test>\n')]);
    expect(r1.anomalies).toEqual(expect.arrayContaining(['smtp_bad_reply', 'smtp_bad_command']));
    expect(r1.fields.SMTP_MAIL_FROM).toBe('ok@x.test');
    const lines = Array.from({ length: 20 }, () => '#garbage').join('\n');
    const r2 = run([GREETING, C(`${lines}\n`), C('MAIL FROM:<ignored@x.test>\n')]);
    expect(r2.anomalies).toContain('smtp_too_many_bad_lines');
    expect(r2.fields.SMTP_MAIL_FROM).toBeUndefined();
  });

  it('random bytes in both directions: no crash, no mail, anomalies only', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = run([
        { dir: 1, hex: hex(noise(seed, 3000)) },
        { dir: 0, hex: hex(noise(seed + 100, 3000)) },
      ]);
      expect(r.fields.SMTP_TRANSACTIONS).toBeUndefined();
      expect(r.fields.SMTP_STARTTLS).toBe(0);
    }
  });

  it('empty and truncated inputs: an empty flow, a lone partial line', () => {
    expect(run([]).fields).toEqual({ SMTP_STARTTLS: 0 });
    expect(run([{ dir: 1, hex: '' }, { dir: 0, hex: '' }]).fields).toEqual({ SMTP_STARTTLS: 0 });
    expect(run([GREETING, C('MAIL FROM:<a@x.te')]).fields.SMTP_MAIL_FROM).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------
// The whole path through the CLI: payload detection (probe_stream), reassembly with holes.

/** An SMTP connection: lines in CRLF (test/helpers/tcpconn.ts). */
class Conn extends TcpConn {
  constructor(cport: number, sport: number, handshake = true) {
    super(cport, sport, { handshake, isn: [1000, 5000], client: '192.0.2.1', server: '192.0.2.2', text: (t) => Buffer.from(crlf(t), 'latin1') });
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-smtp-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function cli(conns: Conn[]): ProbeFlow[] {
  const frames = conns.flatMap((c) => c.frames).sort((a, b) => a.tsUs - b.tsUs);
  const file = writePcap(frames, LINKTYPE.ETHERNET, path.join(tmp, `t${n++}.pcap`));
  const r = runCli(['-i', file, '-n', 'none', '--json-out', '-']);
  expect(r.status).toBe(0);
  return r.flows;
}
const one = (c: Conn): Record<string, unknown> => {
  const flows = cli([c]).filter((f) => f.PROTOCOL === 6);
  expect(flows).toHaveLength(1);
  return flows[0] as unknown as Record<string, unknown>;
};
const session = (c: Conn): Conn =>
  c
    .s('220 mail.example.org ESMTP\n')
    .c('EHLO host.example\n')
    .s('250 mail.example.org\n')
    .c('MAIL FROM:<a@x.test>\n')
    .s('250 ok\n')
    .c('RCPT TO:<b@y.test>\n')
    .s('250 ok\n')
    .c('DATA\n')
    .s('354 go\n')
    .c('Subject: via cli\n\nbody\n.\n')
    .s('250 queued\n')
    .c('QUIT\n')
    .s('221 bye\n');

const describeCli = probeBuilt() ? describe : describe.skip;

describeCli('detection by payload (probe_stream), through the CLI', () => {
  it('SMTP off its ports is recognised; on 25 with a greeting that does not say SMTP, the EHLO decides', () => {
    const off = one(session(new Conn(40001, 2626)));
    expect(off.L7_PROTO).toBe(3);
    expect(off.SMTP_SUBJECT).toBe('via cli');
    const plain = one(new Conn(40002, 25).s('220 mail.example.org\n').c('EHLO h\n').s('250 ok\n').c('MAIL FROM:<z@x>\n').s('250 ok\n'));
    expect(plain.L7_PROTO).toBe(3);
    expect(plain.SMTP_MAIL_FROM).toBe('z@x');
  });

  it('other protocols and garbage on port 25 are not labelled SMTP', () => {
    const ftp = one(new Conn(40003, 25).s('220 ProFTPD 1.3.5 Server ready.\n').c('USER anonymous\n').s('331 Password required\n'));
    const ftp2 = one(new Conn(40004, 25).s('220 files.example.org\n').c('USER anonymous\n').s('331 Password required\n'));
    const http = one(new Conn(40005, 25).c('GET / HTTP/1.1\nHost: x\n\n').s('HTTP/1.1 200 OK\nContent-Length: 0\n\n'));
    const tls = one(new Conn(40006, 465).c(Buffer.from('16030100a5010000a10303' + '11'.repeat(100), 'hex')).s(Buffer.from('160303004a020000460303' + '22'.repeat(80), 'hex')));
    const junk = one(new Conn(40007, 25).s(noise(7, 800)).c(noise(8, 800)));
    const ftps = one(new Conn(40018, 25).s('220 files.example.org\n').c('AUTH TLS\n').s('234 AUTH TLS successful\n'));
    for (const f of [ftp, ftp2, http, tls, junk, ftps]) {
      expect(f.L7_PROTO).not.toBe(3);
      expect(Object.keys(f).filter((k) => k.startsWith('SMTP_'))).toEqual([]);
    }
  });

  it('a verb FTP shares (QUIT) after a greeting that does not say SMTP: SMTP on 25, not elsewhere', () => {
    const on25 = one(new Conn(40008, 25).s('220 mail.example.org\n').c('QUIT\n').s('221 bye\n'));
    const off = one(new Conn(40009, 2626).s('220 mail.example.org\n').c('QUIT\n').s('221 bye\n'));
    expect(on25.L7_PROTO).toBe(3);
    expect(off.L7_PROTO).not.toBe(3);
  });

  it('a connection picked up mid-stream whose first packet is the server\'s', () => {
    const c = new Conn(40010, 25, false).s('250 2.1.0 Ok\n').c('RCPT TO:<late@y.test>\n').s('250 ok\n').c('DATA\n').s('354 go\n').c('Subject: late\n\n.\n').s('250 ok\n');
    const f = one(c);
    expect(f.L7_PROTO).toBe(3);
    expect(f.SMTP_RCPT_TO).toBe('late@y.test');
    expect(f.SMTP_SUBJECT).toBe('late');
  });
});

describeCli('holes in the capture (TCP gaps), through the CLI', () => {
  it('a hole in the client stream between commands: named, resync at the next line', () => {
    const c = new Conn(40011, 25)
      .s('220 mx ESMTP\n')
      .c('EHLO h\n')
      .s('250 ok\n')
      .c('MAIL FROM:<first@x.test>\n')
      .s('250 ok\n');
    c.c('RCPT TO:<par');
    c.skip(0, 30); // rest of that line and a NOOP line lost
    c.s('250 ok\n250 ok\n').c('RCPT TO:<seen@y.test>\n').s('250 ok\n').c('QUIT\n').s('221 bye\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('smtp_stream_gap');
    expect(f.SMTP_MAIL_FROM).toBe('first@x.test');
    expect(f.SMTP_RCPT_TO).toBe('seen@y.test');
  });

  // The reassembler settles a client-side hole when the server's ACK covers it, after handing on
  // that server segment's own bytes: the replies below reach the dissector before the commands
  // they answer.
  it('a hole that swallows the end of a message: the server\'s reply ends it, the next mail is read', () => {
    const c = new Conn(40012, 25).s('220 mx ESMTP\n').c('EHLO h\n').s('250 ok\n').c('MAIL FROM:<a@x.test>\nRCPT TO:<b@y.test>\nDATA\n').s('250 ok\n250 ok\n354 go\n');
    c.c('Subject: holed\n\nsome body\n');
    c.skip(0, 500); // more body and the final "."
    c.s('250 queued\n').c('MAIL FROM:<c@x.test>\nRCPT TO:<d@y.test>\nDATA\n').s('250 ok\n250 ok\n354 go\n').c('Subject: after the hole\n\n.\n').s('250 ok\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('smtp_stream_gap');
    expect((f.SMTP_TRANSACTIONS as Txn[]).map((t) => [t.SMTP_MAIL_FROM, t.SMTP_SUBJECT])).toEqual([
      ['a@x.test', 'holed'],
      ['c@x.test', 'after the hole'],
    ]);
  });

  it('a hole ending mid-line: the tail of the lost line is skipped, the next line read', () => {
    const c = new Conn(40015, 25).s('220 mx ESMTP\n').c('EHLO h\n').s('250 ok\n').c('MAIL FROM:<first@x.test>\n').s('250 ok\n');
    c.c('RCPT TO:<lo');
    c.skip(0, 7); // "st@y.te"
    c.c('st>\nRCPT TO:<kept@y.test>\n').s('250 ok\n250 ok\n').c('QUIT\n').s('221 bye\n');
    const f = one(c);
    expect(f.SMTP_RCPT_TO).toBe('kept@y.test');
    expect(String(f.FLOW_ANOMALIES)).not.toMatch(/smtp_bad_command/);
  });

  it('a hole inside the header section: headers after it are not trusted', () => {
    const c = new Conn(40016, 25).s('220 mx ESMTP\n').c('EHLO h\n').s('250 ok\n').c('MAIL FROM:<a@x.test>\nRCPT TO:<b@y.test>\nDATA\n').s('250 ok\n250 ok\n354 go\n');
    c.c('From: a@x.test\n');
    c.skip(0, 40);
    c.c('Subject: maybe a body line\n\nbody\n.\n').s('250 queued\n');
    const f = one(c);
    expect(f.SMTP_MAIL_FROM).toBe('a@x.test');
    expect(f.SMTP_SUBJECT).toBeUndefined();
  });

  it('a hole in the server stream (the 354 lost): the body is still read, the next mail too', () => {
    const c = new Conn(40017, 25).s('220 mx ESMTP\n').c('EHLO h\n').s('250 ok\n').c('MAIL FROM:<a@x.test>\nRCPT TO:<b@y.test>\nDATA\n').s('250 ok\n250 ok\n');
    c.skip(1, 8); // "354 go\r\n"
    c.c('Subject: server hole\n\n.\n').s('250 queued\n').c('MAIL FROM:<c@x.test>\n').s('250 ok\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('smtp_stream_gap');
    expect((f.SMTP_TRANSACTIONS as Txn[]).map((t) => [t.SMTP_MAIL_FROM, t.SMTP_SUBJECT])).toEqual([
      ['a@x.test', 'server hole'],
      ['c@x.test', undefined],
    ]);
  });

  it('a hole inside a BDAT chunk keeps the commands after it in step', () => {
    const c = new Conn(40013, 25).s('220 mx ESMTP\n').c('EHLO h\n').s('250 ok\n').c('MAIL FROM:<a@x.test>\nRCPT TO:<b@y.test>\n').s('250 ok\n250 ok\n');
    const part = crlf('Subject: bdat\n'.padEnd(40, 'x'));
    c.c('BDAT 100 LAST\n').c(part);
    c.skip(0, 100 - part.length); // the rest of the chunk, exactly
    c.s('250 ok\n').c('MAIL FROM:<next@x.test>\n').s('250 ok\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('smtp_stream_gap');
    expect((f.SMTP_TRANSACTIONS as Txn[]).map((t) => t.SMTP_MAIL_FROM)).toEqual(['a@x.test', 'next@x.test']);
  });

  it('a 10 MB header line hits the line cap, not the memory limit; the session goes on', () => {
    const c = new Conn(40014, 25).s('220 mx ESMTP\n').c('EHLO h\n').s('250 ok\n').c('MAIL FROM:<a@x.test>\nRCPT TO:<b@y.test>\nDATA\n').s('250 ok\n250 ok\n354 go\n');
    c.c(Buffer.concat([Buffer.from('X-Huge: '), Buffer.alloc(10 << 20, 0x61), Buffer.from('\r\nSubject: after huge\r\n\r\n.\r\n')]));
    c.s('250 ok\n').c('QUIT\n').s('221 bye\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('smtp_line_too_long');
    expect(f.SMTP_SUBJECT).toBe('after huge');
  });
});

describeCli('the SMTP captures, through the CLI', () => {
  it('zeek_smtp: AUTH LOGIN user decoded, attachment body skipped, three recipients', () => {
    const r = runProbe('smtp/zeek_smtp.pcap');
    expect(r.status).toBe(0);
    const smtp = r.flows.filter((f) => f.L7_PROTO === 3) as unknown as Array<Record<string, unknown>>;
    expect(smtp).toHaveLength(2);
    expect(smtp[0]).toMatchObject({ SMTP_AUTH_USER: 'gurpartap@patriots.in', SMTP_SUBJECT: 'SMTP', SMTP_HELO: 'GP' });
    expect(smtp[1].SMTP_RCPT_TO).toBe('ericlim220@yahoo.com,felica4uu@hotmail.com,davis_mark1@outlook.com');
    expect(JSON.stringify(smtp)).not.toContain('punjab');
  });

  it('ndpi_smtp_starttls_v4v6_vlan: both sessions switch to TLS; nothing after is read', () => {
    const r = runProbe('smtp/ndpi_smtp_starttls_v4v6_vlan.pcap');
    const smtp = r.flows.filter((f) => f.L7_PROTO === 3) as unknown as Array<Record<string, unknown>>;
    expect(smtp).toHaveLength(2);
    for (const f of smtp) {
      expect(f.SMTP_STARTTLS).toBe(1);
      expect(f.SMTP_TRANSACTIONS).toBeUndefined();
      expect(f.FLOW_ANOMALIES).toBeUndefined();
    }
  });

  it('no SMTP anomaly on any of the clean captures', () => {
    for (const cap of ['smtp/suricata_smtp_multi_mail.pcap', 'smtp/suricata_smtp_pipelining.pcap', 'smtp/zeek_smtp.pcap']) {
      const r = runProbe(cap);
      for (const f of r.flows) expect(String(f.FLOW_ANOMALIES ?? '')).not.toMatch(/smtp_/);
    }
  });
});
