// createWriter()'s methods. JS thread.
#include "files/writer_handle.h"

#include "errors.h"

Napi::Function WriterHandle::Define(Napi::Env env) {
  return DefineClass(env, "WriterHandle",
                     {
                         InstanceMethod<&WriterHandle::Write>("write"),
                         InstanceMethod<&WriterHandle::Flush>("flush"),
                         InstanceMethod<&WriterHandle::Close>("close"),
                         InstanceMethod<&WriterHandle::Stats>("stats"),
                     });
}

WriterHandle::WriterHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<WriterHandle>(info), addon_(info.Env().GetInstanceData<Addon>()) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  CaptureWriter::Options options;
  options.format = o.Get("format").As<Napi::String>().Utf8Value() == "pcapng" ? CaptureWriter::Format::kPcapng
                                                                               : CaptureWriter::Format::kPcap;
  CaptureWriter::Interface& iface = options.interfaces.front();
  iface.linktype = o.Get("linktype").As<Napi::Number>().Int32Value();
  iface.snaplen = o.Get("snaplen").As<Napi::Number>().Int32Value();
  iface.nano = o.Get("nano").ToBoolean().Value();
  if (o.Has("resumeBytes")) options.resume_bytes = static_cast<uint64_t>(o.Get("resumeBytes").As<Napi::Number>().Int64Value());
  CaptureWriter::Error error;
  if (!writer_.Open(o.Get("path").As<Napi::String>().Utf8Value(), options, &error)) {
    throw WirecapError(env, error.code, error.message);
  }
  addon_->open_writers.insert(this);
}

WriterHandle::~WriterHandle() { Shutdown(); }

void WriterHandle::Shutdown() {
  addon_->open_writers.erase(this);
  writer_.Close();
}

void WriterHandle::ThrowIfFailed(Napi::Env env) {
  const CaptureWriter::Error& error = writer_.error();
  if (error.errnum != 0) throw WirecapError(env, error.code, error.message);
}

Napi::Value WriterHandle::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!writer_.is_open()) {
    ThrowIfFailed(env);
    throw WirecapError(env, "ECLOSED", "the writer is closed");
  }
  bool lossless = false;
  const int64_t timestamp = info[0].As<Napi::BigInt>().Int64Value(&lossless);
  const uint32_t len = info[1].As<Napi::Number>().Uint32Value();
  Napi::Buffer<uint8_t> data = info[2].As<Napi::Buffer<uint8_t>>();
  if (writer_.Write(timestamp, static_cast<uint32_t>(data.Length()), len, data.Data()) ==
      CaptureWriter::Status::kFailed) {
    ThrowIfFailed(env);
  }
  return env.Undefined();
}

Napi::Value WriterHandle::Flush(const Napi::CallbackInfo& info) {
  if (!writer_.Flush()) ThrowIfFailed(info.Env());
  return info.Env().Undefined();
}

Napi::Value WriterHandle::Close(const Napi::CallbackInfo& info) {
  addon_->open_writers.erase(this);
  if (!writer_.Close()) ThrowIfFailed(info.Env());
  return info.Env().Undefined();
}

Napi::Value WriterHandle::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object stats = Napi::Object::New(env);
  stats.Set("packets", Napi::Number::New(env, static_cast<double>(writer_.packets())));
  stats.Set("bytes", Napi::Number::New(env, static_cast<double>(writer_.bytes())));
  return stats;
}
