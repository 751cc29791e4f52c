// A minimal JSON text builder for values that leave the native core already structured
// (per-transaction arrays). Escapes per RFC 8259; invalid UTF-8 bytes become U+FFFD so the
// output is always valid JSON whatever the packet held.
#pragma once
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace nprobe {

// Word-at-a-time tests over 8 string bytes (the "has a zero byte" trick): the JSON escapers
// skip runs of plain text 8 bytes per step instead of testing every byte.
namespace swar {
inline constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
// Non-zero iff some byte of v is below n (0 < n <= 128). Exact as a yes/no: the lowest such
// byte is always flagged (no borrow reaches it), and without one nothing borrows at all.
inline uint64_t bytes_below(uint64_t v, uint8_t n) { return (v - kOnes * n) & ~v & kHigh; }
inline uint64_t bytes_equal(uint64_t v, uint8_t c) { return bytes_below(v ^ (kOnes * c), 1); }
// True when none of the 8 bytes needs escaping inside a JSON string: no control byte, no '"',
// no '\\' (bytes >= 0x80 pass; callers that must check UTF-8 test kHigh themselves).
inline bool json_plain(uint64_t w) { return !(bytes_below(w, 0x20) | bytes_equal(w, '"') | bytes_equal(w, '\\')); }
}  // namespace swar

// The same test 16 bytes at a time where the target has SSE2 (every x86-64): a bit per byte
// of p[0..16) that needs escaping (a control byte, '"', '\\'), bytes >= 0x80 included when
// `high`. Strings are mostly 10 to 60 bytes: one or two steps.
namespace simd {
#if defined(__SSE2__)
inline constexpr bool kHave = true;
inline unsigned json_special16(const char* p, bool high) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i not_ctl = _mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8(0x20)), x);  // x >= 0x20
  const __m128i quote = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
  unsigned m = unsigned(_mm_movemask_epi8(quote)) | (~unsigned(_mm_movemask_epi8(not_ctl)) & 0xFFFFu);
  if (high) m |= unsigned(_mm_movemask_epi8(x));
  return m;
}
#else
inline constexpr bool kHave = false;
inline unsigned json_special16(const char*, bool) { return ~0u; }  // never called
#endif
}  // namespace simd

// Decimal text of unsigned numbers, as std::to_chars writes it (<= 20 bytes at p; returns the
// end), in 32-bit arithmetic: from 10^8 on (microsecond times, 16 digits) in 8-digit blocks,
// not std::to_chars' 64-bit steps of two digits (~240 instructions for a time).
namespace dec {
inline constexpr char kPairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";
// Exactly 8 digits of v < 10^8, leading zeros included.
inline void put_8_digits(char* p, uint32_t v) {
  const uint32_t hi = v / 10000, lo = v % 10000;
  std::memcpy(p, &kPairs[2 * (hi / 100)], 2);
  std::memcpy(p + 2, &kPairs[2 * (hi % 100)], 2);
  std::memcpy(p + 4, &kPairs[2 * (lo / 100)], 2);
  std::memcpy(p + 6, &kPairs[2 * (lo % 100)], 2);
}
// v < 10^8, without leading zeros: the digit count by comparisons, then two digits a step
// from the end.
inline char* put_below_1e8(char* p, uint32_t v) {
  const size_t n = v < 10000 ? (v < 100 ? (v < 10 ? 1 : 2) : (v < 1000 ? 3 : 4))
                             : (v < 1000000 ? (v < 100000 ? 5 : 6) : (v < 10000000 ? 7 : 8));
  char* const e = p + n;
  char* q = e;
  while (v >= 100) {
    q -= 2;
    std::memcpy(q, &kPairs[2 * (v % 100)], 2);
    v /= 100;
  }
  if (v >= 10) {
    std::memcpy(q - 2, &kPairs[2 * v], 2);
  } else {
    q[-1] = char('0' + v);
  }
  return e;
}
inline char* put_u64(char* p, uint64_t v) {
  if (v < 100000000) return put_below_1e8(p, uint32_t(v));
  const uint64_t hi = v / 100000000;
  if (hi < 100000000) {
    p = put_below_1e8(p, uint32_t(hi));
  } else {  // 10^16 and more: at most 4 leading digits, then 8
    p = put_below_1e8(p, uint32_t(hi / 100000000));
    put_8_digits(p, uint32_t(hi % 100000000));
    p += 8;
  }
  put_8_digits(p, uint32_t(v % 100000000));
  return p + 8;
}
}  // namespace dec

