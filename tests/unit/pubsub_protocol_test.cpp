#include "server/pubsub_protocol.hpp"

#include <gtest/gtest.h>

#include <string>

namespace wsring::server {
namespace {

TEST(PubsubProtocol, Commands) {
  PubsubCommand c;
  ASSERT_EQ(parse_pubsub("SUB news", c), nullptr);
  EXPECT_EQ(c.verb, PubsubVerb::Sub);
  EXPECT_EQ(c.topic, "news");
  ASSERT_EQ(parse_pubsub("UNSUB a/b.c", c), nullptr);
  EXPECT_EQ(c.verb, PubsubVerb::Unsub);
  EXPECT_EQ(c.topic, "a/b.c");
  ASSERT_EQ(parse_pubsub("PUB news hello  world ", c), nullptr);
  EXPECT_EQ(c.verb, PubsubVerb::Pub);
  EXPECT_EQ(c.topic, "news");
  EXPECT_EQ(c.payload, "hello  world ");
}

TEST(PubsubProtocol, PublishWithAnEmptyPayload) {
  PubsubCommand c;
  ASSERT_EQ(parse_pubsub("PUB t", c), nullptr);
  EXPECT_EQ(c.payload, "");
  ASSERT_EQ(parse_pubsub("PUB t ", c), nullptr);
  EXPECT_EQ(c.payload, "");
}

TEST(PubsubProtocol, PayloadMayHoldAnyBytes) {
  PubsubCommand c;
  const std::string message("PUB t \0\xff\n", 9);
  ASSERT_EQ(parse_pubsub(message, c), nullptr);
  EXPECT_EQ(c.payload, std::string_view("\0\xff\n", 3));
}

TEST(PubsubProtocol, BadCommandsSayWhy) {
  PubsubCommand c;
  const std::pair<std::string, const char*> cases[] = {
      {"", "expected SUB"},
      {"SUB", "expected SUB"},
      {"sub x", "unknown command"},
      {"JOIN x", "unknown command"},
      {"SUB ", "bad topic"},
      {"SUB a b", "bad topic"},
      {"UNSUB a\tb", "bad topic"},
      {"PUB  x", "bad topic"},
      {"SUB " + std::string(129, 't'), "bad topic"},
      {std::string("SUB a\0", 6), "bad topic"},
      {"SUB caf\xc3\xa9", "bad topic"},
  };
  for (const auto& [text, why] : cases) {
    const char* error = parse_pubsub(text, c);
    ASSERT_NE(error, nullptr) << text;
    EXPECT_NE(std::string(error).find(why), std::string::npos) << text << ": " << error;
  }
  EXPECT_EQ(parse_pubsub("SUB " + std::string(128, 't'), c), nullptr);
}

}  // namespace
}  // namespace wsring::server
