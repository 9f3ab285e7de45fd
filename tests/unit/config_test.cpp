#include "server/config.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace wsring::server {
namespace {

// Runs parse_command_line on "wsring-echo args...", with argv as a real, writable array
// (getopt permutes it).
struct Parse {
  Config config;
  std::string message;
  ParseOutcome outcome;

  explicit Parse(std::initializer_list<std::string> args) {
    std::vector<std::string> storage{"wsring-echo"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    outcome = parse_command_line(int(storage.size()), argv.data(), config, message);
  }
};

// Each bad value of a flag is BadUsage with a one-line message naming the flag.
void expect_bad(const std::string& flag, std::initializer_list<std::string> values) {
  for (const std::string& value : values) {
    SCOPED_TRACE(flag + " '" + value + "'");
    Parse p({flag, value});
    EXPECT_EQ(p.outcome, ParseOutcome::BadUsage);
    EXPECT_NE(p.message.find(flag), std::string::npos) << p.message;
    EXPECT_EQ(p.message.find('\n'), std::string::npos) << "one line: " << p.message;
    // The same through the --flag=value spelling.
    Parse q({flag + "=" + value});
    EXPECT_EQ(q.outcome, ParseOutcome::BadUsage);
    EXPECT_NE(q.message.find(flag), std::string::npos) << q.message;
  }
}

TEST(ParseCommandLine, NoArgumentsKeepsTheDefaults) {
  Parse p({});
  EXPECT_EQ(p.outcome, ParseOutcome::Run);
  const Config defaults;
  EXPECT_EQ(p.config.listen, defaults.listen);
  EXPECT_EQ(p.config.threads, defaults.threads);
  EXPECT_EQ(p.config.backend, net::Backend::Auto);
  EXPECT_EQ(p.config.max_message_size, defaults.max_message_size);
  EXPECT_TRUE(p.config.subprotocols.empty());
}

TEST(ParseCommandLine, Listen) {
  EXPECT_EQ(Parse({"--listen", "0.0.0.0:80"}).config.listen, "0.0.0.0:80");
  EXPECT_EQ(Parse({"--listen=[::1]:0"}).config.listen, "[::1]:0");
  EXPECT_EQ(Parse({"--listen", ":9"}).config.listen, ":9");
  expect_bad("--listen", {"nonsense", "1.2.3.4:70000", "host:80", ""});
  Parse p({"--listen", "1.2.3.4:x"});
  EXPECT_NE(p.message.find("1.2.3.4:x"), std::string::npos) << "the message quotes the value: " << p.message;
}

TEST(ParseCommandLine, Path) {
  EXPECT_EQ(Parse({"--path", "/echo"}).config.path, "/echo");
  expect_bad("--path", {"echo", ""});
}

TEST(ParseCommandLine, Threads) {
  EXPECT_EQ(Parse({"--threads", "1"}).config.threads, 1u);
  EXPECT_EQ(Parse({"--threads", "256"}).config.threads, 256u);
  expect_bad("--threads", {"0", "257", "-1", "two", "1.5", "1K", ""});
}

TEST(ParseCommandLine, Backend) {
  EXPECT_EQ(Parse({"--backend", "auto"}).config.backend, net::Backend::Auto);
  EXPECT_EQ(Parse({"--backend", "io_uring"}).config.backend, net::Backend::IoUring);
  EXPECT_EQ(Parse({"--backend", "uring"}).config.backend, net::Backend::IoUring);
  EXPECT_EQ(Parse({"--backend", "epoll"}).config.backend, net::Backend::Epoll);
  expect_bad("--backend", {"select", "EPOLL", ""});
}

TEST(ParseCommandLine, MaxMessageSize) {
  EXPECT_EQ(Parse({"--max-message-size", "1"}).config.max_message_size, 1u);
  EXPECT_EQ(Parse({"--max-message-size", "64K"}).config.max_message_size, 64u * 1024);
  EXPECT_EQ(Parse({"--max-message-size", "1024G"}).config.max_message_size, uint64_t{1} << 40);
  expect_bad("--max-message-size", {"0", "1025G", "16X", "-5", "big", ""});
}

TEST(ParseCommandLine, MaxHeaderSize) {
  EXPECT_EQ(Parse({"--max-header-size", "256"}).config.max_header_size, 256u);
  EXPECT_EQ(Parse({"--max-header-size", "1M"}).config.max_header_size, 1u << 20);
  expect_bad("--max-header-size", {"255", "1025K", "8KB", ""});
}

TEST(ParseCommandLine, MaxHeaders) {
  EXPECT_EQ(Parse({"--max-headers", "4"}).config.max_headers, 4u);
  EXPECT_EQ(Parse({"--max-headers", "256"}).config.max_headers, 256u);
  expect_bad("--max-headers", {"3", "257", "x", ""});
}

TEST(ParseCommandLine, Timeouts) {
  EXPECT_DOUBLE_EQ(Parse({"--handshake-timeout", "0.5"}).config.handshake_timeout_s, 0.5);
  EXPECT_DOUBLE_EQ(Parse({"--idle-timeout", "0"}).config.idle_timeout_s, 0);
  EXPECT_DOUBLE_EQ(Parse({"--idle-timeout", "120"}).config.idle_timeout_s, 120);
  EXPECT_DOUBLE_EQ(Parse({"--ping-interval", "0"}).config.ping_interval_s, 0);
  EXPECT_DOUBLE_EQ(Parse({"--ping-interval", "2.5"}).config.ping_interval_s, 2.5);
  EXPECT_DOUBLE_EQ(Parse({"--close-timeout", "3"}).config.close_timeout_s, 3);
  EXPECT_DOUBLE_EQ(Parse({"--send-timeout", "7"}).config.send_timeout_s, 7);
  // 0 means "never" only where the flag says so.
  expect_bad("--handshake-timeout", {"0", "-1", "soon", "nan", "inf", "1e8", ""});
  expect_bad("--idle-timeout", {"-1", "x", "1s", ""});
  expect_bad("--ping-interval", {"-0.5", "x", ""});
  expect_bad("--close-timeout", {"0", "-1", ""});
  expect_bad("--send-timeout", {"0", "y", ""});
}

TEST(ParseCommandLine, MaxConnections) {
  EXPECT_EQ(Parse({"--max-connections", "1"}).config.max_connections, 1u);
  EXPECT_EQ(Parse({"--max-connections", "100K"}).config.max_connections, 100u * 1024);
  expect_bad("--max-connections", {"0", "-3", "many", ""});
}

TEST(ParseCommandLine, MaxBackpressure) {
  EXPECT_EQ(Parse({"--max-backpressure", "1K"}).config.max_backpressure, 1024u);
  EXPECT_EQ(Parse({"--max-backpressure", "4M"}).config.max_backpressure, 4u << 20);
  expect_bad("--max-backpressure", {"1023", "0", "lots", ""});
}

TEST(ParseCommandLine, MemoryAndSendRateLimits) {
  EXPECT_EQ(Parse({}).config.max_memory, 0u);  // 0: a quarter of RAM
  EXPECT_EQ(Parse({"--max-memory", "32M"}).config.max_memory, 32u << 20);
  EXPECT_EQ(Parse({"--max-memory", "33554432"}).config.max_memory, 32u << 20);
  EXPECT_EQ(Parse({"--max-memory", "0"}).config.max_memory, 0u);
  expect_bad("--max-memory", {"1023K", "1", "-1", "lots", ""});
  EXPECT_EQ(Parse({"--min-send-rate", "0"}).config.min_send_rate, 0u);
  EXPECT_EQ(Parse({"--min-send-rate", "64K"}).config.min_send_rate, 64u * 1024);
  expect_bad("--min-send-rate", {"2G", "-1", "fast", ""});
  EXPECT_DOUBLE_EQ(Parse({"--frame-timeout", "0.5"}).config.frame_timeout_s, 0.5);
  expect_bad("--frame-timeout", {"0", "-1", "x", ""});
}

TEST(ParseCommandLine, RecvBufferSize) {
  EXPECT_EQ(Parse({"--recv-buffer-size", "1K"}).config.recv_buffer_size, 1024u);
  EXPECT_EQ(Parse({"--recv-buffer-size", "16M"}).config.recv_buffer_size, 16u << 20);
  expect_bad("--recv-buffer-size", {"1023", "16777217", "17M", ""});
}

TEST(ParseCommandLine, RecvBuffers) {
  EXPECT_EQ(Parse({"--recv-buffers", "8"}).config.recv_buffers, 8u);
  EXPECT_EQ(Parse({"--recv-buffers", "32768"}).config.recv_buffers, 32768u);
  EXPECT_EQ(Parse({"--recv-buffers", "1K"}).config.recv_buffers, 1024u);
  expect_bad("--recv-buffers", {"4", "12", "65536", "1000", "x", ""});
}

TEST(ParseCommandLine, SubprotocolsAccumulateInOrder) {
  Parse p({"--subprotocol", "chat", "--subprotocol=v2.echo", "--subprotocol", "x-y_z"});
  ASSERT_EQ(p.outcome, ParseOutcome::Run) << p.message;
  EXPECT_EQ(p.config.subprotocols, (std::vector<std::string>{"chat", "v2.echo", "x-y_z"}));
  expect_bad("--subprotocol", {"", "a b", "a,b", "a/b", "caf\xc3\xa9", "tab\there"});
}

TEST(ParseCommandLine, AllowedOriginsAccumulate) {
  Parse p({"--allow-origin", "https://a.example", "--allow-origin", "*"});
  ASSERT_EQ(p.outcome, ParseOutcome::Run) << p.message;
  EXPECT_EQ(p.config.allowed_origins, (std::vector<std::string>{"https://a.example", "*"}));
  expect_bad("--allow-origin", {""});
}

TEST(ParseCommandLine, LogLevel) {
  EXPECT_EQ(Parse({"--log-level", "error"}).config.log_level, LogLevel::Error);
  EXPECT_EQ(Parse({"--log-level", "warn"}).config.log_level, LogLevel::Warn);
  EXPECT_EQ(Parse({"--log-level", "info"}).config.log_level, LogLevel::Info);
  EXPECT_EQ(Parse({"--log-level", "debug"}).config.log_level, LogLevel::Debug);
  expect_bad("--log-level", {"trace", "INFO", ""});
}

TEST(ParseCommandLine, ManyFlagsTogether) {
  Parse p({"--listen", "127.0.0.1:0", "--threads", "4", "--backend=epoll", "--max-message-size", "1M",
           "--idle-timeout", "30", "--log-level", "debug"});
  ASSERT_EQ(p.outcome, ParseOutcome::Run) << p.message;
  EXPECT_EQ(p.config.listen, "127.0.0.1:0");
  EXPECT_EQ(p.config.threads, 4u);
  EXPECT_EQ(p.config.backend, net::Backend::Epoll);
  EXPECT_EQ(p.config.max_message_size, 1u << 20);
  EXPECT_DOUBLE_EQ(p.config.idle_timeout_s, 30);
  EXPECT_EQ(p.config.log_level, LogLevel::Debug);
}

TEST(ParseCommandLine, MissingValueNamesTheFlag) {
  Parse p({"--threads"});
  EXPECT_EQ(p.outcome, ParseOutcome::BadUsage);
  EXPECT_NE(p.message.find("--threads"), std::string::npos) << p.message;
  EXPECT_NE(p.message.find("value"), std::string::npos) << p.message;
}

TEST(ParseCommandLine, UnknownOptionIsNamed) {
  Parse p({"--bogus"});
  EXPECT_EQ(p.outcome, ParseOutcome::BadUsage);
  EXPECT_NE(p.message.find("--bogus"), std::string::npos) << p.message;
  Parse q({"-x"});
  EXPECT_EQ(q.outcome, ParseOutcome::BadUsage);
  EXPECT_NE(q.message.find("-x"), std::string::npos) << q.message;
}

TEST(ParseCommandLine, StrayArgumentIsRefused) {
  Parse p({"--threads", "2", "extra"});
  EXPECT_EQ(p.outcome, ParseOutcome::BadUsage);
  EXPECT_NE(p.message.find("extra"), std::string::npos) << p.message;
}

TEST(ParseCommandLine, HelpAndVersionExitZero) {
  Parse help({"--help"});
  EXPECT_EQ(help.outcome, ParseOutcome::Exit0);
  EXPECT_NE(help.message.find("Usage"), std::string::npos);
  // Every flag is documented.
  for (const char* flag : {"--listen", "--path", "--threads", "--backend", "--max-message-size", "--max-header-size",
                           "--max-headers", "--handshake-timeout", "--idle-timeout", "--ping-interval",
                           "--close-timeout", "--send-timeout", "--min-send-rate", "--frame-timeout",
                           "--max-connections", "--max-backpressure", "--max-memory",
                           "--recv-buffer-size", "--recv-buffers", "--subprotocol", "--allow-origin", "--log-level",
                           "--version"})
    EXPECT_NE(help.message.find(flag), std::string::npos) << flag;
  Parse version({"--version"});
  EXPECT_EQ(version.outcome, ParseOutcome::Exit0);
  EXPECT_NE(version.message.find(kVersion), std::string::npos) << version.message;
  // --help wins even after other flags.
  EXPECT_EQ(Parse({"--threads", "2", "--help"}).outcome, ParseOutcome::Exit0);
}

TEST(ParseCommandLine, RepeatedCallsStartFresh) {
  // getopt keeps global state: a bad parse must not disturb the next one.
  EXPECT_EQ(Parse({"--threads", "x"}).outcome, ParseOutcome::BadUsage);
  EXPECT_EQ(Parse({"--bogus", "--threads", "2"}).outcome, ParseOutcome::BadUsage);
  Parse p({"--threads", "3"});
  EXPECT_EQ(p.outcome, ParseOutcome::Run) << p.message;
  EXPECT_EQ(p.config.threads, 3u);
}

TEST(ParseSize, PlainAndSuffixes) {
  uint64_t v = 0;
  ASSERT_TRUE(parse_size("0", v));
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(parse_size("1048576", v));
  EXPECT_EQ(v, 1048576u);
  for (const char* k : {"3K", "3k", "3KiB"}) {
    ASSERT_TRUE(parse_size(k, v)) << k;
    EXPECT_EQ(v, 3u * 1024) << k;
  }
  for (const char* m : {"5M", "5m", "5MiB"}) {
    ASSERT_TRUE(parse_size(m, v)) << m;
    EXPECT_EQ(v, 5u * 1024 * 1024) << m;
  }
  for (const char* g : {"7G", "7g", "7GiB"}) {
    ASSERT_TRUE(parse_size(g, v)) << g;
    EXPECT_EQ(v, 7ull << 30) << g;
  }
}

TEST(ParseSize, OverflowAndJunkFail) {
  uint64_t v = 12345;
  ASSERT_TRUE(parse_size("18446744073709551615", v));
  EXPECT_EQ(v, UINT64_MAX);
  ASSERT_TRUE(parse_size("17179869183G", v));  // (2^34 - 1) GiB: fits
  EXPECT_EQ(v, ((uint64_t{1} << 34) - 1) << 30);
  for (const char* bad : {"18446744073709551616", "17179869184G", "18014398509481984K", "", "-1", " 1", "+1", "1 ",
                          "1KB", "1T", "K", "1.5M", "0x10", "1KK"}) {
    v = 12345;
    EXPECT_FALSE(parse_size(bad, v)) << bad;
    EXPECT_EQ(v, 12345u) << "untouched on failure: " << bad;
  }
}

TEST(ParseSeconds, DecimalsAndBounds) {
  double s = -1;
  ASSERT_TRUE(parse_seconds("0", s));
  EXPECT_DOUBLE_EQ(s, 0);
  ASSERT_TRUE(parse_seconds("0.25", s));
  EXPECT_DOUBLE_EQ(s, 0.25);
  ASSERT_TRUE(parse_seconds("30", s));
  EXPECT_DOUBLE_EQ(s, 30);
  ASSERT_TRUE(parse_seconds("1e7", s));
  EXPECT_DOUBLE_EQ(s, 1e7);
  for (const char* bad : {"", "-1", "-0.001", "abc", "1s", "5 ", "nan", "inf", "-inf", "1e8", "1..2"}) {
    s = 42;
    EXPECT_FALSE(parse_seconds(bad, s)) << bad;
    EXPECT_DOUBLE_EQ(s, 42) << "untouched on failure: " << bad;
  }
}

}  // namespace
}  // namespace wsring::server
