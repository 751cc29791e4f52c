// The capture engine: owns the libpcap handle and the capture thread, which decodes every
// packet, keeps the flow table and puts finished flows in a bounded queue. JS is woken by
// a payload-less signal and drains the queue in batches ("signal, then drain", DESIGN.md §2).
// File mode: a reader thread (file_reader.h) reads the file ahead of the capture thread; the
// capture thread waits while the queue is full (nothing lost, deterministic).
// Live mode: it never waits; a full queue drops the record and counts it.
#pragma once
#include <pcap/pcap.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../decode/decoder.h"
#include "../dissect/dissector.h"
#include "../flow/flow_record.h"
#include "../flow/flow_table.h"
#include "../util/anomalies.h"
#include "../util/limits.h"
#include "../util/thread_cpu.h"
#include "expectations.h"
#include "file_reader.h"
#include "intercept.h"
#include "nfqueue.h"

namespace nprobe {

struct EngineConfig {
  std::string source;       // file path or interface name
  bool is_file = true;
  std::string filter;       // BPF expression, may be empty
  int snaplen = 65535;
  bool promisc = true;
  uint32_t max_flows = 524288;
  uint64_t idle_us = 30'000'000;
  uint64_t active_us = 120'000'000;
  size_t queue_records = 16384;
  bool original_speed = false;
  bool dissect = true;      // run the L7 dissectors (off: flows only)
  DissectorOptions dissector_options;  // what the user allows them (--ftp-credentials)
  // The connection hook (intercept.h; set before start() by configure_intercept).
  bool intercept = false;
  uint8_t intercept_default = verdict::kCheck;   // when the queue of pending connections is full (live)
  uint64_t intercept_timeout_us = 1000000;       // JS answers within this; live adds kInterceptGraceUs
  bool intercept_rst = false;                    // passive live capture: answer reject with resets
  bool queue_bypass = false;                     // NFQUEUE: the kernel accepts when nobody listens
  size_t max_pending = limits::kDefaultMaxPendingConns;
};

// A one-line, user-facing error (bad file, bad filter, unknown interface, ...).
struct CaptureError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct EngineStats {
  uint64_t packets, wire_bytes, ip_packets, non_ip, undecodable, fragments, reassembled,
      frag_unattributed, tunneled;
  uint64_t flows_created, flows_active, flows_exported, flows_evicted, queue_drops, queue_depth;
  uint64_t queue_drop_packets;  // packets of the flows in queue_drops
  uint64_t kernel_recv, kernel_drop, kernel_ifdrop;
  bool kernel_stats_valid;
  uint64_t file_size, file_pos;
  uint64_t frag_in_flight, frag_bytes, table_bytes;
  uint64_t capture_cpu_us;  // CPU time of the capture thread so far
  uint64_t reader_cpu_us;   // and of the file reader's thread (file mode)
  const char* file_reader = "";  // file mode: how records are read ("block" or "libpcap"), else ""
  uint64_t first_ts_us, last_ts_us;
  uint64_t anomalies[kAnomalyCount];
  uint64_t tcp_retransmissions, tcp_gaps, tcp_gap_bytes;
  std::vector<std::pair<std::string, uint64_t>> dissector_anomalies;
  bool running, done;
  // connection hook
  uint64_t icpt_conns, icpt_pending, icpt_full_defaults, icpt_native_timeouts, icpt_export_defaults;
  uint64_t icpt_applied[5];  // by verdict code, as the flows got them
  uint64_t icpt_rst_sent, icpt_rst_failed;
  uint64_t nf_accepted, nf_dropped, nf_kernel_drops;
  bool nfqueue;
};

// The queue of finished flows: a ring of records, moved in and out in place, that grows by
// doubling and never shrinks (Engine keeps it within EngineConfig::queue_records). A
// std::deque allocated a block for every two records (a FlowRecord is ~200 bytes) on the
// capture thread, and freed it when JS drained them.
class RecordRing {
 public:
  RecordRing() = default;
  RecordRing(const RecordRing&) = delete;
  RecordRing& operator=(const RecordRing&) = delete;
  ~RecordRing() {
    while (n_) pop_front();
  }
  bool empty() const { return n_ == 0; }
  size_t size() const { return n_; }
  FlowRecord& front() { return *at(head_); }
  void pop_front() {
    at(head_)->~FlowRecord();
    head_ = (head_ + 1) & (cap_ - 1);
    n_--;
  }
  void push_back(FlowRecord&& r) {
    if (n_ == cap_) grow();
    new (at((head_ + n_) & (cap_ - 1))) FlowRecord(std::move(r));
    n_++;
  }

