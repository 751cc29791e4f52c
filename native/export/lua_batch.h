// The batch of flows for the Lua hooks (lua/prelude.lua N.run), built natively from a
// readBatch() buffer, so a flow that only meets a hook never becomes a JS object. Layout per
// flow, little-endian: hook index (u8), layout (u8: 0 the hook's own, 1 tagged), the flow's
// size in bytes from its first byte (u32); in the hook's own layout then one u32 per key, the
// offset of its value from the flow's first byte (Lua reads only the values a hook asks for),
// and the values: an integer key as an i64, a string key as a u32 length and bytes. In the
// tagged layout the values follow the size, each preceded by 0 integer / 1 float / 2 string.
// The values are the ones src/lua/host.ts's getters read off the decoded record
// (src/record.ts); change them together (BatchWriter writes the same bytes).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace nprobe {

// A flow's bytes in the batch: its offsets are u32. Far above anything a record holds (every
// dissector field is capped, DESIGN.md §6); checked so that an offset can never wrap.
constexpr size_t kMaxFlowBytes = size_t(1) << 30;

struct LuaKeySpec {
  // Where a key's value comes from: a fixed field of the record or a dissector field.
  enum Src : uint8_t { kPid, kFlowId, kFrom, kTo, kSport, kDport, kDuration, kBegin, kEnd, kL7, kProto, kExt };
  Src src = kExt;
  bool is_int = false;  // the key holds an integer (a number field) rather than a string
  std::string ext_name;
};

struct LuaHookSpec {
  uint8_t index = 0;  // the hook's index in the prelude (N.register)
  std::vector<LuaKeySpec> keys;
  // Dissector field name -> index in keys, and the fixed record names (-1): one lookup per
  // field of a record instead of a scan per key (filled by prepare()).
  std::unordered_map<std::string, int> by_name;
  size_t addr_keys = 0;  // keys holding a flow address as text (room for it: lua_batch.cc)
  void prepare();
};

struct LuaBatchSpec {
  int64_t pid = 0;
  std::unordered_map<uint16_t, LuaHookSpec> by_l7;  // nDPI id -> the hook its flows go to
};

// Appends the hooked flows of buf to out and their positions in the batch to flows. Returns
// false, with out and flows unspecified, when a record holds something only the JS path
// reproduces exactly (a dissector field named like a fixed one).
bool build_lua_batch(const uint8_t* buf, size_t len, const LuaBatchSpec& spec, std::string& out,
                     std::vector<uint32_t>& flows);

}  // namespace nprobe
