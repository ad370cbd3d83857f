#include "capture/capture_handle.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "errors.h"
#include "capture/filter.h"

namespace {

// Upper bound of one batch's packet bytes: large enough that a busy link
// costs one JS call per thousand packets, small enough to keep latency low.
constexpr size_t kBatchBytes = 1 << 20;
// A batch's slab starts this small and doubles as packets arrive: a quiet
// link (or immediate mode) makes many one-packet batches, and a small slab
// comes from the heap without a system call.
constexpr size_t kFirstSlabBytes = 16 << 10;
// Full-size slabs kept for reuse (see SlabPool).
constexpr size_t kKeptSlabs = 8;
// pcap_dispatch's count for live captures: "everything in the buffer", but
// positive, because Wine 8's wpcap.dll dispatches nothing for -1.
constexpr int kLivePacketsPerDispatch = 1 << 20;
// Packets read from a file per pcap_dispatch call.
constexpr int kFileSlicePackets = 4096;

std::string StringOption(const Napi::Object& options, const char* key) {
  Napi::Value v = options.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

int64_t NumberOption(const Napi::Object& options, const char* key, int64_t fallback) {
  Napi::Value v = options.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : fallback;
}

bool BoolOption(const Napi::Object& options, const char* key) {
  return options.Get(key).ToBoolean().Value();
}

// Wall-clock time, the clock packet timestamps use.
int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// The onReadable callback and whether it keeps the event loop alive: it
// does while JS waits for packets or a dump runs, unless setRef(false).
// JS thread only; shared with every queued call so a call still pending
// after close() never touches a freed handle.
struct CaptureHandle::Notifier {
  Napi::ThreadSafeFunction tsfn;
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
  try {
    Open(env, info[0].As<Napi::Object>());
  } catch (...) {
    if (pcap_ != nullptr) api_->close(pcap_);
    pcap_ = nullptr;
    closed_ = true;
    throw;
  }

  std::shared_ptr<Notifier> notifier = notifier_;
  notifier->tsfn = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(),
                                                 "wirecap capture", 0, 1);
  notifier->tsfn.Unref(env);  // see Notifier::UpdateRef
  StartBatch();
  thread_running_ = true;
  thread_ = std::thread(&CaptureHandle::Run, this);
  addon_->open_captures.insert(this);
}

CaptureHandle::~CaptureHandle() { Shutdown(); }

void CaptureHandle::Open(Napi::Env env, const Napi::Object& options) {
  queue_limit_ = static_cast<size_t>(NumberOption(options, "queueBytes", 32 << 20));
  deliver_ = options.Get("deliver").IsUndefined() || BoolOption(options, "deliver");
  if (StringOption(options, "source") == "file") {
    OpenFile(env, options);
  } else {
    OpenLive(env, options);
  }
  linktype_ = api_->datalink(pcap_);
  snaplen_ = api_->snapshot(pcap_);
  nano_ = api_->get_tstamp_precision != nullptr &&
          api_->get_tstamp_precision(pcap_) == PCAP_TSTAMP_PRECISION_NANO;
  batch_capacity_ = std::max(kBatchBytes, static_cast<size_t>(snaplen_));
  slabs_ = std::make_shared<SlabPool>(batch_capacity_, kKeptSlabs);
  SetInitialFilter(env, options);
  if (!offline_) {
    waiter_ = platform::Waiter::Create(*api_, pcap_);
    char errbuf[PCAP_ERRBUF_SIZE] = {0};
    if (waiter_ != nullptr && api_->setnonblock(pcap_, 1, errbuf) != 0) waiter_.reset();
  }
}

// A capture file, or standard input for "-". The caller has checked that
// a named file exists and is a file; libpcap judges its contents.
void CaptureHandle::OpenFile(Napi::Env env, const Napi::Object& options) {
  offline_ = true;
  device_ = StringOption(options, "path");
  const bool want_nano = StringOption(options, "precision") != "micro";
  const u_int precision = want_nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO;
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  // startOffset: where a seek found a record; prefixBytes: the header that
  // libpcap must read first (the pcap file header, or pcapng's SHB and IDBs).
  const int64_t start = NumberOption(options, "startOffset", 0);
  const int64_t prefix = NumberOption(options, "prefixBytes", 0);
  std::FILE* stream = nullptr;
  if (device_ != "-" && api_->fopen_offline_with_tstamp_precision != nullptr) {
    stream = platform::OpenReadAhead(device_, static_cast<uint64_t>(prefix), static_cast<uint64_t>(start));
  }
  if (stream == nullptr && prefix > 0) {
    throw WirecapError(env, "ENOTSUP", "reading from a seek position needs wirecap's read-ahead stream, which this platform lacks");
  }
  if (stream != nullptr) {
    pcap_ = api_->fopen_offline_with_tstamp_precision(stream, precision, errbuf);
    if (pcap_ == nullptr) std::fclose(stream);  // libpcap closes only what it opened
  } else if (api_->open_offline_with_tstamp_precision != nullptr) {
    pcap_ = api_->open_offline_with_tstamp_precision(device_.c_str(), precision, errbuf);
  } else if (api_->open_offline != nullptr) {
    pcap_ = api_->open_offline(device_.c_str(), errbuf);
  } else {
    throw WirecapError(env, "ENOTSUP", "the loaded libpcap cannot read capture files (it lacks pcap_open_offline)");
  }
  if (pcap_ == nullptr) {
    throw WirecapError(env, "EBADFORMAT", std::string("cannot read ") + device_ + ": " + errbuf);
  }
}

void CaptureHandle::OpenLive(Napi::Env env, const Napi::Object& options) {
  device_ = StringOption(options, "device");
  const int64_t snaplen = NumberOption(options, "snaplen", 262144);
  const int64_t buffer_size = NumberOption(options, "bufferSize", 0);
  const int64_t timeout_ms = NumberOption(options, "timeoutMs", 100);
  timeout_ms_ = static_cast<int>(timeout_ms);
  const bool immediate = BoolOption(options, "immediate");
  const bool want_nano = StringOption(options, "precision") == "nano";
  const std::string direction = StringOption(options, "direction");

  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  pcap_ = api_->create(device_.c_str(), errbuf);
  if (pcap_ == nullptr) throw WirecapError(env, "EPCAP", errbuf);

  api_->set_snaplen(pcap_, static_cast<int>(snaplen));
  api_->set_promisc(pcap_, BoolOption(options, "promisc") ? 1 : 0);
  api_->set_timeout(pcap_, static_cast<int>(timeout_ms));
  if (buffer_size > 0) api_->set_buffer_size(pcap_, static_cast<int>(buffer_size));
  if (immediate) {
    if (api_->set_immediate_mode == nullptr) {
      throw WirecapError(env, "ENOTSUP", "the loaded libpcap has no immediate mode (libpcap 1.5 or newer has)");
    }
    api_->set_immediate_mode(pcap_, 1);
  }
  if (want_nano) {
    if (api_->set_tstamp_precision == nullptr) {
      throw WirecapError(env, "ENOTSUP",
                         "the loaded libpcap has no nanosecond timestamps (libpcap 1.5 or newer has)");
    }
    int status = api_->set_tstamp_precision(pcap_, PCAP_TSTAMP_PRECISION_NANO);
    if (status != 0) {
      throw WirecapError(env, "ENOTSUP", "device " + device_ + " does not give nanosecond timestamps");
    }
  }

  int status = api_->activate(pcap_);
  if (status < 0) {
    std::string detail = api_->geterr(pcap_);
    std::string message;
    const char* code = CodeForPcapStatus(status);
    if (status == PCAP_ERROR_NO_SUCH_DEVICE) {
      message = "no such device: " + device_ + (detail.empty() ? "" : " (" + detail + ")");
    } else if (status == PCAP_ERROR_PERM_DENIED || status == PCAP_ERROR_PROMISC_PERM_DENIED) {
      message = "no permission to capture on " + device_ + (detail.empty() ? "" : " (" + detail + ")") +
#ifdef _WIN32
                "; run as Administrator, or reinstall Npcap without \"Restrict Npcap driver's access to Administrators only\"";
#else
                "; run as root or grant the capability: sudo setcap cap_net_raw,cap_net_admin+eip $(which node)";
#endif
    } else {
      message = "cannot capture on " + device_ + ": " + (detail.empty() ? "error " + std::to_string(status) : detail);
    }
    throw WirecapError(env, code, message);
  }

  if (!direction.empty()) {
    pcap_direction_t d = direction == "in" ? PCAP_D_IN : direction == "out" ? PCAP_D_OUT : PCAP_D_INOUT;
    if (api_->setdirection == nullptr || api_->setdirection(pcap_, d) != 0) {
      throw WirecapError(env, "ENOTSUP", "cannot capture only direction '" + direction + "' on " + device_ +
                                             (api_->setdirection ? ": " + std::string(api_->geterr(pcap_)) : ""));
    }
  }

  bpf_u_int32 net = 0;
  if (api_->lookupnet(device_.c_str(), &net, &netmask_, errbuf) != 0) netmask_ = PCAP_NETMASK_UNKNOWN;
}

void CaptureHandle::SetInitialFilter(Napi::Env env, const Napi::Object& options) {
  const std::string filter = StringOption(options, "filter");
  if (!filter.empty()) {
    // The capture thread has not started: the handle is this thread's.
    bpf_program program{};
    std::string why;
    if (!CompileFor(*api_, pcap_, filter, netmask_, &program, &why)) {
      throw WirecapError(env, "EFILTER", "invalid filter '" + filter + "': " + why);
    }
    int set = api_->setfilter(pcap_, &program);
    api_->freecode(&program);
    if (set != 0) throw WirecapError(env, "EFILTER", std::string("cannot set filter: ") + api_->geterr(pcap_));
  }
}

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
    if (!kernel_.running) api_->breakloop(pcap_);
  }
  room_.notify_all();
  if (waiter_ != nullptr) waiter_->Wake();
  if (thread_.joinable()) thread_.join();

  if (pcap_ != nullptr) {  // a kernel dump closes it on the capture thread
    have_final_stats_ = api_->stats(pcap_, &final_stats_) == 0;
    api_->close(pcap_);
    pcap_ = nullptr;
  }
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
  int timeout = -1;
  while (!stop_.load()) {
    RunPendingTask();
    if (kernel_.running) {
      lock.unlock();
      RunKernelDump();
      return;
    }
    if (offline_) {
      // Files are read losslessly: wait for JS to make room in the queue.
      room_.wait(lock, [&] {
        return stop_.load() || task_ != nullptr || !deliver_ || queued_bytes_.load() < queue_limit_;
      });
      if (stop_.load()) break;
      if (task_ != nullptr) continue;
    }
    lock.unlock();
    if (waiter_ != nullptr) waiter_->Wait(timeout);
    // A file is read a slice at a time, so tasks and close() are served between slices.
    const int count = offline_ ? kFileSlicePackets : kLivePacketsPerDispatch;
    int n = stop_.load() ? 0 : api_->dispatch(pcap_, count, &CaptureHandle::OnPacket, reinterpret_cast<u_char*>(this));
    captured_.fetch_add(dispatched_, std::memory_order_relaxed);
    dispatched_ = 0;
    Publish();
    timeout = DumpHousekeeping();
    lock.lock();
    if (n < 0 && n != PCAP_ERROR_BREAK) {
      std::string detail = api_->geterr(pcap_);
      lock.unlock();
      if (offline_) {
        const bool cut = detail.find("truncated") != std::string::npos;
        Finish(cut ? "ETRUNCATED" : "EBADFORMAT", device_ + ": " + detail);
      } else {
        Finish(n == PCAP_ERROR_IFACE_NOT_UP ? "ENETDOWN" : "EPCAP",
               std::string("capture on ") + device_ + " failed: " + detail);
      }
      return;
    }
    if (offline_ && n == 0 && !stop_.load()) break;  // end of file
  }
  lock.unlock();
  Finish(nullptr, "");
}

