#include "server/metrics.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "server/connection.hpp"

namespace wsring::server {
namespace {

TEST(ExpositionTest, WritesHelpTypeAndSamples) {
  std::string out;
  Exposition e(out);
  e.family("wsring_things_total", "counter", "Things.");
  e.sample(uint64_t{3});
  e.sample({{"kind", "a"}, {"code", "1000"}}, uint64_t{18446744073709551615u});
  EXPECT_EQ(out,
            "# HELP wsring_things_total Things.\n"
            "# TYPE wsring_things_total counter\n"
            "wsring_things_total 3\n"
            "wsring_things_total{kind=\"a\",code=\"1000\"} 18446744073709551615\n");
}

TEST(ExpositionTest, EscapesLabelValues) {
  std::string out;
  Exposition e(out);
  e.family("x", "gauge", "X.");
  e.sample({{"v", "a\"b\\c\nd"}}, uint64_t{1});
  EXPECT_NE(out.find("x{v=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << out;
}

TEST(ExpositionTest, WritesFloatingValuesExactly) {
  std::string out;
  Exposition e(out);
  e.family("s", "counter", "S.");
  e.sample(0.25);
  EXPECT_NE(out.find("s 0.25\n"), std::string::npos) << out;
}

// Every line of the whole page: a comment of a known kind or "name{labels} value", names per
// the Prometheus conventions, each family's HELP and TYPE once and before its samples.
TEST(MetricsTextTest, TheWholePageIsWellFormed) {
  ServerStats s;
  s.accepted = 7;
  s.tls_handshakes = 5;
  s.tls_resumed = 2;
  s.tls_offloaded = 3;
  s.close_codes_sent[close_code_bucket(1001)] = 4;
  s.upgrade_failures[http_status_bucket(404)] = 2;
  s.proxy_errors[size_t(core::ProxyError::TooLong)] = 6;
  s.fanout_skipped = 8;
  s.deflate_agreed[1] = 9;
  s.deflate_compressed_out_bytes = 10;
  ThreadGauges g;
  g.open_connections = 3;
  ProcessFigures p;
  p.cpu_seconds = 1.5;
  std::string out;
  write_metrics(out, s, g, p, 2, "0.1.0", "io_uring");
  const std::regex sample(R"(^(wsring_[a-z_]+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$)");
  const std::regex type(R"(^# TYPE (wsring_[a-z_]+) (counter|gauge)$)");
  std::set<std::string> typed;
  std::map<std::string, std::string> types;
  std::istringstream lines(out);
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (std::regex_match(line, m, type)) {
      EXPECT_TRUE(typed.insert(m[1]).second) << "TYPE twice: " << line;
      types[m[1]] = m[2];
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, m, sample)) << "bad line: " << line;
    EXPECT_TRUE(typed.count(m[1])) << "sample before its TYPE: " << line;
    const bool total = std::string(m[1]).ends_with("_total");
    EXPECT_EQ(total, types[m[1]] == "counter") << line;
    ++samples;
  }
  EXPECT_GT(samples, 50);
  EXPECT_LT(samples, 150);  // low cardinality
  EXPECT_NE(out.find("wsring_build_info{version=\"0.1.0\",backend=\"io_uring\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("wsring_connections_accepted_total 7\n"), std::string::npos);
  EXPECT_NE(out.find("wsring_connections_open 3\n"), std::string::npos);
  EXPECT_NE(out.find("wsring_tls_handshakes_total{kind=\"full\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("wsring_tls_handshakes_total{kind=\"resumed\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("wsring_tls_offloaded_total 3\n"), std::string::npos);
  EXPECT_NE(out.find("wsring_close_codes_sent_total{code=\"1001\"} 4\n"), std::string::npos);
  EXPECT_NE(out.find("wsring_upgrade_failures_total{status=\"404\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("wsring_process_cpu_seconds_total 1.5\n"), std::string::npos);
  EXPECT_NE(out.find("wsring_proxy_errors_total{kind=\"too_long\"} 6\n"), std::string::npos);
  EXPECT_EQ(out.find("wsring_proxy_errors_total{kind=\"none\"}"), std::string::npos);
  EXPECT_NE(out.find("wsring_fanout_skipped_total 8\n"), std::string::npos);
  EXPECT_NE(out.find("wsring_deflate_connections_total{mode=\"dedicated\"} 9\n"), std::string::npos);
  EXPECT_NE(out.find("wsring_deflate_compressed_out_bytes_total 10\n"), std::string::npos);
}

TEST(MetricsTextTest, BucketsAreAFixedSet) {
  EXPECT_STREQ(close_code_bucket_name(close_code_bucket(1000)), "1000");
  EXPECT_STREQ(close_code_bucket_name(close_code_bucket(1005)), "none");
  EXPECT_STREQ(close_code_bucket_name(close_code_bucket(4321)), "other");
  EXPECT_STREQ(close_code_bucket_name(close_code_bucket(1004)), "other");
  EXPECT_STREQ(http_status_bucket_name(http_status_bucket(431)), "431");
  EXPECT_STREQ(http_status_bucket_name(http_status_bucket(505)), "other");
  EXPECT_STREQ(end_reason_name(size_t(EndReason::PeerClose)), "peer_close");
  EXPECT_STREQ(end_reason_name(kEndReasons), "unknown");
}

TEST(MetricsLogLineTest, KeepsNonZeroSamplesOnOneLine) {
  const std::string line = metrics_log_line("# HELP a A.\n# TYPE a counter\na 3\nb{k=\"v\"} 0\nc{k=\"w\"} 2.5\n");
  EXPECT_EQ(line, "a=3 c{k=\"w\"}=2.5");
}

TEST(StatsBoardTest, SumsThePublishedSlots) {
  StatsBoard board(2, 100);
  ServerStats a, b;
  a.accepted = 2;
  a.close_codes_received[3] = 1;
  b.accepted = 5;
  ThreadGauges ga, gb;
  ga.open_connections = 1;
  gb.open_connections = 4;
  board.publish(0, a, ga, 150);
  EXPECT_EQ(board.total_stats().accepted, 2u);
  EXPECT_EQ(board.oldest_heartbeat_ms(), 100u);  // thread 1 has not published yet
  board.publish(1, b, gb, 160);
  const ServerStats total = board.total_stats();
  EXPECT_EQ(total.accepted, 7u);
  EXPECT_EQ(total.close_codes_received[3], 1u);
  EXPECT_EQ(board.total_gauges().open_connections, 5u);
  EXPECT_EQ(board.oldest_heartbeat_ms(), 150u);
}

TEST(StatsBoardTest, AReaderOnAnotherThreadSeesMonotonicCounters) {
  StatsBoard board(1, 0);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    ServerStats s;
    for (int i = 0; i < 20000; ++i) {
      ++s.bytes_sent;
      board.publish(0, s, ThreadGauges{}, uint64_t(i));
    }
    done = true;
  });
  uint64_t last = 0;
  for (int i = 0; i < 200000 && !done; ++i) {
    const uint64_t now = board.total_stats().bytes_sent;
    ASSERT_GE(now, last);
    last = now;
  }
  writer.join();
  EXPECT_EQ(board.total_stats().bytes_sent, 20000u);
}

TEST(StatsBoardTest, DumpRequestsAreTakenOnce) {
  StatsBoard board(1, 0);
  EXPECT_FALSE(board.take_dump_request());
  board.request_dump();
  EXPECT_TRUE(board.take_dump_request());
  EXPECT_FALSE(board.take_dump_request());
}

}  // namespace
}  // namespace wsring::server
