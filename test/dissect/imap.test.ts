// IMAP dissector (native/dissect/imap.cc) on stream chunks through the test-only binding, and
// the whole path (payload detection, TCP reassembly with holes, caps) through the CLI on the
// IMAP captures and on synthetic captures built here.
import { noise } from '../helpers/noise';
import { describe, expect, it } from '@jest/globals';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { dissectHex, Payload } from '../helpers/dissect';
import { ACK, LINKTYPE, writePcap } from '../helpers/pcapgen';
import { probeBuilt, ProbeFlow, runCli, runProbe } from '../helpers/probe';
import { TcpConn } from '../helpers/tcpconn';

const toBuf = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'latin1') : s);
/** Client -> server chunk (dir 0) and server -> client chunk (dir 1); "\n" becomes CRLF. */
const C = (s: string | Buffer): Payload => ({ dir: 0, hex: toBuf(s).toString('hex'), sport: 40000, dport: 143 });
const S = (s: string | Buffer): Payload => ({ dir: 1, hex: toBuf(s).toString('hex'), sport: 143, dport: 40000 });
const run = (payloads: Payload[]) => dissectHex('IMAP', payloads);
type Txn = Record<string, unknown>;
const txns = (r: ReturnType<typeof run>): Txn[] => (r.fields.IMAP_TRANSACTIONS as Txn[]) ?? [];
const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64');
const imapAnomalies = (r: ReturnType<typeof run>): string[] => r.anomalies.filter((a) => a.startsWith('imap_'));

const GREETING = S('* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ STARTTLS AUTH=PLAIN] Dovecot ready.\n');


describe('IMAP session fields', () => {
  it('greeting, capabilities, LOGIN with its result, the selected mailbox; flat = first transaction', () => {
    const r = run([
      GREETING,
      C('a1 CAPABILITY\n'),
      S('* CAPABILITY IMAP4rev1 IDLE\na1 OK done\n'),
      C('a2 LOGIN alice s3cret-pw\n'),
      S('a2 OK [CAPABILITY IMAP4rev1 IDLE MOVE] Logged in\n'),
      C('a3 SELECT "Sent Items"\n'),
      S('* 3 EXISTS\na3 OK [READ-WRITE] SELECT completed\n'),
    ]);
    expect(r.l7).toBe(4);
    expect(r.fields).toEqual({
      IMAP_LOGIN: 'alice',
      IMAP_AUTH_METHOD: 'LOGIN',
      IMAP_AUTH_STATUS: 'OK',
      IMAP_STARTTLS: 0,
      IMAP_GREETING: 'Dovecot ready.',
      IMAP_CAPABILITIES: 'IMAP4rev1 SASL-IR LITERAL+ STARTTLS AUTH=PLAIN',
      IMAP_MAILBOX: 'Sent Items',
      IMAP_TRANSACTIONS: [{ IMAP_LOGIN: 'alice', IMAP_AUTH_METHOD: 'LOGIN', IMAP_AUTH_STATUS: 'OK' }],
    });
    expect(JSON.stringify(r.fields)).not.toContain('s3cret');
    expect(r.anomalies).toEqual([]);
  });

  it('capabilities from an untagged CAPABILITY response when the greeting has none; a greeting with another code keeps it', () => {
    const r = run([S('* OK [ALERT] maintenance at 22:00\n'), C('1 capability\n'), S('* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\n1 OK\n')]);
    expect(r.fields.IMAP_GREETING).toBe('[ALERT] maintenance at 22:00');
    expect(r.fields.IMAP_CAPABILITIES).toBe('IMAP4rev1 STARTTLS LOGINDISABLED');
  });

  it('lower-case commands and statuses, quoted user with escapes, EXAMINE', () => {
    const r = run([GREETING, C('x login "jo\\"hn \\\\ d" "p w"\n'), S('x ok logged in\n'), C('y examine inbox\n'), S('y ok\n')]);
    expect(r.fields.IMAP_LOGIN).toBe('jo"hn \\ d');
    expect(r.fields.IMAP_AUTH_STATUS).toBe('OK');
    expect(r.fields.IMAP_MAILBOX).toBe('inbox');
    expect(JSON.stringify(r.fields)).not.toContain('p w');
  });

  it('a failed LOGIN then a successful one: two transactions, the flat fields are the first', () => {
    const r = run([GREETING, C('a1 LOGIN bob wrong\n'), S('a1 NO [AUTHENTICATIONFAILED] Authentication failed.\n'), C('a2 LOGIN bob right\n'), S('a2 OK\n')]);
    expect(r.fields.IMAP_AUTH_STATUS).toBe('NO');
    expect(txns(r)).toEqual([
      { IMAP_LOGIN: 'bob', IMAP_AUTH_METHOD: 'LOGIN', IMAP_AUTH_STATUS: 'NO' },
      { IMAP_LOGIN: 'bob', IMAP_AUTH_METHOD: 'LOGIN', IMAP_AUTH_STATUS: 'OK' },
    ]);
  });

  it('a LOGIN without a response keeps no status', () => {
    const r = run([GREETING, C('a1 LOGIN carol pw\n')]);
    expect(txns(r)).toEqual([{ IMAP_LOGIN: 'carol', IMAP_AUTH_METHOD: 'LOGIN' }]);
    expect(r.fields.IMAP_AUTH_STATUS).toBeUndefined();
  });

  it('pipelined commands completed out of order are matched by tag', () => {
    const r = run([GREETING, C('a1 NOOP\na2 LOGIN dave pw\na3 NOOP\n'), S('a3 OK\na2 BAD bad syntax\na1 OK\n')]);
    expect(r.fields.IMAP_AUTH_STATUS).toBe('BAD');
  });

  it('a PREAUTH greeting: authenticated without a login; after SELECT nothing more is read', () => {
    const r = run([S('* PREAUTH IMAP4rev1 server logged in as eve\n'), C('p1 SELECT INBOX\n'), S('p1 OK\n'), C('this is no imap at all\n'.repeat(20))]);
    expect(r.fields.IMAP_GREETING).toBe('IMAP4rev1 server logged in as eve');
    expect(r.fields.IMAP_MAILBOX).toBe('INBOX');
    expect(r.fields.IMAP_TRANSACTIONS).toBeUndefined();
    expect(r.anomalies).toEqual([]); // finished(): the garbage after is not read
  });

  it('only the first selected mailbox is kept; before authentication the session is still read', () => {
    const r = run([GREETING, C('a SELECT one\n'), S('a NO not authenticated\n'), C('b SELECT two\n'), S('b NO\n'), C('c LOGIN u p\n'), S('c OK\n')]);
    expect(r.fields.IMAP_MAILBOX).toBe('one');
    expect(r.fields.IMAP_LOGIN).toBe('u');
  });

  it('IDLE ... DONE is no bad command', () => {
    const r = run([GREETING, C('a1 IDLE\n'), S('+ idling\n* 4 EXISTS\n'), C('DONE\n'), S('a1 OK IDLE terminated\n'), C('a2 LOGOUT\n'), S('* BYE\na2 OK\n')]);
    expect(r.anomalies).toEqual([]);
  });
});

