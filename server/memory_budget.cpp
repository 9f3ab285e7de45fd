#include "server/memory_budget.hpp"

#include <cstdlib>

namespace wsring::server {

ChunkPool::~ChunkPool() {
  for (uint8_t* c : free_) std::free(c);
}

uint8_t* ChunkPool::acquire() {
  // Cached free chunks are not charged: the budget counts the chunks that hold output.
  if (!budget_.try_charge(kChunkSize)) return nullptr;
  uint8_t* chunk;
  if (!free_.empty()) {
    chunk = free_.back();
    free_.pop_back();
  } else {
    chunk = static_cast<uint8_t*>(std::malloc(kChunkSize));
    if (!chunk) {
      budget_.credit(kChunkSize);
      return nullptr;
    }
  }
  ++in_use_;
  return chunk;
}

void ChunkPool::release(uint8_t* chunk) {
  if (!chunk) return;
  --in_use_;
  budget_.credit(kChunkSize);
  if (free_.size() < keep_free_) {
    free_.push_back(chunk);  // capacity reserved up front: this never allocates
  } else {
    std::free(chunk);
  }
}

}  // namespace wsring::server
