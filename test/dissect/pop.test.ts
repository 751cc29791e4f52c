// POP3 dissector (native/dissect/pop.cc) on stream chunks through the test-only binding, and
// the whole path (payload detection by probe_stream, TCP reassembly with holes, caps) through
// the CLI on the POP captures and on synthetic captures built here.
import { noise } from '../helpers/noise';
import { describe, expect, it } from '@jest/globals';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { dissectHex, Payload } from '../helpers/dissect';
import { ACK, LINKTYPE, writePcap } from '../helpers/pcapgen';
import { crashEvidence, probeBuilt, ProbeFlow, runCli, runProbe } from '../helpers/probe';
import { TcpConn } from '../helpers/tcpconn';

/** "\n" becomes CRLF (POP3 lines end in CRLF). */
const crlf = (s: string): string => s.replace(/\r?\n/g, '\r\n');
const hexOf = (b: Buffer): string => b.toString('hex');
const C = (s: string | Buffer): Payload => ({ dir: 0, hex: hexOf(typeof s === 'string' ? Buffer.from(crlf(s), 'latin1') : s), sport: 40000, dport: 110 });
const S = (s: string | Buffer): Payload => ({ dir: 1, hex: hexOf(typeof s === 'string' ? Buffer.from(crlf(s), 'latin1') : s), sport: 110, dport: 40000 });
const run = (payloads: Payload[]) => dissectHex('POP', payloads);
type Txn = Record<string, unknown>;
const txns = (r: ReturnType<typeof run>): Txn[] => (r.fields.POP_TRANSACTIONS as Txn[]) ?? [];
const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64');
/** The statuses of the attempts, in order ("" when unanswered). */
const statuses = (r: ReturnType<typeof run>): string[] => txns(r).map((t) => String(t.POP_AUTH_STATUS ?? ''));

const GREETING = S('+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\n');


/** The whole of a session's bytes re-cut into chunks of 1..max bytes (same direction order). */
function rechunk(payloads: Payload[], max: number, seed: number): Payload[] {
  const out: Payload[] = [];
  let x = seed;
  for (const p of payloads) {
    const b = Buffer.from(p.hex, 'hex');
    for (let i = 0; i < b.length; ) {
      x = (x * 1103515245 + 12345) >>> 0;
      const n = 1 + (x % max);
      out.push({ ...p, hex: hexOf(b.subarray(i, i + n)) });
      i += n;
    }
  }
  return out;
}

const SESSION: Payload[] = [
  GREETING,
  C('CAPA\n'),
  S('+OK Capability list follows\nTOP\nUSER\nSASL PLAIN LOGIN\nPIPELINING\nUIDL\n.\n'),
  C('USER alice@example.org\n'),
  S('+OK send PASS\n'),
  C('PASS s3cret-pw\n'),
  S('+OK maildrop has 2 messages (320 octets)\n'),
  C('STAT\n'),
  S('+OK 2 320\n'),
  C('LIST\n'),
  S('+OK 2 messages (320 octets)\n1 120\n2 200\n.\n'),
  C('UIDL\n'),
  S('+OK\n1 whqtswO00WBw418f9t5JxYwZ\n2 QhdPYR:00WBw1Ph7x7\n.\n'),
  C('TOP 1 0\n'),
  S('+OK top of message follows\nSubject: hi\nFrom: bob@example.org\n\n.\n'),
  C('RETR 1\n'),
  S('+OK 120 octets\nSubject: hi\n\n+OK this line is body\n-ERR so is this one\nUSER not-a-command\n..a dot-stuffed line\n.\n'),
  C('DELE 1\n'),
  S('+OK message 1 deleted\n'),
  C('QUIT\n'),
  S('+OK dewey POP3 server signing off (maildrop empty)\n'),
];

