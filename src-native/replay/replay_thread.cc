// ReplayHandle's replay thread: takes batches in order, checks, paces and
// sends each packet, and counts every one (see replay_handle.h).
#include <algorithm>
#include <cerrno>

#include "errors.h"
#include "platform/platform.h"
#include "replay/replay_handle.h"
#include "replay/send_queue.h"

namespace {

// A send the kernel refused for lack of buffer space is tried again this
// many times, a little later each time, before it counts as failed.
constexpr int kRetries = 200;
constexpr int64_t kRetryNapNs = 20000;
// This many failed sends in a row end the replay (EPCAP): the device
// refuses everything, and going on would only count failures.
constexpr int kMaxConsecutiveFailures = 100;
// A send queue holds at most this much, and is cut at a pause this long so
// that the thread, not the driver, sleeps through it (and sees a stop).
constexpr u_int kSendQueueBytes = 1 << 20;
constexpr int64_t kSendQueuePauseNs = 50000000;
constexpr int kLinktypeEthernet = 1;   // DLT_EN10MB
constexpr size_t kEthernetHeader = 14;
constexpr size_t kVlanTag = 4;

}  // namespace

void ReplayHandle::Run() {
  platform::NameThisThread("wirecap replay");
  platform::PreciseSleeps();
  // Paced only: at top speed the thread never sleeps, and a real-time
  // thread that never sleeps would starve its core.
  if (want_realtime_ && pacer_->paced()) realtime_.store(platform::RealtimeThread());
  for (;;) {
    std::unique_ptr<Batch> batch;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_.load() || ended_ || !queue_.empty(); });
      if (stop_.load()) {
        lock.unlock();
        Finish("stopped");
        break;
      }
      if (queue_.empty()) {
        lock.unlock();
        Finish("end");
        break;
      }
      batch = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= batch->data.size() + batch->packets.size() * sizeof(Packet);
      if (drain_wanted_ && queued_bytes_ < queue_limit_) {
        drain_wanted_ = false;
        Notify("drain");
      }
    }
    const bool more = use_send_queue_ ? SendBatchQueued(*batch) : SendBatch(*batch);
    cpu_ns_.store(platform::ThreadCpuNs());
    spin_margin_ns_.store(pacer_->spin_margin());
    if (!more) break;
  }
  cpu_ns_.store(platform::ThreadCpuNs());
  Notify("done");
}

void ReplayHandle::Finish(const char* reason, const char* code, const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  reason_ = reason;
  if (code != nullptr) {
    error_code_ = code;
    error_message_ = message;
  }
  for (const std::unique_ptr<Batch>& batch : queue_) unsent_ += batch->packets.size();
  queue_.clear();
  queued_bytes_ = 0;
  finished_ = true;
}

size_t ReplayHandle::MaxFrame(int linktype, const uint8_t* data, uint32_t caplen) const {
  if (mtu_ <= 0) return SIZE_MAX;
  if (linktype != kLinktypeEthernet) return static_cast<size_t>(mtu_);
  // An 802.1Q or 802.1ad tag rides on top of the MTU, as Linux allows it.
  const bool tagged = caplen >= kEthernetHeader && data[12] == 0x81 && data[13] == 0x00;
  const bool stacked = caplen >= kEthernetHeader && data[12] == 0x88 && data[13] == 0xa8;
  return static_cast<size_t>(mtu_) + kEthernetHeader + (tagged || stacked ? kVlanTag : 0);
}

ReplayHandle::Verdict ReplayHandle::Check(const Batch& batch, const Packet& p) {
  const uint8_t* data = batch.data.data() + p.offset;
  if (!filter_.empty()) {
    std::string error;
    if (!filter_.Prepare(batch.linktype, &error) && !error.empty()) {
      Finish("error", "EFILTER", error);
      return Verdict::kFail;
    }
    pcap_pkthdr header{};
    header.caplen = header.len = p.caplen;
    if (!filter_.Matches(batch.linktype, header, data)) {
      filtered_++;
      return Verdict::kSkip;
    }
  }
  const size_t max_frame = MaxFrame(batch.linktype, data, p.caplen);
  if (p.caplen > max_frame) {
    oversize_++;
    if (!oversize_error_) return Verdict::kSkip;
    Finish("error", "EMSGSIZE",
           "a " + std::to_string(p.caplen) + "-byte frame is longer than " + device_ + " carries (MTU " +
               std::to_string(mtu_) + ", frames up to " + std::to_string(max_frame) + " bytes), after " +
               std::to_string(sent_.load()) + " packets sent; oversize: 'skip' skips and counts such frames");
    return Verdict::kFail;
  }
  return Verdict::kSend;
}

