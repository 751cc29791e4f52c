// JSON lines formatted natively from a readBatch() buffer (flow/flow_record.h encoding), so a
// flow that only goes to a JSON output never becomes a JS object. The output is byte for byte
// what src/export/json.ts flowToJson() writes for the record src/record.ts decodes (key order,
// number and string forms as JSON.stringify, RFC 5952 IPv6); test/unit/json_native.test.ts
// checks this over every capture in test/pcap. A record whose JS form could differ (a
// non-integer number, a repeated field name) is left to JS and listed in `fallback`.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nprobe {

// The lines' text, written through a raw cursor: each piece makes room for the most it can
// write, then stores its bytes unchecked. (Through std::string, push_back and
// append(const char*) with its strlen were ~25% of the formatter's instructions.)
class TextBuffer {
 public:
  const char* data() const { return buf_.get(); }
  char* data() { return buf_.get(); }
  size_t size() const { return size_; }
  void clear() { size_ = 0; }
  void release() {
    buf_.reset();
    size_ = cap_ = 0;
  }
  void truncate(size_t n) { size_ = std::min(size_, n); }
  void reserve(size_t n) {
    if (n > cap_) grow(n - size_);
  }
  // Where the next n bytes go; end(p) then makes p the end of the text.
  char* room(size_t n) {
    if (cap_ - size_ < n) grow(n);
    return buf_.get() + size_;
  }
  void end(char* p) { size_ = size_t(p - buf_.get()); }

 private:
  void grow(size_t n) {
    const size_t cap = std::max({cap_ * 2, size_ + n, size_t(4096)});
    std::unique_ptr<char[]> b(new char[cap]);  // not zeroed: every byte is written before it is read
    if (size_) std::memcpy(b.get(), buf_.get(), size_);
    buf_ = std::move(b);
    cap_ = cap;
  }
  std::unique_ptr<char[]> buf_;
  size_t size_ = 0, cap_ = 0;
};

struct JsonLinesResult {
  TextBuffer text;               // the lines, each ending in '\n' (empty line for a fallback)
  std::vector<uint32_t> ends;    // end offset in text of record i's line, '\n' included
  std::vector<uint32_t> fallback;  // records JS must format itself
};

// buf: u32 count, then count encoded records. anomaly_names: by bit; l7_names: by nDPI id
// (an id past the end is "Unknown"). Stops at a truncated record (never reads past len).
void format_json_lines(const uint8_t* buf, size_t len, const std::vector<std::string>& anomaly_names,
                       const std::vector<std::string>& l7_names, JsonLinesResult& out);

}  // namespace nprobe
