// Per-environment state (main thread and each worker have their own), kept
// with Env::SetInstanceData so nothing is shared between environments.
#pragma once

#include <napi.h>

#include <set>

class CaptureHandle;

struct Addon {
  Napi::FunctionReference error_class;  // WirecapError, handed over by lib/binding.ts
  std::set<CaptureHandle*> open_captures;  // closed by the env cleanup hook
};
