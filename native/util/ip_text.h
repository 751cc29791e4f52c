// IPv4 dotted-quad (RFC 791) and IPv6 text (RFC 5952, glibc's inet_ntop output exactly) without
// printf: glibc's inet_ntop formats each part through vfprintf, which showed on the capture
// thread's profile (DNS answers and clients, DHCPv6, GTP end-user addresses).
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace nprobe {

// Each octet value's text for put_ipv4: its 1-3 digits followed by '.', in one word, and the
// number of digits.
struct OctetText {
  char text[4];
  uint8_t digits;
};
inline constexpr auto kOctetText = [] {
  std::array<OctetText, 256> t{};
  for (unsigned v = 0; v < 256; v++) {
    OctetText& o = t[v];
    o.digits = v >= 100 ? 3 : v >= 10 ? 2 : 1;
    for (unsigned i = 0, d = v; i < o.digits; i++, d /= 10) o.text[o.digits - 1 - i] = char('0' + d % 10);
    o.text[o.digits] = '.';
  }
  return t;
}();

// Writes the dotted quad of a[0..3] at out (at most 15 bytes); returns the end. An octet is
// copied as a whole word (digits, dot, and whatever follows), and the cursor moves past its
// digits and dot only: the rest is overwritten by the next octet. The last one is copied
// as 3 bytes, which at the latest start it can have (12) end at the 15th: nothing is written
// past the room the longest address needs. This runs for two addresses of every exported
// flow (JSON lines, the Lua batch); a digit at a time it was ~130 instructions an address.
inline char* put_ipv4(char* out, const uint8_t* a) {
  for (int i = 0; i < 3; i++) {
    const OctetText& o = kOctetText[a[i]];
    std::memcpy(out, o.text, 4);
    out += o.digits + 1;
  }
  const OctetText& o = kOctetText[a[3]];
  std::memcpy(out, o.text, 3);
  return out + o.digits;
}

inline void append_ipv4(std::string& out, const uint8_t* a) {
  char b[16];
  out.append(b, size_t(put_ipv4(b, a) - b));
}

inline std::string ipv4_string(uint32_t host_order) {
  const uint8_t a[4] = {uint8_t(host_order >> 24), uint8_t(host_order >> 16), uint8_t(host_order >> 8), uint8_t(host_order)};
  std::string s;
  append_ipv4(s, a);
  return s;
}

// Longest text put_ipv6 writes ("ffff:...:ffff" is 39; the IPv4 forms are shorter).
inline constexpr size_t kMaxIpv6Text = 39;

// RFC 5952 text of a[0..15]: lower-case hex without leading zeros, the longest run of two or
// more zero groups (the first of equal runs) as "::", an IPv4-mapped address (::ffff:a.b.c.d)
// with a dotted tail. v4_compatible: the deprecated IPv4-compatible form (::a.b.c.d, but not
// ::1 or ::) gets one too, as glibc's inet_ntop writes it (the dissectors' fields used that).
// The flow addresses leave it out, as src/format.ts's ipv6ToString does (record_view.h).
inline char* put_ipv6(char* out, const uint8_t* a, bool v4_compatible = true) {
  static constexpr char kHex[] = "0123456789abcdef";
  unsigned w[8];
  for (int i = 0; i < 8; i++) w[i] = unsigned(a[2 * i]) << 8 | a[2 * i + 1];
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (w[i]) {
      i++;
      continue;
    }
    int j = i;
    while (j < 8 && !w[j]) j++;
    if (j - i > best_len) best = i, best_len = j - i;
    i = j;
  }
  if (best_len < 2) best = -1;  // a single zero group is written as 0 (RFC 5952 §4.2.2)
  const bool v4_tail =
      best == 0 && ((v4_compatible && (best_len == 6 || (best_len == 7 && w[7] != 1))) || (best_len == 5 && w[5] == 0xffff));
  for (int i = 0; i < 8; i++) {
    if (i == best) {
      *out++ = ':';
      i += best_len - 1;
      if (i == 7) *out++ = ':';
      continue;
    }
    if (i) *out++ = ':';
    if (v4_tail && i == 6) return put_ipv4(out, a + 12);
    // Digits without leading zeros: from the group's highest non-zero nibble down.
    const unsigned v = w[i];
    const int digits = v >= 0x1000 ? 4 : v >= 0x100 ? 3 : v >= 0x10 ? 2 : 1;
    for (int s = 4 * (digits - 1); s >= 0; s -= 4) *out++ = kHex[(v >> s) & 0xF];
  }
  return out;
}

inline void append_ipv6(std::string& out, const uint8_t* a) {
  char b[kMaxIpv6Text + 1];
  out.append(b, size_t(put_ipv6(b, a) - b));
}

inline std::string ipv6_string(const uint8_t* a) {
  std::string s;
  append_ipv6(s, a);
  return s;
}

}  // namespace nprobe
