// SMTP dissector: RFC 5321 sessions on reassembled TCP streams, with pipelining (RFC 2920),
// STARTTLS (RFC 3207), AUTH (RFC 4954: SASL PLAIN RFC 4616, LOGIN, CRAM-MD5 RFC 2195),
// CHUNKING/BDAT (RFC 3030), and the header section of each message (RFC 5322 §2.2, §3.6.4)
// for Subject and Message-ID. nProbe's SMTP plugin fields plus this probe's own.
//
// Transactions: one per mail (RFC 5321 §3.3: MAIL .. RCPT .. DATA/BDAT). A mail opens at MAIL
// (or at RCPT/DATA/BDAT when the capture missed the MAIL) and closes at the end of its
// message, RSET, HELO/EHLO, a new MAIL, QUIT, STARTTLS or the end of the flow. Each closed mail
// is one entry of SMTP_TRANSACTIONS (at most dissect_limits::kMaxTransactions = 64, further
// mails counted as smtp_transactions_cap); the flat fields describe the first one.
//
// Field semantics (where nProbe's documentation leaves room, the choice made here):
// - SMTP_MAIL_FROM / SMTP_RCPT_TO: the address as nProbe's plugin exports it, without the
//   angle brackets, ESMTP parameters (SIZE=, BODY= ...) and source route dropped; "" for the
//   null reverse-path "<>" (a bounce). nProbe documents one "Mail recipient"; here every
//   recipient of the mail is kept, in RCPT order, comma separated ("a@x,b@y"), as long as the
//   list fits in 1 KiB (whole addresses only; the rest counted as smtp_recipients_cap).
//   What the client sent is recorded, whatever the server answered.
// - SMTP_HELO: the HELO/EHLO argument in effect for the mail (else the session's first one).
// - SMTP_AUTH_USER: the SASL identity of AUTH PLAIN (authcid), LOGIN (the first response) or
//   CRAM-MD5 (the name before the digest), base64-decoded. The password is never decoded nor
//   kept: PLAIN is decoded only up to the NUL that ends the identity, LOGIN's second response
//   is skipped. Other mechanisms give no user.
// - SMTP_SUBJECT / SMTP_MESSAGE_ID: the first Subject / Message-ID header of the message,
//   unfolded (RFC 5322 §2.2.3), surrounding blanks trimmed, encoded words left as sent; read
//   from the header section only (up to the first empty line); the body is skipped up to the
//   "." line, dot-stuffing undone (RFC 5321 §4.5.2), or by BDAT sizes.
// - SMTP_STARTTLS: 1 when the session switched to TLS (STARTTLS answered 220, or TLS bytes
//   after STARTTLS); from then on the stream is not read (finished()). L7_PROTO stays 3
//   (SMTP: the same protocol, upgraded in place); nDPI calls such flows SMTPS (29).
//
// Pipelining: commands waiting for a reply are queued (bounded); each final reply answers
// the oldest, except that replies with one meaning find their command: 354 answers only DATA,
// 334 only AUTH, 220 after the greeting only STARTTLS. DATA's body is read at once (some
// clients don't wait for 354); a refusal (4xx/5xx) undoes that.
// Holes in the capture (on_gap): a line reader restarts at the next chunk when it starts with a
// command verb / reply code (segments usually start at a line), else at the next line. After a
// hole a line that is no command means we are inside a message: it is read as body. A 354 with
// no DATA pending means the next client line that is no command starts a body (the DATA was
// lost, or the reply was delivered before its command); a reply during a confirmed body ends it
// (the server only speaks after the end of the message, so its "." was lost).
// A session picked up mid-stream with the roles reversed (the first packet was the server's)
// is read the right way round.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../util/byte_reader.h"
#include "../util/fifo.h"
#include "../util/json_writer.h"
#include "base64.h"
#include "dissector.h"
#include "line_reader.h"

