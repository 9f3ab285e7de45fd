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

std::string summary_of(const RunReport& r) {
  char* text = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&text, &size);
  if (!out) return "<open_memstream failed>";
  print_summary(out, r);
  std::fclose(out);
  const std::string summary(text, size);
  std::free(text);
  return summary;
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
                          "handshakes_per_s", "latency_us", "connect_us", "handshake_us", "upgrade_us", "tls", "p50", "p90", "p99", "p999",
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
  // ws://: no TLS part beyond the null parameter.
  EXPECT_EQ(value_of(json, "tls"), "null");
  EXPECT_EQ(json.find("tls_handshake_us"), std::string::npos);
  EXPECT_EQ(json.find("\"tls\": {"), std::string::npos);
}

TEST(LoadReport, WssRunsReportTlsHandshakesAndFailuresByKind) {
  LoadOptions options;
  options.url_text = "wss://localhost:9443/";
  ASSERT_TRUE(parse_ws_url(options.url_text, options.url, nullptr));
  options.tls.ca_file = "ca.pem";
  options.tls.resume = true;
  RunReport r = sample(options);
  WorkerTotals& t = r.totals;
  t.tls_handshakes = 7;
  t.tls_resume_offered = 5;
  t.tls_resumed = 4;
  t.tls13 = 6;
  t.tls12 = 1;
  t.tls13_suites[0] = 5;  // TLS_AES_128_GCM_SHA256
  t.tls13_suites[2] = 1;  // TLS_CHACHA20_POLY1305_SHA256
  t.tls_handshake_us.record(900);
  t.upgrade_us.record(300);
  t.errors[size_t(ErrorKind::TlsFailed)] = 3;
  t.first_detail[size_t(ErrorKind::TlsFailed)] = "connection 2: TLS: certificate verification failed";
  t.tls_failures[size_t(wsring::server::TlsError::CertificateVerify)] = 2;
  t.tls_first_failure[size_t(wsring::server::TlsError::CertificateVerify)] = "connection 2: TLS: certificate";
  t.tls_failures[size_t(wsring::server::TlsError::NotTls)] = 1;
  const std::string json = format_json(r);
  EXPECT_EQ(value_of(json, "tls_failed"), "3");
  EXPECT_EQ(value_of(json, "handshakes"), "7");
  EXPECT_EQ(value_of(json, "resume_offered"), "5");
  EXPECT_EQ(value_of(json, "resumed"), "4");
  EXPECT_EQ(value_of(json, "1.3"), "6");
  EXPECT_EQ(value_of(json, "1.2"), "1");
  EXPECT_EQ(value_of(json, "certificate_verify"), "2");
  EXPECT_EQ(value_of(json, "not_tls"), "1");
  EXPECT_EQ(value_of(json, "eof_in_handshake"), "0");
  EXPECT_NE(json.find("\"certificate_verify\": \"connection 2: TLS: certificate\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"tls_handshake_us\": {\"count\": 1, \"min\": 900"), std::string::npos) << json;
  EXPECT_NE(json.find("\"upgrade_us\": {\"count\": 1, \"min\": 300"), std::string::npos) << json;
  EXPECT_NE(json.find("\"tls\": {\"insecure\": false, \"ca\": \"ca.pem\", \"sni\": null, \"server_name\": "
                      "\"localhost\", \"resume\": true, \"min_version\": \"1.2\", \"max_version\": \"1.3\", "
                      "\"tls13_suites\": null}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"tls13_suites\": {\"TLS_AES_128_GCM_SHA256\": 5, \"TLS_CHACHA20_POLY1305_SHA256\": 1}"),
            std::string::npos)
      << json;
  EXPECT_EQ(value_of(json, "exit_status"), "1");

  const std::string summary = summary_of(r);
  for (const char* line : {"tls handshake", "upgrade", "7 handshakes (6 TLS 1.3, 1 TLS 1.2), 4 resumed of 5 offered",
                           "verified against --ca for localhost", "certificate_verify", "not_tls",
                           "TLS 1.3 suites chosen: TLS_AES_128_GCM_SHA256 5, TLS_CHACHA20_POLY1305_SHA256 1"})
    EXPECT_NE(summary.find(line), std::string::npos) << line << "\n" << summary;
}

TEST(LoadReport, TheSummarySaysConnectionAndThreadInTheSingular) {
  for (const uint32_t n : {1u, 2u}) {
    LoadOptions options;
    options.url_text = "ws://127.0.0.1:9001/";
    options.connections = n;
    options.threads = n;
    const std::string summary = summary_of(sample(options));
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