describe('POP3 session fields', () => {
  it('a whole USER/PASS session: user, greeting, counts; multi-line responses are not replies', () => {
    const r = run(SESSION);
    expect(r.l7).toBe(2);
    expect(r.anomalies).toEqual([]);
    expect(r.fields).toMatchObject({
      POP_USER: 'alice@example.org',
      POP_AUTH_MECH: 'USER',
      POP_AUTH_STATUS: '+OK',
      POP_GREETING: 'POP3 server ready <1896.697170952@dbc.mtview.ca.us>',
      POP_STLS: 0,
      POP_NUM_RETR: 1,
      POP_NUM_TOP: 1,
      POP_NUM_DELE: 1,
    });
    expect(txns(r)).toEqual([{ POP_USER: 'alice@example.org', POP_AUTH_MECH: 'USER', POP_AUTH_STATUS: '+OK' }]);
    // The password is never exported.
    expect(JSON.stringify(r.fields)).not.toContain('s3cret');
  });

  it('the same session cut into chunks of any size gives the same fields', () => {
    const whole = run(SESSION).fields;
    for (const [max, seed] of [
      [1, 1],
      [3, 7],
      [17, 42],
      [200, 5],
    ]) {
      const r = run(rechunk(SESSION, max, seed));
      expect(r.fields).toEqual(whole);
      expect(r.anomalies).toEqual([]);
    }
  });

  it('lines of a RETR body that look like replies do not answer pipelined commands', () => {
    // RFC 2449 PIPELINING: RETR, USER, PASS sent at once. If the body's "+OK" lines were read as
    // replies, USER and PASS would take them and the attempt would look successful.
    const r = run([
      GREETING,
      C('USER a\nPASS x\n'),
      S('+OK\n+OK\n'),
      C('RETR 1\nUSER b\nPASS y\n'),
      S('+OK message follows\n+OK\n+OK fake reply\n-ERR fake too\n.\n-ERR already logged in\n-ERR no\n'),
    ]);
    expect(txns(r).map((t) => [t.POP_USER, t.POP_AUTH_STATUS])).toEqual([
      ['a', '+OK'],
      ['b', '-ERR'],
    ]);
    expect(r.fields.POP_NUM_RETR).toBe(1);
  });

  // Each command is followed by "USER mark<n>", answered "-ERR": the attempt's status shows
  // whether that reply was read as a reply (right) or swallowed as body lines (wrong).
  const MULTI: Array<[string, string, boolean]> = [
    ['LIST 1', '+OK 1 120', false],
    ['LIST', '+OK\n1 120\n.', true],
    ['UIDL 2', '+OK 2 QhdPYR', false],
    ['UIDL', '+OK\n1 a\n2 b\n.', true],
    ['TOP 1 5', '+OK\nSubject: x\n\nline\n.', true],
    ['RETR 2', '+OK\nSubject: y\n\n.', true],
    ['RETR 9', '-ERR no such message', false],
    ['TOP 9 0', '-ERR no such message', false],
    ['CAPA', '+OK\nUSER\n.', true],
    ['CAPA', '-ERR', false],
    ['AUTH', '+OK\nPLAIN\nLOGIN\n.', true],
    ['AUTH', '-ERR 1 argument required', false],
    ['STAT', '+OK 2 320', false],
    ['NOOP', '+OK', false],
    ['RSET', '+OK maildrop has 2 messages', false],
    ['DELE 1', '+OK deleted', false],
  ];
  it.each(MULTI)('%s answered "%s": multi-line = %s, the next reply is read', (cmd, reply) => {
    const r = run([GREETING, C(`${cmd}\n`), S(`${reply}\n`), C('USER mark\n'), S('-ERR unknown user\n')]);
    expect(txns(r)).toEqual([{ POP_USER: 'mark', POP_AUTH_MECH: 'USER', POP_AUTH_STATUS: '-ERR' }]);
    expect(r.anomalies).toEqual([]);
  });

  it('an extension the dissector does not know answered with a listing: skipped to its "." quietly', () => {
    const r = run([GREETING, C('XTND XLST Received\n'), S('+OK Header list follows\n1 Received: from x\n.\n'), C('USER mark\n'), S('-ERR\n')]);
    expect(statuses(r)).toEqual(['-ERR']);
    expect(r.anomalies).toEqual([]);
    const lang = run([GREETING, C('LANG\n'), S('+OK Language listing follows\nen English\n.\n'), C('LANG fr\n'), S('+OK Bonjour\n'), C('USER m\n'), S('-ERR\n')]);
    expect(statuses(lang)).toEqual(['-ERR']);
    expect(lang.anomalies).toEqual([]);
  });

  it('lower-case commands (RFC 1939: keywords are case-insensitive)', () => {
    const r = run([GREETING, C('user bob\n'), S('+OK\n'), C('pass pw\n'), S('+OK\n'), C('retr 1\n'), S('+OK\nbody\n.\n'), C('top 1 0\n'), S('+OK\n.\n'), C('dele 1\n'), S('+OK\n')]);
    expect(r.fields).toMatchObject({ POP_USER: 'bob', POP_AUTH_STATUS: '+OK', POP_NUM_RETR: 1, POP_NUM_TOP: 1, POP_NUM_DELE: 1 });
  });

  it('a session without authentication has no attempt fields', () => {
    const r = run([GREETING, C('CAPA\n'), C('QUIT\n'), S('+OK\nUSER\n.\n+OK bye\n')]);
    expect(r.fields.POP_USER).toBeUndefined();
    expect(r.fields.POP_AUTH_MECH).toBeUndefined();
    expect(r.fields.POP_TRANSACTIONS).toBeUndefined();
    expect(r.fields.POP_GREETING).toBe('POP3 server ready <1896.697170952@dbc.mtview.ca.us>');
    expect(r.fields.POP_STLS).toBe(0);
    expect(r.fields.POP_NUM_RETR).toBeUndefined();
  });

  it('a greeting with 8-bit text (no UTF-8) is kept as sent', () => {
    const r = run([S(Buffer.concat([Buffer.from('+OK '), Buffer.from('d3cabcfe', 'hex'), Buffer.from(' CMailServer ready\r\n')]))]);
    expect(r.fields.POP_GREETING).toMatch(/ CMailServer ready$/);
    expect(r.anomalies).toEqual([]);
  });
});

