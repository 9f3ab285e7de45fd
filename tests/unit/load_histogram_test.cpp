#include "bench/load/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using wsring::load::LatencyHistogram;

namespace {

// Nearest rank, as the histogram defines it: the value of rank ceil(p/100 * n), at least 1.
uint64_t reference_percentile(const std::vector<uint64_t>& sorted, double p) {
  const long double exact = (long double)p * sorted.size() / 100.0L;
  uint64_t rank = uint64_t(std::floor(exact));
  if (exact - rank > 1e-9L * std::max<long double>(1.0L, exact)) ++rank;
  rank = std::clamp<uint64_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

// The histogram may report the top of the reference value's bucket: never below it, and above
// it by less than 1/1024 of it (exact below 2048).
void expect_close_to_reference(const LatencyHistogram& h, const std::vector<uint64_t>& sorted, double p) {
  const uint64_t want = reference_percentile(sorted, p);
  const uint64_t got = h.percentile(p);
  EXPECT_GE(got, want) << "p" << p;
  EXPECT_LE(got, want + want / 1024) << "p" << p;
}

void check_against_reference(std::vector<uint64_t> values) {
  LatencyHistogram h;
  for (uint64_t v : values) h.record(v);
  std::sort(values.begin(), values.end());
  ASSERT_EQ(h.count(), values.size());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
  for (double p : {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.99, 99.999, 100.0})
    expect_close_to_reference(h, values, p);
}

}  // namespace

TEST(LoadHistogram, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(LoadHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 0; v < 1024; ++v) h.record(v);
  EXPECT_EQ(h.percentile(50), 511u);  // rank 512 of 0..1023
  EXPECT_EQ(h.percentile(100), 1023u);
  EXPECT_EQ(h.percentile(0), 0u);
  EXPECT_DOUBLE_EQ(h.mean(), 511.5);
}

TEST(LoadHistogram, BucketsTileTheRangeWithBoundedWidth) {
  // Every bucket starts one above where the previous one ended, and is narrow relative to its values.
  for (size_t i = 1; i < LatencyHistogram::kBucketCount; ++i) {
    ASSERT_EQ(LatencyHistogram::bucket_lowest(i), LatencyHistogram::bucket_highest(i - 1) + 1) << i;
    const uint64_t low = LatencyHistogram::bucket_lowest(i);
    const uint64_t width = LatencyHistogram::bucket_highest(i) - low + 1;
    ASSERT_LE(width * 1024, std::max<uint64_t>(low, 1024)) << i;
    ASSERT_EQ(LatencyHistogram::bucket_index(low), i);
    ASSERT_EQ(LatencyHistogram::bucket_index(LatencyHistogram::bucket_highest(i)), i);
  }
  EXPECT_EQ(LatencyHistogram::bucket_highest(LatencyHistogram::kBucketCount - 1), LatencyHistogram::kMaxTrackable);
}

TEST(LoadHistogram, HugeValuesClampToTheLastBucketButMaxIsExact) {
  LatencyHistogram h;
  h.record(~uint64_t{0} >> 4);
  EXPECT_EQ(h.max(), ~uint64_t{0} >> 4);
  EXPECT_EQ(LatencyHistogram::bucket_index(~uint64_t{0}), LatencyHistogram::kBucketCount - 1);
  EXPECT_EQ(h.percentile(50), ~uint64_t{0} >> 4);  // capped at max, raised to min
}

TEST(LoadHistogram, UniformRandomMatchesSortedReference) {
  std::mt19937_64 rng(1);
  std::vector<uint64_t> values(100000);
  for (uint64_t& v : values) v = rng() % 5'000'000;
  check_against_reference(values);
}

TEST(LoadHistogram, LogNormalLatenciesMatchSortedReference) {
  // Shaped like real latencies: a body around 50 us and a long tail.
  std::mt19937_64 rng(2);
  std::lognormal_distribution<double> dist(std::log(50.0), 1.2);
  std::vector<uint64_t> values(200000);
  for (uint64_t& v : values) v = uint64_t(dist(rng));
  check_against_reference(values);
}

TEST(LoadHistogram, FewValuesAndOutliers) {
  check_against_reference({7});
  check_against_reference({3, 1'000'000});
  check_against_reference({5, 5, 5, 5, 123456789, 0, 2048, 2049, 4095, 4096});
}

TEST(LoadHistogram, RecordNCountsAsNRecords) {
  LatencyHistogram a, b;
  a.record_n(300, 5);
  for (int i = 0; i < 5; ++i) b.record(300);
  EXPECT_EQ(a.count(), b.count());
  EXPECT_EQ(a.percentile(50), b.percentile(50));
  EXPECT_DOUBLE_EQ(a.mean(), b.mean());
}

TEST(LoadHistogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(3);
  LatencyHistogram a, b, all;
  std::vector<uint64_t> values;
  for (int i = 0; i < 50000; ++i) {
    const uint64_t v = rng() % 100000;
    (i % 3 ? a : b).record(v);
    all.record(v);
    values.push_back(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
  for (size_t i = 0; i < LatencyHistogram::kBucketCount; ++i) ASSERT_EQ(a.bucket_count(i), all.bucket_count(i));
  std::sort(values.begin(), values.end());
  expect_close_to_reference(a, values, 99.9);
}

TEST(LoadHistogram, CopyAndResetAreIndependent) {
  LatencyHistogram a;
  a.record(10);
  a.record(20000);
  LatencyHistogram b = a;
  a.reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(b.count(), 2u);
  EXPECT_EQ(b.max(), 20000u);
  EXPECT_EQ(b.percentile(50), 10u);
}
