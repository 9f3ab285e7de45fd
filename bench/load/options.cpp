#include "bench/load/options.hpp"

#include <arpa/inet.h>

#include "bench/load/run_extras.hpp"

#include <cstring>

#include "core/deflate_offer.hpp"

namespace wsring::load {

const char* const kLoadVersion = "0.1.0";

const char kLoadUsage[] =
    "Usage: wsring-load ws://HOST:PORT/PATH [options]\n"
    "       wsring-load wss://HOST:PORT/PATH [options]   (TLS)\n"
    "WebSocket load generator: echoes verified byte for byte, latency from an HDR-style histogram.\n"
    "\n"
    "Values: sizes are bytes or binary multiples (16K = 16KiB = 16384, 1M, 256MiB); durations take\n"
    "ms, s, m (minutes) or h, a bare number is seconds; counts are plain whole numbers; rates are\n"
    "per second (2000, 0.5, 100/s).\n"
    "\n"
    "  --connections N        connections, 1 to 16777216 (default 100)\n"
    "  --duration DURATION    traffic time once every connection is open, 1ms to 1000h (default 10s)\n"
    "  --messages N           instead of --duration: send N messages in all (1 to 10^12), then stop\n"
    "  --size SIZE|MIN-MAX    payload size, 16 to 256M (default 32); a range draws each message's\n"
    "                         size uniformly\n"
    "  --text | --binary      message type (default binary)\n"
    "  --pipeline D           messages in flight per connection, 1 to 65536 (default 1: ping-pong)\n"
    "  --rate R               open loop: R messages/s in total (0.001 to 10^9), spread evenly; latency\n"
    "                         counts from the intended send time (coordinated omission corrected)\n"
    "  --ramp-up DURATION     open the connections evenly over this long, 0 to 1000h (default 0)\n"
    "  --threads T            threads, one reactor each, 1 to 256 (default 1)\n"
    "  --connect-rate R       at most R new connections per second (0.001 to 10^9)\n"
    "  --handshake-timeout DURATION  fail a connection without a valid 101 after this long (default 10s)\n"
    "  --handshake-only       connect, upgrade and close in a loop; reports handshakes/s\n"
    "  --json FILE            write the results as JSON (layout: bench/README.md)\n"
    "  --source-addrs A-B     bind connections to local addresses A..B (IPv4 range) or A,B,C\n"
    "  --backend auto|io_uring|epoll   I/O backend (default auto)\n"
    "  --threshold 'p99<5ms'  pass/fail condition, repeatable: p50 p90 p99 p99.9 p99.99 min max mean\n"
    "                         (ns us ms s), errors, connect_failures, lost, mismatched (counts), rate\n"
    "                         (echoes/s); < <= > >= ==. Any failing: exit status 1\n"
    "  --hdr-log FILE         HdrHistogram interval log of the echo latency (microseconds, 1 s intervals)\n"
    "  --report FILE.html     one self-contained HTML page with the run's plots\n"
    "  --shard I/N            run shard I (0..N-1) of N: its share of --connections, --messages, --rate\n"
    "  --start-at TIME        start at this Unix time or ISO-8601 time (e.g. 2026-01-01T12:00:00Z)\n"
    "  --quiet                no progress lines on stderr\n"
    "  wsring-load merge A.hlog B.hlog... [A.json B.json...] [--json OUT] [--report OUT.html]\n"
    "                         merges shard runs into one result\n"
    "  --help, --version\n"
    "  --scenario echo|push|shootout|pubsub  push: only receive the server's stamped, numbered\n"
    "                         messages (wsring-echo --mode push): delivery latency, lost, out of\n"
    "                         order, duplicates; shootout: the broadcast step-up; pubsub: topics\n"
    "                         (flags of both below)\n"
    "\n"
    "TLS (wss:// only; without these the certificate is verified against the system store):\n"
    "  --insecure             do not verify the server's certificate\n"
    "  --ca FILE              verify against the CAs of this PEM file instead of the system store\n"
    "  --sni NAME             send NAME as SNI and verify the certificate for it (default: the URL's\n"
    "                         host; an IP address is verified but not sent)\n"
    "  --tls-resume           a connection reopened (--handshake-only) offers its previous session's\n"
    "                         ticket: resumed handshakes instead of full ones\n"
    "  --tls-min 1.2|1.3      lowest TLS version offered (default 1.2)\n"
    "  --tls-max 1.2|1.3      highest TLS version offered (default 1.3)\n"
    "  --tls-ciphersuites LIST  TLS 1.3 suites offered, ':'-separated, in the order of preference\n"
    "                         (default OpenSSL's: TLS_AES_256_GCM_SHA384 first)\n"
    "  --deflate[=PARAMS]     offer permessage-deflate (default parameters: client_max_window_bits;\n"
    "                         e.g. --deflate='server_no_context_takeover; server_max_window_bits=10'),\n"
    "                         send messages compressed, inflate and verify echoes, report the ratio\n"
    "  --deflate-takeover     with --deflate: each connection compresses with its own context across\n"
    "                         messages where the server allows it, as browsers do (a deflater per\n"
    "                         connection, ~256 KiB at window 15; default: each message on its own)\n"
    "\n"
    "Exit status: 0 clean run, 1 errors, mismatches or a failed --threshold, 2 bad arguments.\n";

namespace {

constexpr double kMinDuration = 0.001, kMaxDuration = 1000 * 3600.0;  // 1ms .. 1000h
constexpr uint64_t kMaxMessages = 1000000000000ull;
constexpr double kMinRate = 0.001, kMaxRate = 1e9;

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

// A host name as certificates carry it: labels of letters, digits and '-', joined by '.'.
bool is_dns_name(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '.') {
      if (label == 0 || label > 63 || text[i - 1] == '-' || text[i - label] == '-') return false;
      label = 0;
      continue;
    }
    const char c = text[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return false;
    ++label;
  }
  return true;
}

bool parse_tls_version(std::string_view text, server::TlsVersion& out) {
  if (text == "1.2") out = server::TlsVersion::Tls12;
  else if (text == "1.3") out = server::TlsVersion::Tls13;
  else return false;
  return true;
}

}  // namespace

