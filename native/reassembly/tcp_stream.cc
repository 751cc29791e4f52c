// TCP stream reassembly: see tcp_stream.h.
#include "tcp_stream.h"

#include <algorithm>

namespace nprobe {

uint64_t TcpStream::offset_of(uint32_t seq) const {
  // The signed 32-bit distance from the reference point handles wrap-around both ways.
  const int32_t d = int32_t(seq - base_seq_);
  const int64_t off = int64_t(base_off_) + d;
  return off < 0 ? 0 : uint64_t(off);
}

uint32_t TcpStream::segment(uint32_t seq, bool syn, bool fin, const uint8_t* p, uint32_t n, uint32_t wire_n,
                            Sink& out) {
  uint32_t ev = 0;
  if (wire_n > n && started_) {
    // Cut by the snap length: deliver what was captured, then the rest is a known gap.
    const uint64_t off = offset_of(syn ? seq + 1 : seq);
    if (off == next_) {
      ev |= segment(seq, syn, fin, p, n, n, out);
      if (next_ == off + n) ev |= skip_to(off + wire_n, out);
      return ev;
    }
  }
  if (!started_) {
    // A pure ACK can't anchor a stream, and neither can a 1-byte segment picked up mid-way:
    // that is what a TCP keep-alive probe looks like (one byte already acknowledged).
    if (!syn && n <= 1) return 0;
    started_ = true;
    // SYN consumes one sequence number; a stream picked up mid-way starts at its first byte.
    base_seq_ = syn ? seq + 1 : seq;
    base_off_ = kStartOffset;
    next_ = base_off_;
    if (syn) {
      if (n == 0) return 0;
      seq += 1;
    }
  } else if (syn) {
    seq += 1;  // SYN with data (TFO) or a retransmitted SYN
  }
  (void)fin;
  if (n == 0) return 0;
  uint64_t off = offset_of(seq);
  uint64_t end = off + n;
  // Keep the reference point near the stream head so the 32-bit distance stays small.
  if (end <= next_) return kRetransmission;
  if (off < next_) {
    // Partly old: keep the bytes not yet delivered (first data wins).
    const uint32_t cut = uint32_t(next_ - off);
    p += cut;
    n -= cut;
    off = next_;
    ev |= kOverlap;
  }
  if (off == next_) {
    out.data(p, n);
    next_ = end;
    base_seq_ = uint32_t(base_seq_ + (next_ - base_off_));
    base_off_ = next_;
    return ev | drain(out);
  }
  // Out of order: store the parts not already waiting (first data wins).
  if (ooo_.size() >= reasm_limits::kMaxOooSegmentsPerDir || ooo_bytes_ + n > reasm_limits::kMaxOooBytesPerDir) {
    // Give up on the hole: move on to what waits, then this segment.
    ev |= kOooCapHit;
    if (!ooo_.empty()) ev |= skip_to(ooo_.begin()->first, out);
    if (off > next_) ev |= skip_to(off, out);
    return ev | segment(seq, false, false, p, n, n, out);
  }
  uint64_t cur = off;
  const uint8_t* q = p;
  uint64_t stop = end;
  auto it = ooo_.upper_bound(cur);
  if (it != ooo_.begin()) {
    auto prev = std::prev(it);
    const uint64_t pend = prev->first + prev->second.size();
    if (pend > cur) {
      ev |= kOverlap;
      if (pend >= stop) return ev;
      q += pend - cur;
      cur = pend;
    }
  }
  while (cur < stop) {
    it = ooo_.lower_bound(cur);
    const uint64_t piece_end = it == ooo_.end() ? stop : std::min(stop, it->first);
    if (piece_end > cur) {
      ooo_.emplace(cur, std::vector<uint8_t>(q, q + (piece_end - cur)));
      ooo_bytes_ += uint32_t(piece_end - cur);
    }
    if (it == ooo_.end() || it->first >= stop) break;
    ev |= kOverlap;
    const uint64_t skip_end = std::min<uint64_t>(stop, it->first + it->second.size());
    q += skip_end - cur;
    cur = skip_end;
  }
  return ev;
}

uint32_t TcpStream::drain(Sink& out) {
  uint32_t ev = 0;
  while (!ooo_.empty()) {
    auto it = ooo_.begin();
    if (it->first > next_) break;
    const uint64_t end = it->first + it->second.size();
    if (end > next_) {
      const uint32_t skip = uint32_t(next_ - it->first);
      out.data(it->second.data() + skip, uint32_t(it->second.size() - skip));
      next_ = end;
    }
    ooo_bytes_ -= uint32_t(it->second.size());
    ooo_.erase(it);
  }
  base_seq_ = uint32_t(base_seq_ + (next_ - base_off_));
  base_off_ = next_;
  return ev;
}

uint32_t TcpStream::skip_to(uint64_t off, Sink& out) {
  if (off <= next_) return drain(out);
  out.gap(off - next_);
  next_ = off;
  base_seq_ = uint32_t(base_seq_ + (next_ - base_off_));
  base_off_ = next_;
  return kGap | drain(out);
}

uint32_t TcpStream::acked(uint32_t ack, Sink& out) {
  // Only a hole with data waiting after it is settled by an ACK: a capture can show an ACK
  // before the data it acknowledges (two capture queues), and that data must not be lost.
  if (!started_ || ooo_.empty()) return 0;
  const uint64_t a = offset_of(ack);
  if (a <= next_) return 0;
  // Bytes below the peer's ACK were received by it; if we don't have them now, the capture
  // missed them and they will not come again.
  uint64_t target = a;
  if (!ooo_.empty()) target = std::min(target, ooo_.begin()->first);
  if (target <= next_) return 0;
  // Guard against absurd ACKs (a forged or corrupt segment): at most 1 GiB ahead.
  if (target - next_ > (uint64_t(1) << 30)) return 0;
  return kGapAcked | skip_to(target, out);
}

uint32_t TcpStream::flush(Sink& out) {
  uint32_t ev = 0;
  while (!ooo_.empty()) ev |= skip_to(ooo_.begin()->first, out);
  return ev;
}

}  // namespace nprobe
