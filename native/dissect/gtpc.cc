// GTPv1-C dissector (3GPP TS 29.060: GPRS Tunnelling Protocol, control plane; header §6,
// message types §7.1 table 1, information elements §7.7 table 37). nProbe's GTPV1 plugin fields.
//
// What is claimed (probe):
//  - GTPv1 (version 1, PT 1) control messages on any port: the message type must be a GTP-C
//    type, the sequence number present (S = 1: GTP-C messages always carry one, §6), the
//    declared length equal to the datagram, and every IE well formed up to the exact end.
//    UDP 2123 is only a hint.
//  - On UDP 2152 (GTP-U, TS 29.281) the GTP-U path messages (Echo, Error Indication, Supported
//    Extension Headers Notification, End Marker) are claimed but labelled GTP_U, like nDPI, and
//    give no GTPV1 fields. G-PDUs (type 255) are never claimed anywhere: the capture core
//    decapsulates them and labels the tunnel flow GTP_U itself.
//  - Not claimed: version 0 (GTPv0, GSM 09.60, also on 3386), GTP' (PT 0, TS 32.295, nDPI's
//    GTP_PRIME) and GTPv2-C (TS 29.274, also on 2123): other protocols, with other fields.
//
// Transactions: a request and the response with the same sequence number in the other
// direction are one transaction (a retransmitted request or response folds into its own).
// The nProbe fields describe the first transaction that is not path management (Echo, Version
// Not Supported, Supported Extension Headers Notification: keep-alives between two GSNs,
// which open most long-lived GTP-C flows), or the first one if there is no other; every
// transaction is in GTPV1_TRANSACTIONS, at most kMaxTransactions per flow (cap counted).
// C2S/S2C: the TEIDs found in messages sent by the flow's client / server.

#include <array>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "../util/byte_reader.h"
#include "../util/ip_text.h"
#include "../util/json_writer.h"
#include "dissector.h"

