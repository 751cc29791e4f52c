// Address text written by the dissectors (native/util/ip_text.h, no printf): IPv4 dotted quads
// and RFC 5952 IPv6, checked on the RFC's own cases, on the IPv4 forms glibc's inet_ntop
// writes (the text the outputs had before), and on random addresses against the WHATWG URL
// serializer, which compresses IPv6 by the same rules.
import { loadNative } from '../../src/native';

const text = (hex: string): string => loadNative().testIpText(Buffer.from(hex.replace(/[ :]/g, ''), 'hex'));

test('IPv4 dotted quads', () => {
  expect(text('00000000')).toBe('0.0.0.0');
  expect(text('ffffffff')).toBe('255.255.255.255');
  expect(text('c0000201')).toBe('192.0.2.1');
  expect(text('0a006405')).toBe('10.0.100.5');
});

test('every octet value, in every position, beside octets of every width', () => {
  // put_ipv4 copies each octet's text as a whole word from a table and moves on by its width
  // (1-3 digits): every value in every position, with neighbours of each width, covers every
  // overlap of one copy with the next.
  const widths = [0, 7, 10, 42, 100, 255];
  for (let pos = 0; pos < 4; pos++) {
    for (let v = 0; v < 256; v++) {
      for (const w of widths) {
        const o = [w, (w + 3) % 256, 255 - w, w ^ 0x5a];
        o[pos] = v;
        expect(text(Buffer.from(o).toString('hex'))).toBe(o.join('.'));
      }
    }
  }
});

test.each([
  ['0000 0000 0000 0000 0000 0000 0000 0000', '::'],
  ['0000 0000 0000 0000 0000 0000 0000 0001', '::1'],
  ['0001 0000 0000 0000 0000 0000 0000 0000', '1::'],
  ['2001 0db8 0000 0000 0000 0000 0000 0001', '2001:db8::1'],
  // RFC 5952 §4.2.2: one zero group is not shortened.
  ['2001 0db8 0000 0001 0001 0001 0001 0001', '2001:db8:0:1:1:1:1:1'],
  // §4.2.3: the longest run; of equal runs the first.
  ['2001 0000 0000 0001 0000 0000 0000 0001', '2001:0:0:1::1'],
  ['2001 0db8 0000 0000 0001 0000 0000 0001', '2001:db8::1:0:0:1'],
  // §4.3: lower case, no leading zeros.
  ['2001 0DB8 00AB 0C00 000D 0000 0000 0E0F', '2001:db8:ab:c00:d::e0f'],
  ['ffff ffff ffff ffff ffff ffff ffff ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  // IPv4-mapped and the deprecated IPv4-compatible form end in a dotted quad, as glibc writes them.
  ['0000 0000 0000 0000 0000 ffff c000 0201', '::ffff:192.0.2.1'],
  ['0000 0000 0000 0000 0000 0000 c000 0201', '::192.0.2.1'],
  ['0000 0000 0000 0000 0000 0000 0000 0002', '::2'],
  ['0000 0000 0000 0000 0001 ffff c000 0201', '::1:ffff:c000:201'],
])('IPv6 %s is %s', (hex, want) => {
  expect(text(hex)).toBe(want);
});

test('random IPv6 addresses read as the URL serializer writes them', () => {
  // Zero groups are made common, so runs of every length and position come up.
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xffff;
  let checked = 0;
  for (let i = 0; i < 5000; i++) {
    const groups = Array.from({ length: 8 }, () => (rnd() % 3 === 0 ? rnd() : 0));
    // The URL serializer never writes the dotted IPv4 tails: those are the cases above.
    const zeroHead = groups.slice(0, 5).every((g) => g === 0);
    if (zeroHead && (groups[5] === 0xffff || (groups[5] === 0 && groups[6] !== 0) || (groups[5] === 0 && groups[6] === 0 && groups[7] > 1))) continue;
    const full = groups.map((g) => g.toString(16)).join(':');
    const want = new URL(`http://[${full}]/`).hostname.slice(1, -1);
    const hex = groups.map((g) => g.toString(16).padStart(4, '0')).join('');
    expect(text(hex)).toBe(want);
    checked++;
  }
  expect(checked).toBeGreaterThan(4000);
});