namespace nprobe {
namespace {

// ---- caps ----
constexpr size_t kMaxPath = 256;         // RFC 5321 §4.5.3.1.3: a path is at most 256 octets
constexpr size_t kMaxDomain = 256;       // HELO argument (RFC 5321 §4.5.3.1.2: 255 + literal brackets)
constexpr size_t kMaxUser = 256;         // SASL identity kept
constexpr size_t kMaxHeaderValue = dissect_limits::kMaxFieldBytes;  // Subject, Message-ID
constexpr size_t kMaxRcptBytes = dissect_limits::kMaxFieldBytes;    // joined recipients of one mail
constexpr uint32_t kMaxHeaderLines = 1000;  // header lines read per message; then the rest is body
constexpr size_t kMaxPending = 128;         // pipelined commands waiting for their reply
constexpr uint32_t kMaxBadLines = 16;       // consecutive non-SMTP lines before giving up
constexpr size_t kMaxVerb = 16;             // longest command verb accepted
constexpr size_t kMaxProbeLine = 512;       // RFC 5321 §4.5.3.1.4: command line incl. CRLF

// ---- text helpers (string_views over LineReader lines; no byte is read out of range) ----
bool is_ws(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char upper(char c) { return c >= 'a' && c <= 'z' ? char(c - 32) : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (upper(a[i]) != upper(b[i])) return false;
  return true;
}

bool icontains(std::string_view s, std::string_view w) {
  if (w.empty()) return true;
  // The first letter is compared here: most positions fail on it, without a call.
  const char first = upper(w[0]);
  for (size_t i = 0; i + w.size() <= s.size(); i++)
    if (upper(s[i]) == first && iequals(s.substr(i, w.size()), w)) return true;
  return false;
}

// Splits "VERB rest": the verb up to the first blank, the rest without leading blanks.
void split_verb(std::string_view line, std::string_view& verb, std::string_view& rest) {
  size_t i = 0;
  while (i < line.size() && !is_ws(line[i])) i++;
  verb = line.substr(0, i);
  rest = trim(line.substr(i));
}

// Appends src to dst up to cap bytes in all, never splitting a UTF-8 sequence; false if cut.
bool append_capped(std::string& dst, std::string_view src, size_t cap) {
  if (dst.size() >= cap) return src.empty();
  size_t room = cap - dst.size();
  if (src.size() <= room) {
    dst.append(src);
    return true;
  }
  while (room > 0 && (static_cast<unsigned char>(src[room]) & 0xC0) == 0x80) room--;
  dst.append(src.substr(0, room));
  return false;
}

// RFC 5321 §4.2 reply line: three digits (first 2..5) and then nothing, SP or "-".
bool reply_line(std::string_view s, int& code, bool& more) {
  if (s.size() < 3 || s[0] < '2' || s[0] > '5' || !is_digit(s[1]) || !is_digit(s[2])) return false;
  if (s.size() > 3 && s[3] != ' ' && s[3] != '-') return false;
  code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
  more = s.size() > 3 && s[3] == '-';
  return true;
}

// A command verb: letters (RFC 5321 §4.1.1), private ones may carry digits or "-" after the
// first letter (XCLIENT, X-EXPS ...).
bool verb_ok(std::string_view v) {
  if (v.empty() || v.size() > kMaxVerb || !is_alpha(v[0])) return false;
  for (char c : v)
    if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
  return true;
}

// The commands of RFC 5321 §4.1 and of the extensions in common use (RFC 3207, 4954, 3030,
// 1985, 2645; Postfix XCLIENT/XFORWARD).
bool known_verb(std::string_view v) {
  static constexpr std::string_view kVerbs[] = {"EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "RSET",
                                                "QUIT", "NOOP", "VRFY", "EXPN", "HELP", "AUTH", "STARTTLS",
                                                "ETRN", "ATRN", "TURN", "XCLIENT", "XFORWARD"};
  for (std::string_view k : kVerbs)
    if (iequals(v, k)) return true;
  return false;
}

// Where a chunk after a hole starts: at a command line (a known verb, then a blank or the line
// end) or at a reply line (three digits, then a blank, "-" or the line end).
bool starts_command(const uint8_t* p, size_t n) {
  ByteReader r(p, n);
  std::string verb;
  while (r.has(1) && verb.size() <= kMaxVerb) {
    const char c = char(r.u8());
    if (c == ' ' || c == '\r' || c == '\n') return known_verb(verb);
    verb.push_back(c);
  }
  return false;
}

bool starts_reply(const uint8_t* p, size_t n) {
  ByteReader r(p, n);
  const char a = char(r.u8()), b = char(r.u8()), c = char(r.u8()), d = char(r.u8());
  return r.ok() && a >= '2' && a <= '5' && is_digit(b) && is_digit(c) && (d == ' ' || d == '-' || d == '\r' || d == '\n');
}

// "FROM:" / "TO:" keyword of MAIL / RCPT, blanks tolerated around the colon (clients send
// "MAIL FROM: <a@b>"); the path follows.
bool keyword(std::string_view rest, std::string_view kw, std::string_view& path) {
  if (rest.size() < kw.size() || !iequals(rest.substr(0, kw.size()), kw)) return false;
  std::string_view r = trim(rest.substr(kw.size()));
  if (r.empty() || r[0] != ':') return false;
  path = trim(r.substr(1));
  return true;
}

enum class PathResult { kOk, kBad, kLong };

// RFC 5321 §4.1.2 Path: "<" [A-d-l ":"] Mailbox ">" (then ESMTP parameters, ignored). The
// mailbox without brackets or source route; a path without brackets is taken up to the first
// blank (sloppy clients). Quoted local parts may hold ">" and blanks.
PathResult parse_path(std::string_view p, std::string& out) {
  out.clear();
  std::string_view addr;
  PathResult res = PathResult::kOk;
  if (!p.empty() && p[0] == '<') {
    size_t i = 1;
    bool quoted = false;
    while (i < p.size()) {
      const char c = p[i];
      if (quoted) {
        if (c == '\\') i++;  // quoted-pair: the next character is literal
        else if (c == '"') quoted = false;
      } else if (c == '"') {
        quoted = true;
      } else if (c == '>') {
        break;
      }
      i++;
    }
    if (i >= p.size()) {
      // No closing bracket: keep what looks like the address, and say so.
      res = PathResult::kBad;
      std::string_view r = p.substr(1);
      size_t e = 0;
      while (e < r.size() && !is_ws(r[e])) e++;
      addr = r.substr(0, e);
    } else {
      addr = p.substr(1, i - 1);
    }
    // Source route "@a,@b:user@c": obsolete, to be ignored (RFC 5321 §4.1.2, Appendix C).
    if (!addr.empty() && addr[0] == '@') {
      const size_t colon = addr.find(':');
      addr = colon == std::string_view::npos ? std::string_view() : addr.substr(colon + 1);
    }
  } else {
    size_t e = 0;
    while (e < p.size() && !is_ws(p[e])) e++;
    addr = p.substr(0, e);
    if (addr.empty()) res = PathResult::kBad;
  }
  if (!append_capped(out, addr, kMaxPath)) res = PathResult::kLong;
  return res;
}

// base64: native/dissect/base64.h
using base64::b64_decode;
using base64::b64_text;
using base64::b64_value;

// ---- the session ----
enum class Cmd : uint8_t { kOther, kHelo, kMail, kRcpt, kData, kEndData, kBdat, kRset, kQuit, kStartTls, kAuth };
enum class Sasl : uint8_t { kNone, kPlain, kLogin, kCram, kOther };

struct Mail {
  std::string helo, auth_user, mail_from, rcpt_to, subject, message_id;
  bool has_mail = false;     // a MAIL command was seen (mail_from may be "" for "<>")
  bool has_subject = false, has_message_id = false;
  bool rcpt_cut = false;
};

class SmtpDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx& c) override {
    if (finished() || c.len == 0) return;
    const char first = char(ByteReader(c.data, c.len).peek8());
    if (client_dir_ < 0) {
      // Roles: the flow's client is the sender of its first packet, which for a session picked
      // up mid-stream may be the server. Server lines start with a reply code, client lines
      // with a command verb: swap only on that evidence.
      const bool digit = is_digit(first), alpha = is_alpha(first);
      client_dir_ = (c.dir == 0 && digit) || (c.dir == 1 && alpha) ? 1 : 0;
    }
    if (c.dir == client_dir_) {
      if (cli_resync_) {
        // First bytes after a hole: a command starts here, or we wait for the next line.
        cli_resync_ = false;
        if (!in_data_ && starts_command(c.data, c.len)) cli_ = LineReader();
        else after_gap_ = !in_data_;
      }
      if (starttls_pending_ && cli_.pending() == 0 && cli_.raw_left() == 0 && first == 0x16) {
        // A TLS handshake record right after STARTTLS: the server's 220 was not captured.
        start_tls();
        return;
      }
      cli_.feed(
          c.data, c.len, [this](const LineReader::Line& l) { client_line(l); },
          [this](const uint8_t* p, size_t n) { bdat_bytes(p, n); });
    } else {
      if (srv_resync_) {
        srv_resync_ = false;
        if (starts_reply(c.data, c.len)) srv_ = LineReader();
      }
      srv_.feed(
          c.data, c.len, [this](const LineReader::Line& l) { server_line(l); }, [](const uint8_t*, size_t) {});
    }
  }

