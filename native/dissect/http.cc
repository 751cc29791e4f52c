// HTTP/1.x dissector over reassembled TCP streams. Message syntax and framing per RFC 9112
// (start lines §3/§4, header fields §5, body length §6.3, chunked coding §7.1), semantics per
// RFC 9110 (methods §9, HEAD/CONNECT, status classes §15: 1xx interim, 101 protocol switch,
// 204/304 without content; Content-Length §8.6; Via §7.6.3), X-Forwarded-For as the de-facto
// list header (RFC 7239 §1). nProbe's HTTP plugin fields.
//
// A flow holds a sequence of transactions (keep-alive, pipelining): each request line opens
// one, responses close them in request order (RFC 9112 §9.3.2). HTTP_TRANSACTIONS lists every
// transaction (at most dissect_limits::kMaxTransactions, cap counted as http_transactions_cap);
// the flat HTTP_* fields describe the first one. Per transaction:
// - HTTP_METHOD, HTTP_URL (the request-target as sent: origin-form "/p?q", absolute-form for
//   proxies, authority-form for CONNECT), HTTP_HOST (Host value as sent, port included),
//   HTTP_SITE (the Host's name without port and without its first label when it has three or
//   more, "www.ntop.org" -> "ntop.org"; IP literals and two-label names are kept),
//   HTTP_UA, HTTP_REFERER, HTTP_X_FORWARDED_FOR (every X-Forwarded-For line, joined with ", ").
// - HTTP_RET_CODE: status of the final response (1xx other than 101 are interim, RFC 9110
//   §15.2); HTTP_MIME: the response's Content-Type as sent; HTTP_VIA: the request's Via
//   headers, else the response's.
// A header's first occurrence wins (a second Host is the anomaly http_multiple_host).
//
// Bodies are skipped, never stored: by Content-Length, by the chunked coding (extensions and
// trailers skipped), none for HEAD, 1xx, 204, 304 responses, and responses with neither
// read until the connection closes. CONNECT 2xx and 101 turn the connection into a tunnel:
// the dissector then wants no more bytes (finished()).
//
// Stream gaps (on_gap): inside a body of known length the gap is just skipped bytes. Anywhere
// else the direction resyncs at the next valid start line, also one glued to the tail of a
// body whose length was lost; while resyncing, a request needs a well-known method, as a cut
// may leave a word that looks like one. A gap that takes a message's start with it (at a
// message boundary, or running past the end of the current body), or a direction whose first
// bytes are mid-message (a capture started late), means one message is lost: a lost response
// closes the oldest waiting request without a status (http_response_lost); a lost request
// (http_request_lost) either was already answered (a response came with no request waiting:
// http_response_without_request, its own response-only transaction) or leaves a placeholder
// the next response pairs with, getting its response-only transaction then. So the following
// pairs stay right.
//
// Roles: the flow's client is whoever sent its first packet, the server when a capture starts
// mid-connection; the first start line seen (a request on "server -> client", a status line
// on "client -> server") swaps the roles. Bytes are held until a start line decides (at most
// kMaxHeldBytes), then replayed. A leading 0x00 (a TCP keep-alive probe that starts the
// capture, one byte before the next data) is skipped.
//
// Caps, each counted with a named anomaly: line length (LineReader, http_line_cap; a longer
// line is cut, its start kept), transactions per flow, requests waiting for a response
// (kMaxPending, http_pending_cap: the oldest is dropped), chunks per body (kMaxChunks,
// http_chunk_cap: the rest of that direction is not read), bytes searched for a start line
// while resyncing (kMaxResyncBytes, http_resync_cap: that direction is abandoned), and stored
// values (kMaxValueBytes, cut on a UTF-8 boundary). Memory per flow is bounded by these: two
// line buffers, 64 transactions of at most 8 values of 1 KiB (one buffer per flow, at most
// twice that with the dead bytes of rewritten values, see Values), 256 pending entries.
// Other anomalies: http_bad_request_line, http_bad_status_line, http_bad_header_line,
// http_bad_content_length, http_bad_transfer_encoding, http_bad_chunk_size, http_bad_chunk_end,
// http_te_and_content_length, http_multiple_host (invalid input); http_truncated_header,
// http_truncated_body (the flow ended inside a message); http_gap, http_midstream_start.
//
// Detection (probe_stream): one side's first line is a request line (an upper-case method
// token, one SP, a request-target, one SP, "HTTP/1.<digit>", line end), or its first bytes
// are a status line ("HTTP/1.<digit> <100..599>"). A request-target longer than the bytes the
// probe sees is accepted for well-known methods only. HTTP/0.9, HTTP/2 (prior knowledge) and
// look-alikes (RTSP/1.0, SIP/2.0) are not HTTP/1.x; SSDP (HTTP over UDP) is not this
// dissector's (nDPI has it as its own protocol). Any port: ports only order the probes.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../reassembly/tcp_flow.h"
#include "../util/byte_reader.h"
#include "../util/fifo.h"
#include "../util/json_writer.h"
#include "../util/token_case.h"
#include "dissector.h"
#include "line_reader.h"

