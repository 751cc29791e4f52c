// Capture engine: see engine.h.
#include "engine.h"

#include <arpa/inet.h>
#include <endian.h>
#include <net/if.h>
#include <poll.h>
#include <stdio_ext.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../reassembly/tcp_flow.h"
#include "../util/hash.h"
#include "../util/limits.h"

namespace nprobe {

Engine::Engine(EngineConfig cfg) : cfg_(std::move(cfg)) {
  if (cfg_.queue_records < 1) cfg_.queue_records = 1;
  signal_batch_ = std::max<size_t>(1, std::min(limits::kSignalBatchRecords, cfg_.queue_records / 2));
  for (const DissectorInfo* d : dissectors()) {
    if (d->ip_proto == 17) udp_probes_.push_back(d);
    if (d->ip_proto == 6 && d->probe_stream) tcp_probes_.push_back(d);
  }
  have_tcp_dissectors_ = !tcp_probes_.empty();
}

namespace {
// Runs the probes of `list` in two passes, those whose ports hint at them first (ports only
// order the probes). probe(d) returns 1 (this protocol), 0 (need more) or -1 (no). Returns the
// match or nullptr; `undecided` tells whether some probe wanted more bytes.
template <class Probe>
const DissectorInfo* run_probes(const std::vector<const DissectorInfo*>& list, uint16_t a, uint16_t b, bool& undecided,
                                Probe&& probe) {
  for (int pass = 0; pass < 2; pass++) {
    for (const DissectorInfo* d : list) {
      if (d->port_hint(a, b) != (pass == 0)) continue;
      const int v = probe(d);
      if (v > 0) return d;
      if (v == 0) undecided = true;
    }
  }
  return nullptr;
}
}  // namespace

Engine::~Engine() {
  abort();
  join();
  bury_dissectors();
  if (nf_has_filter_) pcap_freecode(&nf_filter_);
  if (pcap_) pcap_close(pcap_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

uint64_t Engine::wall_us() const {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return uint64_t(tv.tv_sec) * 1000000 + uint64_t(tv.tv_usec);
}

void Engine::open() {
  char err[PCAP_ERRBUF_SIZE] = "";
  nfq_num_ = cfg_.is_file ? -1 : NfQueue::parse_source(cfg_.source);
  if (nfq_num_ == -2) throw CaptureError(cfg_.source + ": expected nf:N with a queue number N from 0 to 65535");
  if (nfq_num_ >= 0) {
    // Inline: raw IP packets from the kernel's queue, verdicts given back (nfqueue.h).
    nfq_ = std::make_unique<NfQueue>();
    nfq_->open(nfq_num_, cfg_.queue_bypass, [this](const NfPacket& np) { on_nf_packet(np); });
    linktype_ = DLT_RAW;
    if (!cfg_.filter.empty()) {
      pcap_t* dead = pcap_open_dead(DLT_RAW, 65535);
      if (!dead || pcap_compile(dead, &nf_filter_, cfg_.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) < 0) {
        std::string m = dead ? pcap_geterr(dead) : "out of memory";
        if (dead) pcap_close(dead);
        throw CaptureError("bad filter expression \"" + cfg_.filter + "\": " + m);
      }
      pcap_close(dead);
      nf_has_filter_ = true;
    }
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw CaptureError(std::string("eventfd: ") + strerror(errno));
    local_.load();
    raw_.open();  // resets for "reject" (before -u drops privileges)
    table_ = std::make_unique<FlowTable>(
        FlowTableConfig{cfg_.max_flows, cfg_.idle_us, cfg_.active_us, std::min(limits::kTcpCloseLingerUs, cfg_.idle_us)},
        [this](Flow& f, EndReason why) { export_flow(f, why); });
    decoder_ = std::make_unique<Decoder>(linktype_, anomalies_, dc_, *this);
    return;
  }
  if (cfg_.is_file) {
    // libpcap reads pcap and pcapng alike by their magic number, whatever the file is named;
    // asking for microseconds converts nanosecond files.
    // We open the file ourselves to give stdio a 1 MiB buffer before libpcap's first read
    // (the default 4 KiB means a read() per few packets). "-" is stdin, as for libpcap.
    FILE* fp = cfg_.source == "-" ? stdin : fopen(cfg_.source.c_str(), "rb");
    if (!fp) throw CaptureError(cfg_.source + ": " + strerror(errno));
    file_buf_.resize(1 << 20);  // glibc ignores the size unless it is given the buffer
    setvbuf(fp, file_buf_.data(), _IOFBF, file_buf_.size());
    // One thread at a time reads it (this one for the header, then the reader thread), so
    // stdio need not lock it: libpcap calls fread twice per packet, and locking took ~10 ms
    // of the ~80 ms libpcap needs to read the 1M-packet bench capture.
    __fsetlocking(fp, FSETLOCKING_BYCALLER);
    pcap_ = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, err);
    if (!pcap_) {
      if (fp != stdin) fclose(fp);
      std::string m = err;
      if (m.find("truncated dump file") != std::string::npos || m.find("unknown file format") != std::string::npos ||
          m.find("bad dump file format") != std::string::npos)
        throw CaptureError(cfg_.source + ": not a readable pcap or pcapng capture (" + m + ")");
      throw CaptureError(cfg_.source + ": " + m);
    }
    struct stat st;
    if (stat(cfg_.source.c_str(), &st) == 0) file_size_ = uint64_t(st.st_size);
  } else {
    pcap_ = pcap_create(cfg_.source.c_str(), err);
    if (!pcap_) throw CaptureError("cannot capture on " + cfg_.source + ": " + err);
    pcap_set_snaplen(pcap_, cfg_.snaplen);
    pcap_set_promisc(pcap_, cfg_.promisc ? 1 : 0);
    pcap_set_timeout(pcap_, 100);  // ms: how often an idle live capture wakes to expire flows
    pcap_set_buffer_size(pcap_, 32 << 20);
    int rc = pcap_activate(pcap_);
    if (rc < 0) {
      std::string m = pcap_geterr(pcap_);
      std::string what;
      switch (rc) {
        case PCAP_ERROR_NO_SUCH_DEVICE: what = "no such interface"; break;
        case PCAP_ERROR_PERM_DENIED: what = "permission denied (run as root or grant CAP_NET_RAW)"; break;
        case PCAP_ERROR_IFACE_NOT_UP: what = "interface is down"; break;
        default: what = pcap_statustostr(rc); break;
      }
      pcap_close(pcap_);
      pcap_ = nullptr;
      throw CaptureError("cannot capture on " + cfg_.source + ": " + what + (m.empty() ? "" : " (" + m + ")"));
    }
    if (pcap_setnonblock(pcap_, 1, err) < 0 || pcap_get_selectable_fd(pcap_) < 0) {
      pcap_close(pcap_);
      pcap_ = nullptr;
      throw CaptureError("cannot capture on " + cfg_.source + ": no pollable descriptor (" + err + ")");
    }
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw CaptureError(std::string("eventfd: ") + strerror(errno));
    local_.load();  // passive divert: the capture host's own addresses
  }
  linktype_ = pcap_datalink(pcap_);
  if (!Decoder::supported_linktype(linktype_)) {
    std::string name = linktype_name();
    pcap_close(pcap_);
    pcap_ = nullptr;
    throw CaptureError(cfg_.source + ": unsupported link type " + std::to_string(linktype_) + " (" + name + ")");
  }
  if (!cfg_.filter.empty()) {
    bpf_program prog;
    if (pcap_compile(pcap_, &prog, cfg_.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) < 0) {
      std::string m = pcap_geterr(pcap_);
      pcap_close(pcap_);
      pcap_ = nullptr;
      throw CaptureError("bad filter expression \"" + cfg_.filter + "\": " + m);
    }
    int rc = pcap_setfilter(pcap_, &prog);
    pcap_freecode(&prog);
    if (rc < 0) {
      std::string m = pcap_geterr(pcap_);
      pcap_close(pcap_);
      pcap_ = nullptr;
      throw CaptureError("cannot set filter \"" + cfg_.filter + "\": " + m);
    }
  }
  if (cfg_.is_file) {
    // Records are read in blocks unless a BPF filter must see each one (libpcap applies it in
    // pcap_next_ex) or the file is stdin; NPROBE_FILE_READER=libpcap asks for libpcap's reads.
    const char* how = getenv("NPROBE_FILE_READER");
    const bool block_ok = cfg_.filter.empty() && cfg_.source != "-" && !(how && strcmp(how, "libpcap") == 0);
    reader_ = std::make_unique<FileReader>(pcap_, anomalies_, block_ok);
  }
  table_ = std::make_unique<FlowTable>(
      FlowTableConfig{cfg_.max_flows, cfg_.idle_us, cfg_.active_us, std::min(limits::kTcpCloseLingerUs, cfg_.idle_us)},
      [this](Flow& f, EndReason why) { export_flow(f, why); });
  decoder_ = std::make_unique<Decoder>(linktype_, anomalies_, dc_, *this);
}

std::string Engine::linktype_name() const {
  const char* n = pcap_datalink_val_to_name(linktype_);
  return n ? n : "unknown";
}

std::string Engine::warning() const {
  std::lock_guard<std::mutex> lk(mu_);
  return warning_;
}

void Engine::start(std::function<void()> notify, std::function<void()> on_exit) {
  notify_ = std::move(notify);
  on_exit_ = std::move(on_exit);
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

void Engine::stop() {
  stop_.store(true);
  if (reader_) reader_->interrupt();
  wake();
}

void Engine::wake() {
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t r = write(wake_fd_, &one, sizeof one);
    (void)r;
  }
}

void Engine::abort() {
  abort_.store(true);
  stop_.store(true);
  if (reader_) reader_->interrupt();
  wake();
  {
    std::lock_guard<std::mutex> lk(mu_);
  }
  not_full_.notify_all();
}

void Engine::join() {
  if (thread_.joinable()) thread_.join();
}

void Engine::handle_frame(const pcap_pkthdr* hdr, const u_char* data) {
  if (inbox_ready_.load(std::memory_order_relaxed)) apply_verdicts();
  const uint64_t ts = uint64_t(hdr->ts.tv_sec) * 1000000 + uint64_t(hdr->ts.tv_usec);
  if (frames_ == 0) {
    first_ts_ = ts;
    replay_wall0_ = wall_us();
    replay_ts0_ = ts;
  }
  if (cfg_.original_speed && cfg_.is_file && ts > replay_ts0_) {
    // Replay at the recorded pace, waking often enough to honour a stop request.
    const uint64_t due = replay_wall0_ + (ts - replay_ts0_);
    for (uint64_t w = wall_us(); w < due && !stop_.load(std::memory_order_relaxed); w = wall_us()) {
      const uint64_t nap = std::min<uint64_t>(due - w, 100000);
      timespec t{time_t(nap / 1000000), long(nap % 1000000) * 1000};
      nanosleep(&t, nullptr);
      // The capture's clock runs on while we wait for the next packet, as it would live:
      // flows idle past their timeout end now, and the counters and queue are refreshed,
      // instead of everything waiting for the next 1024 packets.
      const uint64_t virt = std::min(ts, replay_ts0_ + (wall_us() - replay_wall0_));
      if (virt > now_us_) {
        now_us_ = virt;
        table_->expire(now_us_);
      }
      tick(now_us_);
    }
  }
  if (ts < last_frame_ts_) anomalies_.add(Anomaly::capture_ts_backwards);
  last_frame_ts_ = ts;
  last_ts_.store(ts, std::memory_order_relaxed);
  if (ts > now_us_) {
    now_us_ = ts;
    table_->expire(now_us_);
  }
  decoder_->decode(ts, data, hdr->caplen, hdr->len);
  if ((++frames_ & 1023) == 0) tick(now_us_);
}

void Engine::run_file() {
  reader_->start();
  while (!stop_.load(std::memory_order_relaxed)) {
    const FileReader::Chunk* c = reader_->next();
    if (!c) break;  // interrupted by stop()
    size_t off = 0;
    pcap_pkthdr hdr;
    const u_char* data;
    while (!stop_.load(std::memory_order_relaxed) && reader_->frame(*c, off, hdr, data)) handle_frame(&hdr, data);
    file_pos_.store(c->file_pos, std::memory_order_relaxed);
    const bool last = c->last, error = c->error;
    reader_->release(c);
    if (error) {
      std::string m = reader_->message();
      std::lock_guard<std::mutex> lk(mu_);
      warning_ = cfg_.source + ": capture file is cut short after packet " + std::to_string(dc_.packets.load()) +
                 " (" + m + "); everything before the cut was processed";
    }
    if (last) break;
  }
  reader_->interrupt();
  reader_->join();
}

void Engine::run_live() {
  // Non-blocking reads plus our own poll(): with TPACKET_V3, a blocking pcap read does not
  // return on its timeout while no packet arrives, so neither a stop request nor idle expiry
  // would happen on a quiet link. The eventfd lets stop() wake the poll at once.
  const int pfd = pcap_get_selectable_fd(pcap_);
  uint64_t last_tick = wall_us();
  while (!stop_.load(std::memory_order_relaxed)) {
    int n = pcap_dispatch(
        pcap_, 256,
        [](u_char* self, const pcap_pkthdr* h, const u_char* d) {
          reinterpret_cast<Engine*>(self)->handle_frame(h, d);
        },
        reinterpret_cast<u_char*>(this));
    if (n < 0 && n != PCAP_ERROR_BREAK) {
      std::string m = pcap_geterr(pcap_);
      std::lock_guard<std::mutex> lk(mu_);
      warning_ = "capture on " + cfg_.source + " failed after packet " + std::to_string(dc_.packets.load()) + ": " + m;
      break;
    }
    const uint64_t w = wall_us();
    if (w - last_tick >= 100000) {
      // The wall clock moves time on, so idle flows expire even when no packet comes.
      if (w > now_us_) now_us_ = w;
      table_->expire(now_us_);
      tick(now_us_);
      last_tick = w;
    }
    if (inbox_ready_.load(std::memory_order_relaxed)) apply_verdicts();
    if (n == 0) {
      pollfd fds[2] = {{pfd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      poll(fds, 2, 100);
      if (fds[1].revents & POLLIN) {
        uint64_t v;  // verdicts and stop requests both ring it: reset it, the flags say which
        ssize_t r = read(wake_fd_, &v, sizeof v);
        (void)r;
      }
    }
  }
}

void Engine::run() {
  pthread_setname_np(pthread_self(), "nprobe-capture");  // shows in top -H, perf, gdb
  set_thread_anomaly_counts(&dissector_anomalies_);
  set_thread_dissector_options(&cfg_.dissector_options);
  capture_cpu_.begin();
  if (cfg_.is_file) {
    run_file();
  } else if (nfq_) {
    run_nfqueue();
  } else {
    run_live();
  }
  tick(now_us_);
  // A clean stop loses nothing: pending fragments first (they may complete flows), then flows.
  decoder_->flush();
  table_->flush(EndReason::kForcedEnd);
  tick(now_us_);
  capture_cpu_.end();
  running_ = false;
  done_ = true;
  signal_pending_.store(true);
  if (notify_) notify_();
  if (on_exit_) on_exit_();
}

void Engine::bury_dissectors() {
  std::vector<Dissector*> dead;
  {
    std::lock_guard<std::mutex> lk(gmu_);
    dead.swap(graveyard_);
  }
  for (Dissector* d : dead) delete d;
}

void Engine::tick(uint64_t now_us) {
  decoder_->expire(now_us);
  bury_dissectors();
  bool waiting;
  {
    std::lock_guard<std::mutex> lk(mu_);
    waiting = !queue_.empty();
  }
  // A short queue is handed over once a wake-up is kSignalIntervalUs old, not at every tick:
  // a file ticks every 1024 frames, and a wake-up per tick (~1000 on the 1M-packet bench
  // capture, each preempting the capture thread for the JS thread) undid the batching in
  // export_flow(). A full batch still signals at once there; the end of capture signals all.
  if (waiting && wall_us() - last_signal_us_.load(std::memory_order_relaxed) >= limits::kSignalIntervalUs) signal();
  if (cfg_.intercept) {
    bool conns;
    {
      std::lock_guard<std::mutex> lk(imu_);
      conns = !conns_.empty();
    }
    if (conns) signal_conns();
    if (!cfg_.is_file) sweep_pending(wall_us());
    icpt_pending_.store(pending_.size(), std::memory_order_relaxed);
  }
  refresh_io_stats();
  flows_active_.store(table_->active(), std::memory_order_relaxed);
  flows_created_.store(table_->created_total(), std::memory_order_relaxed);
  flows_evicted_.store(table_->evicted(), std::memory_order_relaxed);
  frag_in_flight_.store(decoder_->frags().in_flight(), std::memory_order_relaxed);
  frag_bytes_.store(decoder_->frags().bytes_held(), std::memory_order_relaxed);
  table_bytes_.store(table_->memory_bytes(), std::memory_order_relaxed);
}

void Engine::refresh_io_stats() {
  if (cfg_.is_file) {
    // file_pos_ moves as chunks are done (run_file): the FILE is the reader thread's.
  } else if (nfq_) {
    nf_kernel_drops_.store(nfq_->kernel_drops(), std::memory_order_relaxed);
    nf_accepted_.store(nfq_->verdicts_accept(), std::memory_order_relaxed);
    nf_dropped_.store(nfq_->verdicts_drop(), std::memory_order_relaxed);
  } else {
    // pcap_stats is not safe to call from another thread while this one captures.
    pcap_stat ps;
    if (pcap_stats(pcap_, &ps) == 0) {
      kernel_recv_.store(ps.ps_recv, std::memory_order_relaxed);
      kernel_drop_.store(ps.ps_drop, std::memory_order_relaxed);
      kernel_ifdrop_.store(ps.ps_ifdrop, std::memory_order_relaxed);
      kernel_stats_valid_.store(true, std::memory_order_relaxed);
    }
  }
}

// memcmp(a, b, 16)'s sign (the only part used) from two big-endian 64-bit words each: a
// memcmp call per packet was ~27 instructions, this is a handful.
static int addr_order(const uint8_t* a, const uint8_t* b) {
  uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a, 8), std::memcpy(&a1, a + 8, 8);
  std::memcpy(&b0, b, 8), std::memcpy(&b1, b + 8, 8);
  a0 = be64toh(a0), a1 = be64toh(a1), b0 = be64toh(b0), b1 = be64toh(b1);
  if (a0 != b0) return a0 < b0 ? -1 : 1;
  if (a1 != b1) return a1 < b1 ? -1 : 1;
  return 0;
}

// Nobody wants the flow's stream bytes any more: no dissector and no more probing, or a
// dissector that is finished.
static bool streams_unwanted(const Flow& f) { return (f.l7_done && !f.l7) || (f.l7 && f.l7_finished); }

// A segment tcp_segment() would do nothing with: a pure ACK (no SYN, no payload) with no hole
// to settle in the other direction, memory within its cap, and the streams still wanted (its
// first short cut, when it does not release them). Most pure ACKs are: they skip the call
// here.
static bool tcp_nothing_to_do(const Flow& f, const Packet& p, int dir, uint64_t reasm_waiting) {
  return f.tcp && p.payload_wire_len == 0 && !(p.tcp_flags & tcpflag::SYN) && f.tcp->dir[1 - dir].nothing_waiting() &&
         reasm_waiting <= reasm_limits::kMaxWaitingTotal && !streams_unwanted(f);
}

void Engine::on_packet(Packet& p) {
  if (!p.ip_version) return;
  FlowKey k;
  std::memset(&k, 0, sizeof k);
  const uint16_t sport = p.has_ports ? p.sport : 0, dport = p.has_ports ? p.dport : 0;
  const int cmp = addr_order(p.src.b, p.dst.b);
  const bool src_is_a = cmp < 0 || (cmp == 0 && sport <= dport);
  if (src_is_a) {
    std::memcpy(k.a, p.src.b, 16), std::memcpy(k.b, p.dst.b, 16), k.port_a = sport, k.port_b = dport;
  } else {
    std::memcpy(k.a, p.dst.b, 16), std::memcpy(k.b, p.src.b, 16), k.port_a = dport, k.port_b = sport;
  }
  k.vlan_key = p.vlan_key;
  k.proto = p.proto;
  k.ip_version = p.ip_version;
  k.tunneled = p.tunneled;
  const uint64_t h = hash_bytes(&k, sizeof k);

  if (p.tunneled && last_outer_idx_ != UINT32_MAX) {
    // The outer flow carries a GTP-U tunnel (nDPI's GTP_U). Marked before the inner lookup,
    // which may reuse table slots.
    Flow& outer = table_->at(last_outer_idx_);
    if (outer.in_use && outer.flow_id == last_outer_flow_id_ && !outer.l7) {
      outer.l7_proto = l7::kGtpU;
      outer.l7_done = 1;
    }
  }
  bool created;
  uint32_t idx = table_->lookup(k, h, p.ts_first_us, created);
  if (!created && p.proto == 6 && table_->at(idx).closing &&
      (p.tcp_flags & (tcpflag::SYN | tcpflag::ACK)) == tcpflag::SYN) {
    // A new connection reusing the ports of one that just closed: a new flow.
    table_->end(idx, EndReason::kEndOfFlow);
    idx = table_->lookup(k, h, p.ts_first_us, created);
  }
  Flow& f = table_->at(idx);
  if (created) {
    f.client_is_a = src_is_a;
    f.vlan = p.vlan;
    if (p.has_mac) {
      std::memcpy(f.client_mac, p.src_mac, 6);
      std::memcpy(f.server_mac, p.dst_mac, 6);
    }
    if (p.has_icmp) f.icmp_type = uint16_t(p.icmp_type) << 8 | p.icmp_code;
  }
  // When both endpoints are equal (a host talking to itself on one port), all is "client".
  const int dir = (src_is_a == bool(f.client_is_a) || (cmp == 0 && sport == dport)) ? 0 : 1;
  f.pkts[dir] += p.wire_pkts;
  f.bytes[dir] += p.ip_bytes;
  if (p.ts_us > f.last_us) f.last_us = p.ts_us;
  if (p.ts_first_us < f.first_us) f.first_us = p.ts_first_us;
  f.anomalies |= p.anomalies;
  if (p.tunneled) {
    f.teid[dir] = p.teid;
    f.outer_flow_id = last_outer_flow_id_;
    if (created && p.outer_version) {
      // From the packet itself: the outer packet may be gone (an inner datagram completed
      // later, at a time-out), so no pointer to it is kept.
      f.outer_src = p.outer_src;
      f.outer_dst = p.outer_dst;
      f.outer_version = p.outer_version;
    }
  } else {
    last_outer_flow_id_ = f.flow_id;
    last_outer_idx_ = idx;
  }
  if (created && p.proto == 6 && !expected_.empty() && match_expectation(f, p)) {
    // An announced data connection: labelled by its control flow, not probed.
  }
  if (p.proto == 6) {
    f.tcp_flags[dir] |= p.tcp_flags;
    if (p.tcp_flags & tcpflag::FIN) f.fin_seen |= uint8_t(1 << dir);
    if ((p.tcp_flags & tcpflag::RST) || f.fin_seen == 3) {
      table_->mark_closing(idx);
    }
  }
  table_->touch(idx);
  if (cfg_.intercept && p.proto == 6) {
    // The connection hook comes before any L7 work: a new connection waits for its verdict,
    // its packets counted (above) but their payload kept aside (and held, inline).
    if (created) begin_intercept(table_->at(idx), idx, p);
    Flow& g = table_->at(idx);
    if (g.verdict == verdict::kPending) {
      hold(g, p, dir);
      return;
    }
    if (nf_cur_) nf_decide(g, p, dir);
    else if (g.verdict == verdict::kReject && cfg_.intercept_rst && pcap_ && !cfg_.is_file &&
             g.resets_sent < limits::kMaxResetRoundsPerConn && !(p.tcp_flags & tcpflag::RST)) {
      // Passive: the connection went on while the hook ran, so the resets sent with the
      // verdict may be behind; each later segment gets a fresh pair (bounded per flow).
      SegmentSeen seg{true, p.tcp_seq, p.tcp_ack,
                      p.payload_wire_len + ((p.tcp_flags & tcpflag::SYN) ? 1u : 0u) + ((p.tcp_flags & tcpflag::FIN) ? 1u : 0u),
                      p.tcp_flags};
      resets_passive(g, seg, dir);
      g.resets_sent++;
    }
    if (!verdict::dissects(g.verdict)) return;
  }
  if (!cfg_.dissect) return;
  if (p.proto == 6) {
    // TCP goes through the stream reassembler, pure ACKs included (they settle holes).
    if (tcp_nothing_to_do(f, p, dir, reasm_waiting_)) return;
    if (f.tcp || (!f.l7_done && (p.payload_wire_len || (p.tcp_flags & tcpflag::SYN)))) tcp_segment(f, p, dir);
  } else if (p.payload_len && !f.l7_done) {
    dissect(f, p, dir);
  }
}

// Delivers one direction's reassembled bytes (or gaps) to the flow.
struct StreamSink final : TcpStream::Sink {
  Engine& e;
  Flow& f;
  int dir;
  const Packet* pkt;
  StreamSink(Engine& e_, Flow& f_, int d, const Packet* p) : e(e_), f(f_), dir(d), pkt(p) {}
  void data(const uint8_t* p, uint32_t n) override { e.stream_data(f, dir, p, n, pkt); }
  void gap(uint64_t n) override { e.stream_gap(f, dir, n); }
};

// Stream bytes of a flow whose dissector is chosen (stream_data()'s common case, inline in
// the per-segment short cut).
inline void Engine::to_dissector(Flow& f, int dir, const uint8_t* data, uint32_t n, const Packet* p) {
  // Bytes the dissector only counts (an HTTP body) are counted off without calling it.
  if (!f.l7_finished && !f.l7->skip_payload(dir, n)) {
    f.l7->on_payload(PayloadCtx{p ? p->ts_us : now_us_, dir, data, n, p});
    f.l7_finished = f.l7->finished();
  }
  if (!f.l7->pending_expectations().empty()) collect_expectations(f);
}

void Engine::tcp_segment(Flow& f, const Packet& p, int dir) {
  if (!f.tcp) {
    if (!have_tcp_dissectors_) {
      f.l7_done = 1;
      return;
    }
    f.tcp = new TcpFlowState();
  }
  TcpFlowState& t = *f.tcp;
  if (!(p.tcp_flags & tcpflag::SYN) && t.dir[1 - dir].nothing_waiting() &&
      reasm_waiting_ <= reasm_limits::kMaxWaitingTotal) {
    // Most segments take one of two short cuts, with the same effect as the general path
    // below (no events, no bytes start or stop waiting, memory not over its cap) minus its
    // bookkeeping: the ACK has no hole to settle in the other direction, and the segment is
    // either empty (a pure ACK or FIN: segment() would do nothing) or the next bytes of its
    // direction, captured whole, with nothing waiting (segment() would hand them on as is).
    if (p.payload_wire_len == 0) {
      if (streams_unwanted(f)) {
        f.l7_done = 1;
        release_tcp(f);
      }
      return;
    }
    TcpStream& s = t.dir[dir];
    if (p.payload_len == p.payload_wire_len && s.is_next(p.tcp_seq)) {
      s.advance(p.payload_len);
      if (f.l7) to_dissector(f, dir, p.payload, p.payload_len, &p);
      else stream_data(f, dir, p.payload, p.payload_len, &p);
      if (streams_unwanted(f)) {
        f.l7_done = 1;
        release_tcp(f);
      }
      return;
    }
  }
  tcp_segment_general(f, p, dir);
}

// The general path of tcp_segment(): holes, out-of-order segments, SYNs, cut segments. Kept
// out of line so the short cuts above don't pay for its registers and stack.
[[gnu::noinline]] void Engine::tcp_segment_general(Flow& f, const Packet& p, int dir) {
  TcpFlowState& t = *f.tcp;
  const uint64_t before = uint64_t(t.dir[0].waiting_bytes()) + t.dir[1].waiting_bytes();
  uint32_t ev = 0;
  // The ACK first: it covers what the sender had received before it sent this segment, so a
  // hole it settles on the other side comes before this segment's data (a reply after the
  // commands it answers).
  if (p.tcp_flags & tcpflag::ACK) {
    StreamSink other(*this, f, 1 - dir, &p);
    ev |= t.dir[1 - dir].acked(p.tcp_ack, other);
  }
  if (f.tcp) {
    StreamSink sink(*this, f, dir, &p);
    ev |= f.tcp->dir[dir].segment(p.tcp_seq, p.tcp_flags & tcpflag::SYN, p.tcp_flags & tcpflag::FIN, p.payload,
                                  p.payload_len, p.payload_wire_len, sink);
  }
  if (ev & TcpStream::kRetransmission) tcp_retransmissions_.fetch_add(1, std::memory_order_relaxed);
  if (ev & TcpStream::kOverlap) {
    anomalies_.add(Anomaly::tcp_overlap);
    f.anomalies |= anomaly_bit(Anomaly::tcp_overlap);
  }
  if (ev & TcpStream::kOooCapHit) {
    anomalies_.add(Anomaly::tcp_reassembly_cap);
    f.anomalies |= anomaly_bit(Anomaly::tcp_reassembly_cap);
  }
  if (!f.tcp) return;
  const uint64_t after = uint64_t(f.tcp->dir[0].waiting_bytes()) + f.tcp->dir[1].waiting_bytes();
  reasm_waiting_ = reasm_waiting_ + after - before;
  if (reasm_waiting_ > reasm_limits::kMaxWaitingTotal) {
    // Memory for waiting segments is shared by every flow: this flow's holes become gaps.
    anomalies_.add(Anomaly::tcp_reassembly_memory_cap);
    f.anomalies |= anomaly_bit(Anomaly::tcp_reassembly_memory_cap);
    for (int d = 0; d < 2 && f.tcp; d++) {
      StreamSink sink(*this, f, d, &p);
      f.tcp->dir[d].flush(sink);
    }
    if (f.tcp) reasm_waiting_ -= after - (uint64_t(f.tcp->dir[0].waiting_bytes()) + f.tcp->dir[1].waiting_bytes());
    else reasm_waiting_ -= after;
  }
  // Nobody wants these bytes any more: free the streams.
  if (f.tcp && streams_unwanted(f)) {
    f.l7_done = 1;
    release_tcp(f);
  }
}

void Engine::collect_expectations(Flow& f) {
  auto& pend = f.l7->pending_expectations();
  const ExpectationTable::Scope scope{f.key.vlan_key, f.key.tunneled};
  for (const Expectation& e : pend) {
    if (!expected_.add(e, scope, f.flow_id, now_us_)) {
      count_anomaly("expectation_table_full");
      break;
    }
  }
  pend.clear();
}

bool Engine::match_expectation(Flow& f, const Packet& p) {
  ExpectationTable::Taken t;
  if (!expected_.take(ExpectationTable::Scope{p.vlan_key, uint8_t(p.tunneled)}, p, now_us_, t)) return false;
  f.l7_proto = t.l7;
  f.l7_done = 1;
  f.related_flow_id = t.flow_id;
  f.related_field = t.field;
  return true;
}

void Engine::release_tcp(Flow& f) {
  if (!f.tcp) return;
  reasm_waiting_ -= uint64_t(f.tcp->dir[0].waiting_bytes()) + f.tcp->dir[1].waiting_bytes();
  delete f.tcp;
  f.tcp = nullptr;
}

void Engine::stream_gap(Flow& f, int dir, uint64_t n) {
  tcp_gaps_.fetch_add(1, std::memory_order_relaxed);
  tcp_gap_bytes_.fetch_add(n, std::memory_order_relaxed);
  if (f.l7) {
    f.l7->on_gap(dir, n);
    f.l7_finished = f.l7->finished();
  } else if (!f.l7_done) {
    f.l7_done = 1;  // a hole before the protocol is known: stop guessing
  }
}

void Engine::stream_data(Flow& f, int dir, const uint8_t* data, uint32_t n, const Packet* p) {
  if (f.l7) {
    to_dissector(f, dir, data, n, p);
    return;
  }
  if (f.l7_done || !f.tcp) return;
  TcpFlowState& t = *f.tcp;
  std::vector<uint8_t>& head = t.head[dir];
  const uint32_t room = reasm_limits::kProbeBytesPerDir - uint32_t(head.size());
  const uint32_t take = std::min(room, n);
  // A flow's first chunk (nothing kept yet) is probed where it lies and copied only when the
  // probes want more bytes: most flows are told by it, and copying it into head (two
  // allocations, freed again once a dissector is chosen) was most of this function's cost.
  const bool in_place = t.chunks.empty();
  if (take && !in_place) {
    head.insert(head.end(), data, data + take);
    t.chunks.emplace_back(uint8_t(dir), take);
  }
  const uint8_t* seen[2] = {t.head[0].data(), t.head[1].data()};
  uint32_t seen_len[2] = {uint32_t(t.head[0].size()), uint32_t(t.head[1].size())};
  if (in_place) seen[dir] = data, seen_len[dir] = take;
  // Ports as the client sees them; a hint only orders the probes.
  const bool client = dir == 0;
  const uint16_t cport = p ? (client ? p->sport : p->dport) : 0, sport = p ? (client ? p->dport : p->sport) : 0;
  bool undecided = false;
  const DissectorInfo* found = run_probes(tcp_probes_, cport, sport, undecided, [&](const DissectorInfo* d) {
    return d->probe_stream(seen[0], seen_len[0], seen[1], seen_len[1], cport, sport);
  });
  if (!found) {
    const bool full = seen_len[0] >= reasm_limits::kProbeBytesPerDir || seen_len[1] >= reasm_limits::kProbeBytesPerDir;
    if (!undecided || full) {
      f.l7_done = 1;
    } else if (take && in_place) {
      head.insert(head.end(), data, data + take);  // kept for the next probe
      t.chunks.emplace_back(uint8_t(dir), take);
    }
    return;
  }
  f.l7 = found->create().release();
  f.l7_proto = found->l7_proto;
  // Replay what was kept, in arrival order, then the rest of this chunk.
  if (in_place) {
    if (take && !f.l7->finished()) f.l7->on_payload(PayloadCtx{p ? p->ts_us : now_us_, dir, data, take, p});
  } else {
    uint32_t pos[2] = {0, 0};
    for (auto [d, len] : t.chunks) {
      if (f.l7->finished()) break;
      f.l7->on_payload(PayloadCtx{p ? p->ts_us : now_us_, d, t.head[d].data() + pos[d], len, p});
      pos[d] += len;
    }
  }
  t.head[0].clear(), t.head[0].shrink_to_fit();
  t.head[1].clear(), t.head[1].shrink_to_fit();
  t.chunks.clear(), t.chunks.shrink_to_fit();
  if (take < n && !f.l7->finished()) f.l7->on_payload(PayloadCtx{p ? p->ts_us : now_us_, dir, data + take, n - take, p});
  f.l7_finished = f.l7->finished();
  if (!f.l7->pending_expectations().empty()) collect_expectations(f);
}

void Engine::dissect(Flow& f, const Packet& p, int dir) {
  if (!f.l7) {
    // TCP payloads need stream reassembly first (not yet): only UDP is dissected.
    if (p.proto != 17) {
      f.l7_done = 1;
      return;
    }
    // Probes whose ports match run first; ports never decide alone.
    bool undecided = false;
    const DissectorInfo* found = run_probes(udp_probes_, p.sport, p.dport, undecided, [&](const DissectorInfo* d) {
      return d->probe(p.payload, p.payload_len, p.sport, p.dport) ? 1 : -1;
    });
    if (!found) {
      if (++f.l7_tries >= dissect_limits::kMaxProbePackets) f.l7_done = 1;
      return;
    }
    f.l7 = found->create().release();
    f.l7_proto = found->l7_proto;
  }
  f.l7->on_payload(PayloadCtx{p.ts_us, dir, p.payload, p.payload_len, &p});
  if (!f.l7->pending_expectations().empty()) collect_expectations(f);
}

void Engine::export_flow(Flow& f, EndReason why) {
  // Never exported while its verdict is pending: the verdict decides what it carries.
  if (f.verdict == verdict::kPending) resolve_before_export(f);
  FlowRecord r;
  r.l7_proto = f.l7_proto;
  if (cfg_.intercept) {
    FieldWriter w(r.ext);
    w.num("FLOW_VERDICT", f.verdict);
  }
  if (f.outer_version) {
    // The tunnel's endpoints (this probe's own element names; nProbe has no standard ones).
    FieldWriter w(r.ext);
    char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
    const int af = f.outer_version == 6 ? AF_INET6 : AF_INET;
    inet_ntop(af, f.outer_src.b, a, sizeof a);
    inet_ntop(af, f.outer_dst.b, b, sizeof b);
    w.str(f.outer_version == 6 ? "OUTER_IPV6_SRC_ADDR" : "OUTER_IPV4_SRC_ADDR", a);
    w.str(f.outer_version == 6 ? "OUTER_IPV6_DST_ADDR" : "OUTER_IPV4_DST_ADDR", b);
  }
  if (f.tcp) {
    // What still waits behind holes goes to the dissector, holes reported as gaps.
    for (int d = 0; d < 2 && f.tcp; d++) {
      StreamSink sink(*this, f, d, nullptr);
      f.tcp->dir[d].flush(sink);
    }
    release_tcp(f);
  }
  if (f.related_field) {
    FieldWriter w(r.ext);
    w.num(f.related_field, double(f.related_flow_id));
  }
  if (f.l7) {
    // Its fields, and its final protocol (DHCP or DHCPv6, GTP-C or GTP-U), are taken when the
    // record is read (finish_record), off this thread. Not touched here: by export time the
    // dissector is long out of the cache, and loading it was most of this function's time.
    r.l7.reset(f.l7);
    f.l7 = nullptr;
  }
  r.flow_id = f.flow_id;
  r.first_us = f.first_us;
  r.last_us = f.last_us;
  r.in_pkts = f.pkts[0];
  r.in_bytes = f.bytes[0];
  r.out_pkts = f.pkts[1];
  r.out_bytes = f.bytes[1];
  r.anomalies = f.anomalies;
  r.outer_flow_id = f.outer_flow_id;
  const bool a = f.client_is_a;
  std::memcpy(r.src, a ? f.key.a : f.key.b, 16);
  std::memcpy(r.dst, a ? f.key.b : f.key.a, 16);
  r.sport = a ? f.key.port_a : f.key.port_b;
  r.dport = a ? f.key.port_b : f.key.port_a;
  r.vlan = f.vlan;
  r.icmp_type = f.icmp_type;
  r.ip_version = f.key.ip_version;
  r.proto = f.key.proto;
  r.client_flags = f.tcp_flags[0];
  r.server_flags = f.tcp_flags[1];
  r.end_reason = uint8_t(why);
  // Any MAC byte set, a word at a time (a byte loop was ~44 instructions per flow).
  uint64_t cm = 0, sm = 0;
  std::memcpy(&cm, f.client_mac, 6);
  std::memcpy(&sm, f.server_mac, 6);
  const bool has_mac = (cm | sm) != 0;
  r.flags = uint8_t((f.key.tunneled ? record_flag::kTunneled : 0) | (has_mac ? record_flag::kHasMac : 0));
  std::memcpy(r.src_mac, f.client_mac, 6);
  std::memcpy(r.dst_mac, f.server_mac, 6);
  r.teid_up = f.teid[0];
  r.teid_down = f.teid[1];

  std::unique_lock<std::mutex> lk(mu_);
  if (queue_.size() >= cfg_.queue_records) {
    if (cfg_.is_file) {
      // Back-pressure: a file can wait for JS; the output stays complete and deterministic.
      // JS must know there is something to drain before we sleep on it.
      lk.unlock();
      signal();
      lk.lock();
      not_full_.wait(lk, [this] { return queue_.size() < cfg_.queue_records || abort_.load(); });
      if (abort_.load()) {
        queue_drops_.fetch_add(1, std::memory_order_relaxed);
        queue_drop_packets_.fetch_add(r.in_pkts + r.out_pkts, std::memory_order_relaxed);
        return;
      }
    } else {
      // The packets of a dropped flow are counted too, so the books still balance: packets
      // captured = packets in exported flows + packets in dropped ones (+ non-flow packets).
      queue_drops_.fetch_add(1, std::memory_order_relaxed);
      queue_drop_packets_.fetch_add(r.in_pkts + r.out_pkts, std::memory_order_relaxed);
      return;
    }
  }
  queue_.push_back(std::move(r));
  const size_t depth = queue_.size();
  flows_exported_.fetch_add(1, std::memory_order_relaxed);
  lk.unlock();
  // Wake JS per batch, not per flow: each wake-up is a cross-thread hand-off, and one per flow
  // cost more than the flows themselves. tick() and the end of capture signal what is left.
  if (depth >= signal_batch_) signal();
}

void Engine::signal() {
  if (!signal_pending_.exchange(true) && notify_) {
    last_signal_us_.store(wall_us(), std::memory_order_relaxed);
    notify_();
  }
}

void Engine::finish_record(FlowRecord& r, std::vector<uint8_t>& out) {
  if (!r.l7) return;
  // The dissector counts anomalies and reads options through thread-locals: point the
  // reading thread's at this probe's (the counters are locked).
  set_thread_anomaly_counts(&dissector_anomalies_);
  set_thread_dissector_options(&cfg_.dissector_options);
  r.l7_proto = r.l7->l7_proto();
  FieldWriter w(out);
  r.l7->on_export(w);
  if (!r.l7->anomalies().empty()) {
    std::string names;
    for (const char* n : r.l7->anomalies()) names += (names.empty() ? "" : ",") + std::string(n);
    w.str("__ANOMALIES", names);  // merged into FLOW_ANOMALIES by src/record.ts
  }
  // Freed by the capture thread, which allocated it and its strings: glibc frees a chunk
  // into the freeing thread's cache, so frees here left the capture thread's malloc without
  // reusable chunks (malloc was ~12% of it on the 290k-flow capture). Bounded: past the cap
  // (the capture thread not ticking, e.g. waiting on a full queue) it is freed here.
  {
    std::lock_guard<std::mutex> lk(gmu_);
    if (graveyard_.size() < limits::kMaxGraveyard) graveyard_.push_back(r.l7.release());
  }
  r.l7.reset();
  // Not left pointing at this probe: it may be gone before the thread's next dissector call.
  set_thread_anomaly_counts(nullptr);
  set_thread_dissector_options(nullptr);
}

size_t Engine::read_batch(std::vector<FlowRecord>& out, size_t max) {
  // Clear the signal before draining: a flow queued after this point signals again.
  signal_pending_.store(false);
  std::lock_guard<std::mutex> lk(mu_);
  size_t n = std::min(max, queue_.size());
  for (size_t i = 0; i < n; i++) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  if (n) not_full_.notify_one();
  return n;
}

EngineStats Engine::stats() const {
  EngineStats s{};
  auto ld = [](const auto& a) { return a.load(std::memory_order_relaxed); };
  s.packets = ld(dc_.packets);
  s.wire_bytes = ld(dc_.wire_bytes);
  s.ip_packets = ld(dc_.ip_packets);
  s.non_ip = ld(dc_.non_ip);
  s.undecodable = ld(dc_.undecodable);
  s.fragments = ld(dc_.fragments);
  s.reassembled = ld(dc_.reassembled);
  s.frag_unattributed = ld(dc_.frag_unattributed);
  s.tunneled = ld(dc_.tunneled);
  s.flows_created = ld(flows_created_);
  s.flows_active = ld(flows_active_);
  s.flows_exported = ld(flows_exported_);
  s.flows_evicted = ld(flows_evicted_);
  s.queue_drops = ld(queue_drops_);
  s.queue_drop_packets = ld(queue_drop_packets_);
  {
    std::lock_guard<std::mutex> lk(mu_);
    s.queue_depth = queue_.size();
  }
  s.kernel_recv = ld(kernel_recv_);
  s.kernel_drop = ld(kernel_drop_);
  s.kernel_ifdrop = ld(kernel_ifdrop_);
  s.kernel_stats_valid = kernel_stats_valid_.load();
  s.file_size = ld(file_size_);
  s.file_pos = ld(file_pos_);
  s.frag_in_flight = ld(frag_in_flight_);
  s.frag_bytes = ld(frag_bytes_);
  s.table_bytes = ld(table_bytes_);
  s.capture_cpu_us = capture_cpu_.now_us();
  s.reader_cpu_us = reader_ ? reader_->cpu_us() : 0;
  s.file_reader = !reader_ ? "" : reader_->block_mode() ? "block" : "libpcap";
  s.first_ts_us = ld(first_ts_);
  s.last_ts_us = ld(last_ts_);
  for (size_t i = 0; i < kAnomalyCount; i++) s.anomalies[i] = ld(anomalies_.count[i]);
  s.dissector_anomalies = dissector_anomalies_.snapshot();
  s.tcp_retransmissions = ld(tcp_retransmissions_);
  s.tcp_gaps = ld(tcp_gaps_);
  s.tcp_gap_bytes = ld(tcp_gap_bytes_);
  s.running = running_.load();
  s.done = done_.load();
  s.icpt_conns = ld(icpt_conns_);
  s.icpt_pending = ld(icpt_pending_);
  s.icpt_full_defaults = ld(icpt_full_defaults_);
  s.icpt_native_timeouts = ld(icpt_native_timeouts_);
  s.icpt_export_defaults = ld(icpt_export_defaults_);
  for (int i = 0; i < 5; i++) s.icpt_applied[i] = ld(icpt_applied_[i]);
  s.icpt_rst_sent = ld(icpt_rst_sent_);
  s.icpt_rst_failed = ld(icpt_rst_failed_);
  s.nf_accepted = ld(nf_accepted_);
  s.nf_dropped = ld(nf_dropped_);
  s.nf_kernel_drops = ld(nf_kernel_drops_);
  s.nfqueue = nfq_ != nullptr;
  if (nfq_) {
    s.kernel_drop = s.nf_kernel_drops;
    s.kernel_stats_valid = true;
  }
  return s;
}

// ---- Connection hook (intercept.h, DESIGN.md §5) ----

void Engine::configure_intercept(bool on, uint8_t default_verdict, uint64_t timeout_us, bool rst) {
  cfg_.intercept = on;
  cfg_.intercept_default = verdict::valid(default_verdict) ? default_verdict : verdict::kCheck;
  cfg_.intercept_timeout_us = timeout_us;
  cfg_.intercept_rst = rst;
}

void Engine::signal_conns() {
  if (!conn_signal_pending_.exchange(true) && notify_) notify_();
}

size_t Engine::read_conns(std::vector<ConnEvent>& out, size_t max) {
  // Cleared before draining, as for flows: a connection queued after this signals again.
  conn_signal_pending_.store(false);
  std::lock_guard<std::mutex> lk(imu_);
  const size_t n = std::min(max, conns_.size());
  for (size_t i = 0; i < n; i++) {
    out.push_back(conns_.front());
    conns_.pop_front();
  }
  return n;
}

void Engine::set_verdicts(const std::vector<std::pair<uint64_t, uint8_t>>& v) {
  {
    std::lock_guard<std::mutex> lk(imu_);
    inbox_.insert(inbox_.end(), v.begin(), v.end());
    inbox_ready_.store(true);
  }
  icv_.notify_all();
  wake();  // a live or inline capture may sleep in poll()
}

void Engine::wait_for_verdicts() {
  std::unique_lock<std::mutex> lk(imu_);
  icv_.wait_for(lk, std::chrono::milliseconds(100), [this] { return !inbox_.empty() || abort_.load(); });
}

void Engine::begin_intercept(Flow& f, uint32_t idx, const Packet& p) {
  if (pending_.size() >= cfg_.max_pending) {
    if (cfg_.is_file) {
      // A file waits for JS (deterministic output); JS answers within its time-out.
      while (pending_.size() >= cfg_.max_pending && !abort_.load()) {
        signal_conns();
        wait_for_verdicts();
        apply_verdicts();
      }
    }
    if (pending_.size() >= cfg_.max_pending) {
      // Live capture never waits: the connection gets the default verdict here, counted.
      icpt_full_defaults_.fetch_add(1, std::memory_order_relaxed);
      f.verdict = cfg_.intercept_default;
      icpt_applied_[f.verdict].fetch_add(1, std::memory_order_relaxed);
      if (!verdict::dissects(f.verdict)) f.l7_done = 1;
      return;
    }
  }
  ConnEvent e;
  e.flow_id = f.flow_id;
  e.ts_us = p.ts_first_us;
  e.src = p.src;  // the flow was created by this packet: its sender is the client
  e.dst = p.dst;
  e.sport = p.sport;
  e.dport = p.dport;
  e.ip_version = p.ip_version;
  if (nf_cur_) {
    // The netfilter hook says where the packet is: LOCAL_IN 1, FORWARD 2, LOCAL_OUT 3.
    switch (nf_cur_->hook) {
      case 1: e.divert = Divert::kInput; break;
      case 3: e.divert = Divert::kOutput; break;
      case 2: e.divert = Divert::kForward; break;
      default:  // PRE/POST_ROUTING: decide by the host's addresses, as passive capture does
        e.divert = local_.contains(p.dst, p.ip_version)   ? Divert::kInput
                   : local_.contains(p.src, p.ip_version) ? Divert::kOutput
                                                          : Divert::kForward;
    }
    char name[IF_NAMESIZE];
    if (nf_cur_->indev && if_indextoname(nf_cur_->indev, name)) std::snprintf(e.iface_in, sizeof e.iface_in, "%s", name);
    if (nf_cur_->outdev && if_indextoname(nf_cur_->outdev, name)) std::snprintf(e.iface_out, sizeof e.iface_out, "%s", name);
    e.has_uid = nf_cur_->has_uid;
    e.has_gid = nf_cur_->has_gid;
    e.uid = nf_cur_->uid;
    e.gid = nf_cur_->gid;
  } else if (!cfg_.is_file) {
    e.divert = local_.contains(p.dst, p.ip_version)   ? Divert::kInput
               : local_.contains(p.src, p.ip_version) ? Divert::kOutput
                                                      : Divert::kForward;
    std::snprintf(e.iface_in, sizeof e.iface_in, "%s", cfg_.source.c_str());
  }
  f.verdict = verdict::kPending;
  f.icpt = new InterceptState();
  f.icpt->since_wall_us = wall_us();
  pending_[f.flow_id] = idx;
  icpt_pending_.store(pending_.size(), std::memory_order_relaxed);
  icpt_conns_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lk(imu_);
    conns_.push_back(e);  // bounded: one event per pending connection, and those are capped
  }
  signal_conns();
}

void Engine::hold(Flow& f, const Packet& p, int dir) {
  InterceptState& s = *f.icpt;
  s.last_dir = uint8_t(dir);
  SegmentSeen& seen = s.last[dir];
  seen.seen = true;
  seen.seq = p.tcp_seq;
  seen.ack = p.tcp_ack;
  seen.flags = p.tcp_flags;
  seen.len = p.payload_wire_len + ((p.tcp_flags & tcpflag::SYN) ? 1 : 0) + ((p.tcp_flags & tcpflag::FIN) ? 1 : 0);
  if (nf_cur_) {
    if (s.nf_ids.size() >= limits::kMaxHeldNfPackets) {
      // Held packets are bounded: the sender retransmits this one later.
      anomalies_.add(Anomaly::intercept_held_cap);
      f.anomalies |= anomaly_bit(Anomaly::intercept_held_cap);
      nf_action_ = NfAction::kDrop;
    } else {
      s.nf_ids.push_back(nf_cur_->id);
      nf_action_ = NfAction::kHold;
    }
  }
  // Kept for a "check" verdict: the same packets the reassembler would have had.
  if (!cfg_.dissect || f.l7_done || !(p.payload_wire_len || (p.tcp_flags & tcpflag::SYN) || !s.segs.empty())) return;
  if (s.segs.size() >= limits::kMaxHeldSegmentsPerConn) {
    anomalies_.add(Anomaly::intercept_buffer_cap);
    f.anomalies |= anomaly_bit(Anomaly::intercept_buffer_cap);
    return;
  }
  uint32_t keep = p.payload_len;
  if (s.bytes.size() + keep > limits::kMaxHeldBytesPerConn) {
    // Not kept: the reassembler sees the segment as cut short, a gap (as for the snap length).
    anomalies_.add(Anomaly::intercept_buffer_cap);
    f.anomalies |= anomaly_bit(Anomaly::intercept_buffer_cap);
    keep = 0;
  } else if (held_bytes_ + keep > limits::kMaxHeldBytesTotal) {
    anomalies_.add(Anomaly::intercept_buffer_memory_cap);
    f.anomalies |= anomaly_bit(Anomaly::intercept_buffer_memory_cap);
    keep = 0;
  }
  HeldSegment h;
  h.pkt = p;
  h.pkt.payload = nullptr;
  h.pkt.payload_len = keep;
  h.off = uint32_t(s.bytes.size());
  h.dir = uint8_t(dir);
  if (keep) s.bytes.insert(s.bytes.end(), p.payload, p.payload + keep);
  held_bytes_ += keep;
  s.segs.push_back(h);
}

void Engine::apply_verdicts() {
  std::vector<std::pair<uint64_t, uint8_t>> in;
  {
    std::lock_guard<std::mutex> lk(imu_);
    in.swap(inbox_);
    inbox_ready_.store(false);
  }
  for (auto [id, v] : in) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;  // already decided here (time-out, export, full queue)
    Flow& f = table_->at(it->second);
    if (!f.in_use || f.flow_id != id || f.verdict != verdict::kPending) {
      pending_.erase(it);
      continue;
    }
    apply_verdict(f, verdict::valid(v) ? v : cfg_.intercept_default);
  }
}

void Engine::apply_verdict(Flow& f, uint8_t v) {
  if (f.verdict != verdict::kPending) return;
  pending_.erase(f.flow_id);
  icpt_pending_.store(pending_.size(), std::memory_order_relaxed);
  std::unique_ptr<InterceptState> s(f.icpt);
  f.icpt = nullptr;
  f.verdict = v;
  icpt_applied_[v].fetch_add(1, std::memory_order_relaxed);
  held_bytes_ -= s->bytes.size();
  const bool stop = v == verdict::kDrop || v == verdict::kReject;
  if (nfq_) {
    for (uint32_t id : s->nf_ids) nfq_->verdict(id, !stop);
    // Inline reject: the client hears a reset at once, from the server's address.
    if (v == verdict::kReject && s->last[0].seen) reset_client_inline(f, s->last[0]);
  } else if (v == verdict::kReject && cfg_.intercept_rst && pcap_ && !cfg_.is_file) {
    resets_passive(f, s->last[s->last_dir], s->last_dir);
    f.resets_sent = 1;
  }
  if (!verdict::dissects(v) || !cfg_.dissect) {
    f.l7_done = 1;  // pass, drop, reject: never dissected, no check<Protocol>Flow
    return;
  }
  // check: what was kept goes to reassembly and the dissectors, in arrival order.
  for (HeldSegment& h : s->segs) {
    Packet q = h.pkt;
    q.payload = q.payload_len ? s->bytes.data() + h.off : nullptr;
    if (f.tcp || (!f.l7_done && (q.payload_wire_len || (q.tcp_flags & tcpflag::SYN)))) tcp_segment(f, q, h.dir);
  }
}

void Engine::resolve_before_export(Flow& f) {
  apply_verdicts();
  if (cfg_.is_file) {
    // Deterministic: the capture waits for JS, which answers within its time-out.
    while (f.verdict == verdict::kPending && !abort_.load()) {
      signal_conns();
      wait_for_verdicts();
      apply_verdicts();
    }
  }
  if (f.verdict == verdict::kPending) {
    icpt_export_defaults_.fetch_add(1, std::memory_order_relaxed);
    apply_verdict(f, cfg_.intercept_default);
  }
}

void Engine::sweep_pending(uint64_t wall) {
  // Live safety net: JS promised a verdict within its time-out; past it (and a grace), the
  // default applies here so held packets never wait forever.
  if (pending_.empty()) return;
  const uint64_t limit = cfg_.intercept_timeout_us + limits::kInterceptGraceUs;
  std::vector<uint32_t> late;
  for (auto& [id, idx] : pending_) {
    const Flow& f = table_->at(idx);
    if (f.icpt && wall > f.icpt->since_wall_us + limit) late.push_back(idx);
  }
  for (uint32_t idx : late) {
    icpt_native_timeouts_.fetch_add(1, std::memory_order_relaxed);
    apply_verdict(table_->at(idx), cfg_.intercept_default);
  }
}

namespace {
void endpoints(const Flow& f, IpAddr& cli, IpAddr& srv, uint16_t& cport, uint16_t& sport) {
  const bool a = f.client_is_a;
  std::memcpy(cli.b, a ? f.key.a : f.key.b, 16);
  std::memcpy(srv.b, a ? f.key.b : f.key.a, 16);
  cport = a ? f.key.port_a : f.key.port_b;
  sport = a ? f.key.port_b : f.key.port_a;
}
}  // namespace

void Engine::nf_decide(Flow& f, const Packet& p, int dir) {
  // Every later packet of a decided connection gets the same treatment, without the hook.
  if (f.verdict == verdict::kDrop) {
    nf_action_ = NfAction::kDrop;
  } else if (f.verdict == verdict::kReject) {
    // A reset toward the client is let through: it is the one we sent (a queue rule on the
    // server's OUTPUT chain hands our own packet back to us) or the server's own.
    if (dir == 1 && (p.tcp_flags & tcpflag::RST)) return;
    nf_action_ = NfAction::kDrop;
    if (dir == 0 && !(p.tcp_flags & tcpflag::RST)) {  // never answer a reset with a reset
      SegmentSeen s;
      s.seen = true;
      s.seq = p.tcp_seq;
      s.ack = p.tcp_ack;
      s.flags = p.tcp_flags;
      s.len = p.payload_wire_len + ((p.tcp_flags & tcpflag::SYN) ? 1 : 0) + ((p.tcp_flags & tcpflag::FIN) ? 1 : 0);
      reset_client_inline(f, s);
    }
  }
}

void Engine::reset_client_inline(const Flow& f, const SegmentSeen& c) {
  if (c.flags & tcpflag::RST) return;
  IpAddr cli, srv;
  uint16_t cport, sport;
  endpoints(f, cli, srv, cport, sport);
  uint32_t seq, ack;
  uint8_t flags;
  reset_for(c, seq, ack, flags);
  uint8_t pkt[kMaxRstPacket];
  const size_t n = build_tcp_reset(f.key.ip_version, srv, cli, sport, cport, seq, ack, flags, pkt);
  const bool ok = n && raw_.send(f.key.ip_version, pkt, n, cli);
  (ok ? icpt_rst_sent_ : icpt_rst_failed_).fetch_add(1, std::memory_order_relaxed);
}

void Engine::resets_passive(const Flow& f, const SegmentSeen& s, int dir) {
  // Injected on the capture interface as Ethernet frames, one to each end, computed from the
  // latest segment seen (sent by side `dir`). Only plain Ethernet (no VLAN tags, no tunnel):
  // the frame must be one the ends will take.
  if (linktype_ != DLT_EN10MB || f.key.vlan_key || f.key.tunneled || !s.seen || (s.flags & tcpflag::RST)) {
    icpt_rst_failed_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  IpAddr ip[2];
  uint16_t port[2];
  endpoints(f, ip[0], ip[1], port[0], port[1]);
  const uint8_t* mac[2] = {f.client_mac, f.server_mac};
  const uint16_t ethertype = f.key.ip_version == 6 ? 0x86dd : 0x0800;
  auto send = [&](int from, uint32_t seq, uint32_t ack, uint8_t flags) {
    const int to = 1 - from;
    uint8_t frame[14 + kMaxRstPacket];
    std::memcpy(frame, mac[to], 6);
    std::memcpy(frame + 6, mac[from], 6);
    frame[12] = uint8_t(ethertype >> 8);
    frame[13] = uint8_t(ethertype);
    const size_t n = build_tcp_reset(f.key.ip_version, ip[from], ip[to], port[from], port[to], seq, ack, flags, frame + 14);
    const bool ok = n && pcap_inject(pcap_, frame, 14 + n) == int(14 + n);
    (ok ? icpt_rst_sent_ : icpt_rst_failed_).fetch_add(1, std::memory_order_relaxed);
  };
  // To the segment's sender, as from its peer: RFC 793 §3.4 (seq from its ACK field).
  uint32_t seq, ack;
  uint8_t flags;
  reset_for(s, seq, ack, flags);
  send(1 - dir, seq, ack, flags);
  // To its receiver, as from the sender: the sender's next sequence number.
  send(dir, s.seq + s.len, s.ack, (s.flags & tcpflag::ACK) ? (tcpflag::RST | tcpflag::ACK) : tcpflag::RST);
}

void Engine::on_nf_packet(const NfPacket& np) {
  if (nf_has_filter_) {
    pcap_pkthdr h{};
    h.caplen = h.len = np.len;
    if (!pcap_offline_filter(&nf_filter_, &h, np.data)) {
      nfq_->verdict(np.id, true);  // not ours to look at (-f)
      return;
    }
  }
  pcap_pkthdr hdr{};
  hdr.ts.tv_sec = time_t(np.ts_us / 1000000);
  hdr.ts.tv_usec = suseconds_t(np.ts_us % 1000000);
  hdr.caplen = hdr.len = np.len;
  nf_cur_ = &np;
  nf_action_ = NfAction::kAccept;
  handle_frame(&hdr, np.data);
  nf_cur_ = nullptr;
  if (nf_action_ != NfAction::kHold) nfq_->verdict(np.id, nf_action_ == NfAction::kAccept);
}

void Engine::run_nfqueue() {
  const int fd = nfq_->fd();
  uint64_t last_tick = wall_us();
  while (!stop_.load(std::memory_order_relaxed)) {
    if (inbox_ready_.load(std::memory_order_relaxed)) apply_verdicts();
    std::string err;
    if (!nfq_->receive(err)) {
      std::lock_guard<std::mutex> lk(mu_);
      warning_ = "capture on " + cfg_.source + " failed after packet " + std::to_string(dc_.packets.load()) + ": " + err;
      break;
    }
    if (inbox_ready_.load(std::memory_order_relaxed)) apply_verdicts();
    const uint64_t w = wall_us();
    if (w - last_tick >= 100000) {
      if (w > now_us_) now_us_ = w;
      table_->expire(now_us_);
      tick(now_us_);
      last_tick = w;
    }
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    poll(fds, 2, 100);
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      ssize_t r = read(wake_fd_, &v, sizeof v);
      (void)r;
    }
  }
}

}  // namespace nprobe
