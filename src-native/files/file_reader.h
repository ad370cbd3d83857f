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
// bytes, and libpcap's checks and error texts for damaged files. Unlike
// libpcap, it reads pcapng interfaces of several link types and snaplens,
// and tags each record with its interface.
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

// One packet: its pcap_pkthdr fields, where its bytes start in the buffer,
// and (pcapng) its interface's index in FileReader::interfaces().
struct Record {
  int64_t timestamp_ns;
  uint32_t caplen;
  uint32_t len;
  uint32_t offset;
  uint32_t iface;  // not "interface": a macro in Windows headers
};

// A pcapng interface as its IDB declares it. Indexes run over the whole
// file: a section's interface i is index (interfaces of the earlier
// sections) + i, so an index names one interface wherever it appears.
struct InterfaceInfo {
  uint32_t section;   // 0 for the file's first section
  uint32_t linktype;  // the LINKTYPE_ value, as the file has it
  int dlt;            // the same as libpcap's DLT_ value
  uint32_t snaplen;   // as the file has it (0: none given)
  uint8_t tsresol;    // if_tsresol as the file has it (6, microseconds, when absent)
  std::string name;   // if_name; empty when absent
  std::string description;  // if_description; empty when absent
};

class FileReader {
 public:
  // Opens a file and reads its header: pcap's file header, or pcapng's
  // first section header and the blocks up to its first packet (a damaged
  // one there is left for Fill to report, as libpcap reports it). With
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
  // pcapng: every interface met so far, by index (see InterfaceInfo).
  // Interfaces of other link types and snaplens than the first one's are
  // read (libpcap refuses them): each record is its own interface's.
  const std::vector<InterfaceInfo>& interfaces() const { return table_; }
  // Whether interfaces() holds more than one link type.
  bool mixed_linktypes() const { return mixed_; }
  // Appends the interfaces met since the last call to *into.
  void TakeNewInterfaces(std::vector<InterfaceInfo>* into);

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
    uint32_t snaplen = 0;  // as libpcap adjusts it
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
  void ReadAheadToFirstPacket();
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
  std::vector<Interface> interfaces_;  // the current section's
  std::vector<InterfaceInfo> table_;  // the whole file's
  uint32_t section_ = 0;
  uint32_t section_base_ = 0;  // table_'s size when the current section began
  size_t taken_ = 0;  // table_ entries TakeNewInterfaces handed out
  bool mixed_ = false;
  std::vector<uint8_t> block_;  // a block being read during Open()
};

}  // namespace files
