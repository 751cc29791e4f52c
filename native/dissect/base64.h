// Base64 (RFC 4648 §4) for the SASL exchanges of the mail protocols, decoded a byte at a
// time so a caller can stop early (at the NUL before a password, say) and never holds more
// than it wants.
#pragma once
#include <cstdint>
#include <string_view>

namespace nprobe::base64 {

inline int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// True when s holds only alphabet characters and padding.
inline bool b64_text(std::string_view s) {
  for (char c : s)
    if (b64_value(c) < 0 && c != '=') return false;
  return true;
}

// Calls emit(uint8_t) for each decoded byte until it returns false. False on a character
// outside the alphabet (padding "=" ends the data).
template <class Emit>
bool b64_decode(std::string_view s, Emit&& emit) {
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    const int v = b64_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (!emit(uint8_t(acc >> bits))) return true;
      acc &= (1u << bits) - 1;
    }
  }
  return true;
}

}  // namespace nprobe::base64
