#include "bench/load/rate_scheduler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

using wsring::load::RateScheduler;

namespace {

struct Send {
  uint64_t time_ns;
  uint32_t global_id;
  uint64_t sequence;
};

// Drains `count` messages from a worker's scheduler in the order it hands them out.
std::vector<Send> take(RateScheduler& s, uint32_t first, uint32_t stride, size_t count) {
  std::vector<Send> out;
  for (size_t i = 0; i < count; ++i) {
    out.push_back({s.next_ns(), first + s.next_local() * stride, s.next_sequence()});
    s.advance();
  }
  return out;
}

uint32_t local_count(uint32_t n, uint32_t workers, uint32_t index) { return (n - index + workers - 1) / workers; }

}  // namespace

TEST(LoadRateScheduler, OneWorkerSpacesSendsEvenly) {
  // 1000 msg/s over 4 connections: one send every 1 ms, each connection every 4 ms.
  RateScheduler s(1000, 4, 0, 1, 4);
  s.start(5'000'000);
  const std::vector<Send> sends = take(s, 0, 1, 40);
  for (size_t i = 0; i < sends.size(); ++i) {
    EXPECT_EQ(sends[i].time_ns, 5'000'000 + i * 1'000'000) << i;
    EXPECT_EQ(sends[i].global_id, i % 4) << i;
    EXPECT_EQ(sends[i].sequence, i / 4) << i;
  }
}

TEST(LoadRateScheduler, IntendedTimeMatchesTheOrderHandedOut) {
  RateScheduler s(333.3, 7, 0, 1, 7);
  s.start(123);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(s.next_ns(), s.intended_ns(s.next_local(), s.next_sequence()));
    s.advance();
  }
}

TEST(LoadRateScheduler, WorkersTogetherSpreadSendsEvenlyOverAllConnections) {
  // 10 connections over 3 workers (4, 3, 3) at 7919 msg/s: merged, the sends are 1/R apart and
  // every connection sends every N/R, whatever worker owns it.
  const uint32_t n = 10, workers = 3;
  const double rate = 7919;
  const double interval = 1e9 / rate;
  std::vector<Send> all;
  for (uint32_t w = 0; w < workers; ++w) {
    RateScheduler s(rate, n, w, workers, local_count(n, workers, w));
    s.start(0);
    const std::vector<Send> mine = take(s, w, workers, local_count(n, workers, w) * 50);
    for (size_t i = 1; i < mine.size(); ++i) ASSERT_GT(mine[i].time_ns, mine[i - 1].time_ns);  // time order
    all.insert(all.end(), mine.begin(), mine.end());
  }
  ASSERT_EQ(all.size(), size_t(n) * 50);
  std::sort(all.begin(), all.end(), [](const Send& a, const Send& b) { return a.time_ns < b.time_ns; });
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].global_id, i % n) << i;
    EXPECT_NEAR(double(all[i].time_ns), i * interval, 1.0) << i;
  }
  for (uint32_t w = 0; w < workers; ++w) {
    RateScheduler s(rate, n, w, workers, local_count(n, workers, w));
    s.start(0);
    for (uint32_t local = 0; local < local_count(n, workers, w); ++local)
      for (uint64_t k = 1; k < 50; ++k)
        EXPECT_NEAR(double(s.intended_ns(local, k) - s.intended_ns(local, k - 1)), n * interval, 1.0);
  }
}

TEST(LoadRateScheduler, DueOnlyOnceItsTimeHasCome) {
  RateScheduler s(100, 2, 0, 1, 2);  // every 10 ms
  s.start(1'000'000'000);
  EXPECT_FALSE(s.due(999'999'999));
  EXPECT_TRUE(s.due(1'000'000'000));
  // At start + 35 ms exactly four messages (0, 10, 20, 30 ms) are due.
  int due = 0;
  while (s.due(1'035'000'000)) {
    s.advance();
    ++due;
  }
  EXPECT_EQ(due, 4);
  EXPECT_EQ(s.next_ns(), 1'040'000'000u);
  EXPECT_EQ(s.next_local(), 0u);
  EXPECT_EQ(s.next_sequence(), 2u);
}

TEST(LoadRateScheduler, NoDriftOverLongRuns) {
  // A rate whose interval is not a whole number of nanoseconds: computing each time from its
  // index must not accumulate rounding error.
  RateScheduler s(3, 1, 0, 1, 1);  // 333,333,333.33 ns
  s.start(0);
  EXPECT_EQ(s.intended_ns(0, 3'000'000), 1'000'000'000'000'000u);  // a million seconds later
}

TEST(LoadRateScheduler, RestartRewinds) {
  RateScheduler s(1000, 1, 0, 1, 1);
  s.start(0);
  s.advance();
  s.advance();
  s.start(500);
  EXPECT_EQ(s.next_sequence(), 0u);
  EXPECT_EQ(s.next_ns(), 500u);
}

TEST(LoadRateScheduler, WorkerWithoutConnectionsIsNeverDue) {
  RateScheduler s(1000, 1, 1, 2, 0);
  s.start(0);
  EXPECT_FALSE(s.due(~uint64_t{0}));
}
