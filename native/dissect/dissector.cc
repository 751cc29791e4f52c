// Dissector framework: field encoding, anomaly counting. See dissector.h.
#include "dissector.h"

#include "../flow/flow_record.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace nprobe {

uint8_t* FieldWriter::room_slow(size_t need) {
  flush();
  if (need <= kStageBytes) {
    n_ = need;
    return stage_;
  }
  // Larger than the stage (a long JSON text): straight into out, which nothing is staged
  // before now. The caller fills it before the next field is staged.
  const size_t at = out_.size();
  out_.resize(at + need);
  return out_.data() + at;
}

namespace {
// True when s is valid UTF-8; plain ASCII (most fields) is checked 8 bytes at a time.
bool valid_utf8(std::string_view v) {
  size_t i = 0;
  for (; i + 8 <= v.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, v.data() + i, 8);
    if (w & 0x8080808080808080ull) break;
  }
  if (i < v.size() && i >= 8 && i + 8 > v.size()) {
    // The tail, under 8 bytes: ASCII if the string's last 8 bytes are.
    uint64_t w;
    std::memcpy(&w, v.data() + v.size() - 8, 8);
    if (!(w & 0x8080808080808080ull)) return true;
  }
  while (i < v.size()) {
    const size_t n = JsonWriter::utf8_seq(v, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}
}  // namespace

void FieldWriter::str_long(std::string_view name, std::string_view v) {
  if (v.size() > dissect_limits::kMaxFieldBytes) {
    size_t cut = dissect_limits::kMaxFieldBytes;
    // Don't split a UTF-8 sequence: back up over continuation bytes.
    while (cut > 0 && (static_cast<unsigned char>(v[cut]) & 0xC0) == 0x80) cut--;
    v = v.substr(0, cut);
  }
  // Same invalid-UTF-8 rule as JsonWriter, so a flat field and its copy inside
  // <PROTO>_TRANSACTIONS read the same. Most strings are valid: copy them as they are.
  if (valid_utf8(v)) {
    uint8_t* p = head(2, name, uint32_t(v.size()));
    if (!v.empty()) std::memcpy(p, v.data(), v.size());
    return;
  }
  std::string clean;
  JsonWriter::utf8_clean_into(clean, v);
  std::memcpy(head(2, name, uint32_t(clean.size())), clean.data(), clean.size());
}

void FieldWriter::json(std::string_view name, std::string_view text) {
  uint8_t* p = head(3, name, uint32_t(text.size()));
  if (!text.empty()) std::memcpy(p, text.data(), text.size());
}

void DissectorDelete::operator()(Dissector* d) const { delete d; }

namespace {
thread_local DissectorAnomalyCounts* t_counts = nullptr;
thread_local const DissectorOptions* t_options = nullptr;
const DissectorOptions kDefaultOptions;
}

void set_thread_dissector_options(const DissectorOptions* o) { t_options = o; }
const DissectorOptions& dissector_options() { return t_options ? *t_options : kDefaultOptions; }

void DissectorAnomalyCounts::add(const char* name) {
  std::lock_guard<std::mutex> lk(mu_);
  const auto it = by_ptr_.find(name);
  if (it != by_ptr_.end()) {
    ++*it->second;
    return;
  }
  uint64_t& n = by_name_[name];  // two literals with the same text share one counter
  ++n;
  // Bounded in case a name ever is not a literal (each address would be a new entry).
  if (by_ptr_.size() < kMaxCachedNames) by_ptr_.emplace(name, &n);
}

std::vector<std::pair<std::string, uint64_t>> DissectorAnomalyCounts::snapshot() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::pair<std::string, uint64_t>> v(by_name_.begin(), by_name_.end());
  std::sort(v.begin(), v.end());
  return v;
}

void set_thread_anomaly_counts(DissectorAnomalyCounts* c) { t_counts = c; }

void count_anomaly(const char* name) {
  if (t_counts) t_counts->add(name);
}

void Dissector::anomaly(const char* name) {
  count_anomaly(name);
  for (const char* n : anomalies_)
    if (n == name || std::strcmp(n, name) == 0) return;
  if (anomalies_.size() < dissect_limits::kMaxFlowAnomalies) anomalies_.push_back(name);
}

const DissectorInfo* find_dissector(std::string_view name) {
  for (const DissectorInfo* d : dissectors())
    if (name == d->name) return d;
  return nullptr;
}

}  // namespace nprobe
