// Reads a capture file on a thread of its own, ahead of the capture thread.
//
// Reading a file was ~40% of the capture thread's work on the bench capture without the
// dissectors (~30% with them): the kernel copies every byte out of the page cache and libpcap
// copies it again (pcap_next_ex). Here
// that runs on the reader thread while the capture thread decodes, keeps flows and
// dissects, so the two overlap on two cores. Packets travel in a small ring of fixed-size
// chunks (kChunks x kChunkBytes, the whole cap): the reader copies each frame behind a
// pcap_pkthdr into the chunk it fills and hands the chunk over when it is full; the capture
// thread reads frames in place and gives the chunk back. One lock round trip per chunk, not
// per packet, and chunks small enough that a handed-over chunk is still in the shared cache.
// The reader waits while every chunk is full, so nothing is dropped (file mode is lossless).
// The end of the file, or a read error with libpcap's message, travels as the last chunk.
#pragma once
#include <pcap/pcap.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
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
  static constexpr size_t kChunkBytes = 512 * 1024;  // > libpcap's 256 KiB snaplen cap
  static constexpr size_t kChunks = 4;

  struct Chunk {
    std::unique_ptr<uint8_t[]> buf;
    size_t used = 0;
    uint64_t file_pos = 0;  // file offset after its last frame (progress)
    bool last = false;      // nothing follows: end of file, error or stop
    bool error = false;     // last, and the file is cut short (message())
  };

  // Borrows pcap (an offline handle; its FILE gives the progress offset) and the engine's
  // anomaly counters (capture_frame_cut).
  FileReader(pcap_t* pcap, AnomalyCounters& an);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  void start();
  // Capture thread: the next filled chunk (waits for it), or nullptr once the last was
  // released or interrupt() was called.
  const Chunk* next();
  void release(const Chunk* c);
  // Walks the frames of a chunk: returns false past the last one.
  static bool frame(const Chunk& c, size_t& off, const pcap_pkthdr*& hdr, const u_char*& data);
  // Any thread: stop reading and wake both sides (a stop request).
  void interrupt();
  void join();
  std::string message() const;  // libpcap's error, when the last chunk says error
  uint64_t cpu_us() const { return cpu_.now_us(); }  // the reader thread's (so far, or in all)

 private:
  void run();
  bool put(const pcap_pkthdr* h, const u_char* d, Chunk*& cur);
  Chunk* acquire();  // reader: an empty chunk, or nullptr when interrupted
  void publish(Chunk* c);

  pcap_t* pcap_;
  FILE* file_;
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
