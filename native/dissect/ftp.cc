// FTP dissector: the control connection of RFC 959 (File Transfer Protocol) on reassembled TCP
// streams, with the extensions in common use: RFC 2428 (EPRT/EPSV, IPv6), RFC 2228 and 4217
// (AUTH TLS: once the server accepts it the rest of the connection is TLS and is not read),
// RFC 2389 (FEAT/OPTS), RFC 3659 (SIZE/MDTM/MLSD), RFC 775 (X* directory verbs). nProbe's FTP
// plugin fields, plus this probe's own. The data connections announced on the control
// connection (PASV/227, EPSV/229, PORT, EPRT) are recognised as FTP data (nDPI FTP_DATA, 175)
// and name their control connection: see "Data connections" below.
//
// Transactions: one per client command, with the reply that completes it (RFC 959 §4.2: a
// preliminary 1xx reply, then one final 2xx-5xx reply). FTP_TRANSACTIONS lists them in order, at
// most dissect_limits::kMaxTransactions = 64 (more are counted as ftp_transactions_cap); the
// flat FTP_COMMAND / FTP_COMMAND_RET_CODE describe the first one.
//
// Field semantics (where nProbe's documentation leaves room, the choice made here):
// - FTP_LOGIN: the argument of the session's first USER command.
// - FTP_PASSWORD: the argument of the first PASS, only when the user asked for credentials
//   (DissectorOptions::credentials, --ftp-credentials); otherwise the password is not even kept
//   in memory. It never appears in FTP_COMMAND or FTP_TRANSACTIONS ("PASS" alone is shown).
// - FTP_COMMAND: the command line as sent, verb and argument ("RETR 1MB.zip"), without Telnet
//   IAC sequences (RFC 959 §4.1.3 ABOR); FTP_COMMAND_RET_CODE: the code of its final reply.
// - Beyond nProbe, in each transaction: FTP_COMMAND_RET_MSG (the final reply's first-line text),
//   FTP_PRELIM_RET_CODE / FTP_PRELIM_RET_MSG (a 1xx reply, e.g. 150, when one came), FTP_DATA_ADDR / FTP_DATA_PORT
//   (the data endpoint a PASV reply, PORT or EPRT names; EPSV gives only the port: the address is
//   the control connection's server, RFC 2428 §3, filled in), FTP_CWD (transfer commands: the working
//   directory, when the session showed it). Flow level: FTP_SERVER_BANNER (the greeting's
//   first line) and FTP_AUTH_TLS (1 when AUTH TLS/SSL was accepted).
// - Reply text is the first line only: continuation lines of multi-line replies (FEAT lists,
//   banners) are read past, not kept.
//
// Data connections: a PASV/EPSV reply or a PORT/EPRT command announces the endpoint the data
// connection will go to; the dissector announces it to the engine (Dissector::expect), which
// labels the next new TCP flow to that endpoint, from the other end of the control connection,
// FTP data (nDPI FTP_DATA, 175) with FTP_CONTROL_FLOW_ID = the control connection's FLOW_ID.
// EPSV (and a PASV reply of 0.0.0.0) means the control connection's server address (RFC 2428
// §3). Behind NAT a server may announce an address the client does not use (clients then
// connect to the control connection's address): when the announced address differs from the
// control connection's, both are announced. The transfer command that used the connection, the
// setup (PASV, EPSV, PORT, EPRT) and the working directory are in the control connection's
// FTP_TRANSACTIONS (FTP_CWD on transfer commands: from PWD's 257 reply, then CWD/CDUP).
//
// Holes in the capture (on_gap): the direction's line reader resyncs at the next line (at once
// when the next chunk starts like a command or a reply). Lost server bytes held replies: the
// first reply after the hole skips the waiting commands that cannot have its code (RFC 959
// §5.4), which stay without a reply. Lost client bytes held commands: replies with no command
// waiting are then not anomalies. A reply with no command waiting may also be one whose
// command the reassembler hands over just after it (released by the reply's own
// acknowledgement): it waits for a command delivered with the same packet.
// A session picked up mid-stream with the roles reversed (the first line seen is a reply from
// the flow's "client") is read the right way round.
#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../util/byte_reader.h"
#include "../util/ip_text.h"
#include "../util/json_writer.h"
#include "dissector.h"
#include "line_reader.h"

