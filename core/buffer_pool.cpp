#include "core/buffer_pool.hpp"

#include <cassert>
#include <cstdint>
#include <limits>
#include <new>
#include <stdexcept>

namespace wsring::core {
namespace {

constexpr size_t kAlignment = 64;

}  // namespace

BufferPool::BufferPool(size_t buffer_size, size_t buffer_count)
    : buffer_size_(buffer_size), buffer_count_(buffer_count) {
  // Free indices are 32-bit to keep the stack small; four billion buffers is beyond any use.
  if (buffer_count > std::numeric_limits<uint32_t>::max() ||
      buffer_size > std::numeric_limits<size_t>::max() - kAlignment) {
    throw std::length_error("BufferPool: too many or too large buffers");
  }
  stride_ = (buffer_size + kAlignment - 1) / kAlignment * kAlignment;
  if (stride_ == 0) stride_ = kAlignment;  // distinct addresses even for zero-size buffers
  if (buffer_count != 0 && stride_ > std::numeric_limits<size_t>::max() / buffer_count) {
    throw std::length_error("BufferPool: slab size overflows");
  }
  slab_ = static_cast<uint8_t*>(::operator new(stride_ * buffer_count_, std::align_val_t(kAlignment)));
  free_stack_ = std::make_unique<uint32_t[]>(buffer_count_);
  in_use_ = std::make_unique<bool[]>(buffer_count_);  // value-initialised: all false
  // Lowest index on top, so a fresh pool hands out buffers in address order.
  for (size_t i = 0; i < buffer_count_; ++i) {
    free_stack_[i] = static_cast<uint32_t>(buffer_count_ - 1 - i);
  }
  free_count_ = buffer_count_;
}

BufferPool::~BufferPool() { ::operator delete(slab_, std::align_val_t(kAlignment)); }

uint8_t* BufferPool::acquire() {
  if (free_count_ == 0) return nullptr;
  const uint32_t index = free_stack_[--free_count_];
  in_use_[index] = true;
  return slab_ + static_cast<size_t>(index) * stride_;
}

size_t BufferPool::index_of(const uint8_t* buffer) const {
  // Compare as integers: pointer arithmetic on a foreign pointer would be undefined.
  const uintptr_t begin = reinterpret_cast<uintptr_t>(slab_);
  const uintptr_t address = reinterpret_cast<uintptr_t>(buffer);
  if (address < begin) return buffer_count_;
  const uintptr_t offset = address - begin;
  if (offset % stride_ != 0 || offset / stride_ >= buffer_count_) return buffer_count_;
  return offset / stride_;
}

void BufferPool::release(uint8_t* buffer) {
  if (buffer == nullptr) return;  // like free(nullptr): lets cleanup paths release unconditionally
  const size_t index = index_of(buffer);
  const bool valid = index < buffer_count_ && in_use_[index];
  assert(valid && "BufferPool::release: buffer not from this pool or already released");
  if (!valid) return;
  in_use_[index] = false;
  free_stack_[free_count_++] = static_cast<uint32_t>(index);
}

}  // namespace wsring::core