describe('authentication attempts (transactions)', () => {
  it('one per attempt, with its result; the flat fields are the first', () => {
    const r = run([
      GREETING,
      C('USER nobody\n'),
      S('-ERR no such user\n'),
      C('USER carol\n'),
      S('+OK\n'),
      C('PASS wrong\n'),
      S('-ERR [AUTH] invalid password\n'),
      C(`AUTH PLAIN ${b64('\0carol\0right')}\n`),
      S('+OK logged in\n'),
    ]);
    expect(txns(r)).toEqual([
      { POP_USER: 'nobody', POP_AUTH_MECH: 'USER', POP_AUTH_STATUS: '-ERR' },
      { POP_USER: 'carol', POP_AUTH_MECH: 'USER', POP_AUTH_STATUS: '-ERR' },
      { POP_USER: 'carol', POP_AUTH_MECH: 'PLAIN', POP_AUTH_STATUS: '+OK' },
    ]);
    expect(r.fields).toMatchObject({ POP_USER: 'nobody', POP_AUTH_MECH: 'USER', POP_AUTH_STATUS: '-ERR' });
    expect(JSON.stringify(r.fields)).not.toMatch(/wrong|right/);
  });

  it('PASS without its USER (lost, or before the capture) is an attempt with no user', () => {
    const r = run([C('PASS pw\n'), S('+OK\n')]);
    expect(txns(r)).toEqual([{ POP_AUTH_MECH: 'USER', POP_AUTH_STATUS: '+OK' }]);
  });

  it('an attempt never answered has no status; a new USER closes the previous one', () => {
    const r = run([GREETING, C('USER first\n'), S('+OK\n'), C('USER second\n'), S('+OK\n'), C('PASS x\n')]);
    expect(txns(r)).toEqual([
      { POP_USER: 'first', POP_AUTH_MECH: 'USER' },
      { POP_USER: 'second', POP_AUTH_MECH: 'USER' },
    ]);
  });

  it('APOP: the name, not the digest', () => {
    const r = run([GREETING, C('APOP mrose c4c9334bac560ecc979e58001b3e22fb\n'), S('+OK mrose\'s maildrop has 2 messages\n')]);
    expect(txns(r)).toEqual([{ POP_USER: 'mrose', POP_AUTH_MECH: 'APOP', POP_AUTH_STATUS: '+OK' }]);
  });

  it('AUTH PLAIN with the initial response on the AUTH line (RFC 5034), authzid ignored', () => {
    const r = run([GREETING, C(`AUTH PLAIN ${b64('admin\0dave\0pw-dave')}\n`), S('+OK\n')]);
    expect(txns(r)).toEqual([{ POP_USER: 'dave', POP_AUTH_MECH: 'PLAIN', POP_AUTH_STATUS: '+OK' }]);
    expect(JSON.stringify(r.fields)).not.toContain('pw-dave');
  });

  it('AUTH PLAIN with the response on the next line, after "+ "', () => {
    const r = run([GREETING, C('auth plain\n'), S('+ \n'), C(`${b64('\0erin@example.org\0pw')}\n`), S('-ERR authentication failed\n')]);
    expect(txns(r)).toEqual([{ POP_USER: 'erin@example.org', POP_AUTH_MECH: 'PLAIN', POP_AUTH_STATUS: '-ERR' }]);
  });

  it('AUTH PLAIN "=" (empty initial response), then the response after "+"', () => {
    const r = run([GREETING, C('AUTH PLAIN =\n'), S('+\n'), C(`${b64('\0frank\0pw')}\n`), S('+OK\n')]);
    expect(txns(r)).toEqual([{ POP_AUTH_MECH: 'PLAIN', POP_AUTH_STATUS: '+OK' }]);
  });

  it('AUTH LOGIN: the first response is the user, the second (the password) is not decoded', () => {
    const r = run([GREETING, C('AUTH LOGIN\n'), S(`+ ${b64('Username:')}\n`), C(`${b64('grace')}\n`), S(`+ ${b64('Password:')}\n`), C(`${b64('login-secret')}\n`), S('+OK\n')]);
    expect(txns(r)).toEqual([{ POP_USER: 'grace', POP_AUTH_MECH: 'LOGIN', POP_AUTH_STATUS: '+OK' }]);
    expect(JSON.stringify(r.fields)).not.toContain('login-secret');
    const ir = run([GREETING, C(`AUTH LOGIN ${b64('heidi')}\n`), S(`+ ${b64('Password:')}\n`), C(`${b64('pw')}\n`), S('+OK\n')]);
    expect(txns(ir)[0].POP_USER).toBe('heidi');
  });

  it('AUTH CRAM-MD5: the name before the digest (RFC 2195)', () => {
    const r = run([GREETING, C('AUTH CRAM-MD5\n'), S(`+ ${b64('<1896.697170952@postoffice.example.net>')}\n`), C(`${b64('tim b913a602c7eda7a495b4e6e7334d3890')}\n`), S('+OK\n')]);
    expect(txns(r)).toEqual([{ POP_USER: 'tim', POP_AUTH_MECH: 'CRAM-MD5', POP_AUTH_STATUS: '+OK' }]);
  });

  it('AUTH XOAUTH2: user=, the bearer token is not decoded', () => {
    const r = run([GREETING, C(`AUTH XOAUTH2 ${b64('user=ivan@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01')}\n`), S('+OK\n')]);
    expect(txns(r)).toEqual([{ POP_USER: 'ivan@example.com', POP_AUTH_MECH: 'XOAUTH2', POP_AUTH_STATUS: '+OK' }]);
    expect(JSON.stringify(r.fields)).not.toContain('ya29');
  });

  it('a mechanism that carries no name (GSSAPI): the attempt, no user', () => {
    const r = run([GREETING, C('AUTH GSSAPI\n'), S('+ \n'), C(`${b64('kerberos-token-bytes')}\n`), S('+ ' + b64('x') + '\n'), C('\n'), S('-ERR\n')]);
    expect(txns(r)).toEqual([{ POP_AUTH_MECH: 'GSSAPI', POP_AUTH_STATUS: '-ERR' }]);
    expect(r.anomalies).toEqual([]);
  });

  it('the client cancels with "*" (RFC 5034): the next commands are commands again', () => {
    const r = run([GREETING, C('AUTH PLAIN\n'), S('+ \n'), C('*\n'), S('-ERR cancelled\n'), C('USER judy\n'), S('+OK\n')]);
    expect(txns(r)).toEqual([{ POP_AUTH_MECH: 'PLAIN', POP_AUTH_STATUS: '-ERR' }, { POP_USER: 'judy', POP_AUTH_MECH: 'USER' }]);
  });

  it('the end of a SASL exchange lost: a command that is no base64 ends it', () => {
    const r = run([GREETING, C('AUTH PLAIN\n'), S('+ \n'), C(`${b64('\0ken\0pw')}\n`), C('RETR 1\n'), S('+OK\nbody\n.\n')]);
    expect(txns(r)).toEqual([{ POP_USER: 'ken', POP_AUTH_MECH: 'PLAIN' }]);
    expect(r.fields.POP_NUM_RETR).toBe(1);
  });

  it('the cap: 64 attempts kept, the rest counted', () => {
    const p: Payload[] = [GREETING];
    for (let i = 0; i < 70; i++) p.push(C(`USER u${i}\n`), S('-ERR\n'));
    const r = run(p);
    expect(txns(r)).toHaveLength(64);
    expect(txns(r)[63].POP_USER).toBe('u63');
    expect(r.fields.POP_USER).toBe('u0');
    expect(r.anomalies).toContain('pop_transactions_cap');
  });
});

