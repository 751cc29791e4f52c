// The HTTP/1.x dissector (native/dissect/http.cc). On hex payloads through the test binding
// (each payload a reassembled stream chunk with its direction): real bytes from the captures
// in test/pcap/ (values as tshark decodes them), and messages built here to reach each rule
// (every field, keep-alive and pipelining, split lines, bodies by Content-Length and chunked
// coding, HEAD/1xx/204/304, tunnels, the caps, truncated and invalid input). Detection
// (probe_stream) and stream gaps need the engine: they run through the CLI on captures built
// here segment by segment (test/helpers/pcapgen.ts), and on the real captures.
import { noise } from '../helpers/noise';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { dissectHex, Payload } from '../helpers/dissect';
import { ACK, LINKTYPE, writePcap } from '../helpers/pcapgen';
import { probeBuilt, ProbeFlow, runCli, runProbe } from '../helpers/probe';
import { TcpConn } from '../helpers/tcpconn';

// ---- real payloads (TCP payload bytes as tshark shows them) --------------------------------

// ndpi_http_ua_split.pcapng frames 3 and 4: one GET whose User-Agent line is split across the
// two segments ("...Mozil" | "la/5.0 ..."), and frame 5, its response ("HTTP/1.1 200 ", an
// empty reason phrase, Content-Length: 0).
const UA_SPLIT_1 = '474554202f747261636b696e672f6164496d7072657373696f6e3f643d494141414141416741414136583174505345564558316c595831314951304a5952566459523031515146424656304a465755466658564e61516b52635130525351555654566c7448576b464656463165585642505330565551316451516b30324c7a4d74543052485731354e58565245466b785845304e53526b6c4957464554515631415746634c526764505330644d5255785745306863436c464448524d57536c3564566c5a4a51304a565155465453564e55576c35475355424e5546646657564e61516b31634552734d5867634548513854536c346643414d484267514e58526b4f426856594551514d58514a525330644a5845465a57434255526c6454536b6b6f505341334b7a41684d443836536c7866566a63774d44772532424a6a45354a464e57584634374e7a456b4f54416850534172507a5534555564575452595141673843474263524e6c774b4e41594d45524525324247786f48416845364841774846785162477734414441416d47686f41416751253242487759414841385441464e48554649364b6963314e694243526b4a634944306f49694154445434524869772532424a6b5a4e52456b7a4e7a4d73507a5167496b4247515531485856685852565661526b52634d7a6f6c496a38734b6b4248533030784278734c4752455947686f4d46786f565530565455314a43535542615755786258466849513052525845524352556859576b42455355306a49436b6e53464e4b546b644352454663497a517554565646524542615756705a57455a49516b56634642554e417856475756745053455a455755785a556c684c526b4a5255555663456852584477555451424e5a586c74635855684e514577415830315152525649567746414852564258416b505867464955454e51547a674f423141494478634843786b414545786157316738425245544378735046564e515856343346775152477873504167735546686f56555556525230316458314a44535542475831394e576c5642546849414867634555304a5958303147576b564a5856316357316461524546635830425051464e53574634304e69556d536c3562566a63774d44772532424a6a45354a464e5557463442454234544251704e576c4a45516c6454516b6b7950563078566c4e48576b4a46564277504268594d48524e4351455a63516b4e4758564e504e6a3158576c64545745745058556443526b426351314e5257313543576b524e5641304b57515166456b304358304e56516b5a49576c424b4746314e57466f4e526c6441455559464630465546684651436b42485145304147786f4c53464e4154674d414152674151314e5358463455474277484445785a5746675941566b4146316457524531645746464754454e445831786353463150546a45764d7a59744e545247563174504d4434674c443039507977744f6a5574555578555452594541684158576b6844564639415731424f5146645a536b6c56586b4247566c705053463545536c35655856674e415145455555565152553155586c4642576b464658314a61534125334425334426706f736974696f6e3d696e7465727374697469616c26636c69656e7453657373696f6e49643d38636435633533622d636261382d346434652d613739392d3038326236376563343439312674733d31353036363731393839373736266166683d434f4c5546554d78754a57337362786f465a6556576720485454502f312e310d0a43616368652d436f6e74726f6c3a206e6f2d63616368650d0a436f6f6b69653a204a53455353494f4e49443d37383446323741463230453335374331443642343536443333423234374130420d0a557365722d4167656e743a204d6f7a696c';
const UA_SPLIT_2 = '6c612f352e3020284c696e75783b20416e64726f696420362e302e313b20534d2d54383035204275696c642f4d4d4232394b3b20777629204170706c655765624b69742f3533372e333620284b48544d4c2c206c696b65204765636b6f292056657273696f6e2f342e30204368726f6d652f36312e302e333136332e3938205361666172692f3533372e33360d0a4163636570743a206170706c69636174696f6e2f6a736f6e3b746578742f68746d6c3b746578742f706c61696e0d0a486f73743a2076612e6f726967696e2e7374617274617070736572766963652e636f6d0d0a436f6e6e656374696f6e3a204b6565702d416c6976650d0a4163636570742d456e636f64696e673a20677a69700d0a0d0a';
const UA_SPLIT_RSP = '485454502f312e3120323030200d0a4163636573732d436f6e74726f6c2d416c6c6f772d4f726967696e3a202a0d0a446174653a204672692c2032392053657020323031372030363a30303a313420474d540d0a436f6e74656e742d4c656e6774683a20300d0a436f6e6e656374696f6e3a206b6565702d616c6976650d0a0d0a';
const UA_FULL = 'Mozilla/5.0 (Linux; Android 6.0.1; SM-T805 Build/MMB29K; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/61.0.3163.98 Safari/537.36';
// zeek_http_pipelined.pcap frames 4, 5, 6: GET /style/enhanced.css; its response (Via, a
// scrambled "ntCoent-Length: 2675" header to ignore, "Content-Length:        946", then the
// 946-byte gzip body in the same segment); GET /script/urchin.js.
const PIPE_REQ1 = '474554202f7374796c652f656e68616e6365642e63737320485454502f312e310d0a486f73743a207777772e6d6f7a696c6c612e6f72670d0a557365722d4167656e743a204d6f7a696c6c612f352e30202857696e646f77733b20553b2057696e646f7773204e5420352e313b20656e2d55533b2072763a312e392e312e3529204765636b6f2f32303039313130322046697265666f782f332e352e350d0a4163636570743a20746578742f6373732c2a2f2a3b713d302e310d0a4163636570742d4c616e67756167653a20656e2d75732c656e3b713d302e350d0a4163636570742d456e636f64696e673a20677a69702c6465666c6174650d0a4163636570742d436861727365743a2049534f2d383835392d312c7574662d383b713d302e372c2a3b713d302e370d0a4b6565702d416c6976653a203330300d0a436f6e6e656374696f6e3a206b6565702d616c6976650d0a526566657265723a20687474703a2f2f7777772e6d6f7a696c6c612e6f72672f70726f6a656374732f63616c656e6461722f0d0a0d0a';
const PIPE_RSP1 = '485454502f312e3120323030204f4b0d0a446174653a205765642c203138204e6f7620323030392032303a35333a313520474d540d0a457870697265733a205765642c203138204e6f7620323030392032313a30383a313520474d540d0a43616368652d436f6e74726f6c3a206d61782d6167653d393030202020202020200d0a436f6e6e656374696f6e3a204b6565702d416c6976650d0a5669613a204e532d43414348452d362e303a202020340d0a455461673a20226137332d3562623638383030220d0a5365727665723a204170616368650d0a4c6173742d4d6f6469666965643a205765642c2032362041756720323030392030333a35303a353620474d540d0a4163636570742d52616e6765733a2062797465730d0a6e74436f656e742d4c656e6774683a20323637350d0a4b6565702d416c6976653a2074696d656f75743d32302c206d61783d3931340d0a436f6e74656e742d547970653a20746578742f6373730d0a436f6e74656e742d456e636f64696e673a20677a69700d0a436f6e74656e742d4c656e6774683a20202020202020203934360d0a0d0a1f8b0800000000000003b555db6ee336107d8ebe620063815da3926cc3c92632fad006452fd82240f7ad2f0b4a1c496c245225693b4e917fef5094145fa4bd00ad832416c93973e6cce1289e07f36ffd04c1ef0f7ffefae1c30fd1c31f3f073fc992c90c397ccc34a2848ff650a109de3ec8ea00ac692a91b1b4421039fcc6768c4e89c6823080d2adf3774170af915942480f604b845c0b949ca273553d1a60167e219c03dcab2228ad6d9238deeff751e91633554499aae320e8c87dfd2798535430fb7b2bb2c7d020d35909154bb1827fa0514658a164c252a3aaadc50d5498db04d6b7cdd306ac6a92e5bafd864f36b49a49932b5d27dba6419d3143e773256db8475194364955c53790a94ae964c639cf71d11d30e21913b8bd7eb381780e0e139e6011dd5ec3f7b05cd1d33c7e2196b44755d65b292cc982a415919f0d4ba1d9a61069b537508948ed50530d29cb1e0badb692873e33ccf2ebfc26bfd9c0cb79ec51c51a2b66c58e2a780e85e4f894ac16c4b663d168f51766163246c886b4221e51b7180e8bc7c993d9fd8ff7f481adaedec6a266059ad862dd501a8c4d6b9a382d3e75209f7a90a891c53bd0d89037c2036827a4137e0335d3859061bb9284eb9ba56b44c33817b2486e48b305b8bff44bcb9765bd8c108e1a46907440c9f1eefb64ebf76daeb6fd580f493b2aebf76e731c5ee3ee3bf7ef7c43927f28e35e705b26cbd65ca5f7ccaa4d95578ad9c4796f03aeaff4bc4f4ac139cacdb1c8ad051ba651da71a1294381d6c47dea9069e717afb254a1179aa40b7de2d6d8aeff9234bebbbb3b11f355172705b9c30bd0da64a2faa474f42735f0dbce384a73d461aaac557522956c3b763581fa2a5d4bd0d3f0328e07757a1fdd8da1a8d0c5f5e51fa312d21454c48569a7d867315bd74ea0b82abe84e2dadf83f41026dc6bd69c04d005e7880b5c7ee555eb9a7f76c532ea38eac186cbb533fa91985de2d7c79c710c5b8a2764bedd910ee88cd202c85323b6eb6f3bedd3cf6ae1dad4135e38c2fdec5afad9f505f6bef2ff833ee57ff39f5430303ea5e92fc849a01f8f04bcbe262b7b092f46479f7e85f589c4636392320ef13b6104397548c9b656bda63c8e0a73a18d8bed8764fb02f585d2cb64e25d322b558d309b7c27f9c8d48d2e1a17a6c14ce42283cc98e3371189145c759344332eb686b8055761ad9e69b25c2cef317d14f672e7f2b69da32e5d39a3c0fdce28b6df1cc0e86a7b0b4e911d3f700a3d7666c8e0c7e9e7934c9e39cd3371cc378663ba2d5c27e279d7431a6d745f0efd24a7ad7f010450e7e6730a0000';
const PIPE_REQ2 = '474554202f7363726970742f75726368696e2e6a7320485454502f312e310d0a486f73743a207777772e6d6f7a696c6c612e6f72670d0a557365722d4167656e743a204d6f7a696c6c612f352e30202857696e646f77733b20553b2057696e646f7773204e5420352e313b20656e2d55533b2072763a312e392e312e3529204765636b6f2f32303039313130322046697265666f782f332e352e350d0a4163636570743a202a2f2a0d0a4163636570742d4c616e67756167653a20656e2d75732c656e3b713d302e350d0a4163636570742d456e636f64696e673a20677a69702c6465666c6174650d0a4163636570742d436861727365743a2049534f2d383835392d312c7574662d383b713d302e372c2a3b713d302e370d0a4b6565702d416c6976653a203330300d0a436f6e6e656374696f6e3a206b6565702d616c6976650d0a526566657265723a20687474703a2f2f7777772e6d6f7a696c6c612e6f72672f70726f6a656374732f63616c656e6461722f0d0a0d0a';

