#include "bench/load/thresholds.hpp"

#include <gtest/gtest.h>

using namespace wsring::load;

namespace {

Threshold parsed(const char* text) {
  Threshold t;
  std::string error;
  EXPECT_TRUE(parse_threshold(text, t, &error)) << text << ": " << error;
  return t;
}

std::string parse_error(const char* text) {
  Threshold t;
  std::string error;
  EXPECT_FALSE(parse_threshold(text, t, &error)) << text;
  return error;
}

}  // namespace

TEST(LoadThresholds, ParsesMetricsOperatorsAndUnits) {
  Threshold t = parsed("p99<5ms");
  EXPECT_EQ(t.metric, "p99");
  EXPECT_EQ(t.op, ThresholdOp::Less);
  EXPECT_DOUBLE_EQ(t.limit, 5000);
  EXPECT_EQ(t.text, "p99<5ms");
  EXPECT_DOUBLE_EQ(parsed("p50 <= 800us").limit, 800);
  EXPECT_EQ(parsed("p50 <= 800us").op, ThresholdOp::LessEqual);
  EXPECT_DOUBLE_EQ(parsed("max<1.5s").limit, 1.5e6);
  EXPECT_DOUBLE_EQ(parsed("mean<2500ns").limit, 2.5);
  EXPECT_DOUBLE_EQ(parsed("p90<250").limit, 250);  // a bare number is microseconds
  EXPECT_EQ(parsed("p999<1ms").metric, "p99.9");
  EXPECT_EQ(parsed("p99.99<1ms").metric, "p99.99");
  EXPECT_EQ(parsed("p9999<1ms").metric, "p99.99");
  t = parsed("errors==0");
  EXPECT_EQ(t.metric, "errors");
  EXPECT_EQ(t.op, ThresholdOp::Equal);
  t = parsed("rate>=50000");
  EXPECT_EQ(t.op, ThresholdOp::GreaterEqual);
  EXPECT_DOUBLE_EQ(t.limit, 50000);
  EXPECT_DOUBLE_EQ(parsed("rate > 100/s").limit, 100);
  EXPECT_EQ(parsed("rate > 100/s").op, ThresholdOp::Greater);
  EXPECT_EQ(parsed("connect_failures==0").metric, "connect_failures");
  EXPECT_EQ(parsed("lost<=3").metric, "lost");
  EXPECT_EQ(parsed("mismatched==0").metric, "mismatched");
}

TEST(LoadThresholds, RefusesBadInputSayingWhy) {
  EXPECT_NE(parse_error("p99 5ms").find("no operator"), std::string::npos);
  EXPECT_NE(parse_error("p99=5ms").find("use =="), std::string::npos);
  EXPECT_NE(parse_error("p98<5ms").find("unknown metric"), std::string::npos);
  EXPECT_NE(parse_error("p99<").find("no value"), std::string::npos);
  EXPECT_NE(parse_error("p99<5parsecs").find("bad latency"), std::string::npos);
  EXPECT_NE(parse_error("p99<-5ms").find("bad latency"), std::string::npos);
  EXPECT_NE(parse_error("errors<1.5").find("bad count"), std::string::npos);
  EXPECT_NE(parse_error("rate>fast").find("bad rate"), std::string::npos);
  EXPECT_NE(parse_error("p99<<5ms").find("more than one operator"), std::string::npos);
  EXPECT_NE(parse_error("").find("expected METRIC OP VALUE"), std::string::npos);
}

TEST(LoadThresholds, EvaluatesEachOperatorAtItsEdges) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.record(v);  // p50 = 50, p99 = 99, max = 100
  ThresholdFigures f;
  f.latency_us = &h;
  f.errors = 2;
  f.rate = 1000;
  const std::vector<Threshold> ts = {parsed("p50<50"),     parsed("p50<=50"),  parsed("p99>99"), parsed("p99>=99"),
                                     parsed("max==100us"), parsed("errors==0"), parsed("errors<=2"),
                                     parsed("rate>=1000"), parsed("rate>1000"), parsed("min==1")};
  const std::vector<ThresholdResult> r = evaluate_thresholds(ts, f);
  const bool expected[] = {false, true, false, true, true, false, true, true, false, true};
  ASSERT_EQ(r.size(), std::size(expected));
  for (size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i].pass, expected[i]) << r[i].threshold.text << " got " << r[i].actual;
  EXPECT_DOUBLE_EQ(r[0].actual, 50);
  EXPECT_FALSE(all_pass(r));
  EXPECT_TRUE(all_pass({r[1], r[3]}));
  const std::string json = thresholds_json({r[0]});
  EXPECT_EQ(json, "[{\"threshold\": \"p50<50\", \"metric\": \"p50\", \"op\": \"<\", \"limit\": 50.000, \"actual\": 50.000, "
                  "\"unit\": \"us\", \"pass\": false}]");
}

TEST(LoadThresholds, LatencyWithoutEchoesFails) {
  LatencyHistogram empty;
  ThresholdFigures f;
  f.latency_us = &empty;
  EXPECT_FALSE(evaluate_thresholds({parsed("p99<1s")}, f)[0].pass);
  EXPECT_TRUE(evaluate_thresholds({parsed("errors==0")}, f)[0].pass);
}
