// A native dump (see dump.h): Start() and SetWaker() on the JS thread; the
// per-interface calls on that interface's capture thread, under mutex_;
// RequestStop() and GetStatus() on any thread.
#include "dump/dump.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace {

// Buffered records reach the disk at least this often, so a file being
// written can be followed with tcpdump -r while the dump runs.
constexpr int64_t kFlushEveryNs = 1000000000;
// A device's counters are read at least this often, so the ISBs closing a
// rotated file are at most this old (each carries the time it was read).
constexpr int64_t kStatsEveryNs = 100000000;
// A device's staging queue holds at most this many bytes: past it, its
// oldest packet is written even if another device may still deliver an
// earlier one.
constexpr size_t kStageBytes = 8 << 20;

std::string UtcStamp(int64_t time_ns) {
  std::time_t seconds = static_cast<std::time_t>(time_ns / 1000000000);
  std::tm utc{};
#ifdef _WIN32
  gmtime_s(&utc, &seconds);
#else
  gmtime_r(&seconds, &utc);
#endif
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

}  // namespace

std::string Dump::RotatedName(const std::string& path, uint32_t index, int64_t time_ns) {
  // out.pcap -> out_000001_20261125T024823Z.pcap: sorts by index, then time.
  size_t slash = path.find_last_of("/\\");
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash) || dot == slash + 1) {
    dot = path.size();
  }
  char number[16];
  std::snprintf(number, sizeof number, "%06u", index);
  return path.substr(0, dot) + "_" + number + "_" + UtcStamp(time_ns) + path.substr(dot);
}

bool Dump::Start(const Config& config, int64_t now_ns, CaptureWriter::Error* error) {
  config_ = config;
  rotating_ = config.file_bytes != 0 || config.file_seconds != 0;
  duration_end_ns_ = config.duration_ms > 0 ? now_ns + config.duration_ms * 1000000 : 0;
  last_flush_ns_ = now_ns;
  interfaces_.assign(config.writer.interfaces.size(), Interface());
  for (Interface& iface : interfaces_) {
    iface.stats.start_ns = now_ns;
    iface.stats_read_ns = now_ns;
  }
  const uint64_t smallest = CaptureWriter::SmallestFile(config.writer);
  if (config.file_bytes != 0 && config.file_bytes < smallest) {
    // Every rotated file must hold its headers, its ISBs and one full-size packet.
    error->code = "EINVAL";
    error->message = "rotate.fileBytes " + std::to_string(config.file_bytes) +
                     " cannot hold a file's headers and one full-size packet: it takes at least " +
                     std::to_string(smallest);
    return false;
  }
  return OpenFile(now_ns, error);
}

void Dump::SetWaker(uint32_t iface, std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(mutex_);
  interfaces_[iface].wake = std::move(wake);
}

bool Dump::OpenFile(int64_t time_ns, CaptureWriter::Error* error) {
  CaptureWriter::Options options = config_.writer;
  options.max_bytes = config_.file_bytes;
  std::string path = config_.path;
  if (rotating_) path = RotatedName(config_.path, ++file_index_, time_ns);
  if (!writer_.Open(path, options, error)) return false;
  file_started_ns_ = time_ns;
  files_.fetch_add(1);
  ring_.push_back(path);
  if (config_.files != 0 && ring_.size() > config_.files) {
    platform::RemoveFile(ring_.front());
    ring_.pop_front();
  }
  Count();
  return true;
}

void Dump::Count() {
  packets_.store(closed_files_packets_ + writer_.packets(), std::memory_order_relaxed);
  bytes_.store(closed_files_bytes_ + writer_.bytes(), std::memory_order_relaxed);
}

std::vector<CaptureWriter::InterfaceStats> Dump::FileStats(int64_t end_ns) const {
  std::vector<CaptureWriter::InterfaceStats> stats;
  for (const Interface& iface : interfaces_) {
    stats.push_back(iface.stats);
    stats.back().time_ns = iface.stats_read_ns;
    stats.back().end_ns = end_ns;
  }
  return stats;
}

bool Dump::Rotate(int64_t time_ns) {
  const std::vector<CaptureWriter::InterfaceStats> stats = FileStats(time_ns);
  if (!writer_.Close(&stats)) {
    Fail(writer_.error());
    return false;
  }
  closed_files_bytes_ += writer_.bytes();
  closed_files_packets_ += writer_.packets();
  CaptureWriter::Error error;
  if (!OpenFile(time_ns, &error)) {
    Fail(error);
    return false;
  }
  return true;
}

bool Dump::Accepting(const Interface& iface) const {
  // A due stop or duration still takes what each device captured before
  // it, until that device has reported; a limit or an error takes nothing more.
  return !ended_.load(std::memory_order_relaxed) && (!ending_ || (!limit_reached_ && iface.owes_stats));
}

