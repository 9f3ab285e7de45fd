#include "bench/load/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace wsring::load {

LatencyHistogram::LatencyHistogram() : counts_(new uint64_t[kBucketCount]()) {}

LatencyHistogram::LatencyHistogram(const LatencyHistogram& other) : LatencyHistogram() { *this = other; }

LatencyHistogram& LatencyHistogram::operator=(const LatencyHistogram& other) {
  if (this != &other) {
    std::memcpy(counts_.get(), other.counts_.get(), kBucketCount * sizeof(uint64_t));
    total_ = other.total_;
    sum_ = other.sum_;
    min_ = other.min_;
    max_ = other.max_;
  }
  return *this;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::reset() {
  std::memset(counts_.get(), 0, kBucketCount * sizeof(uint64_t));
  total_ = sum_ = max_ = 0;
  min_ = ~uint64_t{0};
}

void LatencyHistogram::add_bucket_count(size_t index, uint64_t n) {
  if (index >= kBucketCount || n == 0) return;
  counts_[index] += n;
  total_ += n;
  sum_ += bucket_lowest(index) * n;
  max_ = std::max(max_, bucket_highest(index));
  min_ = std::min(min_, bucket_lowest(index));
}

uint64_t LatencyHistogram::bucket_lowest(size_t index) {
  if (index < kSubBucketCount) return index;
  const uint64_t k = index - kSubBucketCount;
  const unsigned shift = unsigned(k / kHalfCount) + 1;
  return (k % kHalfCount + kHalfCount) << shift;
}

uint64_t LatencyHistogram::bucket_highest(size_t index) {
  if (index < kSubBucketCount) return index;
  const unsigned shift = unsigned((index - kSubBucketCount) / kHalfCount) + 1;
  return bucket_lowest(index) + (uint64_t{1} << shift) - 1;
}

uint64_t LatencyHistogram::percentile(double p) const {
  if (total_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  // ceil(p/100 * n); p/100 * n in floating point can land a hair above an exact integer
  // (0.29 * 100 = 29.000000000000004), which must not round up to the next rank.
  const long double exact = (long double)p * (long double)total_ / 100.0L;
  uint64_t rank = uint64_t(std::floor(exact));
  if (exact - (long double)rank > 1e-9L * std::max<long double>(1.0L, exact)) ++rank;
  rank = std::clamp<uint64_t>(rank, 1, total_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::max(std::min(bucket_highest(i), max_), min_);
  }
  return max_;
}

}  // namespace wsring::load
