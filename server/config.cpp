#include "server/config.hpp"

#include <getopt.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "core/http_request.hpp"
#include "server/config_fanout.hpp"
#include "server/tls_context.hpp"
#include "net/socket.hpp"

namespace wsring::server {

const char* const kVersion = "0.1.0";

namespace {

// Bounds of the numeric flags (also in kUsage and README's flag table).
constexpr unsigned kMaxThreads = 256;
constexpr uint64_t kMaxMessageSize = uint64_t{1} << 40;
constexpr uint64_t kMinHeaderSize = 256, kMaxHeaderSize = 1u << 20;
constexpr uint64_t kMinHeaders = 4, kMaxHeaders = 256;  // core::kMaxHeaderCapacity
constexpr double kMinDuration = 0.001, kMaxDuration = 1000 * 3600.0;  // 1ms .. 1000h
constexpr uint64_t kMaxConnections = uint64_t{1} << 24;
constexpr uint64_t kMinBackpressure = 1024, kMaxBackpressure = uint64_t{1} << 40;
constexpr uint64_t kMinMemory = 1u << 20, kMaxMemory = uint64_t{64} << 40;
constexpr uint64_t kMaxSendRate = uint64_t{1} << 30;
constexpr uint64_t kMinRecvBufferSize = 1024, kMaxRecvBufferSize = 16u << 20;
constexpr uint64_t kMinRecvBuffers = 8, kMaxRecvBuffers = 32768;  // io_uring buffer ring entries
constexpr uint64_t kMinAutoMemory = uint64_t{64} << 20;

const char kUsage[] =
    "Usage: wsring-echo [options]\n"
    "RFC 6455 WebSocket echo server on an io_uring reactor (epoll fallback).\n"
    "\n"
    "Values: sizes are bytes or binary multiples (64K = 64KiB = 65536, 16M, 2G, 1T; k/m/g/t too);\n"
    "durations take ms, s, m (minutes) or h, a bare number is seconds (0.5 = 500ms);\n"
    "counts are plain whole numbers.\n"
    "\n"
    "  --listen ADDRESS           HOST:PORT, [::1]:PORT, :PORT (every interface) or a bare PORT\n"
    "                             (= 127.0.0.1:PORT); port 0 picks one (default 127.0.0.1:9001)\n"
    "  --reuse-port               share the port with a running wsring-echo (SO_REUSEPORT), e.g. to\n"
    "                             restart without downtime; without it a port in use is an error\n"
    "  --tls-listen ADDRESS       also serve wss:// here (same forms as --listen; repeatable);\n"
    "                             needs --tls-cert and --tls-key\n"
    "  --tls-cert FILE            PEM certificate chain for wss:// (the leaf first)\n"
    "  --tls-key FILE             PEM private key of that certificate (unencrypted)\n"
    "  --tls-ticket-key FILE      session ticket keys (80 bytes each, 1 to 4; `openssl rand 80`), to\n"
    "                             resume sessions across processes (default: a random key)\n"
    "  --tls-handshakes-per-turn N  TLS handshake steps per loop turn, 0 to 4096 (default 1; 0: no\n"
    "                             bound); more wait for later turns, so established connections\n"
    "                             keep their latency under a flood of handshakes\n"
    "  --tls-offload on|off       after a TLS 1.3 handshake, protect records with wsring's own record\n"
    "                             layer and free OpenSSL's session state (default on; off: OpenSSL\n"
    "                             for the whole connection)\n"
    "  --tls-ciphersuites LIST    TLS 1.3 cipher suites, ':'-separated, in the server's order of\n"
    "                             preference (default TLS_AES_128_GCM_SHA256:\n"
    "                             TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384)\n"
    "  --path PATH                accept upgrades only on this path (default: any)\n"
    "  --threads N                reactor threads, 1 to 256, one listener each (default 1)\n"
    "  --backend auto|io_uring|epoll   I/O backend (default auto: io_uring, else epoll)\n"
    "  --max-message-size SIZE    largest message, 1 to 1T (default 16M); larger: close 1009\n"
    "  --max-header-size SIZE     largest upgrade request head, 256 to 1M (default 8K); larger: 431\n"
    "  --max-headers N            most request header lines, 4 to 256 (default 64); more: 431\n"
    "  --handshake-timeout DURATION   close sockets not upgraded in time, 1ms to 1000h (default 10s)\n"
    "  --idle-timeout DURATION    close (1001) connections silent this long, 0 (never) or 1ms to\n"
    "                             1000h (default 0)\n"
    "  --ping-interval DURATION   ping connections silent this long, 0 (never) or 1ms to 1000h\n"
    "                             (default 0)\n"
    "  --close-timeout DURATION   wait this long for the peer's close reply, 1ms to 1000h (default 5s)\n"
    "  --send-timeout DURATION    abort a backlogged peer that accepts no data (or drains slower than\n"
    "                             --min-send-rate) this long, 1ms to 1000h (default 30s)\n"
    "  --min-send-rate RATE       bytes/s a backlogged connection must drain, 0 (off) or 1 to 1G\n"
    "                             (default 1K)\n"
    "  --frame-timeout DURATION   close a connection whose control frame stays incomplete this long,\n"
    "                             1ms to 1000h (default 10s)\n"
    "  --max-connections N        refuse (503) connections beyond N, 0 (no limit) or 1 to 16777216\n"
    "                             (default 0)\n"
    "  --max-backpressure SIZE    unsent bytes per connection before it stops being read, 1K to\n"
    "                             --max-memory (default 1M)\n"
    "  --max-memory SIZE          queued output of the whole process, 0 (auto: a quarter of RAM, at\n"
    "                             least 64M) or 1M to 64T (default 0)\n"
    "  --recv-buffer-size SIZE    size of each receive buffer, 1K to 16M (default 64K)\n"
    "  --recv-buffers N           receive buffers per thread, a power of two from 8 to 32768\n"
    "                             (default 512); all threads' buffers within half of RAM\n"
    "  --subprotocol NAME         a subprotocol to offer, repeatable, in preference order\n"
    "  --allow-origin ORIGIN      accept browsers only from the server's own origin and ORIGIN\n"
    "                             (scheme://host[:port]), repeatable (default: any origin)\n"
    "  --log-level LEVEL          error, warn, info or debug (default info)\n"
    "  --proxy-protocol all|ADDRESS   connections to every listener (all) or to this --listen or\n"
    "                             --tls-listen address (repeatable) must start with a PROXY protocol\n"
    "                             header, v1 or v2, within --handshake-timeout; needs --proxy-from\n"
    "  --proxy-from CIDR          peers allowed to send that header (192.0.2.0/24, 2001:db8::/32, or\n"
    "                             one address; repeatable); connections from others are closed\n"
    "  --drain-window DURATION    on SIGTERM/SIGINT, spread the closes (1001) over this long, then\n"
    "                             wait --close-timeout for replies; 0 (all at once) or 1ms to 1000h\n"
    "                             (default 1s)\n"
    ;  // then the observability, permessage-deflate and application flags, then kUsageEnd
const char kUsageEnd[] = "  --help, --version\n";

enum OptionId {
  kOptListen = 256, kOptReusePort, kOptTlsListen, kOptTlsCert, kOptTlsKey, kOptTlsTicketKey, kOptTlsHandshakesPerTurn, kOptTlsOffload, kOptTlsCiphersuites, kOptPath, kOptThreads, kOptBackend, kOptMaxMessage, kOptMaxHeaderSize,
  kOptMaxHeaders, kOptHandshakeTimeout, kOptIdleTimeout, kOptPingInterval, kOptCloseTimeout, kOptSendTimeout,
  kOptMinSendRate, kOptFrameTimeout, kOptMaxConnections, kOptMaxBackpressure, kOptMaxMemory, kOptRecvBufferSize,
  kOptRecvBuffers, kOptSubprotocol, kOptAllowOrigin, kOptLogLevel, kOptHelp, kOptVersion,
  kOptProxyProtocol, kOptProxyFrom, kOptDrainWindow,
  // permessage-deflate
  kOptDeflate, kOptDeflateThreshold, kOptDeflateIdle, kOptDeflatePassthrough,
};

const option kOptions[] = {
    {"listen", required_argument, nullptr, kOptListen},
    {"reuse-port", no_argument, nullptr, kOptReusePort},
    {"tls-listen", required_argument, nullptr, kOptTlsListen},
    {"tls-cert", required_argument, nullptr, kOptTlsCert},
    {"tls-key", required_argument, nullptr, kOptTlsKey},
    {"tls-ticket-key", required_argument, nullptr, kOptTlsTicketKey},
    {"tls-handshakes-per-turn", required_argument, nullptr, kOptTlsHandshakesPerTurn},
    {"tls-offload", required_argument, nullptr, kOptTlsOffload},
    {"tls-ciphersuites", required_argument, nullptr, kOptTlsCiphersuites},
    {"path", required_argument, nullptr, kOptPath},
    {"threads", required_argument, nullptr, kOptThreads},
    {"backend", required_argument, nullptr, kOptBackend},
    {"max-message-size", required_argument, nullptr, kOptMaxMessage},
    {"max-header-size", required_argument, nullptr, kOptMaxHeaderSize},
    {"max-headers", required_argument, nullptr, kOptMaxHeaders},
    {"handshake-timeout", required_argument, nullptr, kOptHandshakeTimeout},
    {"idle-timeout", required_argument, nullptr, kOptIdleTimeout},
    {"ping-interval", required_argument, nullptr, kOptPingInterval},
    {"close-timeout", required_argument, nullptr, kOptCloseTimeout},
    {"send-timeout", required_argument, nullptr, kOptSendTimeout},
    {"min-send-rate", required_argument, nullptr, kOptMinSendRate},
    {"frame-timeout", required_argument, nullptr, kOptFrameTimeout},
    {"max-connections", required_argument, nullptr, kOptMaxConnections},
    {"max-backpressure", required_argument, nullptr, kOptMaxBackpressure},
    {"max-memory", required_argument, nullptr, kOptMaxMemory},
    {"recv-buffer-size", required_argument, nullptr, kOptRecvBufferSize},
    {"recv-buffers", required_argument, nullptr, kOptRecvBuffers},
    {"subprotocol", required_argument, nullptr, kOptSubprotocol},
    {"allow-origin", required_argument, nullptr, kOptAllowOrigin},
    {"log-level", required_argument, nullptr, kOptLogLevel},
    {"admin-listen", required_argument, nullptr, kObservabilityOptionBase + 0},
    {"log-format", required_argument, nullptr, kObservabilityOptionBase + 1},
    {"connection-log", required_argument, nullptr, kObservabilityOptionBase + 2},
    {"proxy-protocol", required_argument, nullptr, kOptProxyProtocol},
    {"proxy-from", required_argument, nullptr, kOptProxyFrom},
    {"drain-window", required_argument, nullptr, kOptDrainWindow},
    {"help", no_argument, nullptr, kOptHelp},
    {"version", no_argument, nullptr, kOptVersion},
    // --- fan-out applications (config_fanout.cpp)
    {"mode", required_argument, nullptr, fanout_flags::kMode},
    {"push-size", required_argument, nullptr, fanout_flags::kPushSize},
    {"push-rate", required_argument, nullptr, fanout_flags::kPushRate},
    {"push-total-rate", required_argument, nullptr, fanout_flags::kPushTotalRate},
    {"slow-receiver", required_argument, nullptr, fanout_flags::kSlowReceiver},
    // --- end fan-out
    {"deflate", required_argument, nullptr, kOptDeflate},
    {"deflate-threshold", required_argument, nullptr, kOptDeflateThreshold},
    {"deflate-idle", required_argument, nullptr, kOptDeflateIdle},
    {"deflate-passthrough", required_argument, nullptr, kOptDeflatePassthrough},
    {nullptr, 0, nullptr, 0},
};

// "scheme://host[:port]" as browsers send it (RFC 6454), or "*".
bool looks_like_origin(const std::string& text) {
  if (text == "*") return true;
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0 || scheme_end + 3 == text.size()) return false;
  return text.find('/', scheme_end + 3) == std::string::npos;
}

// A large amount of memory for a message, to one decimal: 25324642304 -> "23.6G".
std::string approximate_size(uint64_t bytes) {
  static const char kUnits[] = "KMGT";
  int unit = -1;
  while (unit < 3 && bytes >= (uint64_t{1} << (10 * (unit + 2)))) ++unit;
  if (unit < 0) return std::to_string(bytes);
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%c", double(bytes) / double(uint64_t{1} << (10 * (unit + 1))), kUnits[unit]);
  return text;
}

bool fail(std::string& error, std::string text) {
  error = std::move(text);
  return false;
}

using UnsignedFlagParser = bool (*)(std::string_view, std::string_view, uint64_t, uint64_t, uint64_t&, std::string&,
                                    const char*);

// Parses a size or count flag into a field of any unsigned width (the bounds keep it in range).
template <class Field>
bool store(UnsignedFlagParser parse, const char* flag, const std::string& arg, uint64_t min, uint64_t max,
           Field& field, std::string& error, const char* zero_means = nullptr) {
  uint64_t n = 0;
  if (!parse(flag, arg, min, max, n, error, zero_means)) return false;
  field = static_cast<Field>(n);
  return true;
}

bool store_duration(const char* flag, const std::string& arg, double& field, std::string& error,
                    const char* zero_means = nullptr) {
  return cli::parse_duration_flag(flag, arg, kMinDuration, kMaxDuration, field, error, zero_means);
}

// Applies one option (a CLI table); false with `error` set (one line, without the program name).
bool apply_option(int id, const std::string& arg, Config& config, std::string& error) {
  const std::string shown = cli::quoted(arg);
  switch (id) {
    case kOptListen:
      if (parse_listen_address(arg, config.listen, &error)) return true;
      return fail(error, "--listen: " + error);
    case kOptReusePort:
      config.reuse_port = true;
      return true;
    case kOptTlsListen: {
      std::string address;
      if (!parse_listen_address(arg, address, &error)) return fail(error, "--tls-listen: " + error);
      config.tls_listen.push_back(address);
      return true;
    }
    case kOptTlsCert:
    case kOptTlsKey:
    case kOptTlsTicketKey: {
      const char* flag = id == kOptTlsCert ? "--tls-cert" : id == kOptTlsKey ? "--tls-key" : "--tls-ticket-key";
      if (arg.empty()) return fail(error, std::string(flag) + ": expected a file name");
      (id == kOptTlsCert ? config.tls_cert : id == kOptTlsKey ? config.tls_key : config.tls_ticket_key) = arg;
      return true;
    }
    case kOptTlsHandshakesPerTurn:
      return store(cli::parse_count_flag, "--tls-handshakes-per-turn", arg, 1, 4096, config.tls_handshakes_per_turn,
                   error, "no bound");
    case kOptTlsOffload:
      if (arg != "on" && arg != "off") return fail(error, "--tls-offload: expected on or off, got " + shown);
      config.tls_offload = arg == "on";
      return true;
    case kOptTlsCiphersuites:
      if (!check_tls13_suites(arg, &error)) return fail(error, "--tls-ciphersuites: " + error);
      config.tls_ciphersuites = arg;
      return true;
    case kOptPath:
      if (arg.empty() || arg[0] != '/') return fail(error, "--path: expected a path starting with '/', got " + shown);
      config.path = arg;
      return true;
    case kOptThreads: return store(cli::parse_count_flag, "--threads", arg, 1, kMaxThreads, config.threads, error);
    case kOptBackend:
      if (arg == "auto") config.backend = net::Backend::Auto;
      else if (arg == "io_uring" || arg == "uring") config.backend = net::Backend::IoUring;
      else if (arg == "epoll") config.backend = net::Backend::Epoll;
      else return fail(error, "--backend: expected auto, io_uring or epoll, got " + shown);
      return true;
    case kOptMaxMessage:
      return store(cli::parse_size_flag, "--max-message-size", arg, 1, kMaxMessageSize, config.max_message_size,
                   error);
    case kOptMaxHeaderSize:
      return store(cli::parse_size_flag, "--max-header-size", arg, kMinHeaderSize, kMaxHeaderSize,
                   config.max_header_size, error);
    case kOptMaxHeaders:
      return store(cli::parse_count_flag, "--max-headers", arg, kMinHeaders, kMaxHeaders, config.max_headers, error);
    case kOptHandshakeTimeout: return store_duration("--handshake-timeout", arg, config.handshake_timeout_s, error);
    case kOptIdleTimeout: return store_duration("--idle-timeout", arg, config.idle_timeout_s, error, "never");
    case kOptPingInterval: return store_duration("--ping-interval", arg, config.ping_interval_s, error, "never");
    case kOptCloseTimeout: return store_duration("--close-timeout", arg, config.close_timeout_s, error);
    case kOptSendTimeout: return store_duration("--send-timeout", arg, config.send_timeout_s, error);
    case kOptFrameTimeout: return store_duration("--frame-timeout", arg, config.frame_timeout_s, error);
    case kOptMinSendRate:
      return cli::parse_byte_rate_flag("--min-send-rate", arg, 1, kMaxSendRate, config.min_send_rate, error, "off");
    case kOptMaxConnections:
      return store(cli::parse_count_flag, "--max-connections", arg, 1, kMaxConnections, config.max_connections,
                   error, "no limit");
    case kOptMaxBackpressure:
      return store(cli::parse_size_flag, "--max-backpressure", arg, kMinBackpressure, kMaxBackpressure,
                   config.max_backpressure, error);
    case kOptMaxMemory:
      return store(cli::parse_size_flag, "--max-memory", arg, kMinMemory, kMaxMemory, config.max_memory, error,
                   "auto");
    case kOptRecvBufferSize:
      return store(cli::parse_size_flag, "--recv-buffer-size", arg, kMinRecvBufferSize, kMaxRecvBufferSize,
                   config.recv_buffer_size, error);
    case kOptRecvBuffers: {
      uint64_t n = 0;
      if (!cli::parse_count(arg, n) || n < kMinRecvBuffers || n > kMaxRecvBuffers || (n & (n - 1)) != 0)
        return fail(error, "--recv-buffers: expected a power of two from 8 to 32768, got " + shown);
      config.recv_buffers = uint32_t(n);
      return true;
    }
    case kOptSubprotocol:
      if (!core::is_http_token(arg))
        return fail(error, "--subprotocol: expected an HTTP token (letters, digits, !#$%&'*+-.^_`|~), got " + shown);
      config.subprotocols.push_back(arg);
      return true;
    case kOptAllowOrigin:
      if (!looks_like_origin(arg))
        return fail(error, "--allow-origin: expected an origin scheme://host[:port] such as https://app.example:8443, "
                           "or '*', got " + shown);
      config.allowed_origins.push_back(arg);
      return true;
    case kOptLogLevel:
      if (arg == "error") config.log_level = LogLevel::Error;
      else if (arg == "warn") config.log_level = LogLevel::Warn;
      else if (arg == "info") config.log_level = LogLevel::Info;
      else if (arg == "debug") config.log_level = LogLevel::Debug;
      else return fail(error, "--log-level: expected error, warn, info or debug, got " + shown);
      return true;
    case kOptProxyProtocol: return parse_proxy_listener(arg, config.proxy_listeners, error);
    case kOptProxyFrom: return parse_proxy_from(arg, config.proxy_from, error);
    case kOptDrainWindow: return store_duration("--drain-window", arg, config.drain_window_s, error, "all at once");
    // permessage-deflate
    case kOptDeflate: return parse_deflate_mode(arg, config.deflate, error);
    case kOptDeflateThreshold:
      return store(cli::parse_size_flag, "--deflate-threshold", arg, 1, 1u << 20, config.deflate.threshold, error,
                   "compress all");
    case kOptDeflateIdle: return store_duration("--deflate-idle", arg, config.deflate.idle_s, error);
    case kOptDeflatePassthrough: return parse_deflate_passthrough(arg, config.deflate, error);
    default:
      if (id >= fanout_flags::kMode && id < fanout_flags::kEnd) return fanout_flags::apply(id, arg, config, error);
      if (id >= kObservabilityOptionBase) return apply_observability_option(id, arg, config, error);
      return fail(error, "unhandled option");
  }
}

}  // namespace

uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return uint64_t(pages) * uint64_t(page_size);
}

uint64_t effective_max_memory(const Config& config, uint64_t physical_memory) {
  if (config.max_memory != 0) return config.max_memory;
  return std::max(physical_memory / 4, kMinAutoMemory);
}

uint64_t effective_max_memory(const Config& config) { return effective_max_memory(config, physical_memory_bytes()); }

bool check_config(const Config& config, uint64_t physical_memory, std::string& message) {
  // TLS: listeners need a certificate and its key; files without a TLS listener are a mistake.
  const bool tls_files = !config.tls_cert.empty() || !config.tls_key.empty() || !config.tls_ticket_key.empty();
  if (!config.tls_listen.empty() && (config.tls_cert.empty() || config.tls_key.empty())) {
    message = "--tls-listen needs --tls-cert FILE and --tls-key FILE";
    return false;
  }
  if (config.tls_listen.empty() && tls_files) {
    message = "--tls-cert, --tls-key and --tls-ticket-key need --tls-listen ADDRESS";
    return false;
  }
  if (config.tls_listen.empty() && !config.tls_ciphersuites.empty()) {
    message = "--tls-ciphersuites needs --tls-listen ADDRESS";
    return false;
  }
  if (!check_proxy_flags(config.proxy_listeners, config.proxy_from, config.listen, config.tls_listen, message))
    return false;
  const uint64_t budget = effective_max_memory(config, physical_memory);
  if (config.max_backpressure > budget) {
    const std::string memory =
        config.max_memory ? cli::format_size(budget) : "(auto: " + approximate_size(budget) + ", a quarter of RAM)";
    message = "--max-backpressure " + cli::format_size(config.max_backpressure) + " exceeds --max-memory " + memory +
              ": lower --max-backpressure or raise --max-memory";
    return false;
  }
  // The receive buffers of every thread (headroom included). At most 256 x 32768 x (16M + 16):
  // no overflow in 64 bits.
  const uint64_t receive_bytes =
      uint64_t(config.threads) * config.recv_buffers * (uint64_t(config.recv_buffer_size) + net::kRecvHeadroom);
  if (physical_memory != 0 && receive_bytes > physical_memory / 2) {
    message = "--recv-buffers " + std::to_string(config.recv_buffers) + " x --recv-buffer-size " +
              cli::format_size(config.recv_buffer_size) + " x --threads " + std::to_string(config.threads) + " = " +
              approximate_size(receive_bytes) + " of receive buffers, more than half of this machine's " +
              approximate_size(physical_memory) + " of RAM";
    return false;
  }
  return true;
}

