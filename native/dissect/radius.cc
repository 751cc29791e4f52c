// RADIUS dissector (UDP): authentication (RFC 2865), accounting (RFC 2866, with the
// Gigawords attributes of RFC 2869 §5.1-5.2), dynamic authorization (RFC 5176: Disconnect and
// CoA), Status-Server (RFC 5997), and the 3GPP vendor-specific attributes 3GPP-IMSI (1) and
// 3GPP-IMEISV (20) of vendor 10415 (3GPP TS 29.061 §16.4.7).
//
// One UDP datagram carries one message: code, identifier, length, 16-byte authenticator, then
// type-length-value attributes up to `length` (bytes past it are padding, RFC 2865 §3).
//
// Transactions: a request and its response share the identifier; the dissector is per flow
// (one 5-tuple), so a transaction is keyed by (identifier, client direction). A request with
// the same code, identifier and Request Authenticator as the latest one is a retransmission of
// it (RFC 5080 §2.2.1: a retransmission keeps both), not a new transaction; a repeated response
// is ignored likewise. A response nobody asked for (capture started late) is a transaction of
// its own. At most dissect_limits::kMaxTransactions (64) per flow; more count
// "radius_transactions_cap". The flow's nProbe fields describe the first transaction; all of
// them go to RADIUS_TRANSACTIONS (a JSON array of objects with the same field names).
//
// Field choices: where an attribute allowed once (RFC 2865 §5.44 / RFC 2866 §5.13 tables) is
// repeated, the first one counts and "radius_duplicate_attribute" is raised. Within a
// transaction the request's attributes come first, the response fills what the request lacked
// (Framed-IP-Address usually comes with Access-Accept), except that an Access-Accept's
// User-Name replaces the request's (RFC 2865 §5.1). RADIUS_ACCT_IN/OUT_OCTETS are the full
// 64-bit counts: Acct-*-Gigawords × 2^32 + Acct-*-Octets (RFC 2869 §5.1-5.2), so a counter that
// wrapped is not reported 4 GiB short.
#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../util/byte_reader.h"
#include "../util/json_writer.h"
#include "dissector.h"
#include "../util/ip_text.h"

namespace nprobe {
namespace {

constexpr size_t kHeaderLen = 20;        // code, id, length, authenticator (RFC 2865 §3)
constexpr size_t kMaxMessageLen = 4096;  // RFC 2865 §3: "maximum length is 4096"
constexpr size_t kMaxTransactions = dissect_limits::kMaxTransactions;
constexpr uint32_t kVendor3gpp = 10415;
constexpr size_t kMaxImsiDigits = 15;    // TS 23.003 §2.2
constexpr size_t kMaxImeiDigits = 16;    // IMEISV: 16 digits, IMEI: 15 (TS 23.003 §6.2)

// Attribute types used here (RFC 2865 §5, RFC 2866 §5, RFC 2869 §5).
enum : uint8_t {
  kUserName = 1,
  kNasIpAddress = 4,
  kFramedIpAddress = 8,
  kVendorSpecific = 26,
  kCalledStationId = 30,
  kCallingStationId = 31,
  kNasIdentifier = 32,
  kAcctStatusType = 40,
  kAcctInputOctets = 42,
  kAcctOutputOctets = 43,
  kAcctSessionId = 44,
  kAcctInputPackets = 47,
  kAcctOutputPackets = 48,
  kAcctInputGigawords = 52,
  kAcctOutputGigawords = 53,
};
// 3GPP vendor attribute types (TS 29.061 §16.4.7.2).
enum : uint8_t { k3gppImsi = 1, k3gppImeisv = 20 };

bool is_request(uint8_t code) {
  // Access-Request, Accounting-Request, Status-Server, Status-Client, Disconnect-Request,
  // CoA-Request.
  return code == 1 || code == 4 || code == 12 || code == 13 || code == 40 || code == 43;
}
bool is_response(uint8_t code) {
  // Access-Accept/-Reject, Accounting-Response, Access-Challenge, Disconnect-ACK/-NAK,
  // CoA-ACK/-NAK.
  return code == 2 || code == 3 || code == 5 || code == 11 || code == 41 || code == 42 ||
         code == 44 || code == 45;
}
// Whether `rsp` can answer `req` (RFC 2865 §4, RFC 2866 §4, RFC 5176 §3, RFC 5997 §3:
// Status-Server is answered with Access-Accept on the authentication port and
// Accounting-Response on the accounting port).
bool answers(uint8_t req, uint8_t rsp) {
  switch (rsp) {
    case 2: case 3: case 11: return req == 1 || req == 12;
    case 5: return req == 4 || req == 12;
    case 41: case 42: return req == 40;
    case 44: case 45: return req == 43;
    default: return false;
  }
}

// What one message (or one transaction, once merged) carries. Each optional value has its
// presence flag: zero is a legitimate counter value.
struct Values {
  std::string user_name, calling, called, nas_id, imsi, imei, session_id;
  uint32_t nas_ip = 0, framed_ip = 0, status_type = 0;
  uint32_t in_octets = 0, out_octets = 0, in_gw = 0, out_gw = 0, in_pkts = 0, out_pkts = 0;
  bool has_nas_ip = false, has_framed_ip = false, has_status_type = false;
  bool has_in_octets = false, has_out_octets = false, has_in_gw = false, has_out_gw = false;
  bool has_in_pkts = false, has_out_pkts = false;

