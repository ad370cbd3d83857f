// What the handles that run a thread of their own (CaptureHandle,
// ReplayHandle) set up the same way in their constructors.
#pragma once

#include <napi.h>

#include <memory>

#include "loader/pcap_api.h"

namespace handle_setup {

// Runs open(). If it throws, closes the pcap_t it may have opened and marks
// the handle closed, so that its destructor has nothing to shut down.
template <typename Open>
void OpenOrClose(const PcapApi& api, pcap_t*& pcap, bool& closed, Open&& open) {
  try {
    open();
  } catch (...) {
    if (pcap != nullptr) api.close(pcap);
    pcap = nullptr;
    closed = true;
    throw;
  }
}

// Makes notifier->tsfn call callback from the handle's thread. The function's
// context is a shared reference to the notifier, freed with the function, so
// a call still pending after close() never touches a freed handle.
template <typename Notifier>
void StartNotifier(Napi::Env env, const std::shared_ptr<Notifier>& notifier, Napi::Function callback, const char* name) {
  using Context = typename Notifier::Context;
  notifier->tsfn = decltype(notifier->tsfn)::New(env, callback, name, 0, 1, new Context(notifier),
                                                 [](Napi::Env, void*, Context* context) { delete context; },
                                                 static_cast<void*>(nullptr));
}

}  // namespace handle_setup
