// A statistics counter with one writer (the capture thread) and any number of readers.
#pragma once

#include <atomic>
#include <cstdint>

namespace nprobe {

// Counted per packet: fetch_add is a locked read-modify-write (~20 cycles and a full barrier
// on x86) although only the capture thread ever writes. A relaxed load and store keep reads
// from other threads tear-free (the value is atomic) at the cost of a plain add.
class Counter {
 public:
  void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t load(std::memory_order = std::memory_order_relaxed) const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace nprobe