  // Fills what this one lacks from `o` (request first, then response).
  void fill_from(const Values& o) {
    auto s = [](std::string& a, const std::string& b) { if (a.empty()) a = b; };
    auto n = [](uint32_t& a, bool& ha, uint32_t b, bool hb) {
      if (!ha && hb) { a = b; ha = true; }
    };
    s(user_name, o.user_name); s(calling, o.calling); s(called, o.called); s(nas_id, o.nas_id);
    s(imsi, o.imsi); s(imei, o.imei); s(session_id, o.session_id);
    n(nas_ip, has_nas_ip, o.nas_ip, o.has_nas_ip);
    n(framed_ip, has_framed_ip, o.framed_ip, o.has_framed_ip);
    n(status_type, has_status_type, o.status_type, o.has_status_type);
    // The octet counters travel with their Gigawords: take both from the same message.
    if (!has_in_octets && !has_in_gw && (o.has_in_octets || o.has_in_gw)) {
      in_octets = o.in_octets; has_in_octets = o.has_in_octets;
      in_gw = o.in_gw; has_in_gw = o.has_in_gw;
    }
    if (!has_out_octets && !has_out_gw && (o.has_out_octets || o.has_out_gw)) {
      out_octets = o.out_octets; has_out_octets = o.has_out_octets;
      out_gw = o.out_gw; has_out_gw = o.has_out_gw;
    }
    n(in_pkts, has_in_pkts, o.in_pkts, o.has_in_pkts);
    n(out_pkts, has_out_pkts, o.out_pkts, o.has_out_pkts);
  }
};

struct Transaction {
  uint8_t id = 0;
  uint8_t client_dir = 0;  // direction the request travels (or would): 0 or 1
  uint8_t req_code = 0, rsp_code = 0;
  bool has_req = false, has_rsp = false;
  std::array<uint8_t, 16> req_auth{};
  Values v;
};

// The attribute's octets, in place.
std::string_view bytes_of(ByteReader v) { return std::string_view(reinterpret_cast<const char*>(v.cur()), v.size()); }

class RadiusDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx& c) override;
  void on_export(FieldWriter& w) override;
  uint16_t l7_proto() const override { return l7::kRadius; }

