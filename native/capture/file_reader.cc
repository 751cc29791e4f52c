// Capture-file reader thread: see file_reader.h.
#include "file_reader.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace nprobe {

namespace {
constexpr size_t kHdr = (sizeof(pcap_pkthdr) + 7) & ~size_t(7);
constexpr size_t pad8(size_t n) { return (n + 7) & ~size_t(7); }

// pcap-savefile(5).
constexpr size_t kFileHdr = 24;
constexpr size_t kRecHdr = 16;
constexpr uint32_t kMagicUsec = 0xa1b2c3d4, kMagicNsec = 0xa1b23c4d;
// libpcap's largest caplen for every link type the decoder takes (MAXIMUM_SNAPLEN).
constexpr uint32_t kMaxCaplen = 262144;
// A partial record carried to the start of a chunk completes in it, so every chunk but the
// last holds at least one whole record.
static_assert(kRecHdr + kMaxCaplen < FileReader::kChunkBytes);

uint16_t rd16(const uint8_t* p, bool swap) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return swap ? __builtin_bswap16(v) : v;
}
}  // namespace

FileReader::FileReader(pcap_t* pcap, AnomalyCounters& an, bool block_ok)
    : pcap_(pcap), file_(pcap_file(pcap)), an_(an) {
  for (Chunk& c : ring_) c.buf = std::make_unique<uint8_t[]>(kChunkBytes);
  if (!block_ok || !file_) return;
  // Block mode reads the records from after the file header with pread, so the file must be
  // a classic pcap that libpcap has read nothing of but its header.
  uint8_t h[kFileHdr];
  if (pread(fileno(file_), h, sizeof h, 0) != ssize_t(sizeof h) || ftell(file_) != long(kFileHdr)) return;
  uint32_t magic;
  std::memcpy(&magic, h, 4);
  if (magic == kMagicUsec || magic == kMagicNsec) {
    swapped_ = false;
  } else if (magic == __builtin_bswap32(kMagicUsec) || magic == __builtin_bswap32(kMagicNsec)) {
    swapped_ = true;
  } else {
    return;  // pcapng, or a modified-pcap variant with longer record headers
  }
  nsec_ = magic == kMagicNsec || magic == __builtin_bswap32(kMagicNsec);
  // Before 2.4, libpcap may swap a record's caplen and len (an old bug it works around).
  if (rd16(h + 4, swapped_) != 2 || rd16(h + 6, swapped_) < 4) return;
  const int snap = pcap_snapshot(pcap);
  if (snap <= 0) return;
  snapshot_ = uint32_t(snap);
  block_ = true;
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
  if (!block_ && file_) {
    long pos = ftell(file_);  // progress for stats(): where libpcap's reads have got to
    if (pos >= 0) c->file_pos = uint64_t(pos);
  }
  std::lock_guard<std::mutex> lk(mu_);
  tail_ = (tail_ + 1) % kChunks;
  filled_++;
  if (c->last) finished_ = true;
  cv_.notify_all();
}

void FileReader::fail(Chunk* c, std::string msg) {
  c->last = c->error = true;
  {
    std::lock_guard<std::mutex> lk(mu_);
    message_ = std::move(msg);
  }
  publish(c);
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
  if (Chunk* cur = acquire()) {
    if (block_)
      run_block(cur);
    else
      run_libpcap(cur);
  }
  cpu_.end();
  // Interrupted before the last chunk went out: the capture thread must not wait for it.
  std::lock_guard<std::mutex> lk(mu_);
  finished_ = true;
  cv_.notify_all();
}

void FileReader::run_libpcap(Chunk* cur) {
  while (cur) {
    pcap_pkthdr* h;
    const u_char* d;
    const int rc = stop_.load(std::memory_order_relaxed) ? PCAP_ERROR_BREAK : pcap_next_ex(pcap_, &h, &d);
    if (rc == 1) {
      if (!put(h, d, cur)) return;
      continue;
    }
    if (rc != PCAP_ERROR_BREAK) return fail(cur, pcap_geterr(pcap_));
    cur->last = true;
    publish(cur);
    return;
  }
}

