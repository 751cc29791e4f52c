// DHCP dissector: nProbe's DHCP plugin fields for DHCPv4, and DHCPv6 recognised as such.
//
// DHCPv4 follows RFC 2131 (BOOTP header, magic cookie 99.130.83.99, §4.1 option overload:
// option 52 puts more options in the 'file' and/or 'sname' fields), RFC 2132 (options),
// RFC 3396 (an option repeated is one long option, concatenated in the order options field,
// 'file', 'sname') and RFC 3046 / RFC 3993 (option 82 relay agent information: sub-options
// 1 circuit-id, 2 remote-id, 6 subscriber-id).
// DHCPv6 follows RFC 8415 (client/server layout msg-type | 24-bit transaction-id | options,
// relay layout msg-type | hop-count | link-address | peer-address | options with the Relay
// Message option 9 carrying the inner message), RFC 4649 Remote-ID (37), RFC 4580
// Subscriber-ID (38) and RFC 4704 Client FQDN (39). A DHCPv6 flow exports L7_PROTO 103
// (DHCPV6) and DHCP_MESSAGE_TYPE holds the DHCPv6 msg-type (L7_PROTO tells which numbering).
//
// Fields (nProbe element names) describe the flow's first transaction; DHCP_TRANSACTIONS lists
// every transaction (one per transaction id, in order of appearance):
//   {DHCP_XID, DHCP_MESSAGE_TYPE, DHCP_CLIENT_MAC, DHCP_CLIENT_IP, DHCP_CLIENT_NAME,
//    DHCP_REMOTE_ID, DHCP_SUBSCRIBER_ID, DHCP_MESSAGES: [message, ...]}
// and each message, in order, holds the same fields for itself plus this probe's own keys:
// DHCP_OP (BOOTP op), DHCP_CIRCUIT_ID (82.1), DHCP_SERVER_ID (54), DHCP_NEXT_SERVER_IP
// (siaddr), DHCP_RELAY_IP (giaddr), DHCP_LEASE_TIME (51), DHCP_SUBNET_MASK (1), DHCP_ROUTERS
// (3), DHCP_DNS_SERVERS (6; DHCPv6 23), DHCP_DOMAIN_NAME (15), DHCP_VENDOR_CLASS (60),
// DHCP_MESSAGE_TEXT (56), DHCP_CLIENT_IPV6 (DHCPv6 IA addresses). Lists are comma-separated.
// Within one message, DHCP_CLIENT_IP is yiaddr if set (the address the server gives), else
// ciaddr (the address the client holds: renew, rebind, inform, release), else option 50 (the
// address a client asks for); 0.0.0.0 means "none" everywhere. A transaction's fields are the
// latest non-empty value among its messages (a REQUEST after a NAK supersedes the first one).

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../util/byte_reader.h"
#include "../util/json_writer.h"
#include "dissector.h"
#include "../util/ip_text.h"

namespace nprobe {
namespace {

constexpr size_t kBootpFixedLen = 236;         // op .. file (RFC 2131 figure 1)
constexpr size_t kV4MinLen = kBootpFixedLen + 4;  // + magic cookie
constexpr uint32_t kMagicCookie = 0x63825363;  // 99.130.83.99 (RFC 2131 §3)
constexpr uint8_t kMaxV4MessageType = 18;      // IANA: 1 DHCPDISCOVER .. 18 DHCPTLS
constexpr uint8_t kMaxV6MessageType = 37;      // IANA: 1 SOLICIT .. 37 ADDR-REG-REPLY
constexpr uint8_t kV6RelayForw = 12, kV6RelayRepl = 13;

// Caps on per-flow state (DESIGN.md §6); each is counted with a named anomaly when hit.
constexpr size_t kMaxTransactions = dissect_limits::kMaxTransactions;  // "dhcp_transactions_cap"
constexpr size_t kMaxMessagesPerTransaction = 16;  // "dhcp_messages_cap" (retransmissions)
constexpr size_t kMaxStateBytes = 64 * 1024;       // message text kept per flow: "dhcp_state_bytes_cap"
constexpr size_t kMaxOptionBytes = 1024;           // one option after RFC 3396 concatenation: "dhcp_option_bytes_cap"
constexpr size_t kMaxStringBytes = 255;            // one text value: "dhcp_string_cap"
constexpr size_t kMaxAddresses = 16;               // addresses kept from one list option: "dhcp_address_list_cap"
constexpr int kMaxRelayDepth = 8;                  // nested DHCPv6 relay messages: "dhcpv6_relay_depth_cap"

// One DHCP message, reduced to what is exported. Empty string / 0 = absent.
struct Message {
  uint8_t op = 0;    // BOOTP op (v4 only): 1 request, 2 reply
  uint8_t type = 0;  // option 53 (v4; 0 = BOOTP without option 53) or DHCPv6 msg-type
  std::string mac, client_ip, name, remote_id, subscriber_id;
  // Not nProbe elements: kept in DHCP_TRANSACTIONS only.
  std::string server_id, subnet_mask, routers, dns_servers, domain, vendor_class, circuit_id;
  std::string relay_ip, next_server, client_ipv6, message_text;
  uint32_t lease = 0;
  bool has_lease = false;