namespace nprobe {
namespace {

// Caps (see the header comment).
constexpr size_t kMaxLine = LineReader::kDefaultMaxLine;  // 8 KiB: start and header lines
constexpr size_t kMaxValueBytes = dissect_limits::kMaxFieldBytes;
constexpr size_t kMaxTransactions = dissect_limits::kMaxTransactions;
constexpr size_t kMaxPending = 256;             // pipelined requests waiting for responses
constexpr uint64_t kMaxChunks = 65536;          // chunks in one body
constexpr uint64_t kMaxResyncBytes = 4u << 20;  // bytes searched for a start line after a loss
constexpr size_t kMaxMethodLen = 32;            // method token accepted by the probe
constexpr size_t kMaxHeldBytes = 2 * reasm_limits::kProbeBytesPerDir;  // before the roles are known

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; }
constexpr bool is_ws(char c) { return c == ' ' || c == '\t'; }

// RFC 9110 §5.6.2 tchar, as a table: every header name is checked a byte at a time.
constexpr std::array<bool, 256> kTchar = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; c++) t[size_t(c)] = is_alpha(char(c)) || is_digit(char(c));
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[uint8_t(c)] = true;
  return t;
}();
bool is_tchar(char c) { return kTchar[uint8_t(c)]; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// Inline: it runs on every value the dissector keeps, and a call cost as much as its loops.
[[gnu::always_inline]] inline std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

// A request-target byte: visible, not a space (RFC 9112 §3.2); raw UTF-8 and other octets
// >= 0x80 are accepted, as clients do send them.
bool is_target_byte(uint8_t c) { return c > 0x20 && c != 0x7F; }

// How many bytes at p (of n) are request-target bytes. The target is read three times per
// connection's first request (the probe, the role check before the first line, the request
// line) and once per later one, most of a request line's bytes: 16 bytes a step where the
// target has SSE2 (every x86-64), the rest one at a time.
size_t target_bytes(const uint8_t* p, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= n; i += 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i ctl_or_sp = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x20)), x);  // x <= 0x20
    const __m128i del = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7F));
    const unsigned other = unsigned(_mm_movemask_epi8(_mm_or_si128(ctl_or_sp, del)));
    if (other) return i + unsigned(__builtin_ctz(other));
  }
#endif
  while (i < n && is_target_byte(p[i])) i++;
  return i;
}

// At most kMaxValueBytes of v, cut on a UTF-8 boundary.
std::string_view capped(std::string_view v) {
  if (v.size() <= kMaxValueBytes) return v;
  size_t cut = kMaxValueBytes;
  while (cut > 0 && (static_cast<unsigned char>(v[cut]) & 0xC0) == 0x80) cut--;
  return v.substr(0, cut);
}

// "HTTP/1.<digit>": true and the minor version. Only HTTP/1.x is this dissector's.
bool parse_version(std::string_view v, int& minor) {
  if (v.size() != 8 || v.substr(0, 7) != "HTTP/1." || !is_digit(v[7])) return false;
  minor = v[7] - '0';
  return true;
}

struct RequestLine {
  std::string_view method, target;
};

// RFC 9112 §3: method SP request-target SP HTTP-version. Recipients may split on runs of
// whitespace (§3), so extra SP/HTAB between the parts is accepted here (not in the probe).
// A line cut by the line cap keeps method and target; its version is not checked.
bool parse_request_line(std::string_view line, bool truncated, RequestLine& out) {
  size_t i = 0;
  while (i < line.size() && is_tchar(line[i])) i++;
  if (i == 0 || i > kMaxMethodLen || i >= line.size() || !is_ws(line[i])) return false;
  out.method = line.substr(0, i);
  while (i < line.size() && is_ws(line[i])) i++;
  const size_t t0 = i;
  i += target_bytes(reinterpret_cast<const uint8_t*>(line.data()) + i, line.size() - i);
  if (i == t0) return false;
  out.target = line.substr(t0, i - t0);
  if (truncated && i == line.size()) return true;
  if (i >= line.size() || !is_ws(line[i])) return false;
  while (i < line.size() && is_ws(line[i])) i++;
  int minor = 0;
  return parse_version(trim(line.substr(i)), minor) || (truncated && !line.substr(i).empty());
}

// RFC 9112 §4: HTTP-version SP status-code SP [reason-phrase]. A missing reason phrase (and
// its SP) is accepted, as servers send "HTTP/1.1 200".
bool parse_status_line(std::string_view line, int& status) {
  int minor = 0;
  if (line.size() < 12 || !parse_version(line.substr(0, 8), minor) || line[8] != ' ') return false;
  if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11])) return false;
  if (line.size() > 12 && !is_ws(line[12])) return false;
  status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  return status >= 100;
}

// Content-Length (RFC 9110 §8.6): 1*DIGIT, or a list of identical values ("42, 42").
bool parse_content_length(std::string_view v, uint64_t& out) {
  bool have = false;
  uint64_t first = 0;
  while (true) {
    const size_t comma = v.find(',');
    const std::string_view part = trim(v.substr(0, comma));
    if (part.empty() || part.size() > 18) return false;
    uint64_t n = 0;
    for (char c : part) {
      if (!is_digit(c)) return false;
      n = n * 10 + uint64_t(c - '0');
    }
    if (have && n != first) return false;
    first = n, have = true;
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  out = first;
  return have;
}

// chunk-size [chunk-ext] (RFC 9112 §7.1): hex digits, then optional BWS ";" extensions.
bool parse_chunk_size(std::string_view line, uint64_t& out) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < line.size()) {
    const char c = line[i];
    int d;
    if (is_digit(c)) d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else break;
    if (i >= 15) return false;  // 2^60: no real chunk is that large
    n = n * 16 + uint64_t(d);
    i++;
  }
  if (i == 0) return false;
  const std::string_view rest = trim(line.substr(i));
  if (!rest.empty() && rest.front() != ';') return false;
  out = n;
  return true;
}

// HTTP_SITE from a Host value: port and brackets dropped, then the first label of a name of
// three or more labels ("www.example.com" -> "example.com"); IP literals are kept whole.
// A view into host (no copy: it runs on the export of every HTTP transaction).
std::string_view site_of(std::string_view host) {
  host = trim(host);
  if (!host.empty() && host.front() == '[') {
    const size_t e = host.find(']');
    return e == std::string_view::npos ? host.substr(1) : host.substr(1, e - 1);
  }
  const size_t colon = host.find(':');
  if (colon != std::string_view::npos) host = host.substr(0, colon);
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  bool numeric = !host.empty();
  size_t dots = 0;
  for (char c : host) {
    if (c == '.') dots++;
    else if (!is_digit(c)) numeric = false;
  }
  if (numeric || dots < 2) return host;
  return host.substr(host.find('.') + 1);
}

// Methods believed where a method token alone is weak evidence (a request-target longer than
// the probe sees, a line found while resyncing after a loss, where a cut could leave a word
// that merely looks like a method): RFC 9110 §9, PATCH (RFC 5789), WebDAV (RFC 4918), and
// the UPnP/GENA ones seen over TCP.
constexpr std::string_view kKnownMethods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH",
    "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "M-SEARCH",
};
bool known_method(std::string_view m) {
  for (std::string_view k : kKnownMethods)
    if (m == k) return true;
  return false;
}

