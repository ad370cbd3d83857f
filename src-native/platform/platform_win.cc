// platform.h on Windows: LoadLibrary (System32\Npcap first), file
// output, positional file reads, thread names, and the capture thread's
// Waiter (the handle's read event plus an event that any thread can set).
#include <winsock2.h>
#include <windows.h>
#include <iphlpapi.h>

#include <fcntl.h>
#include <io.h>
#include <share.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "platform/platform.h"

namespace platform {

// Npcap installs wpcap.dll in System32\Npcap; OpenLibrary looks there first,
// then on the default search path, where WinPcap-compatible installs put it.
const char* const kLibpcapNames[] = {"wpcap.dll", nullptr};
const char* const kMissingLibpcapHelp =
    "Npcap is not installed: wpcap.dll was found neither in System32\\Npcap nor "
    "on the DLL search path. Install Npcap from https://npcap.com/#download "
    "(tick \"Install Npcap in WinPcap API-compatible Mode\" only if older tools "
    "need it), or set WIRECAP_LIBPCAP to the path of a wpcap.dll";

namespace {

std::string LastErrorText() {
  char text[256] = {0};
  DWORD code = GetLastError();
  DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                           code, 0, text, sizeof text, nullptr);
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == '.')) text[--n] = 0;
  return n > 0 ? std::string(text) : "error " + std::to_string(code);
}

// Loads name from System32\Npcap, so that wpcap.dll finds Npcap's Packet.dll
// beside it rather than an old WinPcap one.
HMODULE LoadFromNpcapDirectory(const char* name) {
  char dir[MAX_PATH];
  UINT n = GetSystemDirectoryA(dir, MAX_PATH);
  if (n == 0 || n + 7 >= MAX_PATH) return nullptr;
  std::string npcap = std::string(dir) + "\\Npcap";
  std::string path = npcap + "\\" + name;
  if (GetFileAttributesA(path.c_str()) == INVALID_FILE_ATTRIBUTES) return nullptr;
  SetDllDirectoryA(npcap.c_str());
  HMODULE lib = LoadLibraryExA(path.c_str(), nullptr, LOAD_WITH_ALTERED_SEARCH_PATH);
  SetDllDirectoryA(nullptr);
  return lib;
}

}  // namespace

void* OpenLibrary(const char* name, std::string* tried) {
  HMODULE lib = nullptr;
  bool bare_name = std::string(name).find_first_of("\\/") == std::string::npos;
  if (bare_name) lib = LoadFromNpcapDirectory(name);
  if (lib == nullptr) {
    lib = bare_name ? LoadLibraryA(name)
                    : LoadLibraryExA(name, nullptr, LOAD_WITH_ALTERED_SEARCH_PATH);
  }
  if (lib == nullptr) {
    if (!tried->empty()) *tried += "; ";
    *tried += std::string(name) + ": " + LastErrorText();
  }
  return reinterpret_cast<void*>(lib);
}

namespace {

// Wine's wpcap.dll exports functions it does not implement (pcap_getevent,
// pcap_open_offline, pcap_live_dump...) as stubs that abort the process
// when called. winebuild makes each stub the same few instructions: load
// the DLL's and the function's name, call __wine_spec_unimplemented_stub.
bool IsWineStub(const void* function) {
  static const bool under_wine = GetProcAddress(GetModuleHandleA("ntdll.dll"), "wine_get_version") != nullptr;
  if (!under_wine) return false;
  const auto* code = static_cast<const unsigned char*>(function);
  const unsigned char sub_rsp[] = {0x48, 0x83, 0xec, 0x28};
  return std::memcmp(code, sub_rsp, sizeof sub_rsp) == 0 && code[4] == 0x48 && code[5] == 0x8d && code[6] == 0x0d &&
         code[11] == 0x48 && code[12] == 0x8d && code[13] == 0x15 && code[18] == 0xe8;
}

}  // namespace

// A Wine stub counts as missing: calling it would end the process.
void* FindSymbol(void* library, const char* name) {
  FARPROC function = GetProcAddress(static_cast<HMODULE>(library), name);
  if (function == nullptr || IsWineStub(reinterpret_cast<const void*>(function))) return nullptr;
  return reinterpret_cast<void*>(function);
}

namespace {

std::wstring Wide(const std::string& utf8) {
  int n = MultiByteToWideChar(CP_UTF8, 0, utf8.c_str(), -1, nullptr, 0);
  std::wstring wide(n > 0 ? n - 1 : 0, L'\0');
  if (n > 1) MultiByteToWideChar(CP_UTF8, 0, utf8.c_str(), -1, &wide[0], n);
  return wide;
}

}  // namespace

