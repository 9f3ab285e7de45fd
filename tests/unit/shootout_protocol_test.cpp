#include "server/shootout_protocol.hpp"

#include <gtest/gtest.h>

#include <string>

namespace wsring::server {
namespace {

TEST(ShootoutJson, EchoAndBroadcastWithTheirPayloadText) {
  ShootoutRequest r;
  ASSERT_EQ(parse_shootout_json(R"({"type":"echo","payload":{"a":[1,2,{"b":"c\"}"}]}})", r), nullptr);
  EXPECT_EQ(r.kind, ShootoutKind::Echo);
  EXPECT_EQ(r.payload, R"({"a":[1,2,{"b":"c\"}"}]})");
  ASSERT_EQ(parse_shootout_json(" { \"payload\" : 12.5e3 , \"type\" : \"broadcast\" } ", r), nullptr);
  EXPECT_EQ(r.kind, ShootoutKind::Broadcast);
  EXPECT_EQ(r.payload, "12.5e3");
}

TEST(ShootoutJson, AMissingPayloadIsNull) {
  ShootoutRequest r;
  ASSERT_EQ(parse_shootout_json(R"({"type":"echo"})", r), nullptr);
  EXPECT_EQ(r.payload, "null");
}

TEST(ShootoutJson, OtherKeysAreIgnored) {
  ShootoutRequest r;
  ASSERT_EQ(parse_shootout_json(R"({"id":7,"type":"echo","extra":[true,false,null],"payload":"x"})", r), nullptr);
  EXPECT_EQ(r.payload, "\"x\"");
}

TEST(ShootoutJson, BadInputSaysWhy) {
  ShootoutRequest r;
  const std::pair<const char*, const char*> cases[] = {
      {"", "JSON object"},
      {"[1]", "JSON object"},
      {"{}", "no \"type\""},
      {R"({"payload":1})", "no \"type\""},
      {R"({"type":1})", "not a string"},
      {R"({"type":"ping"})", "unknown \"type\""},
      {R"({"type":"echo","payload":})", "bad JSON value"},
      {R"({"type":"echo","payload":[1,}})", "bad JSON value"},
      {R"({"type":"echo","payload":"open)", "bad JSON value"},
      {R"({"type":"echo" "payload":1})", "expected ','"},
      {R"({"type":"echo"} x)", "after the object"},
      {R"({"type" "echo"})", "expected ':'"},
      {R"({type:"echo"})", "expected a key"},
      {"{\"type\":\"echo\",\"payload\":\"a\x01\"}", "bad JSON value"},
  };
  for (const auto& [text, why] : cases) {
    const char* error = parse_shootout_json(text, r);
    ASSERT_NE(error, nullptr) << text;
    EXPECT_NE(std::string(error).find(why), std::string::npos) << text << ": " << error;
  }
}

TEST(ShootoutJson, NestingIsBounded) {
  ShootoutRequest r;
  const std::string deep = R"({"type":"echo","payload":)" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_NE(parse_shootout_json(deep, r), nullptr);
  const std::string ok = R"({"type":"echo","payload":)" + std::string(60, '[') + std::string(60, ']') + "}";
  EXPECT_EQ(parse_shootout_json(ok, r), nullptr);
  EXPECT_NE(parse_shootout_json(std::string(100000, '{'), r), nullptr);
}

TEST(ShootoutJson, ValueLength) {
  EXPECT_EQ(json_value_length(R"("a\"b" rest)"), 6u);
  EXPECT_EQ(json_value_length("-12.5e+3,"), 8u);
  EXPECT_EQ(json_value_length("{\"a\":{}}x"), 8u);
  EXPECT_EQ(json_value_length("nul"), 0u);
  EXPECT_EQ(json_value_length("x"), 0u);
}

TEST(ShootoutBinary, FirstByteSelects) {
  ShootoutRequest r;
  ASSERT_EQ(parse_shootout_binary("e\x01\x02", r), nullptr);
  EXPECT_EQ(r.kind, ShootoutKind::Echo);
  ASSERT_EQ(parse_shootout_binary("bpayload", r), nullptr);
  EXPECT_EQ(r.kind, ShootoutKind::Broadcast);
  EXPECT_EQ(r.payload, "payload");
  EXPECT_NE(parse_shootout_binary("", r), nullptr);
  EXPECT_NE(parse_shootout_binary("r123", r), nullptr);
}

}  // namespace
}  // namespace wsring::server
