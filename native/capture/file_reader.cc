// Capture-file reader thread: see file_reader.h.
#include "file_reader.h"

#include <pthread.h>

#include <cstring>

namespace nprobe {

namespace {
constexpr size_t kHdr = (sizeof(pcap_pkthdr) + 7) & ~size_t(7);
constexpr size_t pad8(size_t n) { return (n + 7) & ~size_t(7); }
}  // namespace

FileReader::FileReader(pcap_t* pcap, AnomalyCounters& an) : pcap_(pcap), file_(pcap_file(pcap)), an_(an) {
  for (Chunk& c : ring_) c.buf = std::make_unique<uint8_t[]>(kChunkBytes);
}

FileReader::~FileReader() {
  interrupt();
  join();
}

void FileReader::start() {
  thread_ = std::thread([this] { run(); });
}

void FileReader::join() {
  if (thread_.joinable()) thread_.join();
}

void FileReader::interrupt() {
  stop_.store(true);
  std::lock_guard<std::mutex> lk(mu_);
  cv_.notify_all();
}

std::string FileReader::message() const {
  std::lock_guard<std::mutex> lk(mu_);
  return message_;
}

FileReader::Chunk* FileReader::acquire() {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [this] { return filled_ < kChunks || stop_.load(); });
  if (stop_.load()) return nullptr;
  Chunk* c = &ring_[tail_];
  c->used = 0;
  c->last = c->error = false;
  return c;
}

void FileReader::publish(Chunk* c) {
  if (file_) {
    // Progress for stats(): where libpcap's reads have got to in the file.
    long pos = ftell(file_);
    if (pos >= 0) c->file_pos = uint64_t(pos);
  }
  std::lock_guard<std::mutex> lk(mu_);
  tail_ = (tail_ + 1) % kChunks;
  filled_++;
  if (c->last) finished_ = true;
  cv_.notify_all();
}

bool FileReader::put(const pcap_pkthdr* h, const u_char* d, Chunk*& cur) {
  size_t caplen = h->caplen;
  if (kHdr + caplen > kChunkBytes) {
    // libpcap caps a frame at 256 KiB for every link type the decoder takes, so this cannot
    // happen with the chunk size above; should it, the frame is cut, not the capture.
    caplen = kChunkBytes - kHdr;
    an_.add(Anomaly::capture_frame_cut);
  }
  const size_t need = kHdr + pad8(caplen);
  if (cur->used + need > kChunkBytes) {
    publish(cur);
    cur = acquire();
    if (!cur) return false;
  }
  uint8_t* p = cur->buf.get() + cur->used;
  pcap_pkthdr copy = *h;
  copy.caplen = bpf_u_int32(caplen);
  std::memcpy(p, &copy, sizeof copy);
  std::memcpy(p + kHdr, d, caplen);
  cur->used += need;
  return true;
}

void FileReader::run() {
  pthread_setname_np(pthread_self(), "nprobe-reader");
  cpu_.begin();
  Chunk* cur = acquire();
  while (cur) {
    pcap_pkthdr* h;
    const u_char* d;
    const int rc = stop_.load(std::memory_order_relaxed) ? PCAP_ERROR_BREAK : pcap_next_ex(pcap_, &h, &d);
    if (rc == 1) {
      if (!put(h, d, cur)) break;
      continue;
    }
    cur->last = true;
    if (rc != PCAP_ERROR_BREAK) {
      cur->error = true;
      std::lock_guard<std::mutex> lk(mu_);
      message_ = pcap_geterr(pcap_);
    }
    publish(cur);
    break;
  }
  cpu_.end();
  // Interrupted before the last chunk went out: the capture thread must not wait for it.
  std::lock_guard<std::mutex> lk(mu_);
  finished_ = true;
  cv_.notify_all();
}

const FileReader::Chunk* FileReader::next() {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [this] { return filled_ > 0 || finished_ || stop_.load(); });
  if (filled_ == 0 || stop_.load()) return nullptr;
  return &ring_[head_];
}

void FileReader::release(const Chunk* c) {
  std::lock_guard<std::mutex> lk(mu_);
  if (filled_ == 0 || c != &ring_[head_]) return;  // only the chunk next() gave, once
  head_ = (head_ + 1) % kChunks;
  filled_--;
  cv_.notify_all();
}

bool FileReader::frame(const Chunk& c, size_t& off, const pcap_pkthdr*& hdr, const u_char*& data) {
  if (off + kHdr > c.used) return false;
  hdr = reinterpret_cast<const pcap_pkthdr*>(c.buf.get() + off);
  data = c.buf.get() + off + kHdr;
  off += kHdr + pad8(hdr->caplen);
  return true;
}

}  // namespace nprobe