 private:
  void parse_attribute(uint8_t type, ByteReader value, Values& m, uint64_t& seen);
  void parse_vsa(ByteReader value, Values& m, uint64_t& seen);
  void parse_3gpp_digits(ByteReader value, size_t max_digits, std::string& out);
  void take_string(ByteReader value, std::string& out, uint64_t& seen, int bit);
  void take_u32(ByteReader value, uint32_t& out, bool& has, uint64_t& seen, int bit);
  Transaction* add_transaction();
  template <typename Num, typename Str>
  static void write_fields(const Transaction& t, Num&& put_num, Str&& put_str);

  std::vector<Transaction> txns_;
};

// A single-valued attribute seen twice in one message: keep the first (see header).
bool seen_before(uint64_t& seen, int bit) {
  const uint64_t m = uint64_t(1) << bit;
  const bool dup = (seen & m) != 0;
  seen |= m;
  return dup;
}

void RadiusDissector::take_string(ByteReader value, std::string& out, uint64_t& seen, int bit) {
  if (seen_before(seen, bit)) {
    anomaly("radius_duplicate_attribute");
    return;
  }
  // RFC 2865 §5: text and string attributes are at least one octet; an empty one says nothing.
  // RFC 2865 "text" is UTF-8 but "string" attributes are any octets. Every octet that is not
  // part of a well-formed UTF-8 sequence (RFC 3629) becomes U+FFFD here, one per octet, the rule
  // JsonWriter applies: the flat field and its copy in RADIUS_TRANSACTIONS then read the same
  // (src/record.ts would otherwise decode the raw flat bytes by the WHATWG rule, which folds a
  // broken sequence into one U+FFFD).
  out.clear();
  JsonWriter::utf8_clean_into(out, bytes_of(value));
}

void RadiusDissector::take_u32(ByteReader value, uint32_t& out, bool& has, uint64_t& seen, int bit) {
  // integer and address attributes are exactly 4 octets (RFC 2865 §5).
  if (value.size() != 4) {
    anomaly("radius_bad_attribute_value");
    return;
  }
  if (seen_before(seen, bit)) {
    anomaly("radius_duplicate_attribute");
    return;
  }
  out = value.be32();
  has = true;
}

void RadiusDissector::parse_attribute(uint8_t type, ByteReader value, Values& m, uint64_t& seen) {
  switch (type) {
    case kUserName: take_string(value, m.user_name, seen, 0); break;
    case kCallingStationId: take_string(value, m.calling, seen, 1); break;
    case kCalledStationId: take_string(value, m.called, seen, 2); break;
    case kNasIdentifier: take_string(value, m.nas_id, seen, 3); break;
    case kAcctSessionId: take_string(value, m.session_id, seen, 4); break;
    case kNasIpAddress: take_u32(value, m.nas_ip, m.has_nas_ip, seen, 5); break;
    case kFramedIpAddress: take_u32(value, m.framed_ip, m.has_framed_ip, seen, 6); break;
    case kAcctStatusType: take_u32(value, m.status_type, m.has_status_type, seen, 7); break;
    case kAcctInputOctets: take_u32(value, m.in_octets, m.has_in_octets, seen, 8); break;
    case kAcctOutputOctets: take_u32(value, m.out_octets, m.has_out_octets, seen, 9); break;
    case kAcctInputGigawords: take_u32(value, m.in_gw, m.has_in_gw, seen, 10); break;
    case kAcctOutputGigawords: take_u32(value, m.out_gw, m.has_out_gw, seen, 11); break;
    case kAcctInputPackets: take_u32(value, m.in_pkts, m.has_in_pkts, seen, 12); break;
    case kAcctOutputPackets: take_u32(value, m.out_pkts, m.has_out_pkts, seen, 13); break;
    case kVendorSpecific: parse_vsa(value, m, seen); break;
    default: break;
  }
}

