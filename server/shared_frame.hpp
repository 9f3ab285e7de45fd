// A message to many receivers, framed once: an immutable, reference-counted buffer holding a
// whole server frame (header and payload) and, after it, an application's key (a pubsub topic).
// Each receiver's output queue holds one reference (Owner::Shared in output_queue.hpp), never a
// copy; receivers on other reactor threads share the same buffer. The buffer is charged to the
// memory budget once, when it is made, and returns to the pool that made it when its last
// reference is dropped, on whichever thread that happens.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "core/frame.hpp"
#include "server/memory_budget.hpp"

namespace wsring::server {

class SharedFramePool;

class SharedFrame {
 public:
  const uint8_t* data() const { return bytes(); }
  uint32_t size() const { return size_; }
  std::string_view key() const { return {reinterpret_cast<const char*>(bytes()) + size_, key_size_}; }
  // The payload (what follows the frame header).
  std::string_view payload() const {
    return {reinterpret_cast<const char*>(bytes()) + header_size_, size_ - header_size_};
  }

  // References: one per receiver queue, one per thread a frame was posted to, one for its maker.
  // Relaxed adds: a reference is only ever added by a holder of another.
  void add_refs(uint32_t n) { refs_.fetch_add(n, std::memory_order_relaxed); }
  void release(uint32_t n = 1);
  uint32_t refs() const { return refs_.load(std::memory_order_relaxed); }

 private:
  friend class SharedFramePool;
  uint8_t* bytes() const { return reinterpret_cast<uint8_t*>(const_cast<SharedFrame*>(this) + 1); }

  std::atomic<uint32_t> refs_{0};
  uint32_t size_ = 0;       // frame bytes (header + payload)
  uint32_t capacity_ = 0;   // bytes after the record (frame + key)
  uint16_t key_size_ = 0;
  uint8_t header_size_ = 0;
  SharedFramePool* pool_ = nullptr;
  SharedFrame* next_ = nullptr;  // on the pool's lists
};

// Makes shared frames for one thread; any thread may give them back. Frames of up to
// kPooledCapacity bytes are kept for reuse; larger ones go back to the allocator. Must outlive
// every frame it made (in wsring-echo it lives as long as the process's threads).
class SharedFramePool {
 public:
  static constexpr uint32_t kPooledCapacity = 1024 - 64;  // a record + this fits 1 KiB
  static constexpr size_t kMaxKeySize = 1024;

  explicit SharedFramePool(MemoryBudget& budget, size_t keep_free = 4096);
  ~SharedFramePool();
  SharedFramePool(const SharedFramePool&) = delete;
  SharedFramePool& operator=(const SharedFramePool&) = delete;

  // A frame (FIN, `opcode`) whose payload is `parts` one after another, with `key`; one
  // reference, the caller's. nullptr when the budget (or the allocator) refuses, or the key is
  // too long.
  SharedFrame* make(core::Opcode opcode, std::initializer_list<std::string_view> parts, std::string_view key = {});
  // Called by SharedFrame::release on the last reference (any thread).
  void give_back(SharedFrame* frame);
  // Frames made and not given back yet (approximate while other threads give back).
  int64_t in_use() const { return in_use_.load(std::memory_order_relaxed); }

 private:
  SharedFrame* take(uint32_t capacity);

  MemoryBudget& budget_;
  const size_t keep_free_;
  std::vector<SharedFrame*> free_;            // this thread's, ready for reuse
  std::atomic<SharedFrame*> returned_{nullptr};  // given back (by any thread): a lock-free stack
  std::atomic<int64_t> in_use_{0};
};

// References a thread drops, gathered per frame and given back in one atomic step each
// (flush()): the receivers of a broadcast finish their sends in one turn, and an atomic
// decrement per receiver was a visible cost. The owner flushes at the end of every turn and
// before the pools go.
class SharedFrameReleases {
 public:
  void add(SharedFrame* frame) {
    for (uint32_t i = 0; i < size_; ++i)
      if (entries_[i].frame == frame) {
        ++entries_[i].count;
        return;
      }
    if (size_ == kSlots) flush();
    entries_[size_++] = Entry{frame, 1};
  }
  void flush();

 private:
  static constexpr uint32_t kSlots = 16;
  struct Entry {
    SharedFrame* frame;
    uint32_t count;
  };
  Entry entries_[kSlots];
  uint32_t size_ = 0;
};

inline void SharedFrame::release(uint32_t n) {
  if (refs_.fetch_sub(n, std::memory_order_acq_rel) == n) pool_->give_back(this);
}

inline void SharedFrameReleases::flush() {
  // Reset first: a frame given back can run nothing that adds here, but keep it re-entrant.
  const uint32_t n = size_;
  size_ = 0;
  for (uint32_t i = 0; i < n; ++i) entries_[i].frame->release(entries_[i].count);
}

}  // namespace wsring::server