namespace nprobe {
namespace {

constexpr uint16_t kGtpcPort = 2123;
constexpr uint16_t kGtpuPort = 2152;
constexpr size_t kMaxTransactions = dissect_limits::kMaxTransactions;  // per flow
constexpr int kMaxExtensionHeaders = 8;  // per message (§6.1: a chain; real ones hold 1 or 2)
constexpr size_t kMaxDigits = 32;        // TBCD digits kept per number (IMSI 15, IMEISV 16)
constexpr size_t kMaxApnBytes = 255;     // TS 23.003 §9.1: an APN is at most 100 octets

// Value lengths of the TV information elements (type < 128), TS 29.060 table 37; 0: not a TV
// type GTPv1 defines, whose length is therefore unknown.
constexpr std::array<uint8_t, 128> kTvLength = [] {
  std::array<uint8_t, 128> t{};
  t[1] = 1;    // Cause
  t[2] = 8;    // IMSI
  t[3] = 6;    // Routeing Area Identity
  t[4] = 4;    // TLLI
  t[5] = 4;    // P-TMSI
  t[8] = 1;    // Reordering Required
  t[9] = 28;   // Authentication Triplet
  t[11] = 1;   // MAP Cause
  t[12] = 3;   // P-TMSI Signature
  t[13] = 1;   // MS Validated
  t[14] = 1;   // Recovery
  t[15] = 1;   // Selection Mode
  t[16] = 4;   // TEID Data I
  t[17] = 4;   // TEID Control Plane
  t[18] = 5;   // TEID Data II (NSAPI + TEID)
  t[19] = 1;   // Teardown Ind
  t[20] = 1;   // NSAPI
  t[21] = 1;   // RANAP Cause
  t[22] = 9;   // RAB Context
  t[23] = 1;   // Radio Priority SMS
  t[24] = 1;   // Radio Priority
  t[25] = 2;   // Packet Flow Id
  t[26] = 2;   // Charging Characteristics
  t[27] = 2;   // Trace Reference
  t[28] = 2;   // Trace Type
  t[29] = 1;   // MS Not Reachable Reason
  t[126] = 1;  // Packet Transfer Command (TS 32.295, shared IE space)
  t[127] = 4;  // Charging ID
  return t;
}();

enum class Kind : uint8_t { kNone, kRequest, kResponse, kUserPlane };

// TS 29.060 table 1. Messages that expect no answer (notifications) count as requests whose
// response never comes. SGSN Context Acknowledge answers a response: a response of its own.
Kind message_kind(uint8_t t) {
  switch (t) {
    case 1: case 16: case 18: case 20: case 22: case 27: case 29: case 31: case 32: case 34:
    case 36: case 48: case 50: case 53: case 55: case 56: case 58: case 61: case 70: case 96:
    case 98: case 100: case 102: case 104: case 112: case 114: case 116: case 118: case 120:
    case 128:
      return Kind::kRequest;
    case 2: case 3: case 17: case 19: case 21: case 23: case 28: case 30: case 33: case 35:
    case 37: case 49: case 51: case 52: case 54: case 57: case 59: case 60: case 62: case 97:
    case 99: case 101: case 103: case 105: case 113: case 115: case 117: case 119: case 121:
    case 129:
      return Kind::kResponse;
    case 26: case 254: case 255:  // Error Indication, End Marker, G-PDU: GTP-U only
      return Kind::kUserPlane;
    default:
      return Kind::kNone;  // 4-7 and 240/241 are GTP' (PT 0); the rest is unassigned
  }
}

// Path management (§7.2): keep-alives, not about a subscriber.
bool is_path_management(uint8_t t) { return t == 1 || t == 2 || t == 3 || t == 31; }

// The GTP-U path messages that may share a flow with G-PDUs on 2152 (TS 29.281 §7).
bool is_gtpu_path_message(uint8_t t) { return t == 1 || t == 2 || t == 26 || t == 31 || t == 254; }

bool gtpu_ports(uint16_t s, uint16_t d) {
  // 2123 wins when both appear: GTP-C is what that flow carries.
  return (s == kGtpuPort || d == kGtpuPort) && s != kGtpcPort && d != kGtpcPort;
}

struct Message {
  uint8_t type = 0;
  bool has_seq = false;
  uint16_t seq = 0;
  bool truncated = false;  // the capture holds less than the declared length
  bool trailing = false;   // the datagram holds more than the declared length
  ByteReader ies;          // the information elements (as captured)
};

// Parses the header (§6): flags (version 3 bits, PT, spare, E, S, PN), type, length (octets
// after the first 8), TEID; with any of E/S/PN: sequence, N-PDU number, next extension header
// type, then the extension headers. Returns nullptr, or the anomaly that stops the message.
const char* parse_header(const uint8_t* data, uint32_t len, Message& m) {
  ByteReader r(data, len);
  if (!r.has(8)) return "gtpv1_truncated_header";
  const uint8_t flags = r.u8();
  m.type = r.u8();
  const uint16_t length = r.be16();
  r.skip(4);  // TEID: the receiver's, nothing for the flow record
  if (flags >> 5 == 2) return "";  // GTPv2-C shares port 2123: not ours, not malformed either
  if (flags >> 5 != 1) return "gtpv1_bad_version";
  if (!(flags & 0x10)) return "gtpv1_bad_protocol_type";  // PT 0 is GTP'
  m.truncated = length > r.remaining();
  m.trailing = length < r.remaining();
  ByteReader body = r.sub(m.truncated ? r.remaining() : length);
  if (flags & 0x07) {
    // The 4 optional octets are present (and counted in the length) when any flag is set.
    if (!body.has(4)) return "gtpv1_truncated_header";
    m.seq = body.be16();
    m.has_seq = flags & 0x02;
    body.skip(1);  // N-PDU number: user plane only
    // Without E the next-type octet is present but meaningless (§6): not read.
    uint8_t next = body.u8();
    if (!(flags & 0x04)) next = 0;
    for (int n = 0; next != 0; n++) {
      // Each extension header: length in 4-octet units (its own length and next-type octets
      // included), content, next type. 0 would never advance: invalid.
      if (n >= kMaxExtensionHeaders) return "gtpv1_extension_headers_cap";
      if (!body.has(1)) return "gtpv1_truncated_extension_header";
      const size_t elen = size_t(body.peek8()) * 4;
      if (elen == 0) return "gtpv1_bad_extension_header";
      if (!body.has(elen)) return "gtpv1_truncated_extension_header";
      body.skip(elen - 1);
      next = body.u8();
    }
  }
  m.ies = body;
  return nullptr;
}

// Walks the IEs (§7.7.0): TV (type < 128, length from kTvLength) or TLV (type >= 128, 2-octet
// length). Calls f(type, value reader) for each; returns nullptr at a clean end, or why it
// stopped: an unknown TV type has no known length, so nothing after it can be found.
template <class F>
const char* walk_ies(ByteReader r, F&& f) {
  while (r.remaining()) {
    const uint8_t type = r.u8();
    size_t n;
    if (type < 128) {
      n = kTvLength[type];
      if (n == 0) return "gtpv1_unknown_tv_ie";
    } else {
      if (!r.has(2)) return "gtpv1_truncated_ie";
      n = r.be16();
    }
    if (!r.has(n)) return "gtpv1_truncated_ie";
    f(type, r.sub(n));
  }
  return nullptr;
}

struct Txn {
  uint16_t seq = 0;
  bool has_seq = false;
  bool has_req = false, has_rsp = false;
  uint8_t req_type = 0, rsp_type = 0;
  int8_t req_dir = -1, rsp_dir = -1;
  std::optional<uint32_t> teid_data[2], teid_ctrl[2];  // by direction: 0 client->server
  std::string end_user_ip, imsi, msisdn, imei, apn;
  std::optional<uint32_t> rat;
  bool has_rai = false;
  std::string rai_mcc, rai_mnc;
  uint32_t rai_lac = 0, rai_rac = 0;
  bool has_uli = false;
  std::string uli_mcc, uli_mnc;
  std::optional<uint32_t> uli_lac, uli_ci, uli_sac;
  std::optional<uint32_t> cause;

