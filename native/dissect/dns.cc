// DNS dissector (UDP) and the DNS message parser of dns.h. Follows RFC 1035 §4 (message
// format, §4.1.4 compression), RFC 3596 (AAAA), RFC 2782 (SRV), RFC 6891 (EDNS OPT, ignored
// here), RFC 3597 (unknown types as "\# len hex"), RFC 6762 (mDNS class bit), RFC 1002
// (NetBIOS-NS, rejected by the probe).
//
// Fields (nProbe's element names) describe the flow's first transaction: DNS_QUERY,
// DNS_QUERY_ID, DNS_QUERY_TYPE, DNS_RET_CODE, DNS_NUM_ANSWERS (the header's ANCOUNT),
// DNS_TTL_ANSWER (TTL of the first A/AAAA answer, else of the first answer), DNS_RESPONSE
// (the answer section as text, "A 1.2.3.4,CNAME x.example"); DNS_CLIENT is the address that
// sent the queries. Every transaction (a query and its response, matched by id and question)
// goes into DNS_TRANSACTIONS, at most dissect_limits::kMaxTransactions per flow.
//
// Caps: pointers followed per name (kMaxPointerHops), names decoded per message
// (kMaxNamesPerMessage), answer text per message (kMaxResponseText), transactions per flow
// (kMaxTransactions) and text kept per flow (kMaxFlowTextBytes); each has a named anomaly.
// DNS over TCP (dns_tcp.cc) frames the stream and uses parse_message() and Transactions too.
#include "dns.h"

#include <charconv>
#include <cstring>

#include "../util/byte_reader.h"
#include "dissector.h"
#include "../util/ip_text.h"

