// SIP over TCP dissector: RFC 3261 §18.3 (a stream of messages, each ended by its body as long
// as its Content-Length, which is mandatory over TCP) and RFC 5626 §3.5.1 keep-alives (a CRLF
// CRLF ping and its CRLF pong between messages). Each framed message is parsed by sip.h's
// parse_message() and kept by sip::Calls, exactly as over UDP (sip.cc): the same fields
// (SIP_CALL_ID ... of the first Call-ID, SIP_TRANSACTIONS) and L7_PROTO 100.
//
// Framing, per direction: CR/LF between messages are keep-alives and skipped; then the head
// (start line, header lines) runs to the first empty line; the body is as long as
// head_content_length() reads Content-Length (0 when absent, parse_message() names it); the
// message is parsed once, when all of it is there. Caps, each named: a head still without its
// empty line after kMaxHeadBytes (sip_tcp_head_cap: a start line or header that never ends;
// the direction resyncs), a message over kMaxMessageBytes (sip_tcp_message_cap: parsed from
// its first kMaxMessageBytes, so the parser names the body it could not see, then the rest of
// the body is skipped by its length), bytes searched while resyncing (kMaxResyncBytes,
// sip_tcp_resync_cap: the direction is abandoned).
//
// Resync: after a message whose start line is not SIP (parse_message() names it), a message
// the parser frames otherwise than head_content_length() did (sip_tcp_bad_framing; not
// expected, both read the same header) or a stream gap the framing is lost; the direction resumes at the next line that is a SIP start line
// (the probe's strict test), looked for through the shared LineReader (lines capped at its
// maximum). A gap (sip_tcp_gap) inside a message whose length is known costs that message
// only: what came of it is parsed as a datagram (its cut head or body named by the parser),
// the rest of it is skipped and the framing holds. Bytes right after a gap are tried as a
// message start before the first line is given up. The flow ending inside a message: what
// came is parsed the same way.
//
// Detection (probe_stream): the first line of either direction (after CR/LF keep-alives) is a
// SIP request or status line (method in capitals, a URI with a scheme, "SIP/2.0"), followed by
// a header line among the next four, as sip::looks_like_sip() has it; a first line still
// incomplete waits only while it can still become one.
#include <algorithm>
#include <string>

#include "../reassembly/tcp_flow.h"
#include "../util/byte_reader.h"
#include "dissector.h"
#include "line_reader.h"
#include "sip.h"

