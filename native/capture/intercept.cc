// The connection hook's native helpers: see intercept.h.
// Resets per RFC 793 §3.4; IPv4 header (RFC 791) and TCP checksum over the pseudo-header
// (RFC 793 §3.1 for IPv4, RFC 8200 §8.1 for IPv6).
#include "intercept.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "../flow/flow_record.h"

namespace nprobe {

void encode_conn_event(const ConnEvent& e, uint8_t* out) {
  std::memset(out, 0, kConnEventSize);
  put_le(out + 0, e.flow_id, 8);
  put_le(out + 8, e.ts_us, 8);
  std::memcpy(out + 16, e.src.b, 16);
  std::memcpy(out + 32, e.dst.b, 16);
  put_le(out + 48, e.sport, 2);
  put_le(out + 50, e.dport, 2);
  out[52] = e.ip_version;
  out[53] = uint8_t(e.divert);
  out[54] = uint8_t((e.has_uid ? 1 : 0) | (e.has_gid ? 2 : 0));
  put_le(out + 56, e.uid, 4);
  put_le(out + 60, e.gid, 4);
  std::memcpy(out + 64, e.iface_in, 15);   // the 16th byte stays NUL
  std::memcpy(out + 80, e.iface_out, 15);
}

void LocalAddrs::load() {
  addrs_.clear();
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    Entry e{};
    if (i->ifa_addr->sa_family == AF_INET) {
      std::memcpy(e.a.b, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
      e.v = 4;
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      std::memcpy(e.a.b, &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, 16);
      e.v = 6;
    } else {
      continue;
    }
    addrs_.push_back(e);
  }
  freeifaddrs(list);
}

bool LocalAddrs::contains(const IpAddr& a, uint8_t v) const {
  for (const Entry& e : addrs_)
    if (e.v == v && e.a == a) return true;
  return false;
}

namespace {

// One's-complement sum of 16-bit big-endian words (RFC 1071).
uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += uint32_t(p[i]) << 8 | p[i + 1];
  if (n & 1) acc += uint32_t(p[n - 1]) << 8;
  return acc;
}

uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return uint16_t(~acc & 0xffff);
}

void be16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

void be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

}  // namespace

size_t build_tcp_reset(uint8_t v, const IpAddr& src, const IpAddr& dst, uint16_t sport, uint16_t dport, uint32_t seq,
                       uint32_t ack, uint8_t flags, uint8_t* out) {
  const size_t ip_len = v == 4 ? 20 : v == 6 ? 40 : 0;
  if (!ip_len) return 0;
  const size_t total = ip_len + 20;
  std::memset(out, 0, total);
  uint8_t* t = out + ip_len;
  be16(t + 0, sport);
  be16(t + 2, dport);
  be32(t + 4, seq);
  be32(t + 8, (flags & tcpflag::ACK) ? ack : 0);
  t[12] = 5 << 4;  // data offset: 5 words, no options
  t[13] = flags;
  // Window 0: a reset advertises nothing. Checksum below, urgent pointer 0.
  uint32_t acc;
  if (v == 4) {
    out[0] = 0x45;
    be16(out + 2, uint16_t(total));
    out[6] = 0x40;  // DF
    out[8] = 64;    // TTL
    out[9] = 6;
    std::memcpy(out + 12, src.b, 4);
    std::memcpy(out + 16, dst.b, 4);
    be16(out + 10, fold(sum16(out, 20)));
    acc = sum16(src.b, 4, sum16(dst.b, 4)) + 6 + 20;
  } else {
    out[0] = 0x60;
    be16(out + 4, 20);
    out[6] = 6;
    out[7] = 64;  // hop limit
    std::memcpy(out + 8, src.b, 16);
    std::memcpy(out + 24, dst.b, 16);
    acc = sum16(src.b, 16, sum16(dst.b, 16)) + 6 + 20;
  }
  be16(t + 16, fold(sum16(t, 20, acc)));
  return total;
}

void reset_for(const SegmentSeen& s, uint32_t& seq, uint32_t& ack, uint8_t& flags) {
  // "If the incoming segment has an ACK field, the reset takes its sequence number from the
  // ACK field of the segment, otherwise the reset has sequence number zero and the ACK field
  // is set to the sum of the sequence number and segment length of the incoming segment."
  // The ACK is set in both cases: a client in SYN-SENT only accepts a reset that acknowledges
  // its SYN (RFC 793 p. 66), and a synchronized peer checks only the sequence number.
  ack = s.seq + s.len;
  seq = (s.flags & tcpflag::ACK) ? s.ack : 0;
  flags = tcpflag::RST | tcpflag::ACK;
}

RawSender::~RawSender() {
  if (fd4_ >= 0) close(fd4_);
  if (fd6_ >= 0) close(fd6_);
}

void RawSender::open() {
  if (fd4_ < 0) fd4_ = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd6_ < 0) fd6_ = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
}

bool RawSender::send(uint8_t v, const uint8_t* pkt, size_t len, const IpAddr& dst) {
  // IPPROTO_RAW: the packet carries its own IP header (IP_HDRINCL is implied, and for IPv6
  // Linux takes the header as given too).
  int& fd = v == 4 ? fd4_ : fd6_;
  if (fd < 0) {
    fd = socket(v == 4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0) return false;
  }
  ssize_t n;
  if (v == 4) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    std::memcpy(&sa.sin_addr, dst.b, 4);
    n = sendto(fd, pkt, len, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    std::memcpy(&sa.sin6_addr, dst.b, 16);
    n = sendto(fd, pkt, len, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  return n == ssize_t(len);
}

}  // namespace nprobe