// Where a status line starts inside a line ("...body tail...HTTP/1.1 200 OK"), or npos.
size_t embedded_status(std::string_view t) {
  int status = 0;
  for (size_t at = t.find("HTTP/1."); at != std::string_view::npos; at = t.find("HTTP/1.", at + 1))
    if (parse_status_line(t.substr(at), status)) return at;
  return std::string_view::npos;
}

// Where a request line starts inside a line that ends with one ("...tail...GET /x HTTP/1.1"),
// or npos. Read backwards: version, SP, target, SP, method; when the upper-case run before the
// target ends with a well-known method, that method is taken (the rest is the lost tail).
size_t embedded_request(std::string_view t) {
  while (!t.empty() && is_ws(t.back())) t.remove_suffix(1);
  int minor = 0;
  if (t.size() < 12 || !parse_version(t.substr(t.size() - 8), minor)) return std::string_view::npos;
  size_t i = t.size() - 8;
  if (!is_ws(t[i - 1])) return std::string_view::npos;
  while (i > 0 && is_ws(t[i - 1])) i--;
  const size_t target_end = i;
  while (i > 0 && is_target_byte(static_cast<uint8_t>(t[i - 1]))) i--;
  if (i == target_end || i == 0 || !is_ws(t[i - 1])) return std::string_view::npos;
  while (i > 0 && is_ws(t[i - 1])) i--;
  const size_t method_end = i;
  while (i > 0 && method_end - i < kMaxMethodLen &&
         ((t[i - 1] >= 'A' && t[i - 1] <= 'Z') || t[i - 1] == '-' || t[i - 1] == '_'))
    i--;
  if (i == method_end) return std::string_view::npos;
  // The longest well-known method the upper-case run ends with.
  const std::string_view run = t.substr(i, method_end - i);
  size_t best = 0;
  for (std::string_view k : kKnownMethods)
    if (k.size() > best && run.size() >= k.size() && run.substr(run.size() - k.size()) == k) best = k.size();
  return best ? method_end - best : std::string_view::npos;
}

// The header fields the dissector reads. Each has a length no other of them has, so a name
// is told by its length first and then by one compare: every other header, the common ones
// included (Accept*, Connection, Server, Date, Cache-Control), costs at most that compare.
enum class Field : uint8_t {
  kOther, kContentLength, kTransferEncoding, kHost, kUserAgent, kReferer, kXForwardedFor, kVia,
  kContentType,
};
Field field_of(std::string_view name) {
  Field f = Field::kOther;
  std::string_view want;
  switch (name.size()) {
    case 3: f = Field::kVia, want = "via"; break;
    case 4: f = Field::kHost, want = "host"; break;
    case 7: f = Field::kReferer, want = "referer"; break;
    case 10: f = Field::kUserAgent, want = "user-agent"; break;
    case 12: f = Field::kContentType, want = "content-type"; break;
    case 14: f = Field::kContentLength, want = "content-length"; break;
    case 15: f = Field::kXForwardedFor, want = "x-forwarded-for"; break;
    case 17: f = Field::kTransferEncoding, want = "transfer-encoding"; break;
    default: return Field::kOther;
  }
  return token_is(name, want) ? f : Field::kOther;  // name holds tchar only (header_line)
}

// ---- probe ----

// 1: a complete HTTP/1.x request line starts the buffer; 0: what is there is a valid start of
// one; -1: not a request line.
int match_request(const uint8_t* p, uint32_t n) {
  ByteReader r(p, n);
  // Method: upper-case letters, digits, '-' and '_' (every registered method is upper case),
  // starting with a letter.
  size_t m = 0;
  while (r.has(1) && m <= kMaxMethodLen) {
    const uint8_t c = r.peek8();
    const bool ok = (c >= 'A' && c <= 'Z') || (m > 0 && ((c >= '0' && c <= '9') || c == '-' || c == '_'));
    if (!ok) break;
    r.skip(1), m++;
  }
  if (!r.has(1)) return m > 0 && m <= kMaxMethodLen ? 0 : -1;
  if (m == 0 || m > kMaxMethodLen || r.u8() != ' ') return -1;
  const std::string_view method(reinterpret_cast<const char*>(p), m);
  const size_t t = target_bytes(r.cur(), r.remaining());
  r.skip(t);
  if (!r.has(1)) {
    // The target runs to the end of what is kept for probing: a request-target longer than
    // that is believed only for the methods every HTTP server knows.
    if (n < reasm_limits::kProbeBytesPerDir) return 0;
    return known_method(method) ? 1 : -1;
  }
  if (t == 0 || r.u8() != ' ') return -1;
  static constexpr char kVersion[] = "HTTP/1.";
  for (size_t i = 0; i < 7; i++) {
    if (!r.has(1)) return 0;
    if (r.u8() != uint8_t(kVersion[i])) return -1;
  }
  if (!r.has(1)) return 0;
  const uint8_t d = r.u8();
  if (d < '0' || d > '9') return -1;
  if (!r.has(1)) return 0;
  const uint8_t e = r.u8();
  if (e == '\n') return 1;
  if (e != '\r') return -1;
  if (!r.has(1)) return 0;
  return r.u8() == '\n' ? 1 : -1;
}

// 1: an HTTP/1.x status line starts the buffer ("HTTP/1.x NNN" and a SP or line end);
// 0: a valid start of one; -1: not.
int match_status(const uint8_t* p, uint32_t n) {
  ByteReader r(p, n);
  static constexpr char kVersion[] = "HTTP/1.";
  for (size_t i = 0; i < 7; i++) {
    if (!r.has(1)) return 0;
    if (r.u8() != uint8_t(kVersion[i])) return -1;
  }
  if (!r.has(1)) return 0;
  const uint8_t d = r.u8();
  if (d < '0' || d > '9') return -1;
  if (!r.has(1)) return 0;
  if (r.u8() != ' ') return -1;
  for (int i = 0; i < 3; i++) {
    if (!r.has(1)) return 0;
    const uint8_t c = r.u8();
    // RFC 9110 §15: status codes are 100..599.
    if (c < (i == 0 ? '1' : '0') || c > (i == 0 ? '5' : '9')) return -1;
  }
  if (!r.has(1)) return 0;
  const uint8_t e = r.u8();
  return e == ' ' || e == '\r' || e == '\n' ? 1 : -1;
}

