// Opening a live device: pcap_create, the options, pcap_activate, and the
// errors a user can act on (no device, no permission). JS thread, in the
// CaptureHandle constructor, before the capture thread starts.
#include "capture/capture_handle.h"
#include "capture/js_options.h"
#include "errors.h"

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
    const std::string detail = api_->geterr(pcap_);
    throw WirecapError(env, CodeForPcapStatus(status), ActivationFailure(status, device_, detail, "capture on"));
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
