// IPv4 dotted-quad (RFC 791) and IPv6 text (RFC 5952, glibc's inet_ntop output exactly) without
// printf: glibc's inet_ntop formats each part through vfprintf, which showed on the capture
// thread's profile (DNS answers and clients, DHCPv6, GTP end-user addresses).
#pragma once
#include <cstdint>
#include <string>

namespace nprobe {

// Writes the dotted quad of a[0..3] at out (at most 15 bytes); returns the end.
inline char* put_ipv4(char* out, const uint8_t* a) {
  for (int i = 0; i < 4; i++) {
    if (i) *out++ = '.';
    const unsigned v = a[i];
    if (v >= 100) *out++ = char('0' + v / 100);
    if (v >= 10) *out++ = char('0' + v / 10 % 10);
    *out++ = char('0' + v % 10);
  }
  return out;
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
