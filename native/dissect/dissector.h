// The dissector interface (DESIGN.md §2, §6). A dissector sees one flow's payloads in order,
// keeps bounded state, and at export writes its fields (nProbe element names) into the
// record's variable part. Detection is by payload: probe() must recognise the protocol from
// bytes alone; ports only decide which probes run first.
//
// Adding a protocol: a dissector file here (native/dissect/<proto>.{h,cc}), one line in
// list.cc, a plugin file in plugins/ with its field table, a test folder.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../decode/packet.h"
#include "../util/json_writer.h"

namespace nprobe {

// nDPI protocol ids (ndpi_protocol_ids.h), which L7_PROTO carries.
namespace l7 {
inline constexpr uint16_t kUnknown = 0, kFtpControl = 1, kPop3 = 2, kSmtp = 3, kImap = 4, kDns = 5,
                          kHttp = 7, kDhcp = 18, kSip = 100, kDhcpv6 = 103, kRadius = 146, kGtp = 152,
                          kFtpData = 175, kGtpU = 271, kGtpC = 272, kGtpPrime = 273;
}

// Caps shared by every dissector (each dissector may have stricter ones of its own).
namespace dissect_limits {
inline constexpr size_t kMaxFieldBytes = 1024;       // one string field, after which it is cut
inline constexpr size_t kMaxTransactions = 64;       // <PROTO>_TRANSACTIONS entries per flow
inline constexpr size_t kMaxFlowAnomalies = 16;      // distinct anomaly names kept per flow
inline constexpr uint32_t kMaxProbePackets = 8;      // payload packets tried before giving up
}

// Writes a record's variable part: a sequence of
//   u8 type (1 number, 2 string, 3 JSON text) | u16 name length | name | u32 value length | value
// (numbers as 8-byte little-endian doubles). src/record.ts decodes it.
//
// The fields reach `out` when the writer goes out of scope (or at flush()): they are staged
// in the writer (on the stack) and appended in one copy. Growing the vector field by field
// went through std::vector::resize, which zero-fills every byte before it is written (~7% of
// the thread that exports the records). A field larger than the stage goes straight to `out`.
class FieldWriter {
 public:
  explicit FieldWriter(std::vector<uint8_t>& out) : out_(out) {}
  ~FieldWriter() { flush(); }
  FieldWriter(const FieldWriter&) = delete;
  FieldWriter& operator=(const FieldWriter&) = delete;

  void num(std::string_view name, double v) {
    std::memcpy(head(1, name, 8), &v, 8);  // little-endian hosts only (x86-64, arm64)
  }
  // Cut at kMaxFieldBytes (UTF-8 safe); invalid UTF-8 cleaned as JsonWriter does. A short
  // ASCII value (most) is written here, inline, where a literal name's copy has a size known
  // at compile time; the rest in str_long().
  void str(std::string_view name, std::string_view v) {
    if (v.size() <= kInlineStr && short_ascii(v)) {
      uint8_t* p = head(2, name, uint32_t(v.size()));
      if (!v.empty()) std::memcpy(p, v.data(), v.size());
      return;
    }
    str_long(name, v);
  }
  void json(std::string_view name, std::string_view json_text);
  // Writes a number only when non-zero and a string only when non-empty (optional fields).
  void num_if(std::string_view name, double v) { if (v != 0) num(name, v); }
  void str_if(std::string_view name, std::string_view v) { if (!v.empty()) str(name, v); }
  // Appends the staged fields to `out` (the destructor does it too).
  void flush() {
    if (n_) out_.insert(out_.end(), stage_, stage_ + n_);
    n_ = 0;
  }

