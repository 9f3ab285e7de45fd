// wsring-echo's configuration and its command line. Parsing is separate from main() so
// that it can be tested without starting a server. Values follow the grammar of
// server/cli_values.hpp (sizes, durations, counts, rates), shared with wsring-load.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/reactor.hpp"
#include "server/cli_values.hpp"
#include "server/proxy_trust.hpp"
#include "server/deflate_config.hpp"

namespace wsring::server {

enum class LogLevel { Error = 0, Warn, Info, Debug };
enum class LogFormat { Text, Json };
enum class AppMode { Echo, Shootout, Push, Pubsub };
const char* mode_name(AppMode mode);

struct Config {
  std::string listen = "127.0.0.1:9001";  // always HOST:PORT (a bare port is stored as 127.0.0.1:PORT)
  std::string path;  // empty: any path
  unsigned threads = 1;
  net::Backend backend = net::Backend::Auto;
  bool reuse_port = false;  // join a port another process serves with SO_REUSEPORT (restarts)
  // wss://: addresses (HOST:PORT, like listen) served with TLS, the PEM certificate chain and
  // key, and an optional file of session ticket keys shared across processes.
  std::vector<std::string> tls_listen;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ticket_key;
  // TLS handshake steps per loop turn and thread; more wait, in order, for later turns, so a
  // flood of handshakes delays established connections by at most this much work per turn.
  // 0: no bound.
  // 1: under a flood, p99 of established echoes 1.7-2.3x its idle value (4: about 7x), at the
  // same handshakes per second (bench/RESULTS.md).
  uint32_t tls_handshakes_per_turn = 1;
  // --tls-offload: TLS 1.3 records protected by server/tls_records after the handshake, the SSL
  // freed (an idle wss connection keeps ~2.6 KB of TLS state instead of ~14 KB).
  bool tls_offload = true;
  // --tls-ciphersuites: TLS 1.3 suites in the server's order of preference (empty: the default).
  std::string tls_ciphersuites;
  uint64_t max_message_size = 16u << 20;
  uint32_t max_header_size = 8192;
  uint32_t max_headers = 64;
  double handshake_timeout_s = 10;
  double idle_timeout_s = 0;   // 0: never
  double ping_interval_s = 0;  // 0: never
  double close_timeout_s = 5;
  double send_timeout_s = 30;
  double frame_timeout_s = 10;  // a control frame incomplete this long closes the connection
  uint64_t max_connections = 0;  // 0: as many as file descriptors allow
  uint64_t max_backpressure = 1u << 20;
  uint64_t max_memory = 0;       // queued output (spill) of the whole process; 0: auto, see effective_max_memory
  uint64_t min_send_rate = 1024; // bytes/s a backlogged connection must drain over --send-timeout; 0: off
  uint32_t recv_buffer_size = 64 * 1024;
  uint32_t recv_buffers = 512;
  std::vector<std::string> subprotocols;
  std::vector<std::string> allowed_origins;  // empty: any Origin
  LogLevel log_level = LogLevel::Info;
  // --- observability (server/config_observability.cpp) ---
  std::string admin_listen;          // HOST:PORT of /metrics, /healthz, /readyz; empty: off
  LogFormat log_format = LogFormat::Text;
  double connection_log = 0;         // fraction of connections logged when they close; 0: none
  // --- end observability ---
  // --- fan-out applications (config_fanout.cpp)
  AppMode mode = AppMode::Echo;
  uint32_t push_size = 64;        // bytes per pushed message (at least 16: time and sequence)
  double push_rate = 1;           // messages per second per connection (unless push_total_rate)
  double push_total_rate = 0;     // messages per second over all connections; 0: use push_rate
  bool slow_receiver_close = false;  // --slow-receiver close (else drop: skip messages)
  // --- end fan-out
  // Load balancers and restarts (README: PROXY protocol; drain and rolling restarts).
  std::vector<std::string> proxy_listeners;  // "all" or HOST:PORT of --listen/--tls-listen
  std::vector<Cidr> proxy_from;              // peers allowed to send a PROXY header
  double drain_window_s = 1;                 // SIGTERM: closes (1001) spread over this; 0: at once
  DeflateConfig deflate;  // permessage-deflate (server/deflate_config.hpp)
};

// The observability flags' options (ids from kObservabilityOptionBase) and their usage lines;
// apply_observability_option applies one (false with `error`: one line naming the flag).
constexpr int kObservabilityOptionBase = 1000;
extern const char kObservabilityUsage[];
bool apply_observability_option(int id, const std::string& arg, Config& config, std::string& error);

using ParseOutcome = cli::ParseOutcome;

// Parses argv, then checks the flags against each other (check_config with this machine's RAM).
// On BadUsage, `message` is one line naming the flag(s) at fault; on Exit0 it holds the --help or
// --version text.
ParseOutcome parse_command_line(int argc, char** argv, Config& config, std::string& message);

// Checks that need several flags or the machine's memory: --max-backpressure within the effective
// --max-memory; the receive buffers (--threads x --recv-buffers x --recv-buffer-size) within half
// of `physical_memory`. False with `message` set (one line naming the flags).
bool check_config(const Config& config, uint64_t physical_memory, std::string& message);

// Physical memory of this machine in bytes (sysconf), 0 if unknown.
uint64_t physical_memory_bytes();

// The queued-output budget in force: --max-memory, or when it is 0 (auto) a quarter of physical
// memory, at least 64 MiB.
uint64_t effective_max_memory(const Config& config);
uint64_t effective_max_memory(const Config& config, uint64_t physical_memory);

// An address flag's value: "HOST:PORT", "[V6]:PORT", ":PORT" (every interface) or a bare "PORT",
// which means 127.0.0.1:PORT. `out` gets the HOST:PORT form. False with `error` set on bad input.
bool parse_listen_address(std::string_view text, std::string& out, std::string* error);

extern const char* const kVersion;

}  // namespace wsring::server
