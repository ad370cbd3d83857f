// FlowPass (see flow_pass.h). The frame checks are lib/flows/keys.ts's
// EthernetReader's, the hash is table.ts's hashKey, and every update is
// what tracker.ts's #flow and #tcp do for the same packet: the tests run
// the same frames through both and compare every flow and counter.
#include "flows/flow_pass.h"

#include <algorithm>
#include <cstring>

namespace {

// lib/flows/table.ts's slot layout: 32-bit words, and doubles (D per slot).
constexpr uint32_t kW = 48, kD = kW / 2, kKeyWords = 10;
constexpr uint32_t kHash = 10, kMeta = 13, kFlags = 14;
constexpr uint32_t kLastNs = 8, kBytes = 9, kPayload = 11;                      // doubles
constexpr uint32_t kSynNs = 19, kSynAckNs = 20, kRttNs = 21;                   // doubles of the last 64 bytes
constexpr uint32_t kLast = 26, kPackets = 28, kSeqEnd = 30, kFirst = 32, kHistory = 34, kPacketsHigh = 36;  // words
constexpr uint32_t kId = 22;  // double
constexpr uint32_t kLists = 4, kListTcp = 0, kListTcpClosed = 1, kListUdp = 2, kListOther = 3;
constexpr uint32_t kClientIsA = 0x100, kSeqSet = 0x200, kGuessed = 0x800, kFlipped = 0x1000, kRttAwaited = 0x2000;
// FlowSlots.sizes: flows held, free slots.
constexpr uint32_t kCount = 0, kFreeCount = 1;
constexpr uint32_t kSyn = 0x02, kAck = 0x10, kFin = 0x01, kRst = 0x04;
// The clock array: base time's words, the latest packet time (ns since the base), a timeout per list, the next flow id.
constexpr uint32_t kBaseHigh = 0, kBaseLow = 1, kNow = 2, kTimeouts = 3, kNextId = kTimeouts + kLists;

// Packets read (and their slots prefetched) ahead of the one being taken.
constexpr uint32_t kWindow = 16;

inline uint32_t Be16(const uint8_t* p) { return (static_cast<uint32_t>(p[0]) << 8) | p[1]; }
inline uint32_t Be32(const uint8_t* p) { return (Be16(p) << 16) | Be16(p + 2); }

uint32_t HashKey(const uint32_t* w) {
  uint32_t h = 0x9747b28c;
  for (uint32_t k = 0; k < kKeyWords; k++) {
    h = (h ^ w[k]) * 0xcc9e2d51u;
    h = (h << 15) | (h >> 17);
  }
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  return (h ^ (h >> 16)) & 0x3fffffff;
}

}  // namespace

// A frame of the common case, as EthernetReader reads it.
struct FrameKey {
  uint32_t key[kKeyWords];
  uint32_t hash;
  bool src_is_a;
  bool tcp;
  uint32_t flags;  // TCP's (0 for UDP)
  uint32_t seq;
  uint32_t payload;
  uint32_t src_port;
  uint32_t dst_port;
};

