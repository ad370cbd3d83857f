#if defined(_WIN32) && !defined(__USE_MINGW_ANSI_STDIO)
#define __USE_MINGW_ANSI_STDIO 1  // mingw's own vsnprintf, which knows %zu
#endif
#include "files/file_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace files {

namespace {

constexpr uint32_t kPcapMagic = 0xa1b2c3d4;
constexpr uint32_t kPcapNsecMagic = 0xa1b23c4d;
constexpr uint32_t kKuznetzovMagic = 0xa1b2cd34;
constexpr uint32_t kShb = 0x0a0d0d0a;
constexpr uint32_t kByteOrderMagic = 0x1a2b3c4d;
constexpr uint32_t kIdb = 1, kPb = 2, kSpb = 3, kEpb = 6;
constexpr uint32_t kShbInsaneMax = 1024 * 1024;
constexpr uint32_t kMaximumSnaplen = 262144;
constexpr int kDltEn10mb = 1;

uint32_t Swap32(uint32_t v) { return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24); }

uint32_t Native32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// libpcap's max_snaplen_for_dlt: the largest packet it considers sane.
uint32_t MaxSnaplen(int dlt) {
  switch (dlt) {
    case 231: return 128 * 1024 * 1024;  // DLT_DBUS
    case 279: return 8 * 1024 * 1024;    // DLT_EBHSCR
    case 249: return 1024 * 1024;        // DLT_USBPCAP
    default: return kMaximumSnaplen;
  }
}

// libpcap's pcap_adjust_snapshot.
uint32_t AdjustSnaplen(int dlt, uint32_t snaplen) {
  return snaplen == 0 || snaplen > 0x7fffffff ? MaxSnaplen(dlt) : snaplen;
}

// LINKTYPE_ to DLT_ (libpcap's linktype_to_dlt): they differ for a few old
// types; the rest are the same number.
int DltOf(uint32_t linktype) {
  switch (linktype) {
    case 100: return 11;  // ATM_RFC1483
#ifdef __OpenBSD__
    case 101: return 14;  // RAW
#else
    case 101: return 12;
#endif
    case 102: return 15;  // SLIP_BSDOS
    case 103: return 16;  // PPP_BSDOS
    case 106: return 19;  // ATM_CLIP (Linux)
    default: return static_cast<int>(linktype);
  }
}

std::string Format(const char* format, ...) {
  char text[256];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  return text;
}

std::string ReadErrorText(int errnum) { return std::string("error reading dump file: ") + std::strerror(errnum); }

}  // namespace

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

// sf-pcapng.c's pcap_ng_check_header: the first section header, then the
// blocks up to the first interface (and on to the first packet).
bool FileReader::OpenPcapng(const uint8_t* header, size_t got) {
  pcapng_ = true;
  if (got < 12) return Fail("EBADFORMAT", "unknown file format");
  uint32_t total_length = Native32(header + 4);
  const uint32_t byte_order = Native32(header + 8);
  if (byte_order != kByteOrderMagic) {
    if (Swap32(byte_order) != kByteOrderMagic) return Fail("EBADFORMAT", "unknown file format");
    swapped_ = true;
    total_length = Swap32(total_length);
  }
  if (total_length < 28 || total_length > kShbInsaneMax) {
    return Fail("EBADFORMAT",
                Format("Section Header Block in pcapng dump file has invalid length %zu < _%u_ < %u (BT_SHB_INSANE_MAX)",
                       size_t{28}, total_length, kShbInsaneMax));
  }
  std::vector<uint8_t> shb(total_length);
  size_t shb_got = 0;
  const int status = file_.ReadAt(0, shb.data(), total_length, &shb_got);
  if (status != 0) return Fail("EIO", ReadErrorText(status));
  if (shb_got < total_length) {
    return Fail("ETRUNCATED", Format("truncated pcapng dump file; tried to read %zu bytes, only got %zu",
                                     size_t{total_length - 12}, shb_got < 12 ? 0 : shb_got - 12));
  }
  version_major_ = U16(shb.data() + 12);
  version_minor_ = U16(shb.data() + 14);
  if (!(version_major_ == 1 && (version_minor_ == 0 || version_minor_ == 2))) {
    return Fail("EBADFORMAT", Format("unsupported pcapng savefile version %u.%u", version_major_, version_minor_));
  }
  offset_ = total_length;
  for (;;) {
    const int block = ReadBlock();
    if (block == 0) return Fail("EBADFORMAT", "the capture file has no Interface Description Blocks");
    if (block < 0) return false;
    const uint32_t type = U32(block_.data());
    if (type == kEpb || type == kSpb || type == kPb) {
      return Fail("EBADFORMAT", "the capture file has a packet block before any Interface Description Blocks");
    }
    if (type != kIdb) continue;
    const uint8_t* body = block_.data() + 8;
    const size_t size = block_.size() - 12;
    if (size < 8) return Fail("EBADFORMAT", Format("block of type %u in pcapng dump file is too short", type));
    if (!AddInterface(body, size)) return false;
    ReadAheadToFirstPacket();
    return true;
  }
}

