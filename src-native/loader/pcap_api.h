// The libpcap entry points wirecap calls, resolved at run time from the
// library the user has (libpcap, Npcap's wpcap.dll): wirecap never links it,
// so the addon loads even where no libpcap is installed and says why later.
#pragma once

#include <pcap/pcap.h>

#include <string>

struct PcapApi {
  // Required: load fails without any of these (libpcap 1.0 and later have them).
  decltype(&::pcap_lib_version) lib_version;
  decltype(&::pcap_findalldevs) findalldevs;
  decltype(&::pcap_freealldevs) freealldevs;
  decltype(&::pcap_create) create;
  decltype(&::pcap_set_snaplen) set_snaplen;
  decltype(&::pcap_set_promisc) set_promisc;
  decltype(&::pcap_set_timeout) set_timeout;
  decltype(&::pcap_set_buffer_size) set_buffer_size;
  decltype(&::pcap_activate) activate;
  decltype(&::pcap_close) close;
  decltype(&::pcap_dispatch) dispatch;
  decltype(&::pcap_breakloop) breakloop;
  decltype(&::pcap_setnonblock) setnonblock;
  decltype(&::pcap_compile) compile;
  decltype(&::pcap_setfilter) setfilter;
  decltype(&::pcap_freecode) freecode;
  decltype(&::pcap_geterr) geterr;
  decltype(&::pcap_stats) stats;
  decltype(&::pcap_datalink) datalink;
  decltype(&::pcap_datalink_val_to_name) datalink_val_to_name;
  decltype(&::pcap_datalink_name_to_val) datalink_name_to_val;
  decltype(&::pcap_snapshot) snapshot;
  decltype(&::pcap_lookupnet) lookupnet;
  decltype(&::pcap_next_ex) next_ex;

  // Optional: null where the loaded library predates or lacks them (Wine's
  // wpcap.dll, for one, lacks the file and dead-handle functions).
  decltype(&::pcap_open_dead) open_dead;
  decltype(&::bpf_image) bpf_image;
  decltype(&::pcap_open_offline) open_offline;
  decltype(&::pcap_offline_filter) offline_filter;              // 1.0; not in Wine's wpcap
  decltype(&::pcap_is_swapped) is_swapped;
  decltype(&::pcap_major_version) major_version;
  decltype(&::pcap_minor_version) minor_version;
  decltype(&::pcap_set_immediate_mode) set_immediate_mode;      // 1.5
  decltype(&::pcap_set_tstamp_precision) set_tstamp_precision;  // 1.5
  decltype(&::pcap_get_tstamp_precision) get_tstamp_precision;  // 1.5
  decltype(&::pcap_setdirection) setdirection;
  decltype(&::pcap_open_offline_with_tstamp_precision) open_offline_with_tstamp_precision;  // 1.5
  decltype(&::pcap_inject) inject;                               // 0.9; not in Wine's wpcap
  decltype(&::pcap_sendpacket) sendpacket;                       // WinPcap's older name
  int (*get_selectable_fd)(pcap_t*);                             // POSIX only
  void* (*getevent)(pcap_t*);                                    // Windows only: a HANDLE
  int (*live_dump)(pcap_t*, char*, int, int);                    // WinPcap kernel dump
  int (*live_dump_ended)(pcap_t*, int);
  // WinPcap/Npcap send queues (Windows only). The queue is opaque here:
  // pcap.h declares pcap_send_queue only for Windows builds.
  void* (*sendqueue_alloc)(u_int memsize);
  void (*sendqueue_destroy)(void* queue);
  int (*sendqueue_queue)(void* queue, const pcap_pkthdr* header, const u_char* data);
  u_int (*sendqueue_transmit)(pcap_t*, void* queue, int sync);
};

// The process-wide table, loaded on the first call. The library handle is a
// process resource (dlopen/LoadLibrary are global), so every addon instance
// and worker shares it. On failure returns null and sets *error to a message
// that names the fix for this OS. WIRECAP_LIBPCAP=/path/to/lib overrides
// the search.
const PcapApi* LoadPcapApi(std::string* error);

// The system's libpcap by its fixed names only, WIRECAP_LIBPCAP ignored: the
// capture helper loads it so while it holds capabilities. Not cached.
const PcapApi* LoadSystemPcapApi(std::string* error);
