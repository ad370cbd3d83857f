// CaptureHandle's core (see capture_handle.h): the constructor and
// Shutdown() on the JS thread; Run(), OnPacket(), the batch functions,
// Publish(), RunKernelDump() and Finish() on the capture thread;
// RunOnCaptureThread() and Read() on the JS thread, handing work over
// through task_ under mutex_.
#include "capture/capture_handle.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "capture/filter.h"
#include "capture/js_options.h"
#include "core/handle_setup.h"
#include "errors.h"
#include "helper/channel.h"

namespace {

// A batch's slab starts this small and doubles as packets arrive: a quiet
// link (or immediate mode) makes many one-packet batches, and a small slab
// comes from the heap without a system call.
constexpr size_t kFirstSlabBytes = 16 << 10;
// pcap_dispatch's count for live captures: "everything in the buffer", but
// positive, because Wine 8's wpcap.dll dispatches nothing for -1.
constexpr int kLivePacketsPerDispatch = 1 << 20;
// Packets read from a file per pcap_dispatch call.
constexpr int kFileSlicePackets = 4096;
// The longest an idle live capture sleeps. A deleted interface is first
// reported down (one POLLERR, which libpcap takes as recoverable) and then
// vanishes without another event: libpcap finds out only when it is called
// again, so the thread must not wait on the socket alone.
constexpr int kIdleWakeMs = 250;

}  // namespace

// The onReadable callback and whether it keeps the event loop alive: it
// does while JS waits for packets or a dump runs, unless setRef(false).
// JS thread only. The thread-safe function holds a reference as its
// context, so a call still pending after close() never touches a freed
// handle; each call carries one of the static events below, so a call that
// never runs (its environment went away first) leaves nothing to free.
struct CaptureHandle::Notifier {
  static inline char kReadable[] = "readable";  // never written: the API takes char*
  static inline char kDump[] = "dump";
  using Context = std::shared_ptr<Notifier>;
  static void CallJs(Napi::Env env, Napi::Function on_readable, Context* context, char* event);
  Napi::TypedThreadSafeFunction<Context, char, CallJs> tsfn;
  bool allow_ref = true;
  bool reader_waiting = false;
  bool dump_running = false;
  bool refed = false;
  bool closed = false;

  void UpdateRef(Napi::Env env) {
    const bool want = !closed && allow_ref && (reader_waiting || dump_running);
    if (want == refed) return;
    if (want) {
      tsfn.Ref(env);
    } else {
      tsfn.Unref(env);
    }
    refed = want;
  }
};

Napi::Function CaptureHandle::Define(Napi::Env env) {
  return DefineClass(env, "CaptureHandle",
                     {
                         InstanceMethod<&CaptureHandle::Read>("read"),
                         InstanceMethod<&CaptureHandle::SetFilter>("setFilter"),
                         InstanceMethod<&CaptureHandle::Inject>("inject"),
                         InstanceMethod<&CaptureHandle::Stats>("stats"),
                         InstanceMethod<&CaptureHandle::Info>("info"),
                         InstanceMethod<&CaptureHandle::Close>("close"),
                         InstanceMethod<&CaptureHandle::SetRef>("setRef"),
                         InstanceMethod<&CaptureHandle::StartDump>("startDump"),
                         InstanceMethod<&CaptureHandle::StopDump>("stopDump"),
                         InstanceMethod<&CaptureHandle::DumpStatus>("dumpStatus"),
                         InstanceMethod<&CaptureHandle::StartKernelDump>("startKernelDump"),
                     });
}

CaptureHandle::CaptureHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<CaptureHandle>(info),
      addon_(info.Env().GetInstanceData<Addon>()),
      api_(&RequirePcap(info.Env())),
      notifier_(std::make_shared<Notifier>()) {
  Napi::Env env = info.Env();
  handle_setup::OpenOrClose(*api_, pcap_, closed_, [&] { Open(env, info[0].As<Napi::Object>()); });
  handle_setup::StartNotifier(env, notifier_, info[1].As<Napi::Function>(), "wirecap capture");
  notifier_->tsfn.Unref(env);  // see Notifier::UpdateRef
  StartBatch();
  thread_running_ = true;
  thread_ = std::thread(&CaptureHandle::Run, this);
  addon_->open_captures.insert(this);
}

CaptureHandle::~CaptureHandle() { Shutdown(); }

void CaptureHandle::CheckOpen(Napi::Env env) const {
  if (closed_) throw WirecapError(env, "ECLOSED", "the capture is closed");
}