bool ReplayHandle::WaitForPacket(const Packet& p, bool first_of_pass, int64_t* due) {
  if (first_of_pass) pacer_->Restart();
  *due = pacer_->Due(p.timestamp, p.caplen);
  const int64_t origin = pacer_->origin();
  if (duration_ns_ > 0 && std::max(*due, platform::MonotonicNs()) - origin >= duration_ns_) {
    Finish("duration");
    return false;
  }
  if (!pacer_->WaitFor(*due, stop_)) {
    Finish("stopped");
    return false;
  }
  return true;
}

void ReplayHandle::CountLateness(int64_t due, int64_t sent_at) {
  if (first_sent_at_.load(std::memory_order_relaxed) == 0) first_sent_at_.store(sent_at);
  last_sent_at_.store(sent_at, std::memory_order_relaxed);
  if (due == 0) return;  // as fast as possible: never late
  const int64_t late = sent_at - due;
  if (late > late_ns_) late_.fetch_add(1, std::memory_order_relaxed);
  if (late > worst_late_ns_.load(std::memory_order_relaxed)) worst_late_ns_.store(late, std::memory_order_relaxed);
}

bool ReplayHandle::SendOne(const uint8_t* data, uint32_t caplen, Failure* failure, std::string* detail) {
  for (int attempt = 0;; attempt++) {
    errno = 0;
    const bool ok = use_inject_ ? api_->inject(pcap_, data, caplen) >= 0
                                : api_->sendpacket(pcap_, data, static_cast<int>(caplen)) == 0;
    if (ok) return true;
    const int err = errno;
    *detail = api_->geterr(pcap_);
    if (err == ENOBUFS || err == EAGAIN || err == EINTR) {
      *failure = Failure::kRetry;
    } else if (err == EMSGSIZE || detail->find("Message too long") != std::string::npos) {
      *failure = Failure::kTooLong;
    } else if (err == ENETDOWN || err == ENXIO || err == ENODEV ||
               detail->find("No such device or address") != std::string::npos ||
               std::string(CodeForCaptureFailure(0, *detail)) == "ENETDOWN") {
      *failure = Failure::kGone;
    } else {
      *failure = Failure::kOther;
    }
    if (*failure != Failure::kRetry || attempt >= kRetries) return false;
    platform::SleepUntil(platform::MonotonicNs() + kRetryNapNs);
  }
}

bool ReplayHandle::SendBatch(Batch& batch) {
  const size_t count = batch.packets.size();
  for (size_t i = 0; i < count; i++) {
    const Packet& p = batch.packets[i];
    const auto rest = [&] { unsent_ += count - i; };
    const bool first_of_pass = batch.restart && i == 0;
    if (stop_.load(std::memory_order_relaxed)) {
      rest();
      Finish("stopped");
      return false;
    }
    const Verdict verdict = Check(batch, p);
    if (verdict == Verdict::kFail) {
      unsent_ += count - i - 1;  // this one is counted as oversize
      return false;
    }
    if (verdict == Verdict::kSkip) {
      if (first_of_pass) pacer_->Restart();
      continue;
    }
    int64_t due = 0;
    if (!WaitForPacket(p, first_of_pass, &due)) {
      rest();
      return false;
    }
    Failure failure = Failure::kOther;
    std::string detail;
    const int64_t at = platform::MonotonicNs();
    if (SendOne(batch.data.data() + p.offset, p.caplen, &failure, &detail)) {
      sent_.fetch_add(1, std::memory_order_relaxed);
      bytes_.fetch_add(p.caplen, std::memory_order_relaxed);
      CountLateness(due, at);
      consecutive_failures_ = 0;
    } else if (failure == Failure::kTooLong && !oversize_error_) {
      oversize_++;
    } else {
      failed_++;
      const std::string counts = " after " + std::to_string(sent_.load()) + " packets (" +
                                 std::to_string(bytes_.load()) + " bytes) sent";
      if (failure == Failure::kGone || failure == Failure::kTooLong ||
          ++consecutive_failures_ >= kMaxConsecutiveFailures) {
        unsent_ += count - i - 1;
        const char* code = failure == Failure::kGone ? "ENETDOWN" : failure == Failure::kTooLong ? "EMSGSIZE" : "EPCAP";
        Finish("error", code, "cannot send on " + device_ + ": " + detail + counts);
        return false;
      }
    }
    if (max_packets_ > 0 && sent_.load(std::memory_order_relaxed) >= max_packets_) {
      unsent_ += count - i - 1;
      Finish("maxPackets");
      return false;
    }
  }
  return true;
}

