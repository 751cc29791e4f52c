// Flow table: see flow_table.h.
#include "flow_table.h"

#include <algorithm>

namespace nprobe {

FlowTable::FlowTable(const FlowTableConfig& cfg, ExportFn on_export)
    : cfg_(cfg), export_(std::move(on_export)) {
  slots_.assign(4096, Slot{0, kNoIndex});
  mask_ = slots_.size() - 1;
}

uint32_t FlowTable::lookup(const FlowKey& key, uint64_t hash, uint64_t now_us, bool& created) {
  const uint32_t tag = uint32_t(hash);
  for (uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
    const Slot s = slots_[i];
    if (s.idx == kNoIndex) break;
    if (s.tag == tag && flows_[s.idx].key == key) {
      created = false;
      return s.idx;
    }
  }
  created = true;
  if (count_ >= cfg_.max_flows) {
    // Full: the least recently seen flow leaves first (closing flows are the oldest news).
    uint32_t victim = closing_.tail != kNoIndex ? closing_.tail : idle_.tail;
    evicted_++;
    end(victim, EndReason::kLackOfResources);
  }
  if ((uint64_t(count_) + 1) * 2 > slots_.size()) grow_slots();

  uint32_t idx;
  if (!free_.empty()) {
    idx = free_.back();
    free_.pop_back();
  } else {
    idx = uint32_t(flows_.size());
    flows_.emplace_back();
  }
  Flow& f = flows_[idx];
  f = Flow{};
  f.key = key;
  f.hash = hash;
  f.flow_id = next_id_++;
  f.first_us = f.last_us = now_us;
  f.in_use = 1;
  f.lru_prev = f.lru_next = f.age_prev = f.age_next = kNoIndex;
  for (uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
    if (slots_[i].idx == kNoIndex) {
      slots_[i] = Slot{tag, idx};
      break;
    }
  }
  count_++;
  lru_push_head(idle_, idx);
  // Age list: append at the tail (newest).
  f.age_prev = age_tail_;
  if (age_tail_ != kNoIndex) flows_[age_tail_].age_next = idx;
  age_tail_ = idx;
  if (age_head_ == kNoIndex) age_head_ = idx;
  return idx;
}

void FlowTable::grow_slots() {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(old.size() * 2, Slot{0, kNoIndex});
  mask_ = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.idx == kNoIndex) continue;
    for (uint64_t i = s.tag & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].idx == kNoIndex) {
        slots_[i] = s;
        break;
      }
    }
  }
}

void FlowTable::erase_slot(uint32_t flow_idx) {
  uint64_t i = flows_[flow_idx].hash & mask_;
  while (slots_[i].idx != flow_idx) i = (i + 1) & mask_;
  // Backward-shift deletion keeps every probe chain unbroken without tombstones.
  for (uint64_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
    const Slot s = slots_[j];
    if (s.idx == kNoIndex) break;
    const uint64_t home = s.tag & mask_;  // the tag holds the hash bits the mask needs
    // Move s back into the hole at i if its home does not lie cyclically in (i, j].
    const bool home_between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!home_between) {
      slots_[i] = s;
      i = j;
    }
  }
  slots_[i] = Slot{0, kNoIndex};
}

void FlowTable::lru_unlink(List& l, uint32_t i) {
  Flow& f = flows_[i];
  if (f.lru_prev != kNoIndex) flows_[f.lru_prev].lru_next = f.lru_next; else l.head = f.lru_next;
  if (f.lru_next != kNoIndex) flows_[f.lru_next].lru_prev = f.lru_prev; else l.tail = f.lru_prev;
  f.lru_prev = f.lru_next = kNoIndex;
}

void FlowTable::lru_push_head(List& l, uint32_t i) {
  Flow& f = flows_[i];
  f.lru_prev = kNoIndex;
  f.lru_next = l.head;
  if (l.head != kNoIndex) flows_[l.head].lru_prev = i;
  l.head = i;
  if (l.tail == kNoIndex) l.tail = i;
}

void FlowTable::age_unlink(uint32_t i) {
  Flow& f = flows_[i];
  if (f.age_prev != kNoIndex) flows_[f.age_prev].age_next = f.age_next; else age_head_ = f.age_next;
  if (f.age_next != kNoIndex) flows_[f.age_next].age_prev = f.age_prev; else age_tail_ = f.age_prev;
  f.age_prev = f.age_next = kNoIndex;
}

void FlowTable::move_to_head(uint32_t idx) {
  List& l = list_of(flows_[idx]);
  lru_unlink(l, idx);
  lru_push_head(l, idx);
}

void FlowTable::mark_closing(uint32_t idx) {
  Flow& f = flows_[idx];
  if (f.closing) return;
  lru_unlink(idle_, idx);
  f.closing = 1;
  lru_push_head(closing_, idx);
}

void FlowTable::end(uint32_t idx, EndReason why) {
  Flow& f = flows_[idx];
  lru_unlink(list_of(f), idx);
  age_unlink(idx);
  erase_slot(idx);
  count_--;
  export_(f, why);
  f.in_use = 0;
  free_.push_back(idx);
}

void FlowTable::expire_due(uint64_t now) {
  // Each list is ordered, so only its tail can be due: O(1) when nothing is.
  while (idle_.tail != kNoIndex && flows_[idle_.tail].last_us + cfg_.idle_timeout_us <= now)
    end(idle_.tail, EndReason::kIdleTimeout);
  while (closing_.tail != kNoIndex && flows_[closing_.tail].last_us + cfg_.close_linger_us <= now)
    end(closing_.tail, EndReason::kEndOfFlow);
  while (age_head_ != kNoIndex && flows_[age_head_].first_us + cfg_.active_timeout_us <= now) {
    const uint32_t i = age_head_;
    end(i, flows_[i].closing ? EndReason::kEndOfFlow : EndReason::kActiveTimeout);
  }
}

void FlowTable::flush(EndReason why) {
  while (age_head_ != kNoIndex) {
    const uint32_t i = age_head_;
    end(i, flows_[i].closing ? EndReason::kEndOfFlow : why);
  }
}

}  // namespace nprobe