namespace nprobe {
namespace dns {

void Anomalies::add(const char* name) {
  if (has(name) || n == kMax) return;
  names[n++] = name;
}

bool Anomalies::has(const char* name) const {
  for (int i = 0; i < n; i++)
    if (names[i] == name || std::strcmp(names[i], name) == 0) return true;
  return false;
}

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  // A response nearly always repeats its query's name byte for byte (RFC 1035 §7.3 has the
  // resolver check it): one memcmp, and case folding only when that fails.
  if (std::memcmp(a.data(), b.data(), a.size()) == 0) return true;
  for (size_t i = 0; i < a.size(); i++) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

namespace {

// One label byte in presentation form (RFC 1035 §5.1): "." and "\" escaped, anything outside
// printable ASCII as \DDD, so a name is always one unambiguous line of text. Writes at most
// kMaxEscapedByte bytes at o; returns the end.
constexpr size_t kMaxEscapedByte = 4;
char* put_label_byte(char* o, uint8_t c) {
  if (c == '.' || c == '\\') {
    *o++ = '\\';
    *o++ = char(c);
  } else if (c < 0x21 || c > 0x7E) {
    *o++ = '\\';
    *o++ = char('0' + c / 100);
    *o++ = char('0' + c / 10 % 10);
    *o++ = char('0' + c % 10);
  } else {
    *o++ = char(c);
  }
  return o;
}
void append_label_byte(std::string& out, uint8_t c) {
  char b[kMaxEscapedByte];
  out.append(b, size_t(put_label_byte(b, c) - b));
}

// The longest presentation text of a name that passes the wire-length check: L labels and
// their L length bytes share 254 wire bytes, so the text (4 bytes per escaped label byte,
// L - 1 dots) is at most 4 * (254 - L) + L - 1, below 4 * 253 for any L >= 1.
constexpr size_t kMaxNameText = kMaxEscapedByte * (kMaxNameWireLen - 2);

struct NameCtx {
  const uint8_t* msg;
  size_t len;
  Anomalies* an;
  int* names_decoded;
};

// What reading a name gave.
enum class Name {
  kOk,       // read (and, when asked, decoded)
  kInvalid,  // unusable (anomaly named) but its in-place bytes are known: parsing goes on
  kBroken,   // its in-place bytes have no known end: the rest of the message is lost
};

// Reads the name at r. With out == nullptr the name is only walked in place (labels up to
// the terminating zero or the first pointer), which is all a skipped record needs. With out,
// pointers are followed and the text is appended to *out, only when the name is kOk (it is
// built on the stack first: one append per name rather than one per label). r always ends
// just past the name's in-place bytes, unless the result is kBroken.
Name read_name(const NameCtx& c, ByteReader& r, std::string* out) {
  char text[kMaxNameText];
  char* o = text;
  if (out) {
    // Only names inside answer RDATA can reach the cap (the question's is the first).
    if (*c.names_decoded >= kMaxNamesPerMessage) {
      c.an->add("dns_names_cap");
      return Name::kBroken;  // RDATA is bounded by RDLENGTH: the record is left out, no more
    }
    ++*c.names_decoded;
  }
  ByteReader* p = &r;  // becomes a jump reader after the first pointer; r is then done
  ByteReader jumped;
  size_t targets[kMaxPointerHops];
  int hops = 0;
  size_t wire = 1;  // the terminating zero
  bool invalid = false;
  // Past the first pointer, r already stands after the name: a failure there leaves the
  // message in step. In place, only a name that is merely too long can be walked to its end.
  const auto fail = [&](const char* anomaly) {
    c.an->add(anomaly);
    return p == &r ? Name::kBroken : Name::kInvalid;
  };
  for (;;) {
    if (!p->has(1)) return fail("dns_truncated_name");
    const uint8_t l = p->u8();
    if (l == 0) {
      if (invalid) return Name::kInvalid;
      if (out) out->append(text, size_t(o - text));
      return Name::kOk;
    }
    const uint8_t kind = l & 0xC0;
    if (kind == 0xC0) {
      if (!p->has(1)) return fail("dns_truncated_name");
      const size_t target = size_t(l & 0x3F) << 8 | p->u8();
      const bool in_place = p == &r;
      if (target >= c.len) {
        c.an->add("dns_bad_pointer");
        return Name::kInvalid;  // both pointer bytes were read: r is past the name
      }
      if (!out || invalid) return in_place && !invalid ? Name::kOk : Name::kInvalid;
      // A target seen before in this name means the pointers go round in a circle
      // (tcpdump's dns-zlip capture); a long non-circular chain is cut by the hop cap.
      for (int i = 0; i < hops; i++) {
        if (targets[i] == target) {
          c.an->add("dns_compression_loop");
          return Name::kInvalid;
        }
      }
      if (hops == kMaxPointerHops) {
        c.an->add("dns_compression_hops_cap");
        return Name::kInvalid;
      }
      targets[hops++] = target;
      jumped = ByteReader(c.msg, c.len);
      jumped.skip(target);
      p = &jumped;
      continue;
    }
    if (kind != 0) {
      // 0x40 (RFC 2673 binary labels, deprecated by RFC 6891) and 0x80 (reserved).
      return fail("dns_bad_label_type");
    }
    if (!p->has(l)) return fail("dns_truncated_name");
    wire += 1 + l;
    if (wire > kMaxNameWireLen && !invalid) {
      c.an->add("dns_name_too_long");
      if (p != &r) return Name::kInvalid;
      invalid = true;  // walk on to the end of its in-place bytes, building no text
    }
    if (out && !invalid) {
      // Room: the wire check above keeps the text within kMaxNameText (see there).
      if (o != text) *o++ = '.';
      const uint8_t* b = p->cur();
      for (size_t i = 0; i < l; i++) {
        const uint8_t ch = b[i];
        if (ch > 0x20 && ch < 0x7F && ch != '.' && ch != '\\') *o++ = char(ch);  // letters, digits, '-'
        else o = put_label_byte(o, ch);
      }
    }
    p->skip(l);
  }
}

const char* type_name(uint16_t t) {
  switch (t) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 13: return "HINFO";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 29: return "LOC";
    case 33: return "SRV";
    case 35: return "NAPTR";
    case 39: return "DNAME";
    case 41: return "OPT";
    case 43: return "DS";
    case 46: return "RRSIG";
    case 47: return "NSEC";
    case 48: return "DNSKEY";
    case 50: return "NSEC3";
    case 52: return "TLSA";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 99: return "SPF";
    case 257: return "CAA";
    default: return nullptr;
  }
}

void append_u(std::string& out, uint64_t v) {
  char b[20];
  out.append(b, size_t(std::to_chars(b, b + sizeof b, v).ptr - b));
}

// A <character-string> (RFC 1035 §3.3) in quotes, with '"' and '\' escaped and anything
// outside printable ASCII as \DDD.
bool append_char_string(std::string& out, ByteReader& rd) {
  const uint8_t n = rd.u8();
  if (!rd.has(n)) return false;
  out += '"';
  const uint8_t* b = rd.cur();
  for (size_t i = 0; i < n; i++) {
    const uint8_t ch = b[i];
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += char(ch);
    } else if (ch < 0x20 || ch > 0x7E) {
      append_label_byte(out, ch);
    } else {
      out += char(ch);
    }
  }
  out += '"';
  rd.skip(n);
  return rd.ok();
}

// Appends one answer's RDATA in presentation form after "TYPE ". rdata is a reader over
// exactly the record's RDLENGTH bytes; names inside may point anywhere earlier in the
// message. Returns false when the RDATA does not fit its type (the caller names it, and takes
// back whatever was appended).
bool append_rdata(const NameCtx& c, uint16_t type, ByteReader rd, std::string& out) {
  switch (type) {
    case 1: {  // A
      if (rd.size() != 4) return false;
      append_ipv4(out, rd.cur());
      return true;
    }
    case 28: {  // AAAA: RFC 5952 text
      if (rd.size() != 16) return false;
      append_ipv6(out, rd.cur());
      return true;
    }
    case 2:    // NS
    case 5:    // CNAME
    case 12:   // PTR
    case 39:   // DNAME
      return read_name(c, rd, &out) == Name::kOk && rd.remaining() == 0;
    case 15: {  // MX: preference, exchange
      const uint16_t pref = rd.be16();
      if (!rd.ok()) return false;
      append_u(out, pref);
      out += ' ';
      return read_name(c, rd, &out) == Name::kOk && rd.remaining() == 0;
    }
    case 33: {  // SRV: priority, weight, port, target
      const uint16_t prio = rd.be16(), weight = rd.be16(), port = rd.be16();
      if (!rd.ok()) return false;
      append_u(out, prio);
      out += ' ';
      append_u(out, weight);
      out += ' ';
      append_u(out, port);
      out += ' ';
      return read_name(c, rd, &out) == Name::kOk && rd.remaining() == 0;
    }
    case 6: {  // SOA: mname rname serial refresh retry expire minimum
      if (read_name(c, rd, &out) != Name::kOk) return false;
      out += ' ';
      if (read_name(c, rd, &out) != Name::kOk) return false;
      uint32_t v[5];
      for (auto& x : v) x = rd.be32();
      if (!rd.ok() || rd.remaining() != 0) return false;
      for (uint32_t x : v) {
        out += ' ';
        append_u(out, x);
      }
      return true;
    }
    case 16:   // TXT, SPF: one or more character-strings
    case 99: {
      if (rd.size() == 0) return false;
      bool first = true;
      while (rd.remaining() > 0) {
        if (out.size() > kMaxResponseText) break;  // the rest would be cut anyway
        if (!first) out += ' ';
        first = false;
        if (!append_char_string(out, rd)) return false;
      }
      return true;
    }
    default: {  // RFC 3597 generic form, at most 32 bytes shown
      static const char* hex = "0123456789abcdef";
      out += "\\# ";
      append_u(out, rd.size());
      if (rd.size()) out += ' ';
      const size_t n = rd.size() < 32 ? rd.size() : 32;
      const uint8_t* b = rd.cur();
      for (size_t i = 0; i < n; i++) {
        out += hex[b[i] >> 4];
        out += hex[b[i] & 15];
      }
      if (n < rd.size()) out += "...";
      return true;
    }
  }
}

}  // namespace

