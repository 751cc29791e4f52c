// IMAP dissector: IMAP4rev2 (RFC 9051) and IMAP4rev1 (RFC 3501) sessions on reassembled TCP
// streams. STARTTLS (RFC 9051 §6.2.1, RFC 2595), LOGIN (§6.2.3), AUTHENTICATE (§6.2.2) with
// the SASL mechanisms PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195) and XOAUTH2, initial
// responses (SASL-IR, RFC 4959); literals "{n}", "{n+}" (LITERAL+, RFC 7888) and "~{n}"
// (BINARY, RFC 3516) on both sides (RFC 9051 §4.3); IDLE (RFC 2177); COMPRESS (RFC 4978).
//
// Transactions: one per authentication attempt, i.e. per LOGIN or AUTHENTICATE command, with
// its result (the tagged OK/NO/BAD that completes it). IMAP_TRANSACTIONS lists them (at most
// dissect_limits::kMaxTransactions = 64, further attempts counted as imap_transactions_cap);
// the flat IMAP_LOGIN / IMAP_AUTHZID / IMAP_AUTH_METHOD / IMAP_AUTH_STATUS describe the first.
//
// Field semantics (where nProbe's documentation leaves room, the choice made here):
// - IMAP_LOGIN: the user name of the attempt: LOGIN's first argument (atom, quoted string or
//   literal, decoded), or the SASL identity, base64-decoded: PLAIN's authcid, LOGIN's first
//   response, the name before CRAM-MD5's digest, XOAUTH2's "user=". The password is never
//   kept nor decoded: LOGIN's second argument is skipped (a literal one passes through raw),
//   PLAIN is decoded only up to the NUL that ends the authcid, LOGIN's second response and
//   XOAUTH2's token (after the first ^A) are never decoded.
// - IMAP_AUTHZID: PLAIN's authorization identity, when sent and different from the authcid.
// - IMAP_AUTH_METHOD: "LOGIN" for the LOGIN command, "AUTHENTICATE <MECHANISM>" for SASL.
// - IMAP_AUTH_STATUS: OK, NO or BAD from the tagged response; absent when none was seen.
// - IMAP_STARTTLS: 1 when STARTTLS was accepted (tagged OK), or when the client started TLS
//   right after STARTTLS with the server's answer not captured; from then on the stream is not
//   read (finished()). L7_PROTO stays 4 (IMAP, upgraded in place).
// - IMAP_GREETING: the text of the server greeting ("* OK", "* PREAUTH" or "* BYE" as the
//   first server line), without the status word and without a leading [CAPABILITY ...] code.
// - IMAP_CAPABILITIES: the first capability list the server announced (the greeting's
//   [CAPABILITY ...] code, an untagged CAPABILITY response or code), as sent, space separated:
//   the pre-authentication list (STARTTLS, LOGINDISABLED, AUTH= ... show there).
// - IMAP_MAILBOX: the first mailbox the client SELECTs or EXAMINEs (decoded astring, as sent:
//   modified UTF-7 is not decoded), whatever the server answered.
// Once the session is authenticated (LOGIN/AUTHENTICATE answered OK, or a PREAUTH greeting) and
// a mailbox has been selected, nothing more can be learned: finished() stops the reassembly.
// COMPRESS accepted (the rest is deflated) also ends the reading.
//
// Commands are matched to their tagged responses by tag (pipelining, out-of-order completion).
// Holes in the capture (on_gap): inside a literal of known size the stream stays in step;
// elsewhere the line reader resyncs at the next chunk that starts with a command (client) or a
// response (server), else at the next line, and lines that don't parse are skipped silently
// until a command with a known verb (client) or a response (server) is seen. A tagged response
// delivered before its command (a client hole settled by the server's ACK) is remembered for a
// few commands. A session picked up mid-stream with the roles reversed is read the right way.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "../util/byte_reader.h"
#include "../util/json_writer.h"
#include "base64.h"
#include "dissector.h"
#include "line_reader.h"

