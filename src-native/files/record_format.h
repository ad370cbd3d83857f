// What the pcap and pcapng halves of FileReader share: the formats' magic
// numbers and block types, byte swaps, libpcap's rules for snaplens and
// link types, and its error texts. Internal to src-native/files/.
#pragma once

#if defined(_WIN32) && !defined(__USE_MINGW_ANSI_STDIO)
#define __USE_MINGW_ANSI_STDIO 1  // mingw's own vsnprintf, which knows %zu
#endif

#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace files {

constexpr uint32_t kPcapMagic = 0xa1b2c3d4;
constexpr uint32_t kPcapNsecMagic = 0xa1b23c4d;
constexpr uint32_t kKuznetzovMagic = 0xa1b2cd34;
constexpr uint32_t kShb = 0x0a0d0d0a;
constexpr uint32_t kByteOrderMagic = 0x1a2b3c4d;
constexpr uint32_t kIdb = 1, kPb = 2, kSpb = 3, kEpb = 6;
constexpr uint32_t kShbInsaneMax = 1024 * 1024;
constexpr uint32_t kMaximumSnaplen = 262144;
constexpr int kDltEn10mb = 1;

inline uint32_t Swap32(uint32_t v) { return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24); }

inline uint32_t Native32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// libpcap's max_snaplen_for_dlt: the largest packet it considers sane.
inline uint32_t MaxSnaplen(int dlt) {
  switch (dlt) {
    case 231: return 128 * 1024 * 1024;  // DLT_DBUS
    case 279: return 8 * 1024 * 1024;    // DLT_EBHSCR
    case 249: return 1024 * 1024;        // DLT_USBPCAP
    default: return kMaximumSnaplen;
  }
}

// libpcap's pcap_adjust_snapshot.
inline uint32_t AdjustSnaplen(int dlt, uint32_t snaplen) {
  return snaplen == 0 || snaplen > 0x7fffffff ? MaxSnaplen(dlt) : snaplen;
}

// LINKTYPE_ to DLT_ (libpcap's linktype_to_dlt): they differ for a few old
// types; the rest are the same number.
inline int DltOf(uint32_t linktype) {
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

inline std::string Format(const char* format, ...) {
  char text[256];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  return text;
}

inline std::string ReadErrorText(int errnum) { return std::string("error reading dump file: ") + std::strerror(errnum); }

}  // namespace files