namespace {

// Reads frame[0, caplen): false for anything but an untagged Ethernet frame
// of IPv4 (no options, not a fragment) or IPv6 (no extension header) with a
// whole TCP or UDP header.
bool ReadFrame(const uint8_t* frame, uint32_t caplen, FrameKey* out) {
  if (caplen < 14 + 28) return false;
  const uint8_t* ip = frame + 14;
  const int64_t end = caplen - 14;  // offsets below are from ip
  const uint32_t type = Be16(frame + 12);
  uint32_t proto;
  int64_t t, ip_end;
  if (type == 0x0800) {
    const uint32_t total = Be16(ip + 2);
    if (ip[0] != 0x45 || total < 20 || (Be16(ip + 6) & 0x3fff) != 0) return false;
    proto = ip[9];
    t = 20;
    ip_end = std::min<int64_t>(end, total);
  } else if (type == 0x86dd) {
    const uint32_t plen = Be16(ip + 4);
    if (end < 48 || (ip[0] >> 4) != 6 || plen == 0) return false;
    proto = ip[6];
    t = 40;
    ip_end = std::min<int64_t>(end, t + plen);
  } else {
    return false;
  }
  int64_t po, pl;
  out->flags = 0;
  out->seq = 0;
  if (proto == 6) {
    if (ip_end - t < 20) return false;
    const int64_t hl = (ip[t + 12] >> 4) * 4;
    if (hl < 20 || ip_end - t < hl) return false;
    out->flags = Be16(ip + t + 12) & 0x0fff;
    out->seq = Be32(ip + t + 4);
    po = t + hl;
    pl = ip_end - po;
  } else if (proto == 17) {
    if (ip_end - t < 8) return false;
    const int64_t length = Be16(ip + t + 4);
    if (length < 8) return false;
    po = t + 8;
    const int64_t stop = std::min<int64_t>(ip_end, t + length);
    pl = stop > po ? stop - po : 0;
  } else {
    return false;
  }
  const uint32_t sp = Be16(ip + t);
  const uint32_t dp = Be16(ip + t + 2);
  uint32_t* w = out->key;
  bool src_is_a;
  if (type == 0x0800) {
    const uint32_t a = Be32(ip + 12);
    const uint32_t b = Be32(ip + 16);
    src_is_a = a < b || (a == b && sp <= dp);
    w[0] = src_is_a ? a : b;
    w[4] = src_is_a ? b : a;
    w[1] = w[2] = w[3] = w[5] = w[6] = w[7] = 0;
  } else {
    const int cmp = std::memcmp(ip + 8, ip + 24, 16);
    src_is_a = cmp < 0 || (cmp == 0 && sp <= dp);
    const uint8_t* x = src_is_a ? ip + 8 : ip + 24;
    const uint8_t* y = src_is_a ? ip + 24 : ip + 8;
    for (int k = 0; k < 4; k++) {
      w[k] = Be32(x + 4 * k);
      w[4 + k] = Be32(y + 4 * k);
    }
  }
  w[8] = src_is_a ? (sp << 16) | dp : (dp << 16) | sp;
  w[9] = proto | ((type == 0x0800 ? 4u : 6u) << 8);
  out->hash = HashKey(w);
  out->src_is_a = src_is_a;
  out->tcp = proto == 6;
  out->payload = static_cast<uint32_t>(pl);
  out->src_port = sp;
  out->dst_port = dp;
  return true;
}

}  // namespace

Napi::Function FlowPass::Define(Napi::Env env) {
  return DefineClass(env, "FlowPass",
                     {StaticMethod<&FlowPass::Layout>("layout"), InstanceMethod<&FlowPass::Table>("table"),
                      InstanceMethod<&FlowPass::Batch>("batch"), InstanceMethod<&FlowPass::Run>("run")});
}