int probe_stream(const uint8_t* c2s, uint32_t c2s_len, const uint8_t* s2c, uint32_t s2c_len, uint16_t, uint16_t) {
  // A capture that starts with a TCP keep-alive probe has one garbage byte (0x00) first.
  if (c2s_len > 0 && ByteReader(c2s, c2s_len).peek8() == 0) c2s++, c2s_len--;
  // Each side's first bytes read both ways: the flow's client is whoever sent its first
  // packet, which is the server when a capture starts mid-connection (roles swapped).
  // 1 = it is that start line, 0 = a valid beginning of one (or nothing yet), -1 = not.
  const int c_req = c2s_len ? match_request(c2s, c2s_len) : 0;
  const int s_st = s2c_len ? match_status(s2c, s2c_len) : 0;
  const int c_st = c2s_len ? match_status(c2s, c2s_len) : 0;
  const int s_req = s2c_len ? match_request(s2c, s2c_len) : 0;
  if (c_req == 1 || s_st == 1 || c_st == 1 || s_req == 1) return 1;
  // Wait while some reading can still become a start line: nothing from the client yet (a
  // server that speaks first, SMTP or FTP, is left to the other probes), or a partial line.
  // A side that starts mid-message (a capture started late) is decided by the other side.
  if (c_req == 0 || c_st == 0 || s_st == 0 || s_req == 0) return 0;
  return -1;
}

bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }
bool hint(uint16_t c, uint16_t s) { return s == 80 || s == 8080 || s == 8000 || s == 3128 || c == 80; }

// ---- the dissector ----

// A stored value: bytes [off, off + len) of the flow's Values.
struct Span {
  uint32_t off = 0, len = 0;
  bool empty() const { return len == 0; }
};

struct Tx {
  Span method, url, host, ua, referer, xff, via, mime;
  uint16_t status = 0;
  bool via_from_request = false;
  std::array<Span*, 8> spans() { return {&method, &url, &host, &ua, &referer, &xff, &via, &mime}; }
};

// A flow's transactions, by index: the first kInline in the dissector itself (most flows
// have one to three), the rest in a vector. A vector from the first one was an allocation
// (and a free) for every HTTP flow. Indices stay valid; a reference into the vector part only
// until the next add().
class TxList {
 public:
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  Tx& operator[](size_t i) { return i < kInline ? first_[i] : more_[i - kInline]; }
  const Tx& operator[](size_t i) const { return i < kInline ? first_[i] : more_[i - kInline]; }
  void add() {
    if (n_ < kInline) {
      first_[n_] = Tx{};
    } else {
      if (more_.empty()) more_.reserve(kInline + 1);  // a flow past kInline has a few more
      more_.emplace_back();
    }
    n_++;
  }

 private:
  static constexpr size_t kInline = 3;
  std::array<Tx, kInline> first_;
  std::vector<Tx> more_;
  size_t n_ = 0;
};

// The values of a flow's transactions, in one buffer. A value per std::string meant a malloc
// for each one longer than 15 bytes (URL, Host, User-Agent, Content-Type: about four per
// transaction) and a free at the flow's end, all on the capture thread; this is one or two
// allocations per flow. A value is set once, except the ones obs-fold and list headers
// extend: the last value in the buffer is rewritten in place, any other is copied to the end,
// and the dead bytes that leaves are dropped once they outgrow the live ones (compact()), so
// the buffer stays within twice the live values (at most kMaxTransactions * 8 of 1 KiB).
class Values {
 public:
  // An empty value reads nothing: its offset may lie past the end once the value before it
  // was rewritten shorter in place (clear() after an empty one was set), and substr() would
  // throw there.
  std::string_view get(Span s) const {
    return s.len ? std::string_view(text_).substr(s.off, s.len) : std::string_view();
  }

  // s becomes at most kMaxValueBytes of v (cut on a UTF-8 boundary). v must not point into
  // this buffer (a value extended is built in a string of its own).
  void set(Span& s, std::string_view v, TxList& txs) {
    v = capped(v);
    if (s.off + s.len == text_.size()) {
      text_.resize(s.off);  // the last value (or an empty one at the end): rewritten in place
    } else {
      dead_ += s.len;
      if (dead_ > kMinDeadBytes && dead_ > text_.size() - dead_) compact(txs, s);
    }
    if (text_.capacity() < kFirstBytes) text_.reserve(kFirstBytes);
    s.off = uint32_t(text_.size());
    s.len = uint32_t(v.size());
    text_.append(v);
  }

  // Appends a list element (", " between), within kMaxValueBytes.
  void append_list(Span& s, std::string_view v, TxList& txs) {
    if (v.empty() || s.len >= kMaxValueBytes) return;
    if (s.empty()) return set(s, v, txs);
    std::string joined(get(s));
    joined += ", ";
    joined += v;
    set(s, joined, txs);
  }

  void clear(Span& s, TxList& txs) { set(s, {}, txs); }

 private:
  static constexpr size_t kFirstBytes = 512;         // the values of a few transactions
  static constexpr size_t kMinDeadBytes = 16 << 10;  // dead bytes kept before compacting

  // Copies every live value but `skip` (about to be rewritten) to a fresh buffer.
  void compact(TxList& txs, Span& skip) {
    skip = Span{};
    std::string packed;
    packed.reserve(text_.size() - dead_);
    for (size_t i = 0; i < txs.size(); i++)
      for (Span* s : txs[i].spans()) {
        const std::string_view v = get(*s);
        s->off = uint32_t(packed.size());
        packed.append(v);
      }
    text_.swap(packed);
    dead_ = 0;
  }

  std::string text_;
  size_t dead_ = 0;  // bytes of values since rewritten elsewhere
};

enum class ReqKind : uint8_t { kOther, kHead, kConnect };

// A request waiting for its response.
struct Pending {
  int32_t tx;      // index in txs_, -1 when not recorded (over the cap, or lost)
  ReqKind kind;
};