// Vendor-Specific (RFC 2865 §5.26): vendor id (4 octets), then the vendor's own data. 3GPP uses
// the RFC's suggested sub-attribute format (type, length, value; TS 29.061 §16.4.7), which is
// walked here; other vendors' data is left alone (not every vendor follows that format).
void RadiusDissector::parse_vsa(ByteReader value, Values& m, uint64_t& seen) {
  if (value.size() < 4) {
    anomaly("radius_bad_vsa");
    return;
  }
  if (value.be32() != kVendor3gpp) return;
  while (value.remaining() > 0) {
    const uint8_t vt = value.u8();
    const uint8_t vl = value.u8();
    // vl counts its own two octets; a sub-attribute running past its VSA is invalid (the VSA
    // itself was already checked against the message, so this is never a capture cut).
    if (!value.ok() || vl < 2 || size_t(vl - 2) > value.remaining()) {
      anomaly("radius_bad_vsa");
      return;
    }
    ByteReader sv = value.sub(vl - 2);
    if (vt == k3gppImsi) {
      if (seen_before(seen, 14)) anomaly("radius_duplicate_attribute");
      else parse_3gpp_digits(sv, kMaxImsiDigits, m.imsi);
    } else if (vt == k3gppImeisv) {
      if (seen_before(seen, 15)) anomaly("radius_duplicate_attribute");
      else parse_3gpp_digits(sv, kMaxImeiDigits, m.imei);
    }
  }
}

// 3GPP-IMSI and 3GPP-IMEISV are UTF-8 decimal digits (TS 29.061 §16.4.7.2); some gateways send
// them TBCD-coded instead (two digits per octet, low nibble first, 0xF filler in the last high
// nibble), which is recognised and decoded to the same digits. Anything else is invalid.
void RadiusDissector::parse_3gpp_digits(ByteReader value, size_t max_digits, std::string& out) {
  const std::string_view raw = bytes_of(value);
  bool ascii = !raw.empty() && raw.size() <= max_digits;
  for (char ch : raw) ascii = ascii && ch >= '0' && ch <= '9';
  if (ascii) {
    out = raw;
    return;
  }
  std::string digits;
  bool tbcd = !raw.empty() && raw.size() * 2 <= max_digits + 1;
  for (size_t i = 0; tbcd && i < raw.size(); i++) {
    const uint8_t b = uint8_t(raw[i]);
    const uint8_t lo = b & 15, hi = b >> 4;
    const bool last = i + 1 == raw.size();
    if (lo > 9) tbcd = false;
    else digits.push_back(char('0' + lo));
    if (hi == 15 && last) break;  // filler after an odd number of digits
    if (hi > 9) tbcd = false;
    else digits.push_back(char('0' + hi));
  }
  if (tbcd && digits.size() <= max_digits) {
    out = digits;
    return;
  }
  anomaly("radius_bad_3gpp_value");
}

Transaction* RadiusDissector::add_transaction() {
  if (txns_.size() >= kMaxTransactions) {
    anomaly("radius_transactions_cap");
    return nullptr;
  }
  txns_.emplace_back();
  return &txns_.back();
}

