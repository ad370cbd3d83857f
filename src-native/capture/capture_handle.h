// One libpcap handle, live or reading a file, driven by its own native thread.
//
// The capture thread owns the pcap_t: it waits for packets, runs
// pcap_dispatch, and copies each packet into the batch it is filling. Full
// batches go into one queue, bounded in bytes; JavaScript pulls them with
// read(). When the queue is full the thread drops packets and counts them
// (consumerDropped): memory never grows with a slow consumer. A file is read
// losslessly instead: the thread waits for room in the queue.
//
// Anything else that touches the pcap_t from JavaScript (setFilter, inject,
// stats) is handed to the capture thread and waited for, so libpcap never
// sees two threads at once. close() stops and joins the thread.
//
// The class's units: capture_handle.cc holds the thread loop, the queue and
// the task handoff; live_open.cc and files/file_open.cc open the pcap_t
// (Open(), in live_open.cc, picks the source and sizes the batches);
// handle_methods.cc marshals batches, stats, info, filters, frames and
// dumps for JavaScript.
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "addon.h"
#include "dump/dump.h"
#include "dump/kernel_dump.h"
#include "files/file_reader.h"
#include "helper/helper_client.h"
#include "loader/pcap_api.h"
#include "platform/platform.h"
#include "capture/filter.h"
#include "capture/slab_pool.h"

class CaptureHandle : public Napi::ObjectWrap<CaptureHandle> {
 public:
  static Napi::Function Define(Napi::Env env);

  // JS thread: new CaptureHandle(options, onReadable). Opens and activates
  // the device, applies the filter and starts the capture thread. onReadable
  // is called (no arguments) after read() returned undefined, once a batch,
  // the end, or an error is there to read.
  explicit CaptureHandle(const Napi::CallbackInfo& info);
  ~CaptureHandle() override;

  // JS thread (close() and the env cleanup hook): stops and joins the
  // capture thread, closes the pcap_t. Idempotent.
  void Shutdown();

 private:
  // A packet's header and where its bytes start in the batch's slab.
  using PacketMeta = files::Record;
  // Packets in one slab from slabs_, plus their headers. A live capture
  // copies them back to back, and its slab grows by doubling up to
  // batch_capacity_; a file's slab holds the file's bytes as they are
  // (files::FileReader), record headers between the packets.
  struct Batch {
    uint8_t* data = nullptr;
    size_t size = 0;
    size_t capacity = 0;
    std::vector<PacketMeta> packets;
    std::vector<files::InterfaceInfo> interfaces;  // a file's interfaces met while this batch filled
    size_t Bytes() const { return size + packets.size() * kMetaBytes; }
  };
  // What a queued packet costs in the queue bound besides its bytes.
  static constexpr size_t kMetaBytes = 24;

