// POP3 dissector: RFC 1939 sessions on reassembled TCP streams, with CAPA and pipelining
// (RFC 2449), STLS (RFC 2595 §4), AUTH (RFC 5034) carrying SASL PLAIN (RFC 4616), LOGIN
// (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195) and XOAUTH2 (Google's SASL profile), and
// APOP (RFC 1939 §7). nProbe's POP_USER plus this probe's own fields.
//
// Transactions: one per authentication attempt, with its result. An attempt opens at USER,
// APOP or AUTH <mechanism> and closes at the reply that decides it: -ERR to USER, the reply to
// PASS (USER/PASS is one attempt), to APOP, or the final reply of the SASL exchange; a new
// attempt, STLS or the end of the flow closes one still open (result unknown). A bare "AUTH"
// (a mechanism list, RFC 1734 practice) is no attempt. POP_TRANSACTIONS lists the attempts, at
// most dissect_limits::kMaxTransactions = 64 (further ones counted as pop_transactions_cap);
// the flat POP_USER / POP_AUTH_MECH / POP_AUTH_STATUS describe the first one.
//
// Field semantics:
// - POP_USER: the USER argument, the APOP name, or the SASL identity: PLAIN's authcid, LOGIN's
//   first response, CRAM-MD5's name, XOAUTH2's user=. The base64 is decoded only up to the end
//   of the name (PLAIN's second NUL, XOAUTH2's ^A): the password is never decoded nor kept, and
//   PASS's argument and LOGIN's second response are not read at all.
// - POP_AUTH_MECH: "USER" (USER/PASS), "APOP", or the SASL mechanism name, upper case.
// - POP_AUTH_STATUS: "+OK" or "-ERR" as the server answered the attempt; absent when no
//   answer was seen.
// - POP_GREETING: the text of the server's greeting (after "+OK ").
// - POP_STLS: 1 when STLS was answered +OK (or TLS bytes followed it): the rest of the flow is
//   TLS and not read (finished()). L7_PROTO stays 2 (POP3, upgraded in place).
// - POP_NUM_RETR / POP_NUM_TOP / POP_NUM_DELE: RETR, TOP and DELE commands the client sent.
//
// Multi-line responses (RFC 1939 §3: ended by a "." line, lines dot-stuffed) are never read as
// replies: whether a +OK starts one depends on its command (RETR, TOP, CAPA, LIST and UIDL
// without argument, and the bare AUTH). Commands waiting for their reply are queued (RFC 2449
// §6.6 PIPELINING); each +OK/-ERR answers the oldest, "+ " continues a SASL exchange.
// Holes in the capture (on_gap): the direction's line reader restarts at the next chunk when
// it starts like a line (a reply or "." from the server, a command from the client), else at
// the next line. The engine reports a server hole when the client acknowledges past it and
// hands on the data it held behind it right after: of the commands waiting since before the
// hole, a reply there answers the newest (a client waits for each reply), the older ones had
// theirs in the hole. A server line that is no reply outside a multi-line response after a
// hole is read as the body of the multi-line command waiting (its +OK was lost), else skipped
// to the next "." line. After a hole inside a body, a +OK/-ERR line while commands wait ends
// the body (its "." was lost). Replies to commands lost in a client hole come unmatched and
// are read as such. A session picked up mid-stream with the roles reversed (the server's
// packet first) is read the right way round; its first reply reads as the greeting.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "../util/byte_reader.h"
#include "../util/json_writer.h"
#include "dissector.h"
#include "line_reader.h"

