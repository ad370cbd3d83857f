// A CaptureHandle's capture file (or standard input): OpenFile() and
// CompileFileFilter() open it and compile its filter, on the JS thread (in
// the constructor, before the capture thread starts, and in setFilter());
// ReadFileBatch() reads it on the capture thread. Files are read by
// wirecap's own reader (files/file_reader.h), a few through libpcap.
#include "capture/capture_handle.h"

#include <algorithm>
#include <cstdlib>

#include "capture/filter.h"
#include "capture/js_options.h"
#include "errors.h"

namespace {

// Linktypes whose packets libpcap rewrites as it reads them (pcap_post_process:
// pseudo-headers of byte-swapped files, USB lengths): such files are read
// by libpcap, so that what JavaScript gets stays what libpcap gives.
bool RewrittenByLibpcap(const files::FileReader& file) {
  switch (file.linktype()) {
    case 220:  // DLT_USB_LINUX_MMAPPED
      return true;
    case 113:  // DLT_LINUX_SLL
    case 117:  // DLT_PFLOG
    case 189:  // DLT_USB_LINUX
    case 239:  // DLT_NFLOG
    case 276:  // DLT_LINUX_SLL2
      return file.swapped();
    default:
      return false;
  }
}

// Why a file whose interfaces mix link types cannot be read as asked
// (verb: filter, dump or read).
std::string MixedText(const std::string& path, const char* verb) {
  return std::string("cannot ") + verb + " " + path + " as one link type: its interfaces have several";
}

bool Mixed(const std::vector<files::InterfaceInfo>& interfaces) {
  for (const files::InterfaceInfo& one : interfaces) {
    if (one.linktype != interfaces[0].linktype) return true;
  }
  return false;
}

}  // namespace

// A capture file, or standard input for "-". The caller has checked that
// a named file exists and is a file; the reader judges its contents.
void CaptureHandle::OpenFile(Napi::Env env, const Napi::Object& options) {
  offline_ = true;
  device_ = StringOption(options, "path");
  const bool want_nano = StringOption(options, "precision") != "micro";
  // startOffset: where a seek found a record; prefixBytes: the header to
  // read first (the pcap file header, or pcapng's SHB and IDBs).
  const auto start = static_cast<uint64_t>(NumberOption(options, "startOffset", 0));
  const auto prefix = static_cast<uint64_t>(NumberOption(options, "prefixBytes", 0));
  if (device_ != "-") {
    files::ReadError error;
    file_ = files::FileReader::Open(device_, want_nano, prefix, start, &error);
    if (file_ == nullptr) {
      // As libpcap's open, a file cut inside its header is not a capture file.
      const std::string code = std::string(error.code) == "ETRUNCATED" ? "EBADFORMAT" : error.code;
      throw WirecapError(env, code.c_str(), "cannot read " + device_ + ": " + error.message);
    }
    linktype_ = file_->linktype();
    snaplen_ = file_->snaplen();
    nano_ = want_nano;
    if (!RewrittenByLibpcap(*file_)) {
      file_->TakeNewInterfaces(&file_interfaces_);
      single_linktype_ = BoolOption(options, "singleLinktype");
      if (single_linktype_ && Mixed(file_interfaces_)) throw WirecapError(env, "ENOTSUP", MixedText(device_, "read"));
      return;
    }
    if (file_->mixed_linktypes()) {
      throw WirecapError(env, "ENOTSUP",
                         "cannot read " + device_ + ": its interfaces have several link types, and a byte-swapped file of "
                         "linktype " + std::to_string(linktype_) + " is read by libpcap, which reads one");
    }
    file_.reset();
    if (prefix > 0) {
      throw WirecapError(env, "ENOTSUP",
                         "a seek in a byte-swapped file of linktype " + std::to_string(linktype_) +
                             " is not supported: libpcap rewrites its packets, and reads only from the start");
    }
  }
  const u_int precision = want_nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO;
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  if (api_->open_offline_with_tstamp_precision != nullptr) {
    pcap_ = api_->open_offline_with_tstamp_precision(device_.c_str(), precision, errbuf);
  } else if (api_->open_offline != nullptr) {
    pcap_ = api_->open_offline(device_.c_str(), errbuf);
  } else {
    throw WirecapError(env, "ENOTSUP", "the loaded libpcap cannot read capture files (it lacks pcap_open_offline)");
  }
  if (pcap_ == nullptr) {
    throw WirecapError(env, "EBADFORMAT", std::string("cannot read ") + device_ + ": " + errbuf);
  }
}