namespace nprobe {
namespace {

constexpr size_t kMaxHeadBytes = 16 * 1024;      // start line + headers of one message
constexpr size_t kMaxMessageBytes = 64 * 1024;   // one message held (head + body)
constexpr size_t kMaxResyncBytes = 64 * 1024;    // searched for a start line after losing the framing
constexpr size_t kMaxResyncLine = 2048;          // a longer line is no start line worth reading

bool is_crlf(uint8_t c) { return c == '\r' || c == '\n'; }

// The prefix of a start line not yet ended: can it still become one?
bool could_start(std::string_view s) {
  constexpr std::string_view kVersion = "SIP/2.0 ";
  if (s.size() <= kVersion.size()) {
    if (kVersion.substr(0, s.size()) == s) return true;
  } else if (s.substr(0, kVersion.size()) == kVersion) {
    return true;
  }
  size_t i = 0;
  while (i < s.size() && s[i] >= 'A' && s[i] <= 'Z') i++;
  if (i == s.size()) return i <= 32;              // still the method
  return s[i] == ' ' && i >= 3 && i <= 32;        // method, space, the rest to come
}

// One direction's first bytes as the start of a SIP stream: 1 yes, 0 need more, -1 no.
int probe_dir(const uint8_t* p, size_t n, size_t window) {
  ByteReader r(p, n);
  while (r.has(1) && is_crlf(r.peek8())) r.skip(1);
  if (!r.has(1)) return n >= window ? -1 : 0;
  const std::string_view rest(reinterpret_cast<const char*>(r.cur()), r.remaining());
  const size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) return !could_start(rest) || n >= window ? -1 : 0;
  std::string_view first = rest.substr(0, nl);
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
  if (!sip::is_start_line(first)) return -1;
  if (sip::looks_like_sip(r.cur(), r.remaining())) return 1;
  // A start line: a header line must follow among the next four lines (looks_like_sip);
  // wait while fewer have arrived, none of them empty.
  std::string_view after = rest.substr(nl + 1);
  for (int i = 0; i < 4; i++) {
    const size_t e = after.find('\n');
    if (e == std::string_view::npos) return n >= window ? -1 : 0;
    if (e == 0 || (e == 1 && after[0] == '\r')) return -1;  // the head ended without a header
    after = after.substr(e + 1);
  }
  return -1;
}

class SipTcpDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx& c) override {
    const int dir = c.dir ? 1 : 0;
    Dir& d = dirs_[dir];
    ByteReader r(c.data, c.len);
    while (r.remaining() > 0 && !d.dead) {
      if (d.skip) {
        const size_t n = size_t(std::min<uint64_t>(d.skip, r.remaining()));
        r.skip(n);
        d.skip -= n;
        continue;
      }
      if (d.lost) {
        resync(d, r);  // a start line found is held: the framing resumes with it
        continue;
      }
      // Hold what the message needs (the held bytes never pass kMaxMessageBytes).
      compact(d);
      const size_t room = kMaxMessageBytes - std::min(kMaxMessageBytes, d.buf.size());
      ByteReader part = r.sub(std::min(room, r.remaining()));
      d.buf.append(reinterpret_cast<const char*>(part.base()), part.size());
      frame(dir, c.ts_us);
    }
  }

  void on_gap(int dir, uint64_t bytes) override {
    Dir& d = dirs_[dir ? 1 : 0];
    if (d.dead || bytes == 0) return;
    anomaly("sip_tcp_gap");
    if (d.skip) {
      const uint64_t n = std::min(d.skip, bytes);
      d.skip -= n;
      bytes -= n;
      if (bytes == 0) return;  // the hole was inside a body being skipped
    } else if (!d.lost && d.off < d.buf.size()) {
      // A message was under way: what came of it is parsed, the rest of it skipped.
      const size_t held = d.buf.size() - d.off, need = d.need;  // need: 0 while the head is cut
      partial(dir ? 1 : 0, last_ts_);
      if (need > held) {
        const uint64_t left = need - held;
        if (bytes < left) {
          d.skip = left - bytes;  // the framing holds past this message
          return;
        }
        bytes -= left;
        if (bytes == 0) return;
      }
    }
    enter_lost(d);
    d.after_gap = true;
  }

  void on_export(FieldWriter& w) override {
    // The flow ended inside a message: what came of it is parsed.
    for (int dir = 0; dir < 2; dir++)
      if (!dirs_[dir].lost && dirs_[dir].off < dirs_[dir].buf.size()) partial(dir, last_ts_);
    calls_.write(w);
  }

  uint16_t l7_proto() const override { return l7::kSip; }

  // Both directions abandoned (resync cap): nothing more can be read.
  bool finished() const override { return dirs_[0].dead && dirs_[1].dead; }

 private:
  struct Dir {
    std::string buf;        // held bytes; the current message starts at off
    size_t off = 0;
    size_t scan = 0;        // where the search for the head's end resumes (from off)
    size_t head = 0;        // head length once its empty line is seen (0: not yet)
    size_t need = 0;        // head + body, once the head is known
    uint64_t skip = 0;      // bytes to pass over (the rest of a message cut by a cap or a gap)
    bool lost = false;      // resyncing at the next start line
    bool after_gap = false; // lost by a gap: the next bytes may start a message
    size_t resync_bytes = 0;
    bool dead = false;      // abandoned
    LineReader lines{kMaxResyncLine};
  };

  void compact(Dir& d) {
    if (d.off == 0) return;
    d.buf.erase(0, d.off);
    d.off = 0;
  }

  void reset_message(Dir& d) {
    d.scan = d.head = d.need = 0;
  }

  // Frames and parses every complete message held.
  void frame(int dir, uint64_t ts) {
    Dir& d = dirs_[dir];
    last_ts_ = ts;
    while (!d.lost) {
      const std::string_view held = std::string_view(d.buf).substr(d.off);
      if (d.head == 0) {
        // Between messages: CR and LF are keep-alives (RFC 5626 §3.5.1).
        size_t k = 0;
        while (k < held.size() && is_crlf(uint8_t(held[k]))) k++;
        d.off += k;
        if (k == held.size()) {
          d.buf.clear();
          d.off = 0;
          if (d.buf.capacity() > 4096) d.buf.shrink_to_fit();  // idle flows keep no big buffer
          return;
        }
        const std::string_view msg = held.substr(k);
        // The head ends at the first empty line: LF LF or LF CR LF.
        size_t end = 0;
        for (size_t i = d.scan; i < msg.size(); i++) {
          if (msg[i] != '\n') continue;
          if (i + 1 < msg.size() && msg[i + 1] == '\n') end = i + 2;
          else if (i + 2 < msg.size() && msg[i + 1] == '\r' && msg[i + 2] == '\n') end = i + 3;
          if (end) break;
        }
        if (!end) {
          // Resume where an empty line could still begin (the last two bytes may start one).
          d.scan = msg.size() > 2 ? msg.size() - 2 : 0;
          if (msg.size() >= kMaxHeadBytes) {
            anomaly("sip_tcp_head_cap");
            lose(d);
            continue;
          }
          return;
        }
        d.head = end;
        const auto* p = reinterpret_cast<const uint8_t*>(msg.data());
        d.need = end + size_t(sip::head_content_length(p, end));
      }
      const std::string_view msg = std::string_view(d.buf).substr(d.off);
      const auto* p = reinterpret_cast<const uint8_t*>(msg.data());
      if (d.need > kMaxMessageBytes) {
        // Too big to hold: parse its first bytes once they fill the buffer, skip the rest.
        // (The buffer is compacted before the next chunk is added, so it can fill.)
        if (d.off != 0 || d.buf.size() < kMaxMessageBytes) return;
        anomaly("sip_tcp_message_cap");
        const size_t have = msg.size();
        apply_message(dir, p, have, true, ts);
        d.skip = d.need - have;
        d.buf.clear();
        d.off = 0;
        reset_message(d);
        return;
      }
      if (msg.size() < d.need) return;  // the rest of the body is to come
      sip::Message m;
      const sip::ParseResult pr = sip::parse_message(p, d.need, false, m, *this);
      if (pr.status != sip::Parse::kOk || pr.consumed == 0) {
        // Not a SIP message (the parser named the start line): find the next one.
        if (pr.status == sip::Parse::kIncomplete) anomaly("sip_tcp_bad_framing");
        lose(d);
        continue;  // a start line found in the held bytes resumes the framing
      }
      calls_.apply(m, dir, ts, *this);
      d.off += pr.consumed;
      reset_message(d);
    }
  }

  // The bytes of the current message that came, parsed as a datagram (the parser names what is
  // missing: the end of the head, or of the body).
  void partial(int dir, uint64_t ts) {
    Dir& d = dirs_[dir];
    std::string_view held = std::string_view(d.buf).substr(d.off);
    size_t k = 0;
    while (k < held.size() && is_crlf(uint8_t(held[k]))) k++;
    held.remove_prefix(k);
    if (!held.empty()) apply_message(dir, reinterpret_cast<const uint8_t*>(held.data()), held.size(), true, ts);
    d.buf.clear();
    d.off = 0;
    reset_message(d);
  }

  void apply_message(int dir, const uint8_t* p, size_t n, bool datagram, uint64_t ts) {
    sip::Message m;
    if (sip::parse_message(p, n, datagram, m, *this).status == sip::Parse::kOk) calls_.apply(m, dir, ts, *this);
  }

  // Loses the framing: the next line that is a start line resumes it.
  void enter_lost(Dir& d) {
    d.buf.clear();
    d.off = 0;
    reset_message(d);
    d.lost = true;
    d.after_gap = false;
    d.resync_bytes = 0;
    d.lines.reset();  // the current line is the bad one (or a cut one): skip to its end
  }

  // Loses the framing inside the held bytes: they are searched from the line after the
  // current one; a start line found there is held again with what follows it.
  void lose(Dir& d) {
    const std::string rest = d.buf.substr(std::min(d.off, d.buf.size()));
    enter_lost(d);
    ByteReader r(reinterpret_cast<const uint8_t*>(rest.data()), rest.size());
    resync(d, r);
    if (d.lost || d.dead) return;
    // No more than what was held: the buffer stays within its cap.
    d.buf.append(reinterpret_cast<const char*>(r.cur()), r.remaining());
  }

  // Reads r looking for a start line. On finding one, the framing resumes with it held (r is
  // left just after it); otherwise r is read to its end (or to the resync cap).
  void resync(Dir& d, ByteReader& r) {
    if (d.after_gap) {
      // The bytes right after a hole may start a message (the hole ended at a boundary).
      d.after_gap = false;
      const std::string_view s(reinterpret_cast<const char*>(r.cur()), r.remaining());
      size_t k = 0;
      while (k < s.size() && is_crlf(uint8_t(s[k]))) k++;
      const size_t nl = s.find('\n', k);
      if (nl != std::string_view::npos) {
        std::string_view line = s.substr(k, nl - k);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (sip::is_start_line(line)) {
          d.lost = false;
          return;  // the caller holds these bytes as a message
        }
      }
    }
    const size_t budget = kMaxResyncBytes - std::min(kMaxResyncBytes, d.resync_bytes);
    const uint8_t* start = r.cur();
    const size_t avail = std::min(budget, r.remaining());
    bool found = false;
    const uint8_t* after = nullptr;  // the first byte after the start line
    d.lines.feed(
        start, avail,
        [&](const LineReader::Line& l) {
          if (found || l.truncated || !sip::is_start_line(l.text)) return;
          found = true;
          // LF alone ends it: never more bytes than the line had, so the buffer stays capped.
          d.buf.assign(l.text);
          d.buf += '\n';
          d.lines.skip_raw(UINT64_MAX);  // what follows is handed back through on_raw
        },
        [&](const uint8_t* p, size_t) {
          if (!after) after = p;
        });
    const size_t used = found && after ? size_t(after - start) : avail;
    r.skip(used);
    d.resync_bytes += used;
    if (found) {
      d.lost = false;
      d.lines.reset();
      d.off = 0;
      reset_message(d);
      return;
    }
    if (d.resync_bytes >= kMaxResyncBytes) {
      anomaly("sip_tcp_resync_cap");
      d.dead = true;
      d.buf.clear();
      d.buf.shrink_to_fit();
    }
  }

  Dir dirs_[2];
  sip::Calls calls_;
  uint64_t last_ts_ = 0;
};