  void on_gap(int dir, uint64_t bytes) override {
    if (finished()) return;
    anomaly("smtp_stream_gap");
    const int cdir = client_dir_ < 0 ? 0 : client_dir_;
    if (dir == cdir) {
      if (cli_.raw_left() > 0 && bytes <= cli_.raw_left()) {
        // The hole is inside a BDAT chunk whose size we know: the commands after it stay in step.
        cli_.skip_raw(cli_.raw_left() - bytes);
        msg_.reset();
        in_headers_ = false;
        if (cli_.raw_left() == 0) bdat_chunk_done();
        return;
      }
      const bool in_bdat = cli_.raw_left() > 0;
      cli_.reset();  // resync at the next line, or at the next chunk (on_payload)
      cli_resync_ = true;
      if (in_bdat) bdat_chunk_done();
      // Header lines after a hole can't be trusted to be headers: stop reading them.
      in_headers_ = false;
      cur_header_ = nullptr;
    } else {
      srv_.reset();
      srv_resync_ = true;
      // Lost replies would have answered the oldest pending commands; which ones is unknown.
      pending_.clear();
    }
  }

  bool finished() const override { return tls_ || gave_up_; }
  uint16_t l7_proto() const override { return l7::kSmtp; }

  void on_export(FieldWriter& w) override {
    close_mail();
    const Mail* first = mails_.empty() ? nullptr : &mails_[0];
    w.str_if("SMTP_HELO", first ? first->helo : first_helo_);
    w.str_if("SMTP_AUTH_USER", first ? first->auth_user : first_user_);
    if (first) {
      if (first->has_mail) w.str("SMTP_MAIL_FROM", first->mail_from);
      w.str_if("SMTP_RCPT_TO", first->rcpt_to);
      w.str_if("SMTP_SUBJECT", trim(first->subject));
      w.str_if("SMTP_MESSAGE_ID", trim(first->message_id));
    }
    w.num("SMTP_STARTTLS", tls_ ? 1 : 0);
    if (!mails_.empty()) {
      JsonWriter j;
      j.begin_array();
      for (const Mail& m : mails_) {
        j.begin_object();
        if (!m.helo.empty()) j.kv("SMTP_HELO", m.helo);
        if (!m.auth_user.empty()) j.kv("SMTP_AUTH_USER", m.auth_user);
        if (m.has_mail) j.kv("SMTP_MAIL_FROM", m.mail_from);
        if (!m.rcpt_to.empty()) j.kv("SMTP_RCPT_TO", m.rcpt_to);
        if (!trim(m.subject).empty()) j.kv("SMTP_SUBJECT", trim(m.subject));
        if (!trim(m.message_id).empty()) j.kv("SMTP_MESSAGE_ID", trim(m.message_id));
        j.end_object();
      }
      j.end_array();
      w.json("SMTP_TRANSACTIONS", j.str());
    }
  }