FlowPass::FlowPass(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FlowPass>(info) {}

Napi::Value FlowPass::Layout(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  const std::pair<const char*, uint32_t> fields[] = {
      {"W", kW},         {"KEY_WORDS", kKeyWords}, {"HASH", kHash},
      {"META", kMeta},   {"FLAGS", kFlags},        {"LAST_NS", kLastNs},  {"BYTES", kBytes},   {"PAYLOAD", kPayload},
      {"LAST", kLast},   {"PACKETS", kPackets},    {"SEQ_END", kSeqEnd},  {"PACKETS_HIGH", kPacketsHigh},
      {"HISTORY", kHistory}, {"FIRST", kFirst},    {"SYN_NS", kSynNs},   {"SYN_ACK_NS", kSynAckNs}, {"RTT_NS", kRttNs},
      {"ID", kId},       {"LIST_UDP", kListUdp},   {"LIST_OTHER", kListOther}, {"CLIENT_IS_A", kClientIsA},
      {"GUESSED", kGuessed}, {"FLIPPED", kFlipped}, {"COUNT", kCount},  {"FREE_COUNT", kFreeCount},
      {"LIST_TCP", kListTcp}, {"LIST_TCP_CLOSED", kListTcpClosed}, {"RTT_AWAITED", kRttAwaited}};
  for (const auto& [name, value] : fields) o.Set(name, value);
  return o;
}

template <typename T>
void FlowPass::Hold(Held<T>* held, Napi::Value value) {
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  held->ref = Napi::Persistent(array);
  held->data = reinterpret_cast<T*>(static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset());
  held->length = array.ByteLength() / sizeof(T);
}

Napi::Value FlowPass::Table(const Napi::CallbackInfo& info) {
  Hold(&slots_, info[0]);
  Hold(&index_, info[1]);
  Hold(&links_, info[2]);
  Hold(&heads_, info[3]);
  Hold(&tails_, info[4]);
  Hold(&free_, info[5]);
  Hold(&sizes_, info[6]);
  Hold(&clock_, info[7]);
  capacity_ = static_cast<uint32_t>(std::min({slots_.length / kW, links_.length / 2, free_.length}));
  // A table run() could not use safely is never used: run() then takes nothing.
  const bool index_ok = index_.length >= 2 && (index_.length & (index_.length - 1)) == 0;
  if (!index_ok || index_.length / 2 < 2 * capacity_ || heads_.length < kLists || tails_.length < kLists || sizes_.length < 2 || clock_.length <= kNextId) capacity_ = 0;
  return info.Env().Undefined();
}

Napi::Value FlowPass::Batch(const Napi::CallbackInfo& info) {
  Hold(&data_, info[0]);
  Hold(&offsets_, info[1]);
  Hold(&caplens_, info[2]);
  Hold(&lens_, info[3]);
  Hold(&time_words_, info[4]);
  const size_t count = info[5].As<Napi::Number>().Uint32Value();
  count_ = static_cast<uint32_t>(std::min({count, offsets_.length, caplens_.length, lens_.length, time_words_.length / 2}));
  return info.Env().Undefined();
}

Napi::Value FlowPass::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t from = info[0].As<Napi::Number>().Uint32Value();
  if (capacity_ == 0) return Napi::Number::New(env, from);
  // The lists' ends must name slots of this table (Touch() and Append() keep them so from here on).
  for (uint32_t l = 0; l < kLists; l++) {
    if (heads_.data[l] >= static_cast<int32_t>(capacity_) || tails_.data[l] >= static_cast<int32_t>(capacity_)) return Napi::Number::New(env, from);
  }
  const uint32_t mask = static_cast<uint32_t>(index_.length / 2 - 1);
  FrameKey keys[kWindow];
  bool read[kWindow];
  PrefetchFrames(from, std::min(count_, from + kWindow));
  for (uint32_t i = from; i < count_; i += kWindow) {
    const uint32_t n = std::min(kWindow, count_ - i);
    // The next window's headers: the reader wrote them from another core.
    PrefetchFrames(i + n, std::min(count_, i + n + kWindow));
    // Read the window's frames and prefetch their first hash-index entries,
    for (uint32_t k = 0; k < n; k++) {
      const uint64_t start = offsets_.data[i + k];
      const uint32_t caplen = caplens_.data[i + k];
      read[k] = start + caplen <= data_.length && ReadFrame(data_.data + start, caplen, &keys[k]);
      if (read[k]) __builtin_prefetch(&index_.data[2 * (keys[k].hash & mask)]);
    }
    // then the slots those entries name (the two cache lines a packet updates),
    for (uint32_t k = 0; k < n; k++) {
      if (!read[k]) continue;
      const uint32_t e = static_cast<uint32_t>(index_.data[2 * (keys[k].hash & mask)]);
      if (e - 1 < capacity_) {
        __builtin_prefetch(&slots_.data[(e - 1) * kW]);
        __builtin_prefetch(&slots_.data[(e - 1) * kW + 16], 1);
      }
    }
    // then take them in order, up to the first that needs the tracker.
    for (uint32_t k = 0; k < n; k++) {
      if (!read[k]) return Napi::Number::New(env, i + k);
      const FrameKey& f = keys[k];
      uint32_t slot = UINT32_MAX;
      bool searched = false;  // an empty entry ended the search: the key is not in the table
      for (uint32_t probe = 0, x = f.hash & mask; probe <= mask; probe++, x = (x + 1) & mask) {
        const uint32_t e = static_cast<uint32_t>(index_.data[2 * x]);
        searched = e == 0;
        if (e == 0 || e - 1 >= capacity_) break;
        if (static_cast<uint32_t>(index_.data[2 * x + 1]) != f.hash) continue;
        if (std::memcmp(slots_.data + (e - 1) * kW, f.key, sizeof f.key) == 0) {
          slot = e - 1;
          break;
        }
      }
      if (slot == UINT32_MAX && !searched) return Napi::Number::New(env, i + k);
      const bool fresh = slot == UINT32_MAX;
      if (fresh) slot = Create(i + k, f);
      if (slot == UINT32_MAX || !Take(i + k, slot, f, fresh)) return Napi::Number::New(env, i + k);
      // A flow idle past its timeout now: the tracker ends it before the next packet.
      if (Expired()) return Napi::Number::New(env, i + k + 1);
    }
  }
  return Napi::Number::New(env, count_);
}

bool FlowPass::Expired() const {
  const double now = clock_.data[kNow];
  const double* d = reinterpret_cast<const double*>(slots_.data);
  for (uint32_t l = 0; l < kLists; l++) {
    const int32_t h = heads_.data[l];
    if (h >= 0 && now - d[h * kD + kLastNs] > clock_.data[kTimeouts + l]) return true;
  }
  return false;
}