void Dump::Write(uint32_t index, int64_t timestamp_ns, uint32_t caplen, uint32_t len, const uint8_t* data) {
  std::lock_guard<std::mutex> lock(mutex_);
  Interface& iface = interfaces_[index];
  if (!Accepting(iface)) return;
  if (duration_end_ns_ != 0 && timestamp_ns >= duration_end_ns_) {
    BeginEnd("duration");
    return;
  }
  iface.stats.captured++;
  bool alone = true;  // no other device can deliver an earlier packet
  for (const Interface& other : interfaces_) {
    if (&other != &iface && (other.live || !other.staged.empty())) alone = false;
  }
  if (alone && iface.staged.empty()) {
    Put(index, timestamp_ns, caplen, len, data);
    return;
  }
  const uint64_t offset = iface.base + iface.bytes.size();
  iface.bytes.insert(iface.bytes.end(), data, data + caplen);
  iface.staged.push_back(Staged{timestamp_ns, caplen, len, offset});
  Drain(timestamp_ns, false);
}

void Dump::Drain(int64_t now_ns, bool all) {
  for (;;) {
    Interface* first = nullptr;
    bool others_ahead = true;  // every other live device has a later packet queued
    for (Interface& iface : interfaces_) {
      if (iface.staged.empty()) continue;
      if (first == nullptr || iface.staged.front().timestamp_ns < first->staged.front().timestamp_ns) first = &iface;
    }
    if (first == nullptr) return;
    for (const Interface& iface : interfaces_) {
      if (&iface != first && iface.live && iface.staged.empty()) others_ahead = false;
    }
    const Staged& packet = first->staged.front();
    const bool old = packet.timestamp_ns <= now_ns - config_.merge_window_ns;
    const bool crowded = first->bytes.size() > kStageBytes;
    if (!all && !others_ahead && !old && !crowded) return;
    if (!ending_ || !limit_reached_) {
      Put(static_cast<uint32_t>(first - interfaces_.data()), packet.timestamp_ns, packet.caplen, packet.len,
          first->bytes.data() + (packet.offset - first->base));
    }
    Pop(*first);
  }
}

void Dump::Pop(Interface& iface) {
  const Staged& packet = iface.staged.front();
  const uint64_t end = packet.offset + packet.caplen;
  iface.staged.pop_front();
  if (iface.staged.empty()) {
    iface.base = end;
    iface.bytes.clear();
  } else if (end - iface.base >= kStageBytes / 2 && end - iface.base >= iface.bytes.size() / 2) {
    // Drop the bytes already written once they are half the queue.
    iface.bytes.erase(iface.bytes.begin(), iface.bytes.begin() + static_cast<ptrdiff_t>(end - iface.base));
    iface.base = end;
  }
}

void Dump::Put(uint32_t index, int64_t timestamp_ns, uint32_t caplen, uint32_t len, const uint8_t* data) {
  if (config_.max_packets != 0 && packets_.load(std::memory_order_relaxed) >= config_.max_packets) {
    BeginEnd("maxPackets");
    return;
  }
  const uint64_t record = writer_.RecordBytes(caplen) + writer_.TrailerBytes();
  if (config_.max_bytes != 0 && closed_files_bytes_ + writer_.bytes() + record > config_.max_bytes) {
    BeginEnd("maxBytes");
    return;
  }
  const bool file_full = config_.file_bytes != 0 && writer_.bytes() + record > config_.file_bytes;
  const bool file_old = config_.file_seconds != 0 && timestamp_ns - file_started_ns_ >= config_.file_seconds * 1000000000;
  if ((file_full || file_old) && writer_.packets() > 0) {
    // The new file's header counts against max_bytes too.
    if (!Rotate(timestamp_ns)) return;
    if (config_.max_bytes != 0 && closed_files_bytes_ + writer_.bytes() + record > config_.max_bytes) {
      BeginEnd("maxBytes");
      return;
    }
  }
  switch (writer_.Write(index, timestamp_ns, caplen, len, data)) {
    case CaptureWriter::Status::kWritten:
      break;
    case CaptureWriter::Status::kFull:
      return;  // cannot happen: Start() checked that a file holds a full-size packet
    case CaptureWriter::Status::kFailed:
      Fail(writer_.error());
      return;
  }
  interfaces_[index].stats.written++;
  Count();
  if (config_.max_packets != 0 && packets_.load(std::memory_order_relaxed) >= config_.max_packets) BeginEnd("maxPackets");
}

void Dump::BeginEnd(const char* reason, const std::string& error_code, const std::string& error_message) {
  if (ending_) return;
  ending_ = true;
  limit_reached_ = std::strcmp(reason, "stopped") != 0 && std::strcmp(reason, "duration") != 0;
  reason_ = reason;
  error_code_ = error_code;
  error_message_ = error_message;
  for (Interface& iface : interfaces_) {
    iface.owes_stats = iface.live;
    if (iface.live && iface.wake) iface.wake();
  }
}

bool Dump::StatsWanted(uint32_t index, int64_t now_ns) {
  std::lock_guard<std::mutex> lock(mutex_);
  const Interface& iface = interfaces_[index];
  if (ended_.load() || !iface.live) return false;
  return iface.owes_stats || now_ns - iface.stats_read_ns >= kStatsEveryNs;
}