class JsonWriter {
 public:
  // The text is built in the writer itself (kInlineBytes on the stack), on the heap only past
  // that: each exported flow builds one transactions array, and one of a DNS flow is ~200
  // bytes. (Through a std::string borrowed from a thread-local, each kv() was two or three
  // out-of-line appends, and the borrowing a TLS look-up and two swaps: ~250 instructions a
  // kv() on the export of every flow.)
  JsonWriter() = default;
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  // The text so far; valid until the next write or the writer's end.
  std::string_view str() const { return std::string_view(buf_, n_); }
  void begin_object() { open('{'); }
  void end_object() { put('}'); first_ = false; }
  void begin_array() { open('['); }
  void end_array() { put(']'); first_ = false; }
  // Keys are the probe's own field names (A-Z, 0-9, '_'): after a word-at-a-time check they
  // are copied as they are, without the escaping pass (keys are half the strings of a
  // transactions array). A key that needs escaping still gets it.
  void key(std::string_view k) {
    if (char* p = plain_key(k, false, 0)) {
      end(p);
    } else {
      sep();
      quote(k);
      put(':');
    }
    first_ = true;  // the value follows without a comma
  }
  void value(std::string_view s) { sep(); quote(s); }
  void value(uint64_t n) {
    sep();
    end(dec::put_u64(room(20), n));
  }
  void value(int64_t n) { sep(); put_int(n); }
  void value(double d) {
    sep();
    char* p = room(32);
    end(p + std::snprintf(p, 32, "%.17g", d));
  }
  // A key and its value, each written straight into the text (a few kv() per transaction for
  // every flow).
  [[gnu::always_inline]] void kv(std::string_view k, std::string_view v) {
    if (char* p = plain_key(k, true, 0)) {
      end(p);
      escape(v);
      put('"');
      first_ = false;
    } else {
      key(k);
      value(v);
    }
  }
  [[gnu::always_inline]] void kv(std::string_view k, uint64_t v) {
    if (char* p = plain_key(k, false, 20)) {
      end(dec::put_u64(p, v));
      first_ = false;
    } else {
      key(k);
      value(v);
    }
  }