 private:
  static constexpr size_t kStageBytes = 4096;
  // Writes a field's header and returns where its len value bytes go (the caller copies them
  // there before the next call).
  [[gnu::always_inline]] uint8_t* head(uint8_t type, std::string_view name, uint32_t len) {
    const size_t nl = std::min<size_t>(name.size(), 0xFFFF);
    const size_t need = 3 + nl + 4 + size_t(len);
    uint8_t* p;
    if (kStageBytes - n_ >= need) {
      p = stage_ + n_;
      n_ += need;
    } else {
      p = room_slow(need);
    }
    p[0] = type;
    p[1] = uint8_t(nl);
    p[2] = uint8_t(nl >> 8);
    if (nl) std::memcpy(p + 3, name.data(), nl);
    p += 3 + nl;
    p[0] = uint8_t(len);
    p[1] = uint8_t(len >> 8);
    p[2] = uint8_t(len >> 16);
    p[3] = uint8_t(len >> 24);
    return p + 4;
  }
  uint8_t* room_slow(size_t need);  // flushes, then stages, or writes into out_ when too large
  void str_long(std::string_view name, std::string_view v);

  static constexpr size_t kInlineStr = 64;
  // True when v (at most kInlineStr bytes) is ASCII: whole words, the last one overlapping.
  static bool short_ascii(std::string_view v) {
    constexpr uint64_t kHigh = 0x8080808080808080ull;
    const size_t n = v.size();
    uint64_t w, any = 0;
    if (n >= 8) {
      for (size_t i = 0; i + 8 < n; i += 8) {
        std::memcpy(&w, v.data() + i, 8);
        any |= w;
      }
      std::memcpy(&w, v.data() + n - 8, 8);
      return !((any | w) & kHigh);
    }
    for (size_t i = 0; i < n; i++) any |= static_cast<unsigned char>(v[i]);
    return !(any & 0x80);
  }

  std::vector<uint8_t>& out_;
  size_t n_ = 0;                 // bytes staged
  uint8_t stage_[kStageBytes];   // not zeroed: only the first n_ bytes are ever read
};

// Per-probe counters of dissector anomalies by name (read by stats()). The capture thread
// registers its probe's counters; count_anomaly() adds to the calling thread's.
class DissectorAnomalyCounts {
 public:
  void add(const char* name);
  std::vector<std::pair<std::string, uint64_t>> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint64_t> by_name_;
  // Anomaly names are string literals: each literal's counter is found by its address, so a
  // count costs no string built from the name (a malloc past 15 bytes) and no string hash.
  static constexpr size_t kMaxCachedNames = 1024;
  std::unordered_map<const char*, uint64_t*> by_ptr_;  // into by_name_ (nodes never move)
};
void set_thread_anomaly_counts(DissectorAnomalyCounts* c);
void count_anomaly(const char* name);

// Options the user gives the dissectors (EngineConfig::dissector_options). The capture thread
// sets its probe's options as it sets its anomaly counters; where none were set (the test
// binding without options, the fuzz harness) the defaults hold: everything off.
#define NPROBE_HAVE_DISSECTOR_OPTIONS 1
struct DissectorOptions {
  bool credentials = false;  // --ftp-credentials: export passwords (FTP_PASSWORD)
};
void set_thread_dissector_options(const DissectorOptions* o);  // nullptr: the defaults
const DissectorOptions& dissector_options();                   // the calling thread's

struct PayloadCtx {
  uint64_t ts_us;
  int dir;                  // 0: client -> server, 1: server -> client
  const uint8_t* data;      // transport payload as captured
  uint32_t len;
  const Packet* pkt;        // addresses, ports, VLAN of this packet (for TCP: the segment that
                            // completed this data, which may have been sent earlier)
};

// A connection a dissector announces (FTP's PASV/EPSV/PORT/EPRT): the next new TCP flow
// whose server endpoint is (addr, port) -- and whose client is `client`, when given -- is
// labelled l7 without probing and carries `field` = the announcing flow's FLOW_ID.
struct Expectation {
  IpAddr addr;              // server side of the expected connection
  uint16_t port;
  uint8_t ip_version;       // 4 or 6
  bool any_client;          // true: any client address
  IpAddr client;
  uint16_t l7;              // e.g. l7::kFtpData
  const char* field;        // string literal, e.g. "FTP_CONTROL_FLOW_ID"
};

class Dissector {
 public:
  virtual ~Dissector() = default;
  virtual void on_payload(const PayloadCtx& c) = 0;
  // Writes the flow's fields. Called once, right before export.
  virtual void on_export(FieldWriter& w) = 0;
  // The L7 id to export (a dissector may refine it, e.g. DHCP -> DHCPv6).
  virtual uint16_t l7_proto() const = 0;
  // TCP only: bytes of direction dir the capture does not have (the stream goes on after
  // them). A text dissector resyncs at the next line or gives up. The bytes held behind the
  // hole, if any, come right after this call, before any other payload of that direction.
  virtual void on_gap(int dir, uint64_t bytes) { (void)dir, (void)bytes; }
  // True when the dissector wants no more payload (e.g. after STARTTLS): the probe stops
  // reassembling the flow's streams.
  virtual bool finished() const { return false; }

