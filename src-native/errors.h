// Errors cross into JavaScript as WirecapError (lib/errors.ts) with a stable
// `code`; C++ code throws them through these helpers only.
#pragma once

#include <napi.h>

#include <string>

#include "loader/pcap_api.h"

// A WirecapError to throw; falls back to Error with a `code` property when
// the JS class was not registered (a bare require of the .node file).
Napi::Error WirecapError(Napi::Env env, const char* code, const std::string& message);

// The libpcap table, or throws ELIBPCAP naming the fix.
const PcapApi& RequirePcap(Napi::Env env);

// The error code for a negative libpcap status (pcap_activate and friends).
const char* CodeForPcapStatus(int status);

// The message for a failed pcap_activate on device: no such device, no
// permission (naming the fix for this OS, or permission_fix when given), or
// libpcap's text. verb says what was refused: "capture on", "send on".
std::string ActivationFailure(int status, const std::string& device, const std::string& detail, const char* verb,
                              const char* permission_fix = nullptr);

// The error code for a live capture's failed pcap_dispatch: ENETDOWN when
// the interface went down or away, whatever status libpcap chose for it.
const char* CodeForCaptureFailure(int status, const std::string& detail);
