// SIP dissector: RFC 3261 messages over UDP (sip_tcp.cc frames TCP streams and reuses
// parse_message() and Calls), SDP bodies (RFC 4566) for media addresses and codecs, Reason (RFC 3326),
// multipart bodies (RFC 5621), keep-alives (RFC 5626). nProbe's SIP plugin fields.
//
// One flow carries several transactions: a call (INVITE dialog), a registration, an OPTIONS
// ping ..., told apart by Call-ID. Each distinct Call-ID is one entry of SIP_TRANSACTIONS
// (capped at dissect_limits::kMaxTransactions, cap counted as sip_transactions_cap); the flat
// SIP_* fields describe the first one.
//
// Field semantics (where nProbe's documentation leaves room, the choice made here):
// - times (SIP_INVITE_TIME ...): epoch seconds, as nProbe ("SIP time (epoch)", 4 bytes), of
//   the first such message of the entry: INVITE request, 100 to an INVITE, 180/183 to an
//   INVITE, 2xx to an INVITE, final >= 300 to an INVITE before any 2xx (a refused re-INVITE
//   is not a failed call), BYE, 2xx to BYE, CANCEL, 2xx to CANCEL.
// - SIP_CALLING_PARTY / SIP_CALLED_PARTY: From / To of the first INVITE (else of the first
//   message), as "<uri>" (display name and tag dropped).
// - SIP_UAC / SIP_UAS: User-Agent (else Server) header sent by the flow's client / server.
// - SIP_RTP_*: from the first SDP sent by the caller side (SRC) and by the other side (DST):
//   the first media with a non-zero port, its IPv4 connection address.
// - SIP_RTP_CODECS: formats of the first SDP of the entry, by name ("PCMA,telephone-event").
// - SIP_C_IP: every distinct c= address of the entry's SDP bodies, comma separated.
// - SIP_RESPONSE_CODE: the final response that ended call setup (the first 2xx to an INVITE,
//   else the last failure), else, without INVITE, the last final response.
// - SIP_REASON_CAUSE: cause= of the first Reason header.
// - SIP_CALL_STATE: REGISTER; for calls CALL_COMPLETED (BYE seen), CALL_CANCELED (CANCEL),
//   CALL_IN_PROGRESS (2xx to INVITE), CALL_ERROR (only failures), CALL_STARTED; UNKNOWN else.
// - SIP_REGISTER_MAX_RRD: longest REGISTER -> final response delay (ms, first request of a
//   CSeq to its first final response); SIP_REGISTER_NUM_OK / _OTHER: 2xx / >= 300 responses.
#include "sip.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "../util/byte_reader.h"
#include "../util/json_writer.h"
#include "../util/token_case.h"