// Compiled now for each link type of the interfaces known (the file's own
// for a pcap file), so that a filter valid for none of them throws here;
// a link type met later is compiled when its first packet comes.
FileFilter CaptureHandle::CompileFileFilter(Napi::Env env, const std::string& filter) {
  if (api_->offline_filter == nullptr || api_->open_dead == nullptr) {
    throw WirecapError(env, "ENOTSUP", "the loaded libpcap cannot filter a file's packets (it lacks pcap_offline_filter or pcap_open_dead)");
  }
  FileFilter compiled(api_, filter, snaplen_, netmask_);
  if (filter.empty()) return compiled;
  std::vector<int> dlts{linktype_};
  for (const files::InterfaceInfo& one : file_interfaces_) dlts.push_back(one.dlt);
  std::string first_error;
  bool any = false;
  for (int dlt : dlts) {
    std::string why;
    if (compiled.Prepare(dlt, &why)) any = true;
    else if (first_error.empty()) first_error = why;
  }
  if (!any) throw WirecapError(env, "EFILTER", "invalid filter '" + filter + "': " + first_error);
  return compiled;
}

bool CaptureHandle::ReadFileBatch() {
  for (;;) {
    size_t used = 0;
    const files::FileReader::Status status = file_->Fill(filling_.data, filling_.capacity, &filling_.packets, &used);
    if (status == files::FileReader::Status::kTooSmall) {
      // A record larger than a slab gets a slab of its own.
      slabs_->Give(filling_.data, filling_.capacity);
      filling_.data = static_cast<uint8_t*>(std::malloc(used));
      filling_.capacity = filling_.data == nullptr ? 0 : used;
      if (filling_.data == nullptr) {
        Finish("ENOMEM", device_ + ": no memory for a record of " + std::to_string(used) + " bytes");
        return false;
      }
      continue;
    }
    filling_.size = used;
    std::vector<PacketMeta>& packets = filling_.packets;
    file_->TakeNewInterfaces(&filling_.interfaces);
    // A dump (of one interface) or singleLinktype meets a packet of another
    // link type than the first interface's: the packets before it are
    // delivered, then the read fails.
    const char* one_linktype = dump_ != nullptr ? "dump" : single_linktype_ ? "read" : nullptr;
    bool other_linktype = false;
    if (one_linktype != nullptr && file_->mixed_linktypes()) {
      const std::vector<files::InterfaceInfo>& table = file_->interfaces();
      auto other = std::find_if(packets.begin(), packets.end(),
                                [&](const PacketMeta& p) { return table[p.iface].linktype != table[0].linktype; });
      other_linktype = other != packets.end();
      packets.erase(other, packets.end());
    }
    if (!file_filter_.empty()) {
      const std::vector<files::InterfaceInfo>& table = file_->interfaces();
      packets.erase(std::remove_if(packets.begin(), packets.end(),
                                   [&](const PacketMeta& p) {
                                     pcap_pkthdr header{};
                                     header.caplen = p.caplen;
                                     header.len = p.len;
                                     const int dlt = table.empty() ? linktype_ : table[p.iface].dlt;
                                     return !file_filter_.Matches(dlt, header, filling_.data + p.offset);
                                   }),
                    packets.end());
    }
    captured_.fetch_add(packets.size(), std::memory_order_relaxed);
    if (dump_ != nullptr) {
      for (const PacketMeta& p : packets) dump_->Write(dump_interface_, p.timestamp_ns, p.caplen, p.len, filling_.data + p.offset);
    }
    if (!deliver_) packets.clear();
    Publish();
    packets.clear();  // when nothing was published, the slab is filled again
    DumpHousekeeping();
    if (other_linktype) {
      Finish("ENOTSUP", MixedText(device_, one_linktype));
      return false;
    }
    if (status == files::FileReader::Status::kEnd) {
      Finish(nullptr, "");
      return false;
    }
    if (status == files::FileReader::Status::kError) {
      Finish(file_->error().code, device_ + ": " + file_->error().message);
      return false;
    }
    return true;
  }
}
