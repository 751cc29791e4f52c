// The Lua hooks' batch built from encoded records: see lua_batch.h.
#include "lua_batch.h"

#include <cmath>
#include <cstring>

#include "../flow/flow_record.h"
#include "record_view.h"

namespace nprobe {
namespace {

using namespace recview;

// One value, as the JS getter would hand it over: an integer, a float or a string.
struct Value {
  enum Kind : uint8_t { kInt = 0, kFloat = 1, kStr = 2 } kind = kInt;
  int64_t i = 0;
  double d = 0;
  std::string_view s;
  std::string own;  // for addresses formatted here
};

bool fits(const Value& v, bool is_int) { return is_int ? v.kind == Value::kInt : v.kind == Value::kStr; }

std::string_view text_of(const Value& v) { return v.own.empty() ? v.s : std::string_view(v.own); }

// Bytes value v takes in the batch (with its tag byte in the tagged layout).
size_t value_size(const Value& v, bool tagged) {
  return (tagged ? 1 : 0) + (v.kind == Value::kStr ? 4 + text_of(v).size() : 8);
}

// Stores are memcpy of the host's own representation: little-endian hosts only (x86-64,
// arm64), like FieldWriter (dissector.h). Byte-by-byte shifts into a std::string were a
// quarter of this file's cost (the compiler could not merge the stores).
template <typename T>
char* store(char* w, T v) {
  std::memcpy(w, &v, sizeof v);
  return w + sizeof v;
}

char* write_value(char* w, const Value& v, bool tagged) {
  if (tagged) *w++ = char(v.kind);
  switch (v.kind) {
    case Value::kInt: return store(w, v.i);
    case Value::kFloat: return store(w, v.d);
    case Value::kStr: {
      const std::string_view t = text_of(v);
      w = store(w, uint32_t(t.size()));
      if (!t.empty()) std::memcpy(w, t.data(), t.size());
      return w + t.size();
    }
  }
  return w;
}

// The value of a number the way host.ts's batch writer sees a JS number: a safe integer is
// an integer, anything else a float (a non-finite one becomes 0 there too).
void set_number(Value& v, double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= 9007199254740991.0) {
    v.kind = Value::kInt;
    v.i = int64_t(d);
  } else {
    v.kind = Value::kFloat;
    v.d = std::isfinite(d) ? d : 0;
  }
}

}  // namespace

void LuaHookSpec::prepare() {
  by_name.clear();
  for (std::string_view f : kFixedKeys) by_name[std::string(f)] = -1;
  for (size_t k = 0; k < keys.size(); k++)
    if (keys[k].src == LuaKeySpec::kExt) by_name[keys[k].ext_name] = int(k);
}

