// ReplayHandle's JS-thread half: open, push, end, stop, stats, close (see
// replay_handle.h).
#include "replay/replay_handle.h"

#include <cstring>

#include "capture/js_options.h"
#include "core/handle_setup.h"
#include "errors.h"
#include "platform/platform.h"
#include "replay/send_queue.h"

// Carries onEvent('drain' | 'done') from the replay thread. It keeps the
// event loop alive while the replay runs, so a pending `done` is awaited.
struct ReplayHandle::Notifier {
  static inline char kDrain[] = "drain";  // never written: the API takes char*
  static inline char kDone[] = "done";
  using Context = std::shared_ptr<Notifier>;
  static void CallJs(Napi::Env env, Napi::Function on_event, Context* context, char* event);
  Napi::TypedThreadSafeFunction<Context, char, CallJs> tsfn;
  bool closed = false;  // JS thread
};

// Defined out of the struct: some compilers (gcc with -fsanitize) do not
// take an in-class definition's address as a constant expression.
void ReplayHandle::Notifier::CallJs(Napi::Env env, Napi::Function on_event, Context* context, char* event) {
  if (env == nullptr || (*context)->closed) return;
  on_event.Call({Napi::String::New(env, event)});
}

Napi::Function ReplayHandle::Define(Napi::Env env) {
  return DefineClass(env, "ReplayHandle",
                     {
                         InstanceMethod<&ReplayHandle::Push>("push"),
                         InstanceMethod<&ReplayHandle::End>("end"),
                         InstanceMethod<&ReplayHandle::Stop>("stop"),
                         InstanceMethod<&ReplayHandle::Stats>("stats"),
                         InstanceMethod<&ReplayHandle::Info>("info"),
                         InstanceMethod<&ReplayHandle::Close>("close"),
                     });
}

ReplayHandle::ReplayHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<ReplayHandle>(info),
      addon_(info.Env().GetInstanceData<Addon>()),
      api_(&RequirePcap(info.Env())),
      notifier_(std::make_shared<Notifier>()) {
  Napi::Env env = info.Env();
  handle_setup::OpenOrClose(*api_, pcap_, closed_, [&] { Open(env, info[0].As<Napi::Object>()); });
  handle_setup::StartNotifier(env, notifier_, info[1].As<Napi::Function>(), "wirecap replay");
  thread_ = std::thread(&ReplayHandle::Run, this);
  addon_->open_replays.insert(this);
}

ReplayHandle::~ReplayHandle() { Shutdown(); }

void ReplayHandle::Open(Napi::Env env, const Napi::Object& options) {
  device_ = StringOption(options, "device");
  const std::string pacing = StringOption(options, "pacing");
  pace_mode_ = pacing == "speed"  ? Pacer::Mode::kSpeed
               : pacing == "pps"  ? Pacer::Mode::kPacketRate
               : pacing == "bps"  ? Pacer::Mode::kBitRate
                                  : Pacer::Mode::kTop;
  const double rate = options.Get("rate").IsNumber() ? options.Get("rate").As<Napi::Number>().DoubleValue() : 1.0;
  pacer_ = std::make_unique<Pacer>(pace_mode_, rate);
  max_packets_ = static_cast<uint64_t>(NumberOption(options, "maxPackets", 0));
  duration_ns_ = NumberOption(options, "durationMs", 0) * 1000000;
  queue_limit_ = static_cast<size_t>(NumberOption(options, "queueBytes", 4 << 20));
  late_ns_ = NumberOption(options, "lateUs", 100) * 1000;
  oversize_error_ = StringOption(options, "oversize") == "error";
  want_realtime_ = BoolOption(options, "realtime");
  const std::string filter = StringOption(options, "filter");
  if (!filter.empty()) filter_ = FileFilter(api_, filter, 262144, PCAP_NETMASK_UNKNOWN);

  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  pcap_ = api_->create(device_.c_str(), errbuf);
  if (pcap_ == nullptr) throw WirecapError(env, "EPCAP", errbuf);
  // The handle only sends: it keeps little of what it sees, in a small buffer.
  api_->set_snaplen(pcap_, 64);
  api_->set_buffer_size(pcap_, 1 << 16);
  api_->set_timeout(pcap_, 100);
  const int status = api_->activate(pcap_);
  if (status < 0) {
    const std::string detail = api_->geterr(pcap_);
    throw WirecapError(env, CodeForPcapStatus(status), ActivationFailure(status, device_, detail, "send on"));
  }
  // A filter that takes nothing: the kernel then drops what the device
  // carries before copying it to this handle.
  bpf_insn reject_all = {0x06, 0, 0, 0};  // BPF_RET | BPF_K, 0
  bpf_program none = {1, &reject_all};
  api_->setfilter(pcap_, &none);
  linktype_ = api_->datalink(pcap_);
  mtu_ = platform::DeviceMtu(device_);

  if (SendQueue::Available(*api_) && !BoolOption(options, "noSendQueue")) {
    mode_ = "sendqueue";
  } else if (api_->inject != nullptr) {
    mode_ = "inject";
  } else if (api_->sendpacket != nullptr) {
    mode_ = "sendpacket";
  } else {
    throw WirecapError(env, "ENOTSUP", "the loaded libpcap can send no packets (it has neither pcap_inject nor pcap_sendpacket)");
  }
  use_inject_ = mode_ == "inject";
  use_send_queue_ = mode_ == "sendqueue";
}

