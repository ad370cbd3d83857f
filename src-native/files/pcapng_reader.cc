// FileReader's pcapng half (see file_reader.h): the section header, the
// interfaces, and the blocks of pcap_ng_next_packet's loop. Runs on the
// thread that reads the file (the capture thread), like the pcap half.
#include "files/record_format.h"  // first: it sets up mingw's stdio
#include "files/file_reader.h"

#include <algorithm>
#include <cstring>

namespace files {

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
  InterfaceInfo info{section_, U16(body), DltOf(U16(body)), U32(body + 4), 6, "", ""};
  const int dlt = info.dlt;
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
