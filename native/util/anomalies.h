// Named anomalies: every malformed or suspicious input is counted under one of these names
// (DESIGN.md §6). Truncation ("..._truncated...") and invalid values get different names.
// Packet-level anomalies are also OR-ed into the flow's anomaly mask when the flow is known.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>

namespace nprobe {

#define NPROBE_ANOMALIES(X)                                                                     \
  X(link_truncated)               /* link header shorter than its fixed part */                 \
  X(link_unsupported_family)      /* BSD null/loop family that is not IPv4/IPv6 */              \
  X(vlan_truncated)               /* 802.1Q tag cut short */                                    \
  X(vlan_too_many_tags)           /* more than kMaxVlanTags tags */                             \
  X(mpls_truncated)               /* MPLS label cut short */                                    \
  X(mpls_too_many_labels)         /* more than kMaxMplsLabels labels */                         \
  X(mpls_unknown_payload)         /* bottom of stack is neither IPv4 nor IPv6 */                \
  X(pppoe_truncated)              /* PPPoE session header cut short */                          \
  X(ip_bad_version)               /* IP version nibble does not match the link's type */        \
  X(ipv4_truncated_header)        /* fewer captured bytes than the IPv4 header */               \
  X(ipv4_bad_header_length)       /* IHL below 5 or total length below IHL */                   \
  X(ipv4_length_exceeds_frame)    /* total length larger than the frame on the wire */          \
  X(ipv6_truncated_header)        /* fewer captured bytes than the fixed IPv6 header */         \
  X(ipv6_truncated_ext_header)    /* an extension header cut short */                           \
  X(ipv6_too_many_ext_headers)    /* more than kMaxIpv6ExtHeaders headers */                    \
  X(ipv6_length_exceeds_frame)    /* payload length larger than the frame on the wire */        \
  X(tcp_truncated_header)         /* TCP header cut short (ports may be missing) */             \
  X(tcp_bad_data_offset)          /* data offset below 5 or past the segment */                 \
  X(udp_truncated_header)         /* UDP header cut short */                                    \
  X(udp_bad_length)               /* UDP length below 8 or past the IP payload */               \
  X(sctp_truncated_header)        /* SCTP common header cut short */                            \
  X(icmp_truncated_header)        /* ICMP/ICMPv6 type/code missing */                           \
  X(frag_bad_offset)              /* fragment that ends past 65535 or is empty */               \
  X(frag_overlap)                 /* overlapping fragment data (first data kept) */             \
  X(frag_too_many_fragments)      /* datagram gave up: kMaxFragmentsPerDatagram */              \
  X(frag_table_full)              /* datagram gave up: kMaxFragDatagrams in flight */           \
  X(frag_memory_cap)              /* datagram gave up: kMaxFragTotalBytes */                    \
  X(frag_timeout)                 /* datagram gave up: not complete within kFragTimeoutUs */    \
  X(frag_incomplete_at_end)       /* datagram still incomplete when capture ended */            \
  X(frag_orphaned)                /* fragments given up without their first fragment */         \
  X(gtp_truncated)                /* GTP-U header or extension cut short */                     \
  X(gtp_bad_inner_packet)         /* T-PDU payload is not an IPv4/IPv6 packet */                \
  X(capture_ts_backwards)         /* packet timestamp earlier than the previous one */         \
  X(tcp_reassembly_cap)           /* a stream's out-of-order cap hit: the hole became a gap */  \
  X(tcp_reassembly_memory_cap)    /* all flows' waiting bytes hit kMaxWaitingTotal */           \
  X(tcp_overlap)                  /* a segment overlapped data already held (first kept) */    \
  X(intercept_buffer_cap)         /* pending connection: kMaxHeld*PerConn hit, payload not kept */ \
  X(intercept_buffer_memory_cap)  /* pending connections: kMaxHeldBytesTotal hit */             \
  X(intercept_held_cap)           /* NFQUEUE: kMaxHeldNfPackets held, the packet was dropped */ \
  X(capture_frame_cut)            /* file frame larger than a reader chunk: cut to fit */

enum class Anomaly : uint8_t {
#define NPROBE_ANOMALY_ENUM(name) name,
  NPROBE_ANOMALIES(NPROBE_ANOMALY_ENUM)
#undef NPROBE_ANOMALY_ENUM
      kCount
};

inline constexpr size_t kAnomalyCount = static_cast<size_t>(Anomaly::kCount);
static_assert(kAnomalyCount <= 64, "per-flow anomaly mask is 64 bits");

inline const char* anomaly_name(Anomaly a) {
  static constexpr const char* kNames[] = {
#define NPROBE_ANOMALY_NAME(name) #name,
      NPROBE_ANOMALIES(NPROBE_ANOMALY_NAME)
#undef NPROBE_ANOMALY_NAME
  };
  return kNames[static_cast<size_t>(a)];
}

inline constexpr uint64_t anomaly_bit(Anomaly a) { return uint64_t(1) << static_cast<unsigned>(a); }

// Counters written by the capture thread, read by JS at any time.
struct AnomalyCounters {
  std::array<std::atomic<uint64_t>, kAnomalyCount> count{};
  void add(Anomaly a, uint64_t n = 1) {
    count[static_cast<size_t>(a)].fetch_add(n, std::memory_order_relaxed);
  }
};

}  // namespace nprobe
