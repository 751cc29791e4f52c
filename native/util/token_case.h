// Case-insensitive comparison of a protocol token (an HTTP or SIP header name) with a known
// lower-case name, a word at a time. Shared by the text dissectors (http.cc, sip.cc), which
// match every header name of every message against the few they read.
#pragma once
#include <cstdint>
#include <cstring>
#include <string_view>

namespace nprobe {

// token (token characters only: RFC 9110 §5.6.2 tchar, RFC 3261 §25.1 token) equal, ignoring
// case, to want (lower-case letters, digits and '-')? Setting bit 5 of a token character gives
// a lower-case letter only when it was that letter in either case, '-' only from '-' (0x0D,
// CR, is no token character), and a digit only from itself ('_' becomes DEL; the other symbols
// have the bit already and stay what they are). So one OR and one compare per byte decide,
// done 4 or 8 bytes at a time, the last word overlapping the one before.
inline bool token_is(std::string_view token, std::string_view want) {
  const size_t n = want.size();
  if (token.size() != n) return false;
  const char *a = token.data(), *b = want.data();
  const auto word_is = [](const char* x, const char* y, auto word) {
    decltype(word) u, v;
    std::memcpy(&u, x, sizeof u);
    std::memcpy(&v, y, sizeof v);
    return (u | decltype(word)(0x2020202020202020ull)) == v;
  };
  if (n < 4) {
    for (size_t i = 0; i < n; i++)
      if ((a[i] | 0x20) != b[i]) return false;
    return true;
  }
  if (n < 8) return word_is(a, b, uint32_t{}) && word_is(a + n - 4, b + n - 4, uint32_t{});
  for (size_t i = 0; i + 8 < n; i += 8)
    if (!word_is(a + i, b + i, uint64_t{})) return false;
  return word_is(a + n - 8, b + n - 8, uint64_t{});
}

}  // namespace nprobe
