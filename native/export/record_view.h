// Read-only helpers over one encoded flow record (flow/flow_record.h), shared by the native
// exporters (json_lines.cc, lua_batch.cc): little-endian fields, the variable part's fields,
// and the text forms of addresses exactly as src/format.ts writes them.
#pragma once
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "../util/ip_text.h"

namespace nprobe::recview {

inline uint64_t le(const uint8_t* p, int n) {
  // On a little-endian host the 2-, 4- and 8-byte fields are one load each: the byte loop
  // (which GCC keeps as a loop) was ~13% of the JSON lines formatter, a dozen fields a record.
  if constexpr (std::endian::native == std::endian::little) {
    if (n == 2) {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    if (n == 4) {
      uint32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    if (n == 8) {
      uint64_t v;
      std::memcpy(&v, p, 8);
      return v;
    }
  }
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

inline void put_ipv4(std::string& o, const uint8_t* a) {
  char b[16];
  o.append(b, size_t(nprobe::put_ipv4(b, a) - b));
}

// RFC 5952 as src/format.ts ipv6ToString: lowercase, no leading zeros, the longest (first if
// tied) run of two or more zero groups as "::", IPv4-mapped with a dotted tail (util/ip_text.h).
// At a cursor with kMaxIpv6Text bytes of room (JSON lines), or appended (the Lua batch).
inline char* put_ipv6(char* p, const uint8_t* a) { return nprobe::put_ipv6(p, a, false); }
inline void put_ipv6(std::string& o, const uint8_t* a) {
  char b[nprobe::kMaxIpv6Text + 1];
  o.append(b, size_t(put_ipv6(b, a) - b));
}

// The keys of the fixed part: an ext field by one of these names would overwrite it in place
// in JS (same key order, new value); that record is left to JS.
// string_views, not C strings: is_fixed_key runs for every field of every record, and a
// comparison with a C string measures it first.
inline constexpr std::string_view kFixedKeys[] = {
    "FLOW_ID", "IP_PROTOCOL_VERSION", "IPV4_SRC_ADDR", "IPV4_DST_ADDR", "IPV6_SRC_ADDR", "IPV6_DST_ADDR",
    "L4_SRC_PORT", "L4_DST_PORT", "PROTOCOL", "IN_PKTS", "IN_BYTES", "OUT_PKTS", "OUT_BYTES",
    "FIRST_SWITCHED", "LAST_SWITCHED", "FLOW_START_MICROSECONDS", "FLOW_END_MICROSECONDS",
    "FLOW_DURATION_MILLISECONDS", "TCP_FLAGS", "CLIENT_TCP_FLAGS", "SERVER_TCP_FLAGS", "SRC_VLAN",
    "IN_SRC_MAC", "OUT_DST_MAC", "ICMP_TYPE", "FLOW_END_REASON", "L7_PROTO", "L7_PROTO_NAME",
    "UPSTREAM_TUNNEL_ID", "DOWNSTREAM_TUNNEL_ID", "OUTER_FLOW_ID", "FLOW_ANOMALIES"};

// A field name's fingerprint: its length and its first and last 8 bytes (overlapping when
// shorter). Equal names have equal tags, so names whose tags differ differ: the key checks
// below compare tags and call memcmp only on a match (the memcmps were ~10% of JSON lines).
constexpr uint64_t name_tag(std::string_view n) {
  uint64_t a = 0, b = 0;
  if (!std::is_constant_evaluated() && n.size() >= 8) {
    // The same two words as the loop below, as two loads (little-endian hosts only, as the
    // record layout is): parse_ext tags every field of every record.
    std::memcpy(&a, n.data(), 8);
    std::memcpy(&b, n.data() + n.size() - 8, 8);
    return a ^ ((b << 29) | (b >> 35)) ^ (uint64_t(n.size()) << 48);
  }
  const size_t k = n.size() < 8 ? n.size() : 8;
  for (size_t i = 0; i < k; i++) {
    a |= uint64_t(static_cast<unsigned char>(n[i])) << (8 * i);
    b |= uint64_t(static_cast<unsigned char>(n[n.size() - k + i])) << (8 * i);
  }
  return a ^ ((b << 29) | (b >> 35)) ^ (uint64_t(n.size()) << 48);
}

inline constexpr auto kFixedKeyTags = [] {
  std::array<uint64_t, std::size(kFixedKeys)> t{};
  for (size_t i = 0; i < t.size(); i++) t[i] = name_tag(kFixedKeys[i]);
  return t;
}();

// A set of fingerprints as two bits of 256 (a Bloom filter): "surely not in it" for most
// names at the cost of a few instructions, so the exact scans below run only on a hit.
struct TagSet {
  uint64_t w[4] = {};
  static constexpr uint64_t mix(uint64_t tag) { return tag * 0x9E3779B97F4A7C15ull; }
  constexpr void add(uint64_t tag) {
    const uint64_t h = mix(tag);
    w[(h >> 62) & 3] |= 1ull << ((h >> 56) & 63);
    w[(h >> 54) & 3] |= 1ull << ((h >> 48) & 63);
  }
  constexpr bool maybe(uint64_t tag) const {
    const uint64_t h = mix(tag);
    return (w[(h >> 62) & 3] >> ((h >> 56) & 63) & 1) && (w[(h >> 54) & 3] >> ((h >> 48) & 63) & 1);
  }
};

// The fixed keys' tags in an open-addressed table (linear probing, a quarter full): a name
// not among them is mostly told in one or two probes. (A TagSet here let DNS_RESPONSE and
// the HTTP names through, each time followed by a scan of all 32 tags.)
struct FixedKeyTable {
  static constexpr size_t kSlots = 128;
  static constexpr uint8_t kEmpty = 0xFF;
  uint64_t tags[kSlots] = {};
  uint8_t index[kSlots] = {};  // into kFixedKeys, or kEmpty
  static constexpr size_t slot(uint64_t tag) { return size_t(TagSet::mix(tag) >> 57); }
};
static_assert(std::size(kFixedKeys) < FixedKeyTable::kSlots / 2);

inline constexpr FixedKeyTable kFixedKeyTable = [] {
  FixedKeyTable t;
  for (auto& i : t.index) i = FixedKeyTable::kEmpty;
  for (size_t k = 0; k < kFixedKeyTags.size(); k++) {
    size_t s = FixedKeyTable::slot(kFixedKeyTags[k]);
    while (t.index[s] != FixedKeyTable::kEmpty) s = (s + 1) % FixedKeyTable::kSlots;
    t.tags[s] = kFixedKeyTags[k];
    t.index[s] = uint8_t(k);
  }
  return t;
}();

inline bool is_fixed_key(std::string_view k, uint64_t tag) {
  const FixedKeyTable& t = kFixedKeyTable;
  for (size_t s = FixedKeyTable::slot(tag); t.index[s] != FixedKeyTable::kEmpty; s = (s + 1) % FixedKeyTable::kSlots)
    if (t.tags[s] == tag && k == kFixedKeys[t.index[s]]) return true;
  return false;
}

struct ExtField {
  uint8_t type;
  std::string_view name, value;
  uint64_t tag;  // name_tag(name)
};

// Reads the variable part as src/record.ts decodeExt does, calling add(field) for each field;
// false where a field would not fit (decodeExt stops there) or add() returned false.
template <class Add>
inline bool for_each_ext(const uint8_t* p, size_t len, Add&& add) {
  size_t q = 0;
  while (q + 7 <= len) {
    ExtField f;
    f.type = p[q];
    const size_t name_len = le(p + q + 1, 2);
    if (q + 3 + name_len + 4 > len) return false;
    f.name = std::string_view(reinterpret_cast<const char*>(p + q + 3), name_len);
    f.tag = name_tag(f.name);
    q += 3 + name_len;
    const size_t val_len = le(p + q, 4);
    q += 4;
    if (q + val_len > len) return false;
    f.value = std::string_view(reinterpret_cast<const char*>(p + q), val_len);
    q += val_len;
    if (!add(f)) return false;
  }
  return true;
}

// The fields in order (stops where a field would not fit, as decodeExt does).
inline bool parse_ext(const uint8_t* p, size_t len, std::vector<ExtField>& out) {
  out.clear();
  return for_each_ext(p, len, [&out](const ExtField& f) {
    out.push_back(f);
    return true;
  });
}

}  // namespace nprobe::recview