namespace nprobe {
namespace {

// ---- caps ----
constexpr size_t kMaxLine = 4096;           // one command or reply line (RFC 959 sets none; paths fit)
constexpr size_t kMaxCommandText = 512;     // FTP_COMMAND text kept per transaction
constexpr size_t kMaxReplyText = 256;       // reply text kept (first line of the final reply)
constexpr size_t kMaxName = 256;            // FTP_LOGIN, FTP_PASSWORD
constexpr size_t kMaxPath = 1024;           // working directory tracked
constexpr size_t kMaxPending = 32;          // commands waiting for their reply (pipelining)
constexpr size_t kMaxOrphans = 8;           // replies waiting for a command handed over late
constexpr uint32_t kMaxBadLines = 8;        // consecutive lines that are not FTP before giving up
constexpr uint32_t kMaxReplyLines = 10000;  // continuation lines of one multi-line reply
constexpr size_t kMaxVerb = 16;             // longest command verb accepted (XSHA256 ...)
constexpr size_t kMaxProbeLine = 512;       // a first line longer than this is not FTP
constexpr size_t kMaxExpectPerCall = 16;    // announcements the engine takes per payload (dissector.h)

// ---- text helpers (string_views over LineReader lines; no byte read out of range) ----
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char upper(char c) { return c >= 'a' && c <= 'z' ? char(c - 32) : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (upper(a[i]) != upper(b[i])) return false;
  return true;
}

bool icontains(std::string_view s, std::string_view w) {
  for (size_t i = 0; i + w.size() <= s.size(); i++)
    if (iequals(s.substr(i, w.size()), w)) return true;
  return false;
}

std::string upper_str(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = upper(c);
  return u;
}

// Copies at most cap bytes of s, never splitting a UTF-8 sequence; sets cut when it had to.
std::string capped(std::string_view s, size_t cap, bool& cut) {
  if (s.size() <= cap) return std::string(s);
  cut = true;
  size_t n = cap;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) n--;
  return std::string(s.substr(0, n));
}

// RFC 959 §4.1.3 / RFC 854: a client may put Telnet commands (IAC x, e.g. IAC IP IAC DM before
// ABOR) in front of a command; they are not part of it.
std::string_view strip_telnet(std::string_view s) {
  while (s.size() >= 2 && static_cast<unsigned char>(s[0]) == 0xFF) s.remove_prefix(2);
  // A lone DM byte: some clients send IAC in urgent data, which the capture shows apart.
  while (!s.empty() && (static_cast<unsigned char>(s[0]) == 0xF2 || static_cast<unsigned char>(s[0]) == 0xF4))
    s.remove_prefix(1);
  return s;
}

// RFC 959 §4.2 reply line: three digits (first 1..5), then SP, "-" or the end of the line.
bool reply_line(std::string_view s, int& code, char& sep) {
  if (s.size() < 3 || s[0] < '1' || s[0] > '5' || !is_digit(s[1]) || !is_digit(s[2])) return false;
  sep = s.size() > 3 ? s[3] : ' ';
  if (sep != ' ' && sep != '-') return false;
  code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
  return true;
}

// A command verb: a letter, then letters or digits (RFC 959 §5.3.1: alphabetic; extensions such
// as XSHA1, XMD5 carry digits).
bool verb_ok(std::string_view v) {
  if (v.empty() || v.size() > kMaxVerb || !is_alpha(v[0])) return false;
  for (char c : v)
    if (!is_alpha(c) && !is_digit(c)) return false;
  return true;
}

// Splits "VERB arg": RFC 959 §5.3.2 puts exactly one SP between them; the argument is kept as sent.
void split_command(std::string_view line, std::string_view& verb, std::string_view& arg) {
  size_t i = 0;
  while (i < line.size() && line[i] != ' ') i++;
  verb = line.substr(0, i);
  arg = i < line.size() ? line.substr(i + 1) : std::string_view();
}

bool one_of(std::string_view v, std::initializer_list<std::string_view> list) {
  for (std::string_view k : list)
    if (iequals(v, k)) return true;
  return false;
}

// Verbs that are FTP's and not SMTP's or POP3's alone (RFC 959, 2228, 2389, 2428, 2640, 3659,
// 775, 1639, 7151): a first client command among these says FTP once the server speaks in
// three-digit replies. USER/PASS/RETR/LIST/STAT/DELE are POP3's too, but POP3 replies "+OK".
bool ftp_verb(std::string_view v) {
  return one_of(v, {"USER", "PASS", "ACCT", "CWD",  "CDUP", "SMNT", "REIN", "PORT", "PASV", "TYPE", "STRU",
                    "MODE", "RETR", "STOR", "STOU", "APPE", "ALLO", "REST", "RNFR", "RNTO", "ABOR", "DELE",
                    "RMD",  "MKD",  "PWD",  "LIST", "NLST", "SITE", "SYST", "STAT", "FEAT", "OPTS", "EPRT",
                    "EPSV", "LPRT", "LPSV", "ADAT", "PBSZ", "PROT", "CCC",  "MIC",  "CONF", "ENC",  "MDTM",
                    "SIZE", "MLST", "MLSD", "LANG", "HOST", "CLNT", "XPWD", "XCWD", "XMKD", "XRMD", "XCUP"});
}

// Verbs FTP shares with SMTP: they decide nothing alone.
bool shared_verb(std::string_view v) { return one_of(v, {"NOOP", "QUIT", "HELP", "AUTH"}); }

// The commands that use a data connection (RFC 959 §4.1.3, RFC 3659 §7).
bool transfer_verb(std::string_view v) { return one_of(v, {"RETR", "STOR", "STOU", "APPE", "LIST", "NLST", "MLSD"}); }

// AUTH arguments that start TLS (RFC 4217 §4; TLS-C/TLS-P/SSL from the drafts before it).
bool tls_mechanism(std::string_view a) { return one_of(a, {"TLS", "SSL", "TLS-C", "TLS-P"}); }

// Reads a decimal number of at most max_digits digits at s[i]; false if none.
bool read_number(std::string_view s, size_t& i, uint32_t& out, size_t max_digits) {
  size_t n = 0;
  uint32_t v = 0;
  while (i < s.size() && is_digit(s[i]) && n < max_digits) v = v * 10 + uint32_t(s[i++] - '0'), n++;
  if (n == 0 || (i < s.size() && is_digit(s[i]))) return false;
  out = v;
  return true;
}

// One end of the control connection.
struct Peer {
  uint8_t ip_version = 0;
  IpAddr addr{};
  uint16_t port = 0;
};

struct Endpoint {
  uint8_t ip_version = 0;  // 0: no address given (EPSV)
  IpAddr addr{};
  uint16_t port = 0;
};

enum class Parse { kNone, kOk, kBad };

// h1,h2,h3,h4,p1,p2 (RFC 959 §4.1.2 PORT argument, and the numbers of a 227 reply): six decimal
// numbers 0..255. In a 227 reply the text around them varies by server ("(...)", "=...", none):
// the first digit starts them.
Parse parse_six(std::string_view s, bool search, Endpoint& out) {
  size_t i = 0;
  if (search) {
    while (i < s.size() && !is_digit(s[i])) i++;
    if (i == s.size()) return Parse::kNone;
  }
  uint32_t v[6];
  for (int k = 0; k < 6; k++) {
    while (i < s.size() && s[i] == ' ') i++;
    if (!read_number(s, i, v[k], 3)) return Parse::kBad;
    if (v[k] > 255) return Parse::kBad;
    while (i < s.size() && s[i] == ' ') i++;
    if (k < 5) {
      if (i >= s.size() || s[i] != ',') return Parse::kBad;
      i++;
    }
  }
  out = Endpoint{};
  out.ip_version = 4;
  for (int k = 0; k < 4; k++) out.addr.b[k] = uint8_t(v[k]);
  out.port = uint16_t(v[4] << 8 | v[5]);
  return Parse::kOk;
}

// RFC 2428 §2 EPRT argument: <d><af><d><address><d><port><d>, d any printable ASCII but a digit
// (RFC 2428 says 33..126, "|" recommended); af 1 = IPv4 dotted, 2 = IPv6 text.
Parse parse_eprt(std::string_view s, Endpoint& out) {
  if (s.size() < 7) return Parse::kBad;
  const char d = s[0];
  if (d < 33 || d > 126 || is_digit(d)) return Parse::kBad;
  std::string_view parts[3];
  size_t start = 1;
  for (int k = 0; k < 3; k++) {
    const size_t end = s.find(d, start);
    if (end == std::string_view::npos) return Parse::kBad;
    parts[k] = s.substr(start, end - start);
    start = end + 1;
  }
  if (start != s.size()) return Parse::kBad;  // the closing delimiter ends the argument
  uint32_t port = 0;
  size_t i = 0;
  if (!read_number(parts[2], i, port, 5) || i != parts[2].size() || port == 0 || port > 65535) return Parse::kBad;
  char buf[INET6_ADDRSTRLEN + 1];
  if (parts[1].empty() || parts[1].size() >= sizeof buf) return Parse::kBad;
  std::memcpy(buf, parts[1].data(), parts[1].size());
  buf[parts[1].size()] = 0;
  out = Endpoint{};
  if (parts[0] == "1") {
    if (inet_pton(AF_INET, buf, out.addr.b) != 1) return Parse::kBad;
    out.ip_version = 4;
  } else if (parts[0] == "2") {
    if (inet_pton(AF_INET6, buf, out.addr.b) != 1) return Parse::kBad;
    out.ip_version = 6;
  } else {
    return Parse::kBad;  // RFC 2428 §2: other families are refused with 522
  }
  out.port = uint16_t(port);
  return Parse::kOk;
}

// RFC 2428 §3 229 reply: "... (<d><d><d><port><d>)": the port between the delimiters, no address.
Parse parse_epsv_reply(std::string_view s, Endpoint& out) {
  const size_t open = s.find('(');
  if (open == std::string_view::npos || open + 5 > s.size()) return Parse::kNone;
  const char d = s[open + 1];
  if (s[open + 2] != d || s[open + 3] != d) return Parse::kBad;
  size_t i = open + 4;
  uint32_t port = 0;
  if (!read_number(s, i, port, 5) || port == 0 || port > 65535) return Parse::kBad;
  if (i + 1 >= s.size() || s[i] != d || s[i + 1] != ')') return Parse::kBad;
  out = Endpoint{};
  out.port = uint16_t(port);
  return Parse::kOk;
}

// RFC 959 Appendix II: 257 "<path>" with embedded quotes doubled.
bool parse_257_path(std::string_view s, std::string& out) {
  const size_t q = s.find('"');
  if (q == std::string_view::npos) return false;
  std::string p;
  for (size_t i = q + 1; i < s.size(); i++) {
    if (s[i] == '"') {
      if (i + 1 < s.size() && s[i + 1] == '"') {
        p.push_back('"');
        i++;
        continue;
      }
      out = std::move(p);
      return true;
    }
    p.push_back(s[i]);
  }
  return false;
}

std::string addr_text(const Endpoint& e) {
  std::string s;
  if (e.ip_version == 6) append_ipv6(s, e.addr.b);
  else append_ipv4(s, e.addr.b);
  return s;
}

// Where a chunk after a hole starts: at a command line (a verb, then SP or the line end) or at
// a reply line (three digits, then SP, "-" or the line end).
bool starts_command(const uint8_t* p, size_t n) {
  ByteReader r(p, n);
  for (size_t i = 0; i <= kMaxVerb && r.has(i + 1); i++) {
    const char c = char(r.peek8(i));
    if (c == ' ' || c == '\r' || c == '\n') return i >= 3;
    if (!is_alpha(c) && !(i > 0 && is_digit(c))) return false;
  }
  return false;
}

bool starts_reply(const uint8_t* p, size_t n) {
  ByteReader r(p, n);
  const char a = char(r.u8()), b = char(r.u8()), c = char(r.u8()), d = char(r.u8());
  return r.ok() && a >= '1' && a <= '5' && is_digit(b) && is_digit(c) && (d == ' ' || d == '-' || d == '\r' || d == '\n');
}

// Whether a reply code can answer a command (RFC 959 §5.4 command-reply sequences, and the
// extensions' RFCs). Errors (4xx/5xx) answer anything; so does any code to a verb not listed.
bool can_answer(std::string_view verb, int code) {
  if (code >= 400) return true;
  struct Row {
    std::string_view verbs;  // space separated
    int codes[5];            // 0 ends the list
  };
  static const Row kRows[] = {
      {"USER", {230, 331, 332}},
      {"PASS", {202, 230, 332}},
      {"ACCT", {202, 230}},
      {"CWD XCWD SMNT", {200, 202, 250}},
      {"CDUP XCUP", {200, 250}},
      {"PWD XPWD MKD XMKD", {257}},
      {"PASV", {227}},
      {"EPSV", {229, 200}},
      {"LPSV", {228}},
      {"PORT EPRT LPRT TYPE STRU MODE NOOP OPTS PROT PBSZ CCC CLNT", {200}},
      {"ALLO", {200, 202}},
      {"RETR STOR STOU APPE LIST NLST MLSD", {110, 125, 150, 226, 250}},
      {"REST RNFR", {350}},
      {"RNTO DELE RMD XRMD MLST", {250}},
      {"SYST", {215}},
      {"STAT", {211, 212, 213}},
      {"HELP", {211, 214}},
      {"FEAT", {211}},
      {"SIZE MDTM", {213}},
      {"QUIT", {221}},
      {"REIN", {120, 220}},
      {"ABOR", {225, 226}},
      {"AUTH", {234, 334}},
      {"ADAT", {235, 335}},
  };
  for (const Row& r : kRows) {
    std::string_view vs = r.verbs;
    while (!vs.empty()) {
      const size_t sp = vs.find(' ');
      const std::string_view v = vs.substr(0, sp);
      if (v == verb) {
        for (int c : r.codes)
          if (c != 0 && c == code) return true;
        return false;
      }
      vs = sp == std::string_view::npos ? std::string_view() : vs.substr(sp + 1);
    }
  }
  return true;
}

// ---- the control connection ----

class FtpDissector final : public Dissector {
 public:
  FtpDissector() {
#ifdef NPROBE_HAVE_DISSECTOR_OPTIONS
    credentials_ = dissector_options().credentials;
#endif
  }