bool hint(uint16_t cport, uint16_t sport) { return sport == 5060 || cport == 5060; }

int probe_stream(const uint8_t* c2s, uint32_t c2s_len, const uint8_t* s2c, uint32_t s2c_len, uint16_t, uint16_t) {
  const size_t window = reasm_limits::kProbeBytesPerDir;
  const int a = c2s_len ? probe_dir(c2s, c2s_len, window) : 0;
  const int b = s2c_len ? probe_dir(s2c, s2c_len, window) : 0;
  if (a > 0 || b > 0) return 1;
  // Either side may send the first request; a side that has not spoken yet decides nothing,
  // unless the other has already said no.
  if (c2s_len && s2c_len) return a == 0 || b == 0 ? 0 : -1;
  return c2s_len ? a : s2c_len ? b : 0;
}

// The packet probe is unused for TCP (the engine calls probe_stream); it answers for the bytes
// as the start of a client's stream, which lets the test binding and the fuzzer reach
// probe_stream.
bool probe(const uint8_t* data, uint32_t len, uint16_t sport, uint16_t dport) {
  return probe_stream(data, len, nullptr, 0, sport, dport) > 0;
}

std::unique_ptr<Dissector> create() { return std::make_unique<SipTcpDissector>(); }

}  // namespace

extern const DissectorInfo kSipTcpInfo{"SIP-TCP", l7::kSip, 6, hint, probe, create, probe_stream};

}  // namespace nprobe
