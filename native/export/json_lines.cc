// Native JSON lines: see json_lines.h. Mirrors src/record.ts decodeRecord/decodeExt and
// src/export/json.ts flowToJson exactly; change them together.
#include "json_lines.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include "../flow/flow_record.h"
#include "../util/json_writer.h"
#include "record_view.h"

namespace nprobe {
namespace {

using namespace recview;

// Writers at a cursor, into room TextBuffer::room made for at most the bytes each states;
// each returns the new cursor.

using dec::put_u64;  // util/json_writer.h: <= 20 bytes
char* put_i64(char* p, int64_t v) {  // <= 20 bytes
  if (v >= 0) return put_u64(p, uint64_t(v));
  *p++ = '-';
  return put_u64(p, 0 - uint64_t(v));
}

// A literal, its length known at compile time.
template <size_t N>
char* put_lit(char* p, const char (&s)[N]) {
  std::memcpy(p, s, N - 1);
  return p + N - 1;
}

// ,"KEY": for a literal key (N + 3 bytes).
template <size_t N>
char* put_key(char* p, const char (&k)[N]) {
  *p++ = ',';
  *p++ = '"';
  p = put_lit(p, k);
  *p++ = '"';
  *p++ = ':';
  return p;
}

// JSON.stringify's string form for valid UTF-8 text: \" \\ \b \f \n \r \t, other controls
// as \u00xx (lowercase), everything else (DEL and non-ASCII included) as is.
// At most 2 + 6 * s.size() bytes.
char* put_str(char* p, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  *p++ = '"';
  const char* q = s.data();
  const char* const e = q + s.size();
  while (q < e) {
    uint64_t w;
    if (simd::kHave && e - q >= 16) {
      // 16 bytes copied whatever they hold (room: 6 per byte, and 16 are left), then kept up
      // to the first that needs escaping.
      const unsigned m = simd::json_special16(q, false);
      std::memcpy(p, q, 16);
      if (m == 0) {
        p += 16;
        q += 16;
        continue;
      }
      const unsigned k = unsigned(__builtin_ctz(m));
      p += k;
      q += k;
    } else if (simd::kHave && s.size() >= 16 && simd::json_special16(e - 16, false) == 0) {
      // Under 16 bytes left and the string's last 16 need no escape: as below, in one copy.
      std::memcpy(p - (q - (e - 16)), e - 16, 16);
      p += e - q;
      break;
    } else if (e - q >= 8) {
      std::memcpy(&w, q, 8);
      if (swar::json_plain(w)) {
        std::memcpy(p, q, 8);
        p += 8;
        q += 8;
        continue;
      }
    } else if (s.size() >= 8) {
      // Under 8 bytes left: when the string's last 8 bytes need no escape, they go in one
      // copy ending where the string ends. The ones before q among them were plain too, so
      // were copied as they are, and rewriting them changes nothing.
      std::memcpy(&w, e - 8, 8);
      if (swar::json_plain(w)) {
        std::memcpy(p - (q - (e - 8)), e - 8, 8);
        p += e - q;
        break;
      }
    }
    const unsigned char c = static_cast<unsigned char>(*q++);
    if (c >= 0x20 && c != '"' && c != '\\') {
      *p++ = char(c);
      continue;
    }
    *p++ = '\\';
    switch (c) {
      case '"': *p++ = '"'; break;
      case '\\': *p++ = '\\'; break;
      case '\b': *p++ = 'b'; break;
      case '\f': *p++ = 'f'; break;
      case '\n': *p++ = 'n'; break;
      case '\r': *p++ = 'r'; break;
      case '\t': *p++ = 't'; break;
      default:
        p = put_lit(p, "u00");
        *p++ = hex[c >> 4];
        *p++ = hex[c & 15];
    }
  }
  *p++ = '"';
  return p;
}
constexpr size_t str_room(size_t n) { return 2 + 6 * n; }

// A time in seconds from its microseconds' decimal text (len digits, no leading zeros).
char* put_seconds(char* p, const char* us_txt, size_t len) {
  if (len <= 6) {
    *p = '0';
    return p + 1;
  }
  std::memcpy(p, us_txt, len - 6);
  return p + len - 6;
}

// A field name (a few to a few dozen bytes), copied as it is with 8-byte moves, the last one
// overlapping: a memcpy call of unknown size cost more than the copy.
char* put_name(char* p, std::string_view s) {
  const size_t n = s.size();
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) std::memcpy(p + i, s.data() + i, 8);
    std::memcpy(p + n - 8, s.data() + n - 8, 8);
  } else {
    for (size_t i = 0; i < n; i++) p[i] = s[i];
  }
  return p + n;
}