// Counts the complete records of the pcap file a kernel dump wrote, and
// its bytes up to the last of them. Read here rather than through the
// library, which may lack pcap_open_offline (Wine's wpcap.dll does).
static bool CountPcapRecords(const std::string& path, uint64_t* packets, uint64_t* bytes) {
  const uint64_t size = platform::FileSize(path);
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return false;
  uint8_t header[24];
  bool ok = std::fread(header, 1, sizeof header, file) == sizeof header;
  const uint32_t magic = ok ? uint32_t{header[0]} | uint32_t{header[1]} << 8 | uint32_t{header[2]} << 16 | uint32_t{header[3]} << 24 : 0;
  const bool little = magic == 0xa1b2c3d4 || magic == 0xa1b23c4d;
  ok = ok && (little || magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1);
  *packets = 0;
  *bytes = ok ? 24 : 0;
  uint8_t record[16];
  uint64_t end = *bytes;
  while (ok && std::fread(record, 1, sizeof record, file) == sizeof record) {
    const uint8_t* c = record + 8;
    const uint32_t caplen = little ? uint32_t{c[0]} | uint32_t{c[1]} << 8 | uint32_t{c[2]} << 16 | uint32_t{c[3]} << 24
                                   : uint32_t{c[3]} | uint32_t{c[2]} << 8 | uint32_t{c[1]} << 16 | uint32_t{c[0]} << 24;
    end += 16 + uint64_t{caplen};
    if (end > size || std::fseek(file, static_cast<long>(caplen), SEEK_CUR) != 0) break;  // cut by the end: not counted
    (*packets)++;
    *bytes += 16 + caplen;
  }
  std::fclose(file);
  return ok;
}