// The blocks after the first interface up to the first packet: the rest of
// the interfaces, known at open. A block that fails stays unread, for
// Fill() to report after the packets before it, where libpcap reports it.
void FileReader::ReadAheadToFirstPacket() {
  for (;;) {
    const uint64_t at = offset_;
    const int block = ReadBlock();
    Record ignored;
    if (block == 1) {
      const uint32_t type = U32(block_.data());
      if (type != kEpb && type != kSpb && type != kPb &&
          ParseBlock(block_.data(), static_cast<uint32_t>(block_.size()), &ignored) != Block::kError) {
        continue;
      }
    }
    offset_ = at;
    error_ = ReadError();
    return;
  }
}

FileReader::Block FileReader::TooShort(uint32_t type) {
  Fail("EBADFORMAT", Format("block of type %u in pcapng dump file is too short", type));
  return Block::kError;
}

bool FileReader::CheckBlockLength(uint32_t total_length) {
  if (total_length < 12) {
    return Fail("EBADFORMAT", Format("block in pcapng dump file has a length of %u < %zu", total_length, size_t{12}));
  }
  if (total_length % 4 != 0) {
    return Fail("EBADFORMAT",
                Format("block in pcapng dump file has a length of %u that is not a multiple of 4", total_length));
  }
  if (total_length > max_block_) {
    return Fail("EBADFORMAT", Format("pcapng block size %u > maximum %u", total_length, max_block_));
  }
  return true;
}

int FileReader::ReadBlock() {
  uint8_t header[8];
  size_t got = 0;
  int status = file_.ReadAt(offset_, header, 8, &got);
  if (status != 0) {
    Fail("EIO", ReadErrorText(status));
    return -1;
  }
  if (got == 0) return 0;
  if (got < 8) {
    Fail("ETRUNCATED", Format("truncated pcapng dump file; tried to read %zu bytes, only got %zu", size_t{8}, got));
    return -1;
  }
  const uint32_t total_length = U32(header + 4);
  if (!CheckBlockLength(total_length)) return -1;
  block_.resize(total_length);
  status = file_.ReadAt(offset_, block_.data(), total_length, &got);
  if (status != 0) {
    Fail("EIO", ReadErrorText(status));
    return -1;
  }
  if (got < total_length) {
    Fail("ETRUNCATED", Format("truncated pcapng dump file; tried to read %zu bytes, only got %zu",
                              size_t{total_length - 8}, got - 8));
    return -1;
  }
  if (U32(block_.data() + total_length - 4) != total_length) {
    Fail("EBADFORMAT", "block total length in header and trailer don't match");
    return -1;
  }
  offset_ += total_length;
  return 1;
}

