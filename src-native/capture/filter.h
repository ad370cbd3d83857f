// BPF compilation, shared by captures and compileFilter().
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "loader/pcap_api.h"

// Compiles expr for handle. Returns false with libpcap's text in *error.
// Call it where the handle may be used: before its capture thread starts,
// or on that thread. The caller frees the program with api.freecode.
bool CompileFor(const PcapApi& api, pcap_t* handle, const std::string& expr, bpf_u_int32 netmask,
                bpf_program* program, std::string* error);

// Compiles expr for a linktype and snaplen without a device (on a dead
// handle). Throws EFILTER with libpcap's text.
bpf_program CompileFilter(Napi::Env env, const PcapApi& api, const std::string& expr, int linktype,
                          int snaplen, bpf_u_int32 netmask);

// A file's filter: libpcap's BPF, compiled for each link type (DLT_) the
// file's packets have, the first time one is met, since a pcapng file's
// interfaces may mix link types. A link type the filter does not compile
// for ('ip' on USB, say) matches nothing. Built on the JS thread, then
// owned by the capture thread.
class FileFilter {
 public:
  FileFilter() = default;
  FileFilter(const PcapApi* api, std::string expr, int snaplen, bpf_u_int32 netmask)
      : api_(api), expr_(std::move(expr)), snaplen_(snaplen), netmask_(netmask) {}
  FileFilter(FileFilter&& other) noexcept { *this = std::move(other); }
  FileFilter& operator=(FileFilter&& other) noexcept;
  FileFilter(const FileFilter&) = delete;
  FileFilter& operator=(const FileFilter&) = delete;
  ~FileFilter() { Clear(); }

  bool empty() const { return expr_.empty(); }
  // Compiles for dlt unless done already: false if the filter does not
  // compile for it (with libpcap's text the first time).
  bool Prepare(int dlt, std::string* error);
  // Whether a packet of link type dlt passes.
  bool Matches(int dlt, const pcap_pkthdr& header, const uint8_t* data);

 private:
  struct Program {
    int dlt;
    bool compiled;
    bpf_program bpf;
  };
  Program& For(int dlt, std::string* error);
  void Clear();

  const PcapApi* api_ = nullptr;
  std::string expr_;
  int snaplen_ = 0;
  bpf_u_int32 netmask_ = 0;
  std::vector<Program> programs_;  // a few: one per link type met
};