bool build_lua_batch(const uint8_t* buf, size_t len, const LuaBatchSpec& spec, std::string& out,
                     std::vector<uint32_t>& flows) {
  out.clear();
  flows.clear();
  if (len < 4) return true;
  const uint32_t n = uint32_t(le(buf, 4));
  std::vector<ExtField> ext;
  std::vector<Value> vals;
  std::vector<int> field_of;  // per key: the record's field holding it, -1 none
  // Per hook: the field names of the last record and their key (-1 none, -2 fixed name).
  // A dissector writes its fields in much the same order every time, so most names are
  // matched by one comparison with the name at the same position instead of a hash lookup.
  // The views point into buf, alive for the whole call.
  struct NameCache {
    std::vector<std::string_view> names;
    std::vector<int> key;
  };
  std::unordered_map<const LuaHookSpec*, NameCache> caches;
  size_t p = 4;
  for (uint32_t i = 0; i < n; i++) {
    if (p + kRecordFixedSize > len) return false;
    const uint8_t* r = buf + p;
    const size_t ext_len = le(r + 140, 4);
    if (p + kRecordFixedSize + ext_len > len) return false;
    p += kRecordFixedSize + ext_len;
    auto it = spec.by_l7.find(uint16_t(le(r + 112, 2)));
    if (it == spec.by_l7.end()) continue;
    const LuaHookSpec& hook = it->second;
    if (!parse_ext(r + kRecordFixedSize, ext_len, ext)) return false;
    field_of.assign(hook.keys.size(), -1);
    NameCache& cache = caches[&hook];
    if (cache.names.size() < ext.size()) {
      cache.names.resize(ext.size());
      cache.key.resize(ext.size(), -1);
    }
    for (size_t e = 0; e < ext.size(); e++) {
      int key;
      if (cache.names[e].data() && cache.names[e] == ext[e].name) {
        key = cache.key[e];
      } else {
        auto f = hook.by_name.find(std::string(ext[e].name));
        key = ext[e].name == "__ANOMALIES" ? -1 : f == hook.by_name.end() ? -1 : f->second < 0 ? -2 : f->second;
        cache.names[e] = ext[e].name;
        cache.key[e] = key;
      }
      if (key == -2) return false;  // a fixed name: the JS record would show this value
      if (key >= 0) field_of[size_t(key)] = int(e);  // later fields win, as in decodeExt
    }
    vals.resize(hook.keys.size());
    bool own_layout = true;
    const bool v6 = r[114] == 6;
    const uint64_t first_s = le(r + 8, 8) / 1000000, last_s = le(r + 16, 8) / 1000000;
    for (size_t k = 0; k < hook.keys.size(); k++) {
      const LuaKeySpec& key = hook.keys[k];
      Value& v = vals[k];
      v.own.clear();
      v.kind = Value::kInt;
      switch (key.src) {
        case LuaKeySpec::kPid: v.i = spec.pid; break;
        case LuaKeySpec::kFlowId: v.i = int64_t(le(r, 8)); break;
        case LuaKeySpec::kFrom:
        case LuaKeySpec::kTo: {
          const uint8_t* a = r + (key.src == LuaKeySpec::kFrom ? 72 : 88);
          v.kind = Value::kStr;
          v6 ? put_ipv6(v.own, a) : put_ipv4(v.own, a);
          break;
        }
        case LuaKeySpec::kSport: v.i = int64_t(le(r + 104, 2)); break;
        case LuaKeySpec::kDport: v.i = int64_t(le(r + 106, 2)); break;
        case LuaKeySpec::kDuration: v.i = int64_t(last_s) - int64_t(first_s); break;
        case LuaKeySpec::kBegin: v.i = int64_t(first_s); break;
        case LuaKeySpec::kEnd: v.i = int64_t(last_s); break;
        case LuaKeySpec::kL7: v.i = int64_t(le(r + 112, 2)); break;
        case LuaKeySpec::kProto: v.i = r[115]; break;
        case LuaKeySpec::kExt: {
          const ExtField* found = field_of[k] >= 0 ? &ext[size_t(field_of[k])] : nullptr;
          if (!found) {
            // Not there: 0 for a number key, "" for a string key (seed 002: never nil).
            if (!key.is_int) v.kind = Value::kStr, v.s = std::string_view();
            else v.i = 0;
          } else if (found->type == 1) {
            double d = 0;
            if (found->value.size() >= 8) std::memcpy(&d, found->value.data(), 8);
            set_number(v, d);
          } else {
            v.kind = Value::kStr;  // a string, or JSON text (values are strings or numbers only)
            v.s = found->value;
          }
          break;
        }
      }
      if (!fits(v, key.is_int)) own_layout = false;
    }
    // The flow is sized first and written in one go (see lua_batch.h for the bytes): size,
    // then in the hook's own layout each value's offset from the flow's first byte.
    const size_t nkeys = hook.keys.size();
    const size_t head = 6 + (own_layout ? 4 * nkeys : 0);
    size_t size = head;
    for (size_t k = 0; k < nkeys; k++) size += value_size(vals[k], !own_layout);
    if (size > kMaxFlowBytes) return false;  // offsets are u32: see lua_batch.h
    const size_t start = out.size();
    out.resize(start + size);
    char* const f = out.data() + start;
    f[0] = char(hook.index);
    f[1] = char(own_layout ? 0 : 1);
    store(f + 2, uint32_t(size));
    char* w = f + head;
    for (size_t k = 0; k < nkeys; k++) {
      if (own_layout) store(f + 6 + 4 * k, uint32_t(w - f));
      w = write_value(w, vals[k], !own_layout);
    }
    flows.push_back(i);
  }
  return true;
}

}  // namespace nprobe
