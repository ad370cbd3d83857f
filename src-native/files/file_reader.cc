// FileReader (see file_reader.h): opening a file, and the pcap half of
// reading it; pcapng_reader.cc has the pcapng half. Runs on the thread that
// reads the file: the JS thread at open, the capture thread afterwards.
#include "files/record_format.h"  // first: it sets up mingw's stdio
#include "files/file_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace files {

uint32_t FileReader::U32(const uint8_t* p) const {
  const uint32_t v = Native32(p);
  return swapped_ ? Swap32(v) : v;
}

uint16_t FileReader::U16(const uint8_t* p) const {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return swapped_ ? static_cast<uint16_t>((v >> 8) | (v << 8)) : v;
}

bool FileReader::Fail(const char* code, std::string message) {
  error_.code = code;
  error_.message = std::move(message);
  return false;
}

std::unique_ptr<FileReader> FileReader::Open(const std::string& path, bool nano, uint64_t prefix, uint64_t start,
                                             ReadError* error) {
  std::unique_ptr<FileReader> reader(new FileReader());
  reader->nano_ = nano;
  const int status = reader->file_.Open(path);
  if (status != 0) {
    error->code = status == ENOENT ? "ENOENT" : status == EACCES ? "EACCES" : "EIO";
    error->message = std::strerror(status);
    return nullptr;
  }
  uint8_t header[24];
  size_t got = 0;
  const int read_status = reader->file_.ReadAt(0, header, sizeof header, &got);
  bool ok;
  if (read_status != 0) {
    ok = reader->Fail("EIO", ReadErrorText(read_status));
  } else if (got < 4) {
    ok = reader->Fail("EBADFORMAT", Format("truncated dump file; tried to read 4 file header bytes, only got %zu", got));
  } else {
    const uint32_t magic = Native32(header);
    const bool pcap = magic == kPcapMagic || magic == kPcapNsecMagic || magic == kKuznetzovMagic ||
                      Swap32(magic) == kPcapMagic || Swap32(magic) == kPcapNsecMagic || Swap32(magic) == kKuznetzovMagic;
    ok = pcap ? reader->OpenPcap(header, got)
         : magic == kShb ? reader->OpenPcapng(header, got)
                         : reader->Fail("EBADFORMAT", "unknown file format");
  }
  // The blocks between the first packet and a seek's start: more interfaces.
  while (ok && reader->pcapng_ && start > 0 && reader->offset_ < prefix) {
    const int block = reader->ReadBlock();
    Record ignored;
    ok = block == 1 && reader->ParseBlock(reader->block_.data(), static_cast<uint32_t>(reader->block_.size()), &ignored) !=
                           Block::kError;
    if (block == 0) ok = reader->Fail("EBADFORMAT", "the file ends before the position a seek found");
  }
  if (!ok) {
    *error = reader->error_;
    return nullptr;
  }
  reader->block_ = std::vector<uint8_t>();
  if (start > 0) reader->offset_ = start;
  return reader;
}

// sf-pcap.c's pcap_check_header.
bool FileReader::OpenPcap(const uint8_t* header, size_t got) {
  uint32_t magic = Native32(header);
  if (magic != kPcapMagic && magic != kPcapNsecMagic && magic != kKuznetzovMagic) {
    swapped_ = true;
    magic = Swap32(magic);
  }
  if (got < 24) {
    return Fail("EBADFORMAT",
                Format("truncated dump file; tried to read 24 file header bytes, only got %zu", got - 4));
  }
  version_major_ = U16(header + 4);
  version_minor_ = U16(header + 6);
  const uint32_t snaplen = U32(header + 16);
  const uint32_t linktype = U32(header + 20);
  if (version_major_ < 2) return Fail("EBADFORMAT", "archaic pcap savefile format");
  if (!((version_major_ == 2 && version_minor_ <= 4) || (version_major_ == 543 && version_minor_ == 0))) {
    return Fail("EBADFORMAT", Format("unsupported pcap savefile version %u.%u", version_major_, version_minor_));
  }
  linktype_ = DltOf(linktype & 0x03ffffff);
  snaplen_ = static_cast<int>(AdjustSnaplen(linktype_, snaplen));
  if (nano_) {
    pcap_scale_ = magic == kPcapNsecMagic ? kPass : kUp;
  } else {
    pcap_scale_ = magic == kPcapNsecMagic ? kDown : kPass;
  }
  if (version_major_ == 543 || version_minor_ < 3) {
    lengths_ = kSwapped;
  } else if (version_minor_ == 3) {
    lengths_ = kMaybeSwapped;
  }
  if (magic == kKuznetzovMagic) {
    record_header_ = 24;
    if (linktype_ == kDltEn10mb) snaplen_ = snaplen_ <= 0x7fffffff - 14 ? snaplen_ + 14 : 0x7fffffff;
  }
  offset_ = 24;
  return true;
}




