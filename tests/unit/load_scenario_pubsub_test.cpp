#include "bench/load/scenario_pubsub.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench/load/options.hpp"
#include "bench/load/scenario_push.hpp"
#include "tests/unit/load_options_test_support.hpp"

using namespace wsring::load;
using namespace wsring::load::options_test;

TEST(PubsubRule, ConnectionsTopicsPublishersAndMessages) {
  PubsubOptions o;
  o.topics = 4;
  o.publishers = 3;
  EXPECT_EQ(topic_of_connection(9, o), 1u);
  EXPECT_EQ(topic_of_message(10, o), 2u);
  EXPECT_EQ(sequence_of_message(10, o), 2u);  // messages 2, 6, 10 of topic 2: its third
  EXPECT_EQ(publisher_of_topic(2, o), 2u);
  EXPECT_EQ(publisher_of_topic(3, o), 0u);
  EXPECT_EQ(topic_name(17), "t17");
}

TEST(PubsubMessages, PublishCarriesTheStamp) {
  uint8_t out[128];
  const size_t n = encode_publish(3, 123456789, 42, 20, out);
  const std::string m(reinterpret_cast<const char*>(out), n);
  ASSERT_EQ(n, 7u + 20u);
  EXPECT_EQ(m.substr(0, 7), "PUB t3 ");
  const PushHeader h = decode_push_header(out + 7);
  EXPECT_EQ(h.send_ns, 123456789u);
  EXPECT_EQ(h.seq, 42u);
  EXPECT_EQ(out[n - 1], 0);
  PubsubOptions o;
  o.topics = 100;
  o.payload_size = 32;
  EXPECT_EQ(publish_size_max(o), 4u + 3u + 1u + 32u);  // "PUB t99 " and the payload
}

TEST(PubsubMessages, DeliveriesAndAcknowledgements) {
  uint8_t out[64];
  const size_t n = encode_publish(12, 5, 6, 16, out);
  std::string delivery = "MSG " + std::string(reinterpret_cast<const char*>(out) + 4, n - 4);
  PubsubReply r = decode_pubsub_reply(delivery);
  EXPECT_EQ(r.kind, PubsubReplyKind::Message);
  EXPECT_EQ(r.topic, 12u);
  EXPECT_TRUE(r.has_header);
  EXPECT_EQ(r.send_ns, 5u);
  EXPECT_EQ(r.seq, 6u);
  r = decode_pubsub_reply("MSG t12 short");
  EXPECT_EQ(r.kind, PubsubReplyKind::Message);
  EXPECT_FALSE(r.has_header);
  r = decode_pubsub_reply("OK SUB t7");
  EXPECT_EQ(r.kind, PubsubReplyKind::SubscribeOk);
  EXPECT_EQ(r.topic, 7u);
  EXPECT_EQ(decode_pubsub_reply("OK SUB t7x").kind, PubsubReplyKind::Other);
  EXPECT_EQ(decode_pubsub_reply("OK UNSUB t7").kind, PubsubReplyKind::Other);
  EXPECT_EQ(decode_pubsub_reply("MSG news hello").kind, PubsubReplyKind::Other);  // not one of our topics
  EXPECT_EQ(decode_pubsub_reply("MSG t1").kind, PubsubReplyKind::Other);
  EXPECT_EQ(decode_pubsub_reply("SUB t1").kind, PubsubReplyKind::Other);
  EXPECT_EQ(decode_pubsub_reply("").kind, PubsubReplyKind::Other);
}

TEST(PubsubBoard, LostIsExpectedMinusDelivered) {
  PubsubBoard board(2);
  board.subscribers(0) = 3;
  board.subscribers(1) = 2;
  board.published(0) = 10;
  board.published(1) = 5;
  board.delivered(0) = 30;
  board.delivered(1) = 7;
  const PubsubTotals t = pubsub_totals(board);
  EXPECT_EQ(t.published, 15u);
  EXPECT_EQ(t.expected, 40u);
  EXPECT_EQ(t.delivered, 37u);
  EXPECT_EQ(t.lost, 3u);
}

TEST(PubsubOptions, FlagsAndDefaults) {
  Parsed p = parse_ok({"--scenario", "pubsub", "-c", "10"});
  ASSERT_EQ(p.outcome, ParseOutcome::Run) << p.message;
  EXPECT_EQ(p.options.pubsub.topics, 1u);
  EXPECT_EQ(p.options.pubsub.publishers, 1u);
  EXPECT_DOUBLE_EQ(p.options.pubsub.rate, 100);
  EXPECT_EQ(p.options.rate, 0);  // paced by the publishers, not the echo scheduler
  p = parse_ok({"--scenario", "pubsub", "-c", "10", "--topics", "5", "--publishers", "2", "--rate", "500",
             "--size", "64"});
  ASSERT_EQ(p.outcome, ParseOutcome::Run) << p.message;
  EXPECT_EQ(p.options.pubsub.topics, 5u);
  EXPECT_EQ(p.options.pubsub.publishers, 2u);
  EXPECT_DOUBLE_EQ(p.options.pubsub.rate, 500);
  EXPECT_EQ(p.options.pubsub.payload_size, 64u);
  EXPECT_GE(p.options.size_max, publish_size_max(p.options.pubsub));
}

TEST(PubsubOptions, BadValuesAndCombinationsNameTheFlag) {
  expect_bad({"--topics", "3"}, "--topics");  // without --scenario pubsub
  expect_bad({"--scenario", "pubsub", "--topics", "0"}, "--topics");
  expect_bad({"--scenario", "pubsub", "-c", "2", "--publishers", "3"}, "--publishers");
  expect_bad({"--scenario", "pubsub", "--size", "16-64"}, "--size");
  expect_bad({"--scenario", "pubsub", "--size", "5000"}, "--size");
  expect_bad({"--scenario", "pubsub", "--messages", "10"}, "--messages");
  expect_bad({"--scenario", "pubsub", "--pipeline", "2"}, "--pipeline");
  expect_bad({"--scenario", "pubsub", "--reconnect"}, "--reconnect");
}
