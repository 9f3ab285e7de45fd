#include "server/config.hpp"

#include <unistd.h>
#include <algorithm>

#include <getopt.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "net/socket.hpp"

namespace wsring::server {

const char* const kVersion = "0.1.0";

namespace {

const char kUsage[] =
    "Usage: wsring-echo [options]\n"
    "RFC 6455 WebSocket echo server on an io_uring reactor (epoll fallback).\n"
    "\n"
    "  --listen HOST:PORT         address (default 127.0.0.1:9001; [::1]:PORT for IPv6; port 0 picks one)\n"
    "  --path PATH                accept upgrades only on this path (default: any)\n"
    "  --threads N                reactor threads, one SO_REUSEPORT listener each (default 1)\n"
    "  --backend auto|io_uring|epoll   I/O backend (default auto: io_uring, else epoll)\n"
    "  --max-message-size BYTES   largest message accepted, K/M/G suffixes (default 16M); larger: close 1009\n"
    "  --max-header-size BYTES    largest upgrade request head (default 8K); larger: 431\n"
    "  --max-headers N            most request header lines (default 64); more: 431\n"
    "  --handshake-timeout SEC    close sockets that have not upgraded in time (default 10)\n"
    "  --idle-timeout SEC         close (1001) connections silent this long (default 0: never)\n"
    "  --ping-interval SEC        ping connections silent this long (default 0: never)\n"
    "  --close-timeout SEC        wait this long for the peer's close reply (default 5)\n"
    "  --send-timeout SEC         abort a peer that accepts no data this long, or drains slower than\n"
    "                             --min-send-rate over this long (default 30)\n"
    "  --min-send-rate BYTES      bytes per second a backlogged peer must drain, K/M/G suffixes\n"
    "                             (default 1K; 0: one byte per --send-timeout)\n"
    "  --frame-timeout SEC        close (1008) a connection whose control frame stays incomplete\n"
    "                             this long (default 10)\n"
    "  --max-connections N        refuse (503) connections beyond N (default: no limit)\n"
    "  --max-backpressure BYTES   unsent bytes per connection before it stops being read (default 1M)\n"
    "  --max-memory BYTES         output of the whole process waiting in memory, K/M/G suffixes, at\n"
    "                             least 1M (default 0: a quarter of RAM, at least 64M)\n"
    "  --recv-buffer-size BYTES   size of each receive buffer (default 64K)\n"
    "  --recv-buffers N           receive buffers per thread, a power of two (default 512)\n"
    "  --subprotocol NAME         a subprotocol to offer, repeatable, in preference order\n"
    "  --allow-origin ORIGIN      an Origin to accept besides same-origin, repeatable ('*': any)\n"
    "  --log-level LEVEL          error, warn, info or debug (default info)\n"
    "  --help, --version\n";

enum OptionId {
  kListen = 256, kPath, kThreads, kBackend, kMaxMessage, kMaxHeaderSize, kMaxHeaders, kHandshakeTimeout,
  kIdleTimeout, kPingInterval, kCloseTimeout, kSendTimeout, kMinSendRate, kFrameTimeout, kMaxConnections,
  kMaxBackpressure, kMaxMemory, kRecvBufferSize, kRecvBuffers, kSubprotocol, kAllowOrigin, kLogLevel, kHelp, kVersionOpt,
};

const option kOptions[] = {
    {"listen", required_argument, nullptr, kListen},
    {"path", required_argument, nullptr, kPath},
    {"threads", required_argument, nullptr, kThreads},
    {"backend", required_argument, nullptr, kBackend},
    {"max-message-size", required_argument, nullptr, kMaxMessage},
    {"max-header-size", required_argument, nullptr, kMaxHeaderSize},
    {"max-headers", required_argument, nullptr, kMaxHeaders},
    {"handshake-timeout", required_argument, nullptr, kHandshakeTimeout},
    {"idle-timeout", required_argument, nullptr, kIdleTimeout},
    {"ping-interval", required_argument, nullptr, kPingInterval},
    {"close-timeout", required_argument, nullptr, kCloseTimeout},
    {"send-timeout", required_argument, nullptr, kSendTimeout},
    {"min-send-rate", required_argument, nullptr, kMinSendRate},
    {"frame-timeout", required_argument, nullptr, kFrameTimeout},
    {"max-connections", required_argument, nullptr, kMaxConnections},
    {"max-backpressure", required_argument, nullptr, kMaxBackpressure},
    {"max-memory", required_argument, nullptr, kMaxMemory},
    {"recv-buffer-size", required_argument, nullptr, kRecvBufferSize},
    {"recv-buffers", required_argument, nullptr, kRecvBuffers},
    {"subprotocol", required_argument, nullptr, kSubprotocol},
    {"allow-origin", required_argument, nullptr, kAllowOrigin},
    {"log-level", required_argument, nullptr, kLogLevel},
    {"help", no_argument, nullptr, kHelp},
    {"version", no_argument, nullptr, kVersionOpt},
    {nullptr, 0, nullptr, 0},
};

bool is_token_char(char c) {
  static const char kSeparators[] = "()<>@,;:\\\"/[]?={} \t";
  if (c <= 32 || c >= 127) return false;
  for (const char* s = kSeparators; *s; ++s)
    if (*s == c) return false;
  return true;
}

}  // namespace

bool parse_size(const std::string& text, uint64_t& out) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = strtoull(text.c_str(), &end, 10);
  if (errno != 0) return false;
  uint64_t mult = 1;
  std::string suffix(end);
  if (suffix == "K" || suffix == "k" || suffix == "KiB") mult = 1024;
  else if (suffix == "M" || suffix == "m" || suffix == "MiB") mult = 1024 * 1024;
  else if (suffix == "G" || suffix == "g" || suffix == "GiB") mult = 1024ull * 1024 * 1024;
  else if (!suffix.empty()) return false;
  if (v > UINT64_MAX / mult) return false;
  out = v * mult;
  return true;
}

