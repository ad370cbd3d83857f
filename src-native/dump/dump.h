// A native dump: what capture threads write to disk, with limits and file
// rotation. One dump may take the packets of several devices, each captured
// by its own CaptureHandle and thread, into one pcapng file (interface i is
// the i-th handle): the threads share this object, and its mutex_ makes them
// take turns at the one writer.
//
// Threads: Start() and SetWaker() run on the JS thread before any capture
// thread sees the dump; Write(), StatsWanted(), ReportStats(), Housekeep()
// and Leave() run on the capture thread of the interface they name;
// RequestStop(), ended() and GetStatus() on any thread. No JavaScript is
// ever called from here: the capture handles notify JS through their own
// ThreadSafeFunction once they see ended().
//
// Merging: a device's packets are written in the order libpcap hands them
// over. Across devices they are merged by timestamp: a packet waits in its
// device's staging queue until every other live device has a later packet
// queued, or until it is merge_window_ns old (longer than any device's read
// timeout, so a packet still in another device's kernel buffer is not
// overtaken), or until its queue holds kStageBytes.
//
// Ending: the dump ends in two steps so each file's ISBs carry every device's
// final counters. A limit, stop or duration first marks the end as due and
// wakes every capture thread; each thread reads its pcap_stats after its
// last dispatch (ReportStats) and the last one to report closes the file.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

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
    CaptureWriter::Options writer;  // one interface per device; max_bytes is ignored: see max_bytes below
    uint64_t max_bytes = 0;         // all files together, headers and ISBs included; 0: none
    uint64_t max_packets = 0;       // all devices together
    int64_t duration_ms = 0;
    uint64_t file_bytes = 0;   // rotate before a file would pass this
    int64_t file_seconds = 0;  // rotate when a packet is this much younger than its file
    uint32_t files = 0;        // keep only the newest this many files (a ring)
    int64_t merge_window_ns = 0;
  };

  struct InterfaceStatus {
    uint64_t packets = 0;    // written to the files
    std::string error_code;  // set when its capture failed before the dump ended (ENETDOWN...)
    std::string error_message;
  };

  struct Status {
    bool ended = false;
    const char* reason = nullptr;  // maxPackets, maxBytes, duration, stopped, error
    std::string error_code;
    std::string error_message;
    uint64_t packets = 0;
    uint64_t bytes = 0;
    uint32_t files = 0;
    std::vector<InterfaceStatus> interfaces;
  };

  // JS thread. Opens the first file; false with *error set when it cannot
  // (EINVAL: a rotated file cannot hold its headers and one full packet).
  bool Start(const Config& config, int64_t now_ns, CaptureWriter::Error* error);
  // JS thread, before interface iface's thread sees the dump: how to wake
  // that thread when the dump needs it (thread-safe, never blocks).
  void SetWaker(uint32_t iface, std::function<void()> wake);

  // Capture thread of iface. Writes (or stages) one packet unless the
  // dump no longer takes this device's packets.
  void Write(uint32_t iface, int64_t timestamp_ns, uint32_t caplen, uint32_t len, const uint8_t* data);
  // Capture thread of iface: whether it should read pcap_stats now and
  // ReportStats(): the end is due, or its last reading is getting old.
  bool StatsWanted(uint32_t iface, int64_t now_ns);
  void ReportStats(uint32_t iface, int64_t now_ns, bool have, uint64_t received, uint64_t dropped,
                   uint64_t if_dropped);
  // Capture thread of iface, after each dispatch: the time-driven work.
  // Marks the end due once a requested stop or the duration is, finishes
  // it once every device has reported, else writes out what has waited
  // long enough. read_timeout_ms is how long a packet stamped before the
  // duration's end may still sit in the kernel. Returns how long the thread
  // may sleep before this must run again (-1: the dump ended).
  int Housekeep(uint32_t iface, int64_t now_ns, int read_timeout_ms);
  // Capture thread of iface, as it ends (after a last ReportStats): its
  // part of the dump ends; the dump ends with its last device. code is
  // null when the capture was closed, else why it failed (ENETDOWN...).
  void Leave(uint32_t iface, const char* code, const std::string& message);
  // Any thread: a stop takes effect at this time (after the kernel has
  // handed over what it captured before the request).
  void RequestStop(int64_t at_ns);
  bool ended() const { return ended_.load(); }

  // Any thread.
  Status GetStatus() const;

  // The name of rotated file number index (from 1), started at time_ns.
  static std::string RotatedName(const std::string& path, uint32_t index, int64_t time_ns);

 private:
  struct Staged {
    int64_t timestamp_ns;
    uint32_t caplen;
    uint32_t len;
    uint64_t offset;  // into Interface::bytes, counted from Interface::base
  };
  struct Interface {
    bool live = true;
    bool owes_stats = false;  // the end is due and waits for this device's counters
    int64_t stats_read_ns = 0;
    CaptureWriter::InterfaceStats stats;  // captured and written are kept here too
    std::deque<Staged> staged;
    std::vector<uint8_t> bytes;
    uint64_t base = 0;  // stream offset of bytes[0]
    std::function<void()> wake;
    std::string error_code;
    std::string error_message;
  };

  // All with mutex_ held.
  void Put(uint32_t iface, int64_t timestamp_ns, uint32_t caplen, uint32_t len, const uint8_t* data);
  // Writes out staged packets in timestamp order while the merge allows
  // (everything with all set).
  void Drain(int64_t now_ns, bool all);
  void Pop(Interface& iface);
  void BeginEnd(const char* reason, const std::string& error_code = "", const std::string& error_message = "");
  void FinishIfReported(int64_t now_ns);
  void Finish(int64_t now_ns);
  bool Accepting(const Interface& iface) const;
  std::vector<CaptureWriter::InterfaceStats> FileStats(int64_t end_ns) const;
  void Idle(int64_t now_ns);
  int64_t NextWakeNs() const;
  bool OpenFile(int64_t time_ns, CaptureWriter::Error* error);
  bool Rotate(int64_t time_ns);
  void Fail(const CaptureWriter::Error& error);
  // Publishes what the files hold now: finished files plus the open one.
  void Count();

  Config config_;
  CaptureWriter writer_;
  std::vector<Interface> interfaces_;
  bool rotating_ = false;
  uint32_t file_index_ = 0;
  int64_t file_started_ns_ = 0;
  int64_t duration_end_ns_ = 0;
  int64_t last_flush_ns_ = 0;
  uint64_t closed_files_bytes_ = 0;     // bytes of the files already finished
  uint64_t closed_files_packets_ = 0;   // and their packets
  std::deque<std::string> ring_;        // files kept, oldest first
  std::atomic<int64_t> stop_at_ns_{0};
  bool ending_ = false;                 // the end is due: see BeginEnd
  bool limit_reached_ = false;          // ...because of a limit or an error: nothing more is written

  mutable std::mutex mutex_;  // everything but the atomics
  std::atomic<bool> ended_{false};
  std::atomic<uint64_t> packets_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint32_t> files_{0};
  const char* reason_ = nullptr;
  std::string error_code_;
  std::string error_message_;
};
