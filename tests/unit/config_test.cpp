#include "server/config.hpp"

#include <gtest/gtest.h>

#include "tests/unit/config_test_support.hpp"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace wsring::server {
namespace {

using config_test::Parse;

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
  // A bare port is the loopback address.
  EXPECT_EQ(Parse({"--listen", "19449"}).config.listen, "127.0.0.1:19449");
  EXPECT_EQ(Parse({"--listen=0"}).config.listen, "127.0.0.1:0");
  expect_bad("--listen", {"nonsense", "1.2.3.4:70000", "host:80", "", "70000", "-1", "19449x", " 19449"});
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

TEST(ParseCommandLine, TlsHandshakesPerTurn) {
  EXPECT_EQ(Parse({}).config.tls_handshakes_per_turn, 1u);
  EXPECT_EQ(Parse({"--tls-handshakes-per-turn", "0"}).config.tls_handshakes_per_turn, 0u);  // no bound
  EXPECT_EQ(Parse({"--tls-handshakes-per-turn", "4096"}).config.tls_handshakes_per_turn, 4096u);
  expect_bad("--tls-handshakes-per-turn", {"4097", "-1", "x", ""});
}

TEST(ParseCommandLine, TlsOffload) {
  EXPECT_TRUE(Parse({}).config.tls_offload);
  EXPECT_FALSE(Parse({"--tls-offload", "off"}).config.tls_offload);
  EXPECT_TRUE(Parse({"--tls-offload", "on"}).config.tls_offload);
  expect_bad("--tls-offload", {"yes", "1", "ON", ""});
}

TEST(ParseCommandLine, TlsCiphersuites) {
  EXPECT_EQ(Parse({}).config.tls_ciphersuites, "");  // TlsServerOptions' default order
  EXPECT_EQ(Parse({"--tls-ciphersuites", "TLS_AES_256_GCM_SHA384"}).config.tls_ciphersuites, "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(Parse({"--tls-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_8_SHA256"}).config.tls_ciphersuites,
            "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_8_SHA256");
  // OpenSSL would skip an unknown name silently; TLS 1.2 names, empty entries, case typos.
  expect_bad("--tls-ciphersuites", {"", "TLS_AES_128_GCM", "ECDHE-ECDSA-AES128-GCM-SHA256", "tls_aes_128_gcm_sha256",
                                    "TLS_AES_128_GCM_SHA256:", ":TLS_AES_128_GCM_SHA256",
                                    "TLS_AES_128_GCM_SHA256::TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256 "});
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
  expect_bad("--idle-timeout", {"-1", "x", "1sec", "1 s", ""});
  expect_bad("--ping-interval", {"-0.5", "x", "0.0001", ""});
  expect_bad("--close-timeout", {"0", "-1", "0ms", ""});
  expect_bad("--send-timeout", {"0", "y", "1001h", ""});
}

TEST(ParseCommandLine, DurationsTakeUnits) {
  EXPECT_DOUBLE_EQ(Parse({"--handshake-timeout", "500ms"}).config.handshake_timeout_s, 0.5);
  EXPECT_DOUBLE_EQ(Parse({"--idle-timeout", "2m"}).config.idle_timeout_s, 120);
  EXPECT_DOUBLE_EQ(Parse({"--ping-interval", "1h"}).config.ping_interval_s, 3600);
  EXPECT_DOUBLE_EQ(Parse({"--send-timeout", "10s"}).config.send_timeout_s, 10);
  EXPECT_DOUBLE_EQ(Parse({"--close-timeout", "1ms"}).config.close_timeout_s, 0.001);
  EXPECT_DOUBLE_EQ(Parse({"--close-timeout", "1000h"}).config.close_timeout_s, 3600000);
}

TEST(ParseCommandLine, FrameTimeout) {
  EXPECT_DOUBLE_EQ(Config{}.frame_timeout_s, 10);
  EXPECT_DOUBLE_EQ(Parse({"--frame-timeout", "250ms"}).config.frame_timeout_s, 0.25);
  EXPECT_DOUBLE_EQ(Parse({"--frame-timeout", "30"}).config.frame_timeout_s, 30);
  expect_bad("--frame-timeout", {"0", "-1", "soon", "1001h", ""});
}

TEST(ParseCommandLine, MinSendRate) {
  EXPECT_EQ(Config{}.min_send_rate, 1024u);
  EXPECT_EQ(Parse({"--min-send-rate", "0"}).config.min_send_rate, 0u);  // off
  EXPECT_EQ(Parse({"--min-send-rate", "1K"}).config.min_send_rate, 1024u);
  EXPECT_EQ(Parse({"--min-send-rate", "64KiB/s"}).config.min_send_rate, 65536u);
  EXPECT_EQ(Parse({"--min-send-rate", "1G"}).config.min_send_rate, 1u << 30);
  expect_bad("--min-send-rate", {"-1", "fast", "1.5K", "2G", "1KB", ""});
}

TEST(ParseCommandLine, MaxMemory) {
  EXPECT_EQ(Config{}.max_memory, 0u);  // auto
  EXPECT_EQ(Parse({"--max-memory", "0"}).config.max_memory, 0u);
  EXPECT_EQ(Parse({"--max-memory", "1M"}).config.max_memory, 1u << 20);
  EXPECT_EQ(Parse({"--max-memory", "64T"}).config.max_memory, uint64_t{64} << 40);
  expect_bad("--max-memory", {"1023K", "65T", "lots", "-1", ""});
}

TEST(ParseCommandLine, ReusePort) {
  EXPECT_FALSE(Parse({}).config.reuse_port);
  Parse p({"--reuse-port", "--listen", "9001"});
  ASSERT_EQ(p.outcome, ParseOutcome::Run) << p.message;
  EXPECT_TRUE(p.config.reuse_port);
  Parse q({"--reuse-port=yes"});
  EXPECT_EQ(q.outcome, ParseOutcome::BadUsage);
  EXPECT_NE(q.message.find("--reuse-port"), std::string::npos) << q.message;
}

TEST(EffectiveMaxMemory, FlagOrAQuarterOfRamAtLeast64M) {
  Config config;
  EXPECT_EQ(effective_max_memory(config, uint64_t{16} << 30), uint64_t{4} << 30);
  EXPECT_EQ(effective_max_memory(config, uint64_t{128} << 20), uint64_t{64} << 20);  // the floor
  EXPECT_EQ(effective_max_memory(config, 0), uint64_t{64} << 20);  // RAM unknown
  config.max_memory = 5u << 20;
  EXPECT_EQ(effective_max_memory(config, uint64_t{16} << 30), 5u << 20);
  // This machine: a quarter of what sysconf says.
  Config automatic;
  EXPECT_EQ(effective_max_memory(automatic), std::max(physical_memory_bytes() / 4, uint64_t{64} << 20));
  EXPECT_GT(physical_memory_bytes(), 0u);
}

TEST(CheckConfig, BackpressureWithinMaxMemory) {
  const uint64_t ram = uint64_t{16} << 30;
  Config config;
  std::string message;
  config.max_memory = 4u << 20;
  config.max_backpressure = 4u << 20;
  EXPECT_TRUE(check_config(config, ram, message)) << message;
  config.max_backpressure = (4u << 20) + 1;
  EXPECT_FALSE(check_config(config, ram, message));
  EXPECT_NE(message.find("--max-backpressure"), std::string::npos) << message;
  EXPECT_NE(message.find("--max-memory"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  // Auto: a quarter of RAM.
  config.max_memory = 0;
  config.max_backpressure = uint64_t{4} << 30;
  EXPECT_TRUE(check_config(config, ram, message)) << message;
  config.max_backpressure = (uint64_t{4} << 30) + 1;
  EXPECT_FALSE(check_config(config, ram, message));
  EXPECT_NE(message.find("auto"), std::string::npos) << message;
  // Through the command line.
  Parse p({"--max-memory", "2M", "--max-backpressure", "3M"});
  EXPECT_EQ(p.outcome, ParseOutcome::BadUsage);
  EXPECT_NE(p.message.find("--max-backpressure"), std::string::npos) << p.message;
  EXPECT_NE(p.message.find("--max-memory"), std::string::npos) << p.message;
  EXPECT_EQ(Parse({"--max-memory", "2M", "--max-backpressure", "2M"}).outcome, ParseOutcome::Run);
}

TEST(CheckConfig, ReceiveBuffersWithinHalfOfRam) {
  const uint64_t ram = uint64_t{1} << 30;  // 1 GiB: at most 512 MiB of receive buffers
  Config config;
  std::string message;
  EXPECT_TRUE(check_config(config, ram, message)) << message;  // 512 x 64K = 32 MiB
  config.recv_buffers = 8192;
  config.recv_buffer_size = 64 * 1024 - 16;  // 8192 x 64K with headroom: exactly 512 MiB
  EXPECT_TRUE(check_config(config, ram, message)) << message;
  config.recv_buffer_size += 1;
  EXPECT_FALSE(check_config(config, ram, message));
  for (const char* flag : {"--recv-buffers", "--recv-buffer-size", "--threads"})
    EXPECT_NE(message.find(flag), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  // The most every flag allows does not overflow: refused, not wrapped around.
  config.threads = 256;
  config.recv_buffers = 32768;
  config.recv_buffer_size = 16u << 20;
  EXPECT_FALSE(check_config(config, uint64_t{1} << 47, message));  // needs 128T + headroom
  // Unknown RAM: no receive-buffer check.
  EXPECT_TRUE(check_config(config, 0, message)) << message;
  Parse p({"--recv-buffers", "32768", "--recv-buffer-size", "16M", "--threads", "256"});
  EXPECT_EQ(p.outcome, ParseOutcome::BadUsage);
  EXPECT_NE(p.message.find("--recv-buffers"), std::string::npos) << p.message;
}

TEST(ParseCommandLine, MaxConnections) {
  EXPECT_EQ(Parse({"--max-connections", "1"}).config.max_connections, 1u);
  EXPECT_EQ(Parse({"--max-connections", "100000"}).config.max_connections, 100000u);
  EXPECT_EQ(Parse({"--max-connections", "0"}).config.max_connections, 0u);  // no limit
  EXPECT_EQ(Parse({"--max-connections", "16777216"}).config.max_connections, 16777216u);
  // A count takes no K: 1000 or 1024 would be a guess.
  expect_bad("--max-connections", {"100K", "16777217", "-3", "many", ""});
}

TEST(ParseCommandLine, MaxBackpressure) {
  EXPECT_EQ(Parse({"--max-backpressure", "1K"}).config.max_backpressure, 1024u);
  EXPECT_EQ(Parse({"--max-backpressure", "4M"}).config.max_backpressure, 4u << 20);
  expect_bad("--max-backpressure", {"1023", "0", "lots", "2T", ""});
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
  EXPECT_EQ(Parse({"--recv-buffers", "1024"}).config.recv_buffers, 1024u);
  expect_bad("--recv-buffers", {"4", "12", "65536", "1000", "1K", "x", ""});
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
  EXPECT_TRUE(Parse({}).config.allowed_origins.empty());  // default: any origin
  // Without a scheme an origin never matches what a browser sends: refused.
  expect_bad("--allow-origin", {"", "a.example", "https://", "://a.example", "https://a.example/path"});
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
                           "--version", "--max-memory", "--min-send-rate", "--frame-timeout", "--reuse-port"})
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

TEST(ParseCommandLine, DeflatePassthrough) {
  EXPECT_TRUE(Parse({}).config.deflate.passthrough);  // default on
  EXPECT_FALSE(Parse({"--deflate-passthrough", "off"}).config.deflate.passthrough);
  Parse on({"--deflate-passthrough=on"});
  EXPECT_EQ(on.outcome, ParseOutcome::Run);
  EXPECT_TRUE(on.config.deflate.passthrough);
  expect_bad("--deflate-passthrough", {"", "yes", "ON", "1"});
}

}  // namespace
}  // namespace wsring::server