describe('literals ({n}, {n+}, ~{n}) on both sides', () => {
  it('a synchronizing literal as the LOGIN user, its "+" continuation, the password literal never kept', () => {
    const r = run([GREETING, C('a1 LOGIN {5}\n'), S('+ Ready for literal data\n'), C('frank {8}\n'), S('+ go\n'), C('pa ss\nw!\n'), S('a1 OK\n')]);
    expect(r.fields.IMAP_LOGIN).toBe('frank');
    expect(r.fields.IMAP_AUTH_STATUS).toBe('OK');
    expect(JSON.stringify(r.fields)).not.toContain('pa ss');
    expect(r.anomalies).toEqual([]);
  });

  it('non-synchronizing literals (LITERAL+) in one chunk; a user with CRLF and spaces inside', () => {
    const r = run([GREETING, C('a1 LOGIN {6+}\nx y\r\nz {2+}\npw\na2 SELECT {5+}\nIN BX\n'), S('a1 OK\na2 OK\n')]);
    expect(r.fields.IMAP_LOGIN).toBe('x y\r\nz');
    expect(r.fields.IMAP_MAILBOX).toBe('IN BX');
  });

  it('a literal split across chunks byte by byte', () => {
    const bytes = toBuf('a1 LOGIN {6}\ngrace! {3}\nabc\n');
    const chunks = [...bytes].map((b) => C(Buffer.from([b])));
    const r = run([GREETING, ...chunks, S('a1 OK\n')]);
    expect(r.fields.IMAP_LOGIN).toBe('grace!');
    expect(r.fields.IMAP_AUTH_STATUS).toBe('OK');
  });

  it('an empty literal {0} and a literal8 ~{n}', () => {
    const r = run([GREETING, C('a0 APPEND INBOX ~{4+}\n\x00\x01\r\n\n'), S('a0 OK\n'), C('a1 LOGIN {0+}\n {2+}\npw\n'), S('a1 NO\n')]);
    expect(txns(r)).toEqual([{ IMAP_AUTH_METHOD: 'LOGIN', IMAP_AUTH_STATUS: 'NO' }]);
    expect(r.anomalies).toEqual([]);
  });

  it('APPEND of a message whose lines look like commands: the literal is skipped, not parsed', () => {
    const msg = 'a9 LOGIN mallory x\r\nSubject: hi\r\n\r\nz1 LOGIN not-a-command y\r\n';
    const r = run([GREETING, C('a1 LOGIN heidi pw\n'), S('a1 NO\n'), C(`a2 APPEND Drafts (\\Seen) {${msg.length}}\n`), S('+ OK\n'), C(msg + '\n'), S('a2 OK\n')]);
    expect(txns(r).map((t) => t.IMAP_LOGIN)).toEqual(['heidi']);
    expect(r.anomalies).toEqual([]);
  });

  it('a server FETCH literal holding a tagged-looking line does not complete the command', () => {
    const body = 'From: x\r\na2 OK fake\r\n\r\nbody\r\n';
    const r = run([
      GREETING,
      C('a1 NOOP\n'),
      S(`* 1 FETCH (BODY[] {${body.length}}\r\n${body})\r\n`),
      C('a2 LOGIN ivan pw\n'),
      S(`* 2 FETCH (BODY[] {${body.length}}\r\n`),
      S(body),
      S(')\r\na1 OK\r\n'),
      S('a2 NO really\n'),
    ]);
    expect(r.fields.IMAP_AUTH_STATUS).toBe('NO');
    expect(r.anomalies).toEqual([]);
  });

  it('a synchronizing literal the server refuses: the client sends no octets, the next command is read', () => {
    const r = run([GREETING, C('a1 LOGIN {500000}\n'), S('a1 BAD literal too big\n'), C('a2 LOGIN judy pw\n'), S('a2 OK\n')]);
    expect(txns(r)).toEqual([
      { IMAP_AUTH_METHOD: 'LOGIN', IMAP_AUTH_STATUS: 'BAD' },
      { IMAP_LOGIN: 'judy', IMAP_AUTH_METHOD: 'LOGIN', IMAP_AUTH_STATUS: 'OK' },
    ]);
  });

  it('a literal count too large for number64 is an anomaly, not a skip of the rest of the stream', () => {
    const r = run([GREETING, C('a1 LOGIN {99999999999999999999}\n'), C('a2 LOGIN kim pw\n'), S('a2 OK\n')]);
    expect(r.anomalies).toContain('imap_bad_literal');
    expect(txns(r).map((t) => t.IMAP_LOGIN)).toEqual(['{99999999999999999999}', 'kim']);
  });
});

