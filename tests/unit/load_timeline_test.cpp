#include "bench/load/timeline.hpp"

#include <gtest/gtest.h>

#include "bench/load/hdr_log.hpp"

using namespace wsring::load;

namespace {
constexpr uint64_t kS = kTimelineIntervalNs;
}

TEST(LoadTimeline, RecorderClosesAnIntervalWhenTheNextBegins) {
  IntervalRecorder r;
  r.record(kS / 2, 10);
  r.record(kS - 1, 20);
  EXPECT_TRUE(r.closed_since(0).empty());
  r.record(kS, 30);  // the first echo of second 1 closes second 0
  std::vector<EncodedInterval> closed = r.closed_since(0);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].index, 0u);
  LatencyHistogram h;
  ASSERT_TRUE(add_hdr_counts(closed[0].counts, h, nullptr));
  EXPECT_EQ(h.count(), 2u);
  r.roll(kS + 5);  // same second: nothing
  EXPECT_EQ(r.closed_since(0).size(), 1u);
  r.roll(3 * kS + 1);  // a tick in second 3 closes second 1; 2 stays empty
  closed = r.closed_since(1);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].index, 1u);
  r.record(3 * kS + 2, 40);
  r.close();
  EXPECT_EQ(r.closed_since(3).size(), 1u);
  EXPECT_EQ(r.closed_since(0).size(), 3u);
}

TEST(LoadTimeline, SamplesAreDifferencesAndLatencyJoinsItsSecond) {
  IntervalRecorder a, b;
  a.record(100, 5);
  b.record(200, 7);
  b.record(kS + 1, 9000);
  a.record(2 * kS + 300'000'000, 11);  // in the last, partial interval
  a.close();
  b.close();
  Timeline t;
  EXPECT_DOUBLE_EQ(t.next_end_s(), 1.0);
  t.sample(1.0, TimelineCounters{3, 10, 8, 800, 0});
  t.sample(2.0, TimelineCounters{3, 30, 25, 2500, 1});
  t.sample(2.5, TimelineCounters{0, 30, 30, 3000, 1});
  t.attach_latency({&a, &b});
  const auto& p = t.points();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[1].sent, 20u);
  EXPECT_EQ(p[1].received, 17u);
  EXPECT_EQ(p[1].errors, 1u);
  EXPECT_EQ(p[2].connections, 0u);
  EXPECT_DOUBLE_EQ(p[2].start_s, 2.0);
  EXPECT_DOUBLE_EQ(p[2].length_s, 0.5);
  EXPECT_EQ(p[0].latency.count, 2u);
  EXPECT_EQ(p[0].latency.max, 7u);
  EXPECT_EQ(p[1].latency.count, 1u);
  EXPECT_EQ(p[2].latency.count, 1u);
  EXPECT_EQ(Timeline::live_latency({&a, &b}, 0).count, 2u);
  const std::string json = timeline_json(p);
  EXPECT_NE(json.find("\"t\": 2.000, \"length_s\": 0.500, \"connections\": 0"), std::string::npos) << json;
  EXPECT_NE(json.find("\"msgs_per_s\": 10.000"), std::string::npos) << json;  // 5 echoes in 0.5 s
}