  size_t text_bytes() const {
    return mac.size() + client_ip.size() + name.size() + remote_id.size() + subscriber_id.size() +
           server_id.size() + subnet_mask.size() + routers.size() + dns_servers.size() + domain.size() +
           vendor_class.size() + circuit_id.size() + relay_ip.size() + next_server.size() + client_ipv6.size() +
           message_text.size();
  }
};

struct Transaction {
  uint32_t xid = 0;
  Message merged;  // the nProbe fields: latest non-empty value of the exchange
  std::vector<Message> messages;
};

// ---- text helpers --------------------------------------------------------------------------

std::string mac_text(const uint8_t* p, size_t n) {
  static const char* hex = "0123456789abcdef";
  std::string s(n ? 3 * n - 1 : 0, ':');  // sized once: this runs for every DHCP message
  for (size_t i = 0; i < n; i++) {
    s[3 * i] = hex[p[i] >> 4];
    s[3 * i + 1] = hex[p[i] & 15];
  }
  return s;
}

bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

void append_list(std::string& list, const std::string& item) {
  if (!list.empty()) list += ',';
  list += item;
}

// ---- DHCPv4 layout checks (shared by probe and dissector) ------------------------------------

// The BOOTP fixed header with a sane op and hlen, followed by the DHCP magic cookie.
bool is_v4(const uint8_t* d, uint32_t len) {
  if (len < kV4MinLen) return false;
  ByteReader r(d, len);
  const uint8_t op = r.u8();
  r.skip(1);
  const uint8_t hlen = r.u8();
  r.skip(kBootpFixedLen - 3);
  return (op == 1 || op == 2) && hlen <= 16 && r.be32() == kMagicCookie && r.ok();
}

// ---- DHCPv6 layout check (probe) -------------------------------------------------------------

// A DUID (RFC 8415 §11) whose length fits its type: LLT, EN, LL or UUID.
bool duid_ok(ByteReader v) {
  const size_t n = v.remaining();
  if (n < 3 || n > 130) return false;
  switch (v.be16()) {
    case 1: return n >= 9;    // type, hw type, time, >= 1 link-layer byte
    case 2: return n >= 7;    // type, enterprise number, >= 1 identifier byte
    case 3: return n >= 5;    // type, hw type, >= 1 link-layer byte
    case 4: return n == 18;   // type, 16-byte UUID (RFC 6355)
    default: return false;
  }
}

// True when the bytes are a DHCPv6 message: known msg-type, at least one option, and an
// option chain that ends exactly at the end of the payload (no code 0). Off the DHCPv6 ports
// (strict) a client/server message must also carry a well-formed Client or Server Identifier;
// a relay message must always carry a Relay Message that is itself a DHCPv6 message.
bool v6_layout_ok(const uint8_t* d, uint32_t len, bool strict, int depth) {
  ByteReader r(d, len);
  const uint8_t type = r.u8();
  if (type == 0 || type > kMaxV6MessageType) return false;
  const bool relay = type == kV6RelayForw || type == kV6RelayRepl;
  r.skip(relay ? 33 : 3);
  if (!r.has(4)) return false;
  bool id_ok = false, inner_ok = false;
  while (r.has(1)) {
    if (!r.has(4)) return false;
    const uint16_t code = r.be16(), olen = r.be16();
    if (code == 0 || !r.has(olen)) return false;
    ByteReader v = r.sub(olen);
    if ((code == 1 || code == 2) && duid_ok(v)) id_ok = true;
    if (code == 9 && relay && depth + 1 < kMaxRelayDepth && v6_layout_ok(v.cur(), olen, strict, depth + 1))
      inner_ok = true;
  }
  if (relay) return inner_ok;
  return id_ok || !strict;
}

bool v6_port(uint16_t s, uint16_t d) { return s == 546 || s == 547 || d == 546 || d == 547; }

// ---- the dissector -------------------------------------------------------------------------

// Option codes whose (concatenated) values a DHCPv4 message keeps.
constexpr uint8_t kKeptOptions[] = {1, 3, 6, 12, 15, 50, 51, 53, 54, 56, 60, 61, 82};
constexpr size_t kNumKept = sizeof kKeptOptions;

// code -> index in kKeptOptions + 1 (0: not kept), so each option costs one load to place.
constexpr std::array<uint8_t, 256> kKeptSlot = [] {
  std::array<uint8_t, 256> t{};
  for (size_t i = 0; i < kNumKept; i++) t[kKeptOptions[i]] = uint8_t(i + 1);
  return t;
}();

// The kept options of one message. A value is read where it lies in the packet (every
// message has a dozen options, and a string per kept one meant constructing, filling and
// freeing them all per message); only an option that repeats (RFC 3396) is joined, in a
// buffer of its own made on the first repeat.
struct V4Options {
  std::string_view value[kNumKept];
  bool seen[kNumKept] = {};
  std::unique_ptr<std::string[]> joined;  // kNumKept buffers, once an option repeats
  static int slot(uint8_t code) { return int(kKeptSlot[code]) - 1; }
  void append(int s, std::string_view v) {
    if (!seen[s]) {
      value[s] = v;
      seen[s] = true;
      return;
    }
    if (!joined) joined = std::make_unique<std::string[]>(kNumKept);
    std::string& j = joined[size_t(s)];
    if (j.empty()) j.assign(value[s]);  // the first part still lies in the packet
    j.append(v);
    value[s] = j;
  }
};

class DhcpDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx& c) override {
    if (mode_ == Mode::kUnknown) {
      if (is_v4(c.data, c.len))
        mode_ = Mode::kV4;
      else if (v6_layout_ok(c.data, c.len, false, 0))
        mode_ = Mode::kV6;
      else {
        // Neither layout: a BOOTP op byte on a payload too short for the fixed header is a
        // cut DHCPv4 message; anything else is not DHCP at all.
        const bool cut_v4 = c.len > 0 && c.len < kV4MinLen && (c.data[0] == 1 || c.data[0] == 2);
        anomaly(cut_v4 ? "dhcp_truncated_header" : "dhcp_unrecognised_message");
        return;
      }
    }
    Message m;
    uint32_t xid = 0;
    const bool ok = mode_ == Mode::kV4 ? parse_v4(c.data, c.len, m, xid)
                                       : parse_v6(ByteReader(c.data, c.len), m, xid, 0);
    if (ok) add(xid, std::move(m));
  }