namespace nprobe {
namespace sip {
namespace {

// The few helpers marked always_inline run on every header or SDP line: GCC inlined them or
// not from one unrelated edit to the next, which moved the parse's cost by several percent.

bool is_ws(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; }

// RFC 3261 §25.1 token characters, as a table: every header line's name is scanned with it.
constexpr auto kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; c++) t[c] = t[c - 32] = true;
  for (int c = '0'; c <= '9'; c++) t[c] = true;
  for (char c : std::string_view("-.!%*_+`'~")) t[uint8_t(c)] = true;
  return t;
}();
bool is_token_char(char c) { return kTokenChars[uint8_t(c)]; }

[[gnu::always_inline]] inline std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && (is_ws(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (a[i] != b[i] && lower(a[i]) != lower(b[i])) return false;  // most bytes match as they are
  return true;
}

bool istarts_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && iequals(s.substr(0, p.size()), p);
}

// Whole string of digits, at most max; false on empty, other characters or overflow.
bool parse_uint(std::string_view s, uint64_t max, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    v = v * 10 + uint64_t(c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

// Appends v to out without letting out pass kMaxValueBytes (cut on a UTF-8 boundary).
void append_capped(std::string& out, std::string_view v, Dissector& d) {
  if (out.size() + v.size() <= kMaxValueBytes) {
    out.append(v);
    return;
  }
  size_t room = kMaxValueBytes > out.size() ? kMaxValueBytes - out.size() : 0;
  // Back up over UTF-8 continuation bytes so a multi-byte character is not split.
  while (room > 0 && room < v.size() && (static_cast<unsigned char>(v[room]) & 0xC0) == 0x80) room--;
  out.append(v.substr(0, room));
  d.anomaly("sip_value_cap");
}

// v cut to kMaxValueBytes (on a UTF-8 boundary, named), as append_capped() into an empty string.
[[gnu::noinline]] std::string_view cut_value(std::string_view v, Dissector& d) {
  size_t room = kMaxValueBytes;
  while (room > 0 && (static_cast<unsigned char>(v[room]) & 0xC0) == 0x80) room--;
  d.anomaly("sip_value_cap");
  return v.substr(0, room);
}
[[gnu::always_inline]] inline std::string_view cap_value(std::string_view v, Dissector& d) {
  return v.size() <= kMaxValueBytes ? v : cut_value(v, d);
}

// Next line of a text view (ends in LF; a CR before it is dropped). False at the end.
[[gnu::always_inline]] inline bool next_line(std::string_view& rest, std::string_view& line) {
  if (rest.empty()) return false;
  const char* nl = static_cast<const char*>(std::memchr(rest.data(), '\n', rest.size()));
  const size_t n = nl ? size_t(nl - rest.data()) : rest.size();
  line = std::string_view(rest.data(), n);
  rest = nl ? std::string_view(nl + 1, rest.size() - n - 1) : std::string_view();
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return true;
}

// Lines of a packet buffer, read through a ByteReader. RFC 3261 §7 asks for CRLF; a bare LF
// is accepted too (hand-written tools and some stacks send it, and every peer accepts it).
struct Line {
  std::string_view text;
  bool complete = false;  // ended with LF (false: the bytes ran out first)
};
class LineReader {
 public:
  explicit LineReader(ByteReader& r) : r_(r) {}
  bool next(Line& out) {
    const size_t rem = r_.remaining();
    if (rem == 0) return false;
    const void* nl = std::memchr(r_.cur(), '\n', rem);
    const size_t n = nl ? size_t(static_cast<const uint8_t*>(nl) - r_.cur()) : rem;
    ByteReader line = r_.sub(n);
    if (nl) r_.skip(1);
    std::string_view t(reinterpret_cast<const char*>(line.base()), line.size());
    if (!t.empty() && t.back() == '\r') t.remove_suffix(1);
    out.text = t;
    out.complete = nl != nullptr;
    return true;
  }

 private:
  ByteReader& r_;
};

struct StartLine {
  bool request = false;
  std::string_view method, uri;
  int status = 0;
};

// Request-Line = Method SP Request-URI SP SIP-Version; Status-Line = SIP-Version SP
// Status-Code SP Reason-Phrase. strict (the probe): exact "SIP/2.0", method in capitals,
// URI scheme well formed. Otherwise the version is case-insensitive (RFC 3261 §7.1) and the
// method any token (extension methods).
bool parse_start_line(std::string_view l, bool strict, StartLine& s) {
  constexpr std::string_view kVersion = "SIP/2.0";
  if (l.size() >= 8 && (strict ? l.substr(0, 7) == kVersion : iequals(l.substr(0, 7), kVersion)) && l[7] == ' ') {
    const std::string_view rest = l.substr(8);
    if (rest.size() < 3 || !is_digit(rest[0]) || !is_digit(rest[1]) || !is_digit(rest[2])) return false;
    // A phrase follows after one space; an empty phrase without the space is tolerated.
    if (rest.size() > 3 && rest[3] != ' ') return false;
    const int code = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
    if (code < 100 || code > 699) return false;
    s.request = false;
    s.status = code;
    return true;
  }
  const size_t sp1 = l.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  const std::string_view method = l.substr(0, sp1);
  for (char c : method)
    if (strict ? !(c >= 'A' && c <= 'Z') : !is_token_char(c)) return false;
  if (strict && (method.size() < 3 || method.size() > 32)) return false;
  const std::string_view rest = l.substr(sp1 + 1);
  const size_t sp2 = rest.find(' ');
  if (sp2 == std::string_view::npos || sp2 == 0) return false;
  const std::string_view uri = rest.substr(0, sp2), version = rest.substr(sp2 + 1);
  if (strict ? version != kVersion : !iequals(version, kVersion)) return false;
  // The Request-URI is an absolute URI: a scheme, then ':' (sip:, sips:, tel:, urn: ...).
  const size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  if (strict) {
    if (!is_alpha(uri[0])) return false;
    for (size_t i = 1; i < colon; i++)
      if (!is_alpha(uri[i]) && !is_digit(uri[i]) && uri[i] != '+' && uri[i] != '-' && uri[i] != '.') return false;
    if (colon + 1 >= uri.size()) return false;
  }
  s.request = true;
  s.method = method;
  s.uri = uri;
  return true;
}

// "Name : value" (RFC 3261 §7.3.1: whitespace allowed before and after the colon). The value
// is left untrimmed: most headers are not kept, so only the kept ones pay for trim().
[[gnu::always_inline]] inline bool split_header(std::string_view line, std::string_view& name, std::string_view& raw_value) {
  size_t i = 0;
  while (i < line.size() && is_token_char(line[i])) i++;
  if (i == 0) return false;
  name = line.substr(0, i);
  size_t j = i;
  while (j < line.size() && is_ws(line[j])) j++;
  if (j >= line.size() || line[j] != ':') return false;
  raw_value = line.substr(j + 1);
  return true;
}

// The kept ones are numbered from 1: Message::folded[id - 1] is where a folded value is joined.
enum class Hdr { kOther, kCallId, kFrom, kTo, kCseq, kUserAgent, kServer, kContentType, kContentLength, kReason };
static_assert(size_t(Hdr::kReason) == kKeptHeaders);

// Header names are case-insensitive; compact forms per RFC 3261 §7.3.3 (i f t c l; v m e k s
// are Via, Contact, Content-Encoding, Supported, Subject, which nothing here keeps).
[[gnu::always_inline]] inline Hdr header_id(std::string_view n) {
  if (n.size() == 1) {
    switch (lower(n[0])) {
      case 'i': return Hdr::kCallId;
      case 'f': return Hdr::kFrom;
      case 't': return Hdr::kTo;
      case 'c': return Hdr::kContentType;
      case 'l': return Hdr::kContentLength;
      default: return Hdr::kOther;
    }
  }
  // One candidate per length (Via, Contact, Max-Forwards ... fall through after one compare).
  const auto is = [&](std::string_view want, Hdr h) { return token_is(n, want) ? h : Hdr::kOther; };
  switch (n.size()) {
    case 2: return is("to", Hdr::kTo);
    case 4: return lower(n[0]) == 'f' ? is("from", Hdr::kFrom) : is("cseq", Hdr::kCseq);
    case 6: return lower(n[0]) == 's' ? is("server", Hdr::kServer) : is("reason", Hdr::kReason);
    case 7: return is("call-id", Hdr::kCallId);
    case 10: return is("user-agent", Hdr::kUserAgent);
    case 12: return is("content-type", Hdr::kContentType);
    case 14: return is("content-length", Hdr::kContentLength);
    default: return Hdr::kOther;
  }
}

// CSeq = 1*DIGIT LWS Method (RFC 3261 §20.16; the number is below 2**31).
bool parse_cseq(std::string_view v, uint32_t& seq, std::string_view& method) {
  v = trim(v);
  size_t i = 0;
  while (i < v.size() && is_digit(v[i])) i++;
  uint64_t n;
  if (!parse_uint(v.substr(0, i), 0x7FFFFFFF, n)) return false;
  size_t j = i;
  while (j < v.size() && is_ws(v[j])) j++;
  if (j == i || j >= v.size()) return false;
  const std::string_view m = v.substr(j);
  for (char c : m)
    if (!is_token_char(c)) return false;
  seq = uint32_t(n);
  method = m;
  return true;
}

// Only padding (CR, LF, NUL, spaces) left after a datagram's message?
bool only_padding(std::string_view s) {
  for (char c : s)
    if (c != '\r' && c != '\n' && c != '\0' && c != ' ' && c != '\t') return false;
  return true;
}

// The media type of a Content-Type value ("application/SDP"; compare it ignoring case).
std::string_view media_type(std::string_view ct) {
  const size_t semi = ct.find(';');
  return trim(ct.substr(0, semi == std::string_view::npos ? ct.size() : semi));
}

// A parameter of a header value ("boundary" of a Content-Type, "cause" of a Reason).
std::string_view param(std::string_view v, std::string_view name) {
  size_t pos = v.find(';');
  while (pos != std::string_view::npos) {
    std::string_view rest = v.substr(pos + 1);
    const size_t next = rest.find(';');
    std::string_view p = rest.substr(0, next == std::string_view::npos ? rest.size() : next);
    const size_t eq = p.find('=');
    if (eq != std::string_view::npos && iequals(trim(p.substr(0, eq)), name)) {
      std::string_view val = trim(p.substr(eq + 1));
      if (val.size() >= 2 && val.front() == '"' && val.back() == '"') val = val.substr(1, val.size() - 2);
      return val;
    }
    pos = next == std::string_view::npos ? std::string_view::npos : pos + 1 + next;
  }
  return {};
}

// RFC 3551 §6 static payload types.
const char* static_payload_name(uint64_t pt) {
  switch (pt) {
    case 0: return "PCMU";
    case 3: return "GSM";
    case 4: return "G723";
    case 5: case 6: case 16: case 17: return "DVI4";
    case 7: return "LPC";
    case 8: return "PCMA";
    case 9: return "G722";
    case 10: case 11: return "L16";
    case 12: return "QCELP";
    case 13: return "CN";
    case 14: return "MPA";
    case 15: return "G728";
    case 18: return "G729";
    case 25: return "CelB";
    case 26: return "JPEG";
    case 28: return "nv";
    case 31: return "H261";
    case 32: return "MPV";
    case 33: return "MP2T";
    case 34: return "H263";
    default: return nullptr;
  }
}

bool is_ipv4(std::string_view s) {
  int parts = 0;
  while (true) {
    size_t i = 0;
    while (i < s.size() && is_digit(s[i])) i++;
    uint64_t v;
    if (i == 0 || i > 3 || !parse_uint(s.substr(0, i), 255, v)) return false;
    parts++;
    if (i == s.size()) return parts == 4;
    if (s[i] != '.' || parts == 4) return false;
    s = s.substr(i + 1);
  }
}

// Splits on runs of spaces.
[[gnu::always_inline]] inline bool next_word(std::string_view& rest, std::string_view& w) {
  const char *p = rest.data(), *end = p + rest.size();
  while (p < end && is_ws(*p)) p++;
  if (p == end) {
    rest = {};
    return false;
  }
  const char* start = p;
  while (p < end && !is_ws(*p)) p++;
  w = std::string_view(start, size_t(p - start));
  rest = std::string_view(p, size_t(end - p));
  return true;
}

}  // namespace

void Message::reset() {
  // Every field of Message (sip.h), in step with it. folded[] is storage only (read through
  // the views), so it is left as it is.
  request = false;
  method = uri = body = {};
  status = 0;
  call_id = from = to = user_agent = server = content_type = reason = cseq_method = {};
  has_call_id = has_cseq = has_content_length = false;
  cseq = 0;
  content_length = 0;
}

void Sdp::reset() {
  codecs.clear(), addrs.clear();
  rtp_ipv4 = {};
  rtp_port = 0;
}

ParseResult parse_message(const uint8_t* data, size_t len, bool datagram, Message& m, Dissector& d) {
  ByteReader r(data, len);
  LineReader lines(r);
  Line l;
  if (!lines.next(l) || !l.complete) {
    if (!datagram) return {Parse::kIncomplete, 0};
    // No line end at all: a start line cut short (snaplen) begins like one ("SIP/" or a
    // method token and a space); anything else was never SIP.
    const std::string_view t = l.text;
    size_t tok = 0;
    while (tok < t.size() && is_token_char(t[tok])) tok++;
    const bool prefix = istarts_with(t, "SIP/") || (tok > 0 && tok < t.size() && t[tok] == ' ');
    d.anomaly(prefix ? "sip_truncated_start_line" : "sip_bad_start_line");
    return {Parse::kInvalid, 0};
  }
  StartLine s;
  if (!parse_start_line(l.text, false, s)) {
    d.anomaly("sip_bad_start_line");
    return {Parse::kInvalid, 0};
  }
  m.request = s.request;
  m.method = s.method;
  m.uri = s.uri;
  m.status = s.status;

  std::string_view cseq_raw, cl_raw;
  bool has_cseq_hdr = false, has_cl_hdr = false, cl_conflict = false;
  std::string_view* cur = nullptr;  // the kept value a continuation line extends
  std::string* cur_fold = nullptr;  // where it is joined (Message::folded)
  bool cur_joined = false;          // *cur points into *cur_fold already
  size_t n_lines = 0;
  bool ended = false;
  bool capped = false;
  while (lines.next(l)) {
    if (!l.complete && !datagram) return {Parse::kIncomplete, 0};
    if (l.text.empty()) {
      ended = l.complete;
      break;
    }
    if (++n_lines > kMaxHeaderLines) {
      // Keep scanning for the blank line (the body starts after it), but look at no more.
      if (!capped) d.anomaly("sip_headers_cap");
      capped = true;
      continue;
    }
    if (is_ws(l.text.front())) {
      // Folded header (RFC 3261 §7.3.1): the line continues the previous header's value,
      // and the line break with the leading whitespace counts as one space.
      if (cur) {
        // Views into the message cannot span a line break: the value is copied once, then
        // joined (the cap applies to the joined value).
        if (!cur_joined) cur_fold->assign(*cur), cur_joined = true;
        append_capped(*cur_fold, " ", d);
        append_capped(*cur_fold, trim(l.text), d);
        *cur = *cur_fold;
      } else if (n_lines == 1) {
        d.anomaly("sip_bad_header");
      }
      continue;
    }
    std::string_view name, value;
    cur = nullptr;
    if (!split_header(l.text, name, value)) {
      d.anomaly("sip_bad_header");
      continue;
    }
    std::string_view* dst = nullptr;
    const Hdr id = header_id(name);
    switch (id) {
      case Hdr::kCallId:
        if (!m.has_call_id) dst = &m.call_id, m.has_call_id = true;
        break;
      case Hdr::kFrom: if (m.from.empty()) dst = &m.from; break;
      case Hdr::kTo: if (m.to.empty()) dst = &m.to; break;
      case Hdr::kUserAgent: if (m.user_agent.empty()) dst = &m.user_agent; break;
      case Hdr::kServer: if (m.server.empty()) dst = &m.server; break;
      case Hdr::kContentType: if (m.content_type.empty()) dst = &m.content_type; break;
      case Hdr::kReason: if (m.reason.empty()) dst = &m.reason; break;
      case Hdr::kCseq:
        if (!has_cseq_hdr) dst = &cseq_raw, has_cseq_hdr = true;
        break;
      case Hdr::kContentLength:
        if (!has_cl_hdr) {
          dst = &cl_raw;
          has_cl_hdr = true;
        } else if (trim(value) != trim(cl_raw)) {
          cl_conflict = true;  // two different lengths: neither can be trusted
        }
        break;
      case Hdr::kOther: break;
    }
    if (dst) {
      *dst = cap_value(trim(value), d);
      cur = dst;
      cur_fold = &m.folded[size_t(id) - 1];
      cur_joined = false;
    }
  }

  if (has_cseq_hdr) {
    m.has_cseq = parse_cseq(cseq_raw, m.cseq, m.cseq_method);
    if (!m.has_cseq) d.anomaly("sip_bad_cseq");
  } else {
    d.anomaly("sip_missing_cseq");
  }
  if (has_cl_hdr) {
    uint64_t n;
    if (!cl_conflict && parse_uint(trim(cl_raw), kMaxContentLength, n)) {
      m.has_content_length = true;
      m.content_length = n;
    } else {
      d.anomaly("sip_bad_content_length");
    }
  }

  const size_t head = r.pos();
  const size_t rem = r.remaining();
  if (!ended) {
    // Datagram without the blank line: the headers were cut (snaplen, IP fragment lost).
    d.anomaly("sip_truncated_header");
    return {Parse::kOk, len};
  }
  if (m.has_content_length) {
    if (m.content_length > rem) {
      if (!datagram) return {Parse::kIncomplete, 0};
      d.anomaly("sip_truncated_body");
      ByteReader b = r.sub(rem);
      m.body = std::string_view(reinterpret_cast<const char*>(b.base()), b.size());
      return {Parse::kOk, len};
    }
    ByteReader b = r.sub(size_t(m.content_length));
    m.body = std::string_view(reinterpret_cast<const char*>(b.base()), b.size());
    if (datagram && r.remaining()) {
      // RFC 3261 §18.3: bytes past Content-Length in a datagram are dropped. Padding is
      // harmless; anything else means the length is wrong or a second message was glued on.
      ByteReader extra = r.rest();
      if (!only_padding(std::string_view(reinterpret_cast<const char*>(extra.base()), extra.size())))
        d.anomaly("sip_extra_bytes");
      return {Parse::kOk, len};
    }
    return {Parse::kOk, head + size_t(m.content_length)};
  }
  if (datagram) {
    // Over UDP the body runs to the end of the datagram when Content-Length is absent.
    ByteReader b = r.rest();
    m.body = std::string_view(reinterpret_cast<const char*>(b.base()), b.size());
    return {Parse::kOk, len};
  }
  // On a stream Content-Length is mandatory (§18.3, §20.14): without it, assume no body.
  d.anomaly("sip_missing_content_length");
  return {Parse::kOk, head};
}

// Lines after the start line in which probe() looks for a header line.
constexpr int kProbeHeaderLines = 4;

bool looks_like_sip(const uint8_t* data, size_t len) {
  ByteReader r(data, len);
  LineReader lines(r);
  Line l;
  StartLine s;
  if (!lines.next(l) || !l.complete || !parse_start_line(l.text, true, s)) return false;
  // Every SIP message has headers (Call-ID, CSeq, From, To, Via are mandatory): a start line
  // not followed by a header line is something else that happens to look alike. One of the
  // next few lines is enough, so one damaged header does not hide the message.
  std::string_view name, value;
  for (int i = 0; i < kProbeHeaderLines && lines.next(l) && l.complete && !l.text.empty(); i++)
    if (split_header(l.text, name, value)) return true;
  return false;
}

bool is_start_line(std::string_view line) {
  StartLine s;
  return parse_start_line(line, true, s);
}

uint64_t head_content_length(const uint8_t* head, size_t len) {
  // The same reading as parse_message()'s, without reporting: the first Content-Length (or
  // "l") line among the first kMaxHeaderLines; a second one with another value, a folded
  // value or one that is not a number within kMaxContentLength means no body.
  ByteReader r(head, len);
  LineReader lines(r);
  Line l;
  if (!lines.next(l)) return 0;  // the start line
  std::string_view value;
  bool have = false, bad = false, in_cl = false;
  size_t n = 0;
  while (lines.next(l) && !l.text.empty()) {
    if (++n > kMaxHeaderLines) break;
    if (is_ws(l.text.front())) {
      // A continuation of the first Content-Length value: a number no more, unless blank.
      if (in_cl && !trim(l.text).empty()) bad = true;
      continue;
    }
    in_cl = false;
    std::string_view name, v;
    if (!split_header(l.text, name, v) || header_id(name) != Hdr::kContentLength) continue;
    if (!have) {
      value = v, have = true;
      in_cl = true;  // only the first one's value is kept, so only it can be continued
    } else if (trim(v) != trim(value)) {
      bad = true;
    }
  }
  uint64_t cl;
  if (!have || bad || !parse_uint(trim(value), kMaxContentLength, cl)) return 0;
  return cl;
}

namespace {

// parse_sdp()'s working lists: views into the body only, per thread and cleared, so no
// allocation per SDP body once grown.
struct SdpScratch {
  struct Media {
    bool active = false;  // port != 0 (port 0 rejects or disables a stream, RFC 3264 §6)
    bool rtp = false;
    uint16_t port = 0;
    std::string_view fmts;
    std::string_view conn_v4;
    bool has_conn = false;
  };
  struct Rtpmap {
    size_t media;
    std::string_view pt, name;
  };
  std::vector<Media> media;
  std::vector<Rtpmap> maps;
  std::vector<std::string_view> names;  // codec names, in order
};
// Out of line on purpose: in a shared object every use of a thread_local by name is a
// __tls_get_addr() call, and GCC recomputed the address at each use even through a local
// reference (34 calls per body); a returned reference is computed once.
[[gnu::noinline]] SdpScratch& sdp_scratch() {
  thread_local SdpScratch s;
  return s;
}

}  // namespace

bool parse_sdp(std::string_view body, Sdp& out, Dissector& d) {
  std::string_view rest = body, line;
  // The first line of an SDP description is "v=" (RFC 4566 §5).
  while (next_line(rest, line) && trim(line).empty()) {
  }
  if (!istarts_with(line, "v=")) {
    d.anomaly("sip_bad_sdp");
    return false;
  }
  SdpScratch& scratch = sdp_scratch();
  std::vector<SdpScratch::Media>& media = scratch.media;
  std::vector<SdpScratch::Rtpmap>& maps = scratch.maps;
  std::vector<std::string_view>& names = scratch.names;
  media.clear(), maps.clear(), names.clear();
  std::string_view session_v4;
  bool session_conn = false, skipping = false, addr_capped = false;
  while (next_line(rest, line)) {
    if (line.empty()) continue;
    if (line.size() < 2 || line[1] != '=') {
      d.anomaly("sip_bad_sdp_line");
      continue;
    }
    const char type = line[0];
    std::string_view v = line.substr(2);
    if (type == 'm') {
      if (media.size() >= kMaxSdpMedia) {
        if (!skipping) d.anomaly("sip_sdp_media_cap");
        skipping = true;
        continue;
      }
      // m=<media> <port>[/<number of ports>] <proto> <fmt> ...
      SdpScratch::Media md;
      std::string_view w, port, proto;
      if (next_word(v, w) && next_word(v, port) && next_word(v, proto)) {
        const size_t slash = port.find('/');
        uint64_t p;
        if (parse_uint(port.substr(0, slash == std::string_view::npos ? port.size() : slash), 65535, p)) {
          md.port = uint16_t(p);
          md.active = p != 0;
          md.rtp = proto.find("RTP/") != std::string_view::npos;
          md.fmts = v;
        } else {
          d.anomaly("sip_bad_sdp_line");
        }
      } else {
        d.anomaly("sip_bad_sdp_line");
      }
      media.push_back(md);
      continue;
    }
    if (skipping) continue;
    if (type == 'c') {
      // c=<nettype> <addrtype> <connection-address>[/ttl][/number]
      std::string_view net, atype, addr;
      if (!next_word(v, net) || !next_word(v, atype) || !next_word(v, addr)) {
        d.anomaly("sip_bad_sdp_line");
        continue;
      }
      const size_t slash = addr.find('/');
      if (slash != std::string_view::npos) addr = addr.substr(0, slash);
      const bool v4 = iequals(atype, "IP4") && is_ipv4(addr);
      if (media.empty()) {
        session_conn = true;
        session_v4 = v4 ? addr : std::string_view();
      } else {
        media.back().has_conn = true;
        media.back().conn_v4 = v4 ? addr : std::string_view();
      }
      bool seen = false;
      for (std::string_view a : out.addrs) seen = seen || a == addr;
      if (!seen && !addr.empty()) {
        if (out.addrs.size() < kMaxSdpAddrs) {
          out.addrs.push_back(cap_value(addr, d));
        } else if (!addr_capped) {
          d.anomaly("sip_sdp_addrs_cap");
          addr_capped = true;
        }
      }
      continue;
    }
    if (type == 'a' && !media.empty() && istarts_with(v, "rtpmap:")) {
      // a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]
      std::string_view a = v.substr(7), pt, enc;
      if (!next_word(a, pt) || !next_word(a, enc)) {
        d.anomaly("sip_bad_sdp_line");
        continue;
      }
      if (maps.size() >= kMaxSdpRtpmaps) {
        d.anomaly("sip_sdp_rtpmap_cap");
        continue;
      }
      const size_t slash = enc.find('/');
      maps.push_back({media.size() - 1, pt, enc.substr(0, slash == std::string_view::npos ? enc.size() : slash)});
    }
  }

  // RTP endpoint: the first active media, with its own c= or else the session's.
  for (const SdpScratch::Media& md : media) {
    if (!md.active) continue;
    const std::string_view a = md.has_conn ? md.conn_v4 : (session_conn ? session_v4 : std::string_view());
    out.rtp_ipv4 = a;
    out.rtp_port = md.port;
    break;
  }
  // Codecs: every format of every active media, by name, each once.
  bool codec_capped = false;
  for (size_t i = 0; i < media.size(); i++) {
    if (!media[i].active) continue;
    std::string_view fmts = media[i].fmts, f;
    size_t n_fmts = 0;
    while (next_word(fmts, f)) {
      if (++n_fmts > kMaxSdpFormats) {
        // Bounds the work on an absurd m= line (each format is looked up in the rtpmaps).
        d.anomaly("sip_sdp_formats_cap");
        break;
      }
      std::string_view name = f;
      if (media[i].rtp) {
        bool mapped = false;
        for (const SdpScratch::Rtpmap& mp : maps)
          if (mp.media == i && mp.pt == f) name = mp.name, mapped = true;
        uint64_t pt;
        if (!mapped && parse_uint(f, 127, pt))
          if (const char* s = static_payload_name(pt)) name = s;
      }
      bool seen = false;
      for (std::string_view n : names) seen = seen || n == name;
      if (seen) continue;
      if (names.size() >= kMaxCodecs) {
        if (!codec_capped) d.anomaly("sip_sdp_codecs_cap");
        codec_capped = true;
        break;
      }
      names.push_back(name);
    }
  }
  for (std::string_view n : names) {
    if (!out.codecs.empty()) append_capped(out.codecs, ",", d);
    append_capped(out.codecs, n, d);
  }
  return true;
}

std::string_view sdp_body(const Message& m, Dissector& d) {
  if (m.body.empty()) return {};
  const std::string_view type = media_type(m.content_type);
  if (iequals(type, "application/sdp")) return m.body;
  if (!istarts_with(type, "multipart/")) return {};
  // RFC 2046 §5.1: parts are separated by "--boundary" lines; SIP-I/SIP-T calls carry the
  // SDP next to an ISUP part (RFC 3204), so the SDP is looked for among the parts.
  const std::string_view boundary = param(m.content_type, "boundary");
  if (boundary.empty() || boundary.size() > 200) {
    d.anomaly("sip_bad_multipart");
    return {};
  }
  std::string delim = "--";
  delim.append(boundary);
  const std::string_view body = m.body;
  size_t pos = body.find(delim);
  size_t parts = 0;
  while (pos != std::string_view::npos) {
    const std::string_view after = body.substr(pos + delim.size());
    if (after.substr(0, 2) == "--") break;  // the closing delimiter
    const size_t eol = body.find('\n', pos);
    if (eol == std::string_view::npos) break;
    const size_t next = body.find(delim, eol + 1);
    std::string_view part = body.substr(eol + 1, (next == std::string_view::npos ? body.size() : next) - (eol + 1));
    // The line break before the next delimiter belongs to the delimiter.
    if (!part.empty() && part.back() == '\n') part.remove_suffix(1);
    if (!part.empty() && part.back() == '\r') part.remove_suffix(1);
    if (++parts > kMaxMultipartParts) {
      d.anomaly("sip_multipart_cap");
      break;
    }
    // Part headers, a blank line, the part's content.
    std::string_view rest = part, line, ct;
    bool blank = false;
    while (next_line(rest, line)) {
      if (line.empty()) {
        blank = true;
        break;
      }
      std::string_view name, value;
      if (split_header(line, name, value) && header_id(name) == Hdr::kContentType) ct = trim(value);
    }
    if (blank && iequals(media_type(ct), "application/sdp")) return rest;
    pos = next;
  }
  return {};
}

namespace {

// "<" uri ">" in one allocation (operator+ on a std::string(uri) took up to three).
std::string bracketed(std::string_view uri) {
  std::string out;
  out.reserve(uri.size() + 2);
  out.push_back('<');
  out.append(uri);
  out.push_back('>');
  return out;
}

}  // namespace

std::string party(std::string_view v) {
  v = trim(v);
  // name-addr: [display-name] "<" addr-spec ">" *(;param). The display name may be a quoted
  // string holding '<', so quotes are skipped over.
  bool quoted = false;
  for (size_t i = 0; i < v.size(); i++) {
    const char c = v[i];
    if (quoted) {
      if (c == '\\') i++;
      else if (c == '"') quoted = false;
      continue;
    }
    if (c == '"') {
      quoted = true;
    } else if (c == '<') {
      const size_t end = v.find('>', i + 1);
      const std::string_view uri = trim(v.substr(i + 1, end == std::string_view::npos ? v.size() - i - 1 : end - i - 1));
      return bracketed(uri);
    }
  }
  // addr-spec without brackets: what follows ';' are header parameters (§20.10), not URI ones.
  const size_t semi = v.find(';');
  const std::string_view uri = trim(v.substr(0, semi == std::string_view::npos ? v.size() : semi));
  if (uri.empty()) return {};
  return bracketed(uri);
}

uint32_t reason_cause(std::string_view reason) {
  uint64_t n;
  if (parse_uint(param(reason, "cause"), 0xFFFFFFFF, n)) return uint32_t(n);
  return 0;
}

}  // namespace sip

namespace {

using sip::Message;
using Entry = sip::Calls::Entry;

constexpr size_t kMaxCIpPerEntry = 8;  // SIP_C_IP addresses kept per transaction

enum class Kind : uint8_t { kOther, kCall, kRegister };

enum Time : unsigned {
  kInvite, kTrying, kRinging, kInviteOk, kInviteFailure, kBye, kByeOk, kCancel, kCancelOk, kNumTimes
};
constexpr const char* kTimeNames[kNumTimes] = {
    "SIP_INVITE_TIME", "SIP_TRYING_TIME",  "SIP_RINGING_TIME", "SIP_INVITE_OK_TIME", "SIP_INVITE_FAILURE_TIME",
    "SIP_BYE_TIME",    "SIP_BYE_OK_TIME",  "SIP_CANCEL_TIME",  "SIP_CANCEL_OK_TIME",
};

}  // namespace

// One dialog / transaction group of the flow: everything with one Call-ID.
struct sip::Calls::Entry {
  std::string call_id, calling, called, codecs, rtp_src_ip, rtp_dst_ip;
  std::string ua[2], server[2];  // by direction: 0 the flow's client, 1 its server
  std::vector<std::string> c_ip;
  uint16_t rtp_src_port = 0, rtp_dst_port = 0;
  bool rtp_src_set = false, rtp_dst_set = false, c_ip_capped = false;
  Kind kind = Kind::kOther;
  bool parties_set = false, parties_from_invite = false, invite_request_seen = false;
  int caller_dir = 0;  // direction the call (or first request) came from
  uint64_t time_us[kNumTimes] = {};
  unsigned times_set = 0;
  int last_invite_final = 0, last_final = 0;
  uint32_t reason_cause = 0;
  bool reg_pending = false;
  uint32_t reg_cseq = 0;
  uint64_t reg_req_us = 0;
  uint32_t reg_max_rrd_ms = 0, reg_ok = 0, reg_other = 0;