describe('AUTHENTICATE (SASL)', () => {
  it('PLAIN after a "+" continuation: authcid and authzid, the password never decoded', () => {
    const r = run([GREETING, C('a1 AUTHENTICATE PLAIN\n'), S('+ \n'), C(`${b64('admin\0leo\0hunter2')}\n`), S('a1 OK\n')]);
    expect(r.fields).toMatchObject({ IMAP_LOGIN: 'leo', IMAP_AUTHZID: 'admin', IMAP_AUTH_METHOD: 'AUTHENTICATE PLAIN', IMAP_AUTH_STATUS: 'OK' });
    expect(JSON.stringify(r.fields)).not.toContain('hunter2');
  });

  it('PLAIN with an initial response (SASL-IR), lower-case mechanism; an authzid equal to the user is not repeated', () => {
    const r = run([GREETING, C(`a1 authenticate plain ${b64('mia\0mia\0pw')}\n`), S('a1 OK\n')]);
    expect(txns(r)).toEqual([{ IMAP_LOGIN: 'mia', IMAP_AUTH_METHOD: 'AUTHENTICATE PLAIN', IMAP_AUTH_STATUS: 'OK' }]);
  });

  it('"=" as an empty initial response, then the response after "+"', () => {
    const r = run([GREETING, C('a1 AUTHENTICATE PLAIN =\n'), S('+\n'), C(`${b64('\0nina\0pw')}\n`), S('a1 NO\n')]);
    expect(r.fields.IMAP_LOGIN).toBe('nina');
    expect(r.fields.IMAP_AUTH_STATUS).toBe('NO');
  });

  it('LOGIN mechanism: the first response is the user, the second (password) is skipped', () => {
    const r = run([GREETING, C('a1 AUTHENTICATE LOGIN\n'), S(`+ ${b64('Username:')}\n`), C(`${b64('oscar')}\n`), S(`+ ${b64('Password:')}\n`), C(`${b64('topsecret')}\n`), S('a1 OK\n')]);
    expect(r.fields.IMAP_LOGIN).toBe('oscar');
    expect(JSON.stringify(r.fields)).not.toContain('topsecret');
  });

  it('CRAM-MD5: the name before the digest; XOAUTH2: the user= before the token', () => {
    const cram = run([GREETING, C('a1 AUTHENTICATE CRAM-MD5\n'), S(`+ ${b64('<1896.697170952@postoffice.example.net>')}\n`), C(`${b64('tim b913a602c7eda7a495b4e6e7334d3890')}\n`), S('a1 OK\n')]);
    expect(cram.fields.IMAP_LOGIN).toBe('tim');
    const xo = run([GREETING, C(`a1 AUTHENTICATE XOAUTH2 ${b64('user=pat@example.com\x01auth=Bearer ya29.secret\x01\x01')}\n`), S('a1 OK\n')]);
    expect(xo.fields).toMatchObject({ IMAP_LOGIN: 'pat@example.com', IMAP_AUTH_METHOD: 'AUTHENTICATE XOAUTH2' });
    expect(JSON.stringify(xo.fields)).not.toContain('ya29');
  });

  it('another mechanism: the method without a user; a cancelled exchange ("*") answered BAD', () => {
    const r = run([GREETING, C('a1 AUTHENTICATE GSSAPI\n'), S('+ \n'), C('YIIBhgYJKoZIhvcSAQICAQBuggF1MIIBcaADAgEF\n'), C('*\n'), S('a1 BAD canceled\n'), C('a2 LOGIN quinn pw\n'), S('a2 OK\n')]);
    expect(txns(r)).toEqual([
      { IMAP_AUTH_METHOD: 'AUTHENTICATE GSSAPI', IMAP_AUTH_STATUS: 'BAD' },
      { IMAP_LOGIN: 'quinn', IMAP_AUTH_METHOD: 'LOGIN', IMAP_AUTH_STATUS: 'OK' },
    ]);
    expect(r.anomalies).toEqual([]);
  });

  it('bad SASL data: not base64, PLAIN without its NULs -> imap_bad_auth', () => {
    expect(run([GREETING, C('a1 AUTHENTICATE PLAIN !!notbase64!!\n'), S('a1 BAD\n')]).anomalies).toContain('imap_bad_auth');
    expect(run([GREETING, C(`a1 AUTHENTICATE PLAIN ${b64('just-a-user')}\n`), S('a1 NO\n')]).anomalies).toContain('imap_bad_auth');
    const r = run([GREETING, C('a1 AUTHENTICATE\n'), S('a1 BAD\n')]);
    expect(r.anomalies).toContain('imap_bad_auth');
    expect(txns(r)).toEqual([{ IMAP_AUTH_METHOD: 'AUTHENTICATE', IMAP_AUTH_STATUS: 'BAD' }]);
  });

  it('a command after an exchange whose completion was not seen is read as a command', () => {
    const r = run([GREETING, C('a1 AUTHENTICATE PLAIN\n'), C('a2 LOGIN rita pw\n'), S('a2 OK\n')]);
    expect(txns(r).map((t) => t.IMAP_LOGIN)).toEqual([undefined, 'rita']);
  });
});

