// wirecap's end of the capture helper (helper_main.cc): starts it, reads its
// packets frames on the capture thread and hands each packet to the same
// callback pcap_dispatch would, and asks it for what a pcap_t would answer
// (setfilter, stats, inject). CaptureHandle uses one in place of its pcap_t
// when the capture goes through the helper; everything above (queue, dumps,
// close) is unchanged. POSIX only; on Windows Start() always refuses.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

class HelperClient {
 public:
  struct Opened {
    int linktype = 0;
    int snaplen = 0;
    bool nano = false;
  };
  // What failed, as the helper said it (channel.h's Stage and libpcap's
  // status and text), or stage 0 when the helper itself could not run or
  // broke the protocol (text says how).
  struct Failure {
    int stage = 0;
    int status = 0;
    std::string text;
  };

  // Starts path with args (the helper's, --parent added here) and waits for
  // its answer: the device is open, or *failure says why not.
  static std::unique_ptr<HelperClient> Start(const std::string& path, const std::vector<std::string>& args,
                                             Opened* opened, Failure* failure);
  // Ends the channel and reaps the helper (killed if it lingers).
  ~HelperClient();
  HelperClient(const HelperClient&) = delete;
  HelperClient& operator=(const HelperClient&) = delete;

  // The descriptor that is readable when the helper has sent something.
  int fd() const { return from_helper_; }

  // Capture thread: hands every packet the channel holds now to handler,
  // as pcap_dispatch does. Returns the count, or -1 once the helper failed
  // or is gone (failure() then says why).
  int Dispatch(pcap_handler handler, u_char* user);
  const Failure& failure() const { return failure_; }

  // Capture thread (or any thread once it ended): requests answered by the
  // helper. Packets that arrive before the answer are kept for the next
  // Dispatch(): these run as tasks, under CaptureHandle's lock.
  bool SetFilter(const std::string& filter, std::string* error);
  bool Stats(pcap_stat* stats);
  int Inject(const uint8_t* data, size_t size, std::string* error);

 private:
  HelperClient() = default;
  // Reads what the pipe holds (up to a bound); false at its end or on an error.
  bool Fill();
  // Handles whole frames in in_: packets to handler (or, without one, kept
  // in held_); the first frame of type want (if any) is stored in *reply
  // and handling stops there. Returns packets handled, or -1 (failure_ set).
  int Handle(pcap_handler handler, u_char* user, uint32_t want, std::vector<uint8_t>* reply);
  // One packets frame's records to handler; -1 if malformed.
  int Deliver(const uint8_t* body, size_t size, pcap_handler handler, u_char* user);
  // Sends a request and waits (bounded) for its reply.
  bool Request(uint32_t type, const void* body, size_t size, uint32_t reply_type, std::vector<uint8_t>* reply);
  void Broken(const std::string& why);

  int pid_ = -1;
  int to_helper_ = -1;
  int from_helper_ = -1;
  std::unique_ptr<uint8_t[]> in_;  // bytes read: in_size_ of them, from in_start_ on not yet handled
  size_t in_size_ = 0;
  size_t in_start_ = 0;
  std::vector<uint8_t> held_;  // packets frames' bodies met while waiting for a reply
  int snaplen_ = 0;  // the device's: a longer packet is a broken channel
  bool ended_ = false;
  Failure failure_;
};