  bool path_management() const { return is_path_management(has_req ? req_type : rsp_type); }

  // Writes the fields (nProbe element names) to a sink with num() and str().
  template <class S>
  void emit(S& s) const {
    if (has_req) s.num("GTPV1_REQ_MSG_TYPE", req_type);
    if (has_rsp) s.num("GTPV1_RSP_MSG_TYPE", rsp_type);
    if (teid_data[0]) s.num("GTPV1_C2S_TEID_DATA", *teid_data[0]);
    if (teid_ctrl[0]) s.num("GTPV1_C2S_TEID_CTRL", *teid_ctrl[0]);
    if (teid_data[1]) s.num("GTPV1_S2C_TEID_DATA", *teid_data[1]);
    if (teid_ctrl[1]) s.num("GTPV1_S2C_TEID_CTRL", *teid_ctrl[1]);
    if (!end_user_ip.empty()) s.str("GTPV1_END_USER_IP", end_user_ip);
    if (!imsi.empty()) s.str("GTPV1_END_USER_IMSI", imsi);
    if (!msisdn.empty()) s.str("GTPV1_END_USER_MSISDN", msisdn);
    if (!imei.empty()) s.str("GTPV1_END_USER_IMEI", imei);
    if (!apn.empty()) s.str("GTPV1_APN_NAME", apn);
    if (rat) s.num("GTPV1_RAT_TYPE", *rat);
    if (has_rai) {
      s.str("GTPV1_RAI_MCC", rai_mcc);
      s.str("GTPV1_RAI_MNC", rai_mnc);
      s.num("GTPV1_RAI_LAC", rai_lac);
      s.num("GTPV1_RAI_RAC", rai_rac);
    }
    if (has_uli) {
      s.str("GTPV1_ULI_MCC", uli_mcc);
      s.str("GTPV1_ULI_MNC", uli_mnc);
      if (uli_lac) s.num("GTPV1_ULI_CELL_LAC", *uli_lac);
      if (uli_ci) s.num("GTPV1_ULI_CELL_CI", *uli_ci);
      if (uli_sac) s.num("GTPV1_ULI_SAC", *uli_sac);
    }
    if (cause) s.num("GTPV1_RESPONSE_CAUSE", *cause);
  }
};

struct FieldSink {
  FieldWriter& w;
  void num(std::string_view k, uint64_t v) { w.num(k, double(v)); }
  void str(std::string_view k, std::string_view v) { w.str(k, v); }
};

struct JsonSink {
  JsonWriter& j;
  void num(std::string_view k, uint64_t v) { j.kv(k, v); }
  void str(std::string_view k, std::string_view v) { j.kv(k, v); }
};

// TBCD (TS 29.002 TBCD-STRING): two digits per octet, low nibble first; 0xF fills an odd count.
constexpr char kTbcdDigits[] = "0123456789*#abc";

class GtpcDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx& c) override {
    if (mode_ == Mode::kUnset) {
      const bool u = c.pkt && c.pkt->has_ports && gtpu_ports(c.pkt->sport, c.pkt->dport);
      mode_ = u ? Mode::kUserPath : Mode::kControl;
    }
    if (mode_ == Mode::kUserPath) return;  // a GTP-U tunnel flow: labelled, nothing to export
    if (c.len == 0) return;
    Message m;
    if (const char* a = parse_header(c.data, c.len, m)) {
      if (*a) anomaly(a);
      return;
    }
    if (m.truncated) anomaly("gtpv1_truncated_message");
    if (m.trailing) anomaly("gtpv1_trailing_data");  // GTPv1 has no piggybacked messages
    const Kind k = message_kind(m.type);
    if (k == Kind::kUserPlane) {
      anomaly("gtpv1_user_plane_message");
      return;
    }
    if (k == Kind::kNone) {
      anomaly("gtpv1_unknown_message_type");
      return;
    }
    if (!m.has_seq) anomaly("gtpv1_missing_sequence");  // §6: S is 1 for GTP-C
    Txn* t = transaction(k, m, c.dir);
    if (!t) return;
    const int dir = c.dir ? 1 : 0;
    if (const char* a = walk_ies(m.ies, [&](uint8_t type, ByteReader v) { on_ie(*t, dir, type, v); }))
      anomaly(a);
  }