  void on_payload(const PayloadCtx& c) override {
    if (done_) return;
    const int d = c.dir & 1;
    if (!orphans_.empty() && orphans_.front().ts != c.ts_us) drop_orphans();
    cur_ts_ = c.ts_us;
    if (role_known_ && d == client_dir() && auth_pending_ && rd_[d].pending() == 0) {
      // TLS bytes after AUTH TLS whose 234 the capture lost (RFC 5246 §6.2.1: a handshake record,
      // content type 22, version 3.x): the rest is encrypted.
      ByteReader r(c.data, c.len);
      if (r.peek8(0) == 0x16 && r.peek8(1) == 0x03) {
        tls_ = done_ = true;
        return;
      }
    }
    if (resync_[d]) {
      // After a hole: segments usually start at a line, so one that starts like a command or a
      // reply is read from its first byte; otherwise the reader skips to the next line.
      resync_[d] = false;
      const bool server = role_known_ ? d == server_dir_ : false;
      if ((role_known_ ? server : true) && starts_reply(c.data, c.len)) rd_[d] = LineReader(kMaxLine);
      else if ((role_known_ ? !server : true) && starts_command(c.data, c.len)) rd_[d] = LineReader(kMaxLine);
    }
    if (!ends_known_ && c.pkt) learn_ends(c, d);
    rd_[d].feed(
        c.data, c.len, [&](const LineReader::Line& l) { line(d, l); }, [](const uint8_t*, size_t) {});
  }

