#include "bench/load/reconnect.hpp"

#include <gtest/gtest.h>

using namespace wsring::load;

TEST(Reconnect, BackOffDoublesUpToItsCeiling) {
  EXPECT_EQ(reconnect_ceiling_ns(0), 50'000'000u);
  EXPECT_EQ(reconnect_ceiling_ns(1), 100'000'000u);
  EXPECT_EQ(reconnect_ceiling_ns(6), 3'200'000'000u);
  EXPECT_EQ(reconnect_ceiling_ns(7), 5'000'000'000u);
  EXPECT_EQ(reconnect_ceiling_ns(64), 5'000'000'000u);
  EXPECT_EQ(reconnect_ceiling_ns(4'000'000'000u), 5'000'000'000u);
}

TEST(Reconnect, DelayIsDrawnFromTheUpperHalf) {
  for (uint32_t failures : {0u, 1u, 5u, 9u}) {
    const uint64_t ceiling = reconnect_ceiling_ns(failures);
    EXPECT_EQ(reconnect_delay_ns(failures, 0), ceiling / 2);
    EXPECT_EQ(reconnect_delay_ns(failures, ceiling / 2), ceiling);
    for (uint64_t r : {1ull, 12345ull, ~0ull}) {
      const uint64_t d = reconnect_delay_ns(failures, r);
      EXPECT_GE(d, ceiling / 2);
      EXPECT_LE(d, ceiling);
    }
  }
}