 private:
  // ---- client side ----
  void client_line(const LineReader::Line& l) {
    if (finished()) return;
    if (l.truncated) anomaly("smtp_line_too_long");
    if (in_data_) {
      data_line(l.text);
      return;
    }
    if (sasl_ != Sasl::kNone && sasl_line(l.text)) return;
    if (starttls_pending_ && !l.text.empty() && l.text[0] == 0x16) {
      start_tls();  // TLS sent in the same segment as (or right behind) STARTTLS
      return;
    }
    command(l.text);
  }

  void command(std::string_view line) {
    if (line.empty()) return;  // stray empty line: tolerated, not a command
    std::string_view verb, rest;
    split_verb(line, verb, rest);
    if ((after_gap_ || expect_body_) && !known_verb(verb)) {
      if (after_gap_ && line == ".") {  // the end of a message whose end we already inferred
        after_gap_ = false;
        return;
      }
      // No command: we are inside a message whose DATA (or whose start) the capture lost.
      anomaly("smtp_out_of_step");
      enter_body(expect_body_ && !after_gap_);
      data_line(line);
      return;
    }
    after_gap_ = false;
    if (!verb_ok(verb)) {
      bad_line("smtp_bad_command");
      return;
    }
    bad_lines_ = 0;
    if (iequals(verb, "EHLO") || iequals(verb, "HELO")) {
      close_mail();  // RFC 5321 §4.1.4: EHLO resets the session like RSET
      expect_body_ = false;
      helo_.clear();
      if (!append_capped(helo_, rest, kMaxDomain)) anomaly("smtp_helo_too_long");
      if (!seen_helo_) first_helo_ = helo_, seen_helo_ = true;
      push(Cmd::kHelo);
    } else if (iequals(verb, "MAIL")) {
      std::string_view path;
      close_mail();
      open_mail();
      if (keyword(rest, "FROM", path)) {
        cur_.has_mail = true;
        path_anomaly(parse_path(path, cur_.mail_from));
      } else {
        anomaly("smtp_bad_path");
      }
      push(Cmd::kMail);
    } else if (iequals(verb, "RCPT")) {
      std::string_view path;
      if (!mail_open_) open_mail();
      std::string addr;
      if (keyword(rest, "TO", path)) {
        const PathResult res = parse_path(path, addr);
        path_anomaly(res);
        if (addr.empty()) {
          if (res == PathResult::kOk) anomaly("smtp_bad_path");  // "<>" is no recipient
        } else {
          add_rcpt(addr);
        }
      } else {
        anomaly("smtp_bad_path");
      }
      push(Cmd::kRcpt);
    } else if (iequals(verb, "DATA")) {
      if (!mail_open_) open_mail();
      start_message();
      in_data_ = true;
      if (expect_body_) {
        expect_body_ = false;  // its 354 came first
        data_confirmed_ = true;
      } else {
        data_confirmed_ = false;
        push(Cmd::kData);
      }
    } else if (iequals(verb, "BDAT")) {
      bdat(rest);
    } else if (iequals(verb, "RSET")) {
      close_mail();
      expect_body_ = false;
      push(Cmd::kRset);
    } else if (iequals(verb, "QUIT")) {
      close_mail();
      expect_body_ = false;
      push(Cmd::kQuit);
    } else if (iequals(verb, "STARTTLS")) {
      close_mail();
      expect_body_ = false;
      starttls_pending_ = true;
      push(Cmd::kStartTls);
    } else if (iequals(verb, "AUTH")) {
      auth(rest);
      push(Cmd::kAuth);
    } else {
      push(Cmd::kOther);  // NOOP, VRFY, EXPN, HELP, ETRN, extensions
    }
  }

