// Test driver for src-native/files/file_reader: prints a file's packets in
// test/fixtures/next_ex.c's format, so the test compares it with libpcap.
//   read_file <file> [buffer bytes] [micro] [prefix start]
// A small buffer makes every record cross a buffer's end.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "files/file_reader.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  size_t capacity = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1 << 20;
  const bool nano = !(argc > 3 && std::strcmp(argv[3], "micro") == 0);
  const uint64_t prefix = argc > 5 ? std::strtoull(argv[4], nullptr, 10) : 0;
  const uint64_t start = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 0;
  files::ReadError error;
  auto reader = files::FileReader::Open(argv[1], nano, prefix, start, &error);
  if (reader == nullptr) {
    std::printf("end open %s\n", error.message.c_str());
    return 0;
  }
  std::vector<uint8_t> buffer(capacity);
  std::vector<files::Record> records;
  for (;;) {
    size_t used = 0;
    records.clear();
    const files::FileReader::Status status = reader->Fill(buffer.data(), buffer.size(), &records, &used);
    if (status == files::FileReader::Status::kTooSmall) {
      buffer.resize(used);
      continue;
    }
    for (const files::Record& r : records) {
      std::printf("%" PRId64 " %" PRId64 " %u %u %d ", r.timestamp_ns / 1000000000, r.timestamp_ns % 1000000000,
                  r.caplen, r.len, reader->linktype());
      for (uint32_t i = 0; i < r.caplen; i++) std::printf("%02x", buffer[r.offset + i]);
      std::printf("\n");
    }
    if (status == files::FileReader::Status::kEnd) {
      std::printf("end -2 \n");
      return 0;
    }
    if (status == files::FileReader::Status::kError) {
      std::fprintf(stderr, "%s\n", reader->error().code);
      std::printf("end -1 %s\n", reader->error().message.c_str());
      return 0;
    }
  }
}
