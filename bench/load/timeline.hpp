// A run second by second: each worker keeps its echo latencies per interval of the run clock
// (IntervalRecorder, on the hot path: one comparison per echo, plus once per interval an
// encoding of the interval's counts), and main samples the live counters at every interval's
// end (Timeline). Together they make the "timeline" of the JSON, the progress lines, the
// `--hdr-log` intervals and the plots of `--report`.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "bench/load/histogram.hpp"

namespace wsring::load {

constexpr uint64_t kTimelineIntervalNs = 1'000'000'000;

// An interval's latency counts, encoded as append_hdr_counts() writes them (a few bytes per
// non-empty bucket), so that a long run keeps them all.
struct EncodedInterval {
  uint64_t index = 0;  // interval [index, index + 1) * kTimelineIntervalNs on the run clock
  std::string counts;
};

class IntervalRecorder {
 public:
  // Worker thread.
  void record(uint64_t now_ns, uint64_t value_us) {
    if (now_ns >= end_ns_) roll_over(now_ns);
    current_.record(value_us);
  }
  void roll(uint64_t now_ns) {  // closes the current interval if `now_ns` is past it
    if (now_ns >= end_ns_) roll_over(now_ns);
  }
  // After the worker thread ended: closes the last interval.
  void close();
  // Any thread: the intervals closed so far with an index >= first.
  std::vector<EncodedInterval> closed_since(uint64_t first) const;

 private:
  void roll_over(uint64_t now_ns);
  void close_current();

  LatencyHistogram current_;
  uint64_t index_ = 0;
  uint64_t end_ns_ = kTimelineIntervalNs;
  mutable std::mutex mutex_;  // closed_: appended once per interval, read by main
  std::vector<EncodedInterval> closed_;
};

// The live counters main sums over the workers (cumulative).
struct TimelineCounters {
  uint64_t open = 0, sent = 0, received = 0, bytes_received = 0, errors = 0, opened = 0;
};

struct LatencySummary {
  uint64_t count = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  double mean = 0;
};
LatencySummary summarize(const LatencyHistogram& h);

struct TimelinePoint {
  double start_s = 0, length_s = 0;  // run clock
  uint64_t connections = 0;          // open at the interval's end
  uint64_t sent = 0, received = 0, bytes_received = 0, errors = 0, opened = 0;  // within the interval
  LatencySummary latency;            // echoes completed within the interval
  std::string counts;                // their histogram (append_hdr_counts)
};

class Timeline {
 public:
  // Closes the interval that ends at `end_s` (run clock) with the cumulative counters then.
  void sample(double end_s, const TimelineCounters& now);
  // The latency of every interval from the workers' recorders (after they ended).
  void attach_latency(const std::vector<const IntervalRecorder*>& recorders);
  // The merged latency of interval `index` as far as the recorders closed it (progress lines).
  static LatencySummary live_latency(const std::vector<const IntervalRecorder*>& recorders, uint64_t index);

  const std::vector<TimelinePoint>& points() const { return points_; }
  double next_end_s() const { return double(points_.size() + 1) * double(kTimelineIntervalNs) / 1e9; }

 private:
  std::vector<TimelinePoint> points_;
  TimelineCounters last_;
  double last_end_s_ = 0;
};

// [{"t": 0.000, "length_s": 1.000, "connections": .., "sent": .., "received": .., "msgs_per_s": ..,
//   "errors": .., "latency_us": {"count", "p50", "p90", "p99", "p999", "max", "mean"}}, ...]
std::string timeline_json(const std::vector<TimelinePoint>& points);

}  // namespace wsring::load
