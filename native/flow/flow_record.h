// A finished flow as it crosses from the capture thread to JS, and its wire encoding.
// The encoding is a fixed little-endian layout read by src/record.ts; keep the two in step
// (RECORD_SIZE and the offsets there).
#pragma once
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace nprobe {

class Dissector;
struct DissectorDelete {
  void operator()(Dissector* d) const;  // dissect/dissector.cc
};

struct FlowRecord {
  uint64_t flow_id, first_us, last_us;
  uint64_t in_pkts, in_bytes, out_pkts, out_bytes;
  uint64_t anomalies, outer_flow_id;
  uint8_t src[16], dst[16];
  uint16_t sport, dport, vlan, icmp_type, l7_proto;
  uint8_t ip_version, proto, client_flags, server_flags, end_reason, flags;
  uint8_t src_mac[6], dst_mac[6];
  uint32_t teid_up, teid_down;
  std::vector<uint8_t> ext;  // fields the capture thread wrote (variable part), often none
  // The flow's dissector, whose fields are written by the thread that reads the record
  // (Engine::finish_record), straight after ext in the batch, not by the capture thread:
  // writing them is a quarter of the capture thread's work with every dissector on, and the
  // reader has time for it.
  std::unique_ptr<Dissector, DissectorDelete> l7;
};

namespace record_flag {
inline constexpr uint8_t kTunneled = 1, kHasMac = 2;
}

inline constexpr size_t kRecordFixedSize = 144;

// The low n bytes of v, little-endian: a copy of the host's own bytes. A byte loop was ~570
// instructions per record in encode_record_head (the compiler kept the loops and the byte
// stores); with n a constant the copy is one store.
static_assert(std::endian::native == std::endian::little, "the record encoding copies host bytes: little-endian hosts only");
inline void put_le(uint8_t* p, uint64_t v, int n) { std::memcpy(p, &v, size_t(n)); }

// Writes the record's fixed part at out (kRecordFixedSize bytes); ext_len variable bytes
// follow it (the record's ext and the fields its dissector writes: see NativeProbe::ReadBatch).
inline void encode_record_head(const FlowRecord& r, uint8_t* out, uint32_t ext_len) {
  put_le(out + 0, r.flow_id, 8);
  put_le(out + 8, r.first_us, 8);
  put_le(out + 16, r.last_us, 8);
  put_le(out + 24, r.in_pkts, 8);
  put_le(out + 32, r.in_bytes, 8);
  put_le(out + 40, r.out_pkts, 8);
  put_le(out + 48, r.out_bytes, 8);
  put_le(out + 56, r.anomalies, 8);
  put_le(out + 64, r.outer_flow_id, 8);
  std::memcpy(out + 72, r.src, 16);
  std::memcpy(out + 88, r.dst, 16);
  put_le(out + 104, r.sport, 2);
  put_le(out + 106, r.dport, 2);
  put_le(out + 108, r.vlan, 2);
  put_le(out + 110, r.icmp_type, 2);
  put_le(out + 112, r.l7_proto, 2);
  out[114] = r.ip_version;
  out[115] = r.proto;
  out[116] = r.client_flags;
  out[117] = r.server_flags;
  out[118] = r.end_reason;
  out[119] = r.flags;
  std::memcpy(out + 120, r.src_mac, 6);
  std::memcpy(out + 126, r.dst_mac, 6);
  put_le(out + 132, r.teid_up, 4);
  put_le(out + 136, r.teid_down, 4);
  put_le(out + 140, ext_len, 4);
}

}  // namespace nprobe
