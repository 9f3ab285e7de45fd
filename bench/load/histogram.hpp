// An HDR latency histogram: log-linear buckets at microsecond resolution in bounded memory.
// Values below 2048 get a bucket each (exact); above, every power-of-two range is cut into 1024
// equal buckets, so any value is known within 1/1024 (0.1%) of itself. The layout is exactly
// HdrHistogram's for 3 significant digits, lowest discernible value 1 and highest trackable
// 2^40-1 (bucket i here is counts index i there), so an interval log (hdr_log.hpp) carries the
// counts as they are. Recording is a few instructions and never allocates; histograms of several
// threads merge by addition.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace wsring::load {

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBucketBits = 11;                  // 2048 exact values at the bottom
  static constexpr uint64_t kSubBucketCount = 1u << kSubBucketBits;
  static constexpr uint64_t kHalfCount = kSubBucketCount / 2;      // buckets per power of two above
  static constexpr unsigned kMaxBits = 40;                         // up to 2^40 us (12.7 days)
  static constexpr uint64_t kMaxTrackable = (uint64_t{1} << kMaxBits) - 1;
  static constexpr size_t kBucketCount = kSubBucketCount + (kMaxBits - kSubBucketBits) * kHalfCount;
  static constexpr int kSignificantDigits = 3;  // HdrHistogram's name for this layout

  LatencyHistogram();
  LatencyHistogram(const LatencyHistogram& other);
  LatencyHistogram& operator=(const LatencyHistogram& other);

  // Values above kMaxTrackable land in the last bucket (max() still reports them exactly).
  void record(uint64_t value) { record_n(value, 1); }
  void record_n(uint64_t value, uint64_t n) {
    counts_[bucket_index(value)] += n;
    total_ += n;
    sum_ += value * n;
    if (value > max_) max_ = value;
    if (value < min_) min_ = value;
  }
  void merge(const LatencyHistogram& other);
  void reset();

  uint64_t count() const { return total_; }
  uint64_t min() const { return total_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return total_ ? double(sum_) / double(total_) : 0.0; }
  // Nearest-rank percentile, p in [0, 100]: the value of rank ceil(p/100 * count) (at least 1),
  // reported as the highest value of its bucket, capped at max(). 0 when empty.
  uint64_t percentile(double p) const;

  static size_t bucket_index(uint64_t value) {
    if (value < kSubBucketCount) return size_t(value);
    if (value > kMaxTrackable) value = kMaxTrackable;
    const unsigned top_bit = 63u - unsigned(__builtin_clzll(value));  // >= kSubBucketBits
    const unsigned shift = top_bit - (kSubBucketBits - 1);            // >= 1
    return size_t(kSubBucketCount + (shift - 1) * kHalfCount + ((value >> shift) - kHalfCount));
  }
  static uint64_t bucket_lowest(size_t index);
  static uint64_t bucket_highest(size_t index);
  uint64_t bucket_count(size_t index) const { return counts_[index]; }
  // Adds n to bucket `index` as if n values of bucket_lowest(index) were recorded (a decoded
  // HdrHistogram carries counts, not values; its min, max and sum are those of the buckets).
  void add_bucket_count(size_t index, uint64_t n);

 private:
  std::unique_ptr<uint64_t[]> counts_;
  uint64_t total_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = ~uint64_t{0};
  uint64_t max_ = 0;
};

}  // namespace wsring::load
