// Expected connections: the data channels a dissector announces (FTP's PASV/EPSV/PORT/EPRT,
// dissector.h Expectation), waiting for the new TCP flow they describe.
//
// An announcement holds in the network it was made in: the announcing flow's VLAN tags and
// whether it ran inside a GTP-U tunnel are part of its key, as they are of a flow's key
// (flow.h). So a connection to the same address and port on another VLAN (address plans
// reused per VLAN) or outside the tunnel is not taken for it, and when a capture sees both
// legs of a routed connection on two VLANs, each leg's data connection takes its own leg's
// announcement.
//
// Lookup is by (scope, server address, port) in a hash: every new TCP flow asks, and the
// whole table scanned instead cost ~5 us a new flow when full (limits::kMaxExpectations,
// which one control connection can fill with PASV replies): 200k SYNs took 1.27 s, not
// 0.31. Announcements of one endpoint are few; among them the oldest whose client fits is
// taken. All live the same time (limits::kExpectationTtlUs), so they expire in arrival
// order, from the front of a list.
#pragma once
#include <cstdint>
#include <cstring>
#include <list>
#include <unordered_map>

#include "../decode/packet.h"
#include "../dissect/dissector.h"

namespace nprobe {

class ExpectationTable {
 public:
  // Where an announcement holds: the announcing flow's FlowKey vlan_key and tunneled.
  struct Scope {
    uint32_t vlan_key;
    uint8_t tunneled;
  };
  struct Taken {
    uint16_t l7;
    const char* field;
    uint64_t flow_id;  // the announcing flow
  };

  // False when the table is full (the caller counts it); nothing is added then. Expired
  // announcements leave first, so a table full of stale ones takes new ones.
  bool add(const Expectation& e, Scope s, uint64_t flow_id, uint64_t now_us);
  // The announcement the first packet p of a new TCP flow answers (p's receiver is the
  // announced server), removed from the table. Announcements older than now_us go first.
  bool take(Scope s, const Packet& p, uint64_t now_us, Taken& out);
  bool empty() const { return fifo_.empty(); }

 private:
  struct Key {
    uint8_t addr[16];
    uint32_t vlan_key;
    uint16_t port;
    uint8_t ip_version;
    uint8_t tunneled;
    bool operator==(const Key& o) const { return std::memcmp(this, &o, sizeof *this) == 0; }
  };
  static_assert(sizeof(Key) == 24, "Key must have no implicit padding (compared as bytes)");
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Entry {
    Key key;
    Expectation e;
    uint64_t flow_id;
    uint64_t expires_us;
    uint64_t serial;  // arrival number: the oldest of an endpoint's is taken first
  };
  using Fifo = std::list<Entry>;

  static Key key_of(Scope s, uint8_t ip_version, const IpAddr& addr, uint16_t port);
  void expire(uint64_t now_us);
  void erase(Fifo::iterator it);

  Fifo fifo_;  // arrival order
  uint64_t serial_ = 0;
  std::unordered_multimap<Key, Fifo::iterator, KeyHash> index_;
};

}  // namespace nprobe