// NetBIOS-NS (RFC 1002) shares DNS's wire format but is another protocol (nDPI's NETBIOS).
// Its first name (the question, or the first record's owner when there is none) is one
// 32-byte label in the first-level encoding, letters 'A'..'P'. On its own port 137 a 32-byte
// first label is enough (damaged NetBIOS names are still NetBIOS, not DNS).
bool netbios_shaped(const uint8_t* data, size_t len, bool port137) {
  ByteReader r(data, len);
  r.skip(kHeaderLen);
  if (r.u8() != 32 || !r.has(32)) return false;
  if (port137) return true;
  for (size_t i = 0; i < 32; i++)
    if (r.cur()[i] < 'A' || r.cur()[i] > 'P') return false;
  return true;
}

Message& scratch_message() {
  thread_local Message m;
  m.reset();
  return m;
}

bool parse_message(const uint8_t* data, size_t len, Message& m, Anomalies& an) {
  ByteReader r(data, len);
  if (len < kHeaderLen) {
    an.add("dns_truncated_header");
    return false;
  }
  m.id = r.be16();
  const uint16_t flags = r.be16();
  m.qr = flags & 0x8000;
  m.opcode = uint8_t(flags >> 11 & 0xF);
  m.aa = flags & 0x0400;
  m.tc = flags & 0x0200;
  m.rd = flags & 0x0100;
  m.ra = flags & 0x0080;
  m.z = flags & 0x0040;
  m.rcode = uint8_t(flags & 0xF);
  m.qdcount = r.be16();
  m.ancount = r.be16();
  m.nscount = r.be16();
  m.arcount = r.be16();
  m.header_ok = true;

  const NameCtx c{data, len, &an, &m.names_decoded};
  // Questions: the first is decoded (DNS_QUERY), the others only walked. Each walk consumes
  // at least 5 bytes, so an absurd QDCOUNT ends at the end of the message.
  for (uint32_t i = 0; i < m.qdcount; i++) {
    const Name nr = read_name(c, r, i == 0 ? &m.qname : nullptr);
    if (nr == Name::kBroken) return true;
    if (!r.has(4)) {
      an.add("dns_truncated_question");
      return true;
    }
    const uint16_t qtype = r.be16(), qclass = r.be16();
    if (i == 0 && nr == Name::kOk) {  // (a bad name left no text: read_name appends only kOk)
      m.qtype = qtype;
      m.qclass = qclass;
      m.has_question = true;
    }
  }
  m.questions_done = true;

  // Records: answers are rendered, authority and additional only walked.
  uint32_t first_any_ttl = 0;
  bool have_any_ttl = false, have_addr_ttl = false;
  const uint32_t total = uint32_t(m.ancount) + m.nscount + m.arcount;
  bool cut_short = false;  // the records end early: what was read is still kept
  // One record's RDATA anomalies (see below), emptied per record: made once, as building one
  // zeroes its 16 names.
  Anomalies rdata_an;
  const NameCtx rc{data, len, &rdata_an, &m.names_decoded};
  for (uint32_t i = 0; i < total; i++) {
    const bool answer = i < m.ancount;
    if (read_name(c, r, nullptr) == Name::kBroken) {
      cut_short = true;
      break;
    }
    if (!r.has(10)) {
      an.add("dns_truncated_rr");
      cut_short = true;
      break;
    }
    const uint16_t type = r.be16();
    r.skip(2);  // class
    const uint32_t ttl = r.be32();
    const uint16_t rdlen = r.be16();
    if (!r.has(rdlen)) {
      an.add("dns_truncated_rr");
      cut_short = true;
      break;
    }
    ByteReader rd = r.sub(rdlen);
    if (!answer) continue;
    m.answers_parsed++;
    if (!have_any_ttl) {
      first_any_ttl = ttl;
      have_any_ttl = true;
    }
    if (!have_addr_ttl && (type == 1 || type == 28)) {
      m.ttl = ttl;
      have_addr_ttl = true;
    }
    if (m.response.size() >= kMaxResponseText) continue;
    const size_t mark = m.response.size();
    // ",TYPE " is put together here and appended at once (three string calls per answer
    // before, one of them a strlen).
    char lead[16];  // ',' + "TYPE65535" + ' ' at most
    size_t k = 0;
    if (!m.response.empty()) lead[k++] = ',';
    if (const char* tn = type_name(type)) {
      const size_t n = std::strlen(tn);  // a literal of at most 6
      std::memcpy(lead + k, tn, n);
      k += n;
    } else {
      std::memcpy(lead + k, "TYPE", 4);
      k = size_t(std::to_chars(lead + k + 4, lead + sizeof lead, type).ptr - lead);
    }
    lead[k++] = ' ';
    m.response.append(lead, k);
    // A name cut by RDLENGTH is bad RDATA, not a truncated message: RDLENGTH keeps the parser
    // in step, so only this record's text is dropped.
    rdata_an.n = 0;
    if (!append_rdata(rc, type, rd, m.response)) {
      // A compression problem or the names cap is named as such; anything else (a wrong
      // length for the type, a name running past RDLENGTH) is bad RDATA.
      bool named = false;
      for (int k = 0; k < rdata_an.n; k++) {
        if (std::strcmp(rdata_an.names[k], "dns_truncated_name") == 0) continue;
        an.add(rdata_an.names[k]);
        named = true;
      }
      if (!named) an.add("dns_bad_rdata");
      m.response.resize(mark);
    }
  }
  // One record may have pushed the text past the limit (a 64 KiB TXT): keep the bound. The
  // text is ASCII (names and strings are escaped), so a byte cut splits no character.
  if (m.response.size() > kMaxResponseText) m.response.resize(kMaxResponseText);
  if (have_any_ttl && !have_addr_ttl) m.ttl = first_any_ttl;
  m.has_ttl = have_any_ttl;
  m.complete = !cut_short;
  if (m.complete) m.used = r.pos();
  return true;
}