void CaptureHandle::Shutdown() {
  if (closed_) return;
  closed_ = true;
  addon_->open_captures.erase(this);

  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    // A kernel dump's thread waits on room_, not in pcap_dispatch, and
    // may have closed the handle already.
    if (!kernel_.running() && pcap_ != nullptr) api_->breakloop(pcap_);
  }
  room_.notify_all();
  if (waiter_ != nullptr) waiter_->Wake();
  if (thread_.joinable()) thread_.join();
  waiter_.reset();  // its descriptors go with close(), not with the collector

  if (pcap_ != nullptr) {  // a kernel dump closes it on the capture thread
    have_final_stats_ = api_->stats(pcap_, &final_stats_) == 0;
    api_->close(pcap_);
    pcap_ = nullptr;
  }
  if (helper_ != nullptr) {  // packets still on their way are dropped, as pcap_close drops them
    have_final_stats_ = helper_->Stats(&final_stats_);
    helper_.reset();
  }
  file_filter_ = FileFilter();
  slabs_->Give(filling_.data, filling_.capacity);
  filling_ = Batch();
  for (const std::unique_ptr<Batch>& batch : queue_) slabs_->Give(batch->data, batch->capacity);
  queue_.clear();
  slabs_->Drain();
  queued_bytes_.store(0);

  notifier_->closed = true;
  notifier_->UpdateRef(Env());
  notifier_->tsfn.Release();
}

// ---------------------------------------------------------------------------
// Capture thread

void CaptureHandle::Run() {
  platform::NameThisThread("wirecap capture");
  std::unique_lock<std::mutex> lock(mutex_);
  int timeout = kIdleWakeMs;
  while (!stop_.load()) {
    RunPendingTask();
    if (kernel_.running()) {
      lock.unlock();
      RunKernelDump();
      return;
    }
    if (offline_) {
      // Files are read losslessly: wait for JS to make room in the queue.
      // wirecap's reader starts once JS reads or a dump starts, so that a
      // dump started right after opening sees every packet.
      room_.wait(lock, [&] {
        const bool started = file_ == nullptr || file_wanted_ || dump_ != nullptr;
        return stop_.load() || task_ != nullptr || (started && (!deliver_ || queued_bytes_.load() < queue_limit_));
      });
      if (stop_.load()) break;
      if (task_ != nullptr) continue;
    } else if (!deliver_ && dump_ == nullptr) {
      // A dump-only capture (liveDump) has nowhere to put a packet until its
      // dump arrives: leave them in the kernel buffer meanwhile, so that the
      // dump gets every packet since the open.
      room_.wait(lock, [&] { return stop_.load() || task_ != nullptr || dump_ != nullptr; });
      if (stop_.load()) break;
      continue;
    }
    lock.unlock();
    if (file_ != nullptr) {
      if (!ReadFileBatch()) return;
      lock.lock();
      continue;
    }
    if (waiter_ != nullptr) waiter_->Wait(timeout);
    // A file is read a slice at a time, so tasks and close() are served between slices.
    const int count = offline_ ? kFileSlicePackets : kLivePacketsPerDispatch;
    int n = stop_.load() ? 0
            : helper_ != nullptr ? helper_->Dispatch(&CaptureHandle::OnPacket, reinterpret_cast<u_char*>(this))
                                 : api_->dispatch(pcap_, count, &CaptureHandle::OnPacket, reinterpret_cast<u_char*>(this));
    captured_.fetch_add(dispatched_, std::memory_order_relaxed);
    dispatched_ = 0;
    Publish();
    timeout = DumpHousekeeping();
    if (timeout < 0 || timeout > kIdleWakeMs) timeout = kIdleWakeMs;
    if (bad_timestamp_) {
      Finish("EBADFORMAT", device_ + ": a record's time is outside what wirecap represents (1970 to 2262)");
      return;
    }
    lock.lock();
    if (n < 0 && helper_ != nullptr) {
      const HelperClient::Failure& failure = helper_->failure();
      lock.unlock();
      if (failure.stage == helper::kStageCapture) {
        Finish(CodeForCaptureFailure(failure.status, failure.text), "capture on " + device_ + " failed: " + failure.text);
      } else {
        Finish("EHELPER", "capture on " + device_ + " failed: " + failure.text);
      }
      return;
    }
    if (n < 0 && n != PCAP_ERROR_BREAK) {
      std::string detail = api_->geterr(pcap_);
      lock.unlock();
      if (offline_) {
        const bool cut = detail.find("truncated") != std::string::npos;
        Finish(cut ? "ETRUNCATED" : "EBADFORMAT", device_ + ": " + detail);
      } else {
        Finish(CodeForCaptureFailure(n, detail), std::string("capture on ") + device_ + " failed: " + detail);
      }
      return;
    }
    if (offline_ && n == 0 && !stop_.load()) break;  // end of file
  }
  lock.unlock();
  Finish(nullptr, "");
}

