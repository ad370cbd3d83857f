// HelperClient (see helper_client.h): posix_spawn with the two pipes as the
// helper's stdin and stdout and an empty environment; frames as channel.h
// says. Every read is bounded and every wait has a deadline, so a helper
// that misbehaves ends the capture with an error instead of hanging it.
#include "helper/helper_client.h"

#ifdef __linux__
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "helper/channel.h"

#ifndef __linux__

std::unique_ptr<HelperClient> HelperClient::Start(const std::string&, const std::vector<std::string>&, Opened*,
                                                  Failure* failure) {
  failure->text = "the capture helper exists on Linux only";
  return nullptr;
}
HelperClient::~HelperClient() {}
int HelperClient::Dispatch(pcap_handler, u_char*) { return -1; }
bool HelperClient::SetFilter(const std::string&, std::string*) { return false; }
bool HelperClient::Stats(pcap_stat*) { return false; }
int HelperClient::Inject(const uint8_t*, size_t, std::string*) { return -1; }

#else

namespace {

// What one Dispatch() reads at most, so that tasks and close() are served
// between reads even when the helper never pauses.
constexpr size_t kReadBound = 4 << 20;
// in_ holds a read's worth plus the frame it may have cut.
constexpr size_t kInCapacity = kReadBound + helper::kHeaderBytes + helper::kMaxFrame;
// The pipe from the helper holds this much (Linux's default limit for an
// unprivileged process), so a busy second costs few wake-ups.
constexpr int kPipeBytes = 1 << 20;
// How long the helper may take to open its device or to answer a request.
constexpr int kAnswerMs = 10000;

bool WriteAll(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::unique_ptr<HelperClient> HelperClient::Start(const std::string& path, const std::vector<std::string>& args,
                                                  Opened* opened, Failure* failure) {
  int to[2], from[2];
  if (pipe2(to, O_CLOEXEC) != 0) {
    failure->text = std::string("cannot make a pipe: ") + std::strerror(errno);
    return nullptr;
  }
  if (pipe2(from, O_CLOEXEC) != 0) {
    failure->text = std::string("cannot make a pipe: ") + std::strerror(errno);
    close(to[0]);
    close(to[1]);
    return nullptr;
  }
  fcntl(from[0], F_SETPIPE_SZ, kPipeBytes);  // best effort: a smaller pipe only costs wake-ups
  fcntl(to[1], F_SETPIPE_SZ, kPipeBytes);

  std::vector<std::string> all = args;
  all.push_back("--parent");
  all.push_back(std::to_string(getpid()));
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (std::string& a : all) argv.push_back(&a[0]);
  argv.push_back(nullptr);
  char* envp[] = {nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears close-on-exec on 0 and 1; every other descriptor of ours
  // is close-on-exec, and the helper closes any that is not.
  posix_spawn_file_actions_adddup2(&actions, to[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, from[1], STDOUT_FILENO);
  pid_t pid = -1;
  const int err = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), envp);
  posix_spawn_file_actions_destroy(&actions);
  close(to[0]);
  close(from[1]);
  if (err != 0) {
    close(to[1]);
    close(from[0]);
    failure->status = err;
    failure->text = "cannot start the capture helper " + path + ": " + std::strerror(err);
    return nullptr;
  }

  std::unique_ptr<HelperClient> client(new HelperClient());
  client->pid_ = pid;
  client->to_helper_ = to[1];
  client->from_helper_ = from[0];
  client->in_.reset(new uint8_t[kInCapacity]);
  fcntl(from[0], F_SETFL, fcntl(from[0], F_GETFL) | O_NONBLOCK);
  std::vector<uint8_t> ready;
  if (!client->Request(0, nullptr, 0, helper::kReady, &ready)) {
    *failure = client->failure_;
    return nullptr;
  }
  if (ready.size() < 12) {
    failure->text = "the capture helper's first answer is malformed";
    return nullptr;
  }
  opened->linktype = helper::GetInt(&ready[0]);
  opened->snaplen = helper::GetInt(&ready[4]);
  opened->nano = helper::GetInt(&ready[8]) != 0;
  client->snaplen_ = opened->snaplen;
  return client;
}

HelperClient::~HelperClient() {
  // The helper sees the end of its stdin at once (or a broken pipe if it
  // was writing) and exits; one that lingers is killed.
  if (to_helper_ >= 0) close(to_helper_);
  if (from_helper_ >= 0) close(from_helper_);
  if (pid_ <= 0) return;
  int status = 0;
  for (int i = 0; i < 200; i++) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid_, SIGKILL);
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

void HelperClient::Broken(const std::string& why) {
  if (ended_) return;
  ended_ = true;
  failure_ = Failure{0, 0, why};
}

bool HelperClient::Fill() {
  if (in_start_ > 0) {
    std::memmove(in_.get(), in_.get() + in_start_, in_size_ - in_start_);
    in_size_ -= in_start_;
    in_start_ = 0;
  }
  size_t total = 0;
  while (total < kReadBound && in_size_ < kInCapacity) {
    ssize_t n = read(from_helper_, in_.get() + in_size_, kInCapacity - in_size_);
    if (n > 0) {
      in_size_ += static_cast<size_t>(n);
      total += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  return true;
}

int HelperClient::Handle(pcap_handler handler, u_char* user, uint32_t want, std::vector<uint8_t>* reply) {
  int count = 0;
  while (in_size_ - in_start_ >= helper::kHeaderBytes) {
    const uint8_t* frame = in_.get() + in_start_;
    uint32_t type, size;
    std::memcpy(&type, frame, 4);
    std::memcpy(&size, frame + 4, 4);
    if (size > helper::kMaxFrame) {
      Broken("the capture helper sent a frame of " + std::to_string(size) + " bytes");
      return -1;
    }
    if (in_size_ - in_start_ - helper::kHeaderBytes < size) break;
    const uint8_t* body = frame + helper::kHeaderBytes;
    in_start_ += helper::kHeaderBytes + size;
    if (type == helper::kPackets && handler == nullptr) {
      uint8_t length[4];
      std::memcpy(length, &size, 4);
      held_.insert(held_.end(), length, length + 4);
      held_.insert(held_.end(), body, body + size);
    } else if (type == helper::kPackets) {
      const int n = Deliver(body, size, handler, user);
      if (n < 0) return -1;
      count += n;
    } else if (type == helper::kFailed) {
      if (size < 8) {
        Broken("the capture helper sent a malformed failure");
        return -1;
      }
      failure_ = Failure{helper::GetInt(body), helper::GetInt(body + 4),
                         std::string(reinterpret_cast<const char*>(body + 8), size - 8)};
      ended_ = true;
      return -1;
    } else if (type == want && reply != nullptr) {
      reply->assign(body, body + size);
      return count;
    } else if (type != helper::kStatsReply && type != helper::kFilterReply && type != helper::kInjectReply) {
      // (A late reply to a request given up on is skipped.)
      Broken("the capture helper sent an unknown frame");
      return -1;
    }
  }
  return count;
}

int HelperClient::Deliver(const uint8_t* body, size_t size, pcap_handler handler, u_char* user) {
  int count = 0;
  size_t at = 0;
  while (at + helper::kRecordBytes <= size) {
    const helper::Record r = helper::GetRecord(body + at);
    if (r.caplen > size - at - helper::kRecordBytes || static_cast<int64_t>(r.caplen) > snaplen_) break;
    pcap_pkthdr header{};
    header.ts.tv_sec = static_cast<decltype(header.ts.tv_sec)>(r.seconds);
    header.ts.tv_usec = static_cast<decltype(header.ts.tv_usec)>(r.fraction);
    header.caplen = r.caplen;
    header.len = r.len;
    handler(user, &header, body + at + helper::kRecordBytes);
    count++;
    at += helper::kRecordBytes + r.caplen;
  }
  if (at != size) {
    Broken("the capture helper sent a malformed packets frame");
    return -1;
  }
  return count;
}

int HelperClient::Dispatch(pcap_handler handler, u_char* user) {
  int held = 0;
  for (size_t at = 0; at + 4 <= held_.size();) {
    uint32_t size;
    std::memcpy(&size, &held_[at], 4);
    const int n = Deliver(&held_[at + 4], size, handler, user);
    if (n < 0) return -1;
    held += n;
    at += 4 + size;
  }
  held_.clear();
  if (ended_) return held > 0 ? held : -1;
  const bool open = Fill();
  int count = Handle(handler, user, 0, nullptr);
  if (count < 0) return -1;
  if (!open) {
    Broken("the capture helper ended");
    return -1;
  }
  return count + held;
}

bool HelperClient::Request(uint32_t type, const void* body, size_t size, uint32_t reply_type,
                           std::vector<uint8_t>* reply) {
  if (ended_) return false;
  if (type != 0) {
    std::vector<uint8_t> frame(helper::kHeaderBytes);
    helper::PutHeader(frame.data(), type, static_cast<uint32_t>(size));
    frame.insert(frame.end(), static_cast<const uint8_t*>(body), static_cast<const uint8_t*>(body) + size);
    if (!WriteAll(to_helper_, frame.data(), frame.size())) {
      Broken("the capture helper ended");
      return false;
    }
  }
  reply->clear();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kAnswerMs);
  for (;;) {
    // A reply may already be in in_, behind packets. (No reply is empty.)
    if (Handle(nullptr, nullptr, reply_type, reply) < 0) return false;
    if (!reply->empty()) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      Broken("the capture helper did not answer within " + std::to_string(kAnswerMs / 1000) + " s");
      return false;
    }
    pollfd p{from_helper_, POLLIN, 0};
    poll(&p, 1, static_cast<int>(left.count()));
    if (!Fill()) {
      if (Handle(nullptr, nullptr, reply_type, reply) < 0) return false;
      if (!reply->empty()) return true;
      int status = 0;
      std::string how = "ended";
      if (waitpid(pid_, &status, 0) == pid_) {
        pid_ = -1;
        if (WIFEXITED(status)) how = "exited with status " + std::to_string(WEXITSTATUS(status));
        if (WIFSIGNALED(status)) how = "was killed by signal " + std::to_string(WTERMSIG(status));
      }
      Broken("the capture helper " + how + " without answering");
      return false;
    }
  }
}

bool HelperClient::SetFilter(const std::string& filter, std::string* error) {
  std::vector<uint8_t> reply;
  if (!Request(helper::kSetFilter, filter.data(), filter.size(), helper::kFilterReply, &reply)) {
    *error = failure_.text;
    return false;
  }
  if (reply.size() >= 4 && helper::GetInt(reply.data()) == 0) return true;
  *error = reply.size() > 4 ? std::string(reinterpret_cast<const char*>(&reply[4]), reply.size() - 4) : "refused";
  return false;
}

bool HelperClient::Stats(pcap_stat* stats) {
  std::vector<uint8_t> reply;
  if (!Request(helper::kStats, nullptr, 0, helper::kStatsReply, &reply) || reply.size() < 12) return false;
  std::memcpy(&stats->ps_recv, &reply[0], 4);
  std::memcpy(&stats->ps_drop, &reply[4], 4);
  std::memcpy(&stats->ps_ifdrop, &reply[8], 4);
  return true;
}

int HelperClient::Inject(const uint8_t* data, size_t size, std::string* error) {
  std::vector<uint8_t> reply;
  if (size > helper::kMaxFrame) {
    *error = "frame too large";
    return -1;
  }
  if (!Request(helper::kInject, data, size, helper::kInjectReply, &reply)) {
    *error = failure_.text;
    return -1;
  }
  const int sent = reply.size() >= 4 ? helper::GetInt(reply.data()) : -1;
  if (sent < 0) *error = reply.size() > 4 ? std::string(reinterpret_cast<const char*>(&reply[4]), reply.size() - 4) : "refused";
  return sent;
}

#endif
