// A small FIFO for the dissectors' queues of small records (requests waiting for their
// replies). Why not std::deque: libstdc++'s deque allocates its map and a 512-byte block when
// it is constructed, so every HTTP or SMTP flow paid two allocations and two frees for a
// queue that mostly holds one entry or none. This one allocates nothing before its first
// push; it is a ring over a power-of-two array. Callers cap its length (as they capped the
// deque's).
#pragma once
#include <cstddef>
#include <memory>
#include <type_traits>

namespace nprobe {

template <typename T>
class Fifo {
  static_assert(std::is_trivially_copyable_v<T>, "Fifo holds plain records (pop_front destroys nothing)");

 public:
  bool empty() const { return n_ == 0; }
  size_t size() const { return n_; }
  T& front() { return buf_[head_]; }
  const T& front() const { return buf_[head_]; }
  const T& operator[](size_t i) const { return buf_[(head_ + i) & (cap_ - 1)]; }
  void pop_front() {
    head_ = (head_ + 1) & (cap_ - 1);
    n_--;
  }
  void push_back(const T& v) {
    if (n_ == cap_) grow();
    buf_[(head_ + n_) & (cap_ - 1)] = v;
    n_++;
  }
  void clear() { head_ = n_ = 0; }

  // Oldest first (range-for).
  class const_iterator {
   public:
    const_iterator(const Fifo* q, size_t i) : q_(q), i_(i) {}
    const T& operator*() const { return (*q_)[i_]; }
    const_iterator& operator++() {
      i_++;
      return *this;
    }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }

   private:
    const Fifo* q_;
    size_t i_;
  };
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, n_); }

 private:
  void grow() {
    const size_t cap = cap_ ? cap_ * 2 : 4;
    std::unique_ptr<T[]> b(new T[cap]);
    for (size_t i = 0; i < n_; i++) b[i] = (*this)[i];
    buf_ = std::move(b);
    cap_ = cap;
    head_ = 0;
  }
  std::unique_ptr<T[]> buf_;
  size_t cap_ = 0, head_ = 0, n_ = 0;
};

}  // namespace nprobe
