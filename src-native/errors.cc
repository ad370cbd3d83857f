// WirecapError construction and libpcap status codes. JS thread.
#include "errors.h"

#include "addon.h"

Napi::Error WirecapError(Napi::Env env, const char* code, const std::string& message) {
  Addon* addon = env.GetInstanceData<Addon>();
  if (addon != nullptr && !addon->error_class.IsEmpty()) {
    Napi::Value error = addon->error_class.New(
        {Napi::String::New(env, message), Napi::String::New(env, code)});
    return Napi::Error(env, error);
  }
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

const PcapApi& RequirePcap(Napi::Env env) {
  std::string why;
  const PcapApi* api = LoadPcapApi(&why);
  if (api == nullptr) throw WirecapError(env, "ELIBPCAP", why);
  return *api;
}

const char* CodeForPcapStatus(int status) {
  switch (status) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
      return "ENODEV";
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      return "EPERM";
    case PCAP_ERROR_IFACE_NOT_UP:
      return "ENETDOWN";
    case PCAP_ERROR_RFMON_NOTSUP:
    case PCAP_ERROR_CANTSET_TSTAMP_TYPE:
    case PCAP_ERROR_TSTAMP_PRECISION_NOTSUP:
    case -13:  // PCAP_ERROR_CAPTURE_NOTSUP (libpcap 1.10.1+)
      return "ENOTSUP";
    default:
      return "EPCAP";
  }
}

std::string ActivationFailure(int status, const std::string& device, const std::string& detail, const char* verb,
                              const char* permission_fix) {
  const std::string why = detail.empty() ? "" : " (" + detail + ")";
  if (status == PCAP_ERROR_NO_SUCH_DEVICE) return "no such device: " + device + why;
  if (status == PCAP_ERROR_PERM_DENIED || status == PCAP_ERROR_PROMISC_PERM_DENIED) {
#ifdef _WIN32
    permission_fix = "run as Administrator, or reinstall Npcap without \"Restrict Npcap driver's access to Administrators only\"";
#else
    if (permission_fix == nullptr) permission_fix = "run as root or grant the capability: sudo setcap cap_net_raw,cap_net_admin+eip $(which node)";
#endif
    return "no permission to " + std::string(verb) + " " + device + why + "; " + permission_fix;
  }
  return "cannot " + std::string(verb) + " " + device + ": " + (detail.empty() ? "error " + std::to_string(status) : detail);
}

const char* CodeForCaptureFailure(int status, const std::string& detail) {
  // libpcap's words for a vanished or downed interface (Linux: "The
  // interface disappeared" / "went down"; BSD and macOS: the read's
  // ENXIO, ENODEV or ENETDOWN text).
  static const char* const kGone[] = {"interface disappeared", "interface went down", "Device not configured",
                                      "No such device", "Network is down"};
  if (status == PCAP_ERROR_IFACE_NOT_UP) return "ENETDOWN";
  for (const char* words : kGone) {
    if (detail.find(words) != std::string::npos) return "ENETDOWN";
  }
  return "EPCAP";
}
