#include "server/memory_budget.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace wsring::server {
namespace {

TEST(MemoryBudgetTest, ChargesUpToTheLimitAndNoFurther) {
  MemoryBudget b(100);
  EXPECT_TRUE(b.try_charge(60));
  EXPECT_FALSE(b.try_charge(41));
  EXPECT_TRUE(b.try_charge(40));
  EXPECT_EQ(b.used(), 100u);
  b.credit(100);
  EXPECT_EQ(b.used(), 0u);
}

TEST(MemoryBudgetTest, PressureStartsAtThreeQuarters) {
  MemoryBudget b(100);
  EXPECT_TRUE(b.try_charge(74));
  EXPECT_FALSE(b.under_pressure());
  EXPECT_TRUE(b.try_charge(1));
  EXPECT_TRUE(b.under_pressure());
}

TEST(MemoryBudgetTest, ThreadsNeverTakeItPastTheLimit) {
  MemoryBudget b(1000);
  std::vector<std::thread> threads;
  std::atomic<int> granted{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int k = 0; k < 1000; ++k)
        if (b.try_charge(1)) granted.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 1000);
  EXPECT_EQ(b.used(), 1000u);
}

TEST(ChunkPoolTest, ChunksAreChargedWhileInUseOnly) {
  MemoryBudget b(3 * ChunkPool::kChunkSize);
  ChunkPool pool(b, 1);
  uint8_t* a = pool.acquire();
  uint8_t* c = pool.acquire();
  uint8_t* d = pool.acquire();
  ASSERT_TRUE(a && c && d);
  EXPECT_EQ(pool.acquire(), nullptr) << "the budget is spent";
  EXPECT_EQ(pool.in_use(), 3u);
  pool.release(a);
  pool.release(c);  // beyond keep_free: freed, not cached
  EXPECT_EQ(b.used(), ChunkPool::kChunkSize);
  uint8_t* again = pool.acquire();
  EXPECT_NE(again, nullptr);
  pool.release(again);
  pool.release(d);
  pool.release(nullptr);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(b.used(), 0u);
}

}  // namespace
}  // namespace wsring::server