void FlowPass::PrefetchFrames(uint32_t from, uint32_t to) {
  for (uint32_t j = from; j < to; j++) {
    const uint64_t start = offsets_.data[j];
    // The cache lines of the frame's first 74 bytes (Ethernet, IPv6, TCP's flags).
    if (start + 74 <= data_.length) {
      __builtin_prefetch(data_.data + start);
      __builtin_prefetch(data_.data + start + 73);
    }
  }
}

uint32_t FlowPass::Create(uint32_t i, const FrameKey& f) {
  // A full table needs an eviction, and one at its allocation's end a larger table: the tracker's.
  const int32_t free_count = sizes_.data[kFreeCount];
  if (free_count <= 0 || static_cast<uint32_t>(free_count) > free_.length) return UINT32_MAX;
  const uint32_t s = static_cast<uint32_t>(free_.data[free_count - 1]);
  if (s >= capacity_) return UINT32_MAX;
  sizes_.data[kFreeCount] = free_count - 1;
  sizes_.data[kCount]++;
  uint32_t* u = slots_.data + s * kW;
  double* d = reinterpret_cast<double*>(slots_.data) + s * kD;
  std::memset(u, 0, kW * sizeof *u);
  std::memcpy(u, f.key, sizeof f.key);
  u[kHash] = f.hash;
  d[kSynNs] = d[kSynAckNs] = d[kRttNs] = -1;
  const uint32_t list = f.tcp ? kListTcp : kListUdp;
  u[kMeta] = list;
  // Into the hash index (the index has twice the slots' entries: there is an empty one).
  const uint32_t mask = static_cast<uint32_t>(index_.length / 2 - 1);
  uint32_t x = f.hash & mask;
  while (index_.data[2 * x] != 0) x = (x + 1) & mask;
  index_.data[2 * x] = static_cast<int32_t>(s + 1);
  index_.data[2 * x + 1] = static_cast<int32_t>(f.hash);
  Append(s, list);
  // The client: the SYN's sender; the SYN-ACK's receiver; else (TCP) the higher port's side, a guess.
  bool src_is_client = true;
  if (f.tcp && (f.flags & (kSyn | kAck)) == (kSyn | kAck)) {
    src_is_client = false;
    u[kMeta] |= kFlipped;
  } else if (f.tcp && (f.flags & kSyn) == 0) {
    src_is_client = f.src_port >= f.dst_port;
    u[kMeta] |= kGuessed | (src_is_client ? 0 : kFlipped);
  }
  if (src_is_client == f.src_is_a) u[kMeta] |= kClientIsA;
  u[kFirst] = time_words_.data[2 * i];
  u[kFirst + 1] = time_words_.data[2 * i + 1];
  d[kId] = clock_.data[kNextId]++;
  return s;
}

bool FlowPass::Take(uint32_t i, uint32_t s, const FrameKey& f, bool fresh) {
  uint32_t* u = slots_.data + s * kW;
  double* d = reinterpret_cast<double*>(slots_.data) + s * kD;
  const uint32_t list = u[kMeta] & 0xff;
  if (list >= kLists) return false;
  // The packet's time in ns since the base, as tracker.ts's #clock computes
  // it: a product, then a sum, each rounded (separate statements, so no
  // compiler fuses them into one multiply-add).
  const uint32_t low = time_words_.data[2 * i];
  const uint32_t high = time_words_.data[2 * i + 1];
  const double words = static_cast<double>(static_cast<int64_t>(static_cast<int32_t>(high)) - static_cast<int64_t>(clock_.data[kBaseHigh]));
  const double scaled = words * 4294967296.0;
  const double ns = scaled + static_cast<double>(static_cast<int64_t>(low) - static_cast<int64_t>(clock_.data[kBaseLow]));
  // Idle past its timeout, or a new SYN on a closed connection: the flow ends first.
  if (!fresh && ns - d[kLastNs] > clock_.data[kTimeouts + list]) return false;
  if (!fresh && f.tcp && list == kListTcpClosed && (f.flags & (kSyn | kAck)) == kSyn) return false;
  // The list links Touch() follows must name slots of this table.
  const int32_t* links = links_.data + 2 * s;
  if (links[0] >= static_cast<int32_t>(capacity_) || links[1] >= static_cast<int32_t>(capacity_)) return false;

  const uint32_t side = ((u[kMeta] & kClientIsA) != 0) == f.src_is_a ? 0 : 1;
  clock_.data[kNow] = std::max(clock_.data[kNow], ns);
  const uint32_t packets = u[kPackets + side] + 1;
  u[kPackets + side] = packets;
  if (packets == 0) u[kPacketsHigh + side]++;
  d[kBytes + side] += lens_.data[i];
  d[kPayload + side] += f.payload;
  u[kLast] = low;
  u[kLast + 1] = high;
  d[kLastNs] = ns;
  Touch(s, f.tcp ? Tcp(s, side, f, ns) : list);
  return true;
}