// ---- builders ---------------------------------------------------------------------------------

const hex = (s: string | Buffer): string => (typeof s === 'string' ? Buffer.from(s, 'latin1') : s).toString('hex');
/** Text with every "\n" sent as CRLF (HTTP/1.1 on the wire). */
const crlf = (s: string): string => s.replace(/\r?\n/g, '\r\n');
const C = (s: string | Buffer): Payload => ({ dir: 0, hex: typeof s === 'string' ? hex(crlf(s)) : hex(s) });
const S = (s: string | Buffer): Payload => ({ dir: 1, hex: typeof s === 'string' ? hex(crlf(s)) : hex(s) });
const run = (p: Payload[]) => dissectHex('HTTP', p);
type Tx = Record<string, string | number>;
const txs = (r: ReturnType<typeof run>): Tx[] => (r.fields.HTTP_TRANSACTIONS as Tx[] | undefined) ?? [];
const get = (url: string, host = 'example.com', extra = ''): string => `GET ${url} HTTP/1.1\nHost: ${host}\n${extra}\n`;
const ok = (body = '', extra = ''): string => `HTTP/1.1 200 OK\nContent-Length: ${Buffer.byteLength(body)}\n${extra}\n${body}`;

// ---- real payloads ----------------------------------------------------------------------------

