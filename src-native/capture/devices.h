// Module-level functions that need no capture handle.
#pragma once

#include <napi.h>

Napi::Value Devices(const Napi::CallbackInfo& info);        // devices()
Napi::Value LibVersion(const Napi::CallbackInfo& info);     // libVersion()
Napi::Value LinktypeValue(const Napi::CallbackInfo& info);  // linktypeValue('EN10MB') -> 1, or -1
Napi::Value CompileFilterText(const Napi::CallbackInfo& info);  // compileFilter(expr, linktype, snaplen, optimize)
