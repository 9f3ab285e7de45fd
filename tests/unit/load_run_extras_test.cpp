#include "bench/load/run_extras.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "bench/load/hdr_log.hpp"

using namespace wsring::load;

namespace {

ParseOutcome parse(std::vector<std::string> args, LoadOptions& o, std::string& message) {
  args.insert(args.begin(), "ws://127.0.0.1:9001/");
  args.insert(args.begin(), "wsring-load");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return parse_load_args(int(argv.size()), argv.data(), o, message);
}

std::string bad(std::vector<std::string> args) {
  LoadOptions o;
  std::string message;
  EXPECT_EQ(parse(args, o, message), ParseOutcome::BadUsage) << args[0];
  return message;
}

}  // namespace

TEST(LoadRunExtras, ParsesTheFlags) {
  LoadOptions o;
  std::string message;
  ASSERT_EQ(parse({"--threshold", "p99<5ms", "--threshold=errors==0", "--hdr-log", "a.hlog", "--report=r.html",
                   "--quiet"},
                  o, message),
            ParseOutcome::Run)
      << message;
  ASSERT_EQ(o.thresholds.size(), 2u);
  EXPECT_EQ(o.thresholds[1].metric, "errors");
  EXPECT_EQ(o.hdr_log_path, "a.hlog");
  EXPECT_EQ(o.report_path, "r.html");
  EXPECT_TRUE(o.quiet);
  EXPECT_EQ(o.shard.count, 1u);
  EXPECT_EQ(o.connections_total, 100u);
}

TEST(LoadRunExtras, BadValuesNameTheFlag) {
  EXPECT_EQ(bad({"--threshold", "p99"}).substr(0, 12), "--threshold:");
  EXPECT_EQ(bad({"--threshold"}), "--threshold needs a value");
  EXPECT_EQ(bad({"--hdr-log", ""}), "--hdr-log: expected a file name");
  EXPECT_EQ(bad({"--report="}), "--report: expected a file name");
  EXPECT_EQ(bad({"--shard", "4/4"}).substr(0, 8), "--shard:");
  EXPECT_EQ(bad({"--start-at", "soon"}).substr(0, 11), "--start-at:");
  EXPECT_NE(bad({"--start-at", "1000"}).find("in the past"), std::string::npos);
  EXPECT_EQ(bad({"--quiet=1"}), "--quiet takes no value");
  EXPECT_NE(bad({"--shard", "3/8", "--connections", "3"}).find("gets none of the 3 connections"), std::string::npos);
  EXPECT_NE(bad({"--shard", "3/8", "--connections", "8", "--messages", "3"}).find("none of the 3 messages"),
            std::string::npos);
}

TEST(LoadRunExtras, ShardTakesItsShareOfConnectionsMessagesAndRate) {
  uint64_t connections = 0, messages = 0;
  double rate = 0;
  for (int i = 0; i < 3; ++i) {
    LoadOptions o;
    std::string message;
    ASSERT_EQ(parse({"--connections", "10", "--messages", "1001", "--rate", "1000", "--shard",
                     std::to_string(i) + "/3", "--threads", "8"},
                    o, message),
              ParseOutcome::Run)
        << message;
    connections += o.connections;
    messages += o.messages;
    rate += o.rate;
    EXPECT_EQ(o.connections_total, 10u);
    EXPECT_EQ(o.messages_total, 1001u);
    EXPECT_LE(o.threads, o.connections);
    EXPECT_DOUBLE_EQ(o.rate / o.connections, 100.0);  // every connection at 1000/10 msg/s
  }
  EXPECT_EQ(connections, 10u);
  EXPECT_EQ(messages, 1001u);
  EXPECT_DOUBLE_EQ(rate, 1000.0);
}

TEST(LoadRunExtras, StartAtInTheNearFuture) {
  LoadOptions o;
  std::string message;
  const std::string soon = std::to_string(uint64_t(unix_now_s()) + 60);
  ASSERT_EQ(parse({"--start-at", soon}, o, message), ParseOutcome::Run) << message;
  EXPECT_DOUBLE_EQ(o.start_at_unix_s, double(std::stoull(soon)));
}

TEST(LoadRunExtras, TimelineLogHasOneLinePerInterval) {
  std::vector<TimelinePoint> points(3);
  LatencyHistogram h;
  h.record(1234);
  for (int k = 0; k < 3; ++k) {
    points[size_t(k)].start_s = k;
    points[size_t(k)].length_s = 1;
    if (k != 1) append_hdr_counts(h, points[size_t(k)].counts);
  }
  HdrLog log;
  ASSERT_TRUE(parse_hdr_log(timeline_hdr_log(points, 1000.5), log, nullptr));
  ASSERT_EQ(log.intervals.size(), 3u);
  EXPECT_DOUBLE_EQ(log.base_time_s, 1000.5);
  EXPECT_DOUBLE_EQ(log.intervals[2].start_s, 2.0);
  EXPECT_DOUBLE_EQ(log.intervals[0].max_ms, 1.234);  // microseconds / 1000
  LatencyHistogram back;
  ASSERT_TRUE(decode_hdr(log.intervals[1].encoded, back, nullptr));
  EXPECT_EQ(back.count(), 0u);
}
