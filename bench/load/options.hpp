// wsring-load's command line: what a run does, parsed and validated apart from main() so that
// every flag and every bad value can be tested without opening a socket.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load/message_source.hpp"
#include "bench/load/reply_match.hpp"
#include "bench/load/scenario_pubsub.hpp"
#include "bench/load/scenario_push.hpp"
#include "bench/load/scenario_shootout.hpp"
#include "bench/load/size_mix.hpp"
#include "bench/load/stages.hpp"
#include "bench/load/upgrade_options.hpp"
#include "bench/load/shard.hpp"
#include "bench/load/thresholds.hpp"
#include "net/reactor.hpp"
#include "server/cli_values.hpp"
#include "server/tls_context.hpp"

namespace wsring::load {

// Every payload starts with a 16-byte stamp (connection, sequence, send time), so no message
// can be shorter.
constexpr uint64_t kMinMessageSize = 16;
constexpr uint64_t kMaxMessageSize = 256ull << 20;
constexpr uint32_t kMaxConnections = 1u << 24;  // connection ids are 24 bits in the stamp
constexpr uint32_t kMaxPipeline = 1u << 16;
constexpr unsigned kMaxThreads = 256;
constexpr unsigned kMaxSourceAddresses = 1u << 16;
constexpr uint64_t kMaxSendBufferBytes = 8ull << 30;  // over all connections
constexpr uint64_t kMaxConnectionBufferBytes = 1ull << 30;  // one connection's `pipeline` frames

// ws://HOST[:PORT][/PATH] or wss://...; HOST is numeric (IPv4 or [IPv6]) or localhost.
struct WsUrl {
  bool tls = false;         // wss://
  std::string host;         // as written: "127.0.0.1", "localhost", "[::1]" (TLS: SNI, verified name)
  std::string host_header;  // "host:port" as sent in the Host header
  std::string address;      // "host:port" / "[v6]:port", for net::parse_address
  uint16_t port = 80;       // 443 for wss:// without a port
  std::string path = "/";
};

// Parses a ws:// or wss:// URL. False with `error` set (one line) on bad input.
bool parse_ws_url(std::string_view text, WsUrl& out, std::string* error);

// TLS for a wss:// URL. Without any of the flags the server's certificate is verified against the
// system store for the URL's host.
struct LoadTlsOptions {
  bool insecure = false;      // --insecure: no certificate verification at all
  std::string ca_file;        // --ca FILE: trust these CAs (PEM) instead of the system store
  std::string server_name;    // --sni NAME: sent as SNI and verified instead of the URL's host
  bool resume = false;        // --tls-resume: a slot's next connection offers its last ticket
  server::TlsVersion min_version = server::TlsVersion::Tls12;  // --tls-min
  server::TlsVersion max_version = server::TlsVersion::Tls13;  // --tls-max
  std::string tls13_suites;   // --tls-ciphersuites: TLS 1.3 suites offered, in order (empty: OpenSSL's)

  // The name the certificate must carry (and the SNI, unless it is an IP address).
  const std::string& name_for(const WsUrl& url) const { return server_name.empty() ? url.host : server_name; }
};

const char* tls_version_text(server::TlsVersion version);  // "1.2", "1.3"

struct LoadOptions {
  std::string url_text;
  WsUrl url;
  uint32_t connections = 100;
  double duration_s = 10;        // used when messages == 0
  uint64_t messages = 0;         // 0: run for duration_s
  uint64_t size_min = 32;
  uint64_t size_max = 32;
  bool text = false;
  uint32_t pipeline = 1;         // messages in flight per connection
  double rate = 0;               // messages/s over all connections; 0: closed loop
  double ramp_up_s = 0;          // open the connections evenly over this long
  unsigned threads = 1;
  double connect_rate = 0;       // new connections per second over all threads; 0: unlimited
  double handshake_timeout_s = 10;  // connect start -> valid 101
  bool handshake_only = false;
  std::string json_path;
  std::vector<std::string> source_addresses;  // IPv4/IPv6 literals to bind() before connect()
  net::Backend backend = net::Backend::Auto;
  LoadTlsOptions tls;            // used with a wss:// URL only