void CaptureHandle::RunKernelDump() {
  std::unique_lock<std::mutex> lock(mutex_);
  const char* reason;
  while ((reason = kernel_.Due(*api_, pcap_)) == nullptr) {
    RunPendingTask();
    if (stop_.load()) return;  // close(): Shutdown() closes the handle
    room_.wait_for(lock, std::chrono::milliseconds(50));
  }
  // The library ends a kernel dump it did not end itself only when its
  // handle closes; closing also makes sure the file is complete.
  api_->close(pcap_);
  pcap_ = nullptr;
  lock.unlock();
  const KernelDump::Count count = kernel_.CountFile();
  lock.lock();
  kernel_.End(reason, count);
  lock.unlock();
  Notify("dump");
  Finish(nullptr, "");
}

void CaptureHandle::OnPacket(u_char* user, const pcap_pkthdr* header, const u_char* bytes) {
  auto* self = reinterpret_cast<CaptureHandle*>(user);
  self->dispatched_++;
  const size_t caplen = header->caplen;
  // A file read through libpcap may claim a time before 1970 or past 2262.
  if (header->ts.tv_sec < 0 || header->ts.tv_sec > files::kLastSecond) {
    self->bad_timestamp_ = true;
    if (self->pcap_ != nullptr) self->api_->breakloop(self->pcap_);
    return;
  }
  const int64_t fraction = self->nano_ ? header->ts.tv_usec : int64_t{header->ts.tv_usec} * 1000;
  const int64_t timestamp_ns = int64_t{header->ts.tv_sec} * 1000000000 + fraction;
  // The dump comes first and never waits on JavaScript: a slow iterator
  // costs iterator packets (consumerDropped), never dumped ones.
  if (self->dump_ != nullptr) self->dump_->Write(self->dump_interface_, timestamp_ns, header->caplen, header->len, bytes);
  if (!self->deliver_) return;
  Batch* batch = &self->filling_;
  if (batch->size + caplen > batch->capacity && !self->GrowBatch(caplen)) {
    self->Publish();
  }
  const size_t queued = self->queued_bytes_.load(std::memory_order_relaxed);
  if (self->offline_ && queued + batch->Bytes() >= self->queue_limit_) {
    // The queue is full: finish this packet, then stop reading until JS makes room.
    self->api_->breakloop(self->pcap_);
  }
  // Live captures drop when the queue is full; files never do. A failed
  // slab allocation (capacity 0) drops too: counted, never a crash.
  if ((!self->offline_ && queued + batch->Bytes() + caplen + kMetaBytes > self->queue_limit_) ||
      batch->size + caplen > batch->capacity) {
    self->consumer_dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::memcpy(batch->data + batch->size, bytes, caplen);
  // Live packets have no pcapng interface: index 0.
  batch->packets.push_back(PacketMeta{timestamp_ns, static_cast<uint32_t>(caplen), header->len,
                                      static_cast<uint32_t>(batch->size), 0});
  batch->size += caplen;
}

void CaptureHandle::StartBatch() {
  // Live batches start small and grow, so a trickle of packets costs little;
  // a file fills whole slabs, and growing them would copy every byte twice.
  const size_t wanted = offline_ ? batch_capacity_ : std::min(kFirstSlabBytes, batch_capacity_);
  filling_.data = slabs_->Take(wanted, &filling_.capacity);
  if (offline_) filling_.packets.reserve(kFileSlicePackets);
  filling_.size = 0;
  filling_.packets.clear();
}

bool CaptureHandle::GrowBatch(size_t caplen) {
  const size_t needed = filling_.size + caplen;
  if (needed > batch_capacity_ && !filling_.packets.empty()) return false;
  size_t capacity = std::max<size_t>(filling_.capacity, 1);
  while (capacity < needed) capacity *= 2;
  capacity = std::min(capacity, std::max(batch_capacity_, needed));
  void* grown = std::realloc(filling_.data, capacity);
  if (grown == nullptr) return false;
  filling_.data = static_cast<uint8_t*>(grown);
  filling_.capacity = capacity;
  return true;
}

void CaptureHandle::Publish() {
  if (filling_.packets.empty()) return;
  auto batch = std::make_unique<Batch>(std::move(filling_));
  filling_ = Batch();
  StartBatch();
  queued_bytes_.fetch_add(batch->Bytes());
  bool notify;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(batch));
    notify = reader_waiting_;
    reader_waiting_ = false;
  }
  if (notify) Notify("readable");
}

int CaptureHandle::DumpHousekeeping() {
  if (dump_ == nullptr) return -1;
  int timeout = dump_->Housekeep(dump_interface_, NowNs(), timeout_ms_);
  if (dump_->StatsWanted(dump_interface_, NowNs())) {
    ReportDumpStats();
    timeout = dump_->Housekeep(dump_interface_, NowNs(), timeout_ms_);
  }
  if (dump_->ended() && !dump_notified_) {
    dump_notified_ = true;
    Notify("dump");
  }
  return timeout;
}