  void on_gap(int dir, uint64_t) override {
    if (done_) return;
    const int d = dir & 1;
    rd_[d].reset();
    resync_[d] = true;
    anomaly("ftp_stream_gap");
    if (!role_known_) return;
    if (d == client_dir()) {
      lost_commands_ = true;  // replies may come for commands we never saw
    } else {
      // Some replies to what was waiting are gone with the hole: the next reply finds its
      // command by what it can answer.
      after_server_gap_ = true;
      multiline_ = 0;
    }
  }

  bool finished() const override { return done_; }
  uint16_t l7_proto() const override { return l7::kFtpControl; }

  void on_export(FieldWriter& w) override {
    drop_orphans();
    // Replies to commands we never saw: an anomaly unless a hole in the client's stream explains them.
    if (unmatched_ && !lost_commands_) anomaly("ftp_unmatched_reply");
    w.str_if("FTP_LOGIN", login_);
    if (credentials_ && has_password_) w.str("FTP_PASSWORD", password_);
    if (!txs_.empty()) {
      w.str("FTP_COMMAND", txs_[0].command);
      w.num_if("FTP_COMMAND_RET_CODE", txs_[0].code);
    }
    w.str_if("FTP_SERVER_BANNER", banner_);
    w.num("FTP_AUTH_TLS", tls_ ? 1 : 0);
    if (!txs_.empty()) {
      JsonWriter j;
      j.begin_array();
      for (const Tx& t : txs_) {
        j.begin_object();
        j.kv("FTP_COMMAND", t.command);
        if (t.code) j.kv("FTP_COMMAND_RET_CODE", uint64_t(t.code));
        if (t.code) j.kv("FTP_COMMAND_RET_MSG", t.msg);
        if (t.prelim) j.kv("FTP_PRELIM_RET_CODE", uint64_t(t.prelim));
        if (t.prelim) j.kv("FTP_PRELIM_RET_MSG", t.prelim_msg);
        if (!t.data_addr.empty()) j.kv("FTP_DATA_ADDR", t.data_addr);
        if (t.data_port) j.kv("FTP_DATA_PORT", uint64_t(t.data_port));
        if (!t.cwd.empty()) j.kv("FTP_CWD", t.cwd);
        j.end_object();
      }
      j.end_array();
      w.json("FTP_TRANSACTIONS", j.str());
    }
  }

