#include "bench/load/shard.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace wsring::load;

TEST(LoadShard, ParsesIOfN) {
  Shard s;
  std::string error;
  ASSERT_TRUE(parse_shard("2/5", s, &error)) << error;
  EXPECT_EQ(s.index, 2u);
  EXPECT_EQ(s.count, 5u);
  ASSERT_TRUE(parse_shard("0/1", s, &error));
  EXPECT_FALSE(parse_shard("5/5", s, &error));
  EXPECT_NE(error.find("counted from 0"), std::string::npos);
  EXPECT_FALSE(parse_shard("1/0", s, &error));
  EXPECT_FALSE(parse_shard("1", s, &error));
  EXPECT_FALSE(parse_shard("a/b", s, &error));
  EXPECT_FALSE(parse_shard("-1/4", s, &error));
  EXPECT_FALSE(parse_shard("0/65537", s, &error));
}

TEST(LoadShard, SharesAddUpExactlyAndDifferByAtMostOne) {
  for (uint64_t total : {0ull, 1ull, 7ull, 100ull, 1001ull, 16777216ull, 1000000000007ull})
    for (uint32_t n : {1u, 2u, 3u, 7u, 64u, 1000u}) {
      uint64_t sum = 0, lo = ~0ull, hi = 0;
      for (uint32_t i = 0; i < n; ++i) {
        const uint64_t share = shard_share(total, Shard{i, n});
        sum += share;
        lo = std::min(lo, share);
        hi = std::max(hi, share);
      }
      EXPECT_EQ(sum, total) << total << " over " << n;
      EXPECT_LE(hi - lo, 1u) << total << " over " << n;
    }
}

TEST(LoadShard, RateFollowsTheConnections) {
  // 10 connections over 3 shards: 4, 3, 3; 1000 msg/s: 400, 300, 300 (each connection at 100/s).
  EXPECT_DOUBLE_EQ(shard_rate(1000, 10, Shard{0, 3}), 400);
  EXPECT_DOUBLE_EQ(shard_rate(1000, 10, Shard{1, 3}), 300);
  EXPECT_DOUBLE_EQ(shard_rate(1000, 10, Shard{2, 3}), 300);
  double sum = 0;
  for (uint32_t i = 0; i < 7; ++i) sum += shard_rate(12345.5, 1001, Shard{i, 7});
  EXPECT_NEAR(sum, 12345.5, 1e-6);
}

TEST(LoadShard, ParsesStartTimes) {
  double t = 0;
  ASSERT_TRUE(parse_start_time("1767225600", t));
  EXPECT_DOUBLE_EQ(t, 1767225600);
  ASSERT_TRUE(parse_start_time("1767225600.25", t));
  EXPECT_DOUBLE_EQ(t, 1767225600.25);
  ASSERT_TRUE(parse_start_time("2026-01-01T00:00:00Z", t));
  EXPECT_DOUBLE_EQ(t, 1767225600);
  ASSERT_TRUE(parse_start_time("2026-01-01T01:00:00.5+01:00", t));
  EXPECT_DOUBLE_EQ(t, 1767225600.5);
  ASSERT_TRUE(parse_start_time("2025-12-31T22:30:00-01:30", t));
  EXPECT_DOUBLE_EQ(t, 1767225600);
  EXPECT_FALSE(parse_start_time("2026-01-01T00:00:00", t));  // no zone
  EXPECT_FALSE(parse_start_time("2026-02-30T00:00:00Z", t));
  EXPECT_FALSE(parse_start_time("2026-01-01T24:00:00Z", t));
  EXPECT_FALSE(parse_start_time("tomorrow", t));
  EXPECT_FALSE(parse_start_time("", t));
  EXPECT_FALSE(parse_start_time("12.3.4", t));
}

TEST(LoadShard, RefusesAStartInThePastOrTooFarAhead) {
  std::string error;
  EXPECT_TRUE(check_start_time(1000, 1000.5, &error));  // a little late is still a common start
  EXPECT_TRUE(check_start_time(1100, 1000, &error));
  EXPECT_FALSE(check_start_time(1000, 1005, &error));
  EXPECT_NE(error.find("5.0 s in the past"), std::string::npos) << error;
  EXPECT_FALSE(check_start_time(1000 + 2 * 86400, 1000, &error));
}