namespace nprobe {
namespace {

// ---- caps ----
constexpr size_t kMaxUser = 256;                                // user name / authzid kept
constexpr size_t kMaxMailbox = dissect_limits::kMaxFieldBytes;  // mailbox name kept
constexpr size_t kMaxText = dissect_limits::kMaxFieldBytes;     // greeting, capability list
constexpr size_t kMaxMech = 32;                                 // SASL names are at most 20 chars (RFC 4422 §3.1)
constexpr size_t kMaxTag = 64;                                  // longest tag accepted
constexpr size_t kMaxVerb = 32;                                 // longest command name accepted
constexpr size_t kMaxPending = 64;                              // commands waiting for their tagged response
constexpr size_t kMaxEarly = 8;                                 // tagged responses seen before their command
constexpr uint32_t kEarlyAge = 8;                               // ... kept for this many client commands
constexpr uint32_t kMaxBadLines = 16;                           // consecutive unparsable lines before giving up
constexpr size_t kMaxProbeLine = 1024;                          // first line looked at by the probe
constexpr size_t kMaxLiteralDigits = 19;                        // number64 (RFC 9051 §9): < 2^63

// ---- text helpers (string_views over LineReader lines; no byte is read out of range) ----
char upper(char c) { return c >= 'a' && c <= 'z' ? char(c - 32) : c; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (upper(a[i]) != upper(b[i])) return false;
  return true;
}

bool istarts(std::string_view s, std::string_view p) { return s.size() >= p.size() && iequals(s.substr(0, p.size()), p); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string upper_copy(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = upper(c);
  return o;
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

// RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">; ASTRING-CHAR = ATOM-CHAR / "]", and
// ATOM-CHAR is any CHAR but atom-specials ("(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]").
bool atom_char(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7F) return false;
  return c != '(' && c != ')' && c != '{' && c != '%' && c != '*' && c != '"' && c != '\\' && c != ']';
}
bool tag_char(char c) { return c != '+' && (atom_char(c) || c == ']'); }

// "tag SP command [SP arguments]". The command is an atom starting with a letter.
bool split_command(std::string_view line, std::string_view& tag, std::string_view& verb, std::string_view& rest) {
  size_t i = 0;
  while (i < line.size() && tag_char(line[i])) i++;
  if (i == 0 || i > kMaxTag || i >= line.size() || line[i] != ' ') return false;
  tag = line.substr(0, i);
  size_t j = i + 1;
  while (j < line.size() && atom_char(line[j])) j++;
  verb = line.substr(i + 1, j - i - 1);
  if (verb.empty() || verb.size() > kMaxVerb || !is_alpha(verb[0])) return false;
  if (j < line.size() && line[j] != ' ') return false;  // "a LOGIN(x" is no command
  rest = j < line.size() ? line.substr(j + 1) : std::string_view();
  return true;
}

// "tag SP (OK|NO|BAD) [SP text]": a tagged status response (RFC 9051 §7.1).
bool split_tagged(std::string_view line, std::string_view& tag, std::string_view& status, std::string_view& text) {
  size_t i = 0;
  while (i < line.size() && tag_char(line[i])) i++;
  if (i == 0 || i > kMaxTag || i >= line.size() || line[i] != ' ') return false;
  size_t j = i + 1;
  while (j < line.size() && line[j] != ' ') j++;
  const std::string_view st = line.substr(i + 1, j - i - 1);
  if (!iequals(st, "OK") && !iequals(st, "NO") && !iequals(st, "BAD")) return false;
  tag = line.substr(0, i);
  status = st;
  text = j < line.size() ? line.substr(j + 1) : std::string_view();
  return true;
}

// The command names of RFC 9051 / RFC 3501 and of the extensions in common use (IDLE, ID,
// NAMESPACE, UNSELECT, MOVE, ENABLE, QUOTA, ACL, METADATA, SORT/THREAD, COMPRESS, XLIST). Any
// atom is accepted as a command in a session; this list decides detection and resync only.
bool known_verb(std::string_view v) {
  static constexpr std::string_view kVerbs[] = {
      "CAPABILITY", "NOOP",   "LOGOUT",     "STARTTLS", "AUTHENTICATE", "LOGIN",        "SELECT",     "EXAMINE",
      "CREATE",     "DELETE", "RENAME",     "SUBSCRIBE", "UNSUBSCRIBE", "LIST",         "LSUB",       "NAMESPACE",
      "STATUS",     "APPEND", "IDLE",       "CHECK",    "CLOSE",        "UNSELECT",     "EXPUNGE",    "SEARCH",
      "FETCH",      "STORE",  "COPY",       "MOVE",     "UID",          "ENABLE",       "ID",         "GETQUOTA",
      "GETQUOTAROOT", "SETQUOTA", "GETACL", "SETACL",   "DELETEACL",    "LISTRIGHTS",   "MYRIGHTS",   "COMPRESS",
      "SORT",       "THREAD", "GETMETADATA", "SETMETADATA", "XLIST"};
  for (std::string_view k : kVerbs)
    if (iequals(v, k)) return true;
  return false;
}

// A literal announced at the end of a line: "{n}" (synchronizing: the client waits for the
// server's "+" before sending the octets), "{n+}" (non-synchronizing) or "~{n}" (literal8).
// The n octets after the CRLF belong to the same command or response, which goes on after them.
enum class Lit : uint8_t { kNone, kSync, kNonSync, kBad };
Lit literal_suffix(std::string_view s, uint64_t& n, std::string_view& before) {
  if (s.empty() || s.back() != '}') return Lit::kNone;
  const size_t open = s.rfind('{');
  if (open == std::string_view::npos) return Lit::kNone;
  std::string_view inner = s.substr(open + 1, s.size() - open - 2);
  const bool plus = !inner.empty() && inner.back() == '+';
  if (plus) inner.remove_suffix(1);
  if (inner.empty()) return Lit::kNone;
  for (char c : inner)
    if (!is_digit(c)) return Lit::kNone;  // "{x}" in text: no literal
  // number64 is below 2^63 (19 digits); a longer count can't be honoured.
  if (inner.size() > kMaxLiteralDigits) return Lit::kBad;
  uint64_t v = 0;
  for (char c : inner) v = v * 10 + uint64_t(c - '0');
  if (v > uint64_t(INT64_MAX)) return Lit::kBad;
  n = v;
  before = s.substr(0, open);
  if (!before.empty() && before.back() == '~') before.remove_suffix(1);
  return plus ? Lit::kNonSync : Lit::kSync;
}

// base64: native/dissect/base64.h
using base64::b64_decode;
using base64::b64_text;
using base64::b64_value;

// ---- the session ----
enum class Kind : uint8_t { kOther, kLogin, kAuth, kSelect, kStartTls, kIdle, kCompress };
enum class Mech : uint8_t { kNone, kPlain, kLogin, kCram, kXoauth2, kOther };

Kind classify(std::string_view verb) {
  if (iequals(verb, "LOGIN")) return Kind::kLogin;
  if (iequals(verb, "AUTHENTICATE")) return Kind::kAuth;
  if (iequals(verb, "SELECT") || iequals(verb, "EXAMINE")) return Kind::kSelect;
  if (iequals(verb, "STARTTLS")) return Kind::kStartTls;
  if (iequals(verb, "IDLE")) return Kind::kIdle;
  if (iequals(verb, "COMPRESS")) return Kind::kCompress;
  return Kind::kOther;
}

struct Txn {
  std::string user, authzid, method, status;
};

struct Pending {
  std::string tag;
  Kind kind;
  int txn;  // index in txns_, -1 when none
};

struct Early {
  std::string tag, status;
  uint32_t at;  // client command count when seen
};

class ImapDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx& c) override {
    if (finished() || c.len == 0) return;
    ByteReader r(c.data, c.len);
    if (client_dir_ < 0) client_dir_ = roles(c.dir, c.data, c.len);
    if (c.dir == client_dir_) {
      if (cli_resync_) {
        // First bytes after a hole: a command starts here, or we wait for the next line.
        cli_resync_ = false;
        if (starts_command(c.data, c.len)) cli_ = LineReader();
      }
      if (starttls_pending_ && cli_.pending() == 0 && cli_.raw_left() == 0 && r.peek8() == 0x16) {
        // A TLS handshake record right after STARTTLS: the server's OK was not captured.
        start_tls();
        return;
      }
      cli_.feed(
          c.data, c.len, [this](const LineReader::Line& l) { client_line(l); },
          [this](const uint8_t* p, size_t n) { client_literal(p, n); });
    } else {
      if (srv_resync_) {
        srv_resync_ = false;
        if (starts_response(c.data, c.len)) srv_ = LineReader();
      }
      srv_.feed(
          c.data, c.len, [this](const LineReader::Line& l) { server_line(l); }, [](const uint8_t*, size_t) {});
    }
  }

