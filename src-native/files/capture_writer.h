// wirecap's one writer of capture files: pcap (microsecond or nanosecond
// magic) and pcapng (SHB, one IDB, EPBs), in the host's byte order. Native
// dumps call it on the capture thread; createWriter() calls it from JS.
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

  struct Options {
    Format format = Format::kPcap;
    int linktype = 1;  // a DLT_ value; files get the matching LINKTYPE_
    int snaplen = 262144;
    bool nano = false;
    std::string interface_name;  // pcapng if_name; empty leaves it out
    uint64_t max_bytes = 0;      // file size bound including headers; 0: none
  };

  struct Error {
    int errnum = 0;            // errno value
    const char* code = "";     // its name: ENOSPC, EACCES, ENOENT... (EIO for others)
    std::string message;
  };

  enum class Status { kWritten, kFull, kFailed };

  // Creates path and writes the file header; a closed writer may be opened
  // again on another file. On failure returns false with *error set
  // (ENOENT, EACCES, EISDIR...).
  bool Open(const std::string& path, const Options& options, Error* error);

  // Appends one record. kFull: the record would take the file past
  // max_bytes and was not written. kFailed: see error().
  Status Write(int64_t timestamp_ns, uint32_t caplen, uint32_t len, const uint8_t* data);

  // Writes buffered records out; false on failure (see error()).
  bool Flush();
  // Flushes and closes; false if either failed. Idempotent.
  bool Close();

  // Bytes of the file so far, headers and buffered records included.
  uint64_t bytes() const { return file_bytes_ + buffer_.size(); }
  uint64_t packets() const { return packets_; }
  bool is_open() const { return open_; }
  const Error& error() const { return error_; }
  const std::string& path() const { return path_; }

  // What a record of caplen bytes adds to the file.
  uint64_t RecordBytes(uint32_t caplen) const;

 private:
  void AppendHeader();
  void AppendRecord(int64_t timestamp_ns, uint32_t caplen, uint32_t len, const uint8_t* data);
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