 private:
  struct Tx {
    std::string command;  // verb and argument as sent (PASS: verb only)
    uint16_t code = 0;    // final reply
    uint16_t prelim = 0;  // 1xx reply
    std::string prelim_msg;
    std::string msg;      // final reply's first-line text
    std::string data_addr;
    uint16_t data_port = 0;
    std::string cwd;  // transfer commands: the working directory then, when known
  };
  struct Orphan {
    int code;
    std::string msg;
    uint64_t ts;
  };
  struct Pending {
    std::string verb;  // upper case
    std::string arg;   // capped; empty for PASS
    int tx;            // index in txs_, or -1 past the cap
  };

  int client_dir() const { return 1 - server_dir_; }

  // Which address sends which direction. PayloadCtx::pkt is the segment that completed the
  // data, which may be the other direction's (an ACK past a hole, or the packet that decided
  // the probe when earlier chunks are replayed); when the bytes lie inside its payload it is
  // their sender for sure. Compared as addresses only: nothing is read through the pointers.
  void learn_ends(const PayloadCtx& c, int d) {
    const Packet& p = *c.pkt;
    const uintptr_t b = reinterpret_cast<uintptr_t>(p.payload), x = reinterpret_cast<uintptr_t>(c.data);
    if (!p.payload || c.len == 0 || x < b || x - b >= p.payload_len || c.len > p.payload_len - (x - b)) return;
    ends_[d] = Peer{p.ip_version, p.src, p.sport};
    ends_[1 - d] = Peer{p.ip_version, p.dst, p.dport};
    ends_known_ = true;
  }

  // ---- lines ----
  void line(int d, const LineReader::Line& l) {
    if (done_) return;
    if (l.truncated) anomaly("ftp_line_too_long");
    if (!role_known_) {
      // The first line decides who is the server: a reply comes from it, a command goes to it.
      int code;
      char sep;
      const std::string_view t = strip_telnet(l.text);
      if (t.empty()) return;
      server_dir_ = reply_line(t, code, sep) ? d : (is_alpha(t[0]) ? 1 - d : 1);
      role_known_ = true;
    }
    if (d == server_dir_) server_line(l.text);
    else client_line(l.text);
  }

  void bad_line(const char* name) {
    anomaly(name);
    if (++bad_lines_ > kMaxBadLines) {
      anomaly("ftp_not_ftp");  // a stream of garbage: stop reading it
      done_ = true;
    }
  }

  void client_line(std::string_view text) {
    text = strip_telnet(text);
    if (text.empty()) return;  // a bare CRLF: nothing asked
    std::string_view verb, arg;
    split_command(text, verb, arg);
    if (!verb_ok(verb)) {
      bad_line("ftp_bad_command");
      return;
    }
    bad_lines_ = 0;
    command(upper_str(verb), verb, arg);
  }

  void server_line(std::string_view text) {
    if (multiline_) {
      // RFC 959 §4.2: a multi-line reply ends at a line with the same code and a space.
      int code;
      char sep;
      if (reply_line(text, code, sep) && code == multiline_ && sep == ' ') {
        multiline_ = 0;
        reply(code, ml_text_);
      } else if (++ml_lines_ > kMaxReplyLines) {
        anomaly("ftp_reply_lines_cap");
        multiline_ = 0;
        reply(code_of_ml_, ml_text_);
      }
      return;
    }
    int code;
    char sep;
    if (!reply_line(text, code, sep)) {
      bad_line("ftp_bad_reply");
      return;
    }
    bad_lines_ = 0;
    const std::string_view msg = text.size() > 4 ? text.substr(4) : std::string_view();
    if (sep == '-') {
      multiline_ = code;
      code_of_ml_ = code;
      ml_lines_ = 0;
      bool cut = false;
      ml_text_ = capped(msg, kMaxReplyText, cut);
      return;
    }
    bool cut = false;
    reply(code, capped(msg, kMaxReplyText, cut));
  }