// add_interface and process_idb_options: the interface's timestamp units.
// Also the interface's entry in table_; the first one of the file gives its
// linktype and snaplen, as libpcap's pcap_datalink and pcap_snapshot do.
bool FileReader::AddInterface(const uint8_t* body, size_t size) {
  Interface iface;
  InterfaceInfo info{section_, U16(body), U32(body + 4), 6, "", ""};
  const int dlt = DltOf(info.linktype);
  iface.snaplen = AdjustSnaplen(dlt, info.snaplen);
  bool saw_tsresol = false, saw_tsoffset = false;
  const char* const too_short = "block of type 1 in pcapng dump file is too short";
  for (size_t at = 8; at < size;) {
    if (size - at < 4) return Fail("EBADFORMAT", too_short);
    const uint16_t code = U16(body + at);
    const uint16_t length = U16(body + at + 2);
    const size_t padded = (size_t{length} + 3) / 4 * 4;
    if (size - at - 4 < padded) return Fail("EBADFORMAT", too_short);
    const uint8_t* value = body + at + 4;
    at += 4 + padded;
    if (code == 0) {  // opt_endofopt
      if (length != 0) {
        return Fail("EBADFORMAT",
                    Format("Interface Description Block has opt_endofopt option with length %u != 0", length));
      }
      break;
    }
    if (code == 2 || code == 3) {  // if_name, if_description: UTF-8, maybe NUL-terminated
      std::string text(reinterpret_cast<const char*>(value), length);
      text.resize(std::strlen(text.c_str()));
      (code == 2 ? info.name : info.description) = std::move(text);
    } else if (code == 9) {  // if_tsresol
      if (length != 1) {
        return Fail("EBADFORMAT", Format("Interface Description Block has if_tsresol option with length %u != 1", length));
      }
      if (saw_tsresol) return Fail("EBADFORMAT", "Interface Description Block has more than one if_tsresol option");
      saw_tsresol = true;
      const uint8_t r = value[0];
      info.tsresol = r;
      if (r & 0x80) {
        const unsigned shift = r & 0x7f;
        if (shift > 63) {
          return Fail("EBADFORMAT",
                      Format("Interface Description Block if_tsresol option resolution 2^-%u is too high", shift));
        }
        iface.binary = true;
        iface.tsresol = uint64_t{1} << shift;
      } else {
        if (r > 19) {
          return Fail("EBADFORMAT",
                      Format("Interface Description Block if_tsresol option resolution 10^-%u is too high", r));
        }
        iface.tsresol = 1;
        for (unsigned i = 0; i < r; i++) iface.tsresol *= 10;
      }
    } else if (code == 14) {  // if_tsoffset
      if (length != 8) {
        return Fail("EBADFORMAT", Format("Interface Description Block has if_tsoffset option with length %u != 8", length));
      }
      if (saw_tsoffset) return Fail("EBADFORMAT", "Interface Description Block has more than one if_tsoffset option");
      saw_tsoffset = true;
      std::memcpy(&iface.tsoffset, value, 8);
      if (swapped_) {
        uint64_t v = iface.tsoffset, r = 0;
        for (int i = 0; i < 8; i++, v >>= 8) r = r << 8 | (v & 0xff);
        iface.tsoffset = r;
      }
    }
  }
  const uint64_t user = nano_ ? 1000000000 : 1000000;
  if (iface.tsresol == user) {
    iface.scale = Interface::kPass;
  } else if (iface.tsresol > user) {
    iface.scale = iface.binary ? Interface::kDownBin : Interface::kDownDec;
    iface.scale_factor = iface.tsresol / user;
  } else {
    iface.scale = iface.binary ? Interface::kUpBin : Interface::kUpDec;
    iface.scale_factor = user / iface.tsresol;
  }
  interfaces_.push_back(iface);
  if (table_.empty()) {
    linktype_ = dlt;
    snaplen_ = static_cast<int>(iface.snaplen);
  }
  mixed_ = mixed_ || dlt != linktype_;
  // MAX_BLOCKSIZE_FOR_SNAPLEN: an EPB of the largest packet and 128 KiB of options.
  max_block_ = std::max(max_block_, 8 + 20 + MaxSnaplen(dlt) + 131072 + 4);
  table_.push_back(std::move(info));
  return true;
}

void FileReader::TakeNewInterfaces(std::vector<InterfaceInfo>* into) {
  into->insert(into->end(), table_.begin() + static_cast<std::ptrdiff_t>(taken_), table_.end());
  taken_ = table_.size();
}