describe('real payloads from the captures', () => {
  it('a User-Agent split across two segments is read whole (ndpi_http_ua_split frames 3-5)', () => {
    const r = run([{ dir: 0, hex: UA_SPLIT_1 }, { dir: 0, hex: UA_SPLIT_2 }, { dir: 1, hex: UA_SPLIT_RSP }]);
    expect(r.l7).toBe(7);
    expect(r.anomalies).toEqual([]);
    expect(r.fields.HTTP_METHOD).toBe('GET');
    expect(String(r.fields.HTTP_URL)).toMatch(/^\/tracking\/adImpression\?d=IAAAAAAgAAA6X1tPSEVEX1lYX11IQ0JYRVdYR01Q/);
    expect(r.fields.HTTP_UA).toBe(UA_FULL);
    expect(r.fields.HTTP_HOST).toBe('va.origin.startappservice.com');
    expect(r.fields.HTTP_SITE).toBe('origin.startappservice.com');
    expect(r.fields.HTTP_RET_CODE).toBe(200);
    expect(txs(r)).toHaveLength(1);
  });

  it('the same bytes one octet per chunk give the same record', () => {
    const whole = run([{ dir: 0, hex: UA_SPLIT_1 }, { dir: 0, hex: UA_SPLIT_2 }, { dir: 1, hex: UA_SPLIT_RSP }]);
    const bytes: Payload[] = [];
    for (const [dir, h] of [[0, UA_SPLIT_1 + UA_SPLIT_2], [1, UA_SPLIT_RSP]] as Array<[0 | 1, string]>)
      for (let i = 0; i < h.length; i += 2) bytes.push({ dir, hex: h.slice(i, i + 2) });
    const r = run(bytes);
    expect(r.fields).toEqual(whole.fields);
    expect(r.anomalies).toEqual([]);
  });

  it('pipelined GETs and a response with Via, an odd header and a gzip body (zeek_http_pipelined frames 4-6)', () => {
    const r = run([{ dir: 0, hex: PIPE_REQ1 }, { dir: 1, hex: PIPE_RSP1 }, { dir: 0, hex: PIPE_REQ2 }, S(ok('x'))]);
    expect(r.anomalies).toEqual([]);
    const t = txs(r);
    expect(t).toHaveLength(2);
    expect(t[0]).toEqual({
      HTTP_URL: '/style/enhanced.css',
      HTTP_METHOD: 'GET',
      HTTP_RET_CODE: 200,
      HTTP_REFERER: 'http://www.mozilla.org/projects/calendar/',
      HTTP_UA: 'Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.9.1.5) Gecko/20091102 Firefox/3.5.5',
      HTTP_MIME: 'text/css',
      HTTP_HOST: 'www.mozilla.org',
      HTTP_SITE: 'mozilla.org',
      HTTP_VIA: 'NS-CACHE-6.0:   4',
    });
    // The 946-byte body was skipped exactly: the next response pairs with the second GET.
    expect(t[1].HTTP_URL).toBe('/script/urchin.js');
    expect(t[1].HTTP_RET_CODE).toBe(200);
    expect(t[1].HTTP_MIME).toBeUndefined();
  });
});

// ---- fields -------------------------------------------------------------------------------------

