#include "bench/load/merge.hpp"

#include <gtest/gtest.h>

#include <random>

#include "bench/load/report.hpp"
#include "bench/load/run_extras.hpp"

using namespace wsring::load;

namespace {

// A shard's --hdr-log text: `seconds` intervals of random latencies, also recorded into `all`.
std::string shard_log(uint64_t seed, int seconds, double start_unix_s, LatencyHistogram& all, uint64_t& count) {
  std::mt19937_64 rng(seed);
  std::vector<TimelinePoint> points(static_cast<size_t>(seconds));
  LatencyHistogram h;
  for (int k = 0; k < seconds; ++k) {
    h.reset();
    const int n = 1000 + int(rng() % 5000);
    for (int i = 0; i < n; ++i) {
      const uint64_t v = rng() % 7 ? 50 + rng() % 3000 : rng() % 20'000'000;
      h.record(v);
      all.record(v);
    }
    count += uint64_t(n);
    points[size_t(k)].start_s = k;
    points[size_t(k)].length_s = 1;
    append_hdr_counts(h, points[size_t(k)].counts);
  }
  return timeline_hdr_log(points, start_unix_s);
}

}  // namespace

TEST(LoadMerge, MergedHistogramEqualsOneBuiltFromEveryShardsSamples) {
  LatencyHistogram all;
  uint64_t count = 0;
  std::vector<std::pair<std::string, HdrLog>> logs;
  for (int shard = 0; shard < 3; ++shard) {
    HdrLog log;
    std::string error;
    ASSERT_TRUE(parse_hdr_log(shard_log(uint64_t(shard) + 1, 4, 1'700'000'000.0 + 0.01 * shard, all, count), log, &error))
        << error;
    logs.emplace_back("shard" + std::to_string(shard), std::move(log));
  }
  MergedRun merged;
  std::string error;
  ASSERT_TRUE(merge_runs(logs, {}, merged, &error)) << error;
  ASSERT_EQ(merged.latency.count(), count);
  for (size_t i = 0; i < LatencyHistogram::kBucketCount; ++i)
    ASSERT_EQ(merged.latency.bucket_count(i), all.bucket_count(i)) << i;
  EXPECT_EQ(merged.latency.percentile(50), all.percentile(50));
  EXPECT_EQ(merged.latency.percentile(99), all.percentile(99));
  // Starts 10 ms apart fall into the same seconds: 4 intervals, each with every shard's echoes.
  ASSERT_EQ(merged.timeline.size(), 4u);
  uint64_t timeline_count = 0;
  for (const TimelinePoint& p : merged.timeline) timeline_count += p.latency.count;
  EXPECT_EQ(timeline_count, count);
}

TEST(LoadMerge, ShardsStartedLaterLandInLaterIntervals) {
  LatencyHistogram all;
  uint64_t count = 0;
  std::vector<std::pair<std::string, HdrLog>> logs(2);
  ASSERT_TRUE(parse_hdr_log(shard_log(1, 2, 1000.0, all, count), logs[0].second, nullptr));
  ASSERT_TRUE(parse_hdr_log(shard_log(2, 2, 1002.0, all, count), logs[1].second, nullptr));
  MergedRun merged;
  ASSERT_TRUE(merge_runs(logs, {}, merged, nullptr));
  EXPECT_EQ(merged.timeline.size(), 4u);
  EXPECT_DOUBLE_EQ(merged.totals.start_unix_s, 1000.0);
}

TEST(LoadMerge, ResultsAddUp) {
  LoadOptions o;
  std::string message;
  const char* argv[] = {"wsring-load", "ws://127.0.0.1:9001/", "--connections", "4"};
  ASSERT_EQ(parse_load_args(4, argv, o, message), ParseOutcome::Run) << message;
  std::vector<ShardResult> results;
  for (int shard = 0; shard < 2; ++shard) {
    RunReport r;
    r.options = &o;
    r.backend = "epoll";
    r.totals.sent = 100 + uint64_t(shard);
    r.totals.received = 90 + uint64_t(shard);
    r.totals.lost = 10;
    r.totals.opened = 4;
    r.totals.errors[size_t(ErrorKind::UnexpectedEof)] = 3;
    r.window_s = 2;
    r.window_messages = 90;
    r.extra_json = "  \"start_unix_s\": 1000.000,\n  \"timeline\": [{\"t\": 0.000, \"length_s\": 1.000, \"connections\": 4, "
                   "\"sent\": 50, \"received\": 45, \"bytes_received\": 10, \"errors\": 1}],\n";
    ShardResult s;
    std::string error;
    ASSERT_TRUE(parse_shard_result(format_json(r), s, &error)) << error;
    results.push_back(s);
  }
  MergedRun merged;
  ASSERT_TRUE(merge_runs({}, results, merged, nullptr));
  EXPECT_EQ(merged.totals.sent, 201u);
  EXPECT_EQ(merged.totals.received, 181u);
  EXPECT_EQ(merged.totals.lost, 20u);
  EXPECT_EQ(merged.totals.opened, 8u);
  EXPECT_DOUBLE_EQ(merged.totals.msgs_per_s, 90.0);  // 45/s each
  EXPECT_EQ(merged.totals.exit_status, 1);
  bool found = false;
  for (const auto& [kind, n] : merged.totals.errors)
    if (kind == "unexpected_eof") {
      found = true;
      EXPECT_EQ(n, 6u);
    }
  EXPECT_TRUE(found);
  ASSERT_EQ(merged.timeline.size(), 1u);
  EXPECT_EQ(merged.timeline[0].connections, 8u);
  EXPECT_EQ(merged.timeline[0].received, 90u);
  const std::string json = merged_json(merged, {"a.json", "b.json"});
  EXPECT_NE(json.find("\"received\": 181"), std::string::npos) << json;
}

TEST(LoadMerge, RefusesWhatIsNotAResult) {
  ShardResult s;
  std::string error;
  EXPECT_FALSE(parse_shard_result("{\"tool\": \"other\"}", s, &error));
  EXPECT_FALSE(parse_shard_result("{\"tool\": ", s, &error));
  EXPECT_FALSE(parse_shard_result("[1, 2]", s, &error));
}