  void on_gap(int dir, uint64_t bytes) override {
    if (finished()) return;
    anomaly("imap_stream_gap");
    const int cdir = client_dir_ < 0 ? 0 : client_dir_;
    if (dir == cdir) {
      if (cli_.raw_left() > 0 && bytes <= cli_.raw_left()) {
        // The hole is inside a literal whose size we know: the command goes on after it.
        cli_.skip_raw(cli_.raw_left() - bytes);
        cmd_.lit_damaged = true;
        cli_holes_ = true;
        if (cli_.raw_left() == 0) literal_done();
        return;
      }
      cli_.reset();  // resync at the next line, or at the next chunk (on_payload)
      cli_resync_ = true;
      cli_holes_ = true;
      cli_lost_ = true;
      cmd_.open = false;  // the rest of the command in progress is lost
    } else {
      if (srv_.raw_left() > 0 && bytes <= srv_.raw_left()) {
        srv_.skip_raw(srv_.raw_left() - bytes);
        return;
      }
      srv_.reset();
      srv_resync_ = true;
      srv_lost_ = true;
      srv_cont_ = false;
    }
  }

  bool finished() const override { return tls_ || gave_up_ || compressed_ || (authenticated_ && mailbox_seen_); }
  uint16_t l7_proto() const override { return l7::kImap; }

  void on_export(FieldWriter& w) override {
    if (!txns_.empty()) {
      const Txn& t = txns_[0];
      w.str_if("IMAP_LOGIN", t.user);
      w.str_if("IMAP_AUTHZID", t.authzid);
      w.str_if("IMAP_AUTH_METHOD", t.method);
      w.str_if("IMAP_AUTH_STATUS", t.status);
    }
    w.num("IMAP_STARTTLS", tls_ ? 1 : 0);
    w.str_if("IMAP_GREETING", greeting_);
    w.str_if("IMAP_CAPABILITIES", caps_);
    if (mailbox_seen_) w.str("IMAP_MAILBOX", mailbox_);
    if (!txns_.empty()) {
      JsonWriter j;
      j.begin_array();
      for (const Txn& t : txns_) {
        j.begin_object();
        if (!t.user.empty()) j.kv("IMAP_LOGIN", t.user);
        if (!t.authzid.empty()) j.kv("IMAP_AUTHZID", t.authzid);
        j.kv("IMAP_AUTH_METHOD", t.method);
        if (!t.status.empty()) j.kv("IMAP_AUTH_STATUS", t.status);
        j.end_object();
      }
      j.end_array();
      w.json("IMAP_TRANSACTIONS", j.str());
    }
  }

 private:
  // The command being read: its first line, then (after each literal) the lines that continue it.
  struct Command {
    bool open = false;
    std::string tag;
    Kind kind = Kind::kOther;
    int txn = -1;
    size_t nargs = 0;          // arguments seen so far
    bool lit_keep = false;     // the literal being read is an argument we keep
    bool lit_sync = false;     // ... announced as "{n}": the client waits for the server's "+"
    bool lit_damaged = false;  // ... a hole took some of its bytes
    bool lit_cut = false;
    uint64_t lit_size = 0;
    size_t lit_arg = 0;
    std::string lit;  // the kept literal's bytes (capped)
  };