namespace nprobe {
namespace {

// ---- caps ----
constexpr size_t kMaxLine = LineReader::kDefaultMaxLine;  // per direction; RFC 2449 §4 allows 255
                                                          // (commands) / 512 (replies), SASL more
constexpr size_t kMaxProbeLine = 512;    // RFC 2449 §4: a reply line is at most 512 octets with CRLF
constexpr size_t kMaxUser = 256;         // user name kept
constexpr size_t kMaxGreeting = 512;     // greeting text kept (RFC 2449 §4 line limit)
constexpr size_t kMaxMech = 20;          // RFC 4422 §3.1: a SASL mechanism name is 1..20 characters
constexpr size_t kMaxVerb = 16;          // longest command keyword accepted (RFC 1939: 3 or 4)
constexpr size_t kMaxPending = 64;       // pipelined commands waiting for their reply
constexpr uint32_t kMaxBadLines = 16;    // consecutive client lines that are no command: give up
constexpr uint32_t kMaxSaslSteps = 16;   // client responses in one SASL exchange
constexpr size_t kMaxSaslDecode = 2 * kMaxUser + 2;  // decoded bytes examined for the identity

// ---- text helpers (string_views over LineReader lines; never read out of range) ----
bool is_ws(char c) { return c == ' ' || c == '\t'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char upper(char c) { return c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

bool same_ci(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (upper(a[i]) != upper(b[i])) return false;
  return true;
}

bool starts_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && same_ci(s.substr(0, prefix.size()), prefix);
}

bool contains_ci(std::string_view s, std::string_view w) {
  for (size_t i = 0; i + w.size() <= s.size(); i++)
    if (same_ci(s.substr(i, w.size()), w)) return true;
  return false;
}

std::string upper_str(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = upper(c);
  return o;
}

// Text as a reply or argument carries no control characters but HT (8-bit text is allowed:
// greetings in local charsets exist).
bool text_ok(std::string_view s) {
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

// "KEYWORD args": the keyword up to the first blank, the arguments without surrounding blanks.
void split_verb(std::string_view line, std::string_view& verb, std::string_view& args) {
  size_t i = 0;
  while (i < line.size() && !is_ws(line[i])) i++;
  verb = line.substr(0, i);
  args = trim(line.substr(i));
}

// A command keyword: letters, then letters or digits (UTF8, RFC 6856), at most kMaxVerb.
bool verb_ok(std::string_view v) {
  if (v.empty() || v.size() > kMaxVerb || !is_alpha(v[0])) return false;
  for (char c : v)
    if (!is_alpha(c) && !is_digit(c)) return false;
  return true;
}

// The commands of RFC 1939, 2449, 2595, 5034, 6856 and RFC 1460's LAST.
bool known_verb(std::string_view v) {
  static constexpr std::string_view kVerbs[] = {"USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "STAT", "LIST", "RETR",
                                                "DELE", "NOOP", "RSET", "QUIT", "TOP",  "UIDL", "LAST", "UTF8", "LANG"};
  for (std::string_view k : kVerbs)
    if (same_ci(v, k)) return true;
  return false;
}

// ---- replies (RFC 1939 §3) ----
enum class Status : uint8_t { kNone, kOk, kErr, kCont };

// "+OK [text]", "-ERR [text]" (indicators matched without regard to case: some servers send
// "+ok"), or a SASL continuation "+ [challenge]" / "+" (RFC 5034 §4).
Status parse_status(std::string_view line, std::string_view& text) {
  text = {};
  if (starts_ci(line, "+OK") && (line.size() == 3 || is_ws(line[3]))) {
    text = trim(line.substr(3));
    return Status::kOk;
  }
  if (starts_ci(line, "-ERR") && (line.size() == 4 || is_ws(line[4]))) {
    text = trim(line.substr(4));
    return Status::kErr;
  }
  if (!line.empty() && line[0] == '+' && (line.size() == 1 || line[1] == ' ')) {
    text = trim(line.substr(1));
    return Status::kCont;
  }
  return Status::kNone;
}

bool is_reply(Status s) { return s == Status::kOk || s == Status::kErr; }

// ---- base64 (RFC 4648 §4) ----
int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Alphabet and padding checked without decoding anything. Unpadded text is accepted (some
// clients omit the "="), a length that leaves 6 stray bits is not.
bool b64_valid(std::string_view s) {
  size_t data = 0, pad = 0;
  for (char c : s) {
    if (c == '=') {
      pad++;
    } else {
      if (pad || b64_value(c) < 0) return false;  // data after padding, or not base64
      data++;
    }
  }
  if (pad > 2 || data % 4 == 1) return false;
  return pad == 0 || (data + pad) % 4 == 0;
}

// Decodes s (already b64_valid) a byte at a time into sink(uint8_t) -> bool; decoding stops
// as soon as sink answers false, so the bytes after what is wanted are never produced.
template <class Sink>
void b64_each(std::string_view s, Sink&& sink) {
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const int v = b64_value(c);
    if (v < 0) return;  // "=": the end
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (!sink(uint8_t(acc >> bits))) return;
      acc &= (1u << bits) - 1;
    }
  }
}

// How a mechanism's first client response carries the user name.
enum class UserIn : uint8_t { kNone, kPlain, kWhole, kBeforeSpace, kXoauth2 };

UserIn user_in(std::string_view mech) {
  if (mech == "PLAIN") return UserIn::kPlain;            // RFC 4616 §2: authzid NUL authcid NUL passwd
  if (mech == "LOGIN") return UserIn::kWhole;            // the first response is the user name
  if (mech == "CRAM-MD5") return UserIn::kBeforeSpace;   // RFC 2195 §2: name SP digest
  if (mech == "XOAUTH2") return UserIn::kXoauth2;        // "user=" name ^A "auth=Bearer " token ^A^A
  return UserIn::kNone;
}

enum class UserResult : uint8_t { kNone, kOk, kBad, kLong };

// The user name in a base64 client response, decoding no further than the name.
UserResult sasl_user(UserIn how, std::string_view b64, std::string& user) {
  user.clear();
  std::string buf;
  bool cut = false;
  switch (how) {
    case UserIn::kNone:
      return UserResult::kNone;
    case UserIn::kPlain: {
      int nuls = 0;
      size_t seen = 0;
      b64_each(b64, [&](uint8_t b) {
        if (++seen > kMaxSaslDecode) return false;
        if (b == 0) return ++nuls < 2;  // the second NUL ends the authcid: stop before the password
        if (nuls == 1) {
          if (buf.size() < kMaxUser) buf.push_back(char(b));
          else cut = true;
        }
        return true;
      });
      // Only an authcid closed by its NUL is one (else those bytes could be the password).
      if (nuls < 2) return cut ? UserResult::kLong : UserResult::kBad;
      break;
    }
    case UserIn::kWhole:
    case UserIn::kBeforeSpace:
      b64_each(b64, [&](uint8_t b) {
        if (buf.size() >= kMaxSaslDecode) {
          cut = true;
          return false;
        }
        buf.push_back(char(b));
        return true;
      });
      if (how == UserIn::kBeforeSpace) {
        const size_t sp = buf.rfind(' ');
        if (sp == std::string::npos) return UserResult::kBad;
        buf.resize(sp);
      }
      if (buf.size() > kMaxUser) {
        buf.resize(kMaxUser);
        cut = true;
      }
      break;
    case UserIn::kXoauth2: {
      bool ended = false;
      b64_each(b64, [&](uint8_t b) {
        if (b == 1) {
          ended = true;
          return false;  // ^A ends "user=...": the bearer token is never decoded
        }
        if (buf.size() >= kMaxUser + 5) {
          cut = true;
          return false;
        }
        buf.push_back(char(b));
        return true;
      });
      if (!starts_ci(buf, "user=")) return cut ? UserResult::kLong : UserResult::kBad;
      if (!ended && !cut) return UserResult::kBad;
      buf.erase(0, 5);
      break;
    }
  }
  user = std::move(buf);
  return cut ? UserResult::kLong : UserResult::kOk;
}

// ---- commands ----
enum class Cmd : uint8_t { kUser, kPass, kApop, kAuth, kAuthList, kStls, kCapa, kList, kUidl, kRetr, kTop, kDele, kQuit, kLang, kSingle, kOther };

bool tls_record(std::string_view s) {
  // A TLS handshake record header (RFC 8446 §5.1: type 22, version 3.x).
  return s.size() >= 3 && s[0] == 0x16 && s[1] == 0x03;
}

class PopDissector final : public Dissector {
 public:
  PopDissector() : rd_{LineReader(kMaxLine), LineReader(kMaxLine)} {}

  void on_payload(const PayloadCtx& c) override {
    if (finished() || c.len == 0 || c.dir < 0 || c.dir > 1) return;
    const int dir = c.dir;
    const bool server = is_server(dir);
    if (hole_ != Hole::kNone) settle_hole(server, c.ts_us);
    if (resync_[dir]) {
      // After a hole: segments usually start at a line, so a chunk that starts like one is
      // read from its first byte; anything else waits for the next line.
      resync_[dir] = false;
      if (line_start(server, c.data, c.len)) rd_[dir].restart();
      else phantom_[dir] = true;
    }
    chunk_++;
    rd_[dir].feed(
        c.data, c.len,
        [&](const LineReader::Line& l) {
          if (finished()) return;
          if (phantom_[dir]) {
            phantom_[dir] = false;  // what was left of the line the hole cut (handed out empty)
            return;
          }
          if (server_dir_ < 0) decide_roles(dir, l.text);
          if (dir == server_dir_) server_line(l);
          else client_line(l);
        },
        [](const uint8_t*, size_t) {});
  }

  void on_gap(int dir, uint64_t) override {
    if (finished() || dir < 0 || dir > 1) return;
    end_hole();
    anomaly("pop_stream_gap");
    rd_[dir].reset();  // the partial line before the hole is lost; resync at the next line
    resync_[dir] = true;
    after_gap_ = true;
    if (!is_server(dir)) return;  // lost commands: their replies come unmatched (read as such)
    hole_ = Hole::kWait;
    hole_chunk_ = chunk_;
    hole_in_body_ = in_body_;
    if (in_body_) body_after_gap_ = true;  // the "." may be in the hole
  }

  bool finished() const override { return tls_ || gave_up_; }
  uint16_t l7_proto() const override { return l7::kPop3; }

  void on_export(FieldWriter& w) override {
    if (!finished()) end_hole();
    if (!finished()) {
      // A command or reply line cut by the end of the capture (a body may end anywhere).
      for (int d = 0; d < 2; d++)
        if (rd_[d].pending() > 0 && !(d == server_dir_ && in_body_)) anomaly("pop_truncated_line");
    }
    if (!auths_.empty()) {
      const Auth& a = auths_[0];
      w.str_if("POP_USER", a.user);
      w.str("POP_AUTH_MECH", a.mech);
      w.str_if("POP_AUTH_STATUS", status_text(a.status));
    }
    w.str_if("POP_GREETING", greeting_);
    w.num("POP_STLS", tls_ ? 1 : 0);
    w.num_if("POP_NUM_RETR", num_retr_);
    w.num_if("POP_NUM_TOP", num_top_);
    w.num_if("POP_NUM_DELE", num_dele_);
    if (!auths_.empty()) {
      JsonWriter j;
      j.begin_array();
      for (const Auth& a : auths_) {
        j.begin_object();
        if (!a.user.empty()) j.kv("POP_USER", a.user);
        j.kv("POP_AUTH_MECH", a.mech);
        if (a.status != Status::kNone) j.kv("POP_AUTH_STATUS", status_text(a.status));
        j.end_object();
      }
      j.end_array();
      w.json("POP_TRANSACTIONS", j.str());
    }
  }

 private:
  struct Pending {
    Cmd cmd;
    bool multi;      // a +OK to it starts a multi-line response
    uint64_t chunk;  // on_payload call that delivered it
  };
  struct Auth {
    std::string user;
    std::string mech;
    Status status = Status::kNone;
  };

  static std::string_view status_text(Status s) {
    return s == Status::kOk ? "+OK" : s == Status::kErr ? "-ERR" : "";
  }

  bool is_server(int dir) const { return server_dir_ >= 0 ? dir == server_dir_ : dir == 1; }

  // ---- holes ----
  // The engine reports a server hole when the client acknowledges past it, and hands on the
  // data it held behind it right after (before the client's own data of that packet). Of the
  // commands waiting since before the hole, a reply in the held data answers the newest (a
  // client waits for each reply): the older ones had theirs in the hole, and so had those
  // still unanswered when the held data ends (not when the hole was inside a body: its end and
  // the replies after it are found by body_after_gap_).
  void settle_hole(bool server, uint64_t ts) {
    if (hole_ == Hole::kWait && server && chunk_ == hole_chunk_) {
      hole_ = Hole::kDrain;  // the held data
      drain_ts_ = ts;
      older_ = hole_in_body_ ? 0 : pending_.size();
      return;
    }
    if (hole_ == Hole::kDrain && server && ts == drain_ts_) return;  // more of it
    end_hole();
  }

  void end_hole() {
    if (hole_ == Hole::kNone) return;
    if (hole_ == Hole::kWait) older_ = hole_in_body_ ? 0 : pending_.size();  // nothing held
    drop_older(older_);
    hole_ = Hole::kNone;
  }

  // The first n commands waiting had their replies in a hole.
  void drop_older(size_t n) {
    for (size_t i = 0; i < n && !pending_.empty(); i++) {
      answered(pending_.front(), Status::kNone);
      pending_.pop_front();
    }
    older_ = 0;
  }

  // Whether a chunk after a hole starts at a line: a reply or a "." line from the server, a
  // command keyword and a blank or line end from the client.
  static bool line_start(bool server, const uint8_t* p, uint32_t n) {
    ByteReader r(p, n);
    std::string head;
    while (r.has(1) && head.size() <= kMaxVerb) {
      const char c = char(r.u8());
      if (c == '\r' || c == '\n') break;
      head.push_back(c);
      if (server && head.size() >= 4) break;
      if (!server && is_ws(c)) break;
    }
    if (server) {
      const std::string_view h(head);
      return h == "." || starts_ci(h, "+OK") || starts_ci(h, "-ERR") || h == "+" || starts_ci(h, "+ ");
    }
    std::string_view verb, args;
    split_verb(head, verb, args);
    return verb_ok(verb) && known_verb(verb);
  }

  // The first line tells who is who: replies come from the server. (Normally the flow's
  // client is the POP client; a capture that starts with the server's packet reverses them.)
  void decide_roles(int dir, std::string_view line) {
    std::string_view text, verb, args;
    if (parse_status(line, text) != Status::kNone) {
      server_dir_ = dir;
      return;
    }
    split_verb(line, verb, args);
    server_dir_ = verb_ok(verb) ? 1 - dir : 1;
  }

  // ---- client side ----
  void client_line(const LineReader::Line& l) {
    std::string_view line = l.text;
    if (stls_sent_ && tls_record(line)) {
      tls_ = true;  // TLS bytes after STLS: its +OK was lost or not yet seen
      close_attempt();
      return;
    }
    if (sasl_) {
      if (sasl_response(l)) return;
    }
    if (l.truncated) anomaly("pop_line_too_long");
    if (trim(line).empty()) return;  // a stray empty line: not a command, no reply follows
    std::string_view verb, args;
    split_verb(line, verb, args);
    if (!verb_ok(verb) || !text_ok(args)) {
      bad_line();
      return;
    }
    bad_lines_ = 0;
    any_command_ = true;
    const std::string v = upper_str(verb);
    if (v == "USER") {
      start_attempt("USER");
      set_user(args);
      awaiting_pass_ = true;
      push(Cmd::kUser, false);
    } else if (v == "PASS") {
      // The argument is the password: never read. A PASS without its USER seen is an
      // attempt of its own, user unknown.
      if (!awaiting_pass_ || open_ < 0) start_attempt("USER");
      awaiting_pass_ = false;
      push(Cmd::kPass, false);
    } else if (v == "APOP") {
      // RFC 1939 §7: APOP name digest (the digest is a keyed hash, not the password).
      std::string_view name, digest;
      split_verb(args, name, digest);
      start_attempt("APOP");
      set_user(name);
      push(Cmd::kApop, false);
    } else if (v == "AUTH") {
      auth_command(args);
    } else if (v == "STLS") {
      stls_sent_ = true;
      push(Cmd::kStls, false);
    } else if (v == "CAPA") {
      push(Cmd::kCapa, true);
    } else if (v == "LIST" || v == "UIDL") {
      // RFC 1939 §5: with a message number one line, without it the whole listing.
      push(v == "LIST" ? Cmd::kList : Cmd::kUidl, args.empty());
    } else if (v == "RETR") {
      num_retr_++;
      push(Cmd::kRetr, true);
    } else if (v == "TOP") {
      num_top_++;
      push(Cmd::kTop, true);
    } else if (v == "DELE") {
      num_dele_++;
      push(Cmd::kDele, false);
    } else if (v == "QUIT") {
      push(Cmd::kQuit, false);
    } else if (v == "LANG") {
      push(Cmd::kLang, args.empty());  // RFC 6856 §3: without an argument, the list of languages
    } else if (known_verb(v)) {
      push(Cmd::kSingle, false);  // STAT, NOOP, RSET, LAST, UTF8: one reply line
    } else {
      // An extension we don't know: one line or a listing, its lines will tell (server_line).
      push(Cmd::kOther, false);
    }
  }

  // RFC 5034 §4: AUTH mechanism [initial-response]; a bare AUTH lists the mechanisms.
  void auth_command(std::string_view args) {
    std::string_view mech, ir;
    split_verb(args, mech, ir);
    if (mech.empty()) {
      push(Cmd::kAuthList, true);
      return;
    }
    std::string m = upper_str(mech.substr(0, kMaxMech));
    if (mech.size() > kMaxMech) anomaly("pop_sasl_mech_too_long");
    start_attempt(m);
    sasl_ = true;
    sasl_steps_ = 0;
    sasl_how_ = user_in(m);
    push(Cmd::kAuth, false);
    if (!ir.empty()) sasl_data(ir == "=" ? std::string_view() : ir);  // "=": an empty initial response
  }

  // A client line during a SASL exchange; false when it is a command after all (the end of
  // the exchange was lost).
  bool sasl_response(const LineReader::Line& l) {
    const std::string_view s = trim(l.text);
    if (s == "*") {
      sasl_how_ = UserIn::kNone;  // RFC 5034 §4: the client cancels; the server says -ERR
      return true;
    }
    const bool b64 = b64_valid(s);
    if (!b64 || ++sasl_steps_ > kMaxSaslSteps) {
      std::string_view verb, args;
      split_verb(s, verb, args);
      if (verb_ok(verb) && (!b64 || sasl_steps_ > kMaxSaslSteps)) {
        // "RETR 1" is no base64 (nor an exchange this long): the exchange ended without its
        // reply seen, this is a command.
        end_sasl();
        drop_pending(Cmd::kAuth);
        close_attempt();
        return false;
      }
      anomaly(b64 ? "pop_sasl_too_many_steps" : "pop_bad_base64");
      if (++bad_lines_ >= kMaxBadLines) {
        anomaly("pop_too_many_bad_lines");
        gave_up_ = true;
      }
      return true;
    }
    bad_lines_ = 0;
    if (l.truncated) anomaly("pop_line_too_long");
    sasl_data(s);
    return true;
  }

  // A client response (initial or after "+ "): only the first carries the user name.
  void sasl_data(std::string_view b64) {
    const UserIn how = sasl_how_;
    sasl_how_ = UserIn::kNone;
    if (b64.empty()) return;  // an empty response carries no name
    if (!b64_valid(b64)) {
      anomaly("pop_bad_base64");
      return;
    }
    std::string user;
    switch (sasl_user(how, b64, user)) {
      case UserResult::kNone:
        return;
      case UserResult::kBad:
        anomaly("pop_bad_sasl_response");
        return;
      case UserResult::kLong:
        anomaly("pop_user_too_long");
        break;
      case UserResult::kOk:
        break;
    }
    if (open_ >= 0) auths_[size_t(open_)].user = std::move(user);
  }

  void end_sasl() {
    sasl_ = false;
    sasl_how_ = UserIn::kNone;
  }

  // ---- server side ----
  void server_line(const LineReader::Line& l) {
    std::string_view text;
    if (in_body_) {
      if (l.text == ".") {
        end_body();
        return;
      }
      // After a hole inside the body its "." may be lost: a reply while commands wait ends it.
      if (!(body_after_gap_ && !pending_.empty() && !l.truncated && is_reply(parse_status(l.text, text)))) return;
      end_body();
    }
    const Status st = parse_status(l.text, text);
    if (l.truncated) anomaly("pop_line_too_long");
    const bool first = !server_spoke_;
    server_spoke_ = true;
    if (st == Status::kNone) {
      stray_line();
      return;
    }
    if (st == Status::kCont) {
      // A SASL challenge: the exchange goes on (only AUTH gets one).
      if (!sasl_) anomaly("pop_unexpected_continuation");
      return;
    }
    maybe_body_ = false;
    if (first && pending_.empty() && !any_command_) {
      greeting_.assign(text.substr(0, kMaxGreeting));  // RFC 1939 §4: the greeting answers nothing
      if (text.size() > kMaxGreeting) anomaly("pop_greeting_too_long");
      return;
    }
    if (older_ > 1) drop_older(older_ - 1);  // held data after a hole: the newest answered here
    older_ = 0;
    if (pending_.empty()) {
      // A reply to a command the capture lost (or an unsolicited -ERR before closing): what
      // follows a +OK may be a listing.
      maybe_body_ = st == Status::kOk;
      return;
    }
    const Pending p = pending_.front();
    pending_.pop_front();
    after_gap_ = false;
    answered(p, st);
    if (st == Status::kOk && p.multi) start_body();
    else if (st == Status::kOk && p.cmd == Cmd::kOther) maybe_body_ = true;  // an extension's listing?
  }

  // The reply st (kNone: lost in a hole) to command p.
  void answered(const Pending& p, Status st) {
    switch (p.cmd) {
      case Cmd::kUser:
        if (st == Status::kErr) {
          finish_attempt(st);  // no such user: the attempt ends here
          awaiting_pass_ = false;
        }
        break;
      case Cmd::kPass:
      case Cmd::kApop:
        finish_attempt(st);
        break;
      case Cmd::kAuth:
        end_sasl();
        finish_attempt(st);
        break;
      case Cmd::kStls:
        if (st == Status::kOk) {
          tls_ = true;  // RFC 2595 §4: TLS negotiation starts right after this reply
          close_attempt();
        }
        stls_sent_ = st == Status::kNone;  // unknown: TLS bytes from the client will tell
        break;
      default:
        break;
    }
  }

  // A server line that is no reply, outside a multi-line response.
  void stray_line() {
    // The +OK of a multi-line command was lost (a hole, or before the capture): these are its
    // lines. (After a server hole: of the newest command waiting since before it.)
    const size_t at = older_ > 0 ? older_ - 1 : 0;
    if (pending_.size() > at && pending_[at].multi && after_gap_) {
      drop_older(at);
      const Pending p = pending_.front();
      pending_.pop_front();
      answered(p, Status::kNone);
      start_body();
      return;
    }
    // Lines of a reply we could not foresee (after an unmatched +OK or an extension's +OK) or
    // lost our place (a hole): skip to the next "." line.
    if (!maybe_body_ && !after_gap_) anomaly("pop_unexpected_server_line");
    maybe_body_ = false;
    start_body();
  }

  void start_body() {
    in_body_ = true;
    body_after_gap_ = false;
  }
  void end_body() {
    in_body_ = false;
    body_after_gap_ = false;
    after_gap_ = false;
  }

  // ---- attempts (transactions) ----
  void start_attempt(std::string_view mech) {
    close_attempt();
    awaiting_pass_ = false;
    end_sasl();
    if (auths_.size() >= dissect_limits::kMaxTransactions) {
      anomaly("pop_transactions_cap");
      return;
    }
    auths_.push_back(Auth{std::string(), std::string(mech), Status::kNone});
    open_ = int(auths_.size()) - 1;
  }

  void set_user(std::string_view u) {
    if (open_ < 0) return;
    if (u.size() > kMaxUser) {
      anomaly("pop_user_too_long");
      u = u.substr(0, kMaxUser);
    }
    auths_[size_t(open_)].user.assign(u);
  }

  void finish_attempt(Status st) {
    if (open_ >= 0) auths_[size_t(open_)].status = st;
    open_ = -1;
  }

  void close_attempt() { open_ = -1; }

  // ---- helpers ----
  void push(Cmd c, bool multi) {
    if (pending_.size() >= kMaxPending) {
      // One direction captured, or out of step: the oldest waits no more.
      if (!pending_cap_hit_) anomaly("pop_pending_cap");
      pending_cap_hit_ = true;
      answered(pending_.front(), Status::kNone);
      pending_.pop_front();
    }
    pending_.push_back(Pending{c, multi, chunk_});
  }

  void drop_pending(Cmd c) {
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->cmd == c) {
        pending_.erase(it);
        return;
      }
    }
  }

