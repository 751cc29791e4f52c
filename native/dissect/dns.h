// DNS message parser (RFC 1035 §4: header, question, resource records, name compression;
// RFC 3596 AAAA, RFC 2782 SRV, RFC 6891 EDNS OPT, RFC 3597 unknown types). One function over
// one DNS message, whatever carried it: the UDP dissector (dns.cc) calls it per datagram, and
// DNS over TCP (dns_tcp.cc, RFC 7766: a 2-byte length before each message) per message. Both
// keep their flow's transactions and write their fields through Transactions below.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "dissector.h"

namespace nprobe::dns {

inline constexpr size_t kHeaderLen = 12;
// A name is at most 255 bytes on the wire (RFC 1035 §2.3.4); longer means malformed.
inline constexpr size_t kMaxNameWireLen = 255;
// Compression pointers followed for one name. A compliant encoder needs a handful (a name
// points at an earlier name, which may point at an earlier one); more is hostile.
inline constexpr int kMaxPointerHops = 16;
// Names decompressed per message (the question's and those inside answer RDATA): the CPU
// bound for one message, whatever its record counts claim.
inline constexpr int kMaxNamesPerMessage = 64;
// The answers text stops growing past this (the field is cut there on export anyway).
inline constexpr size_t kMaxResponseText = 1024;
// Questions walked in one message (only the first is decoded, the rest are skipped).
inline constexpr int kMaxQuestions = 32;

// Anomalies found in one message, in order, without duplicates (at most kMax names).
struct Anomalies {
  static constexpr int kMax = 16;  // more than the distinct names this parser has
  const char* names[kMax] = {};
  int n = 0;
  void add(const char* name);
  bool any() const { return n > 0; }
  bool has(const char* name) const;
};

// A parsed message's fixed-size fields (Message below adds its two texts): apart, so that
// Message::reset() renews them in one assignment, without building a whole Message.
struct MessageFields {
  uint16_t id = 0;
  bool qr = false;       // false: query, true: response
  uint8_t opcode = 0;
  bool aa = false, tc = false, rd = false, ra = false;
  bool z = false;        // the reserved bit (RFC 1035 says zero)
  uint8_t rcode = 0;     // the header's 4 bits
  uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;

  bool has_question = false;  // the first question parsed completely (its name: Message::qname)
  uint16_t qtype = 0, qclass = 0;

  uint32_t ttl = 0;             // first A/AAAA answer's TTL, else the first answer's
  bool has_ttl = false;
  uint16_t answers_parsed = 0;  // answer records whose header and RDATA were read

  bool header_ok = false;       // 12 bytes were there
  bool questions_done = false;  // every question of QDCOUNT was read
  bool complete = false;        // every section was walked to its count without error
  size_t used = 0;              // bytes the sections took (when complete): the message's end
  int names_decoded = 0;
};

struct Message : MessageFields {
  std::string qname;     // the first question's name: presentation text, no trailing dot ("" = the root)
  // Answer section as text: "A 1.2.3.4,CNAME x.example,MX 10 mx.example" (see dns.cc).
  std::string response;

  // Back to a fresh Message, keeping the strings' memory for the next one.
  void reset() {
    static_cast<MessageFields&>(*this) = MessageFields();
    qname.clear(), response.clear();
  }
};

// This thread's Message, reset: parsing into it allocates nothing once its strings have grown.
// Valid until the next call on the same thread.
Message& scratch_message();

// Parses one message. Never reads outside [data, data+len). Returns false only when the
// 12-byte header is missing; otherwise fills what it could and names the rest in `an`
// (truncation: "dns_truncated_*"; invalid values: "dns_bad_*", compression problems).
bool parse_message(const uint8_t* data, size_t len, Message& m, Anomalies& an);

// Structural test for "this payload is a DNS message" (the probe): a sane header for its
// direction, every question parsed, records well-formed up to where the capture ends, and
// not NetBIOS-NS (same wire format, RFC 1002 names; port137: a NetBIOS port is involved).
bool looks_like_dns(const uint8_t* data, size_t len, bool port137 = false);

// True when the first name after the header has NetBIOS-NS's shape (see dns.cc).
bool netbios_shaped(const uint8_t* data, size_t len, bool port137);

// Lower-case ASCII comparison of two presentation names (RFC 4343: names compare without case).
bool same_name(std::string_view a, std::string_view b);

// All query and answer text kept by one flow (names and DNS_RESPONSE of every transaction):
// with 64 transactions of up to 2 KiB each a flow could hold 128 KiB; this keeps it at 32.
inline constexpr size_t kMaxFlowTextBytes = 32 * 1024;

// A flow's query names and answer texts, back to back (Transactions::text_). The first
// kInline bytes live in the object itself: a flow's query name and its answers nearly always
// fit there (most DNS flows are one query and one response), so most flows allocate nothing
// for their text (the string allocated for it was one of the two allocations of every DNS
// flow on the capture thread). Past kInline the whole text moves to a string.
class FlowText {
 public:
  size_t size() const { return n_; }
  std::string_view view() const { return n_ > kInline ? std::string_view(heap_) : std::string_view(inline_, n_); }
  void append(std::string_view s) {
    if (n_ + s.size() <= kInline) {
      std::memcpy(inline_ + n_, s.data(), s.size());
    } else {
      if (n_ <= kInline) heap_.assign(inline_, n_);  // the first time past kInline
      heap_.append(s);
    }
    n_ += s.size();
  }