bool parse_seconds(const std::string& text, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  double v = strtod(text.c_str(), &end);
  if (*end != '\0' || !std::isfinite(v) || v < 0 || v > 1e7) return false;
  out = v;
  return true;
}

ParseOutcome parse_command_line(int argc, char** argv, Config& config, std::string& message) {
  optind = 1;
  opterr = 0;
  auto bad = [&](const char* flag, const std::string& what) {
    message = std::string("wsring-echo: --") + flag + ": " + what;
    return ParseOutcome::BadUsage;
  };
  for (;;) {
    int index = 0;
    int c = getopt_long(argc, argv, ":", kOptions, &index);
    if (c == -1) break;
    const std::string arg = optarg ? optarg : "";
    uint64_t n = 0;
    double s = 0;
    switch (c) {
      case kListen: {
        net::SocketAddress addr;
        std::string err;
        if (!net::parse_address(arg, addr, &err)) return bad("listen", "'" + arg + "': " + err);
        config.listen = arg;
        break;
      }
      case kPath:
        if (arg.empty() || arg[0] != '/') return bad("path", "'" + arg + "' must start with '/'");
        config.path = arg;
        break;
      case kThreads:
        if (!parse_size(arg, n) || n < 1 || n > 256) return bad("threads", "'" + arg + "' is not a number from 1 to 256");
        config.threads = unsigned(n);
        break;
      case kBackend:
        if (arg == "auto") config.backend = net::Backend::Auto;
        else if (arg == "io_uring" || arg == "uring") config.backend = net::Backend::IoUring;
        else if (arg == "epoll") config.backend = net::Backend::Epoll;
        else return bad("backend", "'" + arg + "' is not one of auto, io_uring, epoll");
        break;
      case kMaxMessage:
        if (!parse_size(arg, n) || n < 1 || n > (uint64_t{1} << 40)) return bad("max-message-size", "'" + arg + "' is not a size from 1 byte to 1T");
        config.max_message_size = n;
        break;
      case kMaxHeaderSize:
        if (!parse_size(arg, n) || n < 256 || n > (1u << 20)) return bad("max-header-size", "'" + arg + "' is not a size from 256 to 1M");
        config.max_header_size = uint32_t(n);
        break;
      case kMaxHeaders:
        if (!parse_size(arg, n) || n < 4 || n > 256) return bad("max-headers", "'" + arg + "' is not a number from 4 to 256");
        config.max_headers = uint32_t(n);
        break;
      case kHandshakeTimeout:
        if (!parse_seconds(arg, s) || s <= 0) return bad("handshake-timeout", "'" + arg + "' is not a positive number of seconds");
        config.handshake_timeout_s = s;
        break;
      case kIdleTimeout:
        if (!parse_seconds(arg, s)) return bad("idle-timeout", "'" + arg + "' is not a number of seconds (0: never)");
        config.idle_timeout_s = s;
        break;
      case kPingInterval:
        if (!parse_seconds(arg, s)) return bad("ping-interval", "'" + arg + "' is not a number of seconds (0: never)");
        config.ping_interval_s = s;
        break;
      case kCloseTimeout:
        if (!parse_seconds(arg, s) || s <= 0) return bad("close-timeout", "'" + arg + "' is not a positive number of seconds");
        config.close_timeout_s = s;
        break;
      case kSendTimeout:
        if (!parse_seconds(arg, s) || s <= 0) return bad("send-timeout", "'" + arg + "' is not a positive number of seconds");
        config.send_timeout_s = s;
        break;
      case kMinSendRate:
        if (!parse_size(arg, n) || n > (uint64_t{1} << 30)) return bad("min-send-rate", "'" + arg + "' is not a rate from 0 to 1G bytes per second");
        config.min_send_rate = n;
        break;
      case kFrameTimeout:
        if (!parse_seconds(arg, s) || s <= 0) return bad("frame-timeout", "'" + arg + "' is not a positive number of seconds");
        config.frame_timeout_s = s;
        break;
      case kMaxConnections:
        if (!parse_size(arg, n) || n < 1) return bad("max-connections", "'" + arg + "' is not a positive number");
        config.max_connections = n;
        break;
      case kMaxBackpressure:
        if (!parse_size(arg, n) || n < 1024) return bad("max-backpressure", "'" + arg + "' is not a size of at least 1K");
        config.max_backpressure = n;
        break;
      case kMaxMemory:
        if (!parse_size(arg, n) || (n != 0 && n < (uint64_t{1} << 20))) return bad("max-memory", "'" + arg + "' is not 0 (a quarter of RAM) or a size of at least 1M");
        config.max_memory = n;
        break;
      case kRecvBufferSize:
        if (!parse_size(arg, n) || n < 1024 || n > (16u << 20)) return bad("recv-buffer-size", "'" + arg + "' is not a size from 1K to 16M");
        config.recv_buffer_size = uint32_t(n);
        break;
      case kRecvBuffers:
        if (!parse_size(arg, n) || n < 8 || n > 32768 || (n & (n - 1)) != 0) return bad("recv-buffers", "'" + arg + "' is not a power of two from 8 to 32768");
        config.recv_buffers = uint32_t(n);
        break;
      case kSubprotocol: {
        bool ok = !arg.empty();
        for (char ch : arg) ok = ok && is_token_char(ch);
        if (!ok) return bad("subprotocol", "'" + arg + "' is not an HTTP token");
        config.subprotocols.push_back(arg);
        break;
      }
      case kAllowOrigin:
        if (arg.empty()) return bad("allow-origin", "empty origin");
        config.allowed_origins.push_back(arg);
        break;
      case kLogLevel:
        if (arg == "error") config.log_level = LogLevel::Error;
        else if (arg == "warn") config.log_level = LogLevel::Warn;
        else if (arg == "info") config.log_level = LogLevel::Info;
        else if (arg == "debug") config.log_level = LogLevel::Debug;
        else return bad("log-level", "'" + arg + "' is not one of error, warn, info, debug");
        break;
      case kHelp:
        message = kUsage;
        return ParseOutcome::Exit0;
      case kVersionOpt:
        message = std::string("wsring-echo ") + kVersion + "\n";
        return ParseOutcome::Exit0;
      case ':': {
        const char* flag = argv[optind - 1];
        message = std::string("wsring-echo: ") + flag + ": needs a value";
        return ParseOutcome::BadUsage;
      }
      default: {
        const char* flag = argv[optind - 1];
        message = std::string("wsring-echo: ") + flag + ": unknown option (see --help)";
        return ParseOutcome::BadUsage;
      }
    }
  }
  if (optind < argc) {
    message = std::string("wsring-echo: unexpected argument '") + argv[optind] + "' (see --help)";
    return ParseOutcome::BadUsage;
  }
  return ParseOutcome::Run;
}

uint64_t effective_max_memory(const Config& config) {
  if (config.max_memory) return config.max_memory;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const uint64_t quarter = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) / 4 : 0;
  return std::max<uint64_t>(quarter, uint64_t(64) << 20);
}

}  // namespace wsring::server
