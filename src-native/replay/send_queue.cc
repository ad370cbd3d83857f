// SendQueue (see send_queue.h).
#include "replay/send_queue.h"

bool SendQueue::Add(int64_t offset_ns, const uint8_t* data, uint32_t caplen) {
  pcap_pkthdr header{};
  header.ts.tv_sec = static_cast<decltype(header.ts.tv_sec)>(offset_ns / 1000000000);
  header.ts.tv_usec = static_cast<decltype(header.ts.tv_usec)>(offset_ns % 1000000000 / 1000);
  header.caplen = caplen;
  header.len = caplen;
  if (api_.sendqueue_queue(queue_, &header, data) != 0) return false;
  sizes_.push_back(static_cast<uint32_t>(sizeof header) + caplen);
  return true;
}

size_t SendQueue::Transmit(pcap_t* pcap, bool sync) {
  // The driver answers how many of the queue's bytes it got through.
  const u_int done = api_.sendqueue_transmit(pcap, queue_, sync ? 1 : 0);
  size_t whole = 0;
  uint64_t through = 0;
  for (uint32_t size : sizes_) {
    if (through + size > done) break;
    through += size;
    whole++;
  }
  // Emptied in place: pcap_send_queue is { u_int maxlen; u_int len; char* buffer; }.
  static_cast<u_int*>(queue_)[1] = 0;
  sizes_.clear();
  return whole;
}
