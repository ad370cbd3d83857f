// wirecap's own reader of pcap and pcapng files: plain C++, no N-API.
//
// libpcap copies each packet twice on its way from the page cache (into
// stdio's buffer, then into its own). This reader reads large pieces of the
// file straight into the caller's buffer (a batch slab) and says where each
// packet lies in it: one copy from the page cache to JavaScript. A record
// cut by the buffer's end is read again, whole, into the next buffer.
//
// What it yields is what libpcap's pcap_next_ex yields for the same file:
// the same timestamps (scaled as libpcap scales them), caplens, lens and
// bytes, and libpcap's checks and error texts for damaged files.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "platform/platform.h"

namespace files {

// The last second whose nanoseconds since 1970 fit 64 bits (2262), less a
// margin for a corrupt fraction: a file may claim a later time.
constexpr int64_t kLastSecond = INT64_MAX / 1000000000 - 5000;

struct ReadError {
  const char* code = nullptr;  // ENOENT, EACCES, EIO, EBADFORMAT, ETRUNCATED
  std::string message;         // libpcap's text where libpcap has one
};

// One packet: its pcap_pkthdr fields and where its bytes start in the buffer.
struct Record {
  int64_t timestamp_ns;
  uint32_t caplen;
  uint32_t len;
  uint32_t offset;
};

class FileReader {
 public:
  // Opens a file and reads its header: pcap's file header, or pcapng's
  // first section header and the blocks up to its first interface. With
  // start > 0, the blocks before prefix are read too (the later interfaces)
  // and the records follow from byte start on, where a seek found one.
  // nano: timestamps in nanoseconds as libpcap's PCAP_TSTAMP_PRECISION_NANO
  // gives them; otherwise microseconds (truncated), times 1000.
  static std::unique_ptr<FileReader> Open(const std::string& path, bool nano, uint64_t prefix, uint64_t start,
                                          ReadError* error);

  int linktype() const { return linktype_; }  // a DLT_ value, as pcap_datalink gives it
  int snaplen() const { return snaplen_; }
  bool swapped() const { return swapped_; }
  int version_major() const { return version_major_; }
  int version_minor() const { return version_minor_; }
  bool pcapng() const { return pcapng_; }

  enum class Status {
    kMore,      // call again
    kEnd,       // the file ended after the records appended
    kError,     // error() follows the records appended
    kTooSmall,  // nothing appended: the next record needs *used bytes of buffer
  };
  // Reads the file from its next record on into buffer and appends the
  // complete records found there; *used is then the end of the last one.
  Status Fill(uint8_t* buffer, size_t capacity, std::vector<Record>* records, size_t* used);
  const ReadError& error() const { return error_; }

 private:
  struct Interface {
    uint64_t tsresol = 1000000;
    uint64_t tsoffset = 0;
    bool binary = false;
    uint64_t scale_factor = 1;
    enum { kPass, kUpDec, kUpBin, kDownDec, kDownBin } scale = kPass;
  };
  enum class Block { kPacket, kOther, kError };

  FileReader() = default;
  bool OpenPcap(const uint8_t* header, size_t got);
  bool OpenPcapng(const uint8_t* header, size_t got);
  // Reads one whole pcapng block at offset_ into block_ (read_block's checks).
  // Returns 0 at a clean end of file, -1 on error, 1 with a block.
  int ReadBlock();
  bool CheckBlockLength(uint32_t total_length);
  // A whole pcapng block in memory: updates sections and interfaces, or
  // fills *record (offset relative to the block) for a packet block.
  Block ParseBlock(const uint8_t* block, uint32_t total_length, Record* record);
  Block TooShort(uint32_t type);
  bool AddInterface(const uint8_t* body, size_t size);
  // Parse buffer[*used, got) and move *used past the complete records.
  // eof: the file ends at got; full: the buffer ends there.
  Status FillPcap(uint8_t* buffer, size_t got, bool eof, bool full, std::vector<Record>* records, size_t* used);
  Status FillPcapng(uint8_t* buffer, size_t got, bool eof, bool full, std::vector<Record>* records, size_t* used);
  static Status Incomplete(size_t pos, bool full, size_t record, size_t* used);
  uint32_t U32(const uint8_t* p) const;
  uint16_t U16(const uint8_t* p) const;
  bool Fail(const char* code, std::string message);

  platform::InputFile file_;
  uint64_t offset_ = 0;  // where the next record starts
  bool nano_ = true;
  bool pcapng_ = false;
  bool swapped_ = false;
  int linktype_ = 0;
  int snaplen_ = 0;
  int version_major_ = 0;
  int version_minor_ = 0;
  ReadError error_;

  // pcap
  size_t record_header_ = 16;  // 24 for the patched (Kuznetzov) format
  enum { kNotSwapped, kMaybeSwapped, kSwapped } lengths_ = kNotSwapped;
  enum { kPass, kUp, kDown } pcap_scale_ = kPass;

  // pcapng
  uint32_t max_block_ = 16 << 20;
  std::vector<Interface> interfaces_;
  std::vector<uint8_t> block_;  // a block being read during Open()
};

}  // namespace files