describe('STLS (RFC 2595)', () => {
  it('+OK: POP_STLS 1 and nothing after is read', () => {
    const r = run([GREETING, C('STLS\n'), S('+OK Begin TLS negotiation\n'), C('USER after-tls\n'), S('+OK\n')]);
    expect(r.fields.POP_STLS).toBe(1);
    expect(r.fields.POP_USER).toBeUndefined();
    expect(r.l7).toBe(2);
  });

  it('-ERR: the session goes on in clear', () => {
    const r = run([GREETING, C('STLS\n'), S('-ERR Command not permitted when TLS active\n'), C('USER clear\n'), S('+OK\n')]);
    expect(r.fields.POP_STLS).toBe(0);
    expect(r.fields.POP_USER).toBe('clear');
  });

  it('TLS bytes from the client after STLS (its reply not seen) mean TLS', () => {
    const hello = Buffer.from('16030100a5010000a10303' + '11'.repeat(40) + '0d0a' + '22'.repeat(20), 'hex');
    const r = run([GREETING, C('STLS\n'), C(hello), C('USER never\n')]);
    expect(r.fields.POP_STLS).toBe(1);
    expect(r.fields.POP_USER).toBeUndefined();
  });
});

describe('odd forms and orientation', () => {
  it('roles reversed (the capture started with the server\'s packet): read the right way round', () => {
    const r = run([
      { dir: 0, hex: hexOf(Buffer.from('+OK 2 320\r\n')) },
      { dir: 1, hex: hexOf(Buffer.from('RETR 1\r\n')) },
      { dir: 0, hex: hexOf(Buffer.from('+OK\r\n+OK body\r\n.\r\n')) },
      { dir: 1, hex: hexOf(Buffer.from('USER late\r\n')) },
      { dir: 0, hex: hexOf(Buffer.from('-ERR already\r\n')) },
    ]);
    expect(r.fields.POP_NUM_RETR).toBe(1);
    expect(txns(r)).toEqual([{ POP_USER: 'late', POP_AUTH_MECH: 'USER', POP_AUTH_STATUS: '-ERR' }]);
    // Picked up mid-stream, the first reply reads as the greeting: nothing tells them apart.
    expect(r.fields.POP_GREETING).toBe('2 320');
  });

  it('bare LF line ends and "+ok" in lower case are tolerated', () => {
    const r = run([{ dir: 1, hex: hexOf(Buffer.from('+ok hi\n')) }, { dir: 0, hex: hexOf(Buffer.from('USER lf\n')) }, { dir: 1, hex: hexOf(Buffer.from('-err\n')) }]);
    expect(r.fields.POP_GREETING).toBe('hi');
    expect(txns(r)).toEqual([{ POP_USER: 'lf', POP_AUTH_MECH: 'USER', POP_AUTH_STATUS: '-ERR' }]);
  });

  it('a reply to a command the capture lost, then its listing: skipped to the "."', () => {
    const r = run([GREETING, S('+OK\n1 120\n2 200\n.\n'), C('USER m\n'), S('-ERR\n')]);
    expect(statuses(r)).toEqual(['-ERR']);
    expect(r.anomalies).toEqual([]);
  });
});

