// The process-wide budget for output that waits in memory (--max-memory), and the chunks that
// hold it. Output normally leaves straight from the buffer it was built in; only output that a
// peer's socket could not take yet is copied into chunks (a "spill"), and so is output an
// application builds that is larger than a write-pool buffer. Every such byte is charged here,
// so that no number of peers that stop reading can take the process past the budget.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace wsring::server {

// Shared by every reactor thread of the process: one atomic add per chunk (16 KiB), never per
// message.
class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit_bytes) : limit_(limit_bytes) {}
  bool try_charge(uint64_t bytes) {
    uint64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (used + bytes > limit_) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return true;
  }
  void credit(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }
  // Above this fraction of the budget the server stops reading the peers that hold the most.
  bool under_pressure() const { return used() * 4 >= limit_ * 3; }

 private:
  std::atomic<uint64_t> used_{0};
  const uint64_t limit_;
};

// Fixed-size chunks of one reactor thread, charged to the budget while in use. A few free
// chunks are kept for reuse; the rest go back to the allocator, so a spike does not pin memory.
class ChunkPool {
 public:
  static constexpr size_t kChunkSize = 16 * 1024;

  explicit ChunkPool(MemoryBudget& budget, size_t keep_free = 64) : budget_(budget), keep_free_(keep_free) {
    free_.reserve(keep_free_);
  }
  ~ChunkPool();
  ChunkPool(const ChunkPool&) = delete;
  ChunkPool& operator=(const ChunkPool&) = delete;

  // nullptr when the budget is spent or the allocator fails: the caller fails the connection
  // that needed the memory, never the process.
  uint8_t* acquire();
  void release(uint8_t* chunk);

  size_t in_use() const { return in_use_; }
  const MemoryBudget& budget() const { return budget_; }

 private:
  MemoryBudget& budget_;
  size_t keep_free_;
  size_t in_use_ = 0;
  std::vector<uint8_t*> free_;
};

}  // namespace wsring::server
