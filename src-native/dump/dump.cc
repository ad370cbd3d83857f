// A native dump (see dump.h): Start() on the JS thread, everything else on
// the capture thread, GetStatus() on any thread.
#include "dump/dump.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace {

// Buffered records reach the disk at least this often, so a file being
// written can be followed with tcpdump -r while the dump runs.
constexpr int64_t kFlushEveryNs = 1000000000;

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
  return OpenFile(now_ns, error);
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

bool Dump::Rotate(int64_t time_ns) {
  if (!writer_.Close()) {
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

void Dump::Write(int64_t timestamp_ns, uint32_t caplen, uint32_t len, const uint8_t* data) {
  if (ended_.load(std::memory_order_relaxed)) return;
  if (duration_end_ns_ != 0 && timestamp_ns >= duration_end_ns_) {
    End("duration");
    return;
  }
  if (config_.max_packets != 0 && packets_.load(std::memory_order_relaxed) >= config_.max_packets) {
    End("maxPackets");
    return;
  }
  const uint64_t record = writer_.RecordBytes(caplen);
  if (config_.max_bytes != 0 && closed_files_bytes_ + writer_.bytes() + record > config_.max_bytes) {
    End("maxBytes");
    return;
  }
  const bool file_full = config_.file_bytes != 0 && writer_.bytes() + record > config_.file_bytes;
  const bool file_old = config_.file_seconds != 0 && timestamp_ns - file_started_ns_ >= config_.file_seconds * 1000000000;
  if ((file_full || file_old) && writer_.packets() > 0) {
    // The new file's header counts against max_bytes too.
    if (!Rotate(timestamp_ns)) return;
    if (config_.max_bytes != 0 && closed_files_bytes_ + writer_.bytes() + record > config_.max_bytes) {
      End("maxBytes");
      return;
    }
  }
  switch (writer_.Write(timestamp_ns, caplen, len, data)) {
    case CaptureWriter::Status::kWritten:
      break;
    case CaptureWriter::Status::kFull:
      return;  // one record larger than a whole file: it cannot be stored (fileBytes is checked in JS)
    case CaptureWriter::Status::kFailed:
      Fail(writer_.error());
      return;
  }
  Count();
  if (config_.max_packets != 0 && packets_.load(std::memory_order_relaxed) >= config_.max_packets) End("maxPackets");
}

void Dump::Idle(int64_t now_ns) {
  if (ended_.load()) return;
  if (now_ns - last_flush_ns_ >= kFlushEveryNs) {
    last_flush_ns_ = now_ns;
    if (!writer_.Flush()) Fail(writer_.error());
  }
}

int64_t Dump::NextWakeNs() const {
  if (ended_.load()) return 0;
  int64_t wake = last_flush_ns_ + kFlushEveryNs;
  const int64_t stop_at = stop_at_ns_.load();
  if (stop_at != 0 && stop_at < wake) wake = stop_at;
  if (duration_end_ns_ != 0 && duration_end_ns_ < wake) wake = duration_end_ns_;
  return wake;
}

int Dump::Housekeep(int64_t now_ns, int read_timeout_ms) {
  const int64_t grace_ns = int64_t{read_timeout_ms} * 1000000;
  if (!ended()) {
    const int64_t stop_at = stop_at_ns_.load();
    if (stop_at != 0 && now_ns >= stop_at) {
      End("stopped");
    } else if (duration_end_ns_ != 0 && now_ns >= duration_end_ns_ + grace_ns) {
      // By now the kernel has handed over every packet stamped before the end.
      End("duration");
    } else {
      Idle(now_ns);
    }
  }
  if (ended()) return -1;
  // Packets stamped before the duration's end may sit in the kernel for up
  // to the read timeout: wake up that much later to collect them.
  int64_t wake = NextWakeNs();
  if (wake == duration_end_ns_) wake += grace_ns;
  const int64_t ms = (wake - NowNs()) / 1000000 + 1;
  return static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(ms, 1000)));
}

void Dump::End(const char* reason, const std::string& error_code, const std::string& error_message) {
  if (ended_.load()) return;
  const bool closed = writer_.Close();
  std::lock_guard<std::mutex> lock(status_mutex_);
  if (!closed && error_code.empty()) {
    reason_ = "error";
    error_code_ = writer_.error().code;
    error_message_ = writer_.error().message;
  } else {
    reason_ = reason;
    error_code_ = error_code;
    error_message_ = error_message;
  }
  Count();  // after a failed write: only the records the file really holds
  ended_.store(true);
}

void Dump::Fail(const CaptureWriter::Error& error) { End("error", error.code, error.message); }

Dump::Status Dump::GetStatus() const {
  Status status;
  status.ended = ended_.load();
  status.packets = packets_.load();
  status.bytes = bytes_.load();
  status.files = files_.load();
  std::lock_guard<std::mutex> lock(status_mutex_);
  status.reason = reason_;
  status.error_code = error_code_;
  status.error_message = error_message_;
  return status;
}
