// wirecap's one writer of capture files: pcap (microsecond or nanosecond
// magic, one interface) and pcapng (an SHB, one IDB per interface, EPBs
// tagged with their interface, and on Close() one ISB per interface), in the
// host's byte order. Native dumps call it on a capture thread (holding the
// dump's lock when several threads share it); createWriter() calls it from JS.
//
// Records are buffered and reach the file whole: if a write fails (disk
// full), the file is cut back to its last complete record, so every file it
// leaves behind reads cleanly. Not thread-safe: one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "platform/platform.h"

class CaptureWriter {
 public:
  enum class Format { kPcap, kPcapng };

  // One captured device: an IDB in pcapng. Empty strings leave their option out.
  struct Interface {
    int linktype = 1;  // a DLT_ value; files get the matching LINKTYPE_
    int snaplen = 262144;
    bool nano = false;
    std::string name;         // if_name
    std::string description;  // if_description
    std::string filter;       // if_filter, as libpcap filter text
  };

  struct Options {
    Format format = Format::kPcap;
    std::vector<Interface> interfaces{1};  // pcap files hold the first only
    std::string user_appl = "wirecap";     // pcapng SHB options; empty leaves them out
    std::string os;
    std::string hardware;
    uint64_t max_bytes = 0;  // file size bound including headers and the ISBs; 0: none
    // > 0: the file exists (written with these options) and is cut to this
    // many bytes, a record boundary; writing goes on after them, no header.
    uint64_t resume_bytes = 0;
  };

  // An interface's counters for its ISB, all since the capture started.
  struct InterfaceStats {
    int64_t time_ns = 0;        // when the counters were read: the ISB's timestamp
    int64_t start_ns = 0;       // isb_starttime
    int64_t end_ns = 0;         // isb_endtime
    bool have_kernel = false;   // pcap_stats answered; else the kernel's counters are left out
    uint64_t received = 0;      // isb_ifrecv: ps_recv
    uint64_t if_dropped = 0;    // isb_ifdrop: ps_ifdrop
    uint64_t os_dropped = 0;    // isb_osdrop: ps_drop
    uint64_t captured = 0;      // isb_filteraccept: packets wirecap took from libpcap
    uint64_t written = 0;       // isb_usrdeliv: packets wirecap wrote to the files
  };

  struct Error {
    int errnum = 0;            // errno value
    const char* code = "";     // its name: ENOSPC, EACCES, ENOENT... (EIO for others)
    std::string message;
  };

  enum class Status { kWritten, kFull, kFailed };

  // Creates path and writes the file header (or resumes it: resume_bytes);
  // a closed writer may be opened
  // again on another file. On failure returns false with *error set
  // (ENOENT, EACCES, EISDIR...).
  bool Open(const std::string& path, const Options& options, Error* error);

  // Appends one record of interface iface. kFull: the record would take
  // the file past max_bytes (with room kept for the ISBs) and was not
  // written. kFailed: see error().
  Status Write(uint32_t iface, int64_t timestamp_ns, uint32_t caplen, uint32_t len, const uint8_t* data);
  Status Write(int64_t timestamp_ns, uint32_t caplen, uint32_t len, const uint8_t* data) {
    return Write(0, timestamp_ns, caplen, len, data);
  }

  // Writes buffered records out; false on failure (see error()).
  bool Flush();
  // Flushes and closes; false if either failed. Idempotent. With stats
  // (one per interface), a pcapng file ends with their ISBs.
  bool Close(const std::vector<InterfaceStats>* stats = nullptr);

  // Bytes of the file so far, headers and buffered records included.
  uint64_t bytes() const { return file_bytes_ + buffer_.size(); }
  uint64_t packets() const { return packets_; }
  bool is_open() const { return open_; }
  const Error& error() const { return error_; }
  const std::string& path() const { return path_; }

  // What a record of caplen bytes adds to the file.
  uint64_t RecordBytes(uint32_t caplen) const;
  // What the ISBs that Close(stats) writes add: room every file keeps.
  uint64_t TrailerBytes() const;
  // The smallest file that holds the headers options give, the ISBs and
  // one full-size packet.
  static uint64_t SmallestFile(const Options& options);

 private:
  void AppendHeader();
  void AppendRecord(uint32_t iface, int64_t timestamp_ns, uint32_t caplen, uint32_t len, const uint8_t* data);
  void AppendStatistics(uint32_t iface, const InterfaceStats& stats);
  bool Fail(int errnum, const std::string& what);

  platform::OutputFile file_;
  Options options_;
  std::string path_;
  bool open_ = false;
  Error error_;
  std::vector<uint8_t> buffer_;
  // Where each buffered record ends in buffer_: a short write keeps exactly
  // the records that made it out whole.
  std::vector<size_t> record_ends_;
  uint64_t file_bytes_ = 0;  // bytes on disk, all of them complete records
  uint64_t packets_ = 0;
};
