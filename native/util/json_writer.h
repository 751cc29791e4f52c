// A minimal JSON text builder for values that leave the native core already structured
// (per-transaction arrays). Escapes per RFC 8259; invalid UTF-8 bytes become U+FFFD so the
// output is always valid JSON whatever the packet held.
#pragma once
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

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

class JsonWriter {
 public:
  // The text is built in a buffer borrowed from the thread and given back, capacity and all,
  // when the writer goes: each exported flow builds one transactions array, and growing a
  // fresh string to ~1 KiB took six reallocations (~15% of the export of a record). A writer
  // made while another is alive gets a fresh string; a buffer past kKeepBytes is not kept.
  JsonWriter() { out_.swap(spare()); out_.clear(); }
  ~JsonWriter() {
    if (out_.capacity() <= kKeepBytes && spare().capacity() < out_.capacity()) spare().swap(out_);
  }
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  std::string& str() { return out_; }
  void begin_object() { open('{'); }
  void end_object() { out_ += '}'; first_ = false; }
  void begin_array() { open('['); }
  void end_array() { out_ += ']'; first_ = false; }
  // Keys are the probe's own field names (A-Z, 0-9, '_'): after a word-at-a-time check they
  // are appended as they are, without the escaping pass (keys are half the strings of a
  // transactions array). A key that needs escaping still gets it.
  void key(std::string_view k) {
    char b[kShortKey + 8];
    if (const size_t n = short_key(b, k, false)) {
      out_.append(b, n);
    } else {
      sep();
      quote(k);
      out_ += ':';
    }
    first_ = true;  // the value follows without a comma
  }
  void value(std::string_view s) { sep(); quote(s); }
  void value(uint64_t n) { sep(); put_int(n); }
  void value(int64_t n) { sep(); put_int(n); }
  void value(double d) {
    sep();
    char b[32];
    std::snprintf(b, sizeof b, "%.17g", d);
    out_ += b;
  }
  // A key and its value. Each of the separator, the key and a number goes out in one append
  // from the stack (the transactions arrays are a few kv() per transaction for every flow,
  // and appending them char by char was most of their cost).
  void kv(std::string_view k, std::string_view v) {
    char b[kShortKey + 8];
    if (const size_t n = short_key(b, k, true)) {
      out_.append(b, n);
      escape_into(out_, v);
      out_ += '"';
      first_ = false;
    } else {
      key(k);
      value(v);
    }
  }
  void kv(std::string_view k, uint64_t v) {
    char b[kShortKey + 8 + 20];
    if (const size_t n = short_key(b, k, false)) {
      const auto r = std::to_chars(b + n, b + sizeof b, v);
      out_.append(b, size_t(r.ptr - b));
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

  static void escape_into(std::string& out, std::string_view s) {
    static const char* hex = "0123456789abcdef";
    // Plain printable ASCII is copied in runs: one append per run, not one per byte (this
    // is on the export path of every flow with transactions).
    size_t i = 0, run = 0;
    while (i < s.size()) {
      if (i + 8 <= s.size()) {
        uint64_t w;
        std::memcpy(&w, s.data() + i, 8);
        if (!(w & swar::kHigh) && swar::json_plain(w)) {
          i += 8;
          continue;
        }
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
      out.append(s.data() + run, i - run);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += char(c);
      } else if (c < 0x20) {
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
      } else {
        out += "\xEF\xBF\xBD";
      }
      i++;
      run = i;
    }
    out.append(s.data() + run, s.size() - run);
  }

 private:
  static constexpr size_t kShortKey = 64;
  void sep() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  void open(char c) {
    if (first_) {
      out_ += c;
    } else {
      const char b[2] = {',', c};
      out_.append(b, 2);
    }
    first_ = true;
  }
  // Writes [","] '"' k '":' [ '"' ] into b (room: kShortKey + 8) when k is a plain key of at
  // most kShortKey bytes, and returns the length; 0 (nothing written) otherwise.
  size_t short_key(char* b, std::string_view k, bool open_quote) const {
    if (k.size() > kShortKey || !plain_ascii(k)) return 0;
    size_t n = 0;
    if (!first_) b[n++] = ',';
    b[n++] = '"';
    std::memcpy(b + n, k.data(), k.size());
    n += k.size();
    b[n++] = '"';
    b[n++] = ':';
    if (open_quote) b[n++] = '"';
    return n;
  }
  // True when s is printable ASCII without '"' or '\\' (nothing to escape or check).
  static bool plain_ascii(std::string_view s) {
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if ((w & swar::kHigh) || !swar::json_plain(w)) return false;
    }
    for (; i < s.size(); i++) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return false;
    }
    return true;
  }
  template <typename T>
  void put_int(T n) {
    char b[24];
    const auto r = std::to_chars(b, b + sizeof b, n);
    out_.append(b, size_t(r.ptr - b));
  }
  void quote(std::string_view s) {
    out_ += '"';
    escape_into(out_, s);
    out_ += '"';
  }
  static constexpr size_t kKeepBytes = 64 * 1024;
  static std::string& spare() {
    thread_local std::string s;
    return s;
  }
  std::string out_;
  bool first_ = true;
};

}  // namespace nprobe