  void set_time(Time t, uint64_t ts) {
    if (times_set & (1u << t)) return;
    times_set |= 1u << t;
    time_us[t] = ts;
  }
  const char* state() const {
    if (kind == Kind::kRegister) return "REGISTER";
    if (kind != Kind::kCall) return "UNKNOWN";
    if (times_set & (1u << kBye)) return "CALL_COMPLETED";
    if (times_set & (1u << kCancel)) return "CALL_CANCELED";
    if (times_set & (1u << kInviteOk)) return "CALL_IN_PROGRESS";
    if (last_invite_final >= 300) return "CALL_ERROR";
    return "CALL_STARTED";
  }
};

namespace {

Kind kind_of(std::string_view method) {
  if (method == "REGISTER") return Kind::kRegister;
  // Only INVITE dialogs have ACK, CANCEL and BYE (RFC 3261 §13, §9, §15).
  if (method == "INVITE" || method == "ACK" || method == "BYE" || method == "CANCEL") return Kind::kCall;
  return Kind::kOther;
}

// Writes one entry's fields, flat (FieldWriter) or into a JSON object: unset ones are left out.
template <class Sink>
void emit(const Entry& e, Sink& s) {
  s.str("SIP_CALL_ID", e.call_id);
  s.str("SIP_CALLING_PARTY", e.calling);
  s.str("SIP_CALLED_PARTY", e.called);
  s.str("SIP_CALL_STATE", e.state());
  s.str("SIP_UAC", e.ua[0].empty() ? e.server[0] : e.ua[0]);
  s.str("SIP_UAS", e.ua[1].empty() ? e.server[1] : e.ua[1]);
  s.str("SIP_RTP_CODECS", e.codecs);
  for (unsigned t = 0; t < kNumTimes; t++)
    if (e.times_set & (1u << t)) s.num(kTimeNames[t], double(e.time_us[t] / 1000000));
  s.str("SIP_RTP_IPV4_SRC_ADDR", e.rtp_src_ip);
  s.num("SIP_RTP_L4_SRC_PORT", e.rtp_src_port);
  s.str("SIP_RTP_IPV4_DST_ADDR", e.rtp_dst_ip);
  s.num("SIP_RTP_L4_DST_PORT", e.rtp_dst_port);
  std::string cip;
  for (const std::string& a : e.c_ip) cip += (cip.empty() ? "" : ",") + a;
  s.str("SIP_C_IP", cip);
  s.num("SIP_RESPONSE_CODE", e.last_invite_final ? e.last_invite_final : e.last_final);
  s.num("SIP_REASON_CAUSE", e.reason_cause);
  s.num("SIP_REGISTER_MAX_RRD", e.reg_max_rrd_ms);
  s.num("SIP_REGISTER_NUM_OK", e.reg_ok);
  s.num("SIP_REGISTER_NUM_OTHER", e.reg_other);
}

// Inlined into emit(), where most names are literals: their lengths and plain-ASCII checks
// are then known at compile time.
struct FlatSink {
  FieldWriter& w;
  [[gnu::always_inline]] void str(std::string_view n, std::string_view v) { w.str_if(n, v); }
  [[gnu::always_inline]] void num(std::string_view n, double v) { w.num_if(n, v); }
};
struct JsonSink {
  JsonWriter& j;
  [[gnu::always_inline]] void str(std::string_view n, std::string_view v) {
    if (!v.empty()) j.kv(n, v);
  }
  [[gnu::always_inline]] void num(std::string_view n, double v) {
    if (v != 0) j.kv(n, uint64_t(v));
  }
};

}  // namespace

sip::Calls::Calls() = default;
sip::Calls::~Calls() = default;

void sip::Calls::write(FieldWriter& w) const {
  if (entries_.empty()) return;
  FlatSink flat{w};
  emit(entries_.front(), flat);
  JsonWriter j;
  j.begin_array();
  for (const Entry& e : entries_) {
    j.begin_object();
    JsonSink js{j};
    emit(e, js);
    j.end_object();
  }
  j.end_array();
  w.json("SIP_TRANSACTIONS", j.str());
}

Entry* sip::Calls::entry_for(std::string_view call_id, std::string_view method, bool request, int dir, Dissector& d) {
  for (Entry& e : entries_)
    if (e.call_id == call_id) return &e;
  if (entries_.size() >= dissect_limits::kMaxTransactions) {
    d.anomaly("sip_transactions_cap");
    return nullptr;
  }
  Entry& e = entries_.emplace_back();
  e.call_id = call_id;
  e.kind = kind_of(method);
  e.caller_dir = request ? dir : 1 - dir;
  return &e;
}

void sip::Calls::apply(const Message& m, int dir, uint64_t ts, Dissector& d) {
  if (!m.has_call_id || m.call_id.empty()) {
    d.anomaly("sip_missing_call_id");
    return;
  }
  // A response says what it answers only through its CSeq method.
  const std::string_view method = m.request ? m.method : (m.has_cseq ? m.cseq_method : "");
  if (m.request && m.has_cseq && m.cseq_method != m.method) d.anomaly("sip_cseq_method_mismatch");
  Entry* e = entry_for(m.call_id, method, m.request, dir, d);
  if (!e) return;

  const bool invite = method == "INVITE";
  if (invite && e->kind != Kind::kCall) e->kind = Kind::kCall;  // e.g. an OPTIONS came first
  if (method == "REGISTER" && e->kind == Kind::kOther) e->kind = Kind::kRegister;
  if (invite && m.request && !e->invite_request_seen) {
    e->invite_request_seen = true;
    e->caller_dir = dir;
  }
  // Parties: the first INVITE's From/To (a re-INVITE or BYE from the callee swaps them).
  if (!e->parties_set || (invite && !e->parties_from_invite)) {
    // From/To were cut at kMaxValueBytes already, so these stay bounded too.
    e->calling = sip::party(m.from);
    e->called = sip::party(m.to);
    e->parties_set = true;
    e->parties_from_invite = invite;
  }
  if (e->ua[dir].empty() && !m.user_agent.empty()) e->ua[dir] = m.user_agent;
  if (e->server[dir].empty() && !m.server.empty()) e->server[dir] = m.server;
  if (!e->reason_cause && !m.reason.empty()) e->reason_cause = sip::reason_cause(m.reason);

  if (m.request) {
    if (invite) e->set_time(kInvite, ts);
    else if (method == "BYE") e->set_time(kBye, ts);
    else if (method == "CANCEL") e->set_time(kCancel, ts);
    else if (method == "REGISTER" && m.has_cseq && (!e->reg_pending || e->reg_cseq != m.cseq)) {
      // A retransmission keeps its CSeq: the delay runs from the first copy.
      e->reg_pending = true;
      e->reg_cseq = m.cseq;
      e->reg_req_us = ts;
    }
  } else if (m.has_cseq) {
    const int s = m.status;
    if (s >= 200) e->last_final = s;
    if (invite) {
      // Once a 2xx has set the call up, later INVITEs are re-INVITEs (hold, a switch to
      // T.38 ...): their answers change neither the setup times nor the call's outcome.
      const bool established = e->times_set & (1u << kInviteOk);
      if (s == 100) e->set_time(kTrying, ts);
      else if (s == 180 || s == 183) e->set_time(kRinging, ts);
      else if (s >= 200 && s < 300) e->set_time(kInviteOk, ts);
      else if (s >= 300 && !established) e->set_time(kInviteFailure, ts);
      if (s >= 200 && !established) e->last_invite_final = s;
    } else if (method == "BYE" && s >= 200 && s < 300) {
      e->set_time(kByeOk, ts);
    } else if (method == "CANCEL" && s >= 200 && s < 300) {
      e->set_time(kCancelOk, ts);
    } else if (method == "REGISTER" && s >= 200) {
      if (s < 300) e->reg_ok++;
      else e->reg_other++;
      if (e->reg_pending && e->reg_cseq == m.cseq && ts >= e->reg_req_us) {
        const uint64_t ms = (ts - e->reg_req_us) / 1000;
        if (ms > e->reg_max_rrd_ms) e->reg_max_rrd_ms = uint32_t(std::min<uint64_t>(ms, UINT32_MAX));
        e->reg_pending = false;
      }
    }
  }

  const std::string_view body = sip::sdp_body(m, d);
  if (!body.empty()) apply_sdp(*e, body, dir, d);
}

void sip::Calls::apply_sdp(Entry& e, std::string_view body, int dir, Dissector& d) {
  thread_local sip::Sdp scratch;
  sip::Sdp& s = scratch;
  s.reset();
  if (!sip::parse_sdp(body, s, d)) return;
  // The caller's SDP gives the RTP source, the other side's the destination: offer and
  // answer whichever message carries them (an INVITE offer, or a late offer in the 200).
  if (dir == e.caller_dir) {
    if (!e.rtp_src_set) e.rtp_src_ip = s.rtp_ipv4, e.rtp_src_port = s.rtp_port, e.rtp_src_set = true;
  } else if (!e.rtp_dst_set) {
    e.rtp_dst_ip = s.rtp_ipv4, e.rtp_dst_port = s.rtp_port, e.rtp_dst_set = true;
  }
  if (e.codecs.empty()) e.codecs = s.codecs;
  for (std::string_view a : s.addrs) {
    bool seen = false;
    for (const std::string& b : e.c_ip) seen = seen || a == b;
    if (seen) continue;
    if (e.c_ip.size() >= kMaxCIpPerEntry) {
      if (!e.c_ip_capped) d.anomaly("sip_c_ip_cap");
      e.c_ip_capped = true;
      break;
    }
    e.c_ip.emplace_back(a);
  }
}

namespace {

class SipDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx& c) override {
    if (keepalive(c.data, c.len)) return;
    thread_local Message scratch;
    Message& m = scratch;
    m.reset();
    if (sip::parse_message(c.data, c.len, true, m, *this).status != sip::Parse::kOk) return;
    calls_.apply(m, c.dir ? 1 : 0, c.ts_us, *this);
  }

