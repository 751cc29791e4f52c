// DNS over TCP dissector: RFC 1035 §4.2.2 and RFC 7766 §8 (every message preceded by a 2-byte
// length), with RFC 7766 §6.2.1 behaviour: several messages per segment, a message split
// across segments, pipelined queries answered in any order. The messages themselves are
// parsed by dns.h's parse_message() and kept by dns::Transactions, exactly as over UDP
// (dns.cc): the same fields (DNS_QUERY ... DNS_RESPONSE of the first transaction,
// DNS_TRANSACTIONS, DNS_CLIENT) and L7_PROTO 5.
//
// Framing, per direction: a length, then that many bytes. A message inside one stream chunk
// is parsed in place; one that spans chunks is held (at most kMaxMessageBytes of it: a longer
// one is parsed from its first kMaxMessageBytes, dns_tcp_message_cap). A length below the
// 12-byte header is dns_tcp_bad_length (those bytes are skipped: the framing still holds).
// A framed message that no DNS peer sends (the reserved Z bit, an opcode or a question class
// not in use: the peer speaks something else, or the framing is off) is dns_tcp_bad_message
// and is not recorded; the direction then resyncs as after a gap. Damage inside a DNS message
// is the parser's anomaly, and the message is recorded, as over UDP.
//
// Gaps (on_gap, dns_tcp_gap): a hole inside a message of known length costs that message only
// (its bytes before the hole are parsed for what they hold, truncation not named twice) and
// the framing holds; a hole that takes a length prefix loses the framing: the direction
// resumes at the first later stream chunk that starts with a framed DNS message (segments
// usually start at message boundaries). The flow ending inside a message is
// dns_tcp_truncated_message (what was there is parsed).
//
// DNS_CLIENT is the address that asks: the sender of the first message if it is a query, its
// receiver if a response. Over TCP the packet handed with the bytes is not always their sender
// (an ACK can release held bytes, the probe replays what it kept), so a side's address is taken
// from a packet known to carry the bytes (they lie inside its payload), else from the first
// packet, assumed to be the sender.
//
// Detection (probe_stream, reasm window of 2 KiB per direction): the client's first bytes (the
// server's when the client has sent none, a capture started late) are a length >= 12 and a
// DNS message with a question (the UDP probe's header and question rules); a whole message
// must end exactly at its length; a message longer than the window is judged on its header
// and first question. An over-long first question name (dns_name_too_long, walked label by
// label past 255 bytes) is still DNS here, unlike over UDP: the length prefix is a second,
// independent check.
#include <algorithm>
#include <cstring>

#include "../reassembly/tcp_flow.h"
#include "../util/byte_reader.h"
#include "dissector.h"
#include "dns.h"

