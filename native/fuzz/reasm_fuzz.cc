// libFuzzer entry point for TCP reassembly (one direction). Input: operations, each
//   u8 kind | u32 seq (LE) | u16 length (LE) | bytes      kind&3: 0 segment, 1 SYN, 2 ACK, 3 cut
// Checks the invariant that every byte offset is delivered at most once: delivered + gap
// bytes never exceed the span the segments covered.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "../reassembly/tcp_stream.h"
#include "../util/byte_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  struct Count final : nprobe::TcpStream::Sink {
    uint64_t bytes = 0, gaps = 0;
    void data(const uint8_t*, uint32_t n) override { bytes += n; }
    void gap(uint64_t n) override { gaps += n; }
  } sink;
  nprobe::TcpStream s;
  nprobe::ByteReader r(data, size);
  int ops = 0;
  while (r.has(7) && ops++ < 2000) {
    const uint8_t kind = r.u8();
    const uint32_t seq = r.le32();
    const uint16_t lo = r.u8(), hi = r.u8();
    const size_t len = std::min<size_t>(size_t(lo | hi << 8), r.remaining());
    std::vector<uint8_t> buf(r.cur(), r.cur() + len);
    r.skip(len);
    switch (kind & 3) {
      case 0: s.segment(seq, false, kind & 4, buf.data(), uint32_t(buf.size()), uint32_t(buf.size()), sink); break;
      case 1: s.segment(seq, true, false, buf.data(), uint32_t(buf.size()), uint32_t(buf.size()), sink); break;
      case 2: s.acked(seq, sink); break;
      case 3: s.segment(seq, false, false, buf.data(), uint32_t(buf.size()), uint32_t(buf.size()) + (kind >> 2), sink); break;
    }
    if (s.waiting_bytes() > nprobe::reasm_limits::kMaxOooBytesPerDir + 65535) std::abort();
  }
  s.flush(sink);
  if (s.waiting_bytes() != 0) std::abort();
  if (sink.bytes + sink.gaps != s.delivered()) std::abort();
  return 0;
}