void CaptureHandle::RunKernelDump() {
  std::unique_lock<std::mutex> lock(mutex_);
  const char* reason = nullptr;
  while (reason == nullptr) {
    RunPendingTask();
    if (stop_.load()) return;  // close(): Shutdown() closes the handle
    if (kernel_.stop_requested) {
      reason = "stopped";
    } else if (kernel_.duration_end_ns != 0 && NowNs() >= kernel_.duration_end_ns) {
      reason = "duration";
    } else if (api_->live_dump_ended(pcap_, 0) != 0) {
      reason = "limit";
    } else {
      room_.wait_for(lock, std::chrono::milliseconds(50));
    }
  }
  // The library ends a kernel dump it did not end itself only when its
  // handle closes; closing also makes sure the file is complete.
  api_->close(pcap_);
  pcap_ = nullptr;
  lock.unlock();

  uint64_t packets = 0, bytes = 0;
  const bool counted = CountPcapRecords(kernel_.path, &packets, &bytes);

  lock.lock();
  kernel_.packets = packets;
  kernel_.bytes = bytes;
  if (!counted) {
    kernel_.reason = "error";
    kernel_.error_code = "EIO";
    kernel_.error_message = "the kernel dump's file " + kernel_.path + " is not a readable pcap file";
  } else if (std::strcmp(reason, "limit") == 0) {
    // The library does not say which limit it reached: the count tells.
    kernel_.reason = kernel_.max_packets != 0 && packets >= kernel_.max_packets ? "maxPackets" : "maxBytes";
  } else {
    kernel_.reason = reason;
  }
  kernel_.ended = true;
  lock.unlock();
  Notify("dump");
  Finish(nullptr, "");
}