  // Length of the valid UTF-8 sequence starting at s[i] (1..4), or 0 if it is not one.
  static size_t utf8_seq(std::string_view s, size_t i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) return 1;
    const size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (size_t j = 1; j < n; j++)
      if ((static_cast<unsigned char>(s[i + j]) & 0xC0) != 0x80) return 0;
    const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
    if (n == 3 && ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0))) return 0;  // overlong, surrogates
    if (n == 4 && ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))) return 0;
    return n;
  }

  // Copies s with every byte that does not start a valid UTF-8 sequence replaced by U+FFFD:
  // the one rule for every string leaving the core (flat fields and JSON alike).
  static void utf8_clean_into(std::string& out, std::string_view s) {
    // ASCII, the usual case, is copied in one run; the rest sequence by sequence.
    size_t ascii = 0;
    while (ascii < s.size() && static_cast<unsigned char>(s[ascii]) < 0x80) ascii++;
    out.append(s.substr(0, ascii));
    for (size_t i = ascii; i < s.size();) {
      const size_t n = utf8_seq(s, i);
      if (n) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        out += "\xEF\xBF\xBD";
        i++;
      }
    }
  }

 private:
  // Appends s escaped per RFC 8259 (the quotes are the caller's): plain printable ASCII and
  // valid UTF-8 are copied in runs, 8 bytes tested per step; controls become \u00xx and an
  // invalid UTF-8 byte U+FFFD.
  void escape(std::string_view s) {
    static const char* hex = "0123456789abcdef";
    size_t i = 0, run = 0;
    while (i < s.size()) {
      uint64_t w;
      if (simd::kHave && i + 16 <= s.size()) {
        const unsigned m = simd::json_special16(s.data() + i, true);
        if (m == 0) {
          i += 16;
          continue;
        }
        i += size_t(__builtin_ctz(m));  // the plain bytes before it stay in the run
      } else if (simd::kHave && s.size() >= 16 && simd::json_special16(s.data() + s.size() - 16, true) == 0) {
        break;  // under 16 bytes left, inside 16 plain ASCII ones that end s
      } else if (i + 8 <= s.size()) {
        std::memcpy(&w, s.data() + i, 8);
        if (!(w & swar::kHigh) && swar::json_plain(w)) {
          i += 8;
          continue;
        }
      } else if (s.size() >= 8) {
        // Under 8 bytes left: if the last 8 of s are plain ASCII, so is the rest of the run.
        std::memcpy(&w, s.data() + s.size() - 8, 8);
        if (!(w & swar::kHigh) && swar::json_plain(w)) break;
      }
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
        i++;
        continue;
      }
      if (c >= 0x80) {
        const size_t n = utf8_seq(s, i);
        if (n) {
          i += n;  // valid UTF-8 stays in the run
          continue;
        }
      }
      append(s.data() + run, i - run);
      char* p = room(6);
      if (c == '"' || c == '\\') {
        *p++ = '\\';
        *p++ = char(c);
      } else if (c < 0x20) {
        std::memcpy(p, "\\u00", 4);
        p[4] = hex[c >> 4];
        p[5] = hex[c & 15];
        p += 6;
      } else {
        std::memcpy(p, "\xEF\xBF\xBD", 3);
        p += 3;
      }
      end(p);
      i++;
      run = i;
    }
    append(s.data() + run, s.size() - run);
  }

  static constexpr size_t kShortKey = 64;
  static constexpr size_t kKeyExtra = 5;  // [","] '"' key '":' [ '"' ]
  static constexpr size_t kInlineBytes = 2048;

  // Where the next n bytes go; end(p) then makes p the end of the text.
  [[gnu::always_inline]] char* room(size_t n) {
    if (cap_ - n_ < n) grow(n);
    return buf_ + n_;
  }
  void end(char* p) { n_ = size_t(p - buf_); }
  [[gnu::noinline]] void grow(size_t n) {  // rare: out of the inlined room()
    const size_t cap = std::max(cap_ * 2, n_ + n);
    std::unique_ptr<char[]> b(new char[cap]);  // not zeroed: only the first n_ bytes are read
    std::memcpy(b.get(), buf_, n_);
    heap_ = std::move(b);
    buf_ = heap_.get();
    cap_ = cap;
  }
  void put(char c) {
    *room(1) = c;
    n_++;
  }
  template <typename T>
  void put_int(T n) {
    char* p = room(20);
    end(std::to_chars(p, p + 20, n).ptr);
  }
  void append(const char* s, size_t n) {
    if (n == 0) return;
    std::memcpy(room(n), s, n);
    n_ += n;
  }
  void sep() {
    if (!first_) put(',');
    first_ = false;
  }
  void open(char c) {
    char* p = room(2);
    if (!first_) *p++ = ',';
    *p++ = c;
    end(p);
    first_ = true;
  }
  // Writes [","] '"' k '":' [ '"' ] with room for `extra` more bytes after it, and returns
  // the end, when k is a plain key (printable ASCII without '"' or '\\', at most kShortKey
  // bytes); nullptr (nothing written) otherwise. The check and the copy are one pass, a word
  // at a time, the last word overlapping the one before (keys are 7 to 30 bytes).
  [[gnu::always_inline]] char* plain_key(std::string_view k, bool open_quote, size_t extra) {
    const size_t n = k.size();
    if (n > kShortKey) return nullptr;
    char* const start = room(n + kKeyExtra + extra);
    char* p = start;
    if (!first_) *p++ = ',';
    *p++ = '"';
    auto plain = [](uint64_t w) { return !(w & swar::kHigh) && swar::json_plain(w); };
    uint64_t w;
    if (n >= 8) {
      for (size_t i = 0; i + 8 < n; i += 8) {
        std::memcpy(&w, k.data() + i, 8);
        if (!plain(w)) return nullptr;
        std::memcpy(p + i, &w, 8);
      }
      std::memcpy(&w, k.data() + n - 8, 8);
      if (!plain(w)) return nullptr;
      std::memcpy(p + n - 8, &w, 8);
    } else {
      for (size_t i = 0; i < n; i++) {
        const unsigned char c = static_cast<unsigned char>(k[i]);
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return nullptr;
        p[i] = char(c);
      }
    }
    p += n;
    *p++ = '"';
    *p++ = ':';
    if (open_quote) *p++ = '"';
    return p;
  }
  void quote(std::string_view s) {
    put('"');
    escape(s);
    put('"');
  }

  char inline_[kInlineBytes];  // not zeroed, as above
  char* buf_ = inline_;
  size_t n_ = 0, cap_ = kInlineBytes;
  std::unique_ptr<char[]> heap_;  // the text once it outgrows inline_
  bool first_ = true;
};

}  // namespace nprobe