  void on_export(FieldWriter& w) override {
    if (txs_.empty()) return;
    const Message& f = txs_.front().merged;
    w.str_if("DHCP_CLIENT_MAC", f.mac);
    w.str_if("DHCP_CLIENT_IP", f.client_ip);
    w.str_if("DHCP_CLIENT_NAME", f.name);
    w.str_if("DHCP_REMOTE_ID", f.remote_id);
    w.str_if("DHCP_SUBSCRIBER_ID", f.subscriber_id);
    w.num_if("DHCP_MESSAGE_TYPE", f.type);
    JsonWriter j;
    j.begin_array();
    for (const Transaction& t : txs_) {
      j.begin_object();
      j.kv("DHCP_XID", uint64_t(t.xid));
      write_fields(j, t.merged, false);
      j.key("DHCP_MESSAGES");
      j.begin_array();
      for (const Message& m : t.messages) {
        j.begin_object();
        write_fields(j, m, true);
        j.end_object();
      }
      j.end_array();
      j.end_object();
    }
    j.end_array();
    w.json("DHCP_TRANSACTIONS", j.str());
  }

  uint16_t l7_proto() const override { return mode_ == Mode::kV6 ? l7::kDhcpv6 : l7::kDhcp; }

 private:
  enum class Mode { kUnknown, kV4, kV6 };

