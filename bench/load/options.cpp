#include "bench/load/options.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace wsring::load {

const char* const kLoadVersion = "0.1.0";

const char kLoadUsage[] =
    "Usage: wsring-load ws://HOST:PORT/PATH [options]\n"
    "WebSocket load generator: echoes verified byte for byte, latency from an HDR-style histogram.\n"
    "\n"
    "  --connections N        connections (default 100)\n"
    "  --duration S           seconds of traffic once every connection is open (default 10)\n"
    "  --messages N           instead of --duration: send N messages in all, then stop\n"
    "  --size BYTES|MIN-MAX   payload size, K/M suffixes, at least 16 (default 32); a range draws\n"
    "                         each message's size uniformly\n"
    "  --text | --binary      message type (default binary)\n"
    "  --pipeline D           messages in flight per connection (default 1: ping-pong)\n"
    "  --rate R               open loop: R messages/s in total, spread evenly; latency counts from\n"
    "                         the intended send time (coordinated omission corrected)\n"
    "  --ramp-up S            open the connections evenly over S seconds\n"
    "  --threads T            threads, one reactor each (default 1)\n"
    "  --connect-rate R       at most R new connections per second\n"
  "  --handshake-timeout S  fail a connection without a valid 101 after S seconds (default 10)\n"
    "  --handshake-only       connect, upgrade and close in a loop; reports handshakes/s\n"
    "  --json FILE            write the results as JSON (layout: bench/README.md)\n"
    "  --source-addrs A-B     bind connections to local addresses A..B (IPv4 range) or A,B,C\n"
    "  --backend auto|io_uring|epoll   I/O backend (default auto)\n"
    "  --help, --version\n"
    "\n"
    "Exit status: 0 clean run, 1 errors or mismatches, 2 bad arguments.\n";

namespace {

bool parse_ipv4(std::string_view text, uint32_t& host_order) {
  std::string s(text);
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return false;
  host_order = ntohl(a.s_addr);
  return true;
}

bool is_ip_literal(std::string_view text) {
  std::string s(text);
  in_addr a4{};
  in6_addr a6{};
  return inet_pton(AF_INET, s.c_str(), &a4) == 1 || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

std::string ipv4_text(uint32_t host_order) {
  in_addr a{};
  a.s_addr = htonl(host_order);
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

}  // namespace

bool parse_integer(std::string_view text, uint64_t& out) {
  if (text.empty()) return false;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  out = value;
  return true;
}

bool parse_byte_count(std::string_view text, uint64_t& out) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  uint64_t value = 0;
  if (!parse_integer(text.substr(0, digits), value)) return false;
  std::string_view suffix = text.substr(digits);
  unsigned shift = 0;
  if (!suffix.empty()) {
    switch (suffix[0]) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      case 'b': case 'B': shift = 0; break;
      default: return false;
    }
    std::string_view rest = suffix.substr(1);
    if (suffix[0] == 'b' || suffix[0] == 'B') {
      if (!rest.empty()) return false;
    } else if (!(rest.empty() || rest == "B" || rest == "iB")) {
      return false;
    }
  }
  if (shift && value > (~uint64_t{0} >> shift)) return false;
  out = value << shift;
  return true;
}

bool parse_decimal(std::string_view text, double& out) {
  if (text.empty() || text[0] == '-' || text[0] == '+' || text[0] == ' ') return false;
  std::string s(text);
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(value) || value < 0) return false;
  // strtod also takes hex floats and "infinity"; accept plain decimals only.
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+')) return false;
  out = value;
  return true;
}

bool parse_source_addresses(std::string_view text, std::vector<std::string>& out, std::string* error) {
  out.clear();
  auto fail = [&](const std::string& why) {
    if (error) *error = why;
    out.clear();
    return false;
  };
  if (text.empty()) return fail("expected an address, a range A-B or a list A,B,C");
  const size_t dash = text.find('-');
  if (dash != std::string_view::npos) {
    uint32_t first = 0, last = 0;
    if (!parse_ipv4(text.substr(0, dash), first) || !parse_ipv4(text.substr(dash + 1), last))
      return fail("a range must be two IPv4 addresses A-B, e.g. 127.0.0.1-127.0.0.20");
    if (last < first) return fail("range end " + std::string(text.substr(dash + 1)) + " is below its start");
    if (uint64_t(last) - first + 1 > kMaxSourceAddresses)
      return fail("a range may hold at most " + std::to_string(kMaxSourceAddresses) + " addresses");
    for (uint64_t a = first; a <= last; ++a) out.push_back(ipv4_text(uint32_t(a)));
    return true;
  }
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (!is_ip_literal(item)) return fail("'" + std::string(item) + "' is not a numeric IP address");
    if (out.size() >= kMaxSourceAddresses) return fail("too many addresses");
    out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return true;
}

