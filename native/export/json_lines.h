// JSON lines formatted natively from a readBatch() buffer (flow/flow_record.h encoding), so a
// flow that only goes to a JSON output never becomes a JS object. The output is byte for byte
// what src/export/json.ts flowToJson() writes for the record src/record.ts decodes (key order,
// number and string forms as JSON.stringify, RFC 5952 IPv6); test/unit/json_native.test.ts
// checks this over every capture in test/pcap. A record whose JS form could differ (a
// non-integer number, a repeated field name) is left to JS and listed in `fallback`.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nprobe {

struct JsonLinesResult {
  std::string text;              // the lines, each ending in '\n' (empty line for a fallback)
  std::vector<uint32_t> ends;    // end offset in text of record i's line, '\n' included
  std::vector<uint32_t> fallback;  // records JS must format itself
};

// buf: u32 count, then count encoded records. anomaly_names: by bit; l7_names: by nDPI id
// (an id past the end is "Unknown"). Stops at a truncated record (never reads past len).
void format_json_lines(const uint8_t* buf, size_t len, const std::vector<std::string>& anomaly_names,
                       const std::vector<std::string>& l7_names, JsonLinesResult& out);

}  // namespace nprobe
