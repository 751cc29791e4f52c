// The line reader every text protocol shares (HTTP, SMTP, IMAP, POP3, FTP, SIP over TCP):
// feeds arbitrary stream chunks in, hands complete lines out (CRLF or bare LF, terminator
// stripped), and caps the line length. A line over the cap is cut: the first kMaxLine bytes
// are handed out flagged `truncated`, the rest is skipped up to the next LF, and the
// dissector names the anomaly. Raw mode passes a known number of bytes through untouched
// (message bodies, IMAP literals) without splitting them into lines.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace nprobe {

class LineReader {
 public:
  static constexpr size_t kDefaultMaxLine = 8192;
  explicit LineReader(size_t max_line = kDefaultMaxLine) : max_(max_line) {}

  struct Line {
    std::string_view text;  // without CR/LF
    bool truncated;         // longer than the cap: only the first bytes are here
  };

  // Calls on_line(Line) for each complete line and on_raw(const uint8_t*, size_t) for bytes
  // consumed in raw mode (see skip_raw). The callbacks may call skip_raw() or reset().
  template <class OnLine, class OnRaw>
  void feed(const uint8_t* p, size_t n, OnLine&& on_line, OnRaw&& on_raw) {
    size_t i = 0;
    while (i < n) {
      if (raw_left_ > 0) {
        const size_t take = size_t(std::min<uint64_t>(raw_left_, n - i));
        raw_left_ -= take;
        on_raw(p + i, take);
        i += take;
        continue;
      }
      // Find the end of this line in the chunk.
      const uint8_t* lf = static_cast<const uint8_t*>(std::memchr(p + i, '\n', n - i));
      const size_t j = lf ? size_t(lf - p) : n;
      const size_t len = j - i;
      if (lf && buf_.empty() && !skipping_ && !truncated_ && len <= max_) {
        // The whole line is in this chunk: it is handed out where it lies, uncopied. The
        // chunk outlives the callback, and nothing the callback does to the reader moves it.
        std::string_view text(reinterpret_cast<const char*>(p + i), len);
        if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
        i = j + 1;
        on_line(Line{text, false});
        continue;
      }
      if (!skipping_) {
        // A line that runs over more than one chunk and past 1 KiB (an SMTP body line, a long
        // header) is likely to reach the cap: room for all of it at once, rather than growing
        // the buffer (and copying what it holds) step by step as its pieces arrive.
        if (buf_.size() + len > std::max<size_t>(buf_.capacity(), 1024)) buf_.reserve(max_);
        const size_t room = max_ - std::min(max_, buf_.size());
        if (len > room) {
          buf_.append(reinterpret_cast<const char*>(p + i), room);
          truncated_ = true;
          if (j == n) skipping_ = true;  // drop the rest of this line as it arrives
        } else {
          buf_.append(reinterpret_cast<const char*>(p + i), len);
        }
      }
      if (j == n) return;  // no LF yet: wait for more
      // End of a line that began in an earlier chunk: hand it out from line_, so a callback
      // that resets the reader or the next line's bytes can't touch the text it is reading.
      line_.swap(buf_);
      buf_.clear();
      std::string_view text(line_);
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      const bool trunc = truncated_;
      truncated_ = skipping_ = false;
      i = j + 1;
      on_line(Line{text, trunc});
    }
  }

  // The next n bytes pass through on_raw instead of being split into lines.
  void skip_raw(uint64_t n) { raw_left_ = n; }
  uint64_t raw_left() const { return raw_left_; }
  // Forget a partial line (after a stream gap: resync at the next line).
  void reset() {
    buf_.clear();
    truncated_ = false;
    skipping_ = true;  // the bytes up to the next LF belong to a line we lost the start of
    raw_left_ = 0;
  }
  // Forget a partial line and start afresh at the next byte (after a gap, when the dissector
  // knows the bytes that follow start a line: a command verb or a reply code).
  void restart() {
    buf_.clear();
    truncated_ = skipping_ = false;
    raw_left_ = 0;
  }
  // Bytes of an unfinished line held (bounded by the cap).
  size_t pending() const { return buf_.size(); }

 private:
  size_t max_;
  std::string buf_;   // the line being assembled
  std::string line_;  // the line being handed out
  bool truncated_ = false;
  bool skipping_ = false;
  uint64_t raw_left_ = 0;
};

}  // namespace nprobe
