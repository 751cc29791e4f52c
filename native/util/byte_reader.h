// Bounds-checked big-endian reader over packet memory (DESIGN.md §6).
// Every read past the end sets a sticky error and returns 0: callers check ok() once
// after a group of reads instead of before each one. No struct casts onto packet bytes.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace nprobe {

class ByteReader {
 public:
  ByteReader() = default;
  ByteReader(const uint8_t* data, size_t len) : p_(data), len_(len) {}

  bool ok() const { return !err_; }
  size_t pos() const { return pos_; }
  size_t size() const { return len_; }
  size_t remaining() const { return err_ ? 0 : len_ - pos_; }
  const uint8_t* cur() const { return p_ + pos_; }
  const uint8_t* base() const { return p_; }

  // True if n more bytes can be read; never sets the error.
  bool has(size_t n) const { return !err_ && len_ - pos_ >= n; }

  uint8_t u8() {
    if (!need(1)) return 0;
    return p_[pos_++];
  }
  uint16_t be16() {
    if (!need(2)) return 0;
    uint16_t v = uint16_t(p_[pos_] << 8 | p_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t be32() {
    if (!need(4)) return 0;
    uint32_t v = uint32_t(p_[pos_]) << 24 | uint32_t(p_[pos_ + 1]) << 16 |
                 uint32_t(p_[pos_ + 2]) << 8 | uint32_t(p_[pos_ + 3]);
    pos_ += 4;
    return v;
  }
  uint32_t le32() {
    if (!need(4)) return 0;
    uint32_t v = uint32_t(p_[pos_]) | uint32_t(p_[pos_ + 1]) << 8 |
                 uint32_t(p_[pos_ + 2]) << 16 | uint32_t(p_[pos_ + 3]) << 24;
    pos_ += 4;
    return v;
  }
  // Peeks do not move and do not set the error: they answer 0 past the end.
  uint8_t peek8(size_t off = 0) const { return has(off + 1) ? p_[pos_ + off] : 0; }
  uint16_t peek16(size_t off = 0) const {
    return has(off + 2) ? uint16_t(p_[pos_ + off] << 8 | p_[pos_ + off + 1]) : 0;
  }

  void skip(size_t n) {
    if (need(n)) pos_ += n;
  }
  // Moves past the leading bytes for which keep(byte) holds (never past the end); returns
  // how many. A scan a byte at a time through has()/peek8()/skip() paid three checks a byte.
  template <class Keep>
  size_t skip_while(Keep&& keep) {
    if (err_) return 0;
    size_t i = pos_;
    while (i < len_ && keep(p_[i])) i++;
    const size_t n = i - pos_;
    pos_ = i;
    return n;
  }
  // Copies n bytes into out; on short input, out is zero-filled and the error is set.
  // (memcpy, not a byte loop: with the small constant sizes callers use, 4 and 16 for
  // addresses, 6 for MACs, it compiles to a move or two; the loop went byte by byte for every
  // address of every packet.)
  void copy(uint8_t* out, size_t n) {
    if (!need(n)) {
      if (n) std::memset(out, 0, n);
      return;
    }
    if (n) std::memcpy(out, p_ + pos_, n);
    pos_ += n;
  }
  // The next N bytes as a fixed array, for a fixed header read in one step and its fields
  // then taken at constant offsets (be16_at/be32_at) instead of one checked read each: on the
  // per-packet path those checks cost more than the reads. Short input: zeros and the error,
  // as copy().
  template <size_t N>
  std::array<uint8_t, N> take() {
    std::array<uint8_t, N> a;
    copy(a.data(), N);
    return a;
  }
  template <size_t N>
  static uint16_t be16_at(const std::array<uint8_t, N>& a, size_t off) {
    return uint16_t(a[off] << 8 | a[off + 1]);
  }
  template <size_t N>
  static uint32_t be32_at(const std::array<uint8_t, N>& a, size_t off) {
    return uint32_t(a[off]) << 24 | uint32_t(a[off + 1]) << 16 | uint32_t(a[off + 2]) << 8 | uint32_t(a[off + 3]);
  }

  // A reader over the next n bytes; this reader moves past them.
  ByteReader sub(size_t n) {
    if (!need(n)) return ByteReader(nullptr, 0).failed();
    ByteReader r(p_ + pos_, n);
    pos_ += n;
    return r;
  }
  // The rest of the buffer as a reader; this reader is left at its end.
  ByteReader rest() { return sub(remaining()); }

 private:
  ByteReader failed() {
    err_ = true;
    return *this;
  }
  bool need(size_t n) {
    if (err_ || len_ - pos_ < n) {
      err_ = true;
      return false;
    }
    return true;
  }
  const uint8_t* p_ = nullptr;
  size_t len_ = 0;
  size_t pos_ = 0;
  bool err_ = false;
};

}  // namespace nprobe
