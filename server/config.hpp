// wsring-echo's configuration and its command line. Parsing is separate from main() so
// that it can be tested without starting a server.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/reactor.hpp"

namespace wsring::server {

enum class LogLevel { Error = 0, Warn, Info, Debug };

struct Config {
  std::string listen = "127.0.0.1:9001";
  std::string path;  // empty: any path
  unsigned threads = 1;
  net::Backend backend = net::Backend::Auto;
  uint64_t max_message_size = 16u << 20;
  uint32_t max_header_size = 8192;
  uint32_t max_headers = 64;
  double handshake_timeout_s = 10;
  double idle_timeout_s = 0;   // 0: never
  double ping_interval_s = 0;  // 0: never
  double close_timeout_s = 5;
  double send_timeout_s = 30;
  uint64_t max_connections = 0;  // 0: as many as file descriptors allow
  uint64_t max_backpressure = 1u << 20;
  uint64_t max_memory = 0;         // 0: a quarter of physical RAM (effective_max_memory)
  uint64_t min_send_rate = 1024;   // bytes per second a stalled peer must drain; 0: one byte per --send-timeout
  double frame_timeout_s = 10;
  uint32_t recv_buffer_size = 64 * 1024;
  uint32_t recv_buffers = 512;
  std::vector<std::string> subprotocols;
  std::vector<std::string> allowed_origins;
  LogLevel log_level = LogLevel::Info;
};

enum class ParseOutcome { Run, Exit0, BadUsage };

// Parses argv. On BadUsage, `message` is one line naming the flag at fault; on Exit0 it
// holds the --help or --version text.
ParseOutcome parse_command_line(int argc, char** argv, Config& config, std::string& message);

// Parses "16M", "64K", "1048576" (binary suffixes K, M, G). False on junk or overflow.
bool parse_size(const std::string& text, uint64_t& out);
// Parses seconds with decimals ("0.5", "30"). False on junk or negative.
bool parse_seconds(const std::string& text, double& out);

// --max-memory, or when it is 0 a quarter of physical RAM (at least 64 MiB).
uint64_t effective_max_memory(const Config& config);

extern const char* const kVersion;

}  // namespace wsring::server
