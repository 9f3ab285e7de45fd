#include "server/shared_frame.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

namespace wsring::server {

namespace {

size_t record_bytes(uint32_t capacity) { return sizeof(SharedFrame) + capacity; }

}  // namespace

SharedFramePool::SharedFramePool(MemoryBudget& budget, size_t keep_free) : budget_(budget), keep_free_(keep_free) {
  free_.reserve(keep_free_);
}

SharedFramePool::~SharedFramePool() {
  for (SharedFrame* f : free_) std::free(f);
  for (SharedFrame* f = returned_.exchange(nullptr); f;) {
    SharedFrame* next = f->next_;
    std::free(f);
    f = next;
  }
}

// A pooled record: from this thread's free list, else from what other threads gave back (taken
// all at once: a single exchange, so no ABA), else new.
SharedFrame* SharedFramePool::take(uint32_t capacity) {
  if (capacity <= kPooledCapacity) {
    if (free_.empty()) {
      for (SharedFrame* f = returned_.exchange(nullptr, std::memory_order_acquire); f;) {
        SharedFrame* next = f->next_;
        if (free_.size() < keep_free_) free_.push_back(f);  // within the reserved capacity
        else std::free(f);
        f = next;
      }
    }
    if (!free_.empty()) {
      SharedFrame* f = free_.back();
      free_.pop_back();
      return f;
    }
    capacity = kPooledCapacity;
  }
  void* memory = std::malloc(record_bytes(capacity));
  if (!memory) return nullptr;
  SharedFrame* f = new (memory) SharedFrame();
  f->capacity_ = capacity;
  f->pool_ = this;
  return f;
}

SharedFrame* SharedFramePool::make(core::Opcode opcode, std::initializer_list<std::string_view> parts,
                                   std::string_view key) {
  uint64_t payload_size = 0;
  for (std::string_view part : parts) payload_size += part.size();
  const uint64_t need = core::kMaxServerHeaderSize + payload_size + key.size();
  if (key.size() > kMaxKeySize || need > UINT32_MAX - sizeof(SharedFrame)) return nullptr;
  const uint32_t capacity = need <= kPooledCapacity ? kPooledCapacity : uint32_t(need);
  if (!budget_.try_charge(record_bytes(capacity))) return nullptr;
  SharedFrame* f = take(capacity);
  if (!f) {
    budget_.credit(record_bytes(capacity));
    return nullptr;
  }
  uint8_t* out = f->bytes();
  const size_t header = core::write_frame_header(out, opcode, true, payload_size);
  size_t at = header;
  for (std::string_view part : parts) {
    if (!part.empty()) std::memcpy(out + at, part.data(), part.size());
    at += part.size();
  }
  f->header_size_ = uint8_t(header);
  f->size_ = uint32_t(header + payload_size);
  if (!key.empty()) std::memcpy(out + f->size_, key.data(), key.size());
  f->key_size_ = uint16_t(key.size());
  f->refs_.store(1, std::memory_order_relaxed);
  in_use_.fetch_add(1, std::memory_order_relaxed);
  return f;
}

void SharedFramePool::give_back(SharedFrame* f) {
  budget_.credit(record_bytes(f->capacity_));
  in_use_.fetch_sub(1, std::memory_order_relaxed);
  if (f->capacity_ != kPooledCapacity) {
    std::free(f);
    return;
  }
  SharedFrame* head = returned_.load(std::memory_order_relaxed);
  do {
    f->next_ = head;
  } while (!returned_.compare_exchange_weak(head, f, std::memory_order_release, std::memory_order_relaxed));
}

}  // namespace wsring::server