  // One line of a DATA body: "." alone ends it; a leading "." was doubled by the sender.
  void data_line(std::string_view s) {
    if (s == ".") {
      in_data_ = false;
      end_message();
      push(Cmd::kEndData);
      return;
    }
    if (!s.empty() && s[0] == '.') s.remove_prefix(1);
    message_line(s);
  }

  // RFC 3030: "BDAT size [LAST]", then exactly size octets of message, no dot-stuffing.
  void bdat(std::string_view rest) {
    std::string_view size_text, tail;
    split_verb(rest, size_text, tail);
    uint64_t size = 0;
    bool ok = !size_text.empty() && size_text.size() <= 18;  // < 10^18 octets: no overflow
    for (char c : size_text) {
      if (!is_digit(c)) ok = false;
      else size = size * 10 + uint64_t(c - '0');
    }
    const bool last = iequals(tail, "LAST");
    if (!ok || (!tail.empty() && !last)) {
      // Without a size the chunk can't be skipped: read on as lines (and likely resync).
      anomaly("smtp_bad_bdat");
      push(Cmd::kOther);
      return;
    }
    if (!mail_open_) open_mail();
    if (!bdat_open_) {
      start_message();
      msg_ = LineReader();
      bdat_open_ = true;
    }
    bdat_last_ = last;
    push(Cmd::kBdat);
    if (size > 0) cli_.skip_raw(size);
    else bdat_chunk_done();
  }

  void bdat_bytes(const uint8_t* p, size_t n) {
    msg_.feed(p, n, [this](const LineReader::Line& l) { message_line(l.text); }, [](const uint8_t*, size_t) {});
    if (cli_.raw_left() == 0) bdat_chunk_done();
  }

  void bdat_chunk_done() {
    if (!bdat_last_) return;
    bdat_last_ = false;
    end_message();
  }

  // ---- the message's header section (RFC 5322 §2.2) ----
  void start_message() {
    in_headers_ = true;
    header_lines_ = 0;
    cur_header_ = nullptr;
    cur_.subject.clear();
    cur_.message_id.clear();
    cur_.has_subject = cur_.has_message_id = false;
  }

  void end_message() {
    in_headers_ = false;
    cur_header_ = nullptr;
    bdat_open_ = false;
    close_mail();
  }

  void message_line(std::string_view s) {
    if (!in_headers_) return;  // body: skipped
    if (s.empty()) {
      in_headers_ = false;  // the empty line ends the header section
      return;
    }
    if (is_ws(s[0])) {
      // Folded continuation of the previous field (RFC 5322 §2.2.3: unfolding drops the CRLF).
      if (cur_header_ && !append_capped(*cur_header_, s, kMaxHeaderValue)) header_cut();
      return;
    }
    if (++header_lines_ > kMaxHeaderLines) {
      anomaly("smtp_header_lines_cap");
      in_headers_ = false;
      return;
    }
    // field-name: printable ASCII but ":" (RFC 5322 §3.6.8). Anything else means the message
    // has no (more) header section: it is body.
    const size_t colon = s.find(':');
    std::string_view name = colon == std::string_view::npos ? std::string_view() : s.substr(0, colon);
    while (!name.empty() && is_ws(name.back())) name.remove_suffix(1);  // obsolete "Name :" form
    bool ok = !name.empty();
    for (char c : name) ok = ok && c > 32 && c < 127;
    if (!ok) {
      in_headers_ = false;
      cur_header_ = nullptr;
      return;
    }
    cur_header_ = nullptr;
    std::string_view value = s.substr(colon + 1);
    if (iequals(name, "Subject") && !cur_.has_subject) {
      cur_.has_subject = true;
      cur_header_ = &cur_.subject;
    } else if (iequals(name, "Message-ID") && !cur_.has_message_id) {
      cur_.has_message_id = true;
      cur_header_ = &cur_.message_id;
    }
    if (cur_header_ && !append_capped(*cur_header_, value, kMaxHeaderValue)) header_cut();
  }

  void header_cut() {
    anomaly("smtp_header_too_long");
    cur_header_ = nullptr;  // keep what fits; the rest of this field is dropped
  }

  // ---- AUTH (RFC 4954) ----
  void auth(std::string_view rest) {
    std::string_view mech, ir;
    split_verb(rest, mech, ir);
    sasl_ = Sasl::kNone;
    sasl_lines_ = 0;
    const bool has_ir = !ir.empty();
    if (iequals(mech, "PLAIN")) {
      if (has_ir) {
        if (ir != "=") plain_user(ir);  // "=" is an empty initial response
      } else {
        sasl_ = Sasl::kPlain, sasl_lines_ = 1;
      }
    } else if (iequals(mech, "LOGIN")) {
      // Responses: the user name, then the password (skipped, never decoded).
      if (has_ir) {
        set_user(decode_user(ir, 0));
        sasl_ = Sasl::kLogin, sasl_lines_ = 1;
      } else {
        sasl_ = Sasl::kLogin, sasl_lines_ = 2;
      }
    } else if (iequals(mech, "CRAM-MD5")) {
      sasl_ = Sasl::kCram, sasl_lines_ = 1;  // "user SP hex-digest": no secret in it
    } else if (mech.empty()) {
      anomaly("smtp_bad_auth");
    } else {
      sasl_ = Sasl::kOther;  // responses until the server's final reply, not read
    }
  }

