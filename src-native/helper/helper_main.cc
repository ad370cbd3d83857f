// wirecap-helper: the only part of wirecap that may hold capabilities (as
// Wireshark's dumpcap is). `wirecap grant` gives this file cap_net_raw and
// cap_net_admin; Node never gets them. It opens one device, drops every
// capability once the handle is active, and then only moves packets and
// answers requests over its stdin/stdout (channel.h). It opens no path,
// loads libpcap only from the system's fixed names, takes no environment,
// and ends with its parent.
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "helper/channel.h"
#include "loader/pcap_api.h"

namespace {

const char kUsage[] =
    "usage: wirecap-helper --parent PID --device NAME [--snaplen 1..262144] [--buffer BYTES]\n"
    "       [--timeout 1..60000] [--promisc] [--immediate] [--nano] [--direction in|out|inout] [--filter TEXT]\n"
    "It is started by wirecap, which talks to it over its stdin and stdout.\n";

constexpr size_t kMaxFilter = 65536;
constexpr int kWakeMs = 250;  // also how often a vanished interface or a dead parent is noticed

struct Options {
  long parent = 0;
  std::string device;
  long snaplen = 262144;
  long buffer = 0;
  long timeout = 100;
  bool promisc = false, immediate = false, nano = false;
  std::string direction;
  std::string filter;
  bool has_filter = false;
};

// A decimal in [low, high], digits only.
bool ParseNumber(const char* text, long low, long high, long* out) {
  size_t n = std::strlen(text);
  if (n == 0 || n > 10) return false;
  long value = 0;
  for (size_t i = 0; i < n; i++) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  if (value < low || value > high) return false;
  *out = value;
  return true;
}

// Interface names and libpcap's pseudo-devices (any, nflog:5, usbmon1,
// dbus-system): never a path, never an option.
bool ValidDevice(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '-' || name[0] == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-' || c == ':' || c == '@';
    if (!ok) return false;
  }
  return true;
}

bool Parse(int argc, char** argv, Options* o, std::string* why) {
  std::vector<std::string> seen;
  for (int i = 1; i < argc; i++) {
    const std::string arg = argv[i];
    for (const std::string& s : seen) {
      if (s == arg) return *why = arg + " is given twice", false;
    }
    seen.push_back(arg);
    if (arg == "--promisc") { o->promisc = true; continue; }
    if (arg == "--immediate") { o->immediate = true; continue; }
    if (arg == "--nano") { o->nano = true; continue; }
    if (i + 1 >= argc) return *why = arg + (arg.rfind("--", 0) == 0 ? " needs a value" : ": unknown argument"), false;
    const char* value = argv[++i];
    if (arg == "--parent") {
      if (!ParseNumber(value, 2, 4194304, &o->parent)) return *why = "--parent must be a process id", false;
    } else if (arg == "--device") {
      o->device = value;
      if (!ValidDevice(o->device)) return *why = "--device must be an interface name (letters, digits, . _ - : @; at most 64)", false;
    } else if (arg == "--snaplen") {
      if (!ParseNumber(value, 1, 262144, &o->snaplen)) return *why = "--snaplen must be 1..262144", false;
    } else if (arg == "--buffer") {
      if (!ParseNumber(value, 0, 2147483647, &o->buffer)) return *why = "--buffer must be 0..2147483647", false;
    } else if (arg == "--timeout") {
      if (!ParseNumber(value, 1, 60000, &o->timeout)) return *why = "--timeout must be 1..60000", false;
    } else if (arg == "--direction") {
      o->direction = value;
      if (o->direction != "in" && o->direction != "out" && o->direction != "inout") {
        return *why = "--direction must be in, out or inout", false;
      }
    } else if (arg == "--filter") {
      o->filter = value;
      o->has_filter = true;
      if (o->filter.size() > kMaxFilter) return *why = "--filter is longer than 65536 bytes", false;
    } else {
      return *why = arg + ": unknown argument", false;
    }
  }
  if (o->parent == 0) return *why = "--parent is required", false;
  if (o->device.empty()) return *why = "--device is required", false;
  return true;
}

// Keeps of the capabilities held only those in keep (none raised: without
// a grant it has none, and libpcap then says permission denied). By the
// raw system calls: no libcap needed where it runs.
bool KeepCapabilities(uint32_t keep) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  const uint32_t held = data[0].permitted & keep;
  data[0] = {held, held, 0};
  data[1] = {0, 0, 0};
  return syscall(SYS_capset, &header, data) == 0;
}

