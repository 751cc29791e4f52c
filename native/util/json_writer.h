// A minimal JSON text builder for values that leave the native core already structured
// (per-transaction arrays). Escapes per RFC 8259; invalid UTF-8 bytes become U+FFFD so the
// output is always valid JSON whatever the packet held.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace nprobe {

class JsonWriter {
 public:
  std::string& str() { return out_; }
  void begin_object() { sep(); out_ += '{'; first_ = true; }
  void end_object() { out_ += '}'; first_ = false; }
  void begin_array() { sep(); out_ += '['; first_ = true; }
  void end_array() { out_ += ']'; first_ = false; }
  void key(std::string_view k) {
    sep();
    quote(k);
    out_ += ':';
    first_ = true;  // the value follows without a comma
  }
  void value(std::string_view s) { sep(); quote(s); }
  void value(uint64_t n) { sep(); out_ += std::to_string(n); }
  void value(int64_t n) { sep(); out_ += std::to_string(n); }
  void value(double d) {
    sep();
    char b[32];
    std::snprintf(b, sizeof b, "%.17g", d);
    out_ += b;
  }
  void kv(std::string_view k, std::string_view v) { key(k); value(v); }
  void kv(std::string_view k, uint64_t v) { key(k); value(v); }

  static void escape_into(std::string& out, std::string_view s) {
    static const char* hex = "0123456789abcdef";
    size_t i = 0;
    while (i < s.size()) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        if (c == '"' || c == '\\') {
          out += '\\';
          out += char(c);
        } else if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += char(c);
        }
        i++;
        continue;
      }
      // Validate one UTF-8 sequence; copy it whole or emit U+FFFD for the bad byte.
      size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
      bool ok = n != 0 && i + n <= s.size();
      for (size_t j = 1; ok && j < n; j++) ok = (static_cast<unsigned char>(s[i + j]) & 0xC0) == 0x80;
      if (ok && n == 3) {
        const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
        ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, surrogates
      }
      if (ok && n == 4) {
        const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
        ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
      }
      if (ok) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        out += "\xEF\xBF\xBD";
        i++;
      }
    }
  }

 private:
  void sep() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  void quote(std::string_view s) {
    out_ += '"';
    escape_into(out_, s);
    out_ += '"';
  }
  std::string out_;
  bool first_ = true;
};

}  // namespace nprobe