  // ---- any server, message mixes, open-loop honesty, reconnect (bench/README.md) ----
  UpgradeOptions upgrade;        // --header, --origin, --subprotocol, --token-file/--token-env
  SizeMix sizes;                 // --size; size_min and size_max above are its bounds
  double text_ratio = -1;        // --text-ratio: share of text messages; < 0: all --text or --binary
  MatchMode match = MatchMode::Echo;  // --match
  bool reconnect = false;        // --reconnect: reopen a connection the server closed, with back-off
  MessageSource messages_from;   // --message / --messages-file: bodies from templates, not stamped
  StagePlan stages;              // --stage: connections and rate over time (sets connections, duration)
  bool json_stdout() const { return json_path == "-"; }  // --json -: the JSON on stdout, the summary on stderr
  // ---- end ----
  // --- results over time, pass/fail, logs, report, shards (bench/load/run_extras.hpp) ---
  std::vector<Threshold> thresholds;  // --threshold, checked at the end
  std::string hdr_log_path;           // --hdr-log FILE: HdrHistogram interval log
  std::string report_path;            // --report FILE.html
  Shard shard;                        // --shard I/N: this process's share of the load
  uint32_t connections_total = 0;     // --connections as given, before --shard took its share
  uint64_t messages_total = 0;        // --messages as given
  double rate_total = 0;              // --rate as given
  double start_at_unix_s = 0;         // --start-at: 0 starts at once
  bool quiet = false;                 // --quiet: no progress lines
  // --- end of the block ---
  // permessage-deflate: offered when deflate is set, with these parameters (";"-separated, as
  // in the header after "permessage-deflate"); messages are then sent compressed.
  bool deflate = false;
  std::string deflate_params = "client_max_window_bits";
  // --deflate-takeover: each connection keeps its compression context across messages when the
  // server allows it (no client_no_context_takeover agreed), as browsers do.
  bool deflate_takeover = false;
  Scenario scenario = Scenario::Echo;  // --scenario (bench/load/scenario_*.hpp)
  ShootoutOptions shootout;            // --scenario shootout's flags
  PubsubOptions pubsub;                // --scenario pubsub's flags
};

using ParseOutcome = cli::ParseOutcome;

// Parses argv. On BadUsage `message` is one line that names the flag at fault; on Exit0 it holds
// the --help text.
ParseOutcome parse_load_args(int argc, const char* const* argv, LoadOptions& options, std::string& message);

// "A", "A-B" (an IPv4 range, inclusive) or "A,B,C" (any literals). False with `error` set.
bool parse_source_addresses(std::string_view text, std::vector<std::string>& out, std::string* error);

// ---- any server, mixes, reconnects: flags parsed by options_any_server.cpp ----
enum class AnyServerFlag { NotMine, Done, Bad };
bool is_any_server_valued_flag(std::string_view name);
// One valued flag of the group; on Bad `error` is one line naming the flag.
AnyServerFlag parse_any_server_flag(std::string_view name, std::string_view value, LoadOptions& options,
                                    std::string& error);
// The group's checks across flags, after every flag was read; empty when all is well.
// --stage also sets the connections (the plan's peak) and the duration (the plan's length).
std::string check_any_server_options(LoadOptions& options, bool saw_text_or_binary, bool saw_duration_or_messages);
extern const char kAnyServerUsage[];
extern const char kDefaultIdTemplate[];  // --match id without --message
// ---- end ----

// --scenario against the flags it cannot go with; empty when all is well (scenario_options.cpp).
std::string check_scenario_options(const LoadOptions& options, bool saw_messages);
// --scenario shootout: its flags against the others; sets the connections to --max-clients (the
// slots the workers keep) and the message size to what its requests need.
std::string finish_shootout_options(LoadOptions& options, bool saw_duration);
// --scenario pubsub: its flags against the others; moves --rate and --size into PubsubOptions and
// sizes the send buffers for a burst of publishes.
std::string finish_pubsub_options(LoadOptions& options);

extern const char* const kLoadVersion;
extern const char kLoadUsage[];

}  // namespace wsring::load