// "00" .. "ff": a byte's two lowercase hex digits in one copy.
constexpr std::array<char, 512> kHexPairs = [] {
  std::array<char, 512> a{};
  const char* hex = "0123456789abcdef";
  for (int i = 0; i < 256; i++) a[2 * i] = hex[i >> 4], a[2 * i + 1] = hex[i & 15];
  return a;
}();

char* put_mac(char* p, const uint8_t* m) {  // 19 bytes
  *p++ = '"';
  std::memcpy(p, &kHexPairs[2 * m[0]], 2);
  for (int i = 1; i < 6; i++) {
    p[3 * i - 1] = ':';
    std::memcpy(p + 3 * i, &kHexPairs[2 * m[i]], 2);
  }
  p += 17;
  *p++ = '"';
  return p;
}

// Room for the fixed part from "{" to L7_PROTO's value: 22 keys of at most 30 bytes with
// their quotes, comma and colon, 19 numbers of at most 20, two addresses of at most 41 with
// quotes, two MACs of 19: under 1,300 bytes.
constexpr size_t kFixedRoom = 2048;

// The dissector's anomaly list (finish_record), which goes into FLOW_ANOMALIES.
inline __attribute__((always_inline)) bool is_anomalies(const ExtField& f) {  // twice per field
  constexpr uint64_t kTag = name_tag("__ANOMALIES");
  return f.tag == kTag && f.name == "__ANOMALIES" && f.type != 1 && f.type != 3;
}

// A record's variable part, read and checked in one pass (read_ext).
struct ExtFields {
  std::vector<ExtField> f;  // f[0..n): grown as needed, kept from record to record
  size_t n = 0;
  std::string anomalies_extra;  // the values of the __ANOMALIES fields, comma-joined
  int anomalies_at = -1;        // where the first one is
};

// Reads the fields into x and checks what JS would do differently: repeated names, fixed
// names, numbers that are not safe integers (String(v) forms), an empty anomaly list (JS's
// `prev ? ... : ...` then differs). False (JS formats the record) on any of them or on a
// field that does not fit.
bool read_ext(const uint8_t* p, size_t len, ExtFields& x) {
  x.n = 0;
  x.anomalies_extra.clear();
  x.anomalies_at = -1;
  TagSet names;  // the names before this one: most are new, and then nothing is scanned
  return for_each_ext(p, len, [&](const ExtField& f) {
    const size_t i = x.n;
    if (i == x.f.size()) x.f.resize(i < 16 ? 32 : 2 * i);
    x.f[i] = f;
    x.n = i + 1;
    if (is_anomalies(f)) {
      if (f.value.empty()) return false;
      if (x.anomalies_at < 0) x.anomalies_at = int(i);
      if (!x.anomalies_extra.empty()) x.anomalies_extra += ',';
      x.anomalies_extra.append(f.value);
      names.add(f.tag);
      return true;
    }
    if (is_fixed_key(f.name, f.tag)) return false;
    if (names.maybe(f.tag)) {
      for (size_t j = 0; j < i; j++)
        if (x.f[j].tag == f.tag && x.f[j].name == f.name) return false;
    }
    names.add(f.tag);
    if (f.type == 1) {
      if (f.value.size() < 8) return false;
      double d;
      std::memcpy(&d, f.value.data(), 8);
      // A safe integer: |d| < 2^53 (false for NaN), and then the cast to int64 is exact for
      // whole numbers only (std::floor is a libm call without SSE4.1).
      if (!(std::fabs(d) < 9007199254740992.0) || double(int64_t(d)) != d) return false;
    }
    return true;
  });
}

