#include "bench/load/timeline.hpp"

#include <algorithm>
#include <cstdio>

#include "bench/load/hdr_log.hpp"

namespace wsring::load {

void IntervalRecorder::roll_over(uint64_t now_ns) {
  close_current();
  index_ = now_ns / kTimelineIntervalNs;
  end_ns_ = (index_ + 1) * kTimelineIntervalNs;
}

void IntervalRecorder::close() { close_current(); }

void IntervalRecorder::close_current() {
  if (current_.count() == 0) return;
  EncodedInterval interval;
  interval.index = index_;
  append_hdr_counts(current_, interval.counts);
  current_.reset();
  std::lock_guard<std::mutex> lock(mutex_);
  closed_.push_back(std::move(interval));
}

std::vector<EncodedInterval> IntervalRecorder::closed_since(uint64_t first) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<EncodedInterval> out;
  for (auto it = closed_.rbegin(); it != closed_.rend() && it->index >= first; ++it) out.push_back(*it);
  return out;
}

LatencySummary summarize(const LatencyHistogram& h) {
  LatencySummary s;
  s.count = h.count();
  if (s.count == 0) return s;
  s.p50 = h.percentile(50);
  s.p90 = h.percentile(90);
  s.p99 = h.percentile(99);
  s.p999 = h.percentile(99.9);
  s.max = h.max();
  s.mean = h.mean();
  return s;
}

void Timeline::sample(double end_s, const TimelineCounters& now) {
  TimelinePoint p;
  p.start_s = last_end_s_;
  p.length_s = end_s > last_end_s_ ? end_s - last_end_s_ : 0;
  p.connections = now.open;
  p.sent = now.sent - last_.sent;
  p.received = now.received - last_.received;
  p.bytes_received = now.bytes_received - last_.bytes_received;
  p.errors = now.errors - last_.errors;
  p.opened = now.opened - last_.opened;
  points_.push_back(std::move(p));
  last_ = now;
  last_end_s_ = end_s;
}

void Timeline::attach_latency(const std::vector<const IntervalRecorder*>& recorders) {
  if (points_.empty()) return;
  std::vector<std::vector<EncodedInterval>> by_point(points_.size());
  for (const IntervalRecorder* r : recorders)
    for (EncodedInterval& e : r->closed_since(0)) {
      // An echo completed after the last sample (only the final partial interval) joins the last.
      const size_t k = std::min<size_t>(size_t(e.index), points_.size() - 1);
      by_point[k].push_back(std::move(e));
    }
  LatencyHistogram h;  // one at a time: a long run keeps only the encoded counts
  for (size_t k = 0; k < points_.size(); ++k) {
    if (by_point[k].empty()) continue;
    h.reset();
    for (const EncodedInterval& e : by_point[k]) add_hdr_counts(e.counts, h, nullptr);
    points_[k].latency = summarize(h);
    points_[k].counts.clear();
    append_hdr_counts(h, points_[k].counts);
  }
}

LatencySummary Timeline::live_latency(const std::vector<const IntervalRecorder*>& recorders, uint64_t index) {
  LatencyHistogram h;
  for (const IntervalRecorder* r : recorders)
    for (const EncodedInterval& e : r->closed_since(index))
      if (e.index == index) add_hdr_counts(e.counts, h, nullptr);
  return summarize(h);
}

std::string timeline_json(const std::vector<TimelinePoint>& points) {
  std::string j = "[";
  char line[512];
  for (size_t i = 0; i < points.size(); ++i) {
    const TimelinePoint& p = points[i];
    const LatencySummary& l = p.latency;
    snprintf(line, sizeof line,
             "%s\n    {\"t\": %.3f, \"length_s\": %.3f, \"connections\": %llu, \"sent\": %llu, \"received\": %llu, "
             "\"msgs_per_s\": %.3f, \"bytes_received\": %llu, \"errors\": %llu, \"latency_us\": {\"count\": %llu, "
             "\"p50\": %llu, \"p90\": %llu, \"p99\": %llu, \"p999\": %llu, \"max\": %llu, \"mean\": %.3f}}",
             i ? "," : "", p.start_s, p.length_s, (unsigned long long)p.connections, (unsigned long long)p.sent,
             (unsigned long long)p.received, p.length_s > 0 ? double(p.received) / p.length_s : 0.0,
             (unsigned long long)p.bytes_received, (unsigned long long)p.errors, (unsigned long long)l.count,
             (unsigned long long)l.p50, (unsigned long long)l.p90, (unsigned long long)l.p99, (unsigned long long)l.p999,
             (unsigned long long)l.max, l.mean);
    j += line;
  }
  return j + (points.empty() ? "]" : "\n  ]");
}

}  // namespace wsring::load