  void on_export(FieldWriter& w) override {
    if (txns_.empty()) return;
    const Txn* top = &txns_.front();
    for (const Txn& t : txns_) {
      if (!t.path_management()) {
        top = &t;
        break;
      }
    }
    FieldSink fs{w};
    top->emit(fs);
    JsonWriter j;
    JsonSink js{j};
    j.begin_array();
    for (const Txn& t : txns_) {
      j.begin_object();
      t.emit(js);
      j.end_object();
    }
    j.end_array();
    w.json("GTPV1_TRANSACTIONS", j.str());
  }

  uint16_t l7_proto() const override { return mode_ == Mode::kUserPath ? l7::kGtpU : l7::kGtpC; }

 private:
  enum class Mode : uint8_t { kUnset, kControl, kUserPath };

  // The transaction this message belongs to, a new one, or nullptr at the cap.
  Txn* transaction(Kind k, const Message& m, int dir) {
    if (m.has_seq) {
      for (size_t i = txns_.size(); i-- > 0;) {
        Txn& t = txns_[i];
        if (!t.has_seq || t.seq != m.seq) continue;
        if (k == Kind::kResponse && t.has_req && !t.has_rsp && t.req_dir != dir) {
          t.has_rsp = true;
          t.rsp_type = m.type;
          t.rsp_dir = int8_t(dir);
          return &t;
        }
        // A retransmission (same sequence, type and sender) of a request still unanswered.
        if (k == Kind::kRequest && t.has_req && !t.has_rsp && t.req_type == m.type && t.req_dir == dir)
          return &t;
      }
      if (k == Kind::kResponse) {
        // A retransmitted response: its transaction is already answered by the same message.
        for (size_t i = txns_.size(); i-- > 0;) {
          Txn& t = txns_[i];
          if (t.has_seq && t.seq == m.seq && t.has_rsp && t.rsp_type == m.type && t.rsp_dir == dir) return &t;
        }
      }
    }
    if (txns_.size() >= kMaxTransactions) {
      anomaly("gtpv1_transactions_cap");
      return nullptr;
    }
    Txn& t = txns_.emplace_back();
    t.has_seq = m.has_seq;
    t.seq = m.seq;
    if (k == Kind::kRequest) {
      t.has_req = true;
      t.req_type = m.type;
      t.req_dir = int8_t(dir);
    } else {
      t.has_rsp = true;
      t.rsp_type = m.type;
      t.rsp_dir = int8_t(dir);
    }
    return &t;
  }