void FileReader::run_block(Chunk* cur) {
  const int fd = fileno(file_);
  uint64_t pos = kFileHdr;  // the file offset of the next read
  size_t fill = 0;  // bytes in cur: a partial record carried over, then what was read
  for (;;) {
    if (stop_.load(std::memory_order_relaxed)) {
      cur->last = true;
      publish(cur);
      return;
    }
    uint8_t* buf = cur->buf.get();
    const size_t want = kChunkBytes - fill;
    // pread on the descriptor, not fread: stdio would read through its own 1 MiB buffer, one
    // more copy of every byte. libpcap is done with the FILE, so its read-ahead is not needed.
    size_t n = 0;
    int read_errno = 0;
    while (n < want) {
      const ssize_t r = pread(fd, buf + fill + n, want - n, off_t(pos));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        read_errno = r < 0 ? errno : 0;
        break;
      }
      n += size_t(r);
      pos += uint64_t(r);
    }
    const bool read_error = read_errno != 0;
    fill += n;
    // The whole records in the chunk, checked as libpcap checks them.
    size_t off = 0;
    uint32_t caplen = 0;  // of the record at off, once its header is whole
    bool too_big = false;
    while (fill - off >= kRecHdr) {
      caplen = u32(buf + off + 8);
      // libpcap's snapshot never exceeds the maximum, so a caplen past the maximum is past
      // the snapshot too, and libpcap says so in these words.
      if (caplen > kMaxCaplen) {
        too_big = true;
        break;
      }
      if (fill - off - kRecHdr < caplen) break;
      off += kRecHdr + caplen;
    }
    cur->used = off;
    const size_t rem = fill - off;  // the partial record at off
    cur->file_pos = pos - rem;
    if (too_big)
      return fail(cur, "invalid packet capture length " + std::to_string(caplen) + ", bigger than snaplen of " +
                           std::to_string(snapshot_));
    if (read_error) return fail(cur, std::string("error reading dump file: ") + strerror(read_errno));
    if (n < want) {  // end of file
      if (rem == 0) {
        cur->last = true;
        publish(cur);
        return;
      }
      if (rem < kRecHdr)
        return fail(cur, "truncated dump file; tried to read 16 header bytes, only got " + std::to_string(rem));
      // libpcap reads a record longer than the snapshot length as the snapshot first, then
      // the rest, and names whichever read came up short.
      const size_t got = rem - kRecHdr;
      const uint32_t tried = caplen > snapshot_ && got < snapshot_ ? snapshot_ : caplen;
      return fail(cur, "truncated dump file; tried to read " + std::to_string(tried) + " captured bytes, only got " +
                           std::to_string(got));
    }
    // The chunk is full: the partial record moves to the start of the next one. Reading it
    // from the published chunk is safe: the capture thread only reads chunks, and this one
    // cannot come round to the reader again before the copy (kChunks > 1).
    Chunk* prev = cur;
    publish(prev);
    cur = acquire();
    if (!cur) return;
    std::memcpy(cur->buf.get(), prev->buf.get() + off, rem);
    fill = rem;
  }
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
  // The reader is woken only once half the ring is free, and then refills it in one go: woken
  // at every chunk, it preempted the capture thread ~1300 times on the 1M-packet bench
  // capture. It cannot sleep past need: the capture thread waits only on an empty ring, and
  // the ring passes through half-free on the way there.
  if (filled_ <= kChunks / 2) cv_.notify_all();
}

bool FileReader::frame(const Chunk& c, size_t& off, pcap_pkthdr& hdr, const u_char*& data) const {
  if (!block_) {
    if (off + kHdr > c.used) return false;
    std::memcpy(&hdr, c.buf.get() + off, sizeof hdr);
    data = c.buf.get() + off + kHdr;
    off += kHdr + pad8(hdr.caplen);
    return true;
  }
  // The reader checked every record below used; here the header is only converted, as
  // libpcap does: signed 32-bit seconds and fraction, nanoseconds scaled down, caplen cut
  // to the snapshot length (the rest of such a record is skipped).
  if (off + kRecHdr > c.used) return false;
  const uint8_t* p = c.buf.get() + off;
  const int32_t frac = int32_t(u32(p + 4));
  hdr.ts.tv_sec = int32_t(u32(p));
  hdr.ts.tv_usec = nsec_ ? frac / 1000 : frac;
  const uint32_t caplen = u32(p + 8);
  hdr.caplen = std::min(caplen, snapshot_);
  hdr.len = u32(p + 12);
  data = p + kRecHdr;
  off += kRecHdr + caplen;
  return true;
}

}  // namespace nprobe