const char* tls_version_text(server::TlsVersion version) {
  return version == server::TlsVersion::Tls12 ? "1.2" : "1.3";
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
  const bool tls = text.substr(0, 6) == "wss://";
  if (!tls && text.substr(0, 5) != "ws://") return fail("the URL must start with ws:// or wss://");
  std::string_view rest = text.substr(tls ? 6 : 5);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  if (authority.empty()) return fail("the URL has no host");
  if (authority.find('@') != std::string_view::npos) return fail("user info in the URL is not supported");
  for (char c : path) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7F) return fail("the URL path contains a space or control character");
  }
  if (path.find('#') != std::string_view::npos) return fail("a URL fragment (#) is not allowed in a WebSocket URL");

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
  uint64_t port = tls ? 443 : 80;
  if (!port_text.empty() && (!cli::parse_count(port_text, port) || port == 0 || port > 65535))
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
  out.tls = tls;
  out.host = std::string(host);
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
  std::string first_tls_flag;  // TLS flags need a wss:// URL
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    // ---- any server, mixes, reconnects: wrk/k6 short forms, --reconnect, the valued flags ----
    if (arg == "-c") arg = "--connections";
    else if (arg == "-d") arg = "--duration";
    else if (arg == "-t") arg = "--threads";
    if (arg == "--reconnect") {
      o.reconnect = true;
      continue;
    }
    if (is_any_server_valued_flag(arg.substr(0, arg.find('=')))) {
      const size_t eq = arg.find('=');
      const std::string_view name = arg.substr(0, eq);
      if (eq == std::string_view::npos && i + 1 >= argc) return bad(std::string(name) + " needs a value");
      const std::string_view value = eq != std::string_view::npos ? arg.substr(eq + 1) : std::string_view(argv[++i]);
      std::string error;
      if (parse_any_server_flag(name, value, o, error) == AnyServerFlag::Bad) return bad(error);
      continue;
    }
    // ---- end ----
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

    // permessage-deflate: a switch with an optional value.
    if (is_switch("--deflate")) {
      o.deflate = true;
      if (has_inline) {
        core::DeflateOffer offer;
        if (core::parse_deflate_offer(";" + std::string(inline_value), offer) != core::OfferStatus::Ok)
          return bad("--deflate: expected permessage-deflate parameters such as 'client_max_window_bits; "
                     "server_max_window_bits=10', got " + cli::quoted(inline_value));
        o.deflate_params = std::string(inline_value);
      }
      continue;
    }

    if (is_switch("--deflate-takeover")) {
      o.deflate_takeover = true;
      continue;
    }

    // Switches without a value.
    if (is_switch("--help")) {
      message = std::string(kLoadUsage) + kAnyServerUsage + kShootoutUsage + kPubsubUsage;
      return ParseOutcome::Exit0;
    }
    if (is_switch("--version")) {
      message = std::string("wsring-load ") + kLoadVersion + "\n";
      return ParseOutcome::Exit0;
    }
    if (is_switch("--text") || is_switch("--binary") || is_switch("--handshake-only") || is_switch("--insecure") ||
        is_switch("--tls-resume")) {
      if (has_inline) return bad(flag + " takes no value");
      if (is_switch("--insecure") || is_switch("--tls-resume")) {
        if (first_tls_flag.empty()) first_tls_flag = flag;
        (is_switch("--insecure") ? o.tls.insecure : o.tls.resume) = true;
      } else if (is_switch("--text")) {
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

    // --- results over time, pass/fail, logs, report, shards (bench/load/run_extras.cpp) ---
    if (is_switch("--quiet")) {
      if (has_inline) return bad(flag + " takes no value");
      o.quiet = true;
      continue;
    }
    if (is_extra_valued_flag(name)) {
      if (!has_inline && i + 1 >= argc) return bad(flag + " needs a value");
      std::string error;
      if (!parse_extra_flag(name, has_inline ? inline_value : std::string_view(argv[++i]), o, error)) return bad(error);
      continue;
    }
    // --- end of the block ---

    // --- scenarios (bench/load/scenario_*.hpp) ---
    if (is_switch("--scenario")) {
      if (!has_inline && i + 1 >= argc) return bad(flag + " needs a value");
      const std::string_view v = has_inline ? inline_value : std::string_view(argv[++i]);
      if (!parse_scenario(v, o.scenario)) return bad("--scenario: expected echo, push, shootout or pubsub, got " + cli::quoted(v));
      continue;
    }
    if (is_pubsub_flag(name)) {
      if (!has_inline && i + 1 >= argc) return bad(flag + " needs a value");
      std::string error;
      if (!parse_pubsub_flag(name, has_inline ? inline_value : std::string_view(argv[++i]), o.pubsub, error))
        return bad(error);
      continue;
    }
    if (is_shootout_flag(name)) {
      if (!has_inline && i + 1 >= argc) return bad(flag + " needs a value");
      std::string error;
      const std::string_view v = has_inline ? inline_value : std::string_view(argv[++i]);
      if (parse_shootout_flag(name, v, o.shootout, error) == ShootoutFlag::Bad) return bad(error);
      continue;
    }
    // --- end of the block ---

    static const char* const kValued[] = {"--connections", "--duration", "--messages", "--size",
                                          "--pipeline", "--rate", "--ramp-up", "--threads",
                                          "--connect-rate", "--json", "--source-addrs", "--backend",
                                          "--handshake-timeout", "--ca", "--sni", "--tls-min", "--tls-max",
                                          "--tls-ciphersuites"};
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
    const std::string shown = cli::quoted(value);

    std::string error;
    uint64_t n = 0;
    if (name == "--connections") {
      if (!cli::parse_count_flag(flag, value, 1, kMaxConnections, n, error)) return bad(error);
      o.connections = uint32_t(n);
    } else if (name == "--duration") {
      if (!cli::parse_duration_flag(flag, value, kMinDuration, kMaxDuration, o.duration_s, error)) return bad(error);
      saw_duration = true;
    } else if (name == "--messages") {
      if (!cli::parse_count_flag(flag, value, 1, kMaxMessages, o.messages, error)) return bad(error);
      saw_messages = true;
    } else if (name == "--size") {
      // SIZE, MIN-MAX or a weighted list (bench/load/size_mix.hpp); at least the 16-byte stamp.
      if (!o.sizes.parse(value, kMinMessageSize, kMaxMessageSize, error)) return bad("--size: " + error);
      o.size_min = o.sizes.min();
      o.size_max = o.sizes.max();
    } else if (name == "--pipeline") {
      if (!cli::parse_count_flag(flag, value, 1, kMaxPipeline, n, error)) return bad(error);
      o.pipeline = uint32_t(n);
    } else if (name == "--rate") {
      if (!cli::parse_rate_flag(flag, value, kMinRate, kMaxRate, o.rate, error)) return bad(error);
    } else if (name == "--ramp-up") {
      if (!cli::parse_duration_flag(flag, value, kMinDuration, kMaxDuration, o.ramp_up_s, error, "at once"))
        return bad(error);
    } else if (name == "--threads") {
      if (!cli::parse_count_flag(flag, value, 1, kMaxThreads, n, error)) return bad(error);
      o.threads = unsigned(n);
    } else if (name == "--connect-rate") {
      if (!cli::parse_rate_flag(flag, value, kMinRate, kMaxRate, o.connect_rate, error)) return bad(error);
    } else if (name == "--handshake-timeout") {
      if (!cli::parse_duration_flag(flag, value, 0.001, kMaxDuration, o.handshake_timeout_s, error)) return bad(error);
    } else if (name == "--json") {
      if (value.empty()) return bad("--json: expected a file name");
      o.json_path = std::string(value);
    } else if (name == "--source-addrs") {
      if (!parse_source_addresses(value, o.source_addresses, &error))
        return bad("--source-addrs: " + error + " (got " + shown + ")");
    } else if (name == "--ca") {
      if (value.empty()) return bad("--ca: expected a file name (PEM certificates of the CAs to trust)");
      o.tls.ca_file = std::string(value);
    } else if (name == "--sni") {
      if (!is_ip_literal(value) && !is_dns_name(value))
        return bad("--sni: expected a DNS name (letters, digits, '-' and '.') or an IP address, got " + shown);
      o.tls.server_name = std::string(value);
    } else if (name == "--tls-min" || name == "--tls-max") {
      server::TlsVersion version;
      if (!parse_tls_version(value, version)) return bad(flag + ": expected 1.2 or 1.3, got " + shown);
      (name == "--tls-min" ? o.tls.min_version : o.tls.max_version) = version;
    } else if (name == "--tls-ciphersuites") {
      if (!server::check_tls13_suites(value, &error)) return bad("--tls-ciphersuites: " + error);
      o.tls.tls13_suites = std::string(value);
    } else if (name == "--backend") {
      if (value == "auto") o.backend = net::Backend::Auto;
      else if (value == "io_uring") o.backend = net::Backend::IoUring;
      else if (value == "epoll") o.backend = net::Backend::Epoll;
      else return bad("--backend: expected auto, io_uring or epoll, got " + shown);
    }
    if (name == "--ca" || name == "--sni" || name == "--tls-min" || name == "--tls-max" || name == "--tls-ciphersuites")
      if (first_tls_flag.empty()) first_tls_flag = flag;
  }
  if (!have_url) return bad("missing URL: wsring-load ws://HOST:PORT/PATH [options] (see --help)");
  if (saw_duration && saw_messages) return bad("--messages: give either --duration or --messages, not both");
  if (saw_text && saw_binary) return bad("--text: give either --text or --binary, not both");
  if (!first_tls_flag.empty() && !o.url.tls)
    return bad(first_tls_flag + ": TLS options need a wss:// URL (got " + o.url_text + ")");
  if (o.tls.insecure && !o.tls.ca_file.empty()) return bad("--ca: not with --insecure (which verifies nothing)");
  if (o.tls.min_version > o.tls.max_version)
    return bad(std::string("--tls-min: ") + tls_version_text(o.tls.min_version) + " is above --tls-max " +
               tls_version_text(o.tls.max_version));
  if (std::string why = check_any_server_options(o, saw_text || saw_binary, saw_duration || saw_messages); !why.empty()) return bad(why);
  if (const std::string why = check_scenario_options(o, saw_messages); !why.empty()) return bad(why);
  if (const std::string why = finish_shootout_options(o, saw_duration); !why.empty()) return bad(why);
  if (const std::string why = finish_pubsub_options(o); !why.empty()) return bad(why);
  if (o.handshake_only && saw_messages) return bad("--messages: not with --handshake-only (use --duration)");
  if (o.deflate_takeover && !o.deflate) return bad("--deflate-takeover: only with --deflate");
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
  if (std::string error; !finish_extra_options(o, error)) return bad(error);  // --shard takes its share
  if (o.threads > o.connections) o.threads = o.connections;  // an idle thread would only skew the figures
  if (saw_messages) o.duration_s = 0;
  return ParseOutcome::Run;
}

}  // namespace wsring::load
