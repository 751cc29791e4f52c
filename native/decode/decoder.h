// Packet decoder: link layer -> IPv4/IPv6 (+extension headers, fragments) -> TCP/UDP/SCTP/ICMP,
// and GTP-U decapsulation (3GPP TS 29.281). Stateless per packet except for fragment
// reassembly. Results go to a PacketSink; nothing here allocates per packet.
//
// Link types (pcap LINKTYPE_*): ETHERNET (802.1Q/802.1ad/QinQ, MPLS, PPPoE session),
// LINUX_SLL, LINUX_SLL2, NULL and LOOP (BSD loopback), RAW / IPV4 / IPV6.
#pragma once
#include <cstdint>

#include "../util/counter.h"
#include "../util/anomalies.h"
#include "../util/byte_reader.h"
#include "ip_frag.h"
#include "packet.h"

namespace nprobe {

// Written by the capture thread only (util/counter.h).
struct DecodeCounters {
  Counter packets;  // frames read from the source
  Counter wire_bytes;  // frame lengths on the wire
  Counter ip_packets;  // frames that carried IPv4/IPv6
  Counter non_ip;  // frames with no IP (ARP, LLC, PPP control, ...)
  Counter undecodable;  // IP frames too broken to give a flow key
  Counter fragments;  // IP fragments seen
  Counter reassembled;  // datagrams rebuilt from fragments
  Counter frag_unattributed;  // fragment packets given up with no first fragment
  Counter tunneled;  // packets found inside GTP-U
};

class PacketSink {
 public:
  virtual ~PacketSink() = default;
  virtual void on_packet(Packet& p) = 0;
};

class Decoder {
 public:
  Decoder(int linktype, AnomalyCounters& an, DecodeCounters& dc, PacketSink& sink);

  static bool supported_linktype(int linktype);

  // Decodes one captured frame; len is the length on the wire, caplen what was captured.
  void decode(uint64_t ts_us, const uint8_t* data, uint32_t caplen, uint32_t len);

  void expire(uint64_t now_us) { frags_.expire(now_us); }
  void flush() { frags_.flush(); }
  const FragReassembler& frags() const { return frags_; }

 private:
  void decode_ethertype(Packet& p, uint16_t type, ByteReader r, uint32_t wire_left, int depth);
  void decode_ip(Packet& p, ByteReader r, uint32_t wire_left);
  void decode_ipv4(Packet& p, ByteReader r, uint32_t wire_left);
  void decode_ipv6(Packet& p, ByteReader r, uint32_t wire_left);
  // Hands a fully decoded packet to the sink, then looks inside it for a GTP-U tunnel.
  void deliver(Packet& p);
  void decap_gtpu(const Packet& outer);
  // Parses the transport header; wire_l4 is the L4 length on the wire. partial: only the
  // start of the payload is known (given-up fragments): read ports, keep no payload.
  void decode_l4(Packet& p, ByteReader r, uint32_t wire_l4, bool partial);
  void on_reassembled(const Reassembled& r);
  static FragContext frag_context(const Packet& p);
  // A broken or non-IP packet inside GTP-U is only an anomaly: its wire packet is already
  // counted in the tunnel's flow, and each wire packet is counted once (the packet books).
  void count_undecodable() {
    if (tunnel_depth_ == 0) dc_.undecodable.add();
  }
  void count_non_ip() {
    if (tunnel_depth_ == 0) dc_.non_ip.add();
  }
  void anomaly(Packet& p, Anomaly a) {
    an_.add(a);
    p.anomalies |= anomaly_bit(a);
  }

  int linktype_;
  AnomalyCounters& an_;
  DecodeCounters& dc_;
  PacketSink& sink_;
  FragReassembler frags_;
  int tunnel_depth_ = 0;
};

}  // namespace nprobe