  // ---- roles ----
  // The flow's client is the sender of its first packet, which for a session picked up
  // mid-stream may be the server: swap only on evidence (a response line, or a command line).
  int roles(int dir, const uint8_t* p, uint32_t n) const {
    if (starts_response(p, n) && !starts_command(p, n)) return 1 - dir;
    if (starts_command(p, n)) return dir;
    return 0;
  }

  static std::string_view first_line(const uint8_t* p, size_t n) {
    ByteReader r(p, std::min(n, kMaxProbeLine));
    size_t len = 0;
    while (r.has(1)) {
      const uint8_t b = r.u8();
      if (b == '\n') break;
      len++;
    }
    std::string_view s(reinterpret_cast<const char*>(p), len);
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return s;
  }

  // The chunk starts with "tag SP known-command" (a complete or partial first line).
  static bool starts_command(const uint8_t* p, size_t n) {
    std::string_view tag, verb, rest;
    return split_command(first_line(p, n), tag, verb, rest) && known_verb(verb);
  }

  // The chunk starts with "* ", "+ " / "+" alone, or a tagged status response.
  static bool starts_response(const uint8_t* p, size_t n) {
    const std::string_view s = first_line(p, n);
    if (s.size() >= 2 && s[0] == '*' && s[1] == ' ') return true;
    if (s == "+" || (s.size() >= 2 && s[0] == '+' && s[1] == ' ')) return true;
    std::string_view tag, status, text;
    return split_tagged(s, tag, status, text);
  }

  // ---- client side ----
  void client_line(const LineReader::Line& l) {
    if (finished()) return;
    if (l.truncated) anomaly("imap_line_too_long");
    const std::string_view s = l.text;
    if (cmd_.open) {
      command_part(s, l.truncated);
      return;
    }
    if (idle_ && iequals(s, "DONE")) {  // RFC 2177: ends IDLE
      idle_ = false;
      return;
    }
    if (sasl_active_ && sasl_line(s)) return;
    if (starttls_pending_ && !s.empty() && static_cast<unsigned char>(s[0]) == 0x16) {
      start_tls();  // TLS sent in the same segment as (or right behind) STARTTLS
      return;
    }
    if (s.empty()) return;  // stray empty line: tolerated
    std::string_view tag, verb, rest;
    const bool ok = split_command(s, tag, verb, rest);
    if (cli_lost_) {
      // After a hole: what doesn't look like a command with a known name may be the middle of
      // a literal or of a command; skip it quietly.
      if (!ok || !known_verb(verb)) return;
      cli_lost_ = false;
    }
    if (!ok) {
      bad_line("imap_bad_command");
      return;
    }
    bad_lines_ = 0;
    start_command(tag, verb, rest, l.truncated);
  }

  void start_command(std::string_view tag, std::string_view verb, std::string_view rest, bool truncated) {
    commands_++;
    cmd_ = Command();
    cmd_.open = true;
    cmd_.tag.assign(tag);
    cmd_.kind = classify(verb);
    if (cmd_.kind == Kind::kLogin || cmd_.kind == Kind::kAuth) {
      cmd_.txn = new_txn(cmd_.kind == Kind::kLogin ? "LOGIN" : "AUTHENTICATE");
      if (cmd_.kind == Kind::kAuth) {
        sasl_active_ = false;  // a new exchange replaces one whose end we missed
        sasl_mech_ = Mech::kNone;
        sasl_responses_ = 0;
        sasl_txn_ = cmd_.txn;
      }
    }
    push(cmd_.tag, cmd_.kind, cmd_.txn);
    command_part(rest, truncated);
  }

  // One piece of the command: its arguments, up to the end of the line or to a literal.
  void command_part(std::string_view s, bool truncated) {
    uint64_t n = 0;
    std::string_view before;
    // A cut line lost its end, and with it any literal announced there.
    Lit lit = truncated ? Lit::kNone : literal_suffix(s, n, before);
    if (lit == Lit::kBad) {
      anomaly("imap_bad_literal");
      lit = Lit::kNone;
    }
    arguments(lit == Lit::kNone ? s : before);
    if (lit == Lit::kNone) {
      finish_command();
      return;
    }
    // The literal is the next argument; the command goes on after its octets.
    cmd_.lit_arg = cmd_.nargs++;
    cmd_.lit_keep = keep(cmd_.lit_arg);
    cmd_.lit_sync = lit == Lit::kSync;
    cmd_.lit_damaged = cmd_.lit_cut = false;
    cmd_.lit_size = n;
    cmd_.lit.clear();
    if (n > 0) cli_.skip_raw(n);
    else literal_done();
  }

  void client_literal(const uint8_t* p, size_t n) {
    if (finished() || !cmd_.open) return;
    if (cmd_.lit_keep && !cmd_.lit_cut) {
      const size_t cap = cmd_.kind == Kind::kLogin ? kMaxUser : kMaxMailbox;
      cmd_.lit_cut = !append_capped(cmd_.lit, std::string_view(reinterpret_cast<const char*>(p), n), cap);
    }
    if (cli_.raw_left() == 0) literal_done();
  }

  void literal_done() {
    if (!cmd_.open || !cmd_.lit_keep) return;
    cmd_.lit_keep = false;
    if (cmd_.lit_damaged) return;  // a hole took part of it: not trusted
    take_arg(cmd_.lit_arg, cmd_.lit, cmd_.lit_cut);
  }

