// Reads a capture file on a thread of its own, ahead of the capture thread.
//
// Reading a file was ~40% of the capture thread's work on the bench capture without the
// dissectors (~30% with them). Here that runs on the reader thread while the capture thread
// decodes, keeps flows and dissects, so the two overlap on two cores. Packets travel in a
// small ring of fixed-size chunks (kChunks x kChunkBytes, the whole cap); the capture thread
// reads frames in place and gives the chunk back. One lock round trip per chunk, not per
// packet, and chunks small enough that a handed-over chunk is still in the shared cache.
// The reader waits while every chunk is full, so nothing is dropped (file mode is lossless).
// The end of the file, or a read error with its message, travels as the last chunk.
//
// Two ways to fill a chunk:
// - Block (classic pcap 2.4, either byte order, micro- or nanosecond; no BPF filter): the
//   records are read from the file in 512 KiB blocks straight into the chunk, as they lie
//   (pcap-savefile(5): a 16-byte record header, then caplen bytes). libpcap still opens the
//   file and checks its header; only the per-record reading is ours (pread on its
//   descriptor). Why: libpcap reads a record with two freads and copies it once more into
//   its own buffer; on the 1M-packet bench capture the reader thread needed ~0.09 s of CPU
//   that way and ~0.05 s reading blocks. The records' checks and error
//   messages are libpcap 1.10's (caplen against 256 KiB and the snapshot length, timestamps
//   scaled to microseconds, truncation), so both ways give the same frames and warnings.
// - libpcap (pcapng, the modified-pcap formats, old versions, stdin, a BPF filter):
//   pcap_next_ex, each frame copied behind its pcap_pkthdr.
// NPROBE_FILE_READER=libpcap forces the second way (tests compare the two).
#pragma once
#include <pcap/pcap.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "../util/anomalies.h"
#include "../util/thread_cpu.h"

namespace nprobe {

class FileReader {
 public:
  static constexpr size_t kChunkBytes = 512 * 1024;  // > libpcap's 256 KiB snaplen cap + a record header
  static constexpr size_t kChunks = 8;  // the reader refills the ring's free half at a time (release())

  struct Chunk {
    std::unique_ptr<uint8_t[]> buf;
    size_t used = 0;        // bytes of whole frames (block mode: of whole records)
    uint64_t file_pos = 0;  // file offset after its last frame (progress)
    bool last = false;      // nothing follows: end of file, error or stop
    bool error = false;     // last, and the file is cut short (message())
  };

  // Borrows pcap (an offline handle whose FILE is positioned after the file header) and the
  // engine's anomaly counters (capture_frame_cut). block_ok: the caller allows block mode
  // (no BPF filter, a seekable file); it is used if the file's header qualifies.
  FileReader(pcap_t* pcap, AnomalyCounters& an, bool block_ok);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  void start();
  // Capture thread: the next filled chunk (waits for it), or nullptr once the last was
  // released or interrupt() was called.
  const Chunk* next();
  void release(const Chunk* c);
  // Walks the frames of a chunk: returns false past the last one.
  bool frame(const Chunk& c, size_t& off, pcap_pkthdr& hdr, const u_char*& data) const;
  // Any thread: stop reading and wake both sides (a stop request).
  void interrupt();
  void join();
  std::string message() const;  // the read error, when the last chunk says error
  uint64_t cpu_us() const { return cpu_.now_us(); }  // the reader thread's (so far, or in all)
  bool block_mode() const { return block_; }

 private:
  void run();
  void run_libpcap(Chunk* cur);
  void run_block(Chunk* cur);
  bool put(const pcap_pkthdr* h, const u_char* d, Chunk*& cur);
  Chunk* acquire();  // reader: an empty chunk, or nullptr when interrupted
  void publish(Chunk* c);
  void fail(Chunk* c, std::string msg);  // publishes c as the last chunk, cut short
  uint32_t u32(const uint8_t* p) const {  // a record header word in the file's byte order
    uint32_t v;
    std::memcpy(&v, p, 4);
    return swapped_ ? __builtin_bswap32(v) : v;
  }

  pcap_t* pcap_;
  FILE* file_;
  // Block mode and the file header's facts it needs.
  bool block_ = false;
  bool swapped_ = false;
  bool nsec_ = false;
  uint32_t snapshot_ = 0;  // libpcap's (adjusted) snapshot length
  Chunk ring_[kChunks];
  // Chunks [head_, head_ + filled_) (mod kChunks) are the capture thread's, the others the
  // reader's; both indices move under mu_.
  size_t head_ = 0, filled_ = 0, tail_ = 0;
  bool finished_ = false;  // nothing more will be published (the last chunk, or interrupted)
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  std::string message_;
  AnomalyCounters& an_;
  std::thread thread_;
  ThreadCpu cpu_;
};

}  // namespace nprobe
