// The kernel dump's watch (see kernel_dump.h): Start(), Due(), CountFile()
// and End() on the capture thread, RequestStop() and Status() on the JS
// thread, all under the owning handle's mutex but CountFile().
#include "dump/kernel_dump.h"

#include <cstdio>
#include <cstring>

#include "dump/dump.h"
#include "errors.h"
#include "platform/platform.h"

namespace {

// Counts the complete records of the pcap file a kernel dump wrote, and
// its bytes up to the last of them. Read here rather than through the
// library, which may lack pcap_open_offline (Wine's wpcap.dll does).
bool CountPcapRecords(const std::string& path, uint64_t* packets, uint64_t* bytes) {
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

}  // namespace

std::string KernelDump::Start(const PcapApi& api, pcap_t* pcap, const Limits& limits) {
  std::string path = limits.path;  // the library takes a char*
  if (api.live_dump(pcap, path.data(), limits.max_bytes, limits.max_packets) != 0) {
    const std::string refusal = api.geterr(pcap);
    return refusal.empty() ? "pcap_live_dump failed" : refusal;
  }
  running_ = true;
  path_ = limits.path;
  max_packets_ = static_cast<uint64_t>(limits.max_packets);
  duration_end_ns_ = limits.duration_ms > 0 ? NowNs() + limits.duration_ms * 1000000 : 0;
  return "";
}

const char* KernelDump::Due(const PcapApi& api, pcap_t* pcap) const {
  if (stop_requested_) return "stopped";
  if (duration_end_ns_ != 0 && NowNs() >= duration_end_ns_) return "duration";
  if (api.live_dump_ended(pcap, 0) != 0) return "limit";
  return nullptr;
}

KernelDump::Count KernelDump::CountFile() const {
  Count count;
  count.readable = CountPcapRecords(path_, &count.packets, &count.bytes);
  return count;
}

void KernelDump::End(const char* reason, const Count& count) {
  packets_ = count.packets;
  bytes_ = count.bytes;
  if (!count.readable) {
    reason_ = "error";
    error_code_ = "EIO";
    error_message_ = "the kernel dump's file " + path_ + " is not a readable pcap file";
  } else if (std::strcmp(reason, "limit") == 0) {
    // The library does not say which limit it reached: the count tells.
    reason_ = max_packets_ != 0 && count.packets >= max_packets_ ? "maxPackets" : "maxBytes";
  } else {
    reason_ = reason;
  }
  ended_ = true;
}

Napi::Object KernelDump::Status(Napi::Env env) const {
  Napi::Object result = Napi::Object::New(env);
  result.Set("mode", Napi::String::New(env, "kernel"));
  result.Set("ended", Napi::Boolean::New(env, ended_));
  result.Set("packets", Napi::Number::New(env, static_cast<double>(packets_)));
  // While the library writes, the file's size is all there is to know.
  const uint64_t size = ended_ ? bytes_ : platform::FileSize(path_);
  result.Set("bytes", Napi::Number::New(env, static_cast<double>(size)));
  result.Set("files", Napi::Number::New(env, 1));
  result.Set("reason", reason_ ? Napi::Value(Napi::String::New(env, reason_)) : env.Null());
  if (!error_code_.empty()) result.Set("error", WirecapError(env, error_code_.c_str(), error_message_).Value());
  return result;
}
