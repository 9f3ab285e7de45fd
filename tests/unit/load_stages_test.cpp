#include "bench/load/stages.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

using namespace wsring::load;

namespace {

Stage stage(const char* text) {
  Stage s;
  std::string error;
  EXPECT_TRUE(parse_stage(text, s, error)) << text << ": " << error;
  return s;
}

StagePlan plan(std::initializer_list<const char*> stages) {
  StagePlan p;
  for (const char* s : stages) p.add(stage(s));
  return p;
}

}  // namespace

TEST(Stages, Parse) {
  Stage s = stage("30s:1000c");
  EXPECT_EQ(s.duration_s, 30);
  EXPECT_EQ(s.connections, 1000);
  EXPECT_LT(s.rate, 0);
  s = stage("10s:100c:5000r");
  EXPECT_EQ(s.connections, 100);
  EXPECT_EQ(s.rate, 5000);
  s = stage("2m:2000r");
  EXPECT_EQ(s.duration_s, 120);
  EXPECT_LT(s.connections, 0);
  s = stage("500ms:0c");
  EXPECT_EQ(s.duration_s, 0.5);
  EXPECT_EQ(s.connections, 0);
  s = stage("0s:1.5r");
  EXPECT_EQ(s.rate, 1.5);
}

TEST(Stages, ParseRejects) {
  for (const char* bad : {"30s", "30s:", ":5c", "x:5c", "30s:5x", "30s:5c:6c", "30s:1r:2r", "30s:-1c", "30s:c",
                          "30s:99999999c", "-1s:5c", "30s:5c:"}) {
    Stage s;
    std::string error;
    EXPECT_FALSE(parse_stage(bad, s, error)) << bad;
    EXPECT_FALSE(error.empty());
    EXPECT_EQ(error.find('\n'), std::string::npos);
  }
}

TEST(Stages, ConnectionsRampHoldAndRampDownExactlyAtBoundaries) {
  const StagePlan p = plan({"10s:100c", "10s:100c", "10s:0c"});
  EXPECT_EQ(p.duration_s(), 30);
  EXPECT_EQ(p.max_connections(), 100u);
  EXPECT_FALSE(p.has_rate());
  EXPECT_EQ(p.connections_at(0), 0u);
  EXPECT_EQ(p.connections_at(2.5), 25u);
  EXPECT_EQ(p.connections_at(5), 50u);
  EXPECT_EQ(p.connections_at(10), 100u);
  EXPECT_EQ(p.connections_at(15), 100u);
  EXPECT_EQ(p.connections_at(20), 100u);
  EXPECT_EQ(p.connections_at(25), 50u);
  EXPECT_EQ(p.connections_at(30), 0u);
  EXPECT_EQ(p.connections_at(99), 0u);  // after the end: the last target
}

TEST(Stages, RoundingIsHalfUpAndMonotonic) {
  const StagePlan p = plan({"10s:3c"});
  EXPECT_EQ(p.connections_at(5), 2u);           // 1.5 -> 2
  EXPECT_EQ(p.connections_at(10.0 / 6), 1u);    // 0.5 -> 1
  EXPECT_EQ(p.connections_at(10.0 / 6 - 1e-6), 0u);
  uint32_t last = 0;
  for (int i = 0; i <= 1000; ++i) {  // a ramp never goes back, and meets each value once
    const uint32_t c = p.connections_at(i / 100.0);
    EXPECT_GE(c, last);
    EXPECT_LE(c - last, 1u);
    last = c;
  }
  EXPECT_EQ(last, 3u);
}

TEST(Stages, ZeroLengthStageJumpsAndMissingTargetsHold) {
  const StagePlan p = plan({"0s:50c:100r", "10s:2000r", "5s:10c"});
  EXPECT_EQ(p.connections_at(0), 50u);
  EXPECT_EQ(p.connections_at(5), 50u);  // the second stage left connections as they were
  EXPECT_DOUBLE_EQ(p.rate_at(0), 100);
  EXPECT_DOUBLE_EQ(p.rate_at(5), 1050);
  EXPECT_DOUBLE_EQ(p.rate_at(12), 2000);  // the third stage keeps the rate
  EXPECT_EQ(p.connections_at(12.5), 30u);
  EXPECT_TRUE(p.has_rate());
}

TEST(Stages, MessagesAddUpOverStages) {
  // 0 -> 100/s over 10 s (500 messages), hold 10 s (1000), 100 -> 0 over 10 s (500).
  const StagePlan p = plan({"10s:100r", "10s:100r", "10s:0r"});
  EXPECT_DOUBLE_EQ(p.messages_by(0), 0);
  EXPECT_DOUBLE_EQ(p.messages_by(10), 500);
  EXPECT_DOUBLE_EQ(p.messages_by(20), 1500);
  EXPECT_DOUBLE_EQ(p.messages_by(30), 2000);
  EXPECT_DOUBLE_EQ(p.messages_by(40), 2000);  // rate 0 after the end
  EXPECT_DOUBLE_EQ(p.messages_by(5), 125);    // halfway up the ramp: a quarter of its messages
  EXPECT_DOUBLE_EQ(p.messages_by(25), 1500 + 375);
}

TEST(Stages, MessageTimesInvertTheCount) {
  const StagePlan p = plan({"10s:100r", "10s:100r", "10s:0r"});
  EXPECT_NEAR(p.time_of_message(0), std::sqrt(0.2), 1e-9);  // 1 = 5 t^2
  EXPECT_NEAR(p.time_of_message(499), 10, 1e-9);           // the 500th message at the boundary
  EXPECT_NEAR(p.time_of_message(1499), 20, 1e-9);
  EXPECT_NEAR(p.time_of_message(1999), 30, 1e-6);
  EXPECT_TRUE(std::isinf(p.time_of_message(2000)));        // the plan never gets there
  double last = 0;
  for (uint64_t k = 0; k < 2000; k += 7) {
    const double t = p.time_of_message(k);
    EXPECT_GE(t, last);
    EXPECT_NEAR(p.messages_by(t), double(k + 1), 1e-6) << k;
    last = t;
  }
}

TEST(Stages, ConstantRateAfterTheEnd) {
  const StagePlan p = plan({"0s:10r", "1s:10r"});
  EXPECT_DOUBLE_EQ(p.messages_by(1), 10);
  EXPECT_DOUBLE_EQ(p.messages_by(3), 30);
  EXPECT_NEAR(p.time_of_message(0), 0.1, 1e-12);
  EXPECT_NEAR(p.time_of_message(24), 2.5, 1e-9);
}