namespace nprobe {
namespace {

// Bytes of one message held while it spans stream chunks. Messages over TCP are rarely past a
// few KiB (large DNSSEC answers, zone transfers); the answers text is cut at 1 KiB anyway.
constexpr size_t kMaxMessageBytes = 16 * 1024;

bool is_truncation(const char* name) { return std::strncmp(name, "dns_truncated_", 14) == 0; }

bool known_class(uint16_t qclass) {
  // IN, CH, HS, NONE, ANY (the top bit is mDNS's unicast-response bit, RFC 6762).
  const uint16_t cls = qclass & 0x7FFF;
  return cls == 1 || cls == 3 || cls == 4 || cls == 254 || cls == 255;
}

// A framed message after detection: is it still DNS, or is the framing off (or the peer
// speaking something else)? Only what no DNS peer sends says so: the reserved Z bit, an opcode
// not in use, a question class not in use. Damage inside a DNS message (a bad pointer, a cut
// name) is the parser's anomaly, recorded as over UDP.
bool plausible(const dns::Message& m) {
  // RFC 1035 keeps Z zero; opcodes in use: QUERY, STATUS, NOTIFY (RFC 1996), UPDATE (RFC 2136).
  if (m.z || (m.opcode != 0 && m.opcode != 2 && m.opcode != 4 && m.opcode != 5)) return false;
  return !m.has_question || known_class(m.qclass);
}

// Whether a stream's first message (whole, or its first bytes when whole == false) is DNS, for
// detection: 1 yes, -1 no, 0 not known yet (cut before its first question ends). The UDP
// probe's rules (dns::looks_like_dns) with the framing's evidence.
int judge(const dns::Message& m, const dns::Anomalies& an, bool whole) {
  if (!m.header_ok) return 0;
  if (!plausible(m)) return -1;
  if (!m.qr) {
    if (m.rcode != 0 || m.qdcount == 0) return -1;  // a query asks something, without error
  } else if (uint32_t(m.qdcount) + m.ancount + m.nscount + m.arcount == 0) {
    return -1;  // a bare header says nothing
  }
  // The first question's name walked past 255 bytes: a message of DNS's shape with an
  // invalid name, still DNS here (only there: elsewhere the parser goes on after the question).
  const bool question_too_long = m.qdcount > 0 && !m.has_question && an.has("dns_name_too_long");
  for (int i = 0; i < an.n; i++) {
    if (question_too_long && std::strcmp(an.names[i], "dns_name_too_long") == 0) {
      continue;
    } else if (is_truncation(an.names[i])) {
      // A whole message (its length says so) cut inside its questions is not a DNS message;
      // past them it is, damaged (as over UDP). A prefix is cut by our window, not by the peer.
      if (whole && !m.questions_done) return -1;
    } else {
      return -1;  // an invalid value: a bad label type, pointer, loop ...
    }
  }
  if (m.qdcount > 0 && !m.has_question) {
    if (question_too_long) return 1;  // walked far enough to be sure of its shape
    return whole ? -1 : 0;
  }
  return 1;
}

// One direction's first bytes as the start of a DNS-over-TCP stream: 1, 0 or -1 as above.
// window: the bytes the caller can ever show (a verdict of 0 there is final).
int probe_dir(const uint8_t* p, size_t n, size_t window) {
  ByteReader r(p, n);
  if (!r.has(2)) return 0;
  const uint16_t len = r.be16();
  if (len < dns::kHeaderLen) return -1;
  const size_t have = std::min<size_t>(len, r.remaining());
  if (have < dns::kHeaderLen) return n >= window ? -1 : 0;
  const bool whole = have == len;
  if (dns::netbios_shaped(r.cur(), have, false)) return -1;
  dns::Message m;
  dns::Anomalies an;
  dns::parse_message(r.cur(), have, m, an);
  // A stream starts with a question (a query, or the response to one); a message with none is
  // a later part of a zone transfer at best, and a header alone says too little.
  if (m.qdcount == 0) return -1;
  int v = judge(m, an, whole);
  // The length frames the message exactly: its sections end where the length says.
  if (v > 0 && whole && m.complete && m.used != len) v = -1;
  if (v == 0 && n >= window) v = -1;
  return v;
}

class DnsTcpDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx& c) override {
    const int dir = c.dir ? 1 : 0;
    learn_address(c, dir);
    Dir& d = dirs_[dir];
    if (d.lost) {
      // Framing lost: only a chunk that starts with a framed DNS message picks it up again.
      if (probe_dir(c.data, c.len, c.len) <= 0) return;
      d.lost = false;
    }
    ByteReader r(c.data, c.len);
    while (r.remaining() > 0 && !d.lost) {
      if (!d.in_msg) {
        if (d.prefix_have == 0 && r.has(2)) {
          start(d, r.be16());
        } else {
          d.prefix[d.prefix_have++] = r.u8();
          if (d.prefix_have == 2) {
            d.prefix_have = 0;
            start(d, uint16_t(d.prefix[0] << 8 | d.prefix[1]));
          }
        }
        continue;
      }
      const size_t take = std::min<size_t>(d.msg_len - d.got, r.remaining());
      if (d.got == 0 && take == d.msg_len && !d.skip) {
        // The whole message is in this chunk: parse it where it is (its first kMaxMessageBytes,
        // as if held, so the result does not depend on where the chunks end).
        ByteReader msg = r.sub(take);
        d.got = d.msg_len;
        d.in_msg = false;
        const bool capped = msg.size() > kMaxMessageBytes;
        if (capped) anomaly("dns_tcp_message_cap");
        message(dir, msg.base(), capped ? kMaxMessageBytes : msg.size(), capped);
        continue;
      }
      ByteReader part = r.sub(take);
      if (!d.skip && !d.damaged && d.held.size() < kMaxMessageBytes) {
        const size_t keep = std::min(part.size(), kMaxMessageBytes - d.held.size());
        d.held.insert(d.held.end(), part.base(), part.base() + keep);
      }
      d.got += uint32_t(take);
      if (d.got == d.msg_len) finish(dir);
    }
  }

  void on_gap(int dir, uint64_t bytes) override {
    Dir& d = dirs_[dir ? 1 : 0];
    if (d.lost || bytes == 0) return;
    anomaly("dns_tcp_gap");
    if (d.in_msg) {
      const uint64_t left = d.msg_len - d.got;
      if (bytes < left) {
        // The rest of this message follows the hole: the framing holds.
        d.damaged = true;
        d.got += uint32_t(bytes);
        return;
      }
      d.damaged = true;
      d.got = d.msg_len;
      finish(dir ? 1 : 0);
      if (bytes == left) return;  // the hole ends where the next length starts
    }
    d.prefix_have = 0;
    d.lost = true;
  }

  void on_export(FieldWriter& w) override {
    // (Once finished() the engine stopped reading: a message under way then was not cut.)
    for (int dir = 0; dir < 2 && !log_.done(); dir++) {
      Dir& d = dirs_[dir];
      if (d.in_msg || d.prefix_have) {
        // The flow ended inside a message: what came of it is parsed.
        anomaly("dns_tcp_truncated_message");
        if (d.in_msg) {
          d.damaged = true;
          finish(dir);
        }
        d.prefix_have = 0;
      }
    }
    if (asker_ >= 0 && have_addr_) log_.set_client(addr_[asker_], ip_version_);
    log_.write(w);
  }

