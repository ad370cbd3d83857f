// Batch slabs, kept for reuse once JavaScript lets go of them. A file (or a
// busy link) fills a 1 MiB slab every few hundred microseconds: a fresh
// malloc for each would fault every page in again and fragment the heap, so
// a few full-size slabs are kept. Shared with the finalizers of the Buffers
// JavaScript holds, which may run after the capture handle is gone.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_set>
#include <vector>

class SlabPool {
 public:
  SlabPool(size_t slab_bytes, size_t keep) : slab_bytes_(slab_bytes), keep_(keep) {}
  SlabPool(const SlabPool&) = delete;
  SlabPool& operator=(const SlabPool&) = delete;
  ~SlabPool() {
    Drain();
    for (uint8_t* slab : pinned_) std::free(slab);
  }

  size_t slab_bytes() const { return slab_bytes_; }

  // A kept full-size slab if there is one, else a new one of `bytes`.
  // Sets *capacity to the slab's size (0 when out of memory).
  uint8_t* Take(size_t bytes, size_t* capacity) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        uint8_t* slab = free_.back();
        free_.pop_back();
        *capacity = slab_bytes_;
        return slab;
      }
    }
    auto* slab = static_cast<uint8_t*>(std::malloc(bytes));
    *capacity = slab == nullptr ? 0 : bytes;
    return slab;
  }

  // A full-size slab lent to JavaScript for good (batches({ recycle: true })):
  // a Buffer may point at it until garbage collection, so the pool owns it
  // until the pool itself goes, and Give() only puts it back in circulation.
  void Pin(uint8_t* slab) {
    std::lock_guard<std::mutex> lock(mutex_);
    pinned_.insert(slab);
  }

  // Any slab from Take or realloc; full-size ones are kept while there is room.
  void Give(uint8_t* slab, size_t capacity) {
    if (slab == nullptr) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (pinned_.count(slab) != 0) {
        if (keep_ > 0) free_.push_back(slab);  // after Drain() it waits for the destructor
        return;
      }
    }
    if (capacity == slab_bytes_) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (free_.size() < keep_) {
        free_.push_back(slab);
        return;
      }
    }
    std::free(slab);
  }

  // Frees the kept slabs and keeps none from now on (the capture closed).
  void Drain() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (uint8_t* slab : free_) {
      if (pinned_.count(slab) == 0) std::free(slab);
    }
    free_.clear();
    keep_ = 0;
  }

 private:
  const size_t slab_bytes_;
  size_t keep_;
  std::mutex mutex_;
  std::vector<uint8_t*> free_;
  std::unordered_set<uint8_t*> pinned_;
};
