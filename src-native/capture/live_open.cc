// Opening a capture: Open() picks the source (a file, in
// files/file_open.cc; the capture helper; a live device: pcap_create, the
// options, pcap_activate, and the errors a user can act on, such as no
// device or no permission), then sizes the batches and sets the filter.
// JS thread, in the CaptureHandle constructor, before the capture thread
// starts.
#include <algorithm>

#include "capture/capture_handle.h"
#include "capture/filter.h"
#include "capture/js_options.h"
#include "errors.h"
#include "helper/channel.h"

namespace {

// Upper bound of one batch's packet bytes: large enough that a busy link
// costs one JS call per thousand packets, small enough to keep latency low.
constexpr size_t kBatchBytes = 1 << 20;
// Full-size slabs kept for reuse (see SlabPool). A file's plain batches()
// come back in bursts, when V8 collects the dead ones (about every 32 MiB
// of them): a file keeps enough to cover a burst, or each batch after it
// would fault fresh pages in.
constexpr size_t kKeptSlabs = 8;
constexpr size_t kKeptFileSlabs = 48;

// The capture helper's command line for these options (helper_main.cc
// checks it again: it trusts nothing it is given).
std::vector<std::string> HelperArgs(const Napi::Object& options) {
  std::vector<std::string> args = {"--device", StringOption(options, "device"),
                                   "--snaplen", std::to_string(NumberOption(options, "snaplen", 262144)),
                                   "--timeout", std::to_string(NumberOption(options, "timeoutMs", 100))};
  const int64_t buffer_size = NumberOption(options, "bufferSize", 0);
  if (buffer_size > 0) args.insert(args.end(), {"--buffer", std::to_string(buffer_size)});
  if (BoolOption(options, "promisc")) args.push_back("--promisc");
  if (BoolOption(options, "immediate")) args.push_back("--immediate");
  if (StringOption(options, "precision") == "nano") args.push_back("--nano");
  const std::string direction = StringOption(options, "direction");
  if (!direction.empty()) args.insert(args.end(), {"--direction", direction});
  const std::string filter = StringOption(options, "filter");
  if (!filter.empty()) args.insert(args.end(), {"--filter", filter});
  return args;
}

}  // namespace

Napi::Error CaptureHandle::ActivateFailure(Napi::Env env, int status, const std::string& detail, bool helper) {
  // A permission denial names wirecap grant, never setcap on node: only the helper should hold the capabilities.
  const char* fix = helper ? "the capture helper has no capabilities: run `sudo npx wirecap grant` once (see `npx wirecap doctor`)"
                           : "run `sudo npx wirecap grant` once to let the capture helper capture for you (see `npx wirecap doctor`), or run as root";
  return WirecapError(env, CodeForPcapStatus(status), ActivationFailure(status, device_, detail, "capture on", fix));
}

void CaptureHandle::OpenThroughHelper(Napi::Env env, const Napi::Object& options) {
  device_ = StringOption(options, "device");
  timeout_ms_ = static_cast<int>(NumberOption(options, "timeoutMs", 100));
  HelperClient::Opened opened;
  HelperClient::Failure failure;
  helper_ = HelperClient::Start(StringOption(options, "helperPath"), HelperArgs(options), &opened, &failure);
  if (helper_ != nullptr) {
    linktype_ = opened.linktype;
    snaplen_ = opened.snaplen;
    nano_ = opened.nano;
    return;
  }
  switch (failure.stage) {
    case helper::kStageActivate:
      throw ActivateFailure(env, failure.status, failure.text, true);
    case helper::kStageImmediate:
      throw WirecapError(env, "ENOTSUP", "the system's libpcap has no immediate mode (libpcap 1.5 or newer has)");
    case helper::kStageNano:
      throw WirecapError(env, "ENOTSUP", "device " + device_ + " does not give nanosecond timestamps");
    case helper::kStageDirection:
      throw WirecapError(env, "ENOTSUP", "cannot capture only direction '" + StringOption(options, "direction") +
                                             "' on " + device_ + (failure.text.empty() ? "" : ": " + failure.text));
    case helper::kStageFilter:
      throw WirecapError(env, "EFILTER", "invalid filter '" + StringOption(options, "filter") + "': " + failure.text);
    case helper::kStageLibrary:
      throw WirecapError(env, "ELIBPCAP", "the capture helper: " + failure.text);
    default:
      throw WirecapError(env, "EHELPER", "capture helper: " + failure.text);
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
  if (status < 0) throw ActivateFailure(env, status, api_->geterr(pcap_), false);

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

void CaptureHandle::Open(Napi::Env env, const Napi::Object& options) {
  queue_limit_ = static_cast<size_t>(NumberOption(options, "queueBytes", 32 << 20));
  deliver_ = options.Get("deliver").IsUndefined() || BoolOption(options, "deliver");
  if (StringOption(options, "source") == "file") {
    OpenFile(env, options);
  } else if (!StringOption(options, "helperPath").empty()) {
    OpenThroughHelper(env, options);
  } else {
    OpenLive(env, options);
  }
  if (pcap_ != nullptr) {
    linktype_ = api_->datalink(pcap_);
    snaplen_ = api_->snapshot(pcap_);
    nano_ = api_->get_tstamp_precision != nullptr &&
            api_->get_tstamp_precision(pcap_) == PCAP_TSTAMP_PRECISION_NANO;
  }
  // wirecap's file reader gives a record larger than a slab one of its own.
  batch_capacity_ = file_ != nullptr ? kBatchBytes : std::max(kBatchBytes, static_cast<size_t>(snaplen_));
  slabs_ = std::make_shared<SlabPool>(batch_capacity_, file_ != nullptr ? kKeptFileSlabs : kKeptSlabs);
  if (helper_ != nullptr) {
    // The helper set the filter in its kernel socket already.
    waiter_ = platform::Waiter::ForDescriptor(helper_->fd());
    return;
  }
  SetInitialFilter(env, options);
  if (!offline_) {
    waiter_ = platform::Waiter::Create(*api_, pcap_);
    char errbuf[PCAP_ERRBUF_SIZE] = {0};
    if (waiter_ != nullptr && api_->setnonblock(pcap_, 1, errbuf) != 0) waiter_.reset();
  }
}

void CaptureHandle::SetInitialFilter(Napi::Env env, const Napi::Object& options) {
  const std::string filter = StringOption(options, "filter");
  if (!filter.empty() && file_ != nullptr) {
    file_filter_ = CompileFileFilter(env, filter);
  } else if (!filter.empty()) {
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