  static void kv_if(JsonWriter& j, std::string_view k, const std::string& v) {
    if (!v.empty()) j.kv(k, v);
  }

  static void write_fields(JsonWriter& j, const Message& m, bool all) {
    if (all && m.op) j.kv("DHCP_OP", uint64_t(m.op));
    if (m.type) j.kv("DHCP_MESSAGE_TYPE", uint64_t(m.type));
    kv_if(j, "DHCP_CLIENT_MAC", m.mac);
    kv_if(j, "DHCP_CLIENT_IP", m.client_ip);
    kv_if(j, "DHCP_CLIENT_NAME", m.name);
    kv_if(j, "DHCP_REMOTE_ID", m.remote_id);
    kv_if(j, "DHCP_SUBSCRIBER_ID", m.subscriber_id);
    if (!all) return;
    kv_if(j, "DHCP_CIRCUIT_ID", m.circuit_id);
    kv_if(j, "DHCP_CLIENT_IPV6", m.client_ipv6);
    kv_if(j, "DHCP_SERVER_ID", m.server_id);
    kv_if(j, "DHCP_NEXT_SERVER_IP", m.next_server);
    kv_if(j, "DHCP_RELAY_IP", m.relay_ip);
    if (m.has_lease) j.kv("DHCP_LEASE_TIME", uint64_t(m.lease));
    kv_if(j, "DHCP_SUBNET_MASK", m.subnet_mask);
    kv_if(j, "DHCP_ROUTERS", m.routers);
    kv_if(j, "DHCP_DNS_SERVERS", m.dns_servers);
    kv_if(j, "DHCP_DOMAIN_NAME", m.domain);
    kv_if(j, "DHCP_VENDOR_CLASS", m.vendor_class);
    kv_if(j, "DHCP_MESSAGE_TEXT", m.message_text);
  }

  static void take(std::string& dst, const std::string& src) {
    if (!src.empty()) dst = src;
  }

  void add(uint32_t xid, Message&& m) {
    Transaction* t = nullptr;
    for (Transaction& x : txs_)
      if (x.xid == xid) t = &x;
    if (!t) {
      if (txs_.size() >= kMaxTransactions) {
        anomaly("dhcp_transactions_cap");
        return;
      }
      txs_.emplace_back();
      t = &txs_.back();
      t->xid = xid;
    }
    if (m.type) t->merged.type = m.type;
    take(t->merged.mac, m.mac);
    take(t->merged.client_ip, m.client_ip);
    take(t->merged.name, m.name);
    take(t->merged.remote_id, m.remote_id);
    take(t->merged.subscriber_id, m.subscriber_id);
    if (t->messages.size() >= kMaxMessagesPerTransaction) {
      anomaly("dhcp_messages_cap");
      return;
    }
    const size_t cost = sizeof(Message) + m.text_bytes();
    if (state_bytes_ + cost > kMaxStateBytes) {
      anomaly("dhcp_state_bytes_cap");
      return;
    }
    state_bytes_ += cost;
    // Room for a whole exchange at once (DISCOVER, OFFER, REQUEST, ACK): growing one by one
    // moved every Message kept (sixteen strings each) twice on the way to four.
    if (t->messages.empty()) t->messages.reserve(4);
    t->messages.push_back(std::move(m));
  }

  // Raw option bytes as text: trailing NULs dropped (some clients NUL-terminate), cut at the cap.
  std::string text(std::string_view v) {
    while (!v.empty() && v.back() == '\0') v.remove_suffix(1);
    if (v.size() > kMaxStringBytes) {
      anomaly("dhcp_string_cap");
      v = v.substr(0, kMaxStringBytes);
    }
    return std::string(v);
  }

  // An opaque identifier (remote-id, subscriber-id, circuit-id): as text when it is printable
  // ASCII (the common "eth 1/1/1:100" form), else as colon-separated hex (a MAC, a binary id).
  std::string opaque(std::string_view v) {
    if (v.size() > kMaxStringBytes) {
      anomaly("dhcp_string_cap");
      v = v.substr(0, kMaxStringBytes);
    }
    bool printable = !v.empty();
    for (char ch : v) printable = printable && ch >= 0x20 && ch < 0x7F;
    if (printable) return std::string(v);
    return mac_text(reinterpret_cast<const uint8_t*>(v.data()), v.size());
  }