void Dump::ReportStats(uint32_t index, int64_t now_ns, bool have, uint64_t received, uint64_t dropped,
                       uint64_t if_dropped) {
  std::lock_guard<std::mutex> lock(mutex_);
  Interface& iface = interfaces_[index];
  iface.stats_read_ns = now_ns;
  iface.stats.have_kernel = have;
  iface.stats.received = received;
  iface.stats.os_dropped = dropped;
  iface.stats.if_dropped = if_dropped;
  iface.owes_stats = false;
}

void Dump::Leave(uint32_t index, const char* code, const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  Interface& iface = interfaces_[index];
  if (ended_.load() || !iface.live) return;
  iface.live = false;
  iface.owes_stats = false;
  if (code != nullptr) {
    iface.error_code = code;
    iface.error_message = message;
  }
  bool any_live = false;
  for (const Interface& other : interfaces_) any_live = any_live || other.live;
  const int64_t now_ns = NowNs();
  if (!any_live) {
    // The last device: its end is the dump's.
    if (code != nullptr) {
      BeginEnd("error", code, message);
    } else {
      BeginEnd("stopped");
    }
  }
  if (ending_) {
    FinishIfReported(now_ns);
  } else {
    Drain(now_ns, false);  // the others no longer wait for this device
  }
}

void Dump::RequestStop(int64_t at_ns) { stop_at_ns_.store(at_ns); }

void Dump::FinishIfReported(int64_t now_ns) {
  for (const Interface& iface : interfaces_) {
    if (iface.owes_stats) return;
  }
  Finish(now_ns);
}

void Dump::Finish(int64_t now_ns) {
  Drain(now_ns, true);
  const std::vector<CaptureWriter::InterfaceStats> stats = FileStats(now_ns);
  const bool closed = writer_.Close(&stats);
  if (!closed && error_code_.empty()) {
    reason_ = "error";
    error_code_ = writer_.error().code;
    error_message_ = writer_.error().message;
  }
  Count();  // after a failed write: only the records the file really holds
  ended_.store(true);
}

void Dump::Fail(const CaptureWriter::Error& error) {
  if (!ending_) {
    BeginEnd("error", error.code, error.message);
  } else if (error_code_.empty()) {
    reason_ = "error";
    error_code_ = error.code;
    error_message_ = error.message;
    limit_reached_ = true;
  }
}

void Dump::Idle(int64_t now_ns) {
  // A pipe's reader sees each dispatch's packets at once; a file is flushed once a second.
  if (now_ns - last_flush_ns_ >= kFlushEveryNs || config_.path == platform::kStandardOutput) {
    last_flush_ns_ = now_ns;
    if (!writer_.Flush()) Fail(writer_.error());
  }
}

int64_t Dump::NextWakeNs() const {
  int64_t wake = last_flush_ns_ + kFlushEveryNs;
  const int64_t stop_at = stop_at_ns_.load();
  if (stop_at != 0 && stop_at < wake) wake = stop_at;
  if (duration_end_ns_ != 0 && duration_end_ns_ < wake) wake = duration_end_ns_;
  for (const Interface& iface : interfaces_) {
    if (!iface.staged.empty()) wake = std::min(wake, iface.staged.front().timestamp_ns + config_.merge_window_ns);
  }
  return wake;
}

int Dump::Housekeep(uint32_t index, int64_t now_ns, int read_timeout_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int64_t grace_ns = int64_t{read_timeout_ms} * 1000000;
  if (!ended_.load() && !ending_) {
    const int64_t stop_at = stop_at_ns_.load();
    if (stop_at != 0 && now_ns >= stop_at) {
      BeginEnd("stopped");
    } else if (duration_end_ns_ != 0 && now_ns >= duration_end_ns_ + grace_ns) {
      // By now the kernel has handed over every packet stamped before the end.
      BeginEnd("duration");
    } else {
      Drain(now_ns, false);
      Idle(now_ns);
    }
  }
  if (!ended_.load() && ending_) FinishIfReported(now_ns);
  if (ended_.load()) return -1;
  if (ending_) return interfaces_[index].owes_stats ? 0 : 100;  // report next, or wait for the others
  // Packets stamped before the duration's end may sit in the kernel for up
  // to the read timeout: wake up that much later to collect them.
  int64_t wake = NextWakeNs();
  if (wake == duration_end_ns_) wake += grace_ns;
  const int64_t ms = (wake - NowNs()) / 1000000 + 1;
  return static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(ms, 1000)));
}

Dump::Status Dump::GetStatus() const {
  Status status;
  status.ended = ended_.load();
  status.packets = packets_.load();
  status.bytes = bytes_.load();
  status.files = files_.load();
  std::lock_guard<std::mutex> lock(mutex_);
  if (status.ended) status.reason = reason_;
  status.error_code = status.ended ? error_code_ : "";
  status.error_message = error_message_;
  for (const Interface& iface : interfaces_) {
    InterfaceStatus one;
    one.packets = iface.stats.written;
    one.error_code = iface.error_code;
    one.error_message = iface.error_message;
    status.interfaces.push_back(one);
  }
  return status;
}
