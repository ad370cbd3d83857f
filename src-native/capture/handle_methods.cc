// CaptureHandle's JavaScript methods that marshal its state: batches,
// stats and info out, dump options in and dump status out. All run on the JS thread;
// what touches the pcap_t goes through RunOnCaptureThread.
#include "capture/capture_handle.h"
#include "capture/js_options.h"
#include "errors.h"

Napi::Value CaptureHandle::BatchValue(Napi::Env env, Batch& batch, bool wants_recycle) {
  const size_t count = batch.packets.size();
  // Headers as columns: int64 timestamps, then uint32 caplens, lens, offsets.
  Napi::ArrayBuffer meta = Napi::ArrayBuffer::New(env, count * kMetaBytes);
  auto* timestamps = static_cast<int64_t*>(meta.Data());
  auto* caplens = reinterpret_cast<uint32_t*>(timestamps + count);
  uint32_t* lens = caplens + count;
  uint32_t* offsets = lens + count;
  for (size_t i = 0; i < count; i++) {
    const PacketMeta& p = batch.packets[i];
    timestamps[i] = p.timestamp_ns;
    caplens[i] = p.caplen;
    lens[i] = p.len;
    offsets[i] = p.offset;
  }

  // The slab becomes the Buffer's memory without a copy. V8 counts the
  // Buffer's bytes itself and collects dead batches with cheap scavenges;
  // reporting them again as external memory made it run full mark-compacts
  // instead, which cost a quarter of the read speed (bench/read).
  const size_t capacity = batch.capacity;
  // Only full-size slabs go round; a small one (a quiet live capture's) is
  // the Buffer's, as without recycling.
  const bool recycle = wants_recycle && capacity == slabs_->slab_bytes();
  Napi::Buffer<uint8_t> buffer = Napi::Buffer<uint8_t>::NewOrCopy(
      env, batch.data, batch.size, [capacity, recycle, slabs = slabs_](Napi::Env, uint8_t* slab) {
        // A lent slab is the pool's: the Buffer only kept the pool alive.
        if (!recycle) slabs->Give(slab, capacity);
      });
  // The slab is the Buffer's only once the Buffer exists (Read() takes it
  // back when this throws, as in a worker being terminated).
  uint8_t* data = batch.data;
  batch.data = nullptr;
  if (recycle) {
    slabs_->Pin(data);
    lent_ = data;
  }

  Napi::Array result = Napi::Array::New(env, 3);
  result.Set(0u, buffer);
  result.Set(1u, meta);
  result.Set(2u, Napi::Number::New(env, static_cast<double>(count)));
  return result;
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
  DumpStarted(env);
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
  KernelDump::Limits limits;
  limits.path = StringOption(options, "path");
  limits.max_bytes = static_cast<int>(NumberOption(options, "maxBytes", 0));
  limits.max_packets = static_cast<int>(NumberOption(options, "maxPackets", 0));
  limits.duration_ms = NumberOption(options, "durationMs", 0);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) throw WirecapError(env, "ECLOSED", "the capture has ended");
    if (dump_ != nullptr || kernel_.running()) throw WirecapError(env, "EINVAL", "this capture is already dumping");
  }
  std::string refusal;
  RunOnCaptureThread([&] { refusal = kernel_.Start(*api_, pcap_, limits); });
  if (!refusal.empty()) return Napi::String::New(env, refusal);
  DumpStarted(env);
  return env.Null();
}

// Asks the dump to end once the kernel has handed over what it captured
// until now; onReadable('dump') follows.
Napi::Value CaptureHandle::StopDump(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (kernel_.running()) {
      kernel_.RequestStop();
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
    if (kernel_.running()) return kernel_.Status(env);
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
