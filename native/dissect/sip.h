// SIP message and SDP body parsers (RFC 3261 §7, §20; RFC 4566; RFC 3326 Reason; RFC 5621
// multipart bodies), shared by the UDP dissector in sip.cc and the TCP stream one (sip_tcp.cc):
// parse_message() takes the bytes of one message (a UDP datagram, or the head of a TCP
// stream) and says how many bytes that message used, so a stream framer can call it again on
// the rest. What it returns are views into the caller's buffer (or, for a header value folded
// over several lines, into the Message's own storage): valid while both are.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dissector.h"

namespace nprobe::sip {

// Caps (each counted with an anomaly when hit).
inline constexpr size_t kMaxHeaderLines = 256;   // header lines looked at per message
inline constexpr size_t kMaxValueBytes = 512;    // one kept header value / derived string
inline constexpr size_t kMaxSdpMedia = 16;       // m= sections per SDP body
inline constexpr size_t kMaxSdpFormats = 64;     // formats looked at per m= line
inline constexpr size_t kMaxSdpRtpmaps = 64;     // a=rtpmap lines per SDP body
inline constexpr size_t kMaxSdpAddrs = 8;        // c= addresses kept per SDP body
inline constexpr size_t kMaxCodecs = 32;         // codec names per SDP body
inline constexpr size_t kMaxMultipartParts = 16; // body parts looked at in a multipart body
inline constexpr uint64_t kMaxContentLength = 1u << 24;  // larger is not believed

// Header values kept per message (Call-ID, From, To, User-Agent, Server, Content-Type, Reason,
// CSeq, Content-Length), each at most kMaxValueBytes.
inline constexpr size_t kKeptHeaders = 9;

struct Message {  // a field added here is reset in Message::reset() (sip.cc) too
  bool request = false;
  std::string_view method;  // request method (case kept: methods are case-sensitive)
  std::string_view uri;     // Request-URI
  int status = 0;           // response status code
  // Header values, trimmed (views: see the file comment).
  std::string_view call_id, from, to, user_agent, server, content_type, reason;
  bool has_call_id = false;
  bool has_cseq = false;
  uint32_t cseq = 0;
  std::string_view cseq_method;
  bool has_content_length = false;
  uint64_t content_length = 0;
  std::string_view body;  // the body as delimited by Content-Length (or the datagram's end)

  // A folded value (RFC 3261 §7.3.1) is the one that is not a run of the message's bytes: it
  // is joined here, one string per kept header, and the value's view points into it.
  std::array<std::string, kKeptHeaders> folded;

  // Back to a fresh Message, keeping the strings' memory (a per-thread Message is reused).
  void reset();
};

enum class Parse { kOk, kIncomplete, kInvalid };
struct ParseResult {
  Parse status = Parse::kInvalid;
  size_t consumed = 0;  // bytes of this message (start line, headers, blank line, body)
};

// One message at the start of data. datagram = true (UDP): the datagram is the whole message,
// so a missing blank line or a short body is a truncation anomaly and the message is still
// returned with what it has. datagram = false (a stream): an incomplete message gives
// kIncomplete and nothing is reported, so the caller can wait for more bytes.
// Anomalies go to d (named sip_*). kInvalid: not a SIP start line (also reported).
ParseResult parse_message(const uint8_t* data, size_t len, bool datagram, Message& m, Dissector& d);

// The strict check probe() uses: a SIP request or status line (method in capitals, a URI with
// a scheme, "SIP/2.0"), then a complete header line among the next four lines.
bool looks_like_sip(const uint8_t* data, size_t len);

// The strict start-line test of looks_like_sip() on one line (without its line end).
bool is_start_line(std::string_view line);

// Stream framing (RFC 3261 §18.3): the body length of the message whose head (start line,
// headers, blank line) is head[0, len), read as parse_message() reads Content-Length (0 when
// absent, unusable or conflicting), without reporting anything. A stream framer waits for
// len + this many bytes, then parses the message once.
uint64_t head_content_length(const uint8_t* head, size_t len);

struct Sdp {  // the views point into the body parse_sdp() was given
  std::string codecs;                    // "PCMA,G726-32,telephone-event": offered formats, in order
  std::string_view rtp_ipv4;             // IPv4 connection address of the first active media
  uint16_t rtp_port = 0;                 // its port
  std::vector<std::string_view> addrs;   // every c= address (session and media level), deduplicated

  void reset();  // empty again, keeping the memory
};
// Parses an SDP body (RFC 4566). False when the body is not SDP at all ("v=" first).
bool parse_sdp(std::string_view body, Sdp& out, Dissector& d);

// The SDP in a message body: the body itself for application/sdp, the first application/sdp
// part of a multipart body (RFC 5621), or empty.
std::string_view sdp_body(const Message& m, Dissector& d);

// "<sip:alice@example.com>" from a From/To value: display name and header parameters dropped.
std::string party(std::string_view from_or_to);

// The cause of a Reason header (RFC 3326, "Q.850;cause=16;text=..."), 0 when none.
uint32_t reason_cause(std::string_view reason);

// A flow's SIP transactions, one per Call-ID (at most dissect_limits::kMaxTransactions, cap
// named sip_transactions_cap), and the fields it exports: the flat SIP_* fields of the first
// one and SIP_TRANSACTIONS. Shared by SIP over UDP (sip.cc) and over TCP (sip_tcp.cc); the
// field rules are in sip.cc's header comment.
class Calls {
 public:
  struct Entry;  // one Call-ID's state (sip.cc)
  Calls();
  ~Calls();
  // One parsed message: dir 0 sent by the flow's client, 1 by its server; ts in microseconds.
  // Anomalies (missing Call-ID, caps, SDP) are named on d.
  void apply(const Message& m, int dir, uint64_t ts, Dissector& d);
  void write(FieldWriter& w) const;

 private:
  Entry* entry_for(std::string_view call_id, std::string_view method, bool request, int dir, Dissector& d);
  void apply_sdp(Entry& e, std::string_view body, int dir, Dissector& d);
  std::vector<Entry> entries_;
};

}  // namespace nprobe::sip
