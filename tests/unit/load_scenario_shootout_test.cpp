#include "bench/load/scenario_shootout.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench/load/options.hpp"
#include "tests/unit/load_options_test_support.hpp"

using namespace wsring::load;
using namespace wsring::load::options_test;

namespace {

std::string request(ShootoutFormat format, uint64_t id) {
  uint8_t out[kShootoutMessageMax];
  const size_t n = encode_broadcast_request(format, id, out);
  return std::string(reinterpret_cast<const char*>(out), n);
}

}  // namespace

TEST(ShootoutMessages, JsonRequestIsTheShootoutBroadcast) {
  EXPECT_EQ(request(ShootoutFormat::Json, 42), "{\"type\":\"broadcast\",\"payload\":{\"id\":42}}");
  EXPECT_LE(request(ShootoutFormat::Json, ~uint64_t{0}).size(), kShootoutMessageMax);
}

TEST(ShootoutMessages, BinaryRequestIsBAndTheIdLittleEndian) {
  const std::string r = request(ShootoutFormat::Binary, 0x0102);
  ASSERT_EQ(r.size(), 9u);
  EXPECT_EQ(r[0], 'b');
  EXPECT_EQ(uint8_t(r[1]), 0x02);
  EXPECT_EQ(uint8_t(r[2]), 0x01);
}

TEST(ShootoutMessages, JsonRepliesAreTold) {
  ShootoutReply r = decode_shootout_reply(ShootoutFormat::Json, "{\"type\":\"broadcast\",\"payload\":{\"id\":7}}");
  EXPECT_EQ(r.kind, ShootoutReplyKind::Broadcast);
  EXPECT_TRUE(r.has_id);
  EXPECT_EQ(r.id, 7u);
  // Re-encoded by another server: spaces, other keys, the payload first.
  r = decode_shootout_reply(ShootoutFormat::Json,
                            "{ \"payload\" : {\"x\":\"id\", \"id\" : 123}, \"type\" : \"broadcastResult\" }");
  EXPECT_EQ(r.kind, ShootoutReplyKind::Result);
  EXPECT_TRUE(r.has_id);
  EXPECT_EQ(r.id, 123u);
  r = decode_shootout_reply(ShootoutFormat::Json, "{\"type\":\"echo\",\"payload\":{\"id\":1}}");
  EXPECT_EQ(r.kind, ShootoutReplyKind::Other);
}

TEST(ShootoutMessages, JsonRepliesWithoutAnIdSayso) {
  EXPECT_FALSE(decode_shootout_reply(ShootoutFormat::Json, "{\"type\":\"broadcast\",\"payload\":null}").has_id);
  EXPECT_FALSE(decode_shootout_reply(ShootoutFormat::Json, "{\"type\":\"broadcast\",\"payload\":{\"id\":\"7\"}}").has_id);
  EXPECT_FALSE(decode_shootout_reply(ShootoutFormat::Json, "{\"type\":\"broadcast\",\"payload\":{\"id\":1.5}}").has_id);
  EXPECT_EQ(decode_shootout_reply(ShootoutFormat::Json, "not json").kind, ShootoutReplyKind::Other);
  EXPECT_EQ(decode_shootout_reply(ShootoutFormat::Json, "").kind, ShootoutReplyKind::Other);
}

TEST(ShootoutMessages, BinaryReplies) {
  std::string b = request(ShootoutFormat::Binary, 99);
  ShootoutReply r = decode_shootout_reply(ShootoutFormat::Binary, b);
  EXPECT_EQ(r.kind, ShootoutReplyKind::Broadcast);
  EXPECT_EQ(r.id, 99u);
  b[0] = 'r';
  r = decode_shootout_reply(ShootoutFormat::Binary, b);
  EXPECT_EQ(r.kind, ShootoutReplyKind::Result);
  EXPECT_EQ(r.id, 99u);
  EXPECT_FALSE(decode_shootout_reply(ShootoutFormat::Binary, "b123").has_id);  // too short
  EXPECT_EQ(decode_shootout_reply(ShootoutFormat::Binary, "e12345678").kind, ShootoutReplyKind::Other);
  EXPECT_EQ(decode_shootout_reply(ShootoutFormat::Binary, "").kind, ShootoutReplyKind::Other);
}

TEST(ShootoutSteps, NearestRankPercentile) {
  std::vector<uint64_t> v{50, 10, 40, 20, 30};
  EXPECT_EQ(nearest_rank(v, 50), 30u);
  EXPECT_EQ(nearest_rank(v, 95), 50u);
  EXPECT_EQ(nearest_rank(v, 20), 10u);
  EXPECT_EQ(nearest_rank(v, 100), 50u);
  std::vector<uint64_t> none;
  EXPECT_EQ(nearest_rank(none, 95), 0u);
}

