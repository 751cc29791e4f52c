// The CPU time of one thread, readable from any other: its clock while it runs, the figure
// it stored on its way out once it has ended (the capture thread, the file reader).
#pragma once
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <ctime>

namespace nprobe {

class ThreadCpu {
 public:
  // On the thread itself, first thing.
  void begin() {
    if (pthread_getcpuclockid(pthread_self(), &clock_) == 0) ok_.store(true);
  }
  // On the thread itself, last thing: the clock dies with the thread.
  void end() {
    final_us_.store(now_us());
    ok_.store(false);
  }
  // Any thread. A thread that has just ended makes clock_gettime fail (EINVAL): the figure
  // it stored is used then.
  uint64_t now_us() const {
    timespec ts;
    if (ok_.load() && clock_gettime(clock_, &ts) == 0) return uint64_t(ts.tv_sec) * 1000000 + uint64_t(ts.tv_nsec) / 1000;
    return final_us_.load();
  }

 private:
  clockid_t clock_{};
  std::atomic<bool> ok_{false};
  std::atomic<uint64_t> final_us_{0};
};

}  // namespace nprobe