  // One IE of a message of transaction t, sent in direction dir. Within a transaction the
  // first value of a field stays (a request's IMSI, the response's end-user address, ...).
  void on_ie(Txn& t, int dir, uint8_t type, ByteReader v) {
    switch (type) {
      case 1:  // Cause (§7.7.1)
        if (!t.cause) t.cause = v.u8();
        break;
      case 2:  // IMSI (§7.7.2): TBCD, up to 15 digits
        if (t.imsi.empty()) tbcd(v, t.imsi, true);
        break;
      case 3:  // RAI (§7.7.3): MCC/MNC, LAC, RAC
        if (!t.has_rai) {
          std::string mcc, mnc;
          mcc_mnc(v, mcc, mnc);
          const uint16_t lac = v.be16();
          const uint8_t rac = v.u8();
          if (v.ok()) {
            t.has_rai = true;
            t.rai_mcc = std::move(mcc);
            t.rai_mnc = std::move(mnc);
            t.rai_lac = lac;
            t.rai_rac = rac;
          }
        }
        break;
      case 16:  // TEID Data I (§7.7.13)
        if (!t.teid_data[dir]) t.teid_data[dir] = v.be32();
        break;
      case 17:  // TEID Control Plane (§7.7.14)
        if (!t.teid_ctrl[dir]) t.teid_ctrl[dir] = v.be32();
        break;
      case 128:  // End User Address (§7.7.27)
        if (t.end_user_ip.empty()) end_user_address(v, t.end_user_ip);
        break;
      case 131:  // Access Point Name (§7.7.30)
        if (t.apn.empty()) apn(v, t.apn);
        break;
      case 134:  // MSISDN (§7.7.33): one octet of nature of address / numbering plan, then TBCD
        if (!v.has(1)) {
          anomaly("gtpv1_bad_ie_length");
        } else if (t.msisdn.empty()) {
          v.skip(1);
          tbcd(v, t.msisdn, false);
        }
        break;
      case 151:  // RAT Type (§7.7.50)
        if (v.size() != 1) anomaly("gtpv1_bad_ie_length");
        if (!t.rat && v.has(1)) t.rat = v.u8();
        break;
      case 152:  // User Location Information (§7.7.51)
        if (!t.has_uli) uli(v, t);
        break;
      case 154:  // IMEI(SV) (§7.7.53): 8 octets of TBCD, 16 digits
        if (v.size() != 8) anomaly("gtpv1_bad_ie_length");
        if (t.imei.empty()) tbcd(v, t.imei, true);
        break;
      default:
        break;
    }
  }

  void tbcd(ByteReader v, std::string& out, bool decimal_only) {
    bool ended = false, bad_digit = false, bad_filler = false, too_long = false;
    while (v.remaining()) {
      const uint8_t b = v.u8();
      for (const uint8_t nib : {uint8_t(b & 0x0F), uint8_t(b >> 4)}) {
        if (ended) {
          bad_filler |= nib != 0x0F;  // digits after the filler
          continue;
        }
        if (nib == 0x0F) {
          ended = true;
          continue;
        }
        bad_digit |= decimal_only && nib > 9;
        if (out.size() >= kMaxDigits) {
          too_long = true;
          continue;
        }
        out += kTbcdDigits[nib];
      }
    }
    if (bad_digit) anomaly("gtpv1_bad_tbcd_digit");
    if (bad_filler) anomaly("gtpv1_bad_tbcd_filler");
    if (too_long) anomaly("gtpv1_number_too_long");
  }

  // MCC and MNC as in TS 24.008 §10.5.5.15: MCC2|MCC1, MNC3|MCC3, MNC2|MNC1; MNC3 = 0xF for a
  // 2-digit MNC. Kept as text: "06" and "006" are different networks.
  void mcc_mnc(ByteReader& v, std::string& mcc, std::string& mnc) {
    const uint8_t b0 = v.u8(), b1 = v.u8(), b2 = v.u8();
    const uint8_t d[6] = {uint8_t(b0 & 0x0F), uint8_t(b0 >> 4), uint8_t(b1 & 0x0F),
                          uint8_t(b2 & 0x0F), uint8_t(b2 >> 4), uint8_t(b1 >> 4)};
    bool bad = false;
    for (int i = 0; i < 6; i++) {
      if (i == 5 && d[i] == 0x0F) break;  // 2-digit MNC
      if (d[i] > 9) {
        bad = true;
        continue;
      }
      (i < 3 ? mcc : mnc) += char('0' + d[i]);
    }
    if (bad) anomaly("gtpv1_bad_tbcd_digit");
  }