 private:
  struct alignas(FlowRecord) Slot {
    unsigned char bytes[sizeof(FlowRecord)];
  };
  FlowRecord* at(size_t i) { return std::launder(reinterpret_cast<FlowRecord*>(slots_[i].bytes)); }
  void grow() {
    const size_t cap = cap_ ? cap_ * 2 : 64;  // a power of two
    std::unique_ptr<Slot[]> b(new Slot[cap]);
    for (size_t i = 0; i < n_; i++) {
      FlowRecord* from = at((head_ + i) & (cap_ - 1));
      new (b[i].bytes) FlowRecord(std::move(*from));
      from->~FlowRecord();
    }
    slots_ = std::move(b);
    cap_ = cap;
    head_ = 0;
  }
  std::unique_ptr<Slot[]> slots_;
  size_t cap_ = 0, head_ = 0, n_ = 0;
};

class Engine final : public PacketSink {
 public:
  explicit Engine(EngineConfig cfg);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void open();  // throws CaptureError
  void start(std::function<void()> notify, std::function<void()> on_exit);
  void stop();
  void abort();  // stop without waiting for JS to drain (second signal)
  // Moves up to max finished flows out of the queue (never blocks). Clears the signal first.
  size_t read_batch(std::vector<FlowRecord>& out, size_t max);
  // Appends the dissector fields of a record read_batch() returned to out (on the reading
  // thread), in the ext encoding (FieldWriter), and hands the dissector back to be freed.
  void finish_record(FlowRecord& r, std::vector<uint8_t>& out);
  void join();
  EngineStats stats() const;
  // Connection hook. Before start(): turns it on. From JS at any time: drain new connections
  // (clears their signal first), hand verdicts back (applied by the capture thread).
  void configure_intercept(bool on, uint8_t default_verdict, uint64_t timeout_us, bool rst);
  size_t read_conns(std::vector<ConnEvent>& out, size_t max);
  void set_verdicts(const std::vector<std::pair<uint64_t, uint8_t>>& v);
  bool done() const { return done_.load(); }

  int linktype() const { return linktype_; }
  std::string linktype_name() const;
  std::string warning() const;  // set when a file ends with a read error (cut short)

 private:
  void on_packet(Packet& p) override;
  void run();
  void run_file();
  void run_live();
  void handle_frame(const pcap_pkthdr* hdr, const u_char* data);
  void wake();
  void signal();  // wakes JS to drain the queue, unless a wake-up is already pending
  void export_flow(Flow& f, EndReason why);
  void dissect(Flow& f, const Packet& p, int dir);
  void tcp_segment(Flow& f, const Packet& p, int dir);
  void tcp_segment_general(Flow& f, const Packet& p, int dir);
  void to_dissector(Flow& f, int dir, const uint8_t* data, uint32_t n, const Packet* p);
  void stream_data(Flow& f, int dir, const uint8_t* data, uint32_t n, const Packet* p);
  void stream_gap(Flow& f, int dir, uint64_t n);
  void release_tcp(Flow& f);
  void collect_expectations(Flow& f);
  bool match_expectation(Flow& f, const Packet& p);
  friend struct StreamSink;
  void tick(uint64_t now_us);
  void bury_dissectors();  // capture thread: frees the dissectors finish_record() handed back
  void refresh_io_stats();
  uint64_t wall_us() const;
  // connection hook (capture thread)
  void begin_intercept(Flow& f, uint32_t idx, const Packet& p);
  void hold(Flow& f, const Packet& p, int dir);
  void apply_verdicts();
  void apply_verdict(Flow& f, uint8_t v);
  void resolve_before_export(Flow& f);
  void wait_for_verdicts();
  void signal_conns();
  void sweep_pending(uint64_t wall);
  void nf_decide(Flow& f, const Packet& p, int dir);
  void reset_client_inline(const Flow& f, const SegmentSeen& client_seg);
  void resets_passive(const Flow& f, const SegmentSeen& s, int dir);
  void run_nfqueue();
  void on_nf_packet(const NfPacket& np);