  // JavaScript methods, all on the JS thread (all but Read, Close and
  // SetRef are in handle_methods.cc).
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value SetFilter(const Napi::CallbackInfo& info);
  Napi::Value Inject(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value SetRef(const Napi::CallbackInfo& info);
  Napi::Value StartDump(const Napi::CallbackInfo& info);
  Napi::Value StopDump(const Napi::CallbackInfo& info);
  Napi::Value DumpStatus(const Napi::CallbackInfo& info);
  Napi::Value StartKernelDump(const Napi::CallbackInfo& info);

  // JS thread, in the constructor. Open() sets up the handle that
  // OpenLive() (live_open.cc) or OpenFile() (files/file_open.cc) opened.
  void Open(Napi::Env env, const Napi::Object& options);
  void OpenLive(Napi::Env env, const Napi::Object& options);
  void OpenFile(Napi::Env env, const Napi::Object& options);
  // Opens the device through the capture helper (helperPath): helper_
  // then stands for pcap_, which stays null.
  void OpenThroughHelper(Napi::Env env, const Napi::Object& options);
  // The error for a failed pcap_activate (in-process or in the helper).
  Napi::Error ActivateFailure(Napi::Env env, int status, const std::string& detail, bool helper);
  void SetInitialFilter(Napi::Env env, const Napi::Object& options);
  // The filter for file_'s packets, compiled as libpcap compiles one for a
  // file (a dead handle of its link type and snaplen), for each link type of
  // its interfaces (see FileFilter). Throws ENOTSUP where the library cannot
  // (Wine's wpcap.dll), EFILTER for a filter valid for none of them.
  FileFilter CompileFileFilter(Napi::Env env, const std::string& filter);
  void CheckOpen(Napi::Env env) const;
  // Runs task on the capture thread and waits for it; runs it here when the
  // thread has already ended (the pcap_t is then this thread's).
  void RunOnCaptureThread(const std::function<void()>& task);
  Napi::Object StatsObject(Napi::Env env);
  // A dequeued batch as read() returns it: [data, meta, count]. The slab
  // becomes the Buffer's memory; with wants_recycle it is lent (lent_).
  Napi::Value BatchValue(Napi::Env env, Batch& batch, bool wants_recycle);
  // JS thread: a dump now runs, which keeps the event loop alive (see
  // Notifier) until onReadable('dump').
  void DumpStarted(Napi::Env env);

  // Capture thread.
  void Run();
  static void OnPacket(u_char* self, const pcap_pkthdr* header, const u_char* bytes);
  void StartBatch();
  // Makes room for caplen more bytes up to the batch bound; false when full.
  bool GrowBatch(size_t caplen);
  void Publish();
  // Capture thread: reads the next slab of file_ and publishes its packets
  // that pass the filter. False once the file ended or failed (Finish() ran).
  bool ReadFileBatch();
  void RunPendingTask();  // with mutex_ held
  void Finish(const char* code, const std::string& message);
  // Capture thread: time-driven dump work (stop requests, duration, flushes,
  // this device's counters) and the wait timeout that this work needs (-1: none).
  int DumpHousekeeping();
  // Capture thread: hands pcap_stats to the dump, for its ISBs.
  void ReportDumpStats();
  // Capture thread, once the library's kernel dump runs: waits for it to
  // end (its limits, stopDump(), the duration), closes the handle so the
  // library closes the file, and has what the file holds counted.
  void RunKernelDump();
  // Calls onReadable(event) on the JS thread: 'readable' or 'dump'.
  void Notify(const char* event);

  Addon* addon_;
  const PcapApi* api_;
  pcap_t* pcap_ = nullptr;
  std::unique_ptr<HelperClient> helper_;  // a capture through the helper (no pcap_ then)
  std::unique_ptr<platform::Waiter> waiter_;
  std::thread thread_;
  struct Notifier;
  std::shared_ptr<Notifier> notifier_;  // wraps the onReadable callback

  // Fixed after Open().
  std::string device_;
  int linktype_ = 0;
  int snaplen_ = 0;
  bool nano_ = false;
  bpf_u_int32 netmask_ = PCAP_NETMASK_UNKNOWN;
  size_t queue_limit_ = 0;
  size_t batch_capacity_ = 0;
  std::shared_ptr<SlabPool> slabs_;
  uint8_t* lent_ = nullptr;  // the slab of the last batch read(true) returned (JS thread)
  int timeout_ms_ = 0;
  bool offline_ = false;  // reading a file: lossless, ends at end of file
  bool deliver_ = true;  // false: a dump-only capture, nothing is queued for JS
  // A file read by wirecap's own reader (no pcap_ then); null for standard
  // input and the few linktypes libpcap rewrites as it reads (file_open.cc).
  std::unique_ptr<files::FileReader> file_;
  std::vector<files::InterfaceInfo> file_interfaces_;  // file_'s, as known at open (pcapng)
  bool single_linktype_ = false;  // file_: the first packet of another link type than the first's ends the read
  FileFilter file_filter_;  // capture thread; empty: no filter

  // Set by StartDump() through the capture thread; from then on the
  // capture thread drives it and JS only reads its status. A dump of
  // several devices is shared by their handles: this one is its interface
  // dump_interface_.
  std::shared_ptr<Dump> dump_;
  uint32_t dump_interface_ = 0;
  bool dump_notified_ = false;  // capture thread

  // A kernel dump (the library's pcap_live_dump) instead of dump_: the
  // library writes the file and the capture thread only watches. Guarded
  // by mutex_.
  KernelDump kernel_;

  // Capture thread only.
  Batch filling_;

  // Shared; guarded by mutex_.
  std::mutex mutex_;
  std::condition_variable task_done_;
  std::condition_variable room_;  // a file reader waits here for queue room or a task
  std::deque<std::unique_ptr<Batch>> queue_;
  const std::function<void()>* task_ = nullptr;
  bool thread_running_ = false;
  bool finished_ = false;  // the thread ended: stopped, end of input or error
  bool reader_waiting_ = false;
  bool file_wanted_ = false;  // read() was called: file_ may be read
  std::string error_code_;
  std::string error_message_;

  std::atomic<bool> stop_{false};
  std::atomic<size_t> queued_bytes_{0};
  std::atomic<uint64_t> captured_{0};
  bool bad_timestamp_ = false;  // capture thread: a file's record is out of time range
  uint64_t dispatched_ = 0;  // counted by OnPacket, added to captured_ once per dispatch
  std::atomic<uint64_t> consumer_dropped_{0};
  uint64_t delivered_ = 0;  // JS thread only

  // JS thread only.
  bool closed_ = false;
  pcap_stat final_stats_{};
  bool have_final_stats_ = false;
};
