// The flow table: open addressing with linear probing over a slab of flows, no allocation
// per packet. Three intrusive lists give O(1) expiry: the idle list (least recently seen at
// the tail), the closing list (FIN/RST-closed flows, same order) and the age list (oldest
// first, for the active timeout). When the table holds max_flows, the least recently seen
// flow is exported early (lack of resources) to make room: never dropped silently.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "flow.h"

namespace nprobe {

struct FlowTableConfig {
  uint32_t max_flows;
  uint64_t idle_timeout_us;
  uint64_t active_timeout_us;
  uint64_t close_linger_us;
};

class FlowTable {
 public:
  // Called for every flow leaving the table, just before its slot is reused.
  using ExportFn = std::function<void(Flow&, EndReason)>;
  FlowTable(const FlowTableConfig& cfg, ExportFn on_export);

  // Finds the flow for a packet or creates it (exporting the LRU flow first if full).
  // `created` says which. The returned index stays valid until the next table call.
  uint32_t lookup(const FlowKey& key, uint64_t hash, uint64_t now_us, bool& created);
  Flow& at(uint32_t idx) { return flows_[idx]; }

  // Moves to the head of its recency list. (Inline: this runs for every packet, and the flow
  // is often at the head already.)
  void touch(uint32_t idx) {
    if (list_of(flows_[idx]).head != idx) move_to_head(idx);
  }
  void mark_closing(uint32_t idx);   // FIN both ways / RST: moves to the closing list
  void end(uint32_t idx, EndReason why);  // exports and removes now

  // Exports every flow whose idle, close-linger or active timeout has passed at now. (The
  // check is inline: it runs for every packet and nearly always finds nothing due.)
  void expire(uint64_t now_us) {
    if (due(now_us)) expire_due(now_us);
  }
  // Exports everything, oldest first (end of capture, shutdown).
  void flush(EndReason why);

  uint32_t active() const { return count_; }
  uint64_t created_total() const { return next_id_ - 1; }
  uint64_t evicted() const { return evicted_; }
  size_t memory_bytes() const {
    return flows_.capacity() * sizeof(Flow) + slots_.capacity() * sizeof(Slot) +
           free_.capacity() * sizeof(uint32_t);
  }

 private:
  struct Slot {
    uint32_t tag;  // low 32 bits of the hash: skips most key compares, and gives the home
                   // slot without touching the flow (tables stay below 2^32 slots)
    uint32_t idx;  // kNoIndex = empty
  };
  struct List {
    uint32_t head = kNoIndex, tail = kNoIndex;
  };
  // True when some list's oldest flow has passed its timeout at now (expire_due's loops).
  bool due(uint64_t now) const {
    return (idle_.tail != kNoIndex && flows_[idle_.tail].last_us + cfg_.idle_timeout_us <= now) ||
           (closing_.tail != kNoIndex && flows_[closing_.tail].last_us + cfg_.close_linger_us <= now) ||
           (age_head_ != kNoIndex && flows_[age_head_].first_us + cfg_.active_timeout_us <= now);
  }
  void expire_due(uint64_t now_us);
  void move_to_head(uint32_t idx);
  void grow_slots();
  void erase_slot(uint32_t flow_idx);
  void lru_unlink(List& l, uint32_t i);
  void lru_push_head(List& l, uint32_t i);
  void age_unlink(uint32_t i);
  List& list_of(const Flow& f) { return f.closing ? closing_ : idle_; }
  const List& list_of(const Flow& f) const { return f.closing ? closing_ : idle_; }

  FlowTableConfig cfg_;
  ExportFn export_;
  std::vector<Flow> flows_;
  std::vector<uint32_t> free_;
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  uint32_t count_ = 0;
  uint64_t next_id_ = 1;
  uint64_t evicted_ = 0;
  List idle_, closing_;
  uint32_t age_head_ = kNoIndex, age_tail_ = kNoIndex;
};

}  // namespace nprobe