 private:
  static constexpr size_t kInline = 128;
  char inline_[kInline];  // the text while n_ <= kInline (only the first n_ bytes are read)
  size_t n_ = 0;
  std::string heap_;      // the text once n_ > kInline
};

// One query and its response. The texts live in the flow's Transactions::text_ (one buffer
// per flow for every name and answer, not two strings per transaction).
struct Transaction {
  uint16_t id = 0;
  bool has_question = false;
  bool has_query = false;     // the query itself was seen
  bool has_response = false;
  uint8_t rcode = 0;
  uint16_t qtype = 0;
  uint16_t num_answers = 0;
  uint32_t ttl = 0;
  uint32_t qname_at = 0, qname_len = 0;  // in text_
  uint32_t response_at = 0, response_len = 0;
};

// A flow's transactions and the fields it exports, whatever carries the messages (UDP
// datagrams, TCP length-prefixed messages). A query opens a transaction (a retransmission of
// an unanswered one does not); a response completes the oldest open query with its id and
// question, in any order (pipelined TCP queries may be answered out of order, RFC 7766 §6.2.1.1).
// At most dissect_limits::kMaxTransactions transactions and kMaxFlowTextBytes of text; each
// cap is named on the dissector (dns_transactions_cap, dns_flow_text_cap).
class Transactions {
 public:
  void add(const Message& m, Dissector& d);
  // DNS_CLIENT, the address that asks (the caller knows which side that is).
  void set_client(const IpAddr& a, uint8_t ip_version);
  bool has_client() const { return client_version_ != 0; }
  // True when nothing more can be recorded: a cap was hit and every transaction is answered.
  bool done() const;
  // DNS_CLIENT (+ its enrichment placeholders), the first transaction's fields, DNS_TRANSACTIONS.
  void write(FieldWriter& w) const;

 private:
  // Most DNS flows hold one transaction (a query and its response): it is kept in place, and
  // only a second one allocates.
  size_t size() const { return n_; }
  Transaction& at(size_t i) { return i == 0 ? first_ : more_[i - 1]; }
  const Transaction& at(size_t i) const { return i == 0 ? first_ : more_[i - 1]; }
  std::string_view qname(const Transaction& t) const { return text_.view().substr(t.qname_at, t.qname_len); }
  std::string_view response(const Transaction& t) const { return text_.view().substr(t.response_at, t.response_len); }
  bool same_question(const Transaction& t, const Message& m) const;
  Transaction* open(Dissector& d);
  void on_query(const Message& m, Dissector& d);
  void on_response(const Message& m, Dissector& d);
  void take_question(Transaction& t, const Message& m);
  // Appends s to text_: where it starts.
  uint32_t keep(const std::string& s);

  Transaction first_;
  std::vector<Transaction> more_;
  size_t n_ = 0;
  // Every query name and answer text of the flow, back to back. Bounded: open() refuses a
  // transaction once it holds kMaxFlowTextBytes, and one transaction adds at most a name
  // and kMaxResponseText.
  FlowText text_;
  IpAddr client_{};
  uint8_t client_version_ = 0;  // 0: no client yet
  bool cap_hit_ = false;
  bool text_cap_hit_ = false;
};

}  // namespace nprobe::dns