bool parse_ws_url(std::string_view text, WsUrl& out, std::string* error) {
  auto fail = [&](const char* why) {
    if (error) *error = why;
    return false;
  };
  if (text.substr(0, 6) == "wss://") return fail("wss:// (TLS) is not supported; use ws://");
  if (text.substr(0, 5) != "ws://") return fail("the URL must start with ws://");
  std::string_view rest = text.substr(5);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  if (authority.empty()) return fail("the URL has no host");
  if (authority.find('@') != std::string_view::npos) return fail("user info in the URL is not supported");
  for (char c : path) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7F) return fail("the URL path contains a space or control character");
  }
  if (path.find('#') != std::string_view::npos) return fail("a URL fragment (#) is not allowed in a ws:// URL");

  std::string_view host, port_text;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("unterminated [IPv6] host");
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("expected :PORT after the [IPv6] host");
      port_text = after.substr(1);
      if (port_text.empty()) return fail("empty port in the URL");
    }
  } else {
    const size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return fail("empty port in the URL");
    }
  }
  if (host.empty()) return fail("the URL has no host");
  uint64_t port = 80;
  if (!port_text.empty() && (!parse_integer(port_text, port) || port == 0 || port > 65535))
    return fail("the URL port must be a number from 1 to 65535");
  const std::string bare = host.front() == '[' ? std::string(host.substr(1, host.size() - 2)) : std::string(host);
  if (host.front() == '[') {
    in6_addr a6{};
    if (inet_pton(AF_INET6, bare.c_str(), &a6) != 1) return fail("bad IPv6 address in the URL");
  } else if (bare != "localhost") {
    in_addr a4{};
    if (inet_pton(AF_INET, bare.c_str(), &a4) != 1)
      return fail("the URL host must be a numeric address or localhost (no name resolution)");
  }
  out.port = uint16_t(port);
  out.path = std::string(path);
  out.host_header = std::string(host) + ":" + std::to_string(port);
  out.address = (bare == "localhost" ? std::string("127.0.0.1") : std::string(host)) + ":" + std::to_string(port);
  return true;
}

