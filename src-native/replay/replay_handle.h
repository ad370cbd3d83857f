// replay()'s native half: one sending handle (a pcap_t opened on the
// device) and the replay thread that paces and sends packets on it.
//
// JavaScript reads the source ahead and push()es batches, which are copied
// into a queue bounded in bytes: push() answers false once the queue is
// full, and onEvent('drain') follows when it has room again. The replay
// thread owns the pcap_t: it takes batches in order, filters, checks each
// frame against the device's MTU, waits for each packet's time (Pacer) and
// sends it with pcap_inject / pcap_sendpacket, or on Windows in Npcap send
// queues that the driver paces itself (sync). It ends at the end of the
// source (end()), at a limit, on stop(), or on an error, then calls
// onEvent('done'); stats() then holds the final counts and why it ended.
// close() stops and joins the thread and closes the pcap_t.
//
// Every packet pushed is counted once: sent, failed, oversize, filtered,
// or unsent (still queued, or in hand, when the replay ended).
//
// replay_handle.cc: the JS methods; replay_thread.cc: the thread.
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "addon.h"
#include "capture/filter.h"
#include "loader/pcap_api.h"
#include "replay/pacer.h"

class ReplayHandle : public Napi::ObjectWrap<ReplayHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new ReplayHandle(options, onEvent): opens the device for sending
  // (ENODEV, EPERM naming the fix) and starts the thread, which waits for
  // batches.
  explicit ReplayHandle(const Napi::CallbackInfo& info);
  ~ReplayHandle() override;
  // Stops and joins the thread, closes the pcap_t. JS thread; idempotent.
  void Shutdown();

 private:
  struct Packet {
    int64_t timestamp;
    uint32_t caplen;
    uint32_t offset;  // in Batch::data
  };
  struct Batch {
    std::vector<uint8_t> data;
    std::vector<Packet> packets;
    int linktype = 0;
    bool restart = false;  // its first packet starts a new pass (Pacer::Restart)
  };
  // What a send's failure means for the replay.
  enum class Failure { kRetry, kTooLong, kGone, kOther };

  // JS thread.
  Napi::Value Push(const Napi::CallbackInfo& info);
  Napi::Value End(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  void Open(Napi::Env env, const Napi::Object& options);

  // Replay thread (replay_thread.cc).
  void Run();
  // Sends a batch; false once the replay ended (reason_ or error set).
  bool SendBatch(Batch& batch);
  bool SendBatchQueued(Batch& batch);
  // Whether packet i may be sent: counts it as filtered or oversize
  // otherwise; false with error set when an oversize frame is an error.
  enum class Verdict { kSend, kSkip, kFail };
  Verdict Check(const Batch& batch, const Packet& p);
  // Waits for the packet's time; false (reason_ set) at a limit or stop.
  bool WaitForPacket(const Packet& p, bool first_of_pass, int64_t* due);
  // pcap_inject / pcap_sendpacket; 0 or an errno-like failure.
  bool SendOne(const uint8_t* data, uint32_t caplen, Failure* failure, std::string* detail);
  void CountLateness(int64_t due, int64_t sent_at);
  void Finish(const char* reason, const char* code = nullptr, const std::string& message = std::string());
  size_t MaxFrame(int linktype, const uint8_t* data, uint32_t caplen) const;
  void Notify(const char* event);

  Addon* addon_;
  const PcapApi* api_;
  pcap_t* pcap_ = nullptr;
  std::thread thread_;
  struct Notifier;
  std::shared_ptr<Notifier> notifier_;

  // Fixed after Open().
  std::string device_;
  std::string mode_;  // 'inject' | 'sendpacket' | 'sendqueue'
  bool use_inject_ = false;
  bool use_send_queue_ = false;
  int linktype_ = 0;
  int mtu_ = 0;
  bool oversize_error_ = false;
  bool want_realtime_ = false;  // the realtime option: paced replays only
  uint64_t max_packets_ = 0;  // 0: no limit
  int64_t duration_ns_ = 0;   // 0: no limit
  size_t queue_limit_ = 0;
  int64_t late_ns_ = 0;       // a packet sent later than this after its time is late
  Pacer::Mode pace_mode_ = Pacer::Mode::kTop;

  // Replay thread only.
  std::unique_ptr<Pacer> pacer_;
  FileFilter filter_;
  bool first_pass_packet_ = true;
  int consecutive_failures_ = 0;

  // Shared; guarded by mutex_.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Batch>> queue_;
  size_t queued_bytes_ = 0;
  bool drain_wanted_ = false;
  bool ended_ = false;     // JS: no more batches
  bool finished_ = false;  // the thread is done
  std::string reason_;     // 'end' | 'maxPackets' | 'duration' | 'stopped' | 'error'
  std::string error_code_;
  std::string error_message_;

  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> pushed_{0};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> oversize_{0};
  std::atomic<uint64_t> filtered_{0};
  std::atomic<uint64_t> unsent_{0};
  std::atomic<uint64_t> late_{0};
  std::atomic<int64_t> worst_late_ns_{0};
  std::atomic<int64_t> first_sent_at_{0};
  std::atomic<int64_t> last_sent_at_{0};
  std::atomic<int64_t> cpu_ns_{0};
  std::atomic<bool> realtime_{false};  // the thread runs SCHED_FIFO
  std::atomic<int64_t> spin_margin_ns_{0};

  // JS thread only.
  bool closed_ = false;
};