  // ---- commands ----
  void command(const std::string& verb, std::string_view verb_sent, std::string_view arg) {
    bool cut = false;
    std::string text(verb_sent);
    const bool secret = verb == "PASS";
    if (!secret && !arg.empty()) {
      text.push_back(' ');
      text.append(arg);
    }
    text = capped(text, kMaxCommandText, cut);
    std::string arg_kept = secret ? std::string() : capped(arg, kMaxCommandText, cut);
    if (cut) anomaly("ftp_text_cap");

    int tx = -1;
    if (txs_.size() < dissect_limits::kMaxTransactions) {
      tx = int(txs_.size());
      txs_.push_back(Tx{});
      txs_.back().command = std::move(text);
    } else {
      anomaly("ftp_transactions_cap");
    }

    if (verb == "USER" && !has_login_) {
      has_login_ = true;
      bool c2 = false;
      login_ = capped(arg, kMaxName, c2);
    } else if (secret && credentials_ && !has_password_) {
      has_password_ = true;
      bool c2 = false;
      password_ = capped(arg, kMaxName, c2);
    } else if (verb == "PORT" || verb == "EPRT") {
      Endpoint e;
      const Parse p = verb == "PORT" ? parse_six(arg, false, e) : parse_eprt(arg, e);
      if (p == Parse::kOk) {
        if (tx >= 0) txs_[tx].data_addr = addr_text(e), txs_[tx].data_port = e.port;
        // Active mode: the client listens, the server connects (from port 20, RFC 959 §3.2).
        announce(e, /*listener_is_server=*/false);
      } else {
        anomaly("ftp_bad_port_argument");
      }
    } else if (verb == "AUTH" && tls_mechanism(arg)) {
      auth_pending_ = true;
    } else if (transfer_verb(verb) && tx >= 0 && cwd_known_) {
      txs_[tx].cwd = cwd_;  // where the transferred file or listing is
    }

    if (pending_.size() >= kMaxPending) {
      anomaly("ftp_pending_cap");
      pending_.pop_front();
    }
    pending_.push_back(Pending{verb, std::move(arg_kept), tx});
    if (!orphans_.empty()) {
      // Replies that came just before this command with the same packet answer it (see reply()).
      std::deque<Orphan> o;
      o.swap(orphans_);
      for (Orphan& x : o) {
        if (x.ts == cur_ts_ && !pending_.empty()) answer(x.code, x.msg);
        else unmatched_++;
      }
    }
  }

  // ---- replies ----
  void reply(int code, const std::string& msg) {
    if (!greeted_ && pending_.empty() && (code == 220 || code == 120 || code == 421)) {
      // RFC 959 §5.4: the connection opens with 220 (or 120 then 220, or 421).
      greeted_ = code != 120;
      if (banner_.empty()) banner_ = msg;
      return;
    }
    greeted_ = true;
    if (pending_.empty()) {
      // 421 may come at any time (RFC 959 §4.2: the server closes). Any other reply answers a
      // command we have not seen: one the capture lost, or one the reassembler hands over
      // right after this reply -- the segment that carries a reply also acknowledges the
      // command, and a command held behind a hole is released by that acknowledgement, after
      // the reply's own bytes. Such replies wait for a command delivered with the same packet.
      if (code == 421) return;
      if (orphans_.size() >= kMaxOrphans) {
        orphans_.pop_front();
        unmatched_++;
      }
      orphans_.push_back(Orphan{code, msg, cur_ts_});
      return;
    }
    if (after_server_gap_) {
      // The first reply after a hole in the server's stream: the waiting commands whose reply
      // the hole held go without one. Skip those that cannot have this code (RFC 959 §5.4).
      after_server_gap_ = false;
      while (pending_.size() > 1 && !can_answer(pending_.front().verb, code)) pending_.pop_front();
    }
    answer(code, msg);
  }

  // Replies that came with no command waiting, and their packet time.
  void drop_orphans() {
    unmatched_ += orphans_.size();
    orphans_.clear();
  }