void CaptureHandle::OnPacket(u_char* user, const pcap_pkthdr* header, const u_char* bytes) {
  auto* self = reinterpret_cast<CaptureHandle*>(user);
  self->dispatched_++;
  const size_t caplen = header->caplen;
  const int64_t fraction = self->nano_ ? header->ts.tv_usec : int64_t{header->ts.tv_usec} * 1000;
  const int64_t timestamp_ns = int64_t{header->ts.tv_sec} * 1000000000 + fraction;
  // The dump comes first and never waits on JavaScript: a slow iterator
  // costs iterator packets (consumerDropped), never dumped ones.
  if (self->dump_ != nullptr) self->dump_->Write(timestamp_ns, header->caplen, header->len, bytes);
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
  batch->packets.push_back(PacketMeta{timestamp_ns, static_cast<uint32_t>(caplen), header->len,
                                      static_cast<uint32_t>(batch->size)});
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
  if (!dump_->ended()) {
    const int64_t now = NowNs();
    const int64_t stop_at = dump_->stop_at_ns();
    const int64_t duration_end = dump_->duration_end_ns();
    if (stop_at != 0 && now >= stop_at) {
      dump_->End("stopped");
    } else if (duration_end != 0 && now >= duration_end + int64_t{timeout_ms_} * 1000000) {
      // By now the kernel has handed over every packet stamped before the end.
      dump_->End("duration");
    } else {
      dump_->Idle(now);
    }
  }
  if (dump_->ended()) {
    if (!dump_notified_) {
      dump_notified_ = true;
      Notify("dump");
    }
    return -1;
  }
  // Packets stamped before the duration's end may sit in the kernel for up
  // to the read timeout: wake up that much later to collect them.
  int64_t wake = dump_->NextWakeNs();
  if (wake == dump_->duration_end_ns()) wake += int64_t{timeout_ms_} * 1000000;
  const int64_t ms = (wake - NowNs()) / 1000000 + 1;
  return static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(ms, 1000)));
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
      if (code != nullptr) {
        dump_->End("error", code, message);
      } else {
        dump_->End("stopped");
      }
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
  std::shared_ptr<Notifier> notifier = notifier_;
  const bool dump = std::strcmp(event, "dump") == 0;
  notifier->tsfn.NonBlockingCall([notifier, dump](Napi::Env env, Napi::Function on_readable) {
    if (notifier->closed) return;
    if (dump) {
      notifier->dump_running = false;
    } else {
      notifier->reader_waiting = false;
    }
    notifier->UpdateRef(env);
    on_readable.Call({Napi::String::New(env, dump ? "dump" : "readable")});
  });
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
  api_->breakloop(pcap_);  // a blocking pcap_dispatch returns for it
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
  }

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

  if (offline_) room_.notify_one();
  const size_t count = batch->packets.size();
  delivered_ += count;

  // Headers as columns: int64 timestamps, then uint32 caplens, lens, offsets.
  Napi::ArrayBuffer meta = Napi::ArrayBuffer::New(env, count * kMetaBytes);
  auto* timestamps = static_cast<int64_t*>(meta.Data());
  auto* caplens = reinterpret_cast<uint32_t*>(timestamps + count);
  uint32_t* lens = caplens + count;
  uint32_t* offsets = lens + count;
  for (size_t i = 0; i < count; i++) {
    const PacketMeta& p = batch->packets[i];
    timestamps[i] = p.timestamp_ns;
    caplens[i] = p.caplen;
    lens[i] = p.len;
    offsets[i] = p.offset;
  }

  // The slab becomes the Buffer's memory without a copy. V8 counts the
  // Buffer's bytes itself and collects dead batches with cheap scavenges;
  // reporting them again as external memory made it run full mark-compacts
  // instead, which cost a quarter of the read speed (bench/read).
  const size_t capacity = batch->capacity;
  uint8_t* data = batch->data;
  batch->data = nullptr;
  // Only full-size slabs go round; a small one (a quiet live capture's) is
  // the Buffer's, as without recycling.
  const bool recycle = wants_recycle && capacity == slabs_->slab_bytes();
  if (recycle) {
    slabs_->Pin(data);
    lent_ = data;
  }
  Napi::Buffer<uint8_t> buffer = Napi::Buffer<uint8_t>::NewOrCopy(
      env, data, batch->size, [capacity, recycle, slabs = slabs_](Napi::Env, uint8_t* slab) {
        // A lent slab is the pool's: the Buffer only kept the pool alive.
        if (!recycle) slabs->Give(slab, capacity);
      });

  Napi::Array result = Napi::Array::New(env, 3);
  result.Set(0u, buffer);
  result.Set(1u, meta);
  result.Set(2u, Napi::Number::New(env, static_cast<double>(count)));
  return result;
}