  // A list of addresses of `width` bytes (4 or 16); a length that is not a multiple is invalid.
  std::string address_list(std::string_view v, size_t width, const char* bad_len) {
    if (v.empty() || v.size() % width) {
      anomaly(bad_len);
      return {};
    }
    std::string out;
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    for (size_t i = 0; i < v.size() / width; i++) {
      if (i == kMaxAddresses) {
        anomaly("dhcp_address_list_cap");
        break;
      }
      const uint8_t* a = p + i * width;
      append_list(out, width == 4 ? ipv4_string(uint32_t(a[0]) << 24 | uint32_t(a[1]) << 16 | uint32_t(a[2]) << 8 | a[3])
                                  : ipv6_string(a));
    }
    return out;
  }

  // One options area (options field, 'file' or 'sname'). Returns false if it did not end
  // cleanly. Option 52 counts only in the options field (RFC 2131 §4.1).
  bool parse_area(ByteReader r, V4Options& o, bool main_area, uint8_t& overload) {
    while (r.has(1)) {
      const uint8_t code = r.u8();
      if (code == 0) continue;  // Pad
      if (code == 255) return true;  // End: what follows is padding
      if (!r.has(1)) {
        anomaly("dhcp_truncated_option");
        return false;
      }
      const uint8_t len = r.u8();
      if (!r.has(len)) {
        anomaly("dhcp_truncated_option");
        return false;
      }
      ByteReader v = r.sub(len);
      if (code == 52) {
        if (!main_area) continue;
        if (len != 1) anomaly("dhcp_bad_option_length");
        else if (v.peek8() < 1 || v.peek8() > 3) anomaly("dhcp_invalid_overload");
        else overload = v.peek8();
        continue;
      }
      const int s = V4Options::slot(code);
      if (s < 0) continue;
      // RFC 3396: a repeated option continues the previous one.
      if (o.value[s].size() + len > kMaxOptionBytes) {
        anomaly("dhcp_option_bytes_cap");
        continue;
      }
      o.append(s, std::string_view(reinterpret_cast<const char*>(v.cur()), len));
    }
    anomaly("dhcp_missing_end_option");
    return false;
  }