int OutputFile::Create(const std::string& path) {
  if (path == kStandardOutput) {
    // A copy of standard output, in binary mode, so closing it leaves the process's own.
    fd_ = _dup(1);
    if (fd_ < 0) return errno;
    _setmode(fd_, _O_BINARY);
    return 0;
  }
  int err = _wsopen_s(&fd_, Wide(path).c_str(), _O_WRONLY | _O_CREAT | _O_TRUNC | _O_BINARY | _O_NOINHERIT,
                      _SH_DENYWR, _S_IREAD | _S_IWRITE);
  if (err != 0) fd_ = -1;
  return err;
}

int OutputFile::Resume(const std::string& path, uint64_t size) {
  int err = _wsopen_s(&fd_, Wide(path).c_str(), _O_WRONLY | _O_BINARY | _O_NOINHERIT, _SH_DENYWR, _S_IREAD | _S_IWRITE);
  if (err != 0) {
    fd_ = -1;
    return err;
  }
  err = _chsize_s(fd_, static_cast<__int64>(size));
  if (err == 0 && _lseeki64(fd_, 0, SEEK_END) < 0) err = errno;
  if (err != 0) Close();
  return err;
}

int OutputFile::Write(const void* data, size_t size, size_t* written) {
  *written = 0;
  const auto* bytes = static_cast<const uint8_t*>(data);
  while (*written < size) {
    size_t chunk = std::min<size_t>(size - *written, 1u << 30);
    int n = _write(fd_, bytes + *written, static_cast<unsigned>(chunk));
    if (n < 0) return errno;
    *written += static_cast<size_t>(n);
  }
  return 0;
}

int OutputFile::Truncate(uint64_t size) { return _chsize_s(fd_, static_cast<__int64>(size)); }

int OutputFile::Close() {
  if (fd_ < 0) return 0;
  int status = _close(fd_) != 0 ? errno : 0;
  fd_ = -1;
  return status;
}

int InputFile::Open(const std::string& path) {
  HANDLE file = CreateFileW(Wide(path).c_str(), GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                            nullptr, OPEN_EXISTING, FILE_FLAG_SEQUENTIAL_SCAN, nullptr);
  if (file == INVALID_HANDLE_VALUE) {
    const DWORD error = GetLastError();
    return error == ERROR_FILE_NOT_FOUND || error == ERROR_PATH_NOT_FOUND ? ENOENT
           : error == ERROR_ACCESS_DENIED                                 ? EACCES
                                                                          : EIO;
  }
  handle_ = reinterpret_cast<intptr_t>(file);
  return 0;
}

int InputFile::ReadAt(uint64_t offset, void* out, size_t size, size_t* got) {
  *got = 0;
  auto* bytes = static_cast<uint8_t*>(out);
  while (*got < size) {
    const uint64_t at = offset + *got;
    OVERLAPPED where{};
    where.Offset = static_cast<DWORD>(at);
    where.OffsetHigh = static_cast<DWORD>(at >> 32);
    DWORD n = 0;
    const DWORD want = static_cast<DWORD>(std::min<size_t>(size - *got, 1u << 30));
    if (!ReadFile(reinterpret_cast<HANDLE>(handle_), bytes + *got, want, &n, &where)) {
      if (GetLastError() == ERROR_HANDLE_EOF) break;
      return EIO;
    }
    if (n == 0) break;
    *got += n;
  }
  return 0;
}

void InputFile::Close() {
  if (handle_ != -1) CloseHandle(reinterpret_cast<HANDLE>(handle_));
  handle_ = -1;
}

int RemoveFile(const std::string& path) { return _wunlink(Wide(path).c_str()) != 0 ? errno : 0; }

