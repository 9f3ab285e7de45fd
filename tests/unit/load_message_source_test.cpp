#include "bench/load/message_source.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

using namespace wsring::load;

TEST(MessageSource, RendersPlaceholdersAndLeavesOtherBraces) {
  MessageSource m;
  std::string error, out;
  ASSERT_TRUE(m.add_template(R"({"id":{id},"p":{"seq":{seq},"c":{conn},"t":{ts_ns}},"x":"{other}"})", error));
  EXPECT_TRUE(m.every_template_has_id());
  MessageFields f;
  f.seq = 7;
  f.conn = 3;
  f.id = 7 * 10 + 3;
  f.ts_ns = 123456789;
  m.render(0, f, out);
  EXPECT_EQ(out, R"({"id":73,"p":{"seq":7,"c":3,"t":123456789},"x":"{other}"})");
  EXPECT_GE(m.max_size(), out.size());
  f.ts_ns = ~uint64_t{0};
  f.id = f.seq = f.conn = ~uint64_t{0};
  m.render(0, f, out);
  EXPECT_GE(m.max_size(), out.size());
}

TEST(MessageSource, RoundRobinAndErrors) {
  MessageSource m;
  std::string error, out;
  EXPECT_FALSE(m.add_template("", error));
  ASSERT_TRUE(m.add_template("a{seq}", error));
  ASSERT_TRUE(m.add_template("b", error));
  EXPECT_FALSE(m.every_template_has_id());
  MessageFields f;
  m.render(0, f, out);
  EXPECT_EQ(out, "a0");
  m.render(1, f, out);
  EXPECT_EQ(out, "b");
  m.render(2, f, out);
  EXPECT_EQ(out, "a0");
}

TEST(MessageSource, File) {
  const std::string path = testing::TempDir() + "wsring_messages_test.jsonl";
  { std::ofstream(path) << "{\"n\":1}\r\n\n{\"n\":2}\n"; }
  MessageSource m;
  std::string error, out;
  ASSERT_TRUE(m.load_file(path, error)) << error;
  EXPECT_EQ(m.count(), 2u);
  m.render(1, MessageFields{}, out);
  EXPECT_EQ(out, "{\"n\":2}");
  { std::ofstream(path) << "\n\n"; }
  MessageSource empty;
  EXPECT_FALSE(empty.load_file(path, error));
  EXPECT_NE(error.find("no message"), std::string::npos);
  std::remove(path.c_str());
  EXPECT_FALSE(empty.load_file(path, error));
  EXPECT_NE(error.find("cannot read"), std::string::npos);
}

TEST(FindReplyId, Forms) {
  uint64_t id = 0;
  EXPECT_TRUE(find_reply_id(R"({"jsonrpc":"2.0","id":42,"result":1})", id));
  EXPECT_EQ(id, 42u);
  EXPECT_TRUE(find_reply_id(R"({ "id" :  "17" })", id));
  EXPECT_EQ(id, 17u);
  EXPECT_TRUE(find_reply_id(R"({"result":{"x":1},"id":0})", id));
  EXPECT_EQ(id, 0u);
  EXPECT_FALSE(find_reply_id(R"({"event":"tick"})", id));
  EXPECT_FALSE(find_reply_id(R"({"id":null})", id));
  EXPECT_FALSE(find_reply_id(R"({"id":"abc"})", id));
  EXPECT_FALSE(find_reply_id(R"({"id":"12)", id));   // unterminated string
  EXPECT_FALSE(find_reply_id(R"({"id":12345678901234567890123})", id));  // too long
  EXPECT_FALSE(find_reply_id(R"({"id")", id));
  EXPECT_FALSE(find_reply_id(std::string(300, ' ') + R"({"id":1})", id));  // past the window
}
