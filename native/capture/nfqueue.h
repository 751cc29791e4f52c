// Inline capture from a netfilter queue (`-i nf:N`, nProbe's syntax) through
// libnetfilter_queue: the kernel hands over whole IP packets (linktype RAW), each waiting for
// a verdict (NF_ACCEPT / NF_DROP) that this side gives, at once or later by packet id.
// Only the capture thread touches the handle (receive, verdicts).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

struct nfq_handle;
struct nfq_q_handle;
struct nfgenmsg;
struct nfq_data;

namespace nprobe {

// One queued packet as the kernel describes it (nfnetlink_queue attributes).
struct NfPacket {
  uint32_t id = 0;
  uint8_t hook = 0;             // NF_INET_PRE_ROUTING 0, LOCAL_IN 1, FORWARD 2, LOCAL_OUT 3, POST_ROUTING 4
  uint32_t indev = 0, outdev = 0;  // interface indexes, 0 = none
  bool has_uid = false, has_gid = false;
  uint32_t uid = 0, gid = 0;
  uint64_t ts_us = 0;           // kernel timestamp if given, else the wall clock
  const uint8_t* data = nullptr;
  uint32_t len = 0;
};

class NfQueue {
 public:
  using Handler = std::function<void(const NfPacket&)>;
  ~NfQueue();
  // Parses "nf:N" (N 0..65535); -1 when `source` is not an NFQUEUE name.
  static int parse_source(const std::string& source);
  // Binds queue `num`; throws CaptureError with one line (queue in use, no permission).
  void open(int num, bool fail_open, Handler h);
  int fd() const;
  // Reads and handles what the socket has (non-blocking). Returns false on a fatal error
  // (message in err); kernel drops (ENOBUFS) are counted and reading goes on.
  bool receive(std::string& err);
  void verdict(uint32_t id, bool accept);
  uint64_t kernel_drops() const { return enobufs_; }
  uint64_t verdicts_accept() const { return accepted_; }
  uint64_t verdicts_drop() const { return dropped_; }

 private:
  static int on_packet(nfq_q_handle* qh, ::nfgenmsg* msg, ::nfq_data* nfa, void* self);
  nfq_handle* h_ = nullptr;
  nfq_q_handle* q_ = nullptr;
  Handler handler_;
  std::vector<char> buf_;
  uint64_t enobufs_ = 0, accepted_ = 0, dropped_ = 0;
};

}  // namespace nprobe
