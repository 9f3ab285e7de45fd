#include "bench/load/options.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace wsring::load;

namespace {

ParseOutcome parse(std::vector<std::string> args, LoadOptions& o, std::string& message) {
  std::vector<const char*> argv{"wsring-load", "ws://127.0.0.1:9001/chat?room=1"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  return parse_load_args(int(argv.size()), argv.data(), o, message);
}

void expect_bad(std::vector<std::string> args, const std::string& flag) {
  LoadOptions o;
  std::string message;
  EXPECT_EQ(parse(args, o, message), ParseOutcome::BadUsage) << args[0];
  EXPECT_NE(message.find(flag), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

}  // namespace

TEST(LoadOptionsAnyServer, ShortFormsAndTheQuery) {
  LoadOptions o;
  std::string message;
  ASSERT_EQ(parse({"-c", "7", "-d", "500ms", "-t", "2"}, o, message), ParseOutcome::Run) << message;
  EXPECT_EQ(o.connections, 7u);
  EXPECT_EQ(o.duration_s, 0.5);
  EXPECT_EQ(o.threads, 2u);
  EXPECT_EQ(o.url.path, "/chat?room=1");
}

TEST(LoadOptionsAnyServer, UpgradeFlags) {
  LoadOptions o;
  std::string message;
  ASSERT_EQ(parse({"--header", "X-A: 1", "--header=X-B: 2", "--origin", "https://a.test", "--subprotocol", "v1",
                   "--subprotocol=v2", "--match", "count", "--reconnect", "--json", "-"},
                  o, message),
            ParseOutcome::Run)
      << message;
  EXPECT_EQ(o.upgrade.header_names, (std::vector<std::string>{"X-A", "X-B"}));
  EXPECT_EQ(o.upgrade.header_values, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(o.upgrade.origin, "https://a.test");
  EXPECT_EQ(o.upgrade.subprotocols, (std::vector<std::string>{"v1", "v2"}));
  EXPECT_EQ(o.match, MatchMode::Count);
  EXPECT_TRUE(o.reconnect);
  EXPECT_TRUE(o.json_stdout());
}

TEST(LoadOptionsAnyServer, SizesAndTypes) {
  LoadOptions o;
  std::string message;
  ASSERT_EQ(parse({"--size", "64:80,1K:15,64K:5", "--text-ratio", "0.25"}, o, message), ParseOutcome::Run) << message;
  EXPECT_EQ(o.size_min, 64u);
  EXPECT_EQ(o.size_max, 65536u);
  EXPECT_EQ(o.sizes.items().size(), 3u);
  EXPECT_EQ(o.text_ratio, 0.25);
}

TEST(LoadOptionsAnyServer, StagesSetConnectionsAndDuration) {
  LoadOptions o;
  std::string message;
  ASSERT_EQ(parse({"--stage", "10s:100c", "--stage", "1m:300c:5000r", "--stage", "10s:0c"}, o, message),
            ParseOutcome::Run)
      << message;
  EXPECT_EQ(o.stages.size(), 3u);
  EXPECT_EQ(o.connections, 300u);
  EXPECT_EQ(o.duration_s, 80);
  EXPECT_TRUE(o.stages.has_rate());
}

TEST(LoadOptionsAnyServer, BadValues) {
  expect_bad({"--header", "Host: x"}, "--header");
  expect_bad({"--header"}, "--header");
  expect_bad({"--origin", ""}, "--origin");
  expect_bad({"--subprotocol", "a,b"}, "--subprotocol");
  expect_bad({"--subprotocol", "a", "--subprotocol", "a"}, "--subprotocol");
  expect_bad({"--match", "ids"}, "--match");
  expect_bad({"--match", "id", "--message", "no id"}, "--match");
  expect_bad({"--message", "{seq}"}, "--match");
  expect_bad({"--text-ratio", "1.1"}, "--text-ratio");
  expect_bad({"--text-ratio", "0.1", "--binary"}, "--text-ratio");
  expect_bad({"--token-file", "/nonexistent/token"}, "--token-file");
  expect_bad({"--size", "8:1,64:1"}, "--size");
  expect_bad({"--stage", "10s"}, "--stage");
  expect_bad({"--stage", "10s:0c"}, "--stage");
  expect_bad({"--stage", "10s:5c", "--duration", "3"}, "--stage");
  expect_bad({"--stage", "10s:5c", "--rate", "3"}, "--stage");
  expect_bad({"--handshake-only", "--match", "none"}, "--match");
}