  void end_user_address(ByteReader v, std::string& out) {
    // PDP type organisation (low nibble; the high one is spare), PDP type number, address.
    if (!v.has(2)) {
      anomaly("gtpv1_bad_end_user_address");
      return;
    }
    const uint8_t org = v.u8() & 0x0F, num = v.u8();
    const size_t n = v.remaining();
    if (org == 0) return;  // ETSI: PPP or non-IP, no address
    if (org != 1 || (num != 0x21 && num != 0x57 && num != 0x8D)) {
      anomaly("gtpv1_bad_end_user_address");
      return;
    }
    // Empty: dynamic address requested. IPv4v6 (0x8D) holds IPv4, IPv6 or both, IPv4 first.
    const bool ok = n == 0 || (num == 0x21 && n == 4) || (num == 0x57 && n == 16) ||
                    (num == 0x8D && (n == 4 || n == 16 || n == 20));
    if (!ok) {
      anomaly("gtpv1_bad_end_user_address");
      return;
    }
    uint8_t a[16];
    if (n == 4 || n == 20) {
      v.copy(a, 4);
      out.clear();
      append_ipv4(out, a);  // IPv4v6 with both: the IPv4 address (nProbe's field is an IPv4 one)
    } else if (n == 16) {
      v.copy(a, 16);
      out = ipv6_string(a);
    }
  }

  void apn(ByteReader v, std::string& out) {
    // Labels as in DNS, each preceded by its length (TS 23.003 §9.1), shown dotted.
    const ByteReader raw = v;
    bool bad = false;
    while (v.remaining()) {
      const uint8_t n = v.u8();
      if (n == 0 || !v.has(n)) {
        bad = true;
        break;
      }
      if (!out.empty()) out += '.';
      out.append(reinterpret_cast<const char*>(v.cur()), n);
      v.skip(n);
    }
    if (bad) {
      // Not label-encoded (some equipment sends the text as is): show the octets as they are.
      anomaly("gtpv1_bad_apn");
      out.assign(reinterpret_cast<const char*>(raw.cur()), raw.remaining());
    }
    if (out.size() > kMaxApnBytes) {
      anomaly("gtpv1_apn_too_long");
      out.resize(kMaxApnBytes);
    }
  }

  void uli(ByteReader v, Txn& t) {
    // Geographic location type, then CGI (0: MCC/MNC, LAC, CI), SAI (1: MCC/MNC, LAC, SAC) or
    // RAI (2: MCC/MNC, LAC, RAC; nProbe has no ULI RAC field).
    const uint8_t geo = v.u8();
    if (!v.ok()) {
      anomaly("gtpv1_bad_ie_length");
      return;
    }
    if (geo > 2) {
      anomaly("gtpv1_unknown_uli_type");
      return;
    }
    std::string mcc, mnc;
    mcc_mnc(v, mcc, mnc);
    const uint16_t lac = v.be16();
    const uint16_t id = geo == 2 ? v.u8() : v.be16();
    if (!v.ok()) {
      anomaly("gtpv1_bad_ie_length");
      return;
    }
    t.has_uli = true;
    t.uli_mcc = std::move(mcc);
    t.uli_mnc = std::move(mnc);
    t.uli_lac = lac;
    if (geo == 0) t.uli_ci = id;
    if (geo == 1) t.uli_sac = id;
  }

  Mode mode_ = Mode::kUnset;
  std::vector<Txn> txns_;
};

bool hint(uint16_t s, uint16_t d) { return s == kGtpcPort || d == kGtpcPort || s == kGtpuPort || d == kGtpuPort; }

bool probe(const uint8_t* data, uint32_t len, uint16_t sport, uint16_t dport) {
  Message m;
  // Strict: a whole, exact message (a UDP datagram holds one GTPv1 message), S set.
  if (parse_header(data, len, m) || m.truncated || m.trailing || !m.has_seq) return false;
  if (gtpu_ports(sport, dport)) {
    if (!is_gtpu_path_message(m.type)) return false;  // G-PDUs belong to the capture core
  } else {
    const Kind k = message_kind(m.type);
    if (k != Kind::kRequest && k != Kind::kResponse) return false;
  }
  return walk_ies(m.ies, [](uint8_t, ByteReader) {}) == nullptr;
}

std::unique_ptr<Dissector> create() { return std::make_unique<GtpcDissector>(); }

}  // namespace

extern const DissectorInfo kGtpcInfo{"GTPV1", l7::kGtpC, 17, hint, probe, create};

}  // namespace nprobe
