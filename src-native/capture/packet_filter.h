// A BPF filter for packets that JavaScript holds (from NATS, a TCP stream,
// gRPC): libpcap compiles it for one link type and pcap_offline_filter
// runs it. JS thread only.
#pragma once

#include <napi.h>

#include "capture/filter.h"

class PacketFilter : public Napi::ObjectWrap<PacketFilter> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new PacketFilter(expr, linktype, snaplen): EFILTER when it does not compile for linktype.
  explicit PacketFilter(const Napi::CallbackInfo& info);

 private:
  // matches(data: Buffer, len: number): whether the packet passes.
  Napi::Value Matches(const Napi::CallbackInfo& info);

  FileFilter filter_;
  int linktype_ = 0;
};