namespace {
// The probe's parse, kept for the dissector: the engine probes a flow's first datagram and,
// when the probe says DNS, hands that same datagram to the new dissector at once. A DNS flow
// is mostly one query and one response, so parsing the query a second time there was a third
// of the DNS work. Kept only when the probe says DNS (parse_message succeeded), keyed by a
// copy of the bytes (a parse depends on nothing else), so an entry can never stand for
// another message; datagrams over kMaxBytes are not kept.
struct ProbeMemo {
  static constexpr size_t kMaxBytes = 512;  // RFC 1035's UDP size: nearly every query
  uint8_t bytes[kMaxBytes];
  size_t len = 0;  // 0: nothing kept
  Message m;
  Anomalies an;
};
// Out of line: inlined, GCC fetched the thread-local's address again (a __tls_get_addr call,
// as the addon is a shared library) after every call in looks_like_dns(), seven per probe.
[[gnu::noinline]] ProbeMemo& probe_memo() {
  thread_local ProbeMemo p;
  return p;
}

// parse_message(), or what the probe found in the same bytes (taken: used once).
bool parse_or_recall(const uint8_t* data, size_t len, const Message*& out, Anomalies& an) {
  ProbeMemo& pm = probe_memo();
  if (pm.len != 0 && pm.len == len && std::memcmp(pm.bytes, data, len) == 0) {
    pm.len = 0;
    out = &pm.m;
    an = pm.an;
    return true;
  }
  Message& m = scratch_message();
  out = &m;
  return parse_message(data, len, m, an);
}
}  // namespace