void ReplayHandle::Shutdown() {
  if (closed_) return;
  closed_ = true;
  addon_->open_replays.erase(this);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (pcap_ != nullptr) api_->close(pcap_);
  pcap_ = nullptr;
  filter_ = FileFilter();
  notifier_->closed = true;
  notifier_->tsfn.Release();
}

// push(data, timestamps, caplens, offsets, count, linktype, restart): copies
// the packets' bytes; false when the queue is now full (wait for 'drain').
Napi::Value ReplayHandle::Push(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw WirecapError(env, "ECLOSED", "the replay is closed");
  Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
  Napi::BigInt64Array timestamps = info[1].As<Napi::BigInt64Array>();
  Napi::Uint32Array caplens = info[2].As<Napi::Uint32Array>();
  Napi::Uint32Array offsets = info[3].As<Napi::Uint32Array>();
  const uint32_t count = info[4].As<Napi::Number>().Uint32Value();
  if (timestamps.ElementLength() < count || caplens.ElementLength() < count || offsets.ElementLength() < count) {
    throw WirecapError(env, "EINVAL", "push: fewer headers than count");
  }
  auto batch = std::make_unique<Batch>();
  batch->linktype = info[5].As<Napi::Number>().Int32Value();
  batch->restart = info[6].ToBoolean().Value();
  size_t total = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (static_cast<uint64_t>(offsets[i]) + caplens[i] > data.Length()) {
      throw WirecapError(env, "EINVAL", "push: packet " + std::to_string(i) + " lies outside the data");
    }
    total += caplens[i];
  }
  batch->data.resize(total);
  batch->packets.reserve(count);
  uint32_t at = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (caplens[i] > 0) std::memcpy(batch->data.data() + at, data.Data() + offsets[i], caplens[i]);
    batch->packets.push_back({timestamps[i], caplens[i], at});
    at += caplens[i];
  }
  pushed_ += count;
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) {
    unsent_ += count;  // the replay ended: counted, never sent
    return Napi::Boolean::New(env, false);
  }
  queued_bytes_ += total + count * sizeof(Packet);
  queue_.push_back(std::move(batch));
  wake_.notify_all();
  const bool room = queued_bytes_ < queue_limit_;
  if (!room) drain_wanted_ = true;
  return Napi::Boolean::New(env, room);
}

Napi::Value ReplayHandle::End(const Napi::CallbackInfo& info) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ended_ = true;
  }
  wake_.notify_all();
  return info.Env().Undefined();
}

Napi::Value ReplayHandle::Stop(const Napi::CallbackInfo& info) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  return info.Env().Undefined();
}

Napi::Value ReplayHandle::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object s = Napi::Object::New(env);
  auto number = [&](const char* key, double value) { s.Set(key, Napi::Number::New(env, value)); };
  number("pushed", static_cast<double>(pushed_.load()));
  number("sent", static_cast<double>(sent_.load()));
  number("bytes", static_cast<double>(bytes_.load()));
  number("failed", static_cast<double>(failed_.load()));
  number("oversize", static_cast<double>(oversize_.load()));
  number("filtered", static_cast<double>(filtered_.load()));
  number("unsent", static_cast<double>(unsent_.load()));
  number("late", static_cast<double>(late_.load()));
  number("worstLateNs", static_cast<double>(worst_late_ns_.load()));
  const int64_t first = first_sent_at_.load(), last = last_sent_at_.load();
  number("elapsedNs", first == 0 ? 0 : static_cast<double>(last - first));
  number("cpuNs", static_cast<double>(cpu_ns_.load()));
  number("spinMarginNs", static_cast<double>(spin_margin_ns_.load()));
  s.Set("realtime", Napi::Boolean::New(env, realtime_.load()));
  std::lock_guard<std::mutex> lock(mutex_);
  number("queuedBytes", static_cast<double>(queued_bytes_));
  if (finished_) {
    s.Set("reason", Napi::String::New(env, reason_));
    if (!error_code_.empty()) s.Set("error", WirecapError(env, error_code_.c_str(), error_message_).Value());
  } else {
    s.Set("reason", env.Null());
  }
  return s;
}

Napi::Value ReplayHandle::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("linktype", Napi::Number::New(env, linktype_));
  const char* name = api_->datalink_val_to_name(linktype_);
  o.Set("linktypeName", name != nullptr ? Napi::Value(Napi::String::New(env, name)) : env.Null());
  o.Set("mtu", Napi::Number::New(env, mtu_));
  o.Set("mode", Napi::String::New(env, mode_));
  return o;
}

Napi::Value ReplayHandle::Close(const Napi::CallbackInfo& info) {
  Shutdown();
  return info.Env().Undefined();
}

void ReplayHandle::Notify(const char* event) {
  notifier_->tsfn.NonBlockingCall(std::strcmp(event, "done") == 0 ? Notifier::kDone : Notifier::kDrain);
}
