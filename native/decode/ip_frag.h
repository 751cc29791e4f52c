// IPv4 (RFC 791) and IPv6 (RFC 8200 §4.5) fragment reassembly, bounded.
// Overlapping data: the first bytes received win (what most stacks do since RFC 5722 made
// overlaps illegal for IPv6), and the overlap is counted. Every give-up is counted, and the
// wire packets of a given-up datagram are still handed back so the flow counts them.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <unordered_map>
#include <vector>

#include "../util/anomalies.h"
#include "packet.h"

namespace nprobe {

struct FragKey {
  IpAddr src, dst;
  uint32_t id;
  uint32_t vlan_key;  // fragments on different VLANs are different datagrams
  uint16_t vlan;
  uint8_t proto;      // IPv4: header protocol; IPv6: 0 (the id alone identifies it)
  uint8_t version;
  uint8_t tunneled;   // inside GTP-U: never merged with fragments outside it (as flows aren't)
  bool operator==(const FragKey& o) const {
    return src == o.src && dst == o.dst && id == o.id && vlan_key == o.vlan_key && proto == o.proto &&
           version == o.version && tunneled == o.tunneled;
  }
};

// Link and tunnel context of the wire packet that opened a datagram. A datagram is delivered
// with it, so one given up later (time-out, eviction, end of capture) does not take the
// MACs or tunnel of whatever frame happens to be decoded at that moment.
struct FragContext {
  uint8_t src_mac[6] = {};
  uint8_t dst_mac[6] = {};
  bool has_mac = false;
  bool tunneled = false;
  uint32_t teid = 0;
  uint8_t outer_version = 0;
  IpAddr outer_src{}, outer_dst{};
};

struct FragKeyHash {
  size_t operator()(const FragKey& k) const;
};

// One fragment as the network layer saw it.
struct Fragment {
  const FragKey* key;
  uint8_t l4_proto;        // protocol of the reassembled payload
  uint32_t offset;         // byte offset of this fragment's data in the payload
  bool more;               // more fragments follow
  const uint8_t* data;     // captured fragment data
  uint32_t data_len;       // captured length (may be less than wire_data_len if snaplen cut)
  uint32_t wire_data_len;  // length of the data on the wire
  uint32_t ip_bytes;       // IP-layer bytes of this wire packet
  uint64_t ts_us;
  FragContext ctx;
  uint64_t anomalies;      // anomaly bits of this wire packet (kept on the datagram's flow)
};

// A finished datagram: either complete (payload valid) or given up (payload only holds what
// the first fragment carried, enough for ports, when first_present).
struct Reassembled {
  bool complete;
  bool first_present;
  uint8_t l4_proto;
  const uint8_t* payload;
  uint32_t payload_len;
  uint32_t wire_pkts;
  uint32_t ip_bytes;
  uint64_t ts_first_us, ts_last_us;
  uint64_t anomalies;
  FragKey key;
  FragContext ctx;
};

class FragReassembler {
 public:
  using Sink = std::function<void(const Reassembled&)>;
  FragReassembler(AnomalyCounters& an, Sink on_done) : an_(an), done_(std::move(on_done)) {}

  // Adds a fragment; calls the sink (synchronously) if this completes a datagram.
  void add(const Fragment& f);
  // Gives up on datagrams older than the timeout at time now.
  void expire(uint64_t now_us);
  // Gives up on everything (end of capture).
  void flush();
  size_t in_flight() const { return map_.size(); }
  uint64_t bytes_held() const { return bytes_held_; }

 private:
  struct Piece {
    uint32_t start, end;
  };
  struct Datagram {
    uint64_t gen;
    uint64_t ts_first_us, ts_last_us;
    uint32_t wire_pkts = 0, ip_bytes = 0, frags = 0;
    uint32_t total = UINT32_MAX;  // payload length, known once the last fragment arrived
    uint8_t l4_proto = 0;
    bool truncated = false;       // a fragment was cut by snaplen: deliver only as given up
    bool first_present = false;   // the offset-0 fragment (with the transport header) arrived
    uint32_t first_len = 0;       // captured bytes of the offset-0 fragment
    uint64_t anomalies = 0;
    FragContext ctx;              // of the first wire packet received
    std::vector<uint8_t> buf;
    std::vector<Piece> have;      // sorted, merged byte ranges received
  };
  using Map = std::unordered_map<FragKey, Datagram, FragKeyHash>;
  void give_up(Map::iterator it, Anomaly why);
  void finish(Map::iterator it, bool complete);

  AnomalyCounters& an_;
  Sink done_;
  Map map_;
  std::deque<std::pair<FragKey, uint64_t>> order_;  // creation order, (key, gen) for expiry
  uint64_t next_gen_ = 1;
  uint64_t bytes_held_ = 0;
};

}  // namespace nprobe