  // A client line while a SASL exchange is open; false when it can't be a SASL response (the
  // exchange ended without us seeing the final reply) and is to be read as a command.
  bool sasl_line(std::string_view s) {
    if (s == "*") {  // RFC 4954 §4: the client cancels
      sasl_ = Sasl::kNone;
      return true;
    }
    if (!b64_text(s)) {
      sasl_ = Sasl::kNone;
      return false;
    }
    switch (sasl_) {
      case Sasl::kPlain: plain_user(s); break;
      case Sasl::kLogin:
        if (sasl_lines_ == 2) set_user(decode_user(s, 0));
        break;
      case Sasl::kCram: set_user(decode_user(s, ' ')); break;
      default: break;
    }
    if (sasl_ != Sasl::kOther && --sasl_lines_ <= 0) sasl_ = Sasl::kNone;
    return true;
  }

  // RFC 4616: [authzid] NUL authcid NUL passwd. Decoding stops at the second NUL, so the
  // password's bytes are never produced.
  void plain_user(std::string_view b64) {
    std::string authzid, authcid;
    int nuls = 0;
    bool cut = false;
    const bool ok = b64_decode(b64, [&](uint8_t b) {
      if (b == 0) return ++nuls < 2;
      std::string& dst = nuls == 0 ? authzid : authcid;
      if (dst.size() < kMaxUser) dst.push_back(char(b));
      else cut = true;
      return true;
    });
    if (!ok || nuls < 2 || authcid.empty()) {
      anomaly("smtp_bad_auth");
      return;
    }
    if (cut) anomaly("smtp_auth_user_too_long");
    set_user(authcid);
  }

  // The decoded response up to `stop` (0: all of it), at most kMaxUser bytes.
  std::string decode_user(std::string_view b64, char stop) {
    std::string out;
    bool cut = false;
    const bool ok = b64_decode(b64, [&](uint8_t b) {
      if (stop && char(b) == stop) return false;
      if (out.size() < kMaxUser) out.push_back(char(b));
      else cut = true;
      return true;
    });
    if (!ok) {
      anomaly("smtp_bad_auth");
      return std::string();
    }
    if (cut) anomaly("smtp_auth_user_too_long");
    return out;
  }

  void set_user(const std::string& u) {
    if (u.empty()) return;
    auth_user_ = u;
    if (first_user_.empty()) first_user_ = u;
    if (mail_open_ && cur_.auth_user.empty()) cur_.auth_user = u;
  }

  // ---- server side ----
  void server_line(const LineReader::Line& l) {
    if (finished()) return;
    if (l.truncated) anomaly("smtp_line_too_long");
    int code = 0;
    bool more = false;
    if (!reply_line(l.text, code, more)) {
      if (l.text.empty()) return;  // stray empty line: tolerated
      bad_line("smtp_bad_reply");
      return;
    }
    bad_lines_ = 0;
    if (!more) reply(code);  // "ddd-" lines continue a reply; the "ddd " line ends it
  }

  void reply(int code) {
    if (!greeting_seen_ && pending_.empty()) {
      greeting_seen_ = true;  // RFC 5321 §4.3.1: the greeting answers no command
      return;
    }
    greeting_seen_ = true;
    if (code == 354) {
      // 354 answers only DATA (RFC 5321 §4.3.2): entries before it lost their replies.
      while (!pending_.empty() && pending_.front() != Cmd::kData) pending_.pop_front();
      if (!pending_.empty()) pending_.pop_front();
      else if (!in_data_) expect_body_ = true;  // its DATA was lost, or is still to come
      if (in_data_) data_confirmed_ = true;
      return;
    }
    if (code == 334) return;  // a SASL challenge (only AUTH gets one): the exchange goes on
    if (pending_.empty()) {
      // A reply to a command the capture lost.
      if (in_data_ && data_confirmed_) {
        in_data_ = false;  // the server answers a body only after its end: the "." was lost
        end_message();
      } else if (code == 220 && starttls_pending_) {
        start_tls();
      }
      return;
    }
    const Cmd c = pending_.front();
    pending_.pop_front();
    switch (c) {
      case Cmd::kData:
        if (code >= 400 && in_data_ && !data_confirmed_) {
          // DATA refused (e.g. 554 no valid recipients): what follows is commands, not a
          // message. Anything read as headers meanwhile is dropped.
          in_data_ = false;
          start_message();
          in_headers_ = false;
        }
        break;
      case Cmd::kStartTls:
        starttls_pending_ = false;
        if (code == 220) start_tls();
        break;
      case Cmd::kAuth:
        sasl_ = Sasl::kNone;
        sasl_lines_ = 0;
        break;
      default:
        // Out of step (a reply lost or early): a 220 can only answer a STARTTLS.
        if (code == 220 && starttls_pending_) start_tls();
        break;
    }
  }

