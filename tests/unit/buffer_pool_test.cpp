#include "core/buffer_pool.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <stdexcept>
#include <vector>

namespace wsring::core {
namespace {

TEST(BufferPool, HandsOutDistinctAlignedBuffersUntilExhausted) {
  BufferPool pool(1000, 8);
  EXPECT_EQ(pool.buffer_size(), 1000u);
  EXPECT_EQ(pool.capacity(), 8u);
  EXPECT_EQ(pool.in_use(), 0u);
  std::vector<uint8_t*> buffers;
  for (size_t i = 0; i < 8; ++i) {
    uint8_t* buffer = pool.acquire();
    ASSERT_NE(buffer, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer) % 64, 0u);
    std::memset(buffer, static_cast<int>(i), pool.buffer_size());  // whole buffer is writable
    buffers.push_back(buffer);
    EXPECT_EQ(pool.in_use(), i + 1);
  }
  EXPECT_EQ(pool.acquire(), nullptr);  // exhausted
  EXPECT_EQ(pool.in_use(), 8u);
  // No overlap: each buffer still holds its own fill byte.
  for (size_t i = 0; i < buffers.size(); ++i) {
    for (size_t j = 0; j < pool.buffer_size(); ++j) ASSERT_EQ(buffers[i][j], i);
  }
  EXPECT_EQ(std::set<uint8_t*>(buffers.begin(), buffers.end()).size(), 8u);
}

TEST(BufferPool, ReleasedBuffersAreReused) {
  BufferPool pool(64, 2);
  uint8_t* a = pool.acquire();
  uint8_t* b = pool.acquire();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(pool.acquire(), nullptr);
  pool.release(a);
  EXPECT_EQ(pool.in_use(), 1u);
  EXPECT_EQ(pool.acquire(), a);  // the freed one comes back
  EXPECT_EQ(pool.acquire(), nullptr);
  pool.release(b);
  pool.release(a);
  EXPECT_EQ(pool.in_use(), 0u);
  // Churn: many cycles never leak or grow.
  for (int i = 0; i < 10000; ++i) {
    uint8_t* x = pool.acquire();
    uint8_t* y = pool.acquire();
    ASSERT_NE(x, nullptr);
    ASSERT_NE(y, nullptr);
    ASSERT_NE(x, y);
    pool.release(x);
    pool.release(y);
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(BufferPool, SlabAndIndexes) {
  BufferPool pool(100, 4);
  EXPECT_EQ(pool.stride(), 128u);
  EXPECT_EQ(pool.slab().size(), 512u);
  uint8_t* first = pool.acquire();
  EXPECT_EQ(first, pool.slab().data());
  EXPECT_EQ(pool.index_of(first), 0u);
  EXPECT_EQ(pool.index_of(pool.acquire()), 1u);
  EXPECT_EQ(pool.index_of(first + 1), pool.capacity());  // not a buffer start
  uint8_t outside = 0;
  EXPECT_EQ(pool.index_of(&outside), pool.capacity());
}

TEST(BufferPool, ReleasingNullIsANoOp) {
  BufferPool pool(64, 1);
  uint8_t* a = pool.acquire();
  pool.release(nullptr);
  EXPECT_EQ(pool.in_use(), 1u);
  pool.release(a);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(BufferPool, ZeroCapacityAlwaysExhausted) {
  BufferPool pool(4096, 0);
  EXPECT_EQ(pool.acquire(), nullptr);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(BufferPool, OverflowingSizesAreRejected) {
  EXPECT_THROW(BufferPool(SIZE_MAX / 2, 4), std::length_error);
  EXPECT_THROW(BufferPool(SIZE_MAX, 1), std::length_error);
}

#ifdef NDEBUG
TEST(BufferPool, ForeignAndDoubleReleaseAreIgnoredInRelease) {
  BufferPool pool(64, 1);
  uint8_t* a = pool.acquire();
  uint8_t outside[64];
  pool.release(outside);
  pool.release(a);
  pool.release(a);  // second release must not put `a` on the free list twice
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.acquire(), a);
  EXPECT_EQ(pool.acquire(), nullptr);
}
#else
TEST(BufferPoolDeathTest, ForeignAndDoubleReleaseAssertInDebug) {
  EXPECT_DEATH(
      {
        BufferPool pool(64, 1);
        uint8_t outside[64];
        pool.release(outside);
      },
      "not from this pool");
  EXPECT_DEATH(
      {
        BufferPool pool(64, 1);
        uint8_t* a = pool.acquire();
        pool.release(a);
        pool.release(a);
      },
      "already released");
}
#endif

}  // namespace
}  // namespace wsring::core