Napi::Value CaptureHandle::SetFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  const std::string filter = info[0].As<Napi::String>().Utf8Value();
  bool compiled = false;
  int status = 0;
  std::string error;
  RunOnCaptureThread([&] {
    if (pcap_ == nullptr) {  // a kernel dump's thread closed it
      error = "the capture has ended";
      return;
    }
    bpf_program program{};
    compiled = CompileFor(*api_, pcap_, filter, netmask_, &program, &error);
    if (!compiled) return;
    status = api_->setfilter(pcap_, &program);
    if (status != 0) error = api_->geterr(pcap_);
    api_->freecode(&program);
  });
  if (!compiled) throw WirecapError(env, "EFILTER", "invalid filter '" + filter + "': " + error);
  if (status != 0) throw WirecapError(env, "EFILTER", "cannot set filter: " + error);
  return env.Undefined();
}

Napi::Value CaptureHandle::Inject(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  Napi::Buffer<uint8_t> frame = info[0].As<Napi::Buffer<uint8_t>>();
  if (api_->inject == nullptr && api_->sendpacket == nullptr) {
    throw WirecapError(env, "ENOTSUP", "the loaded libpcap can send no packets (it has neither pcap_inject nor pcap_sendpacket)");
  }
  int sent = 0;
  std::string error;
  RunOnCaptureThread([&] {
    if (pcap_ == nullptr) {  // a kernel dump's thread closed it
      sent = -1;
      error = "the capture has ended";
      return;
    }
    if (api_->inject != nullptr) {
      sent = api_->inject(pcap_, frame.Data(), frame.Length());
    } else {
      // pcap_sendpacket sends all or nothing and answers 0 or -1.
      sent = api_->sendpacket(pcap_, frame.Data(), static_cast<int>(frame.Length())) == 0 ? static_cast<int>(frame.Length()) : -1;
    }
    if (sent < 0) error = api_->geterr(pcap_);
  });
  if (sent < 0) throw WirecapError(env, "EPCAP", "cannot send on " + device_ + ": " + error);
  return Napi::Number::New(env, sent);
}

