// A kernel dump: the library's own pcap_live_dump (old WinPcap's driver
// mode) writes the file, and wirecap only watches it end. Npcap and libpcap
// refuse or lack it; JS then falls back to a Dump (dump.h).
//
// The state is guarded by the owning CaptureHandle's mutex: Start() and
// Due() run on the capture thread, End() on it after the handle closed,
// RequestStop() and Status() on the JS thread.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "loader/pcap_api.h"

class KernelDump {
 public:
  struct Limits {
    std::string path;
    int max_bytes = 0;  // 0: none (the library takes ints)
    int max_packets = 0;
    int64_t duration_ms = 0;
  };

  // Asks the library to start. "" once it runs, else its refusal.
  std::string Start(const PcapApi& api, pcap_t* pcap, const Limits& limits);
  bool running() const { return running_; }

  // Why the dump must end now (stopped, duration, or the library's
  // "limit"), or null while it goes on.
  const char* Due(const PcapApi& api, pcap_t* pcap) const;
  void RequestStop() { stop_requested_ = true; }

  // Counts the complete records of the file the library wrote; call it
  // without the lock, once the handle is closed (closing completes the file).
  struct Count {
    bool readable = false;
    uint64_t packets = 0, bytes = 0;
  };
  Count CountFile() const;
  // Records the end, with the reason Due() gave and the file's count.
  void End(const char* reason, const Count& count);

  // The status object dumpStatus() returns: { mode: 'kernel', ended, ... }.
  Napi::Object Status(Napi::Env env) const;

 private:
  bool running_ = false;
  std::string path_;
  uint64_t max_packets_ = 0;
  int64_t duration_end_ns_ = 0;  // 0: no duration
  bool stop_requested_ = false;
  bool ended_ = false;
  const char* reason_ = nullptr;
  std::string error_code_, error_message_;
  uint64_t packets_ = 0, bytes_ = 0;
};
