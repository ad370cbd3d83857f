// Reading the options objects that lib/ hands to native constructors and
// methods. lib/ has validated them and applied the defaults, so these only
// convert; a missing key gives the fallback.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

inline std::string StringOption(const Napi::Object& options, const char* key) {
  Napi::Value v = options.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

inline int64_t NumberOption(const Napi::Object& options, const char* key, int64_t fallback) {
  Napi::Value v = options.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : fallback;
}

inline bool BoolOption(const Napi::Object& options, const char* key) {
  return options.Get(key).ToBoolean().Value();
}
