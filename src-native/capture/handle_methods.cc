// CaptureHandle's JavaScript methods that marshal arguments and state:
// batches, stats and info out; filters, frames to send and dump options
// in; dump status out. All run on the JS thread; what touches the pcap_t
// goes through RunOnCaptureThread.
#include "capture/capture_handle.h"
#include "capture/filter.h"
#include "capture/js_options.h"
#include "errors.h"

#include <algorithm>
#include <vector>

namespace {

// A pcapng interface as openOffline's FileInterface has it (without its index).
Napi::Array InterfaceArray(Napi::Env env, const std::vector<files::InterfaceInfo>& interfaces) {
  Napi::Array result = Napi::Array::New(env, interfaces.size());
  auto text = [&](const std::string& s) { return s.empty() ? env.Null() : Napi::Value(Napi::String::New(env, s)); };
  for (uint32_t i = 0; i < interfaces.size(); i++) {
    const files::InterfaceInfo& one = interfaces[i];
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("section", Napi::Number::New(env, one.section));
    entry.Set("name", text(one.name));
    entry.Set("description", text(one.description));
    entry.Set("linktype", Napi::Number::New(env, one.linktype));
    entry.Set("snaplen", Napi::Number::New(env, one.snaplen));
    entry.Set("tsresol", Napi::Number::New(env, one.tsresol));
    result.Set(i, entry);
  }
  return result;
}

}  // namespace

