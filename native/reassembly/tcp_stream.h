// TCP stream reassembly, one direction (RFC 9293 sequence space). Bytes are handed on in
// sequence order exactly once: out-of-order segments wait (bounded), retransmissions are
// dropped, overlaps keep the first data received, and holes the capture will never fill are
// reported as gaps so the dissector can resync or give up. Connections picked up mid-stream
// start at the first segment seen. Sequence numbers wrap: offsets are kept in 64 bits.
#pragma once
#include <cstdint>
#include <map>
#include <vector>

namespace nprobe {

// Caps (counted by the caller through the returned events).
namespace reasm_limits {
inline constexpr uint32_t kMaxOooBytesPerDir = 256 * 1024;  // waiting out-of-order bytes, one direction
inline constexpr uint32_t kMaxOooSegmentsPerDir = 512;      // waiting segments, one direction
}

class TcpStream {
 public:
  struct Sink {
    virtual ~Sink() = default;
    virtual void data(const uint8_t* p, uint32_t n) = 0;
    virtual void gap(uint64_t bytes) = 0;
  };
  enum Event : uint32_t {
    kRetransmission = 1,   // segment entirely already delivered
    kOverlap = 2,          // part of a segment already delivered or queued: first data kept
    kOooCapHit = 4,        // out-of-order cap reached: gave up on the hole
    kGapAcked = 8,         // the peer acknowledged bytes the capture never had
    kGap = 16,             // a gap was reported
  };

  // A segment with seq, SYN/FIN flags and its payload: n bytes captured of wire_n sent.
  // Returns Event bits.
  uint32_t segment(uint32_t seq, bool syn, bool fin, const uint8_t* p, uint32_t n, uint32_t wire_n, Sink& out);
  // The peer acknowledged up to ack: a hole below it will never be filled by this capture.
  uint32_t acked(uint32_t ack, Sink& out);
  // Delivers everything still waiting, reporting holes as gaps (end of flow).
  uint32_t flush(Sink& out);

  // The common case, decided inline by the caller (Engine::tcp_segment) instead of segment():
  // a started stream with nothing waiting out of order, and a segment (no SYN, captured whole)
  // that starts exactly at the next byte. The caller then hands its bytes on itself and calls
  // advance(); segment() would have done the same, through the virtual sink and drain().
  // (base_seq_ always names the sequence number of next_: every path that moves next_ moves it.)
  bool is_next(uint32_t seq) const { return started_ && ooo_.empty() && seq == base_seq_; }
  void advance(uint32_t n) {
    next_ += n;
    base_seq_ += n;
    base_off_ = next_;
  }
  // True when no segment waits out of order (acked() then has nothing to settle).
  bool nothing_waiting() const { return ooo_.empty(); }

  // Bytes handed on so far, gaps included.
  uint64_t delivered() const { return started_ ? next_ - kStartOffset : 0; }
  uint32_t waiting_bytes() const { return ooo_bytes_; }
  bool started() const { return started_; }

 private:
  uint64_t offset_of(uint32_t seq) const;
  uint32_t drain(Sink& out);
  uint32_t skip_to(uint64_t off, Sink& out);

  static constexpr uint64_t kStartOffset = 1;  // offset 0 stays "before the stream": no underflow
  bool started_ = false;
  uint32_t base_seq_ = 0;    // sequence number at offset base_off_
  uint64_t base_off_ = 0;
  uint64_t next_ = 0;        // next offset to deliver
  std::map<uint64_t, std::vector<uint8_t>> ooo_;  // offset -> bytes (non-overlapping)
  uint32_t ooo_bytes_ = 0;
};

}  // namespace nprobe