void RadiusDissector::on_payload(const PayloadCtx& c) {
  ByteReader r(c.data, c.len);
  if (!r.has(kHeaderLen)) {
    anomaly("radius_truncated_header");
    return;
  }
  const uint8_t code = r.u8();
  const uint8_t id = r.u8();
  const uint16_t length = r.be16();
  std::array<uint8_t, 16> auth;
  r.copy(auth.data(), auth.size());
  if (length < kHeaderLen || length > kMaxMessageLen) {
    anomaly("radius_bad_length");
    return;
  }
  // A Length beyond what was captured: the message was cut (snaplen, lost fragment); parse
  // what is there. A Length short of the datagram leaves padding, which RFC 2865 §3 allows.
  const bool cut = length > c.len;
  if (cut) anomaly("radius_truncated_message");
  ByteReader attrs = r.sub((cut ? c.len : length) - kHeaderLen);

  Values m;
  uint64_t seen = 0;
  while (attrs.remaining() > 0) {
    const size_t at = kHeaderLen + attrs.pos();  // offset of this attribute in the message
    if (attrs.remaining() < 2) {
      // One octet left: inside the declared Length it is a broken attribute; at the capture
      // cut it is truncation.
      anomaly(cut ? "radius_truncated_attribute" : "radius_bad_attribute_length");
      break;
    }
    const uint8_t type = attrs.u8();
    const uint8_t alen = attrs.u8();
    if (alen < 2 || at + alen > length) {
      // Shorter than its own header, or longer than the message says it is: invalid whatever
      // was captured.
      anomaly("radius_bad_attribute_length");
      break;
    }
    if (size_t(alen - 2) > attrs.remaining()) {
      // Fits the declared Length but not the captured bytes.
      anomaly("radius_truncated_attribute");
      break;
    }
    parse_attribute(type, attrs.sub(alen - 2), m, seen);
  }

  if (!is_request(code) && !is_response(code)) {
    anomaly("radius_unknown_code");
    return;
  }
  const uint8_t dir = uint8_t(c.dir & 1);
  if (is_request(code)) {
    // The latest transaction with this identifier from this side decides: same code and
    // authenticator = the same request again.
    for (auto it = txns_.rbegin(); it != txns_.rend(); ++it) {
      if (it->id != id || it->client_dir != dir) continue;
      if (it->has_req && it->req_code == code && it->req_auth == auth) return;  // retransmission
      break;
    }
    Transaction* t = add_transaction();
    if (!t) return;
    t->id = id;
    t->client_dir = dir;
    t->has_req = true;
    t->req_code = code;
    t->req_auth = auth;
    t->v = std::move(m);
    return;
  }
  // A response travels against its request.
  const uint8_t client = uint8_t(dir ^ 1);
  for (auto it = txns_.rbegin(); it != txns_.rend(); ++it) {
    if (it->id != id || it->client_dir != client) continue;
    if (it->has_req && !it->has_rsp && answers(it->req_code, code)) {
      it->has_rsp = true;
      it->rsp_code = code;
      // RFC 2865 §5.1: a User-Name in Access-Accept is the name the NAS must use from then on
      // (e.g. the real identity behind an anonymous EAP outer identity): it wins.
      if (code == 2 && !m.user_name.empty()) it->v.user_name = m.user_name;
      it->v.fill_from(m);
      return;
    }
    if (it->has_rsp && it->rsp_code == code) return;  // the same response again
    break;
  }
  Transaction* t = add_transaction();
  if (!t) return;
  t->id = id;
  t->client_dir = client;
  t->has_rsp = true;
  t->rsp_code = code;
  t->v = std::move(m);
}

// Writes one transaction's fields through the two callbacks, in the plugin's order.
template <typename Num, typename Str>
void RadiusDissector::write_fields(const Transaction& t, Num&& put_num, Str&& put_str) {
  const Values& v = t.v;
  if (t.has_req) put_num("RADIUS_REQ_MSG_TYPE", t.req_code);
  if (t.has_rsp) put_num("RADIUS_RSP_MSG_TYPE", t.rsp_code);
  if (!v.user_name.empty()) put_str("RADIUS_USER_NAME", v.user_name);
  if (!v.calling.empty()) put_str("RADIUS_CALLING_STATION_ID", v.calling);
  if (!v.called.empty()) put_str("RADIUS_CALLED_STATION_ID", v.called);
  if (v.has_nas_ip) put_str("RADIUS_NAS_IP_ADDR", ipv4_string(v.nas_ip));
  if (!v.nas_id.empty()) put_str("RADIUS_NAS_IDENTIFIER", v.nas_id);
  if (!v.imsi.empty()) put_str("RADIUS_USER_IMSI", v.imsi);
  if (!v.imei.empty()) put_str("RADIUS_USER_IMEI", v.imei);
  if (v.has_framed_ip) put_str("RADIUS_FRAMED_IP_ADDR", ipv4_string(v.framed_ip));
  if (!v.session_id.empty()) put_str("RADIUS_ACCT_SESSION_ID", v.session_id);
  if (v.has_status_type) put_num("RADIUS_ACCT_STATUS_TYPE", v.status_type);
  if (v.has_in_octets || v.has_in_gw)
    put_num("RADIUS_ACCT_IN_OCTETS", (uint64_t(v.in_gw) << 32) | v.in_octets);
  if (v.has_out_octets || v.has_out_gw)
    put_num("RADIUS_ACCT_OUT_OCTETS", (uint64_t(v.out_gw) << 32) | v.out_octets);
  if (v.has_in_pkts) put_num("RADIUS_ACCT_IN_PKTS", v.in_pkts);
  if (v.has_out_pkts) put_num("RADIUS_ACCT_OUT_PKTS", v.out_pkts);
}