uint64_t FileSize(const std::string& path) {
  struct _stat64 st;
  return _wstat64(Wide(path).c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

void NameThisThread(const char* name) {
  // SetThreadDescription exists from Windows 10 1607; look it up rather than
  // import it so older systems still load the addon.
  using SetDescription = HRESULT(WINAPI*)(HANDLE, PCWSTR);
  // Through void*: FARPROC's type says nothing of the real signature.
  auto set = reinterpret_cast<SetDescription>(reinterpret_cast<void*>(
      GetProcAddress(GetModuleHandleA("kernel32.dll"), "SetThreadDescription")));
  if (set == nullptr) return;
  wchar_t wide[64];
  int n = MultiByteToWideChar(CP_UTF8, 0, name, -1, wide, 64);
  if (n > 0) set(GetCurrentThread(), wide);
}
int64_t MonotonicNs() {
  LARGE_INTEGER counter, frequency;
  QueryPerformanceCounter(&counter);
  QueryPerformanceFrequency(&frequency);
  const int64_t f = frequency.QuadPart;
  return counter.QuadPart / f * 1000000000 + counter.QuadPart % f * 1000000000 / f;
}

// Windows sleeps in scheduler ticks (up to 15.6 ms): the replay's spin
// before each deadline learns how early it must wake (see Pacer).
void SleepUntil(int64_t deadline) {
  const int64_t left = deadline - MonotonicNs();
  if (left > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(left));
}

void PreciseSleeps() {}

bool RealtimeThread() { return false; }

int64_t ThreadCpuNs() {
  FILETIME created, exited, kernel, user;
  if (!GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user)) return 0;
  auto ticks = [](const FILETIME& t) { return (static_cast<int64_t>(t.dwHighDateTime) << 32) | t.dwLowDateTime; };
  return (ticks(kernel) + ticks(user)) * 100;
}

// Npcap names a device \Device\NPF_{GUID}; the IP helper API knows the
// adapter by that {GUID} and says its MTU. iphlpapi.dll is loaded when
// asked, from System32, as wpcap.dll is: nothing is linked for it.
int DeviceMtu(const std::string& device) {
  const size_t brace = device.find('{');
  if (brace == std::string::npos) return 0;
  using GetAdaptersAddressesFn = ULONG(WINAPI*)(ULONG, ULONG, PVOID, PIP_ADAPTER_ADDRESSES, PULONG);
  HMODULE iphlpapi = LoadLibraryExA("iphlpapi.dll", nullptr, LOAD_LIBRARY_SEARCH_SYSTEM32);
  if (iphlpapi == nullptr) return 0;
  auto get = reinterpret_cast<GetAdaptersAddressesFn>(
      reinterpret_cast<void (*)()>(GetProcAddress(iphlpapi, "GetAdaptersAddresses")));
  int mtu = 0;
  if (get != nullptr) {
    const ULONG flags = GAA_FLAG_SKIP_UNICAST | GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST | GAA_FLAG_SKIP_DNS_SERVER;
    ULONG size = 16 << 10;
    std::vector<unsigned char> buffer;
    ULONG status = ERROR_BUFFER_OVERFLOW;
    // The list can grow between the call that sizes it and the next.
    for (int attempt = 0; attempt < 3 && status == ERROR_BUFFER_OVERFLOW; attempt++) {
      buffer.resize(size);
      status = get(AF_UNSPEC, flags, nullptr, reinterpret_cast<PIP_ADAPTER_ADDRESSES>(buffer.data()), &size);
    }
    const std::string guid = device.substr(brace);
    for (auto* a = status == NO_ERROR ? reinterpret_cast<PIP_ADAPTER_ADDRESSES>(buffer.data()) : nullptr; a != nullptr; a = a->Next) {
      if (_stricmp(a->AdapterName, guid.c_str()) == 0 && a->Mtu != 0xFFFFFFFF) mtu = static_cast<int>(a->Mtu);
    }
  }
  FreeLibrary(iphlpapi);
  return mtu;
}

// The capture helper, whose pipe this would wait on, is POSIX only.
std::unique_ptr<Waiter> Waiter::ForDescriptor(intptr_t) { return nullptr; }

std::unique_ptr<Waiter> Waiter::Create(const PcapApi& api, pcap_t* handle) {
  HANDLE readable = api.getevent != nullptr ? static_cast<HANDLE>(api.getevent(handle)) : nullptr;
  HANDLE wake = CreateEventA(nullptr, FALSE, FALSE, nullptr);  // auto-reset
  if (wake == nullptr) return nullptr;
  std::unique_ptr<Waiter> waiter(new Waiter());
  if (readable != nullptr && readable != INVALID_HANDLE_VALUE) waiter->readable_ = reinterpret_cast<intptr_t>(readable);
  waiter->wake_[0] = reinterpret_cast<intptr_t>(wake);
  return waiter;
}

// The read event belongs to the pcap_t; only the wake event is ours.
Waiter::~Waiter() { CloseHandle(reinterpret_cast<HANDLE>(wake_[0])); }

void Waiter::Wait(int timeout_ms) {
  HANDLE handles[2] = {reinterpret_cast<HANDLE>(wake_[0]), reinterpret_cast<HANDLE>(readable_)};
  if (readable_ == -1) timeout_ms = CappedTimeout(timeout_ms);  // Wine's wpcap has no read event
  WaitForMultipleObjects(readable_ == -1 ? 1 : 2, handles, FALSE, timeout_ms < 0 ? INFINITE : static_cast<DWORD>(timeout_ms));
}

void Waiter::Wake() { SetEvent(reinterpret_cast<HANDLE>(wake_[0])); }

}  // namespace platform
