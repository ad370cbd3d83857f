// The few things that differ between POSIX and Windows, behind one small
// interface: platform_posix.cc or platform_win.cc is compiled (binding.gyp).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "loader/pcap_api.h"

namespace platform {

// Library names tried in order when WIRECAP_LIBPCAP is unset (ending with
// nullptr), and the help given when none loads.
extern const char* const kLibpcapNames[];
extern const char* const kMissingLibpcapHelp;

// Loads a shared library; on failure appends the loader's reason to *tried.
void* OpenLibrary(const char* name, std::string* tried);
void* FindSymbol(void* library, const char* name);

// A file opened for writing, by path in UTF-8. Each call returns 0 or an
// errno value (ENOENT, EACCES, ENOSPC...), on Windows too.
// The path that names standard output ("-", as tcpdump's -w takes it).
constexpr const char* kStandardOutput = "-";

class OutputFile {
 public:
  OutputFile() = default;
  ~OutputFile() { Close(); }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  int Create(const std::string& path);  // creates or truncates; kStandardOutput writes to fd 1
  // Opens an existing file, cuts it to size bytes and writes on from there.
  int Resume(const std::string& path, uint64_t size);
  // Writes all of data unless an error stops it; *written says how much went out.
  int Write(const void* data, size_t size, size_t* written);
  int Truncate(uint64_t size);
  int Close();

 private:
  int fd_ = -1;
};

// A file opened for reading at any offset, by path in UTF-8. Calls return
// 0 or an errno value.
class InputFile {
 public:
  InputFile() = default;
  ~InputFile() { Close(); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  int Open(const std::string& path);
  // Reads size bytes at offset into out; *got < size only at the end of the file.
  int ReadAt(uint64_t offset, void* out, size_t size, size_t* got);
  void Close();

 private:
  intptr_t handle_ = -1;  // fd (POSIX) or HANDLE (Windows)
};

int RemoveFile(const std::string& path);
// The size of a file in bytes; 0 when it cannot be read.
uint64_t FileSize(const std::string& path);


// Names the calling thread as tools (top, gdb, Process Explorer) show it.
void NameThisThread(const char* name);

// Clocks and sleeping for a replay's pacing. MonotonicNs() never jumps;
// SleepUntil() returns at monotonic time `deadline` or a little after (the
// OS's wake-up latency). PreciseSleeps() asks the OS to wake the calling
// thread as close to its deadlines as it can (Linux: timer slack 1 ns).
// RealtimeThread() puts the calling thread in the lowest real-time class
// (SCHED_FIFO 1) so no ordinary thread delays its wake-ups; false where the
// OS refuses (no CAP_SYS_NICE or RLIMIT_RTPRIO) or has none (Windows).
int64_t MonotonicNs();
void SleepUntil(int64_t deadline);
void PreciseSleeps();
bool RealtimeThread();
// CPU time the calling thread has used, in nanoseconds.
int64_t ThreadCpuNs();
// A device's MTU in bytes; 0 when the OS does not say.
int DeviceMtu(const std::string& device);

// Lets a capture thread sleep until its live handle has packets or another
// thread wakes it, so close() and setFilter() never wait for traffic.
class Waiter {
 public:
  // The handle is then read in non-blocking mode. When it offers nothing to
  // wait on (no selectable fd, or no read event as in Wine's wpcap.dll),
  // Wait() wakes at least every kPollMs to try it. Null only when the OS
  // refuses a pipe or an event.
  static std::unique_ptr<Waiter> Create(const PcapApi& api, pcap_t* handle);
  // The same for a descriptor of the caller's (POSIX only; null on Windows).
  static std::unique_ptr<Waiter> ForDescriptor(intptr_t readable);
  static constexpr int kPollMs = 5;
  ~Waiter();
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  // Capture thread: returns when readable, woken, or after timeout_ms (-1: none).
  void Wait(int timeout_ms);
  // Any thread.
  void Wake();

 private:
  Waiter() = default;
  static int CappedTimeout(int timeout_ms) { return timeout_ms < 0 || timeout_ms > kPollMs ? kPollMs : timeout_ms; }
  intptr_t readable_ = -1;           // pcap fd (POSIX) or read event (Windows)
  intptr_t wake_[2] = {-1, -1};      // self-pipe (POSIX) or [event, unused]
};

}  // namespace platform
