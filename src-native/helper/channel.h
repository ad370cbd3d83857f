// The channel between wirecap and its capture helper (wirecap-helper, see
// helper_main.cc): two pipes, the helper's stdin for requests and its stdout
// for replies and packets. Every message is a frame: an 8-byte header
// {uint32 type, uint32 length} in the machine's byte order (both ends run on
// the same host) and length bytes. Either side refuses a frame longer than
// kMaxFrame: it ends the channel.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace helper {

constexpr uint32_t kHeaderBytes = 8;
constexpr uint32_t kMaxFrame = 4u << 20;
// The helper sends a packets frame once it holds this much, and at the end
// of every pcap_dispatch.
constexpr uint32_t kPacketsFrameBytes = 1u << 20;

enum Type : uint32_t {
  // helper -> wirecap
  kReady = 'R',    // int32 linktype, int32 snaplen, int32 nano (1/0): the device is open, caps are gone
  kFailed = 'E',   // int32 stage, int32 libpcap status, then libpcap's text; the helper then exits
  kPackets = 'P',  // records: Record, then caplen bytes
  kStatsReply = 'T',   // uint32 recv, drop, ifdrop
  kFilterReply = 'G',  // int32 0 or -1, then libpcap's text on failure
  kInjectReply = 'J',  // int32 bytes sent or -1, then libpcap's text on failure
  // wirecap -> helper (closing the helper's stdin ends the capture)
  kSetFilter = 'f',  // the filter's text ("" for none)
  kStats = 's',      // empty
  kInject = 'i',     // the frame's bytes
};

// What a kFailed frame says failed.
enum Stage : int32_t {
  kStageActivate = 1,   // pcap_create/pcap_activate: status is libpcap's
  kStageImmediate = 2,  // the library has no immediate mode
  kStageNano = 3,       // no nanosecond timestamps here
  kStageDirection = 4,  // pcap_setdirection refused
  kStageFilter = 5,     // the initial filter did not compile or set
  kStageCapture = 6,    // pcap_dispatch failed: status is libpcap's
  kStageLibrary = 7,    // no libpcap could be loaded (text says why)
  kStageCapabilities = 8,  // the capabilities could not be dropped
};

// One packet in a kPackets frame, followed by its caplen bytes.
struct Record {
  int64_t seconds;
  uint32_t fraction;  // microseconds, or nanoseconds once the device gives them
  uint32_t caplen;
  uint32_t len;
};
constexpr uint32_t kRecordBytes = 20;

inline void PutHeader(uint8_t* out, uint32_t type, uint32_t length) {
  std::memcpy(out, &type, 4);
  std::memcpy(out + 4, &length, 4);
}

inline void PutRecord(uint8_t* out, const Record& r) {
  std::memcpy(out, &r.seconds, 8);
  std::memcpy(out + 8, &r.fraction, 4);
  std::memcpy(out + 12, &r.caplen, 4);
  std::memcpy(out + 16, &r.len, 4);
}

inline Record GetRecord(const uint8_t* in) {
  Record r;
  std::memcpy(&r.seconds, in, 8);
  std::memcpy(&r.fraction, in + 8, 4);
  std::memcpy(&r.caplen, in + 12, 4);
  std::memcpy(&r.len, in + 16, 4);
  return r;
}

inline int32_t GetInt(const uint8_t* in) {
  int32_t v;
  std::memcpy(&v, in, 4);
  return v;
}

}  // namespace helper
