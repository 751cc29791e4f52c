// Native JSON lines: see json_lines.h. Mirrors src/record.ts decodeRecord/decodeExt and
// src/export/json.ts flowToJson exactly; change them together.
#include "json_lines.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "../flow/flow_record.h"
#include "../util/json_writer.h"
#include "record_view.h"

namespace nprobe {
namespace {

using namespace recview;

void put_i64(std::string& o, int64_t v) {
  char b[24];
  auto r = std::to_chars(b, b + sizeof b, v);
  o.append(b, size_t(r.ptr - b));  // (pointer, length): the two-pointer form goes through _M_replace
}

// JSON.stringify's string form for valid UTF-8 text: \" \\ \b \f \n \r \t, other controls
// as \u00xx (lowercase), everything else (DEL and non-ASCII included) as is.
void put_str(std::string& o, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  o += '"';
  size_t run = 0;  // start of the pending unescaped run
  for (size_t i = 0; i < s.size(); i++) {
    if (i + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (swar::json_plain(w)) {
        i += 7;  // the loop's i++ makes 8
        continue;
      }
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    o.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\b': o += "\\b"; break;
      case '\f': o += "\\f"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        o += "\\u00";
        o += hex[c >> 4];
        o += hex[c & 15];
    }
  }
  o.append(s.data() + run, s.size() - run);
  o += '"';
}

// ,"KEY": for a literal key, its length known at compile time (no strlen per field).
template <size_t N>
void put_key(std::string& o, const char (&k)[N]) {
  o += ",\"";
  o.append(k, N - 1);
  o += "\":";
}

void put_mac(std::string& o, const uint8_t* m) {
  static const char* hex = "0123456789abcdef";
  o += '"';
  for (int i = 0; i < 6; i++) {
    if (i) o += ':';
    o += hex[m[i] >> 4];
    o += hex[m[i] & 15];
  }
  o += '"';
}

// The dissector's anomaly list (finish_record), which goes into FLOW_ANOMALIES.
bool is_anomalies(const ExtField& f) {
  constexpr uint64_t kTag = name_tag("__ANOMALIES");
  return f.tag == kTag && f.name == "__ANOMALIES" && f.type != 1 && f.type != 3;
}

// One record as flowToJson writes it; false when JS must do it (see the header).
bool format_record(const uint8_t* r, const std::vector<ExtField>& ext, const std::vector<std::string>& anomaly_names,
                   const std::vector<std::string>& l7_names, std::string& o) {
  // What JS would do differently: repeated names, fixed names, numbers that are not safe
  // integers (String(v) forms), an empty anomaly list (JS's `prev ? ... : ...` then differs).
  std::string anomalies_extra;
  int anomalies_at = -1;
  for (size_t i = 0; i < ext.size(); i++) {
    const ExtField& f = ext[i];
    if (is_anomalies(f)) {
      if (f.value.empty()) return false;
      if (anomalies_at < 0) anomalies_at = int(i);
      if (!anomalies_extra.empty()) anomalies_extra += ',';
      anomalies_extra.append(f.value);
      continue;
    }
    if (is_fixed_key(f.name, f.tag)) return false;
    for (size_t j = 0; j < i; j++)
      if (ext[j].tag == f.tag && ext[j].name == f.name) return false;
    if (f.type == 1) {
      if (f.value.size() < 8) return false;
      double d;
      std::memcpy(&d, f.value.data(), 8);
      if (!(std::fabs(d) < 9007199254740992.0) || d != std::floor(d)) return false;
    }
  }

  const uint64_t first_us = le(r + 8, 8), last_us = le(r + 16, 8);
  const bool v6 = r[114] == 6;
  const uint8_t cf = r[116], sf = r[117];
  const unsigned l7 = unsigned(le(r + 112, 2));
  o += "{\"FLOW_ID\":";
  put_u64(o, le(r, 8));
  o += v6 ? ",\"IP_PROTOCOL_VERSION\":6,\"IPV6_SRC_ADDR\":\"" : ",\"IP_PROTOCOL_VERSION\":4,\"IPV4_SRC_ADDR\":\"";
  v6 ? put_ipv6(o, r + 72) : put_ipv4(o, r + 72);
  o += v6 ? "\",\"IPV6_DST_ADDR\":\"" : "\",\"IPV4_DST_ADDR\":\"";
  v6 ? put_ipv6(o, r + 88) : put_ipv4(o, r + 88);
  o += '"';
  put_key(o, "L4_SRC_PORT"), put_u64(o, le(r + 104, 2));
  put_key(o, "L4_DST_PORT"), put_u64(o, le(r + 106, 2));
  put_key(o, "PROTOCOL"), put_u64(o, r[115]);
  put_key(o, "IN_PKTS"), put_u64(o, le(r + 24, 8));
  put_key(o, "IN_BYTES"), put_u64(o, le(r + 32, 8));
  put_key(o, "OUT_PKTS"), put_u64(o, le(r + 40, 8));
  put_key(o, "OUT_BYTES"), put_u64(o, le(r + 48, 8));
  put_key(o, "FIRST_SWITCHED"), put_u64(o, first_us / 1000000);
  put_key(o, "LAST_SWITCHED"), put_u64(o, last_us / 1000000);
  put_key(o, "FLOW_START_MICROSECONDS"), put_u64(o, first_us);
  put_key(o, "FLOW_END_MICROSECONDS"), put_u64(o, last_us);
  // Math.floor of a difference that could be negative (a record never has last < first, but
  // the JS form is defined for it): floor division on signed values.
  const int64_t dus = int64_t(last_us) - int64_t(first_us);
  put_key(o, "FLOW_DURATION_MILLISECONDS"), put_i64(o, dus >= 0 ? dus / 1000 : -((-dus + 999) / 1000));
  put_key(o, "TCP_FLAGS"), put_u64(o, cf | sf);
  put_key(o, "CLIENT_TCP_FLAGS"), put_u64(o, cf);
  put_key(o, "SERVER_TCP_FLAGS"), put_u64(o, sf);
  put_key(o, "SRC_VLAN"), put_u64(o, le(r + 108, 2));
  put_key(o, "IN_SRC_MAC"), put_mac(o, r + 120);
  put_key(o, "OUT_DST_MAC"), put_mac(o, r + 126);
  put_key(o, "ICMP_TYPE"), put_u64(o, le(r + 110, 2));
  put_key(o, "FLOW_END_REASON"), put_u64(o, r[118]);
  put_key(o, "L7_PROTO"), put_u64(o, l7);
  put_key(o, "L7_PROTO_NAME"), put_str(o, l7 < l7_names.size() ? std::string_view(l7_names[l7]) : "Unknown");
  if (r[119] & record_flag::kTunneled) {
    put_key(o, "UPSTREAM_TUNNEL_ID"), put_u64(o, le(r + 132, 4));
    put_key(o, "DOWNSTREAM_TUNNEL_ID"), put_u64(o, le(r + 136, 4));
    put_key(o, "OUTER_FLOW_ID"), put_u64(o, le(r + 64, 8));
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
    put_key(o, "FLOW_ANOMALIES"), put_str(o, names);
  }
  for (size_t i = 0; i < ext.size(); i++) {
    const ExtField& f = ext[i];
    if (is_anomalies(f)) {
      if (!mask && int(i) == anomalies_at) put_key(o, "FLOW_ANOMALIES"), put_str(o, anomalies_extra);
      continue;
    }
    o += ",\"";
    o.append(f.name);
    o += "\":";
    if (f.type == 1) {
      double d;
      std::memcpy(&d, f.value.data(), 8);
      put_i64(o, int64_t(d));
    } else if (f.type == 3) {
      o.append(f.value);
    } else {
      put_str(o, f.value);
    }
  }
  o += "}\n";
  return true;
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
  std::vector<ExtField> ext;
  size_t p = 4;
  for (uint32_t i = 0; i < n; i++) {
    if (p + kRecordFixedSize > len) break;
    const uint8_t* r = buf + p;
    const size_t ext_len = le(r + 140, 4);
    if (p + kRecordFixedSize + ext_len > len) break;
    const size_t mark = out.text.size();
    if (!parse_ext(r + kRecordFixedSize, ext_len, ext) ||
        !format_record(r, ext, anomaly_names, l7_names, out.text)) {
      out.text.resize(mark);
      out.text += '\n';
      out.fallback.push_back(i);
    }
    out.ends.push_back(uint32_t(out.text.size()));
    p += kRecordFixedSize + ext_len;
  }
}

}  // namespace nprobe
