// IP fragment reassembly: see ip_frag.h for the contract.
#include "ip_frag.h"

#include <algorithm>

#include "../util/hash.h"
#include "../util/limits.h"

namespace nprobe {

size_t FragKeyHash::operator()(const FragKey& k) const {
  uint8_t buf[48] = {};
  std::memcpy(buf, k.src.b, 16);
  std::memcpy(buf + 16, k.dst.b, 16);
  std::memcpy(buf + 32, &k.id, 4);
  std::memcpy(buf + 36, &k.vlan_key, 4);
  buf[40] = k.proto;
  buf[41] = k.version;
  buf[42] = k.tunneled;
  return size_t(hash_bytes(buf, sizeof buf));
}

void FragReassembler::add(const Fragment& f) {
  using namespace limits;
  auto it = map_.find(*f.key);
  if (it == map_.end()) {
    if (map_.size() >= kMaxFragDatagrams) {
      // Make room by giving up the oldest datagram still in flight.
      while (!order_.empty()) {
        auto [k, gen] = order_.front();
        order_.pop_front();
        auto old = map_.find(k);
        if (old != map_.end() && old->second.gen == gen) {
          give_up(old, Anomaly::frag_table_full);
          break;
        }
      }
    }
    Datagram d;
    d.gen = next_gen_++;
    d.ts_first_us = d.ts_last_us = f.ts_us;
    d.ctx = f.ctx;
    it = map_.emplace(*f.key, std::move(d)).first;
    order_.emplace_back(*f.key, it->second.gen);
    if (order_.size() > 4 * kMaxFragDatagrams) {
      // Completed datagrams leave stale entries behind; rebuild the order from what is live.
      std::vector<std::pair<uint64_t, FragKey>> live;
      live.reserve(map_.size());
      for (auto& [k, dg] : map_) live.emplace_back(dg.gen, k);
      std::sort(live.begin(), live.end(), [](auto& a, auto& b) { return a.first < b.first; });
      order_.clear();
      for (auto& [gen, k] : live) order_.emplace_back(k, gen);
    }
  }
  Datagram& d = it->second;
  d.wire_pkts++;
  d.ip_bytes += f.ip_bytes;
  d.frags++;
  d.anomalies |= f.anomalies;
  d.ts_first_us = std::min(d.ts_first_us, f.ts_us);
  d.ts_last_us = std::max(d.ts_last_us, f.ts_us);

  const uint64_t end = uint64_t(f.offset) + f.wire_data_len;
  if (end > kMaxFragDatagramBytes || (f.wire_data_len == 0 && f.more)) {
    d.anomalies |= anomaly_bit(Anomaly::frag_bad_offset);
    an_.add(Anomaly::frag_bad_offset);
    give_up(it, Anomaly::frag_bad_offset);
    return;
  }
  if (d.frags > kMaxFragmentsPerDatagram) {
    give_up(it, Anomaly::frag_too_many_fragments);
    return;
  }
  if (!f.more && d.total == UINT32_MAX) d.total = uint32_t(end);
  if (f.data_len < f.wire_data_len) d.truncated = true;
  if (f.offset == 0) {
    d.l4_proto = f.l4_proto;
    d.first_present = true;
    d.first_len = f.data_len;
  }

  // Store captured bytes, first data wins on overlap.
  const uint32_t cap_end = f.offset + f.data_len;
  if (cap_end > d.buf.size()) {
    const uint64_t grow = cap_end - d.buf.size();
    if (bytes_held_ + grow > kMaxFragTotalBytes) {
      give_up(it, Anomaly::frag_memory_cap);
      return;
    }
    bytes_held_ += grow;
    d.buf.resize(cap_end);
  }
  bool overlap = false;
  uint32_t pos = f.offset;
  const uint32_t wire_end = uint32_t(end);
  std::vector<Piece> merged;
  merged.reserve(d.have.size() + 1);
  size_t i = 0;
  // Walk the existing pieces; copy only into the gaps between them.
  for (; i < d.have.size() && pos < wire_end; i++) {
    const Piece& p = d.have[i];
    if (p.end <= pos) continue;
    if (p.start >= wire_end) break;
    if (p.start > pos) {
      const uint32_t gap_end = std::min(p.start, cap_end);
      if (gap_end > pos) std::memcpy(d.buf.data() + pos, f.data + (pos - f.offset), gap_end - pos);
    }
    overlap = true;
    pos = std::max(pos, p.end);
  }
  if (pos < wire_end && pos < cap_end)
    std::memcpy(d.buf.data() + pos, f.data + (pos - f.offset), cap_end - pos);
  if (overlap) {
    d.anomalies |= anomaly_bit(Anomaly::frag_overlap);
    an_.add(Anomaly::frag_overlap);
  }
  // Merge [f.offset, wire_end) into the sorted piece list.
  Piece np{f.offset, wire_end};
  bool placed = false;
  for (const Piece& p : d.have) {
    if (p.end < np.start) {
      merged.push_back(p);
    } else if (p.start > np.end) {
      if (!placed) merged.push_back(np), placed = true;
      merged.push_back(p);
    } else {
      np.start = std::min(np.start, p.start);
      np.end = std::max(np.end, p.end);
    }
  }
  if (!placed) merged.push_back(np);
  d.have.swap(merged);

  if (d.total != UINT32_MAX && d.have.size() == 1 && d.have[0].start == 0 && d.have[0].end >= d.total) {
    // All wire bytes seen. A snaplen-cut datagram can't be rebuilt: deliver what the first
    // fragment carried (ports), without calling it an anomaly: the capture chose to cut.
    finish(it, !d.truncated);
  }
}

void FragReassembler::expire(uint64_t now_us) {
  while (!order_.empty()) {
    auto& [k, gen] = order_.front();
    auto it = map_.find(k);
    if (it == map_.end() || it->second.gen != gen) {
      order_.pop_front();
      continue;
    }
    if (now_us < it->second.ts_first_us + limits::kFragTimeoutUs) break;
    order_.pop_front();
    give_up(it, Anomaly::frag_timeout);
  }
}

void FragReassembler::flush() {
  while (!order_.empty()) {
    auto [k, gen] = order_.front();
    order_.pop_front();
    auto it = map_.find(k);
    if (it != map_.end() && it->second.gen == gen) give_up(it, Anomaly::frag_incomplete_at_end);
  }
  // Anything left (should be nothing) goes too, so no packet is silently dropped.
  while (!map_.empty()) give_up(map_.begin(), Anomaly::frag_incomplete_at_end);
}

void FragReassembler::give_up(Map::iterator it, Anomaly why) {
  Datagram& d = it->second;
  an_.add(why);
  d.anomalies |= anomaly_bit(why);
  if (!d.first_present) {
    an_.add(Anomaly::frag_orphaned, d.wire_pkts);
    d.anomalies |= anomaly_bit(Anomaly::frag_orphaned);
  }
  finish(it, false);
}

void FragReassembler::finish(Map::iterator it, bool complete) {
  Datagram& d = it->second;
  Reassembled r;
  r.complete = complete;
  r.first_present = d.first_present;
  r.l4_proto = d.l4_proto;
  r.payload = d.buf.data();
  r.payload_len = complete ? d.total : std::min<uint32_t>(d.first_len, uint32_t(d.buf.size()));
  r.wire_pkts = d.wire_pkts;
  r.ip_bytes = d.ip_bytes;
  r.ts_first_us = d.ts_first_us;
  r.ts_last_us = d.ts_last_us;
  r.anomalies = d.anomalies;
  r.key = it->first;
  r.ctx = d.ctx;
  bytes_held_ -= d.buf.size();
  // Hand the buffer to the sink before erasing; the sink must not call back into us.
  std::vector<uint8_t> keep;
  keep.swap(d.buf);
  map_.erase(it);
  done_(r);
}

}  // namespace nprobe
