// Dotted-quad text of an IPv4 address without printf: glibc's inet_ntop and snprintf go
// through vfprintf, which showed on the capture thread's profile (DNS answers and clients).
#pragma once
#include <cstdint>
#include <string>

namespace nprobe {

inline void append_ipv4(std::string& out, const uint8_t* a) {
  for (int i = 0; i < 4; i++) {
    if (i) out += '.';
    const unsigned v = a[i];
    if (v >= 100) out += char('0' + v / 100);
    if (v >= 10) out += char('0' + v / 10 % 10);
    out += char('0' + v % 10);
  }
}

inline std::string ipv4_string(uint32_t host_order) {
  const uint8_t a[4] = {uint8_t(host_order >> 24), uint8_t(host_order >> 16), uint8_t(host_order >> 8), uint8_t(host_order)};
  std::string s;
  append_ipv4(s, a);
  return s;
}

}  // namespace nprobe