  void on_export(FieldWriter& w) override { calls_.write(w); }

  uint16_t l7_proto() const override { return l7::kSip; }

 private:
  // RFC 5626 §4.4: a double CRLF ping, its single CRLF pong, or a STUN binding on the SIP
  // flow keep NAT bindings open; they are not messages. Padding-only datagrams likewise.
  static bool keepalive(const uint8_t* data, uint32_t len) {
    ByteReader r(data, len);
    if (r.has(20) && (r.peek8() & 0xC0) == 0 && r.peek16(4) == 0x2112 && r.peek16(6) == 0xA442) return true;
    while (r.has(1)) {
      const uint8_t c = r.u8();
      if (c != '\r' && c != '\n' && c != 0 && c != ' ') return false;
    }
    return true;
  }

  sip::Calls calls_;
};

bool hint(uint16_t s, uint16_t d) { return s == 5060 || d == 5060 || s == 5061 || d == 5061; }
bool probe(const uint8_t* data, uint32_t len, uint16_t, uint16_t) { return sip::looks_like_sip(data, len); }
std::unique_ptr<Dissector> create() { return std::make_unique<SipDissector>(); }

}  // namespace

extern const DissectorInfo kSipInfo{"SIP", l7::kSip, 17, hint, probe, create};

}  // namespace nprobe