  // Which arguments are kept: LOGIN's user (never the password), AUTHENTICATE's mechanism and
  // initial response, SELECT/EXAMINE's mailbox.
  bool keep(size_t i) const {
    switch (cmd_.kind) {
      case Kind::kLogin:
      case Kind::kSelect: return i == 0;
      case Kind::kAuth: return i <= 1;
      default: return false;
    }
  }

  // RFC 9051 §4: atoms, quoted strings (with "\" escapes), parenthesized lists. Only the
  // arguments keep() wants are decoded.
  void arguments(std::string_view s) {
    size_t i = 0;
    while (true) {
      while (i < s.size() && s[i] == ' ') i++;
      if (i >= s.size()) return;
      const size_t idx = cmd_.nargs++;
      const bool want = keep(idx);
      if (s[i] == '"') {
        std::string v;
        bool closed = false, cut = false;
        size_t j = i + 1;
        while (j < s.size()) {
          char c = s[j];
          if (c == '"') {
            closed = true;
            j++;
            break;
          }
          if (c == '\\' && j + 1 < s.size()) c = s[++j];  // quoted-special escaped
          if (want && !cut) cut = !append_capped(v, std::string_view(&c, 1), kMaxMailbox);
          j++;
        }
        if (!closed) anomaly("imap_bad_quoted");
        i = j;
        if (want) take_arg(idx, v, cut);
      } else if (s[i] == '(') {
        // A list (flags, fetch items): skipped whole, quoted strings inside respected.
        int depth = 0;
        bool quoted = false;
        size_t j = i;
        for (; j < s.size(); j++) {
          const char c = s[j];
          if (quoted) {
            if (c == '\\') j++;
            else if (c == '"') quoted = false;
          } else if (c == '"') {
            quoted = true;
          } else if (c == '(') {
            depth++;
          } else if (c == ')' && --depth == 0) {
            j++;
            break;
          }
        }
        i = std::min(j, s.size());
      } else {
        size_t j = i;
        while (j < s.size() && s[j] != ' ') j++;
        if (want) take_arg(idx, s.substr(i, j - i), false);
        i = j;
      }
    }
  }

  void take_arg(size_t idx, std::string_view v, bool cut) {
    const int t = cmd_.txn;
    switch (cmd_.kind) {
      case Kind::kLogin:
        if (idx == 0 && t >= 0) {
          if (!append_capped(txns_[size_t(t)].user, v, kMaxUser) || cut) anomaly("imap_login_too_long");
        }
        break;
      case Kind::kSelect:
        if (idx == 0 && !mailbox_seen_) {
          mailbox_seen_ = true;
          if (!append_capped(mailbox_, v, kMaxMailbox) || cut) anomaly("imap_mailbox_too_long");
        }
        break;
      case Kind::kAuth:
        if (idx == 0) {
          sasl_mech_ = mechanism(v);
          std::string name;
          append_capped(name, v, kMaxMech);
          if (t >= 0) txns_[size_t(t)].method = "AUTHENTICATE " + upper_copy(name);
        } else if (idx == 1 && v != "=") {  // RFC 4959: "=" is an empty initial response
          if (cut || !b64_text(v)) anomaly("imap_bad_auth");  // (a cut response can't be decoded)
          else sasl_response(v);
        }
        break;
      default: break;
    }
  }

  static Mech mechanism(std::string_view m) {
    if (iequals(m, "PLAIN")) return Mech::kPlain;
    if (iequals(m, "LOGIN")) return Mech::kLogin;
    if (iequals(m, "CRAM-MD5")) return Mech::kCram;
    if (iequals(m, "XOAUTH2")) return Mech::kXoauth2;
    return Mech::kOther;
  }

  void finish_command() {
    cmd_.open = false;
    switch (cmd_.kind) {
      case Kind::kLogin:
        if (cmd_.nargs < 2) anomaly("imap_bad_login");  // RFC 9051 §6.2.3: userid SP password
        break;
      case Kind::kAuth:
        if (cmd_.nargs < 1) {
          anomaly("imap_bad_auth");
          break;
        }
        sasl_active_ = true;  // responses follow until the tagged completion
        break;
      case Kind::kStartTls: starttls_pending_ = true; break;
      case Kind::kIdle: idle_ = true; break;
      default: break;
    }
    // A completion seen before its command (delivered first after a client hole).
    for (size_t i = 0; cli_holes_ && i < early_.size(); i++) {
      if (early_[i].tag == cmd_.tag && commands_ - early_[i].at <= kEarlyAge) {
        const std::string status = early_[i].status;
        early_.erase(early_.begin() + long(i));
        complete(cmd_.tag, status);
        break;
      }
    }
  }

  // ---- SASL (RFC 9051 §6.2.2, RFC 4422) ----
  // A client line during AUTHENTICATE; false when it can't be a SASL response (the exchange
  // ended without our seeing its completion) and is to be read as a command.
  bool sasl_line(std::string_view s) {
    if (s == "*") {  // the client cancels; the server answers BAD
      sasl_active_ = false;
      return true;
    }
    if (!b64_text(s)) {
      sasl_active_ = false;
      return false;
    }
    sasl_response(s);
    return true;
  }