uint32_t FlowPass::Tcp(uint32_t s, uint32_t side, const FrameKey& f, double ns) {
  uint32_t* u = slots_.data + s * kW;
  double* d = reinterpret_cast<double*>(slots_.data) + s * kD;
  const uint32_t flags = f.flags;
  uint32_t& seen = u[kFlags + side];  // TCP flags (low 16 bits), history letters (high 16)
  seen |= flags;
  // History letters (Zeek's, as bits): s h a d f r t.
  uint32_t bits = 0;
  if ((flags & kSyn) != 0) bits |= (flags & kAck) != 0 ? 2 : 1;
  if ((flags & kFin) != 0) bits |= 16;
  if ((flags & kRst) != 0) bits |= 32;
  if (f.payload > 0) {
    const uint32_t end_seq = f.seq + f.payload;
    if ((u[kMeta] & (kSeqSet << side)) != 0 && static_cast<int32_t>(end_seq - u[kSeqEnd + side]) <= 0) {
      bits |= 64;
    } else {
      bits |= 8;
      u[kSeqEnd + side] = end_seq;
      u[kMeta] |= kSeqSet << side;
    }
  } else if ((flags & (kSyn | kFin | kRst)) == 0 && (flags & kAck) != 0) {
    bits |= 4;
  }
  const uint32_t fresh = bits & ~(seen >> 16);
  if (fresh != 0) {
    seen |= fresh << 16;
    // Appended in order as 4-bit codes, 16 at most over two words.
    for (uint32_t k = 0; k < 7; k++) {
      if ((fresh & (1u << k)) == 0) continue;
      const uint32_t code = 1 + k + 7 * side;
      uint32_t at = kHistory + ((u[kHistory] >> 28) != 0 ? 1 : 0);
      uint32_t shift = 0;
      while (shift < 32 && ((u[at] >> shift) & 15) != 0) shift += 4;
      if (shift < 32) u[at] |= code << shift;
    }
  }
  // Handshake RTT: the client's SYN, the server's SYN-ACK, the client's first ACK after them.
  const uint32_t sa = flags & (kSyn | kAck);
  if (side == 0 && sa == kSyn && d[kSynNs] < 0) {
    d[kSynNs] = ns;
    if (d[kSynAckNs] >= 0 && d[kRttNs] < 0) u[kMeta] |= kRttAwaited;
  } else if (side == 1 && sa == (kSyn | kAck) && d[kSynAckNs] < 0) {
    d[kSynAckNs] = ns;
    if (d[kSynNs] >= 0 && d[kRttNs] < 0) u[kMeta] |= kRttAwaited;
  } else if (side == 0 && sa == kAck && (u[kMeta] & kRttAwaited) != 0) {
    d[kRttNs] = ns - d[kSynNs];
    u[kMeta] &= ~kRttAwaited;
  }
  const bool closed = (flags & kRst) != 0 || (u[kMeta] & 0xff) == kListTcpClosed || (u[kFlags] & u[kFlags + 1] & kFin) != 0;
  return closed ? kListTcpClosed : kListTcp;
}

void FlowPass::Touch(uint32_t s, uint32_t list) {
  int32_t* links = links_.data;
  const int32_t me = static_cast<int32_t>(s);
  const uint32_t meta = slots_.data[s * kW + kMeta];
  const uint32_t was = meta & 0xff;
  if (was == list && tails_.data[list] == me) return;
  const int32_t p = links[2 * s];
  const int32_t n = links[2 * s + 1];
  if (p >= 0) links[2 * p + 1] = n;
  else heads_.data[was] = n;
  if (n >= 0) links[2 * n] = p;
  else tails_.data[was] = p;
  slots_.data[s * kW + kMeta] = (meta & ~0xffu) | list;
  Append(s, list);
}

void FlowPass::Append(uint32_t s, uint32_t list) {
  int32_t* links = links_.data;
  const int32_t me = static_cast<int32_t>(s);
  const int32_t tail = tails_.data[list];
  links[2 * s] = tail;
  links[2 * s + 1] = -1;
  if (tail >= 0) links[2 * tail + 1] = me;
  else heads_.data[list] = me;
  tails_.data[list] = me;
}