describe('STARTTLS and COMPRESS', () => {
  it('STARTTLS accepted: IMAP_STARTTLS 1, nothing after is read', () => {
    const r = run([GREETING, C('a1 STARTTLS\n'), S('a1 OK Begin TLS negotiation now\n'), C(noise(1, 300)), S(noise(2, 300)), C('a2 LOGIN sam pw\n')]);
    expect(r.fields).toEqual({ IMAP_STARTTLS: 1, IMAP_GREETING: 'Dovecot ready.', IMAP_CAPABILITIES: 'IMAP4rev1 SASL-IR LITERAL+ STARTTLS AUTH=PLAIN' });
    expect(r.anomalies).toEqual([]);
  });

  it('STARTTLS refused: 0, the session goes on in clear', () => {
    const r = run([GREETING, C('a1 STARTTLS\n'), S('a1 NO TLS not available\n'), C('a2 LOGIN sam pw\n'), S('a2 OK\n')]);
    expect(r.fields.IMAP_STARTTLS).toBe(0);
    expect(r.fields.IMAP_LOGIN).toBe('sam');
  });

  it('a TLS ClientHello right after STARTTLS, the OK not captured: TLS', () => {
    const hello = Buffer.from('16030100a5010000a10303' + '11'.repeat(60), 'hex');
    expect(run([GREETING, C('a1 STARTTLS\n'), C(hello)]).fields.IMAP_STARTTLS).toBe(1);
    // ... also behind the command in the same chunk (when the record holds a LF, so that it
    // comes out of the line reader as a line; RFC 9051 §6.2.1 has the client wait for the OK)
    const withLf = Buffer.from('16030100a5010000a10303' + '0a'.repeat(8) + '11'.repeat(60), 'hex');
    expect(run([GREETING, C(Buffer.concat([toBuf('a1 STARTTLS\n'), withLf]))]).fields.IMAP_STARTTLS).toBe(1);
  });

  it('COMPRESS DEFLATE accepted: the deflated rest is not read', () => {
    const r = run([GREETING, C('a1 LOGIN tom pw\n'), S('a1 NO\n'), C('a2 COMPRESS DEFLATE\n'), S('a2 OK\n'), C(noise(3, 400)), S(noise(4, 400))]);
    expect(r.fields.IMAP_LOGIN).toBe('tom');
    expect(r.anomalies).toEqual([]);
  });
});