bool WriteAll(const uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(STDOUT_FILENO, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

void Send(uint32_t type, const void* body, size_t size) {
  std::vector<uint8_t> frame(helper::kHeaderBytes);
  helper::PutHeader(frame.data(), type, static_cast<uint32_t>(size));
  frame.insert(frame.end(), static_cast<const uint8_t*>(body), static_cast<const uint8_t*>(body) + size);
  if (!WriteAll(frame.data(), frame.size())) _exit(0);  // wirecap is gone
}

void SendStatus(uint32_t type, int32_t status, const std::string& text) {
  std::string body(4, '\0');
  std::memcpy(&body[0], &status, 4);
  body += text.substr(0, 4096);
  Send(type, body.data(), body.size());
}

[[noreturn]] void Fail(int32_t stage, int32_t status, const std::string& text) {
  std::string body(8, '\0');
  std::memcpy(&body[0], &stage, 4);
  std::memcpy(&body[4], &status, 4);
  body += text.substr(0, 4096);
  Send(helper::kFailed, body.data(), body.size());
  _exit(1);
}

struct Capture {
  const PcapApi* api = nullptr;
  pcap_t* pcap = nullptr;
  bpf_u_int32 netmask = PCAP_NETMASK_UNKNOWN;
  // The packets frame being filled, header first: out_size bytes of
  // kPacketsFrameBytes plus one largest packet (a raw buffer: a vector
  // would zero every byte before the packet is copied over it).
  std::unique_ptr<uint8_t[]> out;
  size_t out_size = 0;
  std::vector<uint8_t> in;   // requests read so far

  void StartFrame() {
    out_size = helper::kHeaderBytes;
  }
  void Flush() {
    if (out_size == helper::kHeaderBytes) return;
    helper::PutHeader(out.get(), helper::kPackets, static_cast<uint32_t>(out_size - helper::kHeaderBytes));
    if (!WriteAll(out.get(), out_size)) _exit(0);
    StartFrame();
  }
  static void OnPacket(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
    auto* self = reinterpret_cast<Capture*>(user);
    const size_t need = helper::kRecordBytes + h->caplen;
    if (self->out_size + need > helper::kPacketsFrameBytes) self->Flush();
    const size_t at = self->out_size;
    self->out_size += need;
    helper::PutRecord(&self->out[at], helper::Record{static_cast<int64_t>(h->ts.tv_sec),
                                                     static_cast<uint32_t>(h->ts.tv_usec), h->caplen, h->len});
    std::memcpy(&self->out[at + helper::kRecordBytes], bytes, h->caplen);
  }

  bool SetFilter(const std::string& text, std::string* why) {
    bpf_program program{};
    if (api->compile(pcap, &program, text.c_str(), 1, netmask) != 0) {
      *why = api->geterr(pcap);
      return false;
    }
    const bool ok = api->setfilter(pcap, &program) == 0;
    if (!ok) *why = api->geterr(pcap);
    api->freecode(&program);
    return ok;
  }

  // One request. Packets captured before it go out first, so wirecap sees
  // them before the reply.
  void Serve(uint32_t type, const uint8_t* body, uint32_t size) {
    Flush();
    if (type == helper::kSetFilter) {
      std::string why;
      const bool ok = SetFilter(std::string(reinterpret_cast<const char*>(body), size), &why);
      SendStatus(helper::kFilterReply, ok ? 0 : -1, why);
    } else if (type == helper::kStats) {
      pcap_stat s{};
      uint32_t reply[3] = {0, 0, 0};
      if (api->stats(pcap, &s) == 0) {
        reply[0] = s.ps_recv;
        reply[1] = s.ps_drop;
        reply[2] = s.ps_ifdrop;
      }
      Send(helper::kStatsReply, reply, sizeof reply);
    } else if (type == helper::kInject && api->inject != nullptr) {
      int sent = api->inject(pcap, body, size);
      SendStatus(helper::kInjectReply, sent, sent < 0 ? api->geterr(pcap) : "");
    } else if (type == helper::kInject) {
      SendStatus(helper::kInjectReply, -1, "the system's libpcap has no pcap_inject");
    } else {
      _exit(4);  // not wirecap talking
    }
  }

  // Reads what stdin holds and serves every whole request; false at its end.
  bool ReadRequests() {
    uint8_t chunk[65536];
    ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    if (n == 0) return false;
    in.insert(in.end(), chunk, chunk + n);
    size_t at = 0;
    while (in.size() - at >= helper::kHeaderBytes) {
      uint32_t type, size;
      std::memcpy(&type, &in[at], 4);
      std::memcpy(&size, &in[at + 4], 4);
      if (size > helper::kMaxFrame) _exit(4);
      if (in.size() - at - helper::kHeaderBytes < size) break;
      Serve(type, &in[at + helper::kHeaderBytes], size);
      at += helper::kHeaderBytes + size;
    }
    in.erase(in.begin(), in.begin() + static_cast<long>(at));
    return true;
  }
};

void CloseOtherDescriptors() {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0) return;
#endif
  for (int fd = 3; fd < 65536; fd++) close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  // First, so that no window is left: a parent that died before this is
  // caught by the getppid() check below.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  Options o;
  std::string why;
  if (!Parse(argc, argv, &o, &why)) {
    std::fprintf(stderr, "wirecap-helper: %s\n%s", why.c_str(), kUsage);
    return 2;
  }
  if (getppid() != static_cast<pid_t>(o.parent)) return 3;
  CloseOtherDescriptors();
  clearenv();
  signal(SIGPIPE, SIG_DFL);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  const uint32_t net_caps = (1u << CAP_NET_RAW) | (1u << CAP_NET_ADMIN);
  if (!KeepCapabilities(net_caps)) Fail(helper::kStageCapabilities, errno, std::strerror(errno));

  Capture c;
  const PcapApi* api = LoadSystemPcapApi(&why);
  if (api == nullptr) Fail(helper::kStageLibrary, 0, why);
  c.api = api;
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  c.pcap = api->create(o.device.c_str(), errbuf);
  if (c.pcap == nullptr) Fail(helper::kStageActivate, PCAP_ERROR, errbuf);
  api->set_snaplen(c.pcap, static_cast<int>(o.snaplen));
  api->set_promisc(c.pcap, o.promisc ? 1 : 0);
  api->set_timeout(c.pcap, static_cast<int>(o.timeout));
  if (o.buffer > 0) api->set_buffer_size(c.pcap, static_cast<int>(o.buffer));
  if (o.immediate) {
    if (api->set_immediate_mode == nullptr) Fail(helper::kStageImmediate, 0, "");
    api->set_immediate_mode(c.pcap, 1);
  }
  if (o.nano && (api->set_tstamp_precision == nullptr ||
                 api->set_tstamp_precision(c.pcap, PCAP_TSTAMP_PRECISION_NANO) != 0)) {
    Fail(helper::kStageNano, 0, "");
  }
  int status = api->activate(c.pcap);
  if (status < 0) Fail(helper::kStageActivate, status, api->geterr(c.pcap));
  // The socket is open: nothing after this needs a capability.
  if (!KeepCapabilities(0)) Fail(helper::kStageCapabilities, errno, std::strerror(errno));

  if (!o.direction.empty()) {
    pcap_direction_t d = o.direction == "in" ? PCAP_D_IN : o.direction == "out" ? PCAP_D_OUT : PCAP_D_INOUT;
    if (api->setdirection == nullptr || api->setdirection(c.pcap, d) != 0) {
      Fail(helper::kStageDirection, 0, api->setdirection != nullptr ? api->geterr(c.pcap) : "");
    }
  }
  bpf_u_int32 net = 0;
  if (api->lookupnet(o.device.c_str(), &net, &c.netmask, errbuf) != 0) c.netmask = PCAP_NETMASK_UNKNOWN;
  if (o.has_filter && !c.SetFilter(o.filter, &why)) Fail(helper::kStageFilter, 0, why);
  const int pcap_fd = api->get_selectable_fd != nullptr ? api->get_selectable_fd(c.pcap) : -1;
  if (pcap_fd < 0 || api->setnonblock(c.pcap, 1, errbuf) != 0) Fail(helper::kStageActivate, PCAP_ERROR, "no selectable descriptor");
  fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);

  const int32_t nano = api->get_tstamp_precision != nullptr &&
                       api->get_tstamp_precision(c.pcap) == PCAP_TSTAMP_PRECISION_NANO;
  const int32_t ready[3] = {api->datalink(c.pcap), api->snapshot(c.pcap), nano};
  Send(helper::kReady, ready, sizeof ready);

  c.out.reset(new uint8_t[helper::kPacketsFrameBytes + helper::kRecordBytes + static_cast<size_t>(o.snaplen)]);
  c.StartFrame();
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {pcap_fd, POLLIN, 0}};
    poll(fds, 2, kWakeMs);
    // The end: _exit, as on every other way out (nothing is buffered, and
    // the kernel closes the socket).
    if (getppid() != static_cast<pid_t>(o.parent)) _exit(0);
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !c.ReadRequests()) _exit(0);
    int n = api->dispatch(c.pcap, -1, &Capture::OnPacket, reinterpret_cast<u_char*>(&c));
    c.Flush();
    if (n < 0 && n != PCAP_ERROR_BREAK) Fail(helper::kStageCapture, n, api->geterr(c.pcap));
  }
}
