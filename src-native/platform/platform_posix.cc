// platform.h on Linux and macOS: dlopen, file output, the read-ahead
// stream (its own reader thread), thread names, and the capture thread's
// Waiter (poll on the pcap fd plus a self-pipe that any thread can wake).
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

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
  fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  return fd_ < 0 ? errno : 0;
}

int OutputFile::Write(const void* data, size_t size, size_t* written) {
  *written = 0;
  const auto* bytes = static_cast<const uint8_t*>(data);
  while (*written < size) {
    ssize_t n = write(fd_, bytes + *written, size - *written);
    if (n < 0) {
      if (errno == EINTR) continue;
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

namespace {

// A ring of chunks: the reader thread fills them with read(), the stream's
// read callback (on the capture thread) empties them in order.
class ReadAhead {
 public:
  static constexpr size_t kChunkBytes = 512 << 10;
  static constexpr size_t kChunks = 4;

  // Serves the file's first prefix bytes, then the file from start on.
  ReadAhead(int fd, uint64_t prefix, uint64_t start) : fd_(fd), prefix_(prefix), next_(prefix == 0 ? start : 0), start_(start), chunks_(kChunks) {
    for (Chunk& c : chunks_) c.data.resize(kChunkBytes);
    thread_ = std::thread(&ReadAhead::Fill, this);
  }
  ~ReadAhead() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    changed_.notify_all();
    thread_.join();
    close(fd_);
  }

  // Copies up to size bytes; 0 at the end of the file, -1 with errno set on a read error.
  ssize_t Read(char* out, size_t size) {
    Chunk* chunk;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return filled_ > taken_; });
      chunk = &chunks_[taken_ % kChunks];
    }
    if (chunk->length < 0) {
      errno = chunk->error;
      return -1;
    }
    const size_t n = std::min(size, static_cast<size_t>(chunk->length) - position_);
    std::memcpy(out, chunk->data.data() + position_, n);
    position_ += n;
    if (position_ == static_cast<size_t>(chunk->length) && chunk->length > 0) {
      position_ = 0;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        taken_++;
      }
      changed_.notify_all();
    }
    return static_cast<ssize_t>(n);
  }

 private:
  struct Chunk {
    std::vector<char> data;
    ssize_t length = 0;  // 0: end of file (kept, so every later Read sees it too)
    int error = 0;
  };

  void Fill() {
    NameThisThread("wirecap read");
    for (;;) {
      Chunk* chunk;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return closing_ || filled_ - taken_ < kChunks; });
        if (closing_) return;
        chunk = &chunks_[filled_ % kChunks];
      }
      // The prefix (a file header) ends a chunk early; then reading jumps to start_.
      const bool in_prefix = next_ < prefix_;
      const size_t want = in_prefix ? std::min<uint64_t>(kChunkBytes, prefix_ - next_) : kChunkBytes;
      ssize_t n;
      do n = pread(fd_, chunk->data.data(), want, static_cast<off_t>(next_));
      while (n < 0 && errno == EINTR);
      if (n > 0) next_ += static_cast<uint64_t>(n);
      if (in_prefix && next_ >= prefix_) next_ = start_;
      if (n == 0 && in_prefix) n = -1, errno = EIO;  // the file shrank under us
      chunk->length = n;
      chunk->error = n < 0 ? errno : 0;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        filled_++;
      }
      changed_.notify_all();
      if (n <= 0) return;  // the end or an error: the chunk stays there for every later Read
    }
  }

  const int fd_;
  const uint64_t prefix_;
  uint64_t next_;  // the file offset read next (reader thread)
  const uint64_t start_;
  std::vector<Chunk> chunks_;
  std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t filled_ = 0;  // chunks the thread has filled
  uint64_t taken_ = 0;   // chunks the stream has emptied
  size_t position_ = 0;  // in chunk taken_
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace

std::FILE* OpenReadAhead(const std::string& path, uint64_t prefix, uint64_t start) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  auto* ahead = new ReadAhead(fd, prefix, start);
#ifdef __APPLE__
  std::FILE* stream = funopen(
      ahead, [](void* c, char* out, int size) { return static_cast<int>(static_cast<ReadAhead*>(c)->Read(out, size)); },
      nullptr, nullptr, [](void* c) { delete static_cast<ReadAhead*>(c); return 0; });
#else
  cookie_io_functions_t io = {};
  io.read = [](void* c, char* out, size_t size) { return static_cast<ReadAhead*>(c)->Read(out, size); };
  io.close = [](void* c) {
    delete static_cast<ReadAhead*>(c);
    return 0;
  };
  std::FILE* stream = fopencookie(ahead, "r", io);
#endif
  if (stream == nullptr) {
    delete ahead;
    return nullptr;
  }
  // libpcap reads a record header and then its data: a larger stdio buffer
  // serves many records per callback.
  setvbuf(stream, nullptr, _IOFBF, 64 << 10);
  return stream;
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

std::unique_ptr<Waiter> Waiter::Create(const PcapApi& api, pcap_t* handle) {
  const int fd = api.get_selectable_fd != nullptr ? api.get_selectable_fd(handle) : -1;
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