describe('transactions cap', () => {
  it('70 failed logins: 64 transactions kept, the cap counted', () => {
    const p: Payload[] = [GREETING];
    for (let i = 0; i < 70; i++) p.push(C(`t${i} LOGIN user${i} pw\n`), S(`t${i} NO\n`));
    const r = run(p);
    expect(txns(r)).toHaveLength(64);
    expect(txns(r)[63]).toEqual({ IMAP_LOGIN: 'user63', IMAP_AUTH_METHOD: 'LOGIN', IMAP_AUTH_STATUS: 'NO' });
    expect(r.fields.IMAP_LOGIN).toBe('user0');
    expect(r.anomalies).toContain('imap_transactions_cap');
  });

  it('commands never answered fill the pending list up to its cap, counted', () => {
    const r = run([GREETING, C(Array.from({ length: 80 }, (_, i) => `n${i} NOOP\n`).join('')), C('z LOGIN late pw\n'), S('z OK\n')]);
    expect(r.anomalies).toContain('imap_pending_cap');
    expect(r.fields.IMAP_AUTH_STATUS).toBe('OK');
  });
});

describe('malformed and truncated input', () => {
  it('empty flows and a lone partial line: no fields but IMAP_STARTTLS', () => {
    expect(run([]).fields).toEqual({ IMAP_STARTTLS: 0 });
    expect(run([{ dir: 1, hex: '' }, { dir: 0, hex: '' }]).fields).toEqual({ IMAP_STARTTLS: 0 });
    expect(run([GREETING, C('a1 LOGIN half')]).fields.IMAP_LOGIN).toBeUndefined();
  });

  it('lines that are no command / no response are named; 16 in a row and the flow is given up', () => {
    // ("hello there" would be a command: tag "hello", an extension command "there")
    const r = run([GREETING, C('hello\n'), S('garbage from the server\n')]);
    expect(r.anomalies).toEqual(expect.arrayContaining(['imap_bad_command', 'imap_bad_response']));
    const many = run([GREETING, C('(((\n'.repeat(16)), C('a1 LOGIN after pw\n')]);
    expect(many.anomalies).toContain('imap_too_many_bad_lines');
    expect(many.fields.IMAP_TRANSACTIONS).toBeUndefined();
  });

  it('LOGIN without a password, an unterminated quoted string', () => {
    const r = run([GREETING, C('a1 LOGIN lonely\n'), S('a1 BAD\n'), C('a2 LOGIN "open pw\n'), S('a2 BAD\n')]);
    expect(r.anomalies).toEqual(expect.arrayContaining(['imap_bad_login', 'imap_bad_quoted']));
    expect(txns(r).map((t) => t.IMAP_LOGIN)).toEqual(['lonely', 'open pw']);
  });

  it('an over-long user is cut at 256 bytes and named', () => {
    const r = run([GREETING, C(`a1 LOGIN ${'u'.repeat(300)} pw\n`), S('a1 NO\n')]);
    expect(r.fields.IMAP_LOGIN).toBe('u'.repeat(256));
    expect(r.anomalies).toContain('imap_login_too_long');
  });

  it('a line over the line reader cap is cut and named; the next command is read', () => {
    const r = run([GREETING, C(`a0 NOOP ${'x'.repeat(20000)}\n`), C('a1 LOGIN victor pw\n'), S('a1 OK\n')]);
    expect(r.anomalies).toContain('imap_line_too_long');
    expect(r.fields.IMAP_LOGIN).toBe('victor');
  });

  it('random bytes in both directions: anomalies, no crash, no fields', () => {
    for (let seed = 1; seed < 20; seed++) {
      const r = run([S(noise(seed, 700)), C(noise(seed + 100, 700)), S(noise(seed + 200, 300))]);
      expect(r.fields.IMAP_TRANSACTIONS).toBeUndefined();
      expect(r.l7).toBe(4);
    }
  });

  it('the UDP probe never claims a payload (detection is probe_stream\'s)', () => {
    expect(run([GREETING, C('a1 CAPABILITY\n')]).probe).toEqual([false, false]);
  });
});