  EngineConfig cfg_;
  pcap_t* pcap_ = nullptr;
  std::vector<char> file_buf_;  // stdio buffer of the file libpcap reads: must outlive the pcap handle
  std::unique_ptr<FileReader> reader_;  // file mode: reads ahead on its own thread
  int linktype_ = -1;
  AnomalyCounters anomalies_;
  DissectorAnomalyCounts dissector_anomalies_;
  DecodeCounters dc_;
  std::unique_ptr<FlowTable> table_;
  std::unique_ptr<Decoder> decoder_;

  std::thread thread_;
  std::function<void()> notify_, on_exit_;
  std::atomic<bool> stop_{false}, abort_{false}, running_{false}, done_{false};
  std::atomic<bool> signal_pending_{false};

  mutable std::mutex mu_;
  std::mutex gmu_;
  std::vector<Dissector*> graveyard_;  // finished dissectors for the capture thread to free
  std::condition_variable not_full_;
  RecordRing queue_;
  std::string warning_;

  // capture-thread state
  uint64_t now_us_ = 0;
  uint64_t last_frame_ts_ = 0;
  uint64_t last_outer_flow_id_ = 0;
  uint32_t last_outer_idx_ = UINT32_MAX;  // table index of the flow the last outer packet went to
  uint64_t frames_ = 0;
  size_t signal_batch_ = 1;  // queued flows that wake JS: min(kSignalBatchRecords, half the queue)
  std::atomic<uint64_t> last_signal_us_{0};  // wall clock of the last wake-up of JS (tick() spaces them)
  uint64_t replay_wall0_ = 0, replay_ts0_ = 0;
  int wake_fd_ = -1;  // eventfd that wakes the live capture's poll() on stop

  // counters read by stats()
  std::atomic<uint64_t> flows_created_{0}, flows_active_{0}, flows_exported_{0}, flows_evicted_{0},
      queue_drops_{0}, queue_drop_packets_{0}, kernel_recv_{0}, kernel_drop_{0}, kernel_ifdrop_{0}, file_size_{0},
      file_pos_{0}, frag_in_flight_{0}, frag_bytes_{0}, table_bytes_{0}, first_ts_{0}, last_ts_{0};
  std::atomic<bool> kernel_stats_valid_{false};
  ThreadCpu capture_cpu_;  // the capture thread's CPU time
  std::atomic<uint64_t> tcp_retransmissions_{0}, tcp_gaps_{0}, tcp_gap_bytes_{0};
  uint64_t reasm_waiting_ = 0;  // out-of-order bytes held over all flows (capture thread)
  bool have_tcp_dissectors_ = false;
  // dissectors() split by transport once (list order kept): the probe loops run per new flow
  // and skipped the other transport's entries one by one.
  std::vector<const DissectorInfo*> udp_probes_, tcp_probes_;
  ExpectationTable expected_;  // announced connections (FTP data), by endpoint and scope

  // Connection hook. pending_ and held_bytes_ belong to the capture thread; conns_ and
  // inbox_ are shared with JS under imu_.
  std::unordered_map<uint64_t, uint32_t> pending_;  // flow id -> table index
  size_t held_bytes_ = 0;
  LocalAddrs local_;
  RawSender raw_;
  std::unique_ptr<NfQueue> nfq_;
  int nfq_num_ = -1;
  bpf_program nf_filter_{};
  bool nf_has_filter_ = false;
  const NfPacket* nf_cur_ = nullptr;  // the NFQUEUE packet being handled
  enum class NfAction : uint8_t { kAccept, kDrop, kHold } nf_action_ = NfAction::kAccept;
  mutable std::mutex imu_;
  std::condition_variable icv_;
  std::deque<ConnEvent> conns_;
  std::vector<std::pair<uint64_t, uint8_t>> inbox_;
  std::atomic<bool> inbox_ready_{false}, conn_signal_pending_{false};
  std::atomic<uint64_t> icpt_conns_{0}, icpt_pending_{0}, icpt_full_defaults_{0}, icpt_native_timeouts_{0},
      icpt_export_defaults_{0}, icpt_rst_sent_{0}, icpt_rst_failed_{0}, nf_accepted_{0}, nf_dropped_{0},
      nf_kernel_drops_{0};
  std::atomic<uint64_t> icpt_applied_[5] = {};
};

}  // namespace nprobe