Napi::Value CaptureHandle::BatchValue(Napi::Env env, Batch& batch, bool wants_recycle) {
  const size_t count = batch.packets.size();
  // Headers as columns: int64 timestamps, then uint32 caplens, lens, offsets
  // and interfaces (a pcapng file's; 0 otherwise).
  Napi::ArrayBuffer meta = Napi::ArrayBuffer::New(env, count * kMetaBytes);
  auto* timestamps = static_cast<int64_t*>(meta.Data());
  auto* caplens = reinterpret_cast<uint32_t*>(timestamps + count);
  uint32_t* lens = caplens + count;
  uint32_t* offsets = lens + count;
  uint32_t* interfaces = offsets + count;
  for (size_t i = 0; i < count; i++) {
    const PacketMeta& p = batch.packets[i];
    timestamps[i] = p.timestamp_ns;
    caplens[i] = p.caplen;
    lens[i] = p.len;
    offsets[i] = p.offset;
    interfaces[i] = p.iface;
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
  if (!batch.interfaces.empty()) result.Set(3u, InterfaceArray(env, batch.interfaces));
  return result;
}

Napi::Value CaptureHandle::SetFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  const std::string filter = info[0].As<Napi::String>().Utf8Value();
  bool compiled = false;
  int status = 0;
  std::string error;
  if (file_ != nullptr) {
    FileFilter next = CompileFileFilter(env, filter);
    RunOnCaptureThread([&] { std::swap(next, file_filter_); });
    return env.Undefined();
  }
  RunOnCaptureThread([&] {
    if (helper_ != nullptr) {
      compiled = helper_->SetFilter(filter, &error);
      return;
    }
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
    if (helper_ != nullptr) {
      sent = helper_->Inject(frame.Data(), frame.Length(), &error);
      return;
    }
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
    RunOnCaptureThread([&] {
      have_kernel = helper_ != nullptr ? helper_->Stats(&kernel) : pcap_ != nullptr && api_->stats(pcap_, &kernel) == 0;
    });
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
  if (file_ != nullptr) {
    result.Set("swapped", Napi::Boolean::New(env, file_->swapped()));
    result.Set("versionMajor", Napi::Number::New(env, file_->version_major()));
    result.Set("versionMinor", Napi::Number::New(env, file_->version_minor()));
    if (file_->pcapng()) result.Set("interfaces", InterfaceArray(env, file_interfaces_));
  } else if (offline_ && pcap_ != nullptr && api_->is_swapped != nullptr && api_->major_version != nullptr &&
      api_->minor_version != nullptr) {
    result.Set("swapped", Napi::Boolean::New(env, api_->is_swapped(pcap_) == 1));
    result.Set("versionMajor", Napi::Number::New(env, api_->major_version(pcap_)));
    result.Set("versionMinor", Napi::Number::New(env, api_->minor_version(pcap_)));
  }
  return result;
}

// startDump(options, others?): this handle's packets, and those of the
// handles in others (interfaces 1, 2... of one pcapng file), go to a dump
// that every one of their capture threads writes to.
Napi::Value CaptureHandle::StartDump(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object options = info[0].As<Napi::Object>();
  std::vector<CaptureHandle*> handles{this};
  if (info.Length() > 1 && info[1].IsArray()) {
    Napi::Array others = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < others.Length(); i++) handles.push_back(Unwrap(others.Get(i).As<Napi::Object>()));
  }
  Napi::Array described = options.Get("interfaces").IsArray() ? options.Get("interfaces").As<Napi::Array>()
                                                               : Napi::Array::New(env);
  Dump::Config config;
  config.path = StringOption(options, "path");
  config.writer.format = StringOption(options, "format") == "pcapng" ? CaptureWriter::Format::kPcapng
                                                                     : CaptureWriter::Format::kPcap;
  config.writer.user_appl = StringOption(options, "userAppl");
  config.writer.os = StringOption(options, "os");
  config.writer.hardware = StringOption(options, "hardware");
  config.writer.interfaces.clear();
  int longest_timeout_ms = 0;
  for (uint32_t i = 0; i < handles.size(); i++) {
    CaptureHandle* h = handles[i];
    h->CheckOpen(env);
    {
      std::lock_guard<std::mutex> lock(h->mutex_);
      if (h->finished_) throw WirecapError(env, "ECLOSED", "the capture on " + h->device_ + " has ended");
      if (h->dump_ != nullptr || h->kernel_.running()) {
        throw WirecapError(env, "EINVAL", "the capture on " + h->device_ + " is already dumping");
      }
    }
    CaptureWriter::Interface iface;
    iface.linktype = h->linktype_;
    iface.snaplen = h->snaplen_;
    iface.nano = h->nano_;
    iface.name = h->device_;
    if (i < described.Length()) {
      Napi::Object d = described.Get(i).As<Napi::Object>();
      iface.description = StringOption(d, "description");
      iface.filter = StringOption(d, "filter");
    }
    config.writer.interfaces.push_back(iface);
    longest_timeout_ms = std::max(longest_timeout_ms, h->timeout_ms_);
  }
  // A packet waits for an earlier one from another device at most this long:
  // longer than any device's packets may sit in its kernel buffer.
  config.merge_window_ns = (int64_t{longest_timeout_ms} + 100) * 1000000;
  config.max_bytes = static_cast<uint64_t>(NumberOption(options, "maxBytes", 0));
  config.max_packets = static_cast<uint64_t>(NumberOption(options, "maxPackets", 0));
  config.duration_ms = NumberOption(options, "durationMs", 0);
  config.file_bytes = static_cast<uint64_t>(NumberOption(options, "fileBytes", 0));
  config.file_seconds = NumberOption(options, "fileSeconds", 0);
  config.files = static_cast<uint32_t>(NumberOption(options, "files", 0));

  // liveDump() starts the window when its first device opened: packets are
  // stamped from then on, and a window started later would keep some
  // stamped before it (a file spanning more than durationMs).
  int64_t start_ns = NowNs();
  if (options.Get("startNs").IsBigInt()) {
    bool lossless = false;
    start_ns = std::min(start_ns, options.Get("startNs").As<Napi::BigInt>().Int64Value(&lossless));
  }
  auto dump = std::make_shared<Dump>();
  CaptureWriter::Error error;
  if (!dump->Start(config, start_ns, &error)) throw WirecapError(env, error.code, error.message);
  for (uint32_t i = 0; i < handles.size(); i++) {
    CaptureHandle* h = handles[i];
    // Called under the dump's lock, only while h's thread is in the dump.
    // No pcap_breakloop: the thread must still dispatch what its kernel
    // buffer holds before it reports. Without a waiter, a blocking
    // dispatch returns within the read timeout anyway.
    dump->SetWaker(i, [h] {
      if (h->waiter_ != nullptr) h->waiter_->Wake();
    });
  }
  for (uint32_t i = 0; i < handles.size(); i++) {
    CaptureHandle* h = handles[i];
    h->RunOnCaptureThread([&] {
      h->dump_ = dump;
      h->dump_interface_ = i;
    });
    bool running;
    {
      // The thread may have ended meanwhile, after which the task ran here.
      std::lock_guard<std::mutex> lock(h->mutex_);
      running = h->thread_running_;
      if (!running) h->dump_notified_ = true;
    }
    if (!running) {
      dump->Leave(i, nullptr, "");
      continue;
    }
    h->DumpStarted(env);
    if (h->waiter_ != nullptr) h->waiter_->Wake();  // start the flush and duration timers
  }
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
  if (file_ != nullptr) return Napi::String::New(env, "a capture file is read by wirecap, not by the library's kernel dump");
  if (helper_ != nullptr) return Napi::String::New(env, "the capture helper opens no files: wirecap writes the dump");
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
    // The kernel hands a packet over within the read timeout, by a timer
    // that runs late on a busy host: short timeouts get a floor.
    constexpr int64_t kMinStopGraceMs = 50;
    dump_->RequestStop(NowNs() + std::max<int64_t>(timeout_ms_, kMinStopGraceMs) * 1000000);
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
  Napi::Array interfaces = Napi::Array::New(env, status.interfaces.size());
  for (uint32_t i = 0; i < status.interfaces.size(); i++) {
    const Dump::InterfaceStatus& one = status.interfaces[i];
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("packets", Napi::Number::New(env, static_cast<double>(one.packets)));
    if (!one.error_code.empty()) {
      entry.Set("error", WirecapError(env, one.error_code.c_str(), one.error_message).Value());
    }
    interfaces.Set(i, entry);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("mode", Napi::String::New(env, "user"));
  result.Set("ended", Napi::Boolean::New(env, status.ended));
  result.Set("packets", Napi::Number::New(env, static_cast<double>(status.packets)));
  result.Set("bytes", Napi::Number::New(env, static_cast<double>(status.bytes)));
  result.Set("files", Napi::Number::New(env, status.files));
  result.Set("reason", status.reason ? Napi::Value(Napi::String::New(env, status.reason)) : env.Null());
  result.Set("interfaces", interfaces);
  if (!status.error_code.empty()) {
    result.Set("error", WirecapError(env, status.error_code.c_str(), status.error_message).Value());
  }
  return result;
}