  // Inside a message without its DATA: read on as its body (headers: from its start).
  void enter_body(bool headers) {
    after_gap_ = expect_body_ = false;
    if (!mail_open_) open_mail();
    start_message();
    in_headers_ = headers;
    in_data_ = true;
    data_confirmed_ = true;
  }

  void start_tls() {
    close_mail();
    tls_ = true;
    starttls_pending_ = false;
  }

  // ---- helpers ----
  void push(Cmd c) {
    if (pending_.size() >= kMaxPending) {
      // The server never answers (one direction captured) or we are out of step.
      if (!pending_cap_hit_) anomaly("smtp_pipeline_cap");
      pending_cap_hit_ = true;
      pending_.pop_front();
    }
    pending_.push_back(c);
  }

  void bad_line(const char* name) {
    anomaly(name);
    if (++bad_lines_ >= kMaxBadLines) {
      anomaly("smtp_too_many_bad_lines");
      gave_up_ = true;  // not (or no longer) SMTP: stop reading the flow
    }
  }

  void path_anomaly(PathResult r) {
    if (r == PathResult::kBad) anomaly("smtp_bad_path");
    else if (r == PathResult::kLong) anomaly("smtp_path_too_long");
  }

  void add_rcpt(const std::string& addr) {
    const size_t need = addr.size() + (cur_.rcpt_to.empty() ? 0 : 1);
    if (cur_.rcpt_cut || cur_.rcpt_to.size() + need > kMaxRcptBytes) {
      if (!cur_.rcpt_cut) anomaly("smtp_recipients_cap");
      cur_.rcpt_cut = true;
      return;
    }
    if (!cur_.rcpt_to.empty()) cur_.rcpt_to.push_back(',');
    cur_.rcpt_to.append(addr);
  }

  void open_mail() {
    cur_ = Mail();
    cur_.helo = helo_;
    cur_.auth_user = auth_user_;
    mail_open_ = true;
  }

  void close_mail() {
    if (!mail_open_) return;
    mail_open_ = false;
    in_headers_ = false;
    cur_header_ = nullptr;
    bdat_open_ = false;
    if (!cur_.has_mail && cur_.rcpt_to.empty() && !cur_.has_subject && !cur_.has_message_id) return;  // nothing seen
    if (mails_.size() < dissect_limits::kMaxTransactions) {
      mails_.push_back(std::move(cur_));
    } else {
      anomaly("smtp_transactions_cap");
    }
    cur_ = Mail();
  }

