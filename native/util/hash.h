// A small, fast hash over fixed-size keys (multiply-xorshift per 64-bit word, in three lanes).
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

inline uint64_t hash_step(uint64_t h, uint64_t w) {
  h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 29);
}

inline uint64_t rotl64(uint64_t v, int r) { return (v << r) | (v >> (64 - r)); }

// Three lanes over consecutive words, joined by the finalizer: the multiplies of a 44-byte
// flow key (one hash per packet) then overlap instead of each waiting on the one before.
inline uint64_t hash_bytes(const void* data, size_t len, uint64_t seed = 0x9e3779b97f4a7c15ULL) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h0 = seed ^ (len * 0x9e3779b97f4a7c15ULL), h1 = seed ^ 0x632be59bd9b4e019ULL,
           h2 = seed ^ 0x8cb92ba72f3d8dd7ULL;
  auto word = [&p](size_t n) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    p += n;
    return w;
  };
  for (; len >= 24; len -= 24) {
    h0 = hash_step(h0, word(8));
    h1 = hash_step(h1, word(8));
    h2 = hash_step(h2, word(8));
  }
  if (len >= 8) h0 = hash_step(h0, word(8)), len -= 8;
  if (len >= 8) h1 = hash_step(h1, word(8)), len -= 8;
  if (len) h2 = hash_step(h2, word(len));
  return mix64(h0 ^ rotl64(h1, 21) ^ rotl64(h2, 42));
}

}  // namespace nprobe