describe('fields', () => {
  it('every request and response field, flat = first transaction', () => {
    const r = run([
      C('POST /api/v1/items?id=7&x=%20y HTTP/1.1\nHost: www.shop.example.com:8080\nUser-Agent: curl/8.5.0\nReferer: http://www.shop.example.com/list\n' +
        'X-Forwarded-For: 203.0.113.7\nX-Forwarded-For: 198.51.100.2, 10.0.0.1\nVia: 1.1 proxy-a\nContent-Type: application/json\nContent-Length: 9\n\n{"a":"b"}'),
      S('HTTP/1.1 201 Created\nContent-Type: application/json; charset=utf-8\nVia: 1.1 edge\nContent-Length: 2\n\n{}'),
    ]);
    expect(r.anomalies).toEqual([]);
    const want = {
      HTTP_URL: '/api/v1/items?id=7&x=%20y',
      HTTP_METHOD: 'POST',
      HTTP_RET_CODE: 201,
      HTTP_REFERER: 'http://www.shop.example.com/list',
      HTTP_UA: 'curl/8.5.0',
      HTTP_MIME: 'application/json; charset=utf-8',
      HTTP_HOST: 'www.shop.example.com:8080',
      HTTP_SITE: 'shop.example.com',
      HTTP_X_FORWARDED_FOR: '203.0.113.7, 198.51.100.2, 10.0.0.1',
      HTTP_VIA: '1.1 proxy-a',
    };
    expect(txs(r)).toEqual([want]);
    const { HTTP_TRANSACTIONS, ...flat } = r.fields;
    expect(HTTP_TRANSACTIONS).toBeDefined();
    expect(flat).toEqual(want);
  });

  it('HTTP_SITE: port and first label dropped, IP literals and short names kept', () => {
    const site = (host: string) => run([C(get('/', host))]).fields.HTTP_SITE;
    expect(site('www.example.com')).toBe('example.com');
    expect(site('a.b.c.example.org:443')).toBe('b.c.example.org');
    expect(site('example.com')).toBe('example.com');
    expect(site('localhost:8000')).toBe('localhost');
    expect(site('www.example.com.')).toBe('example.com');
    expect(site('192.0.2.10:8080')).toBe('192.0.2.10');
    expect(site('[2001:db8::1]:8443')).toBe('2001:db8::1');
  });

  it('a response Via when the request has none; header names in any case; the first of a repeated field wins', () => {
    const r = run([
      C('GET /a HTTP/1.0\nhOsT: one.example\nuser-agent: first\nUSER-AGENT: second\nreferer: r1\n\n'),
      S('HTTP/1.0 404 Not Found\ncontent-type: text/plain\nCONTENT-TYPE: text/html\nvia: 1.0 cache\nContent-Length: 0\n\n'),
    ]);
    expect(r.fields).toMatchObject({ HTTP_HOST: 'one.example', HTTP_UA: 'first', HTTP_REFERER: 'r1', HTTP_MIME: 'text/plain', HTTP_VIA: '1.0 cache', HTTP_RET_CODE: 404 });
  });

  it('a name as long as a read one but different is not read (names are told by length first); obs-fold after an unread header', () => {
    const r = run([
      C('GET /a HTTP/1.1\nHosx: no.example\nhOST: yes.example\nUser-Agenx: no\nUser_Agent: no\nConnection: close\n  folded\nuSER-aGENT: ua\nReferrr: no\nX-Forwarded-Fox: 192.0.2.1\nvIa: 1.1 p\n\n'),
      S('HTTP/1.1 200 OK\nContent-Typf: text/no\nContent-Lengtx: 99\nTransfer-Encodinh: chunked\ncontent-TYPE: text/yes\nCONTENT-LENGTH: 0\n\n'),
      C(get('/b')),
      S(ok()),
    ]);
    expect(r.anomalies).toEqual([]);
    expect(txs(r)).toEqual([
      { HTTP_URL: '/a', HTTP_METHOD: 'GET', HTTP_RET_CODE: 200, HTTP_UA: 'ua', HTTP_MIME: 'text/yes', HTTP_HOST: 'yes.example', HTTP_SITE: 'yes.example', HTTP_VIA: '1.1 p' },
      { HTTP_URL: '/b', HTTP_METHOD: 'GET', HTTP_RET_CODE: 200, HTTP_HOST: 'example.com', HTTP_SITE: 'example.com' },
    ]);
    // CR is no tchar: "Content\rLength" is a bad name, not a Content-Length (CR folds onto '-'
    // the way letters fold onto lower case).
    const cr = run([C('POST /p HTTP/1.1\nHost: x\nContent\rLength: 5\n\nGET /q HTTP/1.1\n\n')]);
    expect(cr.anomalies).toEqual(['http_bad_header_line']);
    expect(txs(cr).map((t) => t.HTTP_URL)).toEqual(['/p', '/q']);
  });

  it('lenient forms: bare LF, extra spaces, OWS, obs-fold, an empty reason phrase, no reason phrase at all', () => {
    const r = run([
      { dir: 0, hex: hex('\r\n\r\nGET   /x   HTTP/1.1\nHost:example.com   \nUser-Agent: Agent/1.0\n  (folded part)\nReferer :  http://r.example/\n\n') },
      { dir: 1, hex: hex('HTTP/1.1 200\nContent-Length:0\n\n') },
      C(get('/y')),
      S('HTTP/1.1 302 \nLocation: /z\nContent-Length: 0\n\n'),
    ]);
    expect(r.anomalies).toEqual([]);
    expect(txs(r)).toEqual([
      { HTTP_URL: '/x', HTTP_METHOD: 'GET', HTTP_RET_CODE: 200, HTTP_UA: 'Agent/1.0 (folded part)', HTTP_REFERER: 'http://r.example/', HTTP_HOST: 'example.com', HTTP_SITE: 'example.com' },
      { HTTP_URL: '/y', HTTP_METHOD: 'GET', HTTP_RET_CODE: 302, HTTP_HOST: 'example.com', HTTP_SITE: 'example.com' },
    ]);
  });

  it('absolute-form (proxy), authority-form (CONNECT), asterisk-form, extension methods, raw UTF-8 in the target', () => {
    const r = run([
      C('GET http://www.example.org/p?q=1 HTTP/1.1\nHost: www.example.org\n\n'),
      S(ok()),
      C('OPTIONS * HTTP/1.1\nHost: example.org\n\n'),
      S(ok()),
      C('M-SEARCH /search HTTP/1.1\nHost: x\n\n'),
      S(ok()),
      { dir: 0, hex: hex(Buffer.from('GET /caf\u00e9/\u00fc HTTP/1.1\r\nHost: x\r\n\r\n', 'utf8')) },
      S(ok()),
    ]);
    expect(txs(r).map((t) => [t.HTTP_METHOD, t.HTTP_URL])).toEqual([
      ['GET', 'http://www.example.org/p?q=1'],
      ['OPTIONS', '*'],
      ['M-SEARCH', '/search'],
      ['GET', '/caf\u00e9/\u00fc'],
    ]);
  });

  it('values are cut at 1 KiB on a UTF-8 boundary; the full URL still frames the request', () => {
    const long = '/' + 'a'.repeat(1020) + '\u00e9'.repeat(10);
    const r = run([{ dir: 0, hex: hex(Buffer.from(`GET ${long} HTTP/1.1\r\nHost: x\r\n\r\n`, 'utf8')) }, S(ok()), C(get('/next')), S(ok())]);
    const t = txs(r);
    expect(Buffer.byteLength(String(t[0].HTTP_URL))).toBe(1023);
    expect(String(t[0].HTTP_URL)).toBe(long.slice(0, 1021) + '\u00e9');
    expect(t[1].HTTP_URL).toBe('/next');
    expect(r.anomalies).toEqual([]);
  });

  it('values extended in turn (X-Forwarded-For and Via lists, obs-fold after a response stored its type) keep their own bytes', () => {
    // The values share one buffer per flow: each list line here rewrites a value that is no
    // longer the last one, leaving dead bytes that are compacted away many times over.
    const lists = (k: number): string => Array.from({ length: 120 }, (_, i) => `X-Forwarded-For: 10.${k}.0.${i}\nVia: 1.1 proxy-${k}-${i}\n`).join('');
    const joined = (xs: string[]): string => xs.join(', ').slice(0, 1024);
    const r = run([
      C(`GET /0 HTTP/1.1\nHost: h0.example\nUser-Agent: ua-0\n${lists(0)}\n`),
      C('GET /1 HTTP/1.1\nHost: h1.example\nUser-Agent: ua-1\n'),
      S('HTTP/1.1 200 OK\nContent-Type: text/t0\nContent-Length: 0\n\n'),
      C(` (folded)\n${lists(1)}\n`),
      S('HTTP/1.1 200 OK\nContent-Type: text/t1\nContent-Length: 0\n\n'),
      C(`GET /2 HTTP/1.1\nHost: h2.example\n${lists(2)}User-Agent: ua-2\n\n`),
      S('HTTP/1.1 404 Not Found\nContent-Type: text/t2\nContent-Length: 0\n\n'),
    ]);
    expect(r.anomalies).toEqual([]);
    expect(txs(r)).toEqual([0, 1, 2].map((k) => ({
      HTTP_URL: `/${k}`,
      HTTP_METHOD: 'GET',
      HTTP_RET_CODE: k === 2 ? 404 : 200,
      HTTP_UA: k === 1 ? 'ua-1 (folded)' : `ua-${k}`,
      HTTP_MIME: `text/t${k}`,
      HTTP_HOST: `h${k}.example`,
      HTTP_SITE: `h${k}.example`,
      HTTP_X_FORWARDED_FOR: joined(Array.from({ length: 120 }, (_, i) => `10.${k}.0.${i}`)),
      HTTP_VIA: joined(Array.from({ length: 120 }, (_, i) => `1.1 proxy-${k}-${i}`)),
    })));
  });

  it('an empty value left past the end of the buffer (a response Via cleared by the request\'s) is read as empty, also while compacting', () => {
    // The response's Via and its empty Content-Type are stored while the request's headers
    // are still arriving. The request's own Via then clears the response's in place, which
    // leaves the empty Content-Type's offset past the end of the values; the lists after it
    // leave enough dead bytes for the buffer to be compacted with that offset in it.
    const lists = Array.from({ length: 120 }, (_, i) => `X-Forwarded-For: 10.9.0.${i}\nVia: 1.1 p-${i}\n`).join('');
    const r = run([
      C('GET /a HTTP/1.1\nHost: h.example\n'),
      S('HTTP/1.1 200 OK\nVia: 1.1 response-proxy\nContent-Type:\nContent-Length: 0\n\n'),
      C(`Via: a\n${lists}\n`),
    ]);
    const t = txs(r);
    expect(t).toHaveLength(1);
    expect(t[0].HTTP_MIME).toBeUndefined();
    expect(t[0].HTTP_VIA).toBe(['a', ...Array.from({ length: 120 }, (_, i) => `1.1 p-${i}`)].join(', ').slice(0, 1024));
    expect(t[0].HTTP_X_FORWARDED_FOR).toBe(Array.from({ length: 120 }, (_, i) => `10.9.0.${i}`).join(', ').slice(0, 1024));
    expect(t[0].HTTP_HOST).toBe('h.example');
  });
});

// ---- transactions ---------------------------------------------------------------------------------