describe('malformed input: named anomalies, no crash', () => {
  it('client lines that are no commands; after 16 in a row the flow is given up', () => {
    const bad = run([GREETING, C('\x01\x02 garbage\n'), C('USER ok\n'), S('+OK\n')]);
    expect(bad.anomalies).toEqual(['pop_bad_command']);
    expect(bad.fields.POP_USER).toBe('ok');
    const p: Payload[] = [GREETING];
    for (let i = 0; i < 16; i++) p.push(C(`#${i} not pop\n`));
    p.push(C('USER too-late\n'), S('+OK\n'));
    const r = run(p);
    expect(r.anomalies).toEqual(['pop_bad_command', 'pop_too_many_bad_lines']);
    expect(r.fields.POP_USER).toBeUndefined();
  });

  it('a server line that is no reply: named, skipped to the next "." line', () => {
    const r = run([GREETING, C('STAT\n'), S('+OK 1 2\nhello there\nmore\n.\n'), C('USER x\n'), S('-ERR\n')]);
    expect(r.anomalies).toEqual(['pop_unexpected_server_line']);
    expect(statuses(r)).toEqual(['-ERR']);
  });

  it('a continuation "+ " outside SASL', () => {
    const r = run([GREETING, C('NOOP\n'), S('+ what\n+OK\n')]);
    expect(r.anomalies).toEqual(['pop_unexpected_continuation']);
  });

  it('bad base64 and a PLAIN message without its NULs', () => {
    const r = run([GREETING, C('AUTH PLAIN !!!notbase64\n'), S('-ERR\n'), C(`AUTH PLAIN ${b64('just-a-password')}\n`), S('-ERR\n')]);
    expect(r.anomalies).toEqual(['pop_bad_base64', 'pop_bad_sasl_response']);
    expect(txns(r)).toEqual([
      { POP_AUTH_MECH: 'PLAIN', POP_AUTH_STATUS: '-ERR' },
      { POP_AUTH_MECH: 'PLAIN', POP_AUTH_STATUS: '-ERR' },
    ]);
    expect(JSON.stringify(r.fields)).not.toContain('just-a-password');
  });

  it('a PLAIN authcid without its closing NUL is not taken (it could be the password)', () => {
    const r = run([GREETING, C(`AUTH PLAIN ${b64('\0only-one-part')}\n`), S('-ERR\n')]);
    expect(r.anomalies).toEqual(['pop_bad_sasl_response']);
    expect(txns(r)[0].POP_USER).toBeUndefined();
  });

  it('user names over 256 bytes are cut (USER and SASL)', () => {
    const long = 'u'.repeat(300);
    const r = run([GREETING, C(`USER ${long}\n`), S('-ERR\n'), C(`AUTH PLAIN ${b64(`\0${long}\0pw`)}\n`), S('-ERR\n')]);
    expect(r.anomalies).toEqual(['pop_user_too_long']);
    expect(txns(r).map((t) => String(t.POP_USER).length)).toEqual([256, 256]);
  });

  it('a SASL exchange that never ends: after 16 responses the lines are no longer taken as responses', () => {
    const p: Payload[] = [GREETING, C('AUTH GSSAPI\n')];
    for (let i = 0; i < 20; i++) p.push(S('+ \n'), C('YWJj+w==\n'));
    const r = run(p);
    expect(r.anomalies).toEqual(['pop_sasl_too_many_steps']);
    expect(txns(r)).toEqual([{ POP_AUTH_MECH: 'GSSAPI' }]);
  });

  it('a SASL mechanism name over 20 characters (RFC 4422) is cut', () => {
    const r = run([GREETING, C(`AUTH ${'X'.repeat(30)}\n`), S('-ERR\n')]);
    expect(r.anomalies).toEqual(['pop_sasl_mech_too_long']);
    expect(txns(r)[0].POP_AUTH_MECH).toBe('X'.repeat(20));
  });

  it('a 1 MB command line hits the line cap; the next line is read', () => {
    const r = run([GREETING, C(`USER ${'a'.repeat(1 << 20)}\nUSER next\n`), S('-ERR\n-ERR\n')]);
    expect(r.anomalies).toContain('pop_line_too_long');
    expect(txns(r)[1]).toEqual({ POP_USER: 'next', POP_AUTH_MECH: 'USER', POP_AUTH_STATUS: '-ERR' });
  });

  it('a command cut by the end of the capture', () => {
    const r = run([GREETING, C('USER half')]);
    expect(r.anomalies).toEqual(['pop_truncated_line']);
    // A body cut by the end of the capture is no anomaly (captures end anywhere).
    const body = run([GREETING, C('RETR 1\n'), S('+OK\npart of a li')]);
    expect(body.anomalies).toEqual([]);
  });

  it('commands never answered: the queue is capped', () => {
    const p: Payload[] = [GREETING];
    for (let i = 0; i < 70; i++) p.push(C('NOOP\n'));
    const r = run(p);
    expect(r.anomalies).toEqual(['pop_pending_cap']);
  });

  it('a greeting over 512 bytes is cut', () => {
    const r = run([S(`+OK ${'g'.repeat(600)}\n`)]);
    expect(r.anomalies).toEqual(['pop_greeting_too_long']);
    expect(String(r.fields.POP_GREETING)).toHaveLength(512);
  });

  it('random bytes in both directions: no crash, bounded fields', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = run([
        { dir: 1, hex: hexOf(noise(seed, 700)) },
        { dir: 0, hex: hexOf(noise(seed + 100, 900)) },
        { dir: 1, hex: hexOf(noise(seed + 200, 300)) },
      ]);
      expect(r.l7).toBe(2);
      for (const v of Object.values(r.fields)) if (typeof v === 'string') expect(Buffer.byteLength(v)).toBeLessThanOrEqual(1024 * 3);
    }
  });

  it('the UDP packet probe never claims a payload (POP3 is TCP: probe_stream decides)', () => {
    const r = run([S('+OK POP3 ready\n'), C('USER x\n')]);
    expect(r.probe).toEqual([false, false]);
  });
});