bool looks_like_dns(const uint8_t* data, size_t len, bool port137) {
  ProbeMemo& pm = probe_memo();
  pm.len = 0;
  pm.m.reset();
  pm.an = Anomalies{};
  const Message& m = pm.m;
  const Anomalies& an = pm.an;
  if (!parse_message(data, len, pm.m, pm.an)) return false;
  if (netbios_shaped(data, len, port137)) return false;
  // RFC 1035 keeps Z zero; opcodes in use: QUERY, STATUS, NOTIFY (RFC 1996), UPDATE (RFC 2136).
  if (m.z) return false;
  if (m.opcode != 0 && m.opcode != 2 && m.opcode != 4 && m.opcode != 5) return false;
  if (!m.qr) {
    // A query asks something and carries no error code.
    if (m.rcode != 0 || m.qdcount == 0) return false;
  } else if (uint32_t(m.qdcount) + m.ancount + m.nscount + m.arcount == 0) {
    // A bare 12-byte "response" says nothing; too easy to match by accident.
    return false;
  }
  if (m.qdcount > 0) {
    if (!m.has_question) return false;
    // Classes in use (the top bit is mDNS's unicast-response / cache-flush bit, RFC 6762).
    const uint16_t cls = m.qclass & 0x7FFF;
    if (cls != 1 && cls != 3 && cls != 4 && cls != 254 && cls != 255) return false;
  }
  // Invalid values anywhere reject; a message cut short by the capture after its question
  // section is still DNS.
  for (int i = 0; i < an.n; i++) {
    if (std::strncmp(an.names[i], "dns_truncated_", 14) != 0) return false;
    if (!m.questions_done) return false;
  }
  if (len <= ProbeMemo::kMaxBytes) {  // the dissector takes this datagram next (see ProbeMemo)
    std::memcpy(pm.bytes, data, len);
    pm.len = len;
  }
  return true;
}

