// Opening a capture file (or standard input) for a CaptureHandle: through
// wirecap's read-ahead stream where the platform has one, else by path in
// libpcap. JS thread, in the CaptureHandle constructor, before the capture
// thread starts.
#include "capture/capture_handle.h"
#include "capture/js_options.h"
#include "errors.h"
#include "platform/platform.h"

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
