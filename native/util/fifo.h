// A small FIFO for the dissectors' queues of small records (requests waiting for their
// replies). Why not std::deque: libstdc++'s deque allocates its map and a 512-byte block when
// it is constructed, so every HTTP or SMTP flow paid two allocations and two frees for a
// queue that mostly holds one entry or none. This one allocates nothing until it holds more
// than four (those live in the object); it is a ring over a power-of-two array. Callers cap
// its length (as they capped the deque's).
#pragma once
#include <cstddef>
#include <memory>
#include <type_traits>

namespace nprobe {

template <typename T>
class Fifo {
  static_assert(std::is_trivially_copyable_v<T>, "Fifo holds plain records (pop_front destroys nothing)");

 public:
  Fifo() = default;
  Fifo(const Fifo&) = delete;  // p_ may point into this object (inline_)
  Fifo& operator=(const Fifo&) = delete;

  bool empty() const { return n_ == 0; }
  size_t size() const { return n_; }
  T& front() { return p_[head_]; }
  const T& front() const { return p_[head_]; }
  const T& operator[](size_t i) const { return p_[(head_ + i) & (cap_ - 1)]; }
  void pop_front() {
    head_ = (head_ + 1) & (cap_ - 1);
    n_--;
  }
  void push_back(const T& v) {
    if (n_ == cap_) grow();
    p_[(head_ + n_) & (cap_ - 1)] = v;
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
    const size_t cap = cap_ * 2;
    std::unique_ptr<T[]> b(new T[cap]);
    for (size_t i = 0; i < n_; i++) b[i] = (*this)[i];
    buf_ = std::move(b);
    p_ = buf_.get();
    cap_ = cap;
    head_ = 0;
  }
  // The first kInline entries live in the object itself: most queues (a flow's requests
  // waiting for replies) never hold more, and each flow paid a malloc and a free for them.
  static constexpr size_t kInline = 4;  // a power of two, as every capacity
  T inline_[kInline];
  T* p_ = inline_;               // inline_ or buf_
  std::unique_ptr<T[]> buf_;
  size_t cap_ = kInline, head_ = 0, n_ = 0;
};

}  // namespace nprobe
