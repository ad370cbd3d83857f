// devices(), libVersion(), linktypeValue() and compileFilter(): module
// functions that need no capture handle. JS thread.
#include "capture/devices.h"

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <mutex>

#include "errors.h"
#include "capture/filter.h"

namespace {

// An IPv4 or IPv6 address as text; null for other families (link-layer
// addresses differ per OS and are left out).
Napi::Value AddressText(Napi::Env env, const sockaddr* addr) {
  if (addr == nullptr) return env.Null();
  char text[INET6_ADDRSTRLEN] = {0};
  const void* raw = nullptr;
  if (addr->sa_family == AF_INET) {
    raw = &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr;
  } else if (addr->sa_family == AF_INET6) {
    raw = &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr;
  }
  if (raw == nullptr || inet_ntop(addr->sa_family, raw, text, sizeof text) == nullptr) return env.Null();
  return Napi::String::New(env, text);
}

const char* ConnectionStatus(bpf_u_int32 flags) {
  switch (flags & PCAP_IF_CONNECTION_STATUS) {
    case PCAP_IF_CONNECTION_STATUS_CONNECTED:
      return "connected";
    case PCAP_IF_CONNECTION_STATUS_DISCONNECTED:
      return "disconnected";
    case PCAP_IF_CONNECTION_STATUS_NOT_APPLICABLE:
      return "not-applicable";
    default:
      return "unknown";
  }
}

}  // namespace

Napi::Value Devices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const PcapApi& api = RequirePcap(env);
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  pcap_if_t* all = nullptr;
  if (api.findalldevs(&all, errbuf) != 0) {
    throw WirecapError(env, "EPCAP", std::string("cannot list devices: ") + errbuf);
  }
  Napi::Array devices = Napi::Array::New(env);
  uint32_t i = 0;
  for (pcap_if_t* dev = all; dev != nullptr; dev = dev->next) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", Napi::String::New(env, dev->name));
    d.Set("description", dev->description ? Napi::Value(Napi::String::New(env, dev->description)) : env.Null());
    Napi::Array addresses = Napi::Array::New(env);
    uint32_t j = 0;
    for (pcap_addr_t* a = dev->addresses; a != nullptr; a = a->next) {
      Napi::Value addr = AddressText(env, a->addr);
      if (addr.IsNull()) continue;
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("family", Napi::String::New(env, a->addr->sa_family == AF_INET ? "IPv4" : "IPv6"));
      entry.Set("address", addr);
      entry.Set("netmask", AddressText(env, a->netmask));
      entry.Set("broadcast", AddressText(env, a->broadaddr));
      entry.Set("destination", AddressText(env, a->dstaddr));
      addresses.Set(j++, entry);
    }
    d.Set("addresses", addresses);
    Napi::Object flags = Napi::Object::New(env);
    flags.Set("loopback", Napi::Boolean::New(env, (dev->flags & PCAP_IF_LOOPBACK) != 0));
    flags.Set("up", Napi::Boolean::New(env, (dev->flags & PCAP_IF_UP) != 0));
    flags.Set("running", Napi::Boolean::New(env, (dev->flags & PCAP_IF_RUNNING) != 0));
    flags.Set("wireless", Napi::Boolean::New(env, (dev->flags & PCAP_IF_WIRELESS) != 0));
    flags.Set("connection", Napi::String::New(env, ConnectionStatus(dev->flags)));
    d.Set("flags", flags);
    devices.Set(i++, d);
  }
  api.freealldevs(all);
  return devices;
}

Napi::Value LibVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), RequirePcap(info.Env()).lib_version());
}

Napi::Value LinktypeValue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  return Napi::Number::New(env, RequirePcap(env).datalink_name_to_val(name.c_str()));
}

// The program as tcpdump -d prints it, one instruction a line.
Napi::Value CompileFilterText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const PcapApi& api = RequirePcap(env);
  if (api.bpf_image == nullptr) {
    throw WirecapError(env, "ENOTSUP", "the loaded libpcap cannot print BPF programs (it lacks bpf_image)");
  }
  bpf_program program = CompileFilter(env, api, info[0].As<Napi::String>().Utf8Value(),
                                      info[1].As<Napi::Number>().Int32Value(),
                                      info[2].As<Napi::Number>().Int32Value(), PCAP_NETMASK_UNKNOWN);
  Napi::Array lines = Napi::Array::New(env, program.bf_len);
  {
    // bpf_image formats into a static buffer.
    static std::mutex image_mutex;
    std::lock_guard<std::mutex> lock(image_mutex);
    for (u_int i = 0; i < program.bf_len; i++) {
      lines.Set(i, Napi::String::New(env, api.bpf_image(&program.bf_insns[i], static_cast<int>(i))));
    }
  }
  api.freecode(&program);
  return lines;
}
