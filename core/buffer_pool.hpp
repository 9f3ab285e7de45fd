// Fixed-size buffers carved from one slab allocated at construction. acquire() and release()
// are O(1) and never allocate, so a reactor can hand out read/write buffers per connection
// without touching the heap; the slab is contiguous, so it can be registered with io_uring as a
// single fixed buffer region.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace wsring::core {

// Acquire returns nullptr when all buffers are in use (the caller decides: wait, fail the
// connection, or answer 503). Not thread-safe: one pool per reactor thread.
class BufferPool {
 public:
  // Buffers start on 64-byte (cache line) boundaries. Throws std::length_error if
  // buffer_size * buffer_count overflows, std::bad_alloc if the slab cannot be allocated.
  BufferPool(size_t buffer_size, size_t buffer_count);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  uint8_t* acquire();
  // buffer must come from this pool and be in use (asserted in debug builds; ignored in release
  // builds so a stray pointer cannot corrupt the free list). nullptr is accepted and ignored.
  void release(uint8_t* buffer);

  size_t buffer_size() const { return buffer_size_; }
  size_t capacity() const { return buffer_count_; }
  size_t in_use() const { return buffer_count_ - free_count_; }

  // The whole slab (capacity() buffers, stride() bytes apart), e.g. for io_uring registration.
  std::span<uint8_t> slab() const { return {slab_, stride_ * buffer_count_}; }
  size_t stride() const { return stride_; }
  // Index of a buffer of this pool (0 .. capacity()-1), or capacity() if it is not one.
  size_t index_of(const uint8_t* buffer) const;

 private:
  size_t buffer_size_;
  size_t buffer_count_;
  size_t stride_;
  uint8_t* slab_ = nullptr;
  std::unique_ptr<uint32_t[]> free_stack_;  // indices of free buffers; top at free_count_ - 1
  std::unique_ptr<bool[]> in_use_;          // catches double and foreign release
  size_t free_count_ = 0;
};

}  // namespace wsring::core