  // The reply to the oldest waiting command.
  void answer(int code, const std::string& msg) {
    Pending& p = pending_.front();
    Tx* t = p.tx >= 0 ? &txs_[p.tx] : nullptr;
    if (code < 200) {
      if (t) t->prelim = uint16_t(code), t->prelim_msg = msg;
      return;
    }
    if (t) {
      t->code = uint16_t(code);
      t->msg = msg;
    }
    const std::string verb = std::move(p.verb);
    const std::string arg = std::move(p.arg);
    pending_.pop_front();
    const bool ok = code >= 200 && code < 300;

    if (verb == "PASV" && code == 227) {
      Endpoint e;
      const Parse r = parse_six(msg, true, e);
      if (r == Parse::kOk) {
        if (t) t->data_addr = addr_text(e), t->data_port = e.port;
        announce(e, /*listener_is_server=*/true);
      } else {
        anomaly("ftp_bad_pasv_reply");
      }
    } else if (verb == "EPSV" && code == 229) {
      Endpoint e;
      const Parse r = parse_epsv_reply(msg, e);
      if (r == Parse::kOk) {
        if (t) {
          t->data_port = e.port;
          // No address in the reply: the data connection goes to this connection's server.
          if (ends_known_) t->data_addr = addr_text(Endpoint{ends_[server_dir_].ip_version, ends_[server_dir_].addr, 0});
        }
        announce(e, /*listener_is_server=*/true);
      } else {
        anomaly("ftp_bad_epsv_reply");
      }
    } else if (verb == "AUTH") {
      auth_pending_ = false;
      if (code == 234) {
        // RFC 4217 §4: the TLS handshake follows at once; nothing more is cleartext.
        tls_ = done_ = true;
      }
    } else if ((verb == "PWD" || verb == "XPWD") && code == 257) {
      std::string path;
      if (parse_257_path(msg, path)) {
        bool cut = false;
        cwd_ = capped(path, kMaxPath, cut);
        cwd_known_ = !cut;
        if (cut) anomaly("ftp_text_cap");
      }
    } else if ((verb == "CWD" || verb == "XCWD") && ok) {
      if (!arg.empty() && arg[0] == '/') {
        cwd_ = arg, cwd_known_ = true;
      } else if (cwd_known_ && !arg.empty()) {
        if (cwd_.empty() || cwd_.back() != '/') cwd_.push_back('/');
        cwd_ += arg;
      }
      if (cwd_.size() > kMaxPath) {
        anomaly("ftp_text_cap");
        cwd_known_ = false, cwd_.clear();
      }
    } else if ((verb == "CDUP" || verb == "XCUP") && ok && cwd_known_) {
      const size_t slash = cwd_.find_last_of('/');
      cwd_ = slash == std::string::npos || slash == 0 ? std::string("/") : cwd_.substr(0, slash);
    } else if (verb == "REIN" && ok) {
      cwd_known_ = false, cwd_.clear();
    }
  }

  // A data connection will come to e (PASV/EPSV: the server listens; PORT/EPRT: the client).
  // The engine labels the first new TCP flow to it, from the other end of this connection,
  // FTP_DATA with FTP_CONTROL_FLOW_ID = this flow's FLOW_ID.
  void announce(const Endpoint& e, bool listener_is_server) {
    const int srv = server_dir_, cli = 1 - server_dir_;
    const Peer* listener = ends_known_ ? &ends_[listener_is_server ? srv : cli] : nullptr;
    const Peer* other = ends_known_ ? &ends_[listener_is_server ? cli : srv] : nullptr;
    auto add = [&](uint8_t version, const IpAddr& addr) {
      if (pending_expectations().size() >= kMaxExpectPerCall) {
        anomaly("ftp_expectations_cap");
        return;
      }
      Expectation x{};
      x.addr = addr;
      x.port = e.port;
      x.ip_version = version;
      // The connection comes from the other end of the control connection (a different
      // family, e.g. EPRT |1| on an IPv6 control connection, can't be checked).
      x.any_client = !other || other->ip_version != version;
      if (!x.any_client) x.client = other->addr;
      x.l7 = l7::kFtpData;
      x.field = "FTP_CONTROL_FLOW_ID";
      expect(x);
    };
    const bool zero = e.ip_version == 4 && e.addr.b[0] == 0 && e.addr.b[1] == 0 && e.addr.b[2] == 0 && e.addr.b[3] == 0;
    if (e.ip_version == 0 || zero) {
      // EPSV names no address (RFC 2428 §3), and some servers answer PASV with 0.0.0.0: the
      // data connection goes to the control connection's server.
      if (listener) add(listener->ip_version, listener->addr);
      return;
    }
    add(e.ip_version, e.addr);
    // Behind NAT the address announced may not be the one connected to (clients then use the
    // control connection's): expect that one too.
    if (listener && listener->ip_version == e.ip_version && !(listener->addr == e.addr)) add(listener->ip_version, listener->addr);
  }