  void bad_line() {
    anomaly("pop_bad_command");
    if (++bad_lines_ >= kMaxBadLines) {
      anomaly("pop_too_many_bad_lines");
      gave_up_ = true;  // not (or no longer) POP: stop reading the flow
    }
  }

  LineReader rd_[2];
  bool resync_[2] = {false, false};   // a hole: decide at the next chunk where lines start
  bool phantom_[2] = {false, false};  // the next line is the tail of one the hole cut
  int server_dir_ = -1;
  uint64_t chunk_ = 0;            // on_payload calls so far
  // Server holes (see settle_hole): waiting for the held data, reading it, or none.
  enum class Hole : uint8_t { kNone, kWait, kDrain } hole_ = Hole::kNone;
  bool hole_in_body_ = false;     // inside a multi-line response
  uint64_t hole_chunk_ = 0;       // chunk_ when it was reported
  uint64_t drain_ts_ = 0;         // time stamp of the held data
  size_t older_ = 0;              // commands waiting since before it, unsettled
  std::deque<Pending> pending_;
  bool pending_cap_hit_ = false;
  std::vector<Auth> auths_;
  int open_ = -1;  // index in auths_ of the attempt waiting for its result, or -1
  bool awaiting_pass_ = false;
  bool sasl_ = false;
  UserIn sasl_how_ = UserIn::kNone;  // what the next client response carries
  uint32_t sasl_steps_ = 0;
  std::string greeting_;
  bool server_spoke_ = false, any_command_ = false;
  bool in_body_ = false, body_after_gap_ = false;
  bool maybe_body_ = false;  // the last reply was a +OK that may start lines we can't foresee
  bool after_gap_ = false;   // a hole since the last reply matched a command
  bool stls_sent_ = false, tls_ = false, gave_up_ = false;
  uint32_t bad_lines_ = 0;
  uint32_t num_retr_ = 0, num_top_ = 0, num_dele_ = 0;
};

// ---- detection on the first bytes of both directions ----
enum class Look : uint8_t { kEmpty, kMore, kNo, kReply, kPopGreeting, kCommand, kShared };

// The first line of p (CR/LF stripped); false when it has no LF yet.
bool first_line(const uint8_t* p, uint32_t n, std::string_view& line) {
  ByteReader r(p, n);
  size_t len = 0;
  while (r.has(1)) {
    if (r.u8() == '\n') {
      if (len > 0 && p[len - 1] == '\r') len--;
      line = std::string_view(reinterpret_cast<const char*>(p), len);
      return true;
    }
    len++;
  }
  return false;
}

// The server's side: its first line must be a +OK/-ERR reply (a greeting, or any reply when
// the capture starts later); one that names POP is a POP greeting.
Look server_look(const uint8_t* p, uint32_t n) {
  if (n == 0) return Look::kEmpty;
  std::string_view line;
  if (!first_line(p, n, line)) {
    if (n > kMaxProbeLine) return Look::kNo;
    // Not complete yet: it must start like a reply.
    ByteReader r(p, n);
    const std::string_view ok = "+OK", err = "-ERR";
    const std::string_view& want = r.peek8() == '-' ? err : ok;
    for (size_t i = 0; i < want.size() && r.has(1); i++)
      if (upper(char(r.u8())) != want[i]) return Look::kNo;
    if (r.has(1) && !is_ws(char(r.peek8())) && r.peek8() != '\r') return Look::kNo;
    return Look::kMore;
  }
  if (line.size() + 2 > kMaxProbeLine) return Look::kNo;
  std::string_view text;
  const Status st = parse_status(line, text);
  if (!is_reply(st) || !text_ok(text)) return Look::kNo;
  return contains_ci(text, "POP") ? Look::kPopGreeting : Look::kReply;
}

// The client's side: its first line must be a POP3 command. Commands only POP3 has decide;
// AUTH and QUIT (Redis, SMTP, FTP ... have them too) need the port or a POP greeting.
Look client_look(const uint8_t* p, uint32_t n) {
  if (n == 0) return Look::kEmpty;
  std::string_view line;
  if (!first_line(p, n, line)) {
    if (n > kMaxProbeLine) return Look::kNo;
    ByteReader r(p, n);
    for (size_t i = 0; r.has(1); i++) {
      const char c = char(r.u8());
      if (is_ws(c) || c == '\r') return i >= 3 && i <= 4 ? Look::kMore : Look::kNo;
      if (!is_alpha(c) || i >= 4) return Look::kNo;
    }
    return Look::kMore;
  }
  if (line.size() + 2 > kMaxProbeLine || !text_ok(line)) return Look::kNo;
  std::string_view verb, args;
  split_verb(line, verb, args);
  const std::string v = upper_str(verb.substr(0, kMaxVerb));
  // RFC 1939 §5-7, RFC 2449, RFC 2595, RFC 1460 (LAST), with the arguments they take.
  if (v == "USER" || v == "APOP") return args.empty() ? Look::kNo : Look::kCommand;
  if (v == "PASS") return Look::kCommand;  // an empty password is a password
  if (v == "RETR" || v == "DELE") return !args.empty() && is_digit(args[0]) ? Look::kCommand : Look::kNo;
  if (v == "TOP") return !args.empty() && is_digit(args[0]) ? Look::kCommand : Look::kNo;
  if (v == "LIST" || v == "UIDL") return args.empty() || is_digit(args[0]) ? Look::kCommand : Look::kNo;
  if (v == "STAT" || v == "CAPA" || v == "STLS" || v == "RSET" || v == "NOOP" || v == "LAST")
    return args.empty() ? Look::kCommand : Look::kNo;
  if (v == "AUTH" || v == "QUIT") return Look::kShared;
  return Look::kNo;
}

bool hint(uint16_t c, uint16_t s) { return s == 110 || c == 110; }  // 995 is implicit TLS: nothing in clear

int verdict(Look srv, Look cli, bool hinted) {
  if (srv == Look::kNo || cli == Look::kNo) return -1;
  if (srv == Look::kEmpty || srv == Look::kMore) return 0;  // POP's server speaks first
  const bool strong = hinted || srv == Look::kPopGreeting;
  if (cli == Look::kCommand) return 1;
  if (cli == Look::kShared) return strong ? 1 : -1;
  return strong ? 1 : 0;  // a greeting alone: the client's first command decides off port 110
}

int probe_stream(const uint8_t* c2s, uint32_t cn, const uint8_t* s2c, uint32_t sn, uint16_t cport, uint16_t sport) {
  const bool hinted = hint(cport, sport);
  const int a = verdict(server_look(s2c, sn), client_look(c2s, cn), hinted);
  if (a > 0) return a;
  // Picked up mid-stream with the server as the flow's "client": the roles read reversed.
  const int b = cn > 0 ? verdict(server_look(c2s, cn), client_look(s2c, sn), hinted) : -1;
  if (b > 0) return b;
  return a == 0 || b == 0 ? 0 : -1;
}

bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }  // TCP only: probe_stream
std::unique_ptr<Dissector> create() { return std::make_unique<PopDissector>(); }

}  // namespace

extern const DissectorInfo kPopInfo{"POP", l7::kPop3, 6, hint, probe, create, probe_stream};

}  // namespace nprobe