ParseOutcome parse_load_args(int argc, const char* const* argv, LoadOptions& o, std::string& message) {
  auto bad = [&](const std::string& text) {
    message = text;
    return ParseOutcome::BadUsage;
  };
  bool saw_duration = false, saw_messages = false, saw_text = false, saw_binary = false;
  bool have_url = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.size() < 2 || arg.substr(0, 2) != "--") {
      if (have_url) return bad("unexpected argument '" + std::string(arg) + "' (the URL is already given)");
      std::string error;
      if (!parse_ws_url(arg, o.url, &error)) return bad("URL '" + std::string(arg) + "': " + error);
      o.url_text = std::string(arg);
      have_url = true;
      continue;
    }
    std::string_view name = arg;
    std::string_view inline_value;
    bool has_inline = false;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
      has_inline = true;
    }
    const std::string flag(name);
    auto is_switch = [&](std::string_view s) { return name == s; };

    // Switches without a value.
    if (is_switch("--help")) {
      message = kLoadUsage;
      return ParseOutcome::Exit0;
    }
    if (is_switch("--version")) {
      message = std::string("wsring-load ") + kLoadVersion + "\n";
      return ParseOutcome::Exit0;
    }
    if (is_switch("--text") || is_switch("--binary") || is_switch("--handshake-only")) {
      if (has_inline) return bad(flag + " takes no value");
      if (is_switch("--text")) {
        saw_text = true;
        o.text = true;
      } else if (is_switch("--binary")) {
        saw_binary = true;
        o.text = false;
      } else {
        o.handshake_only = true;
      }
      continue;
    }

    static const char* const kValued[] = {"--connections", "--duration", "--messages", "--size",
                                          "--pipeline", "--rate", "--ramp-up", "--threads",
                                          "--connect-rate", "--json", "--source-addrs", "--backend",
                                          "--handshake-timeout"};
    bool known = false;
    for (const char* k : kValued) known = known || name == k;
    if (!known) return bad("unknown option " + flag + " (see --help)");
    std::string_view value;
    if (has_inline) {
      value = inline_value;
    } else {
      if (i + 1 >= argc) return bad(flag + " needs a value");
      value = argv[++i];
    }
    const std::string shown = "'" + std::string(value) + "'";

    if (name == "--connections") {
      uint64_t n = 0;
      if (!parse_integer(value, n) || n == 0 || n > kMaxConnections)
        return bad("--connections: expected a number from 1 to " + std::to_string(kMaxConnections) + ", got " + shown);
      o.connections = uint32_t(n);
    } else if (name == "--duration") {
      double s = 0;
      if (!parse_decimal(value, s) || s <= 0 || s > 1e7)
        return bad("--duration: expected seconds greater than 0, e.g. 5 or 0.5, got " + shown);
      o.duration_s = s;
      saw_duration = true;
    } else if (name == "--messages") {
      uint64_t n = 0;
      if (!parse_integer(value, n) || n == 0) return bad("--messages: expected a number of at least 1, got " + shown);
      o.messages = n;
      saw_messages = true;
    } else if (name == "--size") {
      const size_t dash = value.find('-');
      uint64_t lo = 0, hi = 0;
      bool ok;
      if (dash == std::string_view::npos) {
        ok = parse_byte_count(value, lo);
        hi = lo;
      } else {
        ok = parse_byte_count(value.substr(0, dash), lo) && parse_byte_count(value.substr(dash + 1), hi);
      }
      if (!ok) return bad("--size: expected BYTES or MIN-MAX with optional K/M suffix, e.g. 32 or 16-1K, got " + shown);
      if (lo < kMinMessageSize)
        return bad("--size: at least " + std::to_string(kMinMessageSize) +
                   " bytes (each payload carries a 16-byte stamp), got " + shown);
      if (hi > kMaxMessageSize) return bad("--size: at most 256M, got " + shown);
      if (hi < lo) return bad("--size: the range's maximum is below its minimum in " + shown);
      o.size_min = lo;
      o.size_max = hi;
    } else if (name == "--pipeline") {
      uint64_t n = 0;
      if (!parse_integer(value, n) || n == 0 || n > kMaxPipeline)
        return bad("--pipeline: expected a number from 1 to " + std::to_string(kMaxPipeline) + ", got " + shown);
      o.pipeline = uint32_t(n);
    } else if (name == "--rate") {
      double r = 0;
      if (!parse_decimal(value, r) || r <= 0 || r > 1e9)
        return bad("--rate: expected messages per second greater than 0, got " + shown);
      o.rate = r;
    } else if (name == "--ramp-up") {
      double s = 0;
      if (!parse_decimal(value, s) || s > 1e6) return bad("--ramp-up: expected seconds (0 or more), got " + shown);
      o.ramp_up_s = s;
    } else if (name == "--threads") {
      uint64_t n = 0;
      if (!parse_integer(value, n) || n == 0 || n > kMaxThreads)
        return bad("--threads: expected a number from 1 to " + std::to_string(kMaxThreads) + ", got " + shown);
      o.threads = unsigned(n);
    } else if (name == "--connect-rate") {
      double r = 0;
      if (!parse_decimal(value, r) || r <= 0 || r > 1e9)
        return bad("--connect-rate: expected connections per second greater than 0, got " + shown);
      o.connect_rate = r;
    } else if (name == "--handshake-timeout") {
      double s = 0;
      if (!parse_decimal(value, s) || s <= 0 || s > 1e6)
        return bad("--handshake-timeout: expected seconds greater than 0, e.g. 5 or 0.5, got " + shown);
      o.handshake_timeout_s = s;
    } else if (name == "--json") {
      if (value.empty()) return bad("--json: expected a file name");
      o.json_path = std::string(value);
    } else if (name == "--source-addrs") {
      std::string error;
      if (!parse_source_addresses(value, o.source_addresses, &error))
        return bad("--source-addrs: " + error + " (got " + shown + ")");
    } else if (name == "--backend") {
      if (value == "auto") o.backend = net::Backend::Auto;
      else if (value == "io_uring") o.backend = net::Backend::IoUring;
      else if (value == "epoll") o.backend = net::Backend::Epoll;
      else return bad("--backend: expected auto, io_uring or epoll, got " + shown);
    }
  }
  if (!have_url) return bad("missing URL: wsring-load ws://HOST:PORT/PATH [options] (see --help)");
  if (saw_duration && saw_messages) return bad("--messages: give either --duration or --messages, not both");
  if (saw_text && saw_binary) return bad("--text: give either --text or --binary, not both");
  if (o.handshake_only && saw_messages) return bad("--messages: not with --handshake-only (use --duration)");
  if (o.handshake_only && o.rate > 0) return bad("--rate: not with --handshake-only (use --connect-rate)");
  if (!o.source_addresses.empty()) {
    // A source address of the other family cannot reach the server.
    const bool server_v6 = !o.url.address.empty() && o.url.address.front() == '[';
    for (const std::string& a : o.source_addresses) {
      const bool v6 = a.find(':') != std::string::npos;
      if (v6 != server_v6)
        return bad("--source-addrs: " + a + " is not of the server's address family");
    }
  }
  if (!o.handshake_only && double(o.pipeline) * double(o.size_max + 14) > double(kMaxConnectionBufferBytes))
    return bad("--pipeline: " + std::to_string(o.pipeline) + " messages of up to " + std::to_string(o.size_max) +
               " bytes exceed 1 GiB in flight per connection");
  // Each connection keeps two send buffers of `pipeline` frames (one in flight, one filling).
  const double buffer_bytes = 2.0 * o.connections * o.pipeline * double(o.size_max + 14);
  if (!o.handshake_only && buffer_bytes > double(kMaxSendBufferBytes))
    return bad("--size: " + std::to_string(o.connections) + " connections x pipeline " + std::to_string(o.pipeline) +
               " x " + std::to_string(o.size_max) + " bytes need more than 8 GiB of send buffers");
  if (o.threads > o.connections) o.threads = o.connections;  // an idle thread would only skew the figures
  if (saw_messages) o.duration_s = 0;
  return ParseOutcome::Run;
}

}  // namespace wsring::load
