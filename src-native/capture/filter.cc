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

namespace {

// CompileFor on a dead handle of linktype and snaplen (the caller has
// checked that the library has pcap_open_dead).
bool CompileDead(const PcapApi& api, const std::string& expr, int linktype, int snaplen, bpf_u_int32 netmask,
                 bpf_program* program, std::string* error) {
  pcap_t* dead = api.open_dead(linktype, snaplen);
  if (dead == nullptr) {
    *error = "pcap_open_dead failed";
    return false;
  }
  const bool compiled = CompileFor(api, dead, expr, netmask, program, error);
  api.close(dead);
  return compiled;
}

}  // namespace

bpf_program CompileFilter(Napi::Env env, const PcapApi& api, const std::string& expr, int linktype,
                          int snaplen, bpf_u_int32 netmask) {
  if (api.open_dead == nullptr) {
    throw WirecapError(env, "ENOTSUP", "the loaded libpcap cannot compile a filter without a device (it lacks pcap_open_dead)");
  }
  bpf_program program{};
  std::string why;
  if (!CompileDead(api, expr, linktype, snaplen, netmask, &program, &why)) {
    throw WirecapError(env, "EFILTER", "invalid filter '" + expr + "': " + why);
  }
  return program;
}

FileFilter& FileFilter::operator=(FileFilter&& other) noexcept {
  if (this != &other) {
    Clear();
    api_ = other.api_;
    expr_ = std::move(other.expr_);
    snaplen_ = other.snaplen_;
    netmask_ = other.netmask_;
    programs_ = std::move(other.programs_);
    other.expr_.clear();
    other.programs_.clear();
  }
  return *this;
}

void FileFilter::Clear() {
  for (Program& p : programs_) {
    if (p.compiled) api_->freecode(&p.bpf);
  }
  programs_.clear();
}

FileFilter::Program& FileFilter::For(int dlt, std::string* error) {
  for (Program& p : programs_) {
    if (p.dlt == dlt) return p;
  }
  Program p{dlt, false, {}};
  p.compiled = CompileDead(*api_, expr_, dlt, snaplen_, netmask_, &p.bpf, error);
  programs_.push_back(p);
  return programs_.back();
}

bool FileFilter::Prepare(int dlt, std::string* error) { return For(dlt, error).compiled; }

bool FileFilter::Matches(int dlt, const pcap_pkthdr& header, const uint8_t* data) {
  std::string ignored;
  Program& p = For(dlt, &ignored);
  return p.compiled && api_->offline_filter(&p.bpf, &header, data) != 0;
}