  void sasl_response(std::string_view b64) {
    const int n = ++sasl_responses_;
    if (sasl_txn_ < 0 || size_t(sasl_txn_) >= txns_.size()) return;
    Txn& t = txns_[size_t(sasl_txn_)];
    switch (sasl_mech_) {
      case Mech::kPlain:
        if (n == 1) plain(b64, t);
        break;
      case Mech::kLogin:
        if (n == 1) set_user(t, decode_until(b64, 0, 0));  // the second response is the password
        break;
      case Mech::kCram:
        if (n == 1) set_user(t, decode_until(b64, ' ', 0));  // "user SP digest"
        break;
      case Mech::kXoauth2:
        if (n == 1) {
          // "user=" user ^A "auth=Bearer " token ^A ^A: decoding stops at the first ^A.
          std::string kv = decode_until(b64, '\x01', 5);
          if (kv.size() >= 5 && kv.compare(0, 5, "user=") == 0) set_user(t, kv.substr(5));
          else anomaly("imap_bad_auth");
        }
        break;
      default: break;
    }
  }

  // RFC 4616: [authzid] NUL authcid NUL passwd. Decoding stops at the second NUL, so the
  // password's bytes are never produced.
  void plain(std::string_view b64, Txn& t) {
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
      anomaly("imap_bad_auth");
      return;
    }
    if (cut) anomaly("imap_login_too_long");
    set_user(t, authcid);
    if (!authzid.empty() && authzid != authcid) t.authzid = authzid;
  }

  // The decoded response up to `stop` (0: all of it), at most kMaxUser (+ extra) bytes.
  std::string decode_until(std::string_view b64, char stop, size_t extra) {
    std::string out;
    bool cut = false;
    const bool ok = b64_decode(b64, [&](uint8_t b) {
      if (stop && char(b) == stop) return false;
      if (out.size() < kMaxUser + extra) out.push_back(char(b));
      else cut = true;
      return true;
    });
    if (!ok) {
      anomaly("imap_bad_auth");
      return std::string();
    }
    if (cut) anomaly("imap_login_too_long");
    return out;
  }

  static void set_user(Txn& t, const std::string& u) {
    if (!u.empty()) t.user = u;
  }

  // ---- server side ----
  void server_line(const LineReader::Line& l) {
    if (finished()) return;
    if (l.truncated) anomaly("imap_line_too_long");
    const std::string_view s = l.text;
    if (srv_cont_) {
      // The rest of a response after its literal (it may announce another literal).
      srv_cont_ = false;
      server_literal(s, l.truncated);
      return;
    }
    const bool first = !greeting_done_;
    greeting_done_ = true;
    if (s.size() >= 2 && s[0] == '*' && s[1] == ' ') {
      srv_lost_ = false;
      bad_lines_ = 0;
      untagged(s.substr(2), first, l.truncated);
      return;
    }
    if (s == "+" || (s.size() >= 2 && s[0] == '+' && s[1] == ' ')) {
      srv_lost_ = false;  // a continuation request: the client goes on
      bad_lines_ = 0;
      return;
    }
    std::string_view tag, status, text;
    if (split_tagged(s, tag, status, text)) {
      srv_lost_ = false;
      bad_lines_ = 0;
      if (!tls_) capabilities_code(text);
      complete(tag, upper_copy(status));
      return;
    }
    if (srv_lost_ || s.empty()) return;  // after a hole: skipped until a response starts
    bad_line("imap_bad_response");
  }

  void untagged(std::string_view r, bool first, bool truncated) {
    size_t i = 0;
    while (i < r.size() && r[i] != ' ') i++;
    const std::string_view word = r.substr(0, i);
    const std::string_view text = i < r.size() ? r.substr(i + 1) : std::string_view();
    const bool status = iequals(word, "OK") || iequals(word, "NO") || iequals(word, "BAD") ||
                        iequals(word, "BYE") || iequals(word, "PREAUTH");
    if (status) {
      // resp-text: no literal in it (RFC 9051 §9 resp-cond-*).
      if (first && !iequals(word, "NO") && !iequals(word, "BAD")) {
        greeting(text);
        if (iequals(word, "PREAUTH")) authenticated_ = true;  // RFC 9051 §7.1.4
      } else {
        capabilities_code(text);
      }
      return;
    }
    if (iequals(word, "CAPABILITY") && caps_.empty() && !caps_cut_) {
      if (!append_capped(caps_, trim(text), kMaxText)) caps_cut_ = true;
    }
    server_literal(r, truncated);  // data responses (FETCH, LIST ...) may carry literals
  }

  void server_literal(std::string_view s, bool truncated) {
    uint64_t n = 0;
    std::string_view before;
    const Lit lit = truncated ? Lit::kNone : literal_suffix(s, n, before);
    if (lit == Lit::kBad) anomaly("imap_bad_literal");
    if (lit != Lit::kSync && lit != Lit::kNonSync) return;
    srv_cont_ = true;  // the response goes on after the literal's octets
    if (n > 0) srv_.skip_raw(n);
  }

  // The greeting's text; a leading [CAPABILITY ...] code goes to the capability list.
  void greeting(std::string_view text) {
    text = trim(text);
    if (istarts(text, "[CAPABILITY ")) {
      const size_t close = text.find(']');
      if (close != std::string_view::npos) {
        capabilities_code(text);
        text = trim(text.substr(close + 1));
      }
    }
    if (!append_capped(greeting_, text, kMaxText)) anomaly("imap_greeting_too_long");
  }