void RadiusDissector::on_export(FieldWriter& w) {
  if (txns_.empty()) return;
  // Keys as string_views, and the callbacks inlined into write_fields: there the literal
  // keys' lengths and plain-ASCII checks are known at compile time.
  write_fields(
      txns_.front(), [&](std::string_view k, uint64_t n) __attribute__((always_inline)) { w.num(k, double(n)); },
      [&](std::string_view k, const std::string& s) __attribute__((always_inline)) { w.str(k, s); });

  JsonWriter j;
  j.begin_array();
  for (const Transaction& t : txns_) {
    j.begin_object();
    write_fields(
        t, [&](std::string_view k, uint64_t n) __attribute__((always_inline)) { j.kv(k, n); },
        // The same 1 KiB cut as the flat fields (attributes are at most 253 octets anyway).
        [&](std::string_view k, const std::string& s) __attribute__((always_inline)) {
          j.kv(k, std::string_view(s).substr(0, dissect_limits::kMaxFieldBytes));
        });
    j.end_object();
  }
  j.end_array();
  w.json("RADIUS_TRANSACTIONS", j.str());
}

// Probe (DESIGN.md §2): a RADIUS message is recognised from its own structure. The code must be
// one of the request/response codes above, the Length between 20 and 4096 and not beyond the
// datagram, and the first attribute well formed. Off the RADIUS ports the whole message must
// hold: Length equal to the datagram, at least one attribute, every attribute ending exactly at
// Length -- so unrelated UDP on a random port is not taken for RADIUS.
bool port_hint(uint16_t s, uint16_t d) {
  auto radius_port = [](uint16_t p) {
    return p == 1812 || p == 1813 || p == 1645 || p == 1646 || p == 3799;
  };
  return radius_port(s) || radius_port(d);
}

bool probe(const uint8_t* data, uint32_t len, uint16_t sport, uint16_t dport) {
  ByteReader r(data, len);
  if (!r.has(kHeaderLen)) return false;
  const uint8_t code = r.u8();
  r.u8();  // identifier: any value
  const uint16_t length = r.be16();
  r.skip(16);
  if (!is_request(code) && !is_response(code)) return false;
  if (length < kHeaderLen || length > kMaxMessageLen || length > len) return false;
  const bool hinted = port_hint(sport, dport);
  if (!hinted && length != len) return false;
  ByteReader attrs = r.sub(length - kHeaderLen);
  int n = 0;
  while (attrs.remaining() > 0) {
    const uint8_t type = attrs.u8();
    const uint8_t alen = attrs.u8();
    // Type 0 is not an attribute (RFC 2865 §5: types start at 1).
    if (!attrs.ok() || type == 0 || alen < 2 || size_t(alen - 2) > attrs.remaining()) {
      // On a RADIUS port a damaged message still is RADIUS (the dissector names the damage),
      // as long as its first attribute was sound.
      return hinted && n > 0;
    }
    attrs.skip(alen - 2);
    n++;
  }
  return hinted || n > 0;
}

std::unique_ptr<Dissector> create() { return std::make_unique<RadiusDissector>(); }

}  // namespace

extern const DissectorInfo kRadiusInfo{"RADIUS", l7::kRadius, 17, port_hint, probe, create};

}  // namespace nprobe
