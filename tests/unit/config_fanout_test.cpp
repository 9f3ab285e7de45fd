#include "server/config_fanout.hpp"

#include <gtest/gtest.h>

#include "tests/unit/config_test_support.hpp"

#include <initializer_list>
#include <string>
#include <vector>

namespace wsring::server {
namespace {

using config_test::Parse;

TEST(ConfigFanout, Defaults) {
  Parse p({});
  ASSERT_EQ(p.outcome, ParseOutcome::Run);
  EXPECT_EQ(p.config.mode, AppMode::Echo);
  EXPECT_EQ(p.config.push_size, 64u);
  EXPECT_EQ(p.config.push_rate, 1.0);
  EXPECT_EQ(p.config.push_total_rate, 0.0);
  EXPECT_FALSE(p.config.slow_receiver_close);
}

TEST(ConfigFanout, Values) {
  Parse p({"--mode", "push", "--push-size", "1K", "--push-rate", "10/s", "--push-total-rate", "100000",
           "--slow-receiver", "close"});
  ASSERT_EQ(p.outcome, ParseOutcome::Run) << p.message;
  EXPECT_EQ(p.config.mode, AppMode::Push);
  EXPECT_EQ(p.config.push_size, 1024u);
  EXPECT_EQ(p.config.push_rate, 10.0);
  EXPECT_EQ(p.config.push_total_rate, 100000.0);
  EXPECT_TRUE(p.config.slow_receiver_close);
  EXPECT_EQ(Parse({"--mode", "shootout"}).config.mode, AppMode::Shootout);
  EXPECT_EQ(Parse({"--mode", "pubsub"}).config.mode, AppMode::Pubsub);
  EXPECT_STREQ(mode_name(AppMode::Pubsub), "pubsub");
}

TEST(ConfigFanout, BadValuesNameTheFlag) {
  const std::pair<std::string, std::string> cases[] = {
      {"--mode", "broadcast"}, {"--push-size", "15"},     {"--push-size", "2M"},      {"--push-rate", "0"},
      {"--push-rate", "x"},    {"--push-total-rate", "-1"}, {"--slow-receiver", "kick"},
  };
  for (const auto& [flag, value] : cases) {
    Parse p({flag, value});
    EXPECT_EQ(p.outcome, ParseOutcome::BadUsage) << flag << " " << value;
    EXPECT_NE(p.message.find(flag), std::string::npos) << p.message;
  }
}

TEST(ConfigFanout, HelpListsTheFlags) {
  Parse p({"--help"});
  ASSERT_EQ(p.outcome, ParseOutcome::Exit0);
  for (const char* flag : {"--mode", "--push-size", "--push-rate", "--push-total-rate", "--slow-receiver"})
    EXPECT_NE(p.message.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace wsring::server
