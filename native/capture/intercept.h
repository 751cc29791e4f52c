// The connection hook's native half (DESIGN.md §5, seed 000: Dr.Web's intercept_hook).
// Each new TCP connection becomes a ConnEvent that JS drains in batches; until JS answers,
// the flow's verdict is "pending": its packets are counted at once, their payload is kept
// here (bounded) for dissection and, inline (NFQUEUE), the packets themselves are held by
// id. Also here: the capture host's own addresses (passive divert), and TCP resets built per
// RFC 793 §3.4 ("Reset Generation") with RFC 793/RFC 8200 checksums, sent through a raw
// socket (inline) or pcap_inject (passive, --intercept-rst).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../decode/packet.h"

namespace nprobe {

// FLOW_VERDICT values (src/lua/intercept.ts VERDICT_CODE). 0: no hook ran for the flow.
namespace verdict {
inline constexpr uint8_t kNone = 0, kPass = 1, kDrop = 2, kCheck = 3, kReject = 4;
inline constexpr uint8_t kPending = 255;  // never exported: a flow waits for its verdict first
inline bool valid(uint8_t v) { return v <= kReject; }
// Verdicts after which the connection is dissected (no hook, or "check").
inline bool dissects(uint8_t v) { return v == kNone || v == kCheck; }
}  // namespace verdict

// Seed 000's ctx.divert.
enum class Divert : uint8_t { kInput = 1, kOutput = 2, kForward = 3 };

// A new connection as JS sees it (src/intercept/bridge.ts decodes kConnEventSize bytes).
struct ConnEvent {
  uint64_t flow_id = 0;
  uint64_t ts_us = 0;       // first packet's time
  IpAddr src{}, dst{};      // client (sender of the first packet), server
  uint16_t sport = 0, dport = 0;
  uint8_t ip_version = 4;
  Divert divert = Divert::kForward;
  bool has_uid = false, has_gid = false;  // NFQUEUE gave the socket owner (output)
  uint32_t uid = 0, gid = 0;
  char iface_in[16] = {};   // NUL-terminated; empty = unknown (nil in Lua)
  char iface_out[16] = {};
};

// Layout (little endian): 0 flow_id u64 | 8 ts_us u64 | 16 src[16] | 32 dst[16] | 48 sport u16 |
// 50 dport u16 | 52 ip_version u8 | 53 divert u8 | 54 flags u8 (1 uid, 2 gid) | 55 pad |
// 56 uid u32 | 60 gid u32 | 64 iface_in[16] | 80 iface_out[16].
inline constexpr size_t kConnEventSize = 96;
void encode_conn_event(const ConnEvent& e, uint8_t* out);

// A packet of a pending connection, kept for replay into reassembly on "check".
struct HeldSegment {
  Packet pkt;           // decoded fields; pkt.payload is re-pointed into bytes on replay
  uint32_t off = 0;     // payload offset in InterceptState::bytes
  uint8_t dir = 0;
};

// The last segment a side sent, enough to answer it with a reset (RFC 793 §3.4).
struct SegmentSeen {
  bool seen = false;
  uint32_t seq = 0, ack = 0;
  uint32_t len = 0;     // sequence space used: payload + SYN + FIN
  uint8_t flags = 0;
};

// Per-flow state while the verdict is pending (owned by the flow, freed on the verdict).
struct InterceptState {
  std::vector<HeldSegment> segs;
  std::vector<uint8_t> bytes;     // payloads of segs, back to back
  std::vector<uint32_t> nf_ids;   // NFQUEUE packet ids held until the verdict
  SegmentSeen last[2];            // per direction (0 client->server)
  uint8_t last_dir = 0;           // direction of the latest segment
  uint64_t since_wall_us = 0;     // when the connection started waiting (native time-out)
};

// The capture host's own addresses, for passive divert (input/output/forward).
class LocalAddrs {
 public:
  void load();  // getifaddrs(); empty on failure (everything is then "forward")
  bool contains(const IpAddr& a, uint8_t ip_version) const;
  size_t size() const { return addrs_.size(); }

 private:
  struct Entry {
    IpAddr a;
    uint8_t v;
  };
  std::vector<Entry> addrs_;
};

// Builds an IPv4 or IPv6 packet carrying one TCP segment with no payload (a reset), with
// valid IP and TCP checksums. Returns its length (<= kMaxRstPacket), 0 on a bad version.
inline constexpr size_t kMaxRstPacket = 60;
size_t build_tcp_reset(uint8_t ip_version, const IpAddr& src, const IpAddr& dst, uint16_t sport, uint16_t dport,
                       uint32_t seq, uint32_t ack, uint8_t flags, uint8_t* out);

// RFC 793 §3.4: the reset answering segment `s` (sent by the other side): seq from its ACK
// if it has one, else seq 0 with ACK = its seq + length.
void reset_for(const SegmentSeen& s, uint32_t& seq, uint32_t& ack, uint8_t& flags);

// Raw IP sockets for resets sent inline (the packet carries its own IP header).
class RawSender {
 public:
  ~RawSender();
  // Opens both sockets now, while the probe still has its privileges (-u drops them later).
  void open();
  // Sends an IP packet built by build_tcp_reset; false (errno kept) on failure.
  bool send(uint8_t ip_version, const uint8_t* pkt, size_t len, const IpAddr& dst);

 private:
  int fd4_ = -1, fd6_ = -1;
};

}  // namespace nprobe
