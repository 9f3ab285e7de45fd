#include "bench/load/scenario_push.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace wsring::load;

namespace {

SequenceCounts feed(const std::vector<uint64_t>& seqs) {
  SequenceTracker t;
  SequenceCounts c;
  for (uint64_t s : seqs) t.observe(s, c);
  return c;
}

TEST(SequenceTracker, InOrderIsClean) {
  const SequenceCounts c = feed({0, 1, 2, 3});
  EXPECT_EQ(c.received, 4u);
  EXPECT_EQ(c.lost, 0u);
  EXPECT_EQ(c.out_of_order, 0u);
  EXPECT_EQ(c.duplicates, 0u);
}

TEST(SequenceTracker, GapsCountAsLost) {
  const SequenceCounts c = feed({0, 3, 4, 9});  // 1, 2 and 5..8 never come
  EXPECT_EQ(c.received, 4u);
  EXPECT_EQ(c.lost, 6u);
  EXPECT_EQ(c.out_of_order, 0u);
}

TEST(SequenceTracker, MissingStartCountsAsLost) {
  EXPECT_EQ(feed({2, 3}).lost, 2u);
}

TEST(SequenceTracker, LateArrivalIsReorderNotLoss) {
  const SequenceCounts c = feed({0, 2, 1, 3});
  EXPECT_EQ(c.lost, 0u);
  EXPECT_EQ(c.out_of_order, 1u);
  EXPECT_EQ(c.duplicates, 0u);
}

TEST(SequenceTracker, DuplicatesAreToldFromReorder) {
  const SequenceCounts c = feed({0, 1, 1, 3, 2, 2, 3});
  EXPECT_EQ(c.received, 7u);
  EXPECT_EQ(c.duplicates, 3u);  // 1 again, 2 again, 3 again
  EXPECT_EQ(c.out_of_order, 1u);
  EXPECT_EQ(c.lost, 0u);
}

TEST(SequenceTracker, BitsOfSkippedNumbersAreClearedAcrossTheWindow) {
  SequenceTracker t;
  SequenceCounts c;
  for (uint64_t s = 0; s < 300; ++s) t.observe(s, c);  // wraps the window: every bit set once
  t.observe(310, c);                                   // 300..309 skipped: their bits must read "not arrived"
  t.observe(305, c);
  EXPECT_EQ(c.out_of_order, 1u);
  EXPECT_EQ(c.duplicates, 0u);
  EXPECT_EQ(c.lost, 9u);
  t.observe(305, c);
  EXPECT_EQ(c.duplicates, 1u);
}

TEST(SequenceTracker, AJumpBeyondTheWindowClearsEverything) {
  SequenceTracker t;
  SequenceCounts c;
  for (uint64_t s = 0; s < 10; ++s) t.observe(s, c);
  t.observe(1000, c);
  EXPECT_EQ(c.lost, 990u);
  t.observe(999, c);  // within the window behind 1000: late, not duplicate
  EXPECT_EQ(c.out_of_order, 1u);
  EXPECT_EQ(c.lost, 989u);
  t.observe(5, c);  // far behind: cannot tell
  EXPECT_EQ(c.stale, 1u);
  EXPECT_EQ(c.lost, 989u);
}

TEST(PushHeader, RoundTripsLittleEndian) {
  uint8_t bytes[kPushHeaderSize];
  encode_push_header(PushHeader{0x0102030405060708ull, 42}, bytes);
  EXPECT_EQ(bytes[0], 0x08);
  EXPECT_EQ(bytes[7], 0x01);
  EXPECT_EQ(bytes[8], 42);
  const PushHeader h = decode_push_header(bytes);
  EXPECT_EQ(h.send_ns, 0x0102030405060708ull);
  EXPECT_EQ(h.seq, 42u);
}

TEST(PushStreams, HeaderSplitAcrossChunks) {
  PushStreams streams(2);
  SequenceCounts c;
  uint8_t msg[20] = {};
  encode_push_header(PushHeader{777, 0}, msg);
  PushHeader h;
  EXPECT_FALSE(streams.on_chunk(1, msg, 5, true, false, h, c));
  EXPECT_FALSE(streams.on_chunk(1, msg + 5, 7, false, false, h, c));
  ASSERT_TRUE(streams.on_chunk(1, msg + 12, 8, false, true, h, c));
  EXPECT_EQ(h.send_ns, 777u);
  EXPECT_EQ(c.received, 1u);
}

TEST(PushStreams, ShortMessageIsCountedNotTracked) {
  PushStreams streams(1);
  SequenceCounts c;
  uint8_t msg[8] = {};
  PushHeader h;
  EXPECT_FALSE(streams.on_chunk(0, msg, 8, true, true, h, c));
  EXPECT_EQ(c.short_messages, 1u);
  EXPECT_EQ(c.received, 0u);
}

TEST(PushStreams, ResetStartsNumbersAgain) {
  PushStreams streams(1);
  SequenceCounts c;
  uint8_t msg[16];
  PushHeader h;
  for (uint64_t s : {0, 1}) {
    encode_push_header(PushHeader{1, s}, msg);
    streams.on_chunk(0, msg, 16, true, true, h, c);
  }
  streams.reset(0);
  encode_push_header(PushHeader{1, 0}, msg);
  streams.on_chunk(0, msg, 16, true, true, h, c);
  EXPECT_EQ(c.duplicates, 0u);
}

TEST(Scenario, ParsesNames) {
  Scenario s = Scenario::Echo;
  EXPECT_TRUE(parse_scenario("push", s));
  EXPECT_EQ(s, Scenario::Push);
  EXPECT_FALSE(parse_scenario("Push", s));
  EXPECT_FALSE(parse_scenario("", s));
  EXPECT_STREQ(scenario_name(Scenario::Push), "push");
}

}  // namespace