  LineReader cli_, srv_;
  LineReader msg_;  // BDAT message bytes, split into lines for the header section
  int client_dir_ = -1;
  Fifo<Cmd> pending_;
  bool pending_cap_hit_ = false;
  std::vector<Mail> mails_;
  Mail cur_;
  bool mail_open_ = false;
  std::string helo_, first_helo_, auth_user_, first_user_;
  bool seen_helo_ = false;
  bool greeting_seen_ = false;
  bool in_data_ = false, data_confirmed_ = false;
  bool bdat_open_ = false, bdat_last_ = false;
  bool in_headers_ = false;
  std::string* cur_header_ = nullptr;  // the field continuation lines extend (in cur_)
  uint32_t header_lines_ = 0;
  Sasl sasl_ = Sasl::kNone;
  int sasl_lines_ = 0;
  bool starttls_pending_ = false, tls_ = false, gave_up_ = false;
  bool cli_resync_ = false, srv_resync_ = false;  // a hole: decide at the next chunk
  bool after_gap_ = false;    // after a client hole: a line that is no command is body
  bool expect_body_ = false;  // a 354 came with no DATA pending
  uint32_t bad_lines_ = 0;
};

// ---- detection on the first bytes of both directions ----
enum class Side { kEmpty, kMore, kNo, kGreeting, kSmtpGreeting, kReply, kSmtpCommand, kAmbiguous };

// One line of r (CR/LF stripped); false when no LF is left (r then stays where it was).
bool next_line(ByteReader& r, std::string_view& line) {
  // memchr, not a byte loop: greetings and EHLO replies are long, and every SMTP flow's first
  // bytes are read here.
  const uint8_t* start = r.cur();
  const void* lf = std::memchr(start, '\n', r.remaining());
  if (!lf) return false;
  const size_t n = size_t(static_cast<const uint8_t*>(lf) - start);
  size_t len = n;
  if (len > 0 && start[len - 1] == '\r') len--;
  line = std::string_view(reinterpret_cast<const char*>(start), len);
  r.skip(n + 1);
  return true;
}

// The server's first reply: a greeting (220, or 554 "no service here", RFC 5321 §3.1) or, for a
// session picked up later, any reply. A greeting naming FTP and not SMTP is an FTP server's.
Side server_side(const uint8_t* p, uint32_t n) {
  if (n == 0) return Side::kEmpty;
  ByteReader r(p, n);
  std::string_view line;
  int first = 0;
  bool smtp = false, ftp = false, done = false;
  for (int i = 0; i < 16 && !done && next_line(r, line); i++) {
    int code = 0;
    bool more = false;
    if (!reply_line(line, code, more)) return Side::kNo;
    if (first == 0) first = code;
    else if (code != first) return Side::kNo;  // RFC 5321 §4.2.1: one code per multi-line reply
    const std::string_view text = line.substr(std::min<size_t>(4, line.size()));
    smtp = smtp || icontains(text, "SMTP");
    ftp = ftp || icontains(text, "FTP");
    done = !more;
  }
  if (first == 0) {
    // No complete line yet: it must start like a reply.
    const size_t k = std::min<size_t>(r.remaining(), 4);
    for (size_t i = 0; i < k; i++) {
      const char c = char(r.peek8(i));
      if (i < 3 ? !is_digit(c) : (c != ' ' && c != '-' && c != '\r')) return Side::kNo;
    }
    if (k > 0 && (r.peek8(0) < '2' || r.peek8(0) > '5')) return Side::kNo;
    return r.remaining() > kMaxProbeLine ? Side::kNo : Side::kMore;
  }
  if (first != 220 && first != 554) return Side::kReply;
  if (smtp) return Side::kSmtpGreeting;
  if (ftp) return Side::kNo;
  return done ? Side::kGreeting : Side::kMore;
}

// The client's first command. EHLO/HELO, MAIL FROM:, RCPT TO: and STARTTLS are SMTP's own;
// the verbs FTP (and others) share decide nothing alone.
Side client_side(const uint8_t* p, uint32_t n) {
  if (n == 0) return Side::kEmpty;
  ByteReader r(p, n);
  std::string_view line;
  if (!next_line(r, line)) {
    if (n > kMaxProbeLine) return Side::kNo;
    ByteReader v(p, n);
    for (size_t i = 0; i < kMaxVerb && v.has(1); i++) {
      const char c = char(v.u8());
      if (c == ' ' || c == '\r') break;
      if (!is_alpha(c)) return Side::kNo;
    }
    return Side::kMore;
  }
  if (line.size() + 2 > kMaxProbeLine) return Side::kNo;
  std::string_view verb, rest, path;
  split_verb(line, verb, rest);
  if ((iequals(verb, "EHLO") || iequals(verb, "HELO")) && !rest.empty()) return Side::kSmtpCommand;
  if (iequals(verb, "MAIL") && keyword(rest, "FROM", path)) return Side::kSmtpCommand;
  if (iequals(verb, "RCPT") && keyword(rest, "TO", path)) return Side::kSmtpCommand;
  if (iequals(verb, "STARTTLS") && rest.empty()) return Side::kSmtpCommand;
  // FTP's "AUTH TLS" / "AUTH SSL" (RFC 4217): not a SASL mechanism.
  if (iequals(verb, "AUTH") && (iequals(rest, "TLS") || iequals(rest, "SSL"))) return Side::kNo;
  static constexpr std::string_view kShared[] = {"DATA", "RSET", "NOOP", "QUIT", "HELP", "VRFY", "EXPN", "AUTH", "BDAT", "ETRN"};
  for (std::string_view v : kShared)
    if (iequals(verb, v)) return Side::kAmbiguous;
  return Side::kNo;
}

bool hint(uint16_t c, uint16_t s) {
  // 25 relay, 587 submission (RFC 6409), 2525 a common alternative. 465 is implicit TLS
  // (RFC 8314): nothing to read in clear, so no hint.
  auto smtp_port = [](uint16_t p) { return p == 25 || p == 587 || p == 2525; };
  return smtp_port(s) || smtp_port(c);
}

int verdict(Side srv, Side cli, bool hinted) {
  if (srv == Side::kNo || cli == Side::kNo) return -1;
  if (cli == Side::kSmtpCommand) return 1;
  if (srv == Side::kSmtpGreeting) return 1;
  if (cli == Side::kAmbiguous && (srv == Side::kGreeting || srv == Side::kReply)) {
    // A greeting or reply that doesn't say SMTP and a verb FTP has too: the port decides.
    return hinted ? 1 : -1;
  }
  return 0;
}

int probe_stream(const uint8_t* c2s, uint32_t cn, const uint8_t* s2c, uint32_t sn, uint16_t cport, uint16_t sport) {
  const bool hinted = hint(cport, sport);
  const int v = verdict(server_side(s2c, sn), client_side(c2s, cn), hinted);
  if (v >= 0) return v;
  // Picked up mid-stream with the server as the flow's "client": the roles read reversed.
  if (is_digit(char(ByteReader(c2s, cn).peek8()))) {
    const int w = verdict(server_side(c2s, cn), client_side(s2c, sn), hinted);
    if (w >= 0) return w;
  }
  return -1;
}

bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }  // TCP only
std::unique_ptr<Dissector> create() { return std::make_unique<SmtpDissector>(); }

}  // namespace

extern const DissectorInfo kSmtpInfo{"SMTP", l7::kSmtp, 6, hint, probe, create, probe_stream};

}  // namespace nprobe
