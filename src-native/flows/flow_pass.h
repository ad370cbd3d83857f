// FlowTracker's per-packet fast path (lib/flows/tracker.ts): for the
// packets of a batch that belong to a flow the table holds, or start one
// in a free slot, it updates the flow table's typed arrays
// (lib/flows/table.ts's layout) in place, and stops at the first packet that
// needs more (a flow that ends first, a full table, any frame but the
// common case), which the tracker then takes in JavaScript before calling
// it again. Faster than
// the JavaScript it stands in for because it can prefetch a window of
// packets' hash-index entries and slots: the misses on a table larger than
// the cache are then waited for together. JS thread only; it holds the
// arrays it is given, so nothing it points into is collected.
#pragma once

#include <napi.h>

#include <cstdint>

// A frame's key and fields, as run() read them (flow_pass.cc).
struct FrameKey;

class FlowPass : public Napi::ObjectWrap<FlowPass> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new FlowPass()
  explicit FlowPass(const Napi::CallbackInfo& info);

 private:
  // layout(): the table layout this code was built for (a test compares it with table.ts's).
  static Napi::Value Layout(const Napi::CallbackInfo& info);
  // table(slots: Uint32Array, index: Int32Array, links: Int32Array, heads: Int32Array, tails: Int32Array,
  //       free: Int32Array, sizes: Int32Array, clock: Float64Array):
  // the table's arrays (again after it grows). clock: [base high word, base low word, now, timeout per list (4), next flow id].
  Napi::Value Table(const Napi::CallbackInfo& info);
  // batch(data, offsets, caplens, lens, timeWords: Uint32Array, count): the batch the next run() calls read.
  Napi::Value Batch(const Napi::CallbackInfo& info);
  // run(from): takes packets from `from` on; returns the first it did not take (the batch's count when all),
  // or the one after a packet that left a flow idle past its timeout (the tracker ends it first).
  Napi::Value Run(const Napi::CallbackInfo& info);

  // A new flow for packet i in a free slot (table.ts's insert and tracker.ts's #create), or UINT32_MAX
  // (nothing changed) when the tracker must make room.
  uint32_t Create(uint32_t i, const FrameKey& frame);
  // Takes packet i of a held flow (fresh: just created); false (nothing changed) when the flow must end first.
  bool Take(uint32_t i, uint32_t slot, const FrameKey& frame, bool fresh);
  // A TCP packet's flags, history, sequence end and handshake times (tracker.ts's #tcp); returns the list it belongs in.
  uint32_t Tcp(uint32_t slot, uint32_t side, const FrameKey& frame, double ns);
  // Whether a list's least recently seen flow is idle past its timeout (tracker.ts's #expire would end it).
  bool Expired() const;
  // Prefetches the headers of packets [from, to).
  void PrefetchFrames(uint32_t from, uint32_t to);
  // Moves slot s to the tail of list (table.ts's touch()).
  void Touch(uint32_t s, uint32_t list);
  // Links slot s at the tail of list.
  void Append(uint32_t s, uint32_t list);

  template <typename T>
  struct Held {
    Napi::Reference<Napi::TypedArray> ref;
    T* data = nullptr;
    size_t length = 0;
  };
  template <typename T>
  static void Hold(Held<T>* held, Napi::Value value);

  Held<uint32_t> slots_;
  Held<int32_t> index_;
  Held<int32_t> links_;
  Held<int32_t> heads_;
  Held<int32_t> tails_;
  Held<int32_t> free_;
  Held<int32_t> sizes_;
  Held<double> clock_;
  Held<uint8_t> data_;
  Held<uint32_t> offsets_;
  Held<uint32_t> caplens_;
  Held<uint32_t> lens_;
  Held<uint32_t> time_words_;
  uint32_t count_ = 0;
  uint32_t capacity_ = 0;
};
