// Text forms of addresses: RFC 5952 IPv6, dotted IPv4, colon MACs.
import { ipv4ToString, ipv6ToString, macToString } from '../../src/format';

function v6(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.replace(/\s/g, ''), 'hex'));
}

test.each([
  ['20010db8000000000000000000000001', '2001:db8::1'],
  ['20010db8000000010000000000000001', '2001:db8:0:1::1'], // longest run wins
  ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'], // tie: the first run
  ['20010db8000100010001000100010001', '2001:db8:1:1:1:1:1:1'], // no run of two: no "::"
  ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'], // a single zero stays
  ['00000000000000000000000000000000', '::'],
  ['00000000000000000000000000000001', '::1'],
  ['fe800000000000000000000000000000', 'fe80::'],
  ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'],
  ['20010DB8ABCDEF010000000000000000', '2001:db8:abcd:ef01::'], // lowercase, trailing run
])('ipv6ToString(%s) = %s', (hex, text) => {
  expect(ipv6ToString(v6(hex), 0)).toBe(text);
});

test('IPv4 and MAC text', () => {
  const b = Uint8Array.from([192, 0, 2, 255, 0x02, 0xab, 0x00, 0x10, 0xff, 0x0f]);
  expect(ipv4ToString(b, 0)).toBe('192.0.2.255');
  expect(macToString(b, 4)).toBe('02:ab:00:10:ff:0f');
});
