#include "bench/load/report.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace wsring::load;

namespace {

RunReport sample(const LoadOptions& options) {
  RunReport r;
  r.options = &options;
  r.backend = "io_uring";
  r.totals.sent = 1000;
  r.totals.received = 990;
  r.totals.in_flight = 10;
  r.totals.bytes_received = 990 * 32;
  for (int i = 0; i < 990; ++i) r.totals.latency_us.record(40 + i % 20);
  r.window_s = 2.0;
  r.window_messages = 900;
  r.window_bytes = 900 * 32;
  r.elapsed_s = 2.5;
  return r;
}

// The value after "key": in a flat rendering (enough for these numbers and short strings).
std::string value_of(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\": ");
  if (at == std::string::npos) return "<missing>";
  const size_t start = at + key.size() + 4;
  const size_t end = json.find_first_of(",}\n", start);
  return json.substr(start, end - start);
}

}  // namespace

TEST(LoadReport, JsonHasTheDocumentedLayout) {
  LoadOptions options;
  options.url_text = "ws://127.0.0.1:9001/";
  const std::string json = format_json(sample(options));
  for (const char* key : {"parameters", "url", "connections", "duration_s", "messages", "size_min", "size_max", "type",
                          "pipeline", "rate", "ramp_up_s", "threads", "connect_rate", "handshake_timeout_s", "handshake_only", "source_addrs",
                          "backend", "backend_requested", "elapsed_s", "window_s", "interrupted", "sent", "received",
                          "in_flight", "lost", "mismatched", "bytes", "throughput", "msgs_per_s", "bytes_per_s",
                          "handshakes_per_s", "latency_us", "connect_us", "handshake_us", "p50", "p90", "p99", "p999",
                          "p9999", "max", "min", "mean", "count", "opened", "failed", "closed_cleanly", "errors",
                          "total", "error_details", "exit_status", "load_cpu_s", "user", "system"})
    EXPECT_NE(json.find(std::string("\"") + key + "\":"), std::string::npos) << key;
  for (size_t k = 0; k < kErrorKindCount; ++k)
    EXPECT_NE(json.find(std::string("\"") + error_kind_name(ErrorKind(k)) + "\": 0"), std::string::npos)
        << error_kind_name(ErrorKind(k));
  EXPECT_EQ(value_of(json, "msgs_per_s"), "450.000");
  EXPECT_EQ(value_of(json, "bytes_per_s"), "14400.000");
  EXPECT_EQ(value_of(json, "in_flight"), "10");
  EXPECT_EQ(value_of(json, "exit_status"), "0");
  EXPECT_EQ(value_of(json, "duration_s"), "10.000");
  EXPECT_EQ(value_of(json, "rate"), "null");
}

TEST(LoadReport, TheSummarySaysConnectionAndThreadInTheSingular) {
  for (const uint32_t n : {1u, 2u}) {
    LoadOptions options;
    options.url_text = "ws://127.0.0.1:9001/";
    options.connections = n;
    options.threads = n;
    char* text = nullptr;
    size_t size = 0;
    std::FILE* out = open_memstream(&text, &size);
    ASSERT_NE(out, nullptr);
    print_summary(out, sample(options));
    std::fclose(out);
    const std::string summary(text, size);
    std::free(text);
    EXPECT_NE(summary.find(n == 1 ? ": 1 connection, 1 thread," : ": 2 connections, 2 threads,"), std::string::npos)
        << summary;
  }
}

TEST(LoadReport, ErrorsSetExitStatusAndAreDetailed) {
  LoadOptions options;
  options.url_text = "ws://127.0.0.1:9001/\"quoted\"";
  RunReport r = sample(options);
  EXPECT_EQ(exit_status(r.totals), 0);
  r.totals.errors[size_t(ErrorKind::Mismatch)] = 2;
  r.totals.mismatched = 2;
  r.totals.first_detail[size_t(ErrorKind::Mismatch)] = "byte 20 is 0x41\n";
  EXPECT_EQ(exit_status(r.totals), 1);
  const std::string json = format_json(r);
  EXPECT_EQ(value_of(json, "mismatch"), "2");
  EXPECT_EQ(value_of(json, "total"), "2");
  EXPECT_NE(json.find("\"mismatch\": \"byte 20 is 0x41\\n\""), std::string::npos) << json;
  EXPECT_NE(json.find("9001/\\\"quoted\\\""), std::string::npos);  // escaped
  EXPECT_EQ(value_of(json, "exit_status"), "1");
}

TEST(LoadReport, LostMessagesAloneFailTheRun) {
  WorkerTotals t;
  EXPECT_EQ(exit_status(t), 0);
  t.lost = 1;
  EXPECT_EQ(exit_status(t), 1);
}

TEST(LoadReport, MergeAddsCountsAndKeepsTheFirstDetail) {
  WorkerTotals a, b;
  a.sent = 5;
  b.sent = 7;
  b.errors[size_t(ErrorKind::UnexpectedEof)] = 1;
  b.first_detail[size_t(ErrorKind::UnexpectedEof)] = "from b";
  a.latency_us.record(10);
  b.latency_us.record(30);
  a.merge(b);
  EXPECT_EQ(a.sent, 12u);
  EXPECT_EQ(a.error_total(), 1u);
  EXPECT_EQ(a.first_detail[size_t(ErrorKind::UnexpectedEof)], "from b");
  EXPECT_EQ(a.latency_us.count(), 2u);
  EXPECT_EQ(a.latency_us.max(), 30u);
}
