// BPF compilation, shared by live captures and compileFilter().
#pragma once

#include <napi.h>

#include <string>

#include "pcap_api.h"

// Compiles expr for a linktype and snaplen on a dead handle, so a live
// pcap_t is never touched off its capture thread. Throws EFILTER with
// libpcap's text. The caller frees the program with api.freecode.
bpf_program CompileFilter(Napi::Env env, const PcapApi& api, const std::string& expr, int linktype,
                          int snaplen, bpf_u_int32 netmask);