// One record as flowToJson writes it, its fields read and checked by read_ext.
void format_record(const uint8_t* r, const ExtFields& x, const std::vector<std::string>& anomaly_names,
                   const std::vector<std::string>& l7_names, TextBuffer& o) {
  const ExtField* const ext = x.f.data();
  const std::string& anomalies_extra = x.anomalies_extra;
  const int anomalies_at = x.anomalies_at;

  const uint64_t first_us = le(r + 8, 8), last_us = le(r + 16, 8);
  const bool v6 = r[114] == 6;
  const uint8_t cf = r[116], sf = r[117];
  const unsigned l7 = unsigned(le(r + 112, 2));
  const std::string_view l7_name = l7 < l7_names.size() ? std::string_view(l7_names[l7]) : "Unknown";
  char* p = o.room(kFixedRoom + 32 + str_room(l7_name.size()));
  p = put_lit(p, "{\"FLOW_ID\":");
  p = put_u64(p, le(r, 8));
  if (v6) {
    p = put_lit(p, ",\"IP_PROTOCOL_VERSION\":6,\"IPV6_SRC_ADDR\":\"");
    p = recview::put_ipv6(p, r + 72);
    p = put_lit(p, "\",\"IPV6_DST_ADDR\":\"");
    p = recview::put_ipv6(p, r + 88);
  } else {
    p = put_lit(p, ",\"IP_PROTOCOL_VERSION\":4,\"IPV4_SRC_ADDR\":\"");
    p = nprobe::put_ipv4(p, r + 72);
    p = put_lit(p, "\",\"IPV4_DST_ADDR\":\"");
    p = nprobe::put_ipv4(p, r + 88);
  }
  *p++ = '"';
  p = put_key(p, "L4_SRC_PORT"), p = put_u64(p, le(r + 104, 2));
  p = put_key(p, "L4_DST_PORT"), p = put_u64(p, le(r + 106, 2));
  p = put_key(p, "PROTOCOL"), p = put_u64(p, r[115]);
  p = put_key(p, "IN_PKTS"), p = put_u64(p, le(r + 24, 8));
  p = put_key(p, "IN_BYTES"), p = put_u64(p, le(r + 32, 8));
  p = put_key(p, "OUT_PKTS"), p = put_u64(p, le(r + 40, 8));
  p = put_key(p, "OUT_BYTES"), p = put_u64(p, le(r + 48, 8));
  // The seconds are the microseconds' digits but the last six (0 below one second): each
  // time is converted once.
  char first_txt[20], last_txt[20];
  const size_t first_len = size_t(put_u64(first_txt, first_us) - first_txt);
  const size_t last_len = size_t(put_u64(last_txt, last_us) - last_txt);
  p = put_key(p, "FIRST_SWITCHED"), p = put_seconds(p, first_txt, first_len);
  p = put_key(p, "LAST_SWITCHED"), p = put_seconds(p, last_txt, last_len);
  p = put_key(p, "FLOW_START_MICROSECONDS"), std::memcpy(p, first_txt, first_len), p += first_len;
  p = put_key(p, "FLOW_END_MICROSECONDS"), std::memcpy(p, last_txt, last_len), p += last_len;
  // Math.floor of a difference that could be negative (a record never has last < first, but
  // the JS form is defined for it): floor division on signed values.
  const int64_t dus = int64_t(last_us) - int64_t(first_us);
  p = put_key(p, "FLOW_DURATION_MILLISECONDS"), p = put_i64(p, dus >= 0 ? dus / 1000 : -((-dus + 999) / 1000));
  p = put_key(p, "TCP_FLAGS"), p = put_u64(p, cf | sf);
  p = put_key(p, "CLIENT_TCP_FLAGS"), p = put_u64(p, cf);
  p = put_key(p, "SERVER_TCP_FLAGS"), p = put_u64(p, sf);
  p = put_key(p, "SRC_VLAN"), p = put_u64(p, le(r + 108, 2));
  p = put_key(p, "IN_SRC_MAC"), p = put_mac(p, r + 120);
  p = put_key(p, "OUT_DST_MAC"), p = put_mac(p, r + 126);
  p = put_key(p, "ICMP_TYPE"), p = put_u64(p, le(r + 110, 2));
  p = put_key(p, "FLOW_END_REASON"), p = put_u64(p, r[118]);
  p = put_key(p, "L7_PROTO"), p = put_u64(p, l7);
  p = put_key(p, "L7_PROTO_NAME"), p = put_str(p, l7_name);  // the 32 bytes above: its key
  o.end(p);
  if (r[119] & record_flag::kTunneled) {
    p = o.room(3 * (25 + 20));
    p = put_key(p, "UPSTREAM_TUNNEL_ID"), p = put_u64(p, le(r + 132, 4));
    p = put_key(p, "DOWNSTREAM_TUNNEL_ID"), p = put_u64(p, le(r + 136, 4));
    p = put_key(p, "OUTER_FLOW_ID"), p = put_u64(p, le(r + 64, 8));
    o.end(p);
  }
  const uint64_t mask = le(r + 56, 8);
  if (mask) {
    std::string names;
    for (size_t i = 0; i < anomaly_names.size() && i < 64; i++) {
      if (!((mask >> i) & 1)) continue;
      if (!names.empty()) names += ',';
      names += anomaly_names[i];
    }
    if (!anomalies_extra.empty()) {
      // JS appends to a non-empty list with a comma; an empty one (mask bits past the known
      // names) is replaced.
      if (!names.empty()) names += ',';
      names += anomalies_extra;
    }
    p = o.room(32 + str_room(names.size()));
    p = put_key(p, "FLOW_ANOMALIES"), p = put_str(p, names);
    o.end(p);
  }
  for (size_t i = 0; i < x.n; i++) {
    const ExtField& f = ext[i];
    if (is_anomalies(f)) {
      if (!mask && int(i) == anomalies_at) {
        p = o.room(32 + str_room(anomalies_extra.size()));
        p = put_key(p, "FLOW_ANOMALIES"), p = put_str(p, anomalies_extra);
        o.end(p);
      }
      continue;
    }
    const size_t value_room = f.type == 1 ? 20 : f.type == 3 ? f.value.size() : str_room(f.value.size());
    p = o.room(4 + f.name.size() + value_room);
    *p++ = ',';
    *p++ = '"';
    p = put_name(p, f.name);
    *p++ = '"';
    *p++ = ':';
    if (f.type == 1) {
      double d;
      std::memcpy(&d, f.value.data(), 8);
      p = put_i64(p, int64_t(d));
    } else if (f.type == 3) {
      if (!f.value.empty()) std::memcpy(p, f.value.data(), f.value.size());
      p += f.value.size();
    } else {
      p = put_str(p, f.value);
    }
    o.end(p);
  }
  p = o.room(2);
  *p++ = '}';
  *p++ = '\n';
  o.end(p);
}

}  // namespace

void format_json_lines(const uint8_t* buf, size_t len, const std::vector<std::string>& anomaly_names,
                       const std::vector<std::string>& l7_names, JsonLinesResult& out) {
  out.text.clear();
  out.ends.clear();
  out.fallback.clear();
  if (len < 4) return;
  const uint32_t n = uint32_t(le(buf, 4));
  out.text.reserve(len * 2);
  ExtFields ext;
  size_t p = 4;
  for (uint32_t i = 0; i < n; i++) {
    if (p + kRecordFixedSize > len) break;
    const uint8_t* r = buf + p;
    const size_t ext_len = le(r + 140, 4);
    if (p + kRecordFixedSize + ext_len > len) break;
    if (read_ext(r + kRecordFixedSize, ext_len, ext)) {
      format_record(r, ext, anomaly_names, l7_names, out.text);
    } else {
      char* e = out.text.room(1);
      *e++ = '\n';
      out.text.end(e);
      out.fallback.push_back(i);
    }
    out.ends.push_back(uint32_t(out.text.size()));
    p += kRecordFixedSize + ext_len;
  }
}

}  // namespace nprobe
