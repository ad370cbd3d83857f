// The run-time libpcap loader (see pcap_api.h). Loaded once, on the first
// call from any thread; the table is immutable afterwards.
#include "loader/pcap_api.h"

#include <cstdlib>
#include <mutex>
#include <vector>

#include "platform/platform.h"

namespace {

struct Symbol {
  const char* name;
  void** slot;
  bool required;
};

std::vector<Symbol> SymbolsOf(PcapApi* api) {
  auto slot = [](auto& member) { return reinterpret_cast<void**>(&member); };
  return {
      {"pcap_lib_version", slot(api->lib_version), true},
      {"pcap_findalldevs", slot(api->findalldevs), true},
      {"pcap_freealldevs", slot(api->freealldevs), true},
      {"pcap_create", slot(api->create), true},
      {"pcap_set_snaplen", slot(api->set_snaplen), true},
      {"pcap_set_promisc", slot(api->set_promisc), true},
      {"pcap_set_timeout", slot(api->set_timeout), true},
      {"pcap_set_buffer_size", slot(api->set_buffer_size), true},
      {"pcap_activate", slot(api->activate), true},
      {"pcap_close", slot(api->close), true},
      {"pcap_dispatch", slot(api->dispatch), true},
      {"pcap_breakloop", slot(api->breakloop), true},
      {"pcap_setnonblock", slot(api->setnonblock), true},
      {"pcap_compile", slot(api->compile), true},
      {"pcap_setfilter", slot(api->setfilter), true},
      {"pcap_freecode", slot(api->freecode), true},
      {"pcap_geterr", slot(api->geterr), true},
      {"pcap_stats", slot(api->stats), true},
      {"pcap_datalink", slot(api->datalink), true},
      {"pcap_datalink_val_to_name", slot(api->datalink_val_to_name), true},
      {"pcap_datalink_name_to_val", slot(api->datalink_name_to_val), true},
      {"pcap_snapshot", slot(api->snapshot), true},
      {"pcap_open_dead", slot(api->open_dead), false},
      {"pcap_lookupnet", slot(api->lookupnet), true},
      {"bpf_image", slot(api->bpf_image), false},
      {"pcap_open_offline", slot(api->open_offline), false},
      {"pcap_offline_filter", slot(api->offline_filter), false},
      {"pcap_next_ex", slot(api->next_ex), true},
      {"pcap_is_swapped", slot(api->is_swapped), false},
      {"pcap_major_version", slot(api->major_version), false},
      {"pcap_minor_version", slot(api->minor_version), false},
      {"pcap_set_immediate_mode", slot(api->set_immediate_mode), false},
      {"pcap_set_tstamp_precision", slot(api->set_tstamp_precision), false},
      {"pcap_get_tstamp_precision", slot(api->get_tstamp_precision), false},
      {"pcap_setdirection", slot(api->setdirection), false},
      {"pcap_open_offline_with_tstamp_precision", slot(api->open_offline_with_tstamp_precision), false},
      {"pcap_inject", slot(api->inject), false},
      {"pcap_sendpacket", slot(api->sendpacket), false},
      {"pcap_get_selectable_fd", slot(api->get_selectable_fd), false},
      {"pcap_getevent", slot(api->getevent), false},
      {"pcap_live_dump", slot(api->live_dump), false},
      {"pcap_live_dump_ended", slot(api->live_dump_ended), false},
      {"pcap_sendqueue_alloc", slot(api->sendqueue_alloc), false},
      {"pcap_sendqueue_destroy", slot(api->sendqueue_destroy), false},
      {"pcap_sendqueue_queue", slot(api->sendqueue_queue), false},
      {"pcap_sendqueue_transmit", slot(api->sendqueue_transmit), false},
  };
}

const PcapApi* Load(std::string* error, bool allow_override) {
  std::string tried;
  void* lib = nullptr;
  const char* override_path = allow_override ? std::getenv("WIRECAP_LIBPCAP") : nullptr;
  if (override_path != nullptr && *override_path != '\0') {
    lib = platform::OpenLibrary(override_path, &tried);
    if (lib == nullptr) {
      *error = "WIRECAP_LIBPCAP=" + std::string(override_path) +
               " could not be loaded (" + tried +
               "). Point it at a libpcap shared library, or unset it to use the system's.";
      return nullptr;
    }
  } else {
    for (const char* const* name = platform::kLibpcapNames; *name != nullptr; ++name) {
      lib = platform::OpenLibrary(*name, &tried);
      if (lib != nullptr) break;
    }
    if (lib == nullptr) {
      *error = std::string(platform::kMissingLibpcapHelp) + " (tried: " + tried + ")";
      return nullptr;
    }
  }

  auto* api = new PcapApi{};
  for (const Symbol& s : SymbolsOf(api)) {
    *s.slot = platform::FindSymbol(lib, s.name);
    if (*s.slot == nullptr && s.required) {
      *error = std::string("the loaded libpcap lacks ") + s.name +
               "; wirecap needs libpcap 1.0 or newer (or Npcap on Windows)";
      delete api;
      // The library stays loaded: unloading a half-used library buys nothing.
      return nullptr;
    }
  }
  return api;
}

}  // namespace

const PcapApi* LoadPcapApi(std::string* error) {
  static std::mutex mutex;
  static const PcapApi* api = nullptr;
  static std::string load_error;
  std::lock_guard<std::mutex> lock(mutex);
  if (api == nullptr && load_error.empty()) {
    api = Load(&load_error, true);
  }
  if (api == nullptr) *error = load_error;
  return api;
}

const PcapApi* LoadSystemPcapApi(std::string* error) { return Load(error, false); }