describe('roles', () => {
  it('a session picked up mid-stream whose first bytes are the server\'s (dir 0): read the right way round', () => {
    const r = run([
      { dir: 0, hex: toBuf('* 1 EXISTS\na1 OK done\n').toString('hex') },
      { dir: 1, hex: toBuf('a2 LOGIN wendy pw\n').toString('hex') },
      { dir: 0, hex: toBuf('a2 OK\n').toString('hex') },
    ]);
    expect(txns(r)).toEqual([{ IMAP_LOGIN: 'wendy', IMAP_AUTH_METHOD: 'LOGIN', IMAP_AUTH_STATUS: 'OK' }]);
    expect(r.anomalies).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// The whole path through the CLI: payload detection (probe_stream), reassembly with holes.

/** An IMAP connection (test/helpers/tcpconn.ts); hole() leaves holes. */
class Tcp extends TcpConn {
  constructor(cport: number, sport: number, handshake = true) {
    super(cport, sport, { handshake, stepUs: 500, isn: [100, 9000], client: '198.51.100.1', server: '198.51.100.2', mss: 1448, text: toBuf });
  }
  hole(dir: 0 | 1, n: number): this {
    return this.skip(dir, n);
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-imap-'));
let fileNo = 0;
function cli(conns: Tcp[]): ProbeFlow[] {
  const frames = conns.flatMap((c) => c.frames).sort((a, b) => a.tsUs - b.tsUs);
  const file = writePcap(frames, LINKTYPE.ETHERNET, path.join(tmp, `t${fileNo++}.pcap`));
  const r = runCli(['-i', file, '-n', 'none', '--json-out', '-']);
  expect(r.status).toBe(0);
  return r.flows;
}
type Rec = Record<string, unknown>;
const one = (c: Tcp): Rec => {
  const flows = cli([c]).filter((f) => f.PROTOCOL === 6);
  expect(flows).toHaveLength(1);
  return flows[0] as unknown as Rec;
};
const imapKeys = (f: Rec): string[] => Object.keys(f).filter((k) => k.startsWith('IMAP_'));
const session = (c: Tcp): Tcp =>
  c
    .s('* OK IMAP4rev1 ready\n')
    .c('a1 CAPABILITY\n')
    .s('* CAPABILITY IMAP4rev1 AUTH=PLAIN\na1 OK\n')
    .c('a2 LOGIN xavier pw\n')
    .s('a2 OK\n')
    .c('a3 SELECT INBOX\n')
    .s('* 0 EXISTS\na3 OK\n')
    .c('a4 LOGOUT\n')
    .s('* BYE\na4 OK\n');

const describeCli = probeBuilt() ? describe : describe.skip;

describeCli('detection by payload (probe_stream), through the CLI', () => {
  it('IMAP off its port is recognised by the greeting', () => {
    const f = one(session(new Tcp(40001, 10143)));
    expect(f.L7_PROTO).toBe(4);
    expect(f.IMAP_LOGIN).toBe('xavier');
    expect(f.IMAP_MAILBOX).toBe('INBOX');
  });

  it('on 143 a client command decides when the greeting was not captured; off 143 the server\'s answer is awaited', () => {
    const on = one(new Tcp(40002, 143).c('a1 LOGIN yara pw\n'));
    expect(on.L7_PROTO).toBe(4);
    expect(on.IMAP_LOGIN).toBe('yara');
    const literal = one(new Tcp(40014, 143).c('a1 LOGIN {4+}\nuser {2+}\npw\n'));
    expect(literal.IMAP_LOGIN).toBe('user');
    expect(one(new Tcp(40003, 10143).c('a1 LOGIN yara pw\n')).L7_PROTO).not.toBe(4);
    const answered = one(new Tcp(40004, 10143).c('a1 LOGIN zed pw\n').s('a1 OK\n'));
    expect(answered.L7_PROTO).toBe(4);
    expect(answered.IMAP_AUTH_STATUS).toBe('OK');
  });

  it('other protocols and garbage on port 143 are not labelled IMAP', () => {
    const pop = one(new Tcp(40005, 143).s('+OK POP3 ready\n').c('USER anonymous\n').s('+OK\n'));
    const smtp = one(new Tcp(40006, 143).s('220 mx ESMTP\n').c('EHLO list\n').s('250 ok\n'));
    const http = one(new Tcp(40007, 143).c('GET / HTTP/1.1\nHost: x\n\n').s('HTTP/1.1 200 OK\nContent-Length: 0\n\n'));
    const ftp = one(new Tcp(40008, 143).c('NLST list\n'));
    const smtpCmd = one(new Tcp(40013, 143).c('HELO login\n'));
    const tls = one(new Tcp(40009, 993).c(Buffer.from('16030100a5010000a10303' + '11'.repeat(100), 'hex')).s(Buffer.from('160303004a020000460303' + '22'.repeat(80), 'hex')));
    const junk = one(new Tcp(40010, 143).s(noise(7, 800)).c(noise(8, 800)));
    // (a lone client line whose second word names an IMAP command but without its arguments)
    for (const f of [pop, smtp, http, tls, junk, ftp, smtpCmd]) {
      expect(f.L7_PROTO).not.toBe(4);
      expect(imapKeys(f)).toEqual([]);
    }
  });

  it('a connection picked up mid-stream whose first packet is the server\'s', () => {
    const f = one(new Tcp(40011, 143, false).s('* 2 EXISTS\na7 OK NOOP done\n').c('a8 LOGIN late pw\n').s('a8 OK\n'));
    expect(f.L7_PROTO).toBe(4);
    expect(f.IMAP_LOGIN).toBe('late');
    expect(f.IMAP_AUTH_STATUS).toBe('OK');
  });

  it('STARTTLS: the flow is labelled IMAP with IMAP_STARTTLS 1 and the TLS records are not read', () => {
    const c = new Tcp(40012, 143).s('* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\n').c('a1 STARTTLS\n').s('a1 OK Begin TLS\n');
    c.c(Buffer.from('16030100a5010000a10303' + '11'.repeat(160), 'hex')).s(Buffer.from('160303004a020000460303' + '22'.repeat(80), 'hex'));
    const f = one(c);
    expect(f.L7_PROTO).toBe(4);
    expect(f.IMAP_STARTTLS).toBe(1);
    expect(f.IMAP_CAPABILITIES).toBe('IMAP4rev1 STARTTLS LOGINDISABLED');
    expect(f.FLOW_ANOMALIES).toBeUndefined();
  });
});

describeCli('holes in the capture (TCP gaps), through the CLI', () => {
  it('a hole in the client stream between commands: named, resync at the next command', () => {
    const c = new Tcp(40020, 143).s('* OK ready\n').c('a1 LOGIN first pw\n').s('a1 NO\n');
    c.c('a2 LOGIN par');
    c.hole(0, 20); // the rest of that line and a NOOP
    c.s('a2 NO\na3 OK\n').c('a4 LOGIN seen pw\n').s('a4 OK\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('imap_stream_gap');
    // The LOGIN cut by the hole never completed its line: it is no attempt.
    expect((f.IMAP_TRANSACTIONS as Txn[]).map((t) => [t.IMAP_LOGIN, t.IMAP_AUTH_STATUS])).toEqual([
      ['first', 'NO'],
      ['seen', 'OK'],
    ]);
    expect(String(f.FLOW_ANOMALIES)).not.toMatch(/imap_bad_command/);
  });

  // The reassembler settles a client-side hole when the server's ACK covers it, after handing on
  // that server segment's own bytes: the tagged response reaches the dissector before its command.
  it('a tagged response delivered before its command (hole settled late) still completes it', () => {
    const c = new Tcp(40021, 143).s('* OK ready\n').c('a1 NOOP\n').s('a1 OK\n');
    c.hole(0, 12); // "a2 NOOP\r\n..." lost
    c.c('a3 LOGIN early pw\n');
    c.s('a2 OK\na3 OK\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('imap_stream_gap');
    expect(f.IMAP_LOGIN).toBe('early');
    expect(f.IMAP_AUTH_STATUS).toBe('OK');
  });

  it('a hole inside a literal of known size: the user is not trusted, the commands after it stay in step', () => {
    const c = new Tcp(40022, 143).s('* OK ready\n').c('a1 LOGIN {10+}\nabc');
    c.hole(0, 7); // the rest of the user literal
    c.c(' {2+}\npw\n').s('a1 NO\n').c('a2 LOGIN after pw\n').s('a2 OK\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('imap_stream_gap');
    expect((f.IMAP_TRANSACTIONS as Txn[]).map((t) => [t.IMAP_LOGIN, t.IMAP_AUTH_STATUS])).toEqual([
      [undefined, 'NO'],
      ['after', 'OK'],
    ]);
    expect(String(f.FLOW_ANOMALIES)).not.toMatch(/imap_bad_command/);
  });

  it('a hole in an APPEND literal of unknown remaining size: message lines after it are skipped quietly', () => {
    const msg = 'From: a@b\r\nSubject: x\r\n\r\n' + 'body line\r\n'.repeat(40);
    const c = new Tcp(40023, 143).s('* OK ready\n').c('a1 LOGIN one pw\n').s('a1 NO\n');
    c.c(`a2 APPEND INBOX {${msg.length + 100}+}\n`);
    c.c(msg.slice(0, 30));
    c.hole(0, 2000); // more than the literal: the resync is by lines
    c.c('body line\r\n'.repeat(5) + 'a3 LOGIN two pw\n').s('a2 OK\na3 OK\n');
    const f = one(c);
    expect((f.IMAP_TRANSACTIONS as Txn[]).map((t) => t.IMAP_LOGIN)).toEqual(['one', 'two']);
    expect(String(f.FLOW_ANOMALIES)).not.toMatch(/imap_bad_command/);
  });

  it('a hole in the server stream (a tagged response lost): later responses are still matched', () => {
    const c = new Tcp(40024, 143).s('* OK ready\n').c('a1 LOGIN one pw\n');
    c.hole(1, 30); // "a1 NO ..." lost
    c.c('a2 LOGIN two pw\n').s('a2 OK\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('imap_stream_gap');
    expect(f.IMAP_TRANSACTIONS).toEqual([
      { IMAP_LOGIN: 'one', IMAP_AUTH_METHOD: 'LOGIN' },
      { IMAP_LOGIN: 'two', IMAP_AUTH_METHOD: 'LOGIN', IMAP_AUTH_STATUS: 'OK' },
    ]);
  });

  it('a hole inside a server FETCH literal keeps the responses after it in step', () => {
    const body = 'a2 OK not really\r\n'.repeat(100);
    const c = new Tcp(40025, 143).s('* OK ready\n').c('a1 NOOP\na2 LOGIN dan pw\n');
    c.s(`* 1 FETCH (BODY[] {${body.length}}\r\n` + body.slice(0, 100));
    c.hole(1, 500);
    c.s(body.slice(600) + ')\r\na1 OK\r\na2 NO\r\n');
    const f = one(c);
    expect(f.IMAP_AUTH_STATUS).toBe('NO');
  });

  it('a 10 MB line hits the line cap, not the memory limit; the session goes on', () => {
    const c = new Tcp(40026, 143).s('* OK ready\n');
    c.c(Buffer.concat([Buffer.from('a0 NOOP '), Buffer.alloc(10 << 20, 0x61), Buffer.from('\r\na1 LOGIN huge pw\r\n')])).s('a0 OK\na1 OK\n');
    const f = one(c);
    expect(f.FLOW_ANOMALIES).toContain('imap_line_too_long');
    expect(f.IMAP_LOGIN).toBe('huge');
  });
});

describeCli('the IMAP captures, through the CLI', () => {
  it('ndpi_imap: LOGIN samir answered OK, the capability list, INBOX; the password is nowhere', () => {
    const r = runProbe('imap/ndpi_imap.pcap');
    expect(r.status).toBe(0);
    const [f] = r.flows as unknown as Rec[];
    expect(f).toMatchObject({
      L7_PROTO: 4,
      IMAP_LOGIN: 'samir',
      IMAP_AUTH_METHOD: 'LOGIN',
      IMAP_AUTH_STATUS: 'OK',
      IMAP_STARTTLS: 0,
      IMAP_GREETING: 'IMAP4Rev1 Server Version 4.9.04.012',
      IMAP_CAPABILITIES: 'IMAP4rev1 IDLE AUTH=LOGIN AUTH=PLAIN AUTH=CRAM-MD5',
      IMAP_MAILBOX: 'INBOX',
    });
    expect(r.stdout).not.toContain('pfres');
    expect(f.FLOW_ANOMALIES).toBeUndefined();
  });

  it('suricata_imap_detection: the quoted user decoded, Exchange greeting', () => {
    const r = runProbe('imap/suricata_imap_detection.pcap');
    const [f] = r.flows as unknown as Rec[];
    expect(f).toMatchObject({ L7_PROTO: 4, IMAP_LOGIN: 'neulingern', IMAP_AUTH_STATUS: 'OK', IMAP_MAILBOX: 'INBOX' });
    expect(String(f.IMAP_GREETING)).toMatch(/^Microsoft Exchange IMAP4rev1 server/);
    expect(r.stdout).not.toContain('XXXXXX');
    expect(f.FLOW_ANOMALIES).toBeUndefined();
  });
});
