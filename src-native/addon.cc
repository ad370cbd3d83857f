// Registration only: what the addon exports and its per-environment state.
#include <napi.h>

#include "addon.h"
#include "capture/capture_handle.h"
#include "capture/devices.h"
#include "capture/packet_filter.h"
#include "files/writer_handle.h"
#include "flows/flow_pass.h"
#include "replay/replay_handle.h"

namespace {

// setErrorClass(WirecapError): native errors are then real WirecapErrors.
Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  info.Env().GetInstanceData<Addon>()->error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// A worker that ends closes what is still open, so no capture thread
// outlives its environment and every dump and written file ends whole.
void CloseAll(Addon* addon) {
  while (!addon->open_captures.empty()) (*addon->open_captures.begin())->Shutdown();
  while (!addon->open_writers.empty()) (*addon->open_writers.begin())->Shutdown();
  while (!addon->open_replays.empty()) (*addon->open_replays.begin())->Shutdown();
}

// closeAll(): process.exit() on the main thread runs no cleanup hooks, so
// lib/core/binding.ts calls this from process.on('exit').
Napi::Value CloseAllNow(const Napi::CallbackInfo& info) {
  CloseAll(info.Env().GetInstanceData<Addon>());
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* addon = new Addon();
  env.SetInstanceData(addon);
  env.AddCleanupHook(CloseAll, addon);

  exports.Set("closeAll", Napi::Function::New<CloseAllNow>(env, "closeAll"));
  exports.Set("setErrorClass", Napi::Function::New<SetErrorClass>(env, "setErrorClass"));
  exports.Set("devices", Napi::Function::New<Devices>(env, "devices"));
  exports.Set("libVersion", Napi::Function::New<LibVersion>(env, "libVersion"));
  exports.Set("linktypeValue", Napi::Function::New<LinktypeValue>(env, "linktypeValue"));
  exports.Set("compileFilter", Napi::Function::New<CompileFilterText>(env, "compileFilter"));
  exports.Set("CaptureHandle", CaptureHandle::Define(env));
  exports.Set("WriterHandle", WriterHandle::Define(env));
  exports.Set("ReplayHandle", ReplayHandle::Define(env));
  exports.Set("PacketFilter", PacketFilter::Define(env));
  exports.Set("FlowPass", FlowPass::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(wirecap, Init)
