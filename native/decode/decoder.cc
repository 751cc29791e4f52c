// Packet decoder: see decoder.h. Layouts: IEEE 802.3 / 802.1Q, RFC 3032 (MPLS),
// RFC 2516 (PPPoE), tcpdump.org LINKTYPE_LINUX_SLL/SLL2/NULL/LOOP, RFC 791 (IPv4),
// RFC 8200 (IPv6), RFC 9293 (TCP), RFC 768 (UDP), RFC 9260 (SCTP), RFC 792/4443 (ICMP),
// 3GPP TS 29.281 (GTP-U).
#include "decoder.h"

#include <algorithm>

#include "../util/limits.h"

namespace nprobe {

namespace {
// pcap LINKTYPE_* values (as returned by pcap_datalink, i.e. DLT_* on Linux).
constexpr int kDltNull = 0, kDltEthernet = 1, kDltRaw = 12, kDltRawAlt = 14, kDltLoop = 108,
              kDltLinuxSll = 113, kDltLinuxSll2 = 276, kDltIpv4 = 228, kDltIpv6 = 229,
              kLinktypeRaw = 101;
constexpr uint16_t kEthIpv4 = 0x0800, kEthIpv6 = 0x86DD, kEthVlan = 0x8100, kEthQinQ = 0x88A8,
                   kEthQinQOld = 0x9100, kEthMpls = 0x8847, kEthMplsMc = 0x8848,
                   kEthPppoeSess = 0x8864;
constexpr uint16_t kGtpuPort = 2152;
}  // namespace

Decoder::Decoder(int linktype, AnomalyCounters& an, DecodeCounters& dc, PacketSink& sink)
    : linktype_(linktype), an_(an), dc_(dc), sink_(sink),
      frags_(an, [this](const Reassembled& r) { on_reassembled(r); }) {}

bool Decoder::supported_linktype(int lt) {
  switch (lt) {
    case kDltNull: case kDltEthernet: case kDltRaw: case kDltRawAlt: case kDltLoop:
    case kDltLinuxSll: case kDltLinuxSll2: case kDltIpv4: case kDltIpv6: case kLinktypeRaw:
      return true;
    default:
      return false;
  }
}

void Decoder::decode(uint64_t ts_us, const uint8_t* data, uint32_t caplen, uint32_t len) {
  dc_.packets.add();
  dc_.wire_bytes.add(len);
  Packet p;
  p.ts_us = p.ts_first_us = ts_us;
  // A frame can claim less on the wire than was captured only if the file is odd: trust caplen.
  if (len < caplen) len = caplen;
  ByteReader r(data, caplen);
  switch (linktype_) {
    case kDltEthernet: {
      if (!r.has(14)) {
        anomaly(p, Anomaly::link_truncated);
        count_undecodable();
        return;
      }
      const auto h = r.take<14>();  // destination, source, ethertype
      std::memcpy(p.dst_mac, h.data(), 6);
      std::memcpy(p.src_mac, h.data() + 6, 6);
      p.has_mac = true;
      const uint16_t type = ByteReader::be16_at(h, 12);
      decode_ethertype(p, type, r.rest(), len - 14, 0);
      return;
    }
    case kDltLinuxSll: {
      // packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
      if (!r.has(16)) break;
      r.skip(4);
      uint16_t halen = r.be16();
      uint8_t addr[8];
      r.copy(addr, 8);
      if (halen == 6) std::memcpy(p.src_mac, addr, 6), p.has_mac = true;
      uint16_t proto = r.be16();
      decode_ethertype(p, proto, r.rest(), len - 16, 0);
      return;
    }
    case kDltLinuxSll2: {
      // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8)
      if (!r.has(20)) break;
      uint16_t proto = r.be16();
      r.skip(9);  // reserved, ifindex, ARPHRD, packet type
      uint8_t halen = r.u8();
      uint8_t addr[8];
      r.copy(addr, 8);
      if (halen == 6) std::memcpy(p.src_mac, addr, 6), p.has_mac = true;
      decode_ethertype(p, proto, r.rest(), len - 20, 0);
      return;
    }
    case kDltNull:
    case kDltLoop: {
      if (!r.has(4)) break;
      // NULL stores the family in the capturing host's byte order, LOOP in network order.
      uint32_t fam = linktype_ == kDltLoop ? r.be32() : r.le32();
      if (linktype_ == kDltNull && fam > 0xFFFF) fam = __builtin_bswap32(fam);
      // AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
      if (fam == 2) {
        decode_ipv4(p, r.rest(), len - 4);
      } else if (fam == 10 || fam == 24 || fam == 28 || fam == 30) {
        decode_ipv6(p, r.rest(), len - 4);
      } else {
        anomaly(p, Anomaly::link_unsupported_family);
        count_non_ip();
      }
      return;
    }
    case kDltRaw: case kDltRawAlt: case kLinktypeRaw:
      decode_ip(p, r, len);
      return;
    case kDltIpv4:
      decode_ipv4(p, r, len);
      return;
    case kDltIpv6:
      decode_ipv6(p, r, len);
      return;
    default:
      count_non_ip();
      return;
  }
  anomaly(p, Anomaly::link_truncated);
  count_undecodable();
}

void Decoder::decode_ethertype(Packet& p, uint16_t type, ByteReader r, uint32_t wire_left, int depth) {
  int vlans = 0;
  // 802.1Q / 802.1ad tags: TCI(2) then the next ethertype.
  while (type == kEthVlan || type == kEthQinQ || type == kEthQinQOld) {
    if (++vlans > limits::kMaxVlanTags) {
      anomaly(p, Anomaly::vlan_too_many_tags);
      count_undecodable();
      return;
    }
    if (!r.has(4)) {
      anomaly(p, Anomaly::vlan_truncated);
      count_undecodable();
      return;
    }
    uint16_t vid = r.be16() & 0x0FFF;
    type = r.be16();
    wire_left -= 4;
    p.vlan = vid;  // innermost wins, as nDPI reports it
    p.vlan_key = (p.vlan_key << 12) ^ vid ^ (uint32_t(vlans) << 28);
  }
  switch (type) {
    case kEthIpv4:
      decode_ipv4(p, r, wire_left);
      return;
    case kEthIpv6:
      decode_ipv6(p, r, wire_left);
      return;
    case kEthMpls:
    case kEthMplsMc: {
      // Label stack entries of 4 bytes until the bottom-of-stack bit; what follows carries no
      // type, so the IP version nibble decides.
      for (int i = 0;; i++) {
        if (i >= limits::kMaxMplsLabels) {
          anomaly(p, Anomaly::mpls_too_many_labels);
          count_undecodable();
          return;
        }
        if (!r.has(4)) {
          anomaly(p, Anomaly::mpls_truncated);
          count_undecodable();
          return;
        }
        uint32_t e = r.be32();
        wire_left -= 4;
        if (e & 0x100) break;
      }
      uint8_t v = r.peek8() >> 4;
      if (v == 4 || v == 6) {
        decode_ip(p, r, wire_left);
      } else {
        anomaly(p, Anomaly::mpls_unknown_payload);
        count_non_ip();
      }
      return;
    }
    case kEthPppoeSess: {
      // ver/type(1) code(1) session(2) length(2), then the PPP protocol field (2).
      if (!r.has(8)) {
        anomaly(p, Anomaly::pppoe_truncated);
        count_undecodable();
        return;
      }
      r.skip(6);
      uint16_t ppp = r.be16();
      wire_left -= 8;
      if (ppp == 0x0021) {
        decode_ipv4(p, r.rest(), wire_left);
      } else if (ppp == 0x0057) {
        decode_ipv6(p, r.rest(), wire_left);
      } else {
        count_non_ip();  // LCP, IPCP, ...
      }
      return;
    }
    default:
      (void)depth;
      count_non_ip();
      return;
  }
}

void Decoder::decode_ip(Packet& p, ByteReader r, uint32_t wire_left) {
  uint8_t v = r.peek8() >> 4;
  if (v == 4) {
    decode_ipv4(p, r, wire_left);
  } else if (v == 6) {
    decode_ipv6(p, r, wire_left);
  } else {
    anomaly(p, r.has(1) ? Anomaly::ip_bad_version : Anomaly::link_truncated);
    count_undecodable();
  }
}

void Decoder::decode_ipv4(Packet& p, ByteReader r, uint32_t wire_left) {
  if (!r.has(20)) {
    anomaly(p, Anomaly::ipv4_truncated_header);
    count_undecodable();
    return;
  }
  // The fixed header (RFC 791 §3.1) in one read. The checksum is not verified (offloaded
  // checksums are wrong on live captures); DSCP/ECN and TTL are not used.
  const auto h = r.take<20>();
  const uint8_t vihl = h[0];
  if ((vihl >> 4) != 4) {
    anomaly(p, Anomaly::ip_bad_version);
    count_undecodable();
    return;
  }
  uint32_t ihl = uint32_t(vihl & 0x0F) * 4;
  uint32_t total = ByteReader::be16_at(h, 2);
  const uint16_t id = ByteReader::be16_at(h, 4);
  const uint16_t frag = ByteReader::be16_at(h, 6);
  const uint8_t proto = h[9];
  p.ip_version = 4;
  p.proto = proto;
  std::memset(p.src.b, 0, 16);
  std::memset(p.dst.b, 0, 16);
  std::memcpy(p.src.b, h.data() + 12, 4);
  std::memcpy(p.dst.b, h.data() + 16, 4);
  dc_.ip_packets.add();
  if (ihl < 20 || (total != 0 && total < ihl)) {
    // The header contradicts itself, so its addresses can't be trusted either: no flow
    // (tshark agrees: a bogus header length ends dissection at the IP layer).
    anomaly(p, Anomaly::ipv4_bad_header_length);
    count_undecodable();
    return;
  }
  if (total == 0) {
    total = wire_left;  // TCP segmentation offload on a live capture leaves 0 here
  } else if (total > wire_left) {
    anomaly(p, Anomaly::ipv4_length_exceeds_frame);
    total = wire_left;
  }
  p.ip_bytes = total;
  if (!r.has(ihl - 20)) {
    anomaly(p, Anomaly::ipv4_truncated_header);
    deliver(p);
    return;
  }
  r.skip(ihl - 20);  // options
  // What was captured of the payload, limited to the IP total length (drops Ethernet padding).
  uint32_t l4_wire = total - ihl;
  uint32_t l4_cap = uint32_t(std::min<size_t>(r.remaining(), l4_wire));
  ByteReader l4 = r.sub(l4_cap);

  const bool more = frag & 0x2000;
  const uint32_t offset = uint32_t(frag & 0x1FFF) * 8;
  if (more || offset) {
    dc_.fragments.add();
    FragKey key{p.src, p.dst, id, p.vlan_key, p.vlan, proto, 4, p.tunneled};
    frags_.add(Fragment{&key, proto, offset, more, l4.base(), l4_cap, l4_wire, p.ip_bytes, p.ts_us, frag_context(p), p.anomalies});
    return;
  }
  decode_l4(p, l4, l4_wire, false);
  deliver(p);
}

void Decoder::decode_ipv6(Packet& p, ByteReader r, uint32_t wire_left) {
  if (!r.has(40)) {
    anomaly(p, Anomaly::ipv6_truncated_header);
    count_undecodable();
    return;
  }
  uint8_t v = r.peek8() >> 4;
  if (v != 6) {
    anomaly(p, Anomaly::ip_bad_version);
    count_undecodable();
    return;
  }
  r.skip(4);
  uint32_t plen = r.be16();
  uint8_t next = r.u8();
  r.skip(1);  // hop limit
  p.ip_version = 6;
  r.copy(p.src.b, 16);
  r.copy(p.dst.b, 16);
  dc_.ip_packets.add();
  uint32_t total = 40 + plen;
  if (plen == 0) {
    total = wire_left;  // jumbogram (RFC 2675) or offload: the frame tells the length
  } else if (total > wire_left) {
    anomaly(p, Anomaly::ipv6_length_exceeds_frame);
    total = wire_left;
  }
  p.ip_bytes = total;
  uint32_t left_wire = total - 40;  // L3 payload bytes on the wire after the fixed header
  ByteReader rest = r.sub(std::min<size_t>(r.remaining(), left_wire));

  bool is_frag = false, frag_more = false;
  uint32_t frag_off = 0, frag_id = 0;
  for (int n = 0;; n++) {
    if (n > limits::kMaxIpv6ExtHeaders) {
      anomaly(p, Anomaly::ipv6_too_many_ext_headers);
      p.proto = next;
      deliver(p);
      return;
    }
    uint32_t hlen;
    switch (next) {
      case 0:    // hop-by-hop options
      case 43:   // routing
      case 60:   // destination options
      case 135:  // mobility
      case 139:  // HIP
      case 140:  // shim6
        if (!rest.has(2)) goto truncated;
        hlen = (uint32_t(rest.peek8(1)) + 1) * 8;
        break;
      case 51:  // AH: length in 4-byte units, minus 2
        if (!rest.has(2)) goto truncated;
        hlen = (uint32_t(rest.peek8(1)) + 2) * 4;
        break;
      case 44: {  // fragment: next(1) reserved(1) offset/flags(2) id(4)
        if (!rest.has(8)) goto truncated;
        uint8_t nh = rest.u8();
        rest.skip(1);
        uint16_t of = rest.be16();
        frag_id = rest.be32();
        left_wire -= 8;
        frag_off = uint32_t(of & 0xFFF8);
        frag_more = of & 1;
        // An atomic fragment (offset 0, no more; RFC 6946) is a whole packet: no reassembly.
        is_frag = frag_off != 0 || frag_more;
        next = nh;
        continue;
      }
      default:
        goto done;
    }
    if (!rest.has(hlen)) goto truncated;
    next = rest.u8();
    rest.skip(hlen - 1);
    left_wire -= hlen;
  }
truncated:
  anomaly(p, Anomaly::ipv6_truncated_ext_header);
  p.proto = next;
  deliver(p);
  return;
done:
  p.proto = next;
  if (is_frag) {
    dc_.fragments.add();
    FragKey key{p.src, p.dst, frag_id, p.vlan_key, p.vlan, 0, 6, p.tunneled};
    uint32_t cap = uint32_t(rest.remaining());
    frags_.add(Fragment{&key, next, frag_off, frag_more, rest.cur(), cap, left_wire, p.ip_bytes, p.ts_us, frag_context(p), p.anomalies});
    return;
  }
  decode_l4(p, rest.rest(), left_wire, false);
  deliver(p);
}

void Decoder::decode_l4(Packet& p, ByteReader r, uint32_t wire_l4, bool partial) {
  switch (p.proto) {
    case 6: {  // TCP
      if (!r.has(20)) {
        if (r.has(4)) {
          p.sport = r.be16();
          p.dport = r.be16();
          p.has_ports = true;
        }
        anomaly(p, Anomaly::tcp_truncated_header);
        return;
      }
      // The fixed header (RFC 9293 §3.1) in one read; window, checksum, urgent not used.
      const auto h = r.take<20>();
      p.sport = ByteReader::be16_at(h, 0);
      p.dport = ByteReader::be16_at(h, 2);
      p.has_ports = true;
      p.tcp_seq = ByteReader::be32_at(h, 4);
      p.tcp_ack = ByteReader::be32_at(h, 8);
      uint32_t off = uint32_t(h[12] >> 4) * 4;
      p.tcp_flags = h[13];
      if (partial) return;
      if (off < 20 || off > wire_l4) {
        anomaly(p, Anomaly::tcp_bad_data_offset);
        return;
      }
      p.payload_wire_len = wire_l4 - off;
      if (!r.has(off - 20)) return;  // options cut by snaplen: no payload to look at
      r.skip(off - 20);
      p.payload = r.cur();
      p.payload_len = uint32_t(std::min<size_t>(r.remaining(), p.payload_wire_len));
      return;
    }
    case 17:    // UDP
    case 136: {  // UDP-Lite (same ports layout)
      if (!r.has(8)) {
        if (r.has(4)) {
          p.sport = r.be16();
          p.dport = r.be16();
          p.has_ports = true;
        }
        anomaly(p, Anomaly::udp_truncated_header);
        return;
      }
      const auto h = r.take<8>();  // ports, length, checksum (not verified)
      p.sport = ByteReader::be16_at(h, 0);
      p.dport = ByteReader::be16_at(h, 2);
      p.has_ports = true;
      uint32_t ulen = ByteReader::be16_at(h, 4);
      if (partial) return;
      uint32_t plen = wire_l4 - 8;
      if (p.proto == 17 && ulen != 0) {
        if (ulen < 8 || ulen > wire_l4) {
          anomaly(p, Anomaly::udp_bad_length);
        } else {
          plen = ulen - 8;
        }
      }
      p.payload = r.cur();
      p.payload_len = uint32_t(std::min<size_t>(r.remaining(), plen));
      return;
    }
    case 132: {  // SCTP common header: ports, verification tag, checksum
      if (!r.has(4)) {
        anomaly(p, Anomaly::sctp_truncated_header);
        return;
      }
      p.sport = r.be16();
      p.dport = r.be16();
      p.has_ports = true;
      return;
    }
    case 1:     // ICMP
    case 58: {  // ICMPv6
      if (!r.has(2)) {
        anomaly(p, Anomaly::icmp_truncated_header);
        return;
      }
      p.icmp_type = r.u8();
      p.icmp_code = r.u8();
      p.has_icmp = true;
      return;
    }
    default:
      return;  // any other protocol: a flow without ports
  }
}

FragContext Decoder::frag_context(const Packet& p) {
  FragContext c;
  std::memcpy(c.src_mac, p.src_mac, 6);
  std::memcpy(c.dst_mac, p.dst_mac, 6);
  c.has_mac = p.has_mac;
  c.tunneled = p.tunneled;
  c.teid = p.teid;
  c.outer_version = p.outer_version;
  c.outer_src = p.outer_src;
  c.outer_dst = p.outer_dst;
  return c;
}

void Decoder::on_reassembled(const Reassembled& ra) {
  if (!ra.first_present) {
    // Without the first fragment there is no transport header: no flow to count them in.
    // Fragments found inside GTP-U are not counted here: their wire packets are already
    // in the tunnel's own flow (counting them again would break the packet books).
    if (!ra.key.tunneled) dc_.frag_unattributed.add(ra.wire_pkts);
    return;
  }
  if (ra.ctx.tunneled && tunnel_depth_ == 0) {
    // A tunnel's datagram given up outside the decapsulation of a tunnel packet (time-out, end
    // of capture, evicted by an outer fragment): the sink (the engine) ties an inner packet
    // to the outer packet it was given just before, which is not this datagram's and may be
    // gone. Its wire packets are already counted in the tunnel's own flow and the give-up is
    // a counted anomaly; only the inner flow misses them.
    return;
  }
  // Link and tunnel context from the datagram itself: this may run at a time-out, at the end
  // of the capture, or while another datagram's frame is decoded (eviction from a full table).
  Packet p;
  std::memcpy(p.src_mac, ra.ctx.src_mac, 6);
  std::memcpy(p.dst_mac, ra.ctx.dst_mac, 6);
  p.has_mac = ra.ctx.has_mac;
  p.tunneled = ra.ctx.tunneled;
  p.teid = ra.ctx.teid;
  p.outer_version = ra.ctx.outer_version;
  p.outer_src = ra.ctx.outer_src;
  p.outer_dst = ra.ctx.outer_dst;
  p.vlan = ra.key.vlan;
  p.vlan_key = ra.key.vlan_key;
  p.ip_version = ra.key.version;
  p.src = ra.key.src;
  p.dst = ra.key.dst;
  p.proto = ra.l4_proto;
  p.ts_first_us = ra.ts_first_us;
  p.ts_us = ra.ts_last_us;
  p.ip_bytes = ra.ip_bytes;
  p.wire_pkts = ra.wire_pkts;
  p.anomalies |= ra.anomalies;
  if (ra.complete) dc_.reassembled.add();
  decode_l4(p, ByteReader(ra.payload, ra.payload_len), ra.payload_len, !ra.complete);
  deliver(p);
}

void Decoder::deliver(Packet& p) {
  sink_.on_packet(p);
  if (p.proto == 17 && p.payload_len && (p.sport == kGtpuPort || p.dport == kGtpuPort) &&
      tunnel_depth_ < limits::kMaxTunnelDepth) {
    decap_gtpu(p);
  }
}

void Decoder::decap_gtpu(const Packet& outer) {
  // flags(1): version(3) PT(1) reserved(1) E S PN; type(1); length(2); TEID(4);
  // if any of E/S/PN: sequence(2) N-PDU(1) next extension type(1), then extensions.
  ByteReader r(outer.payload, outer.payload_len);
  if (!r.has(8)) return;  // too short to be GTP: leave it as plain UDP
  uint8_t flags = r.u8();
  uint8_t type = r.u8();
  uint16_t glen = r.be16();
  uint32_t teid = r.be32();
  if ((flags >> 5) != 1 || !(flags & 0x10) || type != 0xFF) return;  // only G-PDUs carry packets
  Packet p;
  // glen counts the bytes after the mandatory header on the wire; fewer may be captured.
  uint32_t inner_wire = glen;
  ByteReader body = r.sub(std::min<size_t>(glen, r.remaining()));
  if (flags & 0x07) {
    body.skip(3);
    uint8_t ext = body.u8();
    inner_wire = inner_wire >= 4 ? inner_wire - 4 : 0;
    for (int n = 0; ext != 0; n++) {
      if (n >= limits::kMaxGtpExtHeaders || !body.has(1)) {
        anomaly(p, Anomaly::gtp_truncated);
        return;
      }
      uint32_t elen = uint32_t(body.peek8()) * 4;  // includes the length and next-type bytes
      if (elen == 0 || !body.has(elen)) {
        anomaly(p, Anomaly::gtp_truncated);
        return;
      }
      body.skip(elen - 1);
      ext = body.u8();
      inner_wire = inner_wire >= elen ? inner_wire - elen : 0;
    }
    if (!body.ok()) {
      anomaly(p, Anomaly::gtp_truncated);
      return;
    }
  }
  uint8_t v = body.peek8() >> 4;
  if (v != 4 && v != 6) {
    anomaly(p, Anomaly::gtp_bad_inner_packet);
    return;
  }
  p.ts_us = outer.ts_us;
  p.ts_first_us = outer.ts_us;
  std::memcpy(p.src_mac, outer.src_mac, 6);
  std::memcpy(p.dst_mac, outer.dst_mac, 6);
  p.has_mac = outer.has_mac;
  p.vlan = outer.vlan;
  p.vlan_key = outer.vlan_key;
  p.tunneled = true;
  p.teid = teid;
  p.outer_version = outer.ip_version;
  p.outer_src = outer.src;
  p.outer_dst = outer.dst;
  dc_.tunneled.add();
  tunnel_depth_++;
  decode_ip(p, body.rest(), inner_wire);
  tunnel_depth_--;
}

}  // namespace nprobe
