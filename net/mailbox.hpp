// A bounded, lock-free queue of 64-bit values that many threads push into and one thread (the
// owning reactor's) pops from: the carrier of cross-thread messages between reactors (a value
// is typically a pointer the two sides agree on). Each cell carries a sequence number, so a
// push and a pop each cost one compare-and-swap on a shared index and no lock; values pushed by
// one thread come out in the order that thread pushed them. Internal to net/.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace wsring::net {

class Mailbox {
 public:
  // capacity: a power of two.
  explicit Mailbox(size_t capacity) : mask_(capacity - 1), cells_(std::make_unique<Cell[]>(capacity)) {
    for (size_t i = 0; i < capacity; ++i) cells_[i].sequence.store(i, std::memory_order_relaxed);
  }

  // Any thread. False when the mailbox is full (the value was not queued).
  bool push(uint64_t value) {
    size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[pos & mask_];
      const size_t seq = cell.sequence.load(std::memory_order_acquire);
      const intptr_t diff = intptr_t(seq) - intptr_t(pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          cell.value = value;
          cell.sequence.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // full
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  // The owning thread only. False when nothing (complete) is queued.
  bool pop(uint64_t& value) {
    Cell& cell = cells_[head_ & mask_];
    const size_t seq = cell.sequence.load(std::memory_order_acquire);
    if (intptr_t(seq) - intptr_t(head_ + 1) < 0) return false;
    value = cell.value;
    cell.sequence.store(head_ + mask_ + 1, std::memory_order_release);
    ++head_;
    return true;
  }

 private:
  struct Cell {
    std::atomic<size_t> sequence;
    uint64_t value;
  };
  const size_t mask_;
  std::unique_ptr<Cell[]> cells_;
  alignas(64) std::atomic<size_t> tail_{0};
  alignas(64) size_t head_ = 0;
};

}  // namespace wsring::net