Napi::Object CaptureHandle::StatsObject(Napi::Env env) {
  pcap_stat kernel{};
  bool have_kernel = have_final_stats_;
  if (!closed_) {
    // pcap_ is null once a kernel dump's thread closed it.
    RunOnCaptureThread([&] { have_kernel = pcap_ != nullptr && api_->stats(pcap_, &kernel) == 0; });
  } else {
    kernel = final_stats_;
  }
  Napi::Object stats = Napi::Object::New(env);
  auto number = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  auto kernel_number = [&](u_int v) { return have_kernel ? Napi::Value(number(v)) : env.Null(); };
  stats.Set("received", kernel_number(kernel.ps_recv));
  stats.Set("dropped", kernel_number(kernel.ps_drop));
  stats.Set("ifDropped", kernel_number(kernel.ps_ifdrop));
  stats.Set("captured", number(captured_.load()));
  stats.Set("consumerDropped", number(consumer_dropped_.load()));
  stats.Set("delivered", number(delivered_));
  return stats;
}

Napi::Value CaptureHandle::Stats(const Napi::CallbackInfo& info) { return StatsObject(info.Env()); }

Napi::Value CaptureHandle::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  const char* name = api_->datalink_val_to_name(linktype_);
  result.Set("linktype", Napi::Number::New(env, linktype_));
  result.Set("linktypeName", name != nullptr ? Napi::Value(Napi::String::New(env, name)) : env.Null());
  result.Set("snaplen", Napi::Number::New(env, snaplen_));
  result.Set("precision", Napi::String::New(env, nano_ ? "nano" : "micro"));
  if (offline_ && pcap_ != nullptr && api_->is_swapped != nullptr && api_->major_version != nullptr &&
      api_->minor_version != nullptr) {
    result.Set("swapped", Napi::Boolean::New(env, api_->is_swapped(pcap_) == 1));
    result.Set("versionMajor", Napi::Number::New(env, api_->major_version(pcap_)));
    result.Set("versionMinor", Napi::Number::New(env, api_->minor_version(pcap_)));
  }
  return result;
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

Napi::Value CaptureHandle::StartDump(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (dump_ != nullptr) throw WirecapError(env, "EINVAL", "this capture is already dumping");
  Napi::Object options = info[0].As<Napi::Object>();
  Dump::Config config;
  config.path = StringOption(options, "path");
  config.writer.format = StringOption(options, "format") == "pcapng" ? CaptureWriter::Format::kPcapng
                                                                     : CaptureWriter::Format::kPcap;
  config.writer.linktype = linktype_;
  config.writer.snaplen = snaplen_;
  config.writer.nano = nano_;
  config.writer.interface_name = device_;
  config.max_bytes = static_cast<uint64_t>(NumberOption(options, "maxBytes", 0));
  config.max_packets = static_cast<uint64_t>(NumberOption(options, "maxPackets", 0));
  config.duration_ms = NumberOption(options, "durationMs", 0);
  config.file_bytes = static_cast<uint64_t>(NumberOption(options, "fileBytes", 0));
  config.file_seconds = NumberOption(options, "fileSeconds", 0);
  config.files = static_cast<uint32_t>(NumberOption(options, "files", 0));

  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) throw WirecapError(env, "ECLOSED", "the capture has ended");
  }
  auto dump = std::make_unique<Dump>();
  CaptureWriter::Error error;
  if (!dump->Start(config, NowNs(), &error)) throw WirecapError(env, error.code, error.message);
  RunOnCaptureThread([&] { dump_ = std::move(dump); });
  {
    // The thread may have ended meanwhile, after which the task ran here.
    std::lock_guard<std::mutex> lock(mutex_);
    if (!thread_running_ && !dump_->ended()) {
      dump_->End("stopped");
      dump_notified_ = true;
      return env.Undefined();
    }
  }
  notifier_->dump_running = true;
  notifier_->UpdateRef(env);
  if (waiter_ != nullptr) waiter_->Wake();  // start the flush and duration timers
  return env.Undefined();
}