  // resp-text-code "[CAPABILITY ...]" in a status response (RFC 9051 §7.1).
  void capabilities_code(std::string_view text) {
    if (!caps_.empty() || caps_cut_ || !istarts(text, "[CAPABILITY ")) return;
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return;
    if (!append_capped(caps_, trim(text.substr(12, close - 12)), kMaxText)) caps_cut_ = true;
  }

  // A tagged completion: the command with this tag is done.
  void complete(std::string_view tag, const std::string& status) {
    // A synchronizing literal the server refused (RFC 9051 §4.3: NO/BAD instead of "+"): the
    // client will not send its octets, the next line is a new command.
    if (cmd_.open && cmd_.lit_sync && cmd_.tag == tag && cmd_.lit_size > 0 && cli_.raw_left() == cmd_.lit_size) {
      cli_.skip_raw(0);
      cmd_.open = false;
    }
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->tag != tag) continue;
      const Pending p = *it;
      pending_.erase(it);
      apply(p, status);
      return;
    }
    // No command with this tag (yet): it may arrive next, when a client hole is settled by this
    // very segment's ACK (the reassembler hands on this segment's bytes first, then the hole,
    // then the client bytes it held). Used only once a client hole was seen (finish_command):
    // otherwise the command was never captured, and matching would only mislead for clients
    // that reuse tags.
    if (early_.size() >= kMaxEarly) early_.erase(early_.begin());
    early_.push_back(Early{std::string(tag.substr(0, kMaxTag)), status, commands_});
  }

  void apply(const Pending& p, const std::string& status) {
    const bool ok = status == "OK";
    switch (p.kind) {
      case Kind::kLogin:
      case Kind::kAuth:
        if (p.txn >= 0 && size_t(p.txn) < txns_.size()) txns_[size_t(p.txn)].status = status;
        if (p.kind == Kind::kAuth && p.txn == sasl_txn_) sasl_active_ = false;
        if (ok) authenticated_ = true;
        break;
      case Kind::kStartTls:
        starttls_pending_ = false;
        if (ok) start_tls();
        break;
      case Kind::kIdle:
        idle_ = false;
        break;
      case Kind::kCompress:
        if (ok) compressed_ = true;  // RFC 4978: the rest of both streams is deflated
        break;
      default: break;
    }
  }

  void start_tls() {
    tls_ = true;
    starttls_pending_ = false;
  }

  // ---- helpers ----
  int new_txn(const char* method) {
    if (txns_.size() >= dissect_limits::kMaxTransactions) {
      anomaly("imap_transactions_cap");
      return -1;
    }
    txns_.push_back(Txn{});
    txns_.back().method = method;
    return int(txns_.size() - 1);
  }

  void push(const std::string& tag, Kind kind, int txn) {
    if (pending_.size() >= kMaxPending) {
      // The server never answers (one direction captured) or we are out of step.
      anomaly("imap_pending_cap");
      pending_.pop_front();
    }
    pending_.push_back(Pending{tag, kind, txn});
  }

  void bad_line(const char* name) {
    anomaly(name);
    if (++bad_lines_ >= kMaxBadLines) {
      anomaly("imap_too_many_bad_lines");
      gave_up_ = true;  // not (or no longer) IMAP: stop reading the flow
    }
  }

  LineReader cli_, srv_;
  int client_dir_ = -1;
  Command cmd_;
  uint32_t commands_ = 0;
  std::deque<Pending> pending_;
  std::vector<Early> early_;
  std::vector<Txn> txns_;
  std::string greeting_, caps_, mailbox_;
  bool caps_cut_ = false, mailbox_seen_ = false, greeting_done_ = false;
  bool sasl_active_ = false;
  Mech sasl_mech_ = Mech::kNone;
  int sasl_responses_ = 0;
  int sasl_txn_ = -1;
  bool idle_ = false, starttls_pending_ = false;
  bool tls_ = false, compressed_ = false, gave_up_ = false, authenticated_ = false;
  bool cli_resync_ = false, srv_resync_ = false;  // a hole: decide at the next chunk
  bool cli_lost_ = false, srv_lost_ = false;      // a hole: skip lines until one parses
  bool cli_holes_ = false;                        // the client stream had a hole
  bool srv_cont_ = false;                         // the next server line continues a response
  uint32_t bad_lines_ = 0;
};

// ---- detection on the first bytes of both directions ----
enum class Side : uint8_t { kEmpty, kMore, kNo, kGreeting, kResponse, kCommand };

// The first line of p (CR/LF stripped); false when no LF is within the probe's reach.
bool probe_line(const uint8_t* p, uint32_t n, std::string_view& line) {
  // memchr, not a byte loop: a greeting line is 100 bytes or more, and every IMAP flow's
  // first bytes are read here.
  const void* lf = std::memchr(p, '\n', std::min<size_t>(n, kMaxProbeLine));
  if (!lf) return false;
  line = std::string_view(reinterpret_cast<const char*>(p), size_t(static_cast<const uint8_t*>(lf) - p));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return true;
}

// Text as a line holds it: no control characters but tab (UTF-8 above 0x7F allowed).
bool text_ok(std::string_view s) {
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7F) return false;
  }
  return true;
}

