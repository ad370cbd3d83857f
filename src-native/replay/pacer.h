// When each packet of a replay is due, and the sleep that waits for it.
//
// The schedule is absolute, as tcpreplay's: a packet is due at the origin
// plus its offset (its timestamp's distance from the first one's, divided
// by the speed; or its rank over the packet rate; or the bits before it
// over the bit rate), never at "the previous send plus the gap", so a late
// send does not push back the packets after it.
//
// Waiting: the thread sleeps (an absolute clock_nanosleep on Linux) until
// a margin before the deadline, then spins to it. The margin follows the
// OS's measured wake-up latency (its 99.5th percentile, see Learn), so the
// spin costs CPU only for the latency this machine shows.
#pragma once

#include <atomic>
#include <cstdint>

class Pacer {
 public:
  enum class Mode { kSpeed, kPacketRate, kBitRate, kTop };
  // rate: the speed multiplier, packets/s or bits/s (unused for kTop).
  Pacer(Mode mode, double rate) : mode_(mode), rate_(rate) {}

  // The monotonic time (ns) the next packet is due, given its timestamp
  // (ns) and size; 0 for kTop (now). Never earlier than the previous due.
  int64_t Due(int64_t timestamp, uint32_t bytes);
  // The next packet starts a pass over the source again (a loop, the next
  // file): it is due right after the previous one, and the timestamps
  // after it count from its own.
  void Restart() { restart_ = true; }
  // Sleeps (then spins) until due; false when stop became true first.
  bool WaitFor(int64_t due, const std::atomic<bool>& stop);
  // The first packet's due time; 0 before it.
  int64_t origin() const { return started_ ? first_due_ : 0; }
  int64_t spin_margin() const { return margin_; }
  bool paced() const { return mode_ != Mode::kTop; }

 private:
  void Learn(int64_t oversleep);

  const Mode mode_;
  const double rate_;
  bool started_ = false;
  bool restart_ = false;
  int64_t first_due_ = 0;
  int64_t origin_wall_ = 0;  // when the packet of origin_ts_ was due
  int64_t origin_ts_ = 0;
  int64_t last_due_ = 0;
  uint64_t packets_ = 0;  // before this one, for kPacketRate
  double bits_ = 0;       // before this one, for kBitRate
  int64_t margin_ = 200000;
};