// One block of pcap_ng_next_packet's loop.
FileReader::Block FileReader::ParseBlock(const uint8_t* block, uint32_t total_length, Record* record) {
  const uint32_t type = U32(block);
  const uint8_t* body = block + 8;
  const size_t size = total_length - 12;
  uint32_t interface_id;
  uint32_t caplen, len;
  uint64_t t;
  size_t data_at;
  switch (type) {
    case kEpb:
    case kPb:  // the obsolete packet block: a 16-bit interface and a drop count
      if (size < 20) return TooShort(type);
      interface_id = type == kEpb ? U32(body) : U16(body);
      t = uint64_t{U32(body + 4)} << 32 | U32(body + 8);
      caplen = U32(body + 12);
      len = U32(body + 16);
      data_at = 20;
      break;
    case kSpb:
      if (size < 4) return TooShort(type);
      interface_id = 0;
      len = U32(body);
      caplen = len;  // cut to the interface's snaplen below
      t = 0;
      data_at = 4;
      break;
    case kIdb:
      // libpcap refuses an interface of another linktype or snaplen than
      // the first's; here each packet is read as its own interface's.
      if (size < 8) return TooShort(type);
      return AddInterface(body, size) ? Block::kOther : Block::kError;
    case kShb: {
      if (size < 16) return TooShort(type);
      const uint32_t byte_order = U32(body);
      if (byte_order == Swap32(kByteOrderMagic)) {
        return Fail("EBADFORMAT", "the file has sections with different byte orders"), Block::kError;
      }
      if (byte_order != kByteOrderMagic) {
        return Fail("EBADFORMAT", "the file has a section with a bad byte order magic field"), Block::kError;
      }
      const uint16_t major = U16(body + 4);
      if (major != 1) {
        return Fail("EBADFORMAT", Format("unknown pcapng savefile major version number %u", major)), Block::kError;
      }
      interfaces_.clear();
      section_++;
      section_base_ = static_cast<uint32_t>(table_.size());
      return Block::kOther;
    }
    default:
      return Block::kOther;
  }
  if (interface_id >= interfaces_.size()) {
    Fail("EBADFORMAT", Format("a packet arrived on interface %u, but there's no Interface Description Block for that "
                              "interface",
                              interface_id));
    return Block::kError;
  }
  const Interface& iface = interfaces_[interface_id];
  if (type == kSpb) caplen = std::min(len, iface.snaplen);
  if (caplen > iface.snaplen) {
    Fail("EBADFORMAT", Format("invalid packet capture length %u, bigger than snaplen of %u", caplen, iface.snaplen));
    return Block::kError;
  }
  const uint64_t sec = t / iface.tsresol + iface.tsoffset;
  uint64_t frac = t % iface.tsresol;
  const uint64_t user = nano_ ? 1000000000 : 1000000;
  switch (iface.scale) {
    case Interface::kPass: break;
    case Interface::kUpDec: frac *= iface.scale_factor; break;
    case Interface::kDownDec: frac /= iface.scale_factor; break;
    case Interface::kUpBin:
    case Interface::kDownBin: frac = frac * user / iface.tsresol; break;
  }
  if (size - data_at < caplen) return TooShort(type);
  if (sec > static_cast<uint64_t>(kLastSecond)) {
    Fail("EBADFORMAT", "a packet's time is outside what wirecap represents (1970 to 2262)");
    return Block::kError;
  }
  // As pcap_pkthdr holds them: time_t seconds, int fractions.
  const int64_t fraction = static_cast<int32_t>(static_cast<uint32_t>(frac));
  record->timestamp_ns = static_cast<int64_t>(sec) * 1000000000 + (nano_ ? fraction : fraction * 1000);
  record->caplen = caplen;
  record->len = len;
  record->offset = static_cast<uint32_t>(8 + data_at);
  record->iface = section_base_ + interface_id;
  return Block::kPacket;
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

FileReader::Status FileReader::FillPcapng(uint8_t* buffer, size_t got, bool eof, bool full,
                                          std::vector<Record>* records, size_t* used) {
  size_t pos = *used;
  for (;;) {
    const size_t left = got - pos;
    *used = pos;
    if (left < 8) {
      if (!eof) return Incomplete(pos, full, 8, used);
      if (left == 0) return Status::kEnd;
      Fail("ETRUNCATED", Format("truncated pcapng dump file; tried to read %zu bytes, only got %zu", size_t{8}, left));
      return Status::kError;
    }
    const uint32_t total_length = U32(buffer + pos + 4);
    if (!CheckBlockLength(total_length)) return Status::kError;
    if (left < total_length) {
      if (!eof) return Incomplete(pos, full, total_length, used);
      Fail("ETRUNCATED", Format("truncated pcapng dump file; tried to read %zu bytes, only got %zu",
                                size_t{total_length - 8}, left - 8));
      return Status::kError;
    }
    const uint8_t* block = buffer + pos;
    if (U32(block + total_length - 4) != total_length) {
      Fail("EBADFORMAT", "block total length in header and trailer don't match");
      return Status::kError;
    }
    Record record;
    const Block kind = ParseBlock(block, total_length, &record);
    if (kind == Block::kError) return Status::kError;
    if (kind == Block::kPacket) {
      record.offset += static_cast<uint32_t>(pos);
      records->push_back(record);
    }
    pos += total_length;
  }
}

}  // namespace files
