// The capture-file writer (see capture_writer.h). Each writer is used by
// one thread at a time: a dump's capture thread (under the dump's lock), or
// the JS thread for createWriter().
#include "files/capture_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace {

// Records are gathered to this size before a write() call.
constexpr size_t kBufferBytes = 256 << 10;

constexpr uint32_t kPcapMagicMicro = 0xa1b2c3d4;
constexpr uint32_t kPcapMagicNano = 0xa1b23c4d;

constexpr uint32_t kSectionHeaderBlock = 0x0A0D0D0A;
constexpr uint32_t kInterfaceDescriptionBlock = 1;
constexpr uint32_t kEnhancedPacketBlock = 6;
constexpr uint32_t kInterfaceStatisticsBlock = 5;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint16_t kOptEndOfOpt = 0;
constexpr uint16_t kOptShbHardware = 2;
constexpr uint16_t kOptShbOs = 3;
constexpr uint16_t kOptShbUserAppl = 4;
constexpr uint16_t kOptIfName = 2;
constexpr uint16_t kOptIfDescription = 3;
constexpr uint16_t kOptIfTsresol = 9;
constexpr uint16_t kOptIfFilter = 11;
constexpr uint16_t kOptIsbStartTime = 2;
constexpr uint16_t kOptIsbEndTime = 3;
constexpr uint16_t kOptIsbIfRecv = 4;
constexpr uint16_t kOptIsbIfDrop = 5;
constexpr uint16_t kOptIsbFilterAccept = 6;
constexpr uint16_t kOptIsbOsDrop = 7;
constexpr uint16_t kOptIsbUsrDeliv = 8;
// An ISB with every option: 24 bytes of block, 7 options of 8-byte values, the end marker.
constexpr uint64_t kIsbBytes = 24 + 7 * 12 + 4;

constexpr uint32_t Pad4(uint32_t n) { return (n + 3) & ~3u; }

class Appender {
 public:
  explicit Appender(std::vector<uint8_t>* out) : out_(out) {}
  template <typename T>
  void Put(T value) {
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    out_->insert(out_->end(), p, p + sizeof value);
  }
  void Bytes(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    out_->insert(out_->end(), p, p + n);
  }
  void Zeros(size_t n) { out_->insert(out_->end(), n, 0); }
  // A pcapng option: code, length, value padded to 4 bytes.
  void Option(uint16_t code, const void* value, uint16_t n) {
    Put(code);
    Put(n);
    Bytes(value, n);
    Zeros(Pad4(n) - n);
  }
  // A text option, left out when empty (and cut to what a length can say).
  void Text(uint16_t code, const std::string& text) {
    if (!text.empty()) Option(code, text.data(), static_cast<uint16_t>(std::min<size_t>(text.size(), 0xfff0)));
  }
  // A 64-bit option as two 32-bit halves, high first: timestamps are written so.
  void Time(uint16_t code, uint64_t units) {
    const uint32_t halves[2] = {static_cast<uint32_t>(units >> 32), static_cast<uint32_t>(units)};
    Option(code, halves, sizeof halves);
  }
  void Counter(uint16_t code, uint64_t value) { Option(code, &value, sizeof value); }
  // Starts a pcapng block; EndBlock() ends its options and fills in its length.
  size_t StartBlock(uint32_t type) {
    const size_t start = out_->size();
    Put(type);
    Put<uint32_t>(0);
    return start;
  }
  void EndBlock(size_t start, bool options) {
    if (options) Put<uint32_t>(kOptEndOfOpt);  // opt_endofopt: code 0, length 0
    const uint32_t bytes = static_cast<uint32_t>(out_->size() - start + 4);
    std::memcpy(out_->data() + start + 4, &bytes, 4);
    Put(bytes);
  }

 private:
  std::vector<uint8_t>* out_;
};

// Whole seconds and the nanoseconds after them. Floor division, so times
// before 1970 keep a fraction in [0, 1 s).
void SplitNs(int64_t timestamp_ns, int64_t* seconds, int64_t* fraction_ns) {
  *seconds = timestamp_ns / 1000000000;
  *fraction_ns = timestamp_ns % 1000000000;
  if (*fraction_ns < 0) {
    *fraction_ns += 1000000000;
    *seconds -= 1;
  }
}

// A timestamp in an interface's units (10^-6 or 10^-9 s), from ns.
uint64_t Units(int64_t timestamp_ns, bool nano) {
  int64_t seconds, fraction_ns;
  SplitNs(timestamp_ns, &seconds, &fraction_ns);
  return nano ? static_cast<uint64_t>(timestamp_ns) : static_cast<uint64_t>(seconds * 1000000 + fraction_ns / 1000);
}

