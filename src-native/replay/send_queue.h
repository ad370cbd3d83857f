// A WinPcap/Npcap send queue (pcap_sendqueue_*): packets with their
// headers in one buffer that the driver sends in one call, pacing them by
// their timestamps itself when asked to (sync). Replay thread only.
#pragma once

#include <cstdint>
#include <vector>

#include "loader/pcap_api.h"

class SendQueue {
 public:
  // Whether the library has send queues (Npcap and WinPcap do).
  static bool Available(const PcapApi& api) {
    return api.sendqueue_alloc != nullptr && api.sendqueue_destroy != nullptr && api.sendqueue_queue != nullptr &&
           api.sendqueue_transmit != nullptr;
  }
  SendQueue(const PcapApi& api, u_int bytes) : api_(api), queue_(api.sendqueue_alloc(bytes)) {}
  ~SendQueue() {
    if (queue_ != nullptr) api_.sendqueue_destroy(queue_);
  }
  SendQueue(const SendQueue&) = delete;
  SendQueue& operator=(const SendQueue&) = delete;

  bool ok() const { return queue_ != nullptr; }
  bool empty() const { return sizes_.empty(); }
  size_t count() const { return sizes_.size(); }
  // Queues a packet to go offset_ns after the first; false when full.
  bool Add(int64_t offset_ns, const uint8_t* data, uint32_t caplen);
  // Sends what is queued (sync: at the queued offsets) and empties the
  // queue. Returns how many packets went out whole; fewer than count()
  // means the driver failed (pcap_geterr says why).
  size_t Transmit(pcap_t* pcap, bool sync);

 private:
  const PcapApi& api_;
  void* queue_;
  std::vector<uint32_t> sizes_;  // each queued record's bytes, header included
};
