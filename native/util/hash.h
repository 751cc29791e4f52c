// A small, fast hash over fixed-size keys (multiply-xorshift per 64-bit word).
// Not cryptographic: the flow table also bounds probe lengths, so a hostile key pattern
// costs time, never memory or correctness.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace nprobe {

inline uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

inline uint64_t hash_bytes(const void* data, size_t len, uint64_t seed = 0x9e3779b97f4a7c15ULL) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL);
  while (len >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    p += 8;
    len -= 8;
  }
  if (len) {
    uint64_t w = 0;
    std::memcpy(&w, p, len);
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
  }
  return mix64(h);
}

}  // namespace nprobe