// Files carry LINKTYPE_ values, which differ from the platform's DLT_
// values for a few old types (as libpcap's pcap_dump_open translates them).
uint32_t LinktypeForFile(int dlt) {
  switch (dlt) {
    case 11:  // DLT_ATM_RFC1483
      return 100;
    case 12:  // DLT_RAW (most systems)
    case 14:  // DLT_RAW (OpenBSD)
      return 101;
    case 15:  // DLT_SLIP_BSDOS
      return 102;
    case 16:  // DLT_PPP_BSDOS
      return 103;
    default:
      return static_cast<uint32_t>(dlt);
  }
}

const char* ErrnoCode(int errnum) {
  switch (errnum) {
    case ENOSPC: return "ENOSPC";
    case EACCES: return "EACCES";
    case EPERM: return "EACCES";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOENT";
    case EISDIR: return "EISDIR";
    case EROFS: return "EROFS";
#ifdef EDQUOT
    case EDQUOT: return "ENOSPC";
#endif
    case EFBIG: return "EFBIG";
    case EMFILE: return "EMFILE";
    case EPIPE: return "EPIPE";  // the reader of a pipe went away
    default: return "EIO";
  }
}

}  // namespace

bool CaptureWriter::Open(const std::string& path, const Options& options, Error* error) {
  options_ = options;
  path_ = path;
  error_ = Error();
  buffer_.clear();
  record_ends_.clear();
  file_bytes_ = 0;
  packets_ = 0;
  buffer_.reserve(kBufferBytes);
  if (options.resume_bytes > 0) {
    int err = file_.Resume(path, options.resume_bytes);
    if (err != 0) {
      Fail(err, "cannot resume");
      *error = error_;
      return false;
    }
    open_ = true;
    file_bytes_ = options.resume_bytes;
    return true;
  }
  int err = file_.Create(path);
  if (err != 0) {
    Fail(err, "cannot create");
    *error = error_;
    return false;
  }
  open_ = true;
  AppendHeader();
  if (!Flush()) {
    *error = error_;
    file_.Close();
    if (path != platform::kStandardOutput) platform::RemoveFile(path);
    open_ = false;
    return false;
  }
  return true;
}

void CaptureWriter::AppendHeader() {
  Appender out(&buffer_);
  const Interface& first = options_.interfaces.front();
  if (options_.format == Format::kPcap) {
    out.Put<uint32_t>(first.nano ? kPcapMagicNano : kPcapMagicMicro);
    out.Put<uint16_t>(2);
    out.Put<uint16_t>(4);
    out.Put<int32_t>(0);   // thiszone: timestamps are UTC
    out.Put<uint32_t>(0);  // sigfigs
    out.Put<uint32_t>(static_cast<uint32_t>(first.snaplen));
    out.Put<uint32_t>(LinktypeForFile(first.linktype));
  } else {
    size_t block = out.StartBlock(kSectionHeaderBlock);
    out.Put(kByteOrderMagic);
    out.Put<uint16_t>(1);
    out.Put<uint16_t>(0);
    out.Put<int64_t>(-1);  // section length not given: the file is written as a stream
    out.Text(kOptShbHardware, options_.hardware);
    out.Text(kOptShbOs, options_.os);
    out.Text(kOptShbUserAppl, options_.user_appl);
    out.EndBlock(block, true);

    for (const Interface& iface : options_.interfaces) {
      block = out.StartBlock(kInterfaceDescriptionBlock);
      out.Put<uint16_t>(static_cast<uint16_t>(LinktypeForFile(iface.linktype)));
      out.Put<uint16_t>(0);
      out.Put<uint32_t>(static_cast<uint32_t>(iface.snaplen));
      out.Text(kOptIfName, iface.name);
      out.Text(kOptIfDescription, iface.description);
      const uint8_t tsresol = iface.nano ? 9 : 6;  // 10^-9 or 10^-6 seconds
      out.Option(kOptIfTsresol, &tsresol, 1);
      if (!iface.filter.empty()) {
        std::string value(1, '\0');  // 0: the filter is libpcap filter text
        value += iface.filter;
        out.Text(kOptIfFilter, value);
      }
      out.EndBlock(block, true);
    }
  }
  record_ends_.push_back(buffer_.size());
}

uint64_t CaptureWriter::SmallestFile(const Options& options) {
  CaptureWriter writer;
  writer.options_ = options;
  writer.AppendHeader();
  int snaplen = 0;
  for (const Interface& iface : options.interfaces) snaplen = std::max(snaplen, iface.snaplen);
  return writer.buffer_.size() + writer.TrailerBytes() + writer.RecordBytes(static_cast<uint32_t>(snaplen));
}

uint64_t CaptureWriter::TrailerBytes() const {
  return options_.format == Format::kPcap ? 0 : kIsbBytes * options_.interfaces.size();
}

uint64_t CaptureWriter::RecordBytes(uint32_t caplen) const {
  return options_.format == Format::kPcap ? 16 + uint64_t{caplen} : 32 + uint64_t{Pad4(caplen)};
}