  bool parse_v4(const uint8_t* d, uint32_t len, Message& m, uint32_t& xid) {
    if (len < kV4MinLen) {
      anomaly("dhcp_truncated_header");
      return false;
    }
    ByteReader r(d, len);
    m.op = r.u8();
    r.skip(1);  // htype: any hardware type; hlen says how much of chaddr is the address
    const uint8_t hlen = r.u8();
    r.skip(1);  // hops
    xid = r.be32();
    r.skip(4);  // secs, flags
    const uint32_t ciaddr = r.be32(), yiaddr = r.be32(), siaddr = r.be32(), giaddr = r.be32();
    uint8_t chaddr[16];
    r.copy(chaddr, sizeof chaddr);
    ByteReader sname = r.sub(64), file = r.sub(128);
    const uint32_t cookie = r.be32();
    if (m.op != 1 && m.op != 2) {
      anomaly("dhcp_invalid_op");
      return false;
    }
    if (cookie != kMagicCookie) {
      anomaly("dhcp_bad_magic_cookie");
      return false;
    }
    if (hlen > 16) anomaly("dhcp_invalid_hlen");

    V4Options o;
    uint8_t overload = 0;
    parse_area(r.rest(), o, true, overload);
    // RFC 3396 order: options field, then 'file', then 'sname'.
    if (overload & 1) parse_area(file, o, false, overload);
    if (overload & 2) parse_area(sname, o, false, overload);

    auto opt = [&](uint8_t code) -> const std::string_view* {
      const int s = V4Options::slot(code);
      return o.seen[s] ? &o.value[s] : nullptr;
    };
    auto be32_of = [](std::string_view v) {
      const auto* p = reinterpret_cast<const uint8_t*>(v.data());
      return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
    };
    // A 4-byte option (address or number); another length is an invalid value.
    auto four = [&](uint8_t code, uint32_t& out) {
      const std::string_view* v = opt(code);
      if (!v) return false;
      if (v->size() != 4) {
        anomaly("dhcp_bad_option_length");
        return false;
      }
      out = be32_of(*v);
      return true;
    };

    if (const std::string_view* v = opt(53)) {
      if (v->size() != 1) {
        anomaly("dhcp_bad_option_length");
      } else {
        m.type = uint8_t((*v)[0]);
        // Kept as sent (tshark shows it too); a value outside the registry is named.
        if (m.type == 0 || m.type > kMaxV4MessageType) anomaly("dhcp_unknown_message_type");
      }
    }
    // The client's hardware address: chaddr when it is 6 bytes long and set, else a
    // client identifier of hardware type 1 (Ethernet) carrying one (RFC 2132 §9.14).
    if (hlen == 6 && !all_zero(chaddr, 6)) {
      m.mac = mac_text(chaddr, 6);
    } else if (const std::string_view* v = opt(61); v && v->size() == 7 && (*v)[0] == 1) {
      m.mac = mac_text(reinterpret_cast<const uint8_t*>(v->data()) + 1, 6);
    }
    uint32_t requested = 0;
    four(50, requested);
    m.client_ip = yiaddr ? ipv4_string(yiaddr) : ciaddr ? ipv4_string(ciaddr) : requested ? ipv4_string(requested) : "";
    if (siaddr) m.next_server = ipv4_string(siaddr);
    if (giaddr) m.relay_ip = ipv4_string(giaddr);
    if (const std::string_view* v = opt(12)) m.name = text(*v);
    if (const std::string_view* v = opt(82)) parse_relay_agent(*v, m);
    uint32_t a = 0;
    if (four(54, a)) m.server_id = ipv4_string(a);
    if (four(1, a)) m.subnet_mask = ipv4_string(a);
    if (four(51, a)) {
      m.lease = a;
      m.has_lease = true;
    }
    if (const std::string_view* v = opt(3)) m.routers = address_list(*v, 4, "dhcp_bad_option_length");
    if (const std::string_view* v = opt(6)) m.dns_servers = address_list(*v, 4, "dhcp_bad_option_length");
    if (const std::string_view* v = opt(15)) m.domain = text(*v);
    if (const std::string_view* v = opt(60)) m.vendor_class = text(*v);
    if (const std::string_view* v = opt(56)) m.message_text = text(*v);  // Message: why a NAK or DECLINE
    return true;
  }

  // Option 82 (RFC 3046): sub-options code | length | value.
  void parse_relay_agent(std::string_view v, Message& m) {
    ByteReader r(reinterpret_cast<const uint8_t*>(v.data()), v.size());
    while (r.has(1)) {
      const uint8_t code = r.u8();
      if (!r.has(1)) {
        anomaly("dhcp_truncated_suboption");
        return;
      }
      const uint8_t len = r.u8();
      if (!r.has(len)) {
        anomaly("dhcp_truncated_suboption");
        return;
      }
      const std::string_view s(reinterpret_cast<const char*>(r.cur()), len);
      r.skip(len);
      if (code == 1) m.circuit_id = opaque(s);
      else if (code == 2) m.remote_id = opaque(s);
      else if (code == 6) m.subscriber_id = opaque(s);
    }
  }

  // ---- DHCPv6 ----

