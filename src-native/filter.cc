#include "filter.h"

#include <mutex>

#include "errors.h"

bpf_program CompileFilter(Napi::Env env, const PcapApi& api, const std::string& expr, int linktype,
                          int snaplen, bpf_u_int32 netmask) {
  // libpcap before 1.8 compiled through global parser state; one compile at
  // a time keeps captures in several workers safe on those versions.
  static std::mutex compile_mutex;
  std::lock_guard<std::mutex> lock(compile_mutex);

  pcap_t* dead = api.open_dead(linktype, snaplen);
  if (dead == nullptr) throw WirecapError(env, "EPCAP", "pcap_open_dead failed");
  bpf_program program{};
  if (api.compile(dead, &program, expr.c_str(), 1, netmask) != 0) {
    std::string why = api.geterr(dead);
    api.close(dead);
    throw WirecapError(env, "EFILTER", "invalid filter '" + expr + "': " + why);
  }
  api.close(dead);
  return program;
}