CaptureWriter::Status CaptureWriter::Write(uint32_t iface, int64_t timestamp_ns, uint32_t caplen, uint32_t len,
                                           const uint8_t* data) {
  if (!open_) return Status::kFailed;
  const uint64_t record = RecordBytes(caplen);
  if (options_.max_bytes != 0 && bytes() + record + TrailerBytes() > options_.max_bytes) return Status::kFull;
  if (buffer_.size() + record > kBufferBytes && !Flush()) return Status::kFailed;
  AppendRecord(iface, timestamp_ns, caplen, len, data);
  packets_++;
  if (buffer_.size() >= kBufferBytes && !Flush()) return Status::kFailed;
  return Status::kWritten;
}

void CaptureWriter::AppendRecord(uint32_t iface, int64_t timestamp_ns, uint32_t caplen, uint32_t len,
                                 const uint8_t* data) {
  Appender out(&buffer_);
  const bool nano = options_.interfaces[iface].nano;
  if (options_.format == Format::kPcap) {
    int64_t seconds, fraction_ns;
    SplitNs(timestamp_ns, &seconds, &fraction_ns);
    out.Put<uint32_t>(static_cast<uint32_t>(seconds));
    out.Put<uint32_t>(static_cast<uint32_t>(nano ? fraction_ns : fraction_ns / 1000));
    out.Put(caplen);
    out.Put(len);
    out.Bytes(data, caplen);
  } else {
    const uint64_t units = Units(timestamp_ns, nano);
    const uint32_t block_bytes = static_cast<uint32_t>(RecordBytes(caplen));
    out.Put(kEnhancedPacketBlock);
    out.Put(block_bytes);
    out.Put<uint32_t>(iface);
    out.Put<uint32_t>(static_cast<uint32_t>(units >> 32));
    out.Put<uint32_t>(static_cast<uint32_t>(units));
    out.Put(caplen);
    out.Put(len);
    out.Bytes(data, caplen);
    out.Zeros(Pad4(caplen) - caplen);
    out.Put(block_bytes);
  }
  record_ends_.push_back(buffer_.size());
}

void CaptureWriter::AppendStatistics(uint32_t iface, const InterfaceStats& stats) {
  Appender out(&buffer_);
  const bool nano = options_.interfaces[iface].nano;
  const uint64_t units = Units(stats.time_ns, nano);
  const size_t block = out.StartBlock(kInterfaceStatisticsBlock);
  out.Put<uint32_t>(iface);
  out.Put<uint32_t>(static_cast<uint32_t>(units >> 32));
  out.Put<uint32_t>(static_cast<uint32_t>(units));
  out.Time(kOptIsbStartTime, Units(stats.start_ns, nano));
  out.Time(kOptIsbEndTime, Units(stats.end_ns, nano));
  if (stats.have_kernel) {
    out.Counter(kOptIsbIfRecv, stats.received);
    out.Counter(kOptIsbIfDrop, stats.if_dropped);
    out.Counter(kOptIsbOsDrop, stats.os_dropped);
  }
  out.Counter(kOptIsbFilterAccept, stats.captured);
  out.Counter(kOptIsbUsrDeliv, stats.written);
  out.EndBlock(block, true);
  record_ends_.push_back(buffer_.size());
}

bool CaptureWriter::Flush() {
  if (!open_) return error_.errnum == 0;
  if (buffer_.empty()) return true;
  size_t written = 0;
  int err = file_.Write(buffer_.data(), buffer_.size(), &written);
  if (err != 0) {
    // Keep the records that went out whole; drop the torn one.
    size_t whole = 0;
    uint64_t lost = 0;
    for (size_t end : record_ends_) {
      if (end <= written) {
        whole = end;
      } else {
        lost++;
      }
    }
    packets_ -= std::min(lost, packets_);
    file_.Truncate(file_bytes_ + whole);
    file_bytes_ += whole;
    buffer_.clear();
    record_ends_.clear();
    Fail(err, "cannot write");
    file_.Close();
    open_ = false;
    return false;
  }
  file_bytes_ += buffer_.size();
  buffer_.clear();
  record_ends_.clear();
  return true;
}

bool CaptureWriter::Close(const std::vector<InterfaceStats>* stats) {
  if (!open_) return error_.errnum == 0;
  if (stats != nullptr && options_.format == Format::kPcapng) {
    for (uint32_t i = 0; i < stats->size() && i < options_.interfaces.size(); i++) AppendStatistics(i, (*stats)[i]);
  }
  bool flushed = Flush();
  if (!flushed) return false;
  int err = file_.Close();
  open_ = false;
  if (err != 0) return Fail(err, "cannot close");
  return true;
}

bool CaptureWriter::Fail(int errnum, const std::string& what) {
  error_.errnum = errnum;
  error_.code = ErrnoCode(errnum);
  error_.message = what + " " + path_ + ": " + std::strerror(errnum);
  return false;
}