  uint16_t l7_proto() const override { return l7::kDns; }

  // Every transaction slot is used and answered: the rest of the stream can add nothing.
  bool finished() const override { return log_.done(); }

 private:
  struct Dir {
    uint8_t prefix[2] = {};
    uint8_t prefix_have = 0;  // bytes of a length prefix split across chunks
    bool in_msg = false;
    bool skip = false;        // the message is skipped (a length below the header)
    bool damaged = false;     // a gap took some of it: only the bytes before it are held
    uint16_t msg_len = 0;
    uint32_t got = 0;         // bytes of the message seen (held or not)
    std::vector<uint8_t> held;
    bool lost = false;        // framing lost after a gap or a bad message
  };

  void start(Dir& d, uint16_t len) {
    d.held.clear();
    d.damaged = false;
    d.got = 0;
    d.msg_len = len;
    d.skip = len < dns::kHeaderLen;
    if (d.skip) anomaly("dns_tcp_bad_length");  // a message is at least its 12-byte header
    d.in_msg = len > 0;
  }

  // The message whose bytes are complete (or all there will be): parse what was held.
  void finish(int dir) {
    Dir& d = dirs_[dir];
    d.in_msg = false;
    if (!d.skip) {
      const bool capped = d.msg_len > kMaxMessageBytes;
      if (capped && !d.damaged) anomaly("dns_tcp_message_cap");
      message(dir, d.held.data(), d.held.size(), capped || d.damaged);
    }
    d.held.clear();
    if (d.held.capacity() > 2048) d.held.shrink_to_fit();  // don't keep a big buffer per flow
  }

  // One message (cut: only its first bytes, the rest lost to a gap or a cap).
  void message(int dir, const uint8_t* p, size_t len, bool cut) {
    dns::Message m;
    dns::Anomalies an;
    const bool ok = dns::parse_message(p, len, m, an);
    if (!ok) {
      if (!cut) anomaly("dns_tcp_bad_message");
      return;  // a cut left less than a header: nothing to record
    }
    if (!plausible(m)) {
      // Not a DNS message: the peer speaks something else or the framing is off.
      anomaly("dns_tcp_bad_message");
      dirs_[dir].lost = true;
      return;
    }
    for (int i = 0; i < an.n; i++)
      if (!cut || !is_truncation(an.names[i])) anomaly(an.names[i]);  // our cut is named already
    if (!cut && m.complete && m.used != len) anomaly("dns_tcp_trailing_bytes");
    if (asker_ < 0) asker_ = m.qr ? 1 - dir : dir;
    log_.add(m, *this);
  }

  void learn_address(const PayloadCtx& c, int dir) {
    if (!c.pkt || (c.pkt->ip_version != 4 && c.pkt->ip_version != 6)) return;
    const Packet& p = *c.pkt;
    const auto at = [](const uint8_t* x) { return reinterpret_cast<uintptr_t>(x); };
    // The bytes lie inside this packet's payload: it is their sender.
    const bool sender = p.payload && at(c.data) >= at(p.payload) && at(c.data) + c.len <= at(p.payload) + p.payload_len;
    if (addr_sure_ || (have_addr_ && !sender)) return;
    addr_[dir] = p.src;
    addr_[1 - dir] = p.dst;
    ip_version_ = p.ip_version;
    have_addr_ = true;
    addr_sure_ = sender;
  }

  Dir dirs_[2];
  dns::Transactions log_;
  int asker_ = -1;  // the direction whose sender asks (the DNS client)
  IpAddr addr_[2]{};
  uint8_t ip_version_ = 0;
  bool have_addr_ = false, addr_sure_ = false;
};

bool hint(uint16_t cport, uint16_t sport) { return sport == 53 || cport == 53; }

int probe_stream(const uint8_t* c2s, uint32_t c2s_len, const uint8_t* s2c, uint32_t s2c_len, uint16_t, uint16_t) {
  // The client speaks first; a capture that started late may show the server's bytes only.
  if (c2s_len > 0) return probe_dir(c2s, c2s_len, reasm_limits::kProbeBytesPerDir);
  if (s2c_len > 0) return probe_dir(s2c, s2c_len, reasm_limits::kProbeBytesPerDir);
  return 0;
}

// The packet probe is unused for TCP (the engine calls probe_stream); it answers for the bytes
// as the start of a client's stream, which lets the test binding and the fuzzer reach
// probe_stream.
bool probe(const uint8_t* data, uint32_t len, uint16_t sport, uint16_t dport) {
  return probe_stream(data, len, nullptr, 0, sport, dport) > 0;
}

std::unique_ptr<Dissector> create() { return std::make_unique<DnsTcpDissector>(); }

}  // namespace

extern const DissectorInfo kDnsTcpInfo{"DNS-TCP", l7::kDns, 6, hint, probe, create, probe_stream};

}  // namespace nprobe
