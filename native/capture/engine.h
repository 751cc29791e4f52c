// The capture engine: owns the libpcap handle and the capture thread, which decodes every
// packet, keeps the flow table and puts finished flows in a bounded queue. JS is woken by
// a payload-less signal and drains the queue in batches ("signal, then drain", DESIGN.md §2).
// File mode: the thread waits while the queue is full (nothing lost, deterministic).
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
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../decode/decoder.h"
#include "../dissect/dissector.h"
#include "../flow/flow_record.h"
#include "../flow/flow_table.h"
#include "../util/anomalies.h"

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
};

// A one-line, user-facing error (bad file, bad filter, unknown interface, ...).
struct CaptureError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct EngineStats {
  uint64_t packets, wire_bytes, ip_packets, non_ip, undecodable, fragments, reassembled,
      frag_unattributed, tunneled;
  uint64_t flows_created, flows_active, flows_exported, flows_evicted, queue_drops, queue_depth;
  uint64_t kernel_recv, kernel_drop, kernel_ifdrop;
  bool kernel_stats_valid;
  uint64_t file_size, file_pos;
  uint64_t frag_in_flight, frag_bytes, table_bytes;
  uint64_t first_ts_us, last_ts_us;
  uint64_t anomalies[kAnomalyCount];
  uint64_t tcp_retransmissions, tcp_gaps, tcp_gap_bytes;
  std::vector<std::pair<std::string, uint64_t>> dissector_anomalies;
  bool running, done;
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
  void join();
  EngineStats stats() const;
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
  void stream_data(Flow& f, int dir, const uint8_t* data, uint32_t n, const Packet* p);
  void stream_gap(Flow& f, int dir, uint64_t n);
  void release_tcp(Flow& f);
  void collect_expectations(Flow& f);
  bool match_expectation(Flow& f, const Packet& p);
  friend struct StreamSink;
  void tick(uint64_t now_us);
  void refresh_io_stats();
  uint64_t wall_us() const;

  EngineConfig cfg_;
  pcap_t* pcap_ = nullptr;
  FILE* file_ = nullptr;
  std::vector<char> file_buf_;  // stdio buffer of file_: must outlive the pcap handle
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
  std::condition_variable not_full_;
  std::deque<FlowRecord> queue_;
  std::string warning_;

  // capture-thread state
  uint64_t now_us_ = 0;
  uint64_t last_frame_ts_ = 0;
  uint64_t last_outer_flow_id_ = 0;
  uint32_t last_outer_idx_ = UINT32_MAX;  // table index of the flow the last outer packet went to
  const Packet* last_outer_pkt_ = nullptr; // the outer packet, while its inner packet is handled
  uint64_t frames_ = 0;
  size_t signal_batch_ = 1;  // queued flows that wake JS: min(kSignalBatchRecords, half the queue)
  uint64_t replay_wall0_ = 0, replay_ts0_ = 0;
  int wake_fd_ = -1;  // eventfd that wakes the live capture's poll() on stop

  // counters read by stats()
  std::atomic<uint64_t> flows_created_{0}, flows_active_{0}, flows_exported_{0}, flows_evicted_{0},
      queue_drops_{0}, kernel_recv_{0}, kernel_drop_{0}, kernel_ifdrop_{0}, file_size_{0},
      file_pos_{0}, frag_in_flight_{0}, frag_bytes_{0}, table_bytes_{0}, first_ts_{0}, last_ts_{0};
  std::atomic<bool> kernel_stats_valid_{false};
  std::atomic<uint64_t> tcp_retransmissions_{0}, tcp_gaps_{0}, tcp_gap_bytes_{0};
  uint64_t reasm_waiting_ = 0;  // out-of-order bytes held over all flows (capture thread)
  bool have_tcp_dissectors_ = false;
  struct Expected {
    Expectation e;
    uint64_t flow_id;     // the announcing flow
    uint64_t expires_us;
  };
  std::vector<Expected> expected_;  // few and short-lived: a linear scan on new TCP flows
};

}  // namespace nprobe
