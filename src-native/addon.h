// Per-environment state (main thread and each worker have their own), kept
// with Env::SetInstanceData so nothing is shared between environments.
#pragma once

#include <napi.h>

#include <set>

class CaptureHandle;
class WriterHandle;
class ReplayHandle;

struct Addon {
  Napi::FunctionReference error_class;  // WirecapError, handed over by lib/binding.ts
  // Closed by the env cleanup hook, and by closeAll() on process.exit().
  std::set<CaptureHandle*> open_captures;
  std::set<WriterHandle*> open_writers;
  std::set<ReplayHandle*> open_replays;
};
