// createWriter()'s native half: a CaptureWriter used from the JS thread.
// Writes are buffered (256 KiB) so most calls make no system call.
#pragma once

#include <napi.h>

#include "addon.h"
#include "files/capture_writer.h"

class WriterHandle : public Napi::ObjectWrap<WriterHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new WriterHandle({ path, format, linktype, snaplen, nano, resumeBytes }):
  // creates the file and writes its header, or with resumeBytes > 0 cuts an
  // existing one to that size and appends; throws ENOENT, EACCES... on failure.
  explicit WriterHandle(const Napi::CallbackInfo& info);
  // A writer never closed is closed (flushed) when collected or when its
  // environment ends.
  ~WriterHandle() override;
  // Flushes and closes the file, ignoring errors (close() reports them). JS thread.
  void Shutdown();

 private:
  // write(timestampNs: bigint, len, data): false when the file is closed.
  Napi::Value Write(const Napi::CallbackInfo& info);
  // Writes buffered records to the file (the OS's page cache).
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  void ThrowIfFailed(Napi::Env env);

  CaptureWriter writer_;
  Addon* addon_;
};