  LineReader rd_[2] = {LineReader(kMaxLine), LineReader(kMaxLine)};
  bool resync_[2] = {false, false};  // a hole was reported: look at how the next chunk starts
  bool role_known_ = false;
  int server_dir_ = 1;
  bool done_ = false;
  bool tls_ = false;
  bool auth_pending_ = false;
  bool greeted_ = false;
  bool lost_commands_ = false;
  bool after_server_gap_ = false;
  uint64_t cur_ts_ = 0;             // packet time of the payload being read
  std::deque<Orphan> orphans_;      // replies with no command waiting (kMaxOrphans)
  uint64_t unmatched_ = 0;          // replies that never found their command
  bool credentials_ = false;
  uint32_t bad_lines_ = 0;
  int multiline_ = 0;  // code of the multi-line reply being read, 0 if none
  int code_of_ml_ = 0;
  uint32_t ml_lines_ = 0;
  std::string ml_text_;
  std::string banner_;
  std::string login_;
  bool has_login_ = false;
  std::string password_;
  bool has_password_ = false;
  std::string cwd_;
  bool cwd_known_ = false;
  std::vector<Tx> txs_;
  std::deque<Pending> pending_;
  Peer ends_[2];            // the connection's endpoints by stream direction, once known
  bool ends_known_ = false;
};

// ---- detection ----

enum class Side { kEmpty, kMore, kNo, kGreeting, kReply, kFtpCommand, kShared };

// The first line of a probe buffer (without CR LF), or false if it has no complete line yet;
// used: its length with the LF.
bool first_line(const uint8_t* p, uint32_t n, std::string_view& line, uint32_t& used) {
  ByteReader r(p, n);
  for (uint32_t i = 0; i < n && i < kMaxProbeLine; i++) {
    if (r.peek8(i) == '\n') {
      size_t len = i;
      if (len > 0 && r.peek8(len - 1) == '\r') len--;
      line = std::string_view(reinterpret_cast<const char*>(p), len);
      used = i + 1;
      return true;
    }
  }
  return false;
}

// The server's first reply: a greeting (220, 120 "ready soon" or 421 "no service") or, for a
// session picked up later, any reply. ftp_banner: the greeting names FTP and not SMTP.
Side server_side(const uint8_t* p, uint32_t n, bool& ftp_banner) {
  ftp_banner = false;
  if (n == 0) return Side::kEmpty;
  std::string_view line;
  uint32_t used = 0;
  int code;
  char sep;
  if (!first_line(p, n, line, used)) {
    if (n >= kMaxProbeLine) return Side::kNo;
    // No complete line yet: it must start like a reply.
    ByteReader r(p, n);
    for (uint32_t i = 0; i < n && i < 4; i++) {
      const char c = char(r.peek8(i));
      if (i < 3 ? !is_digit(c) : (c != ' ' && c != '-' && c != '\r')) return Side::kNo;
    }
    return r.peek8(0) >= '1' && r.peek8(0) <= '5' ? Side::kMore : Side::kNo;
  }
  if (!reply_line(line, code, sep)) return Side::kNo;
  const std::string_view text = line.substr(std::min<size_t>(4, line.size()));
  ftp_banner = icontains(text, "FTP") && !icontains(text, "SMTP");
  return code == 220 || code == 120 || code == 421 ? Side::kGreeting : Side::kReply;
}

// The client's first commands (up to 8 complete lines): the first one that is FTP's own decides;
// commands FTP shares with SMTP leave it open; anything else is not FTP.
Side client_side(const uint8_t* p, uint32_t n) {
  if (n == 0) return Side::kEmpty;
  Side seen = Side::kMore;
  uint32_t off = 0;
  for (int k = 0; k < 8 && off < n; k++) {
    std::string_view line;
    uint32_t used = 0;
    if (!first_line(p + off, n - off, line, used)) {
      if (n - off >= kMaxProbeLine) return Side::kNo;
      // An unfinished line must start like a command.
      ByteReader r(p + off, n - off);
      const size_t m = n - off;
      size_t i = 0;
      while (i + 1 < m && r.peek8(i) == 0xFF) i += 2;  // Telnet IAC x
      for (size_t v = 0; i < m; i++, v++) {
        const char c = char(r.peek8(i));
        if (c == ' ' || c == '\r') break;
        if (v >= kMaxVerb || !(is_alpha(c) || (v > 0 && is_digit(c)))) return Side::kNo;
      }
      return seen;
    }
    off += used;
    const std::string_view t = strip_telnet(line);
    if (t.empty()) continue;
    std::string_view verb, arg;
    split_command(t, verb, arg);
    if (!verb_ok(verb)) return Side::kNo;
    if (iequals(verb, "AUTH")) {
      if (tls_mechanism(arg)) return Side::kFtpCommand;
      seen = Side::kShared;
    } else if (ftp_verb(verb)) {
      return Side::kFtpCommand;
    } else if (shared_verb(verb)) {
      seen = Side::kShared;
    } else {
      return Side::kNo;
    }
  }
  return seen;
}

bool hint(uint16_t c, uint16_t s) { return s == 21 || c == 21; }

int verdict(Side srv, bool ftp_banner, Side cli, bool hinted) {
  // On port 21 a greeting that names FTP is enough (the client may not have spoken yet, or its
  // first line may be damaged: the dissector names what is wrong with it).
  if (srv == Side::kGreeting && ftp_banner && hinted) return 1;
  if (srv == Side::kNo || cli == Side::kNo) return -1;
  const bool replied = srv == Side::kGreeting || srv == Side::kReply;
  if (cli == Side::kFtpCommand && replied) return 1;
  if (cli == Side::kShared && replied && (hinted || (srv == Side::kGreeting && ftp_banner))) return 1;
  // NOOP/QUIT/HELP to a server that does not say FTP, off port 21: wait for a command that does.
  return 0;
}

int probe_stream(const uint8_t* c2s, uint32_t cn, const uint8_t* s2c, uint32_t sn, uint16_t cport, uint16_t sport) {
  const bool hinted = hint(cport, sport);
  bool banner = false;
  const Side srv = server_side(s2c, sn, banner);
  const int v = verdict(srv, banner, client_side(c2s, cn), hinted);
  if (v >= 0) return v;
  // Picked up mid-stream with the server as the flow's "client": read the roles reversed.
  if (cn > 0 && is_digit(char(ByteReader(c2s, cn).peek8()))) {
    const Side rsrv = server_side(c2s, cn, banner);
    const int w = verdict(rsrv, banner, client_side(s2c, sn), hinted);
    if (w >= 0) return w;
  }
  return -1;
}

bool probe(const uint8_t*, uint32_t, uint16_t, uint16_t) { return false; }  // TCP only
std::unique_ptr<Dissector> create() { return std::make_unique<FtpDissector>(); }

}  // namespace

extern const DissectorInfo kFtpInfo{"FTP", l7::kFtpControl, 6, hint, probe, create, probe_stream};

}  // namespace nprobe