  // Anomalies seen on this flow, by name; counted globally as well.
  void anomaly(const char* name);
  const std::vector<const char*>& anomalies() const { return anomalies_; }

  // Announces an expected connection; the engine collects it after on_payload returns
  // (16 at most per call; the engine's table holds limits::kMaxExpectations for 120 s).
  void expect(const Expectation& e) {
    if (expectations_.size() < 16) expectations_.push_back(e);
  }
  std::vector<Expectation>& pending_expectations() { return expectations_; }

  // Payload of stream direction dir (TCP) the dissector would only count (see skippable()):
  // true when the n bytes lie strictly inside what it declared, and are then counted off
  // here. The engine calls this before on_payload(), and skips on_payload() and finished()
  // (the dissector's state is unchanged but for that count) when it says true.
  bool skip_payload(int dir, uint32_t n) {
    Skip& s = skip_[dir & 1];
    if (n >= s.left) return false;
    s.left -= n;
    s.taken += n;
    return true;
  }

 protected:
  // The dissector's side of skip_payload(): from the next byte on, the next n bytes of stream
  // direction dir are of no interest (an HTTP body of known length), or 0. Most payloads of
  // an HTTP flow are body bytes; a virtual call into the dissector for each, just to count
  // them down, was most of their cost. The declaration stands until replaced, and the
  // dissector collects what the engine counted off with skipped() before it reads its own
  // count (on_payload(), on_gap(), on_export()).
  void skippable(int dir, uint64_t n) { skip_[dir & 1] = Skip{n, 0}; }
  uint64_t skipped(int dir) {
    const uint64_t t = skip_[dir & 1].taken;
    skip_[dir & 1].taken = 0;
    return t;
  }

 private:
  std::vector<const char*> anomalies_;
  std::vector<Expectation> expectations_;
  struct Skip {
    uint64_t left = 0;   // bytes still declared skippable
    uint64_t taken = 0;  // counted off by the engine, not yet collected
  };
  Skip skip_[2];
};

struct DissectorInfo {
  const char* name;        // "DNS"
  uint16_t l7_proto;       // nDPI id when detected
  uint8_t ip_proto;        // 17 (UDP) or 6 (TCP)
  // Ports that make this probe run first (a hint, never a verdict).
  bool (*port_hint)(uint16_t sport, uint16_t dport);
  // True when the payload (first payload of either direction) is this protocol.
  bool (*probe)(const uint8_t* data, uint32_t len, uint16_t sport, uint16_t dport);
  std::unique_ptr<Dissector> (*create)();
  // TCP dissectors: decides on the first bytes of both streams (client->server c2s,
  // server->client s2c, either may be empty): 1 = this protocol, 0 = need more, -1 = no.
  // (probe above is then unused: it may be a function that returns false.)
  int (*probe_stream)(const uint8_t* c2s, uint32_t c2s_len, const uint8_t* s2c, uint32_t s2c_len, uint16_t sport,
                      uint16_t dport) = nullptr;
};

// The registered dissectors (list.cc), in probe order for flows without a port hint.
const std::vector<const DissectorInfo*>& dissectors();
const DissectorInfo* find_dissector(std::string_view name);

}  // namespace nprobe