// ---------------------------------------------------------------------------------------
// The whole path through the CLI: payload detection (probe_stream), reassembly with holes.

/** A POP3 connection: lines in CRLF (test/helpers/tcpconn.ts). */
class Tcp extends TcpConn {
  constructor(cport: number, sport: number, opts: { handshake?: boolean; t0?: number } = {}) {
    super(cport, sport, { ...opts, t0: opts.t0 ?? 1_600_000_000_000_000, stepUs: 500, isn: [7000, 90000], client: '198.51.100.7', server: '203.0.113.9', text: (t) => Buffer.from(crlf(t), 'latin1') });
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-pop-'));
let fileNo = 0;
function cli(conns: Tcp[]): ProbeFlow[] {
  const frames = conns.flatMap((c) => c.frames).sort((a, b) => a.tsUs - b.tsUs);
  const file = writePcap(frames, LINKTYPE.ETHERNET, path.join(tmp, `p${fileNo++}.pcap`));
  const r = runCli(['-i', file, '-n', 'none', '--json-out', '-']);
  if (r.status !== 0) throw new Error(`probe exit ${r.status}: ${r.stderr}`);
  expect(crashEvidence(r.stderr)).toEqual([]);
  return r.flows;
}
const one = (c: Tcp): Record<string, unknown> => {
  const flows = cli([c]).filter((f) => f.PROTOCOL === 6);
  expect(flows).toHaveLength(1);
  return flows[0] as unknown as Record<string, unknown>;
};
const login = (c: Tcp, greeting = '+OK POP3 server ready\n'): Tcp =>
  c.s(greeting).c('USER zoe@example.net\n').s('+OK\n').c('PASS pw\n').s('+OK 1 message\n');
const popFields = (f: Record<string, unknown>): string[] => Object.keys(f).filter((k) => k.startsWith('POP_'));

const describeCli = probeBuilt() ? describe : describe.skip;

describeCli('detection by payload (probe_stream), through the CLI', () => {
  it('POP3 on 110, and off its port: a greeting naming POP, or any greeting and a POP command', () => {
    const on = one(login(new Tcp(40001, 110)).c('QUIT\n').s('+OK bye\n'));
    expect(on).toMatchObject({ L7_PROTO: 2, L7_PROTO_NAME: 'POP3', POP_USER: 'zoe@example.net' });
    const off = one(login(new Tcp(40002, 1110)).c('QUIT\n').s('+OK bye\n'));
    expect(off).toMatchObject({ L7_PROTO: 2, POP_USER: 'zoe@example.net' });
    const dovecot = one(login(new Tcp(40003, 8110), '+OK Dovecot ready.\n'));
    expect(dovecot).toMatchObject({ L7_PROTO: 2, POP_USER: 'zoe@example.net', POP_GREETING: 'Dovecot ready.' });
  });

  it('other protocols and garbage on port 110 are not labelled POP3', () => {
    const redis = one(new Tcp(40010, 110).c('*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n').s('+OK\r\n'));
    const http = one(new Tcp(40011, 110).c('GET / HTTP/1.1\nHost: x\n\n').s('HTTP/1.1 200 OK\nContent-Length: 0\n\n'));
    const smtp = one(new Tcp(40012, 110).s('220 mx.example.org ESMTP\n').c('EHLO h\n').s('250 ok\n'));
    const imap = one(new Tcp(40013, 110).s('* OK IMAP4rev1 ready\n').c('a1 LOGIN u p\n').s('a1 OK\n'));
    const ftp = one(new Tcp(40014, 110).s('220 FTP ready\n').c('USER anonymous\n').s('331 Password required\n'));
    const junk = one(new Tcp(40015, 110).s(noise(3, 900)).c(noise(4, 900)));
    const tls = one(new Tcp(40016, 995).c(Buffer.from('16030100a5010000a10303' + '11'.repeat(100), 'hex')).s(Buffer.from('160303004a020000460303' + '22'.repeat(80), 'hex')));
    for (const f of [redis, http, smtp, imap, ftp, junk, tls]) {
      expect(f.L7_PROTO).not.toBe(2);
      expect(popFields(f)).toEqual([]);
    }
  });

  it('off port 110, a bare "+OK" reply and a command Redis has too (AUTH) is not POP3', () => {
    const f = one(new Tcp(40017, 6379).c('AUTH secret\n').s('+OK\n').c('GET k\n').s('$-1\n'));
    expect(f.L7_PROTO).not.toBe(2);
  });

  it('a connection picked up mid-stream whose first packet is the server\'s', () => {
    const c = new Tcp(40018, 110, { handshake: false }).s('+OK 2 320\n').c('RETR 2\n').s('+OK\nSubject: x\n\n+OK not a reply\n.\n').c('USER mid\n').s('-ERR\n');
    const f = one(c);
    expect(f.L7_PROTO).toBe(2);
    expect(f.POP_NUM_RETR).toBe(1);
    expect(f.POP_TRANSACTIONS).toEqual([{ POP_USER: 'mid', POP_AUTH_MECH: 'USER', POP_AUTH_STATUS: '-ERR' }]);
  });

  it('STLS +OK: POP_STLS 1, the TLS that follows is not read', () => {
    const c = new Tcp(40019, 110).s('+OK POP3 ready\n').c('STLS\n').s('+OK Begin TLS\n');
    c.c(Buffer.from('16030100a5010000a10303' + '0d0a'.repeat(30), 'hex')).s(Buffer.from('160303004a020000460303' + '2b4f4b0d0a'.repeat(10), 'hex'));
    const f = one(c);
    expect(f).toMatchObject({ L7_PROTO: 2, POP_STLS: 1 });
    expect(f.FLOW_ANOMALIES).toBeUndefined();
  });
});

describeCli('holes in the capture (TCP gaps), through the CLI', () => {
  it('a hole inside a RETR body: named, the body skipped to its ".", the next reply read', () => {
    const c = login(new Tcp(40020, 110)).c('RETR 1\n').s('+OK 5000 octets\nSubject: big\n\n' + 'line of body\n'.repeat(20));
    c.skip(1, 2000);
    c.s('line of body\n+OK looks like a reply\n.\n').c('USER again\n').s('-ERR already authenticated\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('pop_stream_gap');
    expect((f.POP_TRANSACTIONS as Txn[]).map((t) => t.POP_AUTH_STATUS)).toEqual(['+OK', '-ERR']);
  });

  it('a hole that swallows the end of a body and the next reply: the reply after it is read', () => {
    const c = login(new Tcp(40021, 110)).c('RETR 1\n').s('+OK\nSubject: cut\n\nbody\n');
    c.skip(1, 40); // rest of the body, ".", and the reply to the USER below
    c.c('USER second\n').c('PASS x\n').s('-ERR bad\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('pop_stream_gap');
    expect(f.POP_TRANSACTIONS).toEqual([
      { POP_USER: 'zoe@example.net', POP_AUTH_MECH: 'USER', POP_AUTH_STATUS: '+OK' },
      { POP_USER: 'second', POP_AUTH_MECH: 'USER', POP_AUTH_STATUS: '-ERR' },
    ]);
  });

  it('a lost reply outside a body: the command it answered waits no more', () => {
    const c = new Tcp(40022, 110).s('+OK ready\n').c('USER lost-reply\n');
    c.skip(1, 5); // "+OK\r\n"
    c.c('PASS pw\n').s('+OK logged in\n').c('USER other\n').s('-ERR already logged in\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('pop_stream_gap');
    // Out of step, "+OK logged in" would answer the USER and the -ERR the PASS.
    expect((f.POP_TRANSACTIONS as Txn[]).map((t) => [t.POP_USER, t.POP_AUTH_STATUS])).toEqual([
      ['lost-reply', '+OK'],
      ['other', '-ERR'],
    ]);
  });

  it('a lost reply settled by a pure ACK: the reply after the hole answers the newest command', () => {
    const c = login(new Tcp(40026, 110)).c('STAT\n');
    c.skip(1, 11); // "+OK 2 320\r\n"
    c.c('LIST 1\n').s('+OK 1 120\n').ack(0).c('USER z\n').s('-ERR no\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('pop_stream_gap');
    expect((f.POP_TRANSACTIONS as Txn[]).map((t) => [t.POP_USER, t.POP_AUTH_STATUS])).toEqual([
      ['zoe@example.net', '+OK'],
      ['z', '-ERR'],
    ]);
  });

  it('a hole ending inside a reply line: the rest of that line is skipped, the commands before it wait no more', () => {
    const c = login(new Tcp(40027, 110)).c('STAT\n');
    c.skip(1, 6); // "+OK 2 " of "+OK 2 320\r\n"
    c.s('320\n').ack(0).c('USER y\n').s('-ERR no\n');
    const f = one(c);
    expect((f.POP_TRANSACTIONS as Txn[]).map((t) => [t.POP_USER, t.POP_AUTH_STATUS])).toEqual([
      ['zoe@example.net', '+OK'],
      ['y', '-ERR'],
    ]);
    expect(String(f.FLOW_ANOMALIES)).not.toMatch(/pop_unexpected_server_line/);
  });

  it('the +OK of a RETR lost: the lines after it are its body, not replies', () => {
    const c = login(new Tcp(40023, 110)).c('RETR 1\n');
    c.skip(1, 6); // "+OK\r\n" and one more byte
    c.s('ubject: x\n+OK inside the body\n.\n').c('USER after\n').s('-ERR no\n');
    const f = one(c);
    expect((f.POP_TRANSACTIONS as Txn[]).map((t) => t.POP_AUTH_STATUS)).toEqual(['+OK', '-ERR']);
    expect(String(f.FLOW_ANOMALIES)).not.toMatch(/pop_unexpected_server_line/);
  });

  it('a hole in the client stream (a lost command): its reply is unmatched, the next ones are read', () => {
    const c = login(new Tcp(40024, 110)).c('LIST\n');
    c.skip(0, 8); // the next command ("RETR 1\r\n") lost
    c.s('+OK\n1 120\n.\n+OK\nbody\n.\n').c('USER x\n').s('-ERR\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('pop_stream_gap');
    expect((f.POP_TRANSACTIONS as Txn[]).map((t) => t.POP_AUTH_STATUS)).toEqual(['+OK', '-ERR']);
  });

  it('a 10 MB command line hits the line cap, not the memory limit; the session goes on', () => {
    const c = new Tcp(40025, 110).s('+OK ready\n').c(Buffer.concat([Buffer.from('USER '), Buffer.alloc(10 << 20, 0x61), Buffer.from('\r\nUSER after-huge\r\n')]));
    c.s('-ERR\n-ERR\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('pop_line_too_long');
    expect((f.POP_TRANSACTIONS as Txn[])[1]).toEqual({ POP_USER: 'after-huge', POP_AUTH_MECH: 'USER', POP_AUTH_STATUS: '-ERR' });
  });
});

describeCli('the POP captures, through the CLI', () => {
  const pop = (cap: string): Array<Record<string, unknown>> => {
    const r = runProbe(cap);
    expect(r.status).toBe(0);
    return r.flows.filter((f) => f.L7_PROTO === 2) as unknown as Array<Record<string, unknown>>;
  };

  it('ndpi_pop3: six sessions; USER/PASS and AUTH PLAIN (response on the next line), no password', () => {
    const flows = pop('pop/ndpi_pop3.pcap');
    expect(flows).toHaveLength(6);
    const byPort = Object.fromEntries(flows.map((f) => [f.L4_SRC_PORT, f]));
    expect(byPort[35287]).toMatchObject({ POP_USER: 'cicciopernacchio@mail.com', POP_AUTH_MECH: 'USER', POP_AUTH_STATUS: '+OK', POP_NUM_RETR: 1 });
    expect(byPort[26284]).toMatchObject({ POP_USER: 'digitalinvestigator@networksims.com', POP_AUTH_MECH: 'PLAIN', POP_AUTH_STATUS: '-ERR' });
    expect(byPort[26308]).toMatchObject({ POP_USER: 'digitalinvestigator@networksims.com', POP_AUTH_MECH: 'PLAIN', POP_AUTH_STATUS: '+OK' });
    expect(byPort[26383]).toMatchObject({ POP_AUTH_STATUS: '+OK', POP_NUM_RETR: 3 });
    for (const p of [26272, 26304]) expect(byPort[p].POP_TRANSACTIONS).toBeUndefined(); // CAPA, QUIT only
    const text = JSON.stringify(flows);
    for (const pw of ['pippozzo', 'napier']) expect(text).not.toContain(pw);
  });

  it('suricata_pop3: 49 TOP with large multi-line responses, one login', () => {
    const [f] = pop('pop/suricata_pop3.pcap');
    expect(f).toMatchObject({ POP_USER: 'moises.nunez@ingenierianumar.com', POP_AUTH_STATUS: '+OK', POP_NUM_TOP: 49, POP_GREETING: 'POP server ready H mieueus020 1Mw7UO-1j88qA02mS-00sOH0' });
    expect(f.POP_NUM_RETR).toBeUndefined();
  });

  it('suricata_pop3_bug7709: a failed and a good login; the RST-only connection is not POP3', () => {
    const r = runProbe('pop/suricata_pop3_bug7709.pcap');
    const flows = r.flows as unknown as Array<Record<string, unknown>>;
    expect(flows.filter((f) => f.L7_PROTO === 2).map((f) => [f.POP_USER, f.POP_AUTH_STATUS])).toEqual([
      ['test@tt.com', '-ERR'],
      ['test', '+OK'],
    ]);
    expect(flows.find((f) => f.L4_SRC_PORT === 38553)?.L7_PROTO).toBe(0);
  });

  it('no POP anomaly on the clean captures', () => {
    for (const cap of ['pop/ndpi_pop3.pcap', 'pop/suricata_pop3.pcap', 'pop/suricata_pop3_bug7709.pcap']) {
      for (const f of runProbe(cap).flows) expect(String(f.FLOW_ANOMALIES ?? '')).not.toMatch(/pop_/);
    }
  });
});
