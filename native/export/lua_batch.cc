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

// d as an integer, when it is a safe one (host.ts's batch writer sees a JS number that way):
// the range check comes first, so the conversion is defined (and false for NaN).
bool safe_integer(double d, int64_t& out) {
  if (!(d >= -9007199254740991.0 && d <= 9007199254740991.0)) return false;
  out = int64_t(d);
  return double(out) == d;
}

// The value of a number the way host.ts's batch writer sees a JS number: a safe integer is
// an integer, anything else a float (a non-finite one becomes 0 there too).
void set_number(Value& v, double d) {
  if (safe_integer(d, v.i)) {
    v.kind = Value::kInt;
  } else {
    v.kind = Value::kFloat;
    v.d = std::isfinite(d) ? d : 0;
  }
}

// The integer of a fixed key other than the addresses (kPid ... kProto), from record r. Both
// writers use it; inlined, its switch folds into theirs (a call per key cost ~3% here).
[[gnu::always_inline]] inline int64_t fixed_int(const uint8_t* r, LuaKeySpec::Src src, int64_t pid) {
  const auto secs = [r](size_t at) { return int64_t(le(r + at, 8) / 1000000); };
  switch (src) {
    case LuaKeySpec::kPid: return pid;
    case LuaKeySpec::kFlowId: return int64_t(le(r, 8));
    case LuaKeySpec::kSport: return int64_t(le(r + 104, 2));
    case LuaKeySpec::kDport: return int64_t(le(r + 106, 2));
    case LuaKeySpec::kDuration: return secs(16) - secs(8);
    case LuaKeySpec::kBegin: return secs(8);
    case LuaKeySpec::kEnd: return secs(16);
    case LuaKeySpec::kL7: return int64_t(le(r + 112, 2));
    case LuaKeySpec::kProto: return r[115];
    default: return 0;
  }
}

// Appends flow r in the tagged layout (lua_batch.h): each value with its type, for a flow
// some value of which is not of the type its key declares. Rare; kept simple.
bool write_tagged(const uint8_t* r, const LuaHookSpec& hook, int64_t pid, const std::vector<ExtField>& ext,
                  const std::vector<int>& field_of, std::vector<Value>& vals, std::string& out) {
  vals.resize(hook.keys.size());
  const bool v6 = r[114] == 6;
  for (size_t k = 0; k < hook.keys.size(); k++) {
    const LuaKeySpec& key = hook.keys[k];
    Value& v = vals[k];
    v.own.clear();
    v.kind = Value::kInt;
    switch (key.src) {
      case LuaKeySpec::kFrom:
      case LuaKeySpec::kTo: {
        const uint8_t* a = r + (key.src == LuaKeySpec::kFrom ? 72 : 88);
        v.kind = Value::kStr;
        v6 ? put_ipv6(v.own, a) : put_ipv4(v.own, a);
        break;
      }
      default: v.i = fixed_int(r, key.src, pid); break;
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
  }
  size_t size = 6;
  for (const Value& v : vals) size += value_size(v, true);
  if (size > kMaxFlowBytes) return false;  // offsets are u32: see lua_batch.h
  const size_t start = out.size();
  out.resize(start + size);
  char* const f = out.data() + start;
  f[0] = char(hook.index);
  f[1] = 1;
  store(f + 2, uint32_t(size));
  char* w = f + 6;
  for (const Value& v : vals) w = write_value(w, v, true);
  return true;
}

}  // namespace

void LuaHookSpec::prepare() {
  by_name.clear();
  addr_keys = 0;
  for (const LuaKeySpec& k : keys) addr_keys += k.src == LuaKeySpec::kFrom || k.src == LuaKeySpec::kTo;
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
    const size_t nkeys = hook.keys.size();
    // The hook's own layout, written in one pass straight into out: nearly every flow fits it
    // (each value of the type its key declares). Sizing every value first and then writing
    // it, through a Value per key, was three passes over ~25 keys per flow, and most of this
    // file's cost. The room reserved is a bound: a key takes 8 bytes (an integer, or a
    // string's length word and up to 4 of its bytes), plus an address's text (at most
    // kMaxIpv6Text) for each address key, plus the bytes of the dissector field it came
    // from, and each field feeds at most one key (by_name), so all of them fit in the record's
    // variable part (ext_len). A flow that does not fit its layout is rewritten tagged below.
    const size_t start = out.size();
    const size_t head = 6 + 4 * nkeys;
    out.resize(start + head + 8 * nkeys + hook.addr_keys * kMaxIpv6Text + ext_len);
    char* const f = out.data() + start;
    char* w = f + head;
    const bool v6 = r[114] == 6;
    bool own_layout = true;
    for (size_t k = 0; k < nkeys && own_layout; k++) {
      const LuaKeySpec& key = hook.keys[k];
      store(f + 6 + 4 * k, uint32_t(w - f));
      int64_t n = 0;
      switch (key.src) {
        case LuaKeySpec::kFrom:
        case LuaKeySpec::kTo: {
          if (key.is_int) { own_layout = false; continue; }
          const uint8_t* a = r + (key.src == LuaKeySpec::kFrom ? 72 : 88);
          char* const text = w + 4;
          w = v6 ? recview::put_ipv6(text, a) : nprobe::put_ipv4(text, a);
          store(text - 4, uint32_t(w - text));
          continue;
        }
        default: n = fixed_int(r, key.src, spec.pid); break;
        case LuaKeySpec::kExt: {
          const ExtField* found = field_of[k] >= 0 ? &ext[size_t(field_of[k])] : nullptr;
          if (found && found->type == 1) {
            double d = 0;
            if (found->value.size() >= 8) std::memcpy(&d, found->value.data(), 8);
            if (!key.is_int || !safe_integer(d, n)) own_layout = false;  // a float, or a string key
            break;
          }
          if (key.is_int) {
            if (found) own_layout = false;  // a string where a number was declared
            break;  // not there: 0 (seed 002: never nil)
          }
          const std::string_view t = found ? found->value : std::string_view();
          w = store(w, uint32_t(t.size()));
          if (!t.empty()) std::memcpy(w, t.data(), t.size());
          w += t.size();
          continue;
        }
      }
      if (!key.is_int) own_layout = false;  // an integer where a string was declared
      w = store(w, n);
    }
    if (own_layout) {
      const size_t size = size_t(w - f);
      if (size > kMaxFlowBytes) return false;  // offsets are u32: see lua_batch.h
      f[0] = char(hook.index);
      f[1] = 0;
      store(f + 2, uint32_t(size));
      out.resize(start + size);
    } else {
      out.resize(start);
      if (!write_tagged(r, hook, spec.pid, ext, field_of, vals, out)) return false;
    }
    flows.push_back(i);
  }
  return true;
}

}  // namespace nprobe