void CaptureHandle::ReportDumpStats() {
  pcap_stat stats{};
  // A file read by wirecap's own reader has no pcap_t, and no counters.
  const bool have = helper_ != nullptr ? helper_->Stats(&stats) : pcap_ != nullptr && api_->stats(pcap_, &stats) == 0;
  dump_->ReportStats(dump_interface_, NowNs(), have, stats.ps_recv, stats.ps_drop, stats.ps_ifdrop);
}

void CaptureHandle::Finish(const char* code, const std::string& message) {
  bool notify_reader;
  bool notify_dump;
  {
    // All under the lock: a caller waiting in RunOnCaptureThread gets its
    // task run (it may be the dump's start), and then the dump ends with
    // the thread, before JavaScript can see finished_.
    std::lock_guard<std::mutex> lock(mutex_);
    RunPendingTask();
    if (dump_ != nullptr && !dump_->ended()) {
      // This device's part of the dump ends; the dump ends with its last device.
      if (pcap_ != nullptr || helper_ != nullptr) ReportDumpStats();
      dump_->Leave(dump_interface_, code, message);
    }
    notify_dump = dump_ != nullptr && !dump_notified_;
    dump_notified_ = true;
    thread_running_ = false;
    finished_ = true;
    if (code != nullptr) {
      error_code_ = code;
      error_message_ = message;
    }
    notify_reader = reader_waiting_;
    reader_waiting_ = false;
  }
  task_done_.notify_all();
  if (notify_dump) Notify("dump");
  if (notify_reader) Notify("readable");
}

void CaptureHandle::RunPendingTask() {
  if (task_ == nullptr) return;
  (*task_)();
  task_ = nullptr;
  task_done_.notify_all();
}

void CaptureHandle::Notify(const char* event) {
  notifier_->tsfn.NonBlockingCall(std::strcmp(event, "dump") == 0 ? Notifier::kDump : Notifier::kReadable);
}

void CaptureHandle::Notifier::CallJs(Napi::Env env, Napi::Function on_readable, Context* context, char* event) {
  if (env == nullptr) return;  // the queue is being emptied: nothing to call, nothing to free
  Notifier* notifier = context->get();
  if (notifier->closed) return;
  if (event == kDump) {
    notifier->dump_running = false;
  } else {
    notifier->reader_waiting = false;
  }
  notifier->UpdateRef(env);
  on_readable.Call({Napi::String::New(env, event)});
}

// ---------------------------------------------------------------------------
// JS thread

void CaptureHandle::RunOnCaptureThread(const std::function<void()>& task) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!thread_running_) {
    task();
    return;
  }
  task_ = &task;
  room_.notify_all();
  if (waiter_ != nullptr) waiter_->Wake();
  if (pcap_ != nullptr) api_->breakloop(pcap_);  // a blocking pcap_dispatch returns for it
  task_done_.wait(lock, [&] { return task_ != &task; });
}

Napi::Value CaptureHandle::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return env.Null();
  // read(true) lends the slab: asking for the next batch hands it back.
  const bool wants_recycle = info.Length() > 0 && info[0].ToBoolean().Value();
  if (lent_ != nullptr) slabs_->Give(lent_, 0);
  lent_ = nullptr;
  std::unique_ptr<Batch> batch;
  bool finished;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!queue_.empty()) {
      batch = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_.fetch_sub(batch->Bytes());
    }
    finished = finished_;
    if (batch == nullptr && !finished) reader_waiting_ = true;
    file_wanted_ = true;
  }
  if (offline_) room_.notify_one();

  if (batch == nullptr) {
    if (!finished) {
      notifier_->reader_waiting = true;
      notifier_->UpdateRef(env);
      return env.Undefined();
    }
    if (thread_.joinable()) thread_.join();
    if (!error_code_.empty()) {
      std::string code = std::move(error_code_);
      error_code_.clear();  // the error is reported once; reads after it see the end
      throw WirecapError(env, code.c_str(), error_message_);
    }
    return env.Null();
  }

  delivered_ += batch->packets.size();
  try {
    return BatchValue(env, *batch, wants_recycle);
  } catch (...) {
    slabs_->Give(batch->data, batch->capacity);  // no Buffer was made of it
    throw;
  }
}



void CaptureHandle::DumpStarted(Napi::Env env) {
  notifier_->dump_running = true;
  notifier_->UpdateRef(env);
}

Napi::Value CaptureHandle::Close(const Napi::CallbackInfo& info) {
  Shutdown();
  return info.Env().Undefined();
}

// setRef(false) lets the process exit while this capture is iterated or dumps.
Napi::Value CaptureHandle::SetRef(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  notifier_->allow_ref = info[0].ToBoolean().Value();
  notifier_->UpdateRef(env);
  return env.Undefined();
}