// startKernelDump({ path, maxBytes, maxPackets, durationMs }): asks the
// library's pcap_live_dump to write the file. Returns null once it runs, or
// the library's refusal as a string (JS decides what a refusal means).
Napi::Value CaptureHandle::StartKernelDump(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (api_->live_dump == nullptr || api_->live_dump_ended == nullptr) {
    return Napi::String::New(env, "the loaded libpcap has no pcap_live_dump (kernel dump mode)");
  }
  Napi::Object options = info[0].As<Napi::Object>();
  std::string path = StringOption(options, "path");
  const int max_bytes = static_cast<int>(NumberOption(options, "maxBytes", 0));
  const int max_packets = static_cast<int>(NumberOption(options, "maxPackets", 0));
  const int64_t duration_ms = NumberOption(options, "durationMs", 0);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) throw WirecapError(env, "ECLOSED", "the capture has ended");
    if (dump_ != nullptr || kernel_.running) throw WirecapError(env, "EINVAL", "this capture is already dumping");
  }
  int status = 0;
  std::string refusal;
  RunOnCaptureThread([&] {
    status = api_->live_dump(pcap_, path.data(), max_bytes, max_packets);
    if (status != 0) {
      refusal = api_->geterr(pcap_);
      return;
    }
    kernel_.running = true;
    kernel_.path = path;
    kernel_.max_packets = static_cast<uint64_t>(max_packets);
    kernel_.duration_end_ns = duration_ms > 0 ? NowNs() + duration_ms * 1000000 : 0;
  });
  if (status != 0) return Napi::String::New(env, refusal.empty() ? "pcap_live_dump failed" : refusal);
  notifier_->dump_running = true;
  notifier_->UpdateRef(env);
  return env.Null();
}

// Asks the dump to end once the kernel has handed over what it captured
// until now; onReadable('dump') follows.
Napi::Value CaptureHandle::StopDump(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (kernel_.running) {
      kernel_.stop_requested = true;
      room_.notify_all();
      return env.Undefined();
    }
  }
  if (dump_ != nullptr && !dump_->ended()) {
    dump_->RequestStop(NowNs() + int64_t{timeout_ms_} * 1000000);
    if (waiter_ != nullptr) waiter_->Wake();
  }
  return env.Undefined();
}

Napi::Value CaptureHandle::DumpStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (kernel_.running) {
      Napi::Object result = Napi::Object::New(env);
      result.Set("mode", Napi::String::New(env, "kernel"));
      result.Set("ended", Napi::Boolean::New(env, kernel_.ended));
      result.Set("packets", Napi::Number::New(env, static_cast<double>(kernel_.packets)));
      // While the library writes, the file's size is all there is to know.
      const uint64_t size = kernel_.ended ? kernel_.bytes : platform::FileSize(kernel_.path);
      result.Set("bytes", Napi::Number::New(env, static_cast<double>(size)));
      result.Set("files", Napi::Number::New(env, 1));
      result.Set("reason", kernel_.reason ? Napi::Value(Napi::String::New(env, kernel_.reason)) : env.Null());
      if (!kernel_.error_code.empty()) {
        result.Set("error", WirecapError(env, kernel_.error_code.c_str(), kernel_.error_message).Value());
      }
      return result;
    }
  }
  if (dump_ == nullptr) return env.Null();
  Dump::Status status = dump_->GetStatus();
  Napi::Object result = Napi::Object::New(env);
  result.Set("mode", Napi::String::New(env, "user"));
  result.Set("ended", Napi::Boolean::New(env, status.ended));
  result.Set("packets", Napi::Number::New(env, static_cast<double>(status.packets)));
  result.Set("bytes", Napi::Number::New(env, static_cast<double>(status.bytes)));
  result.Set("files", Napi::Number::New(env, status.files));
  result.Set("reason", status.reason ? Napi::Value(Napi::String::New(env, status.reason)) : env.Null());
  if (!status.error_code.empty()) {
    result.Set("error", WirecapError(env, status.error_code.c_str(), status.error_message).Value());
  }
  return result;
}
