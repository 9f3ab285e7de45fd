#include "server/log.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace wsring::server {
namespace {

TEST(LogTest, JsonEscapesQuotesBackslashesAndControlBytes) {
  LogLine line;
  line.append_json_escaped("a\"b\\c\nd\x01\x7f" "\xc3\xa9");
  EXPECT_EQ(line.finish(), "a\\\"b\\\\c\\nd\\u0001\\u007f\xc3\xa9\n");
}

TEST(LogTest, ALineLongerThanItsBufferIsCutAndMarked) {
  LogLine line;
  const std::string long_text(LogLine::kCapacity * 2, 'x');
  line.append("start ");
  line.append(long_text);
  line.append("never seen");
  const std::string_view text = line.finish();
  EXPECT_EQ(text.size(), LogLine::kCapacity);
  EXPECT_EQ(text.substr(0, 7), "start x");
  EXPECT_EQ(text.substr(text.size() - 5), "x...\n");
  EXPECT_EQ(text.find("never"), std::string_view::npos);
}

TEST(LogTest, AnEventWithAHugeFieldIsWrittenCutNotDropped) {
  const Logger log(LogLevel::Info);
  testing::internal::CaptureStderr();
  log.event(LogLevel::Info, "counters", {{"metrics", std::string(100000, 'm')}});
  const std::string text = testing::internal::GetCapturedStderr();
  EXPECT_EQ(text.size(), LogLine::kCapacity);
  EXPECT_NE(text.find(" info: counters metrics=mmm"), std::string::npos);
  EXPECT_EQ(text.substr(text.size() - 4), "...\n");
}

TEST(LogTest, JsonLinesHaveTsLevelMsgAndFields) {
  const Logger log(LogLevel::Info, LogFormat::Json);
  testing::internal::CaptureStderr();
  log.info("connection %u: \"quoted\"", 7u);
  log.event(LogLevel::Info, "connection closed", {{"peer", "127.0.0.1:5"}, {"messages_in", "3", true}});
  log.debug("not shown");
  const std::string text = testing::internal::GetCapturedStderr();
  const std::regex first(
      R"(^\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"info","msg":"connection 7: \\"quoted\\""\}\n)");
  EXPECT_TRUE(std::regex_search(text, first)) << text;
  EXPECT_NE(text.find(R"("level":"info","msg":"connection closed","peer":"127.0.0.1:5","messages_in":3})"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("not shown"), std::string::npos);
}

TEST(LogTest, TextLinesKeepTheirFormAndShowFieldsAsPairs) {
  const Logger log(LogLevel::Info);
  testing::internal::CaptureStderr();
  log.warn("disk %s", "full");
  log.event(LogLevel::Info, "connection closed", {{"peer", "[::1]:9"}, {"bytes_in", "10", true}});
  const std::string text = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(^\S+Z warn: disk full\n)"))) << text;
  EXPECT_NE(text.find(" info: connection closed peer=[::1]:9 bytes_in=10\n"), std::string::npos) << text;
}

TEST(LogTest, AReportIsWrittenWhateverTheLevel) {
  const Logger log(LogLevel::Error);
  testing::internal::CaptureStderr();
  log.info("hidden");
  log.report("counters", {{"metrics", "a=1"}});
  const std::string text = testing::internal::GetCapturedStderr();
  EXPECT_EQ(text.find("hidden"), std::string::npos);
  EXPECT_NE(text.find("info: counters metrics=a=1"), std::string::npos) << text;
}

}  // namespace
}  // namespace wsring::server