namespace {
// The text is escaped ASCII (names, \DDD), so a byte cut never splits a character.
std::string_view cut(std::string_view s) { return s.substr(0, dissect_limits::kMaxFieldBytes); }

}  // namespace

bool Transactions::same_question(const Transaction& t, const Message& m) const {
  return t.has_question && m.has_question && t.qtype == m.qtype && same_name(qname(t), m.qname);
}

void Transactions::write(FieldWriter& w) const {
  if (client_version_) {
    // As text here, on the export side, rather than per flow on the capture thread.
    char b[kMaxIpv6Text + 1];
    const char* e = client_version_ == 4 ? put_ipv4(b, client_.b) : put_ipv6(b, client_.b);
    w.str("DNS_CLIENT", std::string_view(b, size_t(e - b)));
    // Filled in at export from --as-list / --city-list (src/geo.ts); these are the values
    // without databases, written here so the keys keep their place next to DNS_CLIENT.
    w.num("DNS_CLIENT_AS", 0);
    w.str("DNS_CLIENT_COUNTRY", "");
    w.str("DNS_CLIENT_CITY", "");
  }
  if (n_ == 0) return;
  const Transaction& t = first_;
  if (t.has_question) w.str("DNS_QUERY", qname(t));
  w.num("DNS_QUERY_ID", t.id);
  if (t.has_question) w.num("DNS_QUERY_TYPE", t.qtype);
  if (t.has_response) {
    w.num("DNS_RET_CODE", t.rcode);
    w.num("DNS_NUM_ANSWERS", t.num_answers);
    w.num("DNS_TTL_ANSWER", t.ttl);
    w.str("DNS_RESPONSE", response(t));
  }
  JsonWriter j;
  j.begin_array();
  for (size_t i = 0; i < n_; i++) {
    const Transaction& x = at(i);
    j.begin_object();
    if (x.has_question) j.kv("DNS_QUERY", cut(qname(x)));
    j.kv("DNS_QUERY_ID", uint64_t(x.id));
    if (x.has_question) j.kv("DNS_QUERY_TYPE", uint64_t(x.qtype));
    if (x.has_response) {
      j.kv("DNS_RET_CODE", uint64_t(x.rcode));
      j.kv("DNS_NUM_ANSWERS", uint64_t(x.num_answers));
      j.kv("DNS_TTL_ANSWER", uint64_t(x.ttl));
      j.kv("DNS_RESPONSE", cut(response(x)));
    }
    j.end_object();
  }
  j.end_array();
  w.json("DNS_TRANSACTIONS", j.str());
}

void Transactions::set_client(const IpAddr& a, uint8_t ip_version) {
  if (ip_version != 4 && ip_version != 6) return;
  client_ = a;
  client_version_ = ip_version;
}