TEST(ShootoutSteps, CrossedWhenThePercentilePassesTheLimit) {
  ShootoutOptions o;
  o.limit_rtt_s = 0.010;
  std::vector<uint64_t> rtt{1'000'000, 2'000'000, 11'000'000}, result{500'000, 600'000, 700'000};
  ShootoutStep s = summarize_step(100, rtt, result, o);
  EXPECT_EQ(s.clients, 100u);
  EXPECT_EQ(s.broadcasts, 3u);
  EXPECT_EQ(s.rtt_min_ns, 1'000'000u);
  EXPECT_EQ(s.rtt_max_ns, 11'000'000u);
  EXPECT_EQ(s.rtt_limit_ns, 11'000'000u);
  EXPECT_EQ(s.result_limit_ns, 700'000u);
  EXPECT_TRUE(s.crossed);
  o.limit_percentile = 50;
  s = summarize_step(100, rtt, result, o);
  EXPECT_EQ(s.rtt_limit_ns, 2'000'000u);
  EXPECT_FALSE(s.crossed);
}

TEST(ShootoutSteps, CapacityHoldsEveryStep) {
  ShootoutOptions o;
  o.step_size = 100;
  o.sample_size = 20;
  o.max_clients = 1000;
  EXPECT_EQ(shootout_capacity(o, 100), 10u * 20u);  // 100, 200, ... 1000
  EXPECT_EQ(shootout_capacity(o, 1000), 20u);
  EXPECT_EQ(shootout_capacity(o, 950), 2u * 20u);   // 950, then 1000
}

TEST(ShootoutBoard, ReceiptsKeepTheLatestTime) {
  ShootoutBoard board(2);
  BroadcastSlot& s = board.slot(1);
  s.record_receipt(500);
  s.record_receipt(300);
  EXPECT_EQ(s.receipts.load(), 2u);
  EXPECT_EQ(s.last_receipt_ns.load(), 500u);
}

TEST(ShootoutOptions, FlagsAndDefaults) {
  Parsed p = parse_ok({"--scenario", "shootout"});
  ASSERT_EQ(p.outcome, ParseOutcome::Run) << p.message;
  EXPECT_EQ(p.options.scenario, Scenario::Shootout);
  EXPECT_EQ(p.options.shootout.first_clients, 100u);  // --connections' default
  EXPECT_EQ(p.options.connections, 10000u);           // slots up to --max-clients
  EXPECT_EQ(p.options.shootout.concurrent, 4u);
  EXPECT_EQ(p.options.shootout.sample_size, 20u);
  EXPECT_DOUBLE_EQ(p.options.shootout.limit_rtt_s, 0.5);
  p = parse_ok({"--scenario", "shootout", "--initial-clients", "50", "--step-size", "25", "--concurrent", "2",
             "--sample-size", "10", "--limit-percentile", "99.9", "--limit-rtt", "20ms", "--max-clients=200",
             "--shootout-format", "binary"});
  ASSERT_EQ(p.outcome, ParseOutcome::Run) << p.message;
  const ShootoutOptions& s = p.options.shootout;
  EXPECT_EQ(s.first_clients, 50u);
  EXPECT_EQ(s.step_size, 25u);
  EXPECT_EQ(s.concurrent, 2u);
  EXPECT_EQ(s.sample_size, 10u);
  EXPECT_DOUBLE_EQ(s.limit_percentile, 99.9);
  EXPECT_DOUBLE_EQ(s.limit_rtt_s, 0.020);
  EXPECT_EQ(s.max_clients, 200u);
  EXPECT_EQ(s.format, ShootoutFormat::Binary);
  EXPECT_EQ(p.options.connections, 200u);
}

TEST(ShootoutOptions, BadValuesAndCombinationsNameTheFlag) {
  expect_bad({"--step-size", "10"}, "--step-size");  // without --scenario shootout
  expect_bad({"--scenario", "shootout", "--concurrent", "0"}, "--concurrent");
  expect_bad({"--scenario", "shootout", "--concurrent", "257"}, "--concurrent");
  expect_bad({"--scenario", "shootout", "--limit-percentile", "0"}, "--limit-percentile");
  expect_bad({"--scenario", "shootout", "--limit-percentile", "abc"}, "--limit-percentile");
  expect_bad({"--scenario", "shootout", "--limit-rtt", "fast"}, "--limit-rtt");
  expect_bad({"--scenario", "shootout", "--shootout-format", "xml"}, "--shootout-format");
  expect_bad({"--scenario", "shootout", "--sample-size"}, "--sample-size");
  expect_bad({"--scenario", "shootout", "--initial-clients", "500", "--max-clients", "100"}, "--initial-clients");
  expect_bad({"--scenario", "shootout", "-c", "500", "--max-clients", "100"}, "--connections");
  expect_bad({"--scenario", "shootout", "--duration", "5s"}, "--duration");
  expect_bad({"--scenario", "shootout", "--messages", "5"}, "--messages");
  expect_bad({"--scenario", "shootout", "--rate", "5"}, "--rate");
  expect_bad({"--scenario", "shootout", "--reconnect"}, "--reconnect");
  expect_bad({"--scenario", "shootout", "--shard", "0/2"}, "--shard");
  expect_bad({"--scenario", "shootout", "--hdr-log", "/tmp/x.hlog"}, "--hdr-log");
  expect_bad({"--scenario", "shootout", "--threshold", "p99<5ms"}, "--threshold");
  expect_bad({"--scenario", "shootout", "--threshold", "rate>100"}, "--threshold");
  parse_ok({"--scenario", "shootout", "--threshold", "lost==0", "--threshold", "errors==0"});
}