FileReader::Status FileReader::Fill(uint8_t* buffer, size_t capacity, std::vector<Record>* records, size_t* used) {
  *used = 0;
  if (error_.code != nullptr) return Status::kError;
  // Read and parsed a piece at a time, so that the record headers are
  // parsed while the kernel's copy of them is still in the cache.
  constexpr size_t kPieceBytes = 256 << 10;
  size_t got = 0;
  for (;;) {
    const size_t want = std::min(kPieceBytes, capacity - got);
    size_t n = 0;
    const int status = file_.ReadAt(offset_ + got, buffer + got, want, &n);
    if (status != 0) {
      offset_ += *used;
      Fail("EIO", ReadErrorText(status));
      return Status::kError;
    }
    got += n;
    // A regular file's read comes short only at its end.
    const bool eof = n < want;
    const bool full = got == capacity;
    const Status result = pcapng_ ? FillPcapng(buffer, got, eof, full, records, used)
                                  : FillPcap(buffer, got, eof, full, records, used);
    if (result == Status::kMore && !eof && !full) continue;
    if (result != Status::kTooSmall) offset_ += *used;
    return result;
  }
}

// A record at pos goes on past what the buffer holds: read more, or (the
// buffer full) leave it to the next buffer, or ask for a larger one.
FileReader::Status FileReader::Incomplete(size_t pos, bool full, size_t record, size_t* used) {
  if (pos > 0 || !full) return Status::kMore;
  *used = record;
  return Status::kTooSmall;
}

// pcap_next_packet, over the records in buffer from *used on.
FileReader::Status FileReader::FillPcap(uint8_t* buffer, size_t got, bool eof, bool full,
                                        std::vector<Record>* records, size_t* used) {
  const uint32_t snapshot = static_cast<uint32_t>(snaplen_);
  const uint32_t max_caplen = MaxSnaplen(linktype_);
  size_t pos = *used;
  for (;;) {
    const size_t left = got - pos;
    if (left < record_header_) {
      *used = pos;
      if (!eof) return Incomplete(pos, full, record_header_, used);
      if (left == 0) return Status::kEnd;
      Fail("ETRUNCATED", Format("truncated dump file; tried to read %zu header bytes, only got %zu", record_header_, left));
      return Status::kError;
    }
    const uint8_t* h = buffer + pos;
    // Seconds and fractions are signed 32-bit fields in struct pcap_timeval.
    const int64_t seconds = static_cast<int32_t>(U32(h));
    int64_t fraction = static_cast<int32_t>(U32(h + 4));
    uint32_t caplen = U32(h + 8);
    uint32_t len = U32(h + 12);
    if (lengths_ == kSwapped || (lengths_ == kMaybeSwapped && caplen > len)) std::swap(caplen, len);
    if (caplen > max_caplen) {
      *used = pos;
      if (caplen > snapshot) {
        Fail("EBADFORMAT", Format("invalid packet capture length %u, bigger than snaplen of %d", caplen, snaplen_));
      } else {
        Fail("EBADFORMAT", Format("invalid packet capture length %u, bigger than maximum of %u", caplen, max_caplen));
      }
      return Status::kError;
    }
    const size_t record = record_header_ + caplen;
    if (left < record) {
      *used = pos;
      if (!eof) return Incomplete(pos, full, record, used);
      const size_t have = left - record_header_;
      if (caplen > snapshot && have < snapshot) {
        Fail("ETRUNCATED", Format("truncated dump file; tried to read %d captured bytes, only got %zu", snaplen_, have));
      } else {
        Fail("ETRUNCATED", Format("truncated dump file; tried to read %u captured bytes, only got %zu", caplen, have));
      }
      return Status::kError;
    }
    if (pcap_scale_ == kUp) fraction *= 1000;
    if (pcap_scale_ == kDown) fraction /= 1000;
    // Longer than the file's snaplen: libpcap hands out the first snaplen bytes.
    records->push_back(Record{seconds * 1000000000 + (nano_ ? fraction : fraction * 1000), std::min(caplen, snapshot),
                              len, static_cast<uint32_t>(pos + record_header_), 0});
    pos += record;
  }
}

}  // namespace files