describe('transactions: keep-alive, pipelining, pairing', () => {
  it('keep-alive: each response pairs with its request', () => {
    const r = run([C(get('/1')), S(ok('a')), C(get('/2')), S('HTTP/1.1 404 Not Found\nContent-Length: 3\n\nnop'), C(get('/3')), S('HTTP/1.1 500 Oops\nContent-Length: 0\n\n')]);
    expect(txs(r).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/1', 200], ['/2', 404], ['/3', 500]]);
  });

  it('pipelining: requests in one chunk, responses in one chunk, paired in order', () => {
    const r = run([C(get('/a') + get('/b') + get('/c')), S('HTTP/1.1 201 A\nContent-Length: 1\n\n1HTTP/1.1 202 B\nContent-Length: 2\n\n22HTTP/1.1 203 C\nContent-Length: 0\n\n')]);
    expect(txs(r).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/a', 201], ['/b', 202], ['/c', 203]]);
    expect(r.anomalies).toEqual([]);
  });

  it('pipelining across the request queue growing while it wraps: every response pairs in order', () => {
    // 5 requests, 3 answers, 7 more (9 waiting: the queue grows while its oldest entry is not
    // at the start), then the 9 answers.
    const res = (from: number, n: number) =>
      S(Array.from({ length: n }, (_, i) => `HTTP/1.1 ${200 + from + i} X\nContent-Length: 0\n\n`).join(''));
    const reqs = (from: number, n: number) => C(Array.from({ length: n }, (_, i) => get(`/p${from + i}`)).join(''));
    const r = run([reqs(0, 5), res(0, 3), reqs(5, 7), res(3, 9)]);
    expect(txs(r).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual(
      Array.from({ length: 12 }, (_, i) => [`/p${i}`, 200 + i]));
    expect(r.anomalies).toEqual([]);
  });

  it('past the pending cap the oldest requests are dropped and later answers pair with the next ones', () => {
    const p: Payload[] = [];
    for (let i = 0; i < 300; i++) p.push(C(get(`/q${i}`)));
    p.push(S('HTTP/1.1 201 A\nContent-Length: 0\n\nHTTP/1.1 202 B\nContent-Length: 0\n\n'));
    const t = txs(run(p));
    // 256 wait at most: /q0../q43 were dropped, so the answers go to /q44 and /q45.
    expect(t.map((x) => x.HTTP_RET_CODE).slice(42, 47)).toEqual([undefined, undefined, 201, 202, undefined]);
    expect(t[44].HTTP_URL).toBe('/q44');
  });

  it('a response before any request (mid-stream start of the client side) is its own transaction', () => {
    const r = run([S(ok('x')), C(get('/later')), S('HTTP/1.1 204 No Content\n\n')]);
    expect(txs(r)).toEqual([{ HTTP_RET_CODE: 200 }, { HTTP_URL: '/later', HTTP_METHOD: 'GET', HTTP_RET_CODE: 204, HTTP_HOST: 'example.com', HTTP_SITE: 'example.com' }]);
    expect(r.anomalies).toEqual(['http_response_without_request']);
  });

  it('a request without a response keeps no status; the flat fields still describe it', () => {
    const r = run([C(get('/lonely', 'a.example'))]);
    expect(r.fields.HTTP_URL).toBe('/lonely');
    expect(r.fields.HTTP_RET_CODE).toBeUndefined();
    expect(r.anomalies).toEqual([]);
  });

  it(`the transaction cap: 64 kept, the rest counted once as http_transactions_cap`, () => {
    const p: Payload[] = [];
    for (let i = 0; i < 70; i++) p.push(C(get(`/r${i}`)), S(`HTTP/1.1 ${200 + i} X\nContent-Length: 0\n\n`));
    const r = run(p);
    const t = txs(r);
    expect(t).toHaveLength(64);
    t.forEach((x, i) => expect([x.HTTP_URL, x.HTTP_RET_CODE]).toEqual([`/r${i}`, 200 + i]));
    expect(r.fields.HTTP_URL).toBe('/r0');
    expect(r.anomalies.filter((a) => a === 'http_transactions_cap')).toHaveLength(1);
  });

  it('requests never answered (one direction captured) hit the pending cap; pairing stays in order', () => {
    const p: Payload[] = [];
    for (let i = 0; i < 300; i++) p.push(C(get(`/q${i}`)));
    const r = run(p);
    expect(r.anomalies).toEqual(expect.arrayContaining(['http_transactions_cap', 'http_pending_cap']));
    expect(txs(r)).toHaveLength(64);
    expect(txs(r).every((t) => t.HTTP_RET_CODE === undefined)).toBe(true);
  });
});

// ---- bodies -----------------------------------------------------------------------------------

describe('message bodies are skipped, never parsed', () => {
  it('Content-Length bodies that look like HTTP are not messages', () => {
    const fake = 'HTTP/1.1 500 Fake\nContent-Length: 0\n\nGET /fake HTTP/1.1\n\n';
    const r = run([C(`POST /up HTTP/1.1\nHost: x\nContent-Length: ${fake.length}\n\n${crlf(fake).slice(0, fake.length)}`), S(ok(crlf(fake))), C(get('/after')), S('HTTP/1.1 201 Real\nContent-Length: 0\n\n')]);
    expect(txs(r).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/up', 200], ['/after', 201]]);
  });

  it('chunked bodies: sizes in either case, extensions, trailers, split anywhere', () => {
    const body = '4\nWiki\n5;name=val\npedia\nE\n in\n\nchunks.\nA;x\n0123456789\n0\nExpires: never\nX-Trailer: 1\n\n';
    const rsp = crlf(`HTTP/1.1 200 OK\nTransfer-Encoding: gzip, chunked\nContent-Type: text/plain\n\n${body}`);
    const parts: Payload[] = [C(get('/c'))];
    for (let i = 0; i < rsp.length; i += 7) parts.push({ dir: 1, hex: hex(rsp.slice(i, i + 7)) });
    parts.push(C(`POST /d HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n`), S('HTTP/1.1 204 No Content\n\n'));
    const r = run(parts);
    expect(r.anomalies).toEqual([]);
    expect(txs(r).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE, t.HTTP_MIME])).toEqual([['/c', 200, 'text/plain'], ['/d', 204, undefined]]);
  });

  it('HEAD, 204 and 304 responses have no body even with a Content-Length', () => {
    const r = run([
      C('HEAD /h HTTP/1.1\nHost: x\n\n'),
      S('HTTP/1.1 200 OK\nContent-Length: 5000\n\n'),
      C(get('/n')),
      S('HTTP/1.1 304 Not Modified\nContent-Length: 77\n\n'),
      C(get('/e')),
      S('HTTP/1.1 204 No Content\nContent-Length: 9\n\n'),
      C(get('/last')),
      S('HTTP/1.1 200 OK\nContent-Length: 0\n\n'),
    ]);
    expect(txs(r).map((t) => [t.HTTP_METHOD, t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['HEAD', '/h', 200], ['GET', '/n', 304], ['GET', '/e', 204], ['GET', '/last', 200]]);
    expect(r.anomalies).toEqual([]);
  });

  it('1xx interim responses: 100 Continue and 103 are skipped, the final status pairs', () => {
    const r = run([
      C('PUT /f HTTP/1.1\nHost: x\nExpect: 100-continue\nContent-Length: 4\n\n'),
      S('HTTP/1.1 100 Continue\n\n'),
      C(Buffer.from('data')),
      S('HTTP/1.1 103 Early Hints\nLink: </s.css>; rel=preload\n\nHTTP/1.1 201 Created\nContent-Type: text/x\nContent-Length: 0\n\n'),
      C(get('/g')),
      S(ok()),
    ]);
    expect(txs(r).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE, t.HTTP_MIME])).toEqual([['/f', 201, 'text/x'], ['/g', 200, undefined]]);
  });

  it('a response without length runs to the connection end: what follows is body', () => {
    const r = run([C(get('/stream')), S('HTTP/1.0 200 OK\nContent-Type: video/x\n\n'), S('HTTP/1.1 500 not a response\n\nGET /no HTTP/1.1\n\n'), C(get('/too-late'))]);
    expect(txs(r).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/stream', 200], ['/too-late', undefined]]);
    expect(r.anomalies).toEqual([]);
  });

  it('101 Switching Protocols and CONNECT 2xx end HTTP: the tunnel bytes are not parsed', () => {
    const ws = run([C(get('/chat', 'x', 'Upgrade: websocket\nConnection: Upgrade\n')), S('HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\n'), S(noise(3, 500)), C(noise(4, 500)), C(get('/not-http'))]);
    expect(txs(ws).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/chat', 101]]);
    expect(ws.anomalies).toEqual([]);
    const tunnel = run([C('CONNECT www.example.com:443 HTTP/1.1\nHost: www.example.com:443\n\n'), S('HTTP/1.1 200 Connection established\n\n'), C(Buffer.from('16030100a5010000a10303', 'hex')), S(noise(5, 300))]);
    expect(txs(tunnel)).toEqual([{ HTTP_URL: 'www.example.com:443', HTTP_METHOD: 'CONNECT', HTTP_RET_CODE: 200, HTTP_HOST: 'www.example.com:443', HTTP_SITE: 'example.com' }]);
    expect(tunnel.anomalies).toEqual([]);
    // A refused CONNECT stays HTTP.
    const refused = run([C('CONNECT a.example:443 HTTP/1.1\nHost: a.example:443\n\n'), S('HTTP/1.1 407 Proxy Auth\nContent-Length: 0\n\n'), C(get('/again')), S(ok())]);
    expect(txs(refused).map((t) => t.HTTP_RET_CODE)).toEqual([407, 200]);
  });

  it('Transfer-Encoding beats Content-Length (named), and a list of identical lengths is one length', () => {
    const r = run([
      C(get('/te')),
      S('HTTP/1.1 200 OK\nContent-Length: 100\nTransfer-Encoding: chunked\n\n2\nab\n0\n\n'),
      C(get('/cl')),
      S('HTTP/1.1 200 OK\nContent-Length: 3, 3\n\nabc'),
      C(get('/next')),
      S('HTTP/1.1 202 Next\nContent-Length: 0\n\n'),
    ]);
    expect(r.anomalies).toEqual(['http_te_and_content_length']);
    expect(txs(r).map((t) => t.HTTP_RET_CODE)).toEqual([200, 200, 202]);
  });
});

// ---- caps ------------------------------------------------------------------------------------------

describe('caps', () => {
  it('a 10 MB header line is cut by the line cap, the next requests still parse', () => {
    const big = 'A'.repeat(10 * 1024 * 1024);
    const r = run([C(`GET /big HTTP/1.1\nHost: x\nX-Big: ${big}\nUser-Agent: after-the-big-one\n\n`), S(ok()), C(get('/next')), S(ok())]);
    expect(r.anomalies).toEqual(['http_line_cap']);
    expect(txs(r).map((t) => [t.HTTP_URL, t.HTTP_UA, t.HTTP_RET_CODE])).toEqual([['/big', 'after-the-big-one', 200], ['/next', undefined, 200]]);
  });

  it('a 10 MB request line keeps its method and the start of its target', () => {
    const r = run([C(`GET /${'u'.repeat(10 * 1024 * 1024)} HTTP/1.1\nHost: x\n\n`), S(ok())]);
    expect(r.anomalies).toEqual(['http_line_cap']);
    expect(r.fields.HTTP_METHOD).toBe('GET');
    expect(String(r.fields.HTTP_URL)).toBe('/' + 'u'.repeat(1023));
    expect(r.fields.HTTP_RET_CODE).toBe(200);
  });

  it('a never-ending chunked body hits the chunk cap; that direction is then left alone', () => {
    const chunks = Buffer.from('1\r\nx\r\n'.repeat(70000), 'latin1');
    const r = run([C(get('/sse')), S('HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n'), S(chunks), S(ok()), C(get('/b'))]);
    expect(r.anomalies).toEqual(['http_chunk_cap']);
    expect(txs(r).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/sse', 200], ['/b', undefined]]);
  });

  it('garbage after a lost sync: the resync search is capped and the direction abandoned', () => {
    const r = run([C(get('/a')), S('HTTP/1.1 200 OK\nContent-Length: 1x\n\n'), S(noise(9, 5 * 1024 * 1024)), S(ok()), C(get('/b'))]);
    expect(r.anomalies).toEqual(['http_bad_content_length', 'http_resync_cap']);
    expect(txs(r).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/a', 200], ['/b', undefined]]);
  });
});

// ---- malformed and truncated input ---------------------------------------------------------------

describe('malformed and truncated input: named anomalies, no crash', () => {
  it('a bad request line, then a resync on the next valid one', () => {
    const r = run([C(get('/ok')), S(ok()), C('this is not http\nGET /again HTTP/1.1\nHost: y\n\n'), S(ok())]);
    expect(r.anomalies).toEqual(['http_bad_request_line']);
    expect(txs(r).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/ok', 200], ['/again', 200]]);
  });

  it('a bad status line; a response glued to the end of an over-long body is found again', () => {
    const r = run([C(get('/1') + get('/2') + get('/3')), S('HTTP/1.1 200 OK\nContent-Length: 2\n\nabcdefHTTP/1.1 202 Two\nContent-Length: 0\n\nXTTP/1.1 203 Three\n\n')]);
    expect(r.anomalies).toEqual(['http_bad_status_line']);
    expect(txs(r).map((t) => t.HTTP_RET_CODE)).toEqual([200, 202, undefined]);
  });

  it('header lines without a colon or with a bad name are named and skipped', () => {
    const r = run([C('GET / HTTP/1.1\nHost: x\nno colon here\nBad Name: v\nUser-Agent: ua\n\n'), S(ok())]);
    expect(r.anomalies).toEqual(['http_bad_header_line']);
    expect(r.fields.HTTP_UA).toBe('ua');
    expect(r.fields.HTTP_RET_CODE).toBe(200);
  });

  it('bad Content-Length (letters, conflicting values), bad chunk size, missing chunk CRLF', () => {
    const a = run([C('POST /p HTTP/1.1\nHost: x\nContent-Length: 5\nContent-Length: 6\n\nhello!GET /q HTTP/1.1\n\n'), S(ok())]);
    expect(a.anomalies).toEqual(['http_bad_content_length']);
    expect(txs(a).map((t) => t.HTTP_URL)).toEqual(['/p', '/q']);
    const b = run([C(get('/c') + get('/d')), S('HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\nzz\nHTTP/1.1 201 Resync\nContent-Length: 0\n\n')]);
    expect(b.anomalies).toEqual(['http_bad_chunk_size']);
    expect(txs(b).map((t) => t.HTTP_RET_CODE)).toEqual([200, 201]);
    const c = run([C(get('/e')), S('HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc0\n\n'), C(get('/f')), S(ok())]);
    // The line after the data is read as the next chunk size ("0": the last chunk).
    expect(c.anomalies).toEqual(['http_bad_chunk_end']);
    expect(txs(c).map((t) => t.HTTP_RET_CODE)).toEqual([200, 200]);
  });

  it('two Host headers, a request with an unknown transfer coding', () => {
    const r = run([C('GET / HTTP/1.1\nHost: a.example\nHost: b.example\n\n'), S(ok())]);
    expect(r.anomalies).toEqual(['http_multiple_host']);
    expect(r.fields.HTTP_HOST).toBe('a.example');
    const te = run([C('POST / HTTP/1.1\nHost: x\nTransfer-Encoding: gzip\n\nbinary\nGET /n HTTP/1.1\nHost: x\n\n')]);
    expect(te.anomalies).toEqual(['http_bad_transfer_encoding']);
    expect(txs(te).map((t) => t.HTTP_URL)).toEqual(['/', '/n']);
  });

  it('a flow cut inside the headers or inside a body says so at export', () => {
    expect(run([C('GET / HTTP/1.1\nHost: x\n')]).anomalies).toEqual(['http_truncated_header']);
    expect(run([C('GET / HT')]).anomalies).toEqual(['http_truncated_header']);
    expect(run([C(get('/')), S('HTTP/1.1 200 OK\nContent-Length: 100\n\nshort')]).anomalies).toEqual(['http_truncated_body']);
    expect(run([C(get('/')), S('HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n10\nabc')]).anomalies).toEqual(['http_truncated_body']);
    expect(run([C(get('/')), S('HTTP/1.1 200 OK\nContent-Length: 5\n\n12345')]).anomalies).toEqual([]);
  });

  it('a server side picked up in the middle of a body: that response is lost, the next one pairs right', () => {
    const r = run([C(get('/first') + get('/second')), S(Buffer.from('...tail of the first body\x00\x01HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'latin1'))]);
    expect(r.anomalies).toEqual(['http_midstream_start', 'http_response_lost']);
    expect(txs(r).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/first', undefined], ['/second', 200]]);
  });

  it('roles swapped (the flow\'s first packet was the server\'s): told by the first start line', () => {
    // "client -> server" carries responses, "server -> client" requests.
    const r = run([
      { dir: 0, hex: hex('...end of an earlier body\r\n') },
      { dir: 1, hex: hex(crlf(get('/x'))) },
      { dir: 0, hex: hex(crlf(ok('hi'))) },
      { dir: 1, hex: hex(crlf(get('/y'))) },
      { dir: 0, hex: hex(crlf('HTTP/1.1 404 No\nContent-Length: 0\n\n')) },
    ]);
    expect(txs(r).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/x', 200], ['/y', 404]]);
    expect(r.anomalies).toEqual(['http_midstream_start']);
    const st = run([{ dir: 0, hex: hex(crlf('HTTP/1.1 304 Not Modified\n\n')) }, { dir: 1, hex: hex(crlf(get('/z'))) }, { dir: 0, hex: hex(crlf(ok())) }]);
    expect(txs(st).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([[undefined, 304], ['/z', 200]]);
  });

  it('a capture that starts with a TCP keep-alive byte before the first request', () => {
    const r = run([{ dir: 0, hex: '00' + hex(crlf(get('/ka'))) }, S(ok())]);
    expect(r.anomalies).toEqual([]);
    expect(txs(r).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/ka', 200]]);
  });

  it('random bytes in both directions after a request: no crash, anomalies only', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const r = run([C(get('/x')), S(noise(seed, 4000)), C(noise(seed + 100, 4000))]);
      expect(txs(r).length).toBeGreaterThanOrEqual(1);
      expect(txs(r)[0].HTTP_URL).toBe('/x');
      for (const a of r.anomalies) expect(a).toMatch(/^http_[a-z_]+$/);
    }
  });

  it('empty input: no fields; the UDP packet probe never claims a payload', () => {
    expect(run([]).fields).toEqual({});
    const r = run([{ dir: 0, hex: '' }, { dir: 1, hex: '' }, C(get('/p'))]);
    expect(r.probe).toEqual([false, false, false]);
  });
});

// ---- through the engine (CLI): detection and gaps --------------------------------------------------

/** An HTTP connection: header lines in CRLF (test/helpers/tcpconn.ts). */
class Conn extends TcpConn {
  constructor(cport: number, sport: number, opts: { handshake?: boolean; t0?: number } = {}) {
    super(cport, sport, { ...opts, stepUs: 500, client: '192.0.2.10', server: '198.51.100.20', text: (t) => Buffer.from(crlf(t), 'latin1') });
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-http-'));
let nfile = 0;
function cli(c: Conn): ProbeFlow {
  const file = writePcap(c.frames, LINKTYPE.ETHERNET, path.join(tmp, `t${nfile++}.pcap`));
  const r = runCli(['-i', file, '-n', 'none', '--json-out', '-']);
  expect(r.status).toBe(0);
  const tcp = r.flows.filter((f) => f.PROTOCOL === 6);
  expect(tcp).toHaveLength(1);
  return tcp[0];
}
const rec = (f: ProbeFlow): Record<string, unknown> => f as unknown as Record<string, unknown>;
const ftxs = (f: ProbeFlow): Tx[] => (rec(f).HTTP_TRANSACTIONS as Tx[] | undefined) ?? [];
const httpKeys = (f: ProbeFlow): string[] => Object.keys(rec(f)).filter((k) => k.startsWith('HTTP_'));

const describeCli = probeBuilt() ? describe : describe.skip;

describeCli('detection by payload (probe_stream), through the CLI', () => {
  it('HTTP off its ports is recognised, by the request or (capture started late) by the status line', () => {
    const off = cli(new Conn(40001, 5123).c(get('/off')).s(ok('hi')));
    expect(off.L7_PROTO).toBe(7);
    expect(rec(off).HTTP_URL).toBe('/off');
    const late = cli(new Conn(40002, 5124, { handshake: false }).s('HTTP/1.1 304 Not Modified\n\n').c(get('/next')).s(ok()));
    const mid = cli(new Conn(40004, 5125, { handshake: false }).s(noise(11, 1000)).c(get('/mid')).s(ok()));
    expect(mid.L7_PROTO).toBe(7);
    expect(ftxs(mid).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/mid', 200]]);
    expect(late.L7_PROTO).toBe(7);
    expect(ftxs(late).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([[undefined, 304], ['/next', 200]]);
  });

  it('a request line longer than the 2 KiB kept for probing is still HTTP', () => {
    const f = cli(new Conn(40003, 80).c(get('/' + 'p'.repeat(3000))).s(ok()));
    expect(f.L7_PROTO).toBe(7);
    expect(String(rec(f).HTTP_URL)).toHaveLength(1024);
  });

  it('other protocols and garbage on port 80 are not labelled HTTP', () => {
    const cases = [
      new Conn(40010, 80).c(noise(1, 1500)).s(noise(2, 1500)),
      new Conn(40011, 80).s('SSH-2.0-OpenSSH_9.6\n').c('SSH-2.0-client\n'),
      new Conn(40012, 80).c('OPTIONS rtsp://cam.example/s RTSP/1.0\nCSeq: 1\n\n').s('RTSP/1.0 200 OK\nCSeq: 1\n\n'),
      new Conn(40013, 80).c('REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/TCP h\n\n').s('SIP/2.0 200 OK\n\n'),
      new Conn(40014, 80).c(Buffer.from('16030100a5010000a10303' + '11'.repeat(160), 'hex')).s(Buffer.from('160303004a020000460303' + '22'.repeat(80), 'hex')),
      new Conn(40015, 80).c('PRI * HTTP/2.0\n\nSM\n\n').s(noise(3, 40)),
      new Conn(40016, 80).c('GET /\n').s('<html>old</html>'),
      new Conn(40017, 80).c('get / http/1.1\nHost: x\n\n').s('hello\n'),
    ];
    for (const c of cases) {
      const f = cli(c);
      expect(f.L7_PROTO).not.toBe(7);
      expect(httpKeys(f)).toEqual([]);
    }
  });
});

describeCli('stream gaps, through the CLI', () => {
  it('a whole response missing: that request gets no status, the next pairs right', () => {
    const c = new Conn(40020, 80).c(get('/1')).skip(1, crlf(ok('lost body')).length).c(get('/2')).s('HTTP/1.1 202 Two\nContent-Length: 0\n\n');
    const f = cli(c);
    expect(ftxs(f).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/1', undefined], ['/2', 202]]);
    expect(String(f.FLOW_ANOMALIES)).toContain('http_response_lost');
  });

  it('a whole request missing: its response stands alone, the next pair stays right', () => {
    // The answer to the lost request comes first (no request waiting); the next request waits
    // in the reassembler behind the hole until the server's ACK settles it, then its answer.
    const c = new Conn(40021, 80).c(get('/1')).s('HTTP/1.1 201 One\nContent-Length: 0\n\n')
      .skip(0, crlf(get('/2')).length).s('HTTP/1.1 202 Two\nContent-Length: 0\n\n')
      .c(get('/3')).ack(1).s('HTTP/1.1 203 Three\nContent-Length: 0\n\n');
    const f = cli(c);
    expect(ftxs(f).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/1', 201], [undefined, 202], ['/3', 203]]);
    expect(String(f.FLOW_ANOMALIES).split(',').sort()).toEqual(['http_gap', 'http_request_lost', 'http_response_without_request']);
  });

  it('a lost request noticed before its response: a placeholder takes that response', () => {
    // Pipelined: the hole (request 2) is settled by the server's ACK before any answer.
    const c = new Conn(40025, 80).c(get('/1')).skip(0, crlf(get('/2')).length).c(get('/3')).ack(1)
      .s('HTTP/1.1 201 One\nContent-Length: 0\n\nHTTP/1.1 202 Two\nContent-Length: 0\n\nHTTP/1.1 203 Three\nContent-Length: 0\n\n');
    const f = cli(c);
    expect(ftxs(f).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/1', 201], ['/3', 203], [undefined, 202]]);
    expect(String(f.FLOW_ANOMALIES).split(',').sort()).toEqual(['http_gap', 'http_request_lost']);
  });

  it('a hole inside a Content-Length body is only missing body bytes', () => {
    const c = new Conn(40022, 80).c(get('/big')).s('HTTP/1.1 200 OK\nContent-Length: 5000\n\n' + 'a'.repeat(1000))
      .skip(1, 2500).s('b'.repeat(1500)).c(get('/after')).s('HTTP/1.1 204 No Content\n\n');
    const f = cli(c);
    expect(ftxs(f).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/big', 200], ['/after', 204]]);
    expect(f.FLOW_ANOMALIES).toBeUndefined();
  });

  it('a hole inside a chunked body: resync at the next status line', () => {
    const c = new Conn(40023, 80).c(get('/ch') + get('/next')).s('HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\nhello\n')
      .skip(1, 40).s('\n0\n\nHTTP/1.1 206 Part\nContent-Length: 0\n\n');
    const f = cli(c);
    expect(ftxs(f).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/ch', 200], ['/next', 206]]);
    expect(String(f.FLOW_ANOMALIES)).toContain('http_gap');
  });

  it('a hole inside a request line: no half request is invented', () => {
    const c = new Conn(40024, 80).c('GET /a HTTP/1.1\nHost: x\n\nGET /b').skip(0, 20).c('/tail HTTP/1.1\nHost: x\n\n' + get('/c')).ack(1).s(ok() + ok() + ok());
    const f = cli(c);
    // "GET /b" + hole + "/tail HTTP/1.1" must not become a request "/b/tail": the cut request
    // is lost (its answer pairs with a placeholder), /c is the next one.
    expect(ftxs(f).map((t) => [t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['/a', 200], ['/c', 200], [undefined, 200]]);
    expect(String(f.FLOW_ANOMALIES).split(',').sort()).toEqual(['http_gap', 'http_request_lost']);
  });

  it('a hole that cuts a method: the word left over is not taken for a method', () => {
    const c = new Conn(40026, 80).c(get('/a')).skip(0, 2).c('ST /b HTTP/1.1\nHost: x\nContent-Length: 0\n\n' + get('/c')).ack(1).s(ok() + ok() + ok());
    const f = cli(c);
    expect(ftxs(f).map((t) => [t.HTTP_METHOD, t.HTTP_URL, t.HTTP_RET_CODE])).toEqual([['GET', '/a', 200], ['GET', '/c', 200], [undefined, undefined, 200]]);
  });
});

describeCli('the real captures', () => {
  it('zeek_http_1000_requests: the missing response leaves request 1 without a status, 2..64 pair, the rest is capped', () => {
    const r = runProbe('http/zeek_http_1000_requests.pcap');
    expect(r.status).toBe(0);
    const f = r.flows.find((x) => x.L7_PROTO === 7)!;
    const t = ftxs(f);
    expect(t).toHaveLength(64);
    expect(t[0].HTTP_RET_CODE).toBeUndefined();
    expect(t.slice(1).every((x) => x.HTTP_RET_CODE === 200 && x.HTTP_MIME === 'text/html')).toBe(true);
    expect(String(f.FLOW_ANOMALIES).split(',').sort()).toEqual(['http_gap', 'http_response_lost', 'http_transactions_cap']);
  });

  it('zeek_http_pipelined: the five URIs of Zeek\'s http.log, in order, every one answered', () => {
    const zeek = fs.readFileSync(path.join(__dirname, '..', 'pcap', 'http', 'zeek_http_pipelined.zeek.http.log'), 'utf8')
      .split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t')[9]);
    const f = runProbe('http/zeek_http_pipelined.pcap').flows[0];
    expect(ftxs(f).map((t) => t.HTTP_URL)).toEqual(zeek);
    expect(ftxs(f).map((t) => t.HTTP_RET_CODE)).toEqual([200, 200, 200, 200, 200]);
  });

  it('HTTP inside GTP-U (outer IP fragments): the request and Zeek\'s 206 Partial Content', () => {
    const f = runProbe('gtp/zeek_gtp1_gn_fragmentation.pcap').flows.find((x) => x.L7_PROTO === 7)!;
    expect(rec(f).HTTP_HOST).toBe('o-o.preferred.telekomrs-beg1.v2.lscache8.c.youtube.com');
    expect(rec(f).HTTP_RET_CODE).toBe(206);
  });

  it('malformed captures: no crash, and no flow there is labelled HTTP', () => {
    const dir = path.join(__dirname, '..', 'pcap', 'malformed');
    for (const file of fs.readdirSync(dir).filter((x) => /\.pcap(ng)?$/.test(x))) {
      const r = runProbe(`malformed/${file}`);
      expect(r.signal).toBeNull();
      expect(r.flows.filter((x) => x.L7_PROTO === 7)).toEqual([]);
    }
  });
});
