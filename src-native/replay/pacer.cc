// Pacer: the schedule and the sleep (see pacer.h). Replay thread only.
#include "replay/pacer.h"

#include <algorithm>

#include "platform/platform.h"

#if defined(_MSC_VER)
#include <intrin.h>
#endif

namespace {

// A nap is at most this long, so a stop is seen within it.
constexpr int64_t kMaxNapNs = 20000000;
// Bounds of the spin before a deadline. Linux wakes within tens of
// microseconds, but a VM's idle vCPU can take longer: at least 200 us
// (measured: a 10 us floor left a p99 gap error of 75 us where 200 us gave
// 45 us, for about 2 % of a core at 400 pauses a second); Windows sleeps in
// scheduler ticks.
constexpr int64_t kMinMarginNs = 200000;
constexpr int64_t kMarginStepNs = 100;
#ifdef _WIN32
constexpr int64_t kMaxMarginNs = 20000000;
#else
constexpr int64_t kMaxMarginNs = 2000000;
#endif

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(_MSC_VER)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

int64_t Pacer::Due(int64_t timestamp, uint32_t bytes) {
  if (mode_ == Mode::kTop) {
    if (!started_) first_due_ = platform::MonotonicNs();
    started_ = true;
    return 0;
  }
  if (!started_) {
    started_ = true;
    first_due_ = origin_wall_ = last_due_ = platform::MonotonicNs();
    origin_ts_ = timestamp;
  } else if (restart_) {
    origin_wall_ = last_due_;
    origin_ts_ = timestamp;
  }
  restart_ = false;
  int64_t due;
  switch (mode_) {
    case Mode::kSpeed:
      due = origin_wall_ + static_cast<int64_t>(static_cast<double>(timestamp - origin_ts_) / rate_);
      break;
    case Mode::kPacketRate:
      due = origin_wall_ + static_cast<int64_t>(static_cast<double>(packets_++) * 1e9 / rate_);
      break;
    default:  // kBitRate
      due = origin_wall_ + static_cast<int64_t>(bits_ * 1e9 / rate_);
      bits_ += 8.0 * bytes;
      break;
  }
  // A timestamp that steps back is sent at once, not before the one before it.
  last_due_ = std::max(due, last_due_);
  return last_due_;
}

bool Pacer::WaitFor(int64_t due, const std::atomic<bool>& stop) {
  for (;;) {
    int64_t now = platform::MonotonicNs();
    if (now >= due) return true;
    if (stop.load(std::memory_order_relaxed)) return false;
    if (due - now > margin_) {
      const int64_t wake = std::min(due - margin_, now + kMaxNapNs);
      platform::SleepUntil(wake);
      if (wake == due - margin_) Learn(platform::MonotonicNs() - wake);
      continue;
    }
    while (platform::MonotonicNs() < due) CpuRelax();
    return true;
  }
}

// The margin tracks the 99.5th percentile of the wake-up latency: it rises
// 199 steps for a wake-up later than it and falls one step otherwise, so it
// settles where one wake-up in 200 overshoots it.
void Pacer::Learn(int64_t oversleep) {
  margin_ += oversleep > margin_ ? 199 * kMarginStepNs : -kMarginStepNs;
  margin_ = std::clamp(margin_, kMinMarginNs, kMaxMarginNs);
}