bool parse_listen_address(std::string_view text, std::string& out, std::string* error) {
  uint64_t port = 0;
  std::string address(text);
  if (cli::parse_count(text, port)) {
    if (port > 65535) {
      if (error) *error = cli::quoted(text) + ": a port is a number from 0 to 65535";
      return false;
    }
    address = "127.0.0.1:" + address;
  }
  net::SocketAddress parsed;
  std::string why;
  if (!net::parse_address(address, parsed, &why)) {
    if (error) *error = cli::quoted(text) + ": " + why + " (or a bare PORT for 127.0.0.1:PORT)";
    return false;
  }
  out = address;
  return true;
}

ParseOutcome parse_command_line(int argc, char** argv, Config& config, std::string& message) {
  optind = 1;
  opterr = 0;
  for (;;) {
    int index = 0;
    const int c = getopt_long(argc, argv, ":", kOptions, &index);
    if (c == -1) break;
    if (c == kOptHelp) {
      message = std::string(kUsage) + kObservabilityUsage + kDeflateUsage + "\nApplications:\n" +
                fanout_flags::kUsage + kUsageEnd;
      return ParseOutcome::Exit0;
    }
    if (c == kOptVersion) {
      message = std::string("wsring-echo ") + kVersion + "\n";
      return ParseOutcome::Exit0;
    }
    if (c == ':' || c == '?') {
      const char* flag = argv[optind - 1];
      message = std::string("wsring-echo: ") + flag + (c == ':' ? ": needs a value" : ": unknown option (see --help)");
      return ParseOutcome::BadUsage;
    }
    std::string error;
    if (!apply_option(c, optarg ? optarg : "", config, error)) {
      message = "wsring-echo: " + error;
      return ParseOutcome::BadUsage;
    }
  }
  if (optind < argc) {
    message = std::string("wsring-echo: unexpected argument '") + argv[optind] + "' (see --help)";
    return ParseOutcome::BadUsage;
  }
  std::string error;
  if (!check_config(config, physical_memory_bytes(), error)) {
    message = "wsring-echo: " + error;
    return ParseOutcome::BadUsage;
  }
  return ParseOutcome::Run;
}

}  // namespace wsring::server