// An unfinished first line: could it still become an IMAP line?
Side partial(const uint8_t* p, uint32_t n, bool server) {
  if (n >= kMaxProbeLine) return Side::kNo;
  const std::string_view s(reinterpret_cast<const char*>(p), n);
  if (!text_ok(s) && !(s.back() == '\r' && text_ok(s.substr(0, s.size() - 1)))) return Side::kNo;
  const char c = s[0];
  if (server && (c == '*' || c == '+')) return s.size() < 2 || s[1] == ' ' ? Side::kMore : Side::kNo;
  size_t i = 0;
  while (i < s.size() && tag_char(s[i])) i++;
  if (i == 0 || i > kMaxTag) return Side::kNo;
  return Side::kMore;
}

// The server's first line: the greeting ("* OK", "* PREAUTH", "* BYE"), or for a session
// picked up later any response (untagged, continuation, tagged status).
Side server_side(const uint8_t* p, uint32_t n) {
  if (n == 0) return Side::kEmpty;
  std::string_view line;
  if (!probe_line(p, n, line)) return partial(p, n, true);
  if (!text_ok(line)) return Side::kNo;
  if (line.size() >= 2 && line[0] == '*' && line[1] == ' ') {
    const std::string_view r = line.substr(2);
    for (std::string_view g : {"OK", "PREAUTH", "BYE"})
      if (istarts(r, g) && (r.size() == g.size() || r[g.size()] == ' ')) return Side::kGreeting;
    size_t i = 0;
    while (i < r.size() && atom_char(r[i])) i++;
    return i > 0 ? Side::kResponse : Side::kNo;
  }
  if (line == "+" || (line.size() >= 2 && line[0] == '+' && line[1] == ' ')) return Side::kResponse;
  std::string_view tag, status, text;
  return split_tagged(line, tag, status, text) ? Side::kResponse : Side::kNo;
}

// Arguments of a first command line, counted roughly (atoms, quoted strings, lists; a literal
// announced at the end counts as one more). Only for detection.
size_t count_args(std::string_view s) {
  size_t n = 0, i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') i++;
    if (i >= s.size()) break;
    n++;
    if (s[i] == '"') {
      for (i++; i < s.size() && s[i] != '"'; i++)
        if (s[i] == '\\') i++;
      i++;
    } else {
      while (i < s.size() && s[i] != ' ') i++;
    }
  }
  return n;
}

// Does the first command carry the arguments its syntax needs (RFC 9051 §6)? A line such as
// FTP's "NLST list" or SMTP's "HELO login" has an IMAP command name as its second word but not
// its arguments.
bool args_fit(std::string_view verb, std::string_view rest) {
  static constexpr std::string_view kNone[] = {"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "CHECK",
                                               "CLOSE", "UNSELECT", "EXPUNGE", "NAMESPACE", "IDLE"};
  static constexpr std::string_view kTwo[] = {"LOGIN", "LIST", "LSUB", "RENAME", "STATUS", "COPY", "MOVE", "STORE", "FETCH"};
  uint64_t lit = 0;
  std::string_view before;
  const Lit l = literal_suffix(rest, lit, before);
  const bool literal = l == Lit::kSync || l == Lit::kNonSync;
  const size_t n = count_args(rest);
  for (std::string_view v : kNone)
    if (iequals(verb, v)) return n == 0;
  for (std::string_view v : kTwo)
    if (iequals(verb, v)) return n >= 2 || literal;  // the rest may follow a literal
  if (iequals(verb, "AUTHENTICATE")) return n == 1 || n == 2;
  return n >= 1;
}

// The client's first line: "tag SP command" with a command IMAP has, and its arguments.
Side client_side(const uint8_t* p, uint32_t n) {
  if (n == 0) return Side::kEmpty;
  std::string_view line;
  if (!probe_line(p, n, line)) return partial(p, n, false);
  std::string_view tag, verb, rest;
  if (!text_ok(line) || !split_command(line, tag, verb, rest) || !known_verb(verb) || !args_fit(verb, rest)) return Side::kNo;
  return Side::kCommand;
}

bool hint(uint16_t c, uint16_t s) {
  // 143 (RFC 9051). 993 is implicit TLS (RFC 8314): nothing to read in clear, so no hint.
  return s == 143 || c == 143;
}

int verdict(Side srv, Side cli, bool hinted) {
  if (srv == Side::kNo || cli == Side::kNo) return -1;
  if (srv == Side::kGreeting) return 1;
  if (srv == Side::kResponse && cli == Side::kCommand) return 1;
  // A command alone (greeting not captured): the port decides; elsewhere wait for the server.
  if (srv == Side::kEmpty && cli == Side::kCommand && hinted) return 1;
  return 0;
}

int probe_stream(const uint8_t* c2s, uint32_t cn, const uint8_t* s2c, uint32_t sn, uint16_t cport, uint16_t sport) {
  const bool hinted = hint(cport, sport);
  const int v = verdict(server_side(s2c, sn), client_side(c2s, cn), hinted);
  if (v >= 0) return v;
  // Picked up mid-stream with the server as the flow's "client": the roles read reversed.
  const int w = verdict(server_side(c2s, cn), client_side(s2c, sn), hinted);
  return w > 0 ? 1 : v < 0 && w < 0 ? -1 : 0;
}

bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }  // TCP only
std::unique_ptr<Dissector> create() { return std::make_unique<ImapDissector>(); }

}  // namespace

extern const DissectorInfo kImapInfo{"IMAP", l7::kImap, 6, hint, probe, create, probe_stream};

}  // namespace nprobe