// Windows: the packets go in send queues, which the driver paces itself
// (sync) from the offsets the Pacer gives; the thread sleeps until each
// queue's first packet is due.
bool ReplayHandle::SendBatchQueued(Batch& batch) {
  SendQueue queue(*api_, kSendQueueBytes);
  if (!queue.ok()) {
    unsent_ += batch.packets.size();
    Finish("error", "EPCAP", "pcap_sendqueue_alloc failed");
    return false;
  }
  const bool sync = pace_mode_ != Pacer::Mode::kTop;
  int64_t queue_due = 0, last_due = 0;
  uint64_t queued_bytes = 0;
  const auto flush = [&]() -> bool {
    if (queue.empty()) return true;
    const size_t queued = queue.count();
    if (sync && !pacer_->WaitFor(queue_due, stop_)) {
      unsent_ += queued;
      Finish("stopped");
      return false;
    }
    const int64_t at = platform::MonotonicNs();
    const size_t whole = queue.Transmit(pcap_, sync);
    sent_ += whole;
    bytes_ += queued_bytes;  // corrected below when not all went out
    CountLateness(sync ? queue_due : 0, at);
    last_sent_at_.store(platform::MonotonicNs());
    if (whole < queued) {
      failed_ += queued - whole;
      const std::string detail = api_->geterr(pcap_);
      const char* code = std::string(CodeForCaptureFailure(0, detail)) == "ENETDOWN" ? "ENETDOWN" : "EPCAP";
      Finish("error", code, "cannot send on " + device_ + ": the send queue stopped after " + std::to_string(whole) +
                                " of " + std::to_string(queued) + " packets (" + detail + ")");
      return false;
    }
    queued_bytes = 0;
    return true;
  };
  const size_t count = batch.packets.size();
  for (size_t i = 0; i < count; i++) {
    const Packet& p = batch.packets[i];
    const bool first_of_pass = batch.restart && i == 0;
    const Verdict verdict = Check(batch, p);
    if (verdict == Verdict::kFail) {
      unsent_ += count - i - 1 + queue.count();
      return false;
    }
    if (verdict == Verdict::kSkip) {
      if (first_of_pass) pacer_->Restart();
      continue;
    }
    if (first_of_pass) pacer_->Restart();
    const int64_t due = pacer_->Due(p.timestamp, p.caplen);
    if (duration_ns_ > 0 && std::max(due, platform::MonotonicNs()) - pacer_->origin() >= duration_ns_) {
      unsent_ += count - i;
      if (flush()) Finish("duration");
      return false;
    }
    const bool limit = max_packets_ > 0 && sent_.load() + queue.count() + 1 >= max_packets_;
    if (!queue.empty() && sync && due - last_due > kSendQueuePauseNs && !flush()) {
      unsent_ += count - i;
      return false;
    }
    if (queue.empty()) queue_due = due;
    if (!queue.Add(due - queue_due, batch.data.data() + p.offset, p.caplen)) {
      if (!flush()) {
        unsent_ += count - i;
        return false;
      }
      queue_due = due;
      queue.Add(0, batch.data.data() + p.offset, p.caplen);
    }
    queued_bytes += p.caplen;
    last_due = due;
    if (limit) {
      unsent_ += count - i - 1;
      if (flush()) Finish("maxPackets");
      return false;
    }
  }
  return flush();
}
