// What the decoder knows about one packet after link, network and transport layers.
// Addresses are 16 bytes; an IPv4 address uses the first 4 and zeroes the rest.
#pragma once
#include <cstdint>
#include <cstring>

namespace nprobe {

struct IpAddr {
  uint8_t b[16];
};

inline bool operator==(const IpAddr& a, const IpAddr& b) { return std::memcmp(a.b, b.b, 16) == 0; }

namespace tcpflag {
inline constexpr uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20;
}

struct Packet {
  // capture
  uint64_t ts_us = 0;        // packet time (last wire packet of a reassembled datagram)
  uint64_t ts_first_us = 0;  // first wire packet's time (differs only for reassembled datagrams)
  // link
  uint8_t src_mac[6] = {};
  uint8_t dst_mac[6] = {};
  bool has_mac = false;
  uint16_t vlan = 0;         // innermost 802.1Q id (the customer VLAN for QinQ)
  uint32_t vlan_key = 0;     // every tag popped, packed: part of the flow key
  // network
  uint8_t ip_version = 0;    // 4 or 6; 0 = not IP
  uint8_t proto = 0;         // IP protocol of the transport header (after IPv6 ext headers)
  IpAddr src{}, dst{};
  uint32_t ip_bytes = 0;     // IP-layer bytes on the wire, summed over fragments
  uint32_t wire_pkts = 1;    // wire packets this packet stands for (fragments of one datagram)
  // transport
  bool has_ports = false;
  uint16_t sport = 0, dport = 0;
  uint8_t tcp_flags = 0;
  uint32_t tcp_seq = 0;
  uint32_t tcp_ack = 0;
  uint8_t icmp_type = 0, icmp_code = 0;
  bool has_icmp = false;
  const uint8_t* payload = nullptr;  // transport payload as captured (may be shorter than sent)
  uint32_t payload_len = 0;
  uint32_t payload_wire_len = 0;     // transport payload length on the wire (TCP)
  uint64_t anomalies = 0;            // anomaly bits seen while decoding this packet
  // tunnel (filled for a packet found inside GTP-U)
  bool tunneled = false;
  uint32_t teid = 0;
  uint8_t outer_version = 0;         // the tunnel's endpoints (outer IP header), for the record
  IpAddr outer_src{}, outer_dst{};
};

}  // namespace nprobe
