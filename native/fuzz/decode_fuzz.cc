// libFuzzer entry point for the packet decoder (native/decode: link layers, IPv4/IPv6 with
// extension headers, fragment reassembly, TCP/UDP/SCTP/ICMP, GTP-U decapsulation).
// Input:  u8 link type selector (index into kLinkTypes below)
//         then frames, each  u16 little-endian captured length | u8 flags | bytes
// Flags: bit 0 the frame was cut by the snap length (wire length = captured + 1 + flags>>2
// times 61); bit 1 the clock jumps past the fragment time-out before this frame (the engine's
// periodic expire() runs then, with no frame being decoded). Several frames per input, so
// fragments, overlaps and tunnels combine; flush() at the end, as at the end of a capture.
// The sink reads every decoded field and payload byte (ASan sees a read past the frame), and
// the packet books must balance as the engine's stats do: every frame is in a packet
// delivered outside a tunnel, or counted non-IP, undecodable or an unattributed fragment.
// The engine's contract is checked too: a packet from inside a tunnel comes only after an
// outer packet of the same frame (the engine takes the tunnel from the packet before).
// Built and run by scripts/fuzz.sh (npm run fuzz -- decode <seconds>).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "../decode/decoder.h"
#include "../util/limits.h"
#include "../util/byte_reader.h"

namespace {

constexpr int kLinkTypes[] = {1, 113, 276, 0, 108, 12, 14, 101, 228, 229};

struct TouchSink final : nprobe::PacketSink {
  uint64_t outer_pkts = 0;  // wire packets in packets delivered outside a tunnel
  uint64_t acc = 0;         // everything read, so nothing is optimised away
  bool outer_seen = false;  // an outer packet was delivered since the last frame began
  void on_packet(nprobe::Packet& p) override {
    if (p.ip_version != 4 && p.ip_version != 6) std::abort();
    if (p.wire_pkts == 0) std::abort();
    if (p.ts_first_us > p.ts_us) std::abort();
    if (!p.tunneled) outer_pkts += p.wire_pkts, outer_seen = true;
    if (p.tunneled && !outer_seen) std::abort();
    if (p.tunneled && p.outer_version != 4 && p.outer_version != 6) std::abort();
    if (p.payload_len && !p.payload) std::abort();
    if (p.proto == 6 && p.payload_len > p.payload_wire_len) std::abort();
    for (uint32_t i = 0; i < p.payload_len; i++) acc += p.payload[i];
    for (int i = 0; i < 16; i++) acc += p.src.b[i] ^ p.dst.b[i];
    for (int i = 0; i < 6; i++) acc += p.src_mac[i] ^ p.dst_mac[i];
    acc += p.sport + p.dport + p.tcp_flags + p.tcp_seq + p.tcp_ack + p.icmp_type + p.icmp_code + p.vlan +
           p.vlan_key + p.ip_bytes + p.anomalies + p.teid + p.proto;
  }
};

uint64_t ld(const nprobe::Counter& a) { return a.load(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int linktype = kLinkTypes[data[0] % (sizeof kLinkTypes / sizeof kLinkTypes[0])];
  nprobe::AnomalyCounters an;
  nprobe::DecodeCounters dc;
  TouchSink sink;
  nprobe::Decoder dec(linktype, an, dc, sink);
  nprobe::ByteReader r(data + 1, size - 1);
  uint64_t ts = 1'700'000'000'000'000;
  int n = 0;
  while (r.has(3) && n++ < 64) {
    const uint16_t lo = r.u8(), hi = r.u8();
    const uint8_t flags = r.u8();
    const size_t caplen = std::min<size_t>(size_t(lo | hi << 8), r.remaining());
    // Exact-size heap copy: a read one byte past the captured frame is an ASan report.
    std::vector<uint8_t> frame(r.cur(), r.cur() + caplen);
    r.skip(caplen);
    uint32_t wire = uint32_t(caplen);
    if (flags & 1) wire += 1 + uint32_t(flags >> 2) * 61;
    if (flags & 2) {
      ts += nprobe::limits::kFragTimeoutUs + 1;
      sink.outer_seen = false;
      dec.expire(ts);
    }
    ts += 10;
    sink.outer_seen = false;
    dec.decode(ts, frame.data(), uint32_t(frame.size()), wire);
  }
  sink.outer_seen = false;
  dec.flush();
  if (dec.frags().in_flight() != 0 || dec.frags().bytes_held() != 0) std::abort();
  // The books the probe's stats keep (test/helpers/probe.ts accountingProblems).
  const uint64_t accounted = sink.outer_pkts + ld(dc.non_ip) + ld(dc.undecodable) + ld(dc.frag_unattributed);
  if (accounted != ld(dc.packets)) std::abort();
  return int(sink.acc & 0);
}
