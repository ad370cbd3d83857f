// A native dump: what a capture thread writes to disk for one dump, with
// its limits and file rotation. Start() runs on the JS thread (the first
// file is created there, so a bad path throws before anything is captured);
// afterwards the capture thread alone drives it, and JS reads Status().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include "files/capture_writer.h"

// Wall-clock time, the clock packet timestamps use.
inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Dump {
 public:
  struct Config {
    std::string path;
    CaptureWriter::Options writer;  // max_bytes is ignored: see max_bytes below
    uint64_t max_bytes = 0;         // all files together, headers included; 0: none
    uint64_t max_packets = 0;
    int64_t duration_ms = 0;
    uint64_t file_bytes = 0;   // rotate before a file would pass this
    int64_t file_seconds = 0;  // rotate when a packet is this much younger than its file
    uint32_t files = 0;        // keep only the newest this many files (a ring)
  };

  struct Status {
    bool ended = false;
    const char* reason = nullptr;  // maxPackets, maxBytes, duration, stopped, error
    std::string error_code;
    std::string error_message;
    uint64_t packets = 0;
    uint64_t bytes = 0;
    uint32_t files = 0;
  };

  // JS thread. Opens the first file; false with *error set when it cannot.
  bool Start(const Config& config, int64_t now_ns, CaptureWriter::Error* error);

  // Capture thread. Writes one packet unless a limit ends the dump first.
  void Write(int64_t timestamp_ns, uint32_t caplen, uint32_t len, const uint8_t* data);
  // Capture thread, after each dispatch: the time-driven work. Ends the
  // dump once a requested stop or the duration is due, else writes out what
  // has waited long enough. read_timeout_ms is how long a packet stamped
  // before the duration's end may still sit in the kernel. Returns how long
  // the thread may sleep before this must run again (-1: the dump ended).
  int Housekeep(int64_t now_ns, int read_timeout_ms);
  // Capture thread: the dump ends now. reason is one of Status::reason's.
  void End(const char* reason, const std::string& error_code = "", const std::string& error_message = "");
  // Any thread: a stop takes effect at this time (after the kernel has
  // handed over what it captured before the request).
  void RequestStop(int64_t at_ns) { stop_at_ns_.store(at_ns); }
  bool ended() const { return ended_.load(); }

  // Any thread.
  Status GetStatus() const;

  // The name of rotated file number index (from 1), started at time_ns.
  static std::string RotatedName(const std::string& path, uint32_t index, int64_t time_ns);

 private:
  // Writes out what has waited long enough.
  void Idle(int64_t now_ns);
  // When the capture thread must wake up next for this dump (wall clock, ns).
  int64_t NextWakeNs() const;
  bool OpenFile(int64_t time_ns, CaptureWriter::Error* error);
  bool Rotate(int64_t time_ns);
  void Fail(const CaptureWriter::Error& error);
  // Publishes what the files hold now: finished files plus the open one.
  void Count();

  Config config_;
  CaptureWriter writer_;
  bool rotating_ = false;
  uint32_t file_index_ = 0;
  int64_t file_started_ns_ = 0;
  int64_t duration_end_ns_ = 0;
  int64_t last_flush_ns_ = 0;
  uint64_t closed_files_bytes_ = 0;     // bytes of the files already finished
  uint64_t closed_files_packets_ = 0;   // and their packets
  std::deque<std::string> ring_;        // files kept, oldest first
  std::atomic<int64_t> stop_at_ns_{0};

  std::atomic<bool> ended_{false};
  std::atomic<uint64_t> packets_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint32_t> files_{0};
  mutable std::mutex status_mutex_;  // guards the strings below
  const char* reason_ = nullptr;
  std::string error_code_;
  std::string error_message_;
};
