// PacketFilter (see packet_filter.h): JS thread only.
#include "capture/packet_filter.h"

#include "errors.h"

Napi::Function PacketFilter::Define(Napi::Env env) {
  return DefineClass(env, "PacketFilter", {InstanceMethod<&PacketFilter::Matches>("matches")});
}

PacketFilter::PacketFilter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PacketFilter>(info) {
  Napi::Env env = info.Env();
  const PcapApi& api = RequirePcap(env);
  if (api.offline_filter == nullptr || api.open_dead == nullptr) {
    throw WirecapError(env, "ENOTSUP", "the loaded libpcap cannot filter packets it did not capture (it lacks pcap_offline_filter or pcap_open_dead)");
  }
  const std::string expr = info[0].As<Napi::String>().Utf8Value();
  linktype_ = info[1].As<Napi::Number>().Int32Value();
  filter_ = FileFilter(&api, expr, info[2].As<Napi::Number>().Int32Value(), PCAP_NETMASK_UNKNOWN);
  std::string why;
  if (!filter_.Prepare(linktype_, &why)) throw WirecapError(env, "EFILTER", "invalid filter '" + expr + "': " + why);
}

Napi::Value PacketFilter::Matches(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
  pcap_pkthdr header{};
  header.caplen = static_cast<bpf_u_int32>(data.Length());
  header.len = info[1].As<Napi::Number>().Uint32Value();
  return Napi::Boolean::New(info.Env(), filter_.Matches(linktype_, header, data.Data()));
}
