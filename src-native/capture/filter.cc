// BPF compilation (see filter.h). Runs on whichever thread owns the
// handle it compiles for: the JS thread before a capture starts, the
// capture thread for setFilter().
#include "capture/filter.h"

#include <mutex>

#include "errors.h"

bool CompileFor(const PcapApi& api, pcap_t* handle, const std::string& expr, bpf_u_int32 netmask,
                bpf_program* program, std::string* error) {
  // libpcap before 1.8 compiled through global parser state; one compile at
  // a time keeps captures in several workers safe on those versions.
  static std::mutex compile_mutex;
  std::lock_guard<std::mutex> lock(compile_mutex);
  if (api.compile(handle, program, expr.c_str(), 1, netmask) == 0) return true;
  *error = api.geterr(handle);
  return false;
}

bpf_program CompileFilter(Napi::Env env, const PcapApi& api, const std::string& expr, int linktype,
                          int snaplen, bpf_u_int32 netmask) {
  if (api.open_dead == nullptr) {
    throw WirecapError(env, "ENOTSUP", "the loaded libpcap cannot compile a filter without a device (it lacks pcap_open_dead)");
  }
  pcap_t* dead = api.open_dead(linktype, snaplen);
  if (dead == nullptr) throw WirecapError(env, "EPCAP", "pcap_open_dead failed");
  bpf_program program{};
  std::string why;
  const bool compiled = CompileFor(api, dead, expr, netmask, &program, &why);
  api.close(dead);
  if (!compiled) throw WirecapError(env, "EFILTER", "invalid filter '" + expr + "': " + why);
  return program;
}
