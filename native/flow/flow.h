// A bidirectional flow and its key. The key is direction-free (the lower endpoint first) so
// both directions find the same entry; the flow remembers which side spoke first (client).
#pragma once
#include <cstdint>
#include <cstring>

#include "../decode/packet.h"

namespace nprobe {

struct FlowKey {
  uint8_t a[16];      // lower (address, port) endpoint
  uint8_t b[16];      // higher endpoint
  uint16_t port_a;
  uint16_t port_b;
  uint32_t vlan_key;  // every VLAN tag of the frame, packed
  uint8_t proto;
  uint8_t ip_version;
  uint8_t tunneled;   // flows inside GTP-U never merge with flows outside it
  uint8_t pad;
  bool operator==(const FlowKey& o) const { return std::memcmp(this, &o, sizeof *this) == 0; }
};
static_assert(sizeof(FlowKey) == 44, "FlowKey must have no implicit padding (hashed as bytes)");

// IPFIX flowEndReason (IANA IE 136) values, which nProbe's FLOW_END_REASON uses.
enum class EndReason : uint8_t {
  kIdleTimeout = 1,
  kActiveTimeout = 2,
  kEndOfFlow = 3,       // FIN in both directions, or RST
  kForcedEnd = 4,       // end of capture file, SIGINT/SIGTERM
  kLackOfResources = 5  // evicted because the table was full (-M)
};

inline constexpr uint32_t kNoIndex = UINT32_MAX;

class Dissector;
struct TcpFlowState;
struct InterceptState;

struct Flow {
  FlowKey key;
  Dissector* l7;           // owned; deleted when the flow is exported
  TcpFlowState* tcp;       // owned; TCP streams while a dissector may want them
  uint64_t hash;
  uint64_t flow_id;
  uint64_t first_us, last_us;
  uint64_t pkts[2];     // [0] client->server (IN_PKTS), [1] server->client (OUT_PKTS)
  uint64_t bytes[2];
  uint64_t anomalies;
  uint64_t outer_flow_id;  // for a flow inside GTP-U: the tunnel's own flow
  uint64_t related_flow_id;     // flow that announced this one (FTP data -> control)
  const char* related_field;    // export name for related_flow_id
  uint32_t teid[2];        // GTP-U TEID seen per direction
  IpAddr outer_src, outer_dst;  // for a flow inside GTP-U: the tunnel endpoints of its first packet
  uint8_t outer_version;
  uint32_t lru_prev, lru_next;  // idle list or closing list, most recent at the head
  uint32_t age_prev, age_next;  // creation order, oldest at the head
  uint16_t vlan;
  uint16_t icmp_type;      // type * 256 + code of the first ICMP packet
  uint16_t l7_proto;       // nDPI id: set by the dissector, or GTP_U for a tunnel
  uint8_t l7_tries;        // payload packets probed without a match
  uint8_t l7_done;         // no more probing (matched, or gave up)
  uint8_t client_mac[6];
  uint8_t server_mac[6];
  uint8_t tcp_flags[2];
  uint8_t client_is_a;
  uint8_t fin_seen;        // bit 0: client sent FIN, bit 1: server sent FIN
  uint8_t closing;         // FIN both ways or RST: waiting out the close linger
  uint8_t in_use;
  uint8_t verdict;         // intercept_hook verdict (capture/intercept.h verdict::), 255 while pending
  InterceptState* icpt;    // owned; what waits for the verdict (pending connections only)
  uint8_t resets_sent;     // passive --intercept-rst: rounds of resets sent for a rejected connection
  uint8_t l7_finished;     // l7->finished() as of its last on_payload/on_gap (TCP): the only calls
                           // that change it, so the per-segment checks read this byte instead
};

}  // namespace nprobe