bool Transactions::done() const {
  if (!cap_hit_ && !text_cap_hit_) return false;
  for (size_t i = 0; i < n_; i++)
    if (!at(i).has_response) return false;
  return true;
}

void Transactions::add(const Message& m, Dissector& d) {
  if (m.qr)
    on_response(m, d);
  else
    on_query(m, d);
}

Transaction* Transactions::open(Dissector& d) {
  if (n_ >= dissect_limits::kMaxTransactions) {
    if (!cap_hit_) d.anomaly("dns_transactions_cap");
    cap_hit_ = true;
    return nullptr;
  }
  if (text_.size() >= kMaxFlowTextBytes) {
    if (!text_cap_hit_) d.anomaly("dns_flow_text_cap");
    text_cap_hit_ = true;
    return nullptr;
  }
  if (n_++ == 0) return &first_;
  more_.emplace_back();
  return &more_.back();
}

uint32_t Transactions::keep(const std::string& s) {
  const uint32_t at = uint32_t(text_.size());
  text_.append(s);
  return at;
}

void Transactions::on_query(const Message& m, Dissector& d) {
  // A retransmission (same id and question, still unanswered) is the same transaction.
  for (size_t i = 0; i < n_; i++) {
    const Transaction& t = at(i);
    if (t.has_query && !t.has_response && t.id == m.id && same_question(t, m)) return;
  }
  Transaction* t = open(d);
  if (!t) return;
  t->id = m.id;
  t->has_query = true;
  take_question(*t, m);
}

void Transactions::on_response(const Message& m, Dissector& d) {
  Transaction* t = nullptr;
  for (size_t i = 0; i < n_; i++) {
    Transaction& x = at(i);
    // Match the oldest open query with this id and question; a response that repeats no
    // question (QDCOUNT 0, or cut short) matches by id alone.
    if (x.has_query && !x.has_response && x.id == m.id && (!m.has_question || same_question(x, m))) {
      t = &x;
      break;
    }
  }
  if (!t) {
    t = open(d);  // the query was not seen (or this repeats an answered one)
    if (!t) return;
    t->id = m.id;
    take_question(*t, m);
  }
  t->has_response = true;
  t->rcode = m.rcode;
  t->num_answers = m.ancount;
  t->ttl = m.ttl;
  t->response_at = keep(m.response);
  t->response_len = uint32_t(m.response.size());
}

void Transactions::take_question(Transaction& t, const Message& m) {
  if (!m.has_question) return;
  t.has_question = true;
  t.qname_at = keep(m.qname);
  t.qname_len = uint32_t(m.qname.size());
  t.qtype = m.qtype;
}

}  // namespace dns

namespace {

class DnsDissector final : public Dissector {
 public:
  void on_payload(const PayloadCtx& c) override {
    const dns::Message* pm = nullptr;
    dns::Anomalies an;
    const bool ok = dns::parse_or_recall(c.data, c.len, pm, an);
    const dns::Message& m = *pm;
    for (int i = 0; i < an.n; i++) anomaly(an.names[i]);
    if (!ok) return;
    // The DNS client is whoever asks: the sender of a query, the receiver of a response.
    if (!log_.has_client() && c.pkt) log_.set_client(m.qr ? c.pkt->dst : c.pkt->src, c.pkt->ip_version);
    log_.add(m, *this);
  }

  void on_export(FieldWriter& w) override { log_.write(w); }

  uint16_t l7_proto() const override { return l7::kDns; }

 private:
  dns::Transactions log_;
};

bool hint(uint16_t s, uint16_t d) { return s == 53 || d == 53 || s == 5353 || d == 5353; }

bool probe(const uint8_t* data, uint32_t len, uint16_t s, uint16_t d) {
  return dns::looks_like_dns(data, len, s == 137 || d == 137);
}

std::unique_ptr<Dissector> create() { return std::make_unique<DnsDissector>(); }

}  // namespace

extern const DissectorInfo kDnsInfo{"DNS", l7::kDns, 17, hint, probe, create};

}  // namespace nprobe
