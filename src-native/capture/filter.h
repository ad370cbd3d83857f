// BPF compilation, shared by captures and compileFilter().
#pragma once

#include <napi.h>

#include <string>

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