enum class St : uint8_t {
  kStart,       // expecting a start line (empty lines before it are skipped, RFC 9112 §2.2)
  kHeaders,     // in the header section
  kBody,        // skipping a Content-Length body (LineReader raw mode)
  kChunkSize,   // expecting a chunk-size line
  kChunkData,   // skipping chunk data (raw mode)
  kChunkEnd,    // expecting the CRLF after chunk data
  kTrailers,    // trailer section after the last chunk
  kUntilClose,  // body delimited by the connection's end: nothing more to parse
  kHunt,        // lost sync: skipping lines up to the next valid start line
  kTunnel,      // after CONNECT 2xx / 101: not HTTP any more
  kAbandoned,   // gave up on this direction (a cap)
};

// The message being parsed in one direction.
struct Msg {
  int32_t tx = -1;         // transaction its fields go to (-1: none)
  int status = 0;          // responses
  ReqKind kind = ReqKind::kOther;  // requests: what it is; responses: what it answers
  bool has_cl = false, bad_cl = false, chunked = false, te_other = false, has_host = false;
  uint64_t cl = 0;
  int last_header = 0;     // for obs-fold continuation lines: 0 none, else a Hdr id
};

enum Hdr { kNone = 0, kHost, kUa, kReferer, kXff, kVia, kMime, kOtherHdr };

class HttpDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx& c) override {
    if ((c.dir != 0 && c.dir != 1) || c.len == 0) return;
    collect_skipped();
    if (swap_ < 0) {
      // Roles not known yet: hold the bytes until a start line says who is who.
      hold(c.dir, c.data, c.len);
    } else {
      // Most payloads lie inside a body of known length and don't finish it: they only count
      // down what is left (all feed() would do: the raw piece leaves bytes to come, so
      // on_raw() changes nothing), without the line reader. The engine does the same through
      // skip_payload() (declare_skippable()); this is for payloads that come another way.
      Side& s = side_[c.dir ^ swap_];
      if ((s.st == St::kBody || s.st == St::kChunkData) && c.len < s.lr.raw_left())
        s.lr.skip_raw(s.lr.raw_left() - c.len);
      else
        feed(c.dir, c.data, c.len);
    }
    declare_skippable();
  }

  void on_gap(int stream_dir, uint64_t bytes) override {
    if ((stream_dir != 0 && stream_dir != 1) || bytes == 0) return;
    collect_skipped();
    if (swap_ < 0) settle_roles(0);
    gap(stream_dir ^ swap_, bytes);
    declare_skippable();
  }

  bool finished() const override {
    const bool c_done = !side_[0].parsing();
    const bool s_done = !side_[1].parsing() || side_[1].st == St::kUntilClose;
    if (c_done && s_done) return true;
    // Over the cap, once every recorded request has its answer, nothing more goes in.
    if (over_cap_) {
      for (const Pending& p : pending_)
        if (p.tx >= 0) return false;
      return true;
    }
    return false;
  }

  void on_export(FieldWriter& w) override {
    collect_skipped();
    if (swap_ < 0) settle_roles(0);
    for (int d = 0; d < 2; d++) {
      const Side& s = side_[d];
      if (s.st == St::kHeaders || (s.st == St::kStart && s.lr.pending() > 0)) anomaly("http_truncated_header");
      else if (s.st == St::kBody || s.st == St::kChunkSize || s.st == St::kChunkData || s.st == St::kChunkEnd ||
               s.st == St::kTrailers)
        anomaly("http_truncated_body");
    }
    write_fields(w);
  }

  uint16_t l7_proto() const override { return l7::kHttp; }

 private:
  // Stream bytes of one direction (0: the flow's client), once the roles are known.
  void feed(int stream_dir, const uint8_t* data, uint32_t len) {
    // From here on, dir is the role: 0 the side that sends requests, 1 the one that answers.
    const int dir = stream_dir ^ swap_;
    Side& s = side_[dir];
    if (!s.parsing()) return;
    if (s.st == St::kHunt) {
      // Bytes searched for a start line (approximately: the chunk that contains it counts).
      s.hunted += len;
      if (s.hunted > kMaxResyncBytes) {
        anomaly("http_resync_cap");
        s.st = St::kAbandoned;
        return;
      }
    }
    s.lr.feed(
        data, len, [&](LineReader::Line l) { on_line(dir, l); },
        [&](const uint8_t*, size_t) { on_raw(dir); });
  }

  // The rest of a body of known length, in either direction, is skippable (see
  // Dissector::skippable()): the engine counts payloads inside it off without calling
  // on_payload(), which did nothing else for them (the short cut there).
  void declare_skippable() {
    if (swap_ < 0) return;
    for (int d = 0; d < 2; d++) {
      const Side& s = side_[d ^ swap_];
      skippable(d, s.st == St::kBody || s.st == St::kChunkData ? s.lr.raw_left() : 0);
    }
  }
  // What the engine counted off since, taken off the line readers' counts (it is always
  // less than what was declared, so a body never ends there).
  void collect_skipped() {
    if (swap_ < 0) return;
    for (int d = 0; d < 2; d++)
      if (const uint64_t n = skipped(d)) {
        LineReader& lr = side_[d ^ swap_].lr;
        lr.skip_raw(lr.raw_left() - n);
      }
  }

  // Bytes missing in the stream of role dir.
  void gap(int dir, uint64_t bytes) {
    Side& s = side_[dir];
    if (!s.parsing()) return;
    bool lost_next = false;  // the gap took the start of a later message with it
    if (s.st == St::kBody || s.st == St::kChunkData) {
      const uint64_t left = s.lr.raw_left();
      if (bytes < left) {
        // Inside a body of known length: only body bytes are missing.
        s.lr.skip_raw(left - bytes);
        return;
      }
      s.lr.skip_raw(0);
      if (s.st == St::kBody) {
        message_done(dir);
        if (bytes == left) return;
        lost_next = true;
      } else if (bytes == left) {
        s.st = St::kChunkEnd;
        return;
      }
    } else if (s.st == St::kStart) {
      lost_next = true;  // at a message boundary (or inside a start line not yet complete)
    }
    anomaly("http_gap");
    if (lost_next) message_lost(dir);
    // An unfinished request line must not be joined with what follows the gap (that would
    // splice two requests into one): it is dropped with the rest of its line. On the response
    // side the joined line is kept: a status line can only be found in it where the bytes say
    // "HTTP/1.x NNN", and a body tail glued to the next status line is common there.
    if (dir == 0 && s.lr.pending() > 0) s.lr.reset();
    s.st = St::kHunt;
    s.hunted = 0;
    s.msg = Msg{};
  }

  void write_fields(FieldWriter& w) {
    if (txs_.empty()) return;
    const Tx& t = txs_[0];
    const auto v = [this](Span s) { return values_.get(s); };
    w.str_if("HTTP_URL", v(t.url));
    w.str_if("HTTP_METHOD", v(t.method));
    w.num_if("HTTP_RET_CODE", t.status);
    w.str_if("HTTP_REFERER", v(t.referer));
    w.str_if("HTTP_UA", v(t.ua));
    w.str_if("HTTP_MIME", v(t.mime));
    w.str_if("HTTP_HOST", v(t.host));
    if (!t.host.empty()) w.str_if("HTTP_SITE", site_of(v(t.host)));
    w.str_if("HTTP_X_FORWARDED_FOR", v(t.xff));
    w.str_if("HTTP_VIA", v(t.via));
    JsonWriter j;
    j.begin_array();
    for (size_t i = 0; i < txs_.size(); i++) {
      const Tx& x = txs_[i];
      j.begin_object();
      if (!x.url.empty()) j.kv("HTTP_URL", v(x.url));
      if (!x.method.empty()) j.kv("HTTP_METHOD", v(x.method));
      if (x.status) j.kv("HTTP_RET_CODE", uint64_t(x.status));
      if (!x.referer.empty()) j.kv("HTTP_REFERER", v(x.referer));
      if (!x.ua.empty()) j.kv("HTTP_UA", v(x.ua));
      if (!x.mime.empty()) j.kv("HTTP_MIME", v(x.mime));
      if (!x.host.empty()) {
        j.kv("HTTP_HOST", v(x.host));
        const std::string_view site = site_of(v(x.host));
        if (!site.empty()) j.kv("HTTP_SITE", site);
      }
      if (!x.xff.empty()) j.kv("HTTP_X_FORWARDED_FOR", v(x.xff));
      if (!x.via.empty()) j.kv("HTTP_VIA", v(x.via));
      j.end_object();
    }
    j.end_array();
    w.json("HTTP_TRANSACTIONS", j.str());
  }

  struct Side {
    LineReader lr{kMaxLine};
    St st = St::kStart;
    Msg msg;
    uint64_t chunks = 0;  // chunks of the current body
    uint64_t hunted = 0;  // bytes searched while in kHunt
    bool started = false; // a start line was seen in this direction
    bool parsing() const { return st != St::kUntilClose && st != St::kTunnel && st != St::kAbandoned; }
  };

  // Which side sends requests. The flow's client is whoever sent its first packet; in a
  // capture that starts mid-connection that may be the server (a status line comes first on
  // "client -> server", or a request on "server -> client"): the roles are then swapped.
  // Until a start line decides, the bytes are held (at most kMaxHeldBytes: about what the
  // probe looked at), then replayed in arrival order.
  void hold(int stream_dir, const uint8_t* p, uint32_t n) {
    if (held_.empty() && n <= kMaxHeldBytes) {
      // Nearly always the first chunk decides on its own: then it is read where it lies.
      const uint8_t* q = p;
      uint32_t m = n;
      if (q[0] == 0) q++, m--;  // a keep-alive byte (see on_line); n > 0 (on_payload)
      const bool req = match_request(q, m) == 1, st = match_status(q, m) == 1;
      if (req != st) {
        swap_ = int8_t(stream_dir == 0 ? (req ? 0 : 1) : (st ? 0 : 1));
        feed(stream_dir, p, n);
        return;
      }
    }
    const size_t take = std::min<size_t>(n, kMaxHeldBytes - std::min(kMaxHeldBytes, held_bytes_));
    if (take > 0) {
      held_.push_back(Held{uint8_t(stream_dir), std::vector<uint8_t>(p, p + take)});
      held_bytes_ += take;
      // A direction's bytes so far, read both ways.
      std::vector<uint8_t> all;
      for (const Held& h : held_)
        if (h.dir == stream_dir) all.insert(all.end(), h.bytes.begin(), h.bytes.end());
      const uint8_t* q = all.data();
      uint32_t m = uint32_t(all.size());
      if (m > 0 && q[0] == 0) q++, m--;  // a keep-alive byte (see on_line)
      const bool req = match_request(q, m) == 1, st = match_status(q, m) == 1;
      if (req != st) settle_roles(int8_t(stream_dir == 0 ? (req ? 0 : 1) : (st ? 0 : 1)));
    }
    if (swap_ < 0 && (take < n || held_bytes_ >= kMaxHeldBytes)) settle_roles(0);
    // Bytes that did not fit go on after the replay.
    if (take < n) feed(stream_dir, p + take, n - take);
  }

  void settle_roles(int8_t swap) {
    swap_ = swap;
    std::vector<Held> held;
    held.swap(held_);
    held_bytes_ = 0;
    for (const Held& h : held) feed(h.dir, h.bytes.data(), uint32_t(h.bytes.size()));
  }

  // A transaction slot, or -1 past the cap (counted once per flow).
  int32_t add_tx() {
    if (txs_.size() >= kMaxTransactions) {
      if (!over_cap_) anomaly("http_transactions_cap");
      over_cap_ = true;
      return -1;
    }
    txs_.add();
    return int32_t(txs_.size() - 1);
  }

  void push_pending(Pending p) {
    if (pending_.size() >= kMaxPending) {
      anomaly("http_pending_cap");
      pending_.pop_front();
    }
    pending_.push_back(p);
  }

  void on_line(int dir, LineReader::Line l) {
    Side& s = side_[dir];
    if (l.truncated) anomaly("http_line_cap");
    switch (s.st) {
      case St::kStart:
        if (l.text.empty()) return;  // RFC 9112 §2.2: empty lines before a start line
        // A capture that starts with a TCP keep-alive probe (one garbage byte, usually 0x00,
        // at the sequence number before the next data) puts that byte before the first line.
        if (!s.started && l.text.front() == '\0') l.text.remove_prefix(1);
        if (start_line(dir, l)) return;
        if (!s.started) {
          // A direction whose very first line is not a start line was picked up in the middle
          // of a message (capture started late, or a flow split by a timeout): that message
          // started before the capture and is lost as a whole.
          anomaly("http_midstream_start");
          message_lost(dir);
        } else {
          anomaly(dir == 0 ? "http_bad_request_line" : "http_bad_status_line");
        }
        s.st = St::kHunt;
        s.hunted = 0;
        hunt_line(dir, l);
        return;
      case St::kHunt:
        hunt_line(dir, l);
        return;
      case St::kHeaders:
        if (l.text.empty()) end_headers(dir);
        else header_line(dir, l.text);
        return;
      case St::kChunkEnd:
        s.st = St::kChunkSize;
        if (l.text.empty()) return;
        // The CRLF after chunk data is missing: read this line as the next chunk size.
        anomaly("http_bad_chunk_end");
        [[fallthrough]];
      case St::kChunkSize: {
        uint64_t size = 0;
        if (!parse_chunk_size(l.text, size)) {
          anomaly("http_bad_chunk_size");
          s.st = St::kHunt;
          s.hunted = 0;
          s.msg = Msg{};
          return;
        }
        if (size == 0) {
          s.st = St::kTrailers;
          return;
        }
        if (++s.chunks > kMaxChunks) {
          // A body that never ends: stop reading this direction.
          anomaly("http_chunk_cap");
          s.st = dir == 1 ? St::kUntilClose : St::kAbandoned;
          return;
        }
        s.st = St::kChunkData;
        s.lr.skip_raw(size);
        return;
      }
      case St::kTrailers:
        if (l.text.empty()) message_done(dir);
        return;
      default:
        return;
    }
  }

  // Resync: a line that is a start line, or ends with one glued to the tail of a body whose
  // length was lost (no line break between the two messages).
  void hunt_line(int dir, LineReader::Line l) {
    if (l.text.empty()) return;
    // After a loss a line may start anywhere in a lost one: a request is believed only with a
    // well-known method (a cut inside "POST" must not give "ST").
    RequestLine rl;
    const bool plausible = dir == 1 || (parse_request_line(l.text, l.truncated, rl) && known_method(rl.method));
    if (plausible && start_line(dir, l)) {
      side_[dir].hunted = 0;
      return;
    }
    const size_t at = dir == 0 ? embedded_request(l.text) : embedded_status(l.text);
    if (at != std::string_view::npos && at > 0 && start_line(dir, LineReader::Line{l.text.substr(at), l.truncated}))
      side_[dir].hunted = 0;
  }

  void on_raw(int dir) {
    Side& s = side_[dir];
    if (s.lr.raw_left() > 0) return;
    if (s.st == St::kBody) message_done(dir);
    else if (s.st == St::kChunkData) s.st = St::kChunkEnd;
  }

  // A start line in state kStart or kHunt. False when the line is not one.
  bool start_line(int dir, LineReader::Line l) {
    Side& s = side_[dir];
    if (dir == 0) {
      RequestLine rl;
      if (!parse_request_line(l.text, l.truncated, rl)) return false;
      s.msg = Msg{};
      s.msg.kind = rl.method == "HEAD" ? ReqKind::kHead : rl.method == "CONNECT" ? ReqKind::kConnect : ReqKind::kOther;
      s.msg.tx = add_tx();
      if (s.msg.tx >= 0) {
        Tx& t = txs_[size_t(s.msg.tx)];
        store(t.method, rl.method);
        store(t.url, rl.target);
      }
      push_pending(Pending{s.msg.tx, s.msg.kind});
    } else {
      int status = 0;
      if (!parse_status_line(l.text, status)) return false;
      s.msg = Msg{};
      s.msg.status = status;
      if (status >= 200 || status == 101) {
        // The final response answers the oldest waiting request (RFC 9112 §9.3.2).
        if (!pending_.empty()) {
          const Pending p = pending_.front();
          pending_.pop_front();
          s.msg.kind = p.kind;
          s.msg.tx = p.tx >= 0 ? p.tx : (p.tx == kLostRequest ? add_tx() : -1);
        } else {
          // Its request is lost, or still held by the reassembler behind a hole (the hole is
          // settled when an ACK covers it): counted, so that hole adds no placeholder.
          anomaly("http_response_without_request");
          s.msg.tx = add_tx();
          if (orphans_ < kMaxPending) orphans_++;
        }
        if (s.msg.tx >= 0) txs_[size_t(s.msg.tx)].status = uint16_t(std::min(status, 999));
      } else if (!pending_.empty()) {
        s.msg.kind = pending_.front().kind;  // interim: the request still waits
      }
    }
    s.st = St::kHeaders;
    s.started = true;
    s.chunks = 0;
    return true;
  }

  void header_line(int dir, std::string_view line) {
    Side& s = side_[dir];
    Msg& m = s.msg;
    Tx* t = m.tx >= 0 ? &txs_[size_t(m.tx)] : nullptr;
    if (is_ws(line.front())) {
      // obs-fold (RFC 9112 §5.2): continues the previous field's value.
      const std::string_view more = trim(line);
      if (!t || more.empty()) return;
      Span* v = nullptr;
      if (m.last_header == kUa) v = &t->ua;
      else if (m.last_header == kReferer) v = &t->referer;
      else if (m.last_header == kHost) v = &t->host;
      if (!v) return;
      std::string joined(values_.get(*v));
      joined += ' ';
      joined += more;
      store(*v, joined);
      return;
    }
    // field-name ":" (RFC 9112 §5.1) in one pass: a run of tchar, then the colon. Whitespace
    // before the colon is not allowed but is read leniently. No colon, an empty name or any
    // other byte before the colon is a bad line.
    size_t i = 0;
    // Four bytes a step while all four are tchar (a name is 4 to 20-odd bytes; this runs for
    // every header line), then byte by byte up to the first other byte.
    while (i + 4 <= line.size() &&
           (is_tchar(line[i]) & is_tchar(line[i + 1]) & is_tchar(line[i + 2]) & is_tchar(line[i + 3])))
      i += 4;
    while (i < line.size() && is_tchar(line[i])) i++;
    const std::string_view name = line.substr(0, i);
    while (i < line.size() && is_ws(line[i])) i++;
    if (name.empty() || i == line.size() || line[i] != ':') {
      anomaly("http_bad_header_line");
      m.last_header = kNone;
      return;
    }
    m.last_header = kOtherHdr;
    const Field f = field_of(name);
    if (f == Field::kOther) return;  // most headers: nothing is read from them
    const std::string_view value = trim(line.substr(i + 1));
    if (f == Field::kContentLength) {
      uint64_t n = 0;
      if (!parse_content_length(value, n) || (m.has_cl && n != m.cl)) {
        m.bad_cl = true;
      } else {
        m.has_cl = true;
        m.cl = n;
      }
      return;
    }
    if (f == Field::kTransferEncoding) {
      // The final coding decides (RFC 9112 §6.3): chunked last -> chunked; anything else ->
      // a request is invalid, a response runs to the connection's end.
      std::string_view last = value;
      const size_t comma = last.rfind(',');
      if (comma != std::string_view::npos) last = last.substr(comma + 1);
      last = trim(last);
      const size_t semi = last.find(';');
      if (semi != std::string_view::npos) last = trim(last.substr(0, semi));
      if (iequals(last, "chunked")) m.chunked = true, m.te_other = false;
      else if (!value.empty()) m.te_other = true, m.chunked = false;
      return;
    }
    if (!t) return;
    if (dir == 0) {
      switch (f) {
        case Field::kHost:
          if (m.has_host) {
            anomaly("http_multiple_host");  // RFC 9112 §3.2: exactly one Host
          } else {
            store(t->host, value);
            m.has_host = true;
            m.last_header = kHost;
          }
          return;
        case Field::kUserAgent:
          if (t->ua.empty()) store(t->ua, value), m.last_header = kUa;
          return;
        case Field::kReferer:
          if (t->referer.empty()) store(t->referer, value), m.last_header = kReferer;
          return;
        case Field::kXForwardedFor:
          values_.append_list(t->xff, value, txs_);
          return;
        case Field::kVia:
          if (!t->via_from_request) values_.clear(t->via, txs_);
          t->via_from_request = true;
          values_.append_list(t->via, value, txs_);
          return;
        default:
          return;
      }
    }
    if (s.msg.status >= 200 || s.msg.status == 101) {
      if (f == Field::kContentType) {
        if (t->mime.empty()) store(t->mime, value);
      } else if (f == Field::kVia) {
        if (!t->via_from_request) values_.append_list(t->via, value, txs_);
      }
    }
  }

  // End of a header section: how long is the body (RFC 9112 §6.3)?
  void end_headers(int dir) {
    Side& s = side_[dir];
    Msg& m = s.msg;
    if (m.has_cl && m.chunked) anomaly("http_te_and_content_length");  // chunked wins (§6.3 item 3)
    if (dir == 1) {
      if (m.status == 101 || (m.kind == ReqKind::kConnect && m.status >= 200 && m.status < 300)) {
        // Protocol switch or tunnel: the rest of both directions is not HTTP.
        side_[0].st = St::kTunnel;
        side_[1].st = St::kTunnel;
        return;
      }
      if (m.status < 200 || m.kind == ReqKind::kHead || m.status == 204 || m.status == 304) {
        message_done(dir);
        return;
      }
    }
    if (m.chunked) {
      s.st = St::kChunkSize;
      return;
    }
    if (m.te_other) {
      if (dir == 1) {
        s.st = St::kUntilClose;
      } else {
        anomaly("http_bad_transfer_encoding");
        s.st = St::kHunt;
        s.hunted = 0;
      }
      return;
    }
    if (m.bad_cl) {
      anomaly("http_bad_content_length");
      s.st = St::kHunt;
      s.hunted = 0;
      return;
    }
    if (m.has_cl && m.cl > 0) {
      s.st = St::kBody;
      s.lr.skip_raw(m.cl);
      return;
    }
    if (dir == 1 && !m.has_cl) {
      s.st = St::kUntilClose;  // no length: the body ends with the connection
      return;
    }
    message_done(dir);
  }

  void message_done(int dir) {
    Side& s = side_[dir];
    s.st = St::kStart;
    s.msg = Msg{};
    s.chunks = 0;
  }

  // A gap took a whole message start: a request (a placeholder keeps the responses paired)
  // or a response (the oldest waiting request will not get one).
  void message_lost(int dir) {
    if (dir == 0) {
      anomaly("http_request_lost");
      // Its response may already have come (as a response without request): then it is
      // answered; else a placeholder waits for it.
      if (orphans_ > 0) orphans_--;
      else push_pending(Pending{kLostRequest, ReqKind::kOther});
    } else if (!pending_.empty()) {
      anomaly("http_response_lost");
      pending_.pop_front();
    }
  }

  static constexpr int32_t kLostRequest = -2;

  // s becomes at most kMaxValueBytes of v (see Values::set).
  void store(Span& s, std::string_view v) { values_.set(s, v, txs_); }

  Side side_[2];
  TxList txs_;
  Values values_;  // the values txs_ point into
  Fifo<Pending> pending_;
  bool over_cap_ = false;
  int8_t swap_ = -1;     // roles: -1 not known yet, 0 flow client = requester, 1 swapped
  struct Held {
    uint8_t dir;
    std::vector<uint8_t> bytes;
  };
  std::vector<Held> held_;  // stream bytes while swap_ < 0
  size_t held_bytes_ = 0;
  size_t orphans_ = 0;   // responses that came with no request waiting
};

std::unique_ptr<Dissector> create() { return std::make_unique<HttpDissector>(); }

}  // namespace

extern const DissectorInfo kHttpInfo{"HTTP", l7::kHttp, 6, hint, probe, create, probe_stream};

}  // namespace nprobe
