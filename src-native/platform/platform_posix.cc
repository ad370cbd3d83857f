// platform.h on Linux and macOS: dlopen, file output, positional file
// reads, thread names, and the capture thread's
// Waiter (poll on the pcap fd plus a self-pipe that any thread can wake).
#include <dlfcn.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "platform/platform.h"

namespace platform {

#ifdef __APPLE__
const char* const kLibpcapNames[] = {"libpcap.A.dylib", "libpcap.dylib", nullptr};
const char* const kMissingLibpcapHelp =
    "libpcap could not be loaded. macOS ships it as /usr/lib/libpcap.A.dylib; "
    "if it is missing, install it with `brew install libpcap` and set "
    "WIRECAP_LIBPCAP to the installed libpcap.dylib";
#else
// libpcap.so.0.8 is Debian's and Ubuntu's SONAME for libpcap 1.x.
const char* const kLibpcapNames[] = {"libpcap.so.1", "libpcap.so.0.8", "libpcap.so", nullptr};
const char* const kMissingLibpcapHelp =
    "libpcap is not installed. Install it with `apt-get install libpcap0.8` "
    "(Debian, Ubuntu), `dnf install libpcap` (Fedora, RHEL), `apk add libpcap` "
    "(Alpine) or `pacman -S libpcap` (Arch), or set WIRECAP_LIBPCAP to the path "
    "of a libpcap shared library";
#endif

void* OpenLibrary(const char* name, std::string* tried) {
  void* lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    if (!tried->empty()) *tried += "; ";
    *tried += why != nullptr ? why : name;
  }
  return lib;
}

void* FindSymbol(void* library, const char* name) { return dlsym(library, name); }

int OutputFile::Create(const std::string& path) {
  // "-" is standard output: a copy of fd 1, so closing it leaves the process's own.
  fd_ = path == kStandardOutput ? fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)
                                : open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  return fd_ < 0 ? errno : 0;
}

int OutputFile::Resume(const std::string& path, uint64_t size) {
  fd_ = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd_ < 0) return errno;
  if (ftruncate(fd_, static_cast<off_t>(size)) != 0 || lseek(fd_, 0, SEEK_END) < 0) {
    int err = errno;
    Close();
    return err;
  }
  return 0;
}

int OutputFile::Write(const void* data, size_t size, size_t* written) {
  *written = 0;
  const auto* bytes = static_cast<const uint8_t*>(data);
  while (*written < size) {
    ssize_t n = write(fd_, bytes + *written, size - *written);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        // A pipe Node made non-blocking (it shares the description with fd 1): wait until it drains.
        pollfd out{fd_, POLLOUT, 0};
        poll(&out, 1, -1);
        continue;
      }
      return errno;
    }
    *written += static_cast<size_t>(n);
  }
  return 0;
}

int OutputFile::Truncate(uint64_t size) { return ftruncate(fd_, static_cast<off_t>(size)) != 0 ? errno : 0; }

int OutputFile::Close() {
  if (fd_ < 0) return 0;
  int status = close(fd_) != 0 ? errno : 0;
  fd_ = -1;
  return status;
}

int InputFile::Open(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  handle_ = fd;
  return 0;
}

int InputFile::ReadAt(uint64_t offset, void* out, size_t size, size_t* got) {
  *got = 0;
  auto* bytes = static_cast<uint8_t*>(out);
  while (*got < size) {
    const ssize_t n = pread(static_cast<int>(handle_), bytes + *got, size - *got, static_cast<off_t>(offset + *got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) break;
    *got += static_cast<size_t>(n);
  }
  return 0;
}

void InputFile::Close() {
  if (handle_ >= 0) close(static_cast<int>(handle_));
  handle_ = -1;
}

int RemoveFile(const std::string& path) { return unlink(path.c_str()) != 0 ? errno : 0; }

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

void NameThisThread(const char* name) {
#ifdef __APPLE__
  pthread_setname_np(name);
#else
  pthread_setname_np(pthread_self(), name);  // at most 15 characters
#endif
}

int64_t MonotonicNs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

void SleepUntil(int64_t deadline) {
  timespec at{static_cast<time_t>(deadline / 1000000000), static_cast<long>(deadline % 1000000000)};
#ifdef __linux__
  // Absolute: a signal that interrupts it costs no drift when it is called again.
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) == EINTR) {
  }
#else
  const int64_t left = deadline - MonotonicNs();
  if (left <= 0) return;
  timespec nap{static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
  nanosleep(&nap, nullptr);
#endif
}

void PreciseSleeps() {
#ifdef __linux__
  // The default slack (50 us) lets the kernel wake a sleeper that much late
  // to merge timers; a pacing thread wants its deadline.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
}

bool RealtimeThread() {
  sched_param param{};
  param.sched_priority = 1;
  return pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0;
}

int64_t ThreadCpuNs() {
  timespec used;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &used) != 0) return 0;
  return static_cast<int64_t>(used.tv_sec) * 1000000000 + used.tv_nsec;
}

int DeviceMtu(const std::string& device) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return 0;
  ifreq request{};
  std::strncpy(request.ifr_name, device.c_str(), IFNAMSIZ - 1);
  const int mtu = ioctl(fd, SIOCGIFMTU, &request) == 0 ? request.ifr_mtu : 0;
  close(fd);
  return mtu;
}

std::unique_ptr<Waiter> Waiter::Create(const PcapApi& api, pcap_t* handle) {
  return ForDescriptor(api.get_selectable_fd != nullptr ? api.get_selectable_fd(handle) : -1);
}

std::unique_ptr<Waiter> Waiter::ForDescriptor(intptr_t fd) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return nullptr;
  for (int p : pipe_fds) {
    fcntl(p, F_SETFL, fcntl(p, F_GETFL) | O_NONBLOCK);
    fcntl(p, F_SETFD, FD_CLOEXEC);
  }
  std::unique_ptr<Waiter> waiter(new Waiter());
  waiter->readable_ = fd;
  waiter->wake_[0] = pipe_fds[0];
  waiter->wake_[1] = pipe_fds[1];
  return waiter;
}

Waiter::~Waiter() {
  close(static_cast<int>(wake_[0]));
  close(static_cast<int>(wake_[1]));
}

void Waiter::Wait(int timeout_ms) {
  // poll() skips a negative fd: without one, only the wake pipe and the poll interval count.
  pollfd fds[2] = {{static_cast<int>(wake_[0]), POLLIN, 0}, {static_cast<int>(readable_), POLLIN, 0}};
  if (poll(fds, 2, readable_ < 0 ? CappedTimeout(timeout_ms) : timeout_ms) > 0 && (fds[0].revents & POLLIN) != 0) {
    char drain[64];
    while (read(static_cast<int>(wake_[0]), drain, sizeof drain) > 0) {
    }
  }
}

void Waiter::Wake() {
  const char byte = 1;
  // A full pipe already holds a pending wake-up, so EAGAIN is fine.
  ssize_t ignored = write(static_cast<int>(wake_[1]), &byte, 1);
  (void)ignored;
}

}  // namespace platform