  bool parse_v6(ByteReader r, Message& m, uint32_t& xid, int depth) {
    const uint8_t type = r.u8();
    const bool relay = type == kV6RelayForw || type == kV6RelayRepl;
    if (relay) {
      r.skip(33);  // hop-count, link-address, peer-address
    } else {
      xid = uint32_t(r.u8()) << 16;
      xid |= r.be16();
    }
    if (!r.ok()) {
      anomaly("dhcpv6_truncated_header");
      return false;
    }
    if (type == 0 || type > kMaxV6MessageType) anomaly("dhcpv6_unknown_message_type");
    ByteReader inner;
    bool has_inner = false;
    while (r.has(1)) {
      if (!r.has(4)) {
        anomaly("dhcpv6_truncated_option");
        break;
      }
      const uint16_t code = r.be16(), len = r.be16();
      if (!r.has(len)) {
        anomaly("dhcpv6_truncated_option");
        break;
      }
      ByteReader v = r.sub(len);
      const std::string_view s(reinterpret_cast<const char*>(v.cur()), len);
      switch (code) {
        case 1: client_duid(v, m); break;
        case 3: ia_addresses(v, 12, m); break;  // IA_NA: IAID, T1, T2, options
        case 4: ia_addresses(v, 4, m); break;   // IA_TA: IAID, options
        case 9:
          if (relay) {
            inner = v;
            has_inner = true;
          }
          break;
        case 23: m.dns_servers = address_list(s, 16, "dhcpv6_bad_option_length"); break;
        case 37:  // enterprise-number, then the remote-id
          if (len <= 4) anomaly("dhcpv6_bad_option_length");
          else m.remote_id = opaque(s.substr(4));
          break;
        case 38: m.subscriber_id = opaque(s); break;
        case 39: m.name = fqdn(v); break;
        default: break;
      }
    }
    if (!relay) {
      m.type = type;
      return true;
    }
    // A relay message says little by itself: the relayed message inside is the transaction.
    if (!has_inner) {
      anomaly("dhcpv6_missing_relay_message");
      return false;
    }
    if (depth + 1 >= kMaxRelayDepth) {
      anomaly("dhcpv6_relay_depth_cap");
      return false;
    }
    return parse_v6(inner, m, xid, depth + 1);
  }

  // Client Identifier: a DUID-LLT or DUID-LL of hardware type 1 (Ethernet) names the MAC.
  void client_duid(ByteReader v, Message& m) {
    const uint16_t type = v.be16();
    if (type != 1 && type != 3) return;
    const uint16_t hw = v.be16();
    if (type == 1) v.skip(4);  // time
    if (v.ok() && hw == 1 && v.remaining() == 6) m.mac = mac_text(v.cur(), 6);
  }

  // IA_NA / IA_TA: the IA Address (5) options after the fixed part.
  void ia_addresses(ByteReader v, size_t fixed, Message& m) {
    if (!v.has(fixed)) {
      anomaly("dhcpv6_bad_option_length");
      return;
    }
    v.skip(fixed);
    size_t n = 0;
    while (v.has(1)) {
      if (!v.has(4)) {
        anomaly("dhcpv6_truncated_option");
        return;
      }
      const uint16_t code = v.be16(), len = v.be16();
      if (!v.has(len)) {
        anomaly("dhcpv6_truncated_option");
        return;
      }
      ByteReader a = v.sub(len);
      if (code != 5) continue;
      if (len < 24) {  // address, preferred and valid lifetimes
        anomaly("dhcpv6_bad_option_length");
        continue;
      }
      if (n++ == kMaxAddresses) {
        anomaly("dhcp_address_list_cap");
        return;
      }
      append_list(m.client_ipv6, ipv6_string(a.cur()));
    }
  }

  // Client FQDN (RFC 4704): flags, then a name in DNS wire format without compression.
  std::string fqdn(ByteReader v) {
    v.skip(1);  // flags
    std::string out;
    while (v.has(1)) {
      const uint8_t l = v.u8();
      if (l == 0) break;
      if (l > 63 || !v.has(l)) {
        anomaly("dhcpv6_bad_fqdn");
        break;
      }
      if (out.size() + l + 1 > kMaxStringBytes) {
        anomaly("dhcp_string_cap");
        break;
      }
      if (!out.empty()) out += '.';
      out.append(reinterpret_cast<const char*>(v.cur()), l);
      v.skip(l);
    }
    return out;
  }

  Mode mode_ = Mode::kUnknown;
  std::vector<Transaction> txs_;
  size_t state_bytes_ = 0;
};

bool hint(uint16_t s, uint16_t d) { return s == 67 || d == 67 || s == 68 || d == 68 || v6_port(s, d); }

bool probe(const uint8_t* d, uint32_t len, uint16_t sport, uint16_t dport) {
  return is_v4(d, len) || v6_layout_ok(d, len, !v6_port(sport, dport), 0);
}

std::unique_ptr<Dissector> create() { return std::make_unique<DhcpDissector>(); }

}  // namespace

extern const DissectorInfo kDhcpInfo{"DHCP", l7::kDhcp, 17, hint, probe, create};

}  // namespace nprobe
